/* Planning the backward pass on Vulkan. Vector width, windows and slices come
 * from vk_geometry.c, as for the forward pass; here:
 * - frozen statistics without dweight and dbias: bwd_apply alone, one
 *   elementwise pass per window (dx and dz from the running statistics);
 * - otherwise a reduction pass (bwd_stats_cf / bwd_stats_cl) over x, dy and
 *   y or z, which writes dz on the way (and dx too with frozen statistics:
 *   it does not depend on the sums), then in training mode with dx:
 *   - fused (one window, one slice): the workgroup that owns a channel
 *     (group) writes its dx right after its reduction: one dispatch;
 *   - split: the last workgroup of each channel stores the channel's dx
 *     coefficients in the scratch; a barrier; bwd_apply writes dx.
 * Without dx nothing runs after the reduction. */
#include <stdio.h>
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

#define MAX_GROUPS_Y 65535u
#define COEF_ARRAYS 6u /* mean | invstd | k1 | shift | mg | e (bwd_common.glsl) */

typedef struct bwd_ctx {
    vkbn__geometry g;
    const vkbn__pass* reduce; /* REDUCE_GRADS, or NULL */
    const vkbn__pass* apply;  /* APPLY_GRADS, or NULL */
    bool frozen;              /* statistics from running_mean / running_var */
    vkbn_buffer act; /* y (mask activations) or the residual (SiLU), or NULL */
    uint32_t spec[SPEC_COUNT];
    kp_bwd_vectors bases;
    kp_activation act_params;
    vkbn__range weight, bias, mean, var, dweight, dbias;
} bwd_ctx;

static vkbn_result setup(bwd_ctx* b, struct vkbn__vk* vk, const vkbn__op* op, const vkbn__pass_list* passes) {
    memset(b, 0, sizeof *b);
    b->reduce = vkbn__find_pass(passes, VKBN__PASS_REDUCE_GRADS);
    b->apply = vkbn__find_pass(passes, VKBN__PASS_APPLY_GRADS);
    b->frozen = (b->reduce ? b->reduce->source : b->apply->source) == VKBN__SOURCE_RUNNING;
    b->act = op->y ? op->y : op->z;
    const vkbn_buffer tensors[] = {op->x, op->dy, b->act, op->dx, op->dz};
    VKBN_CHECK(vkbn__geometry_init(&b->g, vk, op, tensors, 5));
    const vkbn__geometry* g = &b->g;
    b->weight = vkbn__geometry_vector(g, op->weight);
    b->bias = vkbn__geometry_vector(g, op->bias);
    b->mean = vkbn__geometry_vector(g, b->frozen ? op->running_mean : op->save_mean);
    b->var = vkbn__geometry_vector(g, b->frozen ? op->running_var : op->save_invstd);
    b->dweight = vkbn__geometry_vector(g, op->dweight);
    b->dbias = vkbn__geometry_vector(g, op->dbias);
    b->bases.weight = b->weight.base;
    b->bases.bias = b->bias.base;
    b->bases.mean = b->mean.base;
    b->bases.var = b->var.base;
    b->bases.dweight = b->dweight.base;
    b->bases.dbias = b->dbias.base;
    b->act_params.alpha = op->activation_alpha;
    b->act_params.beta = op->activation_beta;

    uint32_t* s = b->spec;
    s[SPEC_WG_SIZE] = g->wg;
    s[SPEC_ACTIVATION] = (uint32_t)op->activation;
    s[SPEC_HAS_RESIDUAL] = op->z != NULL;
    s[SPEC_HAS_WEIGHT] = op->weight != NULL;
    s[SPEC_HAS_BIAS] = op->bias != NULL;
    s[SPEC_CHANNELS_LAST] = g->channels_last;
    s[SPEC_ITEMS] = vk->tuning.apply_items;
    s[SPEC_BWD_FROZEN] = b->frozen;
    return VKBN_SUCCESS;
}

/* The tensors of one window, and their bases for the push constants. */
static void window_tensors(const bwd_ctx* b, const vkbn__window* w, vkbn__range* r, kp_bwd_tensors* t) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = g->op;
    r[BIND_BWD_X] = vkbn__geometry_window(g, op->x, w);
    r[BIND_BWD_DY] = vkbn__geometry_window(g, op->dy, w);
    r[BIND_BWD_ACT] = vkbn__geometry_window(g, b->act, w);
    r[BIND_BWD_DX] = vkbn__geometry_window(g, op->dx, w);
    r[BIND_BWD_DZ] = vkbn__geometry_window(g, op->dz, w);
    r[BIND_BWD_WEIGHT] = b->weight;
    r[BIND_BWD_BIAS] = b->bias;
    r[BIND_BWD_MEAN] = b->mean;
    r[BIND_BWD_VAR] = b->var;
    r[BIND_BWD_DWEIGHT] = b->dweight;
    r[BIND_BWD_DBIAS] = b->dbias;
    t->x = r[BIND_BWD_X].base;
    t->dy = r[BIND_BWD_DY].base;
    t->act = r[BIND_BWD_ACT].base;
    t->dx = r[BIND_BWD_DX].base;
    t->dz = r[BIND_BWD_DZ].base;
}

/* bwd_apply over every window, writing `writes` (BWD_WRITE_DX / _DZ). */
static vkbn_result add_apply(vkbn_plan plan, const bwd_ctx* b, vkbn__range scratch, kp_bwd_scratch sc, uint32_t writes,
                             bool barrier) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = g->op;
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, b->spec, sizeof spec);
    spec[SPEC_BWD_WRITES] = writes;
    vkbn__variant variant = g->variant;
    variant.subgroups = 0; /* no reductions */
    VkPipeline pipe;
    VKBN_CHECK(vkbn__vk_get_pipeline(g->vk, VKBN__KERNEL_BWD_APPLY, variant, spec, &pipe));
    uint32_t items = g->vk->tuning.apply_items;
    for (uint32_t w = 0; w < g->window_count; ++w) {
        vkbn__range r[BIND_BWD_COUNT];
        kp_bwd_apply pc = {0};
        window_tensors(b, &g->windows[w], r, &pc.t);
        r[BIND_BWD_SCRATCH] = scratch;
        uint64_t total_v = (uint64_t)g->windows[w].n * g->c * g->s / g->vec;
        pc.total_v = (uint32_t)total_v;
        pc.eps = op->eps;
        pc.inner = vkbn__fastdiv((uint32_t)(g->channels_last ? g->c / g->vec : g->s / g->vec));
        pc.channels = vkbn__fastdiv(g->c);
        pc.ch = b->bases;
        pc.sc = sc;
        pc.act = b->act_params;
        uint32_t groups[3];
        vkbn__grid_2d(vkbn__div_up(total_v, (uint64_t)g->wg * items), groups, &pc.groups_x);
        /* Windows after the first wait for the one before: an output the plan
         * does not write is bound to the shared placeholder, which the
         * synchronization validator counts as written by every window. */
        VKBN_CHECK(vkbn__vk_plan_add(plan, VKBN__KERNEL_BWD_APPLY, pipe, r, &pc, sizeof pc, groups, barrier || w > 0));
    }
    return VKBN_SUCCESS;
}

/* Frozen statistics, no dweight or dbias: one elementwise pass. */
static vkbn_result plan_elementwise(vkbn_plan plan, const bwd_ctx* b) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = g->op;
    uint32_t writes = (op->dx ? BWD_WRITE_DX : 0u) | (op->dz ? BWD_WRITE_DZ : 0u);
    kp_bwd_scratch sc = {0};
    VKBN_CHECK(vkbn__vk_plan_reserve(plan, g->window_count));
    VKBN_CHECK(add_apply(plan, b, vkbn__vk_dummy_range(g->vk), sc, writes, false));
    snprintf(plan->description, sizeof plan->description,
             "backward frozen, %s %s %s: elementwise (1 dispatch per window), %u window%s, workgroup %u",
             g->channels_last ? "channels-last" : "channels-first", g->variant.f16 ? "f16" : "f32",
             g->vec == 4 ? "vec4" : "scalar", g->window_count, g->window_count == 1 ? "" : "s", g->wg);
    return VKBN_SUCCESS;
}

/* Scratch words: partials (4 per channel and slice), counters (one per
 * channel group), then the coefficient arrays. */
typedef struct scratch_layout {
    kp_bwd_scratch sc;
    uint64_t words;
} scratch_layout;

static scratch_layout layout_scratch(const bwd_ctx* b, const vkbn__reduction* red, bool coefficients) {
    scratch_layout l;
    memset(&l, 0, sizeof l);
    uint64_t partials = red->fused ? 0 : (uint64_t)b->g.c * red->slices_total * 4;
    uint64_t counters = red->fused ? 0 : red->groups;
    l.sc.c_pad = (uint32_t)vkbn__align_up(b->g.c, 4);
    l.sc.partials = 0;
    l.sc.counters = (uint32_t)partials;
    l.sc.channel = (uint32_t)(partials + counters);
    l.words = partials + counters + (coefficients ? (uint64_t)COEF_ARRAYS * l.sc.c_pad : 0);
    return l;
}

static vkbn_result plan_reduction(vkbn_plan plan, bwd_ctx* b) {
    vkbn__geometry* geo = &b->g;
    struct vkbn__vk* vk = geo->vk;
    const vkbn__op* op = geo->op;
    vkbn__kernel kernel = geo->channels_last ? VKBN__KERNEL_BWD_STATS_CL : VKBN__KERNEL_BWD_STATS_CF;
    geo->variant.subgroups = !geo->channels_last && vk->use_subgroups;
    vkbn__reduction red;
    VKBN_CHECK(vkbn__reduction_init(&red, geo));
    bool fused = red.fused;
    bool apply_after = !b->frozen && op->dx && !fused;
    scratch_layout sl = layout_scratch(b, &red, apply_after);
    if (sl.words * 4 > vk->max_binding_range - vk->bind_align || sl.words > UINT32_MAX) {
        vkbn__reduction_free(&red);
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "desc->tensor: too many channels for the device's binding range");
    }
    uint32_t chunks = (uint32_t)vkbn__div_up(red.groups, MAX_GROUPS_Y);
    vkbn_result r = vkbn__vk_plan_reserve(plan, geo->window_count * chunks + (apply_after ? geo->window_count : 0));
    vkbn__range scratch = vkbn__vk_dummy_range(vk);
    if (r == VKBN_SUCCESS && sl.words > 0) {
        r = vkbn__vk_plan_alloc_scratch(plan, sl.words * 4, (uint64_t)sl.sc.counters * 4,
                                        (uint64_t)(sl.sc.channel - sl.sc.counters) * 4);
        if (r == VKBN_SUCCESS) scratch = vkbn__vk_scratch_range(plan, 0, sl.words * 4);
    }
    uint32_t spec[SPEC_COUNT];
    memcpy(spec, b->spec, sizeof spec);
    spec[SPEC_FUSED] = fused;
    spec[SPEC_CL_THREADS_X] = red.tx;
    spec[SPEC_BWD_WRITES] = (op->dz ? BWD_WRITE_DZ : 0u) | (op->dweight ? BWD_WRITE_DWEIGHT : 0u) |
                            (op->dbias ? BWD_WRITE_DBIAS : 0u) | (op->dx && (b->frozen || fused) ? BWD_WRITE_DX : 0u);
    VkPipeline pipe = VK_NULL_HANDLE;
    if (r == VKBN_SUCCESS) r = vkbn__vk_get_pipeline(vk, kernel, geo->variant, spec, &pipe);

    float inv_m = (float)(1.0 / (double)op->per_channel);
    uint32_t slice_base = 0;
    for (uint32_t w = 0; w < geo->window_count && r == VKBN_SUCCESS; ++w) {
        const vkbn__window* win = &geo->windows[w];
        vkbn__range rg[BIND_BWD_COUNT];
        kp_bwd_tensors t;
        window_tensors(b, win, rg, &t);
        rg[BIND_BWD_SCRATCH] = scratch;
        for (uint32_t g0 = 0; g0 < red.groups && r == VKBN_SUCCESS; g0 += MAX_GROUPS_Y) {
            uint32_t gcount = red.groups - g0 < MAX_GROUPS_Y ? red.groups - g0 : MAX_GROUPS_Y;
            uint32_t grid[3] = {red.wslices[w], gcount, 1};
            if (geo->channels_last) {
                kp_bwd_stats_cl pc = {0};
                pc.channels = geo->c;
                pc.cv_count = geo->c / geo->vec;
                pc.rows = (uint32_t)((uint64_t)win->n * geo->s);
                pc.slice_rows = red.wlen[w];
                pc.slice_base = slice_base;
                pc.slices_total = fused ? 1 : red.slices_total;
                pc.cg_base = g0;
                pc.eps = op->eps;
                pc.inv_m = inv_m;
                pc.t = t;
                pc.ch = b->bases;
                pc.sc = sl.sc;
                pc.act = b->act_params;
                r = vkbn__vk_plan_add(plan, kernel, pipe, rg, &pc, sizeof pc, grid, w > 0 || g0 > 0);
            } else {
                kp_bwd_stats_cf pc = {0};
                pc.channels = geo->c;
                pc.c_base = g0;
                pc.m_v = (uint32_t)((uint64_t)win->n * red.inner_items);
                pc.slice_len = red.wlen[w];
                pc.slice_base = slice_base;
                pc.slices_total = fused ? 1 : red.slices_total;
                pc.eps = op->eps;
                pc.inv_m = inv_m;
                pc.sv = vkbn__fastdiv((uint32_t)red.inner_items);
                pc.t = t;
                pc.ch = b->bases;
                pc.sc = sl.sc;
                pc.act = b->act_params;
                r = vkbn__vk_plan_add(plan, kernel, pipe, rg, &pc, sizeof pc, grid, w > 0 || g0 > 0);
            }
        }
        slice_base += red.wslices[w];
    }
    if (r == VKBN_SUCCESS && apply_after) r = add_apply(plan, b, scratch, sl.sc, BWD_WRITE_DX, true);
    if (r == VKBN_SUCCESS) {
        const char* shape =
            fused         ? (op->dx && !b->frozen ? "fused (1 dispatch: sums, then dx)" : "reduction (1 dispatch)")
            : apply_after ? "split (sums + dx)"
                          : "split reduction";
        snprintf(plan->description, sizeof plan->description,
                 "backward %s, %s %s %s: %s, %u channel group%s x %u slice%s, %u window%s, workgroup %u%s",
                 b->frozen ? "frozen" : "training", geo->channels_last ? "channels-last" : "channels-first",
                 geo->variant.f16 ? "f16" : "f32", geo->vec == 4 ? "vec4" : "scalar", shape, red.groups,
                 red.groups == 1 ? "" : "s", fused ? 1 : red.slices_total,
                 (fused ? 1 : red.slices_total) == 1 ? "" : "s", geo->window_count, geo->window_count == 1 ? "" : "s",
                 geo->wg, geo->variant.subgroups ? ", subgroups" : "");
    }
    vkbn__reduction_free(&red);
    return r;
}

/* Synchronized batch norm: the dx (and dz) pass of a split training plan,
 * from coefficients the host computed from the merged sums (passes.h,
 * VKBN__SOURCE_HOST). */
static vkbn_result plan_sync_apply(vkbn_plan plan, const bwd_ctx* b) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = g->op;
    kp_bwd_scratch sc = {0};
    sc.c_pad = vkbn__host_params_c_pad(g->c);
    vkbn__range coef = vkbn__vk_range(g->vk, b->apply->host_params, 0, (uint64_t)COEF_ARRAYS * sc.c_pad * 4, 4);
    sc.channel = coef.base;
    uint32_t writes = (op->dx ? BWD_WRITE_DX : 0u) | (op->dz ? BWD_WRITE_DZ : 0u);
    VKBN_CHECK(vkbn__vk_plan_reserve(plan, g->window_count));
    VKBN_CHECK(add_apply(plan, b, coef, sc, writes, false));
    snprintf(plan->description, sizeof plan->description,
             "slice backward from global sums, %s %s %s: elementwise (1 dispatch per window), %u window%s",
             g->channels_last ? "channels-last" : "channels-first", g->variant.f16 ? "f16" : "f32",
             g->vec == 4 ? "vec4" : "scalar", g->window_count, g->window_count == 1 ? "" : "s");
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_plan_backward(vkbn_plan plan) {
    bwd_ctx b;
    vkbn_result r = setup(&b, vkbn__vk_of(plan->ctx), &plan->op, &plan->passes);
    if (r == VKBN_SUCCESS) {
        r = b.reduce                                   ? plan_reduction(plan, &b)
            : b.apply->source == VKBN__SOURCE_HOST ? plan_sync_apply(plan, &b)
                                                   : plan_elementwise(plan, &b);
    }
    vkbn__geometry_free(&b.g);
    return r;
}
