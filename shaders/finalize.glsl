// Per-channel vectors of the statistics kernels and the step that turns a
// channel's merged (count, mean, M2) into its outputs. Expects the push
// constants as `p` with r (kp_slices), sc (kp_scratch) and io (kp_stats_io).

layout(constant_id = SPEC_HAS_RUNNING) const bool HAS_RUNNING = false;
layout(constant_id = SPEC_SAVE_MASK) const uint SAVE_MASK = 0;
layout(constant_id = SPEC_FUSED) const bool FUSED = false;
// Synchronized batch norm (SAVE_MASK bit 2): export the slice's statistics
// instead of normalizing. save_mean then holds three arrays of C floats:
// pivot | mean - pivot | M2 (the count is the host's n * S, exact).
const bool EXPORT_STATS = (SAVE_MASK & 4u) != 0u;

layout(std430, binding = BIND_STATS_WEIGHT) readonly buffer WeightBuf { float weight[]; };
layout(std430, binding = BIND_STATS_BIAS) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = BIND_STATS_RUNNING_MEAN) buffer RunMeanBuf { float running_mean[]; };
layout(std430, binding = BIND_STATS_RUNNING_VAR) buffer RunVarBuf { float running_var[]; };
layout(std430, binding = BIND_STATS_SAVE_MEAN) writeonly buffer SaveMeanBuf { float save_mean[]; };
layout(std430, binding = BIND_STATS_SAVE_INVSTD) writeonly buffer SaveInvstdBuf { float save_invstd[]; };
// Partials, counters and the channel block (kp_scratch).
layout(std430, binding = BIND_STATS_SCRATCH) SCRATCH_COHERENCE buffer ScratchBuf { uint scratch[]; };
layout(std430, binding = BIND_STATS_PIVOT) readonly buffer PivotBuf { STORE_T pivot_data[]; };

// st holds statistics of x - pivot. Returns (pivot, mean - pivot, scale,
// shift) with y = ((x - pivot) - (mean - pivot)) * scale + shift, and leaves
// them in the channel block for apply when STORE_CHANNEL.
vec4 finalize_channel(uint c, Stat st, float pivot) {
    if (EXPORT_STATS) {
        save_mean[p.io.ch.save_mean + c] = pivot;
        save_mean[p.io.ch.save_mean + p.r.channels + c] = st.mean;
        save_mean[p.io.ch.save_mean + 2u * p.r.channels + c] = st.m2;
        return vec4(0.0);
    }
    float mean = pivot + st.mean;
    float var = max(st.m2 / st.n, 0.0);
    float invstd = 1.0 / sqrt(var + p.io.eps);
    float w = HAS_WEIGHT ? weight[p.io.ch.weight + c] : 1.0;
    float b = HAS_BIAS ? bias[p.io.ch.bias + c] : 0.0;
    if ((SAVE_MASK & 1u) != 0u) save_mean[p.io.ch.save_mean + c] = mean;
    if ((SAVE_MASK & 2u) != 0u) save_invstd[p.io.ch.save_invstd + c] = invstd;
    if (HAS_RUNNING) {
        // Written as in SEMANTICS.md so that f = 1 replaces the old value exactly.
        float f = p.io.factor;
        uint im = p.io.ch.running_mean + c, iv = p.io.ch.running_var + c;
        running_mean[im] = (1.0 - f) * running_mean[im] + f * mean;
        running_var[iv] = (1.0 - f) * running_var[iv] + f * (var * p.io.var_correction);
    }
    vec4 r = vec4(pivot, st.mean, w * invstd, b);
    if (STORE_CHANNEL) {
        uint o = p.sc.channel + c, n = p.sc.c_pad;
        scratch[o] = floatBitsToUint(r.x);
        scratch[o + n] = floatBitsToUint(r.y);
        scratch[o + 2u * n] = floatBitsToUint(r.z);
        scratch[o + 3u * n] = floatBitsToUint(r.w);
    }
    return r;
}
