/* `vkbn run`: one forward or backward pass on .npy files through the public
 * API, so that users can compare vkbn with their framework on their own
 * device. This file parses every option and runs the forward passes;
 * run_backward.c runs the backward pass.
 *
 * Order of work: options, then the output directory, then every input file,
 * then the device; outputs are written only when everything has succeeded. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "npy.h"
#include "run_cmd.h"
#include "run_io.h"

const cli_option run_options[OPT_COUNT] = {
    [OPT_MODE] = {"--mode", "train|infer|backward",
                  "forward with batch statistics (train) or running statistics (infer), or backward; required"},
    [OPT_DEVICE] = {"--device", "D", "device index or part of its name (vkbn devices); default: the best"},
    [OPT_LAYOUT] = {"--layout", "nchw|nhwc", "x is (N, C, D1..Dk) or (N, D1..Dk, C); default nchw"},
    [OPT_DTYPE] = {"--dtype", "f32|f16|bf16",
                   "x's element type; must match the file; default: the file's (bf16 must be given)"},
    [OPT_X] = {"--x", "X.npy", "the input, 2 to 5 dims, '<f4', '<f2', or bf16 bits as '<u2' (or '<i2'); required"},
    [OPT_WEIGHT] = {"--weight", "W.npy", "gamma, shape (C,); default 1"},
    [OPT_BIAS] = {"--bias", "B.npy", "beta, shape (C,); default 0"},
    [OPT_RESIDUAL] = {"--residual", "Z.npy",
                      "added before the activation; x's shape and dtype (backward: writes dresidual.npy)"},
    [OPT_RELU] = {"--relu", NULL, "apply relu last: y = relu(bn(x) [+ z]); same as --activation relu"},
    [OPT_RESIDUAL_RELU] = {"--residual-relu", NULL,
                           "backward of y = relu(bn(x) + z): --relu, and writes dresidual.npy"},
    [OPT_ACTIVATION] = {"--activation", "A", "none|relu|leaky_relu|clamp|silu, applied last; default none"},
    [OPT_ALPHA] = {"--alpha", "A", "leaky_relu: negative slope (default 0.01); clamp: minimum (required)"},
    [OPT_BETA] = {"--beta", "B", "clamp: maximum (required; --alpha 0 --beta 6 is ReLU6)"},
    [OPT_RUNNING_MEAN] = {"--running-mean", "RM.npy",
                          "shape (C,); required by infer and backward --frozen, updated by train"},
    [OPT_RUNNING_VAR] = {"--running-var", "RV.npy", "shape (C,); goes with --running-mean"},
    [OPT_EPS] = {"--eps", "E", "added to the variance, finite and >= 0; default 1e-5"},
    [OPT_MOMENTUM] = {"--momentum", "M", "train: weight of this batch in the running stats, in [0, 1]; default 0.1"},
    [OPT_CUMULATIVE] = {"--cumulative", "T", "train: cumulative average with T batches already folded in"},
    [OPT_BIASED] = {"--biased-running-var", NULL, "train: fold in the biased batch variance (ONNX), not m/(m-1)"},
    [OPT_DY] = {"--dy", "DY.npy", "backward: the gradient w.r.t. y; x's shape and dtype; required"},
    [OPT_Y] = {"--y", "Y.npy", "backward: the forward output (relu, leaky_relu, clamp take act' from it)"},
    [OPT_SAVE_MEAN] = {"--save-mean", "SM.npy", "backward: the forward's batch mean, (C,); required unless --frozen"},
    [OPT_SAVE_INVSTD] = {"--save-invstd", "SI.npy", "backward: the forward's 1/sqrt(var + eps), (C,); likewise"},
    [OPT_FROZEN] = {"--frozen", NULL, "backward with frozen statistics (--running-mean, --running-var, --eps)"},
    [OPT_SAVE_ACTIVATION_MASK] = {"--save-activation-mask", NULL,
                                  "train|infer with relu, leaky_relu or clamp: also write activation_mask.npy"},
    [OPT_ACTIVATION_MASK] = {"--activation-mask", "M.npy",
                             "backward: the forward's activation_mask.npy, in place of --y"},
    [OPT_VALIDATION] = {"--validation", NULL, "enable the Vulkan validation layer; any message fails the run"},
    [OPT_SYNC_VALIDATION] = {"--sync-validation", NULL,
                             "--validation plus synchronization validation (hazards between vkbn's commands)"},
    [OPT_NO_SUBGROUPS] = {"--no-subgroups", NULL,
                          "run the shared-memory kernels, not the subgroup ones (to rule out a driver's subgroups)"},
    [OPT_OUT] = {"--out", "DIR", "output directory, created if missing (one level); required"},
};

/* The inputs, read and checked against each other. */
typedef struct run_inputs {
    vkbn_tensor_desc tensor;
    npy_array x;
    npy_array z; /* data NULL when no residual */
    float* weight;
    float* bias;
    float* running_mean; /* train: updated in place by compute() */
    float* running_var;
} run_inputs;

/* What the pass produced. */
typedef struct run_results {
    void* y; /* x's dtype and element count */
    float* save_mean;
    float* save_invstd;
    uint8_t* mask; /* --save-activation-mask: mask_bytes bytes */
    uint64_t mask_bytes;
    char device[300];
} run_results;

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static int parse_enum(const char* option, const char* text, const char* a, const char* b, int* out) {
    if (strcmp(text, a) == 0) {
        *out = 0;
    } else if (strcmp(text, b) == 0) {
        *out = 1;
    } else {
        return cli_error(CMD, CLI_USAGE, "%s: expected '%s' or '%s', got '%s'", option, a, b, text);
    }
    return CLI_OK;
}

static int parse_required(const cli_args* args, run_config* cfg) {
    static const int required[] = {OPT_MODE, OPT_X, OPT_OUT};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; ++i) {
        const cli_option* o = &run_options[required[i]];
        if (!args->value[required[i]]) return cli_error(CMD, CLI_USAGE, "%s %s is required", o->name, o->metavar);
    }
    int layout = 0;
    const char* mode = args->value[OPT_MODE];
    if (strcmp(mode, "train") == 0) {
        cfg->mode = RUN_TRAIN;
    } else if (strcmp(mode, "infer") == 0) {
        cfg->mode = RUN_INFER;
    } else if (strcmp(mode, "backward") == 0) {
        cfg->mode = RUN_BACKWARD;
    } else {
        return cli_error(CMD, CLI_USAGE, "--mode: expected 'train', 'infer' or 'backward', got '%s'", mode);
    }
    cfg->training = cfg->mode == RUN_TRAIN;
    if (args->value[OPT_LAYOUT] && parse_enum("--layout", args->value[OPT_LAYOUT], "nchw", "nhwc", &layout) != CLI_OK) {
        return CLI_USAGE;
    }
    cfg->layout = layout ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
    cfg->dtype_given = args->value[OPT_DTYPE] != NULL;
    cfg->dtype = VKBN_DTYPE_F32;
    if (cfg->dtype_given && cli_parse_dtype(CMD, "--dtype", args->value[OPT_DTYPE], &cfg->dtype) != CLI_OK) {
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int parse_numbers(const cli_args* args, run_config* cfg) {
    cfg->eps = VKBN_DEFAULT_EPS;
    cfg->momentum = VKBN_DEFAULT_MOMENTUM;
    const char* eps = args->value[OPT_EPS];
    const char* momentum = args->value[OPT_MOMENTUM];
    const char* cumulative = args->value[OPT_CUMULATIVE];
    if (eps && cli_parse_float(CMD, "--eps", eps, &cfg->eps) != CLI_OK) return CLI_USAGE;
    if (!isfinite(cfg->eps) || cfg->eps < 0.0f) {
        return cli_error(CMD, CLI_USAGE, "--eps: must be finite and >= 0, got '%s'", eps);
    }
    if (momentum && cumulative) {
        return cli_error(CMD, CLI_USAGE, "--momentum and --cumulative exclude each other: give one of them");
    }
    if (momentum && cli_parse_float(CMD, "--momentum", momentum, &cfg->momentum) != CLI_OK) return CLI_USAGE;
    if (!isfinite(cfg->momentum) || cfg->momentum < 0.0f || cfg->momentum > 1.0f) {
        return cli_error(CMD, CLI_USAGE, "--momentum: must be in [0, 1], got '%s'", momentum);
    }
    cfg->running_average = cumulative ? VKBN_RUNNING_AVERAGE_CUMULATIVE : VKBN_RUNNING_AVERAGE_EXPONENTIAL;
    if (cumulative && cli_parse_u64(CMD, "--cumulative", cumulative, &cfg->cumulative_count) != CLI_OK) {
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* The options about running statistics, against the mode. */
static int check_running(const cli_args* args, run_config* cfg) {
    int rm = args->value[OPT_RUNNING_MEAN] != NULL, rv = args->value[OPT_RUNNING_VAR] != NULL;
    if (rm != rv) {
        return cli_error(CMD, CLI_USAGE, "%s is missing: --running-mean and --running-var go together",
                         rm ? "--running-var" : "--running-mean");
    }
    cfg->running = rm;
    if (cfg->mode == RUN_INFER && !cfg->running) {
        return cli_error(CMD, CLI_USAGE, "--mode infer needs --running-mean and --running-var");
    }
    if (cfg->mode == RUN_BACKWARD && cfg->frozen && !cfg->running) {
        return cli_error(CMD, CLI_USAGE, "--frozen needs --running-mean and --running-var");
    }
    if (cfg->mode == RUN_BACKWARD && !cfg->frozen && cfg->running) {
        return cli_error(CMD, CLI_USAGE,
                         "--running-mean and --running-var apply to --mode backward only with --frozen "
                         "(training-mode backward uses --save-mean and --save-invstd)");
    }
    static const int train_only[] = {OPT_MOMENTUM, OPT_CUMULATIVE, OPT_BIASED};
    for (size_t i = 0; i < sizeof train_only / sizeof train_only[0]; ++i) {
        const char* name = run_options[train_only[i]].name;
        if (!args->value[train_only[i]]) continue;
        if (!cfg->training) return cli_error(CMD, CLI_USAGE, "%s only applies to --mode train", name);
        if (!cfg->running) {
            return cli_error(CMD, CLI_USAGE, "%s has no effect without --running-mean and --running-var", name);
        }
    }
    return CLI_OK;
}

static const char* const activation_names[] = {"none", "relu", "leaky_relu", "clamp", "silu"};

/* --relu, --residual-relu, --activation, --alpha and --beta. */
static int parse_activation(const cli_args* args, run_config* cfg) {
    const char* name = args->value[OPT_ACTIVATION];
    int relu = args->value[OPT_RELU] != NULL, residual_relu = args->value[OPT_RESIDUAL_RELU] != NULL;
    if (relu + residual_relu + (name != NULL) > 1) {
        return cli_error(CMD, CLI_USAGE, "--relu, --residual-relu and --activation exclude each other: give one");
    }
    if (residual_relu && cfg->mode != RUN_BACKWARD) {
        return cli_error(CMD, CLI_USAGE,
                         "--residual-relu only applies to --mode backward (forward: --residual Z.npy --relu)");
    }
    const char* const* names = activation_names;
    cfg->activation = relu || residual_relu ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
    if (name) {
        size_t k = 0;
        while (k < 5 && strcmp(name, names[k]) != 0) ++k;
        if (k == 5) {
            return cli_error(CMD, CLI_USAGE, "--activation: expected none, relu, leaky_relu, clamp or silu, got '%s'",
                             name);
        }
        cfg->activation = (vkbn_activation)k;
    }
    const char* alpha = args->value[OPT_ALPHA];
    const char* beta = args->value[OPT_BETA];
    bool leaky = cfg->activation == VKBN_ACTIVATION_LEAKY_RELU, clamp = cfg->activation == VKBN_ACTIVATION_CLAMP;
    if (alpha && !leaky && !clamp) {
        return cli_error(CMD, CLI_USAGE, "--alpha has no effect with --activation %s (leaky_relu and clamp take it)",
                         names[cfg->activation]);
    }
    if (beta && !clamp) {
        return cli_error(CMD, CLI_USAGE, "--beta has no effect with --activation %s (clamp takes it)",
                         names[cfg->activation]);
    }
    if (clamp && (!alpha || !beta)) {
        return cli_error(CMD, CLI_USAGE, "--activation clamp needs --alpha MIN and --beta MAX (ReLU6: 0 and 6)");
    }
    cfg->alpha = leaky ? 0.01f : 0.0f; /* PyTorch's default negative slope */
    if (alpha && cli_parse_float(CMD, "--alpha", alpha, &cfg->alpha) != CLI_OK) return CLI_USAGE;
    if (beta && cli_parse_float(CMD, "--beta", beta, &cfg->beta) != CLI_OK) return CLI_USAGE;
    if (!isfinite(cfg->alpha) || !isfinite(cfg->beta)) {
        return cli_error(CMD, CLI_USAGE, "%s: must be finite, got '%s'", isfinite(cfg->alpha) ? "--beta" : "--alpha",
                         isfinite(cfg->alpha) ? beta : alpha);
    }
    if (clamp && cfg->alpha > cfg->beta) {
        return cli_error(CMD, CLI_USAGE, "--beta: the clamp maximum %s is below the minimum --alpha %s", beta, alpha);
    }
    if (leaky && cfg->mode == RUN_BACKWARD && cfg->alpha < 0.0f) {
        return cli_error(CMD, CLI_USAGE,
                         "--alpha: the leaky_relu backward takes its slope from the sign of y and needs a slope >= 0, "
                         "got '%s'",
                         alpha);
    }
    return CLI_OK;
}

/* Options that belong to the forward or the backward pass only. */
static int check_mode_options(const cli_args* args, run_config* cfg) {
    static const int backward_only[] = {OPT_DY, OPT_Y, OPT_SAVE_MEAN, OPT_SAVE_INVSTD, OPT_FROZEN, OPT_ACTIVATION_MASK};
    for (size_t i = 0; i < sizeof backward_only / sizeof backward_only[0]; ++i) {
        if (args->value[backward_only[i]] && cfg->mode != RUN_BACKWARD) {
            return cli_error(CMD, CLI_USAGE, "%s only applies to --mode backward", run_options[backward_only[i]].name);
        }
    }
    bool mask = cfg->activation == VKBN_ACTIVATION_RELU || cfg->activation == VKBN_ACTIVATION_LEAKY_RELU ||
                cfg->activation == VKBN_ACTIVATION_CLAMP;
    cfg->save_mask = args->value[OPT_SAVE_ACTIVATION_MASK] != NULL;
    if (cfg->save_mask && cfg->mode == RUN_BACKWARD) {
        return cli_error(
            CMD, CLI_USAGE,
            "--save-activation-mask applies to --mode train and infer (backward: --activation-mask M.npy)");
    }
    if (cfg->save_mask && !mask) {
        return cli_error(
            CMD, CLI_USAGE,
            "--save-activation-mask: the %s activation has no mask (relu, leaky_relu and clamp have one%s)",
            activation_names[cfg->activation],
            cfg->activation == VKBN_ACTIVATION_SILU ? "; the silu backward recomputes u from x" : "");
    }
    if (cfg->mode != RUN_BACKWARD) return CLI_OK;
    cfg->frozen = args->value[OPT_FROZEN] != NULL;
    if (!args->value[OPT_DY]) return cli_error(CMD, CLI_USAGE, "--mode backward needs --dy DY.npy");
    if (!cfg->frozen && (!args->value[OPT_SAVE_MEAN] || !args->value[OPT_SAVE_INVSTD])) {
        return cli_error(CMD, CLI_USAGE,
                         "%s is missing: --mode backward needs --save-mean and --save-invstd "
                         "(or --frozen with the running statistics)",
                         args->value[OPT_SAVE_MEAN] ? "--save-invstd" : "--save-mean");
    }
    if (cfg->frozen && (args->value[OPT_SAVE_MEAN] || args->value[OPT_SAVE_INVSTD])) {
        return cli_error(CMD, CLI_USAGE, "%s does not apply with --frozen (the running statistics replace it)",
                         args->value[OPT_SAVE_MEAN] ? "--save-mean" : "--save-invstd");
    }
    const char* mask_file = args->value[OPT_ACTIVATION_MASK];
    if (mask_file && !mask) {
        return cli_error(CMD, CLI_USAGE,
                         "--activation-mask: the %s activation has no mask (relu, leaky_relu and clamp have one%s)",
                         activation_names[cfg->activation],
                         cfg->activation == VKBN_ACTIVATION_SILU ? "; the silu backward recomputes u from x" : "");
    }
    if (mask_file && args->value[OPT_Y]) {
        return cli_error(CMD, CLI_USAGE, "--activation-mask and --y exclude each other: act' comes from one of them");
    }
    if (mask && !args->value[OPT_Y] && !mask_file) {
        return cli_error(CMD, CLI_USAGE,
                         "the %s backward needs --y Y.npy or --activation-mask M.npy (act' comes from the forward's y)",
                         activation_names[cfg->activation]);
    }
    cfg->dresidual = args->value[OPT_RESIDUAL_RELU] != NULL || args->value[OPT_RESIDUAL] != NULL;
    return CLI_OK;
}

static int parse_config(const cli_args* args, run_config* cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (parse_required(args, cfg) != CLI_OK) return CLI_USAGE;
    if (parse_numbers(args, cfg) != CLI_OK) return CLI_USAGE;
    if (parse_activation(args, cfg) != CLI_OK) return CLI_USAGE;
    if (check_mode_options(args, cfg) != CLI_OK) return CLI_USAGE;
    if (check_running(args, cfg) != CLI_OK) return CLI_USAGE;
    cfg->device = args->value[OPT_DEVICE];
    cfg->biased_running_var = args->value[OPT_BIASED] != NULL;
    cfg->validation = args->value[OPT_VALIDATION] != NULL;
    cfg->sync_validation = args->value[OPT_SYNC_VALIDATION] != NULL;
    cfg->no_subgroups = args->value[OPT_NO_SUBGROUPS] != NULL;
    cfg->path = args->value;
    return CLI_OK;
}

/* ------------------------------------------------------------------------ */
/* Inputs                                                                    */
/* ------------------------------------------------------------------------ */

/* x's element type against --dtype. A bf16 file ('<u2', '<i2': integers to
 * NumPy) is taken only with --dtype bf16, which says what its bits mean. */
static int check_x_dtype(const run_config* cfg, const npy_array* x) {
    const char* path = cfg->path[OPT_X];
    vkbn_dtype held = io_tensor_dtype(x);
    const char* descr = npy_dtype_descr(x->dtype);
    if (cfg->dtype_given ? cfg->dtype == held : held != VKBN_DTYPE_BF16) return CLI_OK;
    if (!cfg->dtype_given) {
        return cli_error(CMD, CLI_USAGE,
                         "--x: '%s' holds 16-bit integers ('%s'): if they are bfloat16 bit patterns, give --dtype bf16",
                         path, descr);
    }
    if (cfg->dtype == VKBN_DTYPE_BF16) {
        return cli_error(CMD, CLI_USAGE,
                         "--dtype bf16 does not match '%s', which holds %s ('%s'): a bf16 tensor is a file of its bit "
                         "patterns, '<u2' or '<i2' (PyTorch: x.view(torch.int16).numpy())",
                         path, cli_dtype_name(held), descr);
    }
    if (held == VKBN_DTYPE_BF16) {
        return cli_error(CMD, CLI_USAGE,
                         "--dtype %s does not match '%s', which holds 16-bit integers ('%s'), read only as bfloat16 "
                         "bit patterns (--dtype bf16)",
                         cli_dtype_name(cfg->dtype), path, descr);
    }
    return cli_error(CMD, CLI_USAGE, "--dtype %s does not match '%s', which holds %s ('%s')",
                     cli_dtype_name(cfg->dtype), path, cli_dtype_name(held), descr);
}

int run_describe_x(const run_config* cfg, const npy_array* x, vkbn_tensor_desc* t) {
    const char* path = cfg->path[OPT_X];
    /* The type first: a file of the wrong type is named as such whatever its shape. */
    if (check_x_dtype(cfg, x) != CLI_OK) return CLI_USAGE;
    char shape[160];
    io_format_shape(x, shape, sizeof shape);
    if (x->ndim < 2 || x->ndim > 2 + VKBN_MAX_SPATIAL_RANK) {
        return cli_error(CMD, CLI_USAGE, "--x: '%s' has shape %s: expected 2 to 5 dimensions, %s", path, shape,
                         cfg->layout == VKBN_LAYOUT_CHANNELS_LAST ? "(N, D1..Dk, C)" : "(N, C, D1..Dk)");
    }
    for (uint32_t i = 0; i < x->ndim; ++i) {
        if (x->shape[i] == 0 || x->shape[i] > UINT32_MAX) {
            return cli_error(CMD, CLI_USAGE, "--x: '%s' has shape %s: every dimension must be in 1..%u", path, shape,
                             (unsigned)UINT32_MAX);
        }
    }
    memset(t, 0, sizeof *t);
    int last = cfg->layout == VKBN_LAYOUT_CHANNELS_LAST;
    t->n = (uint32_t)x->shape[0];
    t->c = (uint32_t)x->shape[last ? x->ndim - 1 : 1];
    t->spatial_rank = x->ndim - 2;
    for (uint32_t i = 0; i < t->spatial_rank; ++i) t->spatial[i] = (uint32_t)x->shape[last ? 1 + i : 2 + i];
    t->layout = cfg->layout;
    t->dtype = io_tensor_dtype(x);
    return CLI_OK;
}

/* The same shape and element type ('<u2' and '<i2' are both bf16). */
static int same_shape(const npy_array* a, const npy_array* b) {
    if (a->ndim != b->ndim || io_tensor_dtype(a) != io_tensor_dtype(b)) return 0;
    for (uint32_t i = 0; i < a->ndim; ++i) {
        if (a->shape[i] != b->shape[i]) return 0;
    }
    return 1;
}

int run_read_like_x(const run_config* cfg, int option, const npy_array* x, npy_array* out) {
    const char* path = cfg->path[option];
    const char* name = run_options[option].name;
    if (io_read_tensor(name, path, out) != CLI_OK) return CLI_USAGE;
    if (!same_shape(out, x)) {
        char zs[160], xs[160];
        io_format_shape(out, zs, sizeof zs);
        io_format_shape(x, xs, sizeof xs);
        return cli_error(CMD, CLI_USAGE, "%s: '%s' is %s %s ('%s'), but x is %s %s ('%s'): they must match", name, path,
                         zs, cli_dtype_name(io_tensor_dtype(out)), npy_dtype_descr(out->dtype), xs,
                         cli_dtype_name(io_tensor_dtype(x)), npy_dtype_descr(x->dtype));
    }
    return CLI_OK;
}

int run_read_vector(const run_config* cfg, int option, const vkbn_tensor_desc* t, float** out) {
    const char* path = cfg->path[option];
    if (!path) return CLI_OK;
    const char* c_axis =
        t->layout == VKBN_LAYOUT_CHANNELS_LAST ? "the last axis of x (--layout nhwc)" : "axis 1 of x (--layout nchw)";
    return io_read_vector(run_options[option].name, path, t->c, c_axis, out);
}

static int read_vectors(const run_config* cfg, run_inputs* in) {
    static const int options[] = {OPT_WEIGHT, OPT_BIAS, OPT_RUNNING_MEAN, OPT_RUNNING_VAR};
    float** targets[] = {&in->weight, &in->bias, &in->running_mean, &in->running_var};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; ++i) {
        int r = run_read_vector(cfg, options[i], &in->tensor, targets[i]);
        if (r != CLI_OK) return r;
    }
    return CLI_OK;
}

static void free_inputs(run_inputs* in) {
    if (in->x.data) npy_free(&in->x);
    if (in->z.data) npy_free(&in->z);
    free(in->weight);
    free(in->bias);
    free(in->running_mean);
    free(in->running_var);
}

static int read_inputs(const run_config* cfg, run_inputs* in) {
    memset(in, 0, sizeof *in);
    int r = io_read_tensor("--x", cfg->path[OPT_X], &in->x);
    if (r == CLI_OK) r = run_describe_x(cfg, &in->x, &in->tensor);
    if (r == CLI_OK && cfg->path[OPT_RESIDUAL]) r = run_read_like_x(cfg, OPT_RESIDUAL, &in->x, &in->z);
    if (r == CLI_OK) r = read_vectors(cfg, in);
    return r;
}

/* ------------------------------------------------------------------------ */
/* The pass on the device                                                    */
/* ------------------------------------------------------------------------ */

enum { BUF_X, BUF_Y, BUF_Z, BUF_WEIGHT, BUF_BIAS, BUF_RMEAN, BUF_RVAR, BUF_SMEAN, BUF_SINVSTD, BUF_MASK, BUF_COUNT };

static void on_log(void* user_data, vkbn_log_level level, const char* message) {
    validation_log* log = user_data;
    if (level < VKBN_LOG_WARNING || log->seen) return;
    log->seen = 1;
    snprintf(log->first, sizeof log->first, "%s", message);
}

vkbn_result run_make_buffer(vkbn_context ctx, const void* data, uint64_t bytes, vkbn_buffer* out) {
    vkbn_result r = vkbn_buffer_create(ctx, bytes, out);
    if (r == VKBN_SUCCESS && data) r = vkbn_buffer_upload(*out, 0, data, bytes);
    return r;
}

static vkbn_result make_buffers(vkbn_context ctx, const run_config* cfg, const run_inputs* in, const run_results* out,
                                vkbn_buffer* b) {
    uint64_t bytes = in->x.count * vkbn_dtype_size(in->tensor.dtype);
    uint64_t vec = (uint64_t)in->tensor.c * sizeof(float);
    vkbn_result r = run_make_buffer(ctx, in->x.data, bytes, &b[BUF_X]);
    if (r == VKBN_SUCCESS) r = run_make_buffer(ctx, NULL, bytes, &b[BUF_Y]);
    if (r == VKBN_SUCCESS && in->z.data) r = run_make_buffer(ctx, in->z.data, bytes, &b[BUF_Z]);
    if (r == VKBN_SUCCESS && in->weight) r = run_make_buffer(ctx, in->weight, vec, &b[BUF_WEIGHT]);
    if (r == VKBN_SUCCESS && in->bias) r = run_make_buffer(ctx, in->bias, vec, &b[BUF_BIAS]);
    if (r == VKBN_SUCCESS && cfg->running) r = run_make_buffer(ctx, in->running_mean, vec, &b[BUF_RMEAN]);
    if (r == VKBN_SUCCESS && cfg->running) r = run_make_buffer(ctx, in->running_var, vec, &b[BUF_RVAR]);
    if (r == VKBN_SUCCESS && cfg->training) r = run_make_buffer(ctx, NULL, vec, &b[BUF_SMEAN]);
    if (r == VKBN_SUCCESS && cfg->training) r = run_make_buffer(ctx, NULL, vec, &b[BUF_SINVSTD]);
    if (r == VKBN_SUCCESS && cfg->save_mask) r = run_make_buffer(ctx, NULL, out->mask_bytes, &b[BUF_MASK]);
    return r;
}

static vkbn_result forward(vkbn_context ctx, const run_config* cfg, const run_inputs* in, vkbn_buffer* b) {
    if (!cfg->training) {
        vkbn_forward_inference_desc d = {
            .tensor = in->tensor,
            .x = b[BUF_X],
            .y = b[BUF_Y],
            .residual = b[BUF_Z],
            .weight = b[BUF_WEIGHT],
            .bias = b[BUF_BIAS],
            .running_mean = b[BUF_RMEAN],
            .running_var = b[BUF_RVAR],
            .eps = cfg->eps,
            .activation = cfg->activation,
            .activation_alpha = cfg->alpha,
            .activation_beta = cfg->beta,
            .activation_mask = b[BUF_MASK],
        };
        return vkbn_forward_inference(ctx, &d);
    }
    vkbn_forward_training_desc d = {
        .tensor = in->tensor,
        .x = b[BUF_X],
        .y = b[BUF_Y],
        .residual = b[BUF_Z],
        .weight = b[BUF_WEIGHT],
        .bias = b[BUF_BIAS],
        .running_mean = b[BUF_RMEAN],
        .running_var = b[BUF_RVAR],
        .save_mean = b[BUF_SMEAN],
        .save_invstd = b[BUF_SINVSTD],
        .eps = cfg->eps,
        .momentum = cfg->momentum,
        .running_average = cfg->running_average,
        .cumulative_count = cfg->cumulative_count,
        .biased_running_var = (vkbn_bool)cfg->biased_running_var,
        .activation = cfg->activation,
        .activation_alpha = cfg->alpha,
        .activation_beta = cfg->beta,
        .activation_mask = b[BUF_MASK],
    };
    return vkbn_forward_training(ctx, &d);
}

static vkbn_result download(const run_config* cfg, run_inputs* in, vkbn_buffer* b, run_results* out) {
    uint64_t bytes = in->x.count * vkbn_dtype_size(in->tensor.dtype);
    uint64_t vec = (uint64_t)in->tensor.c * sizeof(float);
    vkbn_result r = vkbn_buffer_download(b[BUF_Y], 0, out->y, bytes);
    if (r == VKBN_SUCCESS && cfg->training) r = vkbn_buffer_download(b[BUF_SMEAN], 0, out->save_mean, vec);
    if (r == VKBN_SUCCESS && cfg->training) r = vkbn_buffer_download(b[BUF_SINVSTD], 0, out->save_invstd, vec);
    if (r == VKBN_SUCCESS && cfg->training && cfg->running) {
        r = vkbn_buffer_download(b[BUF_RMEAN], 0, in->running_mean, vec);
        if (r == VKBN_SUCCESS) r = vkbn_buffer_download(b[BUF_RVAR], 0, in->running_var, vec);
    }
    if (r == VKBN_SUCCESS && cfg->save_mask) r = vkbn_buffer_download(b[BUF_MASK], 0, out->mask, out->mask_bytes);
    return r;
}

static int alloc_results(const run_config* cfg, const run_inputs* in, run_results* out) {
    memset(out, 0, sizeof *out);
    size_t bytes = (size_t)in->x.count * vkbn_dtype_size(in->tensor.dtype);
    out->y = malloc(bytes ? bytes : 1);
    out->save_mean = malloc(in->tensor.c * sizeof(float));
    out->save_invstd = malloc(in->tensor.c * sizeof(float));
    if (cfg->save_mask) {
        vkbn_mask_requirements req;
        vkbn_result vr = vkbn_activation_mask_requirements(&in->tensor, &req);
        if (vr != VKBN_SUCCESS) return cli_api_error(CMD, vr);
        out->mask_bytes = req.size;
        out->mask = malloc(req.size ? (size_t)req.size : 1);
        if (!out->mask) return cli_error(CMD, CLI_FAILED, "out of host memory for the activation mask");
    }
    if (!out->y || !out->save_mean || !out->save_invstd) {
        return cli_error(CMD, CLI_FAILED, "out of host memory for the outputs (%llu bytes)", (unsigned long long)bytes);
    }
    return CLI_OK;
}

static void free_results(run_results* out) {
    free(out->y);
    free(out->save_mean);
    free(out->save_invstd);
    free(out->mask);
}

int run_check_validation(vkbn_context ctx, const validation_log* log, char* device, size_t size) {
    uint64_t messages = vkbn_context_validation_message_count(ctx);
    if (messages > 0) {
        return cli_error(CMD, CLI_FAILED, "the validation layer reported %llu message(s), the first: %s",
                         (unsigned long long)messages, log->seen ? log->first : "(not logged)");
    }
    vkbn_device_info info;
    if (vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS) {
        snprintf(device, size, "device %u (%s)", info.index, info.name);
    }
    return CLI_OK;
}

/* Runs the pass on a context that exists. */
static int compute_on(vkbn_context ctx, const run_config* cfg, run_inputs* in, run_results* out,
                      const validation_log* log) {
    vkbn_buffer b[BUF_COUNT] = {0};
    vkbn_result r = make_buffers(ctx, cfg, in, out, b);
    if (r == VKBN_SUCCESS) r = forward(ctx, cfg, in, b);
    if (r == VKBN_SUCCESS) r = download(cfg, in, b, out);
    for (int i = 0; i < BUF_COUNT; ++i) vkbn_buffer_destroy(b[i]);
    if (r != VKBN_SUCCESS) return cli_api_error(CMD, r);
    return run_check_validation(ctx, log, out->device, sizeof out->device);
}

int run_create_context(const run_config* cfg, validation_log* log, vkbn_context* out) {
    vkbn_context_desc desc = {0};
    desc.device = cfg->device;
    if (cfg->validation || cfg->sync_validation) {
        desc.flags |= cfg->sync_validation ? VKBN_CONTEXT_ENABLE_SYNC_VALIDATION : VKBN_CONTEXT_ENABLE_VALIDATION;
        desc.log = on_log;
        desc.log_user_data = log;
    }
    if (cfg->no_subgroups) desc.flags |= VKBN_CONTEXT_DISABLE_SUBGROUPS;
    *out = NULL;
    vkbn_result vr = vkbn_context_create(&desc, out);
    return vr == VKBN_SUCCESS ? CLI_OK : cli_api_error(CMD, vr);
}

static int compute(const run_config* cfg, run_inputs* in, run_results* out) {
    int r = alloc_results(cfg, in, out);
    if (r != CLI_OK) return r;
    validation_log log = {0};
    vkbn_context ctx = NULL;
    r = run_create_context(cfg, &log, &ctx);
    if (r != CLI_OK) return r;
    r = compute_on(ctx, cfg, in, out, &log);
    vkbn_context_destroy(ctx);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Outputs                                                                   */
/* ------------------------------------------------------------------------ */

static npy_array vector_array(float* v, uint32_t c) {
    npy_array a = {.dtype = NPY_F32, .ndim = 1, .shape = {c}, .count = c, .data = v};
    return a;
}

static int write_results(const run_config* cfg, const run_inputs* in, run_results* res) {
    io_output out[IO_MAX_OUTPUTS];
    size_t n = 0;
    out[n++] = (io_output){"y.npy", io_tensor_output(&in->x, res->y)};
    if (cfg->training) {
        out[n++] = (io_output){"save_mean.npy", vector_array(res->save_mean, in->tensor.c)};
        out[n++] = (io_output){"save_invstd.npy", vector_array(res->save_invstd, in->tensor.c)};
        if (cfg->running) {
            out[n++] = (io_output){"running_mean.npy", vector_array(in->running_mean, in->tensor.c)};
            out[n++] = (io_output){"running_var.npy", vector_array(in->running_var, in->tensor.c)};
        }
    }
    if (cfg->save_mask) {
        npy_array m = {
            .dtype = NPY_U8, .ndim = 1, .shape = {res->mask_bytes}, .count = res->mask_bytes, .data = res->mask};
        out[n++] = (io_output){"activation_mask.npy", m};
    }
    int r = io_write_outputs(cfg->path[OPT_OUT], out, n);
    if (r != CLI_OK) return r;
    char shape[160];
    io_format_shape(&in->x, shape, sizeof shape);
    printf("%s %s %s %s on %s: wrote", cfg->training ? "train" : "infer", cli_layout_name(in->tensor.layout),
           cli_dtype_name(in->tensor.dtype), shape, res->device);
    for (size_t i = 0; i < n; ++i) printf(" %s", out[i].name);
    printf(" to %s\n", cfg->path[OPT_OUT]);
    return CLI_OK;
}

static int cmd_run(int argc, char** argv) {
    cli_args args;
    int r = cli_parse(CMD, run_options, OPT_COUNT, argc, argv, &args);
    if (r == CLI_HELP) {
        cli_print_command_usage(&command_run);
        return CLI_OK;
    }
    if (r != CLI_OK) return r;
    run_config cfg;
    if (parse_config(&args, &cfg) != CLI_OK) return CLI_USAGE;
    if (io_check_out_dir(cfg.path[OPT_OUT]) != CLI_OK) return CLI_USAGE;
    if (cfg.mode == RUN_BACKWARD) return run_backward(&cfg);
    run_inputs in;
    r = read_inputs(&cfg, &in);
    run_results res = {0};
    if (r == CLI_OK) r = compute(&cfg, &in, &res);
    if (r == CLI_OK) r = write_results(&cfg, &in, &res);
    free_results(&res);
    free_inputs(&in);
    return r;
}

const cli_command command_run = {
    .name = "run",
    .summary = "Run one forward or backward pass on .npy files and write the results as .npy files.",
    .details =
        "outputs in --out:\n"
        "  y.npy                          forward: x's shape and dtype\n"
        "  save_mean.npy, save_invstd.npy train: f32 (C,), batch mean and 1/sqrt(biased var + eps)\n"
        "  running_mean.npy, running_var.npy\n"
        "                                 train with running stats: the updated f32 (C,) values\n"
        "  dx.npy                         backward: x's shape and dtype\n"
        "  dweight.npy, dbias.npy         backward: f32 (C,)\n"
        "  dresidual.npy                  backward with --residual-relu or --residual: x's shape and dtype\n"
        "  activation_mask.npy            train|infer with --save-activation-mask: '|u1' (uint8),\n"
        "                                 4 * ceil(elements / 32) bytes; element e (x's memory\n"
        "                                 order) is bit e % 8 of byte e / 8, i.e.\n"
        "                                 numpy.unpackbits(m, bitorder='little')[e]: 1 where\n"
        "                                 act'(u) = 1 (relu, clamp: y > 0, alpha < y < beta; leaky_relu:\n"
        "                                 y > 0), 0 elsewhere; bits past the last element unspecified\n"
        "Weight, bias and the statistics may be '<f4' or '<f2'; they are used as f32.\n"
        "bf16 (--dtype bf16): NumPy has no bfloat16, so x, z, dy and y are files of the bit\n"
        "patterns, '<u2' or '<i2' (PyTorch: np.save(p, x.view(torch.int16).numpy())), and y, dx\n"
        "and dresidual are written as '<u2'. PyTorch reads them back with\n"
        "  torch.from_numpy(np.load(p).view(np.int16)).view(torch.bfloat16)\n"
        "Backward takes the forward's activation: relu, leaky_relu and clamp need --y or\n"
        "--activation-mask (act' comes from the stored y, or its bit); silu recomputes\n"
        "u = bn(x) [+ z] from --bias and --residual (it has no mask).\n"
        "Nothing is written unless the whole pass succeeds.\n"
        "\n"
        "examples:\n"
        "  vkbn run --mode train --x x.npy --weight w.npy --bias b.npy \\\n"
        "           --running-mean rm.npy --running-var rv.npy --momentum 0.1 --out result\n"
        "  vkbn run --mode backward --x x.npy --dy dy.npy --y y.npy --save-mean sm.npy \\\n"
        "           --save-invstd si.npy --weight w.npy --residual-relu --out grads\n"
        "  vkbn run --mode train --x x.npy --relu --save-activation-mask --out fwd\n"
        "  vkbn run --mode backward --x x.npy --dy dy.npy --relu --activation-mask fwd/activation_mask.npy \\\n"
        "           --save-mean fwd/save_mean.npy --save-invstd fwd/save_invstd.npy --out grads\n",
    .options = run_options,
    .option_count = OPT_COUNT,
    .run = cmd_run,
};
