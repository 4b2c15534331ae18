/* Synchronized batch norm: the passes each backend runs over one slice
 * (src/vulkan/vk_sync.c, src/cpu/cpu_sync.c). sync.c validates, merges and
 * computes every per-channel vector on the host; a backend only reduces or
 * maps the slice's elements. `op` is a validated slice op (n >= 1). */
#ifndef VKBN_SYNC_BACKEND_H_
#define VKBN_SYNC_BACKEND_H_

#include "internal.h"

/* Per-channel parameters of the normalize pass, four arrays of c floats:
 * y = act(((x - pivot) - shifted_mean) * scale + shift [+ z]). */
typedef struct vkbn__sync_channel {
    float* pivot;
    float* shifted_mean;
    float* scale;
    float* shift;
} vkbn__sync_channel;

/* Per-channel coefficients of the backward dx pass (bwd_common.glsl's Coef):
 * d = x - mean, g = dy * act'(u) (SiLU: u = d * k1 + shift [+ z]),
 * dx = k1 * ((g - mg) - d * invstd * e), dz = g. Six arrays of c floats. */
typedef struct vkbn__sync_coef {
    float* mean;
    float* invstd;
    float* k1;
    float* shift;
    float* mg;
    float* e;
} vkbn__sync_coef;

/* The slice's per-channel mean and M2 (count is op->per_channel). */
vkbn_result vkbn__vk_sync_stats(const vkbn__op* op, double* mean, double* m2);
vkbn_result vkbn__cpu_sync_stats(const vkbn__op* op, double* mean, double* m2);
/* y (op->y) from x (and z). */
vkbn_result vkbn__vk_sync_normalize(const vkbn__op* op, const vkbn__sync_channel* ch);
vkbn_result vkbn__cpu_sync_normalize(const vkbn__op* op, const vkbn__sync_channel* ch);
/* sum g and sum g * (x - save_mean) * save_invstd per channel; op is a
 * training backward op whose dweight and dbias are scratch vectors. */
vkbn_result vkbn__vk_sync_grad_sums(const vkbn__op* op, double* sum_g, double* sum_g_xhat);
vkbn_result vkbn__cpu_sync_grad_sums(const vkbn__op* op, double* sum_g, double* sum_g_xhat);
/* dx and dz (op->dx, op->dz, either may be NULL) from the coefficients. */
vkbn_result vkbn__vk_sync_backward_apply(const vkbn__op* op, const vkbn__sync_coef* k);
vkbn_result vkbn__cpu_sync_backward_apply(const vkbn__op* op, const vkbn__sync_coef* k);

#endif
