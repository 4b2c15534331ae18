/* The CPU path's one pass executor, in three files:
 * - cpu_plan.c: the entry (core/backend.h's plan_build, plan_execute,
 *   plan_destroy), which hands a pass list to the side that runs it, and
 *   what both sides share: how a tensor is seen (geometry), how work is cut
 *   into parts and threads;
 * - cpu_plan_stats.c, the statistics side: REDUCE_STATS (finalized, or
 *   exported raw), NORMALIZE (from PREVIOUS, RUNNING or HOST) and COPY;
 * - cpu_plan_grads.c, the gradient side: REDUCE_GRADS (SAVED or RUNNING)
 *   and APPLY_GRADS (from PREVIOUS, RUNNING or HOST).
 * A side reads the pass list and the op's buffers, never which public call
 * made them. */
#ifndef VKBN_CPU_PLAN_H_
#define VKBN_CPU_PLAN_H_

#include <stddef.h>

#include "cpu_internal.h"

/* How both sides see a tensor: channels-first (n, c, s) or channels-last
 * (rows of c lanes). Layouts that coincide (S = 1, C = 1) take the other
 * layout's plans; short channels-first rows run as channels-last with one
 * lane per (channel, position), lanes_per_channel = S (cpu_plan.c). */
typedef struct vkbn__cpu_geometry {
    bool channels_last;
    uint64_t n, c, s;
    uint64_t rows;              /* channels-last: rows of c lanes */
    uint64_t lanes_per_channel; /* 1, or S for short channels-first rows */
} vkbn__cpu_geometry;
vkbn__cpu_geometry vkbn__cpu_geometry_of(const vkbn__op* op, uint32_t threads);

/* Parts per channel of a channels-first reduction: 1 (fused, whole channels
 * per thread) or P (split). */
uint32_t vkbn__cpu_channels_first_parts(const vkbn__op* op, uint32_t threads);

/* Parts of a channels-last reduction's rows: one per thread, unless
 * reduction_split says otherwise; at most one per row. */
static inline uint32_t vkbn__cpu_rows_parts(const vkbn__op* op, uint32_t threads, uint64_t rows) {
    uint64_t parts = op->reduction_split ? op->reduction_split : threads;
    return (uint32_t)(parts > rows ? rows : parts);
}

/* [begin of part i, begin of part i + 1) when `total` is cut into `parts`
 * near-equal pieces. */
static inline uint64_t vkbn__cpu_part_begin(uint64_t total, uint64_t parts, uint64_t i) {
    uint64_t q = total / parts, r = total % parts;
    return q * i + (i < r ? i : r);
}

/* What a plan's description says of its storage type ("" for f32). */
static inline const char* vkbn__cpu_dtype_note(int dtype) {
    return dtype == VKBN_DTYPE_BF16 ? " (bf16)" : dtype == VKBN_DTYPE_F16 ? " (f16)" : "";
}

static inline float* vkbn__cpu_f32(vkbn_buffer b) { return b ? (float*)vkbn__cpu_ptr(b) : NULL; }

/* Array i of a VKBN__SOURCE_HOST pass's buffer (core/passes.h), for an op
 * of c channels. */
static inline const float* vkbn__cpu_host_array(const vkbn__pass* pass, uint64_t c, uint32_t i) {
    return (const float*)vkbn__cpu_ptr(pass->host_params) + (size_t)i * vkbn__host_params_c_pad((uint32_t)c);
}

/* count zeroed elements of `size` bytes (NULL for none), or NULL and *r set
 * to the failure; does nothing once *r is a failure. */
void* vkbn__cpu_alloc(uint64_t count, size_t size, vkbn_result* r);

/* The two sides. build plans `plan`'s pass list (*out set even on failure,
 * for destroy) and writes a short description into `what`; run is one run
 * (the caller holds the context's execution lock). */
struct vkbn__cpu_stats_plan;
vkbn_result vkbn__cpu_stats_build(vkbn_plan plan, struct vkbn__cpu_stats_plan** out, char* what, size_t what_size);
void vkbn__cpu_stats_run(vkbn_plan plan, struct vkbn__cpu_stats_plan* p);
void vkbn__cpu_stats_destroy(struct vkbn__cpu_stats_plan* p);

struct vkbn__cpu_grads_plan;
vkbn_result vkbn__cpu_grads_build(vkbn_plan plan, struct vkbn__cpu_grads_plan** out, char* what, size_t what_size);
void vkbn__cpu_grads_run(vkbn_plan plan, struct vkbn__cpu_grads_plan* p);
void vkbn__cpu_grads_destroy(struct vkbn__cpu_grads_plan* p);

#endif
