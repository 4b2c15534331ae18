// What one run measured, the counters derived from it, and the JSON file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cases.h"
#include "targets.h"

namespace bench {

struct Record {
  Case c;
  const Target* target = nullptr;
  std::vector<double> samples;  // seconds per run, one per sample
  uint32_t reps = 0;            // runs per sample
  // The ceiling: the copy of a tensor of the same size on target->ceiling,
  // sampled the same way right before this case.
  std::vector<double> copy_samples;
  std::string plan;
  std::string error;
  double wall_seconds = 0;  // wall time of the whole case, setup included
  // Derived (0: not applicable or not measured).
  // The fastest sample: another process on the cores only ever slows a
  // sample down, so the fastest is the best estimate of the op's own time.
  double seconds = 0;
  double seconds_median = 0;
  double copy_seconds = 0;  // the fastest copy sample
  double gbps = 0;          // effective bytes / seconds / 1e9
  double copy_gbps = 0;     // copy bytes (read + write) / copy_seconds / 1e9
  double efficiency = 0;    // gbps / copy_gbps
  double vs_cpu = 0;        // seconds on vkbn's CPU path / seconds here (Vulkan devices)
  double vs_peer = 0;       // seconds of the fastest peer on the same device / seconds here (vkbn)
};

struct Skip {
  Case c;
  std::string target;
  std::string reason;
};

// Everything the run produced, in run order, with the lookup the derived
// counters need: the time of a case on another target.
class Results {
 public:
  // Adds the samples of one benchmark run of (case, target); repeated runs
  // of the same pair (--benchmark_repetitions) pool their samples.
  Record& add(const Case& c, const Target& t, const std::vector<double>& samples, uint32_t reps,
              const std::vector<double>& copy_samples);
  void skip(const Case& c, const std::string& target, const std::string& reason);

  // Median seconds of case `key` on `target`; 0 if not run.
  double seconds(const std::string& key, const std::string& target) const;

  // Fills gbps, copy_gbps, efficiency, vs_cpu and vs_peer of r from what has
  // run so far (the harness runs peers, then the CPU path, then Vulkan devices).
  void derive(Record& r, const std::vector<const Target*>& targets) const;

  const std::vector<Record>& records() const { return records_; }
  const std::vector<Skip>& skips() const { return skips_; }

 private:
  std::vector<Record> records_;
  std::map<std::string, size_t> index_;  // key + "@" + target -> records_
  std::vector<Skip> skips_;
};

struct RunInfo {
  std::string command;
  std::string suite_set;  // "quick" | "full"
  double sample_seconds = 0;
  int min_samples = 0, max_samples = 0;
  double sample_budget = 0;
  unsigned cores = 0;
  double load_before = 0, load_after = 0;  // 1-minute load averages
  std::vector<std::string> notes;
  std::vector<PipelineCacheTiming> pipeline_cache;  // per Vulkan device
};

// Writes the run as JSON (schema in bench/README section of the project
// README: "vkbn-bench/1"). Returns false if the file cannot be written.
bool write_json(const std::string& path, const RunInfo& info, const std::vector<const Target*>& targets,
                const std::vector<Case>& cases, const Results& results);

}  // namespace bench
