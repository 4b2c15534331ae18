#version 450
#extension GL_GOOGLE_include_directive : require
// The elementwise backward pass: dx (and dz = g when no reduction ran) over a
// flat range of items, ITEMS items per thread (elementwise.glsl), indexed as
// apply.comp.
//
// After a reduction: the coefficients come from the scratch's channel block
// (channels-last vector items read four channels of each array as one vec4);
// from host parameters, from the host's arrays bound in its place. Frozen
// statistics: they are computed here from the running statistics, so frozen
// backward without dweight and dbias is this one pass.
//
// G_FROM_DZ (after a reduction that wrote dz = g): g is read back from dz
// instead of being formed again from dy and y (or, for SiLU, from x, z and
// an exponential): x and dz are read rather than x, dy and y (or z). The
// planner sets it only where the stored dz holds g's bits exactly (f32, or
// f16 with an activation whose g is dy or 0), so dx does not change.

#include "common.glsl"

layout(push_constant) uniform PushConstants { kp_bwd_apply p; };

// One item's tensor loads: x, dy (or dz), y or z (VEC=8: raw halves,
// widened when used).
struct Loaded {
    RAW_T x;
    RAW_T dy;
    RAW_T act;
};

// The coefficients (bwd_common.glsl's CoefV).
#define Params CoefV

#include "bwd_common.glsl"
#include "elementwise.glsl"

const bool G_FROM_DZ = (WRITES & BWD_G_FROM_DZ) != 0u;
const bool READS_ACT = !G_FROM_DZ && (ACT_GRAD_FROM_Y || (ACT_SILU_U && HAS_RESIDUAL));

layout(std430, binding = BIND_BWD_DZ) readonly buffer DzIn { STORE_T dz_in[]; };
#if VEC == 8
layout(std430, binding = BIND_BWD_X) readonly buffer XBuf8 { uvec4 x_data8[]; };
layout(std430, binding = BIND_BWD_DY) readonly buffer DyBuf8 { uvec4 dy_data8[]; };
layout(std430, binding = BIND_BWD_ACT) readonly buffer ActBuf8 { uvec4 act_data8[]; };
layout(std430, binding = BIND_BWD_DZ) readonly buffer DzIn8 { uvec4 dz_in8[]; };
#endif
#if VEC != 1
// The channel block, four channels of each array at a time.
layout(std430, binding = BIND_BWD_SCRATCH) readonly buffer Scratch4 { uvec4 scratch4[]; };
#endif

Loaded ew_load(uint i) {
    Loaded l;
    bool reads_act = READS_ACT; // once: glslang places a spec-constant op in the first block that uses it
#if VEC == 8
    l.x = NEEDS_X ? x_data8[p.io.t.x + i] : uvec4(0u);
    l.dy = G_FROM_DZ ? dz_in8[p.io.t.dz + i] : dy_data8[p.io.t.dy + i];
    if (ACT_MASK) { // the item's 8 bits, in .x
        l.act = reads_act ? uvec4(mask_load(p.io.t.act + i * 8u, 8u), 0u, 0u, 0u) : uvec4(0u);
    } else {
        l.act = reads_act ? act_data8[p.io.t.act + i] : uvec4(0u);
    }
#else
    l.x = NEEDS_X ? TLOAD(x_data, p.io.t.x + i) : VT(0.0);
    l.dy = G_FROM_DZ ? TLOAD(dz_in, p.io.t.dz + i) : TLOAD(dy_data, p.io.t.dy + i);
    if (ACT_MASK) {
        l.act = reads_act ? mask_item(i) : VT(0.0);
    } else {
        l.act = reads_act ? TLOAD(act_data, p.io.t.act + i) : VT(0.0);
    }
#endif
    return l;
}

Coef coef(uint c) {
    return FROZEN ? coef_from_params(c) : coef_load(c);
}

Params ew_params(uint c) {
#if VEC != 1
    if (CHANNELS_LAST) {
        if (!FROZEN) {
            uint q = p.sc.c_pad / 4u, b = p.sc.channel / 4u + c;
            return CoefV(uintBitsToFloat(scratch4[b]), uintBitsToFloat(scratch4[b + q]),
                         uintBitsToFloat(scratch4[b + 2u * q]), uintBitsToFloat(scratch4[b + 3u * q]),
                         uintBitsToFloat(scratch4[b + 4u * q]), uintBitsToFloat(scratch4[b + 5u * q]));
        }
        return coef_lanes(coef(c * 4u), coef(c * 4u + 1u), coef(c * 4u + 2u), coef(c * 4u + 3u));
    }
#endif
    return coef_splat(coef(c));
}

void ew_store(uint i, uint h, Loaded l, Params k) {
    Item it;
    it.d = NEEDS_X ? sub_item(l.x, h) - k.mean : VT(0.0);
    it.dy = sub_item(l.dy, h);
#if VEC == 8
    it.act = ACT_MASK ? mask_as_y(l.act.x >> (4u * h)) : sub_item(l.act, h);
#else
    it.act = sub_item(l.act, h);
#endif
    VT g = G_FROM_DZ ? it.dy : item_grad(it, k);
    uint o = i * SUBS + h;
    if (WRITE_DZ) TSTORE(dz_data, p.io.t.dz * SUBS + o, g);
    if (WRITE_DX) TSTORE(dx_data, p.io.t.dx * SUBS + o, item_dx(g, it.d, k));
}
