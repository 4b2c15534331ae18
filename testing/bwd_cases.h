/* One backward case, run through the public API on a context and checked
 * against the fp64 reference (reference.h): the engine of the backward tests
 * and of the backward part of `vkbn check`. The inputs a forward pass would
 * have produced (y, save_mean, save_invstd) come from the fp64 forward,
 * rounded to their storage types, so the case tests the backward alone. */
#ifndef VKBN_TESTING_BWD_CASES_H_
#define VKBN_TESTING_BWD_CASES_H_

#include <stddef.h>
#include <stdint.h>

#include "cases.h"
#include "vkbn/vkbn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which outputs the case asks for. */
enum { BWD_OUT_DX = 1, BWD_OUT_DWEIGHT = 2, BWD_OUT_DBIAS = 4, BWD_OUT_DRESIDUAL = 8, BWD_OUT_ALL = 15 };

/* dy's distribution. */
typedef enum bwd_dy_data {
    BWD_DY_NORMAL = 0, /* N(0, 1) */
    BWD_DY_OFFSET = 1, /* 1000 + N(0, 1): sum dy is large and cancels in dx */
    /* f32 only: each channel's first element 1, the others 1.7e-9 (< u / 32):
     * a plain float sum drops every chunk of them against the 1, a
     * compensated one keeps them (dbias exposes the difference). */
    BWD_DY_SPIKE = 2
} bwd_dy_data;

typedef struct bwd_case {
    vkbn_tensor_desc tensor;
    int frozen;   /* statistics from running_mean / running_var */
    int affine;   /* weight and bias given */
    int residual; /* the forward added a residual z (passed to the backward) */
    vkbn_activation activation;
    float activation_alpha;
    float activation_beta;
    unsigned outputs; /* BWD_OUT_* */
    float eps;
    uint32_t reduction_split; /* 0: vkbn chooses */
    int in_place;             /* dx is dy's buffer */
    uint64_t offset_bytes;    /* tensors at this offset inside larger buffers */
    case_data data;           /* x's distribution, as for the forward cases */
    bwd_dy_data dy_data;
    /* RELU, LEAKY_RELU, CLAMP: also run with the activation mask (packed on
     * the host from the stored y, at offset_bytes, bits past the last
     * element set) in place of y; its outputs must equal the run with y bit
     * for bit, and are the ones checked against the reference. */
    int mask;
    uint64_t seed;
} bwd_case;

/* Training mode, affine, no activation, every output but dresidual. */
bwd_case bwd_case_default(uint32_t n, uint32_t c, uint32_t rank, const uint32_t* spatial, vkbn_layout layout,
                          vkbn_dtype dtype);

typedef struct bwd_result {
    int ok;
    /* Worst error of each output as a fraction of its tolerance (<= 1 passes). */
    double dx;
    double dweight;
    double dbias;
    double dz;
    char plan[256];    /* vkbn_plan_describe */
    char message[512]; /* why it failed; "" when ok */
} bwd_result;

/* Runs the case: 0 ran and matched, 1 ran and did not match, -1 an API call
 * failed or a validation message appeared. f16 cases on a device without
 * 16-bit storage return 0 with message "skipped: ...". */
int bwd_case_run(vkbn_context ctx, const bwd_case* c, bwd_result* r);

/* Runs the case twice on fresh buffers; 0 when every output is bit-identical. */
int bwd_case_run_deterministic(vkbn_context ctx, const bwd_case* c, bwd_result* r);

/* The same on two contexts (a, then b; r->plan is b's): 0 when every output
 * is bit-identical. */
int bwd_case_run_same(vkbn_context a, vkbn_context b, const bwd_case* c, bwd_result* r);

/* "bwd train nchw f16 n=2 c=13 s=7x5 affine residual relu dx+dw+db+dz split=3". */
void bwd_case_describe(const bwd_case* c, char* out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
