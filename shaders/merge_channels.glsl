// The merge of a channel group's slices with every thread of a workgroup,
// for the channels-last reduction kernels (stats_cl, bwd_stats_cl), whose
// group holds TX * VEC channels (channels-first kernels merge one channel
// per workgroup with workgroup_merge, reduce.glsl).
//
// Each channel gets `lanes` threads (merge_lanes: enough that a lane merges
// at most MERGE_LANE_STEPS slices, at most WG); lane l merges slices l,
// l + lanes, ... in order, then the lanes meet in a fixed shared-memory tree
// (lower lane first). The longest chain of dependent steps is
// MERGE_LANE_STEPS + log2(lanes) per batch of WG / lanes channels; the
// planner (vk_reduce.c) computes the same numbers to choose between the
// last-workgroup merge and a merge dispatch, whose workgroups each take one
// batch. The order depends only on the slice count and WG: both ways give
// the same bits.
//
// The includer includes merge.glsl first and defines
// void merge_finish(uint ch, vec4 merged): what the channel's merged partial
// becomes.

shared vec4 s_merge[WG];

uint merge_lanes() {
    return min(next_pow2((p.r.slices_total + MERGE_LANE_STEPS - 1u) / MERGE_LANE_STEPS), WG);
}

// Merges channels [first, end) in batches of WG / lanes channels. Uniform
// control flow: every thread of the workgroup calls it with the same range.
void merge_channels(uint first, uint end) {
    uint lanes = merge_lanes();
    uint tid = gl_LocalInvocationIndex;
    uint lane = tid % lanes;
    for (uint batch = first; batch < end; batch += WG / lanes) {
        uint ch = batch + tid / lanes;
        bool live = ch < end;
        s_merge[tid] = live ? merge_slices(ch, lane, lanes) : vec4(0.0);
        barrier();
        for (uint stride = lanes >> 1; stride > 0u; stride >>= 1) {
            if (lane < stride) s_merge[tid] = reduce_merge(s_merge[tid], s_merge[tid + stride]);
            barrier();
        }
        if (live && lane == 0u) merge_finish(ch, s_merge[tid]);
        barrier();
    }
}

// MERGE_PASS: workgroup (part, group - group_base) of the merge dispatch
// takes its share of the group's channels (the dispatch has
// gl_NumWorkGroups.x parts per group).
void merge_pass_channels() {
    uint per_group = TX * uint(VEC);
    uint group = p.r.group_base + gl_WorkGroupID.y;
    uint per_part = per_group / gl_NumWorkGroups.x;
    uint first = group * per_group + gl_WorkGroupID.x * per_part;
    merge_channels(first, min(first + per_part, p.r.channels));
}
