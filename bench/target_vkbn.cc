// vkbn's own devices as benchmark targets: every Vulkan device and the CPU
// path, each through its own context and the public API only.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <map>
#include <vector>

#include <unistd.h>

#include "targets.h"

namespace bench {

namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = (char)std::tolower((unsigned char)ch);
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return std::isdigit((unsigned char)ch); });
}

bool matches(const vkbn_device_info& info, const std::string& selector) {
  if (lower(selector) == "cpu") return info.backend == VKBN_BACKEND_CPU;
  if (all_digits(selector)) return std::stoul(selector) == info.index;
  return lower(info.name).find(lower(selector)) != std::string::npos;
}

std::string error_text(vkbn_result r) { return std::string(vkbn_result_string(r)) + ": " + vkbn_last_error(); }

// A buffer filled with the deterministic pattern (seed 0: left as allocated,
// for outputs), uploaded in pieces so a 1 GiB tensor needs no 1 GiB host copy.
vkbn_result make_filled(vkbn_context ctx, uint64_t bytes, vkbn_dtype dtype, uint32_t seed, vkbn_buffer* out) {
  vkbn_result r = vkbn_buffer_create(ctx, bytes, out);
  if (r != VKBN_SUCCESS || seed == 0) return r;
  const uint64_t piece = std::min<uint64_t>(bytes, 4u << 20);
  const uint32_t esize = vkbn_dtype_size(dtype);
  std::vector<unsigned char> host(piece);
  fill_pattern(host.data(), piece / esize, dtype, seed);
  for (uint64_t off = 0; off < bytes && r == VKBN_SUCCESS; off += piece) {
    r = vkbn_buffer_upload(*out, off, host.data(), std::min(piece, bytes - off));
  }
  return r;
}

vkbn_result make_constant(vkbn_context ctx, uint32_t count, float value, vkbn_buffer* out) {
  vkbn_result r = vkbn_buffer_create(ctx, (uint64_t)count * 4, out);
  if (r != VKBN_SUCCESS) return r;
  std::vector<float> v(count, value);
  return vkbn_buffer_upload(*out, 0, v.data(), (uint64_t)count * 4);
}

class VkbnPrepared : public Prepared {
 public:
  ~VkbnPrepared() override {
    vkbn_plan_destroy(plan);
    for (vkbn_buffer b : buffers) vkbn_buffer_destroy(b);
  }
  bool run(uint32_t reps, double* seconds, std::string* error) override {
    vkbn_result r = vkbn_plan_execute_timed(plan, reps, seconds);
    if (r != VKBN_SUCCESS) *error = error_text(r);
    return r == VKBN_SUCCESS;
  }
  std::string describe() const override { return vkbn_plan_describe(plan); }

  // Owns every buffer it creates; returns VKBN_SUCCESS or the first failure.
  vkbn_result tensor(vkbn_context ctx, const Case& c, uint32_t seed, vkbn_buffer* out) {
    vkbn_result r = make_filled(ctx, c.tensor_bytes(), c.dtype, seed, out);
    if (*out) buffers.push_back(*out);
    return r;
  }
  vkbn_result raw(vkbn_context ctx, uint64_t bytes, uint32_t seed, vkbn_buffer* out) {
    vkbn_result r = make_filled(ctx, bytes, VKBN_DTYPE_F32, seed, out);
    if (*out) buffers.push_back(*out);
    return r;
  }
  vkbn_result vector(vkbn_context ctx, uint32_t count, float value, vkbn_buffer* out) {
    vkbn_result r = make_constant(ctx, count, value, out);
    if (*out) buffers.push_back(*out);
    return r;
  }

  vkbn_plan plan = nullptr;
  std::vector<vkbn_buffer> buffers;
};

class VkbnTarget : public Target {
 public:
  explicit VkbnTarget(vkbn_context c) : ctx(c) {}
  ~VkbnTarget() override { vkbn_context_destroy(ctx); }

  // Beyond type and memory: whether this device offers the op at all (the
  // CPU path may lack one), found by planning it once on a tiny tensor.
  bool supports(const Case& c, std::string* why) const override {
    if (!Target::supports(c, why)) return false;
    const std::string key = std::string(c.op->name) + "/" + layout_name(c.layout) + "/" + dtype_name(c.dtype);
    auto it = offered_.find(key);
    if (it == offered_.end()) {
      Case tiny = c;
      tiny.shape = Shape();
      tiny.shape.n = 2, tiny.shape.c = 4, tiny.shape.rank = 2, tiny.shape.spatial[0] = tiny.shape.spatial[1] = 2;
      auto p = std::make_unique<VkbnPrepared>();
      vkbn_result r = const_cast<VkbnTarget*>(this)->create(tiny, p.get());
      it = offered_.emplace(key, r == VKBN_ERROR_UNSUPPORTED ? error_text(r) : "").first;
    }
    if (!it->second.empty()) *why = it->second;
    return it->second.empty();
  }

  std::unique_ptr<Prepared> prepare(const Case& c, std::string* error) override {
    auto p = std::make_unique<VkbnPrepared>();
    vkbn_result r = create(c, p.get());
    if (r != VKBN_SUCCESS) {
      *error = error_text(r);
      return nullptr;
    }
    return p;
  }

 private:
  vkbn_result create(const Case& c, VkbnPrepared* p) {
#define TRY(expr)                      \
  do {                                 \
    vkbn_result r_ = (expr);           \
    if (r_ != VKBN_SUCCESS) return r_; \
  } while (0)
    vkbn_buffer x = nullptr, y = nullptr, z = nullptr;
    TRY(p->tensor(ctx, c, 1, &x));
    TRY(p->tensor(ctx, c, 0, &y));
    if (c.op->kind == OpKind::kCopy) {
      vkbn_copy_desc d = {x, y, c.tensor_bytes()};
      return vkbn_plan_create_copy(ctx, &d, &p->plan);
    }
    const uint32_t ch = c.shape.c;
    vkbn_buffer w = nullptr, b = nullptr, rm = nullptr, rv = nullptr;
    TRY(p->vector(ctx, ch, 1.0f, &w));
    TRY(p->vector(ctx, ch, 0.0f, &b));
    TRY(p->vector(ctx, ch, 0.0f, &rm));
    TRY(p->vector(ctx, ch, 1.0f, &rv));
    if (c.op->kind == OpKind::kBackward) {
      // Here x is the forward input, y (filled: about half positive, as a
      // ReLU's input would leave it) the forward output, dy the incoming
      // gradient; dx and dz are written.
      vkbn_backward_desc d = {};
      d.tensor = c.tensor();
      d.x = x;
      TRY(p->tensor(ctx, c, 4, &d.dy));
      if (c.op->activation != VKBN_ACTIVATION_NONE) {
        // The mask: bits of about half ones (the bytes of filled floats).
        if (c.op->mask) {
          TRY(p->raw(ctx, c.mask_bytes(), 5, &d.activation_mask));
        } else {
          TRY(p->tensor(ctx, c, 5, &d.y));
        }
        d.activation = c.op->activation;
      }
      d.dx = y;
      if (c.op->residual) TRY(p->tensor(ctx, c, 0, &d.dresidual));
      d.weight = w;
      d.bias = b;
      d.eps = VKBN_DEFAULT_EPS;
      if (c.op->frozen) {
        d.frozen = 1;
        d.running_mean = rm, d.running_var = rv;
      } else {
        TRY(p->vector(ctx, ch, 0.0f, &d.save_mean));
        TRY(p->vector(ctx, ch, 1.0f, &d.save_invstd));
      }
      TRY(p->vector(ctx, ch, 0.0f, &d.dweight));
      TRY(p->vector(ctx, ch, 0.0f, &d.dbias));
      return vkbn_plan_create_backward(ctx, &d, &p->plan);
    }
    if (c.op->residual) TRY(p->tensor(ctx, c, 3, &z));
    if (c.op->kind == OpKind::kForwardTraining) {
      vkbn_buffer sm = nullptr, si = nullptr;
      TRY(p->vector(ctx, ch, 0.0f, &sm));
      TRY(p->vector(ctx, ch, 0.0f, &si));
      vkbn_forward_training_desc d = {};
      d.tensor = c.tensor();
      d.x = x, d.y = y, d.residual = z, d.weight = w, d.bias = b;
      d.running_mean = rm, d.running_var = rv, d.save_mean = sm, d.save_invstd = si;
      d.eps = VKBN_DEFAULT_EPS, d.momentum = VKBN_DEFAULT_MOMENTUM;
      d.activation = c.op->activation;
      return vkbn_plan_create_forward_training(ctx, &d, &p->plan);
    }
    vkbn_forward_inference_desc d = {};
    d.tensor = c.tensor();
    d.x = x, d.y = y, d.residual = z, d.weight = w, d.bias = b;
    d.running_mean = rm, d.running_var = rv;
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = c.op->activation;
    return vkbn_plan_create_forward_inference(ctx, &d, &p->plan);
#undef TRY
  }

  vkbn_context ctx;
  mutable std::map<std::string, std::string> offered_;  // op/layout/dtype -> "" or why not
};

const char* type_name(vkbn_device_type t) {
  switch (t) {
    case VKBN_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case VKBN_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case VKBN_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case VKBN_DEVICE_TYPE_VULKAN_CPU:
      return "Vulkan on the CPU";
    case VKBN_DEVICE_TYPE_NATIVE_CPU:
      return "vkbn CPU path";
    default:
      return "other";
  }
}

}  // namespace

bool Target::supports(const Case& c, std::string* why) const {
  // bf16 needs no 16-bit storage: every device runs it.
  if (c.dtype == VKBN_DTYPE_F16 && !f16) {
    *why = "f16 not supported (no 16-bit storage)";
    return false;
  }
  const uint64_t tensor = c.tensor_bytes();
  const uint64_t total = c.effective_bytes();
  if (tensor > max_allocation) {
    *why = "tensor of " + std::to_string(tensor) + " bytes exceeds the allocation limit of " +
           std::to_string(max_allocation);
    return false;
  }
  if (total > memory_budget) {
    *why = "needs " + std::to_string(total) + " bytes, over the memory budget of " + std::to_string(memory_budget);
    return false;
  }
  return true;
}

std::vector<std::unique_ptr<Target>> open_vkbn_targets(const std::vector<std::string>& selectors,
                                                       std::vector<std::string>* notes) {
  std::vector<std::unique_ptr<Target>> out;
  uint32_t count = 0;
  if (vkbn_enumerate_devices(&count, nullptr) != VKBN_SUCCESS) {
    notes->push_back(std::string("vkbn_enumerate_devices: ") + vkbn_last_error());
    return out;
  }
  std::vector<vkbn_device_info> infos(count);
  vkbn_enumerate_devices(&count, infos.data());
  infos.resize(count);
  for (const std::string& s : selectors) {
    if (std::none_of(infos.begin(), infos.end(), [&](const vkbn_device_info& i) { return matches(i, s); }))
      notes->push_back("--device " + s + ": no vkbn device matches" +
                       (lower(s) == "cpu" ? " (this build of vkbn has no CPU path)" : ""));
  }
  for (const vkbn_device_info& listed : infos) {
    if (!selectors.empty() &&
        std::none_of(selectors.begin(), selectors.end(), [&](const std::string& s) { return matches(listed, s); }))
      continue;
    const bool cpu_path = listed.backend == VKBN_BACKEND_CPU;
    std::string selector = cpu_path ? "cpu" : std::to_string(listed.index);
    vkbn_context_desc desc = {};
    desc.device = selector.c_str();
    vkbn_context ctx = nullptr;
    vkbn_result r = vkbn_context_create(&desc, &ctx);
    if (r != VKBN_SUCCESS) {
      notes->push_back(std::string(listed.name) + ": cannot open: " + error_text(r));
      continue;
    }
    vkbn_device_info info;
    vkbn_context_get_device_info(ctx, &info);
    if (!info.timestamps && !cpu_path) {
      notes->push_back(std::string(info.name) + ": skipped, its compute queue has no timestamps");
      vkbn_context_destroy(ctx);
      continue;
    }
    auto t = std::make_unique<VkbnTarget>(ctx);
    t->tag = cpu_path ? "cpu" : "vk" + std::to_string(info.index);
    t->impl = "vkbn";
    t->backend = cpu_path ? "cpu" : "vulkan";
    t->device_name = info.name;
    t->driver = std::string(type_name(info.type)) + ", " + (cpu_path ? info.cpu_simd : info.driver_info);
    t->hardware = (cpu_path || info.type == VKBN_DEVICE_TYPE_VULKAN_CPU) ? "cpu" : "gpu";
    t->ceiling = t->tag;
    t->threads = info.cpu_threads;
    t->f16 = info.storage_16bit != 0;
    t->max_allocation = info.max_allocation_size ? info.max_allocation_size : UINT64_MAX;
    // Leave room for the driver and, on the CPU, for everything else running.
    uint64_t memory = info.device_local_memory;
    if (cpu_path || memory == 0) memory = memory ? std::min(memory, host_memory_bytes()) : host_memory_bytes();
    t->memory_budget = cpu_path ? memory / 2 : memory / 10 * 8;
    out.push_back(std::move(t));
  }
  // The CPU path first: it is the reference for every GPU/CPU ratio.
  std::stable_partition(out.begin(), out.end(), [](const std::unique_ptr<Target>& t) { return t->backend == "cpu"; });
  return out;
}

std::vector<PipelineCacheTiming> measure_pipeline_cache(const std::vector<std::string>& selectors,
                                                        const std::vector<Case>& cases) {
  std::vector<PipelineCacheTiming> out;
  uint32_t count = 0;
  if (vkbn_enumerate_devices(&count, nullptr) != VKBN_SUCCESS) return out;
  std::vector<vkbn_device_info> infos(count);
  vkbn_enumerate_devices(&count, infos.data());
  infos.resize(count);

  // The plans: each op/layout/dtype of the run, on a tensor that fits one
  // workgroup per channel and on one whose channels need a split reduction.
  std::vector<Case> plans;
  std::set<std::string> seen;
  for (const Case& c : cases) {
    if (c.op->kind == OpKind::kCopy) continue;
    const std::string key = std::string(c.op->name) + "/" + layout_name(c.layout) + "/" + dtype_name(c.dtype);
    if (!seen.insert(key).second) continue;
    Case small = c, split = c;
    small.shape = Shape();
    small.shape.n = 2, small.shape.c = 16, small.shape.rank = 2, small.shape.spatial[0] = small.shape.spatial[1] = 7;
    split.shape = Shape();
    split.shape.n = 32, split.shape.c = 64, split.shape.rank = 2, split.shape.spatial[0] = split.shape.spatial[1] = 56;
    plans.push_back(small);
    plans.push_back(split);
  }

  const char* tmp = std::getenv("TMPDIR");
  for (const vkbn_device_info& listed : infos) {
    if (listed.backend != VKBN_BACKEND_VULKAN || plans.empty()) continue;
    if (!selectors.empty() &&
        std::none_of(selectors.begin(), selectors.end(), [&](const std::string& s) { return matches(listed, s); }))
      continue;
    PipelineCacheTiming m;
    m.device = "vk" + std::to_string(listed.index);
    const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/vkbn-bench-pipeline-cache-" +
                             std::to_string(listed.index) + "-" + std::to_string((long)getpid()) + ".bin";
    std::remove(path.c_str());
    const std::string selector = std::to_string(listed.index);
    vkbn_pipeline_stats cold = {}, warm = {};
    bool ok = true;
    for (int start = 0; start < 2 && ok; ++start) {
      vkbn_context_desc desc = {};
      desc.device = selector.c_str();
      desc.pipeline_cache_path = path.c_str();
      vkbn_context ctx = nullptr;
      vkbn_result r = vkbn_context_create(&desc, &ctx);
      if (r != VKBN_SUCCESS) {
        m.status = "cannot open: " + error_text(r);
        ok = false;
        break;
      }
      VkbnTarget t(ctx);  // destroys the context, which saves the cache file
      uint32_t made = 0;
      for (const Case& c : plans) {
        std::string error;
        if (t.prepare(c, &error)) ++made;
      }
      vkbn_context_get_pipeline_stats(ctx, start == 0 ? &cold : &warm);
      m.plans = made;
    }
    std::remove(path.c_str());
    if (ok) {
      m.pipelines = warm.pipelines_created;
      m.cold_seconds = cold.create_seconds;
      m.warm_seconds = warm.create_seconds;
      m.warm_hits = warm.pipelines_cache_hits;
      m.hits_reported = warm.hits_reported != 0;
      m.cache_bytes = warm.cache_file_bytes;
      m.status = warm.cache_file_status;
      if (cold.pipelines_created != warm.pipelines_created) m.status += "; cold start made a different count";
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace bench
