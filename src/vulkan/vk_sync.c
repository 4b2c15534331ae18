/* Synchronized batch norm on Vulkan: each slice pass is an internal plan of
 * the existing kernels (vk_forward.c, vk_backward.c), built, run once and
 * destroyed, with the per-channel vectors moved through small buffers:
 * - statistics: the training statistics kernels in export mode write
 *   pivot | mean - pivot | M2 (finalize.glsl) and nothing else;
 * - normalize: the apply kernel of split training plans, its channel
 *   parameters uploaded from the host;
 * - backward sums: the backward reduction with only dweight and dbias;
 * - backward apply: bwd_apply with its coefficients uploaded from the host. */
#include <string.h>

#include "../core/errors.h"
#include "../core/sync_backend.h"
#include "vk_internal.h"

static vkbn_result run_op(vkbn_context ctx, const vkbn__op* op) {
    vkbn_plan plan = vkbn__calloc(1, sizeof *plan);
    if (!plan) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "synchronized batch norm: out of host memory");
    plan->ctx = ctx;
    plan->op = *op;
    vkbn_result r = vkbn__vk_plan_build(plan);
    if (r == VKBN_SUCCESS) r = vkbn__vk_plan_execute(plan, 1, NULL);
    vkbn_plan_destroy(plan);
    return r;
}

/* Uploads `arrays` arrays of c floats at a stride of c_pad floats. */
static vkbn_result upload_arrays(vkbn_context ctx, float* const* arrays, uint32_t count, uint32_t c, uint32_t c_pad,
                                 vkbn_buffer* out) {
    *out = NULL;
    float* staging = vkbn__calloc((size_t)c_pad * count, sizeof(float));
    if (!staging) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "synchronized batch norm: out of host memory");
    for (uint32_t a = 0; a < count; ++a) memcpy(staging + (size_t)a * c_pad, arrays[a], (size_t)c * sizeof(float));
    uint64_t bytes = (uint64_t)c_pad * count * sizeof(float);
    vkbn_result r = vkbn_buffer_create(ctx, bytes, out);
    if (r == VKBN_SUCCESS) r = vkbn_buffer_upload(*out, 0, staging, bytes);
    vkbn__free(staging);
    if (r != VKBN_SUCCESS) {
        vkbn_buffer_destroy(*out);
        *out = NULL;
    }
    return r;
}

vkbn_result vkbn__vk_sync_stats(const vkbn__op* op, double* mean, double* m2) {
    vkbn_context ctx = op->x->ctx;
    uint32_t c = op->tensor.c;
    vkbn_buffer out = NULL;
    VKBN_CHECK(vkbn_buffer_create(ctx, (uint64_t)c * 3 * sizeof(float), &out));
    float* host = vkbn__calloc((size_t)c * 3, sizeof(float));
    vkbn_result r =
        host ? VKBN_SUCCESS : vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_batch_stats_compute: out of host memory");
    if (r == VKBN_SUCCESS) {
        vkbn__op stats = *op;
        stats.sync_stats_out = out;
        r = run_op(ctx, &stats);
    }
    if (r == VKBN_SUCCESS) r = vkbn_buffer_download(out, 0, host, (uint64_t)c * 3 * sizeof(float));
    if (r == VKBN_SUCCESS) {
        vkbn_batch_stats decoded = {0, c, mean, m2};
        r = vkbn_batch_stats_decode(host, op->per_channel, &decoded);
    }
    vkbn__free(host);
    vkbn_buffer_destroy(out);
    return r;
}

vkbn_result vkbn__vk_sync_normalize(const vkbn__op* op, const vkbn__sync_channel* ch) {
    vkbn_context ctx = op->x->ctx;
    uint32_t c = op->tensor.c, c_pad = (c + 3u) & ~3u;
    float* arrays[4] = {ch->pivot, ch->shifted_mean, ch->scale, ch->shift};
    vkbn_buffer params = NULL;
    VKBN_CHECK(upload_arrays(ctx, arrays, 4, c, c_pad, &params));
    vkbn__op apply = *op;
    apply.sync_channel = params;
    apply.sync_c_pad = c_pad;
    vkbn_result r = run_op(ctx, &apply);
    vkbn_buffer_destroy(params);
    return r;
}

vkbn_result vkbn__vk_sync_grad_sums(const vkbn__op* op, double* sum_g, double* sum_g_xhat) {
    uint32_t c = op->tensor.c;
    VKBN_CHECK(run_op(op->x->ctx, op));
    float* host = vkbn__calloc((size_t)c * 2, sizeof(float));
    if (!host) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_grad_sums_compute: out of host memory");
    vkbn_result r = vkbn_buffer_download(op->dweight, 0, host, (uint64_t)c * sizeof(float));
    if (r == VKBN_SUCCESS) r = vkbn_buffer_download(op->dbias, 0, host + c, (uint64_t)c * sizeof(float));
    if (r == VKBN_SUCCESS) {
        for (uint32_t i = 0; i < c; ++i) {
            sum_g_xhat[i] = host[i]; /* dweight = sum g * xhat */
            sum_g[i] = host[c + i];  /* dbias = sum g */
        }
    }
    vkbn__free(host);
    return r;
}

vkbn_result vkbn__vk_sync_backward_apply(const vkbn__op* op, const vkbn__sync_coef* k) {
    vkbn_context ctx = op->x->ctx;
    uint32_t c = op->tensor.c, c_pad = (c + 3u) & ~3u;
    float* arrays[6] = {k->mean, k->invstd, k->k1, k->shift, k->mg, k->e};
    vkbn_buffer coef = NULL;
    VKBN_CHECK(upload_arrays(ctx, arrays, 6, c, c_pad, &coef));
    vkbn__op apply = *op;
    apply.sync_coef = coef;
    apply.sync_c_pad = c_pad;
    vkbn_result r = run_op(ctx, &apply);
    vkbn_buffer_destroy(coef);
    return r;
}
