/* Fault injection. Each public call that allocates is run once to count
 * what may fail in it, then once per k failing exactly the k-th. Every time
 * the call must return the matching error with a message, create nothing
 * (LeakSanitizer in the sanitizer lane; the shim's count of live Vulkan
 * objects), write no output (outputs hold a sentinel before the call) and
 * leave the context working: the same call then succeeds.
 *
 *   test_faults cpu            vkbn's host allocations on the CPU path
 *   test_faults vulkan         vkbn's host allocations on lavapipe
 *   test_faults vulkan-calls   lavapipe through the fault shim
 *                              (vk_fault_shim.h): every Vulkan call that can
 *                              fail, failing in turn with out of host or
 *                              device memory, validation on; then the device
 *                              lost at each submission and wait
 * (77 without the device). */
#include <stdio.h>
#include <string.h>

#include "test_util.h"

#define C 6
#define N 3
#define S 20
#define ELEMS (N * C * S)

typedef struct fixture {
    vkbn_context ctx;
    vkbn_tensor_desc t;
    vkbn_buffer x, y, z, dy, dx, dz;
    vkbn_buffer w, b, rm, rv, sm, si, dw, db;
    vkbn_buffer copy_dst;
    vkbn_plan plan; /* a call's prepared plan (call.prepare) */
} fixture;

static const char* g_device = "cpu";
static uint64_t g_injected;
static int g_validation; /* contexts with validation (vulkan-calls) */

static vkbn_result make_context(vkbn_context* out) {
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = g_device;
    d.cpu_threads = 3;
    if (g_validation) d.flags = test_context_flags();
    return vkbn_context_create(&d, out);
}

static vkbn_buffer buffer(vkbn_context ctx, uint64_t floats, float value) {
    vkbn_buffer b = NULL;
    if (vkbn_buffer_create(ctx, floats * 4, &b) != VKBN_SUCCESS) return NULL;
    fill(b, floats, value);
    return b;
}

static int fixture_init(fixture* f) {
    memset(f, 0, sizeof *f);
    if (make_context(&f->ctx) != VKBN_SUCCESS) return 0;
    f->t.n = N, f->t.c = C, f->t.spatial_rank = 1, f->t.spatial[0] = S;
    f->t.layout = VKBN_LAYOUT_CHANNELS_FIRST;
    f->t.dtype = VKBN_DTYPE_F32;
    float xs[ELEMS];
    for (int i = 0; i < ELEMS; ++i) xs[i] = (float)((i * 37) % 23) * 0.25f - 2.0f;
    f->x = buffer(f->ctx, ELEMS, 0.0f);
    vkbn_buffer_upload(f->x, 0, xs, sizeof xs);
    f->dy = buffer(f->ctx, ELEMS, 0.5f);
    f->z = buffer(f->ctx, ELEMS, 1.0f);
    f->w = buffer(f->ctx, C, 1.5f);
    f->b = buffer(f->ctx, C, 0.25f);
    f->sm = buffer(f->ctx, C, 0.1f); /* the backward's saved statistics, and forward's outputs reset below */
    f->si = buffer(f->ctx, C, 2.0f);
    f->y = buffer(f->ctx, ELEMS, SENTINEL);
    f->dx = buffer(f->ctx, ELEMS, SENTINEL);
    f->dz = buffer(f->ctx, ELEMS, SENTINEL);
    f->rm = buffer(f->ctx, C, SENTINEL);
    f->rv = buffer(f->ctx, C, SENTINEL);
    f->dw = buffer(f->ctx, C, SENTINEL);
    f->db = buffer(f->ctx, C, SENTINEL);
    f->copy_dst = buffer(f->ctx, ELEMS, SENTINEL);
    return f->x && f->dy && f->z && f->w && f->b && f->sm && f->si && f->y && f->dx && f->dz && f->rm && f->rv &&
           f->dw && f->db && f->copy_dst;
}

static void fixture_free(fixture* f) {
    vkbn_buffer all[] = {f->x,  f->y,  f->z,  f->dy, f->dx, f->dz, f->w,       f->b,
                         f->rm, f->rv, f->sm, f->si, f->dw, f->db, f->copy_dst};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) vkbn_buffer_destroy(all[i]);
    vkbn_context_destroy(f->ctx);
}

/* The outputs every call below may write, back at the sentinel. */
static void reset_outputs(fixture* f) {
    fill(f->y, ELEMS, SENTINEL);
    fill(f->dx, ELEMS, SENTINEL);
    fill(f->dz, ELEMS, SENTINEL);
    fill(f->copy_dst, ELEMS, SENTINEL);
    fill(f->rm, C, SENTINEL);
    fill(f->rv, C, SENTINEL);
    fill(f->dw, C, SENTINEL);
    fill(f->db, C, SENTINEL);
}

static int outputs_untouched(fixture* f) {
    return unchanged(f->y, ELEMS) && unchanged(f->dx, ELEMS) && unchanged(f->dz, ELEMS) &&
           unchanged(f->copy_dst, ELEMS) && unchanged(f->rm, C) && unchanged(f->rv, C) && unchanged(f->dw, C) &&
           unchanged(f->db, C);
}

static vkbn_forward_training_desc training(const fixture* f) {
    vkbn_forward_training_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = f->t;
    d.x = f->x, d.y = f->y, d.residual = f->z, d.weight = f->w, d.bias = f->b;
    d.running_mean = f->rm, d.running_var = f->rv;
    d.eps = VKBN_DEFAULT_EPS, d.momentum = VKBN_DEFAULT_MOMENTUM;
    d.activation = VKBN_ACTIVATION_RELU;
    return d;
}

static vkbn_backward_desc backward(const fixture* f) {
    vkbn_backward_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = f->t;
    d.x = f->x, d.dy = f->dy, d.y = f->z, d.weight = f->w, d.bias = f->b;
    d.save_mean = f->sm, d.save_invstd = f->si;
    d.activation = VKBN_ACTIVATION_RELU;
    d.dx = f->dx, d.dweight = f->dw, d.dbias = f->db, d.dresidual = f->dz;
    d.eps = VKBN_DEFAULT_EPS;
    return d;
}

/* One call under test: prepare (optional, without faults) makes what the
 * call needs, run makes the call and frees what it created, finish
 * (optional) frees what prepare made. */
typedef struct call {
    const char* name;
    int writes; /* writes outputs on success (reset them afterwards) */
    vkbn_result (*run)(fixture* f);
    vkbn_result (*prepare)(fixture* f);
    void (*finish)(fixture* f);
} call;

/* Destroys the plan a create call made (read after the call: argument
 * evaluation order is unspecified). */
static vkbn_result run_plan(vkbn_result created, vkbn_plan* plan) {
    vkbn_plan_destroy(*plan);
    *plan = NULL;
    return created;
}

static vkbn_result c_buffer(fixture* f) {
    vkbn_buffer b = NULL, v = NULL;
    vkbn_result r = vkbn_buffer_create(f->ctx, 4096, &b);
    if (r == VKBN_SUCCESS) r = vkbn_buffer_create_view(b, 64, 256, &v);
    vkbn_buffer_destroy(v);
    vkbn_buffer_destroy(b);
    return r;
}

static vkbn_result c_plan_training(fixture* f) {
    vkbn_forward_training_desc d = training(f);
    vkbn_plan p = NULL;
    return run_plan(vkbn_plan_create_forward_training(f->ctx, &d, &p), &p);
}

static vkbn_result c_plan_training_split(fixture* f) {
    vkbn_forward_training_desc d = training(f);
    d.reduction_split = 3;
    vkbn_plan p = NULL;
    return run_plan(vkbn_plan_create_forward_training(f->ctx, &d, &p), &p);
}

static vkbn_result c_plan_inference(fixture* f) {
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = f->t;
    d.tensor.layout = VKBN_LAYOUT_CHANNELS_LAST;
    d.x = f->x, d.y = f->y, d.weight = f->w, d.bias = f->b, d.running_mean = f->sm, d.running_var = f->si;
    d.eps = VKBN_DEFAULT_EPS;
    vkbn_plan p = NULL;
    return run_plan(vkbn_plan_create_forward_inference(f->ctx, &d, &p), &p);
}

static vkbn_result c_plan_backward(fixture* f) {
    vkbn_backward_desc d = backward(f);
    vkbn_plan p = NULL;
    return run_plan(vkbn_plan_create_backward(f->ctx, &d, &p), &p);
}

static vkbn_result c_plan_copy(fixture* f) {
    vkbn_copy_desc d = {f->x, f->copy_dst, ELEMS * 4};
    vkbn_plan p = NULL;
    return run_plan(vkbn_plan_create_copy(f->ctx, &d, &p), &p);
}

static vkbn_result c_forward_training(fixture* f) {
    vkbn_forward_training_desc d = training(f);
    return vkbn_forward_training(f->ctx, &d);
}

static vkbn_result c_backward(fixture* f) {
    vkbn_backward_desc d = backward(f);
    return vkbn_backward(f->ctx, &d);
}

static vkbn_result prepare_training_plan(fixture* f) {
    vkbn_forward_training_desc d = training(f);
    d.reduction_split = 2;
    return vkbn_plan_create_forward_training(f->ctx, &d, &f->plan);
}

static void finish_plan(fixture* f) {
    vkbn_plan_destroy(f->plan);
    f->plan = NULL;
}

static vkbn_result c_execute(fixture* f) { return vkbn_plan_execute(f->plan); }

static vkbn_result c_sync_forward(fixture* f) {
    double mean[C], m2[C];
    vkbn_batch_stats part = {0, C, mean, m2}, global;
    vkbn_batch_stats_desc sd = {f->t, f->x};
    vkbn_result r = vkbn_batch_stats_compute(f->ctx, &sd, &part);
    double gmean[C], gm2[C];
    global.c = C, global.mean = gmean, global.m2 = gm2, global.count = 0;
    if (r == VKBN_SUCCESS) r = vkbn_batch_stats_merge(&part, 1, &global);
    vkbn_forward_training_desc d = training(f);
    if (r == VKBN_SUCCESS) r = vkbn_forward_training_global(f->ctx, &d, &global);
    return r;
}

static vkbn_result c_sync_backward(fixture* f) {
    double g[C], gx[C];
    vkbn_grad_sums part = {0, C, g, gx};
    vkbn_backward_desc d = backward(f);
    vkbn_result r = vkbn_grad_sums_compute(f->ctx, &d, &part);
    if (r == VKBN_SUCCESS) r = vkbn_backward_global(f->ctx, &d, &part);
    return r;
}

static const call calls[] = {
    {"vkbn_buffer_create + view", 0, c_buffer, NULL, NULL},
    {"vkbn_plan_create_forward_training", 0, c_plan_training, NULL, NULL},
    {"vkbn_plan_create_forward_training (split)", 0, c_plan_training_split, NULL, NULL},
    {"vkbn_plan_create_forward_inference (channels-last)", 0, c_plan_inference, NULL, NULL},
    {"vkbn_plan_create_backward", 0, c_plan_backward, NULL, NULL},
    {"vkbn_plan_create_copy", 0, c_plan_copy, NULL, NULL},
    {"vkbn_plan_execute (training, split)", 1, c_execute, prepare_training_plan, finish_plan},
    {"vkbn_forward_training", 1, c_forward_training, NULL, NULL},
    {"vkbn_backward", 1, c_backward, NULL, NULL},
    {"synchronized forward (compute, merge, global)", 1, c_sync_forward, NULL, NULL},
    {"synchronized backward (sums, global)", 1, c_sync_backward, NULL, NULL},
};

/* Whether g_device opens (printing why the test skips when it does not). */
static int device_present(void) {
    vkbn_context probe = NULL;
    if (make_context(&probe) != VKBN_SUCCESS) {
        printf("no %s device: skipped\n", g_device);
        return 0;
    }
    vkbn_context_destroy(probe);
    return 1;
}

static const call* find_call(const char* name) {
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) {
        if (strcmp(calls[i].name, name) == 0) return &calls[i];
    }
    return NULL;
}

static void set_fail_at(uint64_t k) {
    vkbn_test_hooks h = vkbn_test_hooks_none();
    h.host_alloc_fail_at = k;
    vkbn_test_set_hooks(&h);
}

/* Runs the call once with the k-th host allocation failing (k unset:
 * counting only); returns its result and, in *n, the allocations made. */
static vkbn_result run_with_fault(fixture* f, const call* c, uint64_t k, uint64_t* n) {
    if (c->prepare && c->prepare(f) != VKBN_SUCCESS) return VKBN_ERROR_INVALID_ARGUMENT;
    set_fail_at(k);
    vkbn_result r = c->run(f);
    *n = vkbn_test_host_allocations();
    vkbn_test_set_hooks(NULL);
    if (c->finish) c->finish(f);
    return r;
}

static void check_call(fixture* f, const call* c) {
    uint64_t n = 0, unused = 0;
    /* Once first: what a context creates on first use and then keeps
     * (pipelines) is not part of every call's allocations. */
    vkbn_result r = run_with_fault(f, c, VKBN_TEST_HOOK_UNSET, &unused);
    if (c->writes) reset_outputs(f);
    if (r == VKBN_SUCCESS) r = run_with_fault(f, c, VKBN_TEST_HOOK_UNSET, &n);
    CHECK(r == VKBN_SUCCESS, "%s: fails without a fault: %s", c->name, vkbn_last_error());
    if (r != VKBN_SUCCESS) return;
    if (c->writes) reset_outputs(f);
    for (uint64_t k = 1; k <= n; ++k) {
        r = run_with_fault(f, c, k, &unused);
        ++g_injected;
        CHECK(r == VKBN_ERROR_OUT_OF_HOST_MEMORY && vkbn_last_error()[0] != '\0',
              "%s: allocation %llu of %llu failed, the call returned %s (%s)", c->name, (unsigned long long)k,
              (unsigned long long)n, vkbn_result_string(r), vkbn_last_error());
        CHECK(outputs_untouched(f), "%s: allocation %llu of %llu failed, and outputs were written", c->name,
              (unsigned long long)k, (unsigned long long)n);
        /* The context still works. */
        r = run_with_fault(f, c, VKBN_TEST_HOOK_UNSET, &unused);
        CHECK(r == VKBN_SUCCESS, "%s: after allocation %llu failed, the call fails: %s", c->name, (unsigned long long)k,
              vkbn_last_error());
        if (c->writes) reset_outputs(f);
    }
    printf("%-52s %3llu host allocations, each failed once\n", c->name, (unsigned long long)n);
}

/* Context creation and destruction: every allocation of creation fails in
 * turn; nothing is returned, and a context is created afterwards. */
static void check_context(void) {
    set_fail_at(VKBN_TEST_HOOK_UNSET);
    vkbn_context ctx = NULL;
    vkbn_result r = make_context(&ctx);
    uint64_t n = vkbn_test_host_allocations();
    vkbn_test_set_hooks(NULL);
    vkbn_context_destroy(ctx);
    CHECK(r == VKBN_SUCCESS, "vkbn_context_create: %s", vkbn_last_error());
    for (uint64_t k = 1; k <= n; ++k) {
        set_fail_at(k);
        ctx = NULL;
        r = make_context(&ctx);
        vkbn_test_set_hooks(NULL);
        ++g_injected;
        CHECK(r == VKBN_ERROR_OUT_OF_HOST_MEMORY && !ctx,
              "vkbn_context_create: allocation %llu of %llu failed, the call returned %s (%s)", (unsigned long long)k,
              (unsigned long long)n, vkbn_result_string(r), vkbn_last_error());
        vkbn_context_destroy(ctx);
    }
    printf("%-52s %3llu host allocations, each failed once\n", "vkbn_context_create", (unsigned long long)n);
}

#ifdef VKBN_TEST_VK_SHIM
#include "vk_fault_shim.h"

/* ---- Vulkan calls failing (test_faults vulkan-calls) ---------------------- */

static int vk_oom(vkbn_result r) { return r == VKBN_ERROR_OUT_OF_HOST_MEMORY || r == VKBN_ERROR_OUT_OF_DEVICE_MEMORY; }

/* Faults vkbn recovers from by design, where the call may then succeed: a
 * shared memory block that cannot be allocated (or mapped) gives way to the
 * buffer's own allocation (vk_memory.c). */
static uint64_t g_recovered;
static int vk_recoverable(const char* failed) {
    return failed && (strcmp(failed, "vkAllocateMemory") == 0 || strcmp(failed, "vkMapMemory") == 0);
}

static int all_equal(vkbn_buffer b, uint64_t floats, float value) {
    float v[ELEMS];
    if (vkbn_buffer_download(b, 0, v, floats * 4) != VKBN_SUCCESS) return 0;
    for (uint64_t i = 0; i < floats; ++i) {
        if (v[i] != value) return 0;
    }
    return 1;
}

/* The inputs hold what fixture_init put there. */
static int inputs_intact(fixture* f) {
    float xs[ELEMS];
    if (vkbn_buffer_download(f->x, 0, xs, sizeof xs) != VKBN_SUCCESS) return 0;
    for (int i = 0; i < ELEMS; ++i) {
        if (xs[i] != (float)((i * 37) % 23) * 0.25f - 2.0f) return 0;
    }
    return all_equal(f->dy, ELEMS, 0.5f) && all_equal(f->z, ELEMS, 1.0f) && all_equal(f->w, C, 1.5f) &&
           all_equal(f->b, C, 0.25f) && all_equal(f->sm, C, 0.1f) && all_equal(f->si, C, 2.0f);
}

static void vk_check_context(void) {
    vk_fault_shim_fail_at(0);
    vkbn_context ctx = NULL;
    vkbn_result r = make_context(&ctx);
    uint64_t n = vk_fault_shim_calls();
    vkbn_context_destroy(ctx);
    CHECK(r == VKBN_SUCCESS, "vkbn_context_create: %s", vkbn_last_error());
    CHECK(vk_fault_shim_live_objects() == 0, "vkbn_context_destroy left %lld Vulkan objects",
          (long long)vk_fault_shim_live_objects());
    for (uint64_t k = 1; k <= n; ++k) {
        vk_fault_shim_fail_at(k);
        ctx = NULL;
        r = make_context(&ctx);
        const char* failed = vk_fault_shim_failed_call();
        vk_fault_shim_fail_at(0);
        ++g_injected;
        if (r == VKBN_SUCCESS && vk_recoverable(failed)) {
            ++g_recovered;
            vkbn_context_destroy(ctx);
            CHECK(vk_fault_shim_live_objects() == 0, "vkbn_context_create: recovered from %s, %lld objects left alive",
                  failed, (long long)vk_fault_shim_live_objects());
            continue;
        }
        CHECK(vk_oom(r) && !ctx && vkbn_last_error()[0] != '\0',
              "vkbn_context_create: Vulkan call %llu of %llu (%s) failed, the call returned %s (%s)",
              (unsigned long long)k, (unsigned long long)n, failed ? failed : "?", vkbn_result_string(r),
              vkbn_last_error());
        vkbn_context_destroy(ctx);
        CHECK(vk_fault_shim_live_objects() == 0, "vkbn_context_create: %s failed, %lld Vulkan objects left alive",
              failed ? failed : "?", (long long)vk_fault_shim_live_objects());
    }
    printf("%-52s %3llu Vulkan calls, each failed once\n", "vkbn_context_create", (unsigned long long)n);
}

/* Counts one injected fault and checks the call's result: out of host or
 * device memory with a message, or success where vkbn recovers by design.
 * Returns the failed Vulkan call's name for messages. */
static const char* check_vk_fault(const char* call_name, vkbn_result r, const char* failed, uint64_t k, uint64_t n) {
    ++g_injected;
    const char* what = failed ? failed : "?";
    if (r == VKBN_SUCCESS && vk_recoverable(failed)) {
        ++g_recovered;
        return what;
    }
    CHECK(vk_oom(r) && vkbn_last_error()[0] != '\0',
          "%s: Vulkan call %llu of %llu (%s) failed, the call returned %s (%s)", call_name, (unsigned long long)k,
          (unsigned long long)n, what, vkbn_result_string(r), vkbn_last_error());
    return what;
}

/* Runs the call with the k-th fallible Vulkan call failing (0: none). */
static vkbn_result vk_run_with_fault(fixture* f, const call* c, uint64_t k, uint64_t* n, const char** failed,
                                     uint64_t* submitted) {
    if (c->prepare && c->prepare(f) != VKBN_SUCCESS) return VKBN_ERROR_INVALID_ARGUMENT;
    vk_fault_shim_fail_at(k);
    vkbn_result r = c->run(f);
    *n = vk_fault_shim_calls();
    *failed = vk_fault_shim_failed_call();
    *submitted = vk_fault_shim_submitted();
    vk_fault_shim_fail_at(0);
    if (c->finish) c->finish(f);
    return r;
}

static void vk_check_call(fixture* f, const call* c) {
    uint64_t n = 0, unused = 0, submitted = 0;
    const char* failed = NULL;
    vkbn_result r = vk_run_with_fault(f, c, 0, &unused, &failed, &submitted);
    if (c->writes) reset_outputs(f);
    int64_t live = vk_fault_shim_live_objects();
    if (r == VKBN_SUCCESS) r = vk_run_with_fault(f, c, 0, &n, &failed, &submitted);
    CHECK(r == VKBN_SUCCESS, "%s: fails without a fault: %s", c->name, vkbn_last_error());
    if (r != VKBN_SUCCESS) return;
    if (c->writes) reset_outputs(f);
    for (uint64_t k = 1; k <= n; ++k) {
        r = vk_run_with_fault(f, c, k, &unused, &failed, &submitted);
        const char* what = check_vk_fault(c->name, r, failed, k, n);
        /* Work that reached the device before the failure may have written
         * (the contract: an execution error may leave outputs partly
         * written); the inputs never change. */
        if (!submitted && r != VKBN_SUCCESS) {
            CHECK(outputs_untouched(f), "%s: %s failed before any submission, and outputs were written", c->name, what);
        }
        CHECK(inputs_intact(f), "%s: %s failed, and an input changed", c->name, what);
        CHECK(vk_fault_shim_live_objects() == live, "%s: %s failed, Vulkan objects alive: %lld, before: %lld", c->name,
              what, (long long)vk_fault_shim_live_objects(), (long long)live);
        if (c->writes) reset_outputs(f);
        r = vk_run_with_fault(f, c, 0, &unused, &failed, &submitted);
        CHECK(r == VKBN_SUCCESS, "%s: after %s failed, the call fails: %s", c->name, what, vkbn_last_error());
        if (c->writes) reset_outputs(f);
    }
    CHECK(vkbn_context_validation_message_count(f->ctx) == 0, "%s: validation messages: %llu", c->name,
          (unsigned long long)vkbn_context_validation_message_count(f->ctx));
    printf("%-52s %3llu Vulkan calls, each failed once\n", c->name, (unsigned long long)n);
}

/* A call's first use on a context, where it also creates its pipelines
 * (shader modules, layouts, pipelines, the cache's entries): each Vulkan
 * call failing in turn, on a fresh context every time. */
static void vk_check_first_use(const call* c) {
    fixture f;
    uint64_t n = 0, unused = 0, submitted = 0;
    const char* failed = NULL;
    CHECK(fixture_init(&f), "fixture: %s", vkbn_last_error());
    vkbn_result r = vk_run_with_fault(&f, c, 0, &n, &failed, &submitted);
    fixture_free(&f);
    CHECK(r == VKBN_SUCCESS, "%s (first use): %s", c->name, vkbn_last_error());
    for (uint64_t k = 1; k <= n; ++k) {
        CHECK(fixture_init(&f), "fixture: %s", vkbn_last_error());
        r = vk_run_with_fault(&f, c, k, &unused, &failed, &submitted);
        const char* what = check_vk_fault(c->name, r, failed, k, n);
        r = vk_run_with_fault(&f, c, 0, &unused, &failed, &submitted);
        CHECK(r == VKBN_SUCCESS, "%s (first use): after %s failed, the call fails: %s", c->name, what,
              vkbn_last_error());
        CHECK(vkbn_context_validation_message_count(f.ctx) == 0, "%s (first use): %s failed: validation messages",
              c->name, what);
        fixture_free(&f);
        /* Pipelines made before the failure stay in the context's cache for
         * the next call: alive until the context goes, not after. */
        CHECK(vk_fault_shim_live_objects() == 0,
              "%s (first use): %s failed, %lld Vulkan objects alive after "
              "everything was destroyed",
              c->name, what, (long long)vk_fault_shim_live_objects());
    }
    printf("%-52s %3llu Vulkan calls, each failed once\n", c->name, (unsigned long long)n);
}

/* The device lost at each submission and fence wait of a call that runs
 * work: the call returns VKBN_ERROR_DEVICE_LOST, so does the next (at once:
 * nothing waits on a lost device), and destroying everything leaves no
 * Vulkan object alive. */
static void vk_check_device_lost(const call* c) {
    fixture f;
    vk_fault_shim_lose_device_at(0);
    CHECK(fixture_init(&f), "fixture: %s", vkbn_last_error());
    if (c->prepare) c->prepare(&f);
    vk_fault_shim_lose_device_at(0);
    vkbn_result r = c->run(&f);
    uint64_t n = vk_fault_shim_submits_and_waits();
    if (c->finish) c->finish(&f);
    fixture_free(&f);
    CHECK(r == VKBN_SUCCESS && n > 0, "%s: %s, %llu submissions and waits", c->name, vkbn_last_error(),
          (unsigned long long)n);
    for (uint64_t k = 1; k <= n; ++k) {
        vk_fault_shim_lose_device_at(0);
        CHECK(fixture_init(&f), "fixture: %s", vkbn_last_error());
        if (c->prepare) c->prepare(&f);
        vk_fault_shim_lose_device_at(k);
        r = c->run(&f);
        ++g_injected;
        CHECK(r == VKBN_ERROR_DEVICE_LOST,
              "%s: device lost at submission or wait %llu of %llu, the call returned %s (%s)", c->name,
              (unsigned long long)k, (unsigned long long)n, vkbn_result_string(r), vkbn_last_error());
        r = c->run(&f);
        CHECK(r == VKBN_ERROR_DEVICE_LOST && strstr(vkbn_last_error(), "lost"),
              "%s: the call after the device was lost returned %s (%s)", c->name, vkbn_result_string(r),
              vkbn_last_error());
        if (c->finish) c->finish(&f);
        fixture_free(&f);
        vk_fault_shim_lose_device_at(0);
        CHECK(vk_fault_shim_live_objects() == 0, "%s: device lost, %lld Vulkan objects left alive after destruction",
              c->name, (long long)vk_fault_shim_live_objects());
    }
    printf("%-52s %3llu submissions and waits, the device lost at each\n", c->name, (unsigned long long)n);
}

static int run_vulkan_calls(void) {
    vkbn_test_hooks h = vkbn_test_hooks_none();
    h.vk_get_instance_proc_addr = (vkbn_test_proc)vk_fault_shim_gipa;
    vkbn_test_set_hooks(&h);
    g_validation = 1;
    if (!device_present()) return TEST_SKIP;
    vk_check_context();
    fixture f;
    CHECK(fixture_init(&f), "fixture: %s", vkbn_last_error());
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) vk_check_call(&f, &calls[i]);
    fixture_free(&f);
    CHECK(vk_fault_shim_live_objects() == 0, "%lld Vulkan objects alive after everything was destroyed",
          (long long)vk_fault_shim_live_objects());
    printf("first use (pipelines created in the call):\n");
    /* Training (split: reduction, merge and apply kernels), and backward. */
    vk_check_first_use(find_call("vkbn_plan_create_forward_training (split)"));
    vk_check_first_use(find_call("vkbn_plan_create_backward"));
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) {
        if (calls[i].writes) vk_check_device_lost(&calls[i]);
    }
    printf(
        "%llu faults injected on %s through the Vulkan shim (%llu recovered: a memory block's allocation "
        "failed, the buffer's own allocation served)\n",
        (unsigned long long)g_injected, g_device, (unsigned long long)g_recovered);
    return test_summary();
}
#endif

int main(int argc, char** argv) {
    test_pin_drivers();
#ifdef VKBN_TEST_VK_SHIM
    if (argc > 1 && strcmp(argv[1], "vulkan-calls") == 0) {
        g_device = "llvmpipe";
        return run_vulkan_calls();
    }
#endif
    if (argc > 1 && strcmp(argv[1], "vulkan") == 0) g_device = "llvmpipe";
    if (!device_present()) return TEST_SKIP;
    check_context();
    fixture f;
    CHECK(fixture_init(&f), "fixture: %s", vkbn_last_error());
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i) check_call(&f, &calls[i]);
    fixture_free(&f);
    printf("%llu faults injected on %s\n", (unsigned long long)g_injected, g_device);
    return test_summary();
}
