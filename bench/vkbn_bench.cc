// vkbn-bench: throughput of vkbn's batch normalization on every device (each
// Vulkan device and vkbn's CPU path) and of peers on the same machine,
// against each device's own copy bandwidth measured in the same run.
//
// Timing: a case is prepared once (buffers, data, plan), run to warm up and
// calibrate, then sampled: each sample is `reps` back-to-back runs in one
// submission (enough to last sample_seconds), its time divided by reps. Vulkan
// devices: GPU time from timestamp queries (vkbn_plan_execute_timed); the CPU
// path and peers: wall time. The case's time is its fastest sample (another
// process on the cores only ever slows a sample down), reported to Google
// Benchmark as the manual time of its single iteration; the JSON also keeps
// the median and the slowest.
//
// Counters (SEMANTICS.md, "How the benchmark counts bytes"):
//   bytes      effective bytes per run: x + y (+ z) for forward; x + dy + dx
//              (+ y for a fused activation, + dz for a fused residual) for
//              backward
//   GB/s       bytes / time
//   copy       GB/s of the copy of a tensor of the same size on the same
//              device (for peers: the device they run on), sampled right
//              before the case: the ceiling
//   eff        GB/s / copy
//   vs_cpu     Vulkan devices: time on vkbn's CPU path / time here
//   vs_peer    vkbn: time of the fastest peer on the same device / time here
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cases.h"
#include "results.h"
#include "targets.h"

namespace {

using namespace bench;

struct Options {
  Selection selection;
  std::vector<std::string> devices;
  std::string json_path = "vkbn-bench.json";
  bool peers = true;
  bool list_only = false;
  int timing = -1;      // --timing: 0 quick, 1 full; -1: the suite's own
  std::string predict;  // --predict PROFILE
  double dispatch_us = 2.0;
};

struct Timing {
  double sample_seconds;  // a sample repeats the op to last at least this long
  int min_samples, max_samples;
  double sample_budget;  // seconds of samples to collect once min_samples are in
};

Results g_results;
std::vector<const Target*> g_targets;
Timing g_timing;

const char kUsage[] =
    "usage: vkbn-bench [options] [--benchmark_* options]\n"
    "  --device D[,D..]   run only these vkbn devices: an index, a name substring, or cpu\n"
    "                     (default: every device and the CPU path)\n"
    "  --full             the full suite (default: the quick suite)\n"
    "  --suite S[,S..]    resnet50_b32, resnet50_b1, small_batch, sweep\n"
    "  --shape NxCxD..[,..] only these shapes (the \"custom\" suite), e.g. 32x64x56x56;\n"
    "                     train, infer and backward, both layouts, f32 unless\n"
    "                     --op, --layout, --dtype say otherwise\n"
    "  --op O[,O..]       train, train_relu, train_add, train_add_relu,\n"
    "                     infer, infer_relu, infer_add, infer_add_relu,\n"
    "                     backward, backward_relu, backward_add_relu, backward_frozen,\n"
    "                     backward_relu_mask (act' from the forward's activation mask: its\n"
    "                     bytes, 1/32 of an f32 tensor, count instead of y's)\n"
    "  --layout L[,L..]   nchw, nhwc\n"
    "  --dtype T[,T..]    f32, f16, bf16\n"
    "  --timing T         quick or full: how long each case is sampled (default: the suite's;\n"
    "                     --full samples longer)\n"
    "  --no-peers         no oneDNN (bench/run.sh then skips PyTorch too)\n"
    "  --json PATH        where to write the results (default vkbn-bench.json)\n"
    "  --list             list the cases and devices, write the JSON, run nothing\n"
    "  --predict PROFILE  run nothing: each case's plan on a device profile (vkbn plan --profiles)\n"
    "                     and its predicted efficiency from bytes, bandwidth and dispatches\n"
    "  --dispatch-us US   --predict: the assumed cost of one dispatch (default 2 microseconds)\n"
    "  --merge            only the host merges of synchronized batch norm (bench/merge.cc),\n"
    "                     and a whole synchronized step on the CPU path against the plain\n"
    "                     step (sync_step/*, bench/sync_step.cc)\n";

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Parses what Google Benchmark left in argv. Returns false (after printing
// why) on an unknown or incomplete option.
bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) value = a.substr(eq + 1), a = a.substr(0, eq);
    auto need = [&](std::vector<std::string>* list) {
      if (value.empty() && i + 1 < argc) value = argv[++i];
      if (value.empty()) return false;
      for (const std::string& v : split(value)) list->push_back(v);
      return true;
    };
    if (a == "--device") {
      if (!need(&o->devices)) return std::fprintf(stderr, "--device needs a value\n"), false;
    } else if (a == "--suite") {
      if (!need(&o->selection.suites)) return std::fprintf(stderr, "--suite needs a value\n"), false;
    } else if (a == "--shape") {
      std::vector<std::string> texts;
      if (!need(&texts)) return std::fprintf(stderr, "--shape needs a value\n"), false;
      for (const std::string& t : texts) {
        Shape shape;
        if (!parse_shape(t, &shape))
          return std::fprintf(stderr, "vkbn-bench: --shape '%s' is not NxC[xD1[xD2[xD3]]] with every size >= 1\n",
                              t.c_str()),
                 false;
        o->selection.shapes.push_back(shape);
      }
    } else if (a == "--op") {
      if (!need(&o->selection.ops)) return std::fprintf(stderr, "--op needs a value\n"), false;
    } else if (a == "--layout") {
      if (!need(&o->selection.layouts)) return std::fprintf(stderr, "--layout needs a value\n"), false;
    } else if (a == "--dtype") {
      if (!need(&o->selection.dtypes)) return std::fprintf(stderr, "--dtype needs a value\n"), false;
    } else if (a == "--json") {
      if (value.empty() && i + 1 < argc) value = argv[++i];
      if (value.empty()) return std::fprintf(stderr, "--json needs a path\n"), false;
      o->json_path = value;
    } else if (a == "--predict") {
      std::vector<std::string> v;
      if (!need(&v) || v.size() != 1) return std::fprintf(stderr, "--predict needs one profile name\n"), false;
      o->predict = v[0];
    } else if (a == "--dispatch-us") {
      std::vector<std::string> v;
      if (!need(&v) || v.size() != 1) return std::fprintf(stderr, "--dispatch-us needs a number\n"), false;
      char* end = nullptr;
      o->dispatch_us = std::strtod(v[0].c_str(), &end);
      if (!end || *end || !(o->dispatch_us >= 0))
        return std::fprintf(stderr, "--dispatch-us: expected a number >= 0, got '%s'\n", v[0].c_str()), false;
    } else if (a == "--full") {
      o->selection.full = true;
    } else if (a == "--quick") {
      o->selection.full = false;
    } else if (a == "--timing") {
      std::vector<std::string> v;
      if (!need(&v) || v.size() != 1 || (v[0] != "quick" && v[0] != "full"))
        return std::fprintf(stderr, "--timing needs quick or full\n"), false;
      o->timing = v[0] == "full";
    } else if (a == "--no-peers") {
      o->peers = false;
    } else if (a == "--list") {
      o->list_only = true;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "vkbn-bench: unknown option %s\n%s", argv[i], kUsage);
      return false;
    }
  }
  auto check = [](const std::vector<std::string>& given, const std::vector<std::string>& known, const char* what) {
    for (const std::string& g : given) {
      if (std::find(known.begin(), known.end(), g) == known.end()) {
        std::fprintf(stderr, "vkbn-bench: unknown %s '%s'\n", what, g.c_str());
        return false;
      }
    }
    return true;
  };
  std::vector<std::string> ops;
  for (const Op& op : all_ops()) ops.push_back(op.name);
  return check(o->selection.suites, suite_names(), "suite") && check(o->selection.ops, ops, "op") &&
         check(o->selection.layouts, {"nchw", "nhwc"}, "layout") &&
         check(o->selection.dtypes, {"f32", "f16", "bf16"}, "dtype");
}

// Samples a prepared case: each sample is `reps` back-to-back runs lasting
// about sample_seconds; at least min_samples, then until the samples add up
// to sample_budget, or, while they spread more than 1.5x (another process
// took the cores), up to 4x that; never more than max_samples.
bool sample(Prepared* p, uint32_t reps, std::vector<double>* samples, std::string* error) {
  double total = 0, s = 0, lo = 0, hi = 0;
  while ((int)samples->size() < g_timing.max_samples) {
    const int n = (int)samples->size();
    const bool noisy = hi > 1.5 * lo;
    if (n >= g_timing.min_samples && total >= g_timing.sample_budget * (noisy ? 4 : 1)) break;
    if (!p->run(reps, &s, error)) return false;
    samples->push_back(s);
    total += s * reps;
    lo = n == 0 ? s : std::min(lo, s);
    hi = std::max(hi, s);
  }
  return true;
}

double fastest_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// Prepares `c` on `t`, warms it up and samples it; on failure, a message.
bool measure(Target* t, const Case& c, std::vector<double>* samples, uint32_t* reps, std::string* plan,
             std::string* error) {
  std::unique_ptr<Prepared> p = t->prepare(c, error);
  if (!p) return false;
  // The first run touches fresh memory and finishes lazy setup. It and, for
  // short runs, three more say how many runs make one sample (the fastest,
  // so one preempted run does not shrink the samples).
  double s = 0;
  if (!p->run(1, &s, error)) return false;
  for (int i = 0; i < 3 && s < g_timing.sample_seconds; ++i) {
    double again = 0;
    if (!p->run(1, &again, error)) return false;
    s = std::min(s, again);
  }
  if (!(s > 0)) return *error = "the timer read 0", false;
  *reps = (uint32_t)std::clamp(std::ceil(g_timing.sample_seconds / s), 1.0, 100000.0);
  if (plan) *plan = p->describe();
  return sample(p.get(), *reps, samples, error);
}

const Target* find_target(const std::string& tag) {
  for (const Target* t : g_targets)
    if (t->tag == tag) return t;
  return nullptr;
}

// One Google Benchmark iteration per case. Inside it the harness first
// samples the case's ceiling (the copy of a tensor of the same size on the
// target's ceiling device), then the case, and reports the case's fastest
// sample as the iteration's manual time: the Time column is the same time
// the counters and the JSON use. Measuring the copy next to each case keeps
// the efficiency honest when other processes come and go.
void run_case(benchmark::State& state, Target* target, const Case& c) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string error, plan;
  std::vector<double> samples, copy_samples;
  uint32_t reps = 0, copy_reps = 0;
  for (auto _ : state) {
    Target* ceiling = const_cast<Target*>(find_target(target->ceiling));
    if (ceiling && !measure(ceiling, copy_case(c.tensor_bytes()), &copy_samples, &copy_reps, nullptr, &error))
      error = "copy: " + error;
    if (error.empty()) measure(target, c, &samples, &reps, &plan, &error);
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(fastest_of(samples));
  }
  Record& r = g_results.add(c, *target, samples, reps, copy_samples);
  r.wall_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!error.empty()) {
    r.error = error;
    return;
  }
  r.plan = plan;
  g_results.derive(r, g_targets);
  state.counters["bytes"] =
      benchmark::Counter((double)c.effective_bytes(), benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
  state.counters["GB/s"] = r.gbps;
  if (r.copy_gbps > 0) state.counters["copy"] = r.copy_gbps;
  if (r.efficiency > 0) state.counters["eff"] = r.efficiency;
  if (r.vs_cpu > 0) state.counters["vs_cpu"] = r.vs_cpu;
  if (r.vs_peer > 0) state.counters["vs_peer"] = r.vs_peer;
}

void register_case(Target* t, const Case& c) {
  std::string name = c.key() + "/" + t->tag;
  benchmark::RegisterBenchmark(name.c_str(), run_case, t, c)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->Iterations(1);
}

// A skip reason with its byte counts (numbers of 4+ digits) replaced by N,
// to count skips by kind.
std::string reason_kind(const std::string& why) {
  std::string out;
  for (size_t i = 0; i < why.size();) {
    size_t j = i;
    while (j < why.size() && std::isdigit((unsigned char)why[j])) ++j;
    if (j - i >= 4)
      out += "N", i = j;
    else if (j > i)
      out.append(why, i, j - i), i = j;
    else
      out += why[i++];
  }
  return out;
}

}  // namespace

int run_merge_suite(int argc, char** argv);  // merge.cc
namespace bench {
int run_predict(const std::string& profile, const std::vector<Case>& cases, double dispatch_us,
                const std::string& json_path);  // predict.cc
}

int main(int argc, char** argv) {
  std::string command = "vkbn-bench";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  benchmark::Initialize(&argc, argv);
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--merge") return run_merge_suite(argc, argv);
  Options opt;
  if (!parse(argc, argv, &opt)) return 2;
  const bool full_timing = opt.timing < 0 ? opt.selection.full : opt.timing == 1;
  g_timing = full_timing ? Timing{0.01, 5, 25, 0.2} : Timing{0.002, 3, 9, 0.05};
  if (!opt.predict.empty()) {
    bool json_given = false;
    for (int i = 1; i < argc; ++i) json_given |= std::string(argv[i]).rfind("--json", 0) == 0;
    return bench::run_predict(opt.predict, make_cases(opt.selection), opt.dispatch_us, json_given ? opt.json_path : "");
  }

  RunInfo info;
  info.command = command;
  info.suite_set = !opt.selection.shapes.empty() ? "custom" : opt.selection.full ? "full" : "quick";
  info.sample_seconds = g_timing.sample_seconds;
  info.min_samples = g_timing.min_samples;
  info.max_samples = g_timing.max_samples;
  info.sample_budget = g_timing.sample_budget;

  // Timings are only as good as the machine is quiet: say so when it is not.
  info.cores = std::max(1u, std::thread::hardware_concurrency());
  getloadavg(&info.load_before, 1);
  if (info.load_before >= 0.5 * info.cores && !opt.list_only) {
    char note[160];
    std::snprintf(note, sizeof note,
                  "load average %.1f on %u cores before the run: other processes compete, "
                  "times are inflated and noisy",
                  info.load_before, info.cores);
    info.notes.push_back(note);
  }
  std::vector<std::unique_ptr<Target>> owned = open_vkbn_targets(opt.devices, &info.notes);
  const Target* cpu_path = nullptr;
  for (const auto& t : owned)
    if (t->backend == "cpu") cpu_path = t.get();
  // oneDNN runs beside the CPU: on a default run, or when the CPU path is picked.
  const bool cpu_selected = opt.devices.empty() || cpu_path;
  std::unique_ptr<Target> onednn;
  if (opt.peers && cpu_selected) {
    std::string note;
    uint32_t threads = cpu_path ? cpu_path->threads : std::max(1u, std::thread::hardware_concurrency());
    onednn = open_onednn_target(threads, &note);
    if (!note.empty()) info.notes.push_back(note);
    if (onednn && !std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT"))
      info.notes.push_back(
          "oneDNN's OpenMP threads spin at barriers (OMP_WAIT_POLICY unset): on a machine shared "
          "with other jobs that slows it many times over; bench/run.sh sets it to passive");
    if (onednn) onednn->ceiling = cpu_path ? cpu_path->tag : "";
  }
  // Run order within a case: peers, the CPU path, Vulkan devices, so each
  // case's ratios can be computed when its last target finishes.
  std::vector<Target*> order;
  if (onednn) order.push_back(onednn.get());
  for (const auto& t : owned) order.push_back(t.get());
  for (Target* t : order) g_targets.push_back(t);

  for (const Target* t : g_targets) {
    std::printf("%-7s %s: %s (%s)%s\n", t->tag.c_str(), t->impl.c_str(), t->device_name.c_str(), t->driver.c_str(),
                t->threads ? (", " + std::to_string(t->threads) + " threads").c_str() : "");
  }
  for (const std::string& n : info.notes) std::printf("note: %s\n", n.c_str());
  if (g_targets.empty()) {
    std::fprintf(stderr, "vkbn-bench: no device to run on\n");
    return 1;
  }

  const std::vector<Case> cases = make_cases(opt.selection);
  std::map<std::string, int> skipped_per_target;
  for (const Case& c : cases) {
    std::vector<Target*> runs;
    for (Target* t : order) {
      std::string why;
      if (t->supports(c, &why)) {
        runs.push_back(t);
      } else {
        g_results.skip(c, t->tag, why);
        ++skipped_per_target[t->tag + " (" + reason_kind(why) + ")"];
      }
    }
    if (opt.list_only) continue;
    for (Target* t : runs) register_case(t, c);
  }
  for (const auto& [what, n] : skipped_per_target) std::printf("skipped %d cases on %s\n", n, what.c_str());

  if (opt.list_only) {
    for (const Case& c : cases) std::printf("%s\n", c.key().c_str());
    std::printf("%zu cases\n", cases.size());
  } else {
    benchmark::RunSpecifiedBenchmarks();
    // What the pipeline cache saves at start-up (an engine's first frame):
    // measured after the throughput cases so its compiles do not disturb them.
    info.pipeline_cache = measure_pipeline_cache(opt.devices, cases);
    for (const PipelineCacheTiming& m : info.pipeline_cache) {
      std::printf(
          "pipeline cache %s: %u plans, %u pipelines: cold %.1f ms, warm %.1f ms (%s; %llu bytes of driver "
          "data%s)\n",
          m.device.c_str(), m.plans, m.pipelines, m.cold_seconds * 1e3, m.warm_seconds * 1e3, m.status.c_str(),
          (unsigned long long)m.cache_bytes,
          m.hits_reported ? (", " + std::to_string(m.warm_hits) + " hits").c_str() : ", hits not reported");
    }
  }
  benchmark::Shutdown();
  getloadavg(&info.load_after, 1);
  if (!write_json(opt.json_path, info, g_targets, cases, g_results)) {
    std::fprintf(stderr, "vkbn-bench: cannot write %s\n", opt.json_path.c_str());
    return 1;
  }
  std::printf("json: %s\n", opt.json_path.c_str());
  return 0;
}
