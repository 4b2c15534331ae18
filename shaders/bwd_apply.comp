#version 450
#extension GL_GOOGLE_include_directive : require
// The elementwise backward pass: dx (and dz = g when no reduction ran) over a
// flat range of items, ITEMS vector items per thread, indexed as apply.comp.
//
// Training: the coefficients come from the scratch the reduction's last
// workgroup wrote. Frozen statistics: they are computed here from the running
// statistics, so frozen backward without dweight and dbias is this one pass.

#include "common.glsl"

layout(constant_id = SPEC_CHANNELS_LAST) const bool CHANNELS_LAST = false;
layout(constant_id = SPEC_ITEMS) const uint ITEMS = 4;

layout(push_constant) uniform PushConstants { kp_bwd_apply p; };

#include "bwd_common.glsl"

Coef coef(uint c) {
    return FROZEN ? coef_from_params(c) : coef_load(c);
}

void apply_item(uint i) {
    CoefV k;
    if (CHANNELS_LAST) {
        uint cv = i - fastdiv(i, p.inner) * p.inner.d;
#if VEC == 4
        k = coef_lanes(coef(cv * 4u), coef(cv * 4u + 1u), coef(cv * 4u + 2u), coef(cv * 4u + 3u));
#else
        k = coef_splat(coef(cv));
#endif
    } else {
        uint row = fastdiv(i, p.inner);
        k = coef_splat(coef(row - fastdiv(row, p.channels) * p.channels.d));
    }
    Item it = load_item(i, k);
    store_item(i, it, item_grad(it, k), k, WRITE_DX);
}

void main() {
    uint group = gl_WorkGroupID.y * p.groups_x + gl_WorkGroupID.x;
    uint first = group * WG * ITEMS + gl_LocalInvocationIndex;
    [[unroll]] for (uint k = 0u; k < ITEMS; ++k) {
        uint i = first + k * WG;
        if (i < p.total_v) apply_item(i);
    }
}
