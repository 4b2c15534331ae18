/* Argument checks shared by every backend (SEMANTICS.md, "Arguments and bad
 * input"). Each failure names the argument; nothing has run yet, so nothing
 * has been written. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "internal.h"

static const char* dtype_name(vkbn_dtype d) {
    return d == VKBN_DTYPE_F16 ? "f16" : d == VKBN_DTYPE_BF16 ? "bf16" : "f32";
}

static bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
    if (a != 0 && b > UINT64_MAX / a) return true;
    *out = a * b;
    return false;
}

uint32_t vkbn_dtype_size(vkbn_dtype dtype) {
    switch (dtype) {
        case VKBN_DTYPE_F32: return 4;
        case VKBN_DTYPE_F16: return 2;
        case VKBN_DTYPE_BF16: return 2;
    }
    return 0;
}

/* allow_empty: n = 0 is a slice with no samples (synchronized batch norm). */
vkbn_result vkbn__check_tensor(const vkbn_tensor_desc* t, uint64_t* elements, uint64_t* spatial, bool allow_empty) {
    if (t->n == 0 && !allow_empty) return vkbn__fail(VKBN_ERROR_INVALID_SHAPE, "desc->tensor.n: must be >= 1, got 0");
    if (t->c == 0) return vkbn__fail(VKBN_ERROR_INVALID_SHAPE, "desc->tensor.c: must be >= 1, got 0");
    if (t->spatial_rank > VKBN_MAX_SPATIAL_RANK) {
        return vkbn__fail(VKBN_ERROR_INVALID_SHAPE, "desc->tensor.spatial_rank: must be 0..3, got %u", t->spatial_rank);
    }
    uint64_t s = 1;
    for (uint32_t i = 0; i < t->spatial_rank; ++i) {
        if (t->spatial[i] == 0) {
            return vkbn__fail(VKBN_ERROR_INVALID_SHAPE, "desc->tensor.spatial[%u]: must be >= 1, got 0", i);
        }
        if (mul_overflows(s, t->spatial[i], &s)) break; /* cannot happen with 3 x 32 bits */
    }
    if (t->layout != VKBN_LAYOUT_CHANNELS_FIRST && t->layout != VKBN_LAYOUT_CHANNELS_LAST) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->tensor.layout: unknown layout %d", (int)t->layout);
    }
    if (vkbn_dtype_size(t->dtype) == 0) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->tensor.dtype: unknown dtype %d", (int)t->dtype);
    }
    uint64_t nc = (uint64_t)t->n * t->c, count, bytes;
    if (mul_overflows(nc, s, &count) || mul_overflows(count, vkbn_dtype_size(t->dtype), &bytes)) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor: the element count overflows 64 bits");
    }
    *elements = count;
    *spatial = s;
    return VKBN_SUCCESS;
}

uint64_t vkbn_tensor_element_count(const vkbn_tensor_desc* desc) {
    uint64_t e = 0, s = 0;
    if (!desc) return 0;
    char saved[512];
    /* Keep the caller's last error intact: this query is not a failing call. */
    strncpy(saved, vkbn_last_error(), sizeof saved - 1);
    saved[sizeof saved - 1] = 0;
    vkbn_result r = vkbn__check_tensor(desc, &e, &s, false);
    if (r != VKBN_SUCCESS) vkbn__fail(VKBN_SUCCESS, "%s", saved);
    return r == VKBN_SUCCESS ? e : 0;
}

static vkbn_result check_buffer(vkbn_context ctx, vkbn_buffer b, const char* name, uint64_t need, bool required,
                                const char* what) {
    if (!b) {
        if (required) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s: required, got NULL", name);
        return VKBN_SUCCESS;
    }
    if (b->ctx != ctx) {
        return vkbn__fail(VKBN_ERROR_WRONG_CONTEXT, "%s: the buffer belongs to another context", name);
    }
    if (b->size < need) {
        return vkbn__fail(VKBN_ERROR_BUFFER_TOO_SMALL, "%s: holds %llu bytes, %s needs %llu", name,
                          (unsigned long long)b->size, what, (unsigned long long)need);
    }
    return VKBN_SUCCESS;
}

static vkbn_result check_eps(float eps) {
    if (!isfinite(eps) || eps < 0.0f) {
        return vkbn__fail(VKBN_ERROR_INVALID_EPS, "desc->eps: must be finite and >= 0, got %g", (double)eps);
    }
    return VKBN_SUCCESS;
}

/* The activation and the parameters it uses (vkbn_activation): finite, and
 * for CLAMP min <= max. Parameters an activation ignores are not checked. */
static vkbn_result check_activation(vkbn_activation a, float alpha, float beta) {
    switch (a) {
        case VKBN_ACTIVATION_NONE:
        case VKBN_ACTIVATION_RELU:
        case VKBN_ACTIVATION_SILU: return VKBN_SUCCESS;
        case VKBN_ACTIVATION_LEAKY_RELU:
            if (!isfinite(alpha)) {
                return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                                  "desc->activation_alpha: the leaky_relu slope must be finite, got %g", (double)alpha);
            }
            return VKBN_SUCCESS;
        case VKBN_ACTIVATION_CLAMP:
            if (!isfinite(alpha)) {
                return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                                  "desc->activation_alpha: the clamp minimum must be finite, got %g", (double)alpha);
            }
            if (!isfinite(beta)) {
                return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                                  "desc->activation_beta: the clamp maximum must be finite, got %g", (double)beta);
            }
            if (alpha > beta) {
                return vkbn__fail(
                    VKBN_ERROR_INVALID_ARGUMENT,
                    "desc->activation_beta: the clamp maximum %g is below the minimum activation_alpha %g",
                    (double)beta, (double)alpha);
            }
            return VKBN_SUCCESS;
    }
    return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->activation: unknown activation %d", (int)a);
}

/* Whether the activation has a mask: act'(u) is one of two values chosen by
 * a test of the stored y (vkbn_activation_mask_requirements). */
static bool activation_has_mask(vkbn_activation a) {
    return a == VKBN_ACTIVATION_RELU || a == VKBN_ACTIVATION_LEAKY_RELU || a == VKBN_ACTIVATION_CLAMP;
}

static const char* activation_name(vkbn_activation a);

/* The activation mask of a forward (written) or backward (read) call: only
 * for an activation that has one, at least vkbn__mask_bytes(elements) bytes
 * at a 4-byte aligned offset. Its overlaps are checked with the other
 * arguments'. */
static vkbn_result check_mask(vkbn_context ctx, vkbn_buffer mask, vkbn_activation a, uint64_t elements) {
    if (!mask) return VKBN_SUCCESS;
    if (!activation_has_mask(a)) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                          "desc->activation_mask: the %s activation has no mask (only relu, leaky_relu and clamp%s)",
                          activation_name(a),
                          a == VKBN_ACTIVATION_SILU ? "; the silu backward recomputes u from x" : "");
    }
    char what[96];
    snprintf(what, sizeof what, "the mask of %llu elements (vkbn_activation_mask_requirements)",
             (unsigned long long)elements);
    VKBN_CHECK(check_buffer(ctx, mask, "desc->activation_mask", vkbn__mask_bytes(elements), false, what));
    /* Views and wrapped ranges start at multiples of 4 already; checked here
     * so that the rule is the mask's own, whatever buffers may allow. */
    if (mask->offset % 4 != 0) {
        return vkbn__fail(VKBN_ERROR_MISALIGNED, "desc->activation_mask: its offset must be a multiple of 4, got %llu",
                          (unsigned long long)mask->offset);
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn_activation_mask_requirements(const vkbn_tensor_desc* tensor, vkbn_mask_requirements* out) {
    if (!tensor) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "tensor: required, got NULL");
    if (!out) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "out: required, got NULL");
    uint64_t elements = 0, spatial = 0;
    VKBN_CHECK(vkbn__check_tensor(tensor, &elements, &spatial, true));
    out->size = vkbn__mask_bytes(elements);
    out->alignment = 4;
    return VKBN_SUCCESS;
}

/* One argument for the overlap check: its memory extent and role. */
typedef struct arg_extent {
    const char* name;
    vkbn_buffer buffer;
    uint64_t bytes;
    bool written;
} arg_extent;

static bool same_root(vkbn_buffer a, vkbn_buffer b) { return a->root == b->root; }

static bool overlap(const arg_extent* a, const arg_extent* b) {
    /* The tensors of an empty slice span no bytes. */
    if (a->bytes == 0 || b->bytes == 0 || !same_root(a->buffer, b->buffer)) return false;
    uint64_t a0 = a->buffer->offset, a1 = a0 + a->bytes;
    uint64_t b0 = b->buffer->offset, b1 = b0 + b->bytes;
    return a0 < b1 && b0 < a1;
}

static bool exact(const arg_extent* a, const arg_extent* b) {
    return same_root(a->buffer, b->buffer) && a->buffer->offset == b->buffer->offset && a->bytes == b->bytes;
}

/* Outputs must not overlap anything, except that `y` may coincide exactly
 * with the tensor inputs listed in `in_place_ok` (same offset, same extent). */
static vkbn_result check_aliasing(const arg_extent* args, int count, const char* y_name, const char* const* in_place_ok,
                                  int ok_count) {
    for (int i = 0; i < count; ++i) {
        if (!args[i].buffer || !args[i].written) continue;
        for (int j = 0; j < count; ++j) {
            if (i == j || !args[j].buffer || !overlap(&args[i], &args[j])) continue;
            if (strcmp(args[i].name, y_name) == 0) {
                bool allowed = false;
                for (int k = 0; k < ok_count; ++k) allowed |= strcmp(args[j].name, in_place_ok[k]) == 0;
                if (allowed && exact(&args[i], &args[j])) continue;
                if (allowed) {
                    return vkbn__fail(VKBN_ERROR_ALIASING,
                                      "%s: partially overlaps %s (in-place use must start at the same offset)",
                                      args[i].name, args[j].name);
                }
            }
            return vkbn__fail(VKBN_ERROR_ALIASING, "%s: overlaps %s", args[i].name, args[j].name);
        }
    }
    return VKBN_SUCCESS;
}

/* Checks shared by both forward modes. */
static vkbn_result check_forward_common(vkbn_context ctx, const vkbn_tensor_desc* tensor, vkbn_buffer x, vkbn_buffer y,
                                        vkbn_buffer residual, vkbn_buffer weight, vkbn_buffer bias,
                                        vkbn_activation activation, float alpha, float beta, float eps,
                                        vkbn_buffer mask, vkbn__op* op, bool allow_empty) {
    memset(op, 0, sizeof *op);
    VKBN_CHECK(vkbn__check_tensor(tensor, &op->elements, &op->spatial, allow_empty));
    op->tensor = *tensor;
    op->elem_size = vkbn_dtype_size(tensor->dtype);
    op->per_channel = (uint64_t)tensor->n * op->spatial;
    uint64_t tbytes = op->elements * op->elem_size;
    uint64_t vbytes = (uint64_t)tensor->c * sizeof(float);
    char what[96];
    snprintf(what, sizeof what, "the %s tensor", dtype_name(tensor->dtype));
    /* An empty slice touches no tensor: x and y may be NULL. */
    VKBN_CHECK(check_buffer(ctx, x, "desc->x", tbytes, tensor->n > 0, what));
    VKBN_CHECK(check_buffer(ctx, y, "desc->y", tbytes, tensor->n > 0, what));
    VKBN_CHECK(check_buffer(ctx, residual, "desc->residual", tbytes, false, what));
    VKBN_CHECK(check_buffer(ctx, weight, "desc->weight", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, bias, "desc->bias", vbytes, false, "c floats"));
    VKBN_CHECK(check_activation(activation, alpha, beta));
    VKBN_CHECK(check_mask(ctx, mask, activation, op->elements));
    VKBN_CHECK(check_eps(eps));
    op->mask = mask;
    op->activation_alpha = alpha;
    op->activation_beta = beta;
    op->x = x;
    op->y = y;
    op->z = residual;
    op->weight = weight;
    op->bias = bias;
    op->eps = eps;
    op->activation = activation;
    return VKBN_SUCCESS;
}

/* min_values: 2 for an operation on a whole batch; 1 for a slice of one
 * (synchronized batch norm, where the batch's count decides); 0 for a slice
 * that may also be empty (n = 0). */
static vkbn_result validate_forward_training(vkbn_context ctx, const vkbn_forward_training_desc* d, vkbn__op* op,
                                             uint64_t min_values) {
    VKBN_CHECK(check_forward_common(ctx, &d->tensor, d->x, d->y, d->residual, d->weight, d->bias, d->activation,
                                    d->activation_alpha, d->activation_beta, d->eps, d->activation_mask, op,
                                    min_values == 0));
    uint64_t vbytes = (uint64_t)d->tensor.c * sizeof(float);
    VKBN_CHECK(check_buffer(ctx, d->running_mean, "desc->running_mean", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->running_var, "desc->running_var", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->save_mean, "desc->save_mean", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->save_invstd, "desc->save_invstd", vbytes, false, "c floats"));
    /* Its size against the plan's needs is checked by the planner. */
    VKBN_CHECK(check_buffer(ctx, d->scratch, "desc->scratch", 0, false, "the plan"));
    if ((d->running_mean == NULL) != (d->running_var == NULL)) {
        return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s: running_mean and running_var go together, got only %s",
                          d->running_mean ? "desc->running_var" : "desc->running_mean",
                          d->running_mean ? "running_mean" : "running_var");
    }
    switch (d->running_average) {
        case VKBN_RUNNING_AVERAGE_EXPONENTIAL:
            if (!isfinite(d->momentum) || d->momentum < 0.0f || d->momentum > 1.0f) {
                return vkbn__fail(VKBN_ERROR_INVALID_MOMENTUM, "desc->momentum: must be finite and in [0, 1], got %g",
                                  (double)d->momentum);
            }
            op->factor = d->momentum;
            break;
        case VKBN_RUNNING_AVERAGE_CUMULATIVE: op->factor = (float)(1.0 / ((double)d->cumulative_count + 1.0)); break;
        default:
            return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->running_average: unknown mode %d",
                              (int)d->running_average);
    }
    if (op->per_channel < min_values) {
        return vkbn__fail(VKBN_ERROR_TOO_FEW_VALUES,
                          "desc->tensor: training needs more than one value per channel, got n * spatial = %llu",
                          (unsigned long long)op->per_channel);
    }
    double m = (double)op->per_channel;
    op->var_correction = d->biased_running_var || m < 2.0 ? 1.0f : (float)(m / (m - 1.0));
    op->running_mean = d->running_mean;
    op->running_var = d->running_var;
    op->save_mean = d->save_mean;
    op->save_invstd = d->save_invstd;
    op->reduction_split = d->reduction_split;
    op->scratch = d->scratch;

    uint64_t tbytes = op->elements * op->elem_size;
    const arg_extent args[] = {
        {"desc->x", d->x, tbytes, false},
        {"desc->residual", d->residual, tbytes, false},
        {"desc->weight", d->weight, vbytes, false},
        {"desc->bias", d->bias, vbytes, false},
        {"desc->y", d->y, tbytes, true},
        {"desc->activation_mask", d->activation_mask, vkbn__mask_bytes(op->elements), true},
        {"desc->running_mean", d->running_mean, vbytes, true},
        {"desc->running_var", d->running_var, vbytes, true},
        {"desc->save_mean", d->save_mean, vbytes, true},
        {"desc->save_invstd", d->save_invstd, vbytes, true},
        {"desc->scratch", d->scratch, d->scratch ? d->scratch->size : 0, true},
    };
    static const char* const in_place[] = {"desc->x", "desc->residual"};
    return check_aliasing(args, (int)(sizeof args / sizeof args[0]), "desc->y", in_place, 2);
}

vkbn_result vkbn__validate_forward_training(vkbn_context ctx, const vkbn_forward_training_desc* d, vkbn__op* op) {
    return validate_forward_training(ctx, d, op, 2);
}

vkbn_result vkbn__validate_forward_training_slice(vkbn_context ctx, const vkbn_forward_training_desc* d, vkbn__op* op) {
    return validate_forward_training(ctx, d, op, 1);
}

vkbn_result vkbn__validate_forward_training_global(vkbn_context ctx, const vkbn_forward_training_desc* d,
                                                   vkbn__op* op) {
    return validate_forward_training(ctx, d, op, 0);
}

vkbn_result vkbn__validate_forward_inference(vkbn_context ctx, const vkbn_forward_inference_desc* d, vkbn__op* op) {
    VKBN_CHECK(check_forward_common(ctx, &d->tensor, d->x, d->y, d->residual, d->weight, d->bias, d->activation,
                                    d->activation_alpha, d->activation_beta, d->eps, d->activation_mask, op, false));
    uint64_t vbytes = (uint64_t)d->tensor.c * sizeof(float);
    VKBN_CHECK(check_buffer(ctx, d->running_mean, "desc->running_mean", vbytes, true, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->running_var, "desc->running_var", vbytes, true, "c floats"));
    op->running_mean = d->running_mean;
    op->running_var = d->running_var;
    uint64_t tbytes = op->elements * op->elem_size;
    const arg_extent args[] = {
        {"desc->x", d->x, tbytes, false},
        {"desc->residual", d->residual, tbytes, false},
        {"desc->weight", d->weight, vbytes, false},
        {"desc->bias", d->bias, vbytes, false},
        {"desc->running_mean", d->running_mean, vbytes, false},
        {"desc->running_var", d->running_var, vbytes, false},
        {"desc->y", d->y, tbytes, true},
        {"desc->activation_mask", d->activation_mask, vkbn__mask_bytes(op->elements), true},
    };
    static const char* const in_place[] = {"desc->x", "desc->residual"};
    return check_aliasing(args, (int)(sizeof args / sizeof args[0]), "desc->y", in_place, 2);
}

vkbn_result vkbn__validate_copy(vkbn_context ctx, const vkbn_copy_desc* d, vkbn__op* op) {
    memset(op, 0, sizeof *op);
    if (d->size == 0 || d->size % 4 != 0) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->size: must be a positive multiple of 4, got %llu",
                          (unsigned long long)d->size);
    }
    VKBN_CHECK(check_buffer(ctx, d->x, "desc->x", d->size, true, "the copy"));
    VKBN_CHECK(check_buffer(ctx, d->y, "desc->y", d->size, true, "the copy"));
    const arg_extent args[] = {{"desc->x", d->x, d->size, false}, {"desc->y", d->y, d->size, true}};
    VKBN_CHECK(check_aliasing(args, 2, "", NULL, 0));
    op->x = d->x;
    op->y = d->y;
    op->copy_bytes = d->size;
    op->elements = d->size / 4;
    op->elem_size = 4;
    return VKBN_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether act'(u) is read from y (a mask or slope chosen by y's value), or
 * from the activation mask in its place. */
static bool activation_reads_y(vkbn_activation a) { return activation_has_mask(a); }

static const char* activation_name(vkbn_activation a) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: return "relu";
        case VKBN_ACTIVATION_LEAKY_RELU: return "leaky_relu";
        case VKBN_ACTIVATION_CLAMP: return "clamp";
        case VKBN_ACTIVATION_SILU: return "silu";
        default: return "none";
    }
}

/* Which inputs the backward mode and activation need, and the outputs
 * (at least one unless outputs_optional). */
static vkbn_result check_backward_arguments(vkbn_context ctx, const vkbn_backward_desc* d, const vkbn__op* op,
                                            bool outputs_optional) {
    uint64_t tbytes = op->elements * op->elem_size;
    uint64_t vbytes = (uint64_t)d->tensor.c * sizeof(float);
    char what[96];
    snprintf(what, sizeof what, "the %s tensor", dtype_name(d->tensor.dtype));
    bool reads_y = activation_reads_y(d->activation), silu = d->activation == VKBN_ACTIVATION_SILU;
    /* An empty slice reads no tensor and no statistics (it writes only
     * dweight and dbias): those may be NULL. */
    bool empty = d->tensor.n == 0;
    VKBN_CHECK(check_buffer(ctx, d->x, "desc->x", tbytes, !empty, what));
    VKBN_CHECK(check_buffer(ctx, d->dy, "desc->dy", tbytes, !empty, what));
    if (d->activation_mask && d->y && reads_y) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                          "desc->activation_mask: given with desc->y; act' comes from one of them, give only one");
    }
    VKBN_CHECK(check_mask(ctx, d->activation_mask, d->activation, op->elements));
    if (reads_y && !d->y && !d->activation_mask && !empty) {
        return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT,
                          "desc->y: required by the %s backward (act' comes from y), or desc->activation_mask in its "
                          "place",
                          activation_name(d->activation));
    }
    VKBN_CHECK(check_buffer(ctx, d->y, "desc->y", tbytes, false, what));
    if (silu && d->dresidual && !d->residual && !empty) {
        return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT,
                          "desc->residual: required by the silu backward with dresidual (u = bn(x) + residual)");
    }
    VKBN_CHECK(check_buffer(ctx, d->residual, "desc->residual", tbytes, false, what));
    VKBN_CHECK(check_buffer(ctx, d->weight, "desc->weight", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->bias, "desc->bias", vbytes, false, "c floats"));
    if (d->frozen) {
        VKBN_CHECK(check_buffer(ctx, d->running_mean, "desc->running_mean", vbytes, true, "c floats"));
        VKBN_CHECK(check_buffer(ctx, d->running_var, "desc->running_var", vbytes, true, "c floats"));
    } else {
        VKBN_CHECK(check_buffer(ctx, d->save_mean, "desc->save_mean", vbytes, !empty, "c floats"));
        VKBN_CHECK(check_buffer(ctx, d->save_invstd, "desc->save_invstd", vbytes, !empty, "c floats"));
    }
    if (!outputs_optional && !d->dx && !d->dweight && !d->dbias && !d->dresidual) {
        return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT,
                          "desc->dx: no output requested (give at least one of dx, dweight, dbias, dresidual)");
    }
    VKBN_CHECK(check_buffer(ctx, d->dx, "desc->dx", tbytes, false, what));
    VKBN_CHECK(check_buffer(ctx, d->dweight, "desc->dweight", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->dbias, "desc->dbias", vbytes, false, "c floats"));
    VKBN_CHECK(check_buffer(ctx, d->dresidual, "desc->dresidual", tbytes, false, what));
    /* Its size against the plan's needs is checked by the planner. */
    VKBN_CHECK(check_buffer(ctx, d->scratch, "desc->scratch", 0, false, "the plan"));
    return VKBN_SUCCESS;
}

/* min_values as for validate_forward_training. */
static vkbn_result validate_backward(vkbn_context ctx, const vkbn_backward_desc* d, vkbn__op* op, uint64_t min_values,
                                     bool outputs_optional) {
    memset(op, 0, sizeof *op);
    VKBN_CHECK(vkbn__check_tensor(&d->tensor, &op->elements, &op->spatial, min_values == 0));
    op->tensor = d->tensor;
    op->elem_size = vkbn_dtype_size(d->tensor.dtype);
    op->per_channel = (uint64_t)d->tensor.n * op->spatial;
    VKBN_CHECK(check_activation(d->activation, d->activation_alpha, d->activation_beta));
    if (d->activation == VKBN_ACTIVATION_LEAKY_RELU && !(d->activation_alpha >= 0.0f)) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                          "desc->activation_alpha: the leaky_relu backward takes its slope from the sign of y and "
                          "needs a slope >= 0, got %g",
                          (double)d->activation_alpha);
    }
    VKBN_CHECK(check_eps(d->eps));
    VKBN_CHECK(check_backward_arguments(ctx, d, op, outputs_optional));
    if (!d->frozen && op->per_channel < min_values) {
        return vkbn__fail(VKBN_ERROR_TOO_FEW_VALUES,
                          "desc->tensor: training needs more than one value per channel, got n * spatial = %llu",
                          (unsigned long long)op->per_channel);
    }
    bool reads_y = activation_reads_y(d->activation), silu = d->activation == VKBN_ACTIVATION_SILU;
    op->x = d->x;
    op->dy = d->dy;
    op->y = reads_y ? d->y : NULL;
    op->mask = reads_y ? d->activation_mask : NULL;
    op->z = silu ? d->residual : NULL;
    op->weight = d->weight;
    op->bias = silu ? d->bias : NULL;
    op->save_mean = d->frozen ? NULL : d->save_mean;
    op->save_invstd = d->frozen ? NULL : d->save_invstd;
    op->running_mean = d->frozen ? d->running_mean : NULL;
    op->running_var = d->frozen ? d->running_var : NULL;
    op->eps = d->eps;
    op->activation = d->activation;
    op->activation_alpha = d->activation_alpha;
    op->activation_beta = d->activation_beta;
    op->dx = d->dx;
    op->dz = d->dresidual;
    op->dweight = d->dweight;
    op->dbias = d->dbias;
    op->reduction_split = d->reduction_split;
    op->scratch = d->scratch;

    /* Overlaps, among the arguments this call reads or writes. */
    uint64_t tbytes = op->elements * op->elem_size;
    uint64_t vbytes = (uint64_t)d->tensor.c * sizeof(float);
    const arg_extent args[] = {
        {"desc->x", op->x, tbytes, false},
        {"desc->dy", op->dy, tbytes, false},
        {"desc->y", op->y, tbytes, false},
        {"desc->activation_mask", op->mask, vkbn__mask_bytes(op->elements), false},
        {"desc->residual", op->z, tbytes, false},
        {"desc->weight", op->weight, vbytes, false},
        {"desc->bias", op->bias, vbytes, false},
        {"desc->save_mean", op->save_mean, vbytes, false},
        {"desc->save_invstd", op->save_invstd, vbytes, false},
        {"desc->running_mean", op->running_mean, vbytes, false},
        {"desc->running_var", op->running_var, vbytes, false},
        {"desc->dx", op->dx, tbytes, true},
        {"desc->dweight", op->dweight, vbytes, true},
        {"desc->dbias", op->dbias, vbytes, true},
        {"desc->dresidual", op->dz, tbytes, true},
        {"desc->scratch", d->scratch, d->scratch ? d->scratch->size : 0, true},
    };
    static const char* const in_place[] = {"desc->dy"};
    return check_aliasing(args, (int)(sizeof args / sizeof args[0]), "desc->dx", in_place, 1);
}

vkbn_result vkbn__validate_backward(vkbn_context ctx, const vkbn_backward_desc* d, vkbn__op* op) {
    return validate_backward(ctx, d, op, 2, false);
}

vkbn_result vkbn__validate_backward_slice(vkbn_context ctx, const vkbn_backward_desc* d, vkbn__op* op) {
    return validate_backward(ctx, d, op, 1, true);
}

vkbn_result vkbn__validate_backward_global(vkbn_context ctx, const vkbn_backward_desc* d, vkbn__op* op) {
    return validate_backward(ctx, d, op, 0, false);
}
