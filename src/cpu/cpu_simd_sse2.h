/* Vector primitives for cpu_kernels_impl.h: SSE2, the x86-64 baseline (4
 * floats per vector). No FMA: a * b + c rounds twice, in vectors and in the
 * scalar tails alike. No F16C: f16 goes through the portable conversion. */
#include <stdint.h>
#include <emmintrin.h>

#include "cpu_f16.h"

#define VKBN_SIMD_NAME "sse2"
#define VKBN_SIMD_SYMBOL vkbn__cpu_kernels_sse2
#define W 4
typedef __m128 V;

static inline V v_zero(void) { return _mm_setzero_ps(); }
static inline V v_set1(float a) { return _mm_set1_ps(a); }
static inline V v_loadu(const float* p) { return _mm_loadu_ps(p); }
static inline void v_storeu(float* p, V v) { _mm_storeu_ps(p, v); }
static inline void v_stream(float* p, V v) { _mm_stream_ps(p, v); } /* p 16-byte aligned */
static inline V v_load_h(const uint16_t* p) {
    return _mm_set_ps(vkbn__f16_to_f32(p[3]), vkbn__f16_to_f32(p[2]), vkbn__f16_to_f32(p[1]), vkbn__f16_to_f32(p[0]));
}
static inline void v_store_h(uint16_t* p, V v) {
    float t[4];
    _mm_storeu_ps(t, v);
    for (int i = 0; i < 4; ++i) p[i] = vkbn__f32_to_f16(t[i]);
}
static inline void v_stream_h(uint16_t* p, V v) { v_store_h(p, v); }
/* bf16: the 16 bits above each f32's lower half (cpu_f16.h). */
static inline V v_load_b(const uint16_t* p) {
    __m128i h = _mm_loadl_epi64((const __m128i*)p);
    return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h));
}
/* Round to nearest even on the dropped half, quiet NaN kept (cpu_f16.h's
 * vkbn__f32_to_bf16, four lanes at once), then the upper halves packed: an
 * arithmetic shift leaves each in int16 range, so the signed pack is exact. */
static inline __m128i v_bf16_bits(V v) {
    __m128i b = _mm_castps_si128(v);
    __m128i odd = _mm_and_si128(_mm_srli_epi32(b, 16), _mm_set1_epi32(1));
    __m128i r = _mm_add_epi32(_mm_add_epi32(b, _mm_set1_epi32(0x7fff)), odd);
    __m128i nan = _mm_castps_si128(_mm_cmpunord_ps(v, v));
    __m128i q = _mm_or_si128(b, _mm_set1_epi32(0x00400000));
    r = _mm_or_si128(_mm_and_si128(nan, q), _mm_andnot_si128(nan, r));
    return _mm_packs_epi32(_mm_srai_epi32(r, 16), _mm_setzero_si128());
}
static inline void v_store_b(uint16_t* p, V v) { _mm_storel_epi64((__m128i*)p, v_bf16_bits(v)); }
static inline void v_stream_b(uint16_t* p, V v) { v_store_b(p, v); }
static inline V v_add(V a, V b) { return _mm_add_ps(a, b); }
static inline V v_sub(V a, V b) { return _mm_sub_ps(a, b); }
static inline V v_mul(V a, V b) { return _mm_mul_ps(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
static inline V v_max(V a, V b) { return _mm_max_ps(a, b); }
static inline V v_min(V a, V b) { return _mm_min_ps(a, b); }
/* Lane l: t where lane l of the comparison mask m is all ones, else f
 * (SSE2 has no blend). */
static inline V v_blend_m(V m, V t, V f) { return _mm_or_ps(_mm_and_ps(m, t), _mm_andnot_ps(m, f)); }
static inline V v_select_ge0(V u, V a, V b) { return v_blend_m(_mm_cmpge_ps(u, _mm_setzero_ps()), a, b); }
/* Bit l set where lane l of a > b (false for NaN): the activation mask. */
static inline uint32_t v_gt_bits(V a, V b) { return (uint32_t)_mm_movemask_ps(_mm_cmpgt_ps(a, b)); }
/* Lane l: t if bit l of bits is set, else f (the activation mask). */
static inline V v_select_bits(uint32_t bits, V t, V f) {
    const __m128i lane = _mm_setr_epi32(1, 2, 4, 8);
    return v_blend_m(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(_mm_set1_epi32((int)bits), lane), lane)), t, f);
}
/* a > b ? t : f, per lane (false for NaN). */
static inline V v_select_gt(V a, V b, V t, V f) { return v_blend_m(_mm_cmpgt_ps(a, b), t, f); }
static inline float s_fma(float a, float b, float c) { return a * b + c; }
static inline float s_max(float a, float b) { return a > b ? a : b; }
static inline float s_min(float a, float b) { return a < b ? a : b; }
