// Targets: what runs a case. Each vkbn device (Vulkan devices and the CPU
// path) is one target; each peer library found at build time is another.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cases.h"
#include "vkbn/vkbn.h"

namespace bench {

// A case with its memory allocated, filled and its plan (or primitive)
// created: everything outside the timed region.
class Prepared {
 public:
  virtual ~Prepared() = default;
  // Runs the operation `reps` times back to back and writes the mean time of
  // one run: device time from timestamps on Vulkan devices, wall time on the
  // CPU. Returns false with a message on failure.
  virtual bool run(uint32_t reps, double* seconds_per_run, std::string* error) = 0;
  // What runs, as the implementation describes it (vkbn's plan description).
  virtual std::string describe() const { return ""; }
};

class Target {
 public:
  virtual ~Target() = default;

  std::string tag;          // short and unique in a run: "vk0", "cpu", "onednn"
  std::string impl;         // "vkbn" | "onednn"
  std::string backend;      // "vulkan" | "cpu"
  std::string device_name;  // the hardware, as its driver names it
  std::string driver;
  std::string hardware;  // "gpu" | "cpu": what the peers' script matches on
  // Tag of the vkbn target whose copy bandwidth bounds this target (itself
  // for vkbn targets, the CPU path for CPU peers); "" when none ran.
  std::string ceiling;
  uint32_t threads = 0;         // CPU implementations: worker threads
  uint64_t memory_budget = 0;   // bytes the harness lets one case hold
  uint64_t max_allocation = 0;  // bytes per buffer
  bool f16 = false;
  bool bf16 = true;  // vkbn runs bf16 on every device; peers decide per case (supports())

  // Static reasons not to run the case (type, memory, op not offered); the
  // reason is printed once and written to the JSON.
  virtual bool supports(const Case& c, std::string* why) const;
  // Allocates, fills, creates the plan. nullptr with a message on failure.
  virtual std::unique_ptr<Prepared> prepare(const Case& c, std::string* error) = 0;
};

// Every vkbn device (Vulkan devices, then the CPU path when the library has
// it) matching `selectors` (empty: all). A selector is a device index, a
// case-insensitive substring of the name, or "cpu". Devices that fail to
// open are reported on stderr and left out.
std::vector<std::unique_ptr<Target>> open_vkbn_targets(const std::vector<std::string>& selectors,
                                                       std::vector<std::string>* notes);

// Pipeline creation on one Vulkan device with vkbn's pipeline-cache file:
// cold (no file: every pipeline compiled from SPIR-V) and warm (a new
// context loading the file the cold one saved), for the same plans.
struct PipelineCacheTiming {
  std::string device;          // the target's tag
  uint32_t plans = 0;          // plans created in each start
  uint32_t pipelines = 0;      // pipelines those plans created in each start
  double cold_seconds = 0;     // time in vkCreateComputePipelines, cold
  double warm_seconds = 0;     // the same, warm
  uint32_t warm_hits = 0;      // pipelines the driver found in the cache (when it says)
  bool hits_reported = false;  // whether the driver reports hits
  uint64_t cache_bytes = 0;    // the driver's data in the file
  std::string status;          // what the warm start did with the file, or why nothing was measured
};

// Measures PipelineCacheTiming on every Vulkan device matching `selectors`
// (as open_vkbn_targets), for the op/layout/dtype combinations of `cases`,
// each planned on a small tensor (one-dispatch plans) and on a ResNet-50-sized
// one (split plans). The cache file lives in a temporary directory.
std::vector<PipelineCacheTiming> measure_pipeline_cache(const std::vector<std::string>& selectors,
                                                        const std::vector<Case>& cases);

// oneDNN's batch normalization on the CPU with `threads` threads; nullptr
// when vkbn-bench was built without oneDNN.
std::unique_ptr<Target> open_onednn_target(uint32_t threads, std::string* note);

// Fills a host array of `count` elements of `dtype` with deterministic
// values spread over [-3, 3): realistic activations, no denormals. The
// values repeat every 4 MiB.
void fill_pattern(void* dst, uint64_t count, vkbn_dtype dtype, uint32_t seed);
// IEEE half from float (round to nearest even), for f16 test data.
uint16_t half_from_float(float f);
// bfloat16 (the upper half of an f32) from float, rounded to nearest even,
// for bf16 test data.
uint16_t bf16_from_float(float f);

// Physical memory of this machine in bytes (0 if unknown).
uint64_t host_memory_bytes();
// The CPU's model name from /proc/cpuinfo ("CPU" if unknown).
std::string cpu_model_name();
// Size in bytes of the largest CPU cache (the last level; 0 if unknown).
uint64_t cpu_last_level_cache_bytes();

}  // namespace bench
