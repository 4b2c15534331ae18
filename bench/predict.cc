// vkbn-bench --predict PROFILE: the cases' plans built on a device profile
// (a real GPU that is not here, vkbn_context_desc.profile) and a prediction
// of each case's efficiency from the plan's report: the bytes it moves
// (re-reads served by the profile's last-level cache where the op fits it),
// the profile's bandwidth and an assumed cost per dispatch, against a copy
// of one tensor predicted the same way (plan_probe_predict). Nothing runs;
// the figures are predictions until a GPU measures them (the GPU kit runs
// both and bench/report.py sets them side by side).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cases.h"
#include "plan_probe.h"

namespace bench {

namespace {

bool to_probe(const Case& c, plan_probe* p) {
  std::memset(p, 0, sizeof *p);
  switch (c.op->kind) {
    case OpKind::kForwardTraining:
      p->op = PROBE_TRAINING;
      break;
    case OpKind::kForwardInference:
      p->op = PROBE_INFERENCE;
      break;
    case OpKind::kBackward:
      p->op = c.op->frozen ? PROBE_BACKWARD_FROZEN : PROBE_BACKWARD;
      break;
    case OpKind::kCopy:
      return false;
  }
  p->tensor = c.tensor();
  p->activation = c.op->activation;
  p->residual = c.op->residual;
  return true;
}

void json_string(FILE* f, const std::string& s) {
  std::fputc('"', f);
  for (char ch : s) {
    if (ch == '"' || ch == '\\') std::fputc('\\', f);
    std::fputc(ch, f);
  }
  std::fputc('"', f);
}

}  // namespace

int run_predict(const std::string& profile, const std::vector<Case>& cases, double dispatch_us,
                const std::string& json_path) {
  vkbn_profile_info prof{};
  bool found = false;
  for (uint32_t i = 0; i < vkbn_profile_count() && !found; ++i) {
    found = vkbn_profile_get(i, &prof) == VKBN_SUCCESS && strcasecmp(prof.name, profile.c_str()) == 0;
  }
  vkbn_context_desc desc{};
  desc.profile = profile.c_str();
  vkbn_context ctx = nullptr;
  if (!found || vkbn_context_create(&desc, &ctx) != VKBN_SUCCESS) {
    std::fprintf(stderr, "vkbn-bench: --predict %s: %s\n", profile.c_str(),
                 found ? vkbn_last_error() : "no such device profile (vkbn plan --profiles)");
    return 2;
  }
  if (!prof.dram_bandwidth) {
    std::fprintf(stderr, "vkbn-bench: --predict %s: no source gives this GPU's memory bandwidth\n", prof.name);
    vkbn_context_destroy(ctx);
    return 2;
  }
  std::printf("prediction for %s (%s): %.0f GB/s, last-level cache %.0f MiB, %.1f us per dispatch (assumed)\n",
              prof.name, prof.display_name, prof.dram_bandwidth / 1e9, prof.last_level_cache / 1048576.0, dispatch_us);
  std::printf("%-56s %5s %9s %8s %7s\n", "case", "disp", "moved/min", "time us", "eff");
  FILE* json = json_path.empty() ? nullptr : std::fopen(json_path.c_str(), "w");
  if (json)
    std::fprintf(json, "{\"profile\": \"%s\", \"dispatch_us_assumed\": %g, \"cases\": [\n", prof.name, dispatch_us);
  std::map<std::string, std::pair<double, int>> per_suite;  // log-sum of efficiency, count
  int failures = 0, written = 0;
  for (const Case& c : cases) {
    plan_probe p;
    if (!to_probe(c, &p)) continue;
    plan_probe_objects o;
    vkbn_plan_report rep;
    if (plan_probe_build(ctx, &p, &o) != VKBN_SUCCESS || vkbn_plan_get_report(o.plan, &rep) != VKBN_SUCCESS) {
      std::printf("%-56s planning failed: %s\n", c.key().c_str(), vkbn_last_error());
      ++failures;
      continue;
    }
    plan_prediction pred;
    plan_probe_predict(&p, &rep, &prof, dispatch_us * 1e-6, &pred);
    std::printf("%-56s %5u %9.3f %8.1f %7.3f\n", c.key().c_str(), rep.dispatches,
                (double)pred.moved / (double)pred.minimum, pred.seconds * 1e6, pred.fraction_of_copy);
    auto& s = per_suite[c.suite];
    s.first += std::log(pred.fraction_of_copy);
    s.second += 1;
    if (json) {
      std::fprintf(json, "%s  {\"key\": ", written++ ? ",\n" : "");
      json_string(json, c.key());
      std::fprintf(json, ", \"plan\": ");
      json_string(json, vkbn_plan_describe(o.plan));
      std::fprintf(json,
                   ", \"dispatches\": %u, \"moved_bytes\": %llu, \"minimum_bytes\": %llu, \"seconds\": %.9g, "
                   "\"copy_seconds\": %.9g, \"efficiency\": %.4f}",
                   rep.dispatches, (unsigned long long)pred.moved, (unsigned long long)pred.minimum, pred.seconds,
                   pred.copy_seconds, pred.fraction_of_copy);
    }
    plan_probe_release(&o);
  }
  for (const auto& [suite, s] : per_suite)
    std::printf("%s: geometric mean of the predicted efficiency %.3f over %d cases\n", suite.c_str(),
                std::exp(s.first / s.second), s.second);
  if (json) {
    std::fprintf(json, "\n]}\n");
    std::fclose(json);
    std::printf("json: %s\n", json_path.c_str());
  }
  vkbn_context_destroy(ctx);
  return failures ? 1 : 0;
}

}  // namespace bench
