/* Synchronized batch norm in the test kit (sync_check.h).
 *
 * Tolerances, with u = 2^-24 and R = 32 as in cases.c and bwd_cases.c, per
 * channel from the reference: mean, dev = sqrt(var), invstd, scale = |gamma|
 * invstd, m the whole batch's count, L = 4 + log2(m):
 * - save_mean:    R u (|mean| + dev)
 * - save_invstd:  R u L invstd
 * - running_mean: R u (|rm| + |mean| + dev); running_var: R u (L |rv| + |rv0|)
 * - y_i:          R u (|y_i| + scale (|x_i - mean| + dev) + |beta| + |z_i|)
 * - dbias:        R u A_g, A_g = sum |g_i|;  dweight: R u A_t, A_t = sum |g_i xhat_i|
 * - dz_i:         R u |g_i|
 * - dx_i:         R u |k1| (|g_i| + |dbias| / m + |xhat_i dweight| / m)
 *                 + |k1| (dg_i + tol(dbias) / m + |xhat_i| tol(dweight) / m)
 * with dg_i SiLU's bound on g_i (bwd_cases.c), 0 for the other activations
 * (also added to dz_i's bound and, summed, to dbias's and dweight's).
 * 16-bit storage adds one ulp of the type (|value| / 1024 + u for f16,
 * |value| / 128 + u for bf16) to y, dx and dz. */
#include "sync_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"
#include "reference.h"

#define ROUNDOFF (1.0 / 16777216.0)
#define SLACK 32.0
#define TINY 1e-30

static float* falloc(uint64_t n) { return calloc(n ? n : 1, sizeof(float)); }

static double* dalloc(uint64_t n) { return calloc(n ? n : 1, sizeof(double)); }

static uint64_t spatial_of(const vkbn_tensor_desc* t) {
    uint64_t s = 1;
    for (uint32_t i = 0; i < t->spatial_rank; ++i) s *= t->spatial[i];
    return s;
}

/* Rounds v to the dtype's precision (16-bit values stay exact in f32). */
static void quantize(float* v, uint64_t n, vkbn_dtype d) {
    if (d == VKBN_DTYPE_F32) return;
    for (uint64_t i = 0; i < n; ++i) v[i] = ref_storage_round(v[i], (int)d);
}

int sync_batch_make(const sync_case* c, sync_batch* b) {
    memset(b, 0, sizeof *b);
    b->c = *c;
    uint32_t ch = c->tensor.c;
    b->sample = (uint64_t)ch * spatial_of(&c->tensor);
    b->elements = b->sample * c->tensor.n;
    b->x = falloc(b->elements);
    b->dy = falloc(b->elements);
    b->z = c->residual ? falloc(b->elements) : NULL;
    b->weight = falloc(ch);
    b->bias = falloc(ch);
    b->running_mean = falloc(ch);
    b->running_var = falloc(ch);
    if (!b->x || !b->dy || (c->residual && !b->z) || !b->weight || !b->bias || !b->running_mean || !b->running_var) {
        sync_batch_free(b);
        return -1;
    }
    rng r;
    rng_seed(&r, c->seed);
    gen_normal_f32(&r, b->x, b->elements, c->x_mean, c->x_std);
    gen_normal_f32(&r, b->dy, b->elements, 0.0, 1.0);
    if (b->z) gen_normal_f32(&r, b->z, b->elements, 0.0, 1.0);
    quantize(b->x, b->elements, c->tensor.dtype);
    quantize(b->dy, b->elements, c->tensor.dtype);
    if (b->z) quantize(b->z, b->elements, c->tensor.dtype);
    gen_uniform_f32(&r, b->weight, ch, 0.5, 1.5);
    gen_uniform_f32(&r, b->bias, ch, -0.5, 0.5);
    gen_uniform_f32(&r, b->running_mean, ch, -1.0, 1.0);
    gen_uniform_f32(&r, b->running_var, ch, 0.5, 2.0);
    return 0;
}

void sync_batch_free(sync_batch* b) {
    free(b->x);
    free(b->z);
    free(b->dy);
    free(b->weight);
    free(b->bias);
    free(b->running_mean);
    free(b->running_var);
    memset(b, 0, sizeof *b);
}

int sync_outputs_alloc(const sync_batch* b, sync_outputs* o) {
    memset(o, 0, sizeof *o);
    uint32_t c = b->c.tensor.c;
    o->y = falloc(b->elements);
    o->dx = falloc(b->elements);
    o->dz = falloc(b->elements);
    float** v[] = {&o->save_mean, &o->save_invstd, &o->running_mean, &o->running_var, &o->dweight, &o->dbias};
    int ok = o->y && o->dx && o->dz;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) ok = (*v[i] = falloc(c)) != NULL && ok;
    if (!ok) sync_outputs_free(o);
    return ok ? 0 : -1;
}

void sync_outputs_free(sync_outputs* o) {
    free(o->y);
    free(o->dx);
    free(o->dz);
    free(o->save_mean);
    free(o->save_invstd);
    free(o->running_mean);
    free(o->running_var);
    free(o->dweight);
    free(o->dbias);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

static vkbn_result tensor_buffer(vkbn_context ctx, const float* src, uint64_t n, vkbn_dtype d, vkbn_buffer* out) {
    *out = NULL;
    if (n == 0) return VKBN_SUCCESS;
    uint64_t bytes = n * vkbn_dtype_size(d);
    vkbn_result r = vkbn_buffer_create(ctx, bytes, out);
    if (r != VKBN_SUCCESS || !src) return r;
    if (d != VKBN_DTYPE_F32) {
        uint16_t* h = malloc(bytes);
        if (!h) return VKBN_ERROR_OUT_OF_HOST_MEMORY;
        ref_storage_encode(h, src, n, (int)d);
        r = vkbn_buffer_upload(*out, 0, h, bytes);
        free(h);
        return r;
    }
    return vkbn_buffer_upload(*out, 0, src, bytes);
}

static vkbn_result download_tensor(vkbn_buffer buf, float* dst, uint64_t n, vkbn_dtype d) {
    if (n == 0) return VKBN_SUCCESS;
    if (d != VKBN_DTYPE_F32) {
        uint16_t* h = malloc(n * 2);
        if (!h) return VKBN_ERROR_OUT_OF_HOST_MEMORY;
        vkbn_result r = vkbn_buffer_download(buf, 0, h, n * 2);
        if (r == VKBN_SUCCESS) ref_storage_decode(dst, h, n, (int)d);
        free(h);
        return r;
    }
    return vkbn_buffer_download(buf, 0, dst, n * 4);
}

static vkbn_result vector_buffer(vkbn_context ctx, const float* src, uint32_t c, vkbn_buffer* out) {
    vkbn_result r = vkbn_buffer_create(ctx, (uint64_t)c * 4, out);
    if (r == VKBN_SUCCESS && src) r = vkbn_buffer_upload(*out, 0, src, (uint64_t)c * 4);
    return r;
}

vkbn_result sync_slice_create(vkbn_context ctx, const sync_batch* b, uint32_t n0, uint32_t n1, sync_slice* s) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->b = b;
    s->n0 = n0;
    s->n1 = n1;
    s->tensor = b->c.tensor;
    s->tensor.n = n1 - n0;
    uint64_t n = (uint64_t)(n1 - n0) * b->sample, off = (uint64_t)n0 * b->sample;
    vkbn_dtype d = b->c.tensor.dtype;
    uint32_t c = b->c.tensor.c;
    vkbn_result r = tensor_buffer(ctx, b->x + off, n, d, &s->x);
    if (r == VKBN_SUCCESS) r = tensor_buffer(ctx, NULL, n, d, &s->y);
    if (r == VKBN_SUCCESS && b->z) r = tensor_buffer(ctx, b->z + off, n, d, &s->z);
    if (r == VKBN_SUCCESS) r = tensor_buffer(ctx, b->dy + off, n, d, &s->dy);
    if (r == VKBN_SUCCESS) r = tensor_buffer(ctx, NULL, n, d, &s->dx);
    if (r == VKBN_SUCCESS && b->z) r = tensor_buffer(ctx, NULL, n, d, &s->dz);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, b->weight, c, &s->weight);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, b->bias, c, &s->bias);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, b->running_mean, c, &s->running_mean);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, b->running_var, c, &s->running_var);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, NULL, c, &s->save_mean);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, NULL, c, &s->save_invstd);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, NULL, c, &s->dweight);
    if (r == VKBN_SUCCESS) r = vector_buffer(ctx, NULL, c, &s->dbias);
    if (r != VKBN_SUCCESS) sync_slice_destroy(s);
    return r;
}

void sync_slice_destroy(sync_slice* s) {
    vkbn_buffer all[] = {s->x,         s->y,           s->z,       s->dy,           s->dx,
                         s->dz,        s->weight,      s->bias,    s->running_mean, s->running_var,
                         s->save_mean, s->save_invstd, s->dweight, s->dbias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) vkbn_buffer_destroy(all[i]);
    memset(s, 0, sizeof *s);
}

vkbn_forward_training_desc sync_slice_forward_desc(const sync_slice* s) {
    const sync_case* c = &s->b->c;
    vkbn_forward_training_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = s->tensor;
    d.x = s->x;
    d.y = s->y;
    d.residual = s->z;
    d.weight = s->weight;
    d.bias = s->bias;
    d.running_mean = s->running_mean;
    d.running_var = s->running_var;
    d.save_mean = s->save_mean;
    d.save_invstd = s->save_invstd;
    d.eps = c->eps;
    d.momentum = c->momentum;
    d.biased_running_var = (vkbn_bool)c->biased_running_var;
    d.activation = c->activation;
    d.activation_alpha = c->activation_alpha;
    d.activation_beta = c->activation_beta;
    return d;
}

vkbn_backward_desc sync_slice_backward_desc(const sync_slice* s) {
    const sync_case* c = &s->b->c;
    vkbn_backward_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = s->tensor;
    d.x = s->x;
    d.dy = s->dy;
    d.y = s->y;
    d.residual = s->z;
    d.weight = s->weight;
    d.bias = s->bias;
    d.save_mean = s->save_mean;
    d.save_invstd = s->save_invstd;
    d.eps = c->eps;
    d.activation = c->activation;
    d.activation_alpha = c->activation_alpha;
    d.activation_beta = c->activation_beta;
    d.dx = s->dx;
    d.dweight = s->dweight;
    d.dbias = s->dbias;
    d.dresidual = s->dz;
    return d;
}

vkbn_result sync_slice_stats(sync_slice* s, vkbn_batch_stats* out) {
    vkbn_batch_stats_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = s->tensor;
    d.x = s->x;
    return vkbn_batch_stats_compute(s->ctx, &d, out);
}

vkbn_result sync_slice_forward(sync_slice* s, const vkbn_batch_stats* global) {
    vkbn_forward_training_desc d = sync_slice_forward_desc(s);
    return vkbn_forward_training_global(s->ctx, &d, global);
}

vkbn_result sync_slice_grad_sums(sync_slice* s, vkbn_grad_sums* out) {
    vkbn_backward_desc d = sync_slice_backward_desc(s);
    return vkbn_grad_sums_compute(s->ctx, &d, out);
}

vkbn_result sync_slice_backward(sync_slice* s, const vkbn_grad_sums* global) {
    vkbn_backward_desc d = sync_slice_backward_desc(s);
    return vkbn_backward_global(s->ctx, &d, global);
}

vkbn_result sync_slice_collect(const sync_slice* s, sync_outputs* o) {
    uint64_t n = (uint64_t)s->tensor.n * s->b->sample, off = (uint64_t)s->n0 * s->b->sample;
    vkbn_dtype d = s->tensor.dtype;
    uint32_t c = s->tensor.c;
    vkbn_result r = VKBN_SUCCESS;
    if (n) {
        r = download_tensor(s->y, o->y + off, n, d);
        if (r == VKBN_SUCCESS) r = download_tensor(s->dx, o->dx + off, n, d);
        if (r == VKBN_SUCCESS && s->dz) r = download_tensor(s->dz, o->dz + off, n, d);
    }
    struct {
        vkbn_buffer b;
        float* dst;
    } v[] = {{s->save_mean, o->save_mean},     {s->save_invstd, o->save_invstd}, {s->running_mean, o->running_mean},
             {s->running_var, o->running_var}, {s->dweight, o->dweight},         {s->dbias, o->dbias}};
    for (size_t i = 0; i < sizeof v / sizeof v[0] && r == VKBN_SUCCESS; ++i) {
        r = vkbn_buffer_download(v[i].b, 0, v[i].dst, (uint64_t)c * 4);
    }
    return r;
}

vkbn_result sync_run_single(vkbn_context ctx, const sync_batch* b, sync_outputs* o) {
    sync_slice s;
    vkbn_result r = sync_slice_create(ctx, b, 0, b->c.tensor.n, &s);
    if (r != VKBN_SUCCESS) return r;
    vkbn_forward_training_desc f = sync_slice_forward_desc(&s);
    r = vkbn_forward_training(ctx, &f);
    vkbn_backward_desc bd = sync_slice_backward_desc(&s);
    if (r == VKBN_SUCCESS) r = vkbn_backward(ctx, &bd);
    if (r == VKBN_SUCCESS) r = sync_slice_collect(&s, o);
    sync_slice_destroy(&s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct worst_err {
    double scaled;
    const char* what;
    uint64_t index;
    double got, want;
} worst_err;

static void note(worst_err* w, const char* what, uint64_t i, double got, double want, double tol) {
    double e = fabs(got - want) / (tol + TINY);
    if (!(e <= w->scaled) || isnan(got) != isnan(want)) {
        if (isnan(e) || isnan(got) != isnan(want)) e = INFINITY;
        if (e > w->scaled || w->what == NULL) {
            w->scaled = e;
            w->what = what;
            w->index = i;
            w->got = got;
            w->want = want;
        }
    }
}

/* SiLU's error bound on g (bwd_cases.c): act' through exp, and the error of
 * the recomputed u = gamma xhat + beta [+ z] through |act''| <= 1/2. */
static double silu_dg(const sync_case* c, double dy, double u, double gx, double beta, double z) {
    if (c->activation != VKBN_ACTIVATION_SILU) return 0.0;
    double s = 1.0 / (1.0 + exp(-u)), k = 1.0 + fabs(u);
    return fabs(dy) * SLACK * ROUNDOFF * (s * k * k + (fabs(gx) + fabs(beta) + fabs(z)) / 2.0);
}

int sync_check(const sync_batch* b, const sync_outputs* o, double* worst, char* message, size_t size) {
    const sync_case* c = &b->c;
    ref_shape sh = ref_shape_from_desc(&c->tensor);
    uint64_t e = b->elements, C = c->tensor.c;
    const double ulp = ref_storage_ulp((int)c->tensor.dtype);
    double *x = dalloc(e), *z = b->z ? dalloc(e) : NULL, *dy = dalloc(e), *y = dalloc(e), *ystored = dalloc(e);
    double *w = dalloc(C), *bias = dalloc(C), *rm = dalloc(C), *rv = dalloc(C), *mean = dalloc(C);
    double *invstd = dalloc(C), *var = dalloc(C), *smean = dalloc(C), *sinv = dalloc(C);
    double *dx = dalloc(e), *dz = dalloc(e), *dw = dalloc(C), *db = dalloc(C);
    for (uint64_t i = 0; i < e; ++i) {
        x[i] = b->x[i];
        dy[i] = b->dy[i];
        if (z) z[i] = b->z[i];
        ystored[i] = o->y[i];
    }
    for (uint64_t i = 0; i < C; ++i) {
        w[i] = b->weight[i];
        bias[i] = b->bias[i];
        rm[i] = b->running_mean[i];
        rv[i] = b->running_var[i];
        smean[i] = o->save_mean[i];
        sinv[i] = o->save_invstd[i];
    }
    ref_forward_training f = {sh,
                              x,
                              z,
                              w,
                              bias,
                              rm,
                              rv,
                              c->eps,
                              c->momentum,
                              c->biased_running_var,
                              c->activation,
                              y,
                              mean,
                              invstd,
                              var,
                              c->activation_alpha,
                              c->activation_beta};
    ref_batchnorm_forward_training(&f);
    ref_backward bw;
    memset(&bw, 0, sizeof bw);
    bw.shape = sh;
    bw.x = x;
    bw.dy = dy;
    bw.y = ystored;
    bw.z = z;
    bw.weight = w;
    bw.bias = bias;
    bw.save_mean = smean;
    bw.save_invstd = sinv;
    bw.eps = c->eps;
    bw.activation = c->activation;
    bw.activation_alpha = c->activation_alpha;
    bw.activation_beta = c->activation_beta;
    bw.dx = dx;
    bw.dweight = dw;
    bw.dbias = db;
    bw.dz = dz;
    ref_batchnorm_backward(&bw);

    worst_err we = {0, NULL, 0, 0, 0};
    double m = (double)sh.n * (double)sh.s, L = 4.0 + log2(m);
    const double Ru = SLACK * ROUNDOFF;
    for (uint64_t ch = 0; ch < C; ++ch) {
        double dev = sqrt(var[ch]), scale = fabs(w[ch]) * invstd[ch];
        note(&we, "save_mean", ch, o->save_mean[ch], mean[ch], Ru * (fabs(mean[ch]) + dev));
        note(&we, "save_invstd", ch, o->save_invstd[ch], invstd[ch], Ru * L * invstd[ch]);
        note(&we, "running_mean", ch, o->running_mean[ch], rm[ch], Ru * (fabs(rm[ch]) + fabs(mean[ch]) + dev));
        note(&we, "running_var", ch, o->running_var[ch], rv[ch], Ru * (L * fabs(rv[ch]) + b->running_var[ch]));
        double ag = 0.0, at = 0.0;
        for (uint64_t n = 0; n < sh.n; ++n) {
            for (uint64_t s = 0; s < sh.s; ++s) {
                uint64_t i = ref_index(&sh, n, ch, s);
                double tol =
                    Ru * (fabs(y[i]) + scale * (fabs(x[i] - mean[ch]) + dev) + fabs(bias[ch]) + (z ? fabs(z[i]) : 0.0));
                if (ulp > 0) tol += fabs(y[i]) * ulp + ROUNDOFF;
                note(&we, "y", i, o->y[i], y[i], tol);
                double g = dz[i], xhat = (x[i] - smean[ch]) * sinv[ch];
                ag += fabs(g) + silu_dg(c, dy[i], w[ch] * xhat + bias[ch] + (z ? z[i] : 0.0), w[ch] * xhat, bias[ch],
                                        z ? z[i] : 0.0) /
                                    Ru;
                at += fabs(g * xhat) + fabs(xhat) *
                                           silu_dg(c, dy[i], w[ch] * xhat + bias[ch] + (z ? z[i] : 0.0), w[ch] * xhat,
                                                   bias[ch], z ? z[i] : 0.0) /
                                           Ru;
            }
        }
        double tol_db = Ru * ag, tol_dw = Ru * at;
        note(&we, "dbias", ch, o->dbias[ch], db[ch], tol_db);
        note(&we, "dweight", ch, o->dweight[ch], dw[ch], tol_dw);
        double k1 = fabs(w[ch] * sinv[ch]);
        for (uint64_t n = 0; n < sh.n; ++n) {
            for (uint64_t s = 0; s < sh.s; ++s) {
                uint64_t i = ref_index(&sh, n, ch, s);
                double g = dz[i], xhat = (x[i] - smean[ch]) * sinv[ch];
                double dg = silu_dg(c, dy[i], w[ch] * xhat + bias[ch] + (z ? z[i] : 0.0), w[ch] * xhat, bias[ch],
                                    z ? z[i] : 0.0);
                double tol = Ru * k1 * (fabs(g) + fabs(db[ch]) / m + fabs(xhat * dw[ch]) / m) +
                             k1 * (dg + tol_db / m + fabs(xhat) * tol_dw / m);
                if (ulp > 0) tol += fabs(dx[i]) * ulp + ROUNDOFF;
                note(&we, "dx", i, o->dx[i], dx[i], tol);
                if (b->z) {
                    double tz = Ru * fabs(g) + dg + (ulp > 0 ? fabs(g) * ulp + ROUNDOFF : 0.0);
                    note(&we, "dresidual", i, o->dz[i], g, tz);
                }
            }
        }
    }
    *worst = we.scaled;
    int ok = we.scaled <= 1.0;
    if (message && size) {
        if (ok) {
            snprintf(message, size, "worst %s[%llu] at %.3g of its tolerance", we.what ? we.what : "-",
                     (unsigned long long)we.index, we.scaled);
        } else {
            snprintf(message, size, "%s[%llu] = %.9g, reference %.9g (%.3g x tolerance)", we.what,
                     (unsigned long long)we.index, we.got, we.want, we.scaled);
        }
    }
    double* all[] = {x, z, dy, y, ystored, w, bias, rm, rv, mean, invstd, var, smean, sinv, dx, dz, dw, db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    return ok;
}

static int same_bits(const float* a, const float* b, uint64_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

int sync_outputs_identical(const sync_batch* b, const sync_outputs* a, const sync_outputs* o) {
    uint64_t e = b->elements, c = b->c.tensor.c;
    return same_bits(a->y, o->y, e) && same_bits(a->dx, o->dx, e) && same_bits(a->dz, o->dz, e) &&
           same_bits(a->save_mean, o->save_mean, c) && same_bits(a->save_invstd, o->save_invstd, c) &&
           same_bits(a->running_mean, o->running_mean, c) && same_bits(a->running_var, o->running_var, c) &&
           same_bits(a->dweight, o->dweight, c) && same_bits(a->dbias, o->dbias, c);
}

int sync_partials_alloc(uint32_t count, uint32_t c, sync_partials* p) {
    memset(p, 0, sizeof *p);
    p->count = count;
    p->stats = calloc(count ? count : 1, sizeof *p->stats);
    p->sums = calloc(count ? count : 1, sizeof *p->sums);
    p->storage = calloc((size_t)count * c * 4 + 1, sizeof(double));
    if (!p->stats || !p->sums || !p->storage) {
        sync_partials_free(p);
        return -1;
    }
    for (uint32_t i = 0; i < count; ++i) {
        double* base = p->storage + (size_t)i * c * 4;
        p->stats[i].c = c;
        p->stats[i].mean = base;
        p->stats[i].m2 = base + c;
        p->sums[i].c = c;
        p->sums[i].sum_g = base + 2 * (size_t)c;
        p->sums[i].sum_g_xhat = base + 3 * (size_t)c;
    }
    return 0;
}

void sync_partials_free(sync_partials* p) {
    free(p->stats);
    free(p->sums);
    free(p->storage);
    memset(p, 0, sizeof *p);
}

void sync_case_describe(const sync_case* c, char* out, size_t size) {
    const vkbn_tensor_desc* t = &c->tensor;
    char sp[48] = "";
    for (uint32_t i = 0; i < t->spatial_rank; ++i) {
        size_t len = strlen(sp);
        snprintf(sp + len, sizeof sp - len, "%s%u", i ? "x" : " s=", t->spatial[i]);
    }
    static const char* const acts[] = {"none", "relu", "leaky_relu", "clamp", "silu"};
    snprintf(out, size, "%s %s n=%u c=%u%s %s%s", t->layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw",
             ref_dtype_name((int)t->dtype), t->n, t->c, sp, (unsigned)c->activation < 5 ? acts[c->activation] : "?",
             c->residual ? " +residual" : "");
}
