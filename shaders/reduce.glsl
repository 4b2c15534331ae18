// Workgroup-wide merge of per-thread partial results, in a fixed order.
//
// The includer packs its partial results in a vec4 and defines, before
// including this file, vec4 reduce_merge(vec4 lower, vec4 upper): the merge
// of two partials, lower-indexed thread first (stats_cf: Welford triples;
// bwd_stats_cf: compensated sums).
//
// SUBGROUPS=1: a butterfly over each subgroup with subgroupShuffleXor; both
// partners of a step merge lower lane first, so every lane ends with the same
// bits. The per-subgroup results then go through a shared-memory tree.
// SUBGROUPS=0: the shared-memory tree runs over every thread.
// Call in uniform control flow with every invocation of the workgroup.

#if SUBGROUPS
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#endif

shared vec4 s_reduce[WG];

#if SUBGROUPS
vec4 subgroup_merge(vec4 s) {
    for (uint off = 1u; off < gl_SubgroupSize; off <<= 1) {
        vec4 o = subgroupShuffleXor(s, off);
        s = (gl_SubgroupInvocationID & off) == 0u ? reduce_merge(s, o) : reduce_merge(o, s);
    }
    return s;
}
#endif

// Merges the `count` partials in s_reduce[0..count) into s_reduce[0].
void shared_tree_merge(uint count) {
    uint tid = gl_LocalInvocationIndex;
    for (uint stride = next_pow2(count) >> 1; stride > 0u; stride >>= 1) {
        if (tid < stride && tid + stride < count) {
            s_reduce[tid] = reduce_merge(s_reduce[tid], s_reduce[tid + stride]);
        }
        barrier();
    }
}

// Returns the merge of every thread's partial, in every thread.
vec4 workgroup_merge(vec4 s) {
#if SUBGROUPS
    s = subgroup_merge(s);
    if (gl_SubgroupInvocationID == 0u) s_reduce[gl_SubgroupID] = s;
    barrier();
    shared_tree_merge(gl_NumSubgroups);
#else
    s_reduce[gl_LocalInvocationIndex] = s;
    barrier();
    shared_tree_merge(WG);
#endif
    vec4 r = s_reduce[0];
    barrier(); // s_reduce is reused by the caller's next merge
    return r;
}
