#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-first backward reductions, one workgroup per (slice, channel):
// sum g and sum g * (x - mean) in one pass over x, dy (and y or z), writing
// dz = g on the way, and with frozen statistics dx = k1 g as well.
//
// FUSED (training): the workgroup owns the whole channel: it reduces,
// finishes the coefficients, then writes dx in a second pass over the channel
// (hot in cache). One dispatch.
// Otherwise: each workgroup publishes its slice's compensated sums and the
// last of the channel merges them (merge.glsl), writes dweight and dbias, and
// leaves the coefficients for bwd_apply (STORE_CHANNEL).

#include "common.glsl"

layout(push_constant) uniform PushConstants { kp_bwd_stats p; };

#include "bwd_common.glsl"
#include "bwd_sum.glsl"
#include "reduce.glsl"
#include "merge.glsl"

layout(constant_id = SPEC_FUSED) const bool FUSED = false;

shared Coef s_coef;

// Offset (in items) of item j of channel c within the window.
uint item_offset(uint j, uint c) {
    uint n = fastdiv(j, p.r.sv);
    return (n * p.r.channels + c) * p.r.sv.d + (j - n * p.r.sv.d);
}

// One item's g, after writing what this pass writes for it.
VT visit(uint o, CoefV k, out VT d) {
    Item it = load_item(o, k);
    VT g = item_grad(it, k);
    store_item(o, it, g, k, FROZEN && WRITE_DX);
    d = it.d;
    return g;
}

// This thread's compensated (sum g, sum g d) over items [j0, j1) of channel c.
vec4 reduce_range(uint c, uint j0, uint j1, CoefV k) {
    vec4 acc = vec4(0.0);
    uint j = j0 + gl_LocalInvocationIndex;
    // Four independent items per iteration, added pairwise as one chunk.
    for (; j + 3u * WG < j1; j += 4u * WG) {
        VT da, db, dc, dd;
        VT ga = visit(item_offset(j, c), k, da);
        VT gb = visit(item_offset(j + WG, c), k, db);
        VT gc = visit(item_offset(j + 2u * WG, c), k, dc);
        VT gd = visit(item_offset(j + 3u * WG, c), k, dd);
        csum_add(acc.x, acc.y, item_sum((ga + gb) + (gc + gd)));
        csum_add(acc.z, acc.w, item_sum((ga * da + gb * db) + (gc * dc + gd * dd)));
    }
    for (; j < j1; j += WG) {
        VT d;
        VT g = visit(item_offset(j, c), k, d);
        csum_add(acc.x, acc.y, item_sum(g));
        csum_add(acc.z, acc.w, item_sum(g * d));
    }
    return acc;
}

// The fused second pass: four items' loads in flight per thread before any
// store, as the reduction keeps.
void dx_channel(uint c, CoefV k) {
    uint j = gl_LocalInvocationIndex;
    for (; j + 3u * WG < p.r.items; j += 4u * WG) {
        uint o[4] = uint[4](item_offset(j, c), item_offset(j + WG, c), item_offset(j + 2u * WG, c),
                            item_offset(j + 3u * WG, c));
        Item it[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) it[i] = load_item(o[i], k);
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            TSTORE(dx_data, p.io.t.dx + o[i], item_dx(item_grad(it[i], k), it[i].d, k));
        }
    }
    for (; j < p.r.items; j += WG) {
        uint o = item_offset(j, c);
        Item it = load_item(o, k);
        TSTORE(dx_data, p.io.t.dx + o, item_dx(item_grad(it, k), it.d, k));
    }
}

void main() {
    uint tid = gl_LocalInvocationIndex;
    uint c = p.r.group_base + gl_WorkGroupID.y;
    uint g = gl_WorkGroupID.x;
    uint j0 = g * p.r.slice_items;
    uint j1 = min(j0 + p.r.slice_items, p.r.items);
    Coef k = coef_from_params(c);

    vec4 sums;
    if (!FUSED && MERGE == MERGE_PASS) {
        // The merge dispatch: this channel's partials, every thread.
        sums = workgroup_merge(merge_slices(c, tid, WG));
    } else {
        sums = workgroup_merge(reduce_range(c, j0, j1, coef_splat(k)));
        if (!FUSED) {
            if (tid == 0u) partial_store(c, g, sums);
            if (MERGE == MERGE_DEFERRED || !merge_elect(c)) return; // uniform
            sums = workgroup_merge(merge_slices(c, tid, WG));
            merge_done(c);
        }
    }

    if (tid == 0u) {
        Coef f = coef_finish(c, k, sums.x + sums.y, sums.z + sums.w);
        if (STORE_CHANNEL) coef_store(c, f);
        s_coef = f;
    }
    if (!(FUSED && !FROZEN && WRITE_DX)) return;
    barrier();
    dx_channel(c, coef_splat(s_coef));
}
