// oneDNN's batch normalization (C API, 2.x) as a peer on the CPU: the same
// shapes, layouts and thread count as vkbn's CPU path, plain (nchw / nhwc
// strided) memory as a framework would hand it over. oneDNN computes the
// batch statistics but leaves the running-statistics update to the caller;
// that per-channel work is ignored, as the byte count ignores it. Its fused
// ReLU keeps a bit mask (the workspace) for backward instead of reading y.
#include <dnnl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifdef VKBN_BENCH_HAVE_OPENMP
#include <omp.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#endif

#include "targets.h"

namespace bench {

namespace {

std::string status_text(dnnl_status_t s) {
  switch (s) {
    case dnnl_out_of_memory:
      return "out of memory";
    case dnnl_invalid_arguments:
      return "invalid arguments";
    case dnnl_unimplemented:
      return "unimplemented";
    default:
      return "status " + std::to_string((int)s);
  }
}

// A 64-byte-aligned host allocation; from 2 MiB up, 2 MiB-aligned on large
// pages, as vkbn's CPU buffers are (cpu_context.c), so that both sides of the
// comparison stream from the same kind of memory.
struct HostArray {
  void* data = nullptr;
  explicit HostArray(size_t bytes) {
    const size_t large = size_t(2) << 20;
    if (bytes < large) {
      data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
      return;
    }
    data = std::aligned_alloc(large, (bytes + large - 1) / large * large);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (data) madvise(data, bytes / large * large, MADV_HUGEPAGE);
#endif
  }
  ~HostArray() { std::free(data); }
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
};

unsigned bn_flags(const Op& op) {
  unsigned flags = dnnl_use_scale | dnnl_use_shift;
  if (op.kind == OpKind::kForwardInference || op.frozen) flags |= dnnl_use_global_stats;
  if (op.activation == VKBN_ACTIVATION_RELU) flags |= dnnl_fuse_norm_relu;
  return flags;
}

// The tensors' element type; per-channel vectors stay f32, as in vkbn.
dnnl_data_type_t data_type(vkbn_dtype dtype) {
  switch (dtype) {
    case VKBN_DTYPE_F16:
      return dnnl_f16;
    case VKBN_DTYPE_BF16:
      return dnnl_bf16;
    case VKBN_DTYPE_F32:
      break;
  }
  return dnnl_f32;
}

dnnl_memory_desc_t data_desc(const Case& c) {
  const int ndims = 2 + (int)c.shape.rank;
  dnnl_dims_t dims = {}, strides = {};
  dims[0] = c.shape.n;
  dims[1] = c.shape.c;
  for (uint32_t i = 0; i < c.shape.rank; ++i) dims[2 + i] = c.shape.spatial[i];
  const int64_t spatial = (int64_t)(c.shape.elements() / c.shape.n / c.shape.c);
  if (c.layout == VKBN_LAYOUT_CHANNELS_FIRST) {
    int64_t s = 1;
    for (int d = ndims - 1; d >= 0; --d) strides[d] = s, s *= dims[d];
  } else {
    strides[1] = 1;
    int64_t s = c.shape.c;
    for (int d = ndims - 1; d >= 2; --d) strides[d] = s, s *= dims[d];
    strides[0] = spatial * c.shape.c;
  }
  dnnl_memory_desc_t md;
  dnnl_memory_desc_init_by_strides(&md, ndims, dims, data_type(c.dtype), strides);
  return md;
}

class OnednnPrepared : public Prepared {
 public:
  ~OnednnPrepared() override {
    for (dnnl_memory_t m : memories) dnnl_memory_destroy(m);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (forward_prim) dnnl_primitive_destroy(forward_prim);
    if (forward_pd) dnnl_primitive_desc_destroy(forward_pd);
  }
  bool run(uint32_t reps, double* seconds, std::string* error) override {
    auto t0 = std::chrono::steady_clock::now();
    for (uint32_t r = 0; r < reps; ++r) {
      dnnl_status_t s = dnnl_primitive_execute(prim, stream, (int)args.size(), args.data());
      if (s != dnnl_success) {
        *error = "dnnl_primitive_execute: " + status_text(s);
        return false;
      }
    }
    dnnl_stream_wait(stream);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
    return true;
  }
  std::string describe() const override {
    const char* impl = nullptr;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    return impl ? impl : "";
  }

  // A memory object backed by a fresh host array of md's size, filled with
  // `init` (per-channel vectors), with the data pattern (`c`: tensors the op
  // reads), or left as allocated (outputs). nullptr when out of memory.
  dnnl_memory_t memory(dnnl_engine_t engine, const dnnl_memory_desc_t* md, const void* init, const Case* c = nullptr,
                       uint32_t seed = 1) {
    size_t bytes = dnnl_memory_desc_get_size(md);
    arrays.emplace_back(new HostArray(bytes));
    if (!arrays.back()->data) return nullptr;
    if (init) std::memcpy(arrays.back()->data, init, bytes);
    if (c) fill_pattern(arrays.back()->data, c->shape.elements(), c->dtype, seed);
    dnnl_memory_t m = nullptr;
    if (dnnl_memory_create(&m, md, engine, arrays.back()->data) != dnnl_success) return nullptr;
    memories.push_back(m);
    return m;
  }

  dnnl_stream_t stream = nullptr;
  dnnl_primitive_desc_t pd = nullptr;  // what is timed
  dnnl_primitive_t prim = nullptr;
  dnnl_primitive_desc_t forward_pd = nullptr;  // backward: its forward (the hint; run once for the workspace)
  dnnl_primitive_t forward_prim = nullptr;
  std::vector<std::unique_ptr<HostArray>> arrays;
  std::vector<dnnl_memory_t> memories;
  std::vector<dnnl_exec_arg_t> args;
};

class OnednnTarget : public Target {
 public:
  ~OnednnTarget() override {
    if (stream) dnnl_stream_destroy(stream);
    if (engine) dnnl_engine_destroy(engine);
  }

  bool supports(const Case& c, std::string* why) const override {
    if (c.op->kind == OpKind::kCopy) {
      *why = "the copy ceiling comes from vkbn's CPU path";
      return false;
    }
    if (c.op->residual) {
      *why = "oneDNN 2.x batch normalization has no fused residual add";
      return false;
    }
    if (!Target::supports(c, why)) return false;
    dnnl_primitive_desc_t pd = nullptr, forward_pd = nullptr;
    dnnl_status_t s = create_pd(c, &pd, &forward_pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (forward_pd) dnnl_primitive_desc_destroy(forward_pd);
    if (s != dnnl_success) *why = "oneDNN: " + status_text(s) + " for this type and layout on this CPU";
    return s == dnnl_success;
  }

  std::unique_ptr<Prepared> prepare(const Case& c, std::string* error) override {
    auto p = std::make_unique<OnednnPrepared>();
    p->stream = stream;
    dnnl_status_t s = create_pd(c, &p->pd, &p->forward_pd);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->prim, p->pd);
    if (s == dnnl_success && p->forward_pd) s = dnnl_primitive_create(&p->forward_prim, p->forward_pd);
    if (s != dnnl_success) {
      *error = "oneDNN: " + status_text(s);
      return nullptr;
    }
    dnnl_memory_desc_t data = data_desc(c);
    dnnl_memory_desc_t vec;
    dnnl_dims_t dims = {(dnnl_dim_t)c.shape.c};
    dnnl_memory_desc_init_by_tag(&vec, 1, dims, dnnl_f32, dnnl_x);
    std::vector<float> ones(c.shape.c, 1.0f), zeros(c.shape.c, 0.0f);
    const dnnl_memory_desc_t* ws_md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_workspace_md, 0);
    const bool has_ws = ws_md && dnnl_memory_desc_get_size(ws_md) > 0;
    OnednnPrepared& q = *p;
    dnnl_memory_t src = q.memory(engine, &data, nullptr, &c), scale = q.memory(engine, &vec, ones.data()),
                  shift = q.memory(engine, &vec, zeros.data()), mean = q.memory(engine, &vec, zeros.data()),
                  var = q.memory(engine, &vec, ones.data()), ws = has_ws ? q.memory(engine, ws_md, nullptr) : nullptr;
    bool ok = src && scale && shift && mean && var && (ws || !has_ws);
    if (ok && c.op->kind != OpKind::kBackward) {
      dnnl_memory_t dst = q.memory(engine, &data, nullptr);
      ok = dst != nullptr;
      q.args = {{DNNL_ARG_SRC, src},     {DNNL_ARG_DST, dst},   {DNNL_ARG_SCALE, scale},
                {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var}};
    } else if (ok) {
      // The forward once, for its statistics and (fused ReLU) its workspace.
      dnnl_memory_t dst = q.memory(engine, &data, nullptr), diff_dst = q.memory(engine, &data, nullptr, &c, 4),
                    diff_src = q.memory(engine, &data, nullptr), diff_scale = q.memory(engine, &vec, nullptr),
                    diff_shift = q.memory(engine, &vec, nullptr);
      ok = dst && diff_dst && diff_src && diff_scale && diff_shift;
      std::vector<dnnl_exec_arg_t> fwd = {{DNNL_ARG_SRC, src},     {DNNL_ARG_DST, dst},   {DNNL_ARG_SCALE, scale},
                                          {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var}};
      if (ws) fwd.push_back({DNNL_ARG_WORKSPACE, ws});
      if (ok && dnnl_primitive_execute(p->forward_prim, stream, (int)fwd.size(), fwd.data()) != dnnl_success) {
        *error = "oneDNN: the forward pass before backward failed";
        return nullptr;
      }
      dnnl_stream_wait(stream);
      // oneDNN 2.x wants the shift in backward too when the flags name it.
      q.args = {{DNNL_ARG_SRC, src},
                {DNNL_ARG_MEAN, mean},
                {DNNL_ARG_VARIANCE, var},
                {DNNL_ARG_DIFF_DST, diff_dst},
                {DNNL_ARG_SCALE, scale},
                {DNNL_ARG_SHIFT, shift},
                {DNNL_ARG_DIFF_SRC, diff_src},
                {DNNL_ARG_DIFF_SCALE, diff_scale},
                {DNNL_ARG_DIFF_SHIFT, diff_shift}};
    }
    if (ok && ws) q.args.push_back({DNNL_ARG_WORKSPACE, ws});
    if (!ok) {
      *error = "oneDNN: out of host memory";
      return nullptr;
    }
    return p;
  }

  // The primitive descriptor of the timed op; for backward also that of its
  // forward (training, same flags), which oneDNN takes as a hint.
  dnnl_status_t create_pd(const Case& c, dnnl_primitive_desc_t* pd, dnnl_primitive_desc_t* forward_pd) const {
    dnnl_memory_desc_t data = data_desc(c);
    dnnl_batch_normalization_desc_t fd;
    dnnl_prop_kind_t prop = c.op->kind == OpKind::kForwardInference ? dnnl_forward_inference : dnnl_forward_training;
    dnnl_status_t s = dnnl_batch_normalization_forward_desc_init(&fd, prop, &data, VKBN_DEFAULT_EPS, bn_flags(*c.op));
    if (s != dnnl_success) return s;
    if (c.op->kind != OpKind::kBackward) return dnnl_primitive_desc_create(pd, &fd, nullptr, engine, nullptr);
    s = dnnl_primitive_desc_create(forward_pd, &fd, nullptr, engine, nullptr);
    if (s != dnnl_success) return s;
    dnnl_batch_normalization_desc_t bd;
    s = dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data, &data, VKBN_DEFAULT_EPS,
                                                    bn_flags(*c.op));
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &bd, nullptr, engine, *forward_pd);
  }

  dnnl_engine_t engine = nullptr;
  dnnl_stream_t stream = nullptr;
};

}  // namespace

std::unique_ptr<Target> open_onednn_target(uint32_t threads, std::string* note) {
  auto t = std::make_unique<OnednnTarget>();
  if (dnnl_engine_create(&t->engine, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&t->stream, t->engine, dnnl_stream_default_flags) != dnnl_success) {
    *note = "oneDNN: cannot create a CPU engine";
    return nullptr;
  }
#ifdef VKBN_BENCH_HAVE_OPENMP
  omp_set_num_threads((int)threads);
  t->threads = (uint32_t)omp_get_max_threads();
#else
  (void)threads;
  *note = "oneDNN: built without OpenMP, its thread count is its own default";
#endif
  const dnnl_version_t* v = dnnl_version();
  t->tag = "onednn";
  t->impl = "onednn";
  t->backend = "cpu";
  t->device_name = cpu_model_name();
  t->driver = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
              (v->cpu_runtime == DNNL_RUNTIME_OMP   ? " (OpenMP)"
               : v->cpu_runtime == DNNL_RUNTIME_TBB ? " (TBB)"
                                                    : "");
  t->hardware = "cpu";
  t->f16 = true;  // f16 and bf16: decided per case by oneDNN itself (supports())
  t->max_allocation = UINT64_MAX;
  t->memory_budget = host_memory_bytes() / 2;
  return t;
}

}  // namespace bench
