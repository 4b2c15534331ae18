/* What vkbn needs and can use on a physical device: the one answer behind
 * vkbn_vulkan_get_requirements (for engines that create the device) and
 * behind the device vkbn creates for itself, so both enable the same. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

vkbn_result vkbn__vk_requirements(const vkbn__instance_fns* fn, VkPhysicalDevice pd, vkbn_vulkan_requirements* out) {
    memset(out, 0, sizeof *out);
    VkPhysicalDeviceProperties props;
    fn->GetPhysicalDeviceProperties(pd, &props);
    if (props.apiVersion < VK_API_VERSION_1_1) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "physical_device: %s supports Vulkan %u.%u; vkbn needs 1.1",
                          props.deviceName, VK_API_VERSION_MAJOR(props.apiVersion),
                          VK_API_VERSION_MINOR(props.apiVersion));
    }
    if (!vkbn__vk_has_compute_queue(fn, pd)) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "physical_device: %s has no compute queue", props.deviceName);
    }
    if (props.limits.maxPerStageDescriptorStorageBuffers < BIND_MAX_COUNT) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE,
                          "physical_device: %s allows %u storage buffers per shader stage; vkbn needs %u",
                          props.deviceName, props.limits.maxPerStageDescriptorStorageBuffers, BIND_MAX_COUNT);
    }
    out->min_api_version = VK_API_VERSION_1_1;
    out->api_version = props.apiVersion < VK_API_VERSION_1_3 ? props.apiVersion : VK_API_VERSION_1_3;
    out->queue_flags = VK_QUEUE_COMPUTE_BIT;

    uint32_t n = 0;
    VkExtensionProperties* exts = NULL;
    VKBN_CHECK(vkbn__vk_device_extensions(fn, pd, &exts, &n));
    bool core13 = props.apiVersion >= VK_API_VERSION_1_3;
    bool ssc = core13 || vkbn__vk_has_extension(exts, n, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    /* Static strings, so the caller may keep the pointers. */
    if (!core13 && ssc) out->extensions[out->extension_count++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    if (!core13 && vkbn__vk_has_extension(exts, n, VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME)) {
        out->extensions[out->extension_count++] = VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME;
    }
    bool core12 = props.apiVersion >= VK_API_VERSION_1_2;
    bool vmm = core12 || vkbn__vk_has_extension(exts, n, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    /* Required by the spec whenever the device offers it (MoltenVK). */
    if (vkbn__vk_has_extension(exts, n, "VK_KHR_portability_subset"))
        out->extensions[out->extension_count++] = "VK_KHR_portability_subset";
    bool priority_ext = vkbn__vk_has_extension(exts, n, VK_EXT_MEMORY_PRIORITY_EXTENSION_NAME);
    vkbn__free(exts);

    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures sscf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES, .pNext = &s16};
    VkPhysicalDeviceVulkanMemoryModelFeatures vmmf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    VkPhysicalDeviceMemoryPriorityFeaturesEXT mpf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PRIORITY_FEATURES_EXT};
    void* head = ssc ? (void*)&sscf : (void*)&s16;
    if (vmm) {
        vmmf.pNext = head;
        head = &vmmf;
    }
    if (priority_ext) {
        mpf.pNext = head;
        head = &mpf;
    }
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = head};
    fn->GetPhysicalDeviceFeatures2(pd, &f2);
    out->storage_buffer_16bit_access = s16.storageBuffer16BitAccess;
    /* The last-workgroup merge needs both (merge.glsl). */
    bool mm = vmm && vmmf.vulkanMemoryModel && vmmf.vulkanMemoryModelDeviceScope;
    out->vulkan_memory_model = mm;
    out->vulkan_memory_model_device_scope = mm;
    if (mm && !core12) out->extensions[out->extension_count++] = VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME;
    /* Memory priorities for vkbn's allocations (vk_memory.c): where the
     * driver can keep the small, every-run buffers resident under pressure. */
    out->memory_priority = priority_ext && mpf.memoryPriority;
    if (out->memory_priority) out->extensions[out->extension_count++] = VK_EXT_MEMORY_PRIORITY_EXTENSION_NAME;
    /* The subgroup path needs both: full subgroups are requested per pipeline. */
    bool both = ssc && sscf.subgroupSizeControl && sscf.computeFullSubgroups;
    out->subgroup_size_control = both;
    out->compute_full_subgroups = both;
    return VKBN_SUCCESS;
}

void* vkbn__vk_chain_features(const vkbn_vulkan_requirements* req, vkbn_vulkan_feature_chain* chain, void* next) {
    memset(chain, 0, sizeof *chain);
    void* head = next;
    if (req->subgroup_size_control || req->compute_full_subgroups) {
        chain->subgroup_size_control.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES;
        chain->subgroup_size_control.subgroupSizeControl = req->subgroup_size_control;
        chain->subgroup_size_control.computeFullSubgroups = req->compute_full_subgroups;
        chain->subgroup_size_control.pNext = head;
        head = &chain->subgroup_size_control;
    }
    if (req->vulkan_memory_model || req->vulkan_memory_model_device_scope) {
        chain->memory_model.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES;
        chain->memory_model.vulkanMemoryModel = req->vulkan_memory_model;
        chain->memory_model.vulkanMemoryModelDeviceScope = req->vulkan_memory_model_device_scope;
        chain->memory_model.pNext = head;
        head = &chain->memory_model;
    }
    if (req->memory_priority) {
        chain->memory_priority.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PRIORITY_FEATURES_EXT;
        chain->memory_priority.memoryPriority = VK_TRUE;
        chain->memory_priority.pNext = head;
        head = &chain->memory_priority;
    }
    if (req->storage_buffer_16bit_access) {
        chain->storage_16bit.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES;
        chain->storage_16bit.storageBuffer16BitAccess = VK_TRUE;
        chain->storage_16bit.pNext = head;
        head = &chain->storage_16bit;
    }
    return head;
}
