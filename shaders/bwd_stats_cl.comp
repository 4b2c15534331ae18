#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-last backward reductions. Threads form the TX x TY grid of
// stats_cl.comp: consecutive threads read consecutive channel items of a row
// (coalesced), TY rows at a time; with VEC=4 each thread carries four
// channels. Rows of a slice merge across TY through a fixed shared-memory
// tree of compensated sums. FUSED and split plans work as in bwd_stats_cf,
// with one counter per channel group.

#include "common.glsl"

layout(push_constant) uniform PushConstants { kp_bwd_stats_cl p; };

#include "bwd_common.glsl"
#include "bwd_sum.glsl"

layout(constant_id = SPEC_FUSED) const bool FUSED = false;
layout(constant_id = SPEC_CL_THREADS_X) const uint TX = 32;
const uint TY = WG / TX;

// One compensated sum per thread at a time: the trees for sum g and for
// sum g d run one after the other to stay within 16 KiB of shared memory.
shared VT s_sum[WG];
shared VT s_comp[WG];
shared bool s_last;
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
    uint tid = gl_LocalInvocationIndex;
    uint tx = tid % TX;
    uint ty = tid / TX;
    uint group = p.cg_base + gl_WorkGroupID.y;
    uint cv = group * TX + tx;
    bool in_range = cv < p.cv_count;
    uint g = gl_WorkGroupID.x;
    uint r0 = g * p.slice_rows;
    uint r1 = min(r0 + p.slice_rows, p.rows);

    VT sg = VT(0.0), cg = VT(0.0), sgd = VT(0.0), cgd = VT(0.0);
    CoefV k;
    if (in_range) {
        k = coef_item(cv);
        uint r = r0 + ty;
        for (; r + 3u * TY < r1; r += 4u * TY) {
            VT da, db, dc, dd;
            VT ga = visit(r * p.cv_count + cv, k, da);
            VT gb = visit((r + TY) * p.cv_count + cv, k, db);
            VT gc = visit((r + 2u * TY) * p.cv_count + cv, k, dc);
            VT gd = visit((r + 3u * TY) * p.cv_count + cv, k, dd);
            csum_add(sg, cg, (ga + gb) + (gc + gd));
            csum_add(sgd, cgd, (ga * da + gb * db) + (gc * dc + gd * dd));
        }
        for (; r < r1; r += TY) {
            VT d;
            VT gi = visit(r * p.cv_count + cv, k, d);
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
                uint slot = p.sc.partials + ((cv * uint(VEC) + l) * p.slices_total + p.slice_base + g) * 4u;
                scratch[slot] = floatBitsToUint(lane(sg, l));
                scratch[slot + 1u] = floatBitsToUint(lane(cg, l));
                scratch[slot + 2u] = floatBitsToUint(lane(sgd, l));
                scratch[slot + 3u] = floatBitsToUint(lane(cgd, l));
            }
        }
        memoryBarrierBuffer();
        barrier();
        if (tid == 0u) s_last = atomicAdd(scratch[p.sc.counters + group], 1u) == p.slices_total - 1u;
        barrier();
        if (!s_last) return; // uniform
        memoryBarrierBuffer();
        // One thread per channel of the group merges its slices in slice order.
        for (uint l = tid; l < TX * uint(VEC); l += WG) {
            uint ch = group * TX * uint(VEC) + l;
            if (ch >= p.channels) break;
            vec4 acc = vec4(0.0);
            for (uint s = 0u; s < p.slices_total; ++s) {
                uint slot = p.sc.partials + (ch * p.slices_total + s) * 4u;
                acc = reduce_merge(acc, uintBitsToFloat(uvec4(scratch[slot], scratch[slot + 1u], scratch[slot + 2u],
                                                              scratch[slot + 3u])));
            }
            Coef f = coef_finish(ch, coef_from_params(ch), acc.x + acc.y, acc.z + acc.w);
            if (!FROZEN) coef_store(ch, f);
        }
        if (tid == 0u) scratch[p.sc.counters + group] = 0u;
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
    for (uint r = r0 + ty; r < r1; r += TY) {
        uint o = r * p.cv_count + cv;
        Item it = load_item(o, k);
        dx_data[p.t.dx + o] = STORE_T(item_dx(item_grad(it, k), it.d, k));
    }
}
