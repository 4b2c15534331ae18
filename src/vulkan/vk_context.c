/* A Vulkan context: vkbn's own instance and device, or a borrowed device;
 * capabilities; the immediate-submission machinery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/backend.h"
#include "../core/debug_env.h"
#include "../core/errors.h"
#include "vk_internal.h"
#include "vk_validation_filter.h"

static VkResult settle_in_flight(struct vkbn__vk* vk);

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                            VkDebugUtilsMessageTypeFlagsEXT types,
                                                            const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                            void* user) {
    (void)types;
    struct vkbn__vk* vk = user;
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    const char* ignored = vkbn__validation_ignored(data ? data->pMessageIdName : NULL, vk->caps.memory_priority);
    if (ignored) {
        vkbn__log(vk->ctx, VKBN_LOG_DEBUG, "validation (ignored: %s): %s", ignored,
                  data->pMessage ? data->pMessage : "(no message)");
        return VK_FALSE;
    }
    vkbn__atomic_inc64(&vk->validation_messages);
    vkbn__log(vk->ctx, severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? VKBN_LOG_ERROR : VKBN_LOG_WARNING,
              "validation: %s", data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

int32_t vkbn__vk_find_memory_type(const VkPhysicalDeviceMemoryProperties* mem, uint32_t allowed,
                                  VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) {
    int32_t best = -1;
    int best_score = -1;
    for (uint32_t i = 0; i < mem->memoryTypeCount; ++i) {
        VkMemoryPropertyFlags f = mem->memoryTypes[i].propertyFlags;
        if (!(allowed & (1u << i)) || (f & required) != required) continue;
        int score = 0;
        for (VkMemoryPropertyFlags bits = f & preferred; bits; bits &= bits - 1) ++score;
        if (score > best_score) {
            best = (int32_t)i;
            best_score = score;
        }
    }
    return best;
}

/* Picks the device req asks for: an index into this backend's list, or the
 * best device ranked within req's range (VKBN_ERROR_NO_DEVICE when none is:
 * core then asks the next backend for the default). */
static vkbn_result pick_device(struct vkbn__vk* vk, vkbn__device_request* req, vkbn_device_info* info) {
    VkPhysicalDevice* pds = NULL;
    uint32_t n = 0;
    VKBN_CHECK(vkbn__vk_list_devices(&vk->fn, vk->instance, &pds, &n));
    req->listed = n;
    if (n == 0) {
        vkbn__free(pds);
        return vkbn__fail(VKBN_ERROR_NO_DEVICE, "no Vulkan 1.1 device with a compute queue was found");
    }
    vkbn_device_info* infos = vkbn__calloc(n, sizeof *infos);
    if (!infos) {
        vkbn__free(pds);
        return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "listing devices: out of host memory");
    }
    for (uint32_t i = 0; i < n; ++i) {
        vkbn_result described = vkbn__vk_describe_device(&vk->fn, pds[i], &infos[i]);
        if (described != VKBN_SUCCESS) {
            vkbn__free(infos);
            vkbn__free(pds);
            return described;
        }
        infos[i].index = i;
    }
    uint32_t own_best = vkbn__vk_best_device(infos, n, 0, VKBN__RANK_MAX);
    infos[own_best].is_default = 1; /* this backend's best; core sets the context's is_default */
    uint32_t chosen = UINT32_MAX;
    vkbn_result r = VKBN_SUCCESS;
    if (!req->device) {
        chosen = vkbn__vk_best_device(infos, n, req->min_rank, req->max_rank);
        if (chosen == UINT32_MAX) {
            r = vkbn__fail(VKBN_ERROR_NO_DEVICE,
                           "no Vulkan device ranks from %d to %d (%u device%s; the best, \"%s\", ranks %d)",
                           req->min_rank, req->max_rank, n, n == 1 ? "" : "s", infos[own_best].name,
                           vkbn__device_rank(infos[own_best].type));
        }
    } else {
        char* end = NULL;
        unsigned long idx = strtoul(req->device, &end, 10);
        if (end && *end == 0 && idx < n) chosen = (uint32_t)idx;
        if (chosen == UINT32_MAX) {
            r = vkbn__fail(VKBN_ERROR_DEVICE_NOT_FOUND,
                           "desc->device: no Vulkan device matches \"%s\" (%u device%s; see `vkbn devices`)",
                           req->device, n, n == 1 ? "" : "s");
        }
    }
    if (r == VKBN_SUCCESS) {
        vk->phys = pds[chosen];
        *info = infos[chosen];
    }
    vkbn__free(infos);
    vkbn__free(pds);
    return r;
}

static uint32_t pick_queue_family(struct vkbn__vk* vk, uint32_t* timestamp_bits) {
    uint32_t n = 0;
    vk->fn.GetPhysicalDeviceQueueFamilyProperties(vk->phys, &n, NULL);
    VkQueueFamilyProperties props[32];
    if (n > 32) n = 32;
    vk->fn.GetPhysicalDeviceQueueFamilyProperties(vk->phys, &n, props);
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < n; ++i) {
        if (!(props[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (best == UINT32_MAX || (props[best].timestampValidBits == 0 && props[i].timestampValidBits > 0)) best = i;
    }
    *timestamp_bits = best == UINT32_MAX ? 0 : props[best].timestampValidBits;
    return best;
}

/* vkbn's own device: enable what vkbn_vulkan_get_requirements lists. */
static vkbn_result create_own_device(struct vkbn__vk* vk, const vkbn_device_info* info) {
    uint32_t ts_bits = 0;
    vk->queue_family = pick_queue_family(vk, &ts_bits);
    vk->caps.timestamp_bits = ts_bits;
    vkbn_vulkan_requirements req;
    VKBN_CHECK(vkbn__vk_requirements(&vk->fn, vk->phys, &req));
    vkbn_vulkan_feature_chain chain;
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                          .pNext = vkbn__vk_chain_features(&req, &chain, NULL)};
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = vk->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &priority};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = &features,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = req.extension_count,
                              .ppEnabledExtensionNames = req.extensions};
    VkResult vr = vk->fn.CreateDevice(vk->phys, &dci, vk->alloc, &vk->device);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateDevice");
    vk->own_device = true;
    vk->caps.storage16 = req.storage_buffer_16bit_access;
    vk->caps.memory_model = req.vulkan_memory_model && req.vulkan_memory_model_device_scope;
    vk->caps.subgroup_size_control = req.subgroup_size_control;
    vk->caps.full_subgroups = req.compute_full_subgroups;
    vk->caps.memory_priority = req.memory_priority;
    vk->caps.creation_feedback = info->api_version >= VK_API_VERSION_1_3;
    for (uint32_t i = 0; i < req.extension_count; ++i) {
        vk->caps.creation_feedback |= strcmp(req.extensions[i], VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME) == 0;
    }
    return VKBN_SUCCESS;
}

/* A borrowed device: learn what the caller enabled from its create info. */
static void read_borrowed_features(struct vkbn__vk* vk, const VkDeviceCreateInfo* ci, uint32_t api) {
    if (!ci) return;
    bool ssc_ext = api >= VK_API_VERSION_1_3;
    bool vmm_ext = api >= VK_API_VERSION_1_2;
    bool priority_ext = false;
    vk->caps.creation_feedback = api >= VK_API_VERSION_1_3;
    for (uint32_t i = 0; i < ci->enabledExtensionCount; ++i) {
        const char* e = ci->ppEnabledExtensionNames[i];
        ssc_ext |= strcmp(e, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME) == 0;
        vmm_ext |= strcmp(e, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME) == 0;
        priority_ext |= strcmp(e, VK_EXT_MEMORY_PRIORITY_EXTENSION_NAME) == 0;
        vk->caps.creation_feedback |= strcmp(e, VK_EXT_PIPELINE_CREATION_FEEDBACK_EXTENSION_NAME) == 0;
    }
    for (const VkBaseInStructure* s = ci->pNext; s; s = s->pNext) {
        switch (s->sType) {
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES:
                vk->caps.storage16 |= ((const VkPhysicalDevice16BitStorageFeatures*)s)->storageBuffer16BitAccess;
                break;
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES:
                vk->caps.storage16 |= ((const VkPhysicalDeviceVulkan11Features*)s)->storageBuffer16BitAccess;
                break;
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES: {
                const VkPhysicalDeviceSubgroupSizeControlFeatures* f = (const void*)s;
                vk->caps.subgroup_size_control |= ssc_ext && f->subgroupSizeControl;
                vk->caps.full_subgroups |= ssc_ext && f->computeFullSubgroups;
                break;
            }
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES: {
                const VkPhysicalDeviceVulkanMemoryModelFeatures* f = (const void*)s;
                vk->caps.memory_model |= vmm_ext && f->vulkanMemoryModel && f->vulkanMemoryModelDeviceScope;
                break;
            }
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES: {
                const VkPhysicalDeviceVulkan12Features* f = (const void*)s;
                vk->caps.memory_model |= vmm_ext && f->vulkanMemoryModel && f->vulkanMemoryModelDeviceScope;
                break;
            }
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES: {
                const VkPhysicalDeviceVulkan13Features* f = (const void*)s;
                vk->caps.subgroup_size_control |= f->subgroupSizeControl;
                vk->caps.full_subgroups |= f->computeFullSubgroups;
                break;
            }
            case VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PRIORITY_FEATURES_EXT:
                /* VkMemoryPriorityAllocateInfoEXT is valid only with both. */
                vk->caps.memory_priority |=
                    priority_ext && ((const VkPhysicalDeviceMemoryPriorityFeaturesEXT*)s)->memoryPriority;
                break;
            default: break;
        }
    }
}

static vkbn_result read_compute_unit_count(struct vkbn__vk* vk) {
    VkExtensionProperties* exts = NULL;
    uint32_t n = 0;
    VKBN_CHECK(vkbn__vk_device_extensions(&vk->fn, vk->phys, &exts, &n));
    bool nv = vkbn__vk_has_extension(exts, n, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME);
    bool amd = !nv && vkbn__vk_has_extension(exts, n, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME);
    vkbn__free(exts);
    if (nv) {
        VkPhysicalDeviceShaderSMBuiltinsPropertiesNV sm = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sm};
        vk->fn.GetPhysicalDeviceProperties2(vk->phys, &p2);
        vk->caps.sm_count = sm.shaderSMCount;
    } else if (amd) {
        VkPhysicalDeviceShaderCorePropertiesAMD core = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &core};
        vk->fn.GetPhysicalDeviceProperties2(vk->phys, &p2);
        vk->caps.sm_count = core.shaderEngineCount * core.shaderArraysPerEngineCount * core.computeUnitsPerShaderArray;
    }
    return VKBN_SUCCESS;
}

static vkbn_result create_submit_objects(struct vkbn__vk* vk) {
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                   .queueFamilyIndex = vk->queue_family};
    VkResult vr = vk->d.vkCreateCommandPool(vk->device, &pci, vk->alloc, &vk->cmd_pool);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateCommandPool");
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = vk->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    vr = vk->d.vkAllocateCommandBuffers(vk->device, &cai, &vk->cmd);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vr = vk->d.vkCreateFence(vk->device, &fci, vk->alloc, &vk->fence);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateFence");
    if (vk->caps.timestamp_bits > 0) {
        VkQueryPoolCreateInfo qci = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = VK_QUERY_TYPE_TIMESTAMP, .queryCount = 2};
        vr = vk->d.vkCreateQueryPool(vk->device, &qci, vk->alloc, &vk->timestamps);
        if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateQueryPool");
    }
    return VKBN_SUCCESS;
}

static vkbn_result choose_buffer_memory(struct vkbn__vk* vk, vkbn_device_type type) {
    const VkMemoryPropertyFlags local = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    const VkMemoryPropertyFlags fast_host = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    int32_t t = -1;
    /* Unified memory (integrated GPUs, CPU drivers): map buffers directly. On
     * discrete GPUs host-visible device memory is slow to read back, so buffers
     * live in plain device memory and transfers go through staging. */
    if (type == VKBN_DEVICE_TYPE_INTEGRATED_GPU || type == VKBN_DEVICE_TYPE_VULKAN_CPU) {
        t = vkbn__vk_find_memory_type(&vk->caps.mem, ~0u, local | host, fast_host);
    }
    vk->buffer_mappable = t >= 0;
    if (t < 0) t = vkbn__vk_find_memory_type(&vk->caps.mem, ~0u, local, 0);
    if (t < 0) t = vkbn__vk_find_memory_type(&vk->caps.mem, ~0u, 0, 0);
    if (t < 0) return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "the device exposes no memory type");
    vk->buffer_memory_type = (uint32_t)t;
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_choose_planning(struct vkbn__vk* vk, const vkbn_context_desc* desc) {
    vk->bind_align = vk->caps.min_sboa > 16 ? vk->caps.min_sboa : 16;
    vk->max_binding_range = vk->caps.max_range;
    if (desc->max_binding_range && desc->max_binding_range < vk->max_binding_range) {
        vk->max_binding_range = desc->max_binding_range;
    }
    if (vk->max_binding_range < 4096) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->max_binding_range: must be at least 4096, got %llu",
                          (unsigned long long)vk->max_binding_range);
    }
    const VkSubgroupFeatureFlags needed = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
    bool disabled = desc->flags & VKBN_CONTEXT_DISABLE_SUBGROUPS;
    vkbn__vk_choose_tuning(&vk->caps, &vk->tuning);
    /* The butterfly reads every lane, so it runs only where pipelines can
     * require full subgroups; elsewhere the shared-memory path. */
    vk->use_subgroups = !disabled && (vk->caps.subgroup_ops & needed) == needed && vk->caps.subgroup_size >= 4 &&
                        vk->caps.max_subgroup_size <= vk->tuning.workgroup_size && vk->caps.full_subgroups;
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_context_create(vkbn_context ctx, const vkbn_context_desc* desc, vkbn__device_request* req) {
    if (desc->profile) return vkbn__vk_profile_context_create(ctx, desc);
    struct vkbn__vk* vk = vkbn__calloc(1, sizeof *vk);
    if (!vk) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_context_create: out of host memory");
    ctx->impl = vk;
    vk->ctx = ctx;
    vk->alloc = desc->allocation_callbacks;
    vkbn__mutex_init(&vk->pipeline_lock);
    vkbn__mutex_init(&vk->submit_lock);
    vkbn__mutex_init(&vk->memory_lock);
    const vkbn_vulkan_device* b = desc->borrowed;
    bool sync_validation = desc->flags & VKBN_CONTEXT_ENABLE_SYNC_VALIDATION;
    bool validation = sync_validation || (desc->flags & VKBN_CONTEXT_ENABLE_VALIDATION) || vkbn__debug_validation();

    if (b) {
        if (!b->instance || !b->physical_device || !b->device) {
            return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT,
                              "desc->borrowed: instance, physical_device and device are all required");
        }
        vk->lock_queue = b->lock_queue;
        vk->lock_queue_user_data = b->lock_queue_user_data;
        if (b->api_version < VK_API_VERSION_1_1) {
            return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "desc->borrowed->api_version: vkbn needs Vulkan 1.1");
        }
        if (b->get_instance_proc_addr) {
            vk->gipa = b->get_instance_proc_addr;
        } else {
            VKBN_CHECK(vkbn__vk_load_loader(&vk->gipa));
        }
        vk->instance = b->instance;
        vk->phys = b->physical_device;
        vk->device = b->device;
        vk->queue = b->queue;
        vk->queue_family = b->queue_family_index;
        vkbn__vk_load_instance_fns(vk->gipa, vk->instance, &vk->fn);
        VKBN_CHECK(vkbn__vk_describe_device(&vk->fn, vk->phys, &ctx->info));
        uint32_t qn = 0;
        vk->fn.GetPhysicalDeviceQueueFamilyProperties(vk->phys, &qn, NULL);
        VkQueueFamilyProperties qp[32];
        if (qn > 32) qn = 32;
        vk->fn.GetPhysicalDeviceQueueFamilyProperties(vk->phys, &qn, qp);
        if (vk->queue_family >= qn || !(qp[vk->queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT)) {
            return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                              "desc->borrowed->queue_family_index: %u is not a compute queue family", vk->queue_family);
        }
        vk->caps.timestamp_bits = qp[vk->queue_family].timestampValidBits;
        /* Device features are usable up to the lower of the two versions. */
        uint32_t api = b->api_version < ctx->info.api_version ? b->api_version : ctx->info.api_version;
        read_borrowed_features(vk, b->create_info, api);
        VKBN_CHECK(vkbn__vk_load_device_table(vk->gipa, vk->instance, vk->device, &vk->d));
    } else {
        VKBN_CHECK(vkbn__vk_load_loader(&vk->gipa));
        bool debug_utils = false;
        VKBN_CHECK(
            vkbn__vk_create_instance(vk->gipa, validation, sync_validation, vk->alloc, &vk->instance, &debug_utils));
        vk->own_instance = true;
        vkbn__vk_load_instance_fns(vk->gipa, vk->instance, &vk->fn);
        if (debug_utils && vk->fn.CreateDebugUtilsMessengerEXT) {
            VkDebugUtilsMessengerCreateInfoEXT mci = {
                .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                .messageSeverity =
                    VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                .pfnUserCallback = on_validation_message,
                .pUserData = vk};
            VkResult vr = vk->fn.CreateDebugUtilsMessengerEXT(vk->instance, &mci, vk->alloc, &vk->messenger);
            if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateDebugUtilsMessengerEXT");
        }
        VKBN_CHECK(pick_device(vk, req, &ctx->info));
        VKBN_CHECK(create_own_device(vk, &ctx->info));
        VKBN_CHECK(vkbn__vk_load_device_table(vk->gipa, vk->instance, vk->device, &vk->d));
        vk->d.vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);
    }

    /* Capabilities as enabled on this device. */
    const vkbn_device_info* info = &ctx->info;
    vk->fn.GetPhysicalDeviceProperties(vk->phys, &vk->caps.props);
    vk->fn.GetPhysicalDeviceMemoryProperties(vk->phys, &vk->caps.mem);
    vk->caps.subgroup_size = info->subgroup_size;
    vk->caps.min_subgroup_size = info->min_subgroup_size;
    vk->caps.max_subgroup_size = info->max_subgroup_size;
    vk->caps.subgroup_ops = info->subgroup_operations;
    vk->caps.max_alloc = info->max_allocation_size ? info->max_allocation_size : UINT64_MAX;
    vk->caps.max_range = info->max_storage_buffer_range;
    vk->caps.min_sboa = info->min_storage_buffer_offset_alignment ? info->min_storage_buffer_offset_alignment : 1;
    snprintf(vk->caps.driver_name, sizeof vk->caps.driver_name, "%s", info->driver_name);
    snprintf(vk->caps.driver_info, sizeof vk->caps.driver_info, "%s", info->driver_info);
    ctx->info.storage_16bit = vk->caps.storage16;
    ctx->info.subgroup_size_control = vk->caps.subgroup_size_control;
    ctx->info.timestamps = vk->caps.timestamp_bits > 0 && vk->caps.props.limits.timestampPeriod > 0.0f;
    VKBN_CHECK(read_compute_unit_count(vk));

    VKBN_CHECK(vkbn__vk_choose_planning(vk, desc));

    VKBN_CHECK(choose_buffer_memory(vk, info->type));
    if (vk->queue) VKBN_CHECK(create_submit_objects(vk));
    VKBN_CHECK(vkbn__vk_pipelines_init(vk));
    VKBN_CHECK(vkbn__vk_cache_init(vk, desc));
    VKBN_CHECK(vkbn__vk_create_buffer(vk, 256, vk->buffer_memory_type, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                                      VKBN__MEM_SCRATCH, &vk->dummy, &vk->dummy_allocation,
                                      "creating a placeholder buffer"));
    vkbn__log(ctx, VKBN_LOG_INFO, "vkbn: %s (%s), subgroups %s, memory priority %s, tuning %s", info->name,
              info->driver_info, vk->use_subgroups ? "on" : "off", vk->caps.memory_priority ? "on" : "off",
              vk->tuning.source);
    return VKBN_SUCCESS;
}

void vkbn__vk_context_destroy(vkbn_context ctx) {
    struct vkbn__vk* vk = vkbn__vk_of(ctx);
    if (!vk) return;
    if (vk->device && vk->d.vkDeviceWaitIdle) {
        /* A borrowed queue may be shared: wait for our own fence only. */
        if (vk->own_device) vk->d.vkDeviceWaitIdle(vk->device);
    }
    if (vk->device && vk->d.vkDestroyBuffer) {
        if (vk->fence) settle_in_flight(vk); /* a borrowed device is not waited idle */
        vkbn__vk_cache_destroy(vk);          /* saves vkbn's own cache to its file first */
        vkbn__vk_pipelines_destroy(vk);
        vkbn__vk_destroy_buffer(vk, vk->dummy, vk->dummy_allocation);
        vkbn__vk_destroy_buffer(vk, vk->staging, vk->staging_allocation);
        vkbn__vk_memory_destroy(vk);
        if (vk->timestamps) vk->d.vkDestroyQueryPool(vk->device, vk->timestamps, vk->alloc);
        if (vk->fence) vk->d.vkDestroyFence(vk->device, vk->fence, vk->alloc);
        if (vk->cmd_pool) vk->d.vkDestroyCommandPool(vk->device, vk->cmd_pool, vk->alloc);
        if (vk->own_device) vk->d.vkDestroyDevice(vk->device, vk->alloc);
    } else if (vk->own_device && vk->device) {
        PFN_vkDestroyDevice destroy = (PFN_vkDestroyDevice)vk->fn.GetDeviceProcAddr(vk->device, "vkDestroyDevice");
        if (destroy) destroy(vk->device, vk->alloc);
    }
    if (vk->own_instance && vk->instance) {
        if (vk->messenger) vk->fn.DestroyDebugUtilsMessengerEXT(vk->instance, vk->messenger, vk->alloc);
        vk->fn.DestroyInstance(vk->instance, vk->alloc);
    }
    vkbn__mutex_destroy(&vk->pipeline_lock);
    vkbn__mutex_destroy(&vk->submit_lock);
    vkbn__mutex_destroy(&vk->memory_lock);
    vkbn__free(vk);
    ctx->impl = NULL;
}

/* Waits for work a failed wait left in flight (caller holds submit_lock).
 * A lost device ends it too: nothing runs on a lost device. */
static VkResult settle_in_flight(struct vkbn__vk* vk) {
    if (!vk->in_flight || vk->device_lost) return VK_SUCCESS;
    VkResult vr = vk->d.vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, UINT64_MAX);
    if (vr == VK_SUCCESS || vr == VK_ERROR_DEVICE_LOST) vk->in_flight = false;
    if (vr == VK_ERROR_DEVICE_LOST) vk->device_lost = true;
    return vr;
}

VkResult vkbn__vk_submit_locked(struct vkbn__vk* vk) {
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &vk->cmd};
    /* The caller's lock around the shared queue; our own fence only. */
    if (vk->lock_queue) vk->lock_queue(vk->lock_queue_user_data, 1);
    VkResult vr = vk->d.vkQueueSubmit(vk->queue, 1, &si, vk->fence);
    if (vk->lock_queue) vk->lock_queue(vk->lock_queue_user_data, 0);
    if (vr == VK_SUCCESS)
        vr = vk->d.vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, UINT64_MAX);
    else if (vr != VK_ERROR_DEVICE_LOST)
        return vr;
    if (vr == VK_ERROR_DEVICE_LOST) {
        vk->device_lost = true;
    } else if (vr != VK_SUCCESS) {
        /* The wait itself failed (out of memory): the work was submitted and
         * may still run, so the command buffer, the staging buffer and the
         * outputs are not free yet. Wait once more so that the call returns
         * with the work ended; if that fails too, the next submission (or
         * the context's destruction) waits first. The call still reports
         * the error: its outputs may or may not be written. */
        vk->in_flight = true;
        settle_in_flight(vk);
    }
    return vr;
}

void vkbn__vk_barrier(struct vkbn__vk* vk, VkCommandBuffer cmd) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vk->d.vkCmdPipelineBarrier(cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
}

vkbn_result vkbn__vk_begin(struct vkbn__vk* vk) {
    if (!vk->queue) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED,
                          "this context borrowed no queue (vkbn_vulkan_device.queue): it can only record plans");
    }
    vkbn__mutex_lock(&vk->submit_lock);
    if (vk->device_lost) {
        vkbn__mutex_unlock(&vk->submit_lock);
        return vkbn__fail(VKBN_ERROR_DEVICE_LOST,
                          "the device was lost in an earlier call: destroy this context's plans, buffers and the "
                          "context, and create a new one");
    }
    VkResult vr = settle_in_flight(vk);
    if (vr == VK_SUCCESS) vr = vk->d.vkResetCommandPool(vk->device, vk->cmd_pool, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if (vr == VK_SUCCESS) vr = vk->d.vkBeginCommandBuffer(vk->cmd, &bi);
    if (vr != VK_SUCCESS) {
        vkbn__mutex_unlock(&vk->submit_lock);
        return vkbn__fail_vk(vr,
                             "starting a command buffer (waiting for earlier work, vkResetCommandPool, "
                             "vkBeginCommandBuffer)");
    }
    /* Earlier submissions' writes (kernels, transfers) before anything here. */
    vkbn__vk_barrier(vk, vk->cmd);
    return VKBN_SUCCESS;
}

void vkbn__vk_abort(struct vkbn__vk* vk) {
    vk->d.vkEndCommandBuffer(vk->cmd);
    vkbn__mutex_unlock(&vk->submit_lock);
}

vkbn_result vkbn__vk_submit_and_wait(struct vkbn__vk* vk) {
    VkResult vr = vk->d.vkEndCommandBuffer(vk->cmd);
    if (vr == VK_SUCCESS) vr = vk->d.vkResetFences(vk->device, 1, &vk->fence);
    if (vr == VK_SUCCESS) vr = vkbn__vk_submit_locked(vk);
    vkbn__mutex_unlock(&vk->submit_lock);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "submitting work");
    return VKBN_SUCCESS;
}
