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
    int f16;          /* storage type of x, y, z */
    vkbn_activation activation;
    float act_alpha, act_beta; /* the activation's parameters */
    int stream;       /* non-temporal stores for y */
    uint64_t n, c, s; /* shape: channels-first (n, c, s) or channels-last (n * s rows, c) */
} vkbn__cpu_tensors;

typedef struct vkbn__cpu_kernels {
    const char* name; /* "avx512", "avx2", "sse2", "neon", "scalar" */
    uint32_t lanes;   /* floats per vector */

    /* Channels-first: statistics of elements [j0, j1) of channel c, where
     * element j of a channel is sample j / s, position j % s. */
    vkbn__cpu_stat (*cf_stats)(const vkbn__cpu_tensors* t, uint64_t c, uint64_t j0, uint64_t j1, float pivot);
    /* Channels-first: normalize `count` contiguous elements starting at
     * element `offset` of the tensors (all in one channel). */
    void (*cf_apply)(const vkbn__cpu_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_channel* ch);

    /* Channels-last: statistics of rows [r0, r1) for every channel: mean[c]
     * and m2[c] of x - pivot[c], each over r1 - r0 values. scratch: 2 * c
     * floats. */
    void (*cl_stats)(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, float* mean,
                     float* m2, float* scratch);
    /* Channels-last: normalize rows [r0, r1); params are c-float arrays. */
    void (*cl_apply)(const vkbn__cpu_tensors* t, uint64_t r0, uint64_t r1, const float* pivot, const float* mean,
                     const float* scale, const float* shift);

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
#if defined(__aarch64__)
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

#endif
