/* Vector primitives for cpu_kernels_impl.h: aarch64 Advanced SIMD (4 floats
 * per vector), with its f16 conversions (round to nearest even). */
#include <stdint.h>
#include <arm_neon.h>
#include <math.h>

#define VKBN_SIMD_NAME "neon"
#define VKBN_SIMD_SYMBOL vkbn__cpu_kernels_neon
#define W 4
typedef float32x4_t V;

static inline V v_zero(void) { return vdupq_n_f32(0.0f); }
static inline V v_set1(float a) { return vdupq_n_f32(a); }
static inline V v_loadu(const float* p) { return vld1q_f32(p); }
static inline void v_storeu(float* p, V v) { vst1q_f32(p, v); }
static inline void v_stream(float* p, V v) { vst1q_f32(p, v); }
static inline V v_load_h(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline void v_store_h(uint16_t* p, V v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
static inline void v_stream_h(uint16_t* p, V v) { v_store_h(p, v); }
/* bf16: a shift each way; narrowing rounds as cpu_f16.h's vkbn__f32_to_bf16
 * (the shift-right-narrow keeps each lane's upper half). */
static inline V v_load_b(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
static inline uint16x4_t v_bf16_bits(V v) {
    uint32x4_t b = vreinterpretq_u32_f32(v);
    uint32x4_t odd = vandq_u32(vshrq_n_u32(b, 16), vdupq_n_u32(1));
    uint32x4_t r = vaddq_u32(vaddq_u32(b, vdupq_n_u32(0x7fff)), odd);
    uint32x4_t q = vorrq_u32(b, vdupq_n_u32(0x00400000));
    r = vbslq_u32(vceqq_f32(v, v), r, q); /* v == v: not NaN */
    return vshrn_n_u32(r, 16);
}
static inline void v_store_b(uint16_t* p, V v) { vst1_u16(p, v_bf16_bits(v)); }
static inline void v_stream_b(uint16_t* p, V v) { v_store_b(p, v); }
static inline V v_add(V a, V b) { return vaddq_f32(a, b); }
static inline V v_sub(V a, V b) { return vsubq_f32(a, b); }
static inline V v_mul(V a, V b) { return vmulq_f32(a, b); }
static inline V v_fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
/* FMAX propagates NaN and orders -0 below +0; s_max matches it. */
static inline V v_max(V a, V b) { return vmaxq_f32(a, b); }
static inline V v_min(V a, V b) { return vminq_f32(a, b); }
static inline V v_select_ge0(V u, V a, V b) { return vbslq_f32(vcgeq_f32(u, vdupq_n_f32(0.0f)), a, b); }
/* a > b ? t : f, per lane (false for NaN). */
static inline V v_select_gt(V a, V b, V t, V f) { return vbslq_f32(vcgtq_f32(a, b), t, f); }
/* Bit l set where lane l of a > b (false for NaN): the activation mask. */
static inline uint32_t v_gt_bits(V a, V b) {
    static const uint32_t lane_bits[4] = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(vcgtq_f32(a, b), vld1q_u32(lane_bits)));
}
/* Lane l: t if bit l of bits is set, else f (the activation mask). */
static inline V v_select_bits(uint32_t bits, V t, V f) {
    static const uint32_t lane_bits[4] = {1, 2, 4, 8};
    return vbslq_f32(vtstq_u32(vdupq_n_u32(bits), vld1q_u32(lane_bits)), t, f);
}
static inline float s_fma(float a, float b, float c) { return fmaf(a, b, c); } /* one fmadd on aarch64 */
static inline float s_max(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == b) return signbit(a) ? b : a;
    return a > b ? a : b;
}
static inline float s_min(float a, float b) {
    if (a != a || b != b) return a + b;
    if (a == b) return signbit(a) ? a : b;
    return a < b ? a : b;
}
