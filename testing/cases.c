/* Runs forward cases through the public API and checks them against the fp64
 * reference.
 *
 * Tolerances come from error analysis, not from observed errors. With unit
 * roundoff u = 2^-24, per channel c: sigma = sqrt(var), M = max |x - mean|,
 * kappa = 1 + M / sigma (the data's condition number for the variance):
 * - variance (from save_invstd): relative error <= R u kappa log2(m). Raw
 *   fp32 Welford fails this on mean 1e4 / std 1 data (its error is about
 *   u |mean| / sigma), and E[x^2] - E[x]^2 fails it by orders of magnitude;
 * - mean: |error| <= R u (|mean| + M);
 * - y: |error| <= L (R u (|gamma| invstd (|x - mean| + M) + |beta| + |z|)
 *   + var_tol |gamma (x - mean) invstd| / 2) + R u a(u) |y|, plus one f16 ulp
 *   of y for f16 storage (Vulkan leaves the f32 -> f16 rounding mode to the
 *   driver: to nearest or toward zero). L is the activation's Lipschitz
 *   constant (the error of u = bn(x) [+ z] passes through it) and a(u) its
 *   own error in ulps: 1, or 8 + 2|u| for SiLU (Vulkan's exp is accurate to
 *   3 + 2|u| ulp);
 * - running statistics: the same bounds carried through each step.
 * R = 32 covers the handful of roundings per element and per merge level. */
#include "cases.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"
#include "reference.h"

#define ROUNDOFF (1.0 / 16777216.0) /* 2^-24 */
#define SLACK 32.0

fwd_case case_default(uint32_t n, uint32_t c, uint32_t rank, const uint32_t* spatial, vkbn_layout layout,
                      vkbn_dtype dtype) {
    fwd_case k;
    memset(&k, 0, sizeof k);
    k.tensor.n = n;
    k.tensor.c = c;
    k.tensor.spatial_rank = rank;
    for (uint32_t i = 0; i < rank && i < 3; ++i) k.tensor.spatial[i] = spatial[i];
    k.tensor.layout = layout;
    k.tensor.dtype = dtype;
    k.training = 1;
    k.affine = 1;
    k.running = 1;
    k.momentum = VKBN_DEFAULT_MOMENTUM;
    k.eps = VKBN_DEFAULT_EPS;
    k.steps = 1;
    k.seed = 1;
    return k;
}

void case_describe_activation(vkbn_activation a, float alpha, float beta, char* out, size_t size) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: snprintf(out, size, " relu"); break;
        case VKBN_ACTIVATION_LEAKY_RELU: snprintf(out, size, " leaky_relu(%g)", (double)alpha); break;
        case VKBN_ACTIVATION_CLAMP: snprintf(out, size, " clamp(%g,%g)", (double)alpha, (double)beta); break;
        case VKBN_ACTIVATION_SILU: snprintf(out, size, " silu"); break;
        default: snprintf(out, size, "%s", ""); break;
    }
}

double case_activation_lipschitz(vkbn_activation a, double alpha) {
    if (a == VKBN_ACTIVATION_LEAKY_RELU) return fabs(alpha) > 1.0 ? fabs(alpha) : 1.0;
    if (a == VKBN_ACTIVATION_SILU) return 1.1; /* max |silu'| = 1.0998 */
    return 1.0;
}

double case_activation_ulps(vkbn_activation a, double u) {
    /* exp: 3 + 2|u| ulp; then an add, a division (2.5 ulp) and a product. */
    if (a == VKBN_ACTIVATION_SILU) return 8.0 + 2.0 * fabs(u);
    return 1.0;
}

void case_describe(const fwd_case* c, char* out, size_t size) {
    char spatial[64] = "";
    size_t at = 0;
    for (uint32_t i = 0; i < c->tensor.spatial_rank && i < 3; ++i) {
        at += (size_t)snprintf(spatial + at, sizeof spatial - at, "%s%u", i ? "x" : " s=", c->tensor.spatial[i]);
    }
    static const char* const data_names[] = {"", " data=mean1e4", " data=constant-ch0", " data=outlier"};
    const char* running = "";
    if (c->training && c->running) {
        running = c->running_average == VKBN_RUNNING_AVERAGE_CUMULATIVE ? " running=cumulative" : " running";
    }
    char extra[96] = "";
    at = 0;
    if (c->reduction_split) at += (size_t)snprintf(extra + at, sizeof extra - at, " split=%u", c->reduction_split);
    if (c->steps > 1) at += (size_t)snprintf(extra + at, sizeof extra - at, " steps=%d", c->steps);
    if (c->offset_bytes) {
        at += (size_t)snprintf(extra + at, sizeof extra - at, " offset=%llu", (unsigned long long)c->offset_bytes);
    }
    if (c->mask) snprintf(extra + at, sizeof extra - at, " mask");
    char act[64];
    case_describe_activation(c->activation, c->activation_alpha, c->activation_beta, act, sizeof act);
    snprintf(out, size, "%s %s %s n=%u c=%u%s%s%s%s%s%s eps=%g%s%s%s", c->training ? "train" : "infer",
             c->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw", ref_dtype_name((int)c->tensor.dtype),
             c->tensor.n, c->tensor.c, spatial, c->affine ? " affine" : "", c->residual ? " residual" : "", act,
             running, c->biased_running_var ? " biased" : "", (double)c->eps, extra, c->in_place ? " in-place" : "",
             (size_t)c->data < 4 ? data_names[c->data] : "");
}

/* ------------------------------------------------------------------------ */
/* Data                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct host_data {
    ref_shape shape;
    uint64_t count;
    float* x; /* as stored (f16 values already rounded) */
    float* z;
    float* weight;
    float* bias;
    float* rm;
    float* rv;
} host_data;

float case_storage_round(float v, vkbn_dtype dtype) { return ref_storage_round(v, (int)dtype); }

static void gen_x(const fwd_case* c, const ref_shape* sh, rng* r, float* x) {
    for (uint64_t ch = 0; ch < sh->c; ++ch) {
        double mean = 4.0 * rng_uniform(r) - 2.0, std = 0.5 + 1.5 * rng_uniform(r);
        if (c->data == CASE_DATA_LARGE_MEAN) {
            mean = 1e4;
            std = 1.0;
        }
        bool constant = c->data == CASE_DATA_CONSTANT && ch == 0;
        for (uint64_t n = 0; n < sh->n; ++n) {
            for (uint64_t s = 0; s < sh->s; ++s) {
                double v = constant ? mean : mean + std * rng_normal(r);
                if (c->data == CASE_DATA_OUTLIER && n == 0 && s == 0) v = mean + 1000.0 * std;
                x[ref_index(sh, n, ch, s)] = case_storage_round((float)v, c->tensor.dtype);
            }
        }
    }
}

static void host_free(host_data* h) {
    free(h->x);
    free(h->z);
    free(h->weight);
    free(h->bias);
    free(h->rm);
    free(h->rv);
    memset(h, 0, sizeof *h);
}

static int host_alloc(const fwd_case* c, host_data* h) {
    memset(h, 0, sizeof *h);
    h->shape = ref_shape_from_desc(&c->tensor);
    h->count = h->shape.n * h->shape.c * h->shape.s;
    size_t cc = (size_t)h->shape.c;
    h->x = malloc(h->count * sizeof(float));
    h->z = malloc(h->count * sizeof(float));
    h->weight = malloc(cc * sizeof(float));
    h->bias = malloc(cc * sizeof(float));
    h->rm = malloc(cc * sizeof(float));
    h->rv = malloc(cc * sizeof(float));
    if (!h->x || !h->z || !h->weight || !h->bias || !h->rm || !h->rv) {
        host_free(h);
        return -1;
    }
    rng r;
    rng_seed(&r, c->seed * 7919 + 17);
    for (size_t i = 0; i < cc; ++i) {
        h->weight[i] = (float)(3.0 * rng_uniform(&r) - 1.5);
        h->bias[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
        h->rm[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
        h->rv[i] = (float)(0.5 + 1.5 * rng_uniform(&r));
    }
    for (uint64_t i = 0; i < h->count; ++i) h->z[i] = case_storage_round((float)rng_normal(&r), c->tensor.dtype);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Device side                                                               */
/* ------------------------------------------------------------------------ */

typedef struct device_data {
    vkbn_buffer x_root, y_root, z_root, mask_root;
    vkbn_buffer x, y, z, mask;
    vkbn_buffer weight, bias, rm, rv, save_mean, save_invstd;
    uint64_t mask_bytes;
} device_data;

static void device_free(device_data* d) {
    vkbn_buffer* all[] = {&d->x,         &d->y,      &d->z,    &d->x_root, &d->y_root, &d->z_root,    &d->mask,
                          &d->mask_root, &d->weight, &d->bias, &d->rm,     &d->rv,     &d->save_mean, &d->save_invstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) {
        vkbn_buffer_destroy(*all[i]);
        *all[i] = NULL;
    }
}

static int fail(case_result* r, const char* what, vkbn_result code) {
    snprintf(r->message, sizeof r->message, "%s: %s (%s)", what, vkbn_last_error(), vkbn_result_string(code));
    r->ok = 0;
    return -1;
}

/* A tensor buffer with `offset` bytes in front of it (a view), so kernels see
 * data at non-zero offsets. */
vkbn_result case_tensor_buffer(vkbn_context ctx, uint64_t bytes, uint64_t offset, vkbn_buffer* root,
                               vkbn_buffer* view) {
    vkbn_result res = vkbn_buffer_create(ctx, bytes + offset, root);
    if (res != VKBN_SUCCESS) return res;
    if (offset == 0) {
        *view = NULL;
        return VKBN_SUCCESS;
    }
    return vkbn_buffer_create_view(*root, offset, bytes, view);
}

vkbn_result case_upload_tensor(vkbn_buffer b, const float* v, uint64_t count, vkbn_dtype dtype) {
    if (dtype == VKBN_DTYPE_F32) return vkbn_buffer_upload(b, 0, v, count * 4);
    uint16_t* h = malloc(count * 2);
    if (!h) return VKBN_ERROR_OUT_OF_HOST_MEMORY;
    ref_storage_encode(h, v, count, (int)dtype);
    vkbn_result res = vkbn_buffer_upload(b, 0, h, count * 2);
    free(h);
    return res;
}

vkbn_result case_download_tensor(vkbn_buffer b, float* v, uint64_t count, vkbn_dtype dtype) {
    if (dtype == VKBN_DTYPE_F32) return vkbn_buffer_download(b, 0, v, count * 4);
    uint16_t* h = malloc(count * 2);
    if (!h) return VKBN_ERROR_OUT_OF_HOST_MEMORY;
    vkbn_result res = vkbn_buffer_download(b, 0, h, count * 2);
    if (res == VKBN_SUCCESS) ref_storage_decode(v, h, count, (int)dtype);
    free(h);
    return res;
}

static vkbn_buffer either(vkbn_buffer view, vkbn_buffer root) { return view ? view : root; }

static int device_alloc(vkbn_context ctx, const fwd_case* c, const host_data* h, device_data* d, case_result* r) {
    memset(d, 0, sizeof *d);
    uint64_t bytes = h->count * vkbn_dtype_size(c->tensor.dtype);
    uint64_t vec = h->shape.c * 4;
    vkbn_result res = case_tensor_buffer(ctx, bytes, c->offset_bytes, &d->x_root, &d->x);
    if (res == VKBN_SUCCESS && !c->in_place) res = case_tensor_buffer(ctx, bytes, c->offset_bytes, &d->y_root, &d->y);
    if (res == VKBN_SUCCESS && c->residual) res = case_tensor_buffer(ctx, bytes, c->offset_bytes, &d->z_root, &d->z);
    if (res == VKBN_SUCCESS && c->affine) res = vkbn_buffer_create(ctx, vec, &d->weight);
    if (res == VKBN_SUCCESS && c->affine) res = vkbn_buffer_create(ctx, vec, &d->bias);
    if (res == VKBN_SUCCESS && (c->running || !c->training)) res = vkbn_buffer_create(ctx, vec, &d->rm);
    if (res == VKBN_SUCCESS && (c->running || !c->training)) res = vkbn_buffer_create(ctx, vec, &d->rv);
    if (res == VKBN_SUCCESS && c->training) res = vkbn_buffer_create(ctx, vec, &d->save_mean);
    if (res == VKBN_SUCCESS && c->training) res = vkbn_buffer_create(ctx, vec, &d->save_invstd);
    if (res == VKBN_SUCCESS && c->affine) res = vkbn_buffer_upload(d->weight, 0, h->weight, vec);
    if (res == VKBN_SUCCESS && c->affine) res = vkbn_buffer_upload(d->bias, 0, h->bias, vec);
    if (res == VKBN_SUCCESS && d->rm) res = vkbn_buffer_upload(d->rm, 0, h->rm, vec);
    if (res == VKBN_SUCCESS && d->rv) res = vkbn_buffer_upload(d->rv, 0, h->rv, vec);
    if (res == VKBN_SUCCESS && c->residual) {
        res = case_upload_tensor(either(d->z, d->z_root), h->z, h->count, c->tensor.dtype);
    }
    if (res == VKBN_SUCCESS && c->mask) {
        vkbn_mask_requirements req;
        res = vkbn_activation_mask_requirements(&c->tensor, &req);
        d->mask_bytes = req.size;
        if (res == VKBN_SUCCESS) res = case_tensor_buffer(ctx, req.size, c->offset_bytes, &d->mask_root, &d->mask);
    }
    if (res != VKBN_SUCCESS) {
        device_free(d);
        return fail(r, "allocating buffers", res);
    }
    return 0;
}

int case_mask_bit(float y, vkbn_activation a, float alpha, float beta) {
    if (a == VKBN_ACTIVATION_CLAMP) return y > alpha && y < beta;
    return y > 0.0f;
}

/* Garbage in the whole mask buffer (offset included): the pass must clear
 * and set each of its bits, with no pre-clear. */
static vkbn_result fill_mask_garbage(vkbn_buffer root, uint64_t bytes, int step) {
    uint8_t* g = malloc(bytes ? bytes : 1);
    if (!g) return VKBN_ERROR_OUT_OF_HOST_MEMORY;
    for (uint64_t i = 0; i < bytes; ++i) g[i] = (uint8_t)((i * 37u + 0xA5u + (unsigned)step * 0x5Bu) ^ (i >> 3));
    vkbn_result res = vkbn_buffer_upload(root, 0, g, bytes);
    free(g);
    return res;
}

/* Every bit of the mask against the backward's test of the stored y. */
static void check_mask(const fwd_case* c, const host_data* h, const uint8_t* mask, const float* y, case_result* r) {
    for (uint64_t i = 0; i < h->count; ++i) {
        int want = case_mask_bit(y[i], c->activation, c->activation_alpha, c->activation_beta);
        if (case_mask_get(mask, i) != want) {
            snprintf(r->message, sizeof r->message, "activation mask: bit %llu is %d, but the stored y = %.9g gives %d",
                     (unsigned long long)i, case_mask_get(mask, i), (double)y[i], want);
            r->ok = 0;
            return;
        }
    }
}

/* One step on the device: upload x, run, download everything. */
typedef struct step_out {
    float* y;
    float* mean;
    float* invstd;
    float* rm;
    float* rv;
    uint8_t* mask; /* c->mask: the mask's bytes */
} step_out;

static int device_step(vkbn_context ctx, const fwd_case* c, const host_data* h, device_data* d, int step, step_out* o,
                       case_result* r) {
    vkbn_buffer x = either(d->x, d->x_root);
    vkbn_buffer y = c->in_place ? x : either(d->y, d->y_root);
    vkbn_buffer z = c->residual ? either(d->z, d->z_root) : NULL;
    vkbn_result res = case_upload_tensor(x, h->x, h->count, c->tensor.dtype);
    if (res == VKBN_SUCCESS && d->mask_root) {
        res = fill_mask_garbage(d->mask_root, d->mask_bytes + (d->mask ? c->offset_bytes : 0), step);
    }
    if (res != VKBN_SUCCESS) return fail(r, "uploading x", res);
    vkbn_buffer mask = either(d->mask, d->mask_root);
    vkbn_plan plan = NULL;
    if (c->training) {
        vkbn_forward_training_desc t;
        memset(&t, 0, sizeof t);
        t.tensor = c->tensor;
        t.x = x;
        t.y = y;
        t.residual = z;
        t.weight = d->weight;
        t.bias = d->bias;
        t.running_mean = d->rm;
        t.running_var = d->rv;
        t.save_mean = d->save_mean;
        t.save_invstd = d->save_invstd;
        t.eps = c->eps;
        t.momentum = c->momentum;
        t.running_average = c->running_average;
        t.cumulative_count = c->cumulative_count + (uint64_t)step;
        t.biased_running_var = c->biased_running_var;
        t.activation = c->activation;
        t.activation_alpha = c->activation_alpha;
        t.activation_beta = c->activation_beta;
        t.reduction_split = c->reduction_split;
        t.activation_mask = mask;
        res = vkbn_plan_create_forward_training(ctx, &t, &plan);
    } else {
        vkbn_forward_inference_desc t;
        memset(&t, 0, sizeof t);
        t.tensor = c->tensor;
        t.x = x;
        t.y = y;
        t.residual = z;
        t.weight = d->weight;
        t.bias = d->bias;
        t.running_mean = d->rm;
        t.running_var = d->rv;
        t.eps = c->eps;
        t.activation = c->activation;
        t.activation_alpha = c->activation_alpha;
        t.activation_beta = c->activation_beta;
        t.activation_mask = mask;
        res = vkbn_plan_create_forward_inference(ctx, &t, &plan);
    }
    if (res != VKBN_SUCCESS) return fail(r, "creating the plan", res);
    if (step == 0) snprintf(r->plan, sizeof r->plan, "%s", vkbn_plan_describe(plan));
    res = vkbn_plan_execute(plan);
    vkbn_plan_destroy(plan);
    if (res != VKBN_SUCCESS) return fail(r, "executing the plan", res);
    uint64_t vec = h->shape.c * 4;
    res = case_download_tensor(y, o->y, h->count, c->tensor.dtype);
    if (res == VKBN_SUCCESS && c->training) res = vkbn_buffer_download(d->save_mean, 0, o->mean, vec);
    if (res == VKBN_SUCCESS && c->training) res = vkbn_buffer_download(d->save_invstd, 0, o->invstd, vec);
    if (res == VKBN_SUCCESS && d->rm) res = vkbn_buffer_download(d->rm, 0, o->rm, vec);
    if (res == VKBN_SUCCESS && d->rv) res = vkbn_buffer_download(d->rv, 0, o->rv, vec);
    if (res == VKBN_SUCCESS && mask) res = vkbn_buffer_download(mask, 0, o->mask, d->mask_bytes);
    if (res != VKBN_SUCCESS) return fail(r, "downloading results", res);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct ref_out {
    double* y;
    double* mean;
    double* invstd;
    double* var;
    double* rm;
    double* rv;
    double* maxdev; /* per channel max |x - mean| */
} ref_out;

static void worse(double* slot, double value) {
    if (!(value <= *slot)) *slot = value; /* NaN counts as worst */
}

/* Records the scaled error err / tol in *slot; NaN and inf propagate. */
static void scaled(double* slot, double got, double want, double tol) {
    if (isnan(want) && isnan(got)) return;
    if (isinf(want) && got == want) return;
    worse(slot, fabs(got - want) / tol);
}

static double log2m(double m) { return m > 2 ? log2(m) : 1.0; }

static void check_step(const fwd_case* c, const host_data* h, const step_out* o, const ref_out* ref, int steps_done,
                       case_result* r) {
    const ref_shape* sh = &h->shape;
    double m = (double)(sh->n * sh->s);
    const double ulp = ref_storage_ulp((int)c->tensor.dtype);
    double lip = case_activation_lipschitz(c->activation, c->activation_alpha);
    for (uint64_t ch = 0; ch < sh->c; ++ch) {
        double mean = c->training ? ref->mean[ch] : h->rm[ch];
        double var = c->training ? ref->var[ch] : h->rv[ch];
        double sigma = sqrt(var), dev = ref->maxdev[ch];
        double kappa = sigma > 0 ? 1.0 + dev / sigma : 1.0;
        /* Inference reads the variance; training reduces it over m values. */
        double var_tol = c->training ? SLACK * ROUNDOFF * kappa * log2m(m) : SLACK * ROUNDOFF;
        double invstd = 1.0 / sqrt(var + c->eps);
        double gamma = c->affine ? h->weight[ch] : 1.0, beta = c->affine ? h->bias[ch] : 0.0;
        if (c->training) {
            scaled(&r->mean, o->mean[ch], mean, SLACK * ROUNDOFF * (fabs(mean) + dev) + 1e-30);
            double inv_tol = (0.5 * var_tol * var / (var + c->eps) + SLACK * ROUNDOFF) * invstd;
            scaled(&r->invstd, o->invstd[ch], ref->invstd[ch], inv_tol);
            double got_var = 1.0 / ((double)o->invstd[ch] * o->invstd[ch]) - c->eps;
            if (var > 0) worse(&r->var_rel, fabs(got_var - var) / var);
        }
        if (c->training && c->running) {
            double k = steps_done;
            scaled(&r->running, o->rm[ch], ref->rm[ch],
                   k * SLACK * ROUNDOFF * (fabs(ref->rm[ch]) + fabs(mean) + dev) + 1e-30);
            scaled(&r->running, o->rv[ch], ref->rv[ch], k * (var_tol + SLACK * ROUNDOFF) * fabs(ref->rv[ch]) + 1e-30);
        }
        for (uint64_t n = 0; n < sh->n; ++n) {
            for (uint64_t s = 0; s < sh->s; ++s) {
                uint64_t i = ref_index(sh, n, ch, s);
                double xhat = (h->x[i] - mean) * invstd;
                double zabs = c->residual ? fabs(h->z[i]) : 0.0;
                double u = gamma * xhat + beta + (c->residual ? h->z[i] : 0.0);
                /* The error of u, through the activation, and the activation's own. */
                double tol = lip * (SLACK * ROUNDOFF *
                                        (fabs(gamma) * invstd * (fabs(h->x[i] - mean) + dev) + fabs(beta) + zabs) +
                                    0.5 * var_tol * fabs(gamma * xhat)) +
                             SLACK * ROUNDOFF * case_activation_ulps(c->activation, u) * fabs(ref->y[i]);
                if (ulp > 0) tol += fabs(ref->y[i]) * ulp + 1.0 / 16777216.0;
                scaled(&r->y, o->y[i], ref->y[i], tol + 1e-30);
            }
        }
    }
}

/* SEMANTICS.md: a constant channel has var exactly 0 and y = beta, never NaN. */
static void check_constant_channel(const fwd_case* c, const host_data* h, const step_out* o, case_result* r) {
    if (c->data != CASE_DATA_CONSTANT || !c->training || c->eps <= 0) return;
    const ref_shape* sh = &h->shape;
    float want = c->affine ? h->bias[0] : 0.0f;
    bool z_free = !c->residual && c->activation == VKBN_ACTIVATION_NONE;
    for (uint64_t n = 0; n < sh->n && z_free; ++n) {
        for (uint64_t s = 0; s < sh->s; ++s) {
            float got = o->y[ref_index(sh, n, 0, s)];
            if (got != case_storage_round(want, c->tensor.dtype)) {
                snprintf(r->message, sizeof r->message, "constant channel: y = %.9g, expected beta = %.9g exactly",
                         (double)got, (double)want);
                r->ok = 0;
                return;
            }
        }
    }
    float inv = o->invstd[0];
    double expect = 1.0 / sqrt((double)c->eps);
    if (!(fabs(inv - expect) <= 4 * ROUNDOFF * expect)) {
        snprintf(r->message, sizeof r->message, "constant channel: invstd = %.9g, expected 1/sqrt(eps) = %.9g",
                 (double)inv, expect);
        r->ok = 0;
    }
}

typedef struct ref_inputs {
    double* x;
    double* z;
    double* w;
    double* b;
} ref_inputs;

/* The fp64 reference for one step; rm/rv (doubles) carry over between steps. */
static void reference_step(const fwd_case* c, const host_data* h, int step, const ref_inputs* in, double* rm,
                           double* rv, ref_out* ref) {
    for (uint64_t i = 0; i < h->count; ++i) in->x[i] = h->x[i];
    if (c->training) {
        ref_forward_training a;
        memset(&a, 0, sizeof a);
        a.shape = h->shape;
        a.x = in->x;
        a.z = c->residual ? in->z : NULL;
        a.weight = c->affine ? in->w : NULL;
        a.bias = c->affine ? in->b : NULL;
        a.running_mean = c->running ? rm : NULL;
        a.running_var = c->running ? rv : NULL;
        a.eps = c->eps;
        a.factor = c->running_average == VKBN_RUNNING_AVERAGE_CUMULATIVE
                       ? 1.0 / ((double)(c->cumulative_count + (uint64_t)step) + 1.0)
                       : (double)c->momentum;
        a.biased_running_var = c->biased_running_var;
        a.activation = c->activation;
        a.activation_alpha = c->activation_alpha;
        a.activation_beta = c->activation_beta;
        a.y = ref->y;
        a.mean = ref->mean;
        a.invstd = ref->invstd;
        a.var = ref->var;
        ref_batchnorm_forward_training(&a);
    } else {
        ref_forward_inference a;
        memset(&a, 0, sizeof a);
        a.shape = h->shape;
        a.x = in->x;
        a.z = c->residual ? in->z : NULL;
        a.weight = c->affine ? in->w : NULL;
        a.bias = c->affine ? in->b : NULL;
        a.running_mean = rm;
        a.running_var = rv;
        a.eps = c->eps;
        a.activation = c->activation;
        a.activation_alpha = c->activation_alpha;
        a.activation_beta = c->activation_beta;
        a.y = ref->y;
        ref_batchnorm_forward_inference(&a);
    }
    ref->rm = rm;
    ref->rv = rv;
    const ref_shape* sh = &h->shape;
    for (uint64_t ch = 0; ch < sh->c; ++ch) {
        double mean = c->training ? ref->mean[ch] : rm[ch], dev = 0;
        for (uint64_t n = 0; n < sh->n; ++n) {
            for (uint64_t s = 0; s < sh->s; ++s) {
                double d = fabs(in->x[ref_index(sh, n, ch, s)] - mean);
                if (d > dev) dev = d;
            }
        }
        ref->maxdev[ch] = dev;
    }
}

typedef struct buffers {
    host_data h;
    device_data d;
    step_out o;
    ref_out ref;
    ref_inputs in;
    double* rm;
    double* rv;
} buffers;

static void buffers_free(buffers* b) {
    host_free(&b->h);
    device_free(&b->d);
    void* all[] = {b->o.y,      b->o.mean,     b->o.invstd, b->o.rm,       b->o.rv,  b->ref.y,
                   b->ref.mean, b->ref.invstd, b->ref.var,  b->ref.maxdev, b->in.x,  b->in.z,
                   b->in.w,     b->in.b,       b->rm,       b->rv,         b->o.mask};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    memset(b, 0, sizeof *b);
}

static int buffers_alloc(const fwd_case* c, buffers* b) {
    memset(b, 0, sizeof *b);
    if (host_alloc(c, &b->h) != 0) return -1;
    size_t n = (size_t)b->h.count, cc = (size_t)b->h.shape.c;
    b->o.y = malloc(n * sizeof(float));
    b->ref.y = malloc(n * sizeof(double));
    b->in.x = malloc(n * sizeof(double));
    b->in.z = malloc(n * sizeof(double));
    b->o.mean = malloc(cc * sizeof(float));
    b->o.invstd = malloc(cc * sizeof(float));
    b->o.rm = malloc(cc * sizeof(float));
    b->o.rv = malloc(cc * sizeof(float));
    b->ref.mean = malloc(cc * sizeof(double));
    b->ref.invstd = malloc(cc * sizeof(double));
    b->ref.var = malloc(cc * sizeof(double));
    b->ref.maxdev = malloc(cc * sizeof(double));
    b->in.w = malloc(cc * sizeof(double));
    b->in.b = malloc(cc * sizeof(double));
    b->rm = malloc(cc * sizeof(double));
    b->rv = malloc(cc * sizeof(double));
    b->o.mask = malloc((size_t)(b->h.count + 31) / 32 * 4);
    if (!b->o.mask || !b->o.y || !b->ref.y || !b->in.x || !b->in.z || !b->o.mean || !b->o.invstd || !b->o.rm ||
        !b->o.rv || !b->ref.mean || !b->ref.invstd || !b->ref.var || !b->ref.maxdev || !b->in.w || !b->in.b || !b->rm ||
        !b->rv) {
        buffers_free(b);
        return -1;
    }
    for (size_t i = 0; i < n; ++i) b->in.z[i] = b->h.z[i];
    for (size_t i = 0; i < cc; ++i) {
        b->in.w[i] = b->h.weight[i];
        b->in.b[i] = b->h.bias[i];
        b->rm[i] = b->h.rm[i];
        b->rv[i] = b->h.rv[i];
    }
    return 0;
}

static void step_data(const fwd_case* c, buffers* b, int step) {
    rng r;
    rng_seed(&r, c->seed * 1000003 + (uint64_t)step);
    gen_x(c, &b->h.shape, &r, b->h.x);
}

int case_skip_f16(vkbn_context ctx, vkbn_dtype dtype, char* message, size_t size) {
    vkbn_device_info info;
    if (dtype != VKBN_DTYPE_F16 || vkbn_context_get_device_info(ctx, &info) != VKBN_SUCCESS) return 0;
    if (info.storage_16bit) return 0;
    snprintf(message, size, "skipped: %s has no 16-bit storage", info.name);
    return 1;
}

int case_run(vkbn_context ctx, const fwd_case* c, case_result* r) {
    memset(r, 0, sizeof *r);
    r->ok = 1;
    if (case_skip_f16(ctx, c->tensor.dtype, r->message, sizeof r->message)) return 0;
    uint64_t messages = vkbn_context_validation_message_count(ctx);
    buffers b;
    if (buffers_alloc(c, &b) != 0) {
        snprintf(r->message, sizeof r->message, "out of host memory");
        r->ok = 0;
        return -1;
    }
    int rc = device_alloc(ctx, c, &b.h, &b.d, r);
    int steps = c->training && c->steps > 1 ? c->steps : 1;
    for (int step = 0; step < steps && rc == 0; ++step) {
        step_data(c, &b, step);
        rc = device_step(ctx, c, &b.h, &b.d, step, &b.o, r);
        if (rc != 0) break;
        reference_step(c, &b.h, step, &b.in, b.rm, b.rv, &b.ref);
        check_step(c, &b.h, &b.o, &b.ref, step + 1, r);
        if (c->mask) check_mask(c, &b.h, b.o.mask, b.o.y, r);
    }
    if (rc == 0) {
        check_constant_channel(c, &b.h, &b.o, r);
        bool large = c->data == CASE_DATA_LARGE_MEAN && c->tensor.dtype == VKBN_DTYPE_F32 && c->training;
        if (!(r->y <= 1 && r->mean <= 1 && r->invstd <= 1 && r->running <= 1)) r->ok = 0;
        if (large && !(r->var_rel <= 1e-4)) {
            snprintf(r->message, sizeof r->message, "variance relative error %.3g exceeds 1e-4 on mean-1e4 data",
                     r->var_rel);
            r->ok = 0;
        }
        if (!r->ok && !r->message[0]) {
            snprintf(r->message, sizeof r->message, "outside tolerance (y %.3g mean %.3g invstd %.3g running %.3g)",
                     r->y, r->mean, r->invstd, r->running);
        }
        rc = r->ok ? 0 : 1;
    }
    uint64_t after = vkbn_context_validation_message_count(ctx);
    if (after != messages) {
        snprintf(r->message, sizeof r->message, "%llu Vulkan validation message(s) during the case",
                 (unsigned long long)(after - messages));
        r->ok = 0;
        rc = -1;
    }
    buffers_free(&b);
    return rc;
}

/* Bitwise comparison of two runs' outputs. */
static int same_bits(const void* a, const void* b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

int case_run_deterministic(vkbn_context ctx, const fwd_case* c, case_result* r) {
    memset(r, 0, sizeof *r);
    r->ok = 1;
    if (case_skip_f16(ctx, c->tensor.dtype, r->message, sizeof r->message)) return 0;
    buffers runs[2];
    int rc = 0;
    for (int k = 0; k < 2; ++k) {
        if (buffers_alloc(c, &runs[k]) != 0) {
            if (k == 1) buffers_free(&runs[0]);
            snprintf(r->message, sizeof r->message, "out of host memory");
            r->ok = 0;
            return -1;
        }
    }
    for (int k = 0; k < 2 && rc == 0; ++k) {
        rc = device_alloc(ctx, c, &runs[k].h, &runs[k].d, r);
        int steps = c->training && c->steps > 1 ? c->steps : 1;
        for (int step = 0; step < steps && rc == 0; ++step) {
            step_data(c, &runs[k], step);
            rc = device_step(ctx, c, &runs[k].h, &runs[k].d, step, &runs[k].o, r);
        }
    }
    if (rc == 0) {
        size_t n = (size_t)runs[0].h.count, cc = (size_t)runs[0].h.shape.c;
        bool same = same_bits(runs[0].o.y, runs[1].o.y, n * sizeof(float));
        /* The mask's bits past the last element are unspecified. */
        for (size_t i = 0; c->mask && i < n; ++i) {
            same = same && case_mask_get(runs[0].o.mask, i) == case_mask_get(runs[1].o.mask, i);
        }
        if (c->training) {
            same = same && same_bits(runs[0].o.mean, runs[1].o.mean, cc * sizeof(float)) &&
                   same_bits(runs[0].o.invstd, runs[1].o.invstd, cc * sizeof(float));
        }
        if (c->training && c->running) {
            same = same && same_bits(runs[0].o.rm, runs[1].o.rm, cc * sizeof(float)) &&
                   same_bits(runs[0].o.rv, runs[1].o.rv, cc * sizeof(float));
        }
        if (!same) {
            snprintf(r->message, sizeof r->message, "two runs of the same case differ bitwise");
            r->ok = 0;
            rc = 1;
        }
    }
    buffers_free(&runs[0]);
    buffers_free(&runs[1]);
    return rc;
}
