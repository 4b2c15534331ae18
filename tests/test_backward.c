/* Backward (training and frozen statistics) against the fp64 reference.
 *
 *   test_backward matrix   the forward matrix's shapes x layouts x dtypes x
 *                          modes, with activations, residual, outputs,
 *                          offsets and in-place rotated so that each meets
 *                          each layout and dtype; fused / split / vkbn's own
 *                          reduction; numerically hard data; determinism;
 *                          that optional outputs skip their work
 *   test_backward windows  tensors larger than one binding
 *   test_backward large    one tensor of 64M elements per layout (16M on the CPU path)
 *
 * ctest runs the matrix at lavapipe subgroup sizes 4, 8 and 16 and with the
 * subgroup path switched off, with validation layers on: any validation
 * message fails its case. Set VKBN_TEST_VERBOSE=1 to print every case. */
#include "test_util.h"

#include "bwd_cases.h"
#include "matrix_shapes.h"

static void run(vkbn_context ctx, const bwd_case* c) {
    char desc[300];
    bwd_case_describe(c, desc, sizeof desc);
    bwd_result r;
    int rc = bwd_case_run(ctx, c, &r);
    if (env_set("VKBN_TEST_VERBOSE") || rc != 0) {
        printf("%s %s | dx %.2g dw %.2g db %.2g dz %.2g | %s %s\n", rc == 0 ? "ok  " : "FAIL", desc, r.dx, r.dweight,
               r.dbias, r.dz, r.plan, r.message);
    }
    CHECK(rc == 0, "%s: %s", desc, r.message);
}

/* Runs the case and checks that its plan contains `needle` (or lacks it). */
static void run_expecting_plan(vkbn_context ctx, const bwd_case* c, const char* needle, bool present) {
    char desc[300];
    bwd_case_describe(c, desc, sizeof desc);
    bwd_result r;
    int rc = bwd_case_run(ctx, c, &r);
    if (env_set("VKBN_TEST_VERBOSE") || rc != 0)
        printf("%s %s | %s %s\n", rc ? "FAIL" : "ok  ", desc, r.plan, r.message);
    CHECK(rc == 0, "%s: %s", desc, r.message);
    if (strncmp(r.message, "skipped", 7) == 0) return;
    CHECK((strstr(r.plan, needle) != NULL) == present, "%s: plan '%s' %s '%s'", desc, r.plan, present ? "lacks" : "has",
          needle);
}

static void run_deterministic(vkbn_context ctx, const bwd_case* c) {
    char desc[300];
    bwd_case_describe(c, desc, sizeof desc);
    bwd_result r;
    int rc = bwd_case_run_deterministic(ctx, c, &r);
    if (env_set("VKBN_TEST_VERBOSE") || rc != 0)
        printf("%s deterministic %s %s\n", rc ? "FAIL" : "ok  ", desc, r.message);
    CHECK(rc == 0, "deterministic %s: %s", desc, r.message);
}

static bwd_case make(const shape* s, vkbn_layout layout, vkbn_dtype dtype) {
    return bwd_case_default(s->n, s->c, s->rank, s->spatial, layout, dtype);
}

static uint64_t per_channel(const bwd_case* c) {
    uint64_t m = c->tensor.n;
    for (uint32_t i = 0; i < c->tensor.spatial_rank; ++i) m *= c->tensor.spatial[i];
    return m;
}

/* The activations in turn (backward needs leaky slopes >= 0). */
static void set_activation(bwd_case* c, unsigned k) {
    static const struct {
        vkbn_activation a;
        float alpha, beta;
    } acts[] = {{VKBN_ACTIVATION_NONE, 0, 0},          {VKBN_ACTIVATION_RELU, 0, 0},
                {VKBN_ACTIVATION_LEAKY_RELU, 0.1f, 0}, {VKBN_ACTIVATION_CLAMP, 0.0f, 6.0f},
                {VKBN_ACTIVATION_SILU, 0, 0},          {VKBN_ACTIVATION_LEAKY_RELU, 2.5f, 0},
                {VKBN_ACTIVATION_CLAMP, -0.5f, 0.75f}};
    unsigned i = k % (sizeof acts / sizeof acts[0]);
    c->activation = acts[i].a;
    c->activation_alpha = acts[i].alpha;
    c->activation_beta = acts[i].beta;
}

/* Output subsets in turn; dresidual joins when the case has a residual. */
static unsigned outputs_for(unsigned k, int residual) {
    static const unsigned sets[] = {BWD_OUT_DX | BWD_OUT_DWEIGHT | BWD_OUT_DBIAS, BWD_OUT_DX,
                                    BWD_OUT_DWEIGHT | BWD_OUT_DBIAS, BWD_OUT_DX | BWD_OUT_DBIAS, BWD_OUT_DWEIGHT};
    unsigned o = sets[k % 5];
    if (residual) o |= BWD_OUT_DRESIDUAL;
    return o;
}

/* The "kernels" suite: the matrix's shapes, layouts, dtypes, modes and
 * reduction splits (every kernel in each of its structures) with the fusion
 * held to two settings (none; ReLU with the residual where the matrix gives
 * one), for the subgroup configurations where only the reductions differ.
 * Each fusion is a pipeline of its own, compiled once per configuration
 * (lavapipe compiles about 0.2 s each): the full fusion matrix runs at the
 * default subgroup size, in the sanitizer lane and under synchronization
 * validation. */
static bool g_kernels_only;

/* Whether the backend takes the activation mask (test_mask_supported). */
static bool g_mask;

static void matrix(vkbn_context ctx) {
    unsigned k = 0;
    static const uint64_t offsets[] = {0, 4, 16, 20};
    for (size_t i = 0; i < sizeof matrix_shapes / sizeof matrix_shapes[0]; ++i) {
        for (int layout = 0; layout < 2; ++layout) {
            for (int dtype = 0; dtype < 2; ++dtype) {
                for (int frozen = 0; frozen < 2; ++frozen) {
                    bwd_case c = make(&matrix_shapes[i], (vkbn_layout)layout,
                                      (vkbn_dtype)matrix_dtype(dtype, (unsigned)(i + layout)));
                    c.frozen = frozen;
                    c.seed = 300 + k;
                    c.affine = k % 3 != 2;
                    /* Modes alternate with k: attributes whose period is even
                     * follow j = k / 2, so that both modes see every value. */
                    const unsigned j = k / 2;
                    c.residual = j % 4 == 1;
                    set_activation(&c, k);
                    c.outputs = outputs_for(k, c.residual);
                    if (g_kernels_only) {
                        c.affine = 1;
                        set_activation(&c, j % 2);
                        c.outputs = BWD_OUT_DX | BWD_OUT_DWEIGHT | BWD_OUT_DBIAS | (c.residual ? BWD_OUT_DRESIDUAL : 0);
                    }
                    c.in_place = k % 5 == 3 && (c.outputs & BWD_OUT_DX);
                    c.offset_bytes = offsets[(j / 4 + j) % 4];
                    const unsigned rot = k / 14; /* the activations' period is 7, the modes' 2 */
                    ++k;
                    if (!frozen && per_channel(&c) == 1) continue; /* an error in training: test_backward_api */
                    /* vkbn's own choice, then one workgroup per channel, then split. */
                    for (uint32_t split = 0, idx = 0; split <= 4; split += (split == 0 ? 1 : 3), ++idx) {
                        c.reduction_split = split;
                        /* The activation mask in place of y (and y alone,
                         * compared bit for bit) at one split of each case
                         * whose activation has one, rotating. */
                        c.mask = g_mask && test_has_mask(c.activation) && (rot + idx) % 3 == 0;
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
            for (int frozen = 0; frozen < 2; ++frozen) {
                /* x with mean 1e4, std 1 */
                bwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
                c.frozen = frozen;
                c.data = CASE_DATA_LARGE_MEAN;
                c.reduction_split = split;
                run(ctx, &c);
                /* dy = 1000 + N(0, 1): sum dy is 1000 m and cancels in dx */
                c = make(&odd, (vkbn_layout)layout, VKBN_DTYPE_F32);
                c.frozen = frozen;
                c.dy_data = BWD_DY_OFFSET;
                c.reduction_split = split;
                run(ctx, &c);
                c.activation = VKBN_ACTIVATION_SILU;
                c.residual = 1;
                c.outputs = BWD_OUT_ALL;
                run(ctx, &c);
                /* an outlier 1000 standard deviations out */
                c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
                c.frozen = frozen;
                c.data = CASE_DATA_OUTLIER;
                c.reduction_split = split;
                run(ctx, &c);
            }
        }
        for (int dtype = 0; dtype < 3; ++dtype) {
            /* a constant channel: var 0, xhat 0, invstd 1/sqrt(eps) */
            bwd_case c = make(&s, (vkbn_layout)layout, (vkbn_dtype)dtype);
            c.data = CASE_DATA_CONSTANT;
            c.activation = VKBN_ACTIVATION_RELU;
            run(ctx, &c);
            c.reduction_split = 4;
            run(ctx, &c);
            /* eps = 0 on ordinary data */
            c = make(&odd, (vkbn_layout)layout, (vkbn_dtype)dtype);
            c.eps = 0.0f;
            run(ctx, &c);
            c.frozen = 1;
            run(ctx, &c);
        }
    }
    /* Long channels in one workgroup (split = 1) and split: with the spike
     * data a plain float sum loses about (m / (workgroup * 16)) u in dbias,
     * beyond its bound; the compensated sums keep it. */
    const shape long_channel = {32, 2, 2, {128, 128}};
    for (int layout = 0; layout < 2; ++layout) {
        for (uint32_t split = 1; split <= 3; split += 2) {
            bwd_case c = make(&long_channel, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.dy_data = BWD_DY_SPIKE;
            c.reduction_split = split;
            c.frozen = split == 3;
            run(ctx, &c);
            c.dy_data = BWD_DY_OFFSET;
            c.activation = VKBN_ACTIVATION_LEAKY_RELU;
            c.activation_alpha = 0.5f;
            run(ctx, &c);
        }
    }
}

/* Each activation with and without a residual, in both modes and layouts,
 * every output. */
static void activations(vkbn_context ctx) {
    const shape s = {3, 6, 2, {5, 4}};
    for (unsigned a = 0; a < 7; ++a) {
        for (int layout = 0; layout < 2; ++layout) {
            for (int variant = 0; variant < 4; ++variant) {
                bwd_case c = make(&s, (vkbn_layout)layout, (vkbn_dtype)(a % 3));
                set_activation(&c, a);
                c.frozen = variant & 1;
                c.residual = variant >> 1;
                c.outputs = c.residual ? BWD_OUT_ALL : BWD_OUT_DX | BWD_OUT_DWEIGHT | BWD_OUT_DBIAS;
                c.seed = 700 + a * 8 + (unsigned)(layout * 4 + variant);
                c.mask = g_mask && test_has_mask(c.activation) && (layout + variant) % 2 == 1;
                run(ctx, &c);
            }
        }
    }
}

/* Whether the context is the CPU path (whose plans name their passes in
 * their own words, and which takes no scratch of the caller's). */
static bool on_cpu;

/* Optional outputs: only their work is done (the plan says which passes). */
static void optional_outputs(vkbn_context ctx) {
    const shape s = {4, 8, 2, {16, 16}};
#define PASSES(vk, cpu) (on_cpu ? (cpu) : (vk))
    for (int layout = 0; layout < 2; ++layout) {
        bwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
        c.frozen = 1;
        c.outputs = BWD_OUT_DX;
        run_expecting_plan(ctx, &c, "elementwise", true);
        c.residual = 1;
        c.activation = VKBN_ACTIVATION_RELU;
        c.outputs = BWD_OUT_DX | BWD_OUT_DRESIDUAL;
        run_expecting_plan(ctx, &c, "elementwise", true);
        c.outputs = BWD_OUT_DRESIDUAL;
        run_expecting_plan(ctx, &c, "elementwise", true);
        c.outputs = BWD_OUT_DX | BWD_OUT_DBIAS;
        run_expecting_plan(ctx, &c, PASSES("reduction", "reduction only (1 pass)"), true);
        /* training without dx: the reduction alone, no dx pass */
        c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
        c.outputs = BWD_OUT_DWEIGHT | BWD_OUT_DBIAS;
        c.reduction_split = 4;
        run_expecting_plan(ctx, &c, PASSES("split reduction", "reduction only (1 pass)"), true);
        if (on_cpu) run_expecting_plan(ctx, &c, "in 4 parts", true);
        c.reduction_split = 1;
        run_expecting_plan(ctx, &c, PASSES("reduction (1 dispatch)", "reduction only (1 pass)"), true);
        c.outputs = BWD_OUT_DX;
        run_expecting_plan(ctx, &c, PASSES("fused (1 dispatch", "sums, then dx"), true);
        if (on_cpu) run_expecting_plan(ctx, &c, layout ? "rows in 1 part" : "fused per channel", true);
        c.reduction_split = 4;
        run_expecting_plan(ctx, &c, PASSES("split (sums + dx)", "sums, then dx"), true);
        if (on_cpu) run_expecting_plan(ctx, &c, "in 4 parts", true);
    }
#undef PASSES
}

static void determinism(vkbn_context ctx) {
    const shape s = {6, 10, 2, {12, 12}};
    for (int layout = 0; layout < 2; ++layout) {
        for (uint32_t split = 1; split <= 5; split += 4) {
            bwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F32);
            c.reduction_split = split;
            c.residual = 1;
            c.activation = VKBN_ACTIVATION_SILU;
            c.outputs = BWD_OUT_ALL;
            c.dy_data = BWD_DY_OFFSET;
            run_deterministic(ctx, &c);
            c.frozen = 1;
            run_deterministic(ctx, &c);
        }
        bwd_case c = make(&s, (vkbn_layout)layout, VKBN_DTYPE_F16);
        c.activation = VKBN_ACTIVATION_CLAMP;
        c.activation_beta = 6.0f;
        run_deterministic(ctx, &c);
        if (g_mask) {
            c.mask = 1;
            c.reduction_split = 5;
            run_deterministic(ctx, &c);
        }
    }
}

/* A plan runs many times: the split reduction's counters must be back at
 * zero after each run (the last workgroup resets them), so reruns of one plan
 * give the same bits as a fresh one-shot call. */
static void plan_reuse(vkbn_context ctx) {
    enum { N = 4, C = 6, S = 300, COUNT = N * C * S };
    float* host = malloc(COUNT * sizeof(float));
    float* out[3];
    for (int k = 0; k < 3; ++k) out[k] = malloc((COUNT + 2 * C) * sizeof(float));
    for (int i = 0; i < COUNT; ++i) host[i] = (float)((i * 7919) % 1000) / 250.0f - 2.0f;
    vkbn_buffer x = NULL, dy = NULL, dx = NULL, mean = NULL, invstd = NULL, dw = NULL, db = NULL;
    vkbn_buffer_create(ctx, COUNT * 4, &x);
    vkbn_buffer_create(ctx, COUNT * 4, &dy);
    vkbn_buffer_create(ctx, COUNT * 4, &dx);
    vkbn_buffer* vecs[] = {&mean, &invstd, &dw, &db};
    for (int i = 0; i < 4; ++i) vkbn_buffer_create(ctx, C * 4, vecs[i]);
    vkbn_buffer_upload(x, 0, host, COUNT * 4);
    for (int i = 0; i < COUNT; ++i) host[i] = (float)((i * 104729) % 997) / 300.0f - 1.0f;
    vkbn_buffer_upload(dy, 0, host, COUNT * 4);
    float m[C], is[C];
    for (int c = 0; c < C; ++c) m[c] = 0.1f * (float)c, is[c] = 0.8f + 0.05f * (float)c;
    vkbn_buffer_upload(mean, 0, m, sizeof m);
    vkbn_buffer_upload(invstd, 0, is, sizeof is);
    for (int layout = 0; layout < 2; ++layout) {
        vkbn_backward_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = (vkbn_tensor_desc){.n = N, .c = C, .spatial_rank = 1, .spatial = {S}, .layout = (vkbn_layout)layout};
        d.x = x, d.dy = dy, d.save_mean = mean, d.save_invstd = invstd, d.dx = dx, d.dweight = dw, d.dbias = db;
        d.reduction_split = 5;
        vkbn_plan plan = NULL;
        CHECK(vkbn_plan_create_backward(ctx, &d, &plan) == VKBN_SUCCESS, "plan: %s", vkbn_last_error());
        CHECK(strstr(vkbn_plan_describe(plan), on_cpu ? "in 5 parts" : "split") != NULL,
              "plan reuse wants a split plan: %s", vkbn_plan_describe(plan));
        for (int k = 0; k < 3; ++k) {
            /* Clear the outputs so that a run that writes nothing shows. */
            memset(out[k], 0, (COUNT + 2 * C) * sizeof(float));
            vkbn_buffer_upload(dx, 0, out[k], COUNT * 4);
            vkbn_buffer_upload(dw, 0, out[k], C * 4);
            vkbn_buffer_upload(db, 0, out[k], C * 4);
            vkbn_result r = k < 2 ? vkbn_plan_execute(plan) : vkbn_backward(ctx, &d);
            CHECK(r == VKBN_SUCCESS, "run %d: %s", k, vkbn_last_error());
            vkbn_buffer_download(dx, 0, out[k], COUNT * 4);
            vkbn_buffer_download(dw, 0, out[k] + COUNT, C * 4);
            vkbn_buffer_download(db, 0, out[k] + COUNT + C, C * 4);
        }
        vkbn_plan_destroy(plan);
        CHECK(memcmp(out[0], out[1], (COUNT + 2 * C) * 4) == 0, "layout %d: a plan's second run differs", layout);
        CHECK(memcmp(out[0], out[2], (COUNT + 2 * C) * 4) == 0, "layout %d: the plan and the one-shot call differ",
              layout);
        vkbn_scratch_requirements req;
        if (on_cpu) {
            /* The CPU path keeps its own scratch. */
            CHECK(vkbn_backward_scratch_requirements(ctx, &d, &req) == VKBN_SUCCESS && req.size == 0,
                  "CPU scratch requirements: %s (size %llu)", vkbn_last_error(), (unsigned long long)req.size);
            continue;
        }
        /* The same plan on the caller's scratch, at an aligned offset inside a
         * larger buffer, recorded twice: the same bits again. */
        CHECK(vkbn_backward_scratch_requirements(ctx, &d, &req) == VKBN_SUCCESS && req.size > 0,
              "scratch requirements: %s (size %llu)", vkbn_last_error(), (unsigned long long)req.size);
        vkbn_buffer root = NULL, scratch = NULL;
        vkbn_buffer_create(ctx, req.size + 2 * req.alignment, &root);
        vkbn_buffer_create_view(root, req.alignment, req.size, &scratch);
        d.scratch = scratch;
        CHECK(vkbn_plan_create_backward(ctx, &d, &plan) == VKBN_SUCCESS, "plan on caller scratch: %s",
              vkbn_last_error());
        for (int k = 1; k < 3 && plan; ++k) {
            memset(out[k], 0, (COUNT + 2 * C) * sizeof(float));
            vkbn_buffer_upload(dx, 0, out[k], COUNT * 4);
            CHECK(vkbn_plan_execute(plan) == VKBN_SUCCESS, "caller scratch run %d: %s", k, vkbn_last_error());
            vkbn_buffer_download(dx, 0, out[k], COUNT * 4);
            vkbn_buffer_download(dw, 0, out[k] + COUNT, C * 4);
            vkbn_buffer_download(db, 0, out[k] + COUNT + C, C * 4);
            CHECK(memcmp(out[0], out[k], (COUNT + 2 * C) * 4) == 0, "layout %d: caller scratch run %d differs", layout,
                  k);
        }
        vkbn_plan_destroy(plan);
        d.scratch = NULL;
        /* Too small a scratch is refused, naming it. */
        vkbn_buffer small = NULL;
        vkbn_buffer_create_view(root, 0, req.size - 4, &small);
        d.scratch = small;
        plan = NULL;
        CHECK(vkbn_plan_create_backward(ctx, &d, &plan) == VKBN_ERROR_BUFFER_TOO_SMALL && !plan &&
                  strstr(vkbn_last_error(), "vkbn_backward_scratch_requirements"),
              "small scratch: %s", vkbn_last_error());
        d.scratch = NULL;
        vkbn_buffer_destroy(small);
        vkbn_buffer_destroy(scratch);
        vkbn_buffer_destroy(root);
    }
    vkbn_buffer_destroy(x);
    vkbn_buffer_destroy(dy);
    vkbn_buffer_destroy(dx);
    for (int i = 0; i < 4; ++i) vkbn_buffer_destroy(*vecs[i]);
    free(host);
    for (int k = 0; k < 3; ++k) free(out[k]);
}

/* A binding range of 64 KiB turns these tensors into many windows. */
static void windows(vkbn_context ctx) {
    static const shape shapes[] = {{16, 8, 2, {16, 16}}, {37, 3, 1, {301}}, {9, 40, 1, {100}}};
    unsigned k = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        for (int layout = 0; layout < 2; ++layout) {
            for (int dtype = 0; dtype < 2; ++dtype) {
                bwd_case c =
                    make(&shapes[i], (vkbn_layout)layout, (vkbn_dtype)matrix_dtype(dtype, (unsigned)(i + layout)));
                c.seed = 900 + k;
                c.residual = k % 2;
                c.offset_bytes = (k % 3) * 4;
                set_activation(&c, k);
                c.outputs = outputs_for(k, c.residual);
                c.in_place = k % 3 == 1 && (c.outputs & BWD_OUT_DX);
                c.mask = g_mask && test_has_mask(c.activation) && k % 2 == 0;
                ++k;
                run(ctx, &c);
                c.dy_data = BWD_DY_OFFSET;
                run(ctx, &c);
                c.dy_data = BWD_DY_NORMAL;
                c.frozen = 1;
                run(ctx, &c);
            }
        }
    }
}

/* One tensor of 32M elements on Vulkan, f32 channels-last: each tensor is
 * lavapipe's whole binding range (128 MiB), which less the offset alignment
 * it cannot bind at once, so it runs in windows at the device's real limit;
 * the forward's large case is channels-first f16 (64M elements). The CPU
 * path: 16M f16 elements, the forward's count in the other dtype. */
static void large(vkbn_context ctx) {
    vkbn_device_info info;
    vkbn_context_get_device_info(ctx, &info);
    bool on_cpu = info.backend == VKBN_BACKEND_CPU;
    const shape s = {on_cpu ? 16u : 32u, 16, 2, {256, 256}};
    bwd_case c = make(&s, VKBN_LAYOUT_CHANNELS_LAST, on_cpu ? VKBN_DTYPE_F16 : VKBN_DTYPE_F32);
    c.activation = VKBN_ACTIVATION_SILU;
    c.residual = 1;
    c.outputs = BWD_OUT_ALL;
    if (on_cpu) {
        run(ctx, &c);
    } else {
        run_expecting_plan(ctx, &c, " 1 window,", false);
    }
}

int main(int argc, char** argv) {
    const char* suite = argc > 1 ? argv[1] : "matrix";
    bool is_windows = strcmp(suite, "windows") == 0;
    vkbn_context ctx = test_context(0, is_windows ? 64 * 1024 : 0);
    vkbn_device_info info;
    vkbn_context_get_device_info(ctx, &info);
    on_cpu = info.backend == VKBN_BACKEND_CPU;
    printf("device: %s (%s), subgroup size %u, subgroup path %s\n", info.name, info.driver_info, info.subgroup_size,
           vkbn_context_uses_subgroups(ctx) ? "on" : "off");
    g_mask = test_mask_supported(ctx);
    if (!g_mask) printf("the activation mask: not supported here (%s), its cases are left out\n", vkbn_last_error());
    if (strcmp(suite, "matrix") == 0) {
        matrix(ctx);
        hard_data(ctx);
        activations(ctx);
        optional_outputs(ctx);
        determinism(ctx);
        plan_reuse(ctx);
    } else if (strcmp(suite, "kernels") == 0) {
        g_kernels_only = true;
        matrix(ctx);
        hard_data(ctx);
        determinism(ctx);
        plan_reuse(ctx);
    } else if (is_windows) {
        windows(ctx);
        plan_reuse(ctx);
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
