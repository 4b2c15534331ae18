#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-last backward reductions. Threads form the TX x TY grid of
// stats_cl.comp: consecutive threads read consecutive channel items of a row
// (coalesced), TY rows at a time; with VEC=4 each thread carries four
// channels. Rows of a slice merge across TY through a fixed shared-memory
// tree of compensated sums. FUSED and split plans work as in bwd_stats_cf,
// with one counter per channel group (merge.glsl).

#include "common.glsl"

layout(push_constant) uniform PushConstants { kp_bwd_stats p; };

#include "bwd_common.glsl"
#include "bwd_sum.glsl"
#include "merge.glsl"

layout(constant_id = SPEC_FUSED) const bool FUSED = false;
layout(constant_id = SPEC_CL_THREADS_X) const uint TX = 32;
const uint TY = WG / TX;

void merge_finish(uint ch, vec4 acc) {
    Coef f = coef_finish(ch, coef_from_params(ch), acc.x + acc.y, acc.z + acc.w);
    if (STORE_CHANNEL) coef_store(ch, f);
}

#include "merge_channels.glsl"

// One compensated sum per thread at a time: the trees for sum g and for
// sum g d run one after the other to stay within 16 KiB of shared memory.
shared VT s_sum[WG];
shared VT s_comp[WG];
shared CoefV s_coef[TX];

// Coefficients of channel item cv (four channels with VEC=4).
CoefV coef_item(uint cv) {
#if VEC == 4
    return coef_lanes(coef_from_params(cv * 4u), coef_from_params(cv * 4u + 1u), coef_from_params(cv * 4u + 2u),
                      coef_from_params(cv * 4u + 3u));
#else
    return coef_splat(coef_from_params(cv));
#endif
}

VT visit(uint o, CoefV k, out VT d) {
    Item it = load_item(o, k);
    VT g = item_grad(it, k);
    store_item(o, it, g, k, FROZEN && WRITE_DX);
    d = it.d;
    return g;
}

// Merges the TY rows of every channel item (lower row first); the result is
// in s_sum[tx], s_comp[tx].
void tree_over_rows(uint tid, uint ty, VT s, VT c) {
    s_sum[tid] = s;
    s_comp[tid] = c;
    barrier();
    for (uint stride = next_pow2(TY) >> 1; stride > 0u; stride >>= 1) {
        if (ty < stride && ty + stride < TY) {
            VT a = s_sum[tid], ac = s_comp[tid];
            csum_merge(a, ac, s_sum[tid + stride * TX], s_comp[tid + stride * TX]);
            s_sum[tid] = a;
            s_comp[tid] = ac;
        }
        barrier();
    }
}

// Lane k (0..VEC-1) of a per-thread vector.
float lane(VT v, uint k) {
#if VEC == 4
    return v[k];
#else
    return v;
#endif
}

void main() {
    if (!FUSED && MERGE == MERGE_PASS) {
        merge_pass_channels();
        return;
    }
    uint tid = gl_LocalInvocationIndex;
    uint tx = tid % TX;
    uint ty = tid / TX;
    uint group = p.r.group_base + gl_WorkGroupID.y;
    uint cv = group * TX + tx;
    bool in_range = cv < p.r.cv_count;
    uint g = gl_WorkGroupID.x;
    uint r0 = g * p.r.slice_items;
    uint r1 = min(r0 + p.r.slice_items, p.r.items);

    VT sg = VT(0.0), cg = VT(0.0), sgd = VT(0.0), cgd = VT(0.0);
    CoefV k;
    if (in_range) {
        k = coef_item(cv);
        uint r = r0 + ty;
        for (; r + 3u * TY < r1; r += 4u * TY) {
            VT da, db, dc, dd;
            VT ga = visit(r * p.r.cv_count + cv, k, da);
            VT gb = visit((r + TY) * p.r.cv_count + cv, k, db);
            VT gc = visit((r + 2u * TY) * p.r.cv_count + cv, k, dc);
            VT gd = visit((r + 3u * TY) * p.r.cv_count + cv, k, dd);
            csum_add(sg, cg, (ga + gb) + (gc + gd));
            csum_add(sgd, cgd, (ga * da + gb * db) + (gc * dc + gd * dd));
        }
        for (; r < r1; r += TY) {
            VT d;
            VT gi = visit(r * p.r.cv_count + cv, k, d);
            csum_add(sg, cg, gi);
            csum_add(sgd, cgd, gi * d);
        }
    }

    tree_over_rows(tid, ty, sg, cg);
    sg = s_sum[tx];
    cg = s_comp[tx];
    barrier();
    tree_over_rows(tid, ty, sgd, cgd);
    sgd = s_sum[tx];
    cgd = s_comp[tx];

    if (!FUSED) {
        if (ty == 0u && in_range) {
            for (uint l = 0u; l < uint(VEC); ++l) {
                partial_store(cv * uint(VEC) + l, g, vec4(lane(sg, l), lane(cg, l), lane(sgd, l), lane(cgd, l)));
            }
        }
        if (MERGE == MERGE_DEFERRED || !merge_elect(group)) return; // uniform
        uint first = group * TX * uint(VEC);
        merge_channels(first, min(first + TX * uint(VEC), p.r.channels));
        merge_done(group);
        return;
    }

    if (ty == 0u && in_range) {
#if VEC == 4
        Coef f[4];
        for (uint l = 0u; l < 4u; ++l) {
            f[l] = coef_finish(cv * 4u + l, coef_from_params(cv * 4u + l), sg[l] + cg[l], sgd[l] + cgd[l]);
        }
        s_coef[tx] = coef_lanes(f[0], f[1], f[2], f[3]);
#else
        s_coef[tx] = coef_splat(coef_finish(cv, coef_from_params(cv), sg + cg, sgd + cgd));
#endif
    }
    if (!(!FROZEN && WRITE_DX)) return;
    barrier();
    if (!in_range) return;
    k = s_coef[tx];
    // Four rows' loads in flight per thread before any store, as the
    // reduction keeps.
    uint r = r0 + ty;
    for (; r + 3u * TY < r1; r += 4u * TY) {
        Item it[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) it[i] = load_item((r + i * TY) * p.r.cv_count + cv, k);
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            TSTORE(dx_data, p.io.t.dx + (r + i * TY) * p.r.cv_count + cv, item_dx(item_grad(it[i], k), it[i].d, k));
        }
    }
    for (; r < r1; r += TY) {
        uint o = r * p.r.cv_count + cv;
        Item it = load_item(o, k);
        TSTORE(dx_data, p.io.t.dx + o, item_dx(item_grad(it, k), it.d, k));
    }
}
