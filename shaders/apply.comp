#version 450
#extension GL_GOOGLE_include_directive : require
// The normalize pass: y = act(((x - pivot) - (mean - pivot)) * scale + shift
// [+ z]), reading x (and z) once and writing y once, ITEMS items per thread
// (elementwise.glsl).
//
// pivot | mean - pivot | scale | shift per channel come from the channel
// block at the scratch binding: a reduction's (training), apply_params.comp's
// (channels-last inference), or the host's arrays (synchronized step).
// Channels-last vector items read four channels of each array as one vec4.
// INFERENCE: they are computed per item from the running statistics
// (inference.glsl: pivot = running_mean, mean - pivot = 0). Channels-first,
// the lanes of a warp mostly share a channel, so the loads are broadcasts,
// and a separate dispatch would cost small layers more than the square
// root; channels-last, only where the tensor is too small for
// apply_params.comp's channel block to pay for itself (vk_family.c,
// vkbn__vk_inference_block).

#include "common.glsl"

layout(constant_id = SPEC_INFERENCE) const bool INFERENCE = false;

layout(push_constant) uniform PushConstants { kp_apply p; };

// One item's tensor loads (VEC=8: raw halves, widened when used).
struct Loaded {
    RAW_T x;
    RAW_T z;
};

struct Params {
    VT pivot;
    VT mean; // mean - pivot
    VT scale;
    VT shift;
};

#include "elementwise.glsl"
#include "inference.glsl"

layout(std430, binding = BIND_STATS_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_STATS_Y) TENSOR_OUT buffer YBuf { STORE_T y_data[]; };
layout(std430, binding = BIND_STATS_Z) readonly buffer ZBuf { STORE_T z_data[]; };
#if VEC == 8
layout(std430, binding = BIND_STATS_X) readonly buffer XBuf8 { uvec4 x_data8[]; };
layout(std430, binding = BIND_STATS_Z) readonly buffer ZBuf8 { uvec4 z_data8[]; };
#endif
layout(std430, binding = BIND_STATS_SCRATCH) readonly buffer ScratchBuf { uint scratch[]; };
#define MASK_WRITER
#include "mask.glsl"
#if VEC != 1
// The channel block, four channels at a time (channels-last vector items;
// the arrays are padded to 4 channels and start 4-aligned).
layout(std430, binding = BIND_STATS_SCRATCH) readonly buffer ScratchBuf4 { uvec4 scratch4[]; };
#endif

Loaded ew_load(uint i) {
    Loaded l;
#if VEC == 8
    l.x = x_data8[p.io.x_base + i];
    l.z = HAS_RESIDUAL ? z_data8[p.io.z_base + i] : uvec4(0u);
#else
    l.x = TLOAD(x_data, p.io.x_base + i);
    l.z = HAS_RESIDUAL ? TLOAD(z_data, p.io.z_base + i) : VT(0.0);
#endif
    return l;
}

Params ew_params(uint c) {
    if (INFERENCE) {
#if VEC != 1
        if (CHANNELS_LAST) { // the four channels of sub-item c
            vec4 a = running_params(4u * c), b = running_params(4u * c + 1u);
            vec4 d = running_params(4u * c + 2u), e = running_params(4u * c + 3u);
            return Params(vec4(a.x, b.x, d.x, e.x), vec4(a.y, b.y, d.y, e.y), vec4(a.z, b.z, d.z, e.z),
                          vec4(a.w, b.w, d.w, e.w));
        }
#endif
        vec4 k = running_params(c);
        return Params(VT(k.x), VT(k.y), VT(k.z), VT(k.w));
    }
#if VEC != 1
    if (CHANNELS_LAST) {
        uint q = p.sc.c_pad / 4u, b = p.sc.channel / 4u + c;
        return Params(uintBitsToFloat(scratch4[b]), uintBitsToFloat(scratch4[b + q]),
                      uintBitsToFloat(scratch4[b + 2u * q]), uintBitsToFloat(scratch4[b + 3u * q]));
    }
#endif
    uint o = p.sc.channel + c, n = p.sc.c_pad;
    return Params(VT(uintBitsToFloat(scratch[o])), VT(uintBitsToFloat(scratch[o + n])),
                  VT(uintBitsToFloat(scratch[o + 2u * n])), VT(uintBitsToFloat(scratch[o + 3u * n])));
}

void ew_store(uint i, uint h, Loaded l, Params q) {
    VT x = sub_item(l.x, h) - q.pivot;
    if (!INFERENCE) x -= q.mean; // 0 there
    VT y = finish_output(x * q.scale + q.shift, sub_item(l.z, h), p.io.act);
    STORE_Y((p.io.y_base + i) * SUBS + h, i * SUBS + h, y);
}
