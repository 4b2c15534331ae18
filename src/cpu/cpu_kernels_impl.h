/* The CPU kernels, written once over the vector primitives of one
 * instruction set. Each cpu_kernels_<isa>.c includes its cpu_simd_<isa>.h
 * (which defines V, W, v_* and s_*, VKBN_SIMD_NAME and VKBN_SIMD_SYMBOL) and
 * then this file, and is compiled with that ISA's target flags; the result is
 * the table VKBN_SIMD_SYMBOL.
 *
 * Statistics (the contract of docs/ARCHITECTURE.md "Numerics"):
 * - every value is shifted by its channel's pivot first (x - K);
 * - values are taken CHUNK at a time per lane: a chunk's own mean and sum of
 *   squared deviations are computed directly, then folded into the lane's
 *   running (n, mean, M2) with Chan's formula;
 * - lanes accumulate into an inner block of at most BLOCK_VALUES values per
 *   lane, merged into an outer total (Chan again) when full, so rounding
 *   grows with the block length and the number of blocks, not with m;
 * - at the end the lanes merge in a fixed tree (lane i with lane i + h), and
 *   values that did not fill a vector merge last.
 * Two shapes of the same algorithm:
 * - lane accumulators (channels-first, long rows or part of a channel):
 *   vectors run along the spatial dimension, CHUNK consecutive vectors of a
 *   row per chunk; a row's leftover values gather in a lane buffer that is
 *   pushed as a vector when full; one horizontal reduction per channel;
 * - row statistics (channels-last, and whole channels-first channels with
 *   short rows): each lane is a channel (or a position within the row) with
 *   its own (mean, m2) in an array, and a chunk is CHUNK rows; channels-last
 *   has no horizontal reduction at all, short channels-first rows merge their
 *   positions once at the end.
 * Everything is a fixed function of the shape and the ranges the planner
 * passes, so results are bitwise reproducible.
 *
 * Normalize computes ((x - K) - mean') * scale + shift (one fused
 * multiply-add where the ISA has one, in the vector body and the scalar
 * tails alike), then the residual and the activation epilogue. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../core/platform.h"
#include "cpu_f16.h"
#include "cpu_kernels.h"

#define ALWAYS_INLINE VKBN_ALWAYS_INLINE

#define CHUNK 8                          /* vectors (channels-first) or rows (channels-last) per chunk */
#define BLOCK_VALUES 2048                /* values per lane in an inner block */
#define CF_ROWS_MAX_S 1024u              /* channels-first rows up to this long use the row-statistics kernel */
#define ROWS_PREFETCH 16                 /* rows ahead that the row-statistics kernel prefetches (short rows) */
#define ROWS_PREFETCH_LONG 2048          /* bytes ahead along a row it prefetches (rows at least this long) */
#define RUN_PREFETCH_VECTORS (4 * CHUNK) /* lane accumulators: vectors ahead within a row */
#define RUN_PREFETCH_HEAD 2048u          /* ... and bytes of the next row's head */

/* ------------------------------------------------------------------------ */
/* Loads and stores of the storage type                                      */
/* ------------------------------------------------------------------------ */

/* dt is the storage type, a vkbn_dtype (0 f32, 1 f16, 2 bf16) and a
 * compile-time constant in every instantiation, so each load and store is
 * one path; the 16-bit types widen exactly and narrow once, on store, to
 * nearest even (cpu_f16.h and each ISA's v_*_h / v_*_b). DT_BF16N is bf16
 * whose vector stores use the ISA's conversion instruction (an ISA that
 * defines VKBN_SIMD_BF16_NATIVE; same bits), chosen per call by the
 * entries' KERNEL_DT. */
enum { DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_BF16N = 3 };

ALWAYS_INLINE V load_v(const uint8_t* base, uint64_t i, const int dt) {
    if (dt >= DT_BF16) return v_load_b((const uint16_t*)base + i);
    return dt ? v_load_h((const uint16_t*)base + i) : v_loadu((const float*)base + i);
}

ALWAYS_INLINE float load_s(const uint8_t* base, uint64_t i, const int dt) {
    if (dt >= DT_BF16) return vkbn__bf16_to_f32(((const uint16_t*)base)[i]);
    return dt ? vkbn__f16_to_f32(((const uint16_t*)base)[i]) : ((const float*)base)[i];
}

ALWAYS_INLINE void store_v(uint8_t* base, uint64_t i, V v, const int dt, const int stream) {
#if defined(VKBN_SIMD_BF16_NATIVE)
    if (dt == DT_BF16N) {
        if (stream)
            v_stream_bn((uint16_t*)base + i, v);
        else
            v_store_bn((uint16_t*)base + i, v);
        return;
    }
#endif
    if (dt >= DT_BF16) {
        if (stream)
            v_stream_b((uint16_t*)base + i, v);
        else
            v_store_b((uint16_t*)base + i, v);
    } else if (dt) {
        if (stream)
            v_stream_h((uint16_t*)base + i, v);
        else
            v_store_h((uint16_t*)base + i, v);
    } else {
        if (stream)
            v_stream((float*)base + i, v);
        else
            v_storeu((float*)base + i, v);
    }
}

ALWAYS_INLINE void store_s(uint8_t* base, uint64_t i, float v, const int dt) {
    if (dt >= DT_BF16)
        ((uint16_t*)base)[i] = vkbn__f32_to_bf16(v);
    else if (dt)
        ((uint16_t*)base)[i] = vkbn__f32_to_f16(v);
    else
        ((float*)base)[i] = v;
}

#if defined(VKBN_SIMD_MASKED)
/* The first n < W lanes (masked: the others are neither read nor written). */
ALWAYS_INLINE V load_vn(const uint8_t* base, uint64_t i, unsigned n, const int dt) {
    if (dt >= DT_BF16) return v_load_b_n((const uint16_t*)base + i, n);
    return dt ? v_load_h_n((const uint16_t*)base + i, n) : v_loadu_n((const float*)base + i, n);
}

ALWAYS_INLINE void store_vn(uint8_t* base, uint64_t i, V v, unsigned n, const int dt) {
#if defined(VKBN_SIMD_BF16_NATIVE)
    if (dt == DT_BF16N) {
        v_store_bn_n((uint16_t*)base + i, v, n);
        return;
    }
#endif
    if (dt >= DT_BF16)
        v_store_b_n((uint16_t*)base + i, v, n);
    else if (dt)
        v_store_h_n((uint16_t*)base + i, v, n);
    else
        v_storeu_n((float*)base + i, v, n);
}
#endif

/* The activations (forward and derivative) and the list every kernel is
 * instantiated for. */
#include "cpu_activation.h"

/* ------------------------------------------------------------------------ */
/* The activation mask                                                       */
/* ------------------------------------------------------------------------ */

/* Bit e (e in memory order) is bit e % 32 of word e / 32: 1 where act'(u) is
 * 1, by the test the backward pass makes on the stored y (act_grad_s: y > 0
 * for RELU and LEAKY_RELU, alpha < y < beta for CLAMP; false for NaN).
 *
 * Writing. The bits are taken from y as stored, read back right after a
 * chunk of at most MASK_CHUNK elements of it was written (still in L1/L2),
 * so with f16 and bf16 the test is on the rounded value by construction and
 * every normalize kernel (vector body, masked and scalar tails, each ISA)
 * serves unchanged: the mask costs one loop per (dtype, activation), not a
 * flag doubling every kernel's instantiations. y is then not streamed (the
 * planner turns non-temporal stores off: a streamed y is not in the cache to
 * read back).
 *
 * Threads. The workers split a pass by channels, parts of channels, rows or
 * element ranges, none of them aligned to 32 elements, so one mask word may
 * hold the bits of two workers' ranges (a channel-first row of 49 values
 * ends mid-word; a split channel's parts end anywhere). Each call owns the
 * bits of the elements it normalizes and nothing else; of a contiguous run
 * [e0, e1) it writes:
 * - the words wholly inside the run with plain stores (no other range has a
 *   bit there, so no other thread writes them);
 * - the one or two partial words at the run's ends with an atomic AND that
 *   clears its own bits and an atomic OR that sets them (no pre-clear: the
 *   mask may hold anything), so concurrent writers of one word, each
 *   touching only its bits, never lose one another's bits.
 * At most two atomic pairs per run; within a call, chunks end at multiples
 * of MASK_CHUNK (a multiple of 32) of the element index, so chunk boundaries
 * add none. The pool's join orders every write before the backward reads.
 *
 * Reading (backward): a vector's W bits from one or two words, as a y of 1.0
 * or 0.0 per lane (the planner makes a CLAMP a RELU then). */
#define MASK_CHUNK 4096u

ALWAYS_INLINE uint32_t mask_bit(float y, const vkbn_activation act, float alpha, float beta) {
    if (act == VKBN_ACTIVATION_CLAMP) return (y > alpha && y < beta) ? 1u : 0u;
    return y > 0.0f ? 1u : 0u;
}

/* The bits of W stored values from element i, as the vector test. */
ALWAYS_INLINE uint32_t mask_bits_v(const uint8_t* y, uint64_t i, V lo, V hi, const int dt, const vkbn_activation act) {
    const V v = load_v(y, i, dt);
    if (act == VKBN_ACTIVATION_CLAMP) return v_gt_bits(v, lo) & v_gt_bits(hi, v);
    return v_gt_bits(v, lo);
}

ALWAYS_INLINE void mask_write_t(const vkbn__cpu_tensors* t, uint64_t e0, uint64_t e1, const int dt,
                                const vkbn_activation act) {
    uint32_t* mask = t->mask;
    const float alpha = t->act_alpha, beta = t->act_beta;
    const V lo = v_set1(act == VKBN_ACTIVATION_CLAMP ? alpha : 0.0f), hi = v_set1(beta);
    for (uint64_t e = e0; e < e1;) {
        const uint64_t w = e >> 5, word_end = (w + 1) << 5, stop = word_end < e1 ? word_end : e1;
        const unsigned sh = (unsigned)(e & 31u), n = (unsigned)(stop - e);
        uint32_t bits = 0;
        if (n == 32u) {
            /* A whole word: 32 / W vector tests (W divides 32). */
            for (unsigned k = 0; k < 32u; k += W) bits |= mask_bits_v(t->y, e + k, lo, hi, dt, act) << k;
        } else {
            for (unsigned k = 0; k < n; ++k) bits |= mask_bit(load_s(t->y, e + k, dt), act, alpha, beta) << k;
        }
        if (n == 32u) {
            mask[w] = bits;
        } else {
            const uint32_t own = ((1u << n) - 1u) << sh;
            vkbn__atomic_and32(&mask[w], ~own);
            vkbn__atomic_or32(&mask[w], bits << sh);
        }
        e = stop;
    }
}

#define MASK_DEF(DT, ACT)                                                                                     \
    static VKBN_NOINLINE void mask_write_##DT##_##ACT(const vkbn__cpu_tensors* t, uint64_t e0, uint64_t e1) { \
        mask_write_t(t, e0, e1, DT, ACT);                                                                     \
    }
#define MASK_DEF_ACTS(DT)                    \
    MASK_DEF(DT, VKBN_ACTIVATION_RELU)       \
    MASK_DEF(DT, VKBN_ACTIVATION_LEAKY_RELU) \
    MASK_DEF(DT, VKBN_ACTIVATION_CLAMP)
MASK_DEF_ACTS(0)
MASK_DEF_ACTS(1)
MASK_DEF_ACTS(2)

#define MASK_ACT_CALL(DT)                                                                                     \
    do {                                                                                                      \
        switch (t->activation) {                                                                              \
            case VKBN_ACTIVATION_RELU: mask_write_##DT##_VKBN_ACTIVATION_RELU(t, e0, e1); return;             \
            case VKBN_ACTIVATION_LEAKY_RELU: mask_write_##DT##_VKBN_ACTIVATION_LEAKY_RELU(t, e0, e1); return; \
            case VKBN_ACTIVATION_CLAMP: mask_write_##DT##_VKBN_ACTIVATION_CLAMP(t, e0, e1); return;           \
            default: return;                                                                                  \
        }                                                                                                     \
    } while (0)

/* The bits of elements [e0, e1) of the stored y (one contiguous run). */
static void mask_write(const vkbn__cpu_tensors* t, uint64_t e0, uint64_t e1) {
    if (e0 >= e1) return;
    switch (t->dtype) {
        case DT_F16: MASK_ACT_CALL(1); break;
        case DT_BF16: MASK_ACT_CALL(2); break;
        default: MASK_ACT_CALL(0); break;
    }
}

/* n <= 16 bits of the mask from element i (bit k: element i + k). The word
 * after i's is read only when the n elements reach into it. */
ALWAYS_INLINE uint32_t mask_lanes(const uint32_t* m, uint64_t i, unsigned n) {
    const uint64_t w = i >> 5;
    const unsigned sh = (unsigned)(i & 31u);
    uint32_t b = m[w] >> sh;
    if (sh + n > 32u) b |= m[w + 1] << (32u - sh);
    return b & ((1u << n) - 1u);
}

/* The W bits of the vector at element i. A vector starting on a multiple
 * of W (every vector of the channels-last kernels where W divides C; the
 * caller says so with `aligned`, else i is tested) has its bits in one
 * byte, or two, or half of one: one load, no shifts across words (the
 * mask's words are little-endian, as the host's: mask_lanes reads them as
 * native words too). */
ALWAYS_INLINE uint32_t mask_vector(const uint32_t* m, uint64_t i, const int aligned) {
    if (W == 1 || W > 16 || (!aligned && i % W != 0)) return mask_lanes(m, i, W);
    const uint8_t* b = (const uint8_t*)m + i / 8;
    if (W == 16) {
        uint16_t h;
        memcpy(&h, b, sizeof h);
        return h;
    }
    if (W == 8) return *b;
    return (uint32_t)(*b >> (i % 8)) & ((1u << W) - 1u);
}

ALWAYS_INLINE float mask_s(const uint32_t* m, uint64_t i) { return (m[i >> 5] >> (i & 31u)) & 1u ? 1.0f : 0.0f; }

/* ------------------------------------------------------------------------ */
/* Chunks and lane statistics                                                */
/* ------------------------------------------------------------------------ */

/* Mean and sum of squared deviations of k vectors, per lane, in a fixed
 * pairwise order. */
ALWAYS_INLINE void chunk_stats(const V* v, const int k, V* cm, V* q) {
    V sum;
    if (k == 8) {
        sum = v_add(v_add(v_add(v[0], v[1]), v_add(v[2], v[3])), v_add(v_add(v[4], v[5]), v_add(v[6], v[7])));
    } else {
        sum = v[0];
        for (int i = 1; i < k; ++i) sum = v_add(sum, v[i]);
    }
    V mean = v_mul(sum, v_set1(1.0f / (float)k));
    V q0 = v_zero(), q1 = v_zero();
    for (int i = 0; i + 1 < k; i += 2) {
        V d0 = v_sub(v[i], mean), d1 = v_sub(v[i + 1], mean);
        q0 = v_fma(d0, d0, q0);
        q1 = v_fma(d1, d1, q1);
    }
    if (k & 1) {
        V d = v_sub(v[k - 1], mean);
        q0 = v_fma(d, d, q0);
    }
    *cm = mean;
    *q = v_add(q0, q1);
}

/* Chan: folds a chunk (its mean cm, squared deviations q) into a running
 * (mean, m2); w = k / (n + k) and nw = n * w for the running count n. */
ALWAYS_INLINE void chunk_fold(V* mean, V* m2, V cm, V q, float w, float nw) {
    V d = v_sub(cm, *mean);
    *mean = v_fma(d, v_set1(w), *mean);
    *m2 = v_add(*m2, v_fma(v_mul(d, d), v_set1(nw), q));
}

/* Merges W lanes of equal count n in a fixed tree (lane l with lane l + h):
 * Chan's formula with na = nb, so the weight is exactly 1/2. */
static vkbn__cpu_stat lanes_tree(const float* mean, const float* m2, double n) {
    float lm[W], lq[W];
    memcpy(lm, mean, sizeof lm);
    memcpy(lq, m2, sizeof lq);
    for (int h = W / 2; h >= 1; h /= 2) {
        float half = (float)n * 0.5f;
        for (int l = 0; l < h; ++l) {
            float d = lm[l + h] - lm[l];
            lm[l] = lm[l] + d * 0.5f;
            lq[l] = lq[l] + lq[l + h] + d * d * half;
        }
        n *= 2.0;
    }
    vkbn__cpu_stat r = {n, lm[0], lq[0]};
    if (n == 0.0) r.mean = r.m2 = 0.0f;
    return r;
}

/* A channel's statistics in progress, per lane. */
typedef struct lane_acc {
    V mean, m2;   /* inner block */
    float n;      /* values per lane in the inner block */
    V omean, om2; /* outer total */
    double on;
    V pending[CHUNK];
    int npending;
    float spill[W]; /* row leftovers, pushed as a vector when full */
    int nspill;
    V pivot;
    float pivot_s;
} lane_acc;

static void acc_init(lane_acc* a, float pivot) {
    a->mean = a->m2 = a->omean = a->om2 = v_zero();
    a->n = 0.0f;
    a->on = 0.0;
    a->npending = 0;
    a->nspill = 0;
    a->pivot = v_set1(pivot);
    a->pivot_s = pivot;
}

/* Merges the inner block into the outer total and empties it. */
static void acc_flush_block(lane_acc* a) {
    if (a->n == 0.0f) return;
    double n = a->on + (double)a->n;
    float w = (float)((double)a->n / n);
    V d = v_sub(a->mean, a->omean);
    a->omean = v_fma(d, v_set1(w), a->omean);
    a->om2 = v_add(v_add(a->om2, a->m2), v_mul(v_mul(d, d), v_set1((float)a->on * w)));
    a->on = n;
    a->mean = a->m2 = v_zero();
    a->n = 0.0f;
}

ALWAYS_INLINE void acc_fold(lane_acc* a, const V* v, const int k) {
    V cm, q;
    chunk_stats(v, k, &cm, &q);
    float n = a->n + (float)k;
    float w = (float)k / n;
    chunk_fold(&a->mean, &a->m2, cm, q, w, a->n * w);
    a->n = n;
    if (a->n >= (float)BLOCK_VALUES) acc_flush_block(a);
}

static void acc_push(lane_acc* a, V v) {
    a->pending[a->npending++] = v;
    if (a->npending == CHUNK) {
        acc_fold(a, a->pending, CHUNK);
        a->npending = 0;
    }
}

/* Pushes `len` contiguous values starting at element i. */
ALWAYS_INLINE void acc_push_run_t(lane_acc* a, const uint8_t* x, uint64_t i, uint64_t len, const int dt) {
    const uint64_t nv = len / W;
    uint64_t k = 0;
    while (a->npending != 0 && k < nv) acc_push(a, v_sub(load_v(x, i + k++ * W, dt), a->pivot));
    if (nv - k >= CHUNK) {
        /* The body: whole chunks straight from memory, state in registers. */
        V mean = a->mean, m2 = a->m2, piv = a->pivot;
        float n = a->n;
        const uint64_t es = dt ? 2 : 4;
        for (; k + CHUNK <= nv; k += CHUNK) {
            V v[CHUNK];
            /* Rows of a channel are far apart, each a short stream that the
             * hardware prefetcher must first detect: fetch ahead in software,
             * within the row. */
            if ((k + RUN_PREFETCH_VECTORS + CHUNK) <= nv) {
                const uint8_t* ahead = x + (i + (k + RUN_PREFETCH_VECTORS) * W) * es;
                for (uint64_t b = 0; b < CHUNK * W * es; b += 64) VKBN_PREFETCH(ahead + b);
            }
            for (int j = 0; j < CHUNK; ++j) v[j] = v_sub(load_v(x, i + (k + (uint64_t)j) * W, dt), piv);
            V cm, q;
            chunk_stats(v, CHUNK, &cm, &q);
            float nn = n + (float)CHUNK;
            float w = (float)CHUNK / nn;
            chunk_fold(&mean, &m2, cm, q, w, n * w);
            n = nn;
            if (n >= (float)BLOCK_VALUES) {
                a->mean = mean;
                a->m2 = m2;
                a->n = n;
                acc_flush_block(a);
                mean = m2 = v_zero();
                n = 0.0f;
            }
        }
        a->mean = mean;
        a->m2 = m2;
        a->n = n;
    }
    for (; k < nv; ++k) acc_push(a, v_sub(load_v(x, i + k * W, dt), a->pivot));
    for (uint64_t e = i + nv * W; e < i + len; ++e) {
        a->spill[a->nspill++] = load_s(x, e, dt) - a->pivot_s;
        if (a->nspill == W) {
            acc_push(a, v_loadu(a->spill));
            a->nspill = 0;
        }
    }
}

/* Ends the accumulation: pending vectors, lanes, then the spilled values. */
static vkbn__cpu_stat acc_finish(lane_acc* a) {
    if (a->npending > 0) {
        acc_fold(a, a->pending, a->npending);
        a->npending = 0;
    }
    acc_flush_block(a);
    float lm[W], lq[W];
    v_storeu(lm, a->omean);
    v_storeu(lq, a->om2);
    vkbn__cpu_stat r = lanes_tree(lm, lq, a->on);
    if (a->nspill > 0) {
        int k = a->nspill;
        float sum = 0.0f;
        for (int l = 0; l < k; ++l) sum += a->spill[l];
        float mean = sum / (float)k, q = 0.0f;
        for (int l = 0; l < k; ++l) q = s_fma(a->spill[l] - mean, a->spill[l] - mean, q);
        vkbn__cpu_stat s = {(double)k, mean, q};
        r = vkbn__cpu_stat_merge(r, s);
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Channels-first                                                            */
/* ------------------------------------------------------------------------ */

ALWAYS_INLINE vkbn__cpu_stat cf_stats_t(const vkbn__cpu_tensors* t, uint64_t c, uint64_t j0, uint64_t j1, float pivot,
                                        const int dt) {
    lane_acc a;
    acc_init(&a, pivot);
    const uint64_t s = t->s;
    uint64_t n = j0 / s, s0 = j0 % s;
    const uint64_t es = dt ? 2 : 4;
    for (uint64_t j = j0; j < j1; ++n, s0 = 0) {
        uint64_t len = s - s0;
        if (len > j1 - j) len = j1 - j;
        if (j + len < j1) {
            /* The head of the next row, which the in-row prefetch cannot reach. */
            const uint8_t* next = t->x + ((n + 1) * t->c + c) * s * es;
            uint64_t head = s * es < RUN_PREFETCH_HEAD ? s * es : RUN_PREFETCH_HEAD;
            for (uint64_t b = 0; b < head; b += 64) VKBN_PREFETCH(next + b);
        }
        acc_push_run_t(&a, t->x, (n * t->c + c) * s + s0, len, dt);
        j += len;
    }
    return acc_finish(&a);
}

static vkbn__cpu_stat cf_stats_rows(const vkbn__cpu_tensors* t, uint64_t c, uint64_t n0, uint64_t n1, float pivot);

static vkbn__cpu_stat cf_stats(const vkbn__cpu_tensors* t, uint64_t c, uint64_t j0, uint64_t j1, float pivot) {
    /* Whole samples of short rows: lanes along positions, chunks along samples. */
    const uint64_t s = t->s;
    if (s <= CF_ROWS_MAX_S && j0 % s == 0 && j1 % s == 0 && j1 - j0 > s)
        return cf_stats_rows(t, c, j0 / s, j1 / s, pivot);
    switch (t->dtype) {
        case DT_F16: return cf_stats_t(t, c, j0, j1, pivot, DT_F16);
        case DT_BF16: return cf_stats_t(t, c, j0, j1, pivot, DT_BF16);
        default: return cf_stats_t(t, c, j0, j1, pivot, DT_F32);
    }
}

ALWAYS_INLINE float normalize_s(const vkbn__cpu_tensors* t, uint64_t i, float p, float m, float sc, float sh,
                                const int dt, const int has_z, const vkbn_activation act) {
    float v = s_fma((load_s(t->x, i, dt) - p) - m, sc, sh);
    if (has_z) v += load_s(t->z, i, dt);
    return act_s(v, act, t->act_alpha, t->act_beta);
}

ALWAYS_INLINE V normalize_v(const vkbn__cpu_tensors* t, uint64_t i, V p, V m, V sc, V sh, const int dt, const int has_z,
                            const vkbn_activation act) {
    V v = v_fma(v_sub(v_sub(load_v(t->x, i, dt), p), m), sc, sh);
    if (has_z) v = v_add(v, load_v(t->z, i, dt));
    return act_v(v, act, t->act_alpha, t->act_beta);
}

ALWAYS_INLINE void cf_apply_t(const vkbn__cpu_tensors* t, uint64_t i, uint64_t count, const vkbn__cpu_channel* ch,
                              const int dt, const int has_z, const int stream, const vkbn_activation act) {
    const uint64_t end = i + count;
    const uint32_t es = dt ? 2 : 4;
    if (stream) {
        /* Non-temporal stores need aligned addresses: peel the head. */
        while (i < end && ((uintptr_t)(t->y + i * es) % (W * es)) != 0) {
            store_s(t->y, i, normalize_s(t, i, ch->pivot, ch->mean, ch->scale, ch->shift, dt, has_z, act), dt);
            ++i;
        }
    }
    const V p = v_set1(ch->pivot), m = v_set1(ch->mean), sc = v_set1(ch->scale), sh = v_set1(ch->shift);
    for (; i + 4 * W <= end; i += 4 * W) {
        V a = normalize_v(t, i, p, m, sc, sh, dt, has_z, act);
        V b = normalize_v(t, i + W, p, m, sc, sh, dt, has_z, act);
        V c = normalize_v(t, i + 2 * W, p, m, sc, sh, dt, has_z, act);
        V d = normalize_v(t, i + 3 * W, p, m, sc, sh, dt, has_z, act);
        store_v(t->y, i, a, dt, stream);
        store_v(t->y, i + W, b, dt, stream);
        store_v(t->y, i + 2 * W, c, dt, stream);
        store_v(t->y, i + 3 * W, d, dt, stream);
    }
    for (; i + W <= end; i += W) store_v(t->y, i, normalize_v(t, i, p, m, sc, sh, dt, has_z, act), dt, stream);
#if defined(VKBN_SIMD_MASKED)
    /* The same arithmetic as the body, on the first end - i lanes. */
    if (i < end) {
        const unsigned n = (unsigned)(end - i);
        V x = load_vn(t->x, i, n, dt);
        V v = v_fma(v_sub(v_sub(x, p), m), sc, sh);
        if (has_z) v = v_add(v, load_vn(t->z, i, n, dt));
        v = act_v(v, act, t->act_alpha, t->act_beta);
        store_vn(t->y, i, v, n, dt);
    }
#else
    for (; i < end; ++i) {
        store_s(t->y, i, normalize_s(t, i, ch->pivot, ch->mean, ch->scale, ch->shift, dt, has_z, act), dt);
    }
#endif
}

/* Whole rows r0, r0 + step, ... (count of them), each normalized with its
 * channel's parameters chs[row % c]: the per-row loop inside one call, so
 * short rows do not pay a call and a dispatch each. */
ALWAYS_INLINE void cf_apply_rows_t(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t count, uint64_t step,
                                   const vkbn__cpu_channel* chs, const int dt, const int has_z, const int stream,
                                   const vkbn_activation act) {
    const uint64_t s = t->s, c = t->c, step_c = step % c;
    uint64_t ci = r0 % c;
    for (uint64_t k = 0, r = r0; k < count; ++k, r += step) {
        cf_apply_t(t, r * s, s, &chs[ci], dt, has_z, stream, act);
        ci += step_c;
        if (ci >= c) ci -= c;
    }
}

/* ------------------------------------------------------------------------ */
/* Channels-last                                                             */
/* ------------------------------------------------------------------------ */

/* Row statistics: `width` lanes per row (channels-last: the channels;
 * short channels-first rows: the positions of a row), rows `stride` elements
 * apart from element `base`. Each lane gets its own (mean, m2) of x -
 * pivot[lane], chunks of CHUNK rows folded with Chan, blocks of BLOCK_VALUES
 * rows merged outward. */
typedef struct rows_geom {
    const uint8_t* x;
    uint64_t base, stride, width;
} rows_geom;

/* One chunk of k rows starting at row r into the inner arrays (im, iq). */
ALWAYS_INLINE void rows_fold(const rows_geom* g, uint64_t r, const int k, const float* pivot, float* im, float* iq,
                             float w, float nw, const int dt) {
    const uint64_t c = g->width, cv = c / W * W, stride = g->stride;
    const uint64_t first = g->base + r * stride;
    const uint64_t pf =
        c * (dt ? 2 : 4) >= ROWS_PREFETCH_LONG ? ROWS_PREFETCH_LONG / (dt ? 2 : 4) : ROWS_PREFETCH * stride;
    uint64_t j = 0;
    for (; j < cv; j += W) {
        V v[CHUNK];
        v[0] = v_zero(); /* k >= 1 always; this keeps -Wmaybe-uninitialized quiet */
        V p = v_loadu(pivot + j);
        for (int i = 0; i < k; ++i) {
            const uint64_t e = first + (uint64_t)i * stride + j;
            /* The chunk walks its rows column by column, which hardware
             * prefetchers follow poorly: fetch ahead in software (short rows:
             * the same spot rows ahead; long rows: further along the row).
             * Prefetches never fault. */
            VKBN_PREFETCH(g->x + (e + pf) * (dt ? 2 : 4));
            v[i] = v_sub(load_v(g->x, e, dt), p);
        }
        V cm, q, mean = v_loadu(im + j), m2 = v_loadu(iq + j);
        chunk_stats(v, k, &cm, &q);
        chunk_fold(&mean, &m2, cm, q, w, nw);
        v_storeu(im + j, mean);
        v_storeu(iq + j, m2);
    }
#if defined(VKBN_SIMD_MASKED)
    /* The leftover lanes as one masked vector: the same arithmetic as the
     * scalar loop below, per lane (lanes past `width` are never read or
     * written). */
    if (j < c) {
        const unsigned n = (unsigned)(c - j);
        V v[CHUNK];
        v[0] = v_zero();
        V p = v_loadu_n(pivot + j, n);
        for (int i = 0; i < k; ++i) {
            uint64_t e = first + (uint64_t)i * stride + j;
            V x = load_vn(g->x, e, n, dt);
            v[i] = v_sub(x, p);
        }
        V cm, q, mean = v_loadu_n(im + j, n), m2 = v_loadu_n(iq + j, n);
        chunk_stats(v, k, &cm, &q);
        chunk_fold(&mean, &m2, cm, q, w, nw);
        v_storeu_n(im + j, mean, n);
        v_storeu_n(iq + j, m2, n);
        j = c;
    }
#endif
    for (; j < c; ++j) {
        float v[CHUNK], sum = 0.0f, q = 0.0f;
        for (int i = 0; i < k; ++i) {
            v[i] = load_s(g->x, first + (uint64_t)i * stride + j, dt) - pivot[j];
            sum += v[i];
        }
        float cm = sum * (1.0f / (float)k);
        for (int i = 0; i < k; ++i) q = s_fma(v[i] - cm, v[i] - cm, q);
        float d = cm - im[j];
        im[j] = s_fma(d, w, im[j]);
        iq[j] = iq[j] + s_fma(d * d, nw, q);
    }
}

/* Chan merge of (bm, bq) over nb rows into (am, aq) over na rows, for every
 * lane (uniform counts, so one weight). */
static void rows_merge(uint64_t c, float* am, float* aq, double na, const float* bm, const float* bq, double nb) {
    double n = na + nb;
    float w = (float)(nb / n), nw = (float)na * w;
    const V vw = v_set1(w), vnw = v_set1(nw);
    uint64_t j = 0;
    for (; j + W <= c; j += W) {
        V a = v_loadu(am + j), d = v_sub(v_loadu(bm + j), a);
        v_storeu(am + j, v_fma(d, vw, a));
        v_storeu(aq + j, v_add(v_add(v_loadu(aq + j), v_loadu(bq + j)), v_mul(v_mul(d, d), vnw)));
    }
    for (; j < c; ++j) {
        float d = bm[j] - am[j];
        am[j] = s_fma(d, w, am[j]);
        aq[j] = (aq[j] + bq[j]) + (d * d) * nw;
    }
}

/* Statistics of rows [r0, r1) into mean/m2 (width floats each); scratch:
 * 2 * width floats. */
ALWAYS_INLINE void rows_stats_t(const rows_geom* g, uint64_t r0, uint64_t r1, const float* pivot, float* mean,
                                float* m2, float* scratch, const int dt) {
    const uint64_t c = g->width;
    const uint64_t block = BLOCK_VALUES;
    float* im = scratch;
    float* iq = scratch + c;
    double total = 0.0;
    for (uint64_t rb = r0; rb < r1; rb += block) {
        uint64_t re = rb + block < r1 ? rb + block : r1;
        float* bm = total == 0.0 ? mean : im;
        float* bq = total == 0.0 ? m2 : iq;
        memset(bm, 0, c * sizeof *bm);
        memset(bq, 0, c * sizeof *bq);
        float n = 0.0f;
        uint64_t r = rb;
        for (; r + CHUNK <= re; r += CHUNK) {
            float nn = n + (float)CHUNK, w = (float)CHUNK / nn;
            rows_fold(g, r, CHUNK, pivot, bm, bq, w, n * w, dt);
            n = nn;
        }
        if (r < re) {
            int k = (int)(re - r);
            float nn = n + (float)k, w = (float)k / nn;
            rows_fold(g, r, k, pivot, bm, bq, w, n * w, dt);
        }
        if (total != 0.0) rows_merge(c, mean, m2, total, im, iq, (double)(re - rb));
        total += (double)(re - rb);
    }
}

#define ROWS_STATS_DEF(DT)                                                                                      \
    static VKBN_NOINLINE void rows_stats_##DT(const rows_geom* g, uint64_t r0, uint64_t r1, const float* pivot, \
                                              float* mean, float* m2, float* scratch) {                         \
        rows_stats_t(g, r0, r1, pivot, mean, m2, scratch, DT);                                                  \
    }
ROWS_STATS_DEF(DT_F32)
ROWS_STATS_DEF(DT_F16)
ROWS_STATS_DEF(DT_BF16)

/* One loop per storage type, shared by both layouts' callers. */
static void rows_stats(const rows_geom* g, uint64_t r0, uint64_t r1, const float* pivot, float* mean, float* m2,
                       float* scratch, int dtype) {
    switch (dtype) {
        case DT_F16: rows_stats_DT_F16(g, r0, r1, pivot, mean, m2, scratch); return;
        case DT_BF16: rows_stats_DT_BF16(g, r0, r1, pivot, mean, m2, scratch); return;
        default: rows_stats_DT_F32(g, r0, r1, pivot, mean, m2, scratch); return;
    }
}

/* Channels-first, whole channel, short rows (s <= CF_ROWS_MAX_S): lanes are
 * the positions of a row and a chunk is CHUNK samples, as channels-last does
 * with channels; then the positions merge (equal counts) in a fixed order:
 * vector blocks into block 0, its lanes in a tree, leftover positions last. */
static vkbn__cpu_stat cf_stats_rows(const vkbn__cpu_tensors* t, uint64_t c, uint64_t n0, uint64_t n1, float pivot) {
    const uint64_t s = t->s;
    float buf[5 * CF_ROWS_MAX_S];
    float *piv = buf, *mean = buf + s, *m2 = buf + 2 * s, *scratch = buf + 3 * s;
    for (uint64_t j = 0; j < s; ++j) piv[j] = pivot;
    rows_geom g = {t->x, c * s, t->c * s, s};
    rows_stats(&g, n0, n1, piv, mean, m2, scratch, t->dtype);
    const double n = (double)(n1 - n0);
    const uint64_t sv = s / W * W;
    vkbn__cpu_stat r = {0.0, 0.0f, 0.0f};
    if (sv > 0) {
        double acc = n;
        for (uint64_t j = W; j < sv; j += W) {
            rows_merge(W, mean, m2, acc, mean + j, m2 + j, n);
            acc += n;
        }
        r = lanes_tree(mean, m2, acc);
    }
    for (uint64_t j = sv; j < s; ++j) {
        vkbn__cpu_stat e = {n, mean[j], m2[j]};
        r = vkbn__cpu_stat_merge(r, e);
    }
    return r;
}

static void cl_stats(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, float* mean, float* m2,
                     float* scratch) {
    rows_geom g = {t->x, 0, t->c, t->c};
    rows_stats(&g, r0, r1, pivot, mean, m2, scratch, t->dtype);
}

/* Rows in tiles of CL_TILE_ROWS; within a tile, blocks of four channel
 * vectors keep their parameters in registers across the tile's rows, so the
 * loop body is one load of x (and z) and one store per vector. Wide rows get
 * shorter tiles, at most CL_TILE_BYTES of x: the rows of a tile are a row's
 * width apart, and with 2 KiB or wider rows sixteen of them (x and y) map to
 * the same L1 sets, more than its ways (measured on 32x512x28x28 inference:
 * 1.35x faster with 8-row tiles than with 16; docs/ARCHITECTURE.md). */
#define CL_TILE_ROWS 16
#define CL_TILE_BYTES (16u * 1024u)

ALWAYS_INLINE void cl_apply_t(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot,
                              const float* mean, const float* scale, const float* shift, const int dt, const int has_z,
                              const int stream, const vkbn_activation act) {
    const uint64_t c = t->c, cv = c / W * W;
    uint64_t tile = CL_TILE_BYTES / (c * (dt ? 2 : 4));
    tile = tile < 1 ? 1 : tile > CL_TILE_ROWS ? CL_TILE_ROWS : tile;
    for (uint64_t rt = r0; rt < r1; rt += tile) {
        const uint64_t re = rt + tile < r1 ? rt + tile : r1;
        uint64_t j = 0;
        for (; j + 4 * W <= cv; j += 4 * W) {
            const V p0 = v_loadu(pivot + j), p1 = v_loadu(pivot + j + W), p2 = v_loadu(pivot + j + 2 * W),
                    p3 = v_loadu(pivot + j + 3 * W);
            const V m0 = v_loadu(mean + j), m1 = v_loadu(mean + j + W), m2 = v_loadu(mean + j + 2 * W),
                    m3 = v_loadu(mean + j + 3 * W);
            const V s0 = v_loadu(scale + j), s1 = v_loadu(scale + j + W), s2 = v_loadu(scale + j + 2 * W),
                    s3 = v_loadu(scale + j + 3 * W);
            const V h0 = v_loadu(shift + j), h1 = v_loadu(shift + j + W), h2 = v_loadu(shift + j + 2 * W),
                    h3 = v_loadu(shift + j + 3 * W);
            for (uint64_t r = rt; r < re; ++r) {
                const uint64_t i = r * c + j;
                /* The same block of the next tile: the tile walk is not a
                 * pattern hardware prefetchers follow well. */
                if (r + tile < r1) {
                    const uint8_t* ahead = t->x + (i + tile * c) * (dt ? 2 : 4);
                    for (uint64_t b = 0; b < 4 * W * (dt ? 2u : 4u); b += 64) VKBN_PREFETCH(ahead + b);
                }
                V a = normalize_v(t, i, p0, m0, s0, h0, dt, has_z, act);
                V b = normalize_v(t, i + W, p1, m1, s1, h1, dt, has_z, act);
                V d = normalize_v(t, i + 2 * W, p2, m2, s2, h2, dt, has_z, act);
                V e = normalize_v(t, i + 3 * W, p3, m3, s3, h3, dt, has_z, act);
                store_v(t->y, i, a, dt, stream);
                store_v(t->y, i + W, b, dt, stream);
                store_v(t->y, i + 2 * W, d, dt, stream);
                store_v(t->y, i + 3 * W, e, dt, stream);
            }
        }
        for (; j < cv; j += W) {
            const V p = v_loadu(pivot + j), m = v_loadu(mean + j), sc = v_loadu(scale + j), sh = v_loadu(shift + j);
            for (uint64_t r = rt; r < re; ++r) {
                store_v(t->y, r * c + j, normalize_v(t, r * c + j, p, m, sc, sh, dt, has_z, act), dt, stream);
            }
        }
        for (; j < c; ++j) {
            for (uint64_t r = rt; r < re; ++r) {
                store_s(t->y, r * c + j,
                        normalize_s(t, r * c + j, pivot[j], mean[j], scale[j], shift[j], dt, has_z, act), dt);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Instantiation for every (dtype, residual, streaming, activation)          */
/* ------------------------------------------------------------------------ */

/* One scheme for every kernel entry, forward and backward:
 * - VKBN_CPU_DEFINE(DEF) expands DEF(DT, Z, NT, ACT) at file scope for every
 *   combination, each argument a constant; DEF defines that combination's
 *   function (VKBN_CPU_FN names it), VKBN_NOINLINE with the loop inlined into
 *   it, so every combination gets its own loop;
 * - VKBN_CPU_INSTANTIATE(CALL, act) calls CALL(DT, Z, NT, ACT) for the
 *   caller's combination: the activation by a switch over
 *   VKBN_CPU_ACTIVATIONS, each flag by a branch on the caller's dt, has_z
 *   and stream. An entry that does not vary a flag makes it an enum constant
 *   0 (its branch folds away, even unoptimized), defines its functions over
 *   the flags it varies only, and its CALL ignores the others.
 * Why a function per combination rather than all of them inlined into the
 * entry: the same code, but the optimizer's time grows faster than linearly
 * with a function's size, and one entry held up to 40 loops (165 KB of
 * machine code): cpu_kernels_sse2.c took 43 s at -O3 and 56 s under the
 * sanitizer lane's flags that way, 24 s and 42 s split (each compiled alone
 * with /usr/bin/time). The cost is one call per range a worker takes. */
#define VKBN_CPU_FN(NAME, DT, Z, NT, ACT) NAME##_##DT##Z##NT##_##ACT
#define VKBN_CPU_DEFINE_ZNT(DEF, DT, ACT) DEF(DT, 0, 0, ACT) DEF(DT, 0, 1, ACT) DEF(DT, 1, 0, ACT) DEF(DT, 1, 1, ACT)
#if defined(VKBN_SIMD_BF16_NATIVE)
#define VKBN_CPU_DEFINE_BF16N(DEF, ACT) VKBN_CPU_DEFINE_ZNT(DEF, 3, ACT)
#define VKBN_CPU_DEFINE_DTYPE_BF16N(DEF, ACT) DEF(3, 0, 0, ACT)
#else
#define VKBN_CPU_DEFINE_BF16N(DEF, ACT)
#define VKBN_CPU_DEFINE_DTYPE_BF16N(DEF, ACT)
#endif
#define VKBN_CPU_DEFINE_FLAGS(DEF, ACT) \
    VKBN_CPU_DEFINE_ZNT(DEF, 0, ACT)    \
    VKBN_CPU_DEFINE_ZNT(DEF, 1, ACT) VKBN_CPU_DEFINE_ZNT(DEF, 2, ACT) VKBN_CPU_DEFINE_BF16N(DEF, ACT)
#define VKBN_CPU_DEFINE(DEF) VKBN_CPU_ACTIVATIONS(VKBN_CPU_DEFINE_FLAGS, DEF)
/* Entries that vary the dtype and the activation only (Z = NT = 0). */
#define VKBN_CPU_DEFINE_DTYPE(DEF, ACT) \
    DEF(0, 0, 0, ACT) DEF(1, 0, 0, ACT) DEF(2, 0, 0, ACT) VKBN_CPU_DEFINE_DTYPE_BF16N(DEF, ACT)
#define VKBN_CPU_DEFINE_BY_DTYPE(DEF) VKBN_CPU_ACTIVATIONS(VKBN_CPU_DEFINE_DTYPE, DEF)
#define VKBN_CPU_ZNT(CALL, DT, ACT)  \
    do {                             \
        if (has_z) {                 \
            if (stream)              \
                CALL(DT, 1, 1, ACT); \
            else                     \
                CALL(DT, 1, 0, ACT); \
        } else {                     \
            if (stream)              \
                CALL(DT, 0, 1, ACT); \
            else                     \
                CALL(DT, 0, 0, ACT); \
        }                            \
    } while (0)
#if defined(VKBN_SIMD_BF16_NATIVE)
#define VKBN_CPU_FLAGS_BF16N(CALL, ACT) \
    if (dt == DT_BF16N)                 \
        VKBN_CPU_ZNT(CALL, 3, ACT);     \
    else
#else
#define VKBN_CPU_FLAGS_BF16N(CALL, ACT)
#endif
#define VKBN_CPU_FLAGS(CALL, ACT)       \
    do {                                \
        VKBN_CPU_FLAGS_BF16N(CALL, ACT) \
        if (dt == DT_BF16)              \
            VKBN_CPU_ZNT(CALL, 2, ACT); \
        else if (dt == DT_F16)          \
            VKBN_CPU_ZNT(CALL, 1, ACT); \
        else                            \
            VKBN_CPU_ZNT(CALL, 0, ACT); \
    } while (0)
/* The dt an entry instantiates for: bf16 with the ISA's conversion where
 * the tensors allow it (T: a vkbn__cpu_tensors or _bwd_tensors pointer). */
#if defined(VKBN_SIMD_BF16_NATIVE)
#define KERNEL_DT(T) ((T)->dtype == DT_BF16 && (T)->bf16_native ? DT_BF16N : (T)->dtype)
#else
#define KERNEL_DT(T) ((T)->dtype)
#endif
#define VKBN_CPU_ACT_CASE(CALL, ACT) \
    case ACT:                        \
        VKBN_CPU_FLAGS(CALL, ACT);   \
        break;
#define VKBN_CPU_INSTANTIATE(CALL, act)               \
    switch (act) {                                    \
        VKBN_CPU_ACTIVATIONS(VKBN_CPU_ACT_CASE, CALL) \
        default: break;                               \
    }

#define CF_DEF(DT, Z, NT, ACT)                                                                                     \
    static VKBN_NOINLINE void VKBN_CPU_FN(cf_apply, DT, Z, NT, ACT)(const vkbn__cpu_tensors* t, uint64_t offset,   \
                                                                    uint64_t count, const vkbn__cpu_channel* ch) { \
        cf_apply_t(t, offset, count, ch, DT, Z, NT, ACT);                                                          \
    }
#define CF_ROWS_DEF(DT, Z, NT, ACT)                                                                             \
    static VKBN_NOINLINE void VKBN_CPU_FN(cf_apply_rows, DT, Z, NT, ACT)(                                       \
        const vkbn__cpu_tensors* t, uint64_t r0, uint64_t count, uint64_t step, const vkbn__cpu_channel* chs) { \
        cf_apply_rows_t(t, r0, count, step, chs, DT, Z, NT, ACT);                                               \
    }
#define CL_DEF(DT, Z, NT, ACT)                                                                       \
    static VKBN_NOINLINE void VKBN_CPU_FN(cl_apply, DT, Z, NT, ACT)(                                 \
        const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, const float* mean, \
        const float* scale, const float* shift) {                                                    \
        cl_apply_t(t, r0, r1, pivot, mean, scale, shift, DT, Z, NT, ACT);                            \
    }
VKBN_CPU_DEFINE(CF_DEF)
VKBN_CPU_DEFINE(CF_ROWS_DEF)
VKBN_CPU_DEFINE(CL_DEF)

#define CF_CALL(DT, Z, NT, ACT) VKBN_CPU_FN(cf_apply, DT, Z, NT, ACT)(t, offset, count, ch)
#define CF_ROWS_CALL(DT, Z, NT, ACT) VKBN_CPU_FN(cf_apply_rows, DT, Z, NT, ACT)(t, r0, count, step, chs)
#define CL_CALL(DT, Z, NT, ACT) VKBN_CPU_FN(cl_apply, DT, Z, NT, ACT)(t, r0, r1, pivot, mean, scale, shift)

static void cf_apply_y(const vkbn__cpu_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_channel* ch) {
    const int dt = KERNEL_DT(t), has_z = t->z != NULL, stream = t->stream && !t->mask;
    VKBN_CPU_INSTANTIATE(CF_CALL, t->activation)
}

static void cf_apply_rows_y(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t count, uint64_t step,
                            const vkbn__cpu_channel* chs) {
    const int dt = KERNEL_DT(t), has_z = t->z != NULL, stream = t->stream && !t->mask;
    VKBN_CPU_INSTANTIATE(CF_ROWS_CALL, t->activation)
}

static void cl_apply_y(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, const float* mean,
                       const float* scale, const float* shift) {
    const int dt = KERNEL_DT(t), has_z = t->z != NULL;
    /* Streaming needs every row's vectors aligned. */
    const uint64_t es = dt ? 2 : 4;
    const int stream = t->stream && !t->mask && ((uintptr_t)t->y % (W * es)) == 0 && (t->c * es) % (W * es) == 0;
    VKBN_CPU_INSTANTIATE(CL_CALL, t->activation)
}

/* The entries: y alone, or y then its mask bits chunk by chunk ("The
 * activation mask" above). */
static void cf_apply(const vkbn__cpu_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_channel* ch) {
    if (!t->mask) {
        cf_apply_y(t, offset, count, ch);
        return;
    }
    for (uint64_t e = offset, end = offset + count; e < end;) {
        uint64_t stop = (e / MASK_CHUNK + 1) * MASK_CHUNK;
        if (stop > end) stop = end;
        cf_apply_y(t, e, stop - e, ch);
        mask_write(t, e, stop);
        e = stop;
    }
}

static void cf_apply_rows(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t count, uint64_t step,
                          const vkbn__cpu_channel* chs) {
    if (!t->mask) {
        cf_apply_rows_y(t, r0, count, step, chs);
        return;
    }
    const uint64_t s = t->s;
    if (s >= MASK_CHUNK) {
        const uint64_t step_c = step % t->c;
        uint64_t ci = r0 % t->c;
        for (uint64_t k = 0, r = r0; k < count; ++k, r += step) {
            cf_apply(t, r * s, s, &chs[ci]);
            ci += step_c;
            if (ci >= t->c) ci -= t->c;
        }
        return;
    }
    /* Groups of short rows, then their bits: one run when the rows are
     * consecutive (step 1), else a run per row. */
    const uint64_t group = MASK_CHUNK / s;
    for (uint64_t k = 0; k < count; k += group) {
        const uint64_t g = count - k < group ? count - k : group, r = r0 + k * step;
        cf_apply_rows_y(t, r, g, step, chs);
        if (step == 1) {
            mask_write(t, r * s, (r + g) * s);
        } else {
            for (uint64_t q = 0; q < g; ++q) mask_write(t, (r + q * step) * s, (r + q * step) * s + s);
        }
    }
}

static void cl_apply(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, const float* mean,
                     const float* scale, const float* shift) {
    if (!t->mask) {
        cl_apply_y(t, r0, r1, pivot, mean, scale, shift);
        return;
    }
    const uint64_t c = t->c, group = c >= MASK_CHUNK ? 1 : MASK_CHUNK / c;
    for (uint64_t r = r0; r < r1; r += group) {
        const uint64_t re = r1 - r < group ? r1 : r + group;
        cl_apply_y(t, r, re, pivot, mean, scale, shift);
        mask_write(t, r * c, re * c);
    }
}

/* ------------------------------------------------------------------------ */
/* Copy                                                                      */
/* ------------------------------------------------------------------------ */

static void copy(void* dst, const void* src, uint64_t bytes, int stream) {
    if (!stream) {
        memcpy(dst, src, (size_t)bytes);
        return;
    }
    uint8_t* d = dst;
    const uint8_t* s = src;
    uint64_t i = 0;
    while (i < bytes && ((uintptr_t)(d + i) % (W * 4)) != 0) {
        memcpy(d + i, s + i, 4);
        i += 4;
    }
    for (; i + 4 * W * 4 <= bytes; i += 4 * W * 4) {
        V a = v_loadu((const float*)(s + i)), b = v_loadu((const float*)(s + i) + W);
        V c = v_loadu((const float*)(s + i) + 2 * W), e = v_loadu((const float*)(s + i) + 3 * W);
        v_stream((float*)(d + i), a);
        v_stream((float*)(d + i) + W, b);
        v_stream((float*)(d + i) + 2 * W, c);
        v_stream((float*)(d + i) + 3 * W, e);
    }
    if (i < bytes) memcpy(d + i, s + i, (size_t)(bytes - i));
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */
/* ------------------------------------------------------------------------ */

#include "cpu_backward_impl.h"

const vkbn__cpu_kernels VKBN_SIMD_SYMBOL = {
    .name = VKBN_SIMD_NAME,
    .lanes = W,
#if defined(VKBN_SIMD_BF16_NATIVE)
    .bf16_native = 1,
#endif
    .cf_stats = cf_stats,
    .cf_apply = cf_apply,
    .cf_apply_rows = cf_apply_rows,
    .cl_stats = cl_stats,
    .cl_apply = cl_apply,
    .cf_bwd_sums = cf_bwd_sums,
    .cf_bwd_apply = cf_bwd_apply,
    .cl_bwd_sums = cl_bwd_sums,
    .cl_bwd_apply = cl_bwd_apply,
    .copy = copy,
};
