/* Geometry shared by the forward and backward planners, all chosen from the
 * shape and the device alone (so results are reproducible):
 * - vector width: vec4 items when the innermost contiguous run of one
 *   channel (channels-first: S) or of channels (channels-last: C) is a
 *   multiple of 4 and every tensor starts 4-element aligned; else scalar.
 * - windows: a tensor larger than one descriptor can bind
 *   (maxStorageBufferRange) is processed in windows of whole samples.
 * - reductions: channel groups, and slices of each channel's reduction
 *   spread over the windows in proportion to their samples. */
#include <string.h>

#include "../core/errors.h"
#include "../core/test_hooks.h"
#include "vk_internal.h"

/* Channels-first workgroups shrink (to no fewer than this many threads) until
 * each thread has this many items of its channel, or the tuning's size. */
#define SMALL_CHANNEL_MIN_WG 64u
#define SMALL_CHANNEL_ITEMS 4u

static vkbn_result plan_windows(vkbn__geometry* g) {
    const vkbn__op* op = g->op;
    uint64_t usable = g->vk->max_binding_range - g->vk->bind_align;
    /* Kernels index a window with 32-bit arithmetic (fast division needs < 2^31). */
    uint64_t index_cap = ((1ull << 31) - 64) * op->elem_size;
    if (usable > index_cap) usable = index_cap;
    if (g->sample_bytes > usable) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE,
                          "desc->tensor: one sample (c * spatial = %llu elements, %llu bytes) exceeds the largest "
                          "range the device binds at once (%llu bytes)",
                          (unsigned long long)(op->elements / op->tensor.n), (unsigned long long)g->sample_bytes,
                          (unsigned long long)usable);
    }
    uint64_t per = usable / g->sample_bytes;
    uint32_t n = op->tensor.n;
    if (per > n) per = n;
    g->window_count = (uint32_t)vkbn__div_up(n, per);
    /* Windows of equal size (to a sample): each runs on its own behind a
     * barrier, so a small last one would leave most of the device idle. */
    per = vkbn__div_up(n, g->window_count);
    g->windows = vkbn__calloc(g->window_count, sizeof *g->windows);
    if (!g->windows) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    for (uint32_t w = 0; w < g->window_count; ++w) {
        g->windows[w].n0 = (uint32_t)(w * per);
        g->windows[w].n = (uint32_t)((w + 1) * per > n ? n - w * per : per);
    }
    return VKBN_SUCCESS;
}

/* bf16 runs on every device: vec4 items in 32-bit words (two whole words,
 * as wide as 16-bit storage's loads), and scalar items as 16-bit elements
 * where the device has 16-bit storage, else as halves of words stored with
 * atomics (shaders/storage.glsl). The test hook forces the words there too. */
static vkbn__storage storage_of(const struct vkbn__vk* vk, vkbn_dtype dtype, uint32_t vec) {
    if (dtype == VKBN_DTYPE_F16) return VKBN__STORE_F16;
    if (dtype != VKBN_DTYPE_BF16) return VKBN__STORE_F32;
    const uint64_t force_words = vkbn__test_hooks()->vk_bf16_words;
    if (vec != 1 || !vk->caps.storage16 || (force_words != VKBN_TEST_HOOK_UNSET && force_words != 0)) {
        return VKBN__STORE_BF16_WORDS;
    }
    return VKBN__STORE_BF16;
}

const char* vkbn__vk_storage_name(uint32_t storage) {
    switch (storage) {
        case VKBN__STORE_F16: return "f16";
        case VKBN__STORE_BF16: return "bf16";
        case VKBN__STORE_BF16_WORDS: return "bf16 (words)";
        default: return "f32";
    }
}

static bool tensor_aligned(vkbn_buffer b, uint32_t bytes) { return !b || b->offset % bytes == 0; }

vkbn_result vkbn__geometry_init(vkbn__geometry* g, struct vkbn__vk* vk, const vkbn__op* op, const vkbn_buffer* tensors,
                                uint32_t tensor_count) {
    memset(g, 0, sizeof *g);
    g->vk = vk;
    g->op = op;
    g->c = op->tensor.c;
    g->s = op->spatial;
    g->channels_last = op->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST;
    g->wg = vk->tuning.workgroup_size;
    g->sample_bytes = (uint64_t)g->c * g->s * op->elem_size;
    if (op->tensor.dtype == VKBN_DTYPE_F16 && !vk->caps.storage16) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DTYPE,
                          "desc->tensor.dtype: f16 needs 16-bit storage (storageBuffer16BitAccess), which %s%s",
                          vk->ctx->info.name,
                          vk->own_device ? " lacks" : " supports only if the borrowed device enabled it");
    }
    if ((uint64_t)g->c * 4 > vk->max_binding_range) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor.c: %u channels exceed the device's binding range", g->c);
    }
    uint64_t inner = g->channels_last ? g->c : g->s;
    uint32_t vbytes = 4 * op->elem_size;
    bool vec4 = inner % 4 == 0;
    for (uint32_t i = 0; i < tensor_count; ++i) vec4 = vec4 && tensor_aligned(tensors[i], vbytes);
    g->vec = vec4 ? 4 : 1;
    /* Channels-first with little data per channel (batch 1, 7x7): a smaller
     * workgroup, so threads are not left idle and the merge tree is short.
     * Never below 64 or the largest subgroup (the butterfly needs whole
     * subgroups). */
    if (!g->channels_last) {
        uint64_t items = op->per_channel / g->vec;
        uint32_t floor =
            vk->caps.max_subgroup_size > SMALL_CHANNEL_MIN_WG ? vk->caps.max_subgroup_size : SMALL_CHANNEL_MIN_WG;
        while (g->wg / 2 >= floor && (uint64_t)g->wg * SMALL_CHANNEL_ITEMS > items) g->wg /= 2;
    }
    g->variant.dtype = (uint8_t)storage_of(vk, op->tensor.dtype, g->vec);
    g->variant.vec = (uint8_t)g->vec;
    if (g->variant.dtype == VKBN__STORE_BF16_WORDS) {
        /* The word holding a tensor's last element must be bindable: always
         * so in vkbn's own buffers (allocated in 16-byte multiples), not in
         * a wrapped range that ends 2 bytes into a word. */
        for (uint32_t i = 0; i < tensor_count; ++i) {
            const vkbn_buffer t = tensors[i];
            if (t && vkbn__align_up(t->offset + op->elements * 2, 4) > t->root_end) {
                return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DTYPE,
                                  "desc->tensor.dtype: bf16 without 16-bit storage writes whole 32-bit words, and a "
                                  "tensor's last element ends 2 bytes before the end of its wrapped VkBuffer range "
                                  "(%s): wrap 2 more bytes",
                                  vk->ctx->info.name);
            }
        }
    }
    return plan_windows(g);
}

void vkbn__geometry_free(vkbn__geometry* g) {
    vkbn__free(g->windows);
    g->windows = NULL;
}

vkbn__range vkbn__geometry_vector(const vkbn__geometry* g, vkbn_buffer b) {
    if (!b) return vkbn__vk_dummy_range(g->vk);
    return vkbn__vk_range(g->vk, b, 0, (uint64_t)g->c * 4, 4);
}

vkbn__range vkbn__geometry_window(const vkbn__geometry* g, vkbn_buffer b, const vkbn__window* w) {
    if (!b) return vkbn__vk_dummy_range(g->vk);
    vkbn__range r = vkbn__vk_range(g->vk, b, (uint64_t)w->n0 * g->sample_bytes, (uint64_t)w->n * g->sample_bytes,
                                   g->vec * g->op->elem_size);
    /* bf16 in words: a window (or tensor) that ends mid-word binds the whole
     * word, which holds its last element (the other half is the next
     * window's, or past the tensor: read, and written only by atomics that
     * keep its bits; geometry_init checked that it is vkbn's to bind). */
    if (g->variant.dtype == VKBN__STORE_BF16_WORDS && r.range % 4 != 0 && r.offset + r.range + 2 <= b->root_end) {
        r.range += 2;
    }
    return r;
}

vkbn__range vkbn__geometry_mask_window(const vkbn__geometry* g, vkbn_buffer mask, const vkbn__window* w,
                                       uint32_t* bit_base) {
    *bit_base = 0;
    if (!mask) return vkbn__vk_dummy_range(g->vk);
    /* The words holding the window's bits; its first bit at bit_base. */
    const uint64_t per_sample = (uint64_t)g->c * g->s;
    const uint64_t e0 = (uint64_t)w->n0 * per_sample, e1 = e0 + (uint64_t)w->n * per_sample;
    const uint64_t word0 = e0 / 32, words = (e1 + 31) / 32 - word0;
    vkbn__range r = vkbn__vk_range(g->vk, mask, word0 * 4, words * 4, 4);
    *bit_base = (uint32_t)(r.base * 32u + e0 % 32);
    return r;
}

void vkbn__grid_2d(uint64_t groups, uint32_t out[3], uint32_t* groups_x) {
    uint32_t gx = groups > VKBN__MAX_GROUPS ? VKBN__MAX_GROUPS : (uint32_t)(groups ? groups : 1);
    out[0] = gx;
    out[1] = (uint32_t)vkbn__div_up(groups ? groups : 1, gx);
    out[2] = 1;
    *groups_x = gx;
}

static uint32_t log2_u32(uint32_t v) {
    uint32_t l = 0;
    while ((1u << l) < v) ++l;
    return l;
}

/* How the slices merge (merge.glsl, merge_channels.glsl: the same numbers).
 * Channels-first: one channel per workgroup, every thread a lane.
 * Channels-last: lanes enough that one merges at most MERGE_LANE_STEPS
 * slices, then batches of WG / lanes channels. In the last workgroup when
 * the device allows it and the chain (batches x steps) stays within
 * VKBN__MAX_MERGE_CHAIN; else a merge dispatch with a workgroup per batch. */
static void choose_merge(vkbn__reduction* r, const vkbn__geometry* g) {
    uint32_t wg = g->wg;
    uint32_t per_group = g->channels_last ? r->tx * g->vec : 1;
    uint32_t lanes = wg;
    if (g->channels_last) {
        lanes = vkbn__next_pow2((uint32_t)vkbn__div_up(r->slices_total, MERGE_LANE_STEPS));
        if (lanes > wg) lanes = wg;
    }
    uint32_t batch = wg / lanes;
    uint32_t steps = (uint32_t)vkbn__div_up(r->slices_total, lanes) + log2_u32(lanes);
    uint32_t last_chain = (uint32_t)vkbn__div_up(per_group, batch) * steps;
    r->merge_parts = per_group > batch ? per_group / batch : 1;
    if (g->vk->tuning.last_workgroup_merge && last_chain <= VKBN__MAX_MERGE_CHAIN) {
        r->merge = MERGE_LAST_WORKGROUP;
        r->merge_chain = last_chain;
    } else {
        r->merge = MERGE_DEFERRED;
        r->merge_chain = steps;
    }
}

/* Slices of one channel group per full window (windows run one after
 * another, so each must fill the device on its own):
 * - as many workgroups as fill the device once (target_groups: rounding
 *   down, so that all of them are resident at once and none waits for a
 *   second round), none smaller than the tuning's minimum share, except
 *   that a window too small to fill the device at that share takes shares
 *   down to an eighth of it (1x64x112x112 on an H100: 64 channels x 1 slice
 *   would leave half the SMs idle);
 * - never more than cap (the partial-sum budget and the merge chain);
 * - where the target is a true wave, at least a wave (whole_waves, in
 *   vkbn__reduction_init). */
#define SMALL_WORK_SHARE_DIVISOR 8u
static uint32_t choose_slices(const vkbn__geometry* g, uint32_t groups, uint64_t group_elems, uint64_t cap,
                              bool* capped) {
    const vkbn__tuning* t = &g->vk->tuning;
    uint64_t target = t->target_groups;
    uint64_t small = group_elems / (t->min_slice_elems / SMALL_WORK_SHARE_DIVISOR);
    if (cap > small) cap = small;
    if (cap < 1) cap = 1;
    uint64_t n = target / groups;
    uint64_t by_size = group_elems / t->min_slice_elems;
    if (by_size * groups < target) {
        uint64_t fill = vkbn__div_up(target, groups);
        by_size = small < fill ? small : fill;
    }
    if (n > by_size) n = by_size;
    *capped = n > cap || (t->whole_waves && n * groups < target && vkbn__div_up(target, groups) > cap);
    if (n > cap) n = cap;
    return n < 1 ? 1 : (uint32_t)n;
}

/* A slice's partials (16 bytes per channel, written, then read by the
 * merge) cost at most 1/32 of the bytes of x it reads: at least 512 bytes
 * of each channel per slice. */
#define PARTIAL_BYTES_DIVISOR 512u
/* Channels-last workgroups read rows of tx * vec channel elements: never
 * narrower than a 32-byte memory sector. */
#define CL_MIN_ROW_BYTES 32u
/* Slices per window at most, and over all windows at most what a merge
 * dispatch of WG lanes finishes within VKBN__MAX_MERGE_CHAIN steps. */
#define MAX_SLICES 4096u

/* The length of k slices of `items`, in whole workgroup passes (step):
 * rounded up (at most k slices: a hint's "up to k"), or, at_least, down
 * where rounding up would lose slices. */
static uint32_t slice_length(uint64_t items, uint64_t k, uint32_t step, bool at_least) {
    if (k < 1) k = 1;
    uint64_t len = vkbn__align_up(vkbn__div_up(items, k), step);
    if (at_least && vkbn__div_up(items, len) < k && items / k >= step) len = items / k / step * step;
    return (uint32_t)len;
}

static uint32_t slice_count(uint64_t items, uint32_t k, uint32_t step) {
    return (uint32_t)vkbn__div_up(items, slice_length(items, k, step, true));
}

static uint32_t max_total_slices(uint32_t wg) { return (VKBN__MAX_MERGE_CHAIN - log2_u32(wg)) * wg; }

vkbn_result vkbn__reduction_init(vkbn__reduction* r, const vkbn__geometry* g) {
    memset(r, 0, sizeof *r);
    const struct vkbn__vk* vk = g->vk;
    const vkbn__op* op = g->op;
    uint32_t hint = op->reduction_split;
    /* Samples of a full window: slices are chosen for it. */
    uint32_t per = g->windows[0].n;
    uint64_t window_rows = (uint64_t)per * g->s;
    uint64_t cap = window_rows * op->elem_size / PARTIAL_BYTES_DIVISOR;
    uint32_t chain_cap = max_total_slices(g->wg) / g->window_count;
    if (cap > chain_cap) cap = chain_cap;
    if (cap > MAX_SLICES) cap = MAX_SLICES;
    uint32_t slices = 1;
    r->tx = 1;
    if (g->channels_last) {
        /* Channel groups of tx channel items: as wide as the tuning allows,
         * narrower (more groups, so fewer slices and less partial traffic)
         * while the groups and their slices do not fill the device. */
        uint32_t cv = g->c / g->vec;
        uint32_t tx = vkbn__next_pow2(cv);
        if (tx > vk->tuning.cl_threads_x_max) tx = vk->tuning.cl_threads_x_max;
        if (tx > g->wg) tx = g->wg;
        uint32_t tx_min = CL_MIN_ROW_BYTES / (g->vec * op->elem_size);
        if (tx_min < 1) tx_min = 1;
        for (;;) {
            uint32_t groups = (uint32_t)vkbn__div_up(cv, tx);
            bool capped = false;
            slices = choose_slices(g, groups, window_rows * tx * g->vec, cap, &capped);
            /* Narrower only where the budget holds the slices back. */
            if (hint || tx / 2 < tx_min || !capped) break;
            tx /= 2;
        }
        r->tx = tx;
        r->groups = (uint32_t)vkbn__div_up(cv, tx);
        r->inner_items = g->s;
    } else {
        r->groups = g->c;
        r->inner_items = g->s / g->vec;
        bool capped = false;
        slices = choose_slices(g, r->groups, window_rows, cap, &capped);
    }
    /* The whole-wave search below stays within the smallest share too. */
    uint64_t share = window_rows * (g->channels_last ? (uint64_t)r->tx * g->vec : 1) /
                     (vk->tuning.min_slice_elems / SMALL_WORK_SHARE_DIVISOR);
    if (cap > share) cap = share;
    /* A hint counts slices over the whole tensor. */
    if (hint) slices = hint > MAX_SLICES ? MAX_SLICES : hint;
    /* Row granularity of a slice: whole workgroup passes. */
    uint32_t step = g->channels_last ? g->wg / r->tx : g->wg;

    r->wslices = vkbn__calloc(g->window_count, sizeof *r->wslices);
    r->wlen = vkbn__calloc(g->window_count, sizeof *r->wlen);
    if (!r->wslices || !r->wlen) {
        vkbn__reduction_free(r);
        return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    }
    /* Where the tuning's target is a true wave (the compute units are
     * known), a full window's reduction fills at least that wave, in whole
     * rounds where the budget allows: the workgroups are a multiple of the
     * channel groups, and a last round less than 7/8 full would leave most
     * of the device idle while it runs, so more slices are taken until the
     * rounds come out (nearly) whole. Counted after the rounding of the
     * slice lengths to whole workgroup passes. */
    uint64_t full_items = (uint64_t)per * r->inner_items;
    uint64_t target = vk->tuning.target_groups;
    uint64_t w0 = (uint64_t)slice_count(full_items, slices, step) * r->groups;
    bool whole = w0 >= target && w0 * 8 >= vkbn__div_up(w0, target) * target * 7;
    if (!hint && vk->tuning.whole_waves && !whole) {
        uint64_t first = vkbn__div_up(target, r->groups);
        for (uint64_t k = first; k <= cap && k <= 4 * first; ++k) {
            uint64_t w = (uint64_t)slice_count(full_items, (uint32_t)k, step) * r->groups;
            if (k == first && w >= target) slices = (uint32_t)k; /* at least a wave, if no whole rounds */
            if (w >= target && w * 8 >= vkbn__div_up(w, target) * target * 7) {
                slices = (uint32_t)k;
                break;
            }
        }
    }
    uint32_t n = op->tensor.n;
    for (uint32_t w = 0; w < g->window_count; ++w) {
        uint64_t items = (uint64_t)g->windows[w].n * r->inner_items;
        /* Proportional to the window's samples: of the tensor's (a hint),
         * else of a full window's. */
        uint64_t k = vkbn__div_up((uint64_t)slices * g->windows[w].n, hint ? n : per);
        r->wlen[w] = slice_length(items, k, step, !hint);
        r->wslices[w] = (uint32_t)vkbn__div_up(items, r->wlen[w]);
        r->slices_total += r->wslices[w];
    }
    /* One window and one slice asked for: a workgroup owns its channel
     * (group). Decided after the whole-wave search, which may add slices. */
    r->fused = g->window_count == 1 && slices == 1;
    choose_merge(r, g);
    return VKBN_SUCCESS;
}

void vkbn__reduction_free(vkbn__reduction* r) {
    vkbn__free(r->wslices);
    vkbn__free(r->wlen);
    r->wslices = r->wlen = NULL;
}
