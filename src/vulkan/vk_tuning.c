/* The per-vendor tuning table. Values are starting points measured or
 * reasoned per architecture; every entry must stay correct on any device
 * (workgroup sizes are powers of two >= the largest subgroup size, shared
 * memory within the 16 KiB every device has). */
#include <stdio.h>
#include <string.h>

#include "../core/test_hooks.h"
#include "vk_internal.h"

typedef struct tuning_entry {
    uint32_t vendor_id; /* 0 matches any vendor */
    VkPhysicalDeviceType type;
    bool any_type;
    uint32_t workgroup_size;
    uint32_t apply_items;
    uint32_t groups_per_cu;  /* target workgroups per compute unit when the count is known */
    uint32_t default_groups; /* target workgroups when it is not */
    uint32_t min_slice_elems;
    uint32_t cl_threads_x_max;
    /* Driver quirks, named as ncnn names its bug_* flags. */
    bool bug_cross_workgroup_visibility; /* no cross-workgroup visibility inside a dispatch (merge.glsl) */
    const char* name;
} tuning_entry;

static const tuning_entry table[] = {
    /* NVIDIA: 32-wide warps, many SMs; 8 workgroups of 256 per SM keep the memory system busy. */
    {0x10DE, 0, true, 256, 4, 8, 1024, 8192, 32, false, "NVIDIA"},
    /* AMD: wave32/64, CU count from VK_AMD_shader_core_properties. */
    {0x1002, 0, true, 256, 4, 8, 512, 8192, 32, false, "AMD"},
    /* Intel: SIMD8-32, fewer and smaller cores. */
    {0x8086, 0, true, 256, 4, 4, 256, 4096, 32, false, "Intel"},
    /* Arm Mali, Qualcomm Adreno, Apple: mobile-class parts. Metal gives no
     * visibility of one threadgroup's device-memory writes to another inside
     * a dispatch, whatever SPIR-V asks (MoltenVK #2497, SPIRV-Cross #2473):
     * Apple GPUs merge in a dispatch of their own (so does any MoltenVK
     * device, by its driver ID: vkbn__vk_choose_tuning). */
    {0x13B5, 0, true, 256, 2, 4, 64, 4096, 16, false, "Arm"},
    {0x5143, 0, true, 256, 2, 4, 64, 4096, 16, false, "Qualcomm"},
    {0x106B, 0, true, 256, 4, 4, 128, 4096, 32, true, "Apple"},
    /* Vulkan on the CPU (lavapipe, SwiftShader): a workgroup runs on one thread,
     * so a few workgroups per core suffice and bigger slices cost less. */
    {0, VK_PHYSICAL_DEVICE_TYPE_CPU, false, 256, 4, 0, 16, 32768, 16, false, "CPU driver"},
    {0, 0, true, 256, 4, 4, 256, 8192, 32, false, "default"},
};

void vkbn__vk_choose_tuning(const vkbn__caps* caps, vkbn__tuning* t) {
    const tuning_entry* e = &table[sizeof table / sizeof table[0] - 1];
    for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
        const tuning_entry* c = &table[i];
        bool vendor_ok = c->vendor_id == 0 || c->vendor_id == caps->props.vendorID;
        bool type_ok = c->any_type || c->type == caps->props.deviceType;
        if (vendor_ok && type_ok) {
            e = c;
            break;
        }
    }
    memset(t, 0, sizeof *t);
    const vkbn_test_hooks* hooks = vkbn__test_hooks();
    t->workgroup_size = e->workgroup_size;
    /* The subgroup butterfly needs whole subgroups inside a workgroup. */
    while (t->workgroup_size < caps->max_subgroup_size) t->workgroup_size <<= 1;
    /* Then within the device's limits: invocations, x size and the shared
     * memory the largest kernel declares at that size (never below one
     * subgroup; the spec's minimums, 128 invocations and 16 KiB, always
     * leave 128). */
    uint64_t invocations = caps->props.limits.maxComputeWorkGroupInvocations;
    if (caps->props.limits.maxComputeWorkGroupSize[0] < invocations)
        invocations = caps->props.limits.maxComputeWorkGroupSize[0];
    if (hooks->vk_max_workgroup_invocations < invocations) invocations = hooks->vk_max_workgroup_invocations;
    uint64_t shared = caps->props.limits.maxComputeSharedMemorySize;
    if (hooks->vk_max_shared_memory < shared) shared = hooks->vk_max_shared_memory;
    uint32_t floor = caps->max_subgroup_size > 1 ? caps->max_subgroup_size : 1;
    while (t->workgroup_size / 2 >= floor && (t->workgroup_size > invocations ||
                                              vkbn__vk_shared_bytes(t->workgroup_size, e->cl_threads_x_max) > shared)) {
        t->workgroup_size /= 2;
    }
    t->apply_items = e->apply_items;
    t->target_groups = caps->sm_count && e->groups_per_cu ? caps->sm_count * e->groups_per_cu : e->default_groups;
    /* A target from the compute units is a wave: reductions fill it whole
     * (vk_geometry.c, choose_slices). */
    t->whole_waves = caps->sm_count && e->groups_per_cu;
    if (hooks->vk_wave != VKBN_TEST_HOOK_UNSET && hooks->vk_wave > 0 && hooks->vk_wave <= UINT32_MAX) {
        t->target_groups = (uint32_t)hooks->vk_wave;
        t->whole_waves = true;
    }
    t->min_slice_elems = e->min_slice_elems;
    t->cl_threads_x_max = e->cl_threads_x_max < t->workgroup_size ? e->cl_threads_x_max : t->workgroup_size;
    bool moltenvk = strcmp(caps->driver_name, "MoltenVK") == 0;
    t->last_workgroup_merge = caps->memory_model && !e->bug_cross_workgroup_visibility && !moltenvk &&
                              (hooks->vk_merge_dispatch == VKBN_TEST_HOOK_UNSET || hooks->vk_merge_dispatch == 0);
    snprintf(t->source, sizeof t->source, "%s%s", e->name, caps->sm_count ? " (compute units known)" : "");
}

/* The most shared memory any kernel declares at workgroup size wg with at
 * most tx threads along channels, in step with the declarations: stats_cl
 * (s_tree: a Stat4 of 36 bytes per thread; s_pivot, s_mean, s_scale,
 * s_shift: a vec4 per tx) and bwd_stats_cl (s_sum, s_comp: a vec4 per
 * thread; s_coef: six vec4 per tx), each plus merge_channels.glsl's s_merge
 * (a vec4 per thread); the channels-first kernels need less. */
uint64_t vkbn__vk_shared_bytes(uint32_t wg, uint32_t tx) {
    uint64_t stats_cl = 36ull * wg + 4ull * 16 * tx + 16ull * wg + 16;
    uint64_t bwd_cl = 32ull * wg + 6ull * 16 * tx + 16ull * wg + 16;
    return stats_cl > bwd_cl ? stats_cl : bwd_cl;
}
