// The loop of the elementwise kernels (apply, bwd_apply): ITEMS items per
// thread over a flat range of a window, and the channel of an item.
// Expects the push constants as `p` with e (kp_elementwise). The includer
// declares `struct Loaded` (one item's tensor loads) and `struct Params`
// (the channel parameters of one sub-item) before including this file, and
// defines ew_load, ew_params and ew_store below.
//
// Each thread first issues the loads of all its ITEMS items, then computes
// and stores them: ITEMS loads per tensor in flight per thread, as in the
// reductions, where load, compute, store item by item would keep one (the
// stores of an item may alias the next item's loads as far as the compiler
// knows, so it cannot hoist them itself).
//
// Channel parameters are loaded once per thread when all its items share
// them (THREAD_CHANNEL, chosen by the planner for channels-last rows that
// divide WG or that WG divides), else once per item (channels-first: the
// lanes of a warp mostly share a channel, so those loads are broadcasts). A
// specialization constant rather than a test in the kernel: a branch per
// item costs more than the loads it saves where both sides of it run
// (lavapipe executes both sides of a branch, masked).
//
// With VEC=8 (f16, bf16) an item is 16 bytes, 8 elements, loaded through uvec4 views
// and computed as SUBS = 2 vec4 sub-items; sub-item j = SUBS * i + h is vec4
// item j of the tensor, and channels are indexed in sub-items (kp_elementwise
// counts inner and channels in vec4 items; total_v and the tensor bases are
// in 8-element items).

layout(constant_id = SPEC_CHANNELS_LAST) const bool CHANNELS_LAST = false;
layout(constant_id = SPEC_ITEMS) const uint ITEMS = 4;
layout(constant_id = SPEC_THREAD_CHANNEL) const uint THREAD_CHANNEL = 0u;
// A thread's items share channels: they lie WG items apart and WG is a
// multiple of a row (channels-last, BY_WG), or they lie a row apart (BY_ROW:
// channels-last rows of a multiple of WG items; workgroups then cover WG
// channel items of ITEMS rows, and e.channels holds the row's WG blocks).
const uint THREAD_CHANNEL_BY_WG = 1u;
const uint THREAD_CHANNEL_BY_ROW = 2u;

Loaded ew_load(uint i);
// Parameters of channel (channels-last vector items: channel item) c.
Params ew_params(uint c);
// Computes and stores sub-item h of item i.
void ew_store(uint i, uint h, Loaded l, Params q);

// Channels-last: the channel item of sub-item j (four channels with VEC=4
// or 8); channels-first: its channel.
uint item_channel(uint j) {
    if (CHANNELS_LAST) return j - fastdiv(j, p.e.inner) * p.e.inner.d;
    uint row = fastdiv(j, p.e.inner);
    return row - fastdiv(row, p.e.channels) * p.e.channels.d;
}

#if VEC == 8
// Sub-item h of an item as loaded (RAW_T: 8 16-bit elements), widened exactly.
VT sub_item(uvec4 q, uint h) {
#if VKBN_DTYPE == 1
    return h == 0u ? vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y)) : vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
#else
    return bf16_from_words(h == 0u ? q.xy : q.zw);
#endif
}
#else
VT sub_item(VT v, uint h) {
    return v;
}
#endif

void main() {
    uint group = gl_WorkGroupID.y * p.e.groups_x + gl_WorkGroupID.x;
    uint first = group * WG * ITEMS + gl_LocalInvocationIndex, stride = WG;
    if (THREAD_CHANNEL == THREAD_CHANNEL_BY_ROW) {
        uint row_group = fastdiv(group, p.e.channels), row = p.e.inner.d / SUBS;
        first = (row_group * ITEMS * row) + (group - row_group * p.e.channels.d) * WG + gl_LocalInvocationIndex;
        stride = row;
    }
    Loaded l[ITEMS];
    [[unroll]] for (uint k = 0u; k < ITEMS; ++k) {
        uint i = first + k * stride;
        if (i < p.e.total_v) l[k] = ew_load(i);
    }
    Params q[SUBS];
    if (THREAD_CHANNEL != 0u) {
        [[unroll]] for (uint h = 0u; h < SUBS; ++h) q[h] = ew_params(item_channel(first * SUBS + h));
    }
    [[unroll]] for (uint k = 0u; k < ITEMS; ++k) {
        uint i = first + k * stride;
        if (i < p.e.total_v) {
            [[unroll]] for (uint h = 0u; h < SUBS; ++h) {
                ew_store(i, h, l[k], THREAD_CHANNEL != 0u ? q[h] : ew_params(item_channel(i * SUBS + h)));
            }
        }
    }
}
