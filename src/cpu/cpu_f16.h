/* IEEE binary16 and bfloat16 <-> binary32 in portable C: exact widening, and
 * narrowing rounded to nearest, ties to even (what F16C and NEON do by
 * default), with subnormals, infinities and NaN (quieted, payload kept where
 * it fits). */
#ifndef VKBN_CPU_F16_H_
#define VKBN_CPU_F16_H_

#include <stdint.h>
#include <string.h>

static inline float vkbn__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0u);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* Subnormal: normalize the mantissa. */
        uint32_t e = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            --e;
        }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint16_t vkbn__f32_to_f16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t exp = (bits >> 23) & 0xffu;
    uint32_t man = bits & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0u));
    int32_t e = (int32_t)exp - 112; /* binary16 biased exponent */
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        /* Subnormal or zero in binary16: shift the full mantissa into place
         * and round to nearest even on the bits shifted out. */
        if (e < -10) return sign;
        uint32_t full = man | 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t q = full >> shift;
        uint32_t rem = full & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u))) ++q;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) ++q; /* a carry rounds up into the exponent, to inf */
    return (uint16_t)(sign | q);
}

/* bfloat16 is the upper half of a binary32: widening is a shift. */
static inline float vkbn__bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Narrowing drops the lower 16 bits, rounded to nearest even: adding 0x7fff
 * plus the kept half's lowest bit carries into the kept half exactly when
 * the dropped half is above one half, or equal to it with the kept half odd;
 * a carry out of the mantissa steps the exponent (to inf from the largest
 * finite values, as IEEE rounding does). Subnormals round the same way: the
 * format shares binary32's exponent, so no input is flushed. NaN would carry
 * into the exponent or the sign instead: it keeps its sign and upper payload
 * and is quieted. The vector versions (cpu_simd_*.h) compute the same bits. */
static inline uint16_t vkbn__f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

#endif
