// vkbn-bench: throughput of vkbn's forward passes on the default device,
// against the device's own copy bandwidth measured in the same run.
//
// Effective bytes (SEMANTICS.md): x + y (+ z) per call. GPU time comes from
// timestamp queries (vkbn_plan_execute_timed) and is reported as manual time.
// Counters: GB/s = effective bytes / time; efficiency = GB/s / copy GB/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "vkbn/vkbn.h"

namespace {

vkbn_context g_ctx = nullptr;
double g_copy_bytes_per_s = 0;  // the device's copy bandwidth (read + write)

struct Shape {
  uint32_t n, c, h, w;
};

// ResNet-50's batch-norm shapes (per 224x224 image) at batch 32.
const Shape kResNet50[] = {
    {32, 64, 112, 112}, {32, 64, 56, 56},   {32, 256, 56, 56}, {32, 128, 28, 28},
    {32, 512, 28, 28},  {32, 256, 14, 14},  {32, 1024, 14, 14}, {32, 512, 7, 7},
    {32, 2048, 7, 7},
};

vkbn_buffer make_buffer(uint64_t bytes, float value) {
  vkbn_buffer b = nullptr;
  if (vkbn_buffer_create(g_ctx, bytes, &b) != VKBN_SUCCESS) return nullptr;
  std::vector<float> v(bytes / 4, value);
  vkbn_buffer_upload(b, 0, v.data(), bytes);
  return b;
}

// Times a plan; GPU time per run from timestamps.
void time_plan(benchmark::State& state, vkbn_plan plan, double bytes) {
  double seconds = 0;
  vkbn_plan_execute(plan);  // warm up
  for (auto _ : state) {
    if (vkbn_plan_execute_timed(plan, 4, &seconds) != VKBN_SUCCESS) {
      state.SkipWithError(vkbn_last_error());
      break;
    }
    state.SetIterationTime(seconds);
  }
  state.counters["GB/s"] = benchmark::Counter(bytes / seconds / 1e9);
  if (g_copy_bytes_per_s > 0) state.counters["efficiency"] = bytes / seconds / g_copy_bytes_per_s;
  state.SetLabel(vkbn_plan_describe(plan));
}

double measure_copy(uint64_t bytes) {
  vkbn_buffer x = make_buffer(bytes, 1.0f), y = make_buffer(bytes, 0.0f);
  vkbn_copy_desc d = {x, y, bytes};
  vkbn_plan plan = nullptr;
  double best = 0;
  if (x && y && vkbn_plan_create_copy(g_ctx, &d, &plan) == VKBN_SUCCESS) {
    vkbn_plan_execute(plan);
    for (int i = 0; i < 5; ++i) {
      double s = 0;
      if (vkbn_plan_execute_timed(plan, 4, &s) == VKBN_SUCCESS && s > 0) {
        double bw = 2.0 * (double)bytes / s;
        if (bw > best) best = bw;
      }
    }
  }
  vkbn_plan_destroy(plan);
  vkbn_buffer_destroy(x);
  vkbn_buffer_destroy(y);
  return best;
}

void bm_forward(benchmark::State& state, Shape s, vkbn_layout layout, bool training) {
  vkbn_tensor_desc t = {};
  t.n = s.n;
  t.c = s.c;
  t.spatial_rank = 2;
  t.spatial[0] = s.h;
  t.spatial[1] = s.w;
  t.layout = layout;
  t.dtype = VKBN_DTYPE_F32;
  uint64_t bytes = (uint64_t)s.n * s.c * s.h * s.w * 4;
  vkbn_buffer x = make_buffer(bytes, 1.5f), y = make_buffer(bytes, 0.0f);
  vkbn_buffer w = make_buffer(s.c * 4, 1.0f), b = make_buffer(s.c * 4, 0.0f);
  vkbn_buffer rm = make_buffer(s.c * 4, 0.0f), rv = make_buffer(s.c * 4, 1.0f);
  vkbn_buffer sm = make_buffer(s.c * 4, 0.0f), si = make_buffer(s.c * 4, 0.0f);
  vkbn_plan plan = nullptr;
  vkbn_result r = VKBN_ERROR_OUT_OF_DEVICE_MEMORY;
  if (x && y) {
    if (training) {
      vkbn_forward_training_desc d = {};
      d.tensor = t;
      d.x = x, d.y = y, d.weight = w, d.bias = b, d.running_mean = rm, d.running_var = rv;
      d.save_mean = sm, d.save_invstd = si;
      d.eps = VKBN_DEFAULT_EPS, d.momentum = VKBN_DEFAULT_MOMENTUM;
      r = vkbn_plan_create_forward_training(g_ctx, &d, &plan);
    } else {
      vkbn_forward_inference_desc d = {};
      d.tensor = t;
      d.x = x, d.y = y, d.weight = w, d.bias = b, d.running_mean = rm, d.running_var = rv;
      d.eps = VKBN_DEFAULT_EPS;
      r = vkbn_plan_create_forward_inference(g_ctx, &d, &plan);
    }
  }
  if (r != VKBN_SUCCESS) {
    state.SkipWithError(vkbn_last_error());
  } else {
    time_plan(state, plan, 2.0 * (double)bytes);
  }
  vkbn_plan_destroy(plan);
  for (vkbn_buffer v : {x, y, w, b, rm, rv, sm, si}) vkbn_buffer_destroy(v);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (vkbn_context_create(nullptr, &g_ctx) != VKBN_SUCCESS) {
    std::fprintf(stderr, "vkbn-bench: %s\n", vkbn_last_error());
    return 1;
  }
  vkbn_device_info info;
  vkbn_context_get_device_info(g_ctx, &info);
  g_copy_bytes_per_s = measure_copy(64ull << 20);
  benchmark::AddCustomContext("vkbn_device", info.name);
  benchmark::AddCustomContext("vkbn_driver", info.driver_info);
  benchmark::AddCustomContext("vkbn_copy_GBps", std::to_string(g_copy_bytes_per_s / 1e9));
  std::printf("device: %s (%s); copy bandwidth %.1f GB/s\n", info.name, info.driver_info, g_copy_bytes_per_s / 1e9);
  for (const Shape& s : kResNet50) {
    for (int layout = 0; layout < 2; ++layout) {
      for (int training = 1; training >= 0; --training) {
        std::string name = std::string(training ? "forward_training" : "forward_inference") + "/" +
                           (layout ? "nhwc" : "nchw") + "/" + std::to_string(s.n) + "x" + std::to_string(s.c) +
                           "x" + std::to_string(s.h) + "x" + std::to_string(s.w);
        benchmark::RegisterBenchmark(name.c_str(), bm_forward, s, (vkbn_layout)layout, training != 0)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->MinTime(0.05);
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  vkbn_context_destroy(g_ctx);
  return 0;
}
