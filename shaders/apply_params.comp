#version 450
#extension GL_GOOGLE_include_directive : require
// Channels-last inference's channel block, once per channel before apply:
// pivot | mean - pivot | scale | shift from the running statistics
// (inference.glsl) into the arrays of kp_scratch. One thread per channel;
// p.e.total_v is C. So the apply pass loads a vec4 of each array for four
// channels instead of sixteen floats, a square root and a division per
// channel for every item.

#include "common.glsl"

layout(push_constant) uniform PushConstants { kp_apply p; };

#include "inference.glsl"

layout(std430, binding = BIND_STATS_SCRATCH) writeonly buffer ScratchBuf { float scratch[]; };

void main() {
    uint c = (gl_WorkGroupID.y * p.e.groups_x + gl_WorkGroupID.x) * WG + gl_LocalInvocationIndex;
    if (c >= p.e.total_v) return;
    vec4 k = running_params(c);
    uint o = p.sc.channel + c, n = p.sc.c_pad;
    scratch[o] = k.x;
    scratch[o + n] = k.y;
    scratch[o + 2u * n] = k.z;
    scratch[o + 3u * n] = k.w;
}
