#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-last batch statistics. Threads form a TX x TY grid: consecutive
// threads read consecutive channel items of one row (coalesced), TY rows at a
// time; with VEC=4 each thread carries four channels. Rows of a slice are
// merged across TY through a fixed shared-memory tree. FUSED and split plans
// work as in stats_cf.comp, with one counter per channel group (merge.glsl).

#include "common.glsl"
#include "welford.glsl"

layout(push_constant) uniform PushConstants { kp_stats p; };

#include "finalize.glsl"
#define MASK_WRITER
#include "mask.glsl"
#include "merge.glsl"

layout(constant_id = SPEC_CL_THREADS_X) const uint TX = 32;
const uint TY = WG / TX;

// Pivot of channel ch (scalar index), for the merge of a whole group.
float channel_pivot(uint ch) {
#if VEC == 4
    return TLOAD(pivot_data, p.io.pivot_base + ch / 4u)[ch % 4u];
#else
    return TLOAD(pivot_data, p.io.pivot_base + ch);
#endif
}

void merge_finish(uint ch, vec4 merged) {
    finalize_channel(ch, stat_unpack(merged), channel_pivot(ch));
}

#include "merge_channels.glsl"

layout(std430, binding = BIND_STATS_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_STATS_Y) TENSOR_OUT buffer YBuf { STORE_T y_data[]; };
layout(std430, binding = BIND_STATS_Z) readonly buffer ZBuf { STORE_T z_data[]; };

#if VEC == 4
#define CSTAT Stat4
#define CSTAT_EMPTY STAT4_EMPTY
#define cstat_merge stat4_merge
#define cstat_fold_rows stat4_fold_rows
#define cstat_fold_row stat4_fold_row
#else
#define CSTAT Stat
#define CSTAT_EMPTY STAT_EMPTY
#define cstat_merge stat_merge
#define cstat_fold_rows(s, a, b, c, d) stat_fold4(s, vec4(a, b, c, d))
#define cstat_fold_row stat_fold1
#endif

shared CSTAT s_tree[WG];
shared VT s_pivot[TX];
shared VT s_mean[TX];
shared VT s_scale[TX];
shared VT s_shift[TX];

VT g_pivot;

VT load_x(uint r, uint cv) {
    return TLOAD(x_data, p.io.x_base + r * p.r.cv_count + cv) - g_pivot;
}

// Channel k (0..VEC-1) of a per-thread statistic.
Stat lane_stat(CSTAT s, uint k) {
#if VEC == 4
    return Stat(s.n, s.mean[k], s.m2[k]);
#else
    return s;
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

    CSTAT st = CSTAT_EMPTY;
    g_pivot = in_range ? TLOAD(pivot_data, p.io.pivot_base + cv) : VT(0.0);
    if (in_range) {
        uint r = r0 + ty;
        for (; r + 3u * TY < r1; r += 4u * TY) {
            VT a = load_x(r, cv);
            VT b = load_x(r + TY, cv);
            VT c = load_x(r + 2u * TY, cv);
            VT d = load_x(r + 3u * TY, cv);
            cstat_fold_rows(st, a, b, c, d);
        }
        for (; r < r1; r += TY) cstat_fold_row(st, load_x(r, cv));
    }

    // Merge the TY rows of each channel item: fixed tree, lower row first.
    s_tree[tid] = st;
    barrier();
    for (uint stride = next_pow2(TY) >> 1; stride > 0u; stride >>= 1) {
        if (ty < stride && ty + stride < TY) s_tree[tid] = cstat_merge(s_tree[tid], s_tree[tid + stride * TX]);
        barrier();
    }

    if (!FUSED) {
        if (ty == 0u && in_range) {
            CSTAT s = s_tree[tx];
            for (uint k = 0u; k < uint(VEC); ++k) partial_store(cv * uint(VEC) + k, g, stat_pack(lane_stat(s, k)));
        }
        if (MERGE == MERGE_DEFERRED || !merge_elect(group)) return; // uniform
        uint first = group * TX * uint(VEC);
        merge_channels(first, min(first + TX * uint(VEC), p.r.channels));
        merge_done(group);
        return;
    }

    if (ty == 0u && in_range) {
        CSTAT s = s_tree[tx];
        VT m, sc, sh;
#if VEC == 4
        for (uint k = 0u; k < 4u; ++k) {
            vec4 r = finalize_channel(cv * 4u + k, lane_stat(s, k), g_pivot[k]);
            m[k] = r.y;
            sc[k] = r.z;
            sh[k] = r.w;
        }
#else
        vec4 r = finalize_channel(cv, s, g_pivot);
        m = r.y;
        sc = r.z;
        sh = r.w;
#endif
        s_pivot[tx] = g_pivot;
        s_mean[tx] = m;
        s_scale[tx] = sc;
        s_shift[tx] = sh;
    }
    barrier();
    if (!in_range || EXPORT_STATS) return;
    VT k = s_pivot[tx], m = s_mean[tx], sc = s_scale[tx], sh = s_shift[tx];
    // Four rows' loads in flight per thread before any store, as the
    // reduction keeps.
    uint r = r0 + ty;
    for (; r + 3u * TY < r1; r += 4u * TY) {
        VT x[4], z[4];
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            uint o = (r + i * TY) * p.r.cv_count + cv;
            x[i] = TLOAD(x_data, p.io.x_base + o);
            z[i] = HAS_RESIDUAL ? TLOAD(z_data, p.io.z_base + o) : VT(0.0);
        }
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            uint o = (r + i * TY) * p.r.cv_count + cv;
            STORE_Y(p.io.y_base + o, o, finish_output(((x[i] - k) - m) * sc + sh, z[i], p.io.act));
        }
    }
    for (; r < r1; r += TY) {
        uint o = r * p.r.cv_count + cv;
        VT x = TLOAD(x_data, p.io.x_base + o);
        VT z = HAS_RESIDUAL ? TLOAD(z_data, p.io.z_base + o) : VT(0.0);
        STORE_Y(p.io.y_base + o, o, finish_output(((x - k) - m) * sc + sh, z, p.io.act));
    }
}
