/* `vkbn check`: a self-test a user runs on a new device before trusting it.
 * A curated list of forward cases (testing/cases.h) and backward cases
 * (testing/bwd_cases.h) runs on the device's default kernels and again with
 * VKBN_CONTEXT_DISABLE_SUBGROUPS (the shared-memory path), each compared with
 * the fp64 reference; a few cases are also rerun to check that the results
 * are bit-identical. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bwd_cases.h"
#include "cases.h"
#include "cli.h"
#include "commands.h"
#include "platform.h"

#define CMD "check"

enum check_option { OPT_DEVICE, OPT_QUICK, OPT_VALIDATION, OPT_SYNC_VALIDATION, OPT_COUNT };

static const cli_option check_options[OPT_COUNT] = {
    [OPT_DEVICE] = {"--device", "D", "device index or part of its name (vkbn devices); default: the best"},
    [OPT_QUICK] = {"--quick", NULL, "a smaller set of cases (seconds instead of a minute)"},
    [OPT_VALIDATION] = {"--validation", NULL, "enable the Vulkan validation layer; any message fails the case"},
    [OPT_SYNC_VALIDATION] = {"--sync-validation", NULL,
                             "--validation plus synchronization validation (hazards between vkbn's commands)"},
};

/* What a case changes on top of case_default (a training case with affine
 * parameters, no residual, no activation, no running statistics). */
enum {
    K_QUICK = 1 << 0,      /* part of --quick */
    K_INFER = 1 << 1,      /* inference from running statistics */
    K_NO_AFFINE = 1 << 2,  /* no weight and bias */
    K_RESIDUAL = 1 << 3,   /* y = ... + z */
    K_RELU = 1 << 4,       /* relu last */
    K_RUNNING = 1 << 5,    /* training: update running statistics (momentum 0.1) */
    K_CUMULATIVE = 1 << 6, /* with K_RUNNING: cumulative average, T = check_spec.t */
    K_BIASED = 1 << 7,     /* with K_RUNNING: biased running variance */
    K_MOMENTUM_1 = 1 << 8, /* with K_RUNNING: momentum 1 (replace the running stats) */
    K_EPS_0 = 1 << 9,      /* eps = 0 */
    K_IN_PLACE = 1 << 10   /* y is x's buffer */
};

typedef struct check_spec {
    uint32_t n, c, rank, s[VKBN_MAX_SPATIAL_RANK];
    vkbn_layout layout;
    vkbn_dtype dtype;
    unsigned flags;
    uint32_t split;  /* reduction_split; 0: vkbn chooses */
    int steps;       /* 0: 1 */
    uint32_t offset; /* offset_bytes */
    uint64_t t;      /* cumulative_count */
    case_data data;
    vkbn_activation act; /* instead of K_RELU: another activation and its parameters */
    float alpha, beta;
} check_spec;

#define CF VKBN_LAYOUT_CHANNELS_FIRST
#define CL VKBN_LAYOUT_CHANNELS_LAST
#define F32 VKBN_DTYPE_F32
#define F16 VKBN_DTYPE_F16
#define BF16 VKBN_DTYPE_BF16

/* Sizes: 4x4, 8x8, 16x16 and c = 8, 16 are multiples of 4 (vec4 kernels);
 * 7x5, c = 13 and the ranks 0 and 1 are not (scalar kernels). */
static const check_spec cases[] = {
    /* The basics, in --quick too. */
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = F32, .flags = K_QUICK | K_RUNNING},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .flags = K_QUICK | K_RUNNING | K_RELU},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F16,
     .flags = K_QUICK | K_RUNNING | K_RESIDUAL | K_RELU},
    {.n = 2,
     .c = 8,
     .rank = 2,
     .s = {4, 4},
     .layout = CL,
     .dtype = F16,
     .flags = K_QUICK | K_INFER | K_RESIDUAL | K_RELU},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_QUICK | K_INFER},
    /* bf16 runs on every device (no 16-bit storage needed): never skipped. */
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CL,
     .dtype = BF16,
     .flags = K_QUICK | K_RUNNING | K_RESIDUAL | K_RELU},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = BF16, .flags = K_QUICK | K_INFER},
    {.n = 2, .c = 16, .rank = 2, .s = {8, 8}, .layout = CF, .dtype = F32, .flags = K_QUICK | K_RUNNING, .split = 4},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CL,
     .dtype = F16,
     .flags = K_QUICK | K_RESIDUAL,
     .act = VKBN_ACTIVATION_SILU},
    /* The other activations. */
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F32,
     .act = VKBN_ACTIVATION_LEAKY_RELU,
     .alpha = 0.01f},
    {.n = 2,
     .c = 8,
     .rank = 2,
     .s = {4, 4},
     .layout = CL,
     .dtype = F32,
     .flags = K_INFER | K_RESIDUAL,
     .act = VKBN_ACTIVATION_CLAMP,
     .alpha = 0.0f,
     .beta = 6.0f},
    {.n = 2,
     .c = 16,
     .rank = 2,
     .s = {8, 8},
     .layout = CF,
     .dtype = F16,
     .split = 4,
     .act = VKBN_ACTIVATION_CLAMP,
     .alpha = -0.5f,
     .beta = 0.75f},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F32,
     .flags = K_INFER,
     .act = VKBN_ACTIVATION_SILU},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CL,
     .dtype = F32,
     .split = 4,
     .act = VKBN_ACTIVATION_LEAKY_RELU,
     .alpha = -1.5f},
    /* Shapes: N = 1, C = 1, S = 1 (rank 0), rank 1 and 3, vec4 sizes in both layouts and dtypes. */
    {.n = 1, .c = 1, .rank = 1, .s = {7}, .layout = CF, .dtype = F32, .flags = K_RUNNING},
    {.n = 1, .c = 1, .rank = 2, .s = {2, 3}, .layout = CL, .dtype = F32},
    {.n = 5, .c = 3, .rank = 0, .layout = CF, .dtype = F32, .flags = K_RUNNING},
    {.n = 6, .c = 5, .rank = 0, .layout = CL, .dtype = F16, .flags = K_RUNNING},
    {.n = 6, .c = 5, .rank = 0, .layout = CF, .dtype = BF16, .flags = K_RUNNING},
    {.n = 2, .c = 5, .rank = 3, .s = {3, 4, 5}, .layout = CF, .dtype = BF16},
    {.n = 1, .c = 4, .rank = 0, .layout = CF, .dtype = F32, .flags = K_INFER},
    {.n = 2, .c = 5, .rank = 3, .s = {3, 4, 5}, .layout = CF, .dtype = F32},
    {.n = 2, .c = 5, .rank = 3, .s = {3, 4, 5}, .layout = CL, .dtype = F16},
    {.n = 3, .c = 16, .rank = 2, .s = {8, 8}, .layout = CL, .dtype = F32},
    {.n = 4, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = F16},
    /* Fused (split = 1) and split (= 4) reductions. */
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .split = 1},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .split = 4},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .split = 1},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F16, .split = 4},
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = F16, .split = 4},
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CL, .dtype = F32, .split = 1},
    /* Parameters and fusions. */
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_NO_AFFINE},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .flags = K_NO_AFFINE | K_RESIDUAL},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .flags = K_INFER | K_NO_AFFINE | K_RELU},
    /* Running statistics. */
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_RUNNING | K_CUMULATIVE, .t = 3},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .flags = K_RUNNING | K_CUMULATIVE, .t = 0},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_RUNNING | K_BIASED},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CL,
     .dtype = F16,
     .flags = K_RUNNING | K_CUMULATIVE | K_BIASED,
     .t = 5},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_RUNNING | K_MOMENTUM_1 | K_EPS_0},
    /* Hard data. */
    {.n = 4, .c = 5, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = F32, .split = 1, .data = CASE_DATA_LARGE_MEAN},
    {.n = 4, .c = 5, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = F32, .split = 4, .data = CASE_DATA_LARGE_MEAN},
    {.n = 4,
     .c = 5,
     .rank = 2,
     .s = {16, 16},
     .layout = CL,
     .dtype = F32,
     .flags = K_RUNNING,
     .data = CASE_DATA_LARGE_MEAN},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F32,
     .flags = K_RUNNING,
     .data = CASE_DATA_CONSTANT},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F16, .data = CASE_DATA_CONSTANT},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = BF16, .split = 4, .data = CASE_DATA_CONSTANT},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .split = 4, .data = CASE_DATA_OUTLIER},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .data = CASE_DATA_OUTLIER},
    /* Several steps, in place, offsets. */
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_RUNNING, .steps = 3},
    {.n = 2,
     .c = 8,
     .rank = 2,
     .s = {4, 4},
     .layout = CL,
     .dtype = F16,
     .flags = K_RUNNING | K_CUMULATIVE,
     .steps = 3,
     .t = 0},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_IN_PLACE | K_RESIDUAL | K_RELU},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CL, .dtype = F16, .flags = K_INFER | K_IN_PLACE},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = BF16, .flags = K_IN_PLACE | K_RESIDUAL},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = BF16, .flags = K_RUNNING, .offset = 4},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F16, .flags = K_RUNNING, .offset = 4},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .split = 4, .offset = 20},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .flags = K_INFER | K_RESIDUAL, .offset = 4},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = F32, .flags = K_RUNNING, .offset = 20},
    /* Larger: many workgroups per channel, many channels, BatchNorm1d-like. */
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CF, .dtype = F32, .flags = K_RUNNING},
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CL, .dtype = F16, .flags = K_RUNNING | K_RELU},
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CL, .dtype = F32, .flags = K_RUNNING, .split = 4},
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CF, .dtype = F16, .flags = K_INFER | K_RESIDUAL},
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CF, .dtype = BF16, .flags = K_RUNNING | K_RELU},
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CL, .dtype = BF16, .flags = K_RUNNING, .split = 4},
    {.n = 2, .c = 3, .rank = 2, .s = {224, 224}, .layout = CF, .dtype = F32, .flags = K_RUNNING},
    {.n = 2, .c = 3, .rank = 2, .s = {224, 224}, .layout = CL, .dtype = F32, .flags = K_RUNNING},
    {.n = 256, .c = 512, .rank = 0, .layout = CF, .dtype = F16, .flags = K_RUNNING},
};

/* Rerun to check bit-identical results. */
static const check_spec deterministic_cases[] = {
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = F32, .flags = K_QUICK | K_RUNNING, .split = 4},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F16, .flags = K_RUNNING},
    {.n = 8, .c = 16, .rank = 2, .s = {16, 16}, .layout = CL, .dtype = F32, .flags = K_RUNNING, .split = 4},
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = BF16, .flags = K_RUNNING, .split = 4},
};

/* Backward cases: what a case changes on top of bwd_case_default (training
 * mode, affine, no activation, dx + dweight + dbias). */
enum {
    B_FROZEN = 1 << 1,     /* frozen statistics */
    B_NO_AFFINE = 1 << 2,  /* no weight and bias */
    B_RESIDUAL = 1 << 3,   /* the add variant: the residual given, dresidual wanted */
    B_IN_PLACE = 1 << 4,   /* dx is dy's buffer */
    B_DX_ONLY = 1 << 5,    /* only dx */
    B_PARAMS_ONLY = 1 << 6 /* only dweight and dbias */
};

typedef struct bwd_check_spec {
    uint32_t n, c, rank, s[VKBN_MAX_SPATIAL_RANK];
    vkbn_layout layout;
    vkbn_dtype dtype;
    unsigned flags; /* K_QUICK and B_* */
    vkbn_activation act;
    float alpha, beta;
    uint32_t split;
    uint32_t offset;
    case_data data;
    bwd_dy_data dy;
} bwd_check_spec;

#define RELU VKBN_ACTIVATION_RELU
#define LEAKY VKBN_ACTIVATION_LEAKY_RELU
#define CLAMP VKBN_ACTIVATION_CLAMP
#define SILU VKBN_ACTIVATION_SILU

static const bwd_check_spec bwd_cases[] = {
    /* The basics, in --quick too. */
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = F32, .flags = K_QUICK | B_RESIDUAL, .act = RELU},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F16, .flags = K_QUICK | B_RESIDUAL, .act = SILU},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F32,
     .flags = K_QUICK | B_FROZEN,
     .act = CLAMP,
     .beta = 6.0f},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CL, .dtype = F32, .flags = K_QUICK | B_FROZEN | B_DX_ONLY},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = BF16, .flags = K_QUICK | B_RESIDUAL, .act = RELU},
    {.n = 2,
     .c = 16,
     .rank = 2,
     .s = {8, 8},
     .layout = CF,
     .dtype = F16,
     .flags = K_QUICK,
     .act = LEAKY,
     .alpha = 0.1f,
     .split = 4},
    {.n = 4,
     .c = 8,
     .rank = 2,
     .s = {16, 16},
     .layout = CL,
     .dtype = F32,
     .flags = K_QUICK | B_PARAMS_ONLY,
     .split = 1},
    /* Shapes: N = 1, C = 1, S = 1 (rank 0), rank 1 and 3, vec4 sizes in both layouts and dtypes. */
    {.n = 1, .c = 1, .rank = 1, .s = {7}, .layout = CF, .dtype = F32},
    {.n = 1, .c = 5, .rank = 1, .s = {1}, .layout = CL, .dtype = F32, .flags = B_FROZEN, .act = SILU},
    {.n = 5, .c = 3, .rank = 0, .layout = CF, .dtype = F32, .act = RELU},
    {.n = 6, .c = 5, .rank = 0, .layout = CL, .dtype = F16, .flags = B_FROZEN},
    {.n = 2,
     .c = 5,
     .rank = 3,
     .s = {3, 4, 5},
     .layout = CF,
     .dtype = F16,
     .flags = B_RESIDUAL,
     .act = CLAMP,
     .alpha = -0.5f,
     .beta = 0.75f},
    {.n = 2, .c = 5, .rank = 3, .s = {3, 4, 5}, .layout = CL, .dtype = F32, .act = SILU},
    {.n = 3, .c = 16, .rank = 2, .s = {8, 8}, .layout = CL, .dtype = F16, .act = LEAKY, .alpha = 2.0f},
    /* Fused (split = 1) and split (= 4) reductions, both layouts and modes. */
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .split = 1},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F32, .split = 4, .act = RELU},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .split = 1, .flags = B_RESIDUAL, .act = RELU},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F16, .split = 4, .flags = B_FROZEN},
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = F16, .split = 4, .flags = B_FROZEN, .act = SILU},
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CL, .dtype = F32, .split = 4, .flags = B_DX_ONLY},
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F32,
     .flags = B_NO_AFFINE | B_RESIDUAL,
     .act = SILU},
    /* Hard data. */
    {.n = 4, .c = 5, .rank = 2, .s = {16, 16}, .layout = CF, .dtype = F32, .split = 1, .data = CASE_DATA_LARGE_MEAN},
    {.n = 4, .c = 5, .rank = 2, .s = {16, 16}, .layout = CL, .dtype = F32, .split = 4, .dy = BWD_DY_OFFSET},
    {.n = 16, .c = 2, .rank = 2, .s = {64, 64}, .layout = CF, .dtype = F32, .split = 1, .dy = BWD_DY_SPIKE},
    {.n = 16, .c = 2, .rank = 2, .s = {64, 64}, .layout = CL, .dtype = F32, .split = 1, .dy = BWD_DY_SPIKE},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F16, .act = RELU, .data = CASE_DATA_CONSTANT},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = F32, .data = CASE_DATA_OUTLIER},
    /* In place and offsets. */
    {.n = 3,
     .c = 13,
     .rank = 2,
     .s = {7, 5},
     .layout = CF,
     .dtype = F32,
     .flags = B_IN_PLACE | B_RESIDUAL,
     .act = RELU},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CL, .dtype = F16, .flags = B_FROZEN | B_IN_PLACE},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CF, .dtype = BF16, .flags = B_IN_PLACE, .act = SILU},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CL, .dtype = BF16, .offset = 4, .act = CLAMP, .beta = 6.0f},
    {.n = 3, .c = 13, .rank = 2, .s = {7, 5}, .layout = CF, .dtype = F16, .offset = 4, .act = LEAKY, .alpha = 0.2f},
    {.n = 2, .c = 8, .rank = 2, .s = {4, 4}, .layout = CL, .dtype = F32, .offset = 20, .split = 4},
    /* Larger: many workgroups per channel, many channels, BatchNorm1d-like. */
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CF, .dtype = F32, .flags = B_RESIDUAL, .act = RELU},
    {.n = 32, .c = 64, .rank = 2, .s = {28, 28}, .layout = CL, .dtype = F16, .act = SILU},
    {.n = 32,
     .c = 64,
     .rank = 2,
     .s = {28, 28},
     .layout = CF,
     .dtype = BF16,
     .flags = B_FROZEN,
     .act = LEAKY,
     .alpha = 0.1f},
    {.n = 2, .c = 3, .rank = 2, .s = {224, 224}, .layout = CF, .dtype = F32},
    {.n = 256, .c = 512, .rank = 0, .layout = CF, .dtype = F16, .flags = B_FROZEN, .act = RELU},
};

static const bwd_check_spec bwd_deterministic_cases[] = {
    {.n = 4,
     .c = 8,
     .rank = 2,
     .s = {16, 16},
     .layout = CF,
     .dtype = F32,
     .flags = K_QUICK | B_RESIDUAL,
     .act = SILU,
     .split = 4,
     .dy = BWD_DY_OFFSET},
    {.n = 8, .c = 16, .rank = 2, .s = {16, 16}, .layout = CL, .dtype = F32, .split = 4, .act = RELU},
    {.n = 4, .c = 8, .rank = 2, .s = {16, 16}, .layout = CL, .dtype = BF16, .split = 4, .act = SILU},
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The state of one check: what to run and the tallies. */
typedef struct check_state {
    const char* device;
    vkbn_context_flags flags; /* for every context (validation) */
    int quick;
    int width; /* of the description column */
    unsigned passed, failed, skipped;
} check_state;

static fwd_case build_case(const check_spec* s, uint64_t seed) {
    fwd_case c = case_default(s->n, s->c, s->rank, s->s, s->layout, s->dtype);
    unsigned f = s->flags;
    c.training = !(f & K_INFER);
    c.affine = !(f & K_NO_AFFINE);
    c.residual = (f & K_RESIDUAL) != 0;
    c.activation = (f & K_RELU) ? VKBN_ACTIVATION_RELU : s->act;
    c.activation_alpha = s->alpha;
    c.activation_beta = s->beta;
    c.running = c.training && (f & K_RUNNING);
    c.running_average = (f & K_CUMULATIVE) ? VKBN_RUNNING_AVERAGE_CUMULATIVE : VKBN_RUNNING_AVERAGE_EXPONENTIAL;
    c.cumulative_count = s->t;
    c.biased_running_var = (f & K_BIASED) != 0;
    if (f & K_MOMENTUM_1) c.momentum = 1.0f;
    if (f & K_EPS_0) c.eps = 0.0f;
    c.reduction_split = s->split;
    c.steps = s->steps > 0 ? s->steps : 1;
    c.in_place = (f & K_IN_PLACE) != 0;
    c.offset_bytes = s->offset;
    c.data = s->data;
    c.seed = seed;
    return c;
}

static int selected(const check_state* st, const check_spec* s) { return !st->quick || (s->flags & K_QUICK); }

static bwd_case build_bwd_case(const bwd_check_spec* s, uint64_t seed) {
    bwd_case c = bwd_case_default(s->n, s->c, s->rank, s->s, s->layout, s->dtype);
    unsigned f = s->flags;
    c.frozen = (f & B_FROZEN) != 0;
    c.affine = !(f & B_NO_AFFINE);
    c.residual = (f & B_RESIDUAL) != 0;
    c.activation = s->act;
    c.activation_alpha = s->alpha;
    c.activation_beta = s->beta;
    c.outputs = f & B_DX_ONLY ? BWD_OUT_DX : f & B_PARAMS_ONLY ? BWD_OUT_DWEIGHT | BWD_OUT_DBIAS : c.outputs;
    if (c.residual) c.outputs |= BWD_OUT_DRESIDUAL;
    c.in_place = (f & B_IN_PLACE) != 0;
    c.reduction_split = s->split;
    c.offset_bytes = s->offset;
    c.data = s->data;
    c.dy_data = s->dy;
    c.seed = seed;
    return c;
}

static int bwd_selected(const check_state* st, const bwd_check_spec* s) { return !st->quick || (s->flags & K_QUICK); }

#define DETERMINISTIC_TAG "bit-identical rerun: "

/* The width of the description column over the cases that will run. */
static int description_width(const check_state* st) {
    char desc[256];
    size_t width = 0;
    for (size_t i = 0; i < COUNT_OF(cases); ++i) {
        if (!selected(st, &cases[i])) continue;
        fwd_case c = build_case(&cases[i], 0);
        case_describe(&c, desc, sizeof desc);
        if (strlen(desc) > width) width = strlen(desc);
    }
    for (size_t i = 0; i < COUNT_OF(deterministic_cases); ++i) {
        if (!selected(st, &deterministic_cases[i])) continue;
        fwd_case c = build_case(&deterministic_cases[i], 0);
        case_describe(&c, desc, sizeof desc);
        if (strlen(desc) + strlen(DETERMINISTIC_TAG) > width) width = strlen(desc) + strlen(DETERMINISTIC_TAG);
    }
    for (size_t i = 0; i < COUNT_OF(bwd_cases); ++i) {
        if (!bwd_selected(st, &bwd_cases[i])) continue;
        bwd_case c = build_bwd_case(&bwd_cases[i], 0);
        bwd_case_describe(&c, desc, sizeof desc);
        if (strlen(desc) > width) width = strlen(desc);
    }
    for (size_t i = 0; i < COUNT_OF(bwd_deterministic_cases); ++i) {
        if (!bwd_selected(st, &bwd_deterministic_cases[i])) continue;
        bwd_case c = build_bwd_case(&bwd_deterministic_cases[i], 0);
        bwd_case_describe(&c, desc, sizeof desc);
        if (strlen(desc) + strlen(DETERMINISTIC_TAG) > width) width = strlen(desc) + strlen(DETERMINISTIC_TAG);
    }
    return (int)width;
}

/* An error as a fraction of its tolerance, "-" where it does not apply. */
static void format_error(double v, int applies, char* out, size_t size) {
    if (!applies) {
        snprintf(out, size, "-");
    } else if (isnan(v)) {
        snprintf(out, size, "nan");
    } else if (v < 10.0) {
        snprintf(out, size, "%.2f", v);
    } else {
        snprintf(out, size, "%.3g", v);
    }
}

/* Counts and prints one outcome, forward or backward: `line` names the case,
 * `errors` (NULL: none) its errors as fractions of their tolerances. */
static void report_outcome(check_state* st, const char* line, int rc, const char* message, const char* plan,
                           const char* errors) {
    int skipped = rc == 0 && strncmp(message, "skipped", 7) == 0;
    printf("%s  %-*s", skipped ? "SKIP" : rc == 0 ? "PASS" : "FAIL", st->width, line);
    if (skipped) {
        printf("  %s\n", message);
        ++st->skipped;
    } else {
        if (errors) printf("  %s", errors);
        if (plan[0]) printf("  [%s]", plan);
        if (rc != 0) printf("  %s", message[0] ? message : "(no message)");
        printf("\n");
        if (rc == 0) {
            ++st->passed;
        } else {
            ++st->failed;
        }
    }
    fflush(stdout);
}

/* rc from case_run or case_run_deterministic. */
static void report(check_state* st, const char* tag, const fwd_case* c, const case_result* r, int rc, int with_errors) {
    char desc[256], line[300], errors[160];
    case_describe(c, desc, sizeof desc);
    snprintf(line, sizeof line, "%s%s", tag, desc);
    if (with_errors && rc >= 0) {
        char y[16], mean[16], invstd[16], running[16];
        format_error(r->y, 1, y, sizeof y);
        format_error(r->mean, c->training, mean, sizeof mean);
        format_error(r->invstd, c->training, invstd, sizeof invstd);
        format_error(r->running, c->training && c->running, running, sizeof running);
        snprintf(errors, sizeof errors, "y %-4s mean %-4s invstd %-4s running %-4s", y, mean, invstd, running);
    }
    report_outcome(st, line, rc, r->message, r->plan, with_errors && rc >= 0 ? errors : NULL);
}

static void run_cases(check_state* st, vkbn_context ctx) {
    for (size_t i = 0; i < COUNT_OF(cases); ++i) {
        if (!selected(st, &cases[i])) continue;
        fwd_case c = build_case(&cases[i], 1000 + i);
        case_result r;
        memset(&r, 0, sizeof r);
        int rc = case_run(ctx, &c, &r);
        report(st, "", &c, &r, rc, 1);
    }
}

static void run_deterministic(check_state* st, vkbn_context ctx) {
    for (size_t i = 0; i < COUNT_OF(deterministic_cases); ++i) {
        if (!selected(st, &deterministic_cases[i])) continue;
        fwd_case c = build_case(&deterministic_cases[i], 2000 + i);
        case_result r;
        memset(&r, 0, sizeof r);
        int rc = case_run_deterministic(ctx, &c, &r);
        report(st, DETERMINISTIC_TAG, &c, &r, rc, 0);
    }
}

/* One backward outcome, as report() prints a forward one. */
static void report_bwd(check_state* st, const char* tag, const bwd_case* c, const bwd_result* r, int rc,
                       int with_errors) {
    char desc[300], line[360], errors[160];
    bwd_case_describe(c, desc, sizeof desc);
    snprintf(line, sizeof line, "%s%s", tag, desc);
    if (with_errors && rc >= 0) {
        char dx[16], dw[16], db[16], dz[16];
        format_error(r->dx, (c->outputs & BWD_OUT_DX) != 0, dx, sizeof dx);
        format_error(r->dweight, (c->outputs & BWD_OUT_DWEIGHT) != 0, dw, sizeof dw);
        format_error(r->dbias, (c->outputs & BWD_OUT_DBIAS) != 0, db, sizeof db);
        format_error(r->dz, (c->outputs & BWD_OUT_DRESIDUAL) != 0, dz, sizeof dz);
        snprintf(errors, sizeof errors, "dx %-4s dweight %-4s dbias %-4s dresidual %-4s", dx, dw, db, dz);
    }
    report_outcome(st, line, rc, r->message, r->plan, with_errors && rc >= 0 ? errors : NULL);
}

static void run_bwd_cases(check_state* st, vkbn_context ctx) {
    for (size_t i = 0; i < COUNT_OF(bwd_cases); ++i) {
        if (!bwd_selected(st, &bwd_cases[i])) continue;
        bwd_case c = build_bwd_case(&bwd_cases[i], 3000 + i);
        bwd_result r;
        memset(&r, 0, sizeof r);
        int rc = bwd_case_run(ctx, &c, &r);
        report_bwd(st, "", &c, &r, rc, 1);
    }
    for (size_t i = 0; i < COUNT_OF(bwd_deterministic_cases); ++i) {
        if (!bwd_selected(st, &bwd_deterministic_cases[i])) continue;
        bwd_case c = build_bwd_case(&bwd_deterministic_cases[i], 4000 + i);
        bwd_result r;
        memset(&r, 0, sizeof r);
        int rc = bwd_case_run_deterministic(ctx, &c, &r);
        report_bwd(st, DETERMINISTIC_TAG, &c, &r, rc, 0);
    }
}

static void print_device(vkbn_context ctx) {
    vkbn_device_info d;
    if (vkbn_context_get_device_info(ctx, &d) != VKBN_SUCCESS) return;
    printf("device %u%s: %s\n", d.index, d.is_default ? " (default)" : "", d.name);
    printf("  %s; driver %s%s%s; subgroup size %u; f16 %s; bf16 yes\n", cli_device_type_name(d.type),
           d.driver_name[0] ? d.driver_name : d.vendor, d.driver_info[0] ? ", " : "", d.driver_info, d.subgroup_size,
           d.storage_16bit ? "yes" : "no (f16 cases are skipped)");
}

/* One pass over the cases on a context created with `extra_flags`. */
static int run_pass(check_state* st, vkbn_context_flags extra_flags, int first) {
    vkbn_context_desc desc = {0};
    desc.device = st->device;
    desc.flags = st->flags | extra_flags;
    vkbn_context ctx = NULL;
    vkbn_result vr = vkbn_context_create(&desc, &ctx);
    if (vr != VKBN_SUCCESS) return cli_api_error(CMD, vr);
    if (first) print_device(ctx);
    if (extra_flags & VKBN_CONTEXT_DISABLE_SUBGROUPS) {
        printf("== shared-memory kernels (VKBN_CONTEXT_DISABLE_SUBGROUPS)\n");
    } else if (vkbn_context_uses_subgroups(ctx)) {
        printf("== subgroup kernels (the device's default path)\n");
    } else {
        printf("== the device's default path: shared-memory kernels (vkbn does not use subgroups here)\n");
    }
    run_cases(st, ctx);
    run_deterministic(st, ctx);
    run_bwd_cases(st, ctx);
    vkbn_context_destroy(ctx);
    return CLI_OK;
}

static double now_seconds(void) { return vkbn__now_seconds(); }

static int cmd_check(int argc, char** argv) {
    cli_args args;
    int r = cli_parse(CMD, check_options, OPT_COUNT, argc, argv, &args);
    if (r == CLI_HELP) {
        cli_print_command_usage(&command_check);
        return CLI_OK;
    }
    if (r != CLI_OK) return r;
    check_state st = {0};
    st.device = args.value[OPT_DEVICE];
    st.flags = args.value[OPT_VALIDATION] ? VKBN_CONTEXT_ENABLE_VALIDATION : 0;
    if (args.value[OPT_SYNC_VALIDATION]) st.flags |= VKBN_CONTEXT_ENABLE_SYNC_VALIDATION;
    st.quick = args.value[OPT_QUICK] != NULL;
    st.width = description_width(&st);
    double start = now_seconds();
    r = run_pass(&st, 0, 1);
    if (r == CLI_OK) r = run_pass(&st, VKBN_CONTEXT_DISABLE_SUBGROUPS, 0);
    if (r != CLI_OK) return r;
    printf("time: %.1f s\n", now_seconds() - start);
    printf("%u passed, %u failed", st.passed, st.failed);
    if (st.skipped) printf(", %u skipped", st.skipped);
    printf("\n");
    return st.failed ? CLI_FAILED : CLI_OK;
}

const cli_command command_check = {
    .name = "check",
    .summary = "Self-test: forward and backward cases on the device against an fp64 reference.",
    .details =
        "Every case runs on the device's default kernels and again on the shared-memory path\n"
        "(no subgroups). Each line shows the worst error of each output (forward: y, the batch\n"
        "mean, invstd, the running statistics; backward: dx, dweight, dbias, dresidual) as a\n"
        "fraction of its tolerance (<= 1 passes), and the kernels that ran.\n"
        "Exit code 1 when any case fails.\n",
    .options = check_options,
    .option_count = OPT_COUNT,
    .run = cmd_check,
};
