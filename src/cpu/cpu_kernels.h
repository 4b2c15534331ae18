/* The interface between the CPU planner and the kernels: one table of
 * function pointers per instruction set, all built from one template
 * (cpu_kernels_impl.h) over a per-ISA header of vector primitives.
 *
 * Statistics are of x - pivot (the channel's first element), in (count, mean,
 * M2) form, folded chunk by chunk with Chan's formula and merged in a fixed
 * order (docs/ARCHITECTURE.md, "CPU path"). */
#ifndef VKBN_CPU_KERNELS_H_
#define VKBN_CPU_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

/* Statistics of some values of one channel, shifted by the channel's pivot. */
typedef struct vkbn__cpu_stat {
    double n;
    float mean; /* of x - pivot */
    float m2;   /* sum of squared deviations from the mean */
} vkbn__cpu_stat;

/* What normalize needs per channel: y = ((x - pivot) - mean) * scale + shift.
 * Inference: pivot = running mean, mean = 0. */
typedef struct vkbn__cpu_channel {
    float pivot;
    float mean;
    float scale;
    float shift;
} vkbn__cpu_channel;

/* The tensors of one operation and how to write them. */
typedef struct vkbn__cpu_tensors {
    const uint8_t* x;
    uint8_t* y;
    const uint8_t* z; /* residual, or NULL */
    int dtype;        /* storage type of x, y, z: a vkbn_dtype */
    vkbn_activation activation;
    float act_alpha, act_beta; /* the activation's parameters */
    int stream;                /* non-temporal stores for y (never with a mask: its bits are read back from y) */
    int bf16_native;           /* bf16 y narrowed by the ISA's conversion instruction (vkbn__cpu_kernels.bf16_native) */
    uint64_t n, c, s;          /* shape: channels-first (n, c, s) or channels-last (n * s rows, c) */
    /* The activation mask to write beside y, or NULL (RELU, LEAKY_RELU,
     * CLAMP only): bit e of word e / 32 for element e, the backward's test
     * of the stored y (cpu_kernels_impl.h, "The activation mask"). */
    uint32_t* mask;
} vkbn__cpu_tensors;

/* Backward: the tensors of one operation (SEMANTICS.md "Backward"). act is
 * y (RELU, LEAKY_RELU, CLAMP: act' from y), the residual (SILU: u
 * recomputed from x and the coefficients, plus the residual), or NULL.
 * With the activation mask instead of y, act is NULL and mask set: the
 * kernels read each element's bit as a y of 1 or 0, and the planner makes a
 * CLAMP a RELU (bit ? dy : 0 either way). */
typedef struct vkbn__cpu_bwd_tensors {
    const uint8_t* x;
    const uint8_t* dy;
    const uint8_t* act;
    uint8_t* dx;     /* may be dy (in place) */
    uint8_t* dz;     /* dresidual = g, or NULL */
    int dtype;       /* a vkbn_dtype */
    int frozen;      /* dx = k1 g (frozen statistics) rather than the training formula */
    int stream;      /* non-temporal stores for dx (kernels: where the vector stores are aligned) */
    int stream_dz;   /* ... and for dz */
    int bf16_native; /* bf16 dx and dz narrowed by the ISA's conversion instruction, as the forward's */
    vkbn_activation activation;
    float act_alpha, act_beta;
    uint64_t n, c, s;
    const uint32_t* mask; /* the activation mask in place of y, or NULL */
} vkbn__cpu_bwd_tensors;

/* One channel's backward coefficients (shaders/bwd_common.glsl's Coef, with
 * the training dx folded into an affine map of g and d):
 * d = x - mean; g = dy act'(u) with u = d k1 + shift [+ residual];
 * training dx = k1 ((g - mg) - (d invstd) e) = k1 g + db d + dc, with
 * db = -(k1 invstd) e and dc = -(k1 mg) (mg = sum g / m, e = dweight / m);
 * frozen dx = k1 g. */
typedef struct vkbn__cpu_bwd_coef {
    float mean, invstd, k1, shift, db, dc;
} vkbn__cpu_bwd_coef;

/* The backward coefficient arrays of channels-last: BWD_COEFS arrays of c
 * floats each, in this order. */
enum { VKBN__BWD_MEAN, VKBN__BWD_INVSTD, VKBN__BWD_K1, VKBN__BWD_SHIFT, VKBN__BWD_DB, VKBN__BWD_DC, VKBN__BWD_COEFS };

/* Compensated sums of g and g d (shaders/bwd_sum.glsl): each a float sum
 * and its accumulated rounding error. */
typedef struct vkbn__cpu_csum {
    float sg, cg;   /* sum g */
    float sgd, cgd; /* sum g d */
} vkbn__cpu_csum;

/* What a backward kernel writes besides the sums. */
enum { VKBN__BWD_WRITE_DX = 1, VKBN__BWD_WRITE_DZ = 2 };

typedef struct vkbn__cpu_kernels {
    const char* name; /* "avx512", "avx2", "sse2", "neon", "scalar" */
    uint32_t lanes;   /* floats per vector */
    /* 1: the kernels can narrow bf16 stores with the ISA's own conversion
     * (AVX-512 BF16's vcvtneps2bf16) where a tensors' bf16_native says the
     * CPU has it; same bits as the integer rounding (cpu_simd_avx512.h). */
    uint32_t bf16_native;

    /* Channels-first: statistics of elements [j0, j1) of channel c, where
     * element j of a channel is sample j / s, position j % s. */
    vkbn__cpu_stat (*cf_stats)(const vkbn__cpu_tensors* t, uint64_t c, uint64_t j0, uint64_t j1, float pivot);
    /* Channels-first: normalize `count` contiguous elements starting at
     * element `offset` of the tensors (all in one channel). */
    void (*cf_apply)(const vkbn__cpu_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_channel* ch);
    /* Channels-first: normalize whole rows r0, r0 + step, ... (count rows;
     * row r is sample r / c, channel r % c) with chs[r % c]. */
    void (*cf_apply_rows)(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t count, uint64_t step,
                          const vkbn__cpu_channel* chs);

    /* Channels-last: statistics of rows [r0, r1) for every channel: mean[c]
     * and m2[c] of x - pivot[c], each over r1 - r0 values. scratch: 2 * c
     * floats. */
    void (*cl_stats)(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, float* mean, float* m2,
                     float* scratch);
    /* Channels-last: normalize rows [r0, r1); params are c-float arrays. */
    void (*cl_apply)(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, const float* mean,
                     const float* scale, const float* shift);

    /* Backward, channels-first: the sums of elements [j0, j1) of channel c
     * (element j: sample j / s, position j % s), writing on the way what
     * `writes` asks (dz; dx only with frozen statistics, where it does not
     * depend on the sums). */
    vkbn__cpu_csum (*cf_bwd_sums)(const vkbn__cpu_bwd_tensors* t, uint64_t c, uint64_t j0, uint64_t j1,
                                  const vkbn__cpu_bwd_coef* k, unsigned writes);
    /* Backward, channels-first: dx and/or dz of `count` contiguous elements
     * from element `offset` (all in one channel). */
    void (*cf_bwd_apply)(const vkbn__cpu_bwd_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_bwd_coef* k,
                         unsigned writes);
    /* Backward, channels-last: the sums of rows [r0, r1) for channels
     * [c0, c1) (all: 0, c; a channel block: c0 a multiple of the lanes, and
     * c1 too unless it is c) into sums (10 arrays of c floats: the result
     * sg | cg | sgd | cgd, then 6 of scratch; channels [c0, c1) of each
     * overwritten); coef: the VKBN__BWD_COEFS arrays (db and dc unused). A
     * channel's sums do not depend on the window. */
    void (*cl_bwd_sums)(const vkbn__cpu_bwd_tensors* t, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1,
                        const float* coef, float* sums, unsigned writes);
    /* Backward, channels-last: dx and/or dz of rows [r0, r1), channels
     * [c0, c1) (windows as cl_bwd_sums'). */
    void (*cl_bwd_apply)(const vkbn__cpu_bwd_tensors* t, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1,
                         const float* coef, unsigned writes);

    /* dst = src, `bytes` bytes (a multiple of 4), non-temporal stores if
     * `stream`. */
    void (*copy)(void* dst, const void* src, uint64_t bytes, int stream);
} vkbn__cpu_kernels;

/* One table per instruction set compiled into this build (NULL-free on the
 * architectures that have them; see cpu_isa.c). */
extern const vkbn__cpu_kernels vkbn__cpu_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vkbn__cpu_kernels vkbn__cpu_kernels_sse2;
extern const vkbn__cpu_kernels vkbn__cpu_kernels_avx2;
extern const vkbn__cpu_kernels vkbn__cpu_kernels_avx512;
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
extern const vkbn__cpu_kernels vkbn__cpu_kernels_neon;
#endif

/* Chan's merge of two statistics of the same pivot (a first, then b). */
static inline vkbn__cpu_stat vkbn__cpu_stat_merge(vkbn__cpu_stat a, vkbn__cpu_stat b) {
    if (b.n == 0) return a;
    if (a.n == 0) return b;
    double n = a.n + b.n;
    float wb = (float)(b.n / n);
    float d = b.mean - a.mean;
    vkbn__cpu_stat r;
    r.n = n;
    r.mean = a.mean + d * wb;
    r.m2 = a.m2 + b.m2 + d * d * ((float)a.n * wb);
    return r;
}

/* TwoSum (Knuth): s + v as the rounded sum plus its exact error, which
 * joins the compensation c. The build keeps fp-contract off and has no
 * fast-math, so the error term survives. */
static inline void vkbn__csum_add(float* s, float* c, float v) {
    float t = *s + v;
    float z = t - *s;
    float e = (*s - (t - z)) + (v - z);
    *s = t;
    *c += e;
}

/* Merges b into a (a first): TwoSum on the sums, a plain add of the errors. */
static inline vkbn__cpu_csum vkbn__cpu_csum_merge(vkbn__cpu_csum a, vkbn__cpu_csum b) {
    vkbn__csum_add(&a.sg, &a.cg, b.sg);
    a.cg += b.cg;
    vkbn__csum_add(&a.sgd, &a.cgd, b.sgd);
    a.cgd += b.cgd;
    return a;
}

#endif
