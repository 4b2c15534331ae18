// The cross-workgroup merge of a sliced per-channel reduction, written once
// for every reduction kernel (stats_cf, stats_cl, bwd_stats_cf, bwd_stats_cl).
//
// Each workgroup stores its slice's partial result of each of its channels
// (a vec4, packed as reduce.glsl packs it) in the scratch's partials, then
// counts itself in its channel group's counter. The last workgroup of the
// group to finish (the only atomic: an integer that elects the merging
// workgroup, not the order of the merge) merges every slice of a channel in
// slice order with reduce_merge, and resets the counter for the next run.
// Scratch layout: kp_scratch (kernel_params.h).
//
// The includer declares `scratch` (coherent uint words), the push constants
// as `p` with r (kp_slices) and sc (kp_scratch), and defines
// vec4 reduce_merge(vec4 lower, vec4 upper) before including this file.

shared bool s_last;

uint partial_slot(uint ch, uint slot) {
    return p.sc.partials + (ch * p.r.slices_total + slot) * 4u;
}

// Stores channel ch's partial of slice g of this window.
void partial_store(uint ch, uint g, vec4 v) {
    uint o = partial_slot(ch, p.r.slice_base + g);
    scratch[o] = floatBitsToUint(v.x);
    scratch[o + 1u] = floatBitsToUint(v.y);
    scratch[o + 2u] = floatBitsToUint(v.z);
    scratch[o + 3u] = floatBitsToUint(v.w);
}

// Once this workgroup's partials are stored (by any of its threads): whether
// it is the last of channel group `group`'s workgroups to finish; it then
// sees every slice's partial. Uniform over the workgroup: call in uniform
// control flow.
bool merge_elect(uint group) {
    memoryBarrierBuffer();
    barrier();
    if (gl_LocalInvocationIndex == 0u) {
        s_last = atomicAdd(scratch[p.sc.counters + group], 1u) == p.r.slices_total - 1u;
    }
    barrier();
    if (!s_last) return false;
    memoryBarrierBuffer();
    return true;
}

// Channel ch's slices first, first + step, ... merged in slice order.
vec4 merge_slices(uint ch, uint first, uint step) {
    vec4 acc = vec4(0.0);
    for (uint s = first; s < p.r.slices_total; s += step) {
        uint o = partial_slot(ch, s);
        acc = reduce_merge(acc, uintBitsToFloat(uvec4(scratch[o], scratch[o + 1u], scratch[o + 2u], scratch[o + 3u])));
    }
    return acc;
}

// The elected workgroup, done merging: the counter is zero for the next run.
void merge_done(uint group) {
    if (gl_LocalInvocationIndex == 0u) scratch[p.sc.counters + group] = 0u;
}
