/* Central finite differences of the fp64 forward pass: the check of the
 * fp64 backward reference (reference.h), and through it of every backend.
 *
 * The loss is L = sum_i w_i y_i, y the forward output (training mode: batch
 * statistics, which depend on x; frozen: running statistics), so dL/dy = w
 * and the backward with dy = w must give dL/dx, dL/dweight, dL/dbias and
 * dL/dz. Each derivative is estimated at steps h and h/2; their difference
 * bounds the truncation error (Richardson), and the loss's rounding error
 * divided by the step bounds the cancellation. */
#ifndef VKBN_TESTING_GRADCHECK_H_
#define VKBN_TESTING_GRADCHECK_H_

#include <stddef.h>
#include <stdint.h>

#include "reference.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gc_problem {
    ref_shape shape;
    int frozen;
    const double* x;
    const double* z;            /* the residual, or NULL */
    const double* weight;       /* c values (required: its gradient is checked) */
    const double* bias;         /* c values */
    const double* running_mean; /* frozen */
    const double* running_var;  /* frozen */
    double eps;
    vkbn_activation activation;
    double activation_alpha;
    double activation_beta;
    const double* w; /* the loss weights, x's shape */
} gc_problem;

/* Numeric gradients and a bound on each one's error. Every array has the
 * size of what it differentiates (x's shape, or c). dz and err_dz are
 * ignored without a residual. Returns the step h used, or 0 when some
 * pre-activation value u lies too close to a kink of the activation for a
 * meaningful step (the FD would straddle it). */
double gc_numeric_gradients(const gc_problem* p, double* dx, double* err_dx, double* dweight, double* err_dweight,
                            double* dbias, double* err_dbias, double* dz, double* err_dz);

/* The smallest distance of any u = bn(x) [+ z] to a kink of the activation
 * (0 for relu and leaky_relu; alpha and beta for clamp); infinity when it
 * has none. */
double gc_kink_margin(const gc_problem* p);

#ifdef __cplusplus
}
#endif

#endif
