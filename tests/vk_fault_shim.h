/* A stand-in for the Vulkan loader, for fault injection: vkbn loads every
 * function through vk_fault_shim_gipa (test hook vk_get_instance_proc_addr),
 * which forwards to the system loader and, in between:
 *   - counts the calls that may fail (those returning VkResult: creations,
 *     allocations, maps, command buffer begin/end, submission, waits) and
 *     makes the k-th of them fail with VK_ERROR_OUT_OF_DEVICE_MEMORY (memory
 *     allocation, binding, mapping) or VK_ERROR_OUT_OF_HOST_MEMORY (all
 *     others), without calling the driver;
 *   - can lose the device at the k-th submission or fence wait: that call
 *     and every later submission, wait and query on any device return
 *     VK_ERROR_DEVICE_LOST (as a real lost device does) until the shim is
 *     reset;
 *   - counts the Vulkan objects alive (created minus destroyed; command
 *     buffers and descriptor sets belong to their pools and are not counted).
 * Process-wide and test-only, like the hooks. */
#ifndef VKBN_TEST_VK_FAULT_SHIM_H_
#define VKBN_TEST_VK_FAULT_SHIM_H_

#include <stdint.h>

#include <vulkan/vulkan.h>

/* The shim's vkGetInstanceProcAddr, for vkbn_test_hooks.vk_get_instance_proc_addr. */
PFN_vkVoidFunction VKAPI_CALL vk_fault_shim_gipa(VkInstance instance, const char* name);

/* Restarts the count of fallible calls; the k-th from now fails (0: none). */
void vk_fault_shim_fail_at(uint64_t k);
/* Restarts the count of submissions and waits; the k-th from now loses the
 * device (0: none, and the device is found again). */
void vk_fault_shim_lose_device_at(uint64_t k);
/* Fallible calls since the last vk_fault_shim_fail_at. */
uint64_t vk_fault_shim_calls(void);
/* Submissions that reached the driver since the last vk_fault_shim_fail_at:
 * work that may have run, and written, before a later call failed. */
uint64_t vk_fault_shim_submitted(void);
/* Submissions and fence waits since the last vk_fault_shim_lose_device_at. */
uint64_t vk_fault_shim_submits_and_waits(void);
/* Objects alive (created through the shim, not yet destroyed). */
int64_t vk_fault_shim_live_objects(void);
/* The name of the call that failed last (NULL if none). */
const char* vk_fault_shim_failed_call(void);

#endif
