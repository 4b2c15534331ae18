/* The Vulkan backend's table (core/backend.h): how core reaches everything
 * in this folder. */
#include <string.h>

#include "../core/backend.h"
#include "../core/errors.h"
#include "vk_internal.h"

static vkbn_result list_devices(vkbn_device_info** out, uint32_t* count) {
    *out = NULL;
    *count = 0;
    PFN_vkGetInstanceProcAddr gipa = NULL;
    if (vkbn__vk_load_loader(&gipa) != VKBN_SUCCESS) return VKBN_SUCCESS; /* no loader: no Vulkan devices */
    VkInstance instance = VK_NULL_HANDLE;
    bool debug_utils = false;
    vkbn_result created = vkbn__vk_create_instance(gipa, false, false, NULL, &instance, &debug_utils);
    /* A loader without drivers lists nothing; out of memory is an error. */
    if (created == VKBN_ERROR_OUT_OF_HOST_MEMORY) return created;
    if (created != VKBN_SUCCESS) return VKBN_SUCCESS;
    vkbn__instance_fns fn;
    vkbn__vk_load_instance_fns(gipa, instance, &fn);
    VkPhysicalDevice* pds = NULL;
    uint32_t n = 0;
    vkbn_result r = vkbn__vk_list_devices(&fn, instance, &pds, &n);
    if (r == VKBN_SUCCESS && n > 0) {
        vkbn_device_info* all = vkbn__calloc(n, sizeof *all);
        if (!all) {
            r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_enumerate_devices: out of host memory");
        } else {
            for (uint32_t i = 0; i < n && r == VKBN_SUCCESS; ++i) {
                r = vkbn__vk_describe_device(&fn, pds[i], &all[i]);
                all[i].index = i;
            }
            if (r == VKBN_SUCCESS) {
                all[vkbn__vk_best_device(all, n, 0, VKBN__RANK_MAX)].is_default = 1;
                *out = all;
                *count = n;
            } else {
                vkbn__free(all);
            }
        }
    }
    vkbn__free(pds);
    fn.DestroyInstance(instance, NULL);
    return r;
}

static vkbn_result context_create(vkbn_context ctx, const vkbn_context_desc* desc, vkbn__device_request* req) {
    return vkbn__vk_context_create(ctx, desc, req);
}

static vkbn_result plan_build(vkbn_plan plan) { return vkbn__vk_plan_build(plan); }

static bool uses_subgroups(vkbn_context ctx) { return vkbn__vk_of(ctx)->use_subgroups; }

static uint64_t validation_message_count(vkbn_context ctx) {
    return vkbn__atomic_load64(&vkbn__vk_of(ctx)->validation_messages);
}

static vkbn_result pipeline_stats(vkbn_context ctx, vkbn_pipeline_stats* out) {
    struct vkbn__vk* vk = vkbn__vk_of(ctx);
    vkbn__mutex_lock(&vk->pipeline_lock);
    *out = vk->stats;
    vkbn__mutex_unlock(&vk->pipeline_lock);
    return VKBN_SUCCESS;
}

static vkbn_result save_pipeline_cache(vkbn_context ctx) { return vkbn__vk_cache_save(vkbn__vk_of(ctx)); }

const vkbn__backend vkbn__vulkan_backend = {
    .name = "Vulkan",
    .list_devices = list_devices,
    .claims = NULL,
    .device_types = (1u << VKBN_DEVICE_TYPE_OTHER) | (1u << VKBN_DEVICE_TYPE_INTEGRATED_GPU) |
                    (1u << VKBN_DEVICE_TYPE_DISCRETE_GPU) | (1u << VKBN_DEVICE_TYPE_VIRTUAL_GPU) |
                    (1u << VKBN_DEVICE_TYPE_VULKAN_CPU),
    .context_create = context_create,
    .context_destroy = vkbn__vk_context_destroy,
    .accepts_borrowed = true,
    .accepts_profile = true,
    .buffer_create = vkbn__vk_buffer_create,
    .buffer_destroy = vkbn__vk_buffer_destroy,
    .buffer_upload = vkbn__vk_buffer_upload,
    .buffer_download = vkbn__vk_buffer_download,
    .buffer_wrap = vkbn__vk_buffer_wrap,
    .plan_build = plan_build,
    .plan_measure_scratch = vkbn__vk_plan_measure_scratch,
    .plan_execute = vkbn__vk_plan_execute,
    .plan_record = vkbn__vk_plan_record_for_caller,
    .plan_destroy = vkbn__vk_plan_destroy,
    .plan_report = vkbn__vk_plan_report,
    .plan_dispatch_report = vkbn__vk_plan_dispatch_report,
    .uses_subgroups = uses_subgroups,
    .validation_message_count = validation_message_count,
    .pipeline_stats = pipeline_stats,
    .save_pipeline_cache = save_pipeline_cache,
};
