/* Planning forward passes (and the copy kernel) on Vulkan.
 *
 * Choices, all made from the shape and the device alone (so results are
 * reproducible):
 * - vector width: vec4 items when the innermost contiguous run of one
 *   channel (channels-first: S) or of channels (channels-last: C) is a
 *   multiple of 4 and every tensor starts 4-element aligned; else scalar.
 * - windows: a tensor larger than one descriptor can bind
 *   (maxStorageBufferRange) is processed in windows of whole samples.
 * - fused vs split: if one workgroup per channel (group) already fills the
 *   device, statistics and normalize run in one dispatch; otherwise each
 *   channel's reduction is split into slices whose partial (count, mean, M2)
 *   are merged by the last slice to finish, then one apply dispatch
 *   normalizes. */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

#define MAX_SLICES 1024u
#define MAX_GROUPS_Y 65535u

typedef struct window {
    uint32_t n0; /* first sample */
    uint32_t n;  /* samples */
} window;

typedef struct fwd_ctx {
    struct vkbn__vk* vk;
    const vkbn__op* op;
    vkbn__variant variant;
    bool channels_last;
    uint32_t vec;
    uint32_t wg;
    uint32_t c;
    uint64_t s;          /* spatial elements */
    uint64_t sample_bytes;
    window* windows;
    uint32_t window_count;
    uint32_t spec[SPEC_COUNT];
    kp_channel_bases bases;
    vkbn__range weight, bias, running_mean, running_var, save_mean, save_invstd;
} fwd_ctx;

static vkbn_result plan_windows(fwd_ctx* f) {
    const vkbn__op* op = f->op;
    uint64_t usable = f->vk->max_binding_range - f->vk->bind_align;
    /* Kernels index a window with 32-bit arithmetic (fast division needs < 2^31). */
    uint64_t index_cap = ((1ull << 31) - 64) * op->elem_size;
    if (usable > index_cap) usable = index_cap;
    if (f->sample_bytes > usable) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE,
                          "desc->tensor: one sample (c * spatial = %llu elements, %llu bytes) exceeds the largest "
                          "range the device binds at once (%llu bytes)",
                          (unsigned long long)(op->elements / op->tensor.n), (unsigned long long)f->sample_bytes,
                          (unsigned long long)usable);
    }
    uint64_t per = usable / f->sample_bytes;
    uint32_t n = op->tensor.n;
    if (per > n) per = n;
    f->window_count = (uint32_t)vkbn__div_up(n, per);
    f->windows = vkbn__calloc(f->window_count, sizeof *f->windows);
    if (!f->windows) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    for (uint32_t w = 0; w < f->window_count; ++w) {
        f->windows[w].n0 = (uint32_t)(w * per);
        f->windows[w].n = (uint32_t)((w + 1) * per > n ? n - w * per : per);
    }
    return VKBN_SUCCESS;
}

static bool tensor_aligned(vkbn_buffer b, uint32_t bytes) { return !b || b->offset % bytes == 0; }

static vkbn__range vec_range(fwd_ctx* f, vkbn_buffer b) {
    if (!b) return vkbn__vk_dummy_range(f->vk);
    return vkbn__vk_range(f->vk, b, 0, (uint64_t)f->c * 4, 4);
}

static vkbn__range window_range(fwd_ctx* f, vkbn_buffer b, const window* w) {
    if (!b) return vkbn__vk_dummy_range(f->vk);
    return vkbn__vk_range(f->vk, b, (uint64_t)w->n0 * f->sample_bytes, (uint64_t)w->n * f->sample_bytes,
                          f->vec * f->op->elem_size);
}

static vkbn_result setup(fwd_ctx* f, struct vkbn__vk* vk, const vkbn__op* op) {
    memset(f, 0, sizeof *f);
    f->vk = vk;
    f->op = op;
    f->c = op->tensor.c;
    f->s = op->spatial;
    f->channels_last = op->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST;
    f->wg = vk->tuning.workgroup_size;
    f->sample_bytes = (uint64_t)f->c * f->s * op->elem_size;
    if (op->tensor.dtype == VKBN_DTYPE_F16 && !vk->caps.storage16) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DTYPE,
                          "desc->tensor.dtype: f16 needs 16-bit storage (storageBuffer16BitAccess), which %s%s",
                          vk->ctx->info.name,
                          vk->own_device ? " lacks" : " supports only if the borrowed device enabled it");
    }
    if ((uint64_t)f->c * 4 > vk->max_binding_range) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor.c: %u channels exceed the device's binding range",
                          f->c);
    }
    uint64_t inner = f->channels_last ? f->c : f->s;
    uint32_t vbytes = 4 * op->elem_size;
    bool vec4 = inner % 4 == 0 && tensor_aligned(op->x, vbytes) && tensor_aligned(op->y, vbytes) &&
                tensor_aligned(op->z, vbytes);
    f->vec = vec4 ? 4 : 1;
    f->variant.f16 = op->tensor.dtype == VKBN_DTYPE_F16;
    f->variant.vec = (uint8_t)f->vec;
    VKBN_CHECK(plan_windows(f));

    f->weight = vec_range(f, op->weight);
    f->bias = vec_range(f, op->bias);
    f->running_mean = vec_range(f, op->running_mean);
    f->running_var = vec_range(f, op->running_var);
    f->save_mean = vec_range(f, op->save_mean);
    f->save_invstd = vec_range(f, op->save_invstd);
    f->bases.weight = f->weight.base;
    f->bases.bias = f->bias.base;
    f->bases.running_mean = f->running_mean.base;
    f->bases.running_var = f->running_var.base;
    f->bases.save_mean = f->save_mean.base;
    f->bases.save_invstd = f->save_invstd.base;

    uint32_t* s = f->spec;
    s[SPEC_WG_SIZE] = f->wg;
    s[SPEC_ACTIVATION] = (uint32_t)op->activation;
    s[SPEC_HAS_RESIDUAL] = op->z != NULL;
    s[SPEC_HAS_WEIGHT] = op->weight != NULL;
    s[SPEC_HAS_BIAS] = op->bias != NULL;
    s[SPEC_HAS_RUNNING] = op->kind == VKBN__OP_FORWARD_TRAINING && op->running_mean != NULL;
    s[SPEC_SAVE_MASK] = (op->save_mean ? 1u : 0u) | (op->save_invstd ? 2u : 0u);
    s[SPEC_CHANNELS_LAST] = f->channels_last;
    s[SPEC_INFERENCE] = op->kind == VKBN__OP_FORWARD_INFERENCE;
    s[SPEC_ITEMS] = vk->tuning.apply_items;
    return VKBN_SUCCESS;
}

/* Splits a 1-D count of workgroups over x and y (each at most 65535). */
static void grid_2d(uint64_t groups, uint32_t out[3], uint32_t* groups_x) {
    uint32_t gx = groups > 65535 ? 65535 : (uint32_t)(groups ? groups : 1);
    out[0] = gx;
    out[1] = (uint32_t)vkbn__div_up(groups ? groups : 1, gx);
    out[2] = 1;
    *groups_x = gx;
}

/* The apply dispatches, one per window. channel = scratch (training) or the
 * running statistics (inference). */
static vkbn_result add_apply(vkbn_plan plan, fwd_ctx* f, vkbn__range channel, uint32_t c_pad, bool barrier) {
    const vkbn__op* op = f->op;
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, f->spec, sizeof spec);
    spec[SPEC_FUSED] = 0;
    vkbn__variant variant = f->variant;
    variant.subgroups = 0; /* apply has no reductions */
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(f->vk, VKBN__KERNEL_APPLY, variant, spec, &pipe));
    uint32_t items = f->vk->tuning.apply_items;
    for (uint32_t w = 0; w < f->window_count; ++w) {
        const window* win = &f->windows[w];
        vkbn__range r[BIND_APPLY_COUNT];
        r[BIND_APPLY_X] = window_range(f, op->x, win);
        r[BIND_APPLY_Y] = window_range(f, op->y, win);
        r[BIND_APPLY_Z] = window_range(f, op->z, win);
        r[BIND_APPLY_WEIGHT] = f->weight;
        r[BIND_APPLY_BIAS] = f->bias;
        r[BIND_APPLY_RUNNING_MEAN] = f->running_mean;
        r[BIND_APPLY_RUNNING_VAR] = f->running_var;
        r[BIND_APPLY_CHANNEL] = channel;
        kp_apply pc = {0};
        uint64_t total_v = (uint64_t)win->n * f->c * f->s / f->vec;
        pc.total_v = (uint32_t)total_v;
        pc.x_base = r[BIND_APPLY_X].base;
        pc.y_base = r[BIND_APPLY_Y].base;
        pc.z_base = r[BIND_APPLY_Z].base;
        pc.eps = op->eps;
        pc.c_pad = c_pad;
        pc.inner = vkbn__fastdiv((uint32_t)(f->channels_last ? f->c / f->vec : f->s / f->vec));
        pc.channels = vkbn__fastdiv(f->c);
        pc.ch = f->bases;
        uint32_t groups[3];
        grid_2d(vkbn__div_up(total_v, (uint64_t)f->wg * items), groups, &pc.groups_x);
        VKBN_CHECK(vkbn__vk_plan_add(plan, VKBN__KERNEL_APPLY, pipe, r, &pc, sizeof pc, groups, barrier && w == 0));
    }
    return VKBN_SUCCESS;
}

/* Slices per channel (group) over the whole tensor: enough workgroups to fill
 * the device, none smaller than the tuning's minimum share. */
static uint32_t choose_slices(const fwd_ctx* f, uint32_t groups_per_slice, uint64_t elems_per_group_slice) {
    uint32_t hint = f->op->reduction_split;
    if (hint) return hint > MAX_SLICES ? MAX_SLICES : hint;
    uint64_t g = vkbn__div_up(f->vk->tuning.target_groups, groups_per_slice);
    uint64_t by_size = elems_per_group_slice / f->vk->tuning.min_slice_elems;
    if (g > by_size) g = by_size;
    if (g < 1) g = 1;
    return g > MAX_SLICES ? MAX_SLICES : (uint32_t)g;
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
    uint64_t a = f->vk->bind_align;
    l.c_pad = (uint32_t)vkbn__align_up(f->c, 4);
    l.partials_offset = 0;
    l.partials_bytes = (uint64_t)f->c * slices_total * 3 * 4;
    l.counters_offset = vkbn__align_up(l.partials_bytes, a);
    l.counters_bytes = (uint64_t)counters * 4;
    l.channel_offset = vkbn__align_up(l.counters_offset + l.counters_bytes, a);
    l.channel_bytes = (uint64_t)l.c_pad * 4 * 4; /* pivot | mean | scale | shift */
    l.total = l.channel_offset + l.channel_bytes;
    return l;
}

static vkbn_result plan_training(vkbn_plan plan, fwd_ctx* f) {
    struct vkbn__vk* vk = f->vk;
    const vkbn__op* op = f->op;
    vkbn__kernel kernel = f->channels_last ? VKBN__KERNEL_STATS_CL : VKBN__KERNEL_STATS_CF;
    f->variant.subgroups = !f->channels_last && vk->use_subgroups;
    uint32_t n = op->tensor.n;

    /* Channel groups: one channel (channels-first) or TX channel items. */
    uint32_t tx = 1, groups;
    uint64_t inner_items; /* items per sample of one group: S/vec or S (rows) */
    if (f->channels_last) {
        uint32_t cv = f->c / f->vec;
        tx = vkbn__next_pow2(cv);
        if (tx > vk->tuning.cl_threads_x_max) tx = vk->tuning.cl_threads_x_max;
        if (tx > f->wg) tx = f->wg;
        groups = (uint32_t)vkbn__div_up(cv, tx);
        inner_items = f->s;
    } else {
        groups = f->c;
        inner_items = f->s / f->vec;
    }
    uint64_t group_elems = op->per_channel * (f->channels_last ? (uint64_t)tx * f->vec : 1);
    uint32_t slices = choose_slices(f, groups, group_elems);
    bool fused = f->window_count == 1 && slices == 1;
    /* Row granularity of a slice: whole workgroup passes. */
    uint32_t step = f->channels_last ? f->wg / tx : f->wg;

    /* Slices per window, proportional to its samples. */
    uint32_t* wslices = vkbn__calloc(f->window_count, sizeof *wslices);
    uint32_t* wlen = vkbn__calloc(f->window_count, sizeof *wlen);
    if (!wslices || !wlen) {
        vkbn__free(wslices);
        vkbn__free(wlen);
        return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    }
    uint32_t slices_total = 0;
    for (uint32_t w = 0; w < f->window_count; ++w) {
        uint64_t items = (uint64_t)f->windows[w].n * inner_items;
        uint64_t g = vkbn__div_up((uint64_t)slices * f->windows[w].n, n);
        if (g < 1) g = 1;
        uint64_t len = vkbn__align_up(vkbn__div_up(items, g), step);
        wlen[w] = (uint32_t)len;
        wslices[w] = (uint32_t)vkbn__div_up(items, len);
        slices_total += wslices[w];
    }

    scratch_layout sl = layout_scratch(f, fused ? 0 : slices_total, fused ? 0 : groups);
    if (!fused && sl.partials_bytes > vk->max_binding_range) {
        vkbn__free(wslices);
        vkbn__free(wlen);
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor: too many channels for the device's binding range");
    }
    vkbn__range partials = vkbn__vk_dummy_range(vk), counters = partials, channel = partials;
    uint32_t chunks = (uint32_t)vkbn__div_up(groups, MAX_GROUPS_Y);
    vkbn_result r = vkbn__vk_plan_reserve(plan, f->window_count * chunks + (fused ? 0 : f->window_count));
    if (r == VKBN_SUCCESS && !fused) {
        r = vkbn__vk_plan_alloc_scratch(plan, sl.total, sl.counters_offset, sl.counters_bytes);
        partials = vkbn__vk_scratch_range(plan, sl.partials_offset, sl.partials_bytes);
        counters = vkbn__vk_scratch_range(plan, sl.counters_offset, sl.counters_bytes);
        channel = vkbn__vk_scratch_range(plan, sl.channel_offset, sl.channel_bytes);
    }
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, f->spec, sizeof spec);
    spec[SPEC_FUSED] = fused;
    spec[SPEC_CL_THREADS_X] = tx;
    VkPipeline pipe = VK_NULL_HANDLE;
    if (r == VKBN_SUCCESS) r = vkbn__vk_get_pipeline(vk, kernel, f->variant, spec, &pipe);

    /* Every window reads its pivots from the tensor's first sample. */
    window first = {0, 1};
    vkbn__range pivot = window_range(f, op->x, &first);
    uint32_t slice_base = 0;
    for (uint32_t w = 0; w < f->window_count && r == VKBN_SUCCESS; ++w) {
        const window* win = &f->windows[w];
        vkbn__range rg[BIND_STATS_COUNT];
        rg[BIND_STATS_X] = window_range(f, op->x, win);
        rg[BIND_STATS_Y] = fused ? window_range(f, op->y, win) : vkbn__vk_dummy_range(vk);
        rg[BIND_STATS_Z] = fused ? window_range(f, op->z, win) : vkbn__vk_dummy_range(vk);
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
        for (uint32_t g0 = 0; g0 < groups && r == VKBN_SUCCESS; g0 += MAX_GROUPS_Y) {
            uint32_t gcount = groups - g0 < MAX_GROUPS_Y ? groups - g0 : MAX_GROUPS_Y;
            uint32_t grid[3] = {wslices[w], gcount, 1};
            if (f->channels_last) {
                kp_stats_cl pc = {0};
                pc.channels = f->c;
                pc.cv_count = f->c / f->vec;
                pc.rows = (uint32_t)((uint64_t)win->n * f->s);
                pc.slice_rows = wlen[w];
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
                r = vkbn__vk_plan_add(plan, kernel, pipe, rg, &pc, sizeof pc, grid, false);
            } else {
                kp_stats_cf pc = {0};
                pc.channels = f->c;
                pc.c_base = g0;
                pc.m_v = (uint32_t)((uint64_t)win->n * inner_items);
                pc.slice_len = wlen[w];
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
                pc.sv = vkbn__fastdiv((uint32_t)inner_items);
                pc.ch = f->bases;
                r = vkbn__vk_plan_add(plan, kernel, pipe, rg, &pc, sizeof pc, grid, false);
            }
        }
        slice_base += wslices[w];
    }
    if (r == VKBN_SUCCESS && !fused) r = add_apply(plan, f, channel, sl.c_pad, true);
    if (r == VKBN_SUCCESS) {
        snprintf(plan->description, sizeof plan->description,
                 "forward training, %s %s %s: %s, %u channel group%s x %u slice%s, %u window%s, workgroup %u%s",
                 f->channels_last ? "channels-last" : "channels-first", f->variant.f16 ? "f16" : "f32",
                 f->vec == 4 ? "vec4" : "scalar", fused ? "fused (1 dispatch)" : "split (stats + apply)", groups,
                 groups == 1 ? "" : "s", fused ? 1 : slices_total, (fused ? 1 : slices_total) == 1 ? "" : "s",
                 f->window_count, f->window_count == 1 ? "" : "s", f->wg,
                 f->variant.subgroups ? ", subgroups" : "");
    }
    vkbn__free(wslices);
    vkbn__free(wlen);
    return r;
}

static vkbn_result plan_inference(vkbn_plan plan, fwd_ctx* f) {
    VKBN_CHECK(vkbn__vk_plan_reserve(plan, f->window_count));
    VKBN_CHECK(add_apply(plan, f, vkbn__vk_dummy_range(f->vk), 0, false));
    snprintf(plan->description, sizeof plan->description,
             "forward inference, %s %s %s: apply (1 dispatch per window), %u window%s, workgroup %u",
             f->channels_last ? "channels-last" : "channels-first", f->variant.f16 ? "f16" : "f32",
             f->vec == 4 ? "vec4" : "scalar", f->window_count, f->window_count == 1 ? "" : "s", f->wg);
    return VKBN_SUCCESS;
}

static vkbn_result plan_copy(vkbn_plan plan) {
    struct vkbn__vk* vk = plan->ctx->vk;
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
        kp_copy pc = {.words = (uint32_t)(bytes / 4),
                      .src_base = r[BIND_COPY_SRC].base,
                      .dst_base = r[BIND_COPY_DST].base};
        uint32_t groups[3];
        uint64_t items = v.vec == 4 ? vkbn__div_up(pc.words, 4) : pc.words;
        grid_2d(vkbn__div_up(items, (uint64_t)spec[SPEC_WG_SIZE] * spec[SPEC_ITEMS]), groups, &pc.groups_x);
        VKBN_CHECK(vkbn__vk_plan_add(plan, VKBN__KERNEL_COPY, pipe, r, &pc, sizeof pc, groups, false));
    }
    snprintf(plan->description, sizeof plan->description, "copy %llu bytes, %s, %u window%s",
             (unsigned long long)op->copy_bytes, v.vec == 4 ? "vec4" : "scalar", windows, windows == 1 ? "" : "s");
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_build(vkbn_plan plan) {
    if (!plan->vk) plan->vk = vkbn__calloc(1, sizeof *plan->vk); /* set already when only sizing scratch */
    if (!plan->vk) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating a plan: out of host memory");
    plan->vk->counters_ready = true; /* until scratch with counters is allocated */
    if (plan->op.kind == VKBN__OP_COPY) return plan_copy(plan);
    fwd_ctx f;
    vkbn_result r = setup(&f, plan->ctx->vk, &plan->op);
    if (r == VKBN_SUCCESS) {
        r = plan->op.kind == VKBN__OP_FORWARD_TRAINING ? plan_training(plan, &f) : plan_inference(plan, &f);
    }
    vkbn__free(f.windows);
    return r;
}
