/* The fp64 backward reference against central finite differences of the
 * fp64 forward pass (testing/gradcheck.h), for every variant: training and
 * frozen statistics, every activation, with and without a residual, both
 * layouts, spatial ranks 0 and 2. The library's backward is tested against
 * this reference (test_backward), so this closes the chain. Needs no device.
 *
 * Each gradient must match its finite difference within 4x the FD's own
 * error bound (truncation from the h / h/2 Richardson difference, plus the
 * loss's rounding over the step) plus 1e-11 relative for the reference's own
 * double rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"
#include "gradcheck.h"
#include "reference.h"

static int g_passed, g_failed;

#define CHECK(cond, ...)                                    \
    do {                                                    \
        if (cond) {                                         \
            g_passed++;                                     \
        } else {                                            \
            g_failed++;                                     \
            printf("FAIL test_gradcheck.c:%d: ", __LINE__); \
            printf(__VA_ARGS__);                            \
            printf("\n");                                   \
        }                                                   \
    } while (0)

typedef struct variant {
    uint32_t n, c, rank, s0, s1;
    vkbn_layout layout;
    int frozen;
    int residual;
    vkbn_activation activation;
    double alpha, beta;
} variant;

/* Worst |ref - fd| / tol over `count` values. */
static double worst(const double* ref, const double* fd, const double* err, uint64_t count, uint64_t* at) {
    double w = 0.0;
    for (uint64_t i = 0; i < count; ++i) {
        double tol = 4.0 * err[i] + 1e-11 * (1.0 + fabs(fd[i]));
        double r = fabs(ref[i] - fd[i]) / tol;
        if (!(r <= w)) {
            w = r;
            *at = i;
        }
    }
    return w;
}

static const char* act_name(vkbn_activation a) {
    static const char* const names[] = {"none", "relu", "leaky_relu", "clamp", "silu"};
    return (unsigned)a < 5 ? names[a] : "?";
}

static void check_variant(const variant* v, uint64_t seed) {
    ref_shape sh = {v->n, v->c, 1, v->layout};
    if (v->rank == 2) sh.s = (uint64_t)v->s0 * v->s1;
    uint64_t n = sh.n * sh.c * sh.s, c = sh.c;
    double *x = malloc(n * sizeof *x), *z = malloc(n * sizeof *z), *w = malloc(n * sizeof *w);
    double *y = malloc(n * sizeof *y), *weight = malloc(c * sizeof *weight), *bias = malloc(c * sizeof *bias);
    double *rm = malloc(c * sizeof *rm), *rv = malloc(c * sizeof *rv), *mean = malloc(c * sizeof *mean);
    double* invstd = malloc(c * sizeof *invstd);
    double *dx = malloc(n * sizeof *dx), *dz = malloc(n * sizeof *dz), *dw = malloc(c * sizeof *dw);
    double* db = malloc(c * sizeof *db);
    double *fx = malloc(n * sizeof *fx), *ex = malloc(n * sizeof *ex), *fz = malloc(n * sizeof *fz);
    double *ez = malloc(n * sizeof *ez), *fw = malloc(c * sizeof *fw), *ew = malloc(c * sizeof *ew);
    double *fb = malloc(c * sizeof *fb), *eb = malloc(c * sizeof *eb);
    rng r;
    rng_seed(&r, seed);
    for (uint64_t i = 0; i < c; ++i) {
        weight[i] = 0.5 + rng_uniform(&r) * (i % 2 ? -1.0 : 1.0);
        bias[i] = 2.0 * rng_uniform(&r) - 1.0;
        rm[i] = 2.0 * rng_uniform(&r) - 1.0;
        rv[i] = 0.5 + 1.5 * rng_uniform(&r);
    }
    for (uint64_t i = 0; i < n; ++i) {
        x[i] = 1.5 * rng_normal(&r) + 0.3;
        z[i] = rng_normal(&r);
        w[i] = rng_normal(&r);
    }
    gc_problem p = {.shape = sh,
                    .frozen = v->frozen,
                    .x = x,
                    .z = v->residual ? z : NULL,
                    .weight = weight,
                    .bias = bias,
                    .running_mean = rm,
                    .running_var = rv,
                    .eps = 1e-3,
                    .activation = v->activation,
                    .activation_alpha = v->alpha,
                    .activation_beta = v->beta,
                    .w = w};

    /* The forward pass the backward differentiates: y and the statistics. */
    if (v->frozen) {
        ref_forward_inference f = {.shape = sh,
                                   .x = x,
                                   .z = p.z,
                                   .weight = weight,
                                   .bias = bias,
                                   .running_mean = rm,
                                   .running_var = rv,
                                   .eps = p.eps,
                                   .activation = v->activation,
                                   .activation_alpha = v->alpha,
                                   .activation_beta = v->beta,
                                   .y = y};
        ref_batchnorm_forward_inference(&f);
    } else {
        ref_forward_training f = {.shape = sh,
                                  .x = x,
                                  .z = p.z,
                                  .weight = weight,
                                  .bias = bias,
                                  .eps = p.eps,
                                  .activation = v->activation,
                                  .activation_alpha = v->alpha,
                                  .activation_beta = v->beta,
                                  .y = y,
                                  .mean = mean,
                                  .invstd = invstd};
        ref_batchnorm_forward_training(&f);
    }
    ref_backward b = {.shape = sh,
                      .frozen = v->frozen,
                      .x = x,
                      .dy = w,
                      .y = y,
                      .z = p.z,
                      .weight = weight,
                      .bias = bias,
                      .save_mean = mean,
                      .save_invstd = invstd,
                      .running_mean = rm,
                      .running_var = rv,
                      .eps = p.eps,
                      .activation = v->activation,
                      .activation_alpha = v->alpha,
                      .activation_beta = v->beta,
                      .dx = dx,
                      .dweight = dw,
                      .dbias = db,
                      .dz = dz};
    ref_batchnorm_backward(&b);

    char name[160];
    snprintf(name, sizeof name, "%s %s n=%u c=%u s=%llu %s(%g,%g)%s", v->frozen ? "frozen" : "train",
             v->layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw", v->n, v->c, (unsigned long long)sh.s,
             act_name(v->activation), v->alpha, v->beta, v->residual ? " residual" : "");
    double h = gc_numeric_gradients(&p, fx, ex, fw, ew, fb, eb, fz, ez);
    CHECK(h > 0, "%s: u too close to a kink for finite differences (margin %g)", name, gc_kink_margin(&p));
    if (h > 0) {
        uint64_t ax = 0, aw = 0, ab = 0, az = 0;
        double rx = worst(dx, fx, ex, n, &ax), rw = worst(dw, fw, ew, c, &aw), rb = worst(db, fb, eb, c, &ab);
        double rz = v->residual ? worst(dz, fz, ez, n, &az) : 0.0;
        if (getenv("VKBN_TEST_VERBOSE")) {
            printf("%-52s h %.1e | dx %.2g dw %.2g db %.2g dz %.2g (of tolerance)\n", name, h, rx, rw, rb, rz);
        }
        CHECK(rx <= 1, "%s: dx[%llu] = %.12g, finite differences %.12g +- %.3g", name, (unsigned long long)ax, dx[ax],
              fx[ax], ex[ax]);
        CHECK(rw <= 1, "%s: dweight[%llu] = %.12g, finite differences %.12g +- %.3g", name, (unsigned long long)aw,
              dw[aw], fw[aw], ew[aw]);
        CHECK(rb <= 1, "%s: dbias[%llu] = %.12g, finite differences %.12g +- %.3g", name, (unsigned long long)ab,
              db[ab], fb[ab], eb[ab]);
        CHECK(rz <= 1, "%s: dz[%llu] = %.12g, finite differences %.12g +- %.3g", name, (unsigned long long)az, dz[az],
              fz[az], ez[az]);
    }
    double* all[] = {x, z, w, y, weight, bias, rm, rv, mean, invstd, dx, dz, dw, db, fx, ex, fz, ez, fw, ew, fb, eb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
}

int main(void) {
    static const struct {
        vkbn_activation a;
        double alpha, beta;
    } acts[] = {{VKBN_ACTIVATION_NONE, 0, 0},         {VKBN_ACTIVATION_RELU, 0, 0},
                {VKBN_ACTIVATION_LEAKY_RELU, 0.1, 0}, {VKBN_ACTIVATION_LEAKY_RELU, 2.5, 0},
                {VKBN_ACTIVATION_CLAMP, -0.5, 0.75},  {VKBN_ACTIVATION_CLAMP, 0.0, 6.0},
                {VKBN_ACTIVATION_SILU, 0, 0}};
    static const uint32_t shapes[][5] = {{3, 2, 2, 2, 3}, {5, 3, 0, 1, 1}};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; ++a)
        for (size_t s = 0; s < 2; ++s)
            for (int layout = 0; layout < 2; ++layout)
                for (int frozen = 0; frozen < 2; ++frozen)
                    for (int residual = 0; residual < 2; ++residual) {
                        variant v = {shapes[s][0], shapes[s][1],        shapes[s][2], shapes[s][3],
                                     shapes[s][4], (vkbn_layout)layout, frozen,       residual,
                                     acts[a].a,    acts[a].alpha,       acts[a].beta};
                        check_variant(&v, 11 * seed++);
                    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
