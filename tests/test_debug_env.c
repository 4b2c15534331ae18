/* The library reads only its documented debugging switches (VKBN_VALIDATION,
 * VKBN_CPU_ISA; src/core/debug_env.h). The environment variables that used to
 * be test hooks inside the library (VKBN_DISABLE_SUBGROUPS,
 * VKBN_SYNC_VALIDATION, VKBN_CPU_STREAM_BYTES) are set here (and by ctest) and
 * must change nothing: a Vulkan context still takes the subgroup path where
 * the device has one, and a small CPU-path case still runs without streaming
 * stores. The replacements (context flags, the test hook in
 * src/core/test_hooks.h) are checked to still work. Exits 77 (skip) when
 * there is no Vulkan device (lavapipe, named: test_util.h) or it has no
 * subgroup path, after the CPU part. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "cases.h"
#include "platform.h"
#include "test_util.h"

static void set_old_hooks(void) {
    /* ctest sets them too; running the binary by hand should prove the same. */
    const char* const names[] = {"VKBN_DISABLE_SUBGROUPS", "VKBN_SYNC_VALIDATION", "VKBN_CPU_STREAM_BYTES"};
    const char* const values[] = {"1", "1", "0"};
    for (int i = 0; i < 3; ++i) {
        if (!getenv(names[i])) vkbn__setenv(names[i], values[i]);
    }
}

/* A context on the test's Vulkan device (lavapipe, or $VKBN_TEST_DEVICE:
 * test_util.h); NULL when this machine has none. A context on any other
 * backend fails the test. */
static vkbn_context vulkan_context(vkbn_context_flags extra) {
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = test_device_request();
    d.flags = test_context_flags() | extra;
    d.log = test_log;
    vkbn_context ctx = NULL;
    vkbn_result r = vkbn_context_create(&d, &ctx);
    if (r != VKBN_SUCCESS) {
        CHECK(r == VKBN_ERROR_NO_DEVICE || (r == VKBN_ERROR_DEVICE_NOT_FOUND && !getenv("VKBN_TEST_DEVICE")),
              "vkbn_context_create(\"%s\"): %s (%s)", d.device, vkbn_last_error(), vkbn_result_string(r));
        return NULL;
    }
    vkbn_device_info info;
    memset(&info, 0, sizeof info);
    CHECK(vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS && info.backend == VKBN_BACKEND_VULKAN,
          "device \"%s\" opened \"%s\", not a Vulkan device", d.device, info.name);
    if (info.backend != VKBN_BACKEND_VULKAN) {
        vkbn_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

/* 1: the subgroup checks ran; 0: skipped (no Vulkan device or no subgroups). */
static int subgroups(void) {
    vkbn_context with_env = vulkan_context(0);
    if (!with_env) {
        printf("skip subgroups: no Vulkan device\n");
        return 0;
    }
    const char* saved = getenv("VKBN_DISABLE_SUBGROUPS");
    char keep[64];
    snprintf(keep, sizeof keep, "%s", saved ? saved : "");
    vkbn__setenv("VKBN_DISABLE_SUBGROUPS", NULL);
    vkbn_context without_env = vulkan_context(0);
    vkbn__setenv("VKBN_DISABLE_SUBGROUPS", keep);
    int ran = 0;
    if (!without_env) {
        CHECK(0, "a second Vulkan context");
    } else if (!vkbn_context_uses_subgroups(without_env)) {
        printf("skip subgroups: the device has no subgroup path\n");
    } else {
        ran = 1;
        CHECK(vkbn_context_uses_subgroups(with_env), "VKBN_DISABLE_SUBGROUPS=%s turned the subgroup path off", keep);
        /* The flag that replaces it still does. */
        vkbn_context flagged = vulkan_context(VKBN_CONTEXT_DISABLE_SUBGROUPS);
        CHECK(flagged && !vkbn_context_uses_subgroups(flagged), "VKBN_CONTEXT_DISABLE_SUBGROUPS: subgroups %s",
              flagged ? "still on" : vkbn_last_error());
        vkbn_context_destroy(flagged);
    }
    vkbn_context_destroy(without_env);
    vkbn_context_destroy(with_env);
    return ran;
}

/* Streaming stores start where an operation's tensors exceed the last-level
 * cache: a small case (720 KB) must not get them with VKBN_CPU_STREAM_BYTES=0
 * in the environment, and must with the test hook. */
static void cpu_streaming(void) {
    const uint32_t sp[1] = {2003};
    for (int hooked = 0; hooked < 2; ++hooked) {
        vkbn_test_hooks h = vkbn_test_hooks_none();
        if (hooked) h.cpu_stream_bytes = 0;
        vkbn_test_set_hooks(&h);
        vkbn_context_desc d;
        memset(&d, 0, sizeof d);
        d.device = "cpu";
        d.cpu_threads = 1;
        vkbn_context ctx = NULL;
        vkbn_result r = vkbn_context_create(&d, &ctx);
        CHECK(r == VKBN_SUCCESS, "CPU context: %s", vkbn_last_error());
        if (r != VKBN_SUCCESS) break;
        fwd_case c = case_default(5, 9, 1, sp, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32);
        c.seed = 77;
        case_result res;
        int rc = case_run(ctx, &c, &res);
        CHECK(rc == 0, "CPU case: %s", res.message);
        int streaming = strstr(res.plan, "streaming stores") != NULL;
        if (hooked) {
            CHECK(streaming, "the cpu_stream_bytes hook did not force streaming: [%s]", res.plan);
        } else {
            CHECK(!streaming, "VKBN_CPU_STREAM_BYTES in the environment forced streaming: [%s]", res.plan);
        }
        vkbn_context_destroy(ctx);
    }
    vkbn_test_set_hooks(NULL);
}

int main(void) {
    /* Before anything lists devices: a driver loaded and unloaded unpinned
     * leaves its sanitizer-build leak nameless (test_util.h). */
    test_pin_drivers();
    set_old_hooks();
    cpu_streaming();
    int ran = subgroups();
    int rc = test_summary();
    return rc ? rc : ran ? 0 : TEST_SKIP;
}
