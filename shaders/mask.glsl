// The activation bit mask (vkbn.h, vkbn_activation_mask_requirements): bit
// e (e an element's index in memory order) is bit e % 32 of word e / 32, 1
// where act'(u) = 1. Window bases are bit offsets (kp_stats_io.mask_base,
// kp_bwd_tensors.act), and an item's first element is VEC-aligned, so the
// bits of an item (1, 4 or 8 elements) never straddle a word.
//
// Writing (statistics family, SPEC_ACT_MASK): store_y_masked stores y and
// the bits of the stored value, the same test the backward pass makes on y
// (act_grad_from_y: y > 0; CLAMP: alpha < y < beta). An item's bits share
// a word with other invocations' bits, and no pass clears the mask first:
// each item clears and sets its own bits with one atomicAnd and one
// atomicOr, which touch only those bits, so every order of the items' pairs
// gives the same word. On a GPU that is two atomics per 16 bytes of f32 y
// (vec4 items; 8 bytes at f16 and bf16, 16 with VEC=8), served by the L2's
// atomic units: the lanes of a warp hit 8 (vec4) or 32 (scalar) different
// bits of the same few words, which the hardware serializes per word. A
// subgroup ballot would let one lane store each whole word instead; that is
// left for a device to show it matters.
//
// f16 y is rounded with packHalf2x16 before it is stored: the value stored
// is then f16-exact, so the store's own conversion (whose rounding mode the
// shaders do not fix) cannot move it, and the bit is the stored y's on
// every device. bf16 rounds in integers anyway (storage.glsl).

layout(constant_id = SPEC_ACT_MASK) const bool ACT_MASK = false;

// Elements per stored item (VEC=8 stores two vec4 sub-items).
#if VEC == 1
const uint MASK_ITEM_BITS = 1u;
#else
const uint MASK_ITEM_BITS = 4u;
#endif

// The value the storage type keeps of v (VT), exactly representable in it.
VT stored_value(VT v) {
#if VKBN_DTYPE == 1
#if VEC == 1
    return unpackHalf2x16(packHalf2x16(vec2(v, 0.0))).x;
#else
    return vec4(unpackHalf2x16(packHalf2x16(v.xy)), unpackHalf2x16(packHalf2x16(v.zw)));
#endif
#elif VKBN_DTYPE >= 2
    return uintBitsToFloat(bf16_bits(v) << 16);
#else
    return v;
#endif
}

// act'(u) = 1, from the stored y: one bit per component.
uint mask_bits(VT y, kp_activation act) {
#if VEC == 1
    bool pass = ACTIVATION == ACT_CLAMP ? (y > act.alpha && y < act.beta) : y > 0.0;
    return pass ? 1u : 0u;
#else
    bvec4 pass = ACTIVATION == ACT_CLAMP ? bvec4(uvec4(greaterThan(y, vec4(act.alpha))) & uvec4(lessThan(y, vec4(act.beta))))
                                         : greaterThan(y, vec4(0.0));
    uvec4 b = uvec4(pass);
    return b.x | (b.y << 1) | (b.z << 2) | (b.w << 3);
#endif
}

#if defined(MASK_WRITER)
layout(std430, binding = BIND_STATS_MASK) buffer MaskBuf { uint mask_words[]; };

// The bits of the stored item o of the window (o counts stored items:
// elements, or vec4 items).
void mask_store(uint o, VT y, kp_activation act) {
    uint e = p.io.mask_base + o * MASK_ITEM_BITS;
    uint shift = e & 31u, w = e >> 5;
    uint field = ((1u << MASK_ITEM_BITS) - 1u) << shift;
    atomicAnd(mask_words[w], ~field);
    atomicOr(mask_words[w], mask_bits(y, act) << shift);
}

// Stores y as item `index` of y_data (item o of the window), and with
// ACT_MASK its bits.
#define STORE_Y(index, o, v)                                      \
    {                                                             \
        VT store_y = (v);                                         \
        if (ACT_MASK) {                                           \
            store_y = stored_value(store_y);                      \
            mask_store((o), store_y, p.io.act);                   \
        }                                                         \
        TSTORE(y_data, (index), store_y);                         \
    }
#endif

#if defined(MASK_READER)
layout(std430, binding = BIND_BWD_ACT) readonly buffer MaskIn { uint mask_in[]; };

// The bits of the `count` elements from bit e (within one word).
uint mask_load(uint e, uint count) {
    return (mask_in[e >> 5] >> (e & 31u)) & ((1u << count) - 1u);
}

// Bits as a y of 1.0 (act' = 1) or 0.0 (act' = 0, or alpha for LEAKY_RELU):
// what act_grad_from_y takes (the host runs CLAMP as RELU here).
VT mask_as_y(uint bits) {
#if VEC == 1
    return float(bits & 1u);
#else
    return vec4(uvec4(bits, bits >> 1, bits >> 2, bits >> 3) & 1u);
#endif
}

// The mask of the window's item o (o counts vec4 or scalar items).
VT mask_item(uint o) {
    return mask_as_y(mask_load(p.io.t.act + o * MASK_ITEM_BITS, MASK_ITEM_BITS));
}
#endif
