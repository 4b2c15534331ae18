#version 450
#extension GL_GOOGLE_include_directive : require
// A plain copy: the benchmark's measure of each device's bandwidth (bytes read
// plus bytes written per second), with the same vector width and items per
// thread as the normalize pass. VEC=4 copies 16-byte items and finishes a
// ragged tail word by word.

#extension GL_EXT_control_flow_attributes : enable
#include "kernel_params.h"

layout(local_size_x_id = SPEC_WG_SIZE) in;
layout(constant_id = SPEC_WG_SIZE) const uint WG = 256;
layout(constant_id = SPEC_ITEMS) const uint ITEMS = 4;

layout(push_constant) uniform PushConstants { kp_copy p; };

layout(std430, binding = BIND_COPY_SRC) readonly buffer SrcWords { uint src_words[]; };
layout(std430, binding = BIND_COPY_DST) writeonly buffer DstWords { uint dst_words[]; };
#if VEC == 4
layout(std430, binding = BIND_COPY_SRC) readonly buffer SrcVecs { uvec4 src_vecs[]; };
layout(std430, binding = BIND_COPY_DST) writeonly buffer DstVecs { uvec4 dst_vecs[]; };
#endif

void main() {
    uint group = gl_WorkGroupID.y * p.groups_x + gl_WorkGroupID.x;
    uint first = group * WG * ITEMS + gl_LocalInvocationIndex;
    [[unroll]] for (uint k = 0u; k < ITEMS; ++k) {
        uint i = first + k * WG;
#if VEC == 4
        if (4u * i + 3u < p.words) {
            dst_vecs[p.dst_base / 4u + i] = src_vecs[p.src_base / 4u + i];
        } else {
            for (uint w = 4u * i; w < p.words; ++w) dst_words[p.dst_base + w] = src_words[p.src_base + w];
        }
#else
        if (i < p.words) dst_words[p.dst_base + i] = src_words[p.src_base + i];
#endif
    }
}
