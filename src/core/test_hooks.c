/* Test-only hooks (test_hooks.h): one process-wide struct, set by vkbn's test
 * programs and read by the backends where they need an override. */
#include "test_hooks.h"

/* Every field unset (vkbn_test_hooks_none, which a static initializer cannot call). */
static vkbn_test_hooks g_hooks = {.cpu_stream_bytes = VKBN_TEST_HOOK_UNSET,
                                  .vk_merge_dispatch = VKBN_TEST_HOOK_UNSET,
                                  .vk_max_workgroup_invocations = VKBN_TEST_HOOK_UNSET,
                                  .vk_max_shared_memory = VKBN_TEST_HOOK_UNSET,
                                  .vulkan_device_type = VKBN_TEST_HOOK_UNSET};

void vkbn_test_set_hooks(const vkbn_test_hooks* hooks) { g_hooks = hooks ? *hooks : vkbn_test_hooks_none(); }

const vkbn_test_hooks* vkbn__test_hooks(void) { return &g_hooks; }
