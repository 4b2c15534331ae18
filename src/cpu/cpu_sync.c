/* Synchronized batch norm on the CPU path: the four slice passes of
 * sync_backend.h in portable C on the context's thread pool. Reductions give
 * each thread whole channels (every channel's order is fixed, whatever the
 * thread count) and run in double: two passes for (mean, M2), plain double
 * sums for the backward. The elementwise passes follow the Vulkan kernels'
 * f32 arithmetic (apply.comp, bwd_common.glsl). Simple rather than fast: the
 * SIMD kernels of cpu_kernels_impl.h serve the single-context operations. */
#include <math.h>
#include <string.h>

#include "cpu_f16.h"
#include "cpu_internal.h"

/* The host arrays of the passes (core/passes.h, VKBN__SOURCE_HOST). */
typedef struct vkbn__sync_channel {
    const float* pivot;
    const float* shifted_mean;
    const float* scale;
    const float* shift;
} vkbn__sync_channel;

typedef struct vkbn__sync_coef {
    const float* mean;
    const float* invstd;
    const float* k1;
    const float* shift;
    const float* mg;
    const float* e;
} vkbn__sync_coef;

typedef struct sync_job {
    const vkbn__op* op;
    uint32_t threads;
    uint64_t s; /* spatial size */
    /* stats */
    double* mean;
    double* m2;
    /* normalize */
    const vkbn__sync_channel* ch;
    /* grad sums */
    double* sum_g;
    double* sum_g_xhat;
    /* backward apply */
    const vkbn__sync_coef* k;
} sync_job;

static inline float load(const vkbn_buffer b, bool f16, uint64_t i) {
    const uint8_t* p = vkbn__cpu_ptr(b);
    if (f16) {
        uint16_t h;
        memcpy(&h, p + i * 2, 2);
        return vkbn__f16_to_f32(h);
    }
    float f;
    memcpy(&f, p + i * 4, 4);
    return f;
}

static inline void store(vkbn_buffer b, bool f16, uint64_t i, float v) {
    uint8_t* p = vkbn__cpu_ptr(b);
    if (f16) {
        uint16_t h = vkbn__f32_to_f16(v);
        memcpy(p + i * 2, &h, 2);
    } else {
        memcpy(p + i * 4, &v, 4);
    }
}

static inline float vec_at(vkbn_buffer b, uint32_t c, float fill) {
    if (!b) return fill;
    float f;
    memcpy(&f, vkbn__cpu_ptr(b) + (uint64_t)c * 4, 4);
    return f;
}

/* Flat index of value j (0..m) of channel c. */
static inline uint64_t index_of(const sync_job* jb, uint64_t j, uint32_t c) {
    const vkbn__op* op = jb->op;
    uint64_t n = j / jb->s, s = j - n * jb->s;
    if (op->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST) return (n * jb->s + s) * op->tensor.c + c;
    return (n * op->tensor.c + c) * jb->s + s;
}

static inline uint32_t channel_of(const sync_job* jb, uint64_t i) {
    const vkbn__op* op = jb->op;
    if (op->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST) return (uint32_t)(i % op->tensor.c);
    return (uint32_t)((i / jb->s) % op->tensor.c);
}

static float act_forward(vkbn_activation a, float u, float alpha, float beta) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: return u > 0.0f ? u : 0.0f;
        case VKBN_ACTIVATION_LEAKY_RELU: return u >= 0.0f ? u : u * alpha;
        case VKBN_ACTIVATION_CLAMP: return fminf(fmaxf(u, alpha), beta);
        case VKBN_ACTIVATION_SILU: return u / (1.0f + expf(-u));
        default: return u;
    }
}

/* g = dy * act'(u): from y for the mask activations, from u for SiLU. */
static float act_grad(vkbn_activation a, float dy, float y, float u, float alpha, float beta) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: return y > 0.0f ? dy : 0.0f;
        case VKBN_ACTIVATION_LEAKY_RELU: return y > 0.0f ? dy : dy * alpha;
        case VKBN_ACTIVATION_CLAMP: return y > alpha && y < beta ? dy : 0.0f;
        case VKBN_ACTIVATION_SILU: {
            float s = 1.0f / (1.0f + expf(-u));
            return dy * (s * (1.0f + u * (1.0f - s)));
        }
        default: return dy;
    }
}

static void channel_range(const sync_job* jb, uint32_t t, uint32_t* c0, uint32_t* c1) {
    uint32_t c = jb->op->tensor.c;
    *c0 = (uint32_t)((uint64_t)c * t / jb->threads);
    *c1 = (uint32_t)((uint64_t)c * (t + 1) / jb->threads);
}

static void elem_range(const sync_job* jb, uint32_t t, uint64_t* i0, uint64_t* i1) {
    uint64_t e = jb->op->elements;
    *i0 = e / jb->threads * t + (t < e % jb->threads ? t : e % jb->threads);
    *i1 = *i0 + e / jb->threads + (t < e % jb->threads ? 1 : 0);
}

static void task_stats(void* arg, uint32_t t) {
    const sync_job* jb = arg;
    const vkbn__op* op = jb->op;
    bool f16 = op->tensor.dtype == VKBN_DTYPE_F16;
    uint64_t m = op->per_channel;
    uint32_t c0, c1;
    channel_range(jb, t, &c0, &c1);
    for (uint32_t c = c0; c < c1; ++c) {
        double sum = 0.0;
        for (uint64_t j = 0; j < m; ++j) sum += load(op->x, f16, index_of(jb, j, c));
        double mean = sum / (double)m, q = 0.0;
        for (uint64_t j = 0; j < m; ++j) {
            double d = load(op->x, f16, index_of(jb, j, c)) - mean;
            q += d * d;
        }
        jb->mean[c] = mean;
        jb->m2[c] = q;
    }
}

static void task_normalize(void* arg, uint32_t t) {
    const sync_job* jb = arg;
    const vkbn__op* op = jb->op;
    const vkbn__sync_channel* ch = jb->ch;
    bool f16 = op->tensor.dtype == VKBN_DTYPE_F16;
    uint64_t i0, i1;
    elem_range(jb, t, &i0, &i1);
    for (uint64_t i = i0; i < i1; ++i) {
        uint32_t c = channel_of(jb, i);
        float u = ((load(op->x, f16, i) - ch->pivot[c]) - ch->shifted_mean[c]) * ch->scale[c] + ch->shift[c];
        if (op->z) u += load(op->z, f16, i);
        store(op->y, f16, i, act_forward(op->activation, u, op->activation_alpha, op->activation_beta));
    }
}

/* g of element i, with d = x - mean and k1 = weight * invstd. */
static inline float item_grad(const sync_job* jb, uint64_t i, float d, float k1, float shift) {
    const vkbn__op* op = jb->op;
    bool f16 = op->tensor.dtype == VKBN_DTYPE_F16;
    float dy = load(op->dy, f16, i);
    float y = op->y ? load(op->y, f16, i) : 0.0f, u = 0.0f;
    if (op->activation == VKBN_ACTIVATION_SILU) {
        u = d * k1 + shift;
        if (op->z) u += load(op->z, f16, i);
    }
    return act_grad(op->activation, dy, y, u, op->activation_alpha, op->activation_beta);
}

static void task_grad_sums(void* arg, uint32_t t) {
    const sync_job* jb = arg;
    const vkbn__op* op = jb->op;
    bool f16 = op->tensor.dtype == VKBN_DTYPE_F16;
    uint32_t c0, c1;
    channel_range(jb, t, &c0, &c1);
    for (uint32_t c = c0; c < c1; ++c) {
        float mean = vec_at(op->save_mean, c, 0.0f), invstd = vec_at(op->save_invstd, c, 0.0f);
        float k1 = vec_at(op->weight, c, 1.0f) * invstd, shift = vec_at(op->bias, c, 0.0f);
        double sg = 0.0, sgd = 0.0;
        for (uint64_t j = 0; j < op->per_channel; ++j) {
            uint64_t i = index_of(jb, j, c);
            float d = load(op->x, f16, i) - mean;
            float g = item_grad(jb, i, d, k1, shift);
            sg += g;
            sgd += (double)g * d;
        }
        jb->sum_g[c] = sg;
        jb->sum_g_xhat[c] = sgd * invstd;
    }
}

static void task_backward_apply(void* arg, uint32_t t) {
    const sync_job* jb = arg;
    const vkbn__op* op = jb->op;
    const vkbn__sync_coef* k = jb->k;
    bool f16 = op->tensor.dtype == VKBN_DTYPE_F16;
    uint64_t i0, i1;
    elem_range(jb, t, &i0, &i1);
    for (uint64_t i = i0; i < i1; ++i) {
        uint32_t c = channel_of(jb, i);
        float d = load(op->x, f16, i) - k->mean[c];
        float g = item_grad(jb, i, d, k->k1[c], k->shift[c]);
        if (op->dz) store(op->dz, f16, i, g);
        if (op->dx) store(op->dx, f16, i, k->k1[c] * ((g - k->mg[c]) - (d * k->invstd[c]) * k->e[c]));
    }
}

static void run(const vkbn__op* op, sync_job* jb, vkbn__cpu_task task) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(op->x->ctx);
    jb->op = op;
    jb->threads = vkbn__cpu_pool_threads(cpu->pool);
    jb->s = op->spatial;
    vkbn__cpu_pool_run(cpu->pool, task, jb); /* the caller holds exec_lock */
}

static const float* host_array(const vkbn__pass* pass, uint32_t c, uint32_t i) {
    return (const float*)vkbn__cpu_ptr(pass->host_params) + (size_t)i * vkbn__host_params_c_pad(c);
}

bool vkbn__cpu_sync_handles(const vkbn__pass_list* passes) {
    if (passes->count != 1) return false;
    const vkbn__pass* p = &passes->pass[0];
    return p->source == VKBN__SOURCE_HOST || p->export_stats;
}

void vkbn__cpu_sync_run(vkbn_plan plan) {
    const vkbn__op* op = &plan->op;
    const vkbn__pass* pass = &plan->passes.pass[0];
    const uint32_t c = op->tensor.c;
    sync_job jb = {0};
    if (pass->kind == VKBN__PASS_REDUCE_STATS) {
        double* acc = vkbn__calloc((size_t)c * 2, sizeof(double));
        if (!acc) return; /* planned with the same size: see vkbn__cpu_sync_plan */
        jb.mean = acc;
        jb.m2 = acc + c;
        run(op, &jb, task_stats);
        float* w = (float*)vkbn__cpu_ptr(pass->export_stats);
        for (uint32_t i = 0; i < c; ++i) {
            w[i] = (float)acc[i];
            w[c + i] = (float)(acc[i] - (double)w[i]);
            w[2 * (size_t)c + i] = (float)acc[c + i];
        }
        vkbn__free(acc);
    } else if (pass->kind == VKBN__PASS_NORMALIZE) {
        vkbn__sync_channel ch = {host_array(pass, c, 0), host_array(pass, c, 1), host_array(pass, c, 2),
                                 host_array(pass, c, 3)};
        jb.ch = &ch;
        run(op, &jb, task_normalize);
    } else if (pass->kind == VKBN__PASS_REDUCE_GRADS) {
        double* acc = vkbn__calloc((size_t)c * 2, sizeof(double));
        if (!acc) return;
        jb.sum_g = acc;
        jb.sum_g_xhat = acc + c;
        run(op, &jb, task_grad_sums);
        float* dw = (float*)vkbn__cpu_ptr(op->dweight);
        float* db = (float*)vkbn__cpu_ptr(op->dbias);
        for (uint32_t i = 0; i < c; ++i) {
            if (dw) dw[i] = (float)acc[c + i];
            if (db) db[i] = (float)acc[i];
        }
        vkbn__free(acc);
    } else {
        vkbn__sync_coef k = {host_array(pass, c, 0), host_array(pass, c, 1), host_array(pass, c, 2),
                             host_array(pass, c, 3), host_array(pass, c, 4), host_array(pass, c, 5)};
        jb.k = &k;
        run(op, &jb, task_backward_apply);
    }
}
