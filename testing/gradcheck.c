/* Central finite differences of the fp64 forward pass (gradcheck.h). */
#include "gradcheck.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEP 1e-4

static uint64_t count_of(const ref_shape* sh) { return sh->n * sh->c * sh->s; }

/* The forward output for the given (possibly perturbed) inputs. */
static void forward(const gc_problem* p, const double* x, const double* z, const double* weight, const double* bias,
                    double* y, double* mean, double* invstd) {
    if (p->frozen) {
        ref_forward_inference a;
        memset(&a, 0, sizeof a);
        a.shape = p->shape;
        a.x = x;
        a.z = z;
        a.weight = weight;
        a.bias = bias;
        a.running_mean = p->running_mean;
        a.running_var = p->running_var;
        a.eps = p->eps;
        a.activation = p->activation;
        a.activation_alpha = p->activation_alpha;
        a.activation_beta = p->activation_beta;
        a.y = y;
        ref_batchnorm_forward_inference(&a);
        for (uint64_t c = 0; c < p->shape.c; ++c) {
            if (mean) mean[c] = p->running_mean[c];
            if (invstd) invstd[c] = 1.0 / sqrt(p->running_var[c] + p->eps);
        }
        return;
    }
    ref_forward_training a;
    memset(&a, 0, sizeof a);
    a.shape = p->shape;
    a.x = x;
    a.z = z;
    a.weight = weight;
    a.bias = bias;
    a.eps = p->eps;
    a.activation = p->activation;
    a.activation_alpha = p->activation_alpha;
    a.activation_beta = p->activation_beta;
    a.y = y;
    a.mean = mean;
    a.invstd = invstd;
    ref_batchnorm_forward_training(&a);
}

/* Work arrays: copies of the inputs to perturb, and y. */
typedef struct work {
    double *x, *z, *weight, *bias, *y;
} work;

static double loss(const gc_problem* p, work* k, double* abs_sum) {
    forward(p, k->x, p->z ? k->z : NULL, k->weight, k->bias, k->y, NULL, NULL);
    double l = 0.0, a = 0.0;
    for (uint64_t i = 0; i < count_of(&p->shape); ++i) {
        l += p->w[i] * k->y[i];
        a += fabs(p->w[i] * k->y[i]);
    }
    if (abs_sum) *abs_sum = a;
    return l;
}

/* dL/dv at v = *slot, with its error bound. */
static void derivative(const gc_problem* p, work* k, double* slot, double h, double* d, double* err) {
    double v = *slot, a0, a1, a2, a3;
    *slot = v + h;
    double lp = loss(p, k, &a0);
    *slot = v - h;
    double lm = loss(p, k, &a1);
    *slot = v + 0.5 * h;
    double lp2 = loss(p, k, &a2);
    *slot = v - 0.5 * h;
    double lm2 = loss(p, k, &a3);
    *slot = v;
    double d1 = (lp - lm) / (2.0 * h), d2 = (lp2 - lm2) / h;
    /* Truncation: D(h) - D(h/2) = 3/4 c h^2 + O(h^4), D(h/2)'s error is c h^2 / 4:
     * a third of the difference, doubled for the higher-order terms. The loss
     * carries about count * DBL_EPSILON relative error (a sum over every y, each
     * from sums over its channel), doubled for the two evaluations. */
    double abs_sum = fmax(fmax(a0, a1), fmax(a2, a3));
    double rounding = 4.0 * (double)count_of(&p->shape) * DBL_EPSILON * abs_sum / h;
    *d = d2;
    *err = fabs(d1 - d2) * (2.0 / 3.0) + rounding;
}

static int is_kink(vkbn_activation a) {
    return a == VKBN_ACTIVATION_RELU || a == VKBN_ACTIVATION_LEAKY_RELU || a == VKBN_ACTIVATION_CLAMP;
}

/* u, and the largest |gamma| invstd (1 + xhat^2) + |xhat| + 1: how fast any
 * u moves per unit step of any input. */
static double pre_activations(const gc_problem* p, double* u, double* sensitivity) {
    const ref_shape* sh = &p->shape;
    double* mean = malloc(sh->c * sizeof *mean);
    double* invstd = malloc(sh->c * sizeof *invstd);
    double* y = malloc(count_of(sh) * sizeof *y);
    double margin = INFINITY, sens = 1.0;
    if (!mean || !invstd || !y) {
        margin = 0.0;
    } else {
        forward(p, p->x, p->z, p->weight, p->bias, y, mean, invstd);
        for (uint64_t c = 0; c < sh->c; ++c)
            for (uint64_t n = 0; n < sh->n; ++n)
                for (uint64_t s = 0; s < sh->s; ++s) {
                    uint64_t i = ref_index(sh, n, c, s);
                    double xhat = (p->x[i] - mean[c]) * invstd[c];
                    u[i] = p->weight[c] * xhat + p->bias[c] + (p->z ? p->z[i] : 0.0);
                    double k = fabs(p->weight[c]) * invstd[c] * (1.0 + xhat * xhat) + fabs(xhat) + 1.0;
                    if (k > sens) sens = k;
                }
    }
    free(mean);
    free(invstd);
    free(y);
    *sensitivity = sens;
    return margin;
}

double gc_kink_margin(const gc_problem* p) {
    if (!is_kink(p->activation)) return INFINITY;
    uint64_t n = count_of(&p->shape);
    double* u = malloc(n * sizeof *u);
    double sens, margin = u ? pre_activations(p, u, &sens) : 0.0;
    for (uint64_t i = 0; u && margin > 0.0 && i < n; ++i) {
        double d = p->activation == VKBN_ACTIVATION_CLAMP
                       ? fmin(fabs(u[i] - p->activation_alpha), fabs(u[i] - p->activation_beta))
                       : fabs(u[i]);
        if (d < margin) margin = d;
    }
    free(u);
    return margin;
}

double gc_numeric_gradients(const gc_problem* p, double* dx, double* err_dx, double* dweight, double* err_dweight,
                            double* dbias, double* err_dbias, double* dz, double* err_dz) {
    const ref_shape* sh = &p->shape;
    uint64_t n = count_of(sh);
    double* u = malloc(n * sizeof *u);
    double sens = 1.0;
    if (!u || pre_activations(p, u, &sens) == 0.0) {
        free(u);
        return 0.0;
    }
    free(u);
    /* No perturbation (at most h) may carry a u across a kink. */
    double h = MAX_STEP, margin = gc_kink_margin(p);
    if (margin < 4.0 * sens * h) h = margin / (4.0 * sens);
    if (h < 1e-9) return 0.0;

    work k;
    k.x = malloc(n * sizeof(double));
    k.z = malloc(n * sizeof(double));
    k.y = malloc(n * sizeof(double));
    k.weight = malloc(sh->c * sizeof(double));
    k.bias = malloc(sh->c * sizeof(double));
    if (!k.x || !k.z || !k.y || !k.weight || !k.bias) {
        h = 0.0;
    } else {
        memcpy(k.x, p->x, n * sizeof(double));
        if (p->z) memcpy(k.z, p->z, n * sizeof(double));
        memcpy(k.weight, p->weight, sh->c * sizeof(double));
        memcpy(k.bias, p->bias, sh->c * sizeof(double));
        for (uint64_t i = 0; i < n; ++i) {
            derivative(p, &k, &k.x[i], h, &dx[i], &err_dx[i]);
            if (p->z) derivative(p, &k, &k.z[i], h, &dz[i], &err_dz[i]);
        }
        for (uint64_t c = 0; c < sh->c; ++c) {
            derivative(p, &k, &k.weight[c], h, &dweight[c], &err_dweight[c]);
            derivative(p, &k, &k.bias[c], h, &dbias[c], &err_dbias[c]);
        }
    }
    free(k.x);
    free(k.z);
    free(k.y);
    free(k.weight);
    free(k.bias);
    return h;
}
