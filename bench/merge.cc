// vkbn-bench --merge: the host cost of synchronized batch norm's merges
// (vkbn_batch_stats_merge, vkbn_grad_sums_merge) for K ranks' partials of C
// channels, the work every rank repeats after the exchange in each forward
// and backward step. Google Benchmark's own timing loop (wall time on one
// core); no device. Results on stdout (add --benchmark_format=json for JSON).
// With them, sync_step/* (sync_step.cc): a whole synchronized step on a CPU
// context against the plain step on the same slice.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "vkbn/vkbn.h"

namespace {

struct Partials {
  std::vector<double> storage;
  std::vector<vkbn_batch_stats> stats;
  std::vector<vkbn_grad_sums> sums;
  std::vector<double> out;
};

Partials make(uint32_t ranks, uint32_t c) {
  Partials p;
  p.storage.resize((size_t)ranks * c * 4);
  p.out.resize((size_t)c * 4);
  std::mt19937_64 rng(42);
  std::normal_distribution<double> normal(3.0, 1.0);
  for (double& v : p.storage) v = normal(rng);
  for (uint32_t r = 0; r < ranks; ++r) {
    double* base = p.storage.data() + (size_t)r * c * 4;
    uint64_t count = 1000 + 17 * r;
    p.stats.push_back({count, c, base, base + c});
    p.sums.push_back({count, c, base + 2 * (size_t)c, base + 3 * (size_t)c});
  }
  return p;
}

void stats_merge(benchmark::State& state) {
  const uint32_t ranks = (uint32_t)state.range(0), c = (uint32_t)state.range(1);
  Partials p = make(ranks, c);
  vkbn_batch_stats out = {0, c, p.out.data(), p.out.data() + c};
  for (auto _ : state) {
    if (vkbn_batch_stats_merge(p.stats.data(), ranks, &out) != VKBN_SUCCESS) state.SkipWithError(vkbn_last_error());
    benchmark::DoNotOptimize(out.mean);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * ranks * c);  // items: one rank's channel merged
}

void sums_merge(benchmark::State& state) {
  const uint32_t ranks = (uint32_t)state.range(0), c = (uint32_t)state.range(1);
  Partials p = make(ranks, c);
  vkbn_grad_sums out = {0, c, p.out.data(), p.out.data() + c};
  for (auto _ : state) {
    if (vkbn_grad_sums_merge(p.sums.data(), ranks, &out) != VKBN_SUCCESS) state.SkipWithError(vkbn_last_error());
    benchmark::DoNotOptimize(out.sum_g);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * ranks * c);  // items: one rank's channel merged
}

}  // namespace

void register_sync_step_benchmarks();  // sync_step.cc

int run_merge_suite(int argc, char** argv) {
  for (const char* name : {"merge/stats", "merge/sums"}) {
    auto* b = benchmark::RegisterBenchmark(name, std::string(name) == "merge/stats" ? stats_merge : sums_merge);
    b->ArgNames({"ranks", "c"})->Unit(benchmark::kMicrosecond);
    for (int64_t ranks : {2, 3, 8})
      for (int64_t c : {64, 512, 2048}) b->Args({ranks, c});
  }
  register_sync_step_benchmarks();
  (void)argc;
  (void)argv;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
