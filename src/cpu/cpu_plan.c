/* Planning and running operations on the CPU path.
 *
 * Work is split statically by thread index (the pool gives every thread the
 * same index on every run), so a plan's arithmetic, and with it every output
 * bit, depends only on the shape, the thread count and the instruction set.
 *
 * Plans:
 * - channels-first training, fused: each thread owns whole channels; for each
 *   it reduces the channel, finalizes it and normalizes it at once, so the
 *   second read of x hits cache whenever a channel fits in L2.
 * - channels-first training, split (fewer channels than threads make good
 *   use of, or reduction_split > 1): every channel's values are cut into P
 *   parts; phase A reduces each (channel, part), the caller merges each
 *   channel's parts in part order and finalizes, phase C normalizes. Each
 *   thread normalizes exactly the parts it reduced, while they are in its
 *   cache.
 * - channels-last training: rows are cut into P parts (one per thread unless
 *   reduction_split says otherwise); each lane is a channel; phase A reduces
 *   each part over every channel, the caller merges parts in order, phase C
 *   normalizes each part on the thread that reduced it.
 * - inference: one pass, elements (channels-first) or rows (channels-last)
 *   split evenly.
 * - channels-first with short rows (S <= SHORT_ROW_MAX_S): run as
 *   channels-last with one lane per (channel, position), so each sample is one
 *   contiguous row of C * S lanes. Per-row kernel calls over rows of a few
 *   elements cost more than the data (measured 14x slower than channels-last
 *   on 1024x256x4); as lanes, the same plans as channels-last apply. Training
 *   merges a channel's S lanes in position order after the parts.
 * - copy: bytes split evenly.
 * Layouts coincide when channels-first has S = 1 or channels-last has C = 1;
 * the planner then uses the other layout's plan, which suits the shape.
 * When the tensors an operation touches exceed the last-level cache, the
 * output is written with non-temporal stores (unless in place): it could not
 * stay cached beside its input anyway, and writing around the cache keeps the
 * input's lines (which the second pass, or the next run, reads). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "cpu_backward.h"
#include "cpu_f16.h"
#include "cpu_internal.h"

typedef enum plan_kind {
    PLAN_COPY,
    PLAN_INFER_CF,
    PLAN_INFER_CL,
    PLAN_TRAIN_CF_FUSED,
    PLAN_TRAIN_CF_SPLIT,
    PLAN_TRAIN_CL,
    PLAN_BACKWARD, /* cpu_backward.c */
    PLAN_SYNC      /* cpu_sync.c */
} plan_kind;

/* Pipelined fused plans interleave reduce and normalize in slices of about this size. */
#define PIPELINE_SLICE_BYTES (64u * 1024u)
#define PIPELINE_MIN_ROW 1024u

/* Below this many values per part, splitting a channel costs more than it gives. */
#define MIN_PART_VALUES 4096u

/* Channels-first rows up to this long run as lanes (see above), when there
 * are at most SHORT_ROW_MAX_LANES lanes (C * S: the per-lane parameter and
 * statistics arrays stay in L2). Measured with 2 threads, lanes against
 * per-row calls: S = 4 about 10x faster, S = 16 about 2x; S = 32 and 49
 * 1.4-2.7x slower (each vector of x then needs its parameters from L2;
 * commands in docs/ARCHITECTURE.md, "CPU path"). */
#define SHORT_ROW_MAX_S 16u
#define SHORT_ROW_MAX_LANES (1u << 17)

struct vkbn__cpu_plan {
    plan_kind kind;
    uint32_t threads;
    uint32_t parts;
    uint32_t slices;     /* channels-first fused, pipelined: slices per channel (1: not pipelined) */
    uint64_t slice_unit; /* ... each a multiple of this many values (s for short rows, else 1) */
    vkbn__cpu_tensors t;
    uint64_t m;                  /* values per channel */
    uint64_t rows;               /* channels-last: n * s */
    uint64_t lanes_per_channel;  /* channels-last plans: 1, or S for short channels-first rows */
    vkbn__cpu_channel* channels; /* channels-first: c */
    vkbn__cpu_stat* partials;    /* channels-first split: c * parts */
    float* params;               /* channels-last: pivot | mean | scale | shift, c each */
    float* part_stats;           /* channels-last: parts * (mean | m2) */
    float* scratch;              /* channels-last: threads * 2c */
    const vkbn__cpu_kernels* k;
    struct vkbn__cpu_bwd_plan* bwd; /* PLAN_BACKWARD */
};

/* [begin of part i, begin of part i + 1) when `total` is cut into `parts`
 * near-equal pieces. */
static uint64_t part_begin(uint64_t total, uint64_t parts, uint64_t i) {
    uint64_t q = total / parts, r = total % parts;
    return q * i + (i < r ? i : r);
}

static float* f32(vkbn_buffer b) { return b ? (float*)vkbn__cpu_ptr(b) : NULL; }

static float element(const vkbn__cpu_tensors* t, uint64_t i) {
    return t->f16 ? vkbn__f16_to_f32(((const uint16_t*)t->x)[i]) : ((const float*)t->x)[i];
}

/* SEMANTICS.md "Forward, training mode", as the Vulkan finalize does it: the
 * statistics are of x - pivot. Returns what normalize needs. */
static vkbn__cpu_channel finalize(const vkbn__op* op, uint64_t c, vkbn__cpu_stat st, float pivot) {
    float mean = pivot + st.mean;
    float var = st.m2 / (float)st.n;
    if (var < 0.0f) var = 0.0f;
    float invstd = 1.0f / sqrtf(var + op->eps);
    float w = op->weight ? f32(op->weight)[c] : 1.0f;
    float b = op->bias ? f32(op->bias)[c] : 0.0f;
    if (op->save_mean) f32(op->save_mean)[c] = mean;
    if (op->save_invstd) f32(op->save_invstd)[c] = invstd;
    if (op->running_mean) {
        /* Written as in SEMANTICS.md so that f = 1 replaces the old value exactly. */
        float f = op->factor;
        float* rm = f32(op->running_mean) + c;
        float* rv = f32(op->running_var) + c;
        *rm = (1.0f - f) * *rm + f * mean;
        *rv = (1.0f - f) * *rv + f * (var * op->var_correction);
    }
    vkbn__cpu_channel ch = {pivot, st.mean, w * invstd, b};
    return ch;
}

/* Inference: y = (x - running_mean) * (w / sqrt(running_var + eps)) + b. */
static vkbn__cpu_channel inference_channel(const vkbn__op* op, uint64_t c) {
    float w = op->weight ? f32(op->weight)[c] : 1.0f;
    float b = op->bias ? f32(op->bias)[c] : 0.0f;
    float invstd = 1.0f / sqrtf(f32(op->running_var)[c] + op->eps);
    vkbn__cpu_channel ch = {f32(op->running_mean)[c], 0.0f, w * invstd, b};
    return ch;
}

/* ------------------------------------------------------------------------ */
/* Tasks (one call per thread)                                               */
/* ------------------------------------------------------------------------ */

typedef struct job {
    vkbn_plan plan;
    int phase; /* split plans: 0 statistics, 1 normalize */
} job;

/* Normalizes `count` values of the rows r, r + step, ... (channels-first;
 * row r is sample r / c, channel r % c), from position s0 of row r: a
 * partial first row, the whole rows in one kernel call, a partial last row. */
static void cf_apply_span(const struct vkbn__cpu_plan* p, uint64_t r, uint64_t step, uint64_t s0, uint64_t count) {
    const vkbn__cpu_tensors* t = &p->t;
    const uint64_t s = t->s;
    if (s0 && count) {
        uint64_t len = s - s0 < count ? s - s0 : count;
        p->k->cf_apply(t, r * s + s0, len, &p->channels[r % t->c]);
        count -= len;
        r += step;
    }
    const uint64_t whole = count / s;
    if (whole) p->k->cf_apply_rows(t, r, whole, step, p->channels);
    r += whole * step;
    if (count % s) p->k->cf_apply(t, r * s, count % s, &p->channels[r % t->c]);
}

/* Normalizes values [j0, j1) of channel c (channels-first). */
static void cf_apply_range(const struct vkbn__cpu_plan* p, uint64_t c, uint64_t j0, uint64_t j1) {
    const uint64_t s = p->t.s;
    cf_apply_span(p, j0 / s * p->t.c + c, p->t.c, j0 % s, j1 - j0);
}

/* Slice boundaries of a channel for the pipelined plan: whole samples when
 * rows are short (so the row-statistics kernel applies), else elements. */
static uint64_t slice_begin(const struct vkbn__cpu_plan* p, uint64_t i) {
    if (p->slice_unit > 1) return part_begin(p->m / p->slice_unit, p->slices, i) * p->slice_unit;
    return part_begin(p->m, p->slices, i);
}

static void task_train_cf_fused(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_plan* p = (struct vkbn__cpu_plan*)jb->plan->impl;
    const vkbn__cpu_tensors* t = &p->t;
    uint64_t c0 = part_begin(t->c, p->threads, thread), c1 = part_begin(t->c, p->threads, thread + 1);
    if (p->slices <= 1) {
        for (uint64_t c = c0; c < c1; ++c) {
            float pivot = element(t, c * t->s);
            vkbn__cpu_stat st = p->k->cf_stats(t, c, 0, p->m, pivot);
            p->channels[c] = finalize(&jb->plan->op, c, st, pivot);
            cf_apply_range(p, c, 0, p->m);
        }
        return;
    }
    /* Pipelined (tensors beyond the LLC): slice by slice, reduce channel c
     * while normalizing channel c - 1, so that reading x from memory overlaps
     * writing y; each channel's slices merge in slice order. */
    for (uint64_t c = c0; c <= c1; ++c) {
        const bool reduce = c<c1, apply = c> c0;
        float pivot = reduce ? element(t, c * t->s) : 0.0f;
        vkbn__cpu_stat st = {0.0, 0.0f, 0.0f};
        for (uint32_t q = 0; q < p->slices; ++q) {
            uint64_t j0 = slice_begin(p, q), j1 = slice_begin(p, q + 1);
            if (reduce && j0 < j1) st = vkbn__cpu_stat_merge(st, p->k->cf_stats(t, c, j0, j1, pivot));
            if (apply && j0 < j1) cf_apply_range(p, c - 1, j0, j1);
        }
        if (reduce) p->channels[c] = finalize(&jb->plan->op, c, st, pivot);
    }
}

static void task_train_cf_split(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_plan* p = (struct vkbn__cpu_plan*)jb->plan->impl;
    uint64_t items = p->t.c * p->parts;
    uint64_t i0 = part_begin(items, p->threads, thread), i1 = part_begin(items, p->threads, thread + 1);
    for (uint64_t i = i0; i < i1; ++i) {
        uint64_t c = i / p->parts, part = i % p->parts;
        uint64_t j0 = part_begin(p->m, p->parts, part), j1 = part_begin(p->m, p->parts, part + 1);
        if (jb->phase == 0) {
            p->partials[i] = p->k->cf_stats(&p->t, c, j0, j1, p->channels[c].pivot);
        } else {
            cf_apply_range(p, c, j0, j1);
        }
    }
}

static void task_train_cl(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_plan* p = (struct vkbn__cpu_plan*)jb->plan->impl;
    const uint64_t c = p->t.c;
    const float* pivot = p->params;
    uint64_t q0 = part_begin(p->parts, p->threads, thread), q1 = part_begin(p->parts, p->threads, thread + 1);
    for (uint64_t q = q0; q < q1; ++q) {
        uint64_t r0 = part_begin(p->rows, p->parts, q), r1 = part_begin(p->rows, p->parts, q + 1);
        if (jb->phase == 0) {
            float* mean = p->part_stats + q * 2 * c;
            p->k->cl_stats(&p->t, r0, r1, pivot, mean, mean + c, p->scratch + (uint64_t)thread * 2 * c);
        } else {
            p->k->cl_apply(&p->t, r0, r1, pivot, p->params + c, p->params + 2 * c, p->params + 3 * c);
        }
    }
}

static void task_infer_cf(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_plan* p = (struct vkbn__cpu_plan*)jb->plan->impl;
    const vkbn__cpu_tensors* t = &p->t;
    uint64_t total = t->n * t->c * t->s;
    uint64_t e = part_begin(total, p->threads, thread), e1 = part_begin(total, p->threads, thread + 1);
    cf_apply_span(p, e / t->s, 1, e % t->s, e1 - e);
}

static void task_infer_cl(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_plan* p = (struct vkbn__cpu_plan*)jb->plan->impl;
    const uint64_t c = p->t.c;
    uint64_t r0 = part_begin(p->rows, p->threads, thread), r1 = part_begin(p->rows, p->threads, thread + 1);
    if (r0 < r1) p->k->cl_apply(&p->t, r0, r1, p->params, p->params + c, p->params + 2 * c, p->params + 3 * c);
}

static void task_copy(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_plan* p = (struct vkbn__cpu_plan*)jb->plan->impl;
    uint64_t bytes = jb->plan->op.copy_bytes, lines = bytes / 64;
    uint64_t b0 = part_begin(lines, p->threads, thread) * 64;
    uint64_t b1 = thread + 1 == p->threads ? bytes : part_begin(lines, p->threads, thread + 1) * 64;
    if (b0 < b1) p->k->copy(p->t.y + b0, p->t.x + b0, b1 - b0, p->t.stream);
}

/* ------------------------------------------------------------------------ */
/* One run                                                                   */
/* ------------------------------------------------------------------------ */

static void merge_channels_first(vkbn_plan plan) {
    struct vkbn__cpu_plan* p = vkbn__cpu_plan_of(plan);
    for (uint64_t c = 0; c < p->t.c; ++c) {
        vkbn__cpu_stat st = p->partials[c * p->parts];
        for (uint64_t q = 1; q < p->parts; ++q) st = vkbn__cpu_stat_merge(st, p->partials[c * p->parts + q]);
        p->channels[c] = finalize(&plan->op, c, st, p->channels[c].pivot);
    }
}

static void merge_channels_last(vkbn_plan plan) {
    struct vkbn__cpu_plan* p = vkbn__cpu_plan_of(plan);
    const uint64_t c = p->t.c;
    /* Part 0's arrays accumulate the others, in part order (uniform counts:
     * one weight per part for every channel). */
    float* mean = p->part_stats;
    float* m2 = mean + c;
    double n = (double)part_begin(p->rows, p->parts, 1);
    for (uint64_t q = 1; q < p->parts; ++q) {
        double nb = (double)(part_begin(p->rows, p->parts, q + 1) - part_begin(p->rows, p->parts, q));
        const float* bm = p->part_stats + q * 2 * c;
        const float* bq = bm + c;
        double total = n + nb;
        float w = (float)(nb / total), nw = (float)n * w;
        for (uint64_t j = 0; j < c; ++j) {
            float d = bm[j] - mean[j];
            mean[j] = mean[j] + d * w;
            m2[j] = (m2[j] + bq[j]) + (d * d) * nw;
        }
        n = total;
    }
    /* Each channel's lanes (short channels-first rows: its positions) merge
     * in lane order, then the channel's values go to every one of its lanes. */
    const uint64_t lpc = p->lanes_per_channel;
    for (uint64_t ch = 0; ch < c / lpc; ++ch) {
        const uint64_t j0 = ch * lpc;
        vkbn__cpu_stat st = {n, mean[j0], m2[j0]};
        for (uint64_t j = j0 + 1; j < j0 + lpc; ++j) {
            vkbn__cpu_stat lane = {n, mean[j], m2[j]};
            st = vkbn__cpu_stat_merge(st, lane);
        }
        vkbn__cpu_channel v = finalize(&plan->op, ch, st, p->params[j0]);
        for (uint64_t j = j0; j < j0 + lpc; ++j) {
            p->params[c + j] = v.mean;
            p->params[2 * c + j] = v.scale;
            p->params[3 * c + j] = v.shift;
        }
    }
}

static void run_once(vkbn_plan plan) {
    struct vkbn__cpu_plan* p = vkbn__cpu_plan_of(plan);
    vkbn__cpu_pool* pool = vkbn__cpu_of(plan->ctx)->pool;
    const vkbn__op* op = &plan->op;
    job jb = {plan, 0};
    const uint64_t c = p->t.c;
    switch (p->kind) {
        case PLAN_COPY: vkbn__cpu_pool_run(pool, task_copy, &jb); break;
        case PLAN_INFER_CF:
            for (uint64_t j = 0; j < c; ++j) p->channels[j] = inference_channel(op, j);
            vkbn__cpu_pool_run(pool, task_infer_cf, &jb);
            break;
        case PLAN_INFER_CL:
            for (uint64_t j = 0; j < c; j += p->lanes_per_channel) {
                vkbn__cpu_channel ch = inference_channel(op, j / p->lanes_per_channel);
                for (uint64_t l = j; l < j + p->lanes_per_channel; ++l) {
                    p->params[l] = ch.pivot;
                    p->params[c + l] = ch.mean;
                    p->params[2 * c + l] = ch.scale;
                    p->params[3 * c + l] = ch.shift;
                }
            }
            vkbn__cpu_pool_run(pool, task_infer_cl, &jb);
            break;
        case PLAN_TRAIN_CF_FUSED: vkbn__cpu_pool_run(pool, task_train_cf_fused, &jb); break;
        case PLAN_TRAIN_CF_SPLIT:
            /* Pivots first: with y = x, normalize overwrites them. */
            for (uint64_t j = 0; j < c; ++j) p->channels[j].pivot = element(&p->t, j * p->t.s);
            vkbn__cpu_pool_run(pool, task_train_cf_split, &jb);
            merge_channels_first(plan);
            jb.phase = 1;
            vkbn__cpu_pool_run(pool, task_train_cf_split, &jb);
            break;
        case PLAN_BACKWARD: vkbn__cpu_backward_run(plan, p->bwd); break;
        case PLAN_SYNC: vkbn__cpu_sync_run(plan); break;
        case PLAN_TRAIN_CL:
            /* A channel's pivot is its first value: its first lane of row 0. */
            for (uint64_t j0 = 0; j0 < c; j0 += p->lanes_per_channel) {
                const float pivot = element(&p->t, j0);
                for (uint64_t j = j0; j < j0 + p->lanes_per_channel; ++j) p->params[j] = pivot;
            }
            vkbn__cpu_pool_run(pool, task_train_cl, &jb);
            merge_channels_last(plan);
            jb.phase = 1;
            vkbn__cpu_pool_run(pool, task_train_cl, &jb);
            break;
    }
}

vkbn_result vkbn__cpu_plan_execute(vkbn_plan plan, uint32_t repetitions, double* seconds) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(plan->ctx);
    vkbn__mutex_lock(&cpu->exec_lock);
    double t0 = vkbn__now_seconds();
    for (uint32_t i = 0; i < repetitions; ++i) run_once(plan);
    double t1 = vkbn__now_seconds();
    vkbn__mutex_unlock(&cpu->exec_lock);
    if (seconds) *seconds = (t1 - t0) / repetitions;
    return VKBN_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                  */
/* ------------------------------------------------------------------------ */

static void* alloc_floats(uint64_t count, vkbn_result* r) {
    if (*r != VKBN_SUCCESS) return NULL;
    void* p = count ? vkbn__calloc((size_t)count, sizeof(float)) : NULL;
    if (count && !p) *r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory for scratch");
    return p;
}

static bool in_place(const vkbn__op* op) { return op->x->host == op->y->host && op->x->offset == op->y->offset; }

vkbn__cpu_geometry vkbn__cpu_geometry_of(const vkbn__op* op, uint32_t threads) {
    const vkbn_tensor_desc* d = &op->tensor;
    const uint64_t s = op->spatial;
    vkbn__cpu_geometry g = {d->layout == VKBN_LAYOUT_CHANNELS_LAST, d->n, d->c, s, (uint64_t)d->n * s, 1};
    /* The layouts coincide for S = 1 (channels-first) and C = 1 (channels-last). */
    if (!g.channels_last && s == 1)
        g.channels_last = true;
    else if (g.channels_last && d->c == 1)
        g.channels_last = false;
    if (!g.channels_last && s > 1 && s <= SHORT_ROW_MAX_S && (uint64_t)d->c * s <= SHORT_ROW_MAX_LANES &&
        d->n >= threads) {
        /* Short rows as lanes: samples are rows of C * S lanes. */
        g.channels_last = true;
        g.c = (uint64_t)d->c * s;
        g.s = 1;
        g.rows = d->n;
        g.lanes_per_channel = s;
    }
    return g;
}

/* Parts per channel for a split channels-first plan, or 1 for fused. */
static uint32_t channels_first_parts(const vkbn__op* op, uint32_t threads) {
    uint64_t c = op->tensor.c, m = op->per_channel;
    uint64_t parts;
    if (op->reduction_split == 1) return 1;
    if (op->reduction_split > 1) {
        parts = op->reduction_split;
    } else {
        /* Whole channels per thread balance well enough. */
        if (c % threads == 0 || c >= 4ull * threads) return 1;
        parts = (8ull * threads + c - 1) / c;
        uint64_t worth = m / MIN_PART_VALUES;
        if (parts > worth) parts = worth ? worth : 1;
    }
    if (parts > m) parts = m;
    return (uint32_t)parts;
}

vkbn_result vkbn__cpu_plan_build(vkbn_plan plan) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(plan->ctx);
    const vkbn__op* op = &plan->op;
    struct vkbn__cpu_plan* p = vkbn__calloc(1, sizeof *p);
    if (!p) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    plan->impl = p;
    p->k = cpu->kernels;
    p->threads = cpu->threads;
    p->t.x = vkbn__cpu_ptr(op->x);
    p->t.y = vkbn__cpu_ptr(op->y);
    p->t.z = vkbn__cpu_ptr(op->z);
    vkbn_result r = VKBN_SUCCESS;
    char what[160];

    const vkbn__pass_list* passes = &plan->passes;
    if (vkbn__cpu_sync_handles(passes)) {
        p->kind = PLAN_SYNC;
        p->t.f16 = op->tensor.dtype == VKBN_DTYPE_F16;
        const vkbn__pass_kind k = passes->pass[0].kind;
        snprintf(what, sizeof what, "%s",
                 k == VKBN__PASS_REDUCE_STATS ? "slice statistics"
                 : k == VKBN__PASS_NORMALIZE  ? "slice normalize from global statistics"
                                              : "slice backward from global sums");
    } else if (vkbn__find_pass(passes, VKBN__PASS_REDUCE_GRADS) || vkbn__find_pass(passes, VKBN__PASS_APPLY_GRADS)) {
        p->kind = PLAN_BACKWARD;
        r = vkbn__cpu_backward_build(plan, &p->bwd, what, sizeof what);
        p->t.f16 = op->tensor.dtype == VKBN_DTYPE_F16;
        p->t.stream = r == VKBN_SUCCESS && vkbn__cpu_backward_streams(p->bwd);
    } else if (vkbn__find_pass(passes, VKBN__PASS_COPY)) {
        p->kind = PLAN_COPY;
        p->t.stream = 2 * op->copy_bytes > cpu->stream_bytes;
        snprintf(what, sizeof what, "copy");
    } else {
        const vkbn_tensor_desc* d = &op->tensor;
        p->t.f16 = d->dtype == VKBN_DTYPE_F16;
        p->t.activation = op->activation;
        p->t.act_alpha = op->activation_alpha;
        p->t.act_beta = op->activation_beta;
        const vkbn__cpu_geometry g = vkbn__cpu_geometry_of(op, p->threads);
        const bool channels_last = g.channels_last, lanes = g.lanes_per_channel > 1;
        p->t.n = g.n;
        p->t.c = g.c;
        p->t.s = g.s;
        p->m = op->per_channel;
        p->rows = g.rows;
        p->lanes_per_channel = g.lanes_per_channel;
        uint64_t traffic = op->elements * op->elem_size * (op->z ? 3u : 2u);
        p->t.stream = !in_place(op) && traffic > cpu->stream_bytes;
        const uint64_t c = p->t.c;
        const char* as_lanes = lanes ? " (short channels-first rows as lanes)" : "";
        if (!vkbn__find_pass(passes, VKBN__PASS_REDUCE_STATS)) {
            p->kind = channels_last ? PLAN_INFER_CL : PLAN_INFER_CF;
            if (channels_last)
                p->params = alloc_floats(4 * c, &r);
            else
                p->channels = alloc_floats(4 * c, &r);
            snprintf(what, sizeof what, "inference %s%s", channels_last ? "channels-last" : "channels-first", as_lanes);
        } else if (channels_last) {
            p->kind = PLAN_TRAIN_CL;
            uint64_t parts = op->reduction_split ? op->reduction_split : p->threads;
            if (parts > p->rows) parts = p->rows;
            p->parts = (uint32_t)parts;
            p->params = alloc_floats(4 * c, &r);
            p->part_stats = alloc_floats(parts * 2 * c, &r);
            p->scratch = alloc_floats((uint64_t)p->threads * 2 * c, &r);
            snprintf(what, sizeof what, "training channels-last%s, rows in %u part%s", as_lanes, p->parts,
                     p->parts == 1 ? "" : "s");
        } else {
            p->parts = channels_first_parts(op, p->threads);
            p->channels = alloc_floats(4 * c, &r);
            if (p->parts == 1) {
                p->kind = PLAN_TRAIN_CF_FUSED;
                p->slices = 1;
                /* Pipelining pays for long rows only (measured: 5-10% on
                 * 56x56 and 112x112; slower for 28x28, whose slices lose the
                 * row-statistics kernel's efficiency). */
                if (p->t.stream && c > p->threads && op->spatial > PIPELINE_MIN_ROW) {
                    uint64_t slices = p->m * op->elem_size / PIPELINE_SLICE_BYTES;
                    p->slice_unit = 1;
                    p->slices = slices > 1 ? (uint32_t)(slices < p->m ? slices : p->m) : 1;
                }
                snprintf(what, sizeof what, "training channels-first, fused per channel%s",
                         p->slices > 1 ? ", pipelined" : "");
            } else {
                p->kind = PLAN_TRAIN_CF_SPLIT;
                p->partials = vkbn__calloc((size_t)(c * p->parts), sizeof *p->partials);
                if (!p->partials && r == VKBN_SUCCESS) {
                    r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory for scratch");
                }
                snprintf(what, sizeof what, "training channels-first, each channel in %u parts", p->parts);
            }
        }
    }
    snprintf(plan->description, sizeof plan->description, "cpu %s x%u: %s%s%s", p->k->name, p->threads, what,
             p->t.f16 ? " (f16)" : "", p->t.stream ? ", streaming stores" : "");
    return r;
}

void vkbn__cpu_plan_destroy(vkbn_plan plan) {
    struct vkbn__cpu_plan* p = vkbn__cpu_plan_of(plan);
    if (!p) return;
    vkbn__free(p->channels);
    vkbn__free(p->partials);
    vkbn__free(p->params);
    vkbn__free(p->part_stats);
    vkbn__free(p->scratch);
    vkbn__cpu_backward_destroy(p->bwd);
    vkbn__free(p);
    plan->impl = NULL;
}
