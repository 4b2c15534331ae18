/* Vector primitives for cpu_kernels_impl.h: AVX2 + FMA + F16C (8 floats per
 * vector). */
#include <stdint.h>
#include <immintrin.h>

#define VKBN_SIMD_NAME "avx2"
#define VKBN_SIMD_SYMBOL vkbn__cpu_kernels_avx2
#define W 8
typedef __m256 V;

static inline V v_zero(void) { return _mm256_setzero_ps(); }
static inline V v_set1(float a) { return _mm256_set1_ps(a); }
static inline V v_loadu(const float* p) { return _mm256_loadu_ps(p); }
static inline void v_storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
static inline void v_stream(float* p, V v) { _mm256_stream_ps(p, v); } /* p 32-byte aligned */
static inline V v_load_h(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
static inline void v_store_h(uint16_t* p, V v) {
    _mm_storeu_si128((__m128i*)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
static inline void v_stream_h(uint16_t* p, V v) { /* p 16-byte aligned */
    _mm_stream_si128((__m128i*)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
/* bf16: a shift each way; narrowing rounds as cpu_f16.h's vkbn__f32_to_bf16. */
static inline V v_load_b(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16));
}
static inline __m128i v_bf16_bits(V v) {
    __m256i b = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7fff)), odd);
    __m256i q = _mm256_or_si256(b, _mm256_set1_epi32(0x00400000));
    r = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    /* The upper halves, packed per 128-bit lane, then the two lanes' halves joined. */
    __m256i h = _mm256_packus_epi32(_mm256_srli_epi32(r, 16), _mm256_setzero_si256());
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(h, 0x08));
}
static inline void v_store_b(uint16_t* p, V v) { _mm_storeu_si128((__m128i*)p, v_bf16_bits(v)); }
static inline void v_stream_b(uint16_t* p, V v) {
    _mm_stream_si128((__m128i*)p, v_bf16_bits(v));
} /* p 16-byte aligned */
static inline V v_add(V a, V b) { return _mm256_add_ps(a, b); }
static inline V v_sub(V a, V b) { return _mm256_sub_ps(a, b); }
static inline V v_mul(V a, V b) { return _mm256_mul_ps(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
static inline V v_max(V a, V b) { return _mm256_max_ps(a, b); }
static inline V v_min(V a, V b) { return _mm256_min_ps(a, b); }
static inline V v_select_ge0(V u, V a, V b) {
    return _mm256_blendv_ps(b, a, _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GE_OQ));
}
/* a > b ? t : f, per lane (false for NaN). */
static inline V v_select_gt(V a, V b, V t, V f) { return _mm256_blendv_ps(f, t, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
/* Bit l set where lane l of a > b (false for NaN): the activation mask. */
static inline uint32_t v_gt_bits(V a, V b) { return (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
/* Lane l: t if bit l of bits is set, else f (the activation mask). */
static inline V v_select_bits(uint32_t bits, V t, V f) {
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i set = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane);
    return _mm256_blendv_ps(f, t, _mm256_castsi256_ps(set));
}
static inline float s_fma(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
static inline float s_max(float a, float b) { return a > b ? a : b; }
static inline float s_min(float a, float b) { return a < b ? a : b; }
