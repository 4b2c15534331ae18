// Shared by the backward kernels: bindings, the per-channel coefficients and
// the per-item chain rule. Expects the push constants as `p`, with io
// (kp_grads_io: eps, tensor and vector bases, activation) and sc (kp_scratch).
//
//   g  = dy * act'(u)                       (the gradient reaching the normalization)
//   d  = x - mean                           (mean: save_mean, or running_mean when frozen)
//   training: dx = k1 * ((g - mg) - d * invstd * e),  mg = sum g / m,  e = dweight / m
//   frozen:   dx = k1 * g
// with k1 = weight * invstd. SiLU recomputes u = d * k1 + shift [+ z], shift = bias.

layout(constant_id = SPEC_BWD_FROZEN) const bool FROZEN = false;
layout(constant_id = SPEC_BWD_WRITES) const uint WRITES = 0u;

const bool WRITE_DX = (WRITES & BWD_WRITE_DX) != 0u;
const bool WRITE_DZ = (WRITES & BWD_WRITE_DZ) != 0u;
const bool WRITE_DWEIGHT = (WRITES & BWD_WRITE_DWEIGHT) != 0u;
const bool WRITE_DBIAS = (WRITES & BWD_WRITE_DBIAS) != 0u;
const bool ACT_SILU_U = ACTIVATION == ACT_SILU;
// Whether a pass needs x: d enters dweight, the dx of training mode and SiLU's u.
const bool NEEDS_X = !FROZEN || ACT_SILU_U || WRITE_DWEIGHT;

layout(std430, binding = BIND_BWD_X) readonly buffer XBuf { STORE_T x_data[]; };
layout(std430, binding = BIND_BWD_DY) readonly buffer DyBuf { STORE_T dy_data[]; };
layout(std430, binding = BIND_BWD_ACT) readonly buffer ActBuf { STORE_T act_data[]; };
layout(std430, binding = BIND_BWD_DX) TENSOR_OUT buffer DxBuf { STORE_T dx_data[]; };
layout(std430, binding = BIND_BWD_DZ) TENSOR_OUT buffer DzBuf { STORE_T dz_data[]; };
layout(std430, binding = BIND_BWD_WEIGHT) readonly buffer WeightBuf { float weight[]; };
layout(std430, binding = BIND_BWD_BIAS) readonly buffer BiasBuf { float bias[]; };
layout(std430, binding = BIND_BWD_MEAN) readonly buffer MeanBuf { float stat_mean[]; };
layout(std430, binding = BIND_BWD_VAR) readonly buffer VarBuf { float stat_var[]; };
#define MASK_READER
#include "mask.glsl"
layout(std430, binding = BIND_BWD_DWEIGHT) writeonly buffer DweightBuf { float dweight_out[]; };
layout(std430, binding = BIND_BWD_DBIAS) writeonly buffer DbiasBuf { float dbias_out[]; };
layout(std430, binding = BIND_BWD_SCRATCH) SCRATCH_COHERENCE buffer ScratchBuf { uint scratch[]; };

// One channel's coefficients (scalars, or four channels' with channels-last vec4).
struct Coef {
    float mean;
    float invstd;
    float k1;    // weight * invstd
    float shift; // bias (SiLU)
    float mg;    // training: sum g / m
    float e;     // training: dweight / m
};

// From the statistics and parameters; mg and e are filled by coef_finish.
Coef coef_from_params(uint c) {
    float mean = stat_mean[p.io.ch.mean + c];
    float invstd = FROZEN ? 1.0 / sqrt(stat_var[p.io.ch.var + c] + p.io.eps) : stat_var[p.io.ch.var + c];
    float w = HAS_WEIGHT ? weight[p.io.ch.weight + c] : 1.0;
    float b = HAS_BIAS ? bias[p.io.ch.bias + c] : 0.0;
    return Coef(mean, invstd, w * invstd, b, 0.0, 0.0);
}

// Channel c's merged sums (sum g, sum g * d): writes dweight and dbias and
// completes the training-mode coefficients.
Coef coef_finish(uint c, Coef k, float sum_g, float sum_gd) {
    float dweight = sum_gd * k.invstd;
    if (WRITE_DWEIGHT) dweight_out[p.io.ch.dweight + c] = dweight;
    if (WRITE_DBIAS) dbias_out[p.io.ch.dbias + c] = sum_g;
    if (!FROZEN) {
        k.mg = sum_g * p.io.inv_m;
        k.e = dweight * p.io.inv_m;
    }
    return k;
}

// The channel block (kp_scratch) for a separate dx pass: six arrays of c_pad
// floats.
void coef_store(uint c, Coef k) {
    uint b = p.sc.channel + c, n = p.sc.c_pad;
    scratch[b] = floatBitsToUint(k.mean);
    scratch[b + n] = floatBitsToUint(k.invstd);
    scratch[b + 2u * n] = floatBitsToUint(k.k1);
    scratch[b + 3u * n] = floatBitsToUint(k.shift);
    scratch[b + 4u * n] = floatBitsToUint(k.mg);
    scratch[b + 5u * n] = floatBitsToUint(k.e);
}

Coef coef_load(uint c) {
    uint b = p.sc.channel + c, n = p.sc.c_pad;
    return Coef(uintBitsToFloat(scratch[b]), uintBitsToFloat(scratch[b + n]), uintBitsToFloat(scratch[b + 2u * n]),
                uintBitsToFloat(scratch[b + 3u * n]), uintBitsToFloat(scratch[b + 4u * n]),
                uintBitsToFloat(scratch[b + 5u * n]));
}

// Coefficients as vectors matching VT: the same channel in every lane
// (channels-first) or four channels (channels-last vec4).
struct CoefV {
    VT mean;
    VT invstd;
    VT k1;
    VT shift;
    VT mg;
    VT e;
};

CoefV coef_splat(Coef k) {
    return CoefV(VT(k.mean), VT(k.invstd), VT(k.k1), VT(k.shift), VT(k.mg), VT(k.e));
}

#if VEC != 1
CoefV coef_lanes(Coef a, Coef b, Coef c, Coef d) {
    return CoefV(vec4(a.mean, b.mean, c.mean, d.mean), vec4(a.invstd, b.invstd, c.invstd, d.invstd),
                 vec4(a.k1, b.k1, c.k1, d.k1), vec4(a.shift, b.shift, c.shift, d.shift), vec4(a.mg, b.mg, c.mg, d.mg),
                 vec4(a.e, b.e, c.e, d.e));
}
#endif

// One item's loads: x - mean, dy, and y or z.
struct Item {
    VT d;
    VT dy;
    VT act; // y (mask activations) or z (SiLU with a residual)
};

Item load_item(uint o, CoefV k) {
    Item it;
    it.d = NEEDS_X ? TLOAD(x_data, p.io.t.x + o) - k.mean : VT(0.0);
    it.dy = TLOAD(dy_data, p.io.t.dy + o);
    bool reads_act = ACT_GRAD_FROM_Y || (ACT_SILU_U && HAS_RESIDUAL);
    if (ACT_MASK) {
        it.act = mask_item(o);
    } else {
        it.act = reads_act ? TLOAD(act_data, p.io.t.act + o) : VT(0.0);
    }
    return it;
}

// g = dy * act'(u).
VT item_grad(Item it, CoefV k) {
    if (ACT_GRAD_FROM_Y) return act_grad_from_y(it.dy, it.act, p.io.act);
    if (ACT_SILU_U) {
        VT u = it.d * k.k1 + k.shift;
        if (HAS_RESIDUAL) u += it.act;
        return act_grad_silu(it.dy, u);
    }
    return it.dy;
}

VT item_dx(VT g, VT d, CoefV k) {
    if (FROZEN) return g * k.k1;
    return k.k1 * ((g - k.mg) - (d * k.invstd) * k.e);
}

// Writes dz = g and, where this pass owns it, dx.
void store_item(uint o, Item it, VT g, CoefV k, bool write_dx) {
    if (WRITE_DZ) TSTORE(dz_data, p.io.t.dz + o, g);
    if (write_dx) TSTORE(dx_data, p.io.t.dx + o, item_dx(g, it.d, k));
}
