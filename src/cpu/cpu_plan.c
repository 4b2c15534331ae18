/* The CPU path's pass executor: the entry for core (plan_build,
 * plan_execute, plan_destroy) and what its two sides share (cpu_plan.h).
 *
 * Work is split statically by thread index (the pool gives every thread the
 * same index on every run), so a plan's arithmetic, and with it every output
 * bit, depends only on the shape, the thread count and the instruction set.
 * A reduction and the elementwise pass after it are fused where one thread
 * owns the reduced values (passes.h allows it: the results are those of the
 * unfused list), which is how the second read of x hits cache; the plans of
 * each side are listed in its file. When the tensors an operation touches
 * exceed the last-level cache, outputs are written with non-temporal stores
 * (unless in place): they could not stay cached beside the inputs anyway,
 * and writing around the cache keeps the inputs' lines (which the second
 * pass, or the next run, reads). */
#include <stdio.h>

#include "../core/errors.h"
#include "cpu_plan.h"

/* Below this many values per part, splitting a channel costs more than it gives. */
#define MIN_PART_VALUES 4096u

/* Channels-first rows up to this long run as lanes (cpu_plan.h), when there
 * are at most SHORT_ROW_MAX_LANES lanes (C * S: the per-lane parameter and
 * statistics arrays stay in L2). Per-row kernel calls over rows of a few
 * elements cost more than the data (measured 14x slower than channels-last
 * on 1024x256x4). Measured with 2 threads, lanes against per-row calls: S =
 * 4 about 10x faster, S = 16 about 2x; S = 32 and 49 1.4-2.7x slower (each
 * vector of x then needs its parameters from L2; commands in
 * docs/ARCHITECTURE.md, "CPU path"). */
#define SHORT_ROW_MAX_S 16u
#define SHORT_ROW_MAX_LANES (1u << 17)

/* A plan runs on one side: statistics (REDUCE_STATS, NORMALIZE, COPY) or
 * gradients (REDUCE_GRADS, APPLY_GRADS). */
struct vkbn__cpu_plan {
    struct vkbn__cpu_stats_plan* stats;
    struct vkbn__cpu_grads_plan* grads;
};

vkbn__cpu_geometry vkbn__cpu_geometry_of(const vkbn__op* op, uint32_t threads) {
    const vkbn_tensor_desc* d = &op->tensor;
    const uint64_t s = op->spatial;
    vkbn__cpu_geometry g = {d->layout == VKBN_LAYOUT_CHANNELS_LAST, d->n, d->c, s, (uint64_t)d->n * s, 1};
    /* The layouts coincide for S = 1 (channels-first) and C = 1 (channels-last). */
    if (!g.channels_last && s == 1)
        g.channels_last = true;
    else if (g.channels_last && d->c == 1)
        g.channels_last = false;
    if (!g.channels_last && s > 1 && s <= SHORT_ROW_MAX_S && (uint64_t)d->c * s <= SHORT_ROW_MAX_LANES &&
        d->n >= threads) {
        /* Short rows as lanes: samples are rows of C * S lanes. */
        g.channels_last = true;
        g.c = (uint64_t)d->c * s;
        g.s = 1;
        g.rows = d->n;
        g.lanes_per_channel = s;
    }
    return g;
}

uint32_t vkbn__cpu_channels_first_parts(const vkbn__op* op, uint32_t threads) {
    uint64_t c = op->tensor.c, m = op->per_channel;
    uint64_t parts;
    if (op->reduction_split == 1) return 1;
    if (op->reduction_split > 1) {
        parts = op->reduction_split;
    } else {
        /* Whole channels per thread balance well enough. */
        if (c % threads == 0 || c >= 4ull * threads) return 1;
        parts = (8ull * threads + c - 1) / c;
        uint64_t worth = m / MIN_PART_VALUES;
        if (parts > worth) parts = worth ? worth : 1;
    }
    if (parts > m) parts = m;
    return (uint32_t)parts;
}

void* vkbn__cpu_alloc(uint64_t count, size_t size, vkbn_result* r) {
    if (*r != VKBN_SUCCESS || count == 0) return NULL;
    void* p = vkbn__calloc((size_t)count, size);
    if (!p) *r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory for scratch");
    return p;
}

vkbn_result vkbn__cpu_plan_build(vkbn_plan plan) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(plan->ctx);
    struct vkbn__cpu_plan* p = vkbn__calloc(1, sizeof *p);
    if (!p) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "planning: out of host memory");
    plan->impl = p;
    const vkbn__pass_list* passes = &plan->passes;
    char what[200];
    vkbn_result r;
    if (vkbn__find_pass(passes, VKBN__PASS_REDUCE_GRADS) || vkbn__find_pass(passes, VKBN__PASS_APPLY_GRADS)) {
        r = vkbn__cpu_grads_build(plan, &p->grads, what, sizeof what);
    } else {
        r = vkbn__cpu_stats_build(plan, &p->stats, what, sizeof what);
    }
    /* "avx512+bf16": bf16 stores by AVX-512 BF16's conversion. */
    const bool bf16_native = cpu->bf16_native && plan->op.tensor.dtype == VKBN_DTYPE_BF16;
    snprintf(plan->description, sizeof plan->description, "cpu %s%s x%u: %s", cpu->kernels->name,
             bf16_native ? "+bf16" : "", cpu->threads, what);
    return r;
}

vkbn_result vkbn__cpu_plan_execute(vkbn_plan plan, uint32_t repetitions, double* seconds) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(plan->ctx);
    struct vkbn__cpu_plan* p = vkbn__cpu_plan_of(plan);
    vkbn__mutex_lock(&cpu->exec_lock);
    double t0 = vkbn__now_seconds();
    for (uint32_t i = 0; i < repetitions; ++i) {
        if (p->grads)
            vkbn__cpu_grads_run(plan, p->grads);
        else
            vkbn__cpu_stats_run(plan, p->stats);
    }
    double t1 = vkbn__now_seconds();
    vkbn__mutex_unlock(&cpu->exec_lock);
    if (seconds) *seconds = (t1 - t0) / repetitions;
    return VKBN_SUCCESS;
}

void vkbn__cpu_plan_destroy(vkbn_plan plan) {
    struct vkbn__cpu_plan* p = vkbn__cpu_plan_of(plan);
    if (!p) return;
    vkbn__cpu_stats_destroy(p->stats);
    vkbn__cpu_grads_destroy(p->grads);
    vkbn__free(p);
    plan->impl = NULL;
}
