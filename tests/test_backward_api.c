/* The backward API's contract on bad input (SEMANTICS.md, "Arguments and bad
 * input"), and the activation parameters of the forward descs: every case
 * gets its code and a message naming the argument, and no output is written
 * (outputs are filled with a sentinel first and compared afterwards). */
#include <math.h>
#include <stdint.h>

#include "test_util.h"

#define C 6
#define N 2
#define S 5
#define COUNT (N * C * S)

typedef struct fixture {
    vkbn_context ctx;
    vkbn_buffer x, dy, y, z, dx, dz;                        /* tensors */
    vkbn_buffer weight, bias, mean, invstd, rm, rv, dw, db; /* vectors */
    vkbn_buffer big;                                        /* one buffer for overlap cases */
    vkbn_buffer mask, mask_small;                           /* MASK_BYTES and 4 bytes */
} fixture;

/* The activation mask of COUNT = 60 elements: 2 words. */
#define MASK_BYTES 8

static bool on_cpu(vkbn_context ctx) {
    vkbn_device_info info;
    return vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS && info.backend == VKBN_BACKEND_CPU;
}

/* Every buffer an error case could write: the outputs and, for the cases
 * that pass inputs as outputs, the inputs too. */
static void reset(fixture* f) {
    vkbn_buffer t[] = {f->x, f->dy, f->y, f->z, f->dx, f->dz, f->big};
    vkbn_buffer v[] = {f->weight, f->bias, f->mean, f->invstd, f->rm, f->rv, f->dw, f->db};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; ++i) fill(t[i], i == 6 ? 4 * COUNT : COUNT, SENTINEL);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) fill(v[i], C, SENTINEL);
    fill(f->mask, MASK_BYTES / 4, SENTINEL);
    fill(f->mask_small, 1, SENTINEL);
}

static int untouched(fixture* f) {
    vkbn_buffer t[] = {f->x, f->dy, f->y, f->z, f->dx, f->dz, f->big};
    vkbn_buffer v[] = {f->weight, f->bias, f->mean, f->invstd, f->rm, f->rv, f->dw, f->db};
    int ok = 1;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; ++i) ok &= unchanged(t[i], i == 6 ? 4 * COUNT : COUNT);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) ok &= unchanged(v[i], C);
    ok &= unchanged(f->mask, MASK_BYTES / 4) && unchanged(f->mask_small, 1);
    return ok;
}

static vkbn_tensor_desc tensor_desc(void) {
    vkbn_tensor_desc t;
    memset(&t, 0, sizeof t);
    t.n = N;
    t.c = C;
    t.spatial_rank = 1;
    t.spatial[0] = S;
    return t;
}

/* A valid training-mode call with a ReLU, the add variant and every output. */
static vkbn_backward_desc good(const fixture* f) {
    vkbn_backward_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = tensor_desc();
    d.x = f->x;
    d.dy = f->dy;
    d.y = f->y;
    d.weight = f->weight;
    d.bias = f->bias;
    d.save_mean = f->mean;
    d.save_invstd = f->invstd;
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = VKBN_ACTIVATION_RELU;
    d.dx = f->dx;
    d.dweight = f->dw;
    d.dbias = f->db;
    d.dresidual = f->dz;
    return d;
}

static vkbn_backward_desc good_frozen(const fixture* f) {
    vkbn_backward_desc d = good(f);
    d.frozen = 1;
    d.save_mean = d.save_invstd = NULL;
    d.running_mean = f->rm;
    d.running_var = f->rv;
    return d;
}

static void expect(fixture* f, const vkbn_backward_desc* d, vkbn_result code, const char* needle, const char* label) {
    reset(f);
    vkbn_result r = vkbn_backward(f->ctx, d);
    CHECK(r == code, "%s: got %s (%s), want %s", label, vkbn_result_string(r), vkbn_last_error(),
          vkbn_result_string(code));
    CHECK(strstr(vkbn_last_error(), needle) != NULL, "%s: message \"%s\" does not name \"%s\"", label,
          vkbn_last_error(), needle);
    CHECK(untouched(f), "%s: a buffer was written", label);
    vkbn_plan plan = (vkbn_plan)1;
    CHECK(vkbn_plan_create_backward(f->ctx, d, &plan) == code && plan == NULL, "%s: the plan call disagrees", label);
}

static void expect_ok(fixture* f, const vkbn_backward_desc* d, const char* label) {
    reset(f);
    fill(f->x, COUNT, 1.5f);
    fill(f->dy, COUNT, 0.25f);
    fill(f->y, COUNT, 1.0f);
    fill(f->mean, C, 1.0f);
    fill(f->invstd, C, 2.0f);
    fill(f->rm, C, 1.0f);
    fill(f->rv, C, 0.5f);
    fill(f->weight, C, 1.0f);
    fill(f->bias, C, 0.0f);
    vkbn_result r = vkbn_backward(f->ctx, d);
    CHECK(r == VKBN_SUCCESS, "%s: %s (%s)", label, vkbn_result_string(r), vkbn_last_error());
}

static void required_arguments(fixture* f) {
    vkbn_backward_desc d = good(f);
    expect_ok(f, &d, "the good training call");
    d = good_frozen(f);
    expect_ok(f, &d, "the good frozen call");
    d = good(f);
    CHECK(vkbn_backward(f->ctx, NULL) == VKBN_ERROR_NULL_ARGUMENT, "desc NULL");
    CHECK(vkbn_backward(NULL, &d) == VKBN_ERROR_NULL_ARGUMENT, "ctx NULL");
    CHECK(vkbn_plan_create_backward(f->ctx, &d, NULL) == VKBN_ERROR_NULL_ARGUMENT, "out NULL");

    d = good(f), d.x = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->x", "x NULL");
    d = good(f), d.dy = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->dy", "dy NULL");
    d = good(f), d.y = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->y", "relu without y");
    d = good(f), d.y = NULL, d.activation = VKBN_ACTIVATION_CLAMP, d.activation_beta = 6.0f;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->y", "clamp without y");
    d = good(f), d.save_mean = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->save_mean", "training without save_mean");
    d = good(f), d.save_invstd = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->save_invstd", "training without save_invstd");
    d = good_frozen(f), d.running_mean = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->running_mean", "frozen without running_mean");
    d = good_frozen(f), d.running_var = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->running_var", "frozen without running_var");
    d = good(f), d.dx = d.dweight = d.dbias = d.dresidual = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->dx", "no output");
    d = good(f), d.activation = VKBN_ACTIVATION_SILU, d.residual = NULL;
    expect(f, &d, VKBN_ERROR_NULL_ARGUMENT, "desc->residual", "silu with dresidual but no residual");

    /* What a mode or an activation does not use may be absent. */
    d = good(f), d.activation = VKBN_ACTIVATION_SILU, d.residual = f->z, d.y = NULL;
    expect_ok(f, &d, "silu needs no y");
    d = good(f), d.activation = VKBN_ACTIVATION_NONE, d.y = NULL, d.weight = NULL, d.bias = NULL;
    expect_ok(f, &d, "no activation, no affine");
    d = good_frozen(f), d.dx = NULL, d.dweight = NULL, d.dbias = NULL;
    expect_ok(f, &d, "frozen, dresidual only");
    /* Scratch sizing validates like plan creation; fused plans need none
     * (and the CPU path keeps its own scratch: size 0, alignment 1). */
    vkbn_scratch_requirements sr;
    const bool cpu = on_cpu(f->ctx);
    d = good(f), d.reduction_split = 1;
    CHECK(vkbn_backward_scratch_requirements(f->ctx, &d, &sr) == VKBN_SUCCESS && sr.size == 0 &&
              sr.alignment >= (cpu ? 1u : 4u),
          "fused plan scratch: %s (size %llu)", vkbn_last_error(), (unsigned long long)sr.size);
    d.reduction_split = 2;
    CHECK(vkbn_backward_scratch_requirements(f->ctx, &d, &sr) == VKBN_SUCCESS && (cpu ? sr.size == 0 : sr.size > 0),
          "split plan scratch: %s", vkbn_last_error());
    CHECK(vkbn_backward_scratch_requirements(f->ctx, &d, NULL) == VKBN_ERROR_NULL_ARGUMENT, "requirements out NULL");
    d = good(f), d.dy = NULL;
    CHECK(vkbn_backward_scratch_requirements(f->ctx, &d, &sr) == VKBN_ERROR_NULL_ARGUMENT &&
              strstr(vkbn_last_error(), "desc->dy"),
          "requirements of a bad desc: %s", vkbn_last_error());
    /* m = 1 is fine with frozen statistics. */
    d = good_frozen(f), d.tensor.n = 1, d.tensor.spatial_rank = 0;
    expect_ok(f, &d, "frozen with m = 1");
}

static void shapes_and_sizes(fixture* f) {
    vkbn_backward_desc d = good(f);
    d.tensor.n = 0;
    expect(f, &d, VKBN_ERROR_INVALID_SHAPE, "desc->tensor.n", "n = 0");
    d = good(f), d.tensor.spatial_rank = 4;
    expect(f, &d, VKBN_ERROR_INVALID_SHAPE, "desc->tensor.spatial_rank", "rank 4");
    d = good(f), d.tensor.layout = (vkbn_layout)3;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->tensor.layout", "bad layout");
    d = good(f), d.tensor.n = 1, d.tensor.spatial_rank = 0;
    expect(f, &d, VKBN_ERROR_TOO_FEW_VALUES, "desc->tensor", "training with m = 1");
    d = good(f), d.tensor.n = UINT32_MAX, d.tensor.c = UINT32_MAX, d.tensor.spatial_rank = 3;
    d.tensor.spatial[0] = d.tensor.spatial[1] = d.tensor.spatial[2] = UINT32_MAX;
    expect(f, &d, VKBN_ERROR_TOO_LARGE, "overflow", "element count overflow");

    vkbn_buffer small_v = NULL, small_t = NULL;
    vkbn_buffer_create(f->ctx, (C - 1) * 4, &small_v);
    vkbn_buffer_create(f->ctx, COUNT * 4 - 4, &small_t);
    struct {
        vkbn_buffer* field;
        vkbn_buffer value;
        const char* name;
    } cases[] = {{NULL, small_t, "desc->x"},         {NULL, small_t, "desc->dy"},
                 {NULL, small_t, "desc->y"},         {NULL, small_t, "desc->dx"},
                 {NULL, small_t, "desc->dresidual"}, {NULL, small_v, "desc->weight"},
                 {NULL, small_v, "desc->save_mean"}, {NULL, small_v, "desc->save_invstd"},
                 {NULL, small_v, "desc->dweight"},   {NULL, small_v, "desc->dbias"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        d = good(f);
        vkbn_buffer* fields[] = {&d.x,      &d.dy,        &d.y,           &d.dx,      &d.dresidual,
                                 &d.weight, &d.save_mean, &d.save_invstd, &d.dweight, &d.dbias};
        *fields[i] = cases[i].value;
        char label[64];
        snprintf(label, sizeof label, "%s too small", cases[i].name);
        expect(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, cases[i].name, label);
    }
    d = good_frozen(f), d.running_var = small_v;
    expect(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->running_var", "running_var too small");
    d = good(f), d.activation = VKBN_ACTIVATION_SILU, d.residual = small_t;
    expect(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->residual", "residual too small");
    vkbn_buffer_destroy(small_v);
    vkbn_buffer_destroy(small_t);

    /* A buffer of another context. */
    vkbn_context other = test_context(0, 0);
    vkbn_buffer foreign = NULL;
    vkbn_buffer_create(other, C * 4, &foreign);
    d = good(f), d.dbias = foreign;
    expect(f, &d, VKBN_ERROR_WRONG_CONTEXT, "desc->dbias", "dbias of another context");
    vkbn_buffer_destroy(foreign);
    vkbn_context_destroy(other);
}

static void numbers(fixture* f) {
    vkbn_backward_desc d = good_frozen(f);
    d.eps = -1.0f;
    expect(f, &d, VKBN_ERROR_INVALID_EPS, "desc->eps", "eps -1");
    d = good(f), d.eps = NAN;
    expect(f, &d, VKBN_ERROR_INVALID_EPS, "desc->eps", "eps NaN");
    d = good(f), d.activation = (vkbn_activation)9;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation", "unknown activation");
    d = good(f), d.activation = VKBN_ACTIVATION_LEAKY_RELU, d.activation_alpha = -0.1f;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_alpha", "leaky slope < 0 in backward");
    d = good(f), d.activation = VKBN_ACTIVATION_LEAKY_RELU, d.activation_alpha = NAN;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_alpha", "leaky slope NaN");
    d = good(f), d.activation = VKBN_ACTIVATION_CLAMP, d.activation_alpha = 1.0f, d.activation_beta = 0.5f;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_beta", "clamp max < min");
    d = good(f), d.activation = VKBN_ACTIVATION_CLAMP, d.activation_alpha = -INFINITY, d.activation_beta = 1.0f;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_alpha", "clamp min -inf");
    d = good(f), d.activation = VKBN_ACTIVATION_CLAMP, d.activation_beta = INFINITY;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_beta", "clamp max inf");
    /* Parameters an activation ignores are not checked. */
    d = good(f), d.activation_alpha = NAN, d.activation_beta = -INFINITY;
    expect_ok(f, &d, "relu ignores alpha and beta");
    d = good(f), d.activation = VKBN_ACTIVATION_CLAMP, d.activation_alpha = d.activation_beta = 0.5f;
    expect_ok(f, &d, "clamp with min = max");
}

static void aliasing(fixture* f) {
    vkbn_backward_desc d = good(f);
    d.dx = d.dy;
    expect_ok(f, &d, "in place: dx is dy");
    d = good(f), d.dx = f->x;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dx", "dx is x");
    d = good(f), d.dresidual = f->dy;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dresidual", "dresidual is dy");
    d = good(f), d.dresidual = f->dx;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dx", "dresidual is dx");
    d = good(f), d.dbias = f->dw;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dweight", "dweight is dbias");
    d = good(f), d.dweight = f->weight;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dweight", "dweight is weight");
    d = good_frozen(f), d.dbias = f->rv;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dbias", "dbias is running_var");
    /* Partial overlaps through views of one buffer. */
    vkbn_buffer a = NULL, b = NULL;
    vkbn_buffer_create_view(f->big, 0, COUNT * 4, &a);
    vkbn_buffer_create_view(f->big, 4, COUNT * 4, &b);
    d = good(f), d.dy = a, d.dx = b;
    expect(f, &d, VKBN_ERROR_ALIASING, "partially overlaps", "dx partially overlaps dy");
    d = good(f), d.y = a, d.dresidual = b;
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->dresidual", "dresidual overlaps y");
    vkbn_buffer_destroy(a);
    vkbn_buffer_destroy(b);
    /* An argument the call does not use may overlap an output. */
    d = good(f), d.activation = VKBN_ACTIVATION_NONE, d.dresidual = NULL, d.y = f->dz;
    d.dresidual = f->dz;
    expect_ok(f, &d, "unused y overlapping dresidual");
}

/* The forward descs' activation parameters. */
static void forward_activation_parameters(fixture* f) {
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = tensor_desc();
    d.x = f->x;
    d.y = f->dx;
    d.running_mean = f->rm;
    d.running_var = f->rv;
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = VKBN_ACTIVATION_CLAMP;
    d.activation_alpha = 2.0f;
    d.activation_beta = 1.0f;
    reset(f);
    CHECK(vkbn_forward_inference(f->ctx, &d) == VKBN_ERROR_INVALID_ARGUMENT, "forward clamp max < min");
    CHECK(strstr(vkbn_last_error(), "desc->activation_beta"), "message: %s", vkbn_last_error());
    CHECK(untouched(f), "forward clamp error wrote y");
    d.activation = VKBN_ACTIVATION_LEAKY_RELU;
    d.activation_alpha = INFINITY;
    CHECK(vkbn_forward_inference(f->ctx, &d) == VKBN_ERROR_INVALID_ARGUMENT, "forward leaky slope inf");
    CHECK(strstr(vkbn_last_error(), "desc->activation_alpha"), "message: %s", vkbn_last_error());
    CHECK(untouched(f), "forward leaky error wrote y");
    d.activation_alpha = -0.5f; /* any finite slope is fine forward */
    CHECK(vkbn_forward_inference(f->ctx, &d) == VKBN_SUCCESS, "forward leaky slope -0.5: %s", vkbn_last_error());

    vkbn_forward_training_desc t;
    memset(&t, 0, sizeof t);
    t.tensor = tensor_desc();
    t.x = f->x;
    t.y = f->dx;
    t.eps = VKBN_DEFAULT_EPS;
    t.activation = VKBN_ACTIVATION_CLAMP;
    t.activation_alpha = NAN;
    t.activation_beta = 1.0f;
    reset(f);
    CHECK(vkbn_forward_training(f->ctx, &t) == VKBN_ERROR_INVALID_ARGUMENT, "training clamp min NaN");
    CHECK(strstr(vkbn_last_error(), "desc->activation_alpha"), "message: %s", vkbn_last_error());
    CHECK(untouched(f), "training clamp error wrote y");
    t.activation = (vkbn_activation)5;
    CHECK(vkbn_forward_training(f->ctx, &t) == VKBN_ERROR_INVALID_ARGUMENT, "training activation 5");
    CHECK(strstr(vkbn_last_error(), "desc->activation"), "message: %s", vkbn_last_error());
}

/* The activation mask: the query, and each way a forward or backward desc
 * can get it wrong (its code, a message naming desc->activation_mask,
 * nothing written). An offset that is not a multiple of 4 cannot be made:
 * views and wrapped ranges refuse one already (test_api). */
static void activation_mask(fixture* f) {
    vkbn_tensor_desc t = tensor_desc();
    vkbn_mask_requirements req = {0, 0};
    CHECK(vkbn_activation_mask_requirements(&t, &req) == VKBN_SUCCESS && req.size == MASK_BYTES && req.alignment == 4,
          "mask of 60 elements: %llu bytes, alignment %llu", (unsigned long long)req.size,
          (unsigned long long)req.alignment);
    static const struct {
        uint32_t n, c, s;
        uint64_t bytes;
    } sizes[] = {{1, 1, 1, 4}, {1, 32, 1, 4}, {1, 33, 1, 8}, {2, 4, 8, 8}, {3, 5, 7, 16}, {0, 3, 5, 0}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        vkbn_tensor_desc u = tensor_desc();
        u.n = sizes[i].n;
        u.c = sizes[i].c;
        u.spatial[0] = sizes[i].s;
        CHECK(vkbn_activation_mask_requirements(&u, &req) == VKBN_SUCCESS && req.size == sizes[i].bytes,
              "mask of %u x %u x %u: %llu bytes, want %llu", u.n, u.c, u.spatial[0], (unsigned long long)req.size,
              (unsigned long long)sizes[i].bytes);
    }
    CHECK(vkbn_activation_mask_requirements(NULL, &req) == VKBN_ERROR_NULL_ARGUMENT, "query: tensor NULL");
    CHECK(vkbn_activation_mask_requirements(&t, NULL) == VKBN_ERROR_NULL_ARGUMENT, "query: out NULL");
    t.spatial_rank = 4;
    CHECK(vkbn_activation_mask_requirements(&t, &req) == VKBN_ERROR_INVALID_SHAPE, "query: rank 4");

    const bool supported = test_mask_supported(f->ctx);
    /* Backward. */
    vkbn_backward_desc d = good(f);
    d.y = NULL;
    d.activation_mask = f->mask;
    if (supported) {
        expect_ok(f, &d, "backward with the mask in place of y");
        d.activation = VKBN_ACTIVATION_CLAMP;
        d.activation_beta = 1.0f;
        expect_ok(f, &d, "clamp backward with the mask");
    } else {
        expect(f, &d, VKBN_ERROR_UNSUPPORTED, "desc->activation_mask", "the mask where the backend has none");
    }
    d = good(f);
    d.activation_mask = f->mask;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_mask", "backward with both y and the mask");
    d.y = NULL;
    d.activation_mask = f->mask_small;
    expect(f, &d, VKBN_ERROR_BUFFER_TOO_SMALL, "desc->activation_mask", "backward mask too small");
    d.activation_mask = f->mask;
    d.activation = VKBN_ACTIVATION_SILU;
    d.residual = f->z;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_mask", "backward mask with silu");
    d.activation = VKBN_ACTIVATION_NONE;
    expect(f, &d, VKBN_ERROR_INVALID_ARGUMENT, "desc->activation_mask", "backward mask with no activation");
    vkbn_buffer a = NULL, b = NULL;
    vkbn_buffer_create_view(f->big, 0, COUNT * 4, &a);
    vkbn_buffer_create_view(f->big, COUNT * 4 - 4, MASK_BYTES, &b);
    d = good(f);
    d.y = NULL;
    d.dx = a;
    d.activation_mask = b; /* its first word is dx's last element */
    expect(f, &d, VKBN_ERROR_ALIASING, "desc->activation_mask", "backward mask overlaps dx");
    d.dx = f->dx;
    d.dy = a;
    if (supported) expect_ok(f, &d, "the mask may overlap an input");
    vkbn_context other = test_context(0, 0);
    vkbn_buffer foreign = NULL;
    vkbn_buffer_create(other, MASK_BYTES, &foreign);
    d = good(f);
    d.y = NULL;
    d.activation_mask = foreign;
    expect(f, &d, VKBN_ERROR_WRONG_CONTEXT, "desc->activation_mask", "backward mask of another context");

    /* Forward: inference and training. */
    vkbn_forward_inference_desc fi;
    memset(&fi, 0, sizeof fi);
    fi.tensor = tensor_desc();
    fi.x = f->x;
    fi.y = f->dx;
    fi.running_mean = f->rm;
    fi.running_var = f->rv;
    fi.eps = VKBN_DEFAULT_EPS;
    fi.activation = VKBN_ACTIVATION_SILU;
    fi.activation_mask = f->mask;
    static const struct {
        vkbn_activation act;
        int small, over_y, over_x;
        vkbn_result code;
        const char* label;
    } fwd[] = {{VKBN_ACTIVATION_SILU, 0, 0, 0, VKBN_ERROR_INVALID_ARGUMENT, "forward mask with silu"},
               {VKBN_ACTIVATION_NONE, 0, 0, 0, VKBN_ERROR_INVALID_ARGUMENT, "forward mask with no activation"},
               {VKBN_ACTIVATION_RELU, 1, 0, 0, VKBN_ERROR_BUFFER_TOO_SMALL, "forward mask too small"},
               {VKBN_ACTIVATION_RELU, 0, 1, 0, VKBN_ERROR_ALIASING, "forward mask overlaps y"},
               {VKBN_ACTIVATION_LEAKY_RELU, 0, 0, 1, VKBN_ERROR_ALIASING, "forward mask overlaps x"}};
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; ++i) {
        for (int training = 0; training < 2; ++training) {
            vkbn_buffer mask = fwd[i].small ? f->mask_small : fwd[i].over_y || fwd[i].over_x ? b : f->mask;
            vkbn_buffer y = fwd[i].over_y ? a : f->dx, x = fwd[i].over_x ? a : f->x;
            vkbn_result r;
            reset(f);
            if (training) {
                vkbn_forward_training_desc ft;
                memset(&ft, 0, sizeof ft);
                ft.tensor = tensor_desc();
                ft.x = x;
                ft.y = y;
                ft.save_mean = f->mean;
                ft.eps = VKBN_DEFAULT_EPS;
                ft.activation = fwd[i].act;
                ft.activation_mask = mask;
                r = vkbn_forward_training(f->ctx, &ft);
            } else {
                fi.x = x;
                fi.y = y;
                fi.activation = fwd[i].act;
                fi.activation_mask = mask;
                r = vkbn_forward_inference(f->ctx, &fi);
            }
            CHECK(r == fwd[i].code, "%s (%s): got %s (%s)", fwd[i].label, training ? "training" : "inference",
                  vkbn_result_string(r), vkbn_last_error());
            CHECK(strstr(vkbn_last_error(), "desc->activation_mask") != NULL, "%s: message \"%s\"", fwd[i].label,
                  vkbn_last_error());
            CHECK(untouched(f), "%s (%s): a buffer was written", fwd[i].label, training ? "training" : "inference");
        }
    }
    /* The mask over a vector the training pass writes. */
    vkbn_buffer sm = NULL;
    vkbn_buffer_create_view(f->big, COUNT * 4, C * 4, &sm);
    vkbn_buffer mb = NULL;
    vkbn_buffer_create_view(f->big, COUNT * 4 + 4, MASK_BYTES, &mb);
    vkbn_forward_training_desc ft;
    memset(&ft, 0, sizeof ft);
    ft.tensor = tensor_desc();
    ft.x = f->x;
    ft.y = f->dx;
    ft.save_mean = sm;
    ft.eps = VKBN_DEFAULT_EPS;
    ft.activation = VKBN_ACTIVATION_CLAMP;
    ft.activation_beta = 1.0f;
    ft.activation_mask = mb;
    reset(f);
    CHECK(vkbn_forward_training(f->ctx, &ft) == VKBN_ERROR_ALIASING, "forward mask overlaps save_mean: %s",
          vkbn_last_error());
    CHECK(strstr(vkbn_last_error(), "desc->activation_mask") != NULL, "message: %s", vkbn_last_error());
    CHECK(untouched(f), "forward mask overlaps save_mean: a buffer was written");
    if (supported) {
        ft.save_mean = f->mean;
        ft.activation_mask = f->mask;
        reset(f);
        CHECK(vkbn_forward_training(f->ctx, &ft) == VKBN_SUCCESS, "forward training with the mask: %s",
              vkbn_last_error());
    }
    vkbn_buffer_destroy(mb);
    vkbn_buffer_destroy(sm);
    vkbn_buffer_destroy(foreign);
    vkbn_context_destroy(other);
    vkbn_buffer_destroy(b);
    vkbn_buffer_destroy(a);
}

/* A sample larger than the context binds at once fails in the planner
 * (Vulkan; the CPU path has no binding range, and runs it). */
static void too_large(void) {
    vkbn_context ctx = test_context(0, 4096);
    const bool cpu = on_cpu(ctx);
    vkbn_buffer x = NULL, v = NULL, dw = NULL;
    vkbn_buffer_create(ctx, 2 * 2 * 1024 * 4, &x);
    vkbn_buffer_create(ctx, 8, &v);
    vkbn_buffer_create(ctx, 8, &dw);
    vkbn_backward_desc d;
    memset(&d, 0, sizeof d);
    d.tensor.n = 2;
    d.tensor.c = 2;
    d.tensor.spatial_rank = 1;
    d.tensor.spatial[0] = 1024;
    d.x = x;
    d.dy = x;
    d.save_mean = v;
    d.save_invstd = v;
    d.dweight = dw;
    if (cpu) {
        CHECK(vkbn_backward(ctx, &d) == VKBN_SUCCESS, "CPU path, no binding range: %s", vkbn_last_error());
    } else {
        CHECK(vkbn_backward(ctx, &d) == VKBN_ERROR_TOO_LARGE, "sample over the binding range: %s", vkbn_last_error());
        CHECK(strstr(vkbn_last_error(), "desc->tensor"), "message: %s", vkbn_last_error());
    }
    vkbn_buffer_destroy(x);
    vkbn_buffer_destroy(v);
    vkbn_buffer_destroy(dw);
    vkbn_context_destroy(ctx);
}

int main(void) {
    fixture f;
    memset(&f, 0, sizeof f);
    f.ctx = test_context(0, 0);
    vkbn_buffer* tensors[] = {&f.x, &f.dy, &f.y, &f.z, &f.dx, &f.dz};
    vkbn_buffer* vectors[] = {&f.weight, &f.bias, &f.mean, &f.invstd, &f.rm, &f.rv, &f.dw, &f.db};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i) vkbn_buffer_create(f.ctx, COUNT * 4, tensors[i]);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; ++i) vkbn_buffer_create(f.ctx, C * 4, vectors[i]);
    vkbn_buffer_create(f.ctx, 4 * COUNT * 4, &f.big);
    vkbn_buffer_create(f.ctx, MASK_BYTES, &f.mask);
    vkbn_buffer_create(f.ctx, 4, &f.mask_small);
    required_arguments(&f);
    shapes_and_sizes(&f);
    numbers(&f);
    aliasing(&f);
    forward_activation_parameters(&f);
    activation_mask(&f);
    too_large();
    CHECK(vkbn_context_validation_message_count(f.ctx) == 0, "validation messages: %llu",
          (unsigned long long)vkbn_context_validation_message_count(f.ctx));
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i) vkbn_buffer_destroy(*tensors[i]);
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; ++i) vkbn_buffer_destroy(*vectors[i]);
    vkbn_buffer_destroy(f.big);
    vkbn_buffer_destroy(f.mask);
    vkbn_buffer_destroy(f.mask_small);
    vkbn_context_destroy(f.ctx);
    return test_summary();
}
