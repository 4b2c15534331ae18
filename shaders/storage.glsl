// Loads and stores of tensor items in their storage type (common.glsl's
// VKBN_DTYPE), widened to and narrowed from f32:
//   TLOAD(a, i)      item i of tensor array a, as VT
//   TSTORE(a, i, v)  narrows v (VT) and stores it as item i of a
// Output arrays are declared TENSOR_OUT (writeonly, except where stores are
// atomic). Every narrowing rounds to nearest even, once.
//
// bf16 is the upper half of an f32: widening is a shift, narrowing adds
// 0x7fff plus the kept half's lowest bit (a carry into the kept half exactly
// when the dropped half is above one half, or equal with the kept half odd),
// NaN kept quiet with its sign (the CPU path's vkbn__f32_to_bf16, bit for
// bit). Pure integer arithmetic: no device float conversion or rounding mode
// is involved, and subnormals are kept.
//
// VKBN_DTYPE 3 stores bf16 in 32-bit words, for devices without
// storageBuffer16BitAccess: a VEC=4 item is a uvec2, a VEC=8 sub-item too, so
// those loads and stores are whole words as wide as the 16-bit path's. A
// VEC=1 item is half a word that another invocation owns the other half of:
// its store clears and sets its own 16 bits with an atomicAnd and an
// atomicOr, each touching only its own bits, so the two halves' stores
// commute whatever their order, with no pre-clear and no race. The planner
// takes this path only where a tensor's rows or offsets rule out vec4 items,
// and only on devices without 16-bit storage (or under the test switch).

uint bf16_bits(float f) {
    uint b = floatBitsToUint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (b >> 16) | 0x40u; // NaN
    return (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
}

uvec4 bf16_bits(vec4 f) {
    return uvec4(bf16_bits(f.x), bf16_bits(f.y), bf16_bits(f.z), bf16_bits(f.w));
}

// Four bf16 packed in two words (element 0 in the low half of word 0).
vec4 bf16_from_words(uvec2 w) {
    return uintBitsToFloat(uvec4(w.x << 16, w.x & 0xffff0000u, w.y << 16, w.y & 0xffff0000u));
}

uvec2 bf16_to_words(vec4 f) {
    uvec4 b = bf16_bits(f);
    return uvec2(b.x | (b.y << 16), b.z | (b.w << 16));
}

#if VKBN_DTYPE == 3 && VEC == 1
#define TENSOR_OUT
#else
#define TENSOR_OUT writeonly
#endif

#if VKBN_DTYPE == 0 || VKBN_DTYPE == 1
#define TLOAD(a, i) VT(a[i])
#define TSTORE(a, i, v) a[i] = STORE_T(v)
#elif VKBN_DTYPE == 2
// 16-bit values convert only in expressions (no uint16_t functions or
// locals with 16-bit storage alone): UVT is VT's unsigned twin.
#if VEC == 1
#define UVT uint
#else
#define UVT uvec4
#endif
#define TLOAD(a, i) uintBitsToFloat(UVT(a[i]) << 16)
#define TSTORE(a, i, v) a[i] = STORE_T(bf16_bits(v))
#elif VEC == 1
// Element i of a word array: half i & 1 of word i >> 1.
float bf16_half(uint w, uint i) {
    return uintBitsToFloat((i & 1u) != 0u ? w & 0xffff0000u : w << 16);
}
#define TLOAD(a, i) bf16_half(a[(i) >> 1], (i))
#define TSTORE(a, i, v)                                                  \
    {                                                                    \
        uint tstore_i = (i), tstore_shift = (tstore_i & 1u) * 16u;       \
        atomicAnd(a[tstore_i >> 1], ~(0xffffu << tstore_shift));         \
        atomicOr(a[tstore_i >> 1], bf16_bits(v) << tstore_shift);        \
    }
#else
#define TLOAD(a, i) bf16_from_words(a[i])
#define TSTORE(a, i, v) a[i] = bf16_to_words(v)
#endif
