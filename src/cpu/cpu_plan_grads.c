/* The gradient side of the CPU pass executor (cpu_plan.h): REDUCE_GRADS
 * (SAVED or RUNNING statistics) and APPLY_GRADS (from PREVIOUS, RUNNING or
 * HOST coefficients) of SEMANTICS.md "Backward"; the arithmetic is
 * shaders/bwd_common.glsl's, see cpu_backward_impl.h. Work is split
 * statically by thread index and every merge runs in a fixed order, so the
 * output bits depend only on the shape, the thread count and the
 * instruction set.
 *
 * Plans:
 * - elementwise (APPLY_GRADS alone: frozen statistics without dweight and
 *   dbias, or a synchronized slice's host coefficients): one pass writing dx
 *   and/or dz; elements (channels-first) or rows split evenly.
 * - channels-first, fused: each thread owns whole channels; for each it sums
 *   g and g d over the channel (one pass over x and dy), completes the
 *   channel's coefficients, then writes dx at once (the second pass), so the
 *   second read of x and dy hits L2 whenever a channel's rows fit there.
 * - channels-first, split (fewer channels than threads make good use of, or
 *   reduction_split > 1): every channel is cut into P parts; phase A sums
 *   each (channel, part), the caller merges each channel's parts in part
 *   order, phase C writes dx of the parts each thread summed.
 * - channels-last: rows cut into P parts; phase A sums each part over every
 *   channel, the caller merges the parts in order, phase C writes dx. When
 *   the inputs overflow the last-level cache, the channels go in blocks:
 *   phase A, the merge and phase C per block, so that the second read of a
 *   block's rows hits the cache (see channel_block).
 * - channels-first with short rows (as the forward planner decides, see
 *   cpu_plan.c): channels-last with one lane per (channel, position); a
 *   channel's lanes merge in position order after the parts.
 * Without dx in training (only dweight and dbias, and perhaps dz), phase C
 * does not run; dz is written by the last pass that computes g. With frozen
 * statistics dx does not depend on the sums, so the one reduction pass
 * writes it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "../core/test_hooks.h"
#include "cpu_plan.h"

typedef enum bwd_kind { BWD_ELEMENTWISE_CF, BWD_ELEMENTWISE_CL, BWD_CF_FUSED, BWD_CF_SPLIT, BWD_CL } bwd_kind;

/* Channels-last dx runs backwards over blocks of rows of about this many bytes. */
#define APPLY_BLOCK_BYTES (64u * 1024u)

/* Channels-last training with dx: a thread's rows of one channel block (its
 * inputs) are kept to at most this fraction of its share of the last-level
 * cache (1 / BLOCK_LLC_SHARE_DIV). */
#define BLOCK_LLC_SHARE_DIV 2u
/* Channel blocks are multiples of this many bytes of a row, at least this
 * many, and at least the row's period in a page of this many (see
 * channel_block). */
#define BLOCK_ALIGN_BYTES 64u
#define BLOCK_MIN_ROW_BYTES 256u
#define BLOCK_PAGE_BYTES 4096u

/* Channels-first fused plans fetch the next channel ahead when rows are at
 * most this long and a channel's inputs at most this large. */
#define PREFETCH_ROW_BYTES 1024u
#define PREFETCH_CHANNEL_BYTES (256u * 1024u)

#define part_begin vkbn__cpu_part_begin
#define f32 vkbn__cpu_f32

struct vkbn__cpu_grads_plan {
    bwd_kind kind;
    uint32_t threads;
    uint32_t parts;
    bool apply;            /* a second pass writes dx (training) */
    bool prefetch_next;    /* channels-first fused: fetch the next channel ahead (short rows) */
    unsigned sum_writes;   /* what the reduction pass writes */
    unsigned apply_writes; /* what the elementwise / second pass writes */
    vkbn__cpu_bwd_tensors t;
    uint64_t m, rows;
    uint64_t lanes_per_channel; /* channels-last plans: 1, or S for short channels-first rows */
    uint64_t block, blocks;     /* channels-last: channels per block and blocks (1: all channels at once) */
    float inv_m;
    const vkbn__pass* host;   /* APPLY_GRADS from HOST: its pass (the coefficients' buffer) */
    float* coef;              /* VKBN__BWD_COEFS arrays of c floats */
    vkbn__cpu_csum* partials; /* channels-first split: c * parts */
    float* part_sums;         /* channels-last: parts * 10c (sums, scratch) */
    const vkbn__cpu_kernels* k;
};

static bool same_range(vkbn_buffer a, vkbn_buffer b) { return a && b && a->host == b->host && a->offset == b->offset; }

/* The training dx's coefficients folded into an affine map of g and d
 * (vkbn__cpu_bwd_coef): dx = k1 ((g - mg) - (d invstd) e) = k1 g + db d + dc. */
static void fold_dx(float k1, float invstd, float mg, float e, float* db, float* dc) {
    *db = -(k1 * invstd) * e;
    *dc = -(k1 * mg);
}

/* A synchronized slice's coefficients (passes.h, APPLY_GRADS from HOST:
 * mean | invstd | k1 | shift | mg | e) for each of c lanes; lane j belongs to
 * channel j / lpc. */
static void load_host_coefficients(const vkbn__op* op, const vkbn__pass* pass, float* coef, uint64_t c, uint64_t lpc) {
    const uint64_t channels = op->tensor.c;
    const float* a[VKBN__APPLY_GRADS_HOST_ARRAYS];
    for (uint32_t i = 0; i < VKBN__APPLY_GRADS_HOST_ARRAYS; ++i) a[i] = vkbn__cpu_host_array(pass, channels, i);
    for (uint64_t j = 0; j < c; ++j) {
        const uint64_t ch = j / lpc;
        coef[VKBN__BWD_MEAN * c + j] = a[0][ch];
        coef[VKBN__BWD_INVSTD * c + j] = a[1][ch];
        coef[VKBN__BWD_K1 * c + j] = a[2][ch];
        coef[VKBN__BWD_SHIFT * c + j] = a[3][ch];
        fold_dx(a[2][ch], a[1][ch], a[4][ch], a[5][ch], &coef[VKBN__BWD_DB * c + j], &coef[VKBN__BWD_DC * c + j]);
    }
}

/* mean, invstd, k1 = weight invstd, shift = bias for each of c lanes from
 * the op's statistics (saved, or running when frozen); lane j belongs to
 * channel j / lpc. */
static void load_coefficients(const vkbn__op* op, bool frozen, float* coef, uint64_t c, uint64_t lpc) {
    const float* mean = f32(frozen ? op->running_mean : op->save_mean);
    const float* var = f32(frozen ? op->running_var : op->save_invstd);
    const float* w = f32(op->weight);
    const float* b = f32(op->bias);
    for (uint64_t j0 = 0; j0 < c; j0 += lpc) {
        const uint64_t ch = j0 / lpc;
        float invstd = frozen ? 1.0f / sqrtf(var[ch] + op->eps) : var[ch];
        for (uint64_t j = j0; j < j0 + lpc; ++j) {
            coef[VKBN__BWD_MEAN * c + j] = mean[ch];
            coef[VKBN__BWD_INVSTD * c + j] = invstd;
            coef[VKBN__BWD_K1 * c + j] = (w ? w[ch] : 1.0f) * invstd;
            coef[VKBN__BWD_SHIFT * c + j] = b ? b[ch] : 0.0f;
            coef[VKBN__BWD_DB * c + j] = 0.0f;
            coef[VKBN__BWD_DC * c + j] = 0.0f;
        }
    }
}

/* Channel ch's merged sums: dweight and dbias, and the training-mode dx
 * coefficients (bwd_common.glsl's coef_finish, folded: see
 * vkbn__cpu_bwd_coef) of its lanes [j0, j0 + lanes). */
static void finish_channel(const vkbn__op* op, struct vkbn__cpu_grads_plan* p, uint64_t ch, uint64_t j0, uint64_t lanes,
                           vkbn__cpu_csum s) {
    const uint64_t c = p->t.c;
    float sum_g = s.sg + s.cg, sum_gd = s.sgd + s.cgd;
    float dweight = sum_gd * p->coef[VKBN__BWD_INVSTD * c + j0];
    if (op->dweight) f32(op->dweight)[ch] = dweight;
    if (op->dbias) f32(op->dbias)[ch] = sum_g;
    if (!p->t.frozen) {
        float k1 = p->coef[VKBN__BWD_K1 * c + j0], invstd = p->coef[VKBN__BWD_INVSTD * c + j0];
        float mg = sum_g * p->inv_m, e = dweight * p->inv_m;
        for (uint64_t j = j0; j < j0 + lanes; ++j) {
            fold_dx(k1, invstd, mg, e, &p->coef[VKBN__BWD_DB * c + j], &p->coef[VKBN__BWD_DC * c + j]);
        }
    }
}

static vkbn__cpu_bwd_coef channel_coef(const struct vkbn__cpu_grads_plan* p, uint64_t j) {
    const uint64_t c = p->t.c;
    const float* k = p->coef;
    vkbn__cpu_bwd_coef r = {k[VKBN__BWD_MEAN * c + j],  k[VKBN__BWD_INVSTD * c + j], k[VKBN__BWD_K1 * c + j],
                            k[VKBN__BWD_SHIFT * c + j], k[VKBN__BWD_DB * c + j],     k[VKBN__BWD_DC * c + j]};
    return r;
}

/* ------------------------------------------------------------------------ */
/* Tasks (one call per thread)                                               */
/* ------------------------------------------------------------------------ */

typedef struct job {
    vkbn_plan plan;
    struct vkbn__cpu_grads_plan* p;
    int phase;      /* split plans: 0 sums, 1 dx */
    uint64_t block; /* channels-last in blocks: the run's block */
} job;

/* The second pass over values [j0, j1) of channel c (channels-first). */
static void cf_apply_range(const struct vkbn__cpu_grads_plan* p, uint64_t c, uint64_t j0, uint64_t j1) {
    const vkbn__cpu_bwd_tensors* t = &p->t;
    const vkbn__cpu_bwd_coef k = channel_coef(p, c);
    uint64_t n = j0 / t->s, s0 = j0 % t->s;
    for (uint64_t j = j0; j < j1; ++n, s0 = 0) {
        uint64_t len = t->s - s0;
        if (len > j1 - j) len = j1 - j;
        p->k->cf_bwd_apply(t, (n * t->c + c) * t->s + s0, len, &k, p->apply_writes);
        j += len;
    }
}

/* Fetches channel c's rows of the inputs towards L2. Short rows (7x7,
 * 14x14) are many small pieces far apart, whose latency the per-row prefetch
 * of the kernels cannot hide; the next channel fetched while this one is
 * summed can. */
static void prefetch_channel(const struct vkbn__cpu_grads_plan* p, uint64_t c) {
    const vkbn__cpu_bwd_tensors* t = &p->t;
    const uint64_t es = t->dtype ? 2 : 4, row = t->s * es;
    const uint8_t* streams[3] = {t->dy, t->x, t->activation == VKBN_ACTIVATION_NONE ? NULL : t->act};
    for (uint64_t n = 0; n < t->n; ++n) {
        const uint64_t first = (n * t->c + c) * row;
        for (int k = 0; k < 3; ++k) {
            if (!streams[k]) continue;
            for (uint64_t b = 0; b < row; b += 64) VKBN_PREFETCH_L2(streams[k] + first + b);
        }
    }
}

static void task_cf_fused(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_grads_plan* p = jb->p;
    const uint64_t c0 = part_begin(p->t.c, p->threads, thread), c1 = part_begin(p->t.c, p->threads, thread + 1);
    for (uint64_t c = c0; c < c1; ++c) {
        if (p->prefetch_next && c + 1 < c1) prefetch_channel(p, c + 1);
        const vkbn__cpu_bwd_coef k = channel_coef(p, c);
        vkbn__cpu_csum s = p->k->cf_bwd_sums(&p->t, c, 0, p->m, &k, p->sum_writes);
        finish_channel(&jb->plan->op, p, c, c, 1, s);
        if (p->apply) cf_apply_range(p, c, 0, p->m);
    }
}

static void task_cf_split(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_grads_plan* p = jb->p;
    uint64_t items = p->t.c * p->parts;
    uint64_t i0 = part_begin(items, p->threads, thread), i1 = part_begin(items, p->threads, thread + 1);
    for (uint64_t i = i0; i < i1; ++i) {
        uint64_t c = i / p->parts, part = i % p->parts;
        uint64_t j0 = part_begin(p->m, p->parts, part), j1 = part_begin(p->m, p->parts, part + 1);
        if (jb->phase == 0) {
            const vkbn__cpu_bwd_coef k = channel_coef(p, c);
            p->partials[i] = p->k->cf_bwd_sums(&p->t, c, j0, j1, &k, p->sum_writes);
        } else {
            cf_apply_range(p, c, j0, j1);
        }
    }
}

/* Channels-last phase A: parts [q0, q1), channels [c0, c1). */
static void cl_sums_parts(const struct vkbn__cpu_grads_plan* p, uint64_t q0, uint64_t q1, uint64_t c0, uint64_t c1) {
    for (uint64_t q = q0; q < q1; ++q) {
        uint64_t r0 = part_begin(p->rows, p->parts, q), r1 = part_begin(p->rows, p->parts, q + 1);
        p->k->cl_bwd_sums(&p->t, r0, r1, c0, c1, p->coef, p->part_sums + q * 10 * p->t.c, p->sum_writes);
    }
}

/* Channels-last phase C: parts [q0, q1), channels [c0, c1). dx walks the
 * rows backwards, in blocks of about APPLY_BLOCK_BYTES per stream: the rows
 * the sums pass read last are the ones still in cache, so they go first. */
static void cl_apply_parts(const struct vkbn__cpu_grads_plan* p, uint64_t q0, uint64_t q1, uint64_t c0, uint64_t c1) {
    uint64_t block = APPLY_BLOCK_BYTES / ((c1 - c0) * (p->t.dtype ? 2u : 4u));
    if (block == 0) block = 1;
    for (uint64_t q = q1; q-- > q0;) {
        uint64_t r0 = part_begin(p->rows, p->parts, q), r1 = part_begin(p->rows, p->parts, q + 1);
        for (uint64_t e = r1; e > r0;) {
            uint64_t b = e - r0 > block ? e - block : r0;
            p->k->cl_bwd_apply(&p->t, b, e, c0, c1, p->coef, p->apply_writes);
            e = b;
        }
    }
}

static void task_cl(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_grads_plan* p = jb->p;
    uint64_t q0 = part_begin(p->parts, p->threads, thread), q1 = part_begin(p->parts, p->threads, thread + 1);
    if (jb->phase == 0)
        cl_sums_parts(p, q0, q1, 0, p->t.c);
    else
        cl_apply_parts(p, q0, q1, 0, p->t.c);
}

/* Channels-last in blocks: block b is channels [block_begin(b), block_begin(b + 1)). */
static uint64_t block_begin(const struct vkbn__cpu_grads_plan* p, uint64_t b) {
    return b * p->block < p->t.c ? b * p->block : p->t.c;
}

/* Channels-last in blocks: run b writes dx of block b - 1 (whose sums the
 * caller merged after run b - 1), then sums block b, over the same parts:
 * between a thread's two passes over its rows of a block, only the merge
 * runs. One pool run per block (and one more). */
static void task_cl_blocks(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_grads_plan* p = jb->p;
    const uint64_t q0 = part_begin(p->parts, p->threads, thread), q1 = part_begin(p->parts, p->threads, thread + 1);
    const uint64_t b = jb->block;
    if (b > 0) cl_apply_parts(p, q0, q1, block_begin(p, b - 1), block_begin(p, b));
    if (b < p->blocks) cl_sums_parts(p, q0, q1, block_begin(p, b), block_begin(p, b + 1));
}

static void task_elementwise_cf(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_grads_plan* p = jb->p;
    const vkbn__cpu_bwd_tensors* t = &p->t;
    uint64_t total = t->n * t->c * t->s;
    uint64_t e = part_begin(total, p->threads, thread), e1 = part_begin(total, p->threads, thread + 1);
    while (e < e1) {
        uint64_t row = e / t->s, s0 = e % t->s;
        uint64_t len = t->s - s0;
        if (len > e1 - e) len = e1 - e;
        const vkbn__cpu_bwd_coef k = channel_coef(p, row % t->c);
        p->k->cf_bwd_apply(t, e, len, &k, p->apply_writes);
        e += len;
    }
}

static void task_elementwise_cl(void* arg, uint32_t thread) {
    const job* jb = arg;
    struct vkbn__cpu_grads_plan* p = jb->p;
    uint64_t r0 = part_begin(p->rows, p->threads, thread), r1 = part_begin(p->rows, p->threads, thread + 1);
    if (r0 < r1) p->k->cl_bwd_apply(&p->t, r0, r1, 0, p->t.c, p->coef, p->apply_writes);
}

/* ------------------------------------------------------------------------ */
/* One run                                                                   */
/* ------------------------------------------------------------------------ */

/* Channels-last: each lane's sums over the parts, in part order; then a
 * channel's lanes (short channels-first rows: its positions) in lane order.
 * Lanes [c0, c1) (whole channels). */
static void merge_channels_last(const vkbn__op* op, struct vkbn__cpu_grads_plan* p, uint64_t c0, uint64_t c1) {
    const uint64_t c = p->t.c, lpc = p->lanes_per_channel;
    for (uint64_t j0 = c0; j0 < c1; j0 += lpc) {
        vkbn__cpu_csum total = {0.0f, 0.0f, 0.0f, 0.0f};
        for (uint64_t j = j0; j < j0 + lpc; ++j) {
            const float* s0 = p->part_sums;
            vkbn__cpu_csum s = {s0[j], s0[c + j], s0[2 * c + j], s0[3 * c + j]};
            for (uint64_t q = 1; q < p->parts; ++q) {
                const float* b = p->part_sums + q * 10 * c;
                vkbn__cpu_csum e = {b[j], b[c + j], b[2 * c + j], b[3 * c + j]};
                s = vkbn__cpu_csum_merge(s, e);
            }
            total = j == j0 ? s : vkbn__cpu_csum_merge(total, s);
        }
        finish_channel(op, p, j0 / lpc, j0, lpc, total);
    }
}

void vkbn__cpu_grads_run(vkbn_plan plan, struct vkbn__cpu_grads_plan* p) {
    vkbn__cpu_pool* pool = vkbn__cpu_of(plan->ctx)->pool;
    const vkbn__op* op = &plan->op;
    job jb = {plan, p, 0};
    const uint64_t c = p->t.c;
    if (p->host)
        load_host_coefficients(op, p->host, p->coef, c, p->lanes_per_channel);
    else
        load_coefficients(op, p->t.frozen, p->coef, c, p->lanes_per_channel);
    switch (p->kind) {
        case BWD_ELEMENTWISE_CF: vkbn__cpu_pool_run(pool, task_elementwise_cf, &jb); break;
        case BWD_ELEMENTWISE_CL: vkbn__cpu_pool_run(pool, task_elementwise_cl, &jb); break;
        case BWD_CF_FUSED: vkbn__cpu_pool_run(pool, task_cf_fused, &jb); break;
        case BWD_CF_SPLIT:
            vkbn__cpu_pool_run(pool, task_cf_split, &jb);
            for (uint64_t j = 0; j < c; ++j) {
                vkbn__cpu_csum s = p->partials[j * p->parts];
                for (uint64_t q = 1; q < p->parts; ++q) s = vkbn__cpu_csum_merge(s, p->partials[j * p->parts + q]);
                finish_channel(op, p, j, j, 1, s);
            }
            if (p->apply) {
                jb.phase = 1;
                vkbn__cpu_pool_run(pool, task_cf_split, &jb);
            }
            break;
        case BWD_CL:
            if (p->blocks > 1) {
                for (uint64_t b = 0; b <= p->blocks; ++b) {
                    jb.block = b;
                    vkbn__cpu_pool_run(pool, task_cl_blocks, &jb);
                    if (b < p->blocks) merge_channels_last(op, p, block_begin(p, b), block_begin(p, b + 1));
                }
                break;
            }
            vkbn__cpu_pool_run(pool, task_cl, &jb);
            merge_channels_last(op, p, 0, c);
            if (p->apply) {
                jb.phase = 1;
                vkbn__cpu_pool_run(pool, task_cl, &jb);
            }
            break;
    }
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                  */
/* ------------------------------------------------------------------------ */

/* Channels per block of a channels-last plan (c: one block).
 *
 * Training dx reads x and dy twice: phase A sums all rows, phase C reads
 * them again. A thread's rows of both (and of y, where the activation's
 * derivative reads it) are rows / threads * c * elem_size bytes each; past
 * what the last-level cache holds for the thread, phase C reads them from
 * DRAM again: 5 tensors of traffic (2 + 2 read, dx written) where 3 would
 * do. A block of channels cuts the working set between a thread's two
 * passes to rows / threads * block * elem_size * streams bytes, sized to at
 * most 1 / BLOCK_LLC_SHARE_DIV of the thread's share of the cache (the rest
 * for what else the hardware keeps), so that phase C of the block reads it
 * from cache. But a block is a column of the rows, and the cache's sets are
 * picked by the address within a page: when the row length is a multiple of
 * g = gcd(row bytes, 4 KiB), a block narrower than g covers only
 * block bytes / g of the page offsets, so only that fraction of the sets
 * holds it, and its working set fits no better than all channels do. Blocks
 * are therefore at least g bytes of a row (power-of-two rows under 8 KiB,
 * every ResNet-50 layer but 2048 channels in f32, stay unblocked), and at
 * least BLOCK_MIN_ROW_BYTES: strided pieces cost the DRAM pass (a
 * microbenchmark read 1 KiB of every 4 KiB row at about half the contiguous
 * rate, one thread, 4 KiB pages); multiples of
 * BLOCK_ALIGN_BYTES (whole cache lines, a multiple of every vector width);
 * near-equal. No blocks when everything fits already (small tensors keep
 * one pass over all channels), when no such block fits, or without phase C.
 * Results do not depend on the blocks: a channel's sums and dx are the same
 * whatever its window (cl_bwd_sums), and the merge is per channel, in part
 * order. */
static uint64_t channel_block(const struct vkbn__cpu* cpu, const struct vkbn__cpu_grads_plan* p, const vkbn__op* op) {
    const vkbn__cpu_bwd_tensors* t = &p->t;
    const uint64_t c = t->c;
    if (!p->apply || p->lanes_per_channel != 1) return c;
    /* Test hook: this many channels (rounded up to the vector width) per block. */
    const uint64_t forced = cpu->channel_block;
    if (forced != VKBN_TEST_HOOK_UNSET) {
        const uint64_t w = p->k->lanes;
        if (forced >= c) return c;
        const uint64_t b = forced ? (forced + w - 1) / w * w : w;
        return b < c ? b : c;
    }
    const uint64_t es = op->elem_size;
    const uint64_t streams = 2u + (t->activation != VKBN_ACTIVATION_NONE && t->act ? 1u : 0u);
    const uint64_t rows = (p->rows + p->threads - 1) / p->threads;
    const uint64_t per_channel = rows * es * streams; /* one thread's bytes of one channel */
    const uint64_t budget = cpu->caps.llc_bytes / p->threads / BLOCK_LLC_SHARE_DIV;
    if (per_channel * c <= budget) return c;
    uint64_t g = c * es, page = BLOCK_PAGE_BYTES;
    while (page) { /* gcd(row bytes, page) */
        const uint64_t r = g % page;
        g = page;
        page = r;
    }
    const uint64_t align = BLOCK_ALIGN_BYTES / es;
    const uint64_t least = ((g > BLOCK_MIN_ROW_BYTES ? g : BLOCK_MIN_ROW_BYTES) / es + align - 1) / align * align;
    const uint64_t most = budget / per_channel / align * align;
    if (most < least || least >= c) return c;
    const uint64_t blocks = (c + most - 1) / most;
    uint64_t block = ((c + blocks - 1) / blocks + align - 1) / align * align;
    if (block < least) block = least;
    return block < c ? block : c;
}

vkbn_result vkbn__cpu_grads_build(vkbn_plan plan, struct vkbn__cpu_grads_plan** out, char* what, size_t what_size) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(plan->ctx);
    const vkbn__op* op = &plan->op;
    const vkbn_tensor_desc* d = &op->tensor;
    if (what_size) what[0] = '\0';
    struct vkbn__cpu_grads_plan* p = vkbn__calloc(1, sizeof *p);
    *out = p;
    if (!p) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    p->k = cpu->kernels;
    p->threads = cpu->threads;
    vkbn__cpu_bwd_tensors* t = &p->t;
    const bool silu = op->activation == VKBN_ACTIVATION_SILU;
    /* Frozen statistics: the grads passes read the running statistics. A
     * synchronized slice's APPLY_GRADS reads the host's coefficients, which
     * hold the training dx of the whole batch. */
    const vkbn__pass* grads = vkbn__find_pass(&plan->passes, VKBN__PASS_REDUCE_GRADS);
    if (!grads) grads = vkbn__find_pass(&plan->passes, VKBN__PASS_APPLY_GRADS);
    const bool frozen = grads->source == VKBN__SOURCE_RUNNING;
    const bool reduce = vkbn__find_pass(&plan->passes, VKBN__PASS_REDUCE_GRADS) != NULL;
    p->host = grads->source == VKBN__SOURCE_HOST ? grads : NULL;
    /* x enters the sums of g d, training's dx and SiLU's u; frozen dx and
     * dbias alone do without it. */
    const bool needs_x = !frozen || silu || op->dweight;
    t->x = needs_x ? vkbn__cpu_ptr(op->x) : NULL;
    t->dy = vkbn__cpu_ptr(op->dy);
    t->act = vkbn__cpu_ptr(op->y ? op->y : op->z);
    t->dx = vkbn__cpu_ptr(op->dx);
    t->dz = vkbn__cpu_ptr(op->dz);
    t->dtype = (int)d->dtype;
    t->bf16_native = cpu->bf16_native && d->dtype == VKBN_DTYPE_BF16;
    t->frozen = frozen;
    t->activation = op->activation;
    t->act_alpha = op->activation_alpha;
    t->act_beta = op->activation_beta;
    /* The mask in place of y: each bit reads as a y of 1 or 0, which RELU's
     * and LEAKY_RELU's test (y > 0) turns back into the bit; CLAMP's act' is
     * then RELU's (bit ? 1 : 0). */
    t->mask = op->mask ? (const uint32_t*)vkbn__cpu_ptr(op->mask) : NULL;
    if (t->mask && t->activation == VKBN_ACTIVATION_CLAMP) t->activation = VKBN_ACTIVATION_RELU;
    const vkbn__cpu_geometry g = vkbn__cpu_geometry_of(op, p->threads);
    const bool channels_last = g.channels_last, lanes = g.lanes_per_channel > 1;
    t->n = g.n;
    t->c = g.c;
    t->s = g.s;
    p->m = op->per_channel;
    p->rows = g.rows;
    p->lanes_per_channel = g.lanes_per_channel;
    p->inv_m = (float)(1.0 / (double)op->per_channel);

    /* Tensors read and written; beyond the LLC the outputs go around the
     * cache (not in place: dx = dy is read right before it is written). */
    uint64_t tensors = 1u + (needs_x ? 1u : 0u) + (t->act ? 1u : 0u) + (op->dx ? 1u : 0u) + (op->dz ? 1u : 0u);
    t->stream = !same_range(op->dx, op->dy) && op->elements * op->elem_size * tensors > cpu->stream_bytes;
    t->stream_dz = op->elements * op->elem_size * tensors > cpu->stream_bytes;

    p->apply = reduce && !frozen && op->dx;
    const unsigned dz = op->dz ? VKBN__BWD_WRITE_DZ : 0u;
    if (!reduce) {
        p->apply_writes = dz | (op->dx ? VKBN__BWD_WRITE_DX : 0u);
    } else if (p->apply) {
        p->apply_writes = VKBN__BWD_WRITE_DX | dz;
    } else {
        p->sum_writes = dz | (op->dx ? VKBN__BWD_WRITE_DX : 0u); /* frozen: dx from the running statistics */
    }

    vkbn_result r = VKBN_SUCCESS;
    const uint64_t c = t->c;
    p->coef = vkbn__cpu_alloc((uint64_t)VKBN__BWD_COEFS * c, sizeof(float), &r);
    const char* passes = !reduce    ? "elementwise (1 pass)"
                         : p->apply ? "sums, then dx (2 passes)"
                                    : "reduction only (1 pass)";
    const char* mode = frozen ? "frozen" : p->host ? "slice from global sums" : "training";
    const char* layout = lanes           ? "channels-first (short rows as lanes)"
                         : channels_last ? "channels-last"
                                         : "channels-first";
    if (!reduce) {
        p->kind = channels_last ? BWD_ELEMENTWISE_CL : BWD_ELEMENTWISE_CF;
        snprintf(what, what_size, "backward %s %s, %s", mode, layout, passes);
    } else if (channels_last) {
        p->kind = BWD_CL;
        const uint64_t parts = p->parts = vkbn__cpu_rows_parts(op, p->threads, p->rows);
        p->part_sums = vkbn__cpu_alloc(parts * 10 * c, sizeof(float), &r);
        p->block = channel_block(cpu, p, op);
        p->blocks = (c + p->block - 1) / p->block;
        snprintf(what, what_size, "backward %s %s, %s, rows in %u part%s", mode, layout, passes, p->parts,
                 p->parts == 1 ? "" : "s");
        if (p->blocks > 1) {
            const size_t at = strlen(what);
            snprintf(what + at, what_size - at, ", channels in %llu blocks of %llu", (unsigned long long)p->blocks,
                     (unsigned long long)p->block);
        }
    } else {
        p->parts = vkbn__cpu_channels_first_parts(op, p->threads);
        if (p->parts == 1) {
            p->kind = BWD_CF_FUSED;
            /* Short rows, and a channel's inputs small enough to sit in L2
             * beside the one being worked on. */
            p->prefetch_next =
                op->spatial * op->elem_size <= PREFETCH_ROW_BYTES && p->m * op->elem_size * 3 <= PREFETCH_CHANNEL_BYTES;
            snprintf(what, what_size, "backward %s %s, %s, fused per channel", mode, layout, passes);
        } else {
            p->kind = BWD_CF_SPLIT;
            p->partials = vkbn__cpu_alloc(c * p->parts, sizeof *p->partials, &r);
            snprintf(what, what_size, "backward %s %s, %s, each channel in %u parts", mode, layout, passes, p->parts);
        }
    }
    const size_t used = strlen(what);
    snprintf(what + used, what_size - used, "%s%s%s", vkbn__cpu_dtype_note(t->dtype),
             t->stream || t->stream_dz ? ", streaming stores" : "", t->mask ? ", act' from the activation mask" : "");
    return r;
}

void vkbn__cpu_grads_destroy(struct vkbn__cpu_grads_plan* p) {
    if (!p) return;
    vkbn__free(p->coef);
    vkbn__free(p->partials);
    vkbn__free(p->part_sums);
    vkbn__free(p);
}
