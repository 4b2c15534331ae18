/* Building a Vulkan plan from its pass list (core/passes.h). The list is
 * walked by pass kind, never by public operation:
 * - a reduction (REDUCE_STATS, REDUCE_GRADS) first: when one workgroup owns
 *   each channel (group) over the whole tensor (one window, one slice), the
 *   pass after it runs in the same dispatch on the results still on chip
 *   (fused); otherwise the reduction leaves the channel block in the scratch
 *   and the pass after it runs as its own elementwise dispatches;
 * - else one elementwise pass (NORMALIZE, APPLY_GRADS) from RUNNING or HOST
 *   parameters, or COPY.
 * The scratch has one layout for every reduction (kp_scratch). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

/* Every push-constant struct of the planners is head, scratch offsets, io
 * (vkbn__vk_push). */
#define PUSH_LAYOUT(T, HEAD, IO)                                                                              \
    _Static_assert(offsetof(T, sc) == sizeof(HEAD) && offsetof(T, io) == sizeof(HEAD) + sizeof(kp_scratch) && \
                       sizeof(T) == offsetof(T, io) + sizeof(IO),                                             \
                   #T ": head, scratch, io")
PUSH_LAYOUT(kp_stats, kp_slices, kp_stats_io);
PUSH_LAYOUT(kp_bwd_stats, kp_slices, kp_grads_io);
PUSH_LAYOUT(kp_apply, kp_elementwise, kp_stats_io);
PUSH_LAYOUT(kp_bwd_apply, kp_elementwise, kp_grads_io);

uint32_t vkbn__vk_push(uint32_t out[32], const void* head, uint32_t head_size, const vkbn__vk_build* b,
                       const void* io) {
    uint8_t* p = (uint8_t*)out;
    memcpy(p, head, head_size);
    memcpy(p + head_size, &b->sc, sizeof b->sc);
    memcpy(p + head_size + sizeof b->sc, io, b->f.io_size);
    return head_size + (uint32_t)sizeof b->sc + b->f.io_size;
}

uint64_t vkbn__vk_scratch_layout(uint32_t c, uint32_t slices, uint32_t groups, uint32_t arrays, kp_scratch* sc) {
    uint64_t partials = (uint64_t)c * slices * 4; /* a vec4 per channel and slice */
    uint64_t channel = vkbn__align_up(partials + groups, 4);
    memset(sc, 0, sizeof *sc);
    sc->c_pad = vkbn__host_params_c_pad(c);
    sc->partials = 0;
    sc->counters = (uint32_t)partials;
    sc->channel = (uint32_t)channel;
    return channel + (uint64_t)arrays * sc->c_pad;
}

static bool is_reduction(vkbn__pass_kind k) { return k == VKBN__PASS_REDUCE_STATS || k == VKBN__PASS_REDUCE_GRADS; }

/* Arrays of the channel block an elementwise pass reads (passes.h: the same
 * as the host's). */
static uint32_t channel_arrays(vkbn__pass_kind k) {
    return k == VKBN__PASS_APPLY_GRADS ? VKBN__APPLY_GRADS_HOST_ARRAYS : VKBN__NORMALIZE_HOST_ARRAYS;
}

/* Words for the plan's shape: what a reduction computes, what runs after. */
static const char* short_name(vkbn__pass_kind k) {
    switch (k) {
        case VKBN__PASS_REDUCE_STATS: return "stats";
        case VKBN__PASS_NORMALIZE: return "apply";
        case VKBN__PASS_REDUCE_GRADS: return "sums";
        case VKBN__PASS_APPLY_GRADS: return "dx";
        case VKBN__PASS_COPY: return "copy";
    }
    return "?";
}

/* "reduce-stats + normalize", with the sources that are not implied. */
static void describe_passes(const vkbn__pass_list* l, char* out, size_t n) {
    static const char* const from[] = {"", "", " from saved", " from running", " from host"};
    size_t used = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < l->count && used < n; ++i) {
        const vkbn__pass* p = &l->pass[i];
        int k = snprintf(out + used, n - used, "%s%s%s%s", i ? " + " : "", vkbn__pass_name(p->kind), from[p->source],
                         p->export_stats ? " (export: slice statistics)" : "");
        if (k > 0) used += (size_t)k;
    }
}

static const char* vec_name(uint32_t vec) { return vec == 8 ? "vec8" : vec == 4 ? "vec4" : "scalar"; }

/* ew_vec: the width of a separate elementwise pass, or 0. */
static void describe(vkbn__vk_build* b, const char* shape, const vkbn__reduction* red, bool subgroups,
                     uint32_t ew_vec) {
    const vkbn__geometry* g = &b->g;
    char width[32];
    if (!red && ew_vec) {
        snprintf(width, sizeof width, "%s", vec_name(ew_vec));
    } else if (ew_vec && ew_vec != g->vec) {
        snprintf(width, sizeof width, "%s (%s pass %s)", vec_name(g->vec), short_name(b->plan->passes.pass[1].kind),
                 vec_name(ew_vec));
    } else {
        snprintf(width, sizeof width, "%s", vec_name(g->vec));
    }
    char passes[128];
    describe_passes(&b->plan->passes, passes, sizeof passes);
    char slicing[160] = "";
    if (red) {
        uint32_t slices = red->fused ? 1 : red->slices_total;
        int k = snprintf(slicing, sizeof slicing, ", %u channel group%s x %u slice%s", red->groups,
                         red->groups == 1 ? "" : "s", slices, slices == 1 ? "" : "s");
        if (!red->fused && k > 0 && (size_t)k < sizeof slicing) {
            snprintf(slicing + k, sizeof slicing - (size_t)k, ", merge %s (chain %u)",
                     red->merge == MERGE_LAST_WORKGROUP ? "in the last workgroup" : "dispatch", red->merge_chain);
        }
    }
    snprintf(b->plan->description, sizeof b->plan->description, "%s, %s %s %s: %s%s, %u window%s, workgroup %u%s",
             passes, g->channels_last ? "channels-last" : "channels-first", vkbn__vk_storage_name(g->variant.dtype),
             width, shape, slicing, g->window_count, g->window_count == 1 ? "" : "s", g->wg,
             subgroups ? ", subgroups" : "");
}

static vkbn_result build_reduction(vkbn__vk_build* b, const vkbn__pass* reduce, const vkbn__pass* next) {
    struct vkbn__vk* vk = b->vk;
    const vkbn__geometry* g = &b->g;
    if (next && next->source != VKBN__SOURCE_PREVIOUS) {
        return vkbn__fail(VKBN_ERROR_VULKAN, "internal: a pass after a reduction reads its results");
    }
    vkbn__reduction red;
    VKBN_CHECK(vkbn__reduction_init(&red, g));
    bool fused = red.fused;
    bool after = next && !fused; /* a separate elementwise pass reads the channel block */
    /* Counters only for the last-workgroup merge. */
    bool counters = !fused && red.merge == MERGE_LAST_WORKGROUP;
    uint64_t words = vkbn__vk_scratch_layout(g->c, fused ? 0 : red.slices_total, counters ? red.groups : 0,
                                             after ? channel_arrays(next->kind) : 0, &b->sc);
    if (words * 4 > vk->max_binding_range - vk->bind_align || words > UINT32_MAX) {
        vkbn__reduction_free(&red);
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor: too many channels for the device's binding range");
    }
    uint32_t chunks = (uint32_t)vkbn__div_up(red.groups, VKBN__MAX_GROUPS);
    uint32_t merges = !fused && red.merge == MERGE_DEFERRED ? chunks : 0;
    vkbn_result r = vkbn__vk_plan_reserve(b->plan, g->window_count * chunks + merges + (after ? g->window_count : 0));
    if (r == VKBN_SUCCESS && words > 0) {
        r = vkbn__vk_plan_alloc_scratch(b->plan, words * 4, (uint64_t)b->sc.counters * 4,
                                        (uint64_t)(b->sc.channel - b->sc.counters) * 4);
        if (r == VKBN_SUCCESS) b->scratch = vkbn__vk_scratch_range(b->plan, 0, words * 4);
    }
    if (r == VKBN_SUCCESS) r = vkbn__vk_plan_reduce(b, reduce, &red, fused, fused ? next : NULL, after);
    if (r == VKBN_SUCCESS && after) r = vkbn__vk_plan_elementwise(b, next, true);
    if (r == VKBN_SUCCESS) {
        char shape[64];
        if (fused && next) {
            snprintf(shape, sizeof shape, "fused (1 dispatch: %s, then %s)", short_name(reduce->kind),
                     short_name(next->kind));
        } else if (fused) {
            snprintf(shape, sizeof shape, "reduction (1 dispatch)");
        } else if (next) {
            snprintf(shape, sizeof shape, "split (%s + %s)", short_name(reduce->kind), short_name(next->kind));
        } else {
            snprintf(shape, sizeof shape, "split reduction");
        }
        describe(b, shape, &red, !g->channels_last && vk->use_subgroups, after ? vkbn__vk_elementwise_vec(b) : 0);
    }
    vkbn__reduction_free(&red);
    return r;
}

static vkbn_result build_elementwise(vkbn__vk_build* b, const vkbn__pass* pass) {
    const vkbn__geometry* g = &b->g;
    /* Inference's channel block first, where it pays (vkbn__vk_inference_block). */
    bool params = pass->kind == VKBN__PASS_NORMALIZE && pass->source == VKBN__SOURCE_RUNNING &&
                  vkbn__vk_inference_block(g, b->op);
    if (pass->source == VKBN__SOURCE_HOST) {
        /* The host's arrays in the channel block's place (passes.h). */
        b->sc.c_pad = vkbn__host_params_c_pad(g->c);
        b->scratch = vkbn__vk_range(b->vk, pass->host_params, 0,
                                    (uint64_t)b->sc.c_pad * channel_arrays(pass->kind) * sizeof(float), 4);
        if (b->scratch.base % 4 != 0) {
            return vkbn__fail(VKBN_ERROR_MISALIGNED, "sync: channel parameters must start 16-byte aligned");
        }
        b->sc.channel = b->scratch.base;
    }
    VKBN_CHECK(vkbn__vk_plan_reserve(b->plan, g->window_count + (params ? 1 : 0)));
    if (params) {
        uint64_t words = vkbn__vk_scratch_layout(g->c, 0, 0, channel_arrays(pass->kind), &b->sc);
        if (words * 4 > b->vk->max_binding_range - b->vk->bind_align) {
            return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor: too many channels for the device's binding range");
        }
        VKBN_CHECK(vkbn__vk_plan_alloc_scratch(b->plan, words * 4, 0, 0));
        b->scratch = vkbn__vk_scratch_range(b->plan, 0, words * 4);
        VKBN_CHECK(vkbn__vk_plan_inference_params(b));
    }
    VKBN_CHECK(vkbn__vk_plan_elementwise(b, pass, params));
    describe(
        b,
        params ? "elementwise (channel parameters, then 1 dispatch per window)" : "elementwise (1 dispatch per window)",
        NULL, false, vkbn__vk_elementwise_vec(b));
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_build(vkbn_plan plan) {
    if (!plan->impl)
        plan->impl = vkbn__calloc(1, sizeof(struct vkbn__vk_plan)); /* set already when only sizing scratch */
    if (!plan->impl) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating a plan: out of host memory");
    /* On a device profile the planner runs as on a device and creates nothing. */
    if (vkbn__vk_of(plan->ctx)->profile) vkbn__vk_plan_of(plan)->measure_only = true;
    vkbn__vk_plan_of(plan)->counters_ready = true; /* until scratch with counters is allocated */
    const vkbn__pass_list* l = &plan->passes;
    if (l->count == 0 || l->count > VKBN__MAX_PASSES) {
        return vkbn__fail(VKBN_ERROR_VULKAN, "internal: a plan of %u passes", l->count);
    }
    const vkbn__pass* first = &l->pass[0];
    vkbn_result r = VKBN_SUCCESS;
    if (first->kind == VKBN__PASS_COPY) {
        r = vkbn__vk_plan_copy(plan);
    } else {
        vkbn__vk_build b;
        r = vkbn__vk_family_init(&b, plan);
        if (r == VKBN_SUCCESS) {
            r = is_reduction(first->kind) ? build_reduction(&b, first, l->count > 1 ? &l->pass[1] : NULL)
                                          : build_elementwise(&b, first);
        }
        vkbn__geometry_free(&b.g);
    }
    if (r == VKBN_SUCCESS) vkbn__vk_plan_of(plan)->footprint = vkbn__vk_footprint(plan);
    return r;
}
