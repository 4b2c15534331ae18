/* The elementwise planner, for every elementwise pass (NORMALIZE,
 * APPLY_GRADS, from PREVIOUS, RUNNING or HOST parameters): one dispatch per
 * window over a flat range of items, ITEMS items per thread, the channel
 * parameters at the scratch binding (the reduction's channel block, the
 * host's arrays, or for channels-last inference the block apply_params
 * leaves first) or computed from the running statistics (channels-first
 * inference, frozen backward). The flat range (kp_elementwise), the item
 * width and the thread-to-item mapping are chosen here; the rest comes from
 * the pass's family (vk_family.c). And COPY, the benchmark's bandwidth
 * ceiling. */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

uint32_t vkbn__vk_elementwise_vec(const vkbn__vk_build* b) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = b->op;
    /* 16-bit vec4 items are 8 bytes where the copy moves 16: where every
     * row (channels-first: S; channels-last: C) and every tensor's start is
     * 8-element aligned, items of 8 elements (VEC=8). Per element the
     * arithmetic is the same, so are the results. */
    if (g->variant.dtype == VKBN__STORE_F32 || g->vec != 4) return g->vec;
    if ((g->channels_last ? (uint64_t)g->c : g->s) % 8 != 0) return g->vec;
    const vkbn_buffer tensors[] = {op->x, op->y, op->z, op->dy, op->dx, op->dz};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i) {
        if (tensors[i] && tensors[i]->offset % 16 != 0) return g->vec;
    }
    return 8;
}

vkbn_result vkbn__vk_plan_elementwise(vkbn__vk_build* b, const vkbn__pass* pass, bool after) {
    const vkbn__geometry* g = &b->g;
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, b->f.spec, sizeof spec);
    vkbn__vk_family_elementwise_spec(b, pass, after, spec);
    uint32_t vec = vkbn__vk_elementwise_vec(b);
    /* Channels-last, a thread loads its channel parameters once when all
     * its items have the same channel items (elementwise.glsl): they lie WG
     * items apart, and WG is a multiple of a row (C / vec items); or, rows
     * being a multiple of WG items, a workgroup covers WG channel items of
     * ITEMS rows and its threads' items lie a row apart. Other rows (C not a
     * power of two) load them per item. */
    uint32_t wg = spec[SPEC_WG_SIZE], row = g->c / vec;
    uint32_t mode = !g->channels_last ? 0 : wg % row == 0 ? 1 : row % wg == 0 ? 2 : 0;
    spec[SPEC_THREAD_CHANNEL] = mode;
    vkbn__variant variant = g->variant;
    variant.vec = (uint8_t)vec;
    variant.subgroups = 0; /* no reductions */
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(b->vk, b->f.elementwise, variant, spec, &pipe));
    uint32_t items = b->vk->tuning.apply_items;
    kp_elementwise e = {0};
    /* Channels in the geometry's items (VEC=8: its vec4 sub-items). */
    e.inner = vkbn__fastdiv((uint32_t)(g->channels_last ? g->c / g->vec : g->s / g->vec));
    e.channels = vkbn__fastdiv(mode == 2 ? row / wg : g->c);
    for (uint32_t w = 0; w < g->window_count; ++w) {
        const vkbn__window* win = &g->windows[w];
        vkbn__range r[BIND_MAX_COUNT];
        uint32_t io[32];
        vkbn__vk_family_window(b, win, true, r, io);
        vkbn__vk_family_rebase(b, vec, io);
        uint64_t total_v = (uint64_t)win->n * g->c * g->s / vec;
        e.total_v = (uint32_t)total_v;
        uint32_t groups[3];
        uint64_t rows = (uint64_t)win->n * g->s;
        uint64_t blocks =
            mode == 2 ? vkbn__div_up(rows, items) * (row / wg) : vkbn__div_up(total_v, (uint64_t)wg * items);
        vkbn__grid_2d(blocks, groups, &e.groups_x);
        uint32_t push[32];
        uint32_t size = vkbn__vk_push(push, &e, sizeof e, b, io);
        /* The first window waits for the dispatch before it, if any; windows
         * after the first wait for the one before: an output the plan does
         * not write is bound to the shared placeholder, which the
         * synchronization validator counts as written by every window. */
        VKBN_CHECK(vkbn__vk_plan_add(b->plan, b->f.elementwise, pipe, r, push, size, groups, after || w > 0));
        vkbn__traffic t;
        vkbn__vk_traffic_elementwise(b, pass, win, after, spec, &t);
        vkbn__vk_plan_note(b->plan, VKBN_DISPATCH_ELEMENTWISE, wg, &t);
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_inference_params(vkbn__vk_build* b) {
    const vkbn__geometry* g = &b->g;
    /* Only the constants the kernel reads, so that plans share it. */
    uint32_t spec[SPEC_COUNT] = {0};
    spec[SPEC_WG_SIZE] = b->vk->tuning.workgroup_size;
    spec[SPEC_HAS_WEIGHT] = b->f.spec[SPEC_HAS_WEIGHT];
    spec[SPEC_HAS_BIAS] = b->f.spec[SPEC_HAS_BIAS];
    vkbn__variant variant = {0, 1, 0};
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(b->vk, VKBN__KERNEL_APPLY_PARAMS, variant, spec, &pipe));
    kp_elementwise e = {0};
    e.total_v = g->c;
    uint32_t groups[3];
    vkbn__grid_2d(vkbn__div_up(g->c, spec[SPEC_WG_SIZE]), groups, &e.groups_x);
    vkbn__range r[BIND_MAX_COUNT];
    uint32_t io[32];
    vkbn__vk_family_window(b, &g->windows[0], false, r, io); /* the vectors and the scratch */
    uint32_t push[32];
    uint32_t size = vkbn__vk_push(push, &e, sizeof e, b, io);
    VKBN_CHECK(vkbn__vk_plan_add(b->plan, VKBN__KERNEL_APPLY_PARAMS, pipe, r, push, size, groups, false));
    vkbn__traffic t;
    vkbn__vk_traffic_params(b, &t);
    vkbn__vk_plan_note(b->plan, VKBN_DISPATCH_PARAMS, spec[SPEC_WG_SIZE], &t);
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
        vkbn__traffic t = {.read = bytes, .written = bytes};
        vkbn__vk_plan_note(plan, VKBN_DISPATCH_COPY, spec[SPEC_WG_SIZE], &t);
    }
    snprintf(plan->description, sizeof plan->description, "copy %llu bytes, %s, %u window%s",
             (unsigned long long)op->copy_bytes, v.vec == 4 ? "vec4" : "scalar", windows, windows == 1 ? "" : "s");
    return VKBN_SUCCESS;
}
