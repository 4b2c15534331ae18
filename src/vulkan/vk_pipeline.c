/* Pipelines: one descriptor-set layout per kernel (storage buffers only, as
 * few as the kernel uses, so devices with small per-stage limits work), shader
 * modules from the embedded SPIR-V, and pipelines created once per
 * (kernel, variant, specialization) and kept for the context's lifetime. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

uint32_t vkbn__vk_binding_count(vkbn__kernel kernel) {
    switch (kernel) {
        case VKBN__KERNEL_STATS_CF:
        case VKBN__KERNEL_STATS_CL: return BIND_STATS_COUNT;
        case VKBN__KERNEL_APPLY:
        case VKBN__KERNEL_APPLY_PARAMS: return BIND_APPLY_COUNT;
        case VKBN__KERNEL_COPY: return BIND_COPY_COUNT;
        case VKBN__KERNEL_BWD_STATS_CF:
        case VKBN__KERNEL_BWD_STATS_CL:
        case VKBN__KERNEL_BWD_APPLY: return BIND_BWD_COUNT;
        default: return 0;
    }
}

static uint32_t push_size(vkbn__kernel kernel) {
    switch (kernel) {
        case VKBN__KERNEL_STATS_CF:
        case VKBN__KERNEL_STATS_CL: return sizeof(kp_stats);
        case VKBN__KERNEL_APPLY:
        case VKBN__KERNEL_APPLY_PARAMS: return sizeof(kp_apply);
        case VKBN__KERNEL_COPY: return sizeof(kp_copy);
        case VKBN__KERNEL_BWD_STATS_CF:
        case VKBN__KERNEL_BWD_STATS_CL: return sizeof(kp_bwd_stats);
        case VKBN__KERNEL_BWD_APPLY: return sizeof(kp_bwd_apply);
        default: return 0;
    }
}

vkbn_result vkbn__vk_pipelines_init(struct vkbn__vk* vk) {
    if (vk->caps.props.limits.maxPerStageDescriptorStorageBuffers < BIND_MAX_COUNT) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE,
                          "the device allows %u storage buffers per shader stage; vkbn needs %u",
                          vk->caps.props.limits.maxPerStageDescriptorStorageBuffers, BIND_MAX_COUNT);
    }
    for (int k = 0; k < VKBN__KERNEL_COUNT; ++k) {
        VkDescriptorSetLayoutBinding bindings[16];
        uint32_t n = vkbn__vk_binding_count((vkbn__kernel)k);
        for (uint32_t b = 0; b < n; ++b) {
            bindings[b] = (VkDescriptorSetLayoutBinding){.binding = b,
                                                         .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                         .descriptorCount = 1,
                                                         .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
        }
        VkDescriptorSetLayoutCreateInfo lci = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = n, .pBindings = bindings};
        VkResult vr = vk->d.vkCreateDescriptorSetLayout(vk->device, &lci, vk->alloc, &vk->set_layouts[k]);
        if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateDescriptorSetLayout");
        VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = push_size((vkbn__kernel)k)};
        VkPipelineLayoutCreateInfo plci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                           .setLayoutCount = 1,
                                           .pSetLayouts = &vk->set_layouts[k],
                                           .pushConstantRangeCount = 1,
                                           .pPushConstantRanges = &pcr};
        vr = vk->d.vkCreatePipelineLayout(vk->device, &plci, vk->alloc, &vk->pipeline_layouts[k]);
        if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreatePipelineLayout");
    }
    vk->modules = vkbn__calloc(vkbn__spirv_blob_count, sizeof *vk->modules);
    if (!vk->modules) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating pipelines: out of host memory");
    return VKBN_SUCCESS;
}

void vkbn__vk_pipelines_destroy(struct vkbn__vk* vk) {
    for (uint32_t i = 0; i < vk->pipeline_count; ++i) {
        vk->d.vkDestroyPipeline(vk->device, vk->pipelines[i].pipeline, vk->alloc);
    }
    vkbn__free(vk->pipelines);
    vk->pipelines = NULL;
    vk->pipeline_count = 0;
    if (vk->modules) {
        for (uint32_t i = 0; i < vkbn__spirv_blob_count; ++i) {
            if (vk->modules[i]) vk->d.vkDestroyShaderModule(vk->device, vk->modules[i], vk->alloc);
        }
        vkbn__free(vk->modules);
        vk->modules = NULL;
    }
    for (int k = 0; k < VKBN__KERNEL_COUNT; ++k) {
        if (vk->pipeline_layouts[k]) vk->d.vkDestroyPipelineLayout(vk->device, vk->pipeline_layouts[k], vk->alloc);
        if (vk->set_layouts[k]) vk->d.vkDestroyDescriptorSetLayout(vk->device, vk->set_layouts[k], vk->alloc);
    }
}

static int32_t find_blob(vkbn__kernel kernel, vkbn__variant v) {
    for (uint32_t i = 0; i < vkbn__spirv_blob_count; ++i) {
        const vkbn__spirv* b = &vkbn__spirv_blobs[i];
        if (b->kernel == kernel && b->variant.dtype == v.dtype && b->variant.vec == v.vec &&
            b->variant.subgroups == v.subgroups && b->variant.memory_model == v.memory_model) {
            return (int32_t)i;
        }
    }
    return -1;
}

/* Caller holds pipeline_lock. */
static vkbn_result create_pipeline(struct vkbn__vk* vk, vkbn__kernel kernel, vkbn__variant variant,
                                   const uint32_t spec[SPEC_COUNT], VkPipeline* out) {
    int32_t blob = find_blob(kernel, variant);
    if (blob < 0) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED,
                          "internal: no SPIR-V for kernel %d (dtype=%d vec=%d subgroups=%d memory_model=%d)",
                          (int)kernel, variant.dtype, variant.vec, variant.subgroups, variant.memory_model);
    }
    if (!vk->modules[blob]) {
        VkShaderModuleCreateInfo smci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                         .codeSize = vkbn__spirv_blobs[blob].size,
                                         .pCode = vkbn__spirv_blobs[blob].code};
        VkResult vr = vk->d.vkCreateShaderModule(vk->device, &smci, vk->alloc, &vk->modules[blob]);
        if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateShaderModule");
    }
    VkSpecializationMapEntry entries[SPEC_COUNT];
    for (uint32_t i = 0; i < SPEC_COUNT; ++i) {
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    }
    VkSpecializationInfo si = {
        .mapEntryCount = SPEC_COUNT, .pMapEntries = entries, .dataSize = SPEC_COUNT * 4, .pData = spec};
    VkPipelineShaderStageCreateFlags stage_flags = 0;
    /* The subgroup butterfly reads every lane: ask for full subgroups where the
     * device can promise them (workgroup sizes are multiples of the largest). */
    if (variant.subgroups && vk->caps.full_subgroups) {
        stage_flags |= VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
    }
    /* Creation feedback tells whether the driver found the pipeline in the
     * cache (vkbn_pipeline_stats). */
    VkPipelineCreationFeedback feedback = {0}, stage_feedback = {0};
    VkPipelineCreationFeedbackCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CREATION_FEEDBACK_CREATE_INFO,
                                                .pPipelineCreationFeedback = &feedback,
                                                .pipelineStageCreationFeedbackCount = 1,
                                                .pPipelineStageCreationFeedbacks = &stage_feedback};
    VkComputePipelineCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                                       .pNext = vk->caps.creation_feedback ? &fci : NULL,
                                       .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                                                 .flags = stage_flags,
                                                 .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                                                 .module = vk->modules[blob],
                                                 .pName = "main",
                                                 .pSpecializationInfo = &si},
                                       .layout = vk->pipeline_layouts[kernel]};
    double t0 = vkbn__now_seconds();
    VkResult vr = vk->d.vkCreateComputePipelines(vk->device, vk->pipeline_cache, 1, &pci, vk->alloc, out);
    vk->stats.create_seconds += vkbn__now_seconds() - t0;
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreateComputePipelines");
    vk->stats.pipelines_created++;
    if ((feedback.flags & VK_PIPELINE_CREATION_FEEDBACK_VALID_BIT) &&
        (feedback.flags & VK_PIPELINE_CREATION_FEEDBACK_APPLICATION_PIPELINE_CACHE_HIT_BIT)) {
        vk->stats.pipelines_cache_hits++;
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_get_pipeline(struct vkbn__vk* vk, vkbn__kernel kernel, vkbn__variant variant,
                                  const uint32_t spec[SPEC_COUNT], VkPipeline* out) {
    if (vk->profile) {
        *out = VK_NULL_HANDLE; /* plans only: no pipeline to create */
        return VKBN_SUCCESS;
    }
    vkbn__mutex_lock(&vk->pipeline_lock);
    for (uint32_t i = 0; i < vk->pipeline_count; ++i) {
        const vkbn__pipeline_entry* e = &vk->pipelines[i];
        if (e->kernel == kernel && memcmp(&e->variant, &variant, sizeof variant) == 0 &&
            memcmp(e->spec, spec, sizeof e->spec) == 0) {
            *out = e->pipeline;
            vkbn__mutex_unlock(&vk->pipeline_lock);
            return VKBN_SUCCESS;
        }
    }
    vkbn_result r = VKBN_SUCCESS;
    if (vk->pipeline_count == vk->pipeline_capacity) {
        uint32_t cap = vk->pipeline_capacity ? vk->pipeline_capacity * 2 : 16;
        vkbn__pipeline_entry* grown = vkbn__calloc(cap, sizeof *grown);
        if (!grown) {
            r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating a pipeline: out of host memory");
        } else {
            if (vk->pipelines) memcpy(grown, vk->pipelines, vk->pipeline_count * sizeof *grown);
            vkbn__free(vk->pipelines);
            vk->pipelines = grown;
            vk->pipeline_capacity = cap;
        }
    }
    if (r == VKBN_SUCCESS) r = create_pipeline(vk, kernel, variant, spec, out);
    if (r == VKBN_SUCCESS) {
        vkbn__pipeline_entry* e = &vk->pipelines[vk->pipeline_count++];
        e->kernel = kernel;
        e->variant = variant;
        memcpy(e->spec, spec, sizeof e->spec);
        e->pipeline = *out;
    }
    vkbn__mutex_unlock(&vk->pipeline_lock);
    return r;
}
