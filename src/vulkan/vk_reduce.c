/* The reduction planner, for every reduction pass (REDUCE_STATS,
 * REDUCE_GRADS): the slices of vk_geometry.c dispatched as windows x chunks
 * of at most VKBN__MAX_GROUPS channel groups, each dispatch after the first
 * waiting for the one before (the last-workgroup merge reads partials an
 * earlier dispatch wrote, and outputs a plan does not write share one
 * placeholder: docs/ARCHITECTURE.md, "windows"); a deferred merge
 * (merge.glsl) adds the merge dispatches after them. The slicing (kp_slices)
 * and the scratch offsets (kp_scratch) are filled here, the same for every
 * reduction kernel; the rest comes from the pass's family (vk_family.c). */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

vkbn_result vkbn__vk_plan_reduce(vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__reduction* red, bool fused,
                                 const vkbn__pass* fused_next, bool store_channel) {
    const vkbn__geometry* geo = &b->g;
    vkbn__kernel kernel = geo->channels_last ? b->f.reduce_cl : b->f.reduce_cf;
    vkbn__variant variant = geo->variant;
    variant.subgroups = !geo->channels_last && b->vk->use_subgroups;
    /* Only the last-workgroup merge talks across workgroups (merge.glsl). */
    variant.memory_model = !fused && red->merge == MERGE_LAST_WORKGROUP;
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, b->f.spec, sizeof spec);
    spec[SPEC_FUSED] = fused;
    spec[SPEC_CL_THREADS_X] = red->tx;
    spec[SPEC_STORE_CHANNEL] = store_channel;
    spec[SPEC_MERGE] = fused ? MERGE_LAST_WORKGROUP : red->merge;
    vkbn__vk_family_reduce_spec(b, pass, fused_next, spec);
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(b->vk, kernel, variant, spec, &pipe));

    kp_slices s = {0};
    s.channels = geo->c;
    s.cv_count = geo->c / geo->vec;
    s.slices_total = fused ? 1 : red->slices_total;
    s.sv = vkbn__fastdiv((uint32_t)red->inner_items);
    uint32_t push[32];
    uint32_t io[32];
    vkbn__range r[BIND_MAX_COUNT];
    for (uint32_t w = 0; w < geo->window_count; ++w) {
        const vkbn__window* win = &geo->windows[w];
        vkbn__vk_family_window(b, win, fused_next != NULL, r, io);
        /* Items per channel (channels-first) or rows (channels-last). */
        s.items = (uint32_t)((uint64_t)win->n * red->inner_items);
        s.slice_items = red->wlen[w];
        for (uint32_t g0 = 0; g0 < red->groups; g0 += VKBN__MAX_GROUPS) {
            uint32_t count = red->groups - g0 < VKBN__MAX_GROUPS ? red->groups - g0 : VKBN__MAX_GROUPS;
            uint32_t grid[3] = {red->wslices[w], count, 1};
            s.group_base = g0;
            uint32_t size = vkbn__vk_push(push, &s, sizeof s, b, io);
            VKBN_CHECK(vkbn__vk_plan_add(b->plan, kernel, pipe, r, push, size, grid, w > 0 || g0 > 0));
            vkbn__traffic t;
            vkbn__vk_traffic_reduce(b, pass, red, w, g0, count, fused, fused_next, store_channel, &t);
            vkbn__vk_plan_note(b->plan, VKBN_DISPATCH_REDUCE, geo->wg, &t);
        }
        s.slice_base += red->wslices[w];
    }
    if (fused || red->merge != MERGE_DEFERRED) return VKBN_SUCCESS;

    /* The merge dispatch, behind a barrier: the same kernel, which then
     * merges the partials every window stored and finishes the channels
     * (merge_parts workgroups per channel group). It touches no tensor; the
     * first window's bindings serve. */
    spec[SPEC_MERGE] = MERGE_PASS;
    variant.memory_model = 0;
    VKBN_CHECK(vkbn__vk_get_pipeline(b->vk, kernel, variant, spec, &pipe));
    vkbn__vk_family_window(b, &geo->windows[0], false, r, io);
    s.items = 0;
    s.slice_items = 0;
    s.slice_base = 0;
    for (uint32_t g0 = 0; g0 < red->groups; g0 += VKBN__MAX_GROUPS) {
        uint32_t count = red->groups - g0 < VKBN__MAX_GROUPS ? red->groups - g0 : VKBN__MAX_GROUPS;
        uint32_t grid[3] = {red->merge_parts, count, 1};
        s.group_base = g0;
        uint32_t size = vkbn__vk_push(push, &s, sizeof s, b, io);
        VKBN_CHECK(vkbn__vk_plan_add(b->plan, kernel, pipe, r, push, size, grid, g0 == 0));
        vkbn__traffic t;
        vkbn__vk_traffic_merge(b, pass, red, g0, count, store_channel, &t);
        vkbn__vk_plan_note(b->plan, VKBN_DISPATCH_MERGE, geo->wg, &t);
    }
    return VKBN_SUCCESS;
}
