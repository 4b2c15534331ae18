// Workgroup-wide merge of (count, mean, M2) triples, in a fixed order.
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

shared Stat s_reduce[WG];

uint next_pow2(uint v) {
    return v <= 1u ? 1u : (1u << uint(findMSB(v - 1u) + 1));
}

#if SUBGROUPS
Stat subgroup_merge(Stat s) {
    for (uint off = 1u; off < gl_SubgroupSize; off <<= 1) {
        Stat o = Stat(subgroupShuffleXor(s.n, off), subgroupShuffleXor(s.mean, off),
                      subgroupShuffleXor(s.m2, off));
        s = (gl_SubgroupInvocationID & off) == 0u ? stat_merge(s, o) : stat_merge(o, s);
    }
    return s;
}
#endif

// Merges the `count` triples in s_reduce[0..count) into s_reduce[0].
void shared_tree_merge(uint count) {
    uint tid = gl_LocalInvocationIndex;
    for (uint stride = next_pow2(count) >> 1; stride > 0u; stride >>= 1) {
        if (tid < stride && tid + stride < count) {
            s_reduce[tid] = stat_merge(s_reduce[tid], s_reduce[tid + stride]);
        }
        barrier();
    }
}

// Returns the merge of every thread's triple, in every thread.
Stat workgroup_merge(Stat s) {
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
    Stat r = s_reduce[0];
    barrier(); // s_reduce is reused by the caller's next merge
    return r;
}
