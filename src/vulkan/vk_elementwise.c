/* The elementwise planner, for every elementwise pass (NORMALIZE,
 * APPLY_GRADS, from PREVIOUS, RUNNING or HOST parameters): one dispatch per
 * window over a flat range of items, ITEMS vector items per thread, the
 * channel parameters at the scratch binding (the reduction's channel block
 * or the host's arrays) or computed from the running statistics. The flat
 * range (kp_elementwise) and the scratch offsets are filled here; the rest
 * comes from the pass's family (vk_family.c). And COPY, the benchmark's
 * bandwidth ceiling. */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

vkbn_result vkbn__vk_plan_elementwise(vkbn__vk_build* b, const vkbn__pass* pass, bool after_reduction) {
    const vkbn__geometry* g = &b->g;
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, b->f.spec, sizeof spec);
    vkbn__vk_family_elementwise_spec(b, pass, after_reduction, spec);
    vkbn__variant variant = g->variant;
    variant.subgroups = 0; /* no reductions */
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(b->vk, b->f.elementwise, variant, spec, &pipe));
    uint32_t items = b->vk->tuning.apply_items;
    kp_elementwise e = {0};
    e.inner = vkbn__fastdiv((uint32_t)(g->channels_last ? g->c / g->vec : g->s / g->vec));
    e.channels = vkbn__fastdiv(g->c);
    for (uint32_t w = 0; w < g->window_count; ++w) {
        const vkbn__window* win = &g->windows[w];
        vkbn__range r[BIND_MAX_COUNT];
        uint32_t io[32];
        vkbn__vk_family_window(b, win, true, r, io);
        uint64_t total_v = (uint64_t)win->n * g->c * g->s / g->vec;
        e.total_v = (uint32_t)total_v;
        uint32_t groups[3];
        vkbn__grid_2d(vkbn__div_up(total_v, (uint64_t)g->wg * items), groups, &e.groups_x);
        uint32_t push[32];
        uint32_t size = vkbn__vk_push(push, &e, sizeof e, b, io);
        /* After a reduction, the first window waits for it; windows after the
         * first wait for the one before: an output the plan does not write is
         * bound to the shared placeholder, which the synchronization validator
         * counts as written by every window. */
        VKBN_CHECK(vkbn__vk_plan_add(b->plan, b->f.elementwise, pipe, r, push, size, groups, after_reduction || w > 0));
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_copy(vkbn_plan plan) {
    struct vkbn__vk* vk = vkbn__vk_of(plan->ctx);
    const vkbn__op* op = &plan->op;
    uint64_t window_bytes = (vk->max_binding_range - vk->bind_align) & ~15ull;
    uint64_t cap = ((1ull << 31) - 64) * 4;
    if (window_bytes > cap) window_bytes = cap;
    uint32_t windows = (uint32_t)vkbn__div_up(op->copy_bytes, window_bytes);
    vkbn__variant v = {0, (op->x->offset % 16 == 0 && op->y->offset % 16 == 0) ? 4 : 1, 0};
    uint32_t spec[SPEC_COUNT] = {0};
    spec[SPEC_WG_SIZE] = vk->tuning.workgroup_size;
    spec[SPEC_ITEMS] = vk->tuning.apply_items;
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(vk, VKBN__KERNEL_COPY, v, spec, &pipe));
    VKBN_CHECK(vkbn__vk_plan_reserve(plan, windows));
    for (uint32_t w = 0; w < windows; ++w) {
        uint64_t start = (uint64_t)w * window_bytes;
        uint64_t bytes = op->copy_bytes - start < window_bytes ? op->copy_bytes - start : window_bytes;
        vkbn__range r[BIND_COPY_COUNT];
        r[BIND_COPY_SRC] = vkbn__vk_range(vk, op->x, start, bytes, 4);
        r[BIND_COPY_DST] = vkbn__vk_range(vk, op->y, start, bytes, 4);
        kp_copy pc = {
            .words = (uint32_t)(bytes / 4), .src_base = r[BIND_COPY_SRC].base, .dst_base = r[BIND_COPY_DST].base};
        uint32_t groups[3];
        uint64_t items = v.vec == 4 ? vkbn__div_up(pc.words, 4) : pc.words;
        vkbn__grid_2d(vkbn__div_up(items, (uint64_t)spec[SPEC_WG_SIZE] * spec[SPEC_ITEMS]), groups, &pc.groups_x);
        VKBN_CHECK(vkbn__vk_plan_add(plan, VKBN__KERNEL_COPY, pipe, r, &pc, sizeof pc, groups, false));
    }
    snprintf(plan->description, sizeof plan->description, "copy %llu bytes, %s, %u window%s",
             (unsigned long long)op->copy_bytes, v.vec == 4 ? "vec4" : "scalar", windows, windows == 1 ? "" : "s");
    return VKBN_SUCCESS;
}
