// Inference's channel parameters from the running statistics, shared by
// apply_params.comp (once per channel, into the channel block) and apply.comp
// (channels-first inference, once per thread or item), so both give the same
// bits. Expects the push constants as `p` with io (kp_stats_io).

layout(std430, binding = BIND_STATS_WEIGHT) readonly buffer WeightBuf { float weight[]; };
layout(std430, binding = BIND_STATS_BIAS) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = BIND_STATS_RUNNING_MEAN) readonly buffer RunMeanBuf { float running_mean[]; };
layout(std430, binding = BIND_STATS_RUNNING_VAR) readonly buffer RunVarBuf { float running_var[]; };

// pivot | mean - pivot | scale | shift of channel c: (running_mean, 0,
// weight * (1 / sqrt(running_var + eps)), bias).
vec4 running_params(uint c) {
    float w = HAS_WEIGHT ? weight[p.io.ch.weight + c] : 1.0;
    float b = HAS_BIAS ? bias[p.io.ch.bias + c] : 0.0;
    float invstd = 1.0 / sqrt(running_var[p.io.ch.running_var + c] + p.io.eps);
    return vec4(running_mean[p.io.ch.running_mean + c], 0.0, w * invstd, b);
}
