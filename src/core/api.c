/* The public entry points: argument checks, then the context's backend. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "errors.h"
#include "internal.h"
#include "test_hooks.h"

void* vkbn__calloc(size_t count, size_t size) { return vkbn__host_alloc_fails() ? NULL : calloc(count, size); }
void vkbn__free(void* p) { free(p); }

void vkbn__log(vkbn_context ctx, vkbn_log_level level, const char* fmt, ...) {
    if (!ctx || !ctx->log) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user_data, level, msg);
}

#define REQUIRE VKBN_REQUIRE

/* ------------------------------------------------------------------------ */
/* Devices and contexts                                                      */
/* ------------------------------------------------------------------------ */

vkbn_result vkbn_enumerate_devices(uint32_t* count, vkbn_device_info* infos) {
    REQUIRE(count, "count");
    uint32_t capacity = infos ? *count : 0;
    *count = 0;
    vkbn_device_info* all = NULL;
    uint32_t n = 0;
    VKBN_CHECK(vkbn__list_all_devices(&all, &n));
    if (infos) {
        uint32_t k = n < capacity ? n : capacity;
        if (k) memcpy(infos, all, k * sizeof *infos);
        *count = k;
    } else {
        *count = n;
    }
    vkbn__free(all);
    return VKBN_SUCCESS;
}

vkbn_result vkbn_context_create(const vkbn_context_desc* desc, vkbn_context* out) {
    REQUIRE(out, "out");
    *out = NULL;
    vkbn_context_desc defaults;
    if (!desc) {
        memset(&defaults, 0, sizeof defaults);
        desc = &defaults;
    }
    const vkbn_context_flags known =
        VKBN_CONTEXT_ENABLE_VALIDATION | VKBN_CONTEXT_DISABLE_SUBGROUPS | VKBN_CONTEXT_ENABLE_SYNC_VALIDATION;
    if (desc->flags & ~known) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->flags: unknown bits 0x%x", desc->flags & ~known);
    }
    vkbn_context ctx = vkbn__calloc(1, sizeof *ctx);
    if (!ctx) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_context_create: out of host memory");
    ctx->flags = desc->flags;
    ctx->log = desc->log;
    ctx->log_user_data = desc->log_user_data;
    vkbn_result r = vkbn__context_create_backend(ctx, desc);
    if (r != VKBN_SUCCESS) {
        vkbn_context_destroy(ctx);
        return r;
    }
    *out = ctx;
    return VKBN_SUCCESS;
}

void vkbn_context_destroy(vkbn_context ctx) {
    if (!ctx) return;
    if (ctx->impl) ctx->ops->context_destroy(ctx);
    vkbn__free(ctx);
}

vkbn_result vkbn_context_get_device_info(vkbn_context ctx, vkbn_device_info* info) {
    REQUIRE(ctx, "ctx");
    REQUIRE(info, "info");
    *info = ctx->info;
    return VKBN_SUCCESS;
}

vkbn_bool vkbn_context_uses_subgroups(vkbn_context ctx) {
    return ctx && ctx->ops->uses_subgroups && ctx->ops->uses_subgroups(ctx);
}

uint64_t vkbn_context_validation_message_count(vkbn_context ctx) {
    return ctx && ctx->ops->validation_message_count ? ctx->ops->validation_message_count(ctx) : 0;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

vkbn_result vkbn_buffer_create(vkbn_context ctx, uint64_t size, vkbn_buffer* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    if (size == 0) return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "size: must be > 0");
    vkbn_buffer b = vkbn__calloc(1, sizeof *b);
    if (!b) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_buffer_create: out of host memory");
    b->ctx = ctx;
    b->kind = VKBN__BUFFER_OWNED;
    b->size = size;
    vkbn_result r = ctx->ops->buffer_create(ctx, size, b);
    if (r != VKBN_SUCCESS) {
        vkbn__free(b);
        return r;
    }
    *out = b;
    return VKBN_SUCCESS;
}

vkbn_result vkbn_buffer_wrap(vkbn_context ctx, VkBuffer buffer, VkDeviceSize offset, VkDeviceSize size,
                             vkbn_buffer* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    if (buffer == VK_NULL_HANDLE) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "buffer: required, got VK_NULL_HANDLE");
    if (!ctx->ops->buffer_wrap) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "ctx: wrapping a VkBuffer needs a Vulkan context (this one is %s)",
                          ctx->ops->name);
    }
    if (offset % 4 != 0) {
        return vkbn__fail(VKBN_ERROR_MISALIGNED, "offset: must be a multiple of 4, got %llu",
                          (unsigned long long)offset);
    }
    if (size == 0) return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "size: must be > 0");
    vkbn_buffer b = vkbn__calloc(1, sizeof *b);
    if (!b) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_buffer_wrap: out of host memory");
    b->ctx = ctx;
    b->kind = VKBN__BUFFER_WRAPPED;
    b->offset = offset;
    b->size = size;
    vkbn_result r = ctx->ops->buffer_wrap(ctx, buffer, offset, size, b);
    if (r != VKBN_SUCCESS) {
        vkbn__free(b);
        return r;
    }
    *out = b;
    return VKBN_SUCCESS;
}

vkbn_result vkbn_buffer_create_view(vkbn_buffer parent, uint64_t offset, uint64_t size, vkbn_buffer* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(parent, "parent");
    if (offset % 4 != 0) {
        return vkbn__fail(VKBN_ERROR_MISALIGNED, "offset: must be a multiple of 4, got %llu",
                          (unsigned long long)offset);
    }
    if (size == 0) return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "size: must be > 0");
    if (offset > parent->size || size > parent->size - offset) {
        return vkbn__fail(VKBN_ERROR_BUFFER_TOO_SMALL, "size: [%llu, %llu) does not fit the parent's %llu bytes",
                          (unsigned long long)offset, (unsigned long long)(offset + size),
                          (unsigned long long)parent->size);
    }
    vkbn_buffer b = vkbn__calloc(1, sizeof *b);
    if (!b) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_buffer_create_view: out of host memory");
    *b = *parent;
    b->kind = VKBN__BUFFER_VIEW; /* keeps the root's vk_allocation (mapped-memory flushes); never frees it */
    b->offset = parent->offset + offset;
    b->size = size;
    *out = b;
    return VKBN_SUCCESS;
}

void vkbn_buffer_destroy(vkbn_buffer buffer) {
    if (!buffer) return;
    if (buffer->kind == VKBN__BUFFER_OWNED) buffer->ctx->ops->buffer_destroy(buffer);
    vkbn__free(buffer);
}

uint64_t vkbn_buffer_size(vkbn_buffer buffer) { return buffer ? buffer->size : 0; }

static vkbn_result check_transfer(vkbn_buffer b, uint64_t offset, const void* host, uint64_t size) {
    REQUIRE(b, "buffer");
    REQUIRE(host, b ? "src/dst" : "src/dst");
    if (offset > b->size || size > b->size - offset) {
        return vkbn__fail(VKBN_ERROR_BUFFER_TOO_SMALL, "size: [%llu, %llu) is outside the buffer's %llu bytes",
                          (unsigned long long)offset, (unsigned long long)(offset + size), (unsigned long long)b->size);
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn_buffer_upload(vkbn_buffer buffer, uint64_t offset, const void* src, uint64_t size) {
    VKBN_CHECK(check_transfer(buffer, offset, src, size));
    if (size == 0) return VKBN_SUCCESS;
    return buffer->ctx->ops->buffer_upload(buffer, offset, src, size);
}

vkbn_result vkbn_buffer_download(vkbn_buffer buffer, uint64_t offset, void* dst, uint64_t size) {
    VKBN_CHECK(check_transfer(buffer, offset, dst, size));
    if (size == 0) return VKBN_SUCCESS;
    return buffer->ctx->ops->buffer_download(buffer, offset, dst, size);
}

/* ------------------------------------------------------------------------ */
/* Plans and one-shot operations                                             */
/* ------------------------------------------------------------------------ */

vkbn_result vkbn__plan_create(vkbn_context ctx, const vkbn__op* op, const vkbn__pass_list* passes, vkbn_plan* out) {
    vkbn_plan plan = vkbn__calloc(1, sizeof *plan);
    if (!plan) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating a plan: out of host memory");
    plan->ctx = ctx;
    plan->op = *op;
    plan->passes = *passes;
    vkbn_result r = ctx->ops->plan_build(plan);
    if (r != VKBN_SUCCESS) {
        vkbn_plan_destroy(plan);
        return r;
    }
    *out = plan;
    return VKBN_SUCCESS;
}

static vkbn_result plan_from_op(vkbn_context ctx, vkbn__op_kind kind, const vkbn__op* op, vkbn_plan* out) {
    vkbn__pass_list passes;
    vkbn__lower(kind, op, &passes);
    return vkbn__plan_create(ctx, op, &passes, out);
}

vkbn_result vkbn_plan_create_forward_training(vkbn_context ctx, const vkbn_forward_training_desc* desc,
                                              vkbn_plan* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_forward_training(ctx, desc, &op));
    return plan_from_op(ctx, VKBN__OP_FORWARD_TRAINING, &op, out);
}

vkbn_result vkbn_plan_create_forward_inference(vkbn_context ctx, const vkbn_forward_inference_desc* desc,
                                               vkbn_plan* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_forward_inference(ctx, desc, &op));
    return plan_from_op(ctx, VKBN__OP_FORWARD_INFERENCE, &op, out);
}

vkbn_result vkbn_plan_create_backward(vkbn_context ctx, const vkbn_backward_desc* desc, vkbn_plan* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_backward(ctx, desc, &op));
    return plan_from_op(ctx, desc->frozen ? VKBN__OP_BACKWARD_FROZEN : VKBN__OP_BACKWARD, &op, out);
}

vkbn_result vkbn_plan_create_copy(vkbn_context ctx, const vkbn_copy_desc* desc, vkbn_plan* out) {
    REQUIRE(out, "out");
    *out = NULL;
    REQUIRE(ctx, "ctx");
    REQUIRE(desc, "desc");
    vkbn__op op;
    VKBN_CHECK(vkbn__validate_copy(ctx, desc, &op));
    return plan_from_op(ctx, VKBN__OP_COPY, &op, out);
}

vkbn_result vkbn_plan_execute(vkbn_plan plan) {
    REQUIRE(plan, "plan");
    return plan->ctx->ops->plan_execute(plan, 1, NULL);
}

vkbn_result vkbn_plan_execute_timed(vkbn_plan plan, uint32_t repetitions, double* seconds_per_run) {
    REQUIRE(plan, "plan");
    REQUIRE(seconds_per_run, "seconds_per_run");
    if (repetitions == 0) return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "repetitions: must be >= 1");
    return plan->ctx->ops->plan_execute(plan, repetitions, seconds_per_run);
}

const char* vkbn_plan_describe(vkbn_plan plan) { return plan ? plan->description : ""; }

vkbn_result vkbn_plan_get_report(vkbn_plan plan, vkbn_plan_report* out) {
    REQUIRE(plan, "plan");
    REQUIRE(out, "out");
    if (!plan->ctx->ops->plan_report) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "plan: %s plans have no dispatches to report", plan->ctx->ops->name);
    }
    return plan->ctx->ops->plan_report(plan, out);
}

vkbn_result vkbn_plan_get_dispatch_report(vkbn_plan plan, uint32_t index, vkbn_dispatch_report* out) {
    REQUIRE(plan, "plan");
    REQUIRE(out, "out");
    if (!plan->ctx->ops->plan_dispatch_report) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "plan: %s plans have no dispatches to report", plan->ctx->ops->name);
    }
    return plan->ctx->ops->plan_dispatch_report(plan, index, out);
}

void vkbn_plan_destroy(vkbn_plan plan) {
    if (!plan) return;
    if (plan->impl) plan->ctx->ops->plan_destroy(plan);
    vkbn__free(plan);
}

/* The one-shot calls: a plan, run once, destroyed. */
static vkbn_result run_once(vkbn_result created, vkbn_plan* plan) {
    if (created != VKBN_SUCCESS) return created;
    vkbn_result r = vkbn_plan_execute(*plan);
    vkbn_plan_destroy(*plan);
    return r;
}

vkbn_result vkbn_forward_training(vkbn_context ctx, const vkbn_forward_training_desc* desc) {
    vkbn_plan plan = NULL;
    return run_once(vkbn_plan_create_forward_training(ctx, desc, &plan), &plan);
}

vkbn_result vkbn_forward_inference(vkbn_context ctx, const vkbn_forward_inference_desc* desc) {
    vkbn_plan plan = NULL;
    return run_once(vkbn_plan_create_forward_inference(ctx, desc, &plan), &plan);
}

vkbn_result vkbn_backward(vkbn_context ctx, const vkbn_backward_desc* desc) {
    vkbn_plan plan = NULL;
    return run_once(vkbn_plan_create_backward(ctx, desc, &plan), &plan);
}
