// oneDNN's batch normalization (C API, 2.x) as a peer on the CPU: the same
// shapes, layouts and thread count as vkbn's CPU path, plain (nchw / nhwc
// strided) memory as a framework would hand it over. oneDNN computes the
// batch statistics but leaves the running-statistics update to the caller;
// that per-channel work is ignored, as the byte count ignores it.
#include <dnnl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifdef VKBN_BENCH_HAVE_OPENMP
#include <omp.h>
#endif

#include "targets.h"

namespace bench {

namespace {

std::string status_text(dnnl_status_t s) {
  switch (s) {
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    default: return "status " + std::to_string((int)s);
  }
}

// A 64-byte-aligned host allocation.
struct HostArray {
  void* data = nullptr;
  explicit HostArray(size_t bytes) { data = std::aligned_alloc(64, (bytes + 63) / 64 * 64); }
  ~HostArray() { std::free(data); }
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;
};

unsigned bn_flags(const Op& op) {
  unsigned flags = dnnl_use_scale | dnnl_use_shift;
  if (op.kind == OpKind::kForwardInference) flags |= dnnl_use_global_stats;
  if (op.activation == VKBN_ACTIVATION_RELU) flags |= dnnl_fuse_norm_relu;
  return flags;
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
  dnnl_memory_desc_init_by_strides(&md, ndims, dims, c.dtype == VKBN_DTYPE_F16 ? dnnl_f16 : dnnl_f32, strides);
  return md;
}

class OnednnPrepared : public Prepared {
 public:
  ~OnednnPrepared() override {
    for (dnnl_memory_t m : memories) dnnl_memory_destroy(m);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
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

  // Adds an argument backed by a fresh host array of md's size, filled with
  // `init` (per-channel vectors), with the data pattern (SRC), or left as
  // allocated (outputs).
  bool add(dnnl_engine_t engine, int arg, const dnnl_memory_desc_t* md, const void* init, const Case* c = nullptr) {
    size_t bytes = dnnl_memory_desc_get_size(md);
    arrays.emplace_back(new HostArray(bytes));
    if (!arrays.back()->data) return false;
    if (init) std::memcpy(arrays.back()->data, init, bytes);
    if (arg == DNNL_ARG_SRC) fill_pattern(arrays.back()->data, c->shape.elements(), c->dtype, 1);
    dnnl_memory_t m = nullptr;
    if (dnnl_memory_create(&m, md, engine, arrays.back()->data) != dnnl_success) return false;
    memories.push_back(m);
    args.push_back({arg, m});
    return true;
  }

  dnnl_stream_t stream = nullptr;
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_primitive_t prim = nullptr;
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
    dnnl_primitive_desc_t pd = nullptr;
    dnnl_status_t s = create_pd(c, &pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) *why = "oneDNN: " + status_text(s) + " for this type and layout on this CPU";
    return s == dnnl_success;
  }

  std::unique_ptr<Prepared> prepare(const Case& c, std::string* error) override {
    auto p = std::make_unique<OnednnPrepared>();
    p->stream = stream;
    dnnl_status_t s = create_pd(c, &p->pd);
    if (s == dnnl_success) s = dnnl_primitive_create(&p->prim, p->pd);
    if (s != dnnl_success) {
      *error = "oneDNN: " + status_text(s);
      return nullptr;
    }
    dnnl_memory_desc_t data = data_desc(c);
    dnnl_memory_desc_t vec;
    dnnl_dims_t dims = {(dnnl_dim_t)c.shape.c};
    dnnl_memory_desc_init_by_tag(&vec, 1, dims, dnnl_f32, dnnl_x);
    std::vector<float> ones(c.shape.c, 1.0f), zeros(c.shape.c, 0.0f);
    bool ok = p->add(engine, DNNL_ARG_SRC, &data, nullptr, &c) && p->add(engine, DNNL_ARG_DST, &data, nullptr) &&
              p->add(engine, DNNL_ARG_SCALE, &vec, ones.data()) && p->add(engine, DNNL_ARG_SHIFT, &vec, zeros.data()) &&
              p->add(engine, DNNL_ARG_MEAN, &vec, zeros.data()) && p->add(engine, DNNL_ARG_VARIANCE, &vec, ones.data());
    const dnnl_memory_desc_t* ws = dnnl_primitive_desc_query_md(p->pd, dnnl_query_workspace_md, 0);
    if (ok && ws && dnnl_memory_desc_get_size(ws) > 0) ok = p->add(engine, DNNL_ARG_WORKSPACE, ws, nullptr);
    if (!ok) {
      *error = "oneDNN: out of host memory";
      return nullptr;
    }
    return p;
  }

  dnnl_status_t create_pd(const Case& c, dnnl_primitive_desc_t* pd) const {
    dnnl_memory_desc_t data = data_desc(c);
    dnnl_batch_normalization_desc_t bd;
    dnnl_prop_kind_t prop = c.op->kind == OpKind::kForwardTraining ? dnnl_forward_training : dnnl_forward_inference;
    dnnl_status_t s = dnnl_batch_normalization_forward_desc_init(&bd, prop, &data, VKBN_DEFAULT_EPS, bn_flags(*c.op));
    if (s != dnnl_success) return s;
    return dnnl_primitive_desc_create(pd, &bd, nullptr, engine, nullptr);
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
              (v->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : v->cpu_runtime == DNNL_RUNTIME_TBB ? " (TBB)" : "");
  t->hardware = "cpu";
  t->f16 = true;  // decided per case by oneDNN itself (supports())
  t->max_allocation = UINT64_MAX;
  t->memory_budget = host_memory_bytes() / 2;
  return t;
}

}  // namespace bench
