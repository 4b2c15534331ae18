/* Public entry points that belong to Vulkan alone and take no vkbn context:
 * what a device must offer and enable for vkbn (vkbn.h, "Embedding in an
 * engine"). */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

#define REQUIRE VKBN_REQUIRE

vkbn_result vkbn_vulkan_get_requirements(PFN_vkGetInstanceProcAddr gipa, VkInstance instance,
                                         VkPhysicalDevice physical_device, vkbn_vulkan_requirements* out) {
    REQUIRE(out, "out");
    memset(out, 0, sizeof *out);
    if (!instance) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "instance: required, got VK_NULL_HANDLE");
    if (!physical_device) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "physical_device: required, got VK_NULL_HANDLE");
    if (!gipa) VKBN_CHECK(vkbn__vk_load_loader(&gipa));
    vkbn__instance_fns fn;
    vkbn__vk_load_instance_fns(gipa, instance, &fn);
    if (!fn.GetPhysicalDeviceProperties || !fn.GetPhysicalDeviceFeatures2) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "instance: created for Vulkan 1.0; vkbn needs 1.1");
    }
    return vkbn__vk_requirements(&fn, physical_device, out);
}

void* vkbn_vulkan_chain_features(const vkbn_vulkan_requirements* req, vkbn_vulkan_feature_chain* chain, void* next) {
    if (!req || !chain) return next;
    return vkbn__vk_chain_features(req, chain, next);
}
