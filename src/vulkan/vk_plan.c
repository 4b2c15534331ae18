/* A Vulkan plan is a list of dispatches, each with its pipeline, its own
 * descriptor set and its push constants, plus the plan's scratch memory.
 * Recording it is a loop; nothing is allocated or compiled while recording.
 *
 * Everything here works on any plan: a planner (vk_plan_build.c and the
 * planners it calls) only reserves dispatches, declares its scratch and adds
 * dispatches;
 * recording into the caller's command buffers, caller-supplied scratch,
 * scratch sizing and immediate execution come from this file. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

kp_fastdiv vkbn__fastdiv(uint32_t d) {
    kp_fastdiv f;
    uint32_t l = 0;
    while (l < 32 && (1ull << l) < d) ++l;
    f.d = d;
    f.mul = (uint32_t)(((1ull << 32) * ((1ull << l) - d)) / d + 1);
    f.shift = l;
    return f;
}

vkbn__range vkbn__vk_raw_range(const struct vkbn__vk* vk, VkBuffer buffer, uint64_t offset, uint64_t bytes) {
    vkbn__range r;
    uint64_t aligned = offset & ~(uint64_t)(vk->bind_align - 1);
    r.buffer = buffer;
    r.offset = aligned;
    r.range = vkbn__align_up(offset + bytes - aligned, 4);
    r.base = 0;
    return r;
}

/* Binds [byte_offset, byte_offset + bytes) of b with the descriptor offset
 * aligned down; base counts `unit`-byte items from there to the data. */
vkbn__range vkbn__vk_range(const struct vkbn__vk* vk, vkbn_buffer b, uint64_t byte_offset, uint64_t bytes,
                           uint32_t unit) {
    uint64_t start = b->offset + byte_offset;
    vkbn__range r = vkbn__vk_raw_range(vk, b->vk_buffer, start, bytes);
    /* Rounding the range up to 4 bytes must not pass the end of the caller's
     * buffer (an f16 tensor with an odd count at the very end of a VkBuffer). */
    uint64_t end = b->offset + b->size;
    if (r.offset + r.range > end) r.range = end - r.offset;
    r.base = (uint32_t)((start - r.offset) / unit);
    return r;
}

vkbn__range vkbn__vk_dummy_range(const struct vkbn__vk* vk) {
    vkbn__range r = {.buffer = vk->dummy, .offset = 0, .range = 256, .base = 0};
    return r;
}

vkbn_result vkbn__vk_plan_reserve(vkbn_plan plan, uint32_t dispatches) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    p->dispatches = vkbn__calloc(dispatches, sizeof *p->dispatches);
    if (!p->dispatches) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating a plan: out of host memory");
    p->capacity = dispatches;
    if (p->measure_only) return VKBN_SUCCESS;
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                 .descriptorCount = dispatches * BIND_MAX_COUNT};
    VkDescriptorPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                     .maxSets = dispatches,
                                     .poolSizeCount = 1,
                                     .pPoolSizes = &size};
    VkResult vr = vk->d.vkCreateDescriptorPool(vk->device, &ci, vk->alloc, &p->pool);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateDescriptorPool");
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_add(vkbn_plan plan, vkbn__kernel kernel, VkPipeline pipeline, const vkbn__range* ranges,
                              const void* push, uint32_t push_size, const uint32_t groups[3], bool barrier_before) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    if (p->count == p->capacity) {
        return vkbn__fail(VKBN_ERROR_VULKAN, "internal: plan has more dispatches than reserved");
    }
    vkbn__dispatch* d = &p->dispatches[p->count];
    d->kernel = kernel;
    d->pipeline = pipeline;
    memcpy(d->groups, groups, sizeof d->groups);
    memcpy(d->push, push, push_size);
    d->push_size = push_size;
    d->barrier_before = barrier_before;
    if (p->measure_only) {
        p->count++;
        return VKBN_SUCCESS;
    }
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = p->pool,
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &vk->set_layouts[kernel]};
    VkResult vr = vk->d.vkAllocateDescriptorSets(vk->device, &ai, &d->set);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkAllocateDescriptorSets");
    uint32_t n = vkbn__vk_binding_count(kernel);
    VkDescriptorBufferInfo infos[16];
    VkWriteDescriptorSet writes[16];
    for (uint32_t b = 0; b < n; ++b) {
        infos[b] = (VkDescriptorBufferInfo){ranges[b].buffer, ranges[b].offset, ranges[b].range};
        writes[b] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = d->set,
                                           .dstBinding = b,
                                           .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &infos[b]};
    }
    vk->d.vkUpdateDescriptorSets(vk->device, n, writes, 0, NULL);
    p->count++;
    return VKBN_SUCCESS;
}

void vkbn__vk_plan_note(vkbn_plan plan, vkbn_dispatch_role role, uint32_t workgroup_size, const vkbn__traffic* t) {
    struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    if (p->count == 0) return;
    vkbn__dispatch* d = &p->dispatches[p->count - 1];
    d->role = role;
    d->workgroup_size = workgroup_size;
    d->traffic = *t;
}

vkbn_result vkbn__vk_plan_alloc_scratch(vkbn_plan plan, uint64_t bytes, uint64_t counters_offset,
                                        uint64_t counters_size) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    p->scratch_size = bytes;
    p->counters_offset = counters_offset;
    p->counters_size = counters_size;
    p->counters_ready = counters_size == 0;
    if (p->measure_only) return VKBN_SUCCESS;
    vkbn_buffer s = plan->op.scratch;
    if (s) {
        if (s->size < bytes) {
            return vkbn__fail(VKBN_ERROR_BUFFER_TOO_SMALL, "desc->scratch: holds %llu bytes, this plan needs %llu (%s)",
                              (unsigned long long)s->size, (unsigned long long)bytes,
                              vkbn__find_pass(&plan->passes, VKBN__PASS_REDUCE_GRADS)
                                  ? "vkbn_backward_scratch_requirements"
                                  : "vkbn_forward_training_scratch_requirements");
        }
        if (s->offset % vk->bind_align != 0) {
            return vkbn__fail(VKBN_ERROR_MISALIGNED,
                              "desc->scratch: its offset in the VkBuffer (%llu) must be a multiple of %u "
                              "(vkbn_scratch_requirements.alignment)",
                              (unsigned long long)s->offset, vk->bind_align);
        }
        p->scratch_buffer = s->vk_buffer;
        p->scratch_offset = s->offset;
        return VKBN_SUCCESS;
    }
    VKBN_CHECK(vkbn__vk_create_buffer(
        vk, bytes, vk->buffer_memory_type, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        VKBN__MEM_SCRATCH, &p->scratch_buffer, &p->scratch_allocation, "allocating plan scratch memory"));
    p->scratch_offset = 0;
    return VKBN_SUCCESS;
}

vkbn__range vkbn__vk_scratch_range(vkbn_plan plan, uint64_t offset, uint64_t bytes) {
    const struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    /* scratch_offset and offset are multiples of bind_align: base stays 0. */
    return vkbn__vk_raw_range(vkbn__vk_of(plan->ctx), p->scratch_buffer, p->scratch_offset + offset, bytes);
}

vkbn_result vkbn__vk_plan_measure_scratch(vkbn_plan plan, uint64_t* size, uint64_t* alignment) {
    plan->impl = vkbn__calloc(1, sizeof(struct vkbn__vk_plan));
    if (!plan->impl) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "sizing scratch: out of host memory");
    vkbn__vk_plan_of(plan)->measure_only = true;
    VKBN_CHECK(vkbn__vk_plan_build(plan));
    *size = vkbn__vk_plan_of(plan)->scratch_size;
    *alignment = vkbn__vk_of(plan->ctx)->bind_align;
    return VKBN_SUCCESS;
}

static void memory_barrier(struct vkbn__vk* vk, VkCommandBuffer cmd, VkPipelineStageFlags src_stages,
                           VkAccessFlags src_access, VkPipelineStageFlags dst_stages, VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    vk->d.vkCmdPipelineBarrier(cmd, src_stages, dst_stages, 0, 1, &mb, 0, NULL, 0, NULL);
}

void vkbn__vk_plan_record(vkbn_plan plan, VkCommandBuffer cmd, bool zero_counters, vkbn_record_flags flags) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    const struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    if (flags & VKBN_RECORD_BARRIER_BEFORE) {
        memory_barrier(vk, cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    }
    if (zero_counters && p->counters_size > 0) {
        vk->d.vkCmdFillBuffer(cmd, p->scratch_buffer, p->scratch_offset + p->counters_offset, p->counters_size, 0);
        memory_barrier(vk, cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    }
    VkPipeline bound = VK_NULL_HANDLE; /* the caller's command buffer may hold another: bind at least once */
    for (uint32_t i = 0; i < p->count; ++i) {
        const vkbn__dispatch* d = &p->dispatches[i];
        if (d->barrier_before) vkbn__vk_barrier(vk, cmd);
        /* Consecutive dispatches of one pipeline (windows, chunks of
         * channels) bind it once; sets and push constants change per dispatch. */
        if (d->pipeline != bound) vk->d.vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline);
        bound = d->pipeline;
        vk->d.vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipeline_layouts[d->kernel], 0, 1,
                                      &d->set, 0, NULL);
        vk->d.vkCmdPushConstants(cmd, vk->pipeline_layouts[d->kernel], VK_SHADER_STAGE_COMPUTE_BIT, 0, d->push_size,
                                 d->push);
        vk->d.vkCmdDispatch(cmd, d->groups[0], d->groups[1], d->groups[2]);
    }
    if (flags & VKBN_RECORD_BARRIER_AFTER) {
        memory_barrier(vk, cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                       VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT);
    }
}

vkbn_result vkbn__vk_plan_record_for_caller(vkbn_plan plan, VkCommandBuffer cmd, vkbn_record_flags flags) {
    const struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    if (vk->profile) return vkbn__vk_profile_unsupported(vk, "vkbn_plan_record");
    /* cmd and flags are checked by core (embed.c). The submission order of the caller's command buffers is unknown, so
     * every recorded run zeroes its counters (vkbn.h, "Scratch counters"). */
    vkbn__vk_plan_record(plan, cmd, true, flags);
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_execute(vkbn_plan plan, uint32_t repetitions, double* seconds) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    if (vk->profile) return vkbn__vk_profile_unsupported(vk, seconds ? "vkbn_plan_execute_timed" : "vkbn_plan_execute");
    bool timed = seconds != NULL;
    if (timed && !vk->timestamps) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "plan: the device's compute queue has no timestamps");
    }
    VKBN_CHECK(vkbn__vk_begin(vk));
    VkCommandBuffer cmd = vk->cmd;
    if (timed) {
        vk->d.vkCmdResetQueryPool(cmd, vk->timestamps, 0, 2);
        /* Nothing runs before it in this command buffer (earlier submissions
         * have completed): the top of the pipe is the start of the plan. */
        vk->d.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, vk->timestamps, 0);
    }
    /* Counters of vkbn's own scratch need zeroing once (the first run leaves
     * them at zero); the caller's scratch may have been reused since. */
    bool zero = !vkbn__vk_plan_of(plan)->counters_ready || plan->op.scratch != NULL;
    for (uint32_t r = 0; r < repetitions; ++r) {
        if (r > 0) vkbn__vk_barrier(vk, cmd);
        vkbn__vk_plan_record(plan, cmd, zero && r == 0, 0);
    }
    if (timed) vk->d.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vk->timestamps, 1);
    vkbn__vk_plan_of(plan)->counters_ready = true; /* set under submit_lock */
    vkbn_result r = vkbn__vk_submit_and_wait(vk);
    if (r != VKBN_SUCCESS) {
        vkbn__vk_plan_of(plan)->counters_ready = false;
        return r;
    }
    if (timed) {
        uint64_t ts[2];
        VkResult vr = vk->d.vkGetQueryPoolResults(vk->device, vk->timestamps, 0, 2, sizeof ts, ts, sizeof ts[0],
                                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
        if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkGetQueryPoolResults");
        uint64_t mask = vk->caps.timestamp_bits >= 64 ? UINT64_MAX : ((1ull << vk->caps.timestamp_bits) - 1);
        uint64_t ticks = (ts[1] - ts[0]) & mask;
        *seconds = (double)ticks * (double)vk->caps.props.limits.timestampPeriod * 1e-9 / (double)repetitions;
    }
    return VKBN_SUCCESS;
}

void vkbn__vk_plan_destroy(vkbn_plan plan) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    if (!p) return;
    if (p->pool) vk->d.vkDestroyDescriptorPool(vk->device, p->pool, vk->alloc);
    if (p->scratch_allocation) vkbn__vk_destroy_buffer(vk, p->scratch_buffer, p->scratch_allocation); /* ours only */
    vkbn__free(p->dispatches);
    vkbn__free(p);
    plan->impl = NULL;
}
