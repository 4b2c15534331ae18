/* The shapes the forward and backward matrices run (every layout, dtype
 * and mode over each): odd sizes first, then ordinary ones. */
#ifndef VKBN_TESTS_MATRIX_SHAPES_H_
#define VKBN_TESTS_MATRIX_SHAPES_H_

#include <stdint.h>

/* The matrices' dtype d (0: f32, 1: a 16-bit type), the 16-bit type taking
 * turns between f16 and bf16 with `turn` (a shape's index plus its layout),
 * so that each runs over half of the shapes in each layout at the cost of
 * one 16-bit type: the dtype-independent work (the kernels' indexing, the
 * plans) does not differ between the two, only the loads and stores do. */
static inline int matrix_dtype(int d, unsigned turn) { return d == 0 ? 0 : turn % 2 ? 2 : 1; }

typedef struct shape {
    uint32_t n, c, rank;
    uint32_t spatial[3];
} shape;

static const shape matrix_shapes[] = {
    {2, 1, 0, {0}},       /* (N, C) only: S = 1 */
    {1, 5, 1, {7}},       /* N = 1 */
    {3, 13, 2, {7, 5}},   /* primes: scalar kernels in both layouts */
    {2, 8, 2, {4, 4}},    /* vec4 kernels in both layouts */
    {5, 3, 3, {2, 3, 5}}, /* 3 spatial dims */
    {4, 16, 1, {31}},     /* scalar channels-first, vec4 channels-last */
    {1, 64, 2, {8, 8}},   /* many channels */
    {7, 1, 1, {1000}},    /* C = 1, long channel */
    {2, 12, 2, {6, 2}},   /* vec4, C not a power of two */
    {8, 32, 2, {32, 32}}, /* 262144 elements */
    {33, 7, 1, {129}},    /* m not a multiple of any workgroup size */
    {37, 6, 1, {3}},      /* short rows, many samples (CPU: lanes per position) */
    {3, 4096, 1, {3}},    /* channels-last rows of several workgroups (f32 and f16) */
};

#endif
