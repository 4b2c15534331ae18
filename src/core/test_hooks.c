/* Test-only hooks (test_hooks.h): one process-wide struct, set by vkbn's test
 * programs and read by the backends where they need an override. */
#include "test_hooks.h"

#include "platform.h"

/* Every field unset (vkbn_test_hooks_none, which a static initializer cannot call). */
static vkbn_test_hooks g_hooks = {.cpu_stream_bytes = VKBN_TEST_HOOK_UNSET,
                                  .cpu_channel_block = VKBN_TEST_HOOK_UNSET,
                                  .cpu_bf16_integer = VKBN_TEST_HOOK_UNSET,
                                  .vk_merge_dispatch = VKBN_TEST_HOOK_UNSET,
                                  .vk_max_workgroup_invocations = VKBN_TEST_HOOK_UNSET,
                                  .vk_max_shared_memory = VKBN_TEST_HOOK_UNSET,
                                  .vulkan_device_type = VKBN_TEST_HOOK_UNSET,
                                  .vk_wave = VKBN_TEST_HOOK_UNSET,
                                  .host_alloc_fail_at = VKBN_TEST_HOOK_UNSET,
                                  .vk_get_instance_proc_addr = 0,
                                  .vk_bf16_words = VKBN_TEST_HOOK_UNSET};

/* Host allocations since the hooks were last set (any thread). */
static volatile uint64_t g_host_allocations;
/* Allocations are counted only while a test has set hooks: an application's
 * allocations pay one branch, no atomic. */
static int g_counting;

void vkbn_test_set_hooks(const vkbn_test_hooks* hooks) {
    g_hooks = hooks ? *hooks : vkbn_test_hooks_none();
    g_counting = hooks != NULL;
    g_host_allocations = 0;
}

uint64_t vkbn_test_host_allocations(void) { return vkbn__atomic_load64(&g_host_allocations); }

const vkbn_test_hooks* vkbn__test_hooks(void) { return &g_hooks; }

int vkbn__host_alloc_fails(void) {
    if (!g_counting) return 0;
    uint64_t n = vkbn__atomic_inc64(&g_host_allocations);
    return g_hooks.host_alloc_fail_at != VKBN_TEST_HOOK_UNSET && n == g_hooks.host_alloc_fail_at;
}
