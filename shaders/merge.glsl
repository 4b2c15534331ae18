// The cross-workgroup merge of a sliced per-channel reduction, written once
// for every reduction kernel (stats_cf, stats_cl, bwd_stats_cf, bwd_stats_cl).
//
// Each workgroup stores its slice's partial result of each of its channels
// (a vec4, packed as reduce.glsl packs it) in the scratch's partials. Then,
// by SPEC_MERGE (kernel_params.h):
// - MERGE_LAST_WORKGROUP: the workgroup counts itself in its channel group's
//   counter; the last one to finish merges every slice and resets the
//   counter for the next run. The partials are `coherent` and the counter is
//   an acquire/release atomic at device scope (GL_KHR_memory_scope_semantics)
//   with workgroup barriers that carry the ordering to and from thread 0, so
//   the elected workgroup's threads see every other workgroup's partials as
//   the Vulkan memory model defines it; planned only on devices that
//   implement that model (vulkanMemoryModel and its device scope) and have
//   no quirk against it (vk_tuning.c). The module itself keeps the GLSL450
//   memory model: compiled with #pragma use_vulkan_memory_model, every
//   sliced reduction computed wrong results on lavapipe (Mesa 22.3), even
//   with the protocol unchanged. The integer count elects the merging
//   workgroup; it never orders the merge.
// - MERGE_DEFERRED: the workgroup only stores its partials; a second
//   dispatch of the same kernel (MERGE_PASS), behind a pipeline barrier,
//   merges them. No cross-workgroup communication inside a dispatch, so it
//   holds on any device (MoltenVK, devices without vulkanMemoryModel).
// The merge order is fixed by the slice numbers alone, so both ways give
// the same bits. Scratch layout: kp_scratch (kernel_params.h).
//
// The includer declares `scratch` (SCRATCH_COHERENCE uint words), the push
// constants as `p` with r (kp_slices) and sc (kp_scratch), and defines
// vec4 reduce_merge(vec4 lower, vec4 upper) before including this file.

layout(constant_id = SPEC_MERGE) const uint MERGE = MERGE_LAST_WORKGROUP;

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

// MERGE_LAST_WORKGROUP, once this workgroup's partials are stored (by any of
// its threads): whether it is the last of channel group `group`'s
// workgroups to finish; it then sees every slice's partial. Uniform over the
// workgroup: call in uniform control flow.
bool merge_elect(uint group) {
#if MEMORY_MODEL
    // Release: every thread's partial stores happen before thread 0's
    // increment (the barrier orders them at device scope).
    controlBarrier(gl_ScopeWorkgroup, gl_ScopeDevice, gl_StorageSemanticsBuffer | gl_StorageSemanticsShared,
                   gl_SemanticsAcquireRelease);
    if (gl_LocalInvocationIndex == 0u) {
        // Acquire and release at device scope: the last increment reads
        // every earlier one, so it synchronizes with every other workgroup's
        // release of its partials.
        uint before = atomicAdd(scratch[p.sc.counters + group], 1u, gl_ScopeDevice, gl_StorageSemanticsBuffer,
                                gl_SemanticsAcquireRelease);
        s_last = before == p.r.slices_total - 1u;
    }
    // Acquire for the other threads: thread 0's acquire happens before their
    // reads of the partials.
    controlBarrier(gl_ScopeWorkgroup, gl_ScopeDevice, gl_StorageSemanticsBuffer | gl_StorageSemanticsShared,
                   gl_SemanticsAcquireRelease);
    return s_last;
#else
    // Never planned without the memory model (vk_reduce.c): no workgroup
    // could see another's partials.
    return false;
#endif
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

// The elected workgroup, done merging: the counter is zero for the next run
// (the next run starts after a pipeline barrier or a submission).
void merge_done(uint group) {
    if (gl_LocalInvocationIndex == 0u) scratch[p.sc.counters + group] = 0u;
}
