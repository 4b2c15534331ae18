/* An engine links the Vulkan loader and calls Vulkan itself, with vkbn in the
 * same program: vkbn must define no Vulkan or volk symbol that could shadow the
 * loader's (cmake/VolkPrivate.cmake). Calls the loader directly, then vkbn. */
#include <vulkan/vulkan.h>

#include "test_util.h"

int main(void) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkInstance instance = VK_NULL_HANDLE;
    VkResult vr = vkCreateInstance(&ci, NULL, &instance);
    if (vr == VK_ERROR_INCOMPATIBLE_DRIVER) {
        printf("SKIP: no Vulkan driver\n");
        return TEST_SKIP;
    }
    CHECK(vr == VK_SUCCESS, "the engine's own vkCreateInstance: %d", (int)vr);
    uint32_t n = 0;
    CHECK(vkEnumeratePhysicalDevices(instance, &n, NULL) == VK_SUCCESS && n > 0, "the engine enumerates devices");
    vkbn_context ctx = test_context(0, 0);
    vkbn_buffer b = NULL;
    CHECK(vkbn_buffer_create(ctx, 64, &b) == VKBN_SUCCESS, "vkbn works beside it: %s", vkbn_last_error());
    vkbn_buffer_destroy(b);
    vkbn_context_destroy(ctx);
    uint32_t m = 0;
    CHECK(vkEnumeratePhysicalDevices(instance, &m, NULL) == VK_SUCCESS && m == n, "the engine's instance still works");
    vkDestroyInstance(instance, NULL);
    return test_summary();
}
