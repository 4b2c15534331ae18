/* A context on a device profile (vk_profiles.h): the capabilities and the
 * tuning a real device of that kind would give, with no instance, device or
 * memory, so that the production planner (vk_plan_build.c and what it calls)
 * runs unchanged and its plans can be reported. Every unknown field takes
 * its fallback (vk_profiles.h), the choice that is correct on any device.
 * Nothing executes: the calls that would touch memory or run fail through
 * vkbn__vk_profile_unsupported. */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"
#include "vk_profiles.h"

uint32_t vkbn_profile_count(void) { return (uint32_t)vkbn__device_profile_count; }

vkbn_result vkbn_profile_get(uint32_t index, vkbn_profile_info* out) {
    VKBN_REQUIRE(out, "out");
    if (index >= vkbn__device_profile_count) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "index: %u, but there are %u device profiles", index,
                          (unsigned)vkbn__device_profile_count);
    }
    const vkbn__device_profile* p = &vkbn__device_profiles[index];
    memset(out, 0, sizeof *out);
    out->name = p->name;
    out->display_name = p->display_name;
    out->driver = p->driver_note;
    out->compute_units = vkbn__pu32_or(&p->compute_units, 0);
    out->resident_workgroups = vkbn__pu32_or(&p->resident_groups_256, 0);
    out->dram_bandwidth = (uint64_t)vkbn__pu32_or(&p->dram_bandwidth_gbs, 0) * 1000000000ull;
    out->last_level_cache = vkbn__pu64_or(&p->last_level_cache_bytes, 0);
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_profile_unsupported(const struct vkbn__vk* vk, const char* call) {
    return vkbn__fail(VKBN_ERROR_UNSUPPORTED,
                      "%s: the context is on the device profile \"%s\", which plans only (nothing executes)", call,
                      vk->profile ? vk->profile->name : "?");
}

/* The capabilities vkbn would enable on the profiled device
 * (vk_context.c, create_own_device and what follows it). */
static void caps_from_profile(const vkbn__device_profile* p, vkbn__caps* c) {
    memset(c, 0, sizeof *c);
    VkPhysicalDeviceLimits* l = &c->props.limits;
    c->props.vendorID = vkbn__pu32_or(&p->vendor_id, 0);
    c->props.deviceType = (VkPhysicalDeviceType)vkbn__pu32_or(&p->device_type, VK_PHYSICAL_DEVICE_TYPE_OTHER);
    c->props.apiVersion = vkbn__pu32_or(&p->api_version, VK_API_VERSION_1_1);
    snprintf(c->props.deviceName, sizeof c->props.deviceName, "%s", p->display_name);
    l->maxComputeWorkGroupInvocations =
        vkbn__pu32_or(&p->max_workgroup_invocations, VKBN__SPEC_MIN_WORKGROUP_INVOCATIONS);
    l->maxComputeWorkGroupSize[0] = vkbn__pu32_or(&p->max_workgroup_size_x, VKBN__SPEC_MIN_WORKGROUP_SIZE_X);
    l->maxComputeWorkGroupSize[1] = l->maxComputeWorkGroupSize[2] = 1;
    l->maxComputeWorkGroupCount[0] = l->maxComputeWorkGroupCount[1] = l->maxComputeWorkGroupCount[2] = 65535;
    l->maxComputeSharedMemorySize = vkbn__pu32_or(&p->max_shared_memory, VKBN__SPEC_MIN_SHARED_MEMORY);
    l->maxStorageBufferRange = vkbn__pu32_or(&p->max_storage_buffer_range, VKBN__SPEC_MIN_STORAGE_BUFFER_RANGE);
    l->maxPerStageDescriptorStorageBuffers =
        vkbn__pu32_or(&p->max_storage_buffers_per_stage, VKBN__SPEC_MIN_STORAGE_BUFFERS_PER_STAGE);
    l->minStorageBufferOffsetAlignment =
        vkbn__pu32_or(&p->min_storage_buffer_alignment, VKBN__SPEC_MAX_MIN_STORAGE_BUFFER_ALIGNMENT);
    l->maxMemoryAllocationCount =
        vkbn__pu32_or(&p->max_memory_allocation_count, VKBN__SPEC_MIN_MEMORY_ALLOCATION_COUNT);
    /* Subgroups: an unknown default size means no subgroup path. */
    c->subgroup_size = vkbn__pu32_or(&p->subgroup_size, 1);
    c->min_subgroup_size = vkbn__pu32_or(&p->min_subgroup_size, c->subgroup_size);
    c->max_subgroup_size = vkbn__pu32_or(&p->max_subgroup_size, c->subgroup_size);
    if (vkbn__pbool_or(&p->subgroup_basic_shuffle, false)) {
        c->subgroup_ops = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
    }
    c->subgroup_size_control = vkbn__pbool_or(&p->subgroup_size_control, false);
    c->full_subgroups = c->subgroup_size_control && vkbn__pbool_or(&p->compute_full_subgroups, false);
    c->storage16 = vkbn__pbool_or(&p->storage_buffer_16bit, false);
    c->memory_model = vkbn__pbool_or(&p->memory_model, false) && vkbn__pbool_or(&p->memory_model_device_scope, false);
    c->max_alloc = UINT64_MAX;
    c->max_range = l->maxStorageBufferRange;
    c->min_sboa = l->minStorageBufferOffsetAlignment;
    /* The planner learns the compute units only where the driver tells them. */
    c->sm_count = vkbn__pbool_or(&p->compute_units_exposed, false) ? vkbn__pu32_or(&p->compute_units, 0) : 0;
    snprintf(c->driver_name, sizeof c->driver_name, "%s", p->driver_name.value ? p->driver_name.value : "");
    snprintf(c->driver_info, sizeof c->driver_info, "device profile \"%s\"", p->name);
}

vkbn_result vkbn__vk_profile_context_create(vkbn_context ctx, const vkbn_context_desc* desc) {
    const vkbn__device_profile* p = vkbn__device_profile_find(desc->profile);
    if (!p) {
        char names[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < vkbn__device_profile_count && used < sizeof names; ++i) {
            int k = snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", vkbn__device_profiles[i].name);
            if (k > 0) used += (size_t)k;
        }
        return vkbn__fail(VKBN_ERROR_DEVICE_NOT_FOUND, "desc->profile: no device profile is named \"%s\" (%s)",
                          desc->profile, names);
    }
    struct vkbn__vk* vk = vkbn__calloc(1, sizeof *vk);
    if (!vk) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_context_create: out of host memory");
    ctx->impl = vk;
    vk->ctx = ctx;
    vk->profile = p;
    vkbn__mutex_init(&vk->pipeline_lock);
    vkbn__mutex_init(&vk->submit_lock);
    vkbn__mutex_init(&vk->memory_lock);
    caps_from_profile(p, &vk->caps);

    vkbn_device_info* info = &ctx->info;
    memset(info, 0, sizeof *info);
    info->index = UINT32_MAX; /* not in vkbn_enumerate_devices */
    info->backend = VKBN_BACKEND_VULKAN;
    info->type = vkbn__vk_device_type(vk->caps.props.deviceType);
    snprintf(info->vendor, sizeof info->vendor, "%s",
             vkbn__vk_vendor_name(vk->caps.props.vendorID, vk->caps.props.deviceType));
    snprintf(info->name, sizeof info->name, "%s (device profile)", p->display_name);
    info->vendor_id = vk->caps.props.vendorID;
    snprintf(info->driver_name, sizeof info->driver_name, "%s", vk->caps.driver_name);
    snprintf(info->driver_info, sizeof info->driver_info, "%s", vk->caps.driver_info);
    info->api_version = vk->caps.props.apiVersion;
    info->subgroup_size = vk->caps.subgroup_size;
    info->min_subgroup_size = vk->caps.min_subgroup_size;
    info->max_subgroup_size = vk->caps.max_subgroup_size;
    info->subgroup_operations = vk->caps.subgroup_ops;
    info->subgroup_size_control = vk->caps.subgroup_size_control;
    info->storage_16bit = vk->caps.storage16;
    info->max_storage_buffer_range = vk->caps.max_range;
    info->max_allocation_size = vk->caps.max_alloc;
    info->max_workgroup_invocations = vk->caps.props.limits.maxComputeWorkGroupInvocations;
    info->max_shared_memory = vk->caps.props.limits.maxComputeSharedMemorySize;
    info->min_storage_buffer_offset_alignment = vk->caps.min_sboa;

    /* As vk_pipelines_init does on a real device, where the profile knows the
     * limit; an unknown one is taken as met, and the device's own check
     * decides when vkbn runs there. */
    uint32_t buffers = vk->caps.props.limits.maxPerStageDescriptorStorageBuffers;
    if (p->max_storage_buffers_per_stage.prov != VKBN__PROV_UNKNOWN && buffers < BIND_MAX_COUNT) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE,
                          "desc->profile: \"%s\" allows %u storage buffers per shader stage; vkbn needs %u", p->name,
                          buffers, BIND_MAX_COUNT);
    }
    VKBN_CHECK(vkbn__vk_choose_planning(vk, desc));
    vkbn__log(ctx, VKBN_LOG_INFO, "vkbn: device profile %s (%s), subgroups %s, tuning %s", p->name, p->display_name,
              vk->use_subgroups ? "on" : "off", vk->tuning.source);
    return VKBN_SUCCESS;
}
