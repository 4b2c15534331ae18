/* Runs backward cases through the public API and checks them against the
 * fp64 reference.
 *
 * Tolerances come from error analysis, as in cases.c. With unit roundoff
 * u = 2^-24 and R = 32, per channel c, from the reference (in double):
 * g_i = dy_i act'(u_i), xhat_i = (x_i - mean) invstd, k1 = gamma invstd,
 * A_g = sum |g_i|, A_t = sum |g_i xhat_i|, and dg_i a bound on the error of
 * the kernel's g_i:
 *   none, relu, clamp: 0 (a selection of dy); leaky_relu: u |g_i|;
 *   silu: |dy_i| R u (s (1 + |u|)^2 + (|gamma xhat| + |beta| + |z|) / 2)
 *   (act' = s (1 + u (1 - s)) through exp's 3 + 2|u| ulp, and the error of
 *   the recomputed u through |act''| <= 1/2).
 * - dbias:   |error| <= R u A_g + sum dg_i
 * - dweight: |error| <= R u A_t + sum dg_i |xhat_i|
 *   The kernels add chunks of at most 16 terms pairwise and the chunk sums
 *   with compensation (shaders/bwd_sum.glsl), so the bound does not grow
 *   with m; a plain float sum needs up to (m / P) u A_g for P parallel
 *   partial sums, which the BWD_DY_SPIKE data exposes through dbias.
 * - dz_i:    |error| <= R u |g_i| + dg_i
 * - dx_i, training: R u |k1| (|g_i| + |dbias| / m + |xhat_i dweight| / m)
 *            + |k1| (dg_i + tol(dbias) / m + |xhat_i| tol(dweight) / m);
 *   frozen: R u |k1 g_i| + |k1| dg_i (invstd from the running variance
 *   carries a few ulp of sqrt and division, inside R).
 * 16-bit storage adds one ulp of dx and dz (|value| / 1024 + 2^-24 for
 * f16, |value| / 128 + 2^-24 for bf16). The
 * y that selects act' is the stored y for both sides, so masks agree exactly. */
#include "bwd_cases.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"
#include "reference.h"

#define ROUNDOFF (1.0 / 16777216.0) /* 2^-24 */
#define SLACK 32.0
#define TINY 1e-30

bwd_case bwd_case_default(uint32_t n, uint32_t c, uint32_t rank, const uint32_t* spatial, vkbn_layout layout,
                          vkbn_dtype dtype) {
    bwd_case k;
    memset(&k, 0, sizeof k);
    k.tensor.n = n;
    k.tensor.c = c;
    k.tensor.spatial_rank = rank;
    for (uint32_t i = 0; i < rank && i < 3; ++i) k.tensor.spatial[i] = spatial[i];
    k.tensor.layout = layout;
    k.tensor.dtype = dtype;
    k.affine = 1;
    k.outputs = BWD_OUT_DX | BWD_OUT_DWEIGHT | BWD_OUT_DBIAS;
    k.eps = VKBN_DEFAULT_EPS;
    k.seed = 1;
    return k;
}

void bwd_case_describe(const bwd_case* c, char* out, size_t size) {
    char spatial[64] = "", act[64], outs[32] = "", extra[96] = "";
    size_t at = 0;
    for (uint32_t i = 0; i < c->tensor.spatial_rank && i < 3; ++i) {
        at += (size_t)snprintf(spatial + at, sizeof spatial - at, "%s%u", i ? "x" : " s=", c->tensor.spatial[i]);
    }
    case_describe_activation(c->activation, c->activation_alpha, c->activation_beta, act, sizeof act);
    static const char* const names[] = {"dx", "dw", "db", "dz"};
    at = 0;
    for (int b = 0; b < 4; ++b) {
        if (c->outputs & (1u << b))
            at += (size_t)snprintf(outs + at, sizeof outs - at, "%s%s", at ? "+" : " ", names[b]);
    }
    static const char* const data_names[] = {"", " data=mean1e4", " data=constant-ch0", " data=outlier"};
    at = 0;
    if (c->reduction_split) at += (size_t)snprintf(extra + at, sizeof extra - at, " split=%u", c->reduction_split);
    if (c->offset_bytes) {
        at += (size_t)snprintf(extra + at, sizeof extra - at, " offset=%llu", (unsigned long long)c->offset_bytes);
    }
    if (c->in_place) at += (size_t)snprintf(extra + at, sizeof extra - at, " in-place");
    if (c->mask) at += (size_t)snprintf(extra + at, sizeof extra - at, " mask");
    if (c->dy_data == BWD_DY_OFFSET) at += (size_t)snprintf(extra + at, sizeof extra - at, " dy=1000+N");
    if (c->dy_data == BWD_DY_SPIKE) at += (size_t)snprintf(extra + at, sizeof extra - at, " dy=spike");
    snprintf(out, size, "bwd %s %s %s n=%u c=%u%s%s%s%s%s eps=%g%s%s", c->frozen ? "frozen" : "train",
             c->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw", ref_dtype_name((int)c->tensor.dtype),
             c->tensor.n, c->tensor.c, spatial, c->affine ? " affine" : "", c->residual ? " residual" : "", act, outs,
             (double)c->eps, extra, (size_t)c->data < 4 ? data_names[c->data] : "");
}

/* ------------------------------------------------------------------------ */
/* Inputs: as stored (f16 values already rounded), and the fp64 forward      */
/* ------------------------------------------------------------------------ */

typedef struct host_data {
    ref_shape shape;
    uint64_t count;
    float *x, *dy, *y, *z;                          /* tensors, as stored */
    float *weight, *bias, *mean, *invstd, *rm, *rv; /* c floats */
} host_data;

static void host_free(host_data* h) {
    float* all[] = {h->x, h->dy, h->y, h->z, h->weight, h->bias, h->mean, h->invstd, h->rm, h->rv};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    memset(h, 0, sizeof *h);
}

static double* to_double(const float* v, uint64_t n) {
    double* d = malloc((n ? n : 1) * sizeof *d);
    for (uint64_t i = 0; d && i < n; ++i) d[i] = v[i];
    return d;
}

static void gen_x(const bwd_case* c, const ref_shape* sh, rng* r, float* x) {
    for (uint64_t ch = 0; ch < sh->c; ++ch) {
        double mean = 4.0 * rng_uniform(r) - 2.0, std = 0.5 + 1.5 * rng_uniform(r);
        if (c->data == CASE_DATA_LARGE_MEAN) mean = 1e4, std = 1.0;
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

/* y, save_mean and save_invstd as the forward would have stored them. */
static int run_forward(const bwd_case* c, host_data* h) {
    uint64_t n = h->count, cc = h->shape.c;
    double *x = to_double(h->x, n), *z = to_double(h->z, n), *w = to_double(h->weight, cc);
    double *b = to_double(h->bias, cc), *rm = to_double(h->rm, cc), *rv = to_double(h->rv, cc);
    double *y = malloc(n * sizeof *y), *mean = malloc(cc * sizeof *mean), *invstd = malloc(cc * sizeof *invstd);
    int ok = x && z && w && b && rm && rv && y && mean && invstd;
    if (ok && !c->frozen) {
        ref_forward_training a;
        memset(&a, 0, sizeof a);
        a.shape = h->shape;
        a.x = x;
        a.z = c->residual ? z : NULL;
        a.weight = c->affine ? w : NULL;
        a.bias = c->affine ? b : NULL;
        a.eps = c->eps;
        a.activation = c->activation;
        a.activation_alpha = c->activation_alpha;
        a.activation_beta = c->activation_beta;
        a.y = y;
        a.mean = mean;
        a.invstd = invstd;
        ref_batchnorm_forward_training(&a);
        for (uint64_t i = 0; i < cc; ++i) {
            h->mean[i] = (float)mean[i];
            h->invstd[i] = (float)invstd[i];
        }
    } else if (ok) {
        ref_forward_inference a;
        memset(&a, 0, sizeof a);
        a.shape = h->shape;
        a.x = x;
        a.z = c->residual ? z : NULL;
        a.weight = c->affine ? w : NULL;
        a.bias = c->affine ? b : NULL;
        a.running_mean = rm;
        a.running_var = rv;
        a.eps = c->eps;
        a.activation = c->activation;
        a.activation_alpha = c->activation_alpha;
        a.activation_beta = c->activation_beta;
        a.y = y;
        ref_batchnorm_forward_inference(&a);
    }
    for (uint64_t i = 0; ok && i < n; ++i) h->y[i] = case_storage_round((float)y[i], c->tensor.dtype);
    double* all[] = {x, z, w, b, rm, rv, y, mean, invstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    return ok ? 0 : -1;
}

static int host_alloc(const bwd_case* c, host_data* h) {
    memset(h, 0, sizeof *h);
    h->shape = ref_shape_from_desc(&c->tensor);
    h->count = h->shape.n * h->shape.c * h->shape.s;
    size_t n = (size_t)h->count, cc = (size_t)h->shape.c;
    float** tensors[] = {&h->x, &h->dy, &h->y, &h->z};
    float** vectors[] = {&h->weight, &h->bias, &h->mean, &h->invstd, &h->rm, &h->rv};
    int ok = 1;
    for (size_t i = 0; i < 4; ++i) ok &= (*tensors[i] = malloc(n * sizeof(float))) != NULL;
    for (size_t i = 0; i < 6; ++i) ok &= (*vectors[i] = calloc(cc, sizeof(float))) != NULL;
    if (!ok) {
        host_free(h);
        return -1;
    }
    rng r;
    rng_seed(&r, c->seed * 6271 + 3);
    for (size_t i = 0; i < cc; ++i) {
        h->weight[i] = (float)(3.0 * rng_uniform(&r) - 1.5);
        h->bias[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
        h->rm[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
        h->rv[i] = (float)(0.5 + 1.5 * rng_uniform(&r));
    }
    gen_x(c, &h->shape, &r, h->x);
    for (size_t i = 0; i < n; ++i) h->z[i] = case_storage_round((float)rng_normal(&r), c->tensor.dtype);
    double offset = c->dy_data == BWD_DY_OFFSET ? 1000.0 : 0.0;
    for (size_t i = 0; i < n; ++i) {
        h->dy[i] = case_storage_round((float)(offset + rng_normal(&r)), c->tensor.dtype);
    }
    if (c->dy_data == BWD_DY_SPIKE) {
        const ref_shape* sh = &h->shape;
        for (uint64_t ch = 0; ch < sh->c; ++ch)
            for (uint64_t k = 0; k < sh->n * sh->s; ++k)
                h->dy[ref_index(sh, k / sh->s, ch, k % sh->s)] = k ? 1.7e-9f : 1.0f;
    }
    if (run_forward(c, h) != 0) {
        host_free(h);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Device side                                                               */
/* ------------------------------------------------------------------------ */

enum { T_X, T_DY, T_Y, T_Z, T_DX, T_DZ, T_MASK, T_COUNT };
enum { V_W, V_B, V_MEAN, V_INVSTD, V_RM, V_RV, V_DW, V_DB, V_COUNT };

typedef struct device_data {
    vkbn_buffer root[T_COUNT], view[T_COUNT];
    vkbn_buffer vec[V_COUNT];
} device_data;

static void device_free(device_data* d) {
    for (int i = 0; i < T_COUNT; ++i) {
        vkbn_buffer_destroy(d->view[i]);
        vkbn_buffer_destroy(d->root[i]);
    }
    for (int i = 0; i < V_COUNT; ++i) vkbn_buffer_destroy(d->vec[i]);
    memset(d, 0, sizeof *d);
}

static vkbn_buffer tensor(const device_data* d, int t) { return d->view[t] ? d->view[t] : d->root[t]; }

static int fail(bwd_result* r, const char* what, vkbn_result code) {
    snprintf(r->message, sizeof r->message, "%s: %s (%s)", what, vkbn_last_error(), vkbn_result_string(code));
    r->ok = 0;
    return -1;
}

/* Outputs downloaded from the device, as floats. */
typedef struct outputs {
    float *dx, *dz, *dw, *db;
} outputs;

static void outputs_free(outputs* o) {
    free(o->dx);
    free(o->dz);
    free(o->dw);
    free(o->db);
    memset(o, 0, sizeof *o);
}

static int outputs_alloc(const host_data* h, outputs* o) {
    o->dx = calloc(h->count, sizeof(float));
    o->dz = calloc(h->count, sizeof(float));
    o->dw = calloc(h->shape.c, sizeof(float));
    o->db = calloc(h->shape.c, sizeof(float));
    return o->dx && o->dz && o->dw && o->db ? 0 : -1;
}

static vkbn_result upload_vec(vkbn_context ctx, const float* v, uint64_t c, vkbn_buffer* out) {
    vkbn_result res = vkbn_buffer_create(ctx, c * 4, out);
    if (res == VKBN_SUCCESS && v) res = vkbn_buffer_upload(*out, 0, v, c * 4);
    return res;
}

/* The activation mask of the stored y, with every bit past the last
 * element set (unspecified: the kernels must not read them), and garbage
 * in the offset_bytes in front of it. */
static vkbn_result upload_mask(const bwd_case* c, const host_data* h, const device_data* d, uint64_t bytes) {
    uint64_t front = d->view[T_MASK] ? c->offset_bytes : 0;
    uint8_t* m = malloc((size_t)(front + bytes));
    if (!m) return VKBN_ERROR_OUT_OF_HOST_MEMORY;
    for (uint64_t i = 0; i < front; ++i) m[i] = (uint8_t)(0x5Au ^ i);
    memset(m + front, 0xFF, (size_t)bytes);
    for (uint64_t e = 0; e < h->count; ++e) {
        if (!case_mask_bit(h->y[e], c->activation, c->activation_alpha, c->activation_beta)) {
            m[front + e / 8] &= (uint8_t) ~(1u << (e % 8));
        }
    }
    vkbn_result res = vkbn_buffer_upload(d->root[T_MASK], 0, m, front + bytes);
    free(m);
    return res;
}

static vkbn_result make_buffers(vkbn_context ctx, const bwd_case* c, const host_data* h, device_data* d, int use_mask) {
    memset(d, 0, sizeof *d);
    uint64_t bytes = h->count * vkbn_dtype_size(c->tensor.dtype), cc = h->shape.c;
    vkbn_dtype dt = c->tensor.dtype;
    const float* uploads[T_COUNT] = {h->x, h->dy, h->y, h->z, NULL, NULL, NULL};
    bool wanted[T_COUNT] = {true,
                            true,
                            !use_mask,
                            c->residual != 0,
                            (c->outputs & BWD_OUT_DX) && !c->in_place,
                            (c->outputs & BWD_OUT_DRESIDUAL) != 0,
                            use_mask != 0};
    vkbn_result res = VKBN_SUCCESS;
    for (int t = 0; t < T_COUNT && res == VKBN_SUCCESS; ++t) {
        if (!wanted[t]) continue;
        uint64_t size = bytes;
        if (t == T_MASK) {
            vkbn_mask_requirements req;
            res = vkbn_activation_mask_requirements(&c->tensor, &req);
            size = req.size;
        }
        if (res == VKBN_SUCCESS) res = case_tensor_buffer(ctx, size, c->offset_bytes, &d->root[t], &d->view[t]);
        if (res == VKBN_SUCCESS && t == T_MASK) res = upload_mask(c, h, d, size);
        if (res == VKBN_SUCCESS && uploads[t]) res = case_upload_tensor(tensor(d, t), uploads[t], h->count, dt);
    }
    const float* vecs[V_COUNT] = {h->weight, h->bias, h->mean, h->invstd, h->rm, h->rv, NULL, NULL};
    bool vwanted[V_COUNT] = {c->affine != 0,
                             c->affine != 0,
                             !c->frozen,
                             !c->frozen,
                             c->frozen != 0,
                             c->frozen != 0,
                             (c->outputs & BWD_OUT_DWEIGHT) != 0,
                             (c->outputs & BWD_OUT_DBIAS) != 0};
    for (int v = 0; v < V_COUNT && res == VKBN_SUCCESS; ++v) {
        if (vwanted[v]) res = upload_vec(ctx, vecs[v], cc, &d->vec[v]);
    }
    return res;
}

static vkbn_backward_desc make_desc(const bwd_case* c, const device_data* d) {
    vkbn_backward_desc b;
    memset(&b, 0, sizeof b);
    b.tensor = c->tensor;
    b.x = tensor(d, T_X);
    b.dy = tensor(d, T_DY);
    b.y = d->root[T_Y] ? tensor(d, T_Y) : NULL;
    b.activation_mask = d->root[T_MASK] ? tensor(d, T_MASK) : NULL;
    b.residual = c->residual ? tensor(d, T_Z) : NULL;
    b.weight = d->vec[V_W];
    b.bias = d->vec[V_B];
    b.save_mean = d->vec[V_MEAN];
    b.save_invstd = d->vec[V_INVSTD];
    b.frozen = (vkbn_bool)c->frozen;
    b.running_mean = d->vec[V_RM];
    b.running_var = d->vec[V_RV];
    b.eps = c->eps;
    b.activation = c->activation;
    b.activation_alpha = c->activation_alpha;
    b.activation_beta = c->activation_beta;
    if (c->outputs & BWD_OUT_DX) b.dx = c->in_place ? b.dy : tensor(d, T_DX);
    b.dweight = d->vec[V_DW];
    b.dbias = d->vec[V_DB];
    b.dresidual = (c->outputs & BWD_OUT_DRESIDUAL) ? tensor(d, T_DZ) : NULL;
    b.reduction_split = c->reduction_split;
    return b;
}

/* Uploads, runs one plan, downloads the requested outputs into o. */
static int device_run(vkbn_context ctx, const bwd_case* c, const host_data* h, outputs* o, bwd_result* r,
                      int use_mask) {
    device_data d;
    vkbn_result res = make_buffers(ctx, c, h, &d, use_mask);
    if (res != VKBN_SUCCESS) {
        device_free(&d);
        return fail(r, "allocating buffers", res);
    }
    vkbn_backward_desc desc = make_desc(c, &d);
    vkbn_plan plan = NULL;
    res = vkbn_plan_create_backward(ctx, &desc, &plan);
    if (res == VKBN_SUCCESS) {
        snprintf(r->plan, sizeof r->plan, "%s", vkbn_plan_describe(plan));
        res = vkbn_plan_execute(plan);
        vkbn_plan_destroy(plan);
        if (res != VKBN_SUCCESS) {
            device_free(&d);
            return fail(r, "executing the plan", res);
        }
    } else {
        device_free(&d);
        return fail(r, "creating the plan", res);
    }
    uint64_t cc = h->shape.c;
    vkbn_dtype dt = c->tensor.dtype;
    if (desc.dx) res = case_download_tensor(desc.dx, o->dx, h->count, dt);
    if (res == VKBN_SUCCESS && desc.dresidual) res = case_download_tensor(desc.dresidual, o->dz, h->count, dt);
    if (res == VKBN_SUCCESS && desc.dweight) res = vkbn_buffer_download(desc.dweight, 0, o->dw, cc * 4);
    if (res == VKBN_SUCCESS && desc.dbias) res = vkbn_buffer_download(desc.dbias, 0, o->db, cc * 4);
    device_free(&d);
    if (res != VKBN_SUCCESS) return fail(r, "downloading results", res);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The reference and the checks                                              */
/* ------------------------------------------------------------------------ */

typedef struct ref_data {
    double *x, *dy, *y, *z, *w, *b, *mean, *invstd, *rm, *rv; /* inputs */
    double *dx, *dz, *dw, *db;                                /* outputs */
} ref_data;

static void ref_free(ref_data* d) {
    double* all[] = {d->x, d->dy, d->y, d->z, d->w, d->b, d->mean, d->invstd, d->rm, d->rv, d->dx, d->dz, d->dw, d->db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    memset(d, 0, sizeof *d);
}

static int reference(const bwd_case* c, const host_data* h, ref_data* d) {
    memset(d, 0, sizeof *d);
    uint64_t n = h->count, cc = h->shape.c;
    d->x = to_double(h->x, n);
    d->dy = to_double(h->dy, n);
    d->y = to_double(h->y, n);
    d->z = to_double(h->z, n);
    d->w = to_double(h->weight, cc);
    d->b = to_double(h->bias, cc);
    d->mean = to_double(h->mean, cc);
    d->invstd = to_double(h->invstd, cc);
    d->rm = to_double(h->rm, cc);
    d->rv = to_double(h->rv, cc);
    d->dx = malloc(n * sizeof(double));
    d->dz = malloc(n * sizeof(double));
    d->dw = malloc(cc * sizeof(double));
    d->db = malloc(cc * sizeof(double));
    if (!d->x || !d->dy || !d->y || !d->z || !d->w || !d->b || !d->mean || !d->invstd || !d->rm || !d->rv || !d->dx ||
        !d->dz || !d->dw || !d->db) {
        ref_free(d);
        return -1;
    }
    ref_backward a;
    memset(&a, 0, sizeof a);
    a.shape = h->shape;
    a.frozen = c->frozen;
    a.x = d->x;
    a.dy = d->dy;
    a.y = d->y;
    a.z = c->residual ? d->z : NULL;
    a.weight = c->affine ? d->w : NULL;
    a.bias = c->affine ? d->b : NULL;
    a.save_mean = d->mean;
    a.save_invstd = d->invstd;
    a.running_mean = d->rm;
    a.running_var = d->rv;
    a.eps = c->eps;
    a.activation = c->activation;
    a.activation_alpha = c->activation_alpha;
    a.activation_beta = c->activation_beta;
    a.dx = d->dx;
    a.dz = d->dz;
    a.dweight = d->dw;
    a.dbias = d->db;
    ref_batchnorm_backward(&a);
    return 0;
}

static void worse(double* slot, double value) {
    if (!(value <= *slot)) *slot = value; /* NaN counts as worst */
}

static void scaled(double* slot, double got, double want, double tol) {
    if (isnan(want) && isnan(got)) return;
    if (isinf(want) && got == want) return;
    worse(slot, fabs(got - want) / tol);
}

/* A bound on the kernel's error in g = dy act'(u) (see the top comment). */
static double grad_error(const bwd_case* c, double dy, double g, double u, double u_terms) {
    switch (c->activation) {
        case VKBN_ACTIVATION_LEAKY_RELU: return ROUNDOFF * fabs(g);
        case VKBN_ACTIVATION_SILU: {
            double s = 1.0 / (1.0 + exp(-u));
            return fabs(dy) * SLACK * ROUNDOFF * (s * (1.0 + fabs(u)) * (1.0 + fabs(u)) + 0.5 * u_terms) +
                   ROUNDOFF * fabs(g);
        }
        default: return 0.0;
    }
}

static void check(const bwd_case* c, const host_data* h, const ref_data* ref, const outputs* o, bwd_result* r) {
    const ref_shape* sh = &h->shape;
    double m = (double)(sh->n * sh->s);
    const double ulp = ref_storage_ulp((int)c->tensor.dtype);
    for (uint64_t ch = 0; ch < sh->c; ++ch) {
        double mean = c->frozen ? ref->rm[ch] : ref->mean[ch];
        double invstd = c->frozen ? 1.0 / sqrt(ref->rv[ch] + c->eps) : ref->invstd[ch];
        double gamma = c->affine ? ref->w[ch] : 1.0, beta = c->affine ? ref->b[ch] : 0.0;
        double k1 = gamma * invstd;
        double a_g = 0, a_t = 0, e_g = 0, e_t = 0;
        for (uint64_t n = 0; n < sh->n; ++n) {
            for (uint64_t s = 0; s < sh->s; ++s) {
                uint64_t i = ref_index(sh, n, ch, s);
                double xhat = (ref->x[i] - mean) * invstd, g = ref->dz[i];
                double z = c->residual ? ref->z[i] : 0.0;
                double dg =
                    grad_error(c, ref->dy[i], g, gamma * xhat + beta + z, fabs(gamma * xhat) + fabs(beta) + fabs(z));
                a_g += fabs(g);
                a_t += fabs(g * xhat);
                e_g += dg;
                e_t += dg * fabs(xhat);
            }
        }
        double tol_db = SLACK * ROUNDOFF * a_g + e_g + TINY;
        double tol_dw = SLACK * ROUNDOFF * a_t + e_t + TINY;
        if (c->outputs & BWD_OUT_DBIAS) scaled(&r->dbias, o->db[ch], ref->db[ch], tol_db);
        if (c->outputs & BWD_OUT_DWEIGHT) scaled(&r->dweight, o->dw[ch], ref->dw[ch], tol_dw);
        for (uint64_t n = 0; n < sh->n; ++n) {
            for (uint64_t s = 0; s < sh->s; ++s) {
                uint64_t i = ref_index(sh, n, ch, s);
                double xhat = (ref->x[i] - mean) * invstd, g = ref->dz[i];
                double z = c->residual ? ref->z[i] : 0.0;
                double dg =
                    grad_error(c, ref->dy[i], g, gamma * xhat + beta + z, fabs(gamma * xhat) + fabs(beta) + fabs(z));
                if (c->outputs & BWD_OUT_DRESIDUAL) {
                    double tol = SLACK * ROUNDOFF * fabs(g) + dg + TINY;
                    if (ulp > 0) tol += fabs(g) * ulp + ROUNDOFF;
                    scaled(&r->dz, o->dz[i], g, tol);
                }
                if (c->outputs & BWD_OUT_DX) {
                    double tol;
                    if (c->frozen) {
                        tol = SLACK * ROUNDOFF * fabs(k1 * g) + fabs(k1) * dg;
                    } else {
                        tol = SLACK * ROUNDOFF * fabs(k1) *
                                  (fabs(g) + fabs(ref->db[ch]) / m + fabs(xhat * ref->dw[ch]) / m) +
                              fabs(k1) * (dg + tol_db / m + fabs(xhat) * tol_dw / m);
                    }
                    tol += TINY;
                    if (ulp > 0) tol += fabs(ref->dx[i]) * ulp + ROUNDOFF;
                    scaled(&r->dx, o->dx[i], ref->dx[i], tol);
                }
            }
        }
    }
}

int bwd_case_run(vkbn_context ctx, const bwd_case* c, bwd_result* r) {
    memset(r, 0, sizeof *r);
    r->ok = 1;
    if (case_skip_f16(ctx, c->tensor.dtype, r->message, sizeof r->message)) return 0;
    uint64_t messages = vkbn_context_validation_message_count(ctx);
    host_data h;
    outputs o;
    memset(&o, 0, sizeof o);
    ref_data ref;
    memset(&ref, 0, sizeof ref);
    if (host_alloc(c, &h) != 0) {
        snprintf(r->message, sizeof r->message, "out of host memory");
        r->ok = 0;
        return -1;
    }
    int rc = outputs_alloc(&h, &o) == 0 && reference(c, &h, &ref) == 0 ? 0 : -1;
    if (rc != 0) snprintf(r->message, sizeof r->message, "out of host memory");
    if (rc == 0) rc = device_run(ctx, c, &h, &o, r, 0);
    if (rc == 0 && c->mask) {
        /* The same plan with the mask in place of y: the same bits. */
        outputs om;
        memset(&om, 0, sizeof om);
        rc = outputs_alloc(&h, &om) == 0 ? device_run(ctx, c, &h, &om, r, 1) : -1;
        if (rc == 0) {
            size_t n = (size_t)h.count * sizeof(float), cc = (size_t)h.shape.c * sizeof(float);
            const char* differs = memcmp(o.dx, om.dx, n) != 0    ? "dx"
                                  : memcmp(o.dz, om.dz, n) != 0  ? "dresidual"
                                  : memcmp(o.dw, om.dw, cc) != 0 ? "dweight"
                                  : memcmp(o.db, om.db, cc) != 0 ? "dbias"
                                                                 : NULL;
            if (differs) {
                snprintf(r->message, sizeof r->message, "%s with the activation mask differs from %s with y", differs,
                         differs);
                r->ok = 0;
                rc = 1;
            }
        }
        outputs_free(&o);
        o = om; /* the mask run's outputs are checked below */
    }
    if (rc == 0) {
        check(c, &h, &ref, &o, r);
        if (!(r->dx <= 1 && r->dweight <= 1 && r->dbias <= 1 && r->dz <= 1)) {
            r->ok = 0;
            snprintf(r->message, sizeof r->message, "outside tolerance (dx %.3g dweight %.3g dbias %.3g dz %.3g)",
                     r->dx, r->dweight, r->dbias, r->dz);
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
    if (rc < 0) r->ok = 0;
    ref_free(&ref);
    outputs_free(&o);
    host_free(&h);
    return rc;
}

int bwd_case_run_deterministic(vkbn_context ctx, const bwd_case* c, bwd_result* r) {
    return bwd_case_run_same(ctx, ctx, c, r);
}

int bwd_case_run_same(vkbn_context a, vkbn_context b, const bwd_case* c, bwd_result* r) {
    memset(r, 0, sizeof *r);
    r->ok = 1;
    if (case_skip_f16(a, c->tensor.dtype, r->message, sizeof r->message) ||
        case_skip_f16(b, c->tensor.dtype, r->message, sizeof r->message))
        return 0;
    host_data h;
    if (host_alloc(c, &h) != 0) {
        snprintf(r->message, sizeof r->message, "out of host memory");
        r->ok = 0;
        return -1;
    }
    outputs o[2];
    memset(o, 0, sizeof o);
    int rc = outputs_alloc(&h, &o[0]) == 0 && outputs_alloc(&h, &o[1]) == 0 ? 0 : -1;
    if (rc != 0) snprintf(r->message, sizeof r->message, "out of host memory");
    for (int k = 0; k < 2 && rc == 0; ++k) rc = device_run(k ? b : a, c, &h, &o[k], r, c->mask);
    if (rc == 0) {
        size_t n = (size_t)h.count * sizeof(float), cc = (size_t)h.shape.c * sizeof(float);
        bool same = memcmp(o[0].dx, o[1].dx, n) == 0 && memcmp(o[0].dz, o[1].dz, n) == 0 &&
                    memcmp(o[0].dw, o[1].dw, cc) == 0 && memcmp(o[0].db, o[1].db, cc) == 0;
        if (!same) {
            snprintf(r->message, sizeof r->message, "two runs of the same case differ bitwise");
            rc = 1;
        }
    }
    r->ok = rc == 0;
    outputs_free(&o[0]);
    outputs_free(&o[1]);
    host_free(&h);
    return rc;
}
