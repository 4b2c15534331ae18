/* What each dispatch of a plan moves to and from memory, and the reports
 * built from it (vkbn_plan_get_report). The planners call these next to
 * each vkbn__vk_plan_add, from the same decisions that set the dispatch's
 * constants, so that a report describes the plan that runs.
 *
 * The bytes are the worst case: every byte a dispatch (or a phase of one,
 * such as the fused second pass) reads or writes is counted once, as if no
 * cache kept anything between dispatches and phases. Per-channel vectors
 * and the channel block are counted once per dispatch that reads them (a
 * dispatch's workgroups share them in cache). `reread` marks the part of
 * the reads that this plan read or wrote before: what a cache that holds the
 * plan's footprint would serve. The serial chain counts the dependent
 * memory steps of one invocation (vk_geometry.c, choose_merge); a streaming
 * loop's loads are independent and count for nothing. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

static uint64_t vec_bytes(vkbn_buffer b, uint32_t channels) { return b ? (uint64_t)channels * 4 : 0; }

/* Bytes of one window of a tensor (or none), for `channels` of C. */
static uint64_t window_bytes(const vkbn__vk_build* b, vkbn_buffer t, const vkbn__window* w, uint32_t channels) {
    if (!t) return 0;
    const uint64_t elements = (uint64_t)w->n * b->g.s * channels;
    /* The activation mask: a bit per element. */
    if (t == b->op->mask) return (elements + 7) / 8;
    return elements * b->op->elem_size;
}

/* Channels covered by a chunk of channel groups [g0, g0 + count). */
static uint32_t chunk_channels(const vkbn__vk_build* b, const vkbn__reduction* red, uint32_t g0, uint32_t count) {
    uint32_t per = b->g.channels_last ? red->tx * b->g.vec : 1;
    uint64_t first = (uint64_t)g0 * per, n = (uint64_t)count * per;
    if (first + n > b->g.c) n = b->g.c - first;
    return (uint32_t)n;
}

/* A reduction's finishing step for `ch` channels: the vectors it reads and
 * writes and the channel block it leaves (store_channel). */
static void finish_traffic(const vkbn__vk_build* b, const vkbn__pass* pass, uint32_t ch, bool store_channel,
                           vkbn__traffic* t) {
    const vkbn__op* op = b->op;
    if (b->f.grads) {
        /* coef_from_params was read at the start (reduce_traffic); coef_finish: */
        t->written += vec_bytes(op->dweight, ch) + vec_bytes(op->dbias, ch);
        if (store_channel) t->written += (uint64_t)VKBN__APPLY_GRADS_HOST_ARRAYS * ch * 4;
        return;
    }
    if (pass->export_stats) {
        t->written += (uint64_t)VKBN__EXPORT_STATS_ARRAYS * ch * 4;
        return;
    }
    t->read += vec_bytes(op->weight, ch) + vec_bytes(op->bias, ch);
    if (b->f.spec[SPEC_HAS_RUNNING]) {
        t->read += 2ull * ch * 4;
        t->written += 2ull * ch * 4;
    }
    t->written += vec_bytes(op->save_mean, ch) + vec_bytes(op->save_invstd, ch);
    if (store_channel) t->written += (uint64_t)VKBN__NORMALIZE_HOST_ARRAYS * ch * 4;
}

/* The per-item loads of the gradient family: whether x, dy and y or z are read. */
static bool grads_need_x(const vkbn__vk_build* b, bool reduction) {
    bool frozen = b->f.spec[SPEC_BWD_FROZEN];
    return !frozen || b->op->activation == VKBN_ACTIVATION_SILU || (reduction && b->op->dweight);
}

void vkbn__vk_traffic_reduce(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__reduction* red, uint32_t w,
                             uint32_t g0, uint32_t count, bool fused, const vkbn__pass* fused_next, bool store_channel,
                             vkbn__traffic* t) {
    const vkbn__op* op = b->op;
    const vkbn__window* win = &b->g.windows[w];
    uint32_t ch = chunk_channels(b, red, g0, count);
    memset(t, 0, sizeof *t);
    if (b->f.grads) {
        bool frozen = b->f.spec[SPEC_BWD_FROZEN];
        uint64_t x = grads_need_x(b, true) ? window_bytes(b, op->x, win, ch) : 0;
        uint64_t items = x + window_bytes(b, op->dy, win, ch) + window_bytes(b, b->f.act, win, ch);
        t->read += items;
        t->written += window_bytes(b, op->dz, win, ch);
        if (frozen) t->written += window_bytes(b, op->dx, win, ch);
        /* coef_from_params: the statistics and the affine vectors. */
        t->read += 2ull * ch * 4 + vec_bytes(op->weight, ch) + vec_bytes(op->bias, ch);
        if (fused && !frozen && op->dx && fused_next) {
            /* dx_channel: the channel's items again. */
            t->read += items;
            t->reread += items;
            t->written += window_bytes(b, op->dx, win, ch);
        }
    } else {
        uint64_t x = window_bytes(b, op->x, win, ch);
        t->read += x + (uint64_t)ch * op->elem_size; /* and the pivots, from the first sample */
        t->reread += w > 0 ? (uint64_t)ch * op->elem_size : 0;
        if (fused && fused_next) {
            /* normalize_channel: x again, z, and y. */
            t->read += x + window_bytes(b, op->z, win, ch);
            t->reread += x;
            t->written += window_bytes(b, op->y, win, ch) + window_bytes(b, op->mask, win, ch);
        }
    }
    if (fused) {
        finish_traffic(b, pass, ch, store_channel, t);
        return;
    }
    /* The slice's partials; the last-workgroup merge in the last window's
     * dispatch: each workgroup's counter, then every slice's partials. */
    t->written += (uint64_t)red->wslices[w] * ch * 16;
    if (red->merge == MERGE_LAST_WORKGROUP) {
        uint64_t atomics = (uint64_t)red->wslices[w] * count * 4;
        t->read += atomics;
        t->written += atomics;
        if (w + 1 == b->g.window_count) {
            uint64_t partials = (uint64_t)red->slices_total * ch * 16;
            t->read += partials;
            t->reread += partials;
            t->chain = red->merge_chain;
            finish_traffic(b, pass, ch, store_channel, t);
        }
    }
}

void vkbn__vk_traffic_merge(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__reduction* red, uint32_t g0,
                            uint32_t count, bool store_channel, vkbn__traffic* t) {
    uint32_t ch = chunk_channels(b, red, g0, count);
    memset(t, 0, sizeof *t);
    uint64_t partials = (uint64_t)red->slices_total * ch * 16;
    t->read = partials;
    t->reread = partials;
    if (b->f.grads) t->read += 2ull * ch * 4 + vec_bytes(b->op->weight, ch) + vec_bytes(b->op->bias, ch);
    t->chain = red->merge_chain;
    finish_traffic(b, pass, ch, store_channel, t);
}

void vkbn__vk_traffic_elementwise(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__window* w, bool after,
                                  const uint32_t spec[SPEC_COUNT], vkbn__traffic* t) {
    const vkbn__op* op = b->op;
    uint32_t c = b->g.c;
    bool previous = pass->source == VKBN__SOURCE_PREVIOUS;
    memset(t, 0, sizeof *t);
    if (b->f.grads) {
        bool frozen = spec[SPEC_BWD_FROZEN];
        bool from_dz = spec[SPEC_BWD_WRITES] & BWD_G_FROM_DZ;
        uint64_t x = grads_need_x(b, false) ? window_bytes(b, op->x, w, c) : 0;
        uint64_t g =
            from_dz ? window_bytes(b, op->dz, w, c) : window_bytes(b, op->dy, w, c) + window_bytes(b, b->f.act, w, c);
        t->read += x + g;
        /* After the reduction: it read x (when it needed it), dy and y or z, or wrote dz. */
        if (previous) t->reread += (grads_need_x(b, true) ? x : 0) + g;
        if (spec[SPEC_BWD_WRITES] & BWD_WRITE_DX) t->written += window_bytes(b, op->dx, w, c);
        if (spec[SPEC_BWD_WRITES] & BWD_WRITE_DZ) t->written += window_bytes(b, op->dz, w, c);
        if (previous) {
            t->read += (uint64_t)VKBN__APPLY_GRADS_HOST_ARRAYS * c * 4;
            t->reread += (uint64_t)VKBN__APPLY_GRADS_HOST_ARRAYS * c * 4;
        } else if (pass->source == VKBN__SOURCE_HOST) {
            t->read += (uint64_t)VKBN__APPLY_GRADS_HOST_ARRAYS * c * 4;
        } else if (frozen) {
            t->read += 2ull * c * 4 + vec_bytes(op->weight, c) + vec_bytes(op->bias, c);
        }
        return;
    }
    uint64_t x = window_bytes(b, op->x, w, c);
    t->read += x + window_bytes(b, op->z, w, c);
    if (previous) t->reread += x;
    t->written += window_bytes(b, op->y, w, c) + window_bytes(b, op->mask, w, c);
    uint64_t block = (uint64_t)VKBN__NORMALIZE_HOST_ARRAYS * c * 4;
    if (spec[SPEC_INFERENCE]) {
        t->read += 2ull * c * 4 + vec_bytes(op->weight, c) + vec_bytes(op->bias, c);
    } else {
        t->read += block;
        /* Written by the reduction or by apply_params before it. */
        if (after) t->reread += block;
    }
}

void vkbn__vk_traffic_params(const vkbn__vk_build* b, vkbn__traffic* t) {
    const vkbn__op* op = b->op;
    uint32_t c = b->g.c;
    memset(t, 0, sizeof *t);
    t->read = 2ull * c * 4 + vec_bytes(op->weight, c) + vec_bytes(op->bias, c);
    t->written = (uint64_t)VKBN__NORMALIZE_HOST_ARRAYS * c * 4;
}

uint64_t vkbn__vk_footprint(vkbn_plan plan) {
    const vkbn__op* op = &plan->op;
    if (vkbn__find_pass(&plan->passes, VKBN__PASS_COPY)) return 2 * op->copy_bytes;
    uint64_t tensor = op->elements * op->elem_size;
    const vkbn_buffer tensors[] = {op->x, op->y, op->z, op->dy, op->dx, op->dz};
    const vkbn_buffer vectors[] = {op->weight,    op->bias,        op->running_mean, op->running_var,
                                   op->save_mean, op->save_invstd, op->dweight,      op->dbias};
    uint64_t bytes = vkbn__vk_plan_of(plan)->scratch_size;
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i) bytes += tensors[i] ? tensor : 0;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; ++i) bytes += vec_bytes(vectors[i], op->tensor.c);
    for (uint32_t i = 0; i < plan->passes.count; ++i) {
        const vkbn__pass* p = &plan->passes.pass[i];
        if (p->export_stats) bytes += (uint64_t)VKBN__EXPORT_STATS_ARRAYS * op->tensor.c * 4;
        if (p->host_params) bytes += p->host_params->size;
    }
    return bytes;
}

static const char* kernel_name(vkbn__kernel k) {
    switch (k) {
        case VKBN__KERNEL_STATS_CF: return "stats_cf";
        case VKBN__KERNEL_STATS_CL: return "stats_cl";
        case VKBN__KERNEL_APPLY: return "apply";
        case VKBN__KERNEL_COPY: return "copy";
        case VKBN__KERNEL_BWD_STATS_CF: return "bwd_stats_cf";
        case VKBN__KERNEL_BWD_STATS_CL: return "bwd_stats_cl";
        case VKBN__KERNEL_BWD_APPLY: return "bwd_apply";
        case VKBN__KERNEL_APPLY_PARAMS: return "apply_params";
        default: return "?";
    }
}

static bool streams(vkbn_dispatch_role r) {
    return r == VKBN_DISPATCH_REDUCE || r == VKBN_DISPATCH_ELEMENTWISE || r == VKBN_DISPATCH_COPY;
}

vkbn_result vkbn__vk_plan_dispatch_report(vkbn_plan plan, uint32_t index, vkbn_dispatch_report* out) {
    const struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    if (index >= p->count) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "index: %u, but the plan has %u dispatches", index, p->count);
    }
    const vkbn__dispatch* d = &p->dispatches[index];
    memset(out, 0, sizeof *out);
    out->role = d->role;
    out->kernel = kernel_name(d->kernel);
    memcpy(out->workgroups, d->groups, sizeof out->workgroups);
    out->workgroup_size = d->workgroup_size;
    out->barrier_before = d->barrier_before;
    out->bytes_read = d->traffic.read;
    out->bytes_written = d->traffic.written;
    out->bytes_reread = d->traffic.reread;
    out->serial_chain = d->traffic.chain;
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_report(vkbn_plan plan, vkbn_plan_report* out) {
    const struct vkbn__vk_plan* p = vkbn__vk_plan_of(plan);
    memset(out, 0, sizeof *out);
    out->passes = plan->passes.count;
    out->dispatches = p->count;
    out->scratch_bytes = p->scratch_size;
    out->footprint_bytes = p->footprint;
    for (uint32_t i = 0; i < p->count; ++i) {
        const vkbn__dispatch* d = &p->dispatches[i];
        out->barriers += d->barrier_before;
        out->bytes_read += d->traffic.read;
        out->bytes_written += d->traffic.written;
        out->bytes_reread += d->traffic.reread;
        if (d->traffic.chain > out->serial_chain) out->serial_chain = d->traffic.chain;
        if (!streams(d->role)) continue;
        uint64_t groups = (uint64_t)d->groups[0] * d->groups[1] * d->groups[2];
        if (!out->stream_workgroups_min || groups < out->stream_workgroups_min) out->stream_workgroups_min = groups;
        if (groups > out->stream_workgroups_max) out->stream_workgroups_max = groups;
    }
    return VKBN_SUCCESS;
}
