/* A minimal harness shared by the test programs: counted checks, a summary
 * line "N passed, M failed" that CI reads, and the device-skip convention. */
#ifndef VKBN_TEST_UTIL_H_
#define VKBN_TEST_UTIL_H_

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkbn/vkbn.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "../src/core/test_hooks.h"

/* ctest's SKIP_RETURN_CODE: this machine lacks the test's device. */
#define TEST_SKIP 77

/* Atomic: the engine tests check from several threads. */
typedef struct test_counts {
    _Atomic int passed;
    _Atomic int failed;
} test_counts;

static test_counts g_counts;

#define CHECK(cond, ...)                                \
    do {                                                \
        if (cond) {                                     \
            g_counts.passed++;                          \
        } else {                                        \
            g_counts.failed++;                          \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
        }                                               \
    } while (0)

static inline int test_summary(void) {
    int passed = g_counts.passed, failed = g_counts.failed;
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* Bad-input tests: outputs are filled with a sentinel before the call and
 * must still hold it after. */
#define SENTINEL 12345.0f

static inline void fill(vkbn_buffer b, uint64_t floats, float value) {
    float* v = (float*)malloc(floats * sizeof *v);
    for (uint64_t i = 0; i < floats; ++i) v[i] = value;
    vkbn_buffer_upload(b, 0, v, floats * 4);
    free(v);
}

static inline int unchanged(vkbn_buffer b, uint64_t floats) {
    float* v = (float*)malloc(floats * sizeof *v);
    int same = vkbn_buffer_download(b, 0, v, floats * 4) == VKBN_SUCCESS;
    for (uint64_t i = 0; i < floats && same; ++i) same = v[i] == SENTINEL;
    free(v);
    return same;
}

static inline int env_set(const char* name) {
    const char* v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* The harness's own switches (tests/CMakeLists.txt sets them per test; the
 * library reads none of them: it has no test-only environment variables):
 *   VKBN_TEST_DISABLE_SUBGROUPS=1  contexts get VKBN_CONTEXT_DISABLE_SUBGROUPS
 *   VKBN_TEST_SYNC_VALIDATION=1    contexts get VKBN_CONTEXT_ENABLE_SYNC_VALIDATION
 *   VKBN_TEST_CPU_STREAM_BYTES=N   the test hook (src/core/test_hooks.h): CPU
 *                                  contexts write with streaming stores past
 *                                  N bytes (0: always)
 *   VKBN_TEST_CPU_CHANNEL_BLOCK=N  hook: the CPU channels-last backward runs
 *                                  its channels in blocks of N (rounded up
 *                                  to the vector width) whenever C > N
 *   VKBN_TEST_CPU_BF16_INTEGER=1   hook: the avx512 kernels round bf16 stores
 *                                  in integers even on a CPU with AVX-512
 *                                  BF16's conversion
 *   VKBN_TEST_MERGE_DISPATCH=1     hook: sliced reductions merge in a
 *                                  dispatch of their own (as without the
 *                                  Vulkan memory model)
 *   VKBN_TEST_MAX_WORKGROUP=N      hook: maxComputeWorkGroupInvocations
 *                                  taken as at most N
 *   VKBN_TEST_MAX_SHARED=N         hook: maxComputeSharedMemorySize taken as
 *                                  at most N bytes
 *   VKBN_TEST_WAVE=N               hook: the target workgroups are a wave of
 *                                  N, filled whole (as on a GPU that tells
 *                                  its compute units)
 *   VKBN_TEST_BF16_WORDS=1         hook: bf16 in 32-bit words even with
 *                                  16-bit storage (the path of devices
 *                                  without it) */
static inline vkbn_context_flags test_switch_flags(void) {
    vkbn_context_flags f = 0;
    if (env_set("VKBN_TEST_DISABLE_SUBGROUPS")) f |= VKBN_CONTEXT_DISABLE_SUBGROUPS;
    if (env_set("VKBN_TEST_SYNC_VALIDATION")) f |= VKBN_CONTEXT_ENABLE_SYNC_VALIDATION;
    return f;
}

/* Reads one hook from the environment: whether it was set. */
static inline int test_hook_from_env(const char* name, uint64_t* field) {
    const char* v = getenv(name);
    if (!v || !*v) return 0;
    *field = strtoull(v, NULL, 10);
    return 1;
}

/* Sets the test hooks from the VKBN_TEST_* hook variables above; touches
 * nothing when none is set (so contexts created from several threads never
 * race on them). */
static inline void test_apply_hooks(void) {
    vkbn_test_hooks h = vkbn_test_hooks_none();
    int any = test_hook_from_env("VKBN_TEST_CPU_STREAM_BYTES", &h.cpu_stream_bytes);
    any |= test_hook_from_env("VKBN_TEST_CPU_CHANNEL_BLOCK", &h.cpu_channel_block);
    any |= test_hook_from_env("VKBN_TEST_CPU_BF16_INTEGER", &h.cpu_bf16_integer);
    any |= test_hook_from_env("VKBN_TEST_MERGE_DISPATCH", &h.vk_merge_dispatch);
    any |= test_hook_from_env("VKBN_TEST_MAX_WORKGROUP", &h.vk_max_workgroup_invocations);
    any |= test_hook_from_env("VKBN_TEST_MAX_SHARED", &h.vk_max_shared_memory);
    any |= test_hook_from_env("VKBN_TEST_WAVE", &h.vk_wave);
    any |= test_hook_from_env("VKBN_TEST_BF16_WORDS", &h.vk_bf16_words);
    if (any) vkbn_test_set_hooks(&h);
}

#if !defined(_WIN32)
int setenv(const char* name, const char* value, int overwrite); /* POSIX; -std=c11 hides the declaration */
#endif

/* The validation layer's vendor-specific best practices (NVIDIA, AMD, Arm)
 * on top of the best practices vkbn enables with validation (and the engine
 * tests in engine_util.h): no create-info struct switches them on in the
 * Debian layer (1.3.239, before VK_EXT_layer_settings), only the
 * environment, read at vkCreateInstance: VK_LAYER_ENABLES there, the
 * VK_LAYER_VALIDATE_BEST_PRACTICES* settings in newer layers. A value the
 * user set is kept. Called from the main thread before any instance exists.
 * Windows (Wine) runs without validation (scripts/test-windows.sh). */
static inline void test_enable_vendor_best_practices(void) {
#if !defined(_WIN32)
    setenv("VK_LAYER_ENABLES",
           "VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT:VALIDATION_CHECK_ENABLE_VENDOR_SPECIFIC_NVIDIA:"
           "VALIDATION_CHECK_ENABLE_VENDOR_SPECIFIC_AMD:VALIDATION_CHECK_ENABLE_VENDOR_SPECIFIC_ARM",
           0);
    setenv("VK_LAYER_VALIDATE_BEST_PRACTICES", "1", 0);
    setenv("VK_LAYER_VALIDATE_BEST_PRACTICES_NVIDIA", "1", 0);
    setenv("VK_LAYER_VALIDATE_BEST_PRACTICES_AMD", "1", 0);
    setenv("VK_LAYER_VALIDATE_BEST_PRACTICES_ARM", "1", 0);
#endif
}

/* Validation layers on unless VKBN_TEST_NO_VALIDATION is set (machines
 * without the layers, such as a bare GPU box), with every best-practices
 * check (any message the one filter, src/vulkan/vk_validation_filter.h, does
 * not excuse fails the test), plus the switches above. */
static inline vkbn_context_flags test_context_flags(void) {
    if (env_set("VKBN_TEST_NO_VALIDATION")) return test_switch_flags();
    test_enable_vendor_best_practices();
    return VKBN_CONTEXT_ENABLE_VALIDATION | test_switch_flags();
}

static inline void test_log(void* user, vkbn_log_level level, const char* message) {
    (void)user;
    if (level >= VKBN_LOG_WARNING) printf("  [vkbn] %s\n", message);
}

#ifdef VKBN_TEST_PIN_DRIVERS
#include <dlfcn.h>
/* Sanitizer builds: lavapipe leaks a little per VkInstance, and the loader
 * unloads it before LeakSanitizer reports, leaving the leak nameless and
 * unsuppressible (the validation layer likewise, with several instances).
 * Pinning the driver and the layer (RTLD_NODELETE) keeps their frames named so
 * tests/lsan.supp can suppress it while vkbn's own leaks still fail. */
static inline void test_pin_drivers(void) {
    static const char* const drivers[] = {"libvulkan_lvp.so", "libLLVM-15.so.1", "libVkLayer_khronos_validation.so"};
    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; ++i) dlopen(drivers[i], RTLD_NOW | RTLD_NODELETE);
}
#else
static inline void test_pin_drivers(void) {}
#endif

/* The device the tests run on: $VKBN_TEST_DEVICE (a name part, an index, or
 * "cpu" for the CPU path: tests/CMakeLists.txt sets it for the CPU-path
 * entries; bench/gpu/kit.sh names a GPU), else lavapipe by name. The Vulkan
 * tests never take the default device: the default is the fastest device,
 * which is vkbn's CPU path wherever the only Vulkan device is a CPU driver
 * such as lavapipe, so a Vulkan test on the default would silently test the
 * CPU path. */
#define TEST_VULKAN_DEVICE "llvmpipe"

static inline const char* test_device_request(void) {
    const char* v = getenv("VKBN_TEST_DEVICE");
    return v && *v ? v : TEST_VULKAN_DEVICE;
}

/* Whether a device request means vkbn's CPU path ("cpu", any case). */
static inline int test_request_is_cpu(const char* request) {
    return request && (request[0] | 0x20) == 'c' && (request[1] | 0x20) == 'p' && (request[2] | 0x20) == 'u' &&
           request[3] == 0;
}

/* Checks that ctx runs on the backend `request` means (the CPU path for
 * "cpu", Vulkan for anything else); prints why not and returns 0 otherwise. */
static inline int test_backend_is_requested(vkbn_context ctx, const char* request) {
    vkbn_device_info info;
    memset(&info, 0, sizeof info);
    vkbn_backend want = test_request_is_cpu(request) ? VKBN_BACKEND_CPU : VKBN_BACKEND_VULKAN;
    if (vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS && info.backend == want) return 1;
    printf(
        "FAIL: device \"%s\" opened \"%s\", a %s device, where the test means %s (name vkbn's CPU path "
        "\"cpu\")\n",
        request, info.name, info.backend == VKBN_BACKEND_CPU ? "CPU-path" : "Vulkan",
        want == VKBN_BACKEND_CPU ? "the CPU path" : "a Vulkan device");
    return 0;
}

/* Opens the test device (test_device_request()) with the harness's flags.
 * Returns NULL with *skip set when this machine has no such device (no Vulkan
 * device, no lavapipe, or an ISA level the CPU lacks; the reason printed);
 * exits 1 when it cannot be opened otherwise or opened the wrong backend. */
/* glibc gives blocks of 128 KiB and more back to the kernel when freed, so
 * every case's host arrays (data, references) came back as fresh pages to
 * fault in and zero: most of the CPU matrices' time (the backward matrix at
 * one thread: 9.7 s, 3.7 s with the arrays kept in the heap). Blocks up to
 * 32 MiB, glibc's largest threshold, now stay in the heap. */
static inline void test_keep_heap(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

/* Whether the context's backend takes the activation mask. Every backend
 * does (the CPU path and Vulkan): a refusal is counted as a failure here,
 * and the callers then leave their mask cases out rather than fail each. */
static inline bool test_mask_supported(vkbn_context ctx) {
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor.n = 1;
    d.tensor.c = 1;
    vkbn_buffer x = NULL, y = NULL, v = NULL, m = NULL;
    vkbn_buffer_create(ctx, 4, &x);
    vkbn_buffer_create(ctx, 4, &y);
    vkbn_buffer_create(ctx, 4, &v);
    vkbn_buffer_create(ctx, 4, &m);
    d.x = x;
    d.y = y;
    d.running_mean = v;
    d.running_var = v;
    d.activation = VKBN_ACTIVATION_RELU;
    d.activation_mask = m;
    vkbn_plan plan = NULL;
    vkbn_result r = vkbn_plan_create_forward_inference(ctx, &d, &plan);
    vkbn_plan_destroy(plan);
    vkbn_buffer_destroy(m);
    vkbn_buffer_destroy(v);
    vkbn_buffer_destroy(y);
    vkbn_buffer_destroy(x);
    if (r != VKBN_SUCCESS) {
        printf("FAIL the activation mask probe: %s\n", vkbn_last_error());
        g_counts.failed++;
    }
    return r == VKBN_SUCCESS;
}

static inline bool test_has_mask(vkbn_activation a) {
    return a == VKBN_ACTIVATION_RELU || a == VKBN_ACTIVATION_LEAKY_RELU || a == VKBN_ACTIVATION_CLAMP;
}

static inline vkbn_context test_context_try(vkbn_context_flags extra, uint64_t max_binding_range, int* skip) {
    test_keep_heap();
    test_pin_drivers();
    test_apply_hooks();
    *skip = 0;
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = test_device_request();
    d.flags = test_context_flags() | extra;
    d.log = test_log;
    d.max_binding_range = max_binding_range;
    /* CPU path: VKBN_TEST_CPU_THREADS threads (0: one per core). */
    d.cpu_threads = getenv("VKBN_TEST_CPU_THREADS") ? (uint32_t)atoi(getenv("VKBN_TEST_CPU_THREADS")) : 0;
    vkbn_context ctx = NULL;
    vkbn_result r = vkbn_context_create(&d, &ctx);
    if (r == VKBN_ERROR_NO_DEVICE || (r == VKBN_ERROR_DEVICE_NOT_FOUND && !getenv("VKBN_TEST_DEVICE"))) {
        printf("SKIP: no device \"%s\" (%s); VKBN_TEST_DEVICE names another\n", d.device, vkbn_last_error());
        *skip = 1;
        return NULL;
    }
    if (r == VKBN_ERROR_UNSUPPORTED && getenv("VKBN_CPU_ISA")) {
        printf("SKIP: %s\n", vkbn_last_error()); /* an ISA level this CPU lacks */
        *skip = 1;
        return NULL;
    }
    if (r != VKBN_SUCCESS) {
        printf("FAIL: vkbn_context_create(\"%s\"): %s (%s)\n", d.device, vkbn_last_error(), vkbn_result_string(r));
        exit(1);
    }
    if (!test_backend_is_requested(ctx, d.device)) exit(1);
    if ((d.flags & VKBN_CONTEXT_DISABLE_SUBGROUPS) && vkbn_context_uses_subgroups(ctx)) {
        printf("FAIL: VKBN_TEST_DISABLE_SUBGROUPS is set but the context uses subgroups\n");
        exit(1);
    }
    return ctx;
}

/* test_context_try, exiting with TEST_SKIP where it would skip. */
static inline vkbn_context test_context(vkbn_context_flags extra, uint64_t max_binding_range) {
    int skip = 0;
    vkbn_context ctx = test_context_try(extra, max_binding_range, &skip);
    if (skip) exit(TEST_SKIP);
    return ctx;
}

#endif
