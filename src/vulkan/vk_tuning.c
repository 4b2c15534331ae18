/* The per-vendor tuning table. Values are starting points measured or
 * reasoned per architecture; every entry must stay correct on any device
 * (workgroup sizes are powers of two >= the largest subgroup size, shared
 * memory within the 16 KiB every device has). */
#include <stdio.h>
#include <string.h>

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
    const char* name;
} tuning_entry;

static const tuning_entry table[] = {
    /* NVIDIA: 32-wide warps, many SMs; 8 workgroups of 256 per SM keep the memory system busy. */
    {0x10DE, 0, true, 256, 4, 8, 1024, 8192, 32, "NVIDIA"},
    /* AMD: wave32/64, CU count from VK_AMD_shader_core_properties. */
    {0x1002, 0, true, 256, 4, 8, 512, 8192, 32, "AMD"},
    /* Intel: SIMD8-32, fewer and smaller cores. */
    {0x8086, 0, true, 256, 4, 4, 256, 4096, 32, "Intel"},
    /* Arm Mali, Qualcomm Adreno, Apple: mobile-class parts. */
    {0x13B5, 0, true, 256, 2, 4, 64, 4096, 16, "Arm"},
    {0x5143, 0, true, 256, 2, 4, 64, 4096, 16, "Qualcomm"},
    {0x106B, 0, true, 256, 4, 4, 128, 4096, 32, "Apple"},
    /* Vulkan on the CPU (lavapipe, SwiftShader): a workgroup runs on one thread,
     * so a few workgroups per core suffice and bigger slices cost less. */
    {0, VK_PHYSICAL_DEVICE_TYPE_CPU, false, 256, 4, 0, 16, 32768, 16, "CPU driver"},
    {0, 0, true, 256, 4, 4, 256, 8192, 32, "default"},
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
    t->workgroup_size = e->workgroup_size;
    /* The subgroup butterfly needs whole subgroups inside a workgroup. */
    while (t->workgroup_size < caps->max_subgroup_size) t->workgroup_size <<= 1;
    t->apply_items = e->apply_items;
    t->target_groups = caps->sm_count && e->groups_per_cu ? caps->sm_count * e->groups_per_cu : e->default_groups;
    t->min_slice_elems = e->min_slice_elems;
    t->cl_threads_x_max = e->cl_threads_x_max;
    snprintf(t->source, sizeof t->source, "%s%s", e->name, caps->sm_count ? " (compute units known)" : "");
}
