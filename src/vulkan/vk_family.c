/* What is particular to each family of passes, for the two planners
 * (vk_reduce.c, vk_elementwise.c), which know nothing else about them:
 * - statistics: REDUCE_STATS (stats_cf, stats_cl) and NORMALIZE (apply);
 * - gradients: REDUCE_GRADS (bwd_stats_cf, bwd_stats_cl) and APPLY_GRADS
 *   (bwd_apply).
 * A family's kernels share one binding layout (the elementwise kernel binds
 * a prefix of it) and one io block of push constants (kernel_params.h), so
 * that a window's bindings and io are made here once for either planner. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

_Static_assert(sizeof(kp_channel_bases) == 6 * sizeof(uint32_t) && sizeof(kp_bwd_vectors) == 6 * sizeof(uint32_t),
               "six vector offsets");

/* The six per-channel vectors of a family at their bindings, and their
 * float offsets in order into `bases` (kp_channel_bases, kp_bwd_vectors). */
static void bind_vectors(vkbn__vk_build* b, const int bind[6], const vkbn_buffer buf[6], void* bases) {
    uint32_t base[6];
    for (int i = 0; i < 6; ++i) {
        b->f.fixed[bind[i]] = vkbn__geometry_vector(&b->g, buf[i]);
        base[i] = b->f.fixed[bind[i]].base;
    }
    memcpy(bases, base, sizeof base);
}

static void init_stats(vkbn__vk_build* b, const vkbn__pass_list* l) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = b->op;
    vkbn__vk_family* f = &b->f;
    const vkbn__pass* reduce = vkbn__find_pass(l, VKBN__PASS_REDUCE_STATS);
    const vkbn__pass* normalize = vkbn__find_pass(l, VKBN__PASS_NORMALIZE);
    vkbn_buffer export_stats = reduce ? reduce->export_stats : NULL;
    f->reduce_cf = VKBN__KERNEL_STATS_CF;
    f->reduce_cl = VKBN__KERNEL_STATS_CL;
    f->elementwise = VKBN__KERNEL_APPLY;
    kp_stats_io* io = &f->io.stats;
    static const int bind[6] = {BIND_STATS_WEIGHT,      BIND_STATS_BIAS,      BIND_STATS_RUNNING_MEAN,
                                BIND_STATS_RUNNING_VAR, BIND_STATS_SAVE_MEAN, BIND_STATS_SAVE_INVSTD};
    const vkbn_buffer buf[6] = {op->weight,      op->bias,      op->running_mean,
                                op->running_var, op->save_mean, op->save_invstd};
    bind_vectors(b, bind, buf, &io->ch);
    vkbn__range* r = f->fixed;
    if (export_stats) {
        /* An export (passes.h) binds its 3c-float output in save_mean's place. */
        r[BIND_STATS_SAVE_MEAN] =
            vkbn__vk_range(b->vk, export_stats, 0, (uint64_t)g->c * VKBN__EXPORT_STATS_ARRAYS * sizeof(float), 4);
        io->ch.save_mean = r[BIND_STATS_SAVE_MEAN].base;
    }
    /* Every window reads its pivots from the tensor's first sample. */
    vkbn__window first = {0, 1};
    r[BIND_STATS_PIVOT] = vkbn__geometry_window(g, op->x, &first);
    io->pivot_base = r[BIND_STATS_PIVOT].base;
    io->eps = op->eps;
    io->factor = op->factor;
    io->var_correction = op->var_correction;
    io->act.alpha = op->activation_alpha;
    io->act.beta = op->activation_beta;
    f->io_size = sizeof *io;

    uint32_t* s = f->spec;
    s[SPEC_HAS_RESIDUAL] = op->z != NULL;
    s[SPEC_HAS_RUNNING] = reduce && !export_stats && op->running_mean != NULL;
    s[SPEC_SAVE_MASK] = export_stats ? 4u : (op->save_mean ? 1u : 0u) | (op->save_invstd ? 2u : 0u);
    /* Inference computes its parameters in apply, or reads them from the
     * block apply_params leaves (vkbn__vk_inference_block). */
    s[SPEC_INFERENCE] = normalize && normalize->source == VKBN__SOURCE_RUNNING && !vkbn__vk_inference_block(g, op);
    s[SPEC_ACT_MASK] = op->mask != NULL; /* written beside y (mask.glsl) */
}

static void init_grads(vkbn__vk_build* b, const vkbn__pass_list* l) {
    const vkbn__op* op = b->op;
    vkbn__vk_family* f = &b->f;
    const vkbn__pass* reduce = vkbn__find_pass(l, VKBN__PASS_REDUCE_GRADS);
    const vkbn__pass* apply = vkbn__find_pass(l, VKBN__PASS_APPLY_GRADS);
    /* Frozen: the statistics are the running ones (passes.h). */
    bool frozen = (reduce ? reduce->source : apply->source) == VKBN__SOURCE_RUNNING;
    f->grads = true;
    f->reduce_cf = VKBN__KERNEL_BWD_STATS_CF;
    f->reduce_cl = VKBN__KERNEL_BWD_STATS_CL;
    f->elementwise = VKBN__KERNEL_BWD_APPLY;
    f->act = op->y ? op->y : op->z;
    kp_grads_io* io = &f->io.grads;
    static const int bind[6] = {BIND_BWD_WEIGHT, BIND_BWD_BIAS,    BIND_BWD_MEAN,
                                BIND_BWD_VAR,    BIND_BWD_DWEIGHT, BIND_BWD_DBIAS};
    const vkbn_buffer buf[6] = {
        op->weight,  op->bias, frozen ? op->running_mean : op->save_mean, frozen ? op->running_var : op->save_invstd,
        op->dweight, op->dbias};
    bind_vectors(b, bind, buf, &io->ch);
    io->eps = op->eps;
    io->inv_m = (float)(1.0 / (double)op->per_channel);
    io->act.alpha = op->activation_alpha;
    io->act.beta = op->activation_beta;
    f->io_size = sizeof *io;

    f->spec[SPEC_HAS_RESIDUAL] = op->z != NULL;
    f->spec[SPEC_BWD_FROZEN] = frozen;
    /* The mask in place of y: its bits read as y = 1 or 0 (mask.glsl). */
    f->spec[SPEC_ACT_MASK] = op->mask != NULL;
    if (op->mask) f->act = op->mask;
}

/* Channels-last inference with items of several channels: the channel
 * block from the running statistics first, once per channel, so that apply
 * loads a vec4 of each array per four channels rather than sixteen floats,
 * four square roots and four divisions per item; but only where the block
 * (16 bytes per channel, written then read) costs at most 1/64 of x's bytes
 * (1x512x7x7 f16 has 98 bytes of x per channel). Channels-first items share
 * their channel with their neighbours, and apply computes the parameters
 * itself: the extra dispatch would cost more. */
bool vkbn__vk_inference_block(const vkbn__geometry* g, const vkbn__op* op) {
    return g->channels_last && op->per_channel * op->elem_size >= 1024;
}

vkbn_result vkbn__vk_family_init(vkbn__vk_build* b, vkbn_plan plan) {
    memset(b, 0, sizeof *b);
    b->plan = plan;
    b->vk = vkbn__vk_of(plan->ctx);
    b->op = &plan->op;
    const vkbn__op* op = b->op;
    const vkbn__pass_list* l = &plan->passes;
    /* Only the tensors an op has are set, so one list serves both families. */
    const vkbn_buffer tensors[] = {op->x, op->y, op->z, op->dy, op->dx, op->dz};
    VKBN_CHECK(vkbn__geometry_init(&b->g, b->vk, op, tensors, sizeof tensors / sizeof tensors[0]));
    for (uint32_t i = 0; i < BIND_MAX_COUNT; ++i) b->f.fixed[i] = vkbn__vk_dummy_range(b->vk);
    b->scratch = vkbn__vk_dummy_range(b->vk);
    bool grads = vkbn__find_pass(l, VKBN__PASS_REDUCE_GRADS) || vkbn__find_pass(l, VKBN__PASS_APPLY_GRADS);
    if (grads) {
        init_grads(b, l);
    } else {
        init_stats(b, l);
    }
    uint32_t* s = b->f.spec;
    s[SPEC_WG_SIZE] = b->g.wg;
    s[SPEC_ACTIVATION] = (uint32_t)op->activation;
    /* A mask read as y = 1 or 0 is CLAMP's test already made: then RELU's
     * y > 0 gives the same act' (LEAKY_RELU keeps alpha for the 0 bits). */
    if (grads && op->mask && op->activation == VKBN_ACTIVATION_CLAMP) s[SPEC_ACTIVATION] = VKBN_ACTIVATION_RELU;
    s[SPEC_HAS_WEIGHT] = op->weight != NULL;
    s[SPEC_HAS_BIAS] = op->bias != NULL;
    s[SPEC_CHANNELS_LAST] = b->g.channels_last;
    s[SPEC_ITEMS] = b->vk->tuning.apply_items;
    return VKBN_SUCCESS;
}

void vkbn__vk_family_window(const vkbn__vk_build* b, const vkbn__window* w, bool outputs, vkbn__range* r, void* io) {
    const vkbn__geometry* g = &b->g;
    const vkbn__op* op = b->op;
    memcpy(r, b->f.fixed, sizeof b->f.fixed);
    if (b->f.grads) {
        /* Every tensor, always: a reduction writes dz (and dx when frozen). */
        r[BIND_BWD_X] = vkbn__geometry_window(g, op->x, w);
        r[BIND_BWD_DY] = vkbn__geometry_window(g, op->dy, w);
        uint32_t mask_bit = 0;
        r[BIND_BWD_ACT] =
            op->mask ? vkbn__geometry_mask_window(g, op->mask, w, &mask_bit) : vkbn__geometry_window(g, b->f.act, w);
        r[BIND_BWD_DX] = vkbn__geometry_window(g, op->dx, w);
        r[BIND_BWD_DZ] = vkbn__geometry_window(g, op->dz, w);
        r[BIND_BWD_SCRATCH] = b->scratch;
        kp_grads_io t = b->f.io.grads;
        t.t.x = r[BIND_BWD_X].base;
        t.t.dy = r[BIND_BWD_DY].base;
        t.t.act = op->mask ? mask_bit : r[BIND_BWD_ACT].base;
        t.t.dx = r[BIND_BWD_DX].base;
        t.t.dz = r[BIND_BWD_DZ].base;
        memcpy(io, &t, sizeof t);
        return;
    }
    /* y and z only where the dispatch normalizes. */
    r[BIND_STATS_X] = vkbn__geometry_window(g, op->x, w);
    r[BIND_STATS_Y] = outputs ? vkbn__geometry_window(g, op->y, w) : vkbn__vk_dummy_range(b->vk);
    r[BIND_STATS_Z] = outputs ? vkbn__geometry_window(g, op->z, w) : vkbn__vk_dummy_range(b->vk);
    r[BIND_STATS_SCRATCH] = b->scratch;
    uint32_t mask_bit = 0;
    r[BIND_STATS_MASK] = outputs ? vkbn__geometry_mask_window(g, op->mask, w, &mask_bit) : vkbn__vk_dummy_range(b->vk);
    kp_stats_io t = b->f.io.stats;
    t.mask_base = mask_bit;
    t.x_base = r[BIND_STATS_X].base;
    t.y_base = r[BIND_STATS_Y].base;
    t.z_base = r[BIND_STATS_Z].base;
    memcpy(io, &t, sizeof t);
}

void vkbn__vk_family_reduce_spec(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__pass* fused_next,
                                 uint32_t spec[SPEC_COUNT]) {
    (void)pass;
    if (!b->f.grads) return;
    /* dz on the way; dx too with frozen statistics (it does not depend on
     * the sums) or when APPLY_GRADS is fused in; dweight and dbias by the
     * finishing workgroup. */
    const vkbn__op* op = b->op;
    bool dx = op->dx && (b->f.spec[SPEC_BWD_FROZEN] || fused_next);
    spec[SPEC_BWD_WRITES] = (op->dz ? BWD_WRITE_DZ : 0u) | (op->dweight ? BWD_WRITE_DWEIGHT : 0u) |
                            (op->dbias ? BWD_WRITE_DBIAS : 0u) | (dx ? BWD_WRITE_DX : 0u);
}

void vkbn__vk_family_elementwise_spec(const vkbn__vk_build* b, const vkbn__pass* pass, bool after_reduction,
                                      uint32_t spec[SPEC_COUNT]) {
    (void)pass;
    /* The reduction's constants do not concern the elementwise kernels:
     * cleared, so that plans share pipelines. */
    spec[SPEC_HAS_RUNNING] = 0;
    spec[SPEC_SAVE_MASK] = 0;
    if (!b->f.grads) return;
    /* dx; dz unless the reduction before it wrote it. */
    const vkbn__op* op = b->op;
    spec[SPEC_BWD_WRITES] = (op->dx ? BWD_WRITE_DX : 0u) | (op->dz && !after_reduction ? BWD_WRITE_DZ : 0u);
    /* When the reduction wrote dz (= g, every element), dx reads g back
     * from it rather than forming it again from dy and y (or x, z and an
     * exponential for SiLU): one tensor less to read. Only where dz holds
     * g's bits: f32 always; f16 and bf16 where g is dy or 0 (RELU, CLAMP),
     * not where it is a product (LEAKY_RELU's dy * alpha, SiLU), which they
     * would round.
     * Without an activation g is dy, and reading dz instead gains nothing. */
    vkbn_activation a = op->activation;
    bool exact = b->g.variant.dtype == VKBN__STORE_F32 || a == VKBN_ACTIVATION_RELU || a == VKBN_ACTIVATION_CLAMP;
    if (after_reduction && op->dz && op->dx && a != VKBN_ACTIVATION_NONE && exact) {
        spec[SPEC_BWD_WRITES] |= BWD_G_FROM_DZ;
    }
}

void vkbn__vk_family_rebase(const vkbn__vk_build* b, uint32_t vec, void* io) {
    uint32_t div = vec / b->g.vec; /* 8 / 4: the bases are aligned (vkbn__vk_elementwise_vec) */
    if (div <= 1) return;
    if (b->f.grads) {
        kp_grads_io* t = io;
        t->t.x /= div;
        t->t.dy /= div;
        t->t.act /= div;
        t->t.dx /= div;
        t->t.dz /= div;
    } else {
        kp_stats_io* t = io;
        t->x_base /= div;
        t->y_base /= div;
        t->z_base /= div;
    }
}
