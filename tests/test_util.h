/* A minimal harness shared by the test programs: counted checks, a summary
 * line "N passed, M failed" that CI reads, and the device-skip convention. */
#ifndef VKBN_TEST_UTIL_H_
#define VKBN_TEST_UTIL_H_

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkbn/vkbn.h"

#include "../src/core/test_hooks.h"

/* ctest's SKIP_RETURN_CODE: no Vulkan device on this machine. */
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
 *                                  N bytes (0: always) */
static inline vkbn_context_flags test_switch_flags(void) {
    vkbn_context_flags f = 0;
    if (env_set("VKBN_TEST_DISABLE_SUBGROUPS")) f |= VKBN_CONTEXT_DISABLE_SUBGROUPS;
    if (env_set("VKBN_TEST_SYNC_VALIDATION")) f |= VKBN_CONTEXT_ENABLE_SYNC_VALIDATION;
    return f;
}

/* Sets the test hooks from VKBN_TEST_CPU_STREAM_BYTES; touches nothing when
 * it is unset (so contexts created from several threads never race on it). */
static inline void test_apply_hooks(void) {
    const char* v = getenv("VKBN_TEST_CPU_STREAM_BYTES");
    if (!v || !*v) return;
    vkbn_test_hooks h = vkbn_test_hooks_none();
    h.cpu_stream_bytes = strtoull(v, NULL, 10);
    vkbn_test_set_hooks(&h);
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

/* Creates the test context on $VKBN_TEST_DEVICE (default device otherwise).
 * Exits with TEST_SKIP when the machine has no Vulkan device. */
static inline vkbn_context test_context(vkbn_context_flags extra, uint64_t max_binding_range) {
    test_pin_drivers();
    test_apply_hooks();
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = getenv("VKBN_TEST_DEVICE");
    d.flags = test_context_flags() | extra;
    d.log = test_log;
    d.max_binding_range = max_binding_range;
    /* CPU path: VKBN_TEST_CPU_THREADS threads (0: one per core). */
    d.cpu_threads = getenv("VKBN_TEST_CPU_THREADS") ? (uint32_t)atoi(getenv("VKBN_TEST_CPU_THREADS")) : 0;
    vkbn_context ctx = NULL;
    vkbn_result r = vkbn_context_create(&d, &ctx);
    if (r == VKBN_ERROR_NO_DEVICE) {
        printf("SKIP: no Vulkan device (%s)\n", vkbn_last_error());
        exit(TEST_SKIP);
    }
    if (r == VKBN_ERROR_UNSUPPORTED && getenv("VKBN_CPU_ISA")) {
        printf("SKIP: %s\n", vkbn_last_error()); /* an ISA level this CPU lacks */
        exit(TEST_SKIP);
    }
    vkbn_device_info info;
    if (r == VKBN_SUCCESS && !d.device && vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS &&
        info.backend == VKBN_BACKEND_CPU) {
        /* The default fell back to the CPU path: these are Vulkan tests
         * (the CPU path has its own, with VKBN_TEST_DEVICE=cpu). */
        printf("SKIP: no Vulkan device (the default is the CPU path)\n");
        vkbn_context_destroy(ctx);
        exit(TEST_SKIP);
    }
    if (r != VKBN_SUCCESS) {
        printf("FAIL: vkbn_context_create: %s (%s)\n", vkbn_last_error(), vkbn_result_string(r));
        exit(1);
    }
    if ((d.flags & VKBN_CONTEXT_DISABLE_SUBGROUPS) && vkbn_context_uses_subgroups(ctx)) {
        printf("FAIL: VKBN_TEST_DISABLE_SUBGROUPS is set but the context uses subgroups\n");
        exit(1);
    }
    return ctx;
}

#endif
