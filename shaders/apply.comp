#version 450
#extension GL_GOOGLE_include_directive : require
// The normalize pass: y = act((x - mean) * scale + shift [+ z]), reading x (and
// z) once and writing y once, ITEMS vector items per thread.
//
// After a reduction: pivot | mean - pivot | scale | shift come from the
// scratch's channel block; from host parameters, from the host's arrays bound
// in its place. Inference: they are computed here from the running statistics
// (an affine map per channel), so inference is a single dispatch.

#include "common.glsl"

layout(constant_id = SPEC_INFERENCE) const bool INFERENCE = false;

layout(push_constant) uniform PushConstants { kp_apply p; };

#include "elementwise.glsl"

layout(std430, binding = BIND_STATS_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_STATS_Y) writeonly buffer YBuf { STORE_T y_data[]; };
layout(std430, binding = BIND_STATS_Z) readonly buffer ZBuf { STORE_T z_data[]; };
layout(std430, binding = BIND_STATS_WEIGHT) readonly buffer WeightBuf { float weight[]; };
layout(std430, binding = BIND_STATS_BIAS) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = BIND_STATS_RUNNING_MEAN) readonly buffer RunMeanBuf { float running_mean[]; };
layout(std430, binding = BIND_STATS_RUNNING_VAR) readonly buffer RunVarBuf { float running_var[]; };
layout(std430, binding = BIND_STATS_SCRATCH) readonly buffer ScratchBuf { uint scratch[]; };
#if VEC == 4
// The channel block, four channels at a time (channels-last vec4 items).
layout(std430, binding = BIND_STATS_SCRATCH) readonly buffer ScratchBuf4 { uvec4 scratch4[]; };
#endif

// (pivot, mean - pivot, scale, shift) of one channel: y = ((x - pivot) -
// (mean - pivot)) * scale + shift. Inference has no pivot: (mean, 0, ...).
vec4 channel(uint c) {
    if (INFERENCE) {
        float w = HAS_WEIGHT ? weight[p.io.ch.weight + c] : 1.0;
        float b = HAS_BIAS ? bias[p.io.ch.bias + c] : 0.0;
        float invstd = 1.0 / sqrt(running_var[p.io.ch.running_var + c] + p.io.eps);
        return vec4(running_mean[p.io.ch.running_mean + c], 0.0, w * invstd, b);
    }
    uint o = p.sc.channel + c, n = p.sc.c_pad;
    return uintBitsToFloat(uvec4(scratch[o], scratch[o + n], scratch[o + 2u * n], scratch[o + 3u * n]));
}

void apply_item(uint i) {
    VT pivot, mean, scale, shift;
    uint c = item_channel(i);
    if (CHANNELS_LAST) {
#if VEC == 4
        // From the channel block: channels 4c..4c+3 as one vector each (the
        // arrays are padded to 4 channels and start 4-aligned).
        if (!INFERENCE) {
            uint q = p.sc.c_pad / 4u, b = p.sc.channel / 4u + c;
            pivot = uintBitsToFloat(scratch4[b]);
            mean = uintBitsToFloat(scratch4[b + q]);
            scale = uintBitsToFloat(scratch4[b + 2u * q]);
            shift = uintBitsToFloat(scratch4[b + 3u * q]);
        } else {
            for (uint k = 0u; k < 4u; ++k) {
                vec4 ck = channel(c * 4u + k);
                pivot[k] = ck.x;
                mean[k] = ck.y;
                scale[k] = ck.z;
                shift[k] = ck.w;
            }
        }
#else
        vec4 ck = channel(c);
        pivot = ck.x;
        mean = ck.y;
        scale = ck.z;
        shift = ck.w;
#endif
    } else {
        vec4 ck = channel(c);
        pivot = VT(ck.x);
        mean = VT(ck.y);
        scale = VT(ck.z);
        shift = VT(ck.w);
    }
    VT x = VT(x_data[p.io.x_base + i]) - pivot;
    if (!INFERENCE) x -= mean;
    VT z = HAS_RESIDUAL ? VT(z_data[p.io.z_base + i]) : VT(0.0);
    y_data[p.io.y_base + i] = STORE_T(finish_output(x * scale + shift, z, p.io.act));
}
