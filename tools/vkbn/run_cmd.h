/* What the two halves of `vkbn run` share: the forward passes (cmd_run.c,
 * which also parses every option) and the backward pass (run_backward.c). */
#ifndef VKBN_TOOLS_RUN_CMD_H_
#define VKBN_TOOLS_RUN_CMD_H_

#include <stdint.h>

#include "cli.h"
#include "npy.h"

#define CMD "run"

enum run_option {
    OPT_MODE,
    OPT_DEVICE,
    OPT_LAYOUT,
    OPT_DTYPE,
    OPT_X,
    OPT_WEIGHT,
    OPT_BIAS,
    OPT_RESIDUAL,
    OPT_RELU,
    OPT_RESIDUAL_RELU,
    OPT_ACTIVATION,
    OPT_ALPHA,
    OPT_BETA,
    OPT_RUNNING_MEAN,
    OPT_RUNNING_VAR,
    OPT_EPS,
    OPT_MOMENTUM,
    OPT_CUMULATIVE,
    OPT_BIASED,
    OPT_DY,
    OPT_Y,
    OPT_SAVE_MEAN,
    OPT_SAVE_INVSTD,
    OPT_FROZEN,
    OPT_SAVE_ACTIVATION_MASK,
    OPT_ACTIVATION_MASK,
    OPT_VALIDATION,
    OPT_SYNC_VALIDATION,
    OPT_NO_SUBGROUPS,
    OPT_OUT,
    OPT_COUNT
};

extern const cli_option run_options[OPT_COUNT];

typedef enum run_mode { RUN_TRAIN, RUN_INFER, RUN_BACKWARD } run_mode;

/* Everything the options say, checked. */
typedef struct run_config {
    run_mode mode;
    int training; /* forward with batch statistics */
    const char* device;
    vkbn_layout layout;
    int dtype_given;
    vkbn_dtype dtype;
    vkbn_activation activation;
    float alpha;
    float beta;
    float eps;
    float momentum;
    vkbn_running_average running_average;
    uint64_t cumulative_count;
    int biased_running_var;
    int validation;
    int sync_validation;     /* --sync-validation */
    int no_subgroups;        /* --no-subgroups */
    int running;             /* --running-mean and --running-var given */
    int frozen;              /* backward with the running statistics */
    int dresidual;           /* backward: write dresidual.npy (--residual-relu or --residual) */
    int save_mask;           /* forward: write activation_mask.npy (--save-activation-mask) */
    const char* const* path; /* indexed by run_option */
} run_config;

/* Keeps the first warning or error the context logs (with --validation: the
 * first validation-layer message) for the error line. */
typedef struct validation_log {
    int seen;
    char first[512];
} validation_log;

/* x's shape as a tensor description in the layout (checks dims and --dtype). */
int run_describe_x(const run_config* cfg, const npy_array* x, vkbn_tensor_desc* t);
/* Reads the tensor of `option`, which must have x's shape and dtype. */
int run_read_like_x(const run_config* cfg, int option, const npy_array* x, npy_array* out);
/* Reads the per-channel vector of `option` (if given) into *out (c floats). */
int run_read_vector(const run_config* cfg, int option, const vkbn_tensor_desc* t, float** out);
/* Creates the context the options describe (device, validation, subgroups). */
int run_create_context(const run_config* cfg, validation_log* log, vkbn_context* out);
/* After the work: fails if the validation layer spoke; names the device in out. */
int run_check_validation(vkbn_context ctx, const validation_log* log, char* device, size_t size);
/* Creates a buffer of `bytes` and, when data is given, uploads it. */
vkbn_result run_make_buffer(vkbn_context ctx, const void* data, uint64_t bytes, vkbn_buffer* out);

/* run_backward.c: --mode backward, from the checked options to the files. */
int run_backward(const run_config* cfg);

#endif
