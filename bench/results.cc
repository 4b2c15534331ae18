#include "results.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace bench {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

double fastest(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

std::string pair_key(const std::string& key, const std::string& target) { return key + "@" + target; }

// A minimal JSON emitter: objects and arrays, strings escaped, numbers that
// are not finite (or 0 for "not applicable" fields) written as null.
class Json {
 public:
  explicit Json(FILE* f) : f_(f) {}
  void open(char ch) { sep(), std::fputc(ch, f_), first_ = true, ++depth_; }
  void close(char ch) {
    if (--depth_ < 2)
      newline();
    else
      std::fputc(' ', f_);
    std::fputc(ch, f_);
    first_ = false;
  }
  void key(const char* k) { sep(), str(k), std::fputs(": ", f_), pending_value_ = true; }
  void value(const std::string& s) { sep(), str(s.c_str()); }
  void value(double v) {
    sep();
    if (std::isfinite(v))
      std::fprintf(f_, "%.6g", v);
    else
      std::fputs("null", f_);
  }
  void value_or_null(double v) {
    if (v > 0)
      value(v);
    else
      sep(), std::fputs("null", f_);
  }
  void value(uint64_t v) { sep(), std::fprintf(f_, "%llu", (unsigned long long)v); }
  void value(bool v) { sep(), std::fputs(v ? "true" : "false", f_); }
  void field(const char* k, const std::string& v) { key(k), value(v); }
  void field(const char* k, const char* v) { key(k), value(std::string(v)); }
  void field(const char* k, double v) { key(k), value(v); }
  void field(const char* k, uint64_t v) { key(k), value(v); }
  void field(const char* k, bool v) { key(k), value(v); }
  void field(const char* k, uint32_t v) { key(k), value((uint64_t)v); }
  void field(const char* k, int v) { key(k), value((uint64_t)v); }
  void field_or_null(const char* k, double v) { key(k), value_or_null(v); }

 private:
  void sep() {
    if (pending_value_) {
      pending_value_ = false;
      return;
    }
    if (!first_) std::fputc(',', f_);
    first_ = false;
    newline();
  }
  void newline() {
    if (depth_ <= 2) {  // one result per line below the top level
      std::fputc('\n', f_);
      for (int i = 0; i < depth_; ++i) std::fputs("  ", f_);
    } else {
      std::fputc(' ', f_);
    }
  }
  void str(const char* s) {
    std::fputc('"', f_);
    for (; *s; ++s) {
      unsigned char ch = (unsigned char)*s;
      if (ch == '"' || ch == '\\')
        std::fprintf(f_, "\\%c", ch);
      else if (ch < 0x20)
        std::fprintf(f_, "\\u%04x", ch);
      else
        std::fputc(ch, f_);
    }
    std::fputc('"', f_);
  }
  FILE* f_;
  bool first_ = true, pending_value_ = false;
  int depth_ = 0;
};

void case_fields(Json& j, const Case& c) {
  j.field("key", c.key());
  j.field("suite", c.suite);
  j.field("op", c.op->name);
  j.field("layout", layout_name(c.layout));
  j.field("dtype", dtype_name(c.dtype));
  j.field("n", c.shape.n);
  j.field("c", c.shape.c);
  j.key("spatial");
  j.open('[');
  for (uint32_t i = 0; i < c.shape.rank; ++i) j.value((uint64_t)c.shape.spatial[i]);
  j.close(']');
  j.field("tensor_bytes", c.tensor_bytes());
  j.field("bytes", c.effective_bytes());
}

}  // namespace

Record& Results::add(const Case& c, const Target& t, const std::vector<double>& samples, uint32_t reps,
                     const std::vector<double>& copy_samples) {
  const std::string k = pair_key(c.key(), t.tag);
  auto it = index_.find(k);
  if (it == index_.end()) {
    it = index_.emplace(k, records_.size()).first;
    records_.push_back(Record{});
    records_.back().c = c;
    records_.back().target = &t;
  }
  Record& r = records_[it->second];
  r.samples.insert(r.samples.end(), samples.begin(), samples.end());
  r.copy_samples.insert(r.copy_samples.end(), copy_samples.begin(), copy_samples.end());
  r.reps = reps;
  r.seconds = fastest(r.samples);
  r.seconds_median = median(r.samples);
  r.copy_seconds = fastest(r.copy_samples);
  return r;
}

void Results::skip(const Case& c, const std::string& target, const std::string& reason) {
  skips_.push_back({c, target, reason});
}

double Results::seconds(const std::string& key, const std::string& target) const {
  auto it = index_.find(pair_key(key, target));
  return it == index_.end() ? 0 : records_[it->second].seconds;
}

void Results::derive(Record& r, const std::vector<const Target*>& targets) const {
  if (r.seconds <= 0) return;
  r.gbps = (double)r.c.effective_bytes() / r.seconds / 1e9;
  if (r.copy_seconds > 0) {
    r.copy_gbps = (double)copy_case(r.c.tensor_bytes()).effective_bytes() / r.copy_seconds / 1e9;
    r.efficiency = r.gbps / r.copy_gbps;
  }
  if (r.target->impl != "vkbn") return;
  const std::string key = r.c.key();
  if (r.target->backend != "cpu") {
    double cpu = seconds(key, "cpu");
    r.vs_cpu = cpu > 0 ? cpu / r.seconds : 0;
  }
  double best_peer = 0;
  for (const Target* t : targets) {
    if (t->impl == "vkbn" || t->ceiling != r.target->tag) continue;
    double s = seconds(key, t->tag);
    if (s > 0 && (best_peer == 0 || s < best_peer)) best_peer = s;
  }
  r.vs_peer = best_peer > 0 ? best_peer / r.seconds : 0;
}

bool write_json(const std::string& path, const RunInfo& info, const std::vector<const Target*>& targets,
                const std::vector<Case>& cases, const Results& results) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  Json j(f);
  char date[64];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  j.open('{');
  j.field("schema", "vkbn-bench/1");
  j.field("tool", "vkbn-bench");
  j.field("vkbn_version", std::to_string(VKBN_VERSION_MAJOR) + "." + std::to_string(VKBN_VERSION_MINOR) + "." +
                              std::to_string(VKBN_VERSION_PATCH));
  j.field("date", date);
  j.field("command", info.command);
  j.field("suite_set", info.suite_set);
  j.key("host");
  j.open('{');
  j.field("cpu", cpu_model_name());
  j.field("llc_bytes", cpu_last_level_cache_bytes());
  j.field("memory_bytes", host_memory_bytes());
  j.field("cores", (uint64_t)info.cores);
  j.field("load_before", info.load_before);
  j.field("load_after", info.load_after);
  for (const char* var : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS"}) {
    const char* v = std::getenv(var);
    if (v) j.field(var, v);
  }
  j.close('}');
  j.key("timing");
  j.open('{');
  j.field("statistic", "fastest sample");
  j.field("sample_seconds", info.sample_seconds);
  j.field("min_samples", (uint64_t)info.min_samples);
  j.field("max_samples", (uint64_t)info.max_samples);
  j.field("sample_budget_seconds", info.sample_budget);
  j.close('}');
  j.key("devices");
  j.open('[');
  for (const Target* t : targets) {
    j.open('{');
    j.field("device", t->tag);
    j.field("impl", t->impl);
    j.field("backend", t->backend);
    j.field("device_name", t->device_name);
    j.field("driver", t->driver);
    j.field("hardware", t->hardware);
    j.field("ceiling", t->ceiling);
    j.field("threads", t->threads);
    j.field("f16", t->f16);
    j.field("bf16", t->bf16);
    j.field("memory_budget", t->memory_budget);
    j.close('}');
  }
  j.close(']');
  j.key("cases");
  j.open('[');
  for (const Case& c : cases) {
    j.open('{');
    case_fields(j, c);
    j.close('}');
  }
  j.close(']');
  j.key("results");
  j.open('[');
  for (const Record& r : results.records()) {
    j.open('{');
    case_fields(j, r.c);
    j.field("device", r.target->tag);
    j.field("impl", r.target->impl);
    j.field("hardware", r.target->hardware);
    j.field("device_name", r.target->device_name);
    j.field("ceiling", r.target->ceiling);
    j.field_or_null("seconds", r.seconds);
    j.field_or_null("seconds_median", r.seconds_median);
    j.field_or_null("seconds_max", r.samples.empty() ? 0 : *std::max_element(r.samples.begin(), r.samples.end()));
    j.field("samples", (uint64_t)r.samples.size());
    j.field("reps", r.reps);
    j.field_or_null("copy_seconds", r.copy_seconds);
    j.field("copy_samples", (uint64_t)r.copy_samples.size());
    j.field_or_null("gbps", r.gbps);
    j.field_or_null("copy_gbps", r.copy_gbps);
    j.field_or_null("efficiency", r.efficiency);
    j.field_or_null("vs_cpu", r.vs_cpu);
    j.field_or_null("vs_peer", r.vs_peer);
    j.field("plan", r.plan);
    j.field("wall_seconds", r.wall_seconds);
    if (!r.error.empty()) j.field("error", r.error);
    j.close('}');
  }
  j.close(']');
  j.key("skipped");
  j.open('[');
  for (const Skip& s : results.skips()) {
    j.open('{');
    j.field("key", s.c.key());
    j.field("device", s.target);
    j.field("reason", s.reason);
    j.close('}');
  }
  j.close(']');
  j.key("pipeline_cache");
  j.open('[');
  for (const PipelineCacheTiming& m : info.pipeline_cache) {
    j.open('{');
    j.field("device", m.device);
    j.field("plans", m.plans);
    j.field("pipelines", m.pipelines);
    j.field("cold_seconds", m.cold_seconds);
    j.field("warm_seconds", m.warm_seconds);
    j.field("warm_cache_hits", m.warm_hits);
    j.field("hits_reported", m.hits_reported);
    j.field("cache_file_bytes", m.cache_bytes);
    j.field("status", m.status);
    j.close('}');
  }
  j.close(']');
  j.key("notes");
  j.open('[');
  for (const std::string& n : info.notes) j.value(n);
  j.close(']');
  j.close('}');
  std::fputc('\n', f);
  return std::fclose(f) == 0;
}

}  // namespace bench
