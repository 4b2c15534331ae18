/* Forward training and inference against the fp64 reference.
 *
 *   test_forward matrix   odd and ordinary shapes x layouts x dtypes x modes,
 *                         with the options rotated so that each meets each
 *                         layout and dtype; numerically hard data; multi-step
 *                         running statistics; determinism
 *   test_forward windows  tensors larger than one binding (a context whose
 *                         binding range is forced small)
 *   test_forward large    one tensor of 64M elements per layout (16M on the CPU path)
 *
 * ctest runs the matrix at lavapipe subgroup sizes 4, 8 and 16 and with the
 * subgroup path switched off, with validation layers on: any validation
 * message fails its case. Set VKBN_TEST_VERBOSE=1 to print every case. */
#include "test_util.h"

#include "cases.h"
#include "matrix_shapes.h"

static void run(vkbn_context ctx, const fwd_case* c) {
    char desc[256];
    case_describe(c, desc, sizeof desc);
    case_result r;
    int rc = case_run(ctx, c, &r);
    if (env_set("VKBN_TEST_VERBOSE") || rc != 0) {
        printf("%s %s | y %.2g mean %.2g invstd %.2g running %.2g var_rel %.2g | %s %s\n", rc == 0 ? "ok  " : "FAIL",
               desc, r.y, r.mean, r.invstd, r.running, r.var_rel, r.plan, r.message);
    }
    CHECK(rc == 0, "%s: %s", desc, r.message);
}

static void run_deterministic(vkbn_context ctx, const fwd_case* c) {
    char desc[256];
    case_describe(c, desc, sizeof desc);
    case_result r;
    int rc = case_run_deterministic(ctx, c, &r);
    if (env_set("VKBN_TEST_VERBOSE") || rc != 0)
        printf("%s deterministic %s %s\n", rc ? "FAIL" : "ok  ", desc, r.message);
    CHECK(rc == 0, "deterministic %s: %s", desc, r.message);
}

static uint64_t per_channel(const fwd_case* c) {
    uint64_t m = c->tensor.n;
    for (uint32_t i = 0; i < c->tensor.spatial_rank; ++i) m *= c->tensor.spatial[i];
    return m;
}

static fwd_case make(const shape* s, vkbn_layout layout, vkbn_dtype dtype) {
    return case_default(s->n, s->c, s->rank, s->spatial, layout, dtype);
}

/* The activations in turn: none, relu, leaky_relu (slopes below and above
 * 1), clamp (ReLU6 and a range across 0), silu. */
static void set_activation(fwd_case* c, unsigned k) {
    static const struct {
        vkbn_activation a;
        float alpha, beta;
    } acts[] = {{VKBN_ACTIVATION_NONE, 0, 0},          {VKBN_ACTIVATION_RELU, 0, 0},
                {VKBN_ACTIVATION_LEAKY_RELU, 0.1f, 0}, {VKBN_ACTIVATION_CLAMP, 0.0f, 6.0f},
                {VKBN_ACTIVATION_SILU, 0, 0},          {VKBN_ACTIVATION_LEAKY_RELU, -1.5f, 0},
                {VKBN_ACTIVATION_CLAMP, -0.5f, 0.75f}};
    unsigned i = k % (sizeof acts / sizeof acts[0]);
    c->activation = acts[i].a;
    c->activation_alpha = acts[i].alpha;
    c->activation_beta = acts[i].beta;
}

/* Whether the context's backend writes the activation mask (a forward
 * plan with one is refused with VKBN_ERROR_UNSUPPORTED where it does not):
 * the mask cases run where it does. */
static bool g_mask;

/* The "kernels" suite: the matrix's shapes, layouts, dtypes, modes and
 * reduction splits (every kernel in each of its structures) with the fusion
 * held to two settings (none; ReLU with the residual where the matrix gives
 * one), for the subgroup configurations where only the reductions differ.
 * Each fusion is a pipeline of its own, compiled once per configuration
 * (lavapipe compiles about 0.2 s each): the full fusion matrix runs at the
 * default subgroup size, in the sanitizer lane and under synchronization
 * validation. */
static bool g_kernels_only;

static void matrix(vkbn_context ctx) {
    unsigned k = 0;
    static const uint64_t offsets[] = {0, 4, 16, 20};
    for (size_t i = 0; i < sizeof matrix_shapes / sizeof matrix_shapes[0]; ++i) {
        for (int layout = 0; layout < 2; ++layout) {
            for (int dtype = 0; dtype < 2; ++dtype) {
                for (int training = 1; training >= 0; --training) {
                    fwd_case c = make(&matrix_shapes[i], (vkbn_layout)layout,
                                      (vkbn_dtype)matrix_dtype(dtype, (unsigned)(i + layout)));
                    c.training = training;
                    c.seed = 100 + k;
                    c.affine = k % 3 != 2;
                    /* Modes alternate with k: attributes whose period is even
                     * follow j = k / 2, so that both modes see every value. */
                    const unsigned j = k / 2;
                    c.residual = j % 4 == 1;
                    set_activation(&c, k);
                    if (g_kernels_only) {
                        c.affine = 1;
                        set_activation(&c, j % 2);
                    }
                    c.running_average = k % 3 == 1 ? VKBN_RUNNING_AVERAGE_CUMULATIVE : VKBN_RUNNING_AVERAGE_EXPONENTIAL;
                    c.cumulative_count = k % 5;
                    c.biased_running_var = k % 3 == 2;
                    c.in_place = k % 5 == 3;
                    c.offset_bytes = offsets[(j / 4 + j) % 4];
                    /* The activation mask on half of the cases of each
                     * activation, both modes (k / 14: the activations' period
                     * is 7, the modes' 2). */
                    c.mask = g_mask && test_has_mask(c.activation) && (k / 14) % 2 == 0;
                    ++k;
                    if (training && per_channel(&c) == 1) continue; /* an error in training: test_api */
                    if (!training) {
                        run(ctx, &c);
                        continue;
                    }
                    /* vkbn's own choice, then one workgroup per channel, then split. */
                    for (uint32_t split = 0; split <= 4; split += (split == 0 ? 1 : 3)) {
                        c.reduction_split = split;
                        run(ctx, &c);
                    }
                }
            }
        }
    }
}

static void hard_data(vkbn_context ctx) {
    const shape s = {4, 8, 2, {16, 16}};
    const shape odd = {3, 5, 1, {37}};
    for (int layout = 0; layout < 2; ++layout) {
        for (uint32_t split = 1; split <= 4; split += 3) {
            /* mean 1e4, std 1: variance relative error must stay <= 1e-4 */
            fwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.data = CASE_DATA_LARGE_MEAN;
            c.reduction_split = split;
            run(ctx, &c);
            c = make(&odd, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.data = CASE_DATA_LARGE_MEAN;
            c.reduction_split = split;
            run(ctx, &c);
            /* a channel whose first element is 1000 standard deviations out */
            c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.data = CASE_DATA_OUTLIER;
            c.reduction_split = split;
            run(ctx, &c);
        }
        for (int dtype = 0; dtype < 3; ++dtype) {
            /* constant channel: var exactly 0, y = beta, no NaN */
            fwd_case c = make(&s, (vkbn_layout)layout, (vkbn_dtype)dtype);
            c.data = CASE_DATA_CONSTANT;
            run(ctx, &c);
            c.reduction_split = 4;
            run(ctx, &c);
            /* eps = 0 on non-constant data */
            c = make(&odd, (vkbn_layout)layout, (vkbn_dtype)dtype);
            c.eps = 0.0f;
            run(ctx, &c);
            c.training = 0;
            run(ctx, &c);
        }
    }
}

static void running_statistics(vkbn_context ctx) {
    const shape s = {3, 6, 2, {5, 4}};
    for (int layout = 0; layout < 2; ++layout) {
        for (int mode = 0; mode < 3; ++mode) {
            fwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.steps = 4;
            c.running_average = mode == 1 ? VKBN_RUNNING_AVERAGE_CUMULATIVE : VKBN_RUNNING_AVERAGE_EXPONENTIAL;
            c.cumulative_count = 0; /* T = 0 replaces the running statistics */
            c.biased_running_var = mode == 2;
            c.momentum = mode == 2 ? 0.3f : 0.1f;
            run(ctx, &c);
            c.reduction_split = 3;
            run(ctx, &c);
        }
        fwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
        c.momentum = 0.0f; /* running statistics stay as they were */
        run(ctx, &c);
        c.momentum = 1.0f; /* replaced by this batch */
        run(ctx, &c);
    }
}

static void determinism(vkbn_context ctx) {
    const shape s = {6, 10, 2, {12, 12}};
    for (int layout = 0; layout < 2; ++layout) {
        for (uint32_t split = 1; split <= 5; split += 4) {
            fwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.reduction_split = split;
            c.steps = 2;
            run_deterministic(ctx, &c);
        }
        fwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F16);
        c.training = 0;
        run_deterministic(ctx, &c);
        if (g_mask) {
            c.activation = VKBN_ACTIVATION_CLAMP;
            c.activation_alpha = -0.5f;
            c.activation_beta = 0.5f;
            c.mask = 1;
            run_deterministic(ctx, &c);
        }
    }
}

/* A binding range of 64 KiB turns these tensors into many windows. */
static void windows(vkbn_context ctx) {
    static const shape shapes[] = {{16, 8, 2, {16, 16}}, {37, 3, 1, {301}}, {9, 40, 1, {100}}};
    unsigned k = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        for (int layout = 0; layout < 2; ++layout) {
            for (int dtype = 0; dtype < 2; ++dtype) {
                fwd_case c =
                    make(&shapes[i], (vkbn_layout)layout, (vkbn_dtype)matrix_dtype(dtype, (unsigned)(i + layout)));
                c.seed = 500 + k;
                c.residual = k % 2;
                c.offset_bytes = (k % 3) * 4;
                set_activation(&c, k);
                c.mask = g_mask && test_has_mask(c.activation) && k % 2 == 1;
                ++k;
                run(ctx, &c);
                c.data = CASE_DATA_LARGE_MEAN;
                run(ctx, &c);
                c.data = CASE_DATA_NORMAL;
                c.training = 0;
                run(ctx, &c);
            }
        }
    }
}

/* One tensor of 64M elements on Vulkan, f16 channels-first: lavapipe's whole
 * binding range (128 MiB), which less the offset alignment it cannot bind at
 * once, so it runs in windows at the device's real limit (the windows suite
 * forces small ones); the backward's large case is channels-last f32. The
 * CPU path has no binding limit: 16M f32 elements (1M per channel, 64 MiB,
 * past any last-level cache, so streaming stores and the threads' split of
 * long channels run) checks the same there at a quarter of the cost. */
static void large(vkbn_context ctx) {
    vkbn_device_info info;
    vkbn_context_get_device_info(ctx, &info);
    bool on_cpu = info.backend == VKBN_BACKEND_CPU;
    const shape s = {on_cpu ? 16u : 64u, 16, 2, {256, 256}};
    fwd_case c = make(&s, VKBN_LAYOUT_CHANNELS_FIRST, on_cpu ? VKBN_DTYPE_F32 : VKBN_DTYPE_F16);
    c.residual = 1;
    c.activation = VKBN_ACTIVATION_SILU;
    char desc[256];
    case_describe(&c, desc, sizeof desc);
    case_result r;
    int rc = case_run(ctx, &c, &r);
    printf("%s %s | %s %s\n", rc == 0 ? "ok  " : "FAIL", desc, r.plan, r.message);
    CHECK(rc == 0, "%s: %s", desc, r.message);
    CHECK(on_cpu || strstr(r.plan, " 1 window,") == NULL, "%s: meant to run in windows, planned '%s'", desc, r.plan);
}

int main(int argc, char** argv) {
    const char* suite = argc > 1 ? argv[1] : "matrix";
    bool is_windows = strcmp(suite, "windows") == 0;
    vkbn_context ctx = test_context(0, is_windows ? 64 * 1024 : 0);
    vkbn_device_info info;
    vkbn_context_get_device_info(ctx, &info);
    printf("device: %s (%s), subgroup size %u, subgroup path %s\n", info.name, info.driver_info, info.subgroup_size,
           vkbn_context_uses_subgroups(ctx) ? "on" : "off");
    g_mask = test_mask_supported(ctx);
    if (!g_mask) printf("the activation mask: not supported here (%s), its cases are left out\n", vkbn_last_error());
    if (strcmp(suite, "matrix") == 0) {
        matrix(ctx);
        hard_data(ctx);
        running_statistics(ctx);
        determinism(ctx);
    } else if (strcmp(suite, "kernels") == 0) {
        g_kernels_only = true;
        matrix(ctx);
        hard_data(ctx);
        determinism(ctx);
    } else if (is_windows) {
        windows(ctx);
    } else if (strcmp(suite, "large") == 0) {
        large(ctx);
    } else {
        printf("unknown suite %s (matrix, kernels, windows, large)\n", suite);
        return 2;
    }
    CHECK(vkbn_context_validation_message_count(ctx) == 0, "validation messages: %llu",
          (unsigned long long)vkbn_context_validation_message_count(ctx));
    vkbn_context_destroy(ctx);
    return test_summary();
}
