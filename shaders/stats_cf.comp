#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-first batch statistics, one workgroup per (slice, channel).
//
// FUSED: the workgroup owns the whole channel: it reduces, finalizes, then
// normalizes the channel (the second read of x is hot in cache). One dispatch.
// Otherwise: each workgroup publishes its slice's (count, mean, M2); the last
// workgroup of the channel to finish (a counter per channel) merges every slice
// in slice order, finalizes, and resets the counter. A separate apply dispatch
// normalizes.

#include "common.glsl"
#include "welford.glsl"

// reduce.glsl merges vec4-packed triples.
vec4 reduce_merge(vec4 lower, vec4 upper) {
    return stat_pack(stat_merge(stat_unpack(lower), stat_unpack(upper)));
}
#include "reduce.glsl"

Stat workgroup_merge_stat(Stat s) {
    return stat_unpack(workgroup_merge(stat_pack(s)));
}

layout(push_constant) uniform PushConstants { kp_stats_cf p; };

#include "finalize.glsl"

layout(std430, binding = BIND_STATS_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_STATS_Y) writeonly buffer YBuf { STORE_T y_data[]; };
layout(std430, binding = BIND_STATS_Z) readonly buffer ZBuf { STORE_T z_data[]; };
layout(std430, binding = BIND_STATS_PARTIALS) coherent buffer PartialBuf { float partials[]; };
layout(std430, binding = BIND_STATS_COUNTERS) coherent buffer CounterBuf { uint counters[]; };

shared bool s_last;
shared vec4 s_params;

// Offset (in items) of item j of channel c within the window.
uint item_offset(uint j, uint c) {
    uint n = fastdiv(j, p.sv);
    return (n * p.channels + c) * p.sv.d + (j - n * p.sv.d);
}

// The channel's first element, the same for every slice and window.
float channel_pivot(uint c) {
#if VEC == 4
    return float(pivot_data[p.pivot_base + c * p.sv.d].x);
#else
    return float(pivot_data[p.pivot_base + c * p.sv.d]);
#endif
}

float g_pivot;

VT load_x(uint j, uint c) {
    return VT(x_data[p.x_base + item_offset(j, c)]) - g_pivot;
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

void normalize_channel(uint c, vec4 prm) {
    for (uint j = gl_LocalInvocationIndex; j < p.m_v; j += WG) {
        uint o = item_offset(j, c);
        VT x = VT(x_data[p.x_base + o]);
        VT z = HAS_RESIDUAL ? VT(z_data[p.z_base + o]) : VT(0.0);
        y_data[p.y_base + o] = STORE_T(finish_output(((x - prm.x) - prm.y) * prm.z + prm.w, z, p.act));
    }
}

void main() {
    uint tid = gl_LocalInvocationIndex;
    uint c = p.c_base + gl_WorkGroupID.y;
    uint g = gl_WorkGroupID.x;
    uint j0 = g * p.slice_len;
    uint j1 = min(j0 + p.slice_len, p.m_v);
    g_pivot = channel_pivot(c);

    Stat st = workgroup_merge_stat(reduce_range(c, j0, j1));

    if (!FUSED) {
        if (tid == 0u) {
            uint slot = (c * p.slices_total + p.slice_base + g) * 3u;
            partials[slot] = st.n;
            partials[slot + 1u] = st.mean;
            partials[slot + 2u] = st.m2;
            memoryBarrierBuffer();
            s_last = atomicAdd(counters[c], 1u) == p.slices_total - 1u;
        }
        barrier();
        if (!s_last) return; // uniform: every thread reads the same shared flag
        memoryBarrierBuffer();
        Stat acc = STAT_EMPTY;
        for (uint k = tid; k < p.slices_total; k += WG) {
            uint slot = (c * p.slices_total + k) * 3u;
            acc = stat_merge(acc, Stat(partials[slot], partials[slot + 1u], partials[slot + 2u]));
        }
        st = workgroup_merge_stat(acc);
        if (tid == 0u) counters[c] = 0u; // ready for the next run of the plan
    }

    if (tid == 0u) s_params = finalize_channel(c, st, g_pivot);
    if (!FUSED || EXPORT_STATS) return;
    barrier();
    normalize_channel(c, s_params);
}
