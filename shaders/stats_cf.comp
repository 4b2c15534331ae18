#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-first batch statistics, one workgroup per (slice, channel).
//
// FUSED: the workgroup owns the whole channel: it reduces, finalizes, then
// normalizes the channel (the second read of x is hot in cache). One dispatch.
// Otherwise: each workgroup publishes its slice's (count, mean, M2) and the
// last of the channel merges them (merge.glsl), finalizes, and leaves the
// channel block for a separate apply dispatch.

#include "common.glsl"
#include "welford.glsl"
#include "reduce.glsl"

Stat workgroup_merge_stat(vec4 s) {
    return stat_unpack(workgroup_merge(s));
}

layout(push_constant) uniform PushConstants { kp_stats p; };

#include "finalize.glsl"
#define MASK_WRITER
#include "mask.glsl"
#include "merge.glsl"

layout(std430, binding = BIND_STATS_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_STATS_Y) TENSOR_OUT buffer YBuf { STORE_T y_data[]; };
layout(std430, binding = BIND_STATS_Z) readonly buffer ZBuf { STORE_T z_data[]; };

shared vec4 s_params;

// Offset (in items) of item j of channel c within the window.
uint item_offset(uint j, uint c) {
    uint n = fastdiv(j, p.r.sv);
    return (n * p.r.channels + c) * p.r.sv.d + (j - n * p.r.sv.d);
}

// The channel's first element, the same for every slice and window.
float channel_pivot(uint c) {
#if VEC == 4
    return TLOAD(pivot_data, p.io.pivot_base + c * p.r.sv.d).x;
#else
    return TLOAD(pivot_data, p.io.pivot_base + c * p.r.sv.d);
#endif
}

float g_pivot;

VT load_x(uint j, uint c) {
    return TLOAD(x_data, p.io.x_base + item_offset(j, c)) - g_pivot;
}

Stat reduce_range(uint c, uint j0, uint j1) {
    Stat st = STAT_EMPTY;
    uint j = j0 + gl_LocalInvocationIndex;
    // Four independent loads in flight per iteration, folded as one chunk.
    for (; j + 3u * WG < j1; j += 4u * WG) {
        VT a = load_x(j, c);
        VT b = load_x(j + WG, c);
        VT d = load_x(j + 2u * WG, c);
        VT e = load_x(j + 3u * WG, c);
#if VEC == 4
        stat_fold16(st, a, b, d, e);
#else
        stat_fold4(st, vec4(a, b, d, e));
#endif
    }
    for (; j < j1; j += WG) {
#if VEC == 4
        stat_fold4(st, load_x(j, c));
#else
        stat_fold1(st, load_x(j, c));
#endif
    }
    return st;
}

VT normalize_item(VT x, VT z, vec4 prm) {
    return finish_output(((x - prm.x) - prm.y) * prm.z + prm.w, z, p.io.act);
}

// The fused second pass: four items' loads in flight per thread before any
// store, as the reduction keeps (the channel is still in cache, so latency,
// not bandwidth, bounds it).
void normalize_channel(uint c, vec4 prm) {
    uint j = gl_LocalInvocationIndex;
    for (; j + 3u * WG < p.r.items; j += 4u * WG) {
        uint o[4] = uint[4](item_offset(j, c), item_offset(j + WG, c), item_offset(j + 2u * WG, c),
                            item_offset(j + 3u * WG, c));
        VT x[4], z[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            x[i] = TLOAD(x_data, p.io.x_base + o[i]);
            z[i] = HAS_RESIDUAL ? TLOAD(z_data, p.io.z_base + o[i]) : VT(0.0);
        }
        [[unroll]] for (uint i = 0u; i < 4u; ++i) STORE_Y(p.io.y_base + o[i], o[i], normalize_item(x[i], z[i], prm));
    }
    for (; j < p.r.items; j += WG) {
        uint o = item_offset(j, c);
        VT x = TLOAD(x_data, p.io.x_base + o);
        VT z = HAS_RESIDUAL ? TLOAD(z_data, p.io.z_base + o) : VT(0.0);
        STORE_Y(p.io.y_base + o, o, normalize_item(x, z, prm));
    }
}

void main() {
    uint tid = gl_LocalInvocationIndex;
    uint c = p.r.group_base + gl_WorkGroupID.y;
    uint g = gl_WorkGroupID.x;
    uint j0 = g * p.r.slice_items;
    uint j1 = min(j0 + p.r.slice_items, p.r.items);
    g_pivot = channel_pivot(c);

    Stat st;
    if (!FUSED && MERGE == MERGE_PASS) {
        // The merge dispatch: this channel's partials, every thread.
        st = workgroup_merge_stat(merge_slices(c, tid, WG));
    } else {
        st = workgroup_merge_stat(stat_pack(reduce_range(c, j0, j1)));
        if (!FUSED) {
            if (tid == 0u) partial_store(c, g, stat_pack(st));
            if (MERGE == MERGE_DEFERRED || !merge_elect(c)) return; // uniform
            st = workgroup_merge_stat(merge_slices(c, tid, WG));
            merge_done(c);
        }
    }

    if (tid == 0u) s_params = finalize_channel(c, st, g_pivot);
    if (!FUSED || EXPORT_STATS) return;
    barrier();
    normalize_channel(c, s_params);
}
