/* The one place that filters validation-layer messages: the best-practices
 * warnings (VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT and the NVIDIA,
 * AMD and Arm checks) that do not apply to vkbn's compute work, by message
 * ID name, each with the reason. Everything else the layer reports counts
 * (vkbn_context_validation_message_count) and fails the tests.
 *
 * Read by the messenger of vkbn's own instance (vk_context.c) and by the
 * tests' engine (tests/engine_util.h), so both judge the layer alike. Header
 * only, and it needs nothing but the C library: the tests include it next to
 * the system Vulkan headers.
 *
 * Names are matched as the layer spells them from version 1.3.239 on: older
 * layers prefix "UNASSIGNED-", newer ones put the vendor after
 * "BestPractices-" ("BestPractices-NVIDIA-AllocateMemory-SetPriority"); both
 * are stripped before comparing. */
#ifndef VKBN_VK_VALIDATION_FILTER_H_
#define VKBN_VK_VALIDATION_FILTER_H_

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct vkbn__ignored_message {
    const char* id;              /* without "UNASSIGNED-" and without a vendor after "BestPractices-" */
    const char* reason;          /* why it does not apply to vkbn's compute work */
    bool unless_memory_priority; /* ignored only where VK_EXT_memory_priority is not enabled */
} vkbn__ignored_message;

static const vkbn__ignored_message vkbn__ignored_messages[] = {
    {"BestPractices-CreatePipelinesLayout-KeepLayoutSmall",
     "AMD: counts push constants against 13 user-data dwords; a kernel's about 30 dwords (slicing, scratch and "
     "tensor offsets) cost one scalar load per wave, against megabytes of tensor traffic; a uniform buffer instead "
     "would add a descriptor and a write per plan for the same load",
     false},
    {"BestPractices-SpirvDeprecated_WorkgroupSize",
     "vkbn runs on Vulkan 1.1 devices: the workgroup size is a specialization constant, which LocalSizeId carries "
     "only with maintenance4 (Vulkan 1.3); drivers generate the same code from either",
     false},
    {"BestPractices-vkCreateComputePipelines-compute-thread-group-alignment",
     "Arm: the layer reads the (1, 1, 1) default of the specialization-constant size; vkbn runs 256 and up", false},
    {"BestPractices-vkCreateComputePipelines-compute-spatial-locality",
     "Arm: advice for 2-D image access; vkbn's kernels read storage buffers only (the layer took them for images)",
     false},
    {"BestPractices-Pipeline-SortAndBind",
     "AMD/NVIDIA: binds per frame, which vkQueuePresentKHR ends; compute work is one endless frame", false},
    {"BestPractices-CmdBuffer-highBarrierCount",
     "AMD: barriers per frame, which vkQueuePresentKHR ends; compute work is one endless frame", false},
    {"BestPractices-pipeline-stage-flags",
     "ALL_COMMANDS in the opt-in VKBN_RECORD_BARRIER_* barriers: the caller's work around them has unknown stages",
     false},
    {"BestPractices-vkCreatePipelines-multiple-pipelines-no-cache",
     "AMD: each context keeps its own cache unless the caller shares one (vkbn_context_desc.pipeline_cache)", false},
    {"BestPractices-vkCreateInstance-specialuse-extension-debugging",
     "VK_EXT_debug_utils is enabled only with validation, to receive these messages", false},
    {"BestPractices-AllocateMemory-ReuseAllocations",
     "NVIDIA: the caller's pattern: destroying a buffer returns its memory; tensors over 1 MiB have their own", false},
    {"BestPractices-AllocateMemory-SetPriority",
     "NVIDIA: the priority struct is invalid without VK_EXT_memory_priority; vkbn passes it whenever that is on", true},
};

/* Why the message with this ID name does not count, or NULL if it counts.
 * memory_priority: VK_EXT_memory_priority is enabled on the device. */
static inline const char* vkbn__validation_ignored(const char* id_name, bool memory_priority) {
    if (!id_name) return NULL;
    static const char unassigned[] = "UNASSIGNED-", bp[] = "BestPractices-";
    static const char* const vendors[] = {"NVIDIA-", "AMD-", "Arm-", "IMG-"};
    if (strncmp(id_name, unassigned, sizeof unassigned - 1) == 0) id_name += sizeof unassigned - 1;
    if (strncmp(id_name, bp, sizeof bp - 1) != 0) return NULL;
    const char* rest = id_name + sizeof bp - 1;
    for (size_t v = 0; v < sizeof vendors / sizeof vendors[0]; ++v) {
        size_t n = strlen(vendors[v]);
        if (strncmp(rest, vendors[v], n) == 0) rest += n;
    }
    for (size_t i = 0; i < sizeof vkbn__ignored_messages / sizeof vkbn__ignored_messages[0]; ++i) {
        const vkbn__ignored_message* m = &vkbn__ignored_messages[i];
        if (strcmp(rest, m->id + sizeof bp - 1) != 0) continue;
        if (m->unless_memory_priority && memory_priority) return NULL;
        return m->reason;
    }
    return NULL;
}

#endif
