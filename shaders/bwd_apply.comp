#version 450
#extension GL_GOOGLE_include_directive : require
// The elementwise backward pass: dx (and dz = g when no reduction ran) over a
// flat range of items, ITEMS vector items per thread, indexed as apply.comp.
//
// After a reduction: the coefficients come from the scratch's channel block;
// from host parameters, from the host's arrays bound in its place. Frozen
// statistics: they are computed here from the running statistics, so frozen
// backward without dweight and dbias is this one pass.

#include "common.glsl"

layout(push_constant) uniform PushConstants { kp_bwd_apply p; };

#include "elementwise.glsl"
#include "bwd_common.glsl"

Coef coef(uint c) {
    return FROZEN ? coef_from_params(c) : coef_load(c);
}

void apply_item(uint i) {
    uint c = item_channel(i);
    CoefV k;
#if VEC == 4
    if (CHANNELS_LAST) {
        k = coef_lanes(coef(c * 4u), coef(c * 4u + 1u), coef(c * 4u + 2u), coef(c * 4u + 3u));
    } else {
        k = coef_splat(coef(c));
    }
#else
    k = coef_splat(coef(c));
#endif
    Item it = load_item(i, k);
    store_item(i, it, item_grad(it, k), k, WRITE_DX);
}
