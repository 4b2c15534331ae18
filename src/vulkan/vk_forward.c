/* Planning forward passes (and the copy kernel) on Vulkan. Vector width,
 * windows and slices come from vk_geometry.c; here:
 * - fused vs split: if one workgroup per channel (group) already fills the
 *   device, statistics and normalize run in one dispatch; otherwise each
 *   channel's reduction is split into slices whose partial (count, mean, M2)
 *   are merged by the last slice to finish, then one apply dispatch
 *   normalizes. */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

#define MAX_GROUPS_Y 65535u

typedef struct fwd_ctx {
    vkbn__geometry g;
    uint32_t spec[SPEC_COUNT];
    kp_channel_bases bases;
    kp_activation act;
    vkbn__range weight, bias, running_mean, running_var, save_mean, save_invstd;
    const vkbn__pass* reduce;    /* REDUCE_STATS, or NULL */
    const vkbn__pass* normalize; /* NORMALIZE, or NULL */
    vkbn_buffer export_stats;    /* the reduction's export, or NULL */
} fwd_ctx;

static vkbn_result setup(fwd_ctx* f, struct vkbn__vk* vk, const vkbn__op* op, const vkbn__pass_list* passes) {
    memset(f, 0, sizeof *f);
    f->reduce = vkbn__find_pass(passes, VKBN__PASS_REDUCE_STATS);
    f->normalize = vkbn__find_pass(passes, VKBN__PASS_NORMALIZE);
    f->export_stats = f->reduce ? f->reduce->export_stats : NULL;
    const vkbn_buffer tensors[] = {op->x, op->y, op->z};
    VKBN_CHECK(vkbn__geometry_init(&f->g, vk, op, tensors, 3));
    const vkbn__geometry* g = &f->g;
    f->weight = vkbn__geometry_vector(g, op->weight);
    f->bias = vkbn__geometry_vector(g, op->bias);
    f->running_mean = vkbn__geometry_vector(g, op->running_mean);
    f->running_var = vkbn__geometry_vector(g, op->running_var);
    f->save_mean = vkbn__geometry_vector(g, op->save_mean);
    f->save_invstd = vkbn__geometry_vector(g, op->save_invstd);
    f->bases.weight = f->weight.base;
    f->bases.bias = f->bias.base;
    f->bases.running_mean = f->running_mean.base;
    f->bases.running_var = f->running_var.base;
    f->bases.save_mean = f->save_mean.base;
    f->bases.save_invstd = f->save_invstd.base;
    f->act.alpha = op->activation_alpha;
    f->act.beta = op->activation_beta;

    uint32_t* s = f->spec;
    s[SPEC_WG_SIZE] = g->wg;
    s[SPEC_ACTIVATION] = (uint32_t)op->activation;
    s[SPEC_HAS_RESIDUAL] = op->z != NULL;
    s[SPEC_HAS_WEIGHT] = op->weight != NULL;
    s[SPEC_HAS_BIAS] = op->bias != NULL;
    s[SPEC_HAS_RUNNING] = f->reduce && op->running_mean != NULL;
    s[SPEC_SAVE_MASK] = (op->save_mean ? 1u : 0u) | (op->save_invstd ? 2u : 0u);
    if (f->export_stats) {
        /* Export of a slice's statistics: save_mean binds the 3c-float output. */
        f->save_mean = vkbn__vk_range(vk, f->export_stats, 0, (uint64_t)g->c * 3 * sizeof(float), 4);
        f->bases.save_mean = f->save_mean.base;
        s[SPEC_SAVE_MASK] = 4u;
        s[SPEC_HAS_RUNNING] = 0;
    }
    s[SPEC_CHANNELS_LAST] = g->channels_last;
    s[SPEC_INFERENCE] = f->normalize && f->normalize->source == VKBN__SOURCE_RUNNING;
    s[SPEC_ITEMS] = vk->tuning.apply_items;
    return VKBN_SUCCESS;
}

/* The apply dispatches, one per window. channel = scratch (training) or the
 * running statistics (inference). */
static vkbn_result add_apply(vkbn_plan plan, fwd_ctx* f, vkbn__range channel, uint32_t c_pad, bool barrier) {
    const vkbn__geometry* g = &f->g;
    const vkbn__op* op = g->op;
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, f->spec, sizeof spec);
    spec[SPEC_FUSED] = 0;
    vkbn__variant variant = g->variant;
    variant.subgroups = 0; /* apply has no reductions */
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(g->vk, VKBN__KERNEL_APPLY, variant, spec, &pipe));
    uint32_t items = g->vk->tuning.apply_items;
    for (uint32_t w = 0; w < g->window_count; ++w) {
        const vkbn__window* win = &g->windows[w];
        vkbn__range r[BIND_APPLY_COUNT];
        r[BIND_APPLY_X] = vkbn__geometry_window(g, op->x, win);
        r[BIND_APPLY_Y] = vkbn__geometry_window(g, op->y, win);
        r[BIND_APPLY_Z] = vkbn__geometry_window(g, op->z, win);
        r[BIND_APPLY_WEIGHT] = f->weight;
        r[BIND_APPLY_BIAS] = f->bias;
        r[BIND_APPLY_RUNNING_MEAN] = f->running_mean;
        r[BIND_APPLY_RUNNING_VAR] = f->running_var;
        r[BIND_APPLY_CHANNEL] = channel;
        kp_apply pc = {0};
        uint64_t total_v = (uint64_t)win->n * g->c * g->s / g->vec;
        pc.total_v = (uint32_t)total_v;
        pc.x_base = r[BIND_APPLY_X].base;
        pc.y_base = r[BIND_APPLY_Y].base;
        pc.z_base = r[BIND_APPLY_Z].base;
        pc.eps = op->eps;
        pc.c_pad = c_pad;
        pc.inner = vkbn__fastdiv((uint32_t)(g->channels_last ? g->c / g->vec : g->s / g->vec));
        pc.channels = vkbn__fastdiv(g->c);
        pc.ch = f->bases;
        pc.act = f->act;
        uint32_t groups[3];
        vkbn__grid_2d(vkbn__div_up(total_v, (uint64_t)g->wg * items), groups, &pc.groups_x);
        VKBN_CHECK(vkbn__vk_plan_add(plan, VKBN__KERNEL_APPLY, pipe, r, &pc, sizeof pc, groups, barrier && w == 0));
    }
    return VKBN_SUCCESS;
}

typedef struct scratch_layout {
    uint64_t partials_offset, partials_bytes;
    uint64_t counters_offset, counters_bytes;
    uint64_t channel_offset, channel_bytes;
    uint64_t total;
    uint32_t c_pad;
} scratch_layout;

static scratch_layout layout_scratch(const fwd_ctx* f, uint32_t slices_total, uint32_t counters) {
    scratch_layout l;
    uint64_t a = f->g.vk->bind_align;
    l.c_pad = (uint32_t)vkbn__align_up(f->g.c, 4);
    l.partials_offset = 0;
    l.partials_bytes = (uint64_t)f->g.c * slices_total * 3 * 4;
    l.counters_offset = vkbn__align_up(l.partials_bytes, a);
    l.counters_bytes = (uint64_t)counters * 4;
    l.channel_offset = vkbn__align_up(l.counters_offset + l.counters_bytes, a);
    l.channel_bytes = (uint64_t)l.c_pad * 4 * 4; /* pivot | mean | scale | shift */
    l.total = l.channel_offset + l.channel_bytes;
    return l;
}

static vkbn_result plan_training(vkbn_plan plan, fwd_ctx* f) {
    vkbn__geometry* geo = &f->g;
    struct vkbn__vk* vk = geo->vk;
    const vkbn__op* op = geo->op;
    vkbn__kernel kernel = geo->channels_last ? VKBN__KERNEL_STATS_CL : VKBN__KERNEL_STATS_CF;
    geo->variant.subgroups = !geo->channels_last && vk->use_subgroups;
    vkbn__reduction red;
    VKBN_CHECK(vkbn__reduction_init(&red, geo));
    bool fused = red.fused;
    uint32_t groups = red.groups, slices_total = red.slices_total;

    scratch_layout sl = layout_scratch(f, fused ? 0 : slices_total, fused ? 0 : groups);
    if (!fused && sl.partials_bytes > vk->max_binding_range) {
        vkbn__reduction_free(&red);
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor: too many channels for the device's binding range");
    }
    vkbn__range partials = vkbn__vk_dummy_range(vk), counters = partials, channel = partials;
    uint32_t chunks = (uint32_t)vkbn__div_up(groups, MAX_GROUPS_Y);
    vkbn_result r = vkbn__vk_plan_reserve(plan, geo->window_count * chunks + (fused ? 0 : geo->window_count));
    if (r == VKBN_SUCCESS && !fused) {
        r = vkbn__vk_plan_alloc_scratch(plan, sl.total, sl.counters_offset, sl.counters_bytes);
        partials = vkbn__vk_scratch_range(plan, sl.partials_offset, sl.partials_bytes);
        counters = vkbn__vk_scratch_range(plan, sl.counters_offset, sl.counters_bytes);
        channel = vkbn__vk_scratch_range(plan, sl.channel_offset, sl.channel_bytes);
    }
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, f->spec, sizeof spec);
    spec[SPEC_FUSED] = fused;
    spec[SPEC_CL_THREADS_X] = red.tx;
    VkPipeline pipe = VK_NULL_HANDLE;
    if (r == VKBN_SUCCESS) r = vkbn__vk_get_pipeline(vk, kernel, geo->variant, spec, &pipe);

    /* Every window reads its pivots from the tensor's first sample. */
    vkbn__window first = {0, 1};
    vkbn__range pivot = vkbn__geometry_window(geo, op->x, &first);
    uint32_t slice_base = 0;
    for (uint32_t w = 0; w < geo->window_count && r == VKBN_SUCCESS; ++w) {
        const vkbn__window* win = &geo->windows[w];
        vkbn__range rg[BIND_STATS_COUNT];
        rg[BIND_STATS_X] = vkbn__geometry_window(geo, op->x, win);
        bool writes_y = fused && !f->export_stats;
        rg[BIND_STATS_Y] = writes_y ? vkbn__geometry_window(geo, op->y, win) : vkbn__vk_dummy_range(vk);
        rg[BIND_STATS_Z] = writes_y ? vkbn__geometry_window(geo, op->z, win) : vkbn__vk_dummy_range(vk);
        rg[BIND_STATS_WEIGHT] = f->weight;
        rg[BIND_STATS_BIAS] = f->bias;
        rg[BIND_STATS_RUNNING_MEAN] = f->running_mean;
        rg[BIND_STATS_RUNNING_VAR] = f->running_var;
        rg[BIND_STATS_SAVE_MEAN] = f->save_mean;
        rg[BIND_STATS_SAVE_INVSTD] = f->save_invstd;
        rg[BIND_STATS_PARTIALS] = partials;
        rg[BIND_STATS_COUNTERS] = counters;
        rg[BIND_STATS_CHANNEL] = channel;
        rg[BIND_STATS_PIVOT] = pivot;
        /* Every dispatch after the first waits for the one before (windows:
         * docs/ARCHITECTURE.md, "windows"). */
        for (uint32_t g0 = 0; g0 < groups && r == VKBN_SUCCESS; g0 += MAX_GROUPS_Y) {
            uint32_t gcount = groups - g0 < MAX_GROUPS_Y ? groups - g0 : MAX_GROUPS_Y;
            uint32_t grid[3] = {red.wslices[w], gcount, 1};
            if (geo->channels_last) {
                kp_stats_cl pc = {0};
                pc.channels = geo->c;
                pc.cv_count = geo->c / geo->vec;
                pc.rows = (uint32_t)((uint64_t)win->n * geo->s);
                pc.slice_rows = red.wlen[w];
                pc.slice_base = slice_base;
                pc.slices_total = fused ? 1 : slices_total;
                pc.cg_base = g0;
                pc.x_base = rg[BIND_STATS_X].base;
                pc.y_base = rg[BIND_STATS_Y].base;
                pc.z_base = rg[BIND_STATS_Z].base;
                pc.eps = op->eps;
                pc.factor = op->factor;
                pc.var_correction = op->var_correction;
                pc.c_pad = sl.c_pad;
                pc.pivot_base = pivot.base;
                pc.ch = f->bases;
                pc.act = f->act;
                r = vkbn__vk_plan_add(plan, kernel, pipe, rg, &pc, sizeof pc, grid, w > 0 || g0 > 0);
            } else {
                kp_stats_cf pc = {0};
                pc.channels = geo->c;
                pc.c_base = g0;
                pc.m_v = (uint32_t)((uint64_t)win->n * red.inner_items);
                pc.slice_len = red.wlen[w];
                pc.slice_base = slice_base;
                pc.slices_total = fused ? 1 : slices_total;
                pc.x_base = rg[BIND_STATS_X].base;
                pc.y_base = rg[BIND_STATS_Y].base;
                pc.z_base = rg[BIND_STATS_Z].base;
                pc.eps = op->eps;
                pc.factor = op->factor;
                pc.var_correction = op->var_correction;
                pc.c_pad = sl.c_pad;
                pc.pivot_base = pivot.base;
                pc.sv = vkbn__fastdiv((uint32_t)red.inner_items);
                pc.ch = f->bases;
                pc.act = f->act;
                r = vkbn__vk_plan_add(plan, kernel, pipe, rg, &pc, sizeof pc, grid, w > 0 || g0 > 0);
            }
        }
        slice_base += red.wslices[w];
    }
    if (r == VKBN_SUCCESS && !fused && !f->export_stats) r = add_apply(plan, f, channel, sl.c_pad, true);
    if (r == VKBN_SUCCESS) {
        snprintf(plan->description, sizeof plan->description,
                 "%s, %s %s %s: %s, %u channel group%s x %u slice%s, %u window%s, workgroup %u%s",
                 f->export_stats ? "slice statistics" : "forward training",
                 geo->channels_last ? "channels-last" : "channels-first", geo->variant.f16 ? "f16" : "f32",
                 geo->vec == 4 ? "vec4" : "scalar", fused ? "fused (1 dispatch)" : "split (stats + apply)", groups,
                 groups == 1 ? "" : "s", fused ? 1 : slices_total, (fused ? 1 : slices_total) == 1 ? "" : "s",
                 geo->window_count, geo->window_count == 1 ? "" : "s", geo->wg,
                 geo->variant.subgroups ? ", subgroups" : "");
    }
    vkbn__reduction_free(&red);
    return r;
}

static vkbn_result plan_inference(vkbn_plan plan, fwd_ctx* f) {
    const vkbn__geometry* g = &f->g;
    VKBN_CHECK(vkbn__vk_plan_reserve(plan, g->window_count));
    VKBN_CHECK(add_apply(plan, f, vkbn__vk_dummy_range(g->vk), 0, false));
    snprintf(plan->description, sizeof plan->description,
             "forward inference, %s %s %s: apply (1 dispatch per window), %u window%s, workgroup %u",
             g->channels_last ? "channels-last" : "channels-first", g->variant.f16 ? "f16" : "f32",
             g->vec == 4 ? "vec4" : "scalar", g->window_count, g->window_count == 1 ? "" : "s", g->wg);
    return VKBN_SUCCESS;
}

/* Normalize from channel parameters the host computed (passes.h,
 * VKBN__SOURCE_HOST): the apply pass of a split training plan, its scratch
 * replaced by the host's arrays. */
static vkbn_result plan_sync_apply(vkbn_plan plan, fwd_ctx* f) {
    const vkbn__geometry* g = &f->g;
    f->spec[SPEC_HAS_RUNNING] = 0;
    f->spec[SPEC_SAVE_MASK] = 0;
    uint32_t c_pad = vkbn__host_params_c_pad(g->c);
    vkbn__range channel = vkbn__vk_range(g->vk, f->normalize->host_params, 0,
                                         (uint64_t)c_pad * VKBN__NORMALIZE_HOST_ARRAYS * sizeof(float), 4);
    if (channel.base != 0) return vkbn__fail(VKBN_ERROR_MISALIGNED, "sync: channel parameters must start aligned");
    VKBN_CHECK(vkbn__vk_plan_reserve(plan, g->window_count));
    VKBN_CHECK(add_apply(plan, f, channel, c_pad, false));
    snprintf(plan->description, sizeof plan->description,
             "slice normalize from global statistics, %s %s %s: apply (1 dispatch per window), %u window%s",
             g->channels_last ? "channels-last" : "channels-first", g->variant.f16 ? "f16" : "f32",
             g->vec == 4 ? "vec4" : "scalar", g->window_count, g->window_count == 1 ? "" : "s");
    return VKBN_SUCCESS;
}

static vkbn_result plan_copy(vkbn_plan plan) {
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

vkbn_result vkbn__vk_plan_build(vkbn_plan plan) {
    if (!plan->impl) plan->impl = vkbn__calloc(1, sizeof(struct vkbn__vk_plan)); /* set already when only sizing scratch */
    if (!plan->impl) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating a plan: out of host memory");
    vkbn__vk_plan_of(plan)->counters_ready = true; /* until scratch with counters is allocated */
    const vkbn__pass_list* passes = &plan->passes;
    if (vkbn__find_pass(passes, VKBN__PASS_COPY)) return plan_copy(plan);
    if (vkbn__find_pass(passes, VKBN__PASS_REDUCE_GRADS) || vkbn__find_pass(passes, VKBN__PASS_APPLY_GRADS)) {
        return vkbn__vk_plan_backward(plan);
    }
    fwd_ctx f;
    vkbn_result r = setup(&f, vkbn__vk_of(plan->ctx), &plan->op, passes);
    if (r == VKBN_SUCCESS) {
        r = f.reduce                                     ? plan_training(plan, &f)
            : f.normalize->source == VKBN__SOURCE_HOST ? plan_sync_apply(plan, &f)
                                                       : plan_inference(plan, &f);
    }
    vkbn__geometry_free(&f.g);
    return r;
}
