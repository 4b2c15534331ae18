/* Public entry points for embedding vkbn in an engine: recording into the
 * caller's command buffers, scratch sizing, pipeline cache and statistics
 * (vkbn.h, "Embedding in an engine"). The Vulkan-only entry points that take
 * no context (device requirements) are the Vulkan backend's: vk_embed.c. */
#include <string.h>

#include "backend.h"
#include "errors.h"
#include "internal.h"

#define REQUIRE VKBN_REQUIRE

/* A call that the context's backend has no table entry for. */
static vkbn_result require(vkbn_context ctx, bool has_entry, const char* what) {
    if (!has_entry) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "%s: needs a Vulkan context (this one runs on the %s backend)", what,
                          ctx->ops->name);
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn_plan_record(vkbn_plan plan, VkCommandBuffer cmd, vkbn_record_flags flags) {
    REQUIRE(plan, "plan");
    VKBN_CHECK(require(plan->ctx, plan->ctx->ops->plan_record != NULL, "vkbn_plan_record"));
    if (cmd == VK_NULL_HANDLE) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "cmd: required, got VK_NULL_HANDLE");
    const vkbn_record_flags known = VKBN_RECORD_BARRIER_BEFORE | VKBN_RECORD_BARRIER_AFTER;
    if (flags & ~known) return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "flags: unknown bits 0x%x", flags & ~known);
    return plan->ctx->ops->plan_record(plan, cmd, flags);
}

/* Runs the backend's planner for `op` in sizing mode. */
static vkbn_result measure_scratch(vkbn_context ctx, const vkbn__op* op, vkbn__op_kind kind,
                                   vkbn_scratch_requirements* out) {
    if (!ctx->ops->plan_measure_scratch) {
        out->alignment = 1; /* a backend that takes no scratch of the caller's */
        return VKBN_SUCCESS;
    }
    struct vkbn_plan_T plan;
    memset(&plan, 0, sizeof plan);
    plan.ctx = ctx;
    plan.op = *op;
    vkbn__lower(kind, op, &plan.passes);
    uint64_t size = 0, alignment = 1;
    vkbn_result r = ctx->ops->plan_measure_scratch(&plan, &size, &alignment);
    if (plan.impl) ctx->ops->plan_destroy(&plan); /* sizing created no device object */
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
    return measure_scratch(ctx, &op, VKBN__OP_FORWARD_TRAINING, out);
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
    return measure_scratch(ctx, &op, d.frozen ? VKBN__OP_BACKWARD_FROZEN : VKBN__OP_BACKWARD, out);
}

vkbn_result vkbn_context_get_pipeline_stats(vkbn_context ctx, vkbn_pipeline_stats* out) {
    REQUIRE(out, "out");
    memset(out, 0, sizeof *out);
    REQUIRE(ctx, "ctx");
    VKBN_CHECK(require(ctx, ctx->ops->pipeline_stats != NULL, "vkbn_context_get_pipeline_stats"));
    return ctx->ops->pipeline_stats(ctx, out);
}

vkbn_result vkbn_context_save_pipeline_cache(vkbn_context ctx) {
    REQUIRE(ctx, "ctx");
    VKBN_CHECK(require(ctx, ctx->ops->save_pipeline_cache != NULL, "vkbn_context_save_pipeline_cache"));
    return ctx->ops->save_pipeline_cache(ctx);
}
