/* Plans built to be looked at (plan_probe.h). */
#include "plan_probe.h"

#include <string.h>

uint64_t plan_probe_tensor_bytes(const plan_probe* p) {
    uint64_t e = (uint64_t)p->tensor.n * p->tensor.c;
    for (uint32_t i = 0; i < p->tensor.spatial_rank; ++i) e *= p->tensor.spatial[i];
    return e * vkbn_dtype_size(p->tensor.dtype);
}

int plan_probe_reads_mask(const plan_probe* p) {
    return (p->op == PROBE_BACKWARD || p->op == PROBE_BACKWARD_FROZEN) && p->activation != VKBN_ACTIVATION_NONE;
}

uint64_t plan_probe_effective_bytes(const plan_probe* p) {
    uint64_t tensors = 0;
    if (p->op == PROBE_TRAINING || p->op == PROBE_INFERENCE) {
        tensors = 2 + (p->residual ? 1 : 0); /* x, y (+ z) */
    } else {
        tensors = 3 + (uint64_t)plan_probe_reads_mask(p) + (p->residual ? 1 : 0); /* x, dy, dx (+ y) (+ dz) */
    }
    return tensors * plan_probe_tensor_bytes(p);
}

uint64_t plan_probe_vector_bytes(const plan_probe* p) {
    uint64_t v = 0;
    switch (p->op) {
        case PROBE_TRAINING: v = 2 + 2 * 2 + 2; break; /* weight, bias; running read and written; saved */
        case PROBE_INFERENCE: v = 4; break;            /* weight, bias, running mean and var */
        case PROBE_BACKWARD:
        case PROBE_BACKWARD_FROZEN: v = 6; break; /* weight, bias, the two statistics; dweight, dbias */
    }
    return v * p->tensor.c * 4;
}

const char* plan_probe_op_name(probe_op op) {
    switch (op) {
        case PROBE_TRAINING: return "train";
        case PROBE_INFERENCE: return "infer";
        case PROBE_BACKWARD: return "backward";
        case PROBE_BACKWARD_FROZEN: return "frozen";
    }
    return "?";
}

static vkbn_result make(vkbn_context ctx, uint64_t bytes, plan_probe_objects* o, vkbn_buffer* out) {
    if (o->count == PLAN_PROBE_MAX_BUFFERS) return VKBN_ERROR_INVALID_ARGUMENT;
    vkbn_result r = vkbn_buffer_create(ctx, bytes, out);
    if (r == VKBN_SUCCESS) o->buffers[o->count++] = *out;
    return r;
}

static vkbn_result build(vkbn_context ctx, const plan_probe* p, plan_probe_objects* o) {
#define TRY(expr)                          \
    do {                                   \
        vkbn_result r_ = (expr);           \
        if (r_ != VKBN_SUCCESS) return r_; \
    } while (0)
    uint64_t t = plan_probe_tensor_bytes(p), v = (uint64_t)p->tensor.c * 4;
    vkbn_buffer x, y, w, b, rm, rv;
    TRY(make(ctx, t, o, &x));
    TRY(make(ctx, t, o, &y));
    TRY(make(ctx, v, o, &w));
    TRY(make(ctx, v, o, &b));
    TRY(make(ctx, v, o, &rm));
    TRY(make(ctx, v, o, &rv));
    if (p->op == PROBE_BACKWARD || p->op == PROBE_BACKWARD_FROZEN) {
        vkbn_backward_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = p->tensor;
        d.x = x;
        d.dx = y;
        TRY(make(ctx, t, o, &d.dy));
        if (plan_probe_reads_mask(p)) TRY(make(ctx, t, o, &d.y));
        if (p->residual) TRY(make(ctx, t, o, &d.dresidual));
        d.activation = p->activation;
        d.activation_alpha = p->activation_alpha;
        d.activation_beta = p->activation_beta;
        d.weight = w;
        d.bias = b;
        d.eps = VKBN_DEFAULT_EPS;
        if (p->op == PROBE_BACKWARD_FROZEN) {
            d.frozen = 1;
            d.running_mean = rm;
            d.running_var = rv;
        } else {
            d.save_mean = rm;
            d.save_invstd = rv;
        }
        TRY(make(ctx, v, o, &d.dweight));
        TRY(make(ctx, v, o, &d.dbias));
        return vkbn_plan_create_backward(ctx, &d, &o->plan);
    }
    vkbn_buffer z = NULL;
    if (p->residual) TRY(make(ctx, t, o, &z));
    if (p->op == PROBE_TRAINING) {
        vkbn_forward_training_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = p->tensor;
        d.x = x, d.y = y, d.residual = z, d.weight = w, d.bias = b;
        d.running_mean = rm, d.running_var = rv;
        TRY(make(ctx, v, o, &d.save_mean));
        TRY(make(ctx, v, o, &d.save_invstd));
        d.eps = VKBN_DEFAULT_EPS;
        d.momentum = VKBN_DEFAULT_MOMENTUM;
        d.activation = p->activation;
        d.activation_alpha = p->activation_alpha;
        d.activation_beta = p->activation_beta;
        return vkbn_plan_create_forward_training(ctx, &d, &o->plan);
    }
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = p->tensor;
    d.x = x, d.y = y, d.residual = z, d.weight = w, d.bias = b;
    d.running_mean = rm, d.running_var = rv;
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = p->activation;
    d.activation_alpha = p->activation_alpha;
    d.activation_beta = p->activation_beta;
    return vkbn_plan_create_forward_inference(ctx, &d, &o->plan);
#undef TRY
}

vkbn_result plan_probe_build(vkbn_context ctx, const plan_probe* p, plan_probe_objects* out) {
    memset(out, 0, sizeof *out);
    vkbn_result r = build(ctx, p, out);
    if (r != VKBN_SUCCESS) plan_probe_release(out);
    return r;
}

void plan_probe_release(plan_probe_objects* o) {
    vkbn_plan_destroy(o->plan);
    for (uint32_t i = 0; i < o->count; ++i) vkbn_buffer_destroy(o->buffers[i]);
    memset(o, 0, sizeof *o);
}

void plan_probe_predict(const plan_probe* p, const vkbn_plan_report* report, const vkbn_profile_info* profile,
                        double dispatch_seconds, plan_prediction* out) {
    memset(out, 0, sizeof *out);
    uint64_t tensor = plan_probe_tensor_bytes(p);
    uint64_t effective = plan_probe_effective_bytes(p), vectors = plan_probe_vector_bytes(p);
    uint64_t llc = profile ? profile->last_level_cache : 0;
    out->fits = llc && effective + vectors <= llc;
    out->minimum = effective + vectors;
    if (!out->fits && p->op == PROBE_TRAINING) out->minimum += tensor;
    if (!out->fits && p->op == PROBE_BACKWARD) out->minimum += 2 * tensor;
    out->moved = report->bytes_read + report->bytes_written - (out->fits ? report->bytes_reread : 0);
    uint64_t bandwidth = profile ? profile->dram_bandwidth : 0;
    if (!bandwidth) return;
    out->seconds = (double)out->moved / (double)bandwidth + report->dispatches * dispatch_seconds;
    out->copy_seconds = 2.0 * (double)tensor / (double)bandwidth + dispatch_seconds;
    out->fraction_of_copy = ((double)effective / out->seconds) / (2.0 * (double)tensor / out->copy_seconds);
}
