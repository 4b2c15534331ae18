/* Vector primitives for cpu_kernels_impl.h: AVX-512 F + BW + VL, FMA, F16C
 * (16 floats per vector). */
#include <stdint.h>
#include <immintrin.h>

#define VKBN_SIMD_NAME "avx512"
#define VKBN_SIMD_SYMBOL vkbn__cpu_kernels_avx512
#define W 16
typedef __m512 V;

static inline V v_zero(void) { return _mm512_setzero_ps(); }
static inline V v_set1(float a) { return _mm512_set1_ps(a); }
static inline V v_loadu(const float* p) { return _mm512_loadu_ps(p); }
static inline void v_storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
static inline void v_stream(float* p, V v) { _mm512_stream_ps(p, v); } /* p 64-byte aligned */
static inline V v_load_h(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p)); }
static inline void v_store_h(uint16_t* p, V v) {
    _mm256_storeu_si256((__m256i*)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
static inline void v_stream_h(uint16_t* p, V v) { /* p 32-byte aligned */
    _mm256_stream_si256((__m256i*)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
/* bf16 by shifts: narrowing rounds as cpu_f16.h's vkbn__f32_to_bf16 (nine
 * instructions per vector; see v_bf16_bits_native for CPUs with AVX-512
 * BF16). */
static inline V v_load_b(const uint16_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
}
static inline __m256i v_bf16_bits(V v) {
    __m512i b = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7fff)), odd);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, b, _mm512_set1_epi32(0x00400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}
static inline void v_store_b(uint16_t* p, V v) { _mm256_storeu_si256((__m256i*)p, v_bf16_bits(v)); }
#if defined(VKBN_CPU_AVX512_BF16)
/* Built with -mavx512bf16 -mavx512dq (CMakeLists.txt), run only where the
 * CPU has both (the tensors' bf16_native, from cpu_isa.c's detection).
 * vcvtneps2bf16 rounds to nearest even and quiets NaNs keeping sign and
 * upper payload, exactly as v_bf16_bits, except that it reads subnormal
 * inputs as zero whatever MXCSR says; a vector holding one takes the integer
 * path (one vfpclassps test per vector, a branch almost never taken after
 * a normalization). test_cpu's bf16_narrowing checks every bf16 pattern
 * through both paths bit for bit. */
#define VKBN_SIMD_BF16_NATIVE 1
static inline __m256i v_bf16_bits_native(V v) {
    if (__builtin_expect(_mm512_fpclass_ps_mask(v, 0x20) != 0, 0)) return v_bf16_bits(v); /* 0x20: subnormal */
    return (__m256i)_mm512_cvtneps_pbh(v);
}
static inline void v_store_bn(uint16_t* p, V v) { _mm256_storeu_si256((__m256i*)p, v_bf16_bits_native(v)); }
static inline void v_stream_bn(uint16_t* p, V v) { _mm256_stream_si256((__m256i*)p, v_bf16_bits_native(v)); }
#endif
static inline void v_stream_b(uint16_t* p, V v) {
    _mm256_stream_si256((__m256i*)p, v_bf16_bits(v));
} /* p 32-byte aligned */
static inline V v_add(V a, V b) { return _mm512_add_ps(a, b); }
static inline V v_sub(V a, V b) { return _mm512_sub_ps(a, b); }
static inline V v_mul(V a, V b) { return _mm512_mul_ps(a, b); }
static inline V v_fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); } /* a * b + c, one rounding */
/* a > b ? a : b: with a = 0, a NaN in b comes through. */
static inline V v_max(V a, V b) { return _mm512_max_ps(a, b); }
static inline V v_min(V a, V b) { return _mm512_min_ps(a, b); }
/* u >= 0 ? a : b, per lane (false for NaN). */
static inline V v_select_ge0(V u, V a, V b) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GE_OQ), b, a);
}
/* Bit l set where lane l of a > b (false for NaN): the activation mask. */
static inline uint32_t v_gt_bits(V a, V b) { return (uint32_t)_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
/* Lane l: t if bit l of bits is set, else f (the activation mask). */
static inline V v_select_bits(uint32_t bits, V t, V f) { return _mm512_mask_blend_ps((__mmask16)bits, f, t); }
/* a > b ? t : f, per lane (false for NaN). */
static inline V v_select_gt(V a, V b, V t, V f) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t);
}
static inline float s_fma(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}
static inline float s_max(float a, float b) { return a > b ? a : b; }
static inline float s_min(float a, float b) { return a < b ? a : b; }

/* Masked loads and stores of the first n < 16 lanes (masked-off lanes are
 * neither read nor written, so they may lie past the end of the buffer). */
#define VKBN_SIMD_MASKED 1
static inline __mmask16 v_mask(unsigned n) { return (__mmask16)((1u << n) - 1u); }
static inline V v_loadu_n(const float* p, unsigned n) { return _mm512_maskz_loadu_ps(v_mask(n), p); }
static inline V v_load_h_n(const uint16_t* p, unsigned n) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(v_mask(n), p));
}
static inline V v_load_b_n(const uint16_t* p, unsigned n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(v_mask(n), p)), 16));
}
static inline void v_storeu_n(float* p, V v, unsigned n) { _mm512_mask_storeu_ps(p, v_mask(n), v); }
static inline void v_store_b_n(uint16_t* p, V v, unsigned n) { _mm256_mask_storeu_epi16(p, v_mask(n), v_bf16_bits(v)); }
#if defined(VKBN_SIMD_BF16_NATIVE)
static inline void v_store_bn_n(uint16_t* p, V v, unsigned n) {
    _mm256_mask_storeu_epi16(p, v_mask(n), v_bf16_bits_native(v));
}
#endif
static inline void v_store_h_n(uint16_t* p, V v, unsigned n) {
    _mm256_mask_storeu_epi16(p, v_mask(n), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
