/* The fp64 reference of SEMANTICS.md: what every backend is tested against.
 * Plain loops in double precision over the same f32 (or f16-decoded) inputs;
 * clarity over speed. Part of the test kit (tests, `vkbn check`, the bench),
 * not of the library. */
#ifndef VKBN_TESTING_REFERENCE_H_
#define VKBN_TESTING_REFERENCE_H_

#include <stddef.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A tensor's logical shape for the reference: n, c, s (spatial product) and
 * the layout that maps (n, c, s) to a flat index. */
typedef struct ref_shape {
    uint64_t n, c, s;
    vkbn_layout layout;
} ref_shape;

ref_shape ref_shape_from_desc(const vkbn_tensor_desc* t);
/* Flat index of element (n, c, s) in the layout. */
uint64_t ref_index(const ref_shape* sh, uint64_t n, uint64_t c, uint64_t s);

/* Forward training. Inputs are doubles (already decoded from f32/f16).
 * weight, bias, z, running_mean/var may be NULL (weight = 1, bias = 0; no
 * residual; no running update). running_* are updated in place with factor f
 * and the unbiased (or biased) variance. Outputs: y (n*c*s), mean[c],
 * invstd[c], var[c] (biased). */
typedef struct ref_forward_training {
    ref_shape shape;
    const double* x;
    const double* z;
    const double* weight;
    const double* bias;
    double* running_mean;
    double* running_var;
    double eps;
    double factor;          /* running-average weight of this batch */
    int biased_running_var; /* 0: var * m/(m-1) */
    vkbn_activation activation;
    double* y;
    double* mean;
    double* invstd;
    double* var;
    double activation_alpha; /* see vkbn_activation (last: positional initializers stay valid) */
    double activation_beta;
} ref_forward_training;

void ref_batchnorm_forward_training(const ref_forward_training* a);

/* Forward inference from running statistics (not modified). */
typedef struct ref_forward_inference {
    ref_shape shape;
    const double* x;
    const double* z;
    const double* weight;
    const double* bias;
    const double* running_mean;
    const double* running_var;
    double eps;
    vkbn_activation activation;
    double* y;
    double activation_alpha;
    double activation_beta;
} ref_forward_inference;

void ref_batchnorm_forward_inference(const ref_forward_inference* a);

/* The activations of vkbn_activation at u, and dL/du = dy * act'(u). For
 * RELU, LEAKY_RELU and CLAMP act' is read from y = act(u) as the library does
 * (y > 0; y > 0 ? 1 : alpha; alpha < y < beta), so that both see the same
 * stored y; for SILU (and NONE) from u. At a kink these are the one-sided
 * derivatives PyTorch uses. */
double ref_activation(vkbn_activation a, double u, double alpha, double beta);
int ref_activation_reads_y(vkbn_activation a);
double ref_activation_grad_from_y(vkbn_activation a, double dy, double y, double alpha, double beta);
double ref_activation_grad_from_u(vkbn_activation a, double dy, double u, double alpha, double beta);

/* Backward (SEMANTICS.md, "Backward"), in training mode from the saved
 * statistics or with frozen (running) statistics. g = dy * act'(u):
 *   xhat = (x - mean) * invstd;  dbias = sum g;  dweight = sum g * xhat
 *   training: dx = gamma * invstd * (g - dbias / m - xhat * dweight / m)
 *   frozen:   dx = gamma * invstd * g,  invstd = 1 / sqrt(running_var + eps)
 *   dz = g
 * y is read for RELU, LEAKY_RELU and CLAMP; SILU recomputes
 * u = gamma * xhat + beta [+ z]. Any output may be NULL. */
typedef struct ref_backward {
    ref_shape shape;
    int frozen;
    const double* x;
    const double* dy;
    const double* y;            /* RELU, LEAKY_RELU, CLAMP */
    const double* z;            /* SILU: the forward's residual, or NULL */
    const double* weight;       /* NULL: 1 */
    const double* bias;         /* NULL: 0 (SILU) */
    const double* save_mean;    /* training */
    const double* save_invstd;  /* training */
    const double* running_mean; /* frozen */
    const double* running_var;  /* frozen */
    double eps;                 /* frozen */
    vkbn_activation activation;
    double activation_alpha;
    double activation_beta;
    double* dx;
    double* dweight;
    double* dbias;
    double* dz;
} ref_backward;

void ref_batchnorm_backward(const ref_backward* a);

/* IEEE half <-> float, round to nearest even, with subnormals, inf and NaN. */
uint16_t ref_f32_to_f16(float f);
float ref_f16_to_f32(uint16_t h);
/* bfloat16: the upper half of an f32, rounded to nearest even (NaN quieted). */
uint16_t ref_f32_to_bf16(float f);
float ref_bf16_to_f32(uint16_t h);

/* The storage types by their vkbn_dtype value (0 f32, 1 f16, 2 bf16), so
 * that this header needs nothing of vkbn's: */
/* the value a tensor of this dtype stores for v (v itself for f32); */
float ref_storage_round(float v, int dtype);
/* one unit in the last place of the type, relative (0 for f32): the
 * rounding on store that the tests allow on top of the f32 arithmetic's; */
double ref_storage_ulp(int dtype);
/* "f32", "f16", "bf16". */
const char* ref_dtype_name(int dtype);
/* Encodes count values (already representable) into dst in the dtype's
 * bytes, and decodes them back. */
void ref_storage_encode(void* dst, const float* v, uint64_t count, int dtype);
void ref_storage_decode(float* dst, const void* src, uint64_t count, int dtype);

#ifdef __cplusplus
}
#endif

#endif
