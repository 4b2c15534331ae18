// vkbn-bench --merge, sync_step/*: one rank's whole synchronized step on the
// CPU path next to the plain step on the same slice, so the cost of
// synchronizing is one number (the exchange itself is left out: one rank,
// its own partials merged). Per iteration, on one CPU context:
//   sync_step/forward   vkbn_batch_stats_compute + vkbn_batch_stats_merge +
//                       vkbn_forward_training_global
//                       against vkbn_forward_training
//   sync_step/backward  vkbn_grad_sums_compute + vkbn_grad_sums_merge +
//                       vkbn_backward_global
//                       against vkbn_backward (dx, dweight, dbias)
// Each iteration runs both, back to back, so they see the same machine; the
// reported time is the synchronized step's, plain_ms its plain twin's, and
// ratio = synchronized / plain over all iterations (the target: at most 1.3).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "targets.h"
#include "vkbn/vkbn.h"

namespace {

struct Slice {
  vkbn_context ctx = nullptr;
  vkbn_tensor_desc td{};
  std::vector<vkbn_buffer> owned;
  vkbn_buffer x, y, dy, dx, w, b, rm, rv, sm, si, dw, db;

  ~Slice() {
    for (vkbn_buffer buf : owned) vkbn_buffer_destroy(buf);
    vkbn_context_destroy(ctx);
  }
  vkbn_buffer make(uint64_t count, vkbn_dtype dtype, uint32_t seed) {
    vkbn_buffer buf = nullptr;
    const uint64_t bytes = count * vkbn_dtype_size(dtype);
    if (vkbn_buffer_create(ctx, bytes, &buf) != VKBN_SUCCESS) return nullptr;
    owned.push_back(buf);
    std::vector<unsigned char> host(bytes);
    bench::fill_pattern(host.data(), count, dtype, seed);
    vkbn_buffer_upload(buf, 0, host.data(), bytes);
    return buf;
  }
  bool open(uint32_t n, uint32_t c, uint32_t hw, vkbn_layout layout) {
    vkbn_context_desc cd{};
    cd.device = "cpu";
    if (vkbn_context_create(&cd, &ctx) != VKBN_SUCCESS) return false;
    td = {n, c, 2, {hw, hw, 0}, layout, VKBN_DTYPE_F32};
    const uint64_t e = vkbn_tensor_element_count(&td);
    x = make(e, td.dtype, 1), y = make(e, td.dtype, 2), dy = make(e, td.dtype, 3), dx = make(e, td.dtype, 4);
    w = make(c, VKBN_DTYPE_F32, 5), b = make(c, VKBN_DTYPE_F32, 6), rm = make(c, VKBN_DTYPE_F32, 7);
    rv = make(c, VKBN_DTYPE_F32, 8), sm = make(c, VKBN_DTYPE_F32, 9), si = make(c, VKBN_DTYPE_F32, 10);
    dw = make(c, VKBN_DTYPE_F32, 11), db = make(c, VKBN_DTYPE_F32, 12);
    return x && y && dy && dx && w && b && rm && rv && sm && si && dw && db;
  }
  vkbn_forward_training_desc forward() const {
    vkbn_forward_training_desc f{};
    f.tensor = td, f.x = x, f.y = y, f.weight = w, f.bias = b, f.running_mean = rm, f.running_var = rv;
    f.save_mean = sm, f.save_invstd = si, f.eps = 1e-5f, f.momentum = 0.1f;
    return f;
  }
  vkbn_backward_desc backward() const {
    vkbn_backward_desc d{};
    d.tensor = td, d.x = x, d.dy = dy, d.weight = w, d.bias = b, d.save_mean = sm, d.save_invstd = si;
    d.eps = 1e-5f, d.dx = dx, d.dweight = dw, d.dbias = db;
    return d;
  }
};

double seconds_of(const std::chrono::steady_clock::time_point& t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void sync_step(benchmark::State& state, bool backward) {
  Slice s;
  const auto layout = state.range(3) ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
  if (!s.open((uint32_t)state.range(0), (uint32_t)state.range(1), (uint32_t)state.range(2), layout)) {
    state.SkipWithError(vkbn_last_error());
    return;
  }
  const uint32_t c = s.td.c;
  std::vector<double> part(4 * (size_t)c), merged(4 * (size_t)c);
  vkbn_batch_stats stats = {0, c, part.data(), part.data() + c}, gstats = {0, c, merged.data(), merged.data() + c};
  vkbn_grad_sums sums = {0, c, part.data() + 2 * c, part.data() + 3 * c};
  vkbn_grad_sums gsums = {0, c, merged.data() + 2 * c, merged.data() + 3 * c};
  const vkbn_forward_training_desc f = s.forward();
  const vkbn_backward_desc bd = s.backward();
  const vkbn_batch_stats_desc sd = {s.td, s.x};
  // The backward reads the forward's saved statistics: make them once.
  if (vkbn_forward_training(s.ctx, &f) != VKBN_SUCCESS) return state.SkipWithError(vkbn_last_error());
  double sync_total = 0.0, plain_total = 0.0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    vkbn_result r;
    if (!backward) {
      r = vkbn_batch_stats_compute(s.ctx, &sd, &stats);
      if (r == VKBN_SUCCESS) r = vkbn_batch_stats_merge(&stats, 1, &gstats);
      if (r == VKBN_SUCCESS) r = vkbn_forward_training_global(s.ctx, &f, &gstats);
    } else {
      r = vkbn_grad_sums_compute(s.ctx, &bd, &sums);
      if (r == VKBN_SUCCESS) r = vkbn_grad_sums_merge(&sums, 1, &gsums);
      if (r == VKBN_SUCCESS) r = vkbn_backward_global(s.ctx, &bd, &gsums);
    }
    const double sync = seconds_of(t0);
    t0 = std::chrono::steady_clock::now();
    if (r == VKBN_SUCCESS) r = backward ? vkbn_backward(s.ctx, &bd) : vkbn_forward_training(s.ctx, &f);
    const double plain = seconds_of(t0);
    if (r != VKBN_SUCCESS) return state.SkipWithError(vkbn_last_error());
    state.SetIterationTime(sync);
    sync_total += sync;
    plain_total += plain;
  }
  const double iterations = (double)state.iterations();
  state.counters["plain_ms"] = 1e3 * plain_total / iterations;
  state.counters["ratio"] = sync_total / plain_total;
}

}  // namespace

void register_sync_step_benchmarks() {
  for (bool backward : {false, true}) {
    auto* b = benchmark::RegisterBenchmark(backward ? "sync_step/backward" : "sync_step/forward",
                                           [backward](benchmark::State& st) { sync_step(st, backward); });
    b->ArgNames({"n", "c", "hw", "nhwc"})->Unit(benchmark::kMillisecond)->UseManualTime()->MinTime(1.0);
    for (int64_t nhwc : {0, 1}) {
      b->Args({32, 256, 56, nhwc});
      b->Args({32, 64, 112, nhwc});
    }
  }
}
