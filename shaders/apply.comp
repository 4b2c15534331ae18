#version 450
#extension GL_GOOGLE_include_directive : require
// The normalize pass: y = act((x - mean) * scale + shift [+ z]), reading x (and
// z) once and writing y once, ITEMS vector items per thread.
//
// Training: mean | scale | shift come from the statistics kernel's scratch.
// Inference: they are computed here from the running statistics (an affine map
// per channel), so inference is a single dispatch.

#include "common.glsl"

layout(constant_id = SPEC_CHANNELS_LAST) const bool CHANNELS_LAST = false;
layout(constant_id = SPEC_INFERENCE) const bool INFERENCE = false;
layout(constant_id = SPEC_ITEMS) const uint ITEMS = 4;

layout(push_constant) uniform PushConstants { kp_apply p; };

layout(std430, binding = BIND_APPLY_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_APPLY_Y) writeonly buffer YBuf { STORE_T y_data[]; };
layout(std430, binding = BIND_APPLY_Z) readonly buffer ZBuf { STORE_T z_data[]; };
layout(std430, binding = BIND_APPLY_WEIGHT) readonly buffer WeightBuf { float weight[]; };
layout(std430, binding = BIND_APPLY_BIAS) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = BIND_APPLY_RUNNING_MEAN) readonly buffer RunMeanBuf { float running_mean[]; };
layout(std430, binding = BIND_APPLY_RUNNING_VAR) readonly buffer RunVarBuf { float running_var[]; };
layout(std430, binding = BIND_APPLY_CHANNEL) readonly buffer ChannelBuf { float channel_params[]; };
#if VEC == 4
// The training parameters, four channels at a time (channels-last vec4 items).
layout(std430, binding = BIND_APPLY_CHANNEL) readonly buffer ChannelBuf4 { vec4 channel_params4[]; };
#endif

// (pivot, mean - pivot, scale, shift) of one channel: y = ((x - pivot) -
// (mean - pivot)) * scale + shift. Inference has no pivot: (mean, 0, ...).
vec4 channel(uint c) {
    if (INFERENCE) {
        float w = HAS_WEIGHT ? weight[p.ch.weight + c] : 1.0;
        float b = HAS_BIAS ? bias[p.ch.bias + c] : 0.0;
        float invstd = 1.0 / sqrt(running_var[p.ch.running_var + c] + p.eps);
        return vec4(running_mean[p.ch.running_mean + c], 0.0, w * invstd, b);
    }
    return vec4(channel_params[c], channel_params[p.c_pad + c], channel_params[2u * p.c_pad + c],
                channel_params[3u * p.c_pad + c]);
}

void apply_item(uint i) {
    VT pivot, mean, scale, shift;
    if (CHANNELS_LAST) {
        uint cv = i - fastdiv(i, p.inner) * p.inner.d;
#if VEC == 4
        // Training: channels 4cv..4cv+3 as one vector each (the scratch is
        // padded to 4 channels).
        if (!INFERENCE) {
            uint q = p.c_pad / 4u;
            pivot = channel_params4[cv];
            mean = channel_params4[q + cv];
            scale = channel_params4[2u * q + cv];
            shift = channel_params4[3u * q + cv];
        } else {
            for (uint k = 0u; k < 4u; ++k) {
                vec4 c = channel(cv * 4u + k);
                pivot[k] = c.x;
                mean[k] = c.y;
                scale[k] = c.z;
                shift[k] = c.w;
            }
        }
#else
        vec4 c = channel(cv);
        pivot = c.x;
        mean = c.y;
        scale = c.z;
        shift = c.w;
#endif
    } else {
        uint row = fastdiv(i, p.inner);
        vec4 c = channel(row - fastdiv(row, p.channels) * p.channels.d);
        pivot = VT(c.x);
        mean = VT(c.y);
        scale = VT(c.z);
        shift = VT(c.w);
    }
    VT x = VT(x_data[p.x_base + i]) - pivot;
    if (!INFERENCE) x -= mean;
    VT z = HAS_RESIDUAL ? VT(z_data[p.z_base + i]) : VT(0.0);
    y_data[p.y_base + i] = STORE_T(finish_output(x * scale + shift, z, p.act));
}

void main() {
    uint group = gl_WorkGroupID.y * p.groups_x + gl_WorkGroupID.x;
    uint first = group * WG * ITEMS + gl_LocalInvocationIndex;
    [[unroll]] for (uint k = 0u; k < ITEMS; ++k) {
        uint i = first + k * WG;
        if (i < p.total_v) apply_item(i);
    }
}
