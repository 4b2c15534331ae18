/* Synchronized batch norm (vkbn.h, "Synchronized batch norm"): validation,
 * the host merges, and the per-channel arithmetic that turns merged
 * statistics or sums into what each slice's pass needs. Everything here runs
 * in double on the host, in a fixed order, so every replica that merges the
 * same partials gets the same bits. The element work is one pass of a plan
 * on the context's backend (passes.h):
 * - a slice's statistics: [REDUCE_STATS(export)];
 * - a slice's normalize: [NORMALIZE(from HOST)], the host's channel arrays;
 * - a slice's gradient sums: [REDUCE_GRADS(SAVED)] into dweight / dbias;
 * - a slice's dx / dz: [APPLY_GRADS(from HOST)], the host's coefficients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "internal.h"

#define REQUIRE VKBN_REQUIRE

/* ------------------------------------------------------------------------ */
/* Argument checks                                                           */
/* ------------------------------------------------------------------------ */

static vkbn_result check_stats(const vkbn_batch_stats* s, const char* name, uint32_t c, bool arrays_required) {
    if (s->c != c) {
        return vkbn__fail(VKBN_ERROR_SHAPE_MISMATCH, "%s->c: %u channels, expected %u", name, s->c, c);
    }
    if (arrays_required && (!s->mean || !s->m2)) {
        return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s->%s: required, got NULL", name, s->mean ? "m2" : "mean");
    }
    return VKBN_SUCCESS;
}

static vkbn_result check_sums(const vkbn_grad_sums* s, const char* name, uint32_t c, bool arrays_required) {
    if (s->c != c) {
        return vkbn__fail(VKBN_ERROR_SHAPE_MISMATCH, "%s->c: %u channels, expected %u", name, s->c, c);
    }
    if (arrays_required && (!s->sum_g || !s->sum_g_xhat)) {
        return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s->%s: required, got NULL", name,
                          s->sum_g ? "sum_g_xhat" : "sum_g");
    }
    return VKBN_SUCCESS;
}

/* An empty slice (n = 0) touches no tensor, but its description must be
 * valid as the replicas with samples require. */
static vkbn_result check_empty_tensor(const vkbn_tensor_desc* t) {
    uint64_t elements, spatial;
    return vkbn__check_tensor(t, &elements, &spatial, true);
}

/* ------------------------------------------------------------------------ */
/* Host helpers                                                              */
/* ------------------------------------------------------------------------ */

/* n floats of a vector, or `fill` for each when b is NULL. */
static vkbn_result read_vector(vkbn_buffer b, float* out, uint32_t n, float fill) {
    if (!b) {
        for (uint32_t i = 0; i < n; ++i) out[i] = fill;
        return VKBN_SUCCESS;
    }
    return vkbn_buffer_download(b, 0, out, (uint64_t)n * sizeof(float));
}

static vkbn_result write_vector(vkbn_buffer b, const float* v, uint32_t n) {
    return b ? vkbn_buffer_upload(b, 0, v, (uint64_t)n * sizeof(float)) : VKBN_SUCCESS;
}

/* A block of `arrays` float arrays of c entries each. */
static float* alloc_arrays(uint32_t c, uint32_t arrays) { return vkbn__calloc((size_t)c * arrays, sizeof(float)); }

/* Runs a plan of the one pass over op, once. */
static vkbn_result run_pass(vkbn_context ctx, const vkbn__op* op, vkbn__pass pass) {
    vkbn__pass_list passes = {{pass}, 1};
    vkbn_plan plan = NULL;
    VKBN_CHECK(vkbn__plan_create(ctx, op, &passes, &plan));
    vkbn_result r = vkbn_plan_execute(plan);
    vkbn_plan_destroy(plan);
    return r;
}

/* A new buffer holding `count` arrays of c floats at the host-parameter
 * stride (passes.h, VKBN__SOURCE_HOST). */
static vkbn_result upload_arrays(vkbn_context ctx, float* const* arrays, uint32_t count, uint32_t c, vkbn_buffer* out) {
    *out = NULL;
    uint32_t c_pad = vkbn__host_params_c_pad(c);
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

/* The statistics pass that exports a slice's raw statistics into `out`. */
static vkbn__pass export_pass(vkbn_buffer out) {
    vkbn__pass p = {VKBN__PASS_REDUCE_STATS, VKBN__SOURCE_NONE, NULL, out};
    return p;
}

/* ------------------------------------------------------------------------ */
/* Forward                                                                   */
/* ------------------------------------------------------------------------ */

vkbn_result vkbn_batch_stats_compute(vkbn_context ctx, const vkbn_batch_stats_desc* desc, vkbn_batch_stats* out) {
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    REQUIRE(out, "out");
    VKBN_CHECK(check_stats(out, "out", desc->tensor.c, true));
    if (desc->tensor.n == 0) {
        VKBN_CHECK(check_empty_tensor(&desc->tensor));
        out->count = 0;
        memset(out->mean, 0, (size_t)out->c * sizeof(double));
        memset(out->m2, 0, (size_t)out->c * sizeof(double));
        return VKBN_SUCCESS;
    }
    /* Validated as a forward training of the slice whose output is x itself
     * (never written: only the statistics run). */
    vkbn_forward_training_desc fd;
    memset(&fd, 0, sizeof fd);
    fd.tensor = desc->tensor;
    fd.x = desc->x;
    fd.y = desc->x;
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_forward_training_slice(ctx, &fd, &op));
    op.y = NULL;
    const uint32_t c = desc->tensor.c;
    const uint64_t bytes = (uint64_t)c * VKBN__EXPORT_STATS_ARRAYS * sizeof(float);
    vkbn_buffer words = NULL;
    VKBN_CHECK(vkbn_buffer_create(ctx, bytes, &words));
    float* host = vkbn__calloc((size_t)c * VKBN__EXPORT_STATS_ARRAYS, sizeof(float));
    vkbn_result r =
        host ? VKBN_SUCCESS : vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_batch_stats_compute: out of host memory");
    if (r == VKBN_SUCCESS) r = run_pass(ctx, &op, export_pass(words));
    if (r == VKBN_SUCCESS) r = vkbn_buffer_download(words, 0, host, bytes);
    if (r == VKBN_SUCCESS) r = vkbn_batch_stats_decode(host, op.per_channel, out);
    vkbn__free(host);
    vkbn_buffer_destroy(words);
    return r;
}

static bool overlaps(vkbn_buffer a, uint64_t a_bytes, vkbn_buffer b, uint64_t b_bytes) {
    if (a->root != b->root) return false; /* different root storage */
    return a->offset < b->offset + b_bytes && b->offset < a->offset + a_bytes;
}

vkbn_result vkbn_plan_create_batch_stats(vkbn_context ctx, const vkbn_batch_stats_plan_desc* desc, vkbn_plan* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn_forward_training_desc fd;
    memset(&fd, 0, sizeof fd);
    fd.tensor = desc->tensor;
    fd.x = desc->x;
    fd.y = desc->x;
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_forward_training_slice(ctx, &fd, &op));
    uint64_t need = (uint64_t)desc->tensor.c * 3 * sizeof(float);
    REQUIRE(desc->out, "desc->out");
    if (desc->out->ctx != ctx) {
        return vkbn__fail(VKBN_ERROR_WRONG_CONTEXT, "desc->out: the buffer belongs to another context");
    }
    if (desc->out->size < need) {
        return vkbn__fail(VKBN_ERROR_BUFFER_TOO_SMALL, "desc->out: holds %llu bytes, 3 c floats needs %llu",
                          (unsigned long long)desc->out->size, (unsigned long long)need);
    }
    if (overlaps(desc->out, need, desc->x, op.elements * op.elem_size)) {
        return vkbn__fail(VKBN_ERROR_ALIASING, "desc->out: overlaps desc->x");
    }
    op.y = NULL;
    vkbn__pass_list passes = {{export_pass(desc->out)}, 1};
    return vkbn__plan_create(ctx, &op, &passes, out);
}

vkbn_result vkbn_batch_stats_decode(const float* words, uint64_t count, vkbn_batch_stats* out) {
    REQUIRE(words, "words");
    REQUIRE(out, "out");
    VKBN_CHECK(check_stats(out, "out", out->c, true));
    const uint32_t c = out->c;
    for (uint32_t i = 0; i < c; ++i) {
        /* The kernels keep the mean relative to the pivot; their sum in
         * double loses nothing. */
        out->mean[i] = (double)words[i] + (double)words[c + i];
        float m2 = words[2 * (size_t)c + i];
        out->m2[i] = m2 > 0.0f ? (double)m2 : 0.0;
    }
    out->count = count;
    return VKBN_SUCCESS;
}

/* total += part (part i of a merge), failing on overflow. */
static vkbn_result add_count(uint64_t* total, uint64_t part, uint32_t i) {
    if (part > UINT64_MAX - *total) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "parts[%u].count: the total count overflows 64 bits", i);
    }
    *total += part;
    return VKBN_SUCCESS;
}

vkbn_result vkbn_batch_stats_merge(const vkbn_batch_stats* parts, uint32_t count, vkbn_batch_stats* out) {
    REQUIRE(out, "out");
    if (count > 0) REQUIRE(parts, "parts");
    VKBN_CHECK(check_stats(out, "out", out->c, true));
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; ++i) {
        char name[32];
        snprintf(name, sizeof name, "parts[%u]", i);
        VKBN_CHECK(check_stats(&parts[i], name, out->c, parts[i].count > 0));
        VKBN_CHECK(add_count(&total, parts[i].count, i));
    }
    /* Channel by channel, every part read before out's entry is written, so
     * out may alias a part. */
    for (uint32_t c = 0; c < out->c; ++c) {
        double n = 0.0, mean = 0.0, m2 = 0.0;
        for (uint32_t i = 0; i < count; ++i) {
            const vkbn_batch_stats* p = &parts[i];
            if (p->count == 0) continue; /* the identity */
            double nb = (double)p->count, mb = p->mean[c], m2b = p->m2[c];
            if (n == 0.0) {
                n = nb;
                mean = mb;
                m2 = m2b;
                continue;
            }
            /* Chan et al.: n = na + nb; d = mb - ma; mean = ma + d nb / n;
             * M2 = M2a + M2b + d^2 na nb / n. */
            double nt = n + nb, d = mb - mean, wb = nb / nt;
            mean += d * wb;
            m2 += m2b + d * d * n * wb;
            n = nt;
        }
        out->mean[c] = mean;
        out->m2[c] = m2;
    }
    out->count = total;
    return VKBN_SUCCESS;
}

/* The merged count a *_global call runs from: the whole batch (more than
 * one value per channel) covering at least this slice's `slice` values. */
static vkbn_result check_global_count(uint64_t count, uint64_t slice) {
    if (count < 2) {
        return vkbn__fail(VKBN_ERROR_TOO_FEW_VALUES,
                          "global->count: training needs more than one value per channel in the whole batch, got %llu",
                          (unsigned long long)count);
    }
    if (count < slice) {
        return vkbn__fail(VKBN_ERROR_SHAPE_MISMATCH,
                          "global->count: %llu values per channel cannot cover this slice's %llu",
                          (unsigned long long)count, (unsigned long long)slice);
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn_forward_training_global(vkbn_context ctx, const vkbn_forward_training_desc* desc,
                                         const vkbn_batch_stats* global) {
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    REQUIRE(global, "global");
    const uint32_t c = desc->tensor.c;
    vkbn__op op;
    memset(&op, 0, sizeof op);
    bool empty = desc->tensor.n == 0;
    /* An empty slice is checked as any other (its vectors' overlaps, the
     * activation, the tensor's enums), so every replica refuses the same calls. */
    VKBN_CHECK(vkbn__validate_forward_training_global(ctx, desc, &op));
    VKBN_CHECK(check_stats(global, "global", c, true));
    VKBN_CHECK(check_global_count(global->count, empty ? 0 : op.per_channel));

    /* 10 arrays: the channel parameters (4), weight, bias, save_mean,
     * save_invstd, running_mean and running_var. */
    float* buf = alloc_arrays(c, 10);
    if (!buf) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_forward_training_global: out of host memory");
    /* The normalize pass's host arrays (passes.h): pivot | mean - pivot |
     * scale | shift. */
    struct {
        float *pivot, *shifted_mean, *scale, *shift;
    } ch = {buf, buf + c, buf + 2 * (size_t)c, buf + 3 * (size_t)c};
    float *w = buf + 4 * (size_t)c, *b = buf + 5 * (size_t)c, *smean = buf + 6 * (size_t)c;
    float *sinv = buf + 7 * (size_t)c, *rm = buf + 8 * (size_t)c, *rv = buf + 9 * (size_t)c;
    vkbn_result r = read_vector(desc->weight, w, c, 1.0f);
    if (r == VKBN_SUCCESS) r = read_vector(desc->bias, b, c, 0.0f);
    const double m = (double)global->count;
    for (uint32_t i = 0; i < c && r == VKBN_SUCCESS; ++i) {
        double mean = global->mean[i];
        double var = global->m2[i] / m;
        if (!(var > 0.0)) var = 0.0; /* also a NaN-free zero for a constant channel */
        double invstd = 1.0 / sqrt(var + (double)desc->eps);
        smean[i] = (float)mean;
        sinv[i] = (float)invstd;
        /* The mean as a float plus the float of what it leaves: the pass
         * subtracts both, so no precision of the double mean is lost to
         * |mean|'s ulp (as the pivot does in the single-context kernels). */
        ch.pivot[i] = (float)mean;
        ch.shifted_mean[i] = (float)(mean - (double)ch.pivot[i]);
        ch.scale[i] = (float)((double)w[i] * invstd);
        ch.shift[i] = b[i];
    }
    if (r == VKBN_SUCCESS && !empty) {
        float* arrays[VKBN__NORMALIZE_HOST_ARRAYS] = {ch.pivot, ch.shifted_mean, ch.scale, ch.shift};
        vkbn_buffer params = NULL;
        r = upload_arrays(ctx, arrays, VKBN__NORMALIZE_HOST_ARRAYS, c, &params);
        /* The pass writes y alone: the vectors are the host's to write. */
        vkbn__op apply = op;
        apply.save_mean = apply.save_invstd = apply.running_mean = apply.running_var = NULL;
        vkbn__pass pass = {VKBN__PASS_NORMALIZE, VKBN__SOURCE_HOST, params, NULL};
        if (r == VKBN_SUCCESS) r = run_pass(ctx, &apply, pass);
        vkbn_buffer_destroy(params);
    }
    if (r == VKBN_SUCCESS) r = write_vector(desc->save_mean, smean, c);
    if (r == VKBN_SUCCESS) r = write_vector(desc->save_invstd, sinv, c);
    if (r == VKBN_SUCCESS && desc->running_mean) {
        r = read_vector(desc->running_mean, rm, c, 0.0f);
        if (r == VKBN_SUCCESS) r = read_vector(desc->running_var, rv, c, 0.0f);
        /* The unbiased correction uses the whole batch's count. */
        double correction = desc->biased_running_var ? 1.0 : m / (m - 1.0);
        float f = op.factor;
        for (uint32_t i = 0; i < c && r == VKBN_SUCCESS; ++i) {
            double var = global->m2[i] / m;
            if (!(var > 0.0)) var = 0.0;
            /* As finalize.glsl writes it, so that f = 1 replaces exactly. */
            rm[i] = (1.0f - f) * rm[i] + f * smean[i];
            rv[i] = (1.0f - f) * rv[i] + f * (float)(var * correction);
        }
        if (r == VKBN_SUCCESS) r = write_vector(desc->running_mean, rm, c);
        if (r == VKBN_SUCCESS) r = write_vector(desc->running_var, rv, c);
    }
    vkbn__free(buf);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */
/* ------------------------------------------------------------------------ */

static vkbn_result check_backward_common(const vkbn_backward_desc* desc) {
    if (desc->frozen) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                          "desc->frozen: synchronized backward is for training mode (frozen statistics need no "
                          "synchronization)");
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn_grad_sums_compute(vkbn_context ctx, const vkbn_backward_desc* desc, vkbn_grad_sums* out) {
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    REQUIRE(out, "out");
    VKBN_CHECK(check_backward_common(desc));
    const uint32_t c = desc->tensor.c;
    VKBN_CHECK(check_sums(out, "out", c, true));
    if (desc->tensor.n == 0) {
        VKBN_CHECK(check_empty_tensor(&desc->tensor));
        out->count = 0;
        memset(out->sum_g, 0, (size_t)c * sizeof(double));
        memset(out->sum_g_xhat, 0, (size_t)c * sizeof(double));
        return VKBN_SUCCESS;
    }
    /* The backward reduction of the slice, with dweight and dbias into
     * vectors of our own and no other output. The slice is checked before
     * they are allocated: they are sized by tensor.c, which only a valid
     * description vouches for. */
    vkbn_backward_desc bd = *desc;
    bd.dx = NULL;
    bd.dresidual = NULL;
    bd.dweight = NULL;
    bd.dbias = NULL;
    bd.scratch = NULL;
    bd.reduction_split = 0;
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_backward_slice(ctx, &bd, &op));
    vkbn_buffer sums = NULL, dw = NULL, db = NULL;
    VKBN_CHECK(vkbn_buffer_create(ctx, (uint64_t)c * 2 * sizeof(float), &sums));
    vkbn_result r = vkbn_buffer_create_view(sums, 0, (uint64_t)c * sizeof(float), &dw);
    if (r == VKBN_SUCCESS)
        r = vkbn_buffer_create_view(sums, (uint64_t)c * sizeof(float), (uint64_t)c * sizeof(float), &db);
    op.dweight = dw;
    op.dbias = db;
    vkbn__pass pass = {VKBN__PASS_REDUCE_GRADS, VKBN__SOURCE_SAVED, NULL, NULL};
    if (r == VKBN_SUCCESS) r = run_pass(ctx, &op, pass);
    float* host = r == VKBN_SUCCESS ? vkbn__calloc((size_t)c * 2, sizeof(float)) : NULL;
    if (r == VKBN_SUCCESS && !host) {
        r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_grad_sums_compute: out of host memory");
    }
    if (r == VKBN_SUCCESS) r = vkbn_buffer_download(sums, 0, host, (uint64_t)c * 2 * sizeof(float));
    for (uint32_t i = 0; i < c && r == VKBN_SUCCESS; ++i) {
        out->sum_g_xhat[i] = host[i]; /* dweight = sum g * xhat */
        out->sum_g[i] = host[c + i];  /* dbias = sum g */
    }
    vkbn__free(host);
    if (r == VKBN_SUCCESS) out->count = op.per_channel;
    vkbn_buffer_destroy(db);
    vkbn_buffer_destroy(dw);
    vkbn_buffer_destroy(sums);
    return r;
}

/* Neumaier's compensated sum: s + comp carries the rounding errors. */
static void neumaier_add(double* s, double* comp, double v) {
    double t = *s + v;
    *comp += fabs(*s) >= fabs(v) ? (*s - t) + v : (v - t) + *s;
    *s = t;
}

vkbn_result vkbn_grad_sums_merge(const vkbn_grad_sums* parts, uint32_t count, vkbn_grad_sums* out) {
    REQUIRE(out, "out");
    if (count > 0) REQUIRE(parts, "parts");
    VKBN_CHECK(check_sums(out, "out", out->c, true));
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; ++i) {
        char name[32];
        snprintf(name, sizeof name, "parts[%u]", i);
        VKBN_CHECK(check_sums(&parts[i], name, out->c, parts[i].count > 0));
        VKBN_CHECK(add_count(&total, parts[i].count, i));
    }
    for (uint32_t c = 0; c < out->c; ++c) {
        double g = 0.0, gc = 0.0, gx = 0.0, gxc = 0.0;
        for (uint32_t i = 0; i < count; ++i) {
            if (parts[i].count == 0) continue;
            neumaier_add(&g, &gc, parts[i].sum_g[c]);
            neumaier_add(&gx, &gxc, parts[i].sum_g_xhat[c]);
        }
        out->sum_g[c] = g + gc;
        out->sum_g_xhat[c] = gx + gxc;
    }
    out->count = total;
    return VKBN_SUCCESS;
}

vkbn_result vkbn_backward_global(vkbn_context ctx, const vkbn_backward_desc* desc, const vkbn_grad_sums* global) {
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    REQUIRE(global, "global");
    VKBN_CHECK(check_backward_common(desc));
    const uint32_t c = desc->tensor.c;
    vkbn__op op;
    memset(&op, 0, sizeof op);
    bool empty = desc->tensor.n == 0;
    VKBN_CHECK(vkbn__validate_backward_global(ctx, desc, &op));
    VKBN_CHECK(check_sums(global, "global", c, true));
    VKBN_CHECK(check_global_count(global->count, empty ? 0 : op.per_channel));
    float* buf = alloc_arrays(c, 9);
    if (!buf) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_backward_global: out of host memory");
    /* The apply pass's host coefficients (passes.h): mean | invstd | k1 |
     * shift | mg | e. */
    struct {
        float *mean, *invstd, *k1, *shift, *mg, *e;
    } k = {buf, buf + c, buf + 2 * (size_t)c, buf + 3 * (size_t)c, buf + 4 * (size_t)c, buf + 5 * (size_t)c};
    float *w = buf + 6 * (size_t)c, *dw = buf + 7 * (size_t)c, *db = buf + 8 * (size_t)c;
    vkbn_result r = VKBN_SUCCESS;
    bool pass = !empty && (op.dx || op.dz);
    if (pass) {
        r = read_vector(op.save_mean, k.mean, c, 0.0f);
        if (r == VKBN_SUCCESS) r = read_vector(op.save_invstd, k.invstd, c, 0.0f);
        if (r == VKBN_SUCCESS) r = read_vector(op.weight, w, c, 1.0f);
        if (r == VKBN_SUCCESS) r = read_vector(op.bias, k.shift, c, 0.0f);
    }
    const double m = (double)global->count;
    for (uint32_t i = 0; i < c; ++i) {
        dw[i] = (float)global->sum_g_xhat[i];
        db[i] = (float)global->sum_g[i];
        k.k1[i] = (float)((double)w[i] * (double)k.invstd[i]);
        k.mg[i] = (float)(global->sum_g[i] / m);
        k.e[i] = (float)(global->sum_g_xhat[i] / m);
    }
    if (r == VKBN_SUCCESS && pass) {
        float* arrays[VKBN__APPLY_GRADS_HOST_ARRAYS] = {k.mean, k.invstd, k.k1, k.shift, k.mg, k.e};
        vkbn_buffer coef = NULL;
        r = upload_arrays(ctx, arrays, VKBN__APPLY_GRADS_HOST_ARRAYS, c, &coef);
        vkbn__op apply = op;
        apply.dweight = NULL;
        apply.dbias = NULL;
        vkbn__pass apply_pass = {VKBN__PASS_APPLY_GRADS, VKBN__SOURCE_HOST, coef, NULL};
        if (r == VKBN_SUCCESS) r = run_pass(ctx, &apply, apply_pass);
        vkbn_buffer_destroy(coef);
    }
    if (r == VKBN_SUCCESS) r = write_vector(desc->dweight, dw, c);
    if (r == VKBN_SUCCESS) r = write_vector(desc->dbias, db, c);
    vkbn__free(buf);
    return r;
}
