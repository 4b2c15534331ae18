/* "Vector" primitives for cpu_kernels_impl.h in portable C: one float per
 * vector. The fallback for CPUs without a SIMD path, and a reference. */
#include <stdint.h>
#include "cpu_f16.h"

#define VKBN_SIMD_NAME "scalar"
#define VKBN_SIMD_SYMBOL vkbn__cpu_kernels_scalar
#define W 1
typedef float V;

static inline V v_zero(void) { return 0.0f; }
static inline V v_set1(float a) { return a; }
static inline V v_loadu(const float* p) { return *p; }
static inline void v_storeu(float* p, V v) { *p = v; }
static inline void v_stream(float* p, V v) { *p = v; }
static inline V v_load_h(const uint16_t* p) { return vkbn__f16_to_f32(*p); }
static inline void v_store_h(uint16_t* p, V v) { *p = vkbn__f32_to_f16(v); }
static inline void v_stream_h(uint16_t* p, V v) { *p = vkbn__f32_to_f16(v); }
static inline V v_load_b(const uint16_t* p) { return vkbn__bf16_to_f32(*p); }
static inline void v_store_b(uint16_t* p, V v) { *p = vkbn__f32_to_bf16(v); }
static inline void v_stream_b(uint16_t* p, V v) { *p = vkbn__f32_to_bf16(v); }
static inline V v_add(V a, V b) { return a + b; }
static inline V v_sub(V a, V b) { return a - b; }
static inline V v_mul(V a, V b) { return a * b; }
static inline V v_fma(V a, V b, V c) { return a * b + c; } /* two roundings: the build keeps fp-contract off */
static inline V v_max(V a, V b) { return a > b ? a : b; }
static inline V v_min(V a, V b) { return a < b ? a : b; }
static inline V v_select_ge0(V u, V a, V b) { return u >= 0.0f ? a : b; }
static inline V v_select_gt(V a, V b, V t, V f) { return a > b ? t : f; } /* false for NaN */
/* 1 where a > b (false for NaN): the activation mask. */
static inline uint32_t v_gt_bits(V a, V b) { return a > b ? 1u : 0u; }
/* t if bit 0 of bits is set, else f (the activation mask). */
static inline V v_select_bits(uint32_t bits, V t, V f) { return (bits & 1u) ? t : f; }
static inline float s_fma(float a, float b, float c) { return a * b + c; }
static inline float s_max(float a, float b) { return a > b ? a : b; }
static inline float s_min(float a, float b) { return a < b ? a : b; }
