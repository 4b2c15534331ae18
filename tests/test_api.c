/* The API's contract on bad input (SEMANTICS.md, "Arguments and bad input"):
 * every case gets its own code and a message naming the argument, and no
 * output is written. Outputs are filled with a sentinel first and compared
 * afterwards. Also: result strings, device lookup, buffers and views. */
#include <math.h>
#include <stdint.h>

#include "test_util.h"

#include "../src/vulkan/vk_validation_filter.h"

#define C 6
#define N 2
#define S 5
#define COUNT (N * C * S)

typedef struct fixture {
    vkbn_context ctx;
    vkbn_buffer x, y, z, weight, bias, rm, rv, save_mean, save_invstd;
    vkbn_buffer big; /* one buffer for overlap cases */
} fixture;

static void reset_outputs(fixture* f) {
    fill(f->y, COUNT, SENTINEL);
    fill(f->rm, C, SENTINEL);
    fill(f->rv, C, SENTINEL);
    fill(f->save_mean, C, SENTINEL);
    fill(f->save_invstd, C, SENTINEL);
}

static int outputs_untouched(fixture* f) {
    return unchanged(f->y, COUNT) && unchanged(f->rm, C) && unchanged(f->rv, C) && unchanged(f->save_mean, C) &&
           unchanged(f->save_invstd, C);
}

static vkbn_forward_training_desc good_training(const fixture* f) {
    vkbn_forward_training_desc d;
    memset(&d, 0, sizeof d);
    d.tensor.n = N;
    d.tensor.c = C;
    d.tensor.spatial_rank = 1;
    d.tensor.spatial[0] = S;
    d.x = f->x;
    d.y = f->y;
    d.residual = f->z;
    d.weight = f->weight;
    d.bias = f->bias;
    d.running_mean = f->rm;
    d.running_var = f->rv;
    d.save_mean = f->save_mean;
    d.save_invstd = f->save_invstd;
    d.eps = VKBN_DEFAULT_EPS;
    d.momentum = VKBN_DEFAULT_MOMENTUM;
    return d;
}

/* Runs a bad training call: expects `code`, a message containing `needle`,
 * and no output written. */
static void expect_training_error(fixture* f, const vkbn_forward_training_desc* d, vkbn_result code, const char* needle,
                                  const char* label) {
    reset_outputs(f);
    vkbn_result r = vkbn_forward_training(f->ctx, d);
    CHECK(r == code, "%s: got %s (%s), want %s", label, vkbn_result_string(r), vkbn_last_error(),
          vkbn_result_string(code));
    CHECK(strstr(vkbn_last_error(), needle) != NULL, "%s: message \"%s\" does not name \"%s\"", label,
          vkbn_last_error(), needle);
    CHECK(outputs_untouched(f), "%s: an output was written", label);
}

static void result_strings(void) {
    const char* seen[32] = {0};
    int n = 0;
    for (int code = 0; code >= VKBN_ERROR_UNSUPPORTED; --code) {
        const char* s = vkbn_result_string((vkbn_result)code);
        CHECK(s && strncmp(s, "VKBN_", 5) == 0, "result %d has no name", code);
        for (int i = 0; i < n; ++i) CHECK(strcmp(seen[i], s) != 0, "result %d shares its name %s", code, s);
        seen[n++] = s;
    }
    CHECK(strcmp(vkbn_result_string((vkbn_result)-999), "VKBN_ERROR_UNKNOWN") == 0, "unknown code");
}

/* The library binary reports the version of the header it was built with. */
static void versions(void) {
    CHECK(vkbn_version() == VKBN_VERSION, "vkbn_version() = %u, VKBN_VERSION = %u", vkbn_version(),
          (unsigned)VKBN_VERSION);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", VKBN_VERSION_MAJOR, VKBN_VERSION_MINOR, VKBN_VERSION_PATCH);
    const char* got = vkbn_version_string();
    CHECK(got && strcmp(got, want) == 0, "vkbn_version_string() = \"%s\", the macros say \"%s\"", got ? got : "(null)",
          want);
}

static void contexts(void) {
    vkbn_context ctx = (vkbn_context)1;
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.flags = 0x80;
    CHECK(vkbn_context_create(&d, &ctx) == VKBN_ERROR_INVALID_ARGUMENT && ctx == NULL, "unknown flags");
    CHECK(strstr(vkbn_last_error(), "desc->flags"), "flags message: %s", vkbn_last_error());
    CHECK(vkbn_context_create(NULL, NULL) == VKBN_ERROR_NULL_ARGUMENT, "out NULL");
    d.flags = 0;
    d.device = "9999";
    CHECK(vkbn_context_create(&d, &ctx) == VKBN_ERROR_DEVICE_NOT_FOUND, "index out of range: %s", vkbn_last_error());
    CHECK(strstr(vkbn_last_error(), "desc->device"), "device message: %s", vkbn_last_error());
    d.device = "no such gpu anywhere";
    CHECK(vkbn_context_create(&d, &ctx) == VKBN_ERROR_DEVICE_NOT_FOUND, "unknown name");
    uint32_t count = 0;
    CHECK(vkbn_enumerate_devices(&count, NULL) == VKBN_SUCCESS && count > 0, "enumerate count %u", count);
    vkbn_device_info infos[8];
    uint32_t k = count < 8 ? count : 8;
    CHECK(vkbn_enumerate_devices(&k, infos) == VKBN_SUCCESS, "enumerate");
    int defaults = 0;
    for (uint32_t i = 0; i < k; ++i) defaults += infos[i].is_default ? 1 : 0;
    CHECK(defaults == 1, "exactly one default device, got %d", defaults);
    CHECK(vkbn_enumerate_devices(NULL, NULL) == VKBN_ERROR_NULL_ARGUMENT, "enumerate NULL count");
    vkbn_context_destroy(NULL);
}

static void buffers(fixture* f) {
    vkbn_buffer b = (vkbn_buffer)1, v = NULL;
    CHECK(vkbn_buffer_create(f->ctx, 0, &b) == VKBN_ERROR_INVALID_ARGUMENT && b == NULL, "size 0");
    CHECK(vkbn_buffer_create(f->ctx, 64, &b) == VKBN_SUCCESS, "create");
    CHECK(vkbn_buffer_size(b) == 64, "size");
    CHECK(vkbn_buffer_create_view(b, 2, 8, &v) == VKBN_ERROR_MISALIGNED, "view offset 2");
    CHECK(vkbn_buffer_create_view(b, 60, 8, &v) == VKBN_ERROR_BUFFER_TOO_SMALL, "view past the end");
    CHECK(vkbn_buffer_create_view(b, 16, 16, &v) == VKBN_SUCCESS, "view");
    float in[4] = {1, 2, 3, 4}, out[4] = {0};
    CHECK(vkbn_buffer_upload(v, 0, in, sizeof in) == VKBN_SUCCESS, "upload to view");
    CHECK(vkbn_buffer_download(b, 16, out, sizeof out) == VKBN_SUCCESS && memcmp(in, out, sizeof in) == 0,
          "a view writes into its parent at its offset");
    CHECK(vkbn_buffer_upload(v, 4, in, sizeof in) == VKBN_ERROR_BUFFER_TOO_SMALL, "upload past a view's end");
    CHECK(vkbn_buffer_download(b, 0, NULL, 4) == VKBN_ERROR_NULL_ARGUMENT, "download NULL");
    vkbn_buffer w = NULL;
    CHECK(vkbn_buffer_wrap(f->ctx, VK_NULL_HANDLE, 0, 4, &w) == VKBN_ERROR_NULL_ARGUMENT && !w, "wrap null buffer");
    vkbn_buffer_destroy(v);
    vkbn_buffer_destroy(b);
    vkbn_buffer_destroy(NULL);
}

static void training_errors(fixture* f) {
    vkbn_forward_training_desc d = good_training(f);
    reset_outputs(f);
    CHECK(vkbn_forward_training(f->ctx, &d) == VKBN_SUCCESS, "the good call succeeds: %s", vkbn_last_error());

    CHECK(vkbn_forward_training(f->ctx, NULL) == VKBN_ERROR_NULL_ARGUMENT, "desc NULL");
    CHECK(vkbn_forward_training(NULL, &d) == VKBN_ERROR_NULL_ARGUMENT, "ctx NULL");

    d = good_training(f), d.x = NULL;
    expect_training_error(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->x", "x NULL");
    d = good_training(f), d.y = NULL;
    expect_training_error(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->y", "y NULL");
    d = good_training(f), d.tensor.n = 0;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_SHAPE, "desc->tensor.n", "n = 0");
    d = good_training(f), d.tensor.c = 0;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_SHAPE, "desc->tensor.c", "c = 0");
    d = good_training(f), d.tensor.spatial_rank = 2, d.tensor.spatial[1] = 0;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_SHAPE, "desc->tensor.spatial[1]", "spatial 0");
    d = good_training(f), d.tensor.spatial_rank = 4;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_SHAPE, "desc->tensor.spatial_rank", "rank 4");
    d = good_training(f), d.tensor.layout = (vkbn_layout)7;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->tensor.layout", "bad layout");
    d = good_training(f), d.tensor.dtype = (vkbn_dtype)9;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->tensor.dtype", "bad dtype");
    d = good_training(f), d.tensor.n = UINT32_MAX, d.tensor.c = UINT32_MAX, d.tensor.spatial_rank = 3;
    d.tensor.spatial[0] = d.tensor.spatial[1] = d.tensor.spatial[2] = UINT32_MAX;
    expect_training_error(f, &d, VKBN_ERROR_TOO_LARGE, "overflow", "element count overflow");
    d = good_training(f), d.tensor.n = 1000;
    expect_training_error(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->x", "x too small");

    d = good_training(f), d.eps = -1.0f;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_EPS, "desc->eps", "eps -1");
    d = good_training(f), d.eps = NAN;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_EPS, "desc->eps", "eps NaN");
    d = good_training(f), d.eps = INFINITY;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_EPS, "desc->eps", "eps inf");
    d = good_training(f), d.momentum = -0.1f;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_MOMENTUM, "desc->momentum", "momentum -0.1");
    d = good_training(f), d.momentum = 1.5f;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_MOMENTUM, "desc->momentum", "momentum 1.5");
    d = good_training(f), d.momentum = NAN;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_MOMENTUM, "desc->momentum", "momentum NaN");
    d = good_training(f), d.running_average = (vkbn_running_average)5;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->running_average", "bad running mode");
    d = good_training(f), d.activation = (vkbn_activation)99;
    expect_training_error(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation", "bad activation");
    d = good_training(f), d.tensor.n = 1, d.tensor.spatial_rank = 0;
    expect_training_error(f, &d, VKBN_ERROR_TOO_FEW_VALUES, "desc->tensor", "m = 1");
    d = good_training(f), d.running_var = NULL;
    expect_training_error(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->running_var", "running_var missing");
    d = good_training(f), d.running_mean = NULL;
    expect_training_error(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->running_mean", "running_mean missing");

    /* Buffers too small for c = 6 floats or the tensor. */
    vkbn_buffer small = NULL, small_t = NULL;
    vkbn_buffer_create(f->ctx, (C - 1) * 4, &small);
    vkbn_buffer_create(f->ctx, COUNT * 4 - 4, &small_t);
    d = good_training(f), d.weight = small;
    expect_training_error(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->weight", "weight too small");
    d = good_training(f), d.bias = small;
    expect_training_error(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->bias", "bias too small");
    d = good_training(f), d.save_invstd = small;
    expect_training_error(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->save_invstd", "save_invstd too small");
    d = good_training(f), d.residual = small_t;
    expect_training_error(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->residual", "residual too small");
    d = good_training(f), d.y = small_t;
    expect_training_error(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->y", "y too small");
    vkbn_buffer_destroy(small);
    vkbn_buffer_destroy(small_t);

    /* Overlaps: views of one buffer. */
    vkbn_buffer a = NULL, b = NULL, x_shift = NULL;
    vkbn_buffer_create_view(f->big, 0, C * 4, &a);
    vkbn_buffer_create_view(f->big, 8, C * 4, &b);
    d = good_training(f), d.weight = a, d.save_mean = b;
    expect_training_error(f, &d, VKBN_ERROR_ALIASING, "desc->save_mean", "save_mean overlaps weight");
    d = good_training(f), d.running_mean = f->rv;
    expect_training_error(f, &d, VKBN_ERROR_ALIASING, "desc->running_mean", "running_mean is running_var");
    d = good_training(f), d.save_invstd = f->save_mean;
    expect_training_error(f, &d, VKBN_ERROR_ALIASING, "desc->save_mean", "save buffers shared");
    vkbn_buffer_destroy(a);
    vkbn_buffer_destroy(b);
    vkbn_buffer_create_view(f->big, 4, COUNT * 4, &x_shift);
    vkbn_buffer_create_view(f->big, 0, COUNT * 4, &a);
    d = good_training(f), d.x = a, d.y = x_shift;
    expect_training_error(f, &d, VKBN_ERROR_ALIASING, "partially overlaps", "y partially overlaps x");
    vkbn_buffer_destroy(x_shift);
    vkbn_buffer_destroy(a);

    /* In place is allowed: y is x. */
    d = good_training(f), d.y = d.x;
    CHECK(vkbn_forward_training(f->ctx, &d) == VKBN_SUCCESS, "in-place training: %s", vkbn_last_error());

    /* A buffer of another context. */
    vkbn_context other = test_context(0, 0);
    vkbn_buffer foreign = NULL;
    vkbn_buffer_create(other, C * 4, &foreign);
    d = good_training(f), d.bias = foreign;
    expect_training_error(f, &d, VKBN_ERROR_WRONG_CONTEXT, "desc->bias", "buffer of another context");
    vkbn_buffer_destroy(foreign);
    vkbn_context_destroy(other);
}

static void inference_and_copy_errors(fixture* f) {
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor.n = N;
    d.tensor.c = C;
    d.tensor.spatial_rank = 1;
    d.tensor.spatial[0] = S;
    d.x = f->x;
    d.y = f->y;
    d.running_mean = f->rm;
    d.running_var = NULL;
    d.eps = VKBN_DEFAULT_EPS;
    fill(f->y, COUNT, SENTINEL);
    CHECK(vkbn_forward_inference(f->ctx, &d) == VKBN_ERROR_NULL_ARGUMENT, "inference without running_var");
    CHECK(strstr(vkbn_last_error(), "desc->running_var"), "message: %s", vkbn_last_error());
    CHECK(unchanged(f->y, COUNT), "inference error wrote y");
    d.running_var = f->rv;
    d.tensor.n = 1, d.tensor.spatial_rank = 0; /* m = 1 is fine in inference */
    CHECK(vkbn_forward_inference(f->ctx, &d) == VKBN_SUCCESS, "inference with m = 1: %s", vkbn_last_error());

    vkbn_copy_desc c = {f->x, f->y, 6};
    vkbn_plan plan = NULL;
    CHECK(vkbn_plan_create_copy(f->ctx, &c, &plan) == VKBN_ERROR_INVALID_ARGUMENT && !plan, "copy of 6 bytes");
    c.size = COUNT * 4 + 4;
    CHECK(vkbn_plan_create_copy(f->ctx, &c, &plan) == VKBN_ERROR_BUFFER_TOO_SMALL, "copy past the end");
    CHECK(vkbn_plan_execute(NULL) == VKBN_ERROR_NULL_ARGUMENT, "execute NULL");
    double t = 0;
    c.size = COUNT * 4;
    CHECK(vkbn_plan_create_copy(f->ctx, &c, &plan) == VKBN_SUCCESS, "copy plan: %s", vkbn_last_error());
    CHECK(vkbn_plan_execute_timed(plan, 0, &t) == VKBN_ERROR_INVALID_ARGUMENT, "0 repetitions");
    CHECK(vkbn_plan_execute_timed(plan, 3, &t) == VKBN_SUCCESS && t > 0, "timed copy: %s", vkbn_last_error());
    vkbn_plan_destroy(plan);
    vkbn_plan_destroy(NULL);
}

/* Synchronized batch norm: an empty slice (n = 0) is held to the rules of
 * any slice (the replicas must agree on what they accept), and a bad slice
 * is refused before vkbn allocates anything for it. */
static void sync_errors(fixture* f) {
    double mean[C] = {0}, m2[C] = {1, 1, 1, 1, 1, 1};
    vkbn_batch_stats global = {N * S, C, mean, m2};
    vkbn_forward_training_desc d = good_training(f);
    d.tensor.n = 0, d.x = NULL, d.y = NULL, d.residual = NULL;
    reset_outputs(f);
    CHECK(vkbn_forward_training_global(f->ctx, &d, &global) == VKBN_SUCCESS, "empty slice: %s", vkbn_last_error());
    const struct {
        const char* label;
        vkbn_buffer* field;
        vkbn_buffer value;
        const char* needle;
    } aliases[] = {
        {"save_invstd is save_mean", &d.save_invstd, f->save_mean, "desc->save_mean"},
        {"running_mean is save_mean", &d.running_mean, f->save_mean, "desc->running_mean"},
        {"running_var is running_mean", &d.running_var, f->rm, "desc->running_mean"},
        {"save_mean is weight", &d.save_mean, f->weight, "desc->save_mean"},
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; ++i) {
        vkbn_buffer saved = *aliases[i].field;
        *aliases[i].field = aliases[i].value;
        reset_outputs(f);
        vkbn_result r = vkbn_forward_training_global(f->ctx, &d, &global);
        CHECK(r == VKBN_ERROR_ALIASING && strstr(vkbn_last_error(), aliases[i].needle), "empty slice, %s: got %s (%s)",
              aliases[i].label, vkbn_result_string(r), vkbn_last_error());
        CHECK(outputs_untouched(f), "empty slice, %s: an output was written", aliases[i].label);
        *aliases[i].field = saved;
    }
    d.activation = (vkbn_activation)9;
    reset_outputs(f);
    CHECK(vkbn_forward_training_global(f->ctx, &d, &global) == VKBN_ERROR_INVALID_ARGUMENT &&
              strstr(vkbn_last_error(), "desc->activation"),
          "empty slice, activation 9: %s", vkbn_last_error());
    CHECK(outputs_untouched(f), "empty slice, activation 9: an output was written");
    d.activation = VKBN_ACTIVATION_NONE, d.tensor.layout = (vkbn_layout)7;
    CHECK(vkbn_forward_training_global(f->ctx, &d, &global) == VKBN_ERROR_INVALID_ARGUMENT &&
              strstr(vkbn_last_error(), "desc->tensor.layout"),
          "empty slice, layout 7: %s", vkbn_last_error());
    CHECK(outputs_untouched(f), "empty slice, layout 7: an output was written");

    /* The backward of an empty slice writes dweight and dbias (here
     * save_mean and save_invstd stand in for them). */
    double sg[C] = {0}, sgx[C] = {0};
    vkbn_grad_sums sums = {N * S, C, sg, sgx};
    vkbn_backward_desc b;
    memset(&b, 0, sizeof b);
    b.tensor = good_training(f).tensor;
    b.tensor.n = 0;
    b.weight = f->weight;
    b.eps = VKBN_DEFAULT_EPS;
    b.dweight = f->save_mean;
    b.dbias = f->save_mean;
    reset_outputs(f);
    CHECK(vkbn_backward_global(f->ctx, &b, &sums) == VKBN_ERROR_ALIASING && strstr(vkbn_last_error(), "desc->dweight"),
          "empty slice, dweight is dbias: %s", vkbn_last_error());
    b.dbias = f->save_invstd, b.activation = (vkbn_activation)9;
    CHECK(vkbn_backward_global(f->ctx, &b, &sums) == VKBN_ERROR_INVALID_ARGUMENT &&
              strstr(vkbn_last_error(), "desc->activation"),
          "empty slice backward, activation 9: %s", vkbn_last_error());
    CHECK(outputs_untouched(f), "empty slice backward: an output was written");

    /* The slice's c sizes vkbn's own sums: a bad c is reported as such. */
    memset(&b, 0, sizeof b);
    b.tensor = good_training(f).tensor;
    b.x = f->x;
    b.dy = f->z;
    b.save_mean = f->weight;
    b.save_invstd = f->bias;
    b.eps = VKBN_DEFAULT_EPS;
    b.tensor.c = 0, sums.c = 0;
    vkbn_result r = vkbn_grad_sums_compute(f->ctx, &b, &sums);
    CHECK(r == VKBN_ERROR_INVALID_SHAPE && strstr(vkbn_last_error(), "desc->tensor.c"), "grad sums, c = 0: %s (%s)",
          vkbn_result_string(r), vkbn_last_error());
    b.tensor.c = UINT32_MAX, sums.c = UINT32_MAX;
    r = vkbn_grad_sums_compute(f->ctx, &b, &sums);
    CHECK(r == VKBN_ERROR_BUFFER_TOO_SMALL && strstr(vkbn_last_error(), "desc->x"), "grad sums, c = 2^32 - 1: %s (%s)",
          vkbn_result_string(r), vkbn_last_error());
    b.tensor.c = C, sums.c = C;
    CHECK(vkbn_grad_sums_compute(f->ctx, &b, &sums) == VKBN_SUCCESS && sums.count == N * S, "grad sums: %s",
          vkbn_last_error());

    /* The partials of an empty slice: nothing runs, but the description is
     * still checked as the replicas with samples check it. */
    vkbn_batch_stats_desc sd = {good_training(f).tensor, NULL};
    sd.tensor.n = 0, sd.tensor.layout = (vkbn_layout)7;
    vkbn_batch_stats part = {0, C, mean, m2};
    r = vkbn_batch_stats_compute(f->ctx, &sd, &part);
    CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && strstr(vkbn_last_error(), "desc->tensor.layout"),
          "empty partial, layout 7: %s (%s)", vkbn_result_string(r), vkbn_last_error());
    b.tensor.n = 0, b.tensor.dtype = (vkbn_dtype)9;
    r = vkbn_grad_sums_compute(f->ctx, &b, &sums);
    CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && strstr(vkbn_last_error(), "desc->tensor.dtype"),
          "empty grad sums, dtype 9: %s (%s)", vkbn_result_string(r), vkbn_last_error());
}

/* A sample (c * spatial) larger than the context may bind at once (Vulkan:
 * the CPU path has no binding range). */
static void too_large(void) {
    vkbn_context ctx = test_context(0, 4096);
    vkbn_device_info info;
    vkbn_context_get_device_info(ctx, &info);
    if (info.backend == VKBN_BACKEND_CPU) {
        vkbn_context_destroy(ctx);
        return;
    }
    vkbn_buffer x = NULL;
    vkbn_buffer_create(ctx, 8192, &x);
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor.n = 1;
    d.tensor.c = 2;
    d.tensor.spatial_rank = 1;
    d.tensor.spatial[0] = 1024; /* 8 KiB per sample */
    d.x = x;
    d.y = x;
    vkbn_buffer rm = NULL, rv = NULL;
    vkbn_buffer_create(ctx, 8, &rm);
    vkbn_buffer_create(ctx, 8, &rv);
    d.running_mean = rm;
    d.running_var = rv;
    CHECK(vkbn_forward_inference(ctx, &d) == VKBN_ERROR_TOO_LARGE, "sample over the binding range: %s",
          vkbn_last_error());
    CHECK(strstr(vkbn_last_error(), "desc->tensor"), "message: %s", vkbn_last_error());
    vkbn_buffer_destroy(x);
    vkbn_buffer_destroy(rm);
    vkbn_buffer_destroy(rv);
    vkbn_context_destroy(ctx);
}

/* The one validation filter: IDs in either layer spelling, the memory-priority
 * condition, and nothing else excused. */
static void validation_filter(void) {
    CHECK(vkbn__validation_ignored("UNASSIGNED-BestPractices-SpirvDeprecated_WorkgroupSize", false) != NULL,
          "an old-style ID is filtered");
    CHECK(vkbn__validation_ignored("BestPractices-AMD-CreatePipelinesLayout-KeepLayoutSmall", false) != NULL,
          "a new-style ID with its vendor is filtered");
    CHECK(vkbn__validation_ignored("UNASSIGNED-BestPractices-AllocateMemory-SetPriority", false) != NULL &&
              vkbn__validation_ignored("BestPractices-NVIDIA-AllocateMemory-SetPriority", true) == NULL,
          "SetPriority counts where VK_EXT_memory_priority is enabled");
    CHECK(
        vkbn__validation_ignored("UNASSIGNED-BestPractices-vkAllocateMemory-small-allocation", false) == NULL &&
            vkbn__validation_ignored("UNASSIGNED-BestPractices-vkBindMemory-small-dedicated-allocation", false) == NULL,
        "small allocations count");
    CHECK(vkbn__validation_ignored("VUID-vkCmdDispatch-None-02697", false) == NULL &&
              vkbn__validation_ignored("SYNC-HAZARD-READ-AFTER-WRITE", false) == NULL &&
              vkbn__validation_ignored(NULL, false) == NULL &&
              vkbn__validation_ignored("BestPractices-", false) == NULL,
          "errors, hazards and unknown IDs count");
}

int main(void) {
    result_strings();
    versions();
    validation_filter();
    fixture f;
    memset(&f, 0, sizeof f);
    f.ctx = test_context(0, 0);
    contexts();
    vkbn_buffer* tensors[] = {&f.x, &f.y, &f.z};
    vkbn_buffer* vectors[] = {&f.weight, &f.bias, &f.rm, &f.rv, &f.save_mean, &f.save_invstd};
    for (size_t i = 0; i < 3; ++i) vkbn_buffer_create(f.ctx, COUNT * 4, tensors[i]);
    for (size_t i = 0; i < 6; ++i) vkbn_buffer_create(f.ctx, C * 4, vectors[i]);
    vkbn_buffer_create(f.ctx, 4 * COUNT * 4, &f.big);
    fill(f.x, COUNT, 1.5f);
    fill(f.z, COUNT, 0.5f);
    fill(f.weight, C, 1.0f);
    fill(f.bias, C, 0.0f);
    buffers(&f);
    training_errors(&f);
    inference_and_copy_errors(&f);
    sync_errors(&f);
    too_large();
    CHECK(vkbn_context_validation_message_count(f.ctx) == 0, "validation messages: %llu",
          (unsigned long long)vkbn_context_validation_message_count(f.ctx));
    for (size_t i = 0; i < 3; ++i) vkbn_buffer_destroy(*tensors[i]);
    for (size_t i = 0; i < 6; ++i) vkbn_buffer_destroy(*vectors[i]);
    vkbn_buffer_destroy(f.big);
    vkbn_context_destroy(f.ctx);
    return test_summary();
}
