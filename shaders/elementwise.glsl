// The loop of the elementwise kernels (apply, bwd_apply): ITEMS vector items
// per thread over a flat range of a window, and the channel of an item.
// Expects the push constants as `p` with e (kp_elementwise); the includer
// defines apply_item.

layout(constant_id = SPEC_CHANNELS_LAST) const bool CHANNELS_LAST = false;
layout(constant_id = SPEC_ITEMS) const uint ITEMS = 4;

void apply_item(uint i);

// Channels-last: the channel item of item i (four channels with VEC=4);
// channels-first: its channel.
uint item_channel(uint i) {
    if (CHANNELS_LAST) return i - fastdiv(i, p.e.inner) * p.e.inner.d;
    uint row = fastdiv(i, p.e.inner);
    return row - fastdiv(row, p.e.channels) * p.e.channels.d;
}

void main() {
    uint group = gl_WorkGroupID.y * p.e.groups_x + gl_WorkGroupID.x;
    uint first = group * WG * ITEMS + gl_LocalInvocationIndex;
    [[unroll]] for (uint k = 0u; k < ITEMS; ++k) {
        uint i = first + k * WG;
        if (i < p.e.total_v) apply_item(i);
    }
}
