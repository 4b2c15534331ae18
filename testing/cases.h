/* One forward-pass case, run through the public API on a context and checked
 * against the fp64 reference: the engine of the test suite and of
 * `vkbn check`. */
#ifndef VKBN_TESTING_CASES_H_
#define VKBN_TESTING_CASES_H_

#include <stddef.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum case_data {
    CASE_DATA_NORMAL = 0,     /* per-channel mean in [-2, 2], std in [0.5, 2] */
    CASE_DATA_LARGE_MEAN = 1, /* mean 1e4, std 1: catastrophic for E[x^2] - E[x]^2 */
    CASE_DATA_CONSTANT = 2,   /* like NORMAL, but channel 0 is constant (var exactly 0) */
    CASE_DATA_OUTLIER = 3     /* like NORMAL, but each channel's first element is +1000 std */
} case_data;

typedef struct fwd_case {
    vkbn_tensor_desc tensor;
    int training; /* 1: training; 0: inference from running statistics */
    int affine;   /* weight and bias given */
    int residual; /* residual z given */
    vkbn_activation activation;
    float activation_alpha; /* see vkbn_activation */
    float activation_beta;
    int running; /* training: update running statistics */
    vkbn_running_average running_average;
    float momentum;
    uint64_t cumulative_count;
    int biased_running_var;
    float eps;
    uint32_t reduction_split; /* 0: vkbn chooses */
    int steps;                /* training: consecutive steps (>= 1), running stats carried over */
    int in_place;             /* y is x's buffer */
    uint64_t offset_bytes;    /* tensors live at this offset inside larger buffers */
    /* Also write the activation mask (RELU, LEAKY_RELU, CLAMP), at
     * offset_bytes in its buffer, over a buffer of garbage: each bit must
     * be the backward's test of the stored y (checked bit for bit against
     * the y the device stored). */
    int mask;
    case_data data;
    uint64_t seed;
} fwd_case;

/* A case with PyTorch-like defaults for the given shape. */
fwd_case case_default(uint32_t n, uint32_t c, uint32_t rank, const uint32_t* spatial, vkbn_layout layout,
                      vkbn_dtype dtype);

typedef struct case_result {
    int ok;
    /* Worst error of each output as a fraction of its tolerance (<= 1 passes). */
    double y;
    double mean;
    double invstd;
    double running;
    double var_rel;    /* worst relative error of the batch variance (from invstd) */
    char plan[256];    /* vkbn_plan_describe of the (first) plan */
    char message[512]; /* why it failed; "" when ok */
} case_result;

/* Runs the case. Returns 0 when it ran and matched, 1 when it ran and did
 * not match, -1 when an API call failed or a validation message appeared
 * (message says which). Skips f16 cases (returns 0, message "skipped: ...")
 * when the device has no 16-bit storage. */
int case_run(vkbn_context ctx, const fwd_case* c, case_result* r);

/* Runs the case twice on fresh buffers and compares every output bit for
 * bit. Returns 0 when identical. */
int case_run_deterministic(vkbn_context ctx, const fwd_case* c, case_result* r);

/* A one-line description of the case ("train nchw f16 n=2 c=13 s=7x5 affine relu split=3"). */
void case_describe(const fwd_case* c, char* out, size_t size);

/* " relu", " leaky_relu(0.1)", " clamp(0,6)", " silu", "" for none. */
void case_describe_activation(vkbn_activation a, float alpha, float beta, char* out, size_t size);

/* How much an error in u can grow through the activation (its Lipschitz
 * constant), and the activation's own relative error at u in units of the
 * unit roundoff: SiLU's exp is accurate to (3 + 2|u|) ulp in Vulkan. */
double case_activation_lipschitz(vkbn_activation a, double alpha);
double case_activation_ulps(vkbn_activation a, double u);

/* Helpers shared with the backward cases (bwd_cases.c). */
float case_storage_round(float v, vkbn_dtype dtype); /* the value f16 storage keeps */
/* A buffer of `bytes` with `offset` bytes in front: *view is a view of *root
 * at the offset, or NULL when offset is 0. */
vkbn_result case_tensor_buffer(vkbn_context ctx, uint64_t bytes, uint64_t offset, vkbn_buffer* root, vkbn_buffer* view);
vkbn_result case_upload_tensor(vkbn_buffer b, const float* v, uint64_t count, vkbn_dtype dtype);
vkbn_result case_download_tensor(vkbn_buffer b, float* v, uint64_t count, vkbn_dtype dtype);
/* The backward's act' test of a stored y (RELU, LEAKY_RELU: y > 0; CLAMP:
 * alpha < y < beta): the activation mask's bit. */
int case_mask_bit(float y, vkbn_activation a, float alpha, float beta);
/* Bit e of a packed mask (bit e % 8 of byte e / 8). */
static inline int case_mask_get(const uint8_t* mask, uint64_t e) { return (mask[e >> 3] >> (e & 7)) & 1; }
/* 1 with "skipped: ..." in message when dtype is f16 and the device lacks 16-bit storage. */
int case_skip_f16(vkbn_context ctx, vkbn_dtype dtype, char* message, size_t size);

#ifdef __cplusplus
}
#endif

#endif
