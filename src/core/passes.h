/* What a plan computes, said once for every backend: a validated op (its
 * tensors, vectors and scalars) lowered into a short list of passes
 * (lower.c). A backend's planner reads the pass list and the op's buffers;
 * it never learns which public call made them, so a new call that reuses
 * these passes needs no backend change, and a new backend implements five
 * pass kinds rather than every public operation.
 *
 * The lists vkbn makes today (docs/ARCHITECTURE.md, "From a call to a kernel"):
 *   forward training          [REDUCE_STATS, NORMALIZE(from PREVIOUS)]
 *   forward inference         [NORMALIZE(from RUNNING)]
 *   slice statistics (sync)   [REDUCE_STATS(export)]
 *   slice normalize (sync)    [NORMALIZE(from HOST)]
 *   backward training         [REDUCE_GRADS(SAVED), APPLY_GRADS(from PREVIOUS)]
 *                             or [REDUCE_GRADS(SAVED)] without dx
 *   backward frozen           [APPLY_GRADS(from RUNNING)], or
 *                             [REDUCE_GRADS(RUNNING)] when dweight / dbias are wanted
 *                             (it writes dx and dz on the way: they do not
 *                             depend on the sums)
 *   slice gradient sums (sync)[REDUCE_GRADS(SAVED)] into dweight / dbias only
 *   slice backward (sync)     [APPLY_GRADS(from HOST)]
 *   copy                      [COPY]
 * A backend may fuse a reduction with the pass after it when the reduction's
 * results stay on chip (one workgroup or thread owns a channel); the results
 * are then those of the unfused list. */
#ifndef VKBN_PASSES_H_
#define VKBN_PASSES_H_

#include <stdbool.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

typedef enum vkbn__pass_kind {
    /* Per channel over N x S: the mean and M2 of x (pivot-shifted, Chan
     * merges in a fixed order). Finalizes into save_mean, save_invstd and
     * the running statistics (op's vectors that are set), or exports the
     * raw statistics (export_stats). */
    VKBN__PASS_REDUCE_STATS,
    /* Per element: y = act(x * scale + shift [+ z]), scale and shift per
     * channel from `source`. */
    VKBN__PASS_NORMALIZE,
    /* Per channel over N x S: sum g and sum g * xhat, g = dy * act'(.),
     * xhat from the statistics `source` names; writes dweight = sum g xhat
     * and dbias = sum g where the op has them, and dz = g. With RUNNING
     * statistics (frozen) dx is written too. */
    VKBN__PASS_REDUCE_GRADS,
    /* Per element: dx (and dz) from per-channel coefficients of `source`. */
    VKBN__PASS_APPLY_GRADS,
    /* op.copy_bytes from x to y. */
    VKBN__PASS_COPY
} vkbn__pass_kind;

/* Where a pass's per-channel inputs come from. */
typedef enum vkbn__source {
    VKBN__SOURCE_NONE,     /* REDUCE_STATS, COPY */
    VKBN__SOURCE_PREVIOUS, /* what the reduction before it in this plan computed */
    VKBN__SOURCE_SAVED,    /* save_mean / save_invstd of the forward pass (training backward) */
    VKBN__SOURCE_RUNNING,  /* running_mean / running_var (inference, frozen backward) */
    VKBN__SOURCE_HOST      /* arrays the host computed: pass.host_params (synchronized steps) */
} vkbn__source;

/* The host arrays of a VKBN__SOURCE_HOST pass, each c_pad = align4(c)
 * floats apart in one buffer (vkbn__host_params_c_pad), in this order:
 * - NORMALIZE: pivot | mean - pivot | scale | shift, so that
 *   y = act(((x - pivot) - (mean - pivot)) * scale + shift [+ z]);
 * - APPLY_GRADS: mean | invstd | k1 | shift | mg | e, so that with
 *   d = x - mean and g = dy * act'(u) (SiLU: u = d * k1 + shift [+ z]):
 *   dx = k1 * ((g - mg) - d * invstd * e), dz = g. */
#define VKBN__NORMALIZE_HOST_ARRAYS 4u
#define VKBN__APPLY_GRADS_HOST_ARRAYS 6u
static inline uint32_t vkbn__host_params_c_pad(uint32_t c) { return (c + 3u) & ~3u; }

/* An exported REDUCE_STATS writes pivot | mean - pivot | M2, three arrays of
 * c floats (vkbn_batch_stats_decode reads them), and nothing else. */
#define VKBN__EXPORT_STATS_ARRAYS 3u

typedef struct vkbn__pass {
    vkbn__pass_kind kind;
    vkbn__source source;
    vkbn_buffer host_params;  /* VKBN__SOURCE_HOST */
    vkbn_buffer export_stats; /* REDUCE_STATS: export instead of finalizing, or NULL */
} vkbn__pass;

#define VKBN__MAX_PASSES 2u

typedef struct vkbn__pass_list {
    vkbn__pass pass[VKBN__MAX_PASSES];
    uint32_t count;
} vkbn__pass_list;

/* The pass of a kind in the list, or NULL. */
static inline const vkbn__pass* vkbn__find_pass(const vkbn__pass_list* l, vkbn__pass_kind kind) {
    for (uint32_t i = 0; i < l->count; ++i) {
        if (l->pass[i].kind == kind) return &l->pass[i];
    }
    return NULL;
}

/* A short name for descriptions and logs ("reduce-stats", ...). */
const char* vkbn__pass_name(vkbn__pass_kind kind);

#endif
