/* `vkbn run --mode backward`: one backward pass on .npy files (the options
 * were parsed and checked by cmd_run.c). Inputs are read and checked against
 * x, then the device runs vkbn_backward, then dx, dweight, dbias (and
 * dresidual for the add variant) are written, all or nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"
#include "run_cmd.h"
#include "run_io.h"

typedef struct bwd_inputs {
    vkbn_tensor_desc tensor;
    npy_array x, dy, y, z; /* y, z: data NULL when not given */
    npy_array mask;        /* --activation-mask: '|u1' bytes, data NULL when not given */
    float *weight, *bias, *save_mean, *save_invstd, *running_mean, *running_var;
} bwd_inputs;

typedef struct bwd_results {
    void *dx, *dz; /* x's dtype and element count */
    float *dweight, *dbias;
    char device[300];
} bwd_results;

static void free_inputs(bwd_inputs* in) {
    npy_array* t[] = {&in->x, &in->dy, &in->y, &in->z, &in->mask};
    for (size_t i = 0; i < 5; ++i) {
        if (t[i]->data) npy_free(t[i]);
    }
    float* v[] = {in->weight, in->bias, in->save_mean, in->save_invstd, in->running_mean, in->running_var};
    for (size_t i = 0; i < 6; ++i) free(v[i]);
}

static int read_inputs(const run_config* cfg, bwd_inputs* in) {
    memset(in, 0, sizeof *in);
    int r = io_read_tensor("--x", cfg->path[OPT_X], &in->x);
    if (r == CLI_OK) r = run_describe_x(cfg, &in->x, &in->tensor);
    if (r == CLI_OK) r = run_read_like_x(cfg, OPT_DY, &in->x, &in->dy);
    if (r == CLI_OK && cfg->path[OPT_Y]) r = run_read_like_x(cfg, OPT_Y, &in->x, &in->y);
    if (r == CLI_OK && cfg->path[OPT_RESIDUAL]) r = run_read_like_x(cfg, OPT_RESIDUAL, &in->x, &in->z);
    if (r == CLI_OK && cfg->path[OPT_ACTIVATION_MASK]) {
        vkbn_mask_requirements req;
        vkbn_result vr = vkbn_activation_mask_requirements(&in->tensor, &req);
        if (vr != VKBN_SUCCESS) return cli_api_error(CMD, vr);
        char shape[160], what[200];
        io_format_shape(&in->x, shape, sizeof shape);
        snprintf(what, sizeof what, "x %s, 4 * ceil(%llu / 32) bytes", shape, (unsigned long long)in->x.count);
        r = io_read_mask("--activation-mask", cfg->path[OPT_ACTIVATION_MASK], req.size, what, &in->mask);
    }
    static const int options[] = {OPT_WEIGHT,      OPT_BIAS,         OPT_SAVE_MEAN,
                                  OPT_SAVE_INVSTD, OPT_RUNNING_MEAN, OPT_RUNNING_VAR};
    float** targets[] = {&in->weight, &in->bias, &in->save_mean, &in->save_invstd, &in->running_mean, &in->running_var};
    for (size_t i = 0; i < 6 && r == CLI_OK; ++i) r = run_read_vector(cfg, options[i], &in->tensor, targets[i]);
    return r;
}

enum { B_X, B_DY, B_Y, B_Z, B_W, B_B, B_SM, B_SI, B_RM, B_RV, B_DX, B_DW, B_DB, B_DZ, B_MASK, B_COUNT };

static vkbn_result make_buffers(vkbn_context ctx, const run_config* cfg, const bwd_inputs* in, vkbn_buffer* b) {
    uint64_t bytes = in->x.count * vkbn_dtype_size(in->tensor.dtype);
    uint64_t vec = (uint64_t)in->tensor.c * sizeof(float);
    const void* tensors[] = {in->x.data, in->dy.data, in->y.data, in->z.data};
    vkbn_result r = VKBN_SUCCESS;
    for (int i = B_X; i <= B_Z && r == VKBN_SUCCESS; ++i) {
        if (tensors[i]) r = run_make_buffer(ctx, tensors[i], bytes, &b[i]);
    }
    const float* vectors[] = {in->weight, in->bias, in->save_mean, in->save_invstd, in->running_mean, in->running_var};
    for (int i = B_W; i <= B_RV && r == VKBN_SUCCESS; ++i) {
        if (vectors[i - B_W]) r = run_make_buffer(ctx, vectors[i - B_W], vec, &b[i]);
    }
    if (r == VKBN_SUCCESS) r = run_make_buffer(ctx, NULL, bytes, &b[B_DX]);
    if (r == VKBN_SUCCESS) r = run_make_buffer(ctx, NULL, vec, &b[B_DW]);
    if (r == VKBN_SUCCESS) r = run_make_buffer(ctx, NULL, vec, &b[B_DB]);
    if (r == VKBN_SUCCESS && cfg->dresidual) r = run_make_buffer(ctx, NULL, bytes, &b[B_DZ]);
    if (r == VKBN_SUCCESS && in->mask.data && in->mask.count > 0) {
        r = run_make_buffer(ctx, in->mask.data, in->mask.count, &b[B_MASK]);
    }
    return r;
}

static vkbn_result backward(vkbn_context ctx, const run_config* cfg, const bwd_inputs* in, vkbn_buffer* b) {
    vkbn_backward_desc d = {
        .tensor = in->tensor,
        .x = b[B_X],
        .dy = b[B_DY],
        .y = b[B_Y],
        .residual = b[B_Z],
        .weight = b[B_W],
        .bias = b[B_B],
        .save_mean = b[B_SM],
        .save_invstd = b[B_SI],
        .frozen = (vkbn_bool)cfg->frozen,
        .running_mean = b[B_RM],
        .running_var = b[B_RV],
        .eps = cfg->eps,
        .activation = cfg->activation,
        .activation_alpha = cfg->alpha,
        .activation_beta = cfg->beta,
        .dx = b[B_DX],
        .dweight = b[B_DW],
        .dbias = b[B_DB],
        .dresidual = b[B_DZ],
        .activation_mask = b[B_MASK],
    };
    return vkbn_backward(ctx, &d);
}

static int alloc_results(const bwd_inputs* in, bwd_results* out) {
    memset(out, 0, sizeof *out);
    size_t bytes = (size_t)in->x.count * vkbn_dtype_size(in->tensor.dtype);
    out->dx = malloc(bytes ? bytes : 1);
    out->dz = malloc(bytes ? bytes : 1);
    out->dweight = malloc(in->tensor.c * sizeof(float));
    out->dbias = malloc(in->tensor.c * sizeof(float));
    if (!out->dx || !out->dz || !out->dweight || !out->dbias) {
        return cli_error(CMD, CLI_FAILED, "out of host memory for the outputs (%llu bytes)",
                         (unsigned long long)(2 * bytes));
    }
    return CLI_OK;
}

static void free_results(bwd_results* out) {
    free(out->dx);
    free(out->dz);
    free(out->dweight);
    free(out->dbias);
}

static int compute(const run_config* cfg, const bwd_inputs* in, bwd_results* out) {
    int r = alloc_results(in, out);
    if (r != CLI_OK) return r;
    validation_log log = {0};
    vkbn_context ctx = NULL;
    r = run_create_context(cfg, &log, &ctx);
    if (r != CLI_OK) return r;
    vkbn_buffer b[B_COUNT] = {0};
    uint64_t bytes = in->x.count * vkbn_dtype_size(in->tensor.dtype);
    uint64_t vec = (uint64_t)in->tensor.c * sizeof(float);
    vkbn_result vr = make_buffers(ctx, cfg, in, b);
    if (vr == VKBN_SUCCESS) vr = backward(ctx, cfg, in, b);
    if (vr == VKBN_SUCCESS) vr = vkbn_buffer_download(b[B_DX], 0, out->dx, bytes);
    if (vr == VKBN_SUCCESS) vr = vkbn_buffer_download(b[B_DW], 0, out->dweight, vec);
    if (vr == VKBN_SUCCESS) vr = vkbn_buffer_download(b[B_DB], 0, out->dbias, vec);
    if (vr == VKBN_SUCCESS && cfg->dresidual) vr = vkbn_buffer_download(b[B_DZ], 0, out->dz, bytes);
    for (int i = 0; i < B_COUNT; ++i) vkbn_buffer_destroy(b[i]);
    r = vr == VKBN_SUCCESS ? run_check_validation(ctx, &log, out->device, sizeof out->device) : cli_api_error(CMD, vr);
    vkbn_context_destroy(ctx);
    return r;
}

static npy_array vector_array(float* v, uint32_t c) {
    npy_array a = {.dtype = NPY_F32, .ndim = 1, .shape = {c}, .count = c, .data = v};
    return a;
}

static int write_results(const run_config* cfg, const bwd_inputs* in, bwd_results* res) {
    io_output out[IO_MAX_OUTPUTS];
    size_t n = 0;
    out[n++] = (io_output){"dx.npy", io_tensor_output(&in->x, res->dx)};
    out[n++] = (io_output){"dweight.npy", vector_array(res->dweight, in->tensor.c)};
    out[n++] = (io_output){"dbias.npy", vector_array(res->dbias, in->tensor.c)};
    if (cfg->dresidual) out[n++] = (io_output){"dresidual.npy", io_tensor_output(&in->x, res->dz)};
    int r = io_write_outputs(cfg->path[OPT_OUT], out, n);
    if (r != CLI_OK) return r;
    char shape[160];
    io_format_shape(&in->x, shape, sizeof shape);
    printf("backward%s %s %s %s on %s: wrote", cfg->frozen ? " frozen" : "", cli_layout_name(in->tensor.layout),
           cli_dtype_name(in->tensor.dtype), shape, res->device);
    for (size_t i = 0; i < n; ++i) printf(" %s", out[i].name);
    printf(" to %s\n", cfg->path[OPT_OUT]);
    return CLI_OK;
}

int run_backward(const run_config* cfg) {
    bwd_inputs in;
    int r = read_inputs(cfg, &in);
    bwd_results res;
    memset(&res, 0, sizeof res);
    if (r == CLI_OK) r = compute(cfg, &in, &res);
    if (r == CLI_OK) r = write_results(cfg, &in, &res);
    free_results(&res);
    free_inputs(&in);
    return r;
}
