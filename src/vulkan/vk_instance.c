/* Creating vkbn's own instance, and describing physical devices (for
 * vkbn_enumerate_devices and for choosing a default). */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "../core/test_hooks.h"
#include "vk_internal.h"

/* Out of memory is the only failure a property query can have; the queries
 * below store it in *failed (the first one), so that instance creation fails
 * rather than going on without a layer or extension. Any other result (a
 * layer that is not present) means "not found". */
static bool out_of_memory(VkResult vr) {
    return vr == VK_ERROR_OUT_OF_HOST_MEMORY || vr == VK_ERROR_OUT_OF_DEVICE_MEMORY;
}

static bool has_layer(PFN_vkGetInstanceProcAddr gipa, const char* name, VkResult* failed) {
    PFN_vkEnumerateInstanceLayerProperties enumerate =
        (PFN_vkEnumerateInstanceLayerProperties)gipa(NULL, "vkEnumerateInstanceLayerProperties");
    uint32_t n = 0;
    VkResult vr = enumerate ? enumerate(&n, NULL) : VK_ERROR_INITIALIZATION_FAILED;
    if (out_of_memory(vr)) *failed = vr;
    if (vr != VK_SUCCESS || n == 0) return false;
    VkLayerProperties* props = vkbn__calloc(n, sizeof *props);
    if (!props) {
        *failed = VK_ERROR_OUT_OF_HOST_MEMORY;
        return false;
    }
    vr = enumerate(&n, props); /* VK_INCOMPLETE: a layer added since; the others are listed */
    if (out_of_memory(vr)) *failed = vr;
    bool found = false;
    for (uint32_t i = 0; vr >= 0 && i < n; ++i) found |= strcmp(props[i].layerName, name) == 0;
    vkbn__free(props);
    return found;
}

/* layer: NULL for the loader's and implicit layers' extensions. */
static bool has_instance_extension(PFN_vkGetInstanceProcAddr gipa, const char* layer, const char* name,
                                   VkResult* failed) {
    PFN_vkEnumerateInstanceExtensionProperties enumerate =
        (PFN_vkEnumerateInstanceExtensionProperties)gipa(NULL, "vkEnumerateInstanceExtensionProperties");
    uint32_t n = 0;
    VkResult vr = enumerate ? enumerate(layer, &n, NULL) : VK_ERROR_INITIALIZATION_FAILED;
    if (out_of_memory(vr)) *failed = vr;
    if (vr != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties* props = vkbn__calloc(n, sizeof *props);
    if (!props) {
        *failed = VK_ERROR_OUT_OF_HOST_MEMORY;
        return false;
    }
    vr = enumerate(layer, &n, props);
    if (out_of_memory(vr)) *failed = vr;
    bool found = false;
    for (uint32_t i = 0; vr >= 0 && i < n; ++i) found |= strcmp(props[i].extensionName, name) == 0;
    vkbn__free(props);
    return found;
}

vkbn_result vkbn__vk_device_extensions(const vkbn__instance_fns* fn, VkPhysicalDevice pd, VkExtensionProperties** out,
                                       uint32_t* count) {
    *out = NULL;
    *count = 0;
    for (;;) {
        uint32_t n = 0;
        VkResult vr = fn->EnumerateDeviceExtensionProperties(pd, NULL, &n, NULL);
        if (vr != VK_SUCCESS)
            return vkbn__fail_vk(vr, "listing device extensions (vkEnumerateDeviceExtensionProperties)");
        VkExtensionProperties* props = vkbn__calloc(n ? n : 1, sizeof *props);
        if (!props) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "listing device extensions: out of host memory");
        vr = fn->EnumerateDeviceExtensionProperties(pd, NULL, &n, props);
        if (vr == VK_SUCCESS) {
            *out = props;
            *count = n;
            return VKBN_SUCCESS;
        }
        vkbn__free(props);
        /* VK_INCOMPLETE: the list grew between the calls (a layer): again. */
        if (vr != VK_INCOMPLETE) {
            return vkbn__fail_vk(vr, "listing device extensions (vkEnumerateDeviceExtensionProperties)");
        }
    }
}

bool vkbn__vk_has_extension(const VkExtensionProperties* exts, uint32_t n, const char* name) {
    for (uint32_t i = 0; i < n; ++i) {
        if (strcmp(exts[i].extensionName, name) == 0) return true;
    }
    return false;
}

vkbn_result vkbn__vk_create_instance(PFN_vkGetInstanceProcAddr gipa, bool validation, bool sync_validation,
                                     const VkAllocationCallbacks* alloc, VkInstance* out, bool* debug_utils) {
    PFN_vkEnumerateInstanceVersion enum_version =
        (PFN_vkEnumerateInstanceVersion)gipa(NULL, "vkEnumerateInstanceVersion");
    uint32_t loader_version = VK_API_VERSION_1_0;
    VkResult version_result = enum_version ? enum_version(&loader_version) : VK_SUCCESS;
    if (version_result != VK_SUCCESS) return vkbn__fail_vk(version_result, "vkEnumerateInstanceVersion");
    if (loader_version < VK_API_VERSION_1_1) {
        return vkbn__fail(VKBN_ERROR_NO_DEVICE, "the Vulkan loader supports only Vulkan 1.0; vkbn needs 1.1");
    }
    const char* layers[1];
    uint32_t layer_count = 0;
    const char* exts[3];
    uint32_t ext_count = 0;
    VkInstanceCreateFlags flags = 0;
    VkResult failed = VK_SUCCESS;
    const char* const listing = "creating a Vulkan instance: listing layers and extensions";
    if (validation) {
        bool layer = has_layer(gipa, "VK_LAYER_KHRONOS_validation", &failed);
        if (failed != VK_SUCCESS) return vkbn__fail_vk(failed, listing);
        if (!layer) {
            return vkbn__fail(VKBN_ERROR_UNSUPPORTED,
                              "desc->flags: VKBN_CONTEXT_ENABLE_VALIDATION needs VK_LAYER_KHRONOS_validation, "
                              "which is not installed");
        }
        layers[layer_count++] = "VK_LAYER_KHRONOS_validation";
    }
    *debug_utils = validation && has_instance_extension(gipa, NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME, &failed);
    if (*debug_utils) exts[ext_count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    /* Validation features of the layer (VK_EXT_validation_features): best
     * practices with every validation (src/vulkan/vk_validation_filter.h
     * lists the warnings that do not apply to compute work), synchronization
     * validation on request. The layer's vendor-specific best practices
     * (NVIDIA, AMD, Arm) have no switch in this struct: layers with
     * VK_EXT_layer_settings take them as settings, older ones (Debian's
     * 1.3.239) from VK_LAYER_ENABLES, which the tests set (tests/test_util.h). */
    VkValidationFeatureEnableEXT enables[2];
    uint32_t enable_count = 0;
    bool features_ext = validation && has_instance_extension(gipa, "VK_LAYER_KHRONOS_validation",
                                                             VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME, &failed);
    if (failed != VK_SUCCESS) return vkbn__fail_vk(failed, listing);
    if (sync_validation && !features_ext) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED,
                          "desc->flags: VKBN_CONTEXT_ENABLE_SYNC_VALIDATION needs the validation layer's %s",
                          VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    }
    if (features_ext) {
        exts[ext_count++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
        enables[enable_count++] = VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT;
        if (sync_validation) enables[enable_count++] = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    }
    VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                        .enabledValidationFeatureCount = enable_count,
                                        .pEnabledValidationFeatures = enables};
    bool portability = has_instance_extension(gipa, NULL, "VK_KHR_portability_enumeration", &failed);
    if (failed != VK_SUCCESS) return vkbn__fail_vk(failed, listing);
    if (portability) {
        /* MoltenVK and other portability drivers are listed only on request. */
        exts[ext_count++] = "VK_KHR_portability_enumeration";
        flags |= 0x00000001; /* VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR */
    }
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkbn",
        .pEngineName = "vkbn",
        .engineVersion = VKBN_VERSION,
        .apiVersion = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_version,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = features_ext ? &features : NULL,
        .flags = flags,
        .pApplicationInfo = &app,
        .enabledLayerCount = layer_count,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = ext_count,
        .ppEnabledExtensionNames = exts,
    };
    PFN_vkCreateInstance create = (PFN_vkCreateInstance)gipa(NULL, "vkCreateInstance");
    VkResult vr = create ? create(&ci, alloc, out) : VK_ERROR_INITIALIZATION_FAILED;
    if (vr == VK_ERROR_INCOMPATIBLE_DRIVER) {
        return vkbn__fail(VKBN_ERROR_NO_DEVICE, "no Vulkan driver is installed (vkCreateInstance: %s)",
                          vkbn__vk_result_name(vr));
    }
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateInstance");
    return VKBN_SUCCESS;
}

void vkbn__vk_load_instance_fns(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, vkbn__instance_fns* fn) {
#define LOAD(name) fn->name = (PFN_vk##name)gipa(instance, "vk" #name)
    LOAD(DestroyInstance);
    LOAD(EnumeratePhysicalDevices);
    LOAD(GetPhysicalDeviceProperties);
    LOAD(GetPhysicalDeviceProperties2);
    LOAD(GetPhysicalDeviceFeatures2);
    LOAD(GetPhysicalDeviceMemoryProperties);
    LOAD(GetPhysicalDeviceQueueFamilyProperties);
    LOAD(EnumerateDeviceExtensionProperties);
    LOAD(CreateDevice);
    LOAD(GetDeviceProcAddr);
    LOAD(CreateDebugUtilsMessengerEXT);
    LOAD(DestroyDebugUtilsMessengerEXT);
#undef LOAD
}

bool vkbn__vk_has_compute_queue(const vkbn__instance_fns* fn, VkPhysicalDevice pd) {
    uint32_t n = 0;
    fn->GetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties props[32];
    if (n > 32) n = 32;
    fn->GetPhysicalDeviceQueueFamilyProperties(pd, &n, props);
    for (uint32_t i = 0; i < n; ++i) {
        if (props[i].queueFlags & VK_QUEUE_COMPUTE_BIT) return true;
    }
    return false;
}

vkbn_result vkbn__vk_list_devices(const vkbn__instance_fns* fn, VkInstance instance, VkPhysicalDevice** out,
                                  uint32_t* count) {
    uint32_t n = 0;
    VkResult vr = fn->EnumeratePhysicalDevices(instance, &n, NULL);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkEnumeratePhysicalDevices");
    VkPhysicalDevice* all = vkbn__calloc(n ? n : 1, sizeof *all);
    if (!all) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "listing devices: out of host memory");
    vr = fn->EnumeratePhysicalDevices(instance, &n, all);
    if (vr != VK_SUCCESS && vr != VK_INCOMPLETE) {
        vkbn__free(all);
        return vkbn__fail_vk(vr, "vkEnumeratePhysicalDevices");
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; ++i) {
        VkPhysicalDeviceProperties p;
        fn->GetPhysicalDeviceProperties(all[i], &p);
        if (p.apiVersion >= VK_API_VERSION_1_1 && vkbn__vk_has_compute_queue(fn, all[i])) all[kept++] = all[i];
    }
    *out = all;
    *count = kept;
    return VKBN_SUCCESS;
}

vkbn_device_type vkbn__vk_device_type(VkPhysicalDeviceType type) {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return VKBN_DEVICE_TYPE_INTEGRATED_GPU;
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return VKBN_DEVICE_TYPE_DISCRETE_GPU;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return VKBN_DEVICE_TYPE_VIRTUAL_GPU;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return VKBN_DEVICE_TYPE_VULKAN_CPU;
        default: return VKBN_DEVICE_TYPE_OTHER;
    }
}

const char* vkbn__vk_vendor_name(uint32_t id, VkPhysicalDeviceType type) {
    switch (id) {
        case 0x10DE: return "NVIDIA";
        case 0x1002: return "AMD";
        case 0x1022: return "AMD";
        case 0x8086: return "Intel";
        case 0x13B5: return "Arm";
        case 0x5143: return "Qualcomm";
        case 0x106B: return "Apple";
        case 0x1010: return "Imagination";
        case 0x14E4: return "Broadcom";
        case 0x10005: return "Mesa";
        case 0x1AE0: return "Google";
        case 0x19E5: return "Huawei";
        case 0x144D: return "Samsung";
        default: return type == VK_PHYSICAL_DEVICE_TYPE_CPU ? "CPU" : "unknown";
    }
}

static void copy_string(char* dst, size_t cap, const char* src) { snprintf(dst, cap, "%s", src); }

vkbn_result vkbn__vk_describe_device(const vkbn__instance_fns* fn, VkPhysicalDevice pd, vkbn_device_info* info) {
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceProperties base;
    fn->GetPhysicalDeviceProperties(pd, &base);

    uint32_t ext_count = 0;
    VkExtensionProperties* exts = NULL;
    VKBN_CHECK(vkbn__vk_device_extensions(fn, pd, &exts, &ext_count));
    bool has_driver_props = base.apiVersion >= VK_API_VERSION_1_2 ||
                            vkbn__vk_has_extension(exts, ext_count, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    bool has_ssc = base.apiVersion >= VK_API_VERSION_1_3 ||
                   vkbn__vk_has_extension(exts, ext_count, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    vkbn__free(exts);

    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
                                                 .pNext = &sg};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties ssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    void* chain = &m3;
    if (has_driver_props) {
        drv.pNext = chain;
        chain = &drv;
    }
    if (has_ssc) {
        ssc.pNext = chain;
        chain = &ssc;
    }
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = chain};
    fn->GetPhysicalDeviceProperties2(pd, &p2);

    VkPhysicalDevice16BitStorageFeatures f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures sscf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES, .pNext = &f16};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = has_ssc ? (void*)&sscf : (void*)&f16};
    fn->GetPhysicalDeviceFeatures2(pd, &f2);

    VkPhysicalDeviceMemoryProperties mem;
    fn->GetPhysicalDeviceMemoryProperties(pd, &mem);
    uint64_t local = 0;
    for (uint32_t i = 0; i < mem.memoryHeapCount; ++i) {
        if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mem.memoryHeaps[i].size > local) {
            local = mem.memoryHeaps[i].size;
        }
    }
    uint32_t qn = 0;
    fn->GetPhysicalDeviceQueueFamilyProperties(pd, &qn, NULL);
    VkQueueFamilyProperties qp[32];
    if (qn > 32) qn = 32;
    fn->GetPhysicalDeviceQueueFamilyProperties(pd, &qn, qp);
    uint32_t ts_bits = 0;
    for (uint32_t i = 0; i < qn; ++i) {
        if ((qp[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && qp[i].timestampValidBits > ts_bits) {
            ts_bits = qp[i].timestampValidBits;
        }
    }

    info->backend = VKBN_BACKEND_VULKAN;
    info->type = vkbn__vk_device_type(base.deviceType);
    uint64_t faked = vkbn__test_hooks()->vulkan_device_type;
    if (faked != VKBN_TEST_HOOK_UNSET) info->type = (vkbn_device_type)faked;
    copy_string(info->name, sizeof info->name, base.deviceName);
    copy_string(info->vendor, sizeof info->vendor, vkbn__vk_vendor_name(base.vendorID, base.deviceType));
    info->vendor_id = base.vendorID;
    info->device_id = base.deviceID;
    if (has_driver_props) {
        copy_string(info->driver_name, sizeof info->driver_name, drv.driverName);
        copy_string(info->driver_info, sizeof info->driver_info, drv.driverInfo);
    }
    info->api_version = base.apiVersion;
    info->driver_version = base.driverVersion;
    bool compute_sg = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    info->subgroup_size = sg.subgroupSize;
    info->subgroup_operations = compute_sg ? sg.supportedOperations : 0;
    info->subgroup_size_control = has_ssc && sscf.subgroupSizeControl;
    info->min_subgroup_size = info->subgroup_size_control ? ssc.minSubgroupSize : sg.subgroupSize;
    info->max_subgroup_size = info->subgroup_size_control ? ssc.maxSubgroupSize : sg.subgroupSize;
    info->storage_16bit = f16.storageBuffer16BitAccess;
    info->timestamps = ts_bits > 0 && base.limits.timestampPeriod > 0.0f;
    info->timestamp_period_ns = base.limits.timestampPeriod;
    info->device_local_memory = local;
    info->max_storage_buffer_range = base.limits.maxStorageBufferRange;
    info->max_allocation_size = m3.maxMemoryAllocationSize;
    info->max_workgroup_invocations = base.limits.maxComputeWorkGroupInvocations;
    info->max_shared_memory = base.limits.maxComputeSharedMemorySize;
    info->min_storage_buffer_offset_alignment = (uint32_t)base.limits.minStorageBufferOffsetAlignment;
    return VKBN_SUCCESS;
}

uint32_t vkbn__vk_best_device(const vkbn_device_info* infos, uint32_t count, int min_rank, int max_rank) {
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < count; ++i) {
        int r = vkbn__device_rank(infos[i].type);
        if (r < min_rank || r > max_rank) continue;
        int b = best == UINT32_MAX ? -1 : vkbn__device_rank(infos[best].type);
        if (r > b || (r == b && infos[i].device_local_memory > infos[best].device_local_memory)) best = i;
    }
    return best;
}
