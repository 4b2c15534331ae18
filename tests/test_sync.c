/* Synchronized batch norm across contexts in one process: a batch split
 * unevenly (empty slices and one-value slices included) over two lavapipe
 * contexts and the CPU path; the partials merged, each slice normalized, the
 * backward sums merged, each slice's dx. Outputs, saved and running
 * statistics and gradients must match the fp64 reference on the whole batch
 * with the single-context tolerances (the single-context run on the whole
 * batch is checked alongside), every replica must hold bit-identical vectors,
 * and the run must be bit-identical when the slices are processed in another
 * order. Then bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "sync_check.h"
#include "test_util.h"

#define MAX_SLICES 4

static vkbn_context g_vk[2], g_cpu, g_vk_windows;

typedef struct split {
    uint32_t count;
    uint32_t n[MAX_SLICES]; /* samples per slice, in batch order */
    vkbn_context* ctx[MAX_SLICES];
} split;

static uint64_t validation_messages(void) {
    return vkbn_context_validation_message_count(g_vk[0]) + vkbn_context_validation_message_count(g_vk[1]) +
           vkbn_context_validation_message_count(g_vk_windows);
}

/* One synchronized step over the split; slices processed in `order`. Fills o
 * with the assembled outputs; replicas' vectors must agree bit for bit. */
static int run_sync(const sync_batch* b, const split* sp, const uint32_t* order, sync_outputs* o, const char* what) {
    uint32_t k = sp->count, c = b->c.tensor.c;
    sync_slice slices[MAX_SLICES];
    sync_partials parts, global;
    int ok = sync_partials_alloc(k, c, &parts) == 0 && sync_partials_alloc(1, c, &global) == 0;
    uint32_t n0 = 0;
    for (uint32_t i = 0; i < k; ++i) {
        vkbn_result r = sync_slice_create(*sp->ctx[i], b, n0, n0 + sp->n[i], &slices[i]);
        CHECK(r == VKBN_SUCCESS, "%s: slice %u: %s", what, i, vkbn_last_error());
        if (r != VKBN_SUCCESS) return 0;
        n0 += sp->n[i];
    }
#define STEP(expr)                                                                               \
    do {                                                                                         \
        vkbn_result r_ = (expr);                                                                 \
        if (r_ != VKBN_SUCCESS) {                                                                \
            CHECK(0, "%s: %s: %s (%s)", what, #expr, vkbn_last_error(), vkbn_result_string(r_)); \
            ok = 0;                                                                              \
        }                                                                                        \
    } while (0)
    /* Partials land at their slice's index whatever the processing order. */
    for (uint32_t j = 0; j < k && ok; ++j) STEP(sync_slice_stats(&slices[order[j]], &parts.stats[order[j]]));
    if (ok) STEP(vkbn_batch_stats_merge(parts.stats, k, &global.stats[0]));
    for (uint32_t j = 0; j < k && ok; ++j) STEP(sync_slice_forward(&slices[order[j]], &global.stats[0]));
    for (uint32_t j = 0; j < k && ok; ++j) STEP(sync_slice_grad_sums(&slices[order[j]], &parts.sums[order[j]]));
    if (ok) STEP(vkbn_grad_sums_merge(parts.sums, k, &global.sums[0]));
    for (uint32_t j = 0; j < k && ok; ++j) STEP(sync_slice_backward(&slices[order[j]], &global.sums[0]));
    sync_outputs other;
    if (ok && sync_outputs_alloc(b, &other) == 0) {
        for (uint32_t i = 0; i < k && ok; ++i) {
            STEP(sync_slice_collect(&slices[i], i == 0 ? o : &other));
            if (i == 0) continue;
            int same = memcmp(o->save_mean, other.save_mean, c * 4) == 0 &&
                       memcmp(o->save_invstd, other.save_invstd, c * 4) == 0 &&
                       memcmp(o->running_mean, other.running_mean, c * 4) == 0 &&
                       memcmp(o->running_var, other.running_var, c * 4) == 0 &&
                       memcmp(o->dweight, other.dweight, c * 4) == 0 && memcmp(o->dbias, other.dbias, c * 4) == 0;
            CHECK(same, "%s: replica %u's statistics or parameter gradients differ from replica 0's", what, i);
            /* y, dx, dz of slice i went into `other`: copy them over. */
            uint64_t off = (uint64_t)slices[i].n0 * b->sample, n = (uint64_t)slices[i].tensor.n * b->sample;
            memcpy(o->y + off, other.y + off, n * 4);
            memcpy(o->dx + off, other.dx + off, n * 4);
            memcpy(o->dz + off, other.dz + off, n * 4);
        }
        sync_outputs_free(&other);
    }
    for (uint32_t i = 0; i < k; ++i) sync_slice_destroy(&slices[i]);
    sync_partials_free(&parts);
    sync_partials_free(&global);
    return ok;
#undef STEP
}

static void run_case(const sync_case* sc, const split* sp, const char* split_name) {
    char name[160], desc[96], msg[256];
    sync_case_describe(sc, desc, sizeof desc);
    snprintf(name, sizeof name, "%s split %s", desc, split_name);
    sync_batch b;
    if (sync_batch_make(sc, &b) != 0) {
        CHECK(0, "%s: out of memory", name);
        return;
    }
    sync_outputs single, o, o2;
    sync_outputs_alloc(&b, &single);
    sync_outputs_alloc(&b, &o);
    sync_outputs_alloc(&b, &o2);
    double worst = 0.0;
    /* The single-context run on the whole batch, under the same check. */
    vkbn_result r = sync_run_single(g_vk[0], &b, &single);
    CHECK(r == VKBN_SUCCESS, "%s: single-context run: %s", name, vkbn_last_error());
    if (r == VKBN_SUCCESS) CHECK(sync_check(&b, &single, &worst, msg, sizeof msg), "%s: single context: %s", name, msg);

    uint32_t forward[MAX_SLICES], backward[MAX_SLICES];
    for (uint32_t i = 0; i < sp->count; ++i) {
        forward[i] = i;
        backward[i] = sp->count - 1 - i;
    }
    if (run_sync(&b, sp, forward, &o, name)) {
        int ok = sync_check(&b, &o, &worst, msg, sizeof msg);
        CHECK(ok, "%s: synchronized: %s", name, msg);
        if (ok) printf("ok   %s (%s)\n", name, msg);
        if (run_sync(&b, sp, backward, &o2, name)) {
            CHECK(sync_outputs_identical(&b, &o, &o2), "%s: slices processed in reverse order give other bits", name);
        }
    }
    sync_outputs_free(&single);
    sync_outputs_free(&o);
    sync_outputs_free(&o2);
    sync_batch_free(&b);
}

static sync_case make_case(uint32_t n, uint32_t c, uint32_t rank, uint32_t s0, uint32_t s1, vkbn_layout layout,
                           vkbn_dtype dtype, vkbn_activation act, int residual, uint64_t seed) {
    sync_case sc;
    memset(&sc, 0, sizeof sc);
    sc.tensor.n = n;
    sc.tensor.c = c;
    sc.tensor.spatial_rank = rank;
    sc.tensor.spatial[0] = s0;
    sc.tensor.spatial[1] = s1;
    sc.tensor.layout = layout;
    sc.tensor.dtype = dtype;
    sc.activation = act;
    sc.activation_alpha = act == VKBN_ACTIVATION_CLAMP ? -0.5f : 0.1f;
    sc.activation_beta = 1.0f;
    sc.residual = residual;
    sc.eps = VKBN_DEFAULT_EPS;
    sc.momentum = VKBN_DEFAULT_MOMENTUM;
    sc.x_mean = 3.0;
    sc.x_std = 2.0;
    sc.seed = seed;
    return sc;
}

static void matrix(void) {
    /* N = 7 over three contexts with an empty one; N = 5 with a one-sample
     * slice; N = 2 as 1 + 1 (a one-value slice per channel when S = 1). */
    split three = {3, {3, 0, 4}, {&g_vk[0], &g_cpu, &g_vk[1]}};
    split three_rev = {3, {4, 0, 3}, {&g_cpu, &g_vk[1], &g_vk[0]}};
    split two = {2, {1, 4}, {&g_cpu, &g_vk[0]}};
    split pairs = {4, {1, 0, 1, 0}, {&g_vk[1], &g_vk[0], &g_cpu, &g_cpu}};
    uint64_t seed = 1;
    for (int l = 0; l < 2; ++l) {
        vkbn_layout layout = l ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
        for (int d = 0; d < 2; ++d) {
            vkbn_dtype dtype = d == 0 ? VKBN_DTYPE_F32 : l ? VKBN_DTYPE_BF16 : VKBN_DTYPE_F16;
            sync_case a = make_case(7, 13, 2, 5, 3, layout, dtype, VKBN_ACTIVATION_NONE, 0, seed++);
            run_case(&a, &three, "3+0+4 (vk, cpu, vk)");
            sync_case a2 = make_case(7, 13, 2, 5, 3, layout, dtype, VKBN_ACTIVATION_RELU, 1, seed++);
            run_case(&a2, &three_rev, "4+0+3 (cpu, vk, vk)");
            sync_case bc = make_case(5, 6, 0, 1, 1, layout, dtype, VKBN_ACTIVATION_LEAKY_RELU, 0, seed++);
            run_case(&bc, &two, "1+4 (cpu, vk)");
            sync_case cc = make_case(2, 3, 1, 17, 1, layout, dtype, VKBN_ACTIVATION_CLAMP, 1, seed++);
            run_case(&cc, &pairs, "1+0+1+0 (vk, vk, cpu, cpu)");
            sync_case big = make_case(9, 4, 2, 33, 31, layout, dtype, VKBN_ACTIVATION_NONE, 0, seed++);
            big.x_mean = 1000.0; /* a large common part: the pivots and the double merge matter */
            big.x_std = 1.0;
            split bigsplit = {3, {2, 5, 2}, {&g_vk[0], &g_vk[1], &g_cpu}};
            run_case(&big, &bigsplit, "2+5+2 (vk, vk, cpu)");
            sync_case silu = make_case(6, 7, 1, 11, 1, layout, dtype, VKBN_ACTIVATION_SILU, 1, seed++);
            split silusplit = {3, {2, 3, 1}, {&g_cpu, &g_vk[0], &g_vk[1]}};
            run_case(&silu, &silusplit, "2+3+1 (cpu, vk, vk)");
            sync_case one = make_case(3, 1, 0, 1, 1, layout, dtype, VKBN_ACTIVATION_RELU, 0, seed++);
            split onesplit = {2, {1, 2}, {&g_vk[1], &g_cpu}};
            run_case(&one, &onesplit, "1+2, c=1 (vk, cpu)");
            /* Slices larger than the binding range: windowed statistics,
             * normalize and backward passes. */
            sync_case wide = make_case(11, 5, 2, 61, 37, layout, dtype, VKBN_ACTIVATION_NONE, 1, seed++);
            split widesplit = {3, {6, 0, 5}, {&g_vk_windows, &g_cpu, &g_vk_windows}};
            run_case(&wide, &widesplit, "6+0+5 (vk windows, cpu, vk windows)");
        }
    }
}

/* Merges: identities, order, aliasing. */
static void merges(void) {
    double m1[2] = {1.0, -2.0}, q1[2] = {4.0, 0.5}, m2[2] = {3.0, 2.0}, q2[2] = {2.0, 1.5};
    double e0[2] = {99.0, 99.0};
    vkbn_batch_stats p[3] = {{4, 2, m1, q1}, {0, 2, e0, e0}, {2, 2, m2, q2}};
    double om[2], oq[2];
    vkbn_batch_stats out = {0, 2, om, oq};
    CHECK(vkbn_batch_stats_merge(p, 3, &out) == VKBN_SUCCESS, "merge: %s", vkbn_last_error());
    /* Chan by hand: n = 6, d = 2 and 4; mean = 1 + 2 * 2/6, M2 = 4 + 2 + 4 * 4 * 2 / 6. */
    CHECK(out.count == 6 && fabs(om[0] - (1.0 + 4.0 / 6.0)) < 1e-15 && fabs(oq[0] - (6.0 + 32.0 / 6.0)) < 1e-14,
          "merge: got count %llu mean %.17g M2 %.17g", (unsigned long long)out.count, om[0], oq[0]);
    CHECK(fabs(om[1] - (-2.0 + 4.0 * 2.0 / 6.0)) < 1e-15 && fabs(oq[1] - (2.0 + 16.0 * 8.0 / 6.0)) < 1e-14,
          "merge: channel 1 mean %.17g M2 %.17g", om[1], oq[1]);
    /* The empty partial is an identity wherever it sits. */
    vkbn_batch_stats q[2] = {p[0], p[2]};
    double am[2], aq[2];
    vkbn_batch_stats out2 = {0, 2, am, aq};
    vkbn_batch_stats_merge(q, 2, &out2);
    CHECK(memcmp(am, om, sizeof am) == 0 && memcmp(aq, oq, sizeof aq) == 0, "merge: an empty partial changed bits");
    /* All empty: the empty result; merging it into a step is refused below. */
    vkbn_batch_stats empties[2] = {{0, 2, NULL, NULL}, {0, 2, NULL, NULL}};
    CHECK(vkbn_batch_stats_merge(empties, 2, &out2) == VKBN_SUCCESS && out2.count == 0 && am[0] == 0.0 && aq[1] == 0.0,
          "merge of empties: count %llu", (unsigned long long)out2.count);
    /* out aliasing parts[0]. */
    double cm[2] = {1.0, -2.0}, cq[2] = {4.0, 0.5};
    vkbn_batch_stats alias[2] = {{4, 2, cm, cq}, p[2]};
    CHECK(vkbn_batch_stats_merge(alias, 2, &alias[0]) == VKBN_SUCCESS && memcmp(cm, om, sizeof cm) == 0 &&
              alias[0].count == 6,
          "merge into a part: mean %.17g", cm[0]);
    /* Mismatched channels. */
    vkbn_batch_stats bad = {2, 3, m2, q2};
    vkbn_batch_stats mix[2] = {p[0], bad};
    CHECK(vkbn_batch_stats_merge(mix, 2, &out) == VKBN_ERROR_SHAPE_MISMATCH && strstr(vkbn_last_error(), "parts[1]"),
          "merge with mismatched c: %s", vkbn_last_error());

    /* Sums: compensated, in order. 1 + 1e-17 * 1000 - 1 keeps the small terms. */
    double g[3] = {1.0, 1e-16, -1.0}, gx[3] = {0.0, 0.0, 0.0}, sg[1], sgx[1];
    vkbn_grad_sums sp[3] = {{1, 1, &g[0], &gx[0]}, {1, 1, &g[1], &gx[1]}, {1, 1, &g[2], &gx[2]}};
    vkbn_grad_sums so = {0, 1, sg, sgx};
    CHECK(vkbn_grad_sums_merge(sp, 3, &so) == VKBN_SUCCESS && sg[0] == 1e-16 && so.count == 3,
          "sums merge: %.17g (count %llu)", sg[0], (unsigned long long)so.count);
}

/* The statistics plan (an export to a buffer): the same bits as the one-shot
 * call, on a Vulkan context and on the CPU path; bad input refused. */
static void stats_plan_on(vkbn_context ctx, const char* name) {
    sync_case sc = make_case(5, 9, 2, 7, 3, VKBN_LAYOUT_CHANNELS_LAST, VKBN_DTYPE_F32, VKBN_ACTIVATION_NONE, 0, 5);
    sync_batch b;
    sync_batch_make(&sc, &b);
    sync_slice s;
    CHECK(sync_slice_create(ctx, &b, 1, 4, &s) == VKBN_SUCCESS, "%s slice: %s", name, vkbn_last_error());
    vkbn_buffer out = NULL;
    vkbn_buffer_create(ctx, 9 * 3 * 4, &out);
    vkbn_batch_stats_plan_desc pd = {s.tensor, s.x, out};
    vkbn_plan plan = NULL;
    CHECK(vkbn_plan_create_batch_stats(ctx, &pd, &plan) == VKBN_SUCCESS, "%s stats plan: %s", name, vkbn_last_error());
    if (plan) {
        CHECK(strstr(vkbn_plan_describe(plan), "slice statistics") != NULL, "plan: %s", vkbn_plan_describe(plan));
        CHECK(vkbn_plan_execute(plan) == VKBN_SUCCESS, "execute: %s", vkbn_last_error());
        float words[27];
        vkbn_buffer_download(out, 0, words, sizeof words);
        double m1[9], q1[9], m2[9], q2[9];
        vkbn_batch_stats dec = {0, 9, m1, q1}, direct = {0, 9, m2, q2};
        CHECK(vkbn_batch_stats_decode(words, 3 * 7 * 3, &dec) == VKBN_SUCCESS && dec.count == 63, "decode: %s",
              vkbn_last_error());
        CHECK(sync_slice_stats(&s, &direct) == VKBN_SUCCESS, "stats: %s", vkbn_last_error());
        CHECK(memcmp(m1, m2, sizeof m1) == 0 && memcmp(q1, q2, sizeof q1) == 0 && direct.count == dec.count,
              "the plan's export differs from vkbn_batch_stats_compute");
        vkbn_plan_destroy(plan);
    }
    /* out overlapping x; too small; no x. */
    vkbn_batch_stats_plan_desc alias = {s.tensor, s.x, s.x};
    CHECK(vkbn_plan_create_batch_stats(ctx, &alias, &plan) == VKBN_ERROR_ALIASING && plan == NULL, "%s aliasing: %s",
          name, vkbn_last_error());
    vkbn_buffer small = NULL;
    vkbn_buffer_create(ctx, 9 * 4, &small);
    vkbn_batch_stats_plan_desc tiny = {s.tensor, s.x, small};
    CHECK(vkbn_plan_create_batch_stats(ctx, &tiny, &plan) == VKBN_ERROR_BUFFER_TOO_SMALL &&
              strstr(vkbn_last_error(), "desc->out"),
          "%s small out: %s", name, vkbn_last_error());
    vkbn_batch_stats_plan_desc no_x = {s.tensor, NULL, out};
    CHECK(vkbn_plan_create_batch_stats(ctx, &no_x, &plan) == VKBN_ERROR_NULL_ARGUMENT && strstr(vkbn_last_error(), "x"),
          "%s no x: %s", name, vkbn_last_error());
    vkbn_buffer_destroy(small);
    vkbn_buffer_destroy(out);
    sync_slice_destroy(&s);
    sync_batch_free(&b);
}

static void stats_plan(void) {
    stats_plan_on(g_vk[0], "vulkan");
    stats_plan_on(g_cpu, "cpu");
}

/* Bad input: clear codes, messages that name the argument, nothing written. */
static void bad_input(void) {
    sync_case sc = make_case(4, 3, 1, 5, 1, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32, VKBN_ACTIVATION_NONE, 0, 99);
    sync_batch b;
    sync_batch_make(&sc, &b);
    sync_slice s;
    CHECK(sync_slice_create(g_vk[0], &b, 0, 4, &s) == VKBN_SUCCESS, "slice: %s", vkbn_last_error());
    float sentinel[3] = {7.0f, 7.0f, 7.0f}, back[3];
    vkbn_buffer_upload(s.save_mean, 0, sentinel, sizeof sentinel);
    double mean[3] = {0}, m2[3] = {0};
    vkbn_batch_stats one = {1, 3, mean, m2};
    CHECK(sync_slice_forward(&s, &one) == VKBN_ERROR_TOO_FEW_VALUES && strstr(vkbn_last_error(), "global->count"),
          "global count 1: %s", vkbn_last_error());
    vkbn_batch_stats short_c = {20, 2, mean, m2};
    CHECK(sync_slice_forward(&s, &short_c) == VKBN_ERROR_SHAPE_MISMATCH && strstr(vkbn_last_error(), "global->c"),
          "global c: %s", vkbn_last_error());
    vkbn_batch_stats too_few = {10, 3, mean, m2};
    CHECK(sync_slice_forward(&s, &too_few) == VKBN_ERROR_SHAPE_MISMATCH, "global count below the slice's: %s",
          vkbn_last_error());
    vkbn_buffer_download(s.save_mean, 0, back, sizeof back);
    CHECK(memcmp(back, sentinel, sizeof back) == 0, "a refused call wrote save_mean");
    /* A vector of another context. */
    vkbn_buffer foreign = NULL;
    vkbn_buffer_create(g_cpu, 12, &foreign);
    vkbn_forward_training_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = s.tensor;
    d.x = s.x;
    d.y = s.y;
    d.weight = foreign;
    d.momentum = 0.1f;
    vkbn_batch_stats ok_stats = {20, 3, mean, m2};
    CHECK(vkbn_forward_training_global(g_vk[0], &d, &ok_stats) == VKBN_ERROR_WRONG_CONTEXT &&
              strstr(vkbn_last_error(), "desc->weight"),
          "foreign weight: %s", vkbn_last_error());
    d.tensor.n = 0;
    CHECK(vkbn_forward_training_global(g_vk[0], &d, &ok_stats) == VKBN_ERROR_WRONG_CONTEXT,
          "foreign weight, empty slice: %s", vkbn_last_error());
    d.weight = NULL;
    d.momentum = 2.0f;
    CHECK(vkbn_forward_training_global(g_vk[0], &d, &ok_stats) == VKBN_ERROR_INVALID_MOMENTUM,
          "momentum, empty slice: %s", vkbn_last_error());
    vkbn_buffer_destroy(foreign);
    /* Frozen backward is not synchronized. */
    vkbn_backward_desc bd;
    memset(&bd, 0, sizeof bd);
    bd.tensor = s.tensor;
    bd.x = s.x;
    bd.dy = s.dy;
    bd.frozen = 1;
    double sg[3], sgx[3];
    vkbn_grad_sums sums = {0, 3, sg, sgx};
    CHECK(vkbn_grad_sums_compute(g_vk[0], &bd, &sums) == VKBN_ERROR_INVALID_ARGUMENT &&
              strstr(vkbn_last_error(), "desc->frozen"),
          "frozen: %s", vkbn_last_error());
    vkbn_batch_stats nulls = {0, 3, NULL, NULL};
    vkbn_batch_stats_desc sd = {s.tensor, s.x};
    CHECK(vkbn_batch_stats_compute(g_vk[0], &sd, &nulls) == VKBN_ERROR_NULL_ARGUMENT &&
              strstr(vkbn_last_error(), "out->mean"),
          "stats without arrays: %s", vkbn_last_error());
    sync_slice_destroy(&s);
    sync_batch_free(&b);
}

/* The activation mask through the synchronized calls (which share the
 * single-context descs): vkbn_forward_training_global writes it (each bit
 * the test of the slice's stored y), vkbn_grad_sums_compute and
 * vkbn_backward_global read it in place of y with the same bits as with y.
 * Slices of 2 and 3 samples of 3 x 37 values: neither ends on a mask word.
 * Where a backend has no mask, the calls refuse it. */
static void mask_slices(vkbn_context ctx, const char* name) {
    const bool supported = test_mask_supported(ctx);
    for (int layout = 0; layout < 2; ++layout) {
        sync_case sc = make_case(5, 3, 1, 37, 1, (vkbn_layout)layout, VKBN_DTYPE_F32, VKBN_ACTIVATION_CLAMP, 1, 4242);
        sync_batch b;
        if (sync_batch_make(&sc, &b) != 0) {
            CHECK(0, "mask %s: out of memory", name);
            return;
        }
        enum { K = 2 };
        const uint32_t bounds[K + 1] = {0, 2, 5};
        sync_slice sl[K];
        double mem[K * 4 + 4][3];
        vkbn_batch_stats parts[K], global = {0, 3, mem[K * 4], mem[K * 4 + 1]};
        vkbn_grad_sums gy[K], gm[K], gglobal = {0, 3, mem[K * 4 + 2], mem[K * 4 + 3]};
        vkbn_buffer mask[K] = {NULL, NULL};
        int ok = 1;
        for (uint32_t i = 0; i < K; ++i) {
            ok &= sync_slice_create(ctx, &b, bounds[i], bounds[i + 1], &sl[i]) == VKBN_SUCCESS;
            parts[i] = (vkbn_batch_stats){0, 3, mem[4 * i], mem[4 * i + 1]};
            gy[i] = (vkbn_grad_sums){0, 3, mem[4 * i + 2], mem[4 * i + 3]};
            vkbn_mask_requirements req;
            ok &= vkbn_activation_mask_requirements(&sl[i].tensor, &req) == VKBN_SUCCESS;
            ok &= vkbn_buffer_create(ctx, req.size, &mask[i]) == VKBN_SUCCESS;
            if (ok) ok &= sync_slice_stats(&sl[i], &parts[i]) == VKBN_SUCCESS;
        }
        CHECK(ok, "mask %s: slices: %s", name, vkbn_last_error());
        if (ok) ok &= vkbn_batch_stats_merge(parts, K, &global) == VKBN_SUCCESS;
        for (uint32_t i = 0; i < K && ok; ++i) {
            vkbn_forward_training_desc d = sync_slice_forward_desc(&sl[i]);
            d.activation_mask = mask[i];
            vkbn_result r = vkbn_forward_training_global(ctx, &d, &global);
            if (!supported) {
                CHECK(r == VKBN_ERROR_UNSUPPORTED && strstr(vkbn_last_error(), "desc->activation_mask"),
                      "mask %s: forward_training_global: %s", name, vkbn_last_error());
                ok = 0;
                break;
            }
            CHECK(r == VKBN_SUCCESS, "mask %s: forward_training_global: %s", name, vkbn_last_error());
            uint64_t count = vkbn_tensor_element_count(&sl[i].tensor);
            float* y = malloc(count * sizeof(float));
            uint8_t* m = malloc((count + 31) / 32 * 4);
            vkbn_buffer_download(sl[i].y, 0, y, count * sizeof(float));
            vkbn_buffer_download(mask[i], 0, m, (count + 31) / 32 * 4);
            uint64_t wrong = 0;
            for (uint64_t e = 0; e < count; ++e) {
                wrong +=
                    case_mask_get(m, e) != case_mask_bit(y[e], sc.activation, sc.activation_alpha, sc.activation_beta);
            }
            CHECK(wrong == 0, "mask %s: slice %u: %llu bits differ from the stored y", name, i,
                  (unsigned long long)wrong);
            free(y);
            free(m);
        }
        /* Backward: sums and dx with y, then with the mask. */
        double msum[K][2][3];
        for (uint32_t i = 0; i < K && ok; ++i) {
            gm[i] = (vkbn_grad_sums){0, 3, msum[i][0], msum[i][1]};
            vkbn_backward_desc d = sync_slice_backward_desc(&sl[i]);
            ok &= vkbn_grad_sums_compute(ctx, &d, &gy[i]) == VKBN_SUCCESS;
            d.y = NULL;
            d.activation_mask = mask[i];
            ok &= vkbn_grad_sums_compute(ctx, &d, &gm[i]) == VKBN_SUCCESS;
            CHECK(ok, "mask %s: grad sums: %s", name, vkbn_last_error());
            CHECK(ok && memcmp(msum[i], mem[4 * i + 2], sizeof msum[i][0]) == 0 &&
                      memcmp(msum[i][1], mem[4 * i + 3], sizeof msum[i][1]) == 0 && gm[i].count == gy[i].count,
                  "mask %s: slice %u: the sums with the mask differ from those with y", name, i);
        }
        if (ok) ok &= vkbn_grad_sums_merge(gy, K, &gglobal) == VKBN_SUCCESS;
        for (uint32_t i = 0; i < K && ok; ++i) {
            uint64_t count = vkbn_tensor_element_count(&sl[i].tensor);
            float* dx[2] = {malloc(count * sizeof(float)), malloc(count * sizeof(float))};
            vkbn_backward_desc d = sync_slice_backward_desc(&sl[i]);
            for (int k = 0; k < 2 && ok; ++k) {
                if (k == 1) {
                    d.y = NULL;
                    d.activation_mask = mask[i];
                }
                ok &= vkbn_backward_global(ctx, &d, &gglobal) == VKBN_SUCCESS;
                CHECK(ok, "mask %s: backward_global: %s", name, vkbn_last_error());
                if (ok) vkbn_buffer_download(d.dx, 0, dx[k], count * sizeof(float));
            }
            CHECK(!ok || memcmp(dx[0], dx[1], count * sizeof(float)) == 0,
                  "mask %s: slice %u: dx with the mask differs from dx with y", name, i);
            free(dx[0]);
            free(dx[1]);
        }
        if (ok) printf("ok   activation mask through the synchronized calls, %s, %s\n", name, layout ? "nhwc" : "nchw");
        for (uint32_t i = 0; i < K; ++i) {
            vkbn_buffer_destroy(mask[i]);
            sync_slice_destroy(&sl[i]);
        }
        sync_batch_free(&b);
    }
}

int main(void) {
    g_vk[0] = test_context(0, 0);
    g_vk[1] = test_context(0, 0);
    g_vk_windows = test_context(0, 64 * 1024);
    vkbn_context_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.device = "cpu";
    cd.cpu_threads = 2;
    if (vkbn_context_create(&cd, &g_cpu) != VKBN_SUCCESS) {
        printf("FAIL: CPU context: %s\n", vkbn_last_error());
        return 1;
    }
    merges();
    stats_plan();
    matrix();
    bad_input();
    mask_slices(g_cpu, "cpu");
    mask_slices(g_vk[0], "vulkan");
    CHECK(validation_messages() == 0, "%llu validation messages", (unsigned long long)validation_messages());
    vkbn_context_destroy(g_cpu);
    vkbn_context_destroy(g_vk[1]);
    vkbn_context_destroy(g_vk_windows);
    vkbn_context_destroy(g_vk[0]);
    return test_summary();
}
