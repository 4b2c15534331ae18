/* The statistics side of the CPU pass executor (cpu_plan.h): REDUCE_STATS,
 * finalized into save_mean / save_invstd / the running statistics or
 * exported raw (pivot | mean - pivot | M2), the NORMALIZE after it or on its
 * own (from RUNNING or HOST parameters), and COPY.
 *
 * Plans:
 * - channels-first reduction, fused: each thread owns whole channels; for
 *   each it reduces the channel, finishes it (finalizes or exports) and
 *   normalizes it at once, so the second read of x hits cache whenever a
 *   channel fits in L2; pipelined when the tensors exceed the LLC (reduce
 *   channel c while normalizing channel c - 1, slice by slice).
 * - channels-first reduction, split (fewer channels than threads make good
 *   use of, or reduction_split > 1): every channel's values are cut into P
 *   parts; phase A reduces each (channel, part), the caller merges each
 *   channel's parts in part order and finishes it, phase C normalizes. Each
 *   thread normalizes exactly the parts it reduced, while they are in its
 *   cache.
 * - channels-last reduction (and short channels-first rows as lanes, see
 *   cpu_plan.c): rows are cut into P parts (one per thread unless
 *   reduction_split says otherwise); each lane is a channel; phase A reduces
 *   each part over every channel, the caller merges parts in order (then a
 *   channel's lanes in lane order), phase C normalizes each part on the
 *   thread that reduced it.
 * An exported reduction has no phase C: it is the same reduction, in the
 *   same order, as training's, so a slice's exported statistics are the
 *   bits training would finalize.
 * - normalize alone (RUNNING: inference; HOST: a synchronized slice): one
 *   pass, elements (channels-first) or rows (channels-last) split evenly.
 * - copy: bytes split evenly. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "cpu_f16.h"
#include "cpu_plan.h"

typedef enum stats_kind {
    STATS_COPY,
    STATS_NORMALIZE_CF, /* normalize alone */
    STATS_NORMALIZE_CL,
    STATS_REDUCE_CF_FUSED,
    STATS_REDUCE_CF_SPLIT,
    STATS_REDUCE_CL
} stats_kind;

/* Pipelined fused plans interleave reduce and normalize in slices of about this size. */
#define PIPELINE_SLICE_BYTES (64u * 1024u)
#define PIPELINE_MIN_ROW 1024u

#define part_begin vkbn__cpu_part_begin
#define f32 vkbn__cpu_f32

struct vkbn__cpu_stats_plan {
    stats_kind kind;
    uint32_t threads;
    uint32_t parts;
    uint32_t slices;     /* channels-first fused, pipelined: slices per channel (1: not pipelined) */
    uint64_t slice_unit; /* ... each a multiple of this many values (s for short rows, else 1) */
    bool normalize;      /* a reduction's NORMALIZE follows (phase C runs) */
    vkbn__cpu_tensors t;
    uint64_t m;                  /* values per channel */
    uint64_t rows;               /* channels-last: n * s */
    uint64_t lanes_per_channel;  /* channels-last plans: 1, or S for short channels-first rows */
    const vkbn__pass* reduce;    /* the REDUCE_STATS pass, or NULL */
    const vkbn__pass* apply;     /* the NORMALIZE pass, or NULL */
    vkbn__cpu_channel* channels; /* channels-first: c */
    vkbn__cpu_stat* partials;    /* channels-first split: c * parts */
    float* params;               /* channels-last: pivot | mean | scale | shift, c each */
    float* part_stats;           /* channels-last: parts * (mean | m2) */
    float* scratch;              /* channels-last: threads * 2c */
    const vkbn__cpu_kernels* k;
};

static float element(const vkbn__cpu_tensors* t, uint64_t i) {
    const uint16_t* h = (const uint16_t*)t->x;
    if (t->dtype == VKBN_DTYPE_BF16) return vkbn__bf16_to_f32(h[i]);
    return t->dtype == VKBN_DTYPE_F16 ? vkbn__f16_to_f32(h[i]) : ((const float*)t->x)[i];
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

/* The end of channel c's reduction: exported raw (passes.h,
 * VKBN__EXPORT_STATS_ARRAYS), or finalized into what normalize needs. */
static vkbn__cpu_channel finish(vkbn_plan plan, const struct vkbn__cpu_stats_plan* p, uint64_t c, vkbn__cpu_stat st,
                                float pivot) {
    if (p->reduce->export_stats) {
        const uint64_t channels = plan->op.tensor.c;
        float* out = f32(p->reduce->export_stats);
        out[c] = pivot;
        out[channels + c] = st.mean;
        out[2 * channels + c] = st.m2;
        vkbn__cpu_channel none = {pivot, 0.0f, 0.0f, 0.0f};
        return none;
    }
    return finalize(&plan->op, c, st, pivot);
}

/* A normalize pass's own parameters for channel c: from the running
 * statistics (y = (x - running_mean) * (w / sqrt(running_var + eps)) + b),
 * or the host's arrays (pivot | mean - pivot | scale | shift). */
static vkbn__cpu_channel normalize_channel(const vkbn__op* op, const vkbn__pass* pass, uint64_t c) {
    if (pass->source == VKBN__SOURCE_HOST) {
        const uint64_t channels = op->tensor.c;
        vkbn__cpu_channel ch = {vkbn__cpu_host_array(pass, channels, 0)[c], vkbn__cpu_host_array(pass, channels, 1)[c],
                                vkbn__cpu_host_array(pass, channels, 2)[c], vkbn__cpu_host_array(pass, channels, 3)[c]};
        return ch;
    }
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
    struct vkbn__cpu_stats_plan* p;
    int phase; /* split plans: 0 statistics, 1 normalize */
} job;

/* Normalizes `count` values of the rows r, r + step, ... (channels-first;
 * row r is sample r / c, channel r % c), from position s0 of row r: a
 * partial first row, the whole rows in one kernel call, a partial last row. */
static void cf_apply_span(const struct vkbn__cpu_stats_plan* p, uint64_t r, uint64_t step, uint64_t s0,
                          uint64_t count) {
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
static void cf_apply_range(const struct vkbn__cpu_stats_plan* p, uint64_t c, uint64_t j0, uint64_t j1) {
    const uint64_t s = p->t.s;
    cf_apply_span(p, j0 / s * p->t.c + c, p->t.c, j0 % s, j1 - j0);
}

/* Slice boundaries of a channel for the pipelined plan: whole samples when
 * rows are short (so the row-statistics kernel applies), else elements. */
static uint64_t slice_begin(const struct vkbn__cpu_stats_plan* p, uint64_t i) {
    if (p->slice_unit > 1) return part_begin(p->m / p->slice_unit, p->slices, i) * p->slice_unit;
    return part_begin(p->m, p->slices, i);
}

static void task_reduce_cf_fused(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_stats_plan* p = jb->p;
    const vkbn__cpu_tensors* t = &p->t;
    uint64_t c0 = part_begin(t->c, p->threads, thread), c1 = part_begin(t->c, p->threads, thread + 1);
    if (p->slices <= 1) {
        for (uint64_t c = c0; c < c1; ++c) {
            float pivot = element(t, c * t->s);
            vkbn__cpu_stat st = p->k->cf_stats(t, c, 0, p->m, pivot);
            p->channels[c] = finish(jb->plan, p, c, st, pivot);
            if (p->normalize) cf_apply_range(p, c, 0, p->m);
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
        if (reduce) p->channels[c] = finish(jb->plan, p, c, st, pivot);
    }
}

static void task_reduce_cf_split(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_stats_plan* p = jb->p;
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

static void task_reduce_cl(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_stats_plan* p = jb->p;
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

static void task_normalize_cf(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_stats_plan* p = jb->p;
    const vkbn__cpu_tensors* t = &p->t;
    uint64_t total = t->n * t->c * t->s;
    uint64_t e = part_begin(total, p->threads, thread), e1 = part_begin(total, p->threads, thread + 1);
    cf_apply_span(p, e / t->s, 1, e % t->s, e1 - e);
}

static void task_normalize_cl(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_stats_plan* p = jb->p;
    const uint64_t c = p->t.c;
    uint64_t r0 = part_begin(p->rows, p->threads, thread), r1 = part_begin(p->rows, p->threads, thread + 1);
    if (r0 < r1) p->k->cl_apply(&p->t, r0, r1, p->params, p->params + c, p->params + 2 * c, p->params + 3 * c);
}

static void task_copy(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_stats_plan* p = jb->p;
    uint64_t bytes = jb->plan->op.copy_bytes, lines = bytes / 64;
    uint64_t b0 = part_begin(lines, p->threads, thread) * 64;
    uint64_t b1 = thread + 1 == p->threads ? bytes : part_begin(lines, p->threads, thread + 1) * 64;
    if (b0 < b1) p->k->copy(p->t.y + b0, p->t.x + b0, b1 - b0, p->t.stream);
}

/* ------------------------------------------------------------------------ */
/* One run                                                                   */
/* ------------------------------------------------------------------------ */

static void merge_channels_first(vkbn_plan plan, struct vkbn__cpu_stats_plan* p) {
    for (uint64_t c = 0; c < p->t.c; ++c) {
        vkbn__cpu_stat st = p->partials[c * p->parts];
        for (uint64_t q = 1; q < p->parts; ++q) st = vkbn__cpu_stat_merge(st, p->partials[c * p->parts + q]);
        p->channels[c] = finish(plan, p, c, st, p->channels[c].pivot);
    }
}

static void merge_channels_last(vkbn_plan plan, struct vkbn__cpu_stats_plan* p) {
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
        vkbn__cpu_channel v = finish(plan, p, ch, st, p->params[j0]);
        for (uint64_t j = j0; j < j0 + lpc; ++j) {
            p->params[c + j] = v.mean;
            p->params[2 * c + j] = v.scale;
            p->params[3 * c + j] = v.shift;
        }
    }
}

void vkbn__cpu_stats_run(vkbn_plan plan, struct vkbn__cpu_stats_plan* p) {
    vkbn__cpu_pool* pool = vkbn__cpu_of(plan->ctx)->pool;
    const vkbn__op* op = &plan->op;
    job jb = {plan, p, 0};
    const uint64_t c = p->t.c;
    switch (p->kind) {
        case STATS_COPY: vkbn__cpu_pool_run(pool, task_copy, &jb); break;
        case STATS_NORMALIZE_CF:
            for (uint64_t j = 0; j < c; ++j) p->channels[j] = normalize_channel(op, p->apply, j);
            vkbn__cpu_pool_run(pool, task_normalize_cf, &jb);
            break;
        case STATS_NORMALIZE_CL:
            for (uint64_t j = 0; j < c; j += p->lanes_per_channel) {
                vkbn__cpu_channel ch = normalize_channel(op, p->apply, j / p->lanes_per_channel);
                for (uint64_t l = j; l < j + p->lanes_per_channel; ++l) {
                    p->params[l] = ch.pivot;
                    p->params[c + l] = ch.mean;
                    p->params[2 * c + l] = ch.scale;
                    p->params[3 * c + l] = ch.shift;
                }
            }
            vkbn__cpu_pool_run(pool, task_normalize_cl, &jb);
            break;
        case STATS_REDUCE_CF_FUSED: vkbn__cpu_pool_run(pool, task_reduce_cf_fused, &jb); break;
        case STATS_REDUCE_CF_SPLIT:
            /* Pivots first: with y = x, normalize overwrites them. */
            for (uint64_t j = 0; j < c; ++j) p->channels[j].pivot = element(&p->t, j * p->t.s);
            vkbn__cpu_pool_run(pool, task_reduce_cf_split, &jb);
            merge_channels_first(plan, p);
            if (p->normalize) {
                jb.phase = 1;
                vkbn__cpu_pool_run(pool, task_reduce_cf_split, &jb);
            }
            break;
        case STATS_REDUCE_CL:
            /* A channel's pivot is its first value: its first lane of row 0. */
            for (uint64_t j0 = 0; j0 < c; j0 += p->lanes_per_channel) {
                const float pivot = element(&p->t, j0);
                for (uint64_t j = j0; j < j0 + p->lanes_per_channel; ++j) p->params[j] = pivot;
            }
            vkbn__cpu_pool_run(pool, task_reduce_cl, &jb);
            merge_channels_last(plan, p);
            if (p->normalize) {
                jb.phase = 1;
                vkbn__cpu_pool_run(pool, task_reduce_cl, &jb);
            }
            break;
    }
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                  */
/* ------------------------------------------------------------------------ */

static bool in_place(const vkbn__op* op) { return op->x->host == op->y->host && op->x->offset == op->y->offset; }

vkbn_result vkbn__cpu_stats_build(vkbn_plan plan, struct vkbn__cpu_stats_plan** out, char* what, size_t what_size) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(plan->ctx);
    const vkbn__op* op = &plan->op;
    if (what_size) what[0] = '\0';
    struct vkbn__cpu_stats_plan* p = vkbn__calloc(1, sizeof *p);
    *out = p;
    if (!p) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    p->k = cpu->kernels;
    p->threads = cpu->threads;
    p->t.x = vkbn__cpu_ptr(op->x);
    p->t.y = vkbn__cpu_ptr(op->y);
    p->t.z = vkbn__cpu_ptr(op->z);
    vkbn_result r = VKBN_SUCCESS;

    const vkbn__pass_list* passes = &plan->passes;
    p->reduce = vkbn__find_pass(passes, VKBN__PASS_REDUCE_STATS);
    p->apply = vkbn__find_pass(passes, VKBN__PASS_NORMALIZE);
    p->normalize = p->reduce && p->apply;
    if (vkbn__find_pass(passes, VKBN__PASS_COPY)) {
        p->kind = STATS_COPY;
        p->t.stream = 2 * op->copy_bytes > cpu->stream_bytes;
        snprintf(what, what_size, "copy%s", p->t.stream ? ", streaming stores" : "");
        return r;
    }
    const vkbn_tensor_desc* d = &op->tensor;
    p->t.dtype = (int)d->dtype;
    p->t.bf16_native = cpu->bf16_native && d->dtype == VKBN_DTYPE_BF16;
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
    if (p->apply) {
        uint64_t traffic = op->elements * op->elem_size * (op->z ? 3u : 2u);
        /* The mask's bits are read back from y right after it is written
         * (cpu_kernels_impl.h, "The activation mask"): y goes through the
         * cache then. */
        p->t.mask = op->mask ? (uint32_t*)vkbn__cpu_ptr(op->mask) : NULL;
        p->t.stream = !in_place(op) && traffic > cpu->stream_bytes && !op->mask;
    }
    const uint64_t c = p->t.c;
    const char* as_lanes = lanes ? " (short channels-first rows as lanes)" : "";
    /* What the reduction does, or where the normalize alone gets its parameters. */
    const char* mode = p->reduce ? (p->reduce->export_stats ? "slice statistics" : "training")
                       : p->apply->source == VKBN__SOURCE_HOST ? "slice normalize from global statistics"
                                                               : "inference";
    char plan_what[160];
    if (!p->reduce) {
        p->kind = channels_last ? STATS_NORMALIZE_CL : STATS_NORMALIZE_CF;
        p->params = vkbn__cpu_alloc(channels_last ? 4 * c : 0, sizeof(float), &r);
        p->channels = vkbn__cpu_alloc(channels_last ? 0 : c, sizeof *p->channels, &r);
        snprintf(plan_what, sizeof plan_what, "%s %s%s", mode, channels_last ? "channels-last" : "channels-first",
                 as_lanes);
    } else if (channels_last) {
        p->kind = STATS_REDUCE_CL;
        const uint64_t parts = p->parts = vkbn__cpu_rows_parts(op, p->threads, p->rows);
        p->params = vkbn__cpu_alloc(4 * c, sizeof(float), &r);
        p->part_stats = vkbn__cpu_alloc(parts * 2 * c, sizeof(float), &r);
        p->scratch = vkbn__cpu_alloc((uint64_t)p->threads * 2 * c, sizeof(float), &r);
        snprintf(plan_what, sizeof plan_what, "%s channels-last%s, rows in %u part%s", mode, as_lanes, p->parts,
                 p->parts == 1 ? "" : "s");
    } else {
        p->parts = vkbn__cpu_channels_first_parts(op, p->threads);
        p->channels = vkbn__cpu_alloc(c, sizeof *p->channels, &r);
        if (p->parts == 1) {
            p->kind = STATS_REDUCE_CF_FUSED;
            p->slices = 1;
            /* Pipelining pays for long rows only (measured: 5-10% on
             * 56x56 and 112x112; slower for 28x28, whose slices lose the
             * row-statistics kernel's efficiency). */
            if (p->t.stream && c > p->threads && op->spatial > PIPELINE_MIN_ROW) {
                uint64_t slices = p->m * op->elem_size / PIPELINE_SLICE_BYTES;
                p->slice_unit = 1;
                p->slices = slices > 1 ? (uint32_t)(slices < p->m ? slices : p->m) : 1;
            }
            snprintf(plan_what, sizeof plan_what, "%s channels-first, fused per channel%s", mode,
                     p->slices > 1 ? ", pipelined" : "");
        } else {
            p->kind = STATS_REDUCE_CF_SPLIT;
            p->partials = vkbn__cpu_alloc(c * p->parts, sizeof *p->partials, &r);
            snprintf(plan_what, sizeof plan_what, "%s channels-first, each channel in %u parts", mode, p->parts);
        }
    }
    snprintf(what, what_size, "%s%s%s%s", plan_what, vkbn__cpu_dtype_note(p->t.dtype),
             p->t.stream ? ", streaming stores" : "", p->t.mask ? ", writes the activation mask" : "");
    return r;
}

void vkbn__cpu_stats_destroy(struct vkbn__cpu_stats_plan* p) {
    if (!p) return;
    vkbn__free(p->channels);
    vkbn__free(p->partials);
    vkbn__free(p->params);
    vkbn__free(p->part_stats);
    vkbn__free(p->scratch);
    vkbn__free(p);
}
