/* Soak, on each backend:
 *   1. buffers and plans created, executed and destroyed many thousands of
 *      times on one context: after a warm-up the resident set may grow by
 *      less than 1 MiB over the whole run, and on Vulkan the Vulkan objects
 *      alive (counted by the fault shim, tests/vk_fault_shim.h) must stay
 *      exactly what they were after the warm-up;
 *   2. contexts created, used for one cycle and destroyed CONTEXTS times:
 *      no Vulkan object outlives its context, and on the CPU path the
 *      resident set again grows by less than 1 MiB. (On lavapipe it is not
 *      checked there: each new device's JIT-compiled pipelines take LLVM
 *      memory the driver keeps, about 0.5 MiB per context, while vkbn's own
 *      host memory comes back, as LeakSanitizer checks in the sanitizer lane.)
 *
 *   test_soak cpu|vulkan [cycles]
 *
 * A cycle: seven buffers and eight views, a training plan executed twice,
 * an inference plan, a backward plan (fused ReLU), a copy plan, each
 * executed; everything destroyed. (77 without the device.) Linux only: the
 * resident set is read from /proc/self/statm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h" /* <malloc.h> on glibc */
#ifdef VKBN_TEST_VK_SHIM
#include "vk_fault_shim.h"
#endif

#define N 2
#define C 5
#define S 33
#define ELEMS (N * C * S)
#define WARMUP 200
#define CONTEXTS 40
#define MAX_GROWTH (1u << 20)

static const char* g_device;

/* Bytes the heap holds free (glibc; with MALLOC_ARENA_MAX=1, which ctest
 * sets, every thread's allocations are in the one arena mallinfo2 reports).
 * lavapipe's queue thread frees and reallocates 1 MiB blocks around smaller
 * long-lived ones, so that the heap grows by a free 1 MiB every few thousand
 * submissions while the bytes in use stay flat: growth of the resident set
 * that the heap's free space accounts for is fragmentation, not a leak. */
static long heap_free(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    struct mallinfo2 m = mallinfo2();
    return (long)m.fordblks;
#else
    return 0;
#endif
}

static long resident_bytes(void) {
    FILE* f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long size = 0, resident = 0;
    int got = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return got == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

static vkbn_context open_context(void) {
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = g_device;
    d.cpu_threads = 2;
    vkbn_context ctx = NULL;
    if (vkbn_context_create(&d, &ctx) != VKBN_SUCCESS) return NULL;
    return ctx;
}

/* One cycle; returns 0 when every call succeeded and y came out finite. */
static int cycle(vkbn_context ctx, const float* xs) {
    vkbn_buffer parent = NULL, x = NULL, y = NULL, dy = NULL, dx = NULL, vec = NULL, view = NULL;
    vkbn_plan plans[5] = {NULL, NULL, NULL, NULL, NULL};
    int ok = vkbn_buffer_create(ctx, (uint64_t)ELEMS * 4, &x) == VKBN_SUCCESS &&
             vkbn_buffer_create(ctx, (uint64_t)ELEMS * 4, &y) == VKBN_SUCCESS &&
             vkbn_buffer_create(ctx, (uint64_t)ELEMS * 4, &dy) == VKBN_SUCCESS &&
             vkbn_buffer_create(ctx, (uint64_t)ELEMS * 4, &dx) == VKBN_SUCCESS &&
             vkbn_buffer_create(ctx, 256 * 4, &parent) == VKBN_SUCCESS &&
             vkbn_buffer_create(ctx, 8 * C * 4, &vec) == VKBN_SUCCESS &&
             vkbn_buffer_create_view(parent, 64, 4 * C * 4, &view) == VKBN_SUCCESS;
    ok = ok && vkbn_buffer_upload(x, 0, xs, (uint64_t)ELEMS * 4) == VKBN_SUCCESS &&
         vkbn_buffer_upload(dy, 0, xs, (uint64_t)ELEMS * 4) == VKBN_SUCCESS;
    vkbn_tensor_desc t = {N, C, 1, {S}, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32};
    if (ok) {
        float ones[8 * C];
        for (int i = 0; i < 8 * C; ++i) ones[i] = 1.0f;
        ok = vkbn_buffer_upload(vec, 0, ones, sizeof ones) == VKBN_SUCCESS;
    }
    /* vec: weight, bias, running mean, running var, saved mean, saved invstd,
     * dweight, dbias, C floats each; the view holds four more. */
    vkbn_buffer w = NULL, b = NULL, rm = NULL, rv = NULL, sm = NULL, si = NULL, dw = NULL, db = NULL;
    vkbn_buffer* vecs[8] = {&w, &b, &rm, &rv, &sm, &si, &dw, &db};
    for (int i = 0; i < 8 && ok; ++i) ok = vkbn_buffer_create_view(vec, (uint64_t)i * C * 4, C * 4, vecs[i]) == 0;
    if (ok) {
        vkbn_forward_training_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = t, d.x = x, d.y = y, d.weight = w, d.bias = b, d.running_mean = rm, d.running_var = rv;
        d.save_mean = sm, d.save_invstd = si, d.eps = VKBN_DEFAULT_EPS, d.momentum = VKBN_DEFAULT_MOMENTUM;
        d.activation = VKBN_ACTIVATION_RELU;
        ok = vkbn_plan_create_forward_training(ctx, &d, &plans[0]) == VKBN_SUCCESS &&
             vkbn_plan_execute(plans[0]) == VKBN_SUCCESS && vkbn_plan_execute(plans[0]) == VKBN_SUCCESS;
    }
    if (ok) {
        vkbn_forward_inference_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = t, d.tensor.layout = VKBN_LAYOUT_CHANNELS_LAST;
        d.x = x, d.y = dx, d.weight = w, d.bias = b, d.running_mean = rm, d.running_var = rv;
        d.eps = VKBN_DEFAULT_EPS;
        ok = vkbn_plan_create_forward_inference(ctx, &d, &plans[1]) == VKBN_SUCCESS &&
             vkbn_plan_execute(plans[1]) == VKBN_SUCCESS;
    }
    if (ok) {
        vkbn_backward_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = t, d.x = x, d.dy = dy, d.y = y, d.weight = w, d.save_mean = sm, d.save_invstd = si;
        d.activation = VKBN_ACTIVATION_RELU, d.eps = VKBN_DEFAULT_EPS;
        d.dx = dx, d.dweight = dw, d.dbias = db;
        ok = vkbn_plan_create_backward(ctx, &d, &plans[2]) == VKBN_SUCCESS &&
             vkbn_plan_execute(plans[2]) == VKBN_SUCCESS;
    }
    if (ok) {
        vkbn_copy_desc d = {x, y, (uint64_t)ELEMS * 4};
        ok = vkbn_plan_create_copy(ctx, &d, &plans[3]) == VKBN_SUCCESS && vkbn_plan_execute(plans[3]) == VKBN_SUCCESS;
    }
    if (ok) {
        float first;
        ok = vkbn_buffer_download(dx, 0, &first, 4) == VKBN_SUCCESS && first == first;
    }
    for (int i = 0; i < 5; ++i) vkbn_plan_destroy(plans[i]);
    for (int i = 0; i < 8; ++i) vkbn_buffer_destroy(*vecs[i]);
    vkbn_buffer_destroy(view);
    vkbn_buffer_destroy(parent);
    vkbn_buffer_destroy(vec);
    vkbn_buffer_destroy(dx);
    vkbn_buffer_destroy(dy);
    vkbn_buffer_destroy(y);
    vkbn_buffer_destroy(x);
    return ok ? 0 : 1;
}

static int64_t live_objects(void) {
#ifdef VKBN_TEST_VK_SHIM
    return vk_fault_shim_live_objects();
#else
    return 0;
#endif
}

int main(int argc, char** argv) {
    test_pin_drivers();
    test_keep_heap();
    int vulkan = argc > 1 && strcmp(argv[1], "vulkan") == 0;
    g_device = vulkan ? TEST_VULKAN_DEVICE : "cpu";
    long cycles = argc > 2 ? atol(argv[2]) : (vulkan ? 3000 : 10000);
    long warmup = argc > 3 ? atol(argv[3]) : WARMUP;
#ifdef VKBN_TEST_VK_SHIM
    if (vulkan) {
        vkbn_test_hooks h = vkbn_test_hooks_none();
        h.vk_get_instance_proc_addr = (vkbn_test_proc)vk_fault_shim_gipa;
        vkbn_test_set_hooks(&h);
    }
#else
    if (vulkan) {
        printf("built without the Vulkan shim: skipped\n");
        return TEST_SKIP;
    }
#endif
    vkbn_context ctx = open_context();
    if (!ctx || !test_backend_is_requested(ctx, g_device)) {
        printf("no %s device: skipped (%s)\n", g_device, vkbn_last_error());
        vkbn_context_destroy(ctx);
        return TEST_SKIP;
    }
    float* xs = malloc(sizeof(float) * ELEMS);
    for (int i = 0; i < ELEMS; ++i) xs[i] = (float)((i * 29) % 17) * 0.5f - 3.0f;
    int failures = 0;
    for (long i = 0; i < warmup; ++i) failures += cycle(ctx, xs);
    const long rss0 = resident_bytes(), free0 = heap_free();
    const int64_t live0 = live_objects();
    for (long i = 0; i < cycles; ++i) {
        failures += cycle(ctx, xs);
        if (vulkan && (i + 1) % 100 == 0 && live_objects() != live0) {
            CHECK(0, "cycle %ld: %lld Vulkan objects alive, %lld after the warm-up", i, (long long)live_objects(),
                  (long long)live0);
            break;
        }
    }
    const long rss1 = resident_bytes(), free1 = heap_free();
    const long growth = (rss1 - rss0) - (free1 - free0); /* resident, less the heap's new free space */
    const int64_t live1 = live_objects();
    vkbn_context_destroy(ctx);
    CHECK(failures == 0, "%d cycles failed: %s", failures, vkbn_last_error());
    CHECK(rss0 > 0 && growth < (long)MAX_GROWTH,
          "resident set grew by %ld bytes over %ld cycles (%ld -> %ld), the heap's free space by %ld", rss1 - rss0,
          cycles, rss0, rss1, free1 - free0);
    if (vulkan) {
        CHECK(live1 == live0, "Vulkan objects alive: %lld after the warm-up, %lld at the end", (long long)live0,
              (long long)live1);
        CHECK(live_objects() == 0, "%lld Vulkan objects alive after the context", (long long)live_objects());
    }
    printf(
        "%s: %ld cycles on one context: resident set %+ld bytes after the warm-up, %+ld of them the heap's free "
        "space, Vulkan objects %lld -> %lld\n",
        g_device, cycles, rss1 - rss0, free1 - free0, (long long)live0, (long long)live1);

    /* Contexts. */
    long rss2 = 0;
    for (int i = 0; i < CONTEXTS + 2; ++i) {
        if (i == 2) rss2 = resident_bytes(); /* after two, as a warm-up */
        ctx = open_context();
        CHECK(ctx != NULL, "context %d: %s", i, vkbn_last_error());
        if (!ctx) break;
        failures += cycle(ctx, xs);
        vkbn_context_destroy(ctx);
        if (vulkan && live_objects() != 0) {
            CHECK(0, "context %d: %lld Vulkan objects alive after it was destroyed", i, (long long)live_objects());
            break;
        }
    }
    const long rss3 = resident_bytes();
    CHECK(failures == 0, "%d cycles failed: %s", failures, vkbn_last_error());
    if (!vulkan) {
        CHECK(rss3 - rss2 < (long)MAX_GROWTH, "resident set grew by %ld bytes over %d contexts", rss3 - rss2, CONTEXTS);
    }
    printf("%s: %d contexts created, used and destroyed, resident set %+ld bytes%s\n", g_device, CONTEXTS, rss3 - rss2,
           vulkan ? " (not checked: the driver's JIT memory)" : "");
    free(xs);
    return test_summary();
}
