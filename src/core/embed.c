/* Public entry points for embedding vkbn in an engine: recording into the
 * caller's command buffers, scratch sizing, device requirements, pipeline
 * cache and statistics (vkbn.h, "Embedding in an engine"). */
#include <string.h>

#include "../vulkan/vk_internal.h"
#include "errors.h"
#include "internal.h"

#define REQUIRE(ptr, name)                                                                       \
    do {                                                                                         \
        if (!(ptr)) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s: required, got NULL", name); \
    } while (0)

static vkbn_result require_vulkan(vkbn_context ctx, const char* what) {
    if (!ctx->vk)
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "%s: needs a Vulkan context (this one runs on the CPU)", what);
    return VKBN_SUCCESS;
}

vkbn_result vkbn_plan_record(vkbn_plan plan, VkCommandBuffer cmd, vkbn_record_flags flags) {
    REQUIRE(plan, "plan");
    VKBN_CHECK(require_vulkan(plan->ctx, "vkbn_plan_record"));
    return vkbn__vk_plan_record_for_caller(plan, cmd, flags);
}

/* Runs the planner for `op` in sizing mode. */
static vkbn_result measure_scratch(vkbn_context ctx, const vkbn__op* op, vkbn_scratch_requirements* out) {
    if (!ctx->vk) {
        out->alignment = 1; /* the CPU path uses no scratch of the caller's */
        return VKBN_SUCCESS;
    }
    struct vkbn_plan_T plan;
    memset(&plan, 0, sizeof plan);
    plan.ctx = ctx;
    plan.op = *op;
    uint64_t size = 0, alignment = 1;
    vkbn_result r = vkbn__vk_plan_measure_scratch(&plan, &size, &alignment);
    vkbn__vk_plan_destroy(&plan); /* sizing created no Vulkan object */
    if (r != VKBN_SUCCESS) return r;
    out->size = size;
    out->alignment = alignment;
    return VKBN_SUCCESS;
}

vkbn_result vkbn_forward_training_scratch_requirements(vkbn_context ctx, const vkbn_forward_training_desc* desc,
                                                       vkbn_scratch_requirements* out) {
    REQUIRE(out, "out");
    memset(out, 0, sizeof *out);
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn_forward_training_desc d = *desc;
    d.scratch = NULL; /* what the plan needs, whatever the caller offers */
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_forward_training(ctx, &d, &op));
    return measure_scratch(ctx, &op, out);
}

vkbn_result vkbn_backward_scratch_requirements(vkbn_context ctx, const vkbn_backward_desc* desc,
                                               vkbn_scratch_requirements* out) {
    REQUIRE(out, "out");
    memset(out, 0, sizeof *out);
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn_backward_desc d = *desc;
    d.scratch = NULL;
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_backward(ctx, &d, &op));
    return measure_scratch(ctx, &op, out);
}

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

vkbn_result vkbn_context_get_pipeline_stats(vkbn_context ctx, vkbn_pipeline_stats* out) {
    REQUIRE(out, "out");
    memset(out, 0, sizeof *out);
    REQUIRE(ctx, "ctx");
    VKBN_CHECK(require_vulkan(ctx, "vkbn_context_get_pipeline_stats"));
    vkbn__mutex_lock(&ctx->vk->pipeline_lock);
    *out = ctx->vk->stats;
    vkbn__mutex_unlock(&ctx->vk->pipeline_lock);
    return VKBN_SUCCESS;
}

vkbn_result vkbn_context_save_pipeline_cache(vkbn_context ctx) {
    REQUIRE(ctx, "ctx");
    VKBN_CHECK(require_vulkan(ctx, "vkbn_context_save_pipeline_cache"));
    return vkbn__vk_cache_save(ctx->vk);
}
