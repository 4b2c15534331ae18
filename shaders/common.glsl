// Shared definitions for every vkbn kernel.
//
// Compile-time variants (glslangValidator -D...):
//   VKBN_DTYPE how tensors are stored (storage only: math in f32):
//              0 f32; 1 f16; 2 bf16 as 16-bit elements (16-bit storage);
//              3 bf16 in 32-bit words (no 16-bit storage needed: VEC=4 and 8
//              items are whole words, VEC=1 stores are atomic; storage.glsl)
//   VEC        1 or 4: elements per vector item (vec4 loads need aligned rows);
//              8 (16-bit elementwise kernels only): 16-byte items of 8
//              elements, computed as two vec4 sub-items (rows 8-element aligned)
//   SUBGROUPS  0: shared-memory reductions only; 1: subgroup arithmetic
//   MEMORY_MODEL  reduction kernels: 1 has the last-workgroup merge's
//              acquire/release protocol (merge.glsl); 0 has no
//              cross-workgroup communication at all (its merge runs as a
//              separate dispatch)
// Tuning and fusions are specialization constants (kernel_params.h).

#ifndef MEMORY_MODEL
#define MEMORY_MODEL 0
#endif
#if MEMORY_MODEL
#extension GL_KHR_memory_scope_semantics : require
#endif
// The scratch's partials and counters are read by other workgroups.
#define SCRATCH_COHERENCE coherent

#extension GL_EXT_control_flow_attributes : enable
#if VKBN_DTYPE == 1 || VKBN_DTYPE == 2
#extension GL_EXT_shader_16bit_storage : require
#endif

#include "kernel_params.h"

#if VKBN_DTYPE == 1
#define ELEM1 float16_t
#define ELEM4 f16vec4
#elif VKBN_DTYPE == 2
#define ELEM1 uint16_t
#define ELEM4 u16vec4
#elif VKBN_DTYPE == 3
#define ELEM1 uint // two elements: element i is half i & 1 of word i >> 1
#define ELEM4 uvec2
#else
#define ELEM1 float
#define ELEM4 vec4
#endif

#if VEC == 8
#if VKBN_DTYPE == 0
#error "VEC=8 is a 16-bit variant"
#endif
#define STORE_T ELEM4 // an item is two of these (elementwise.glsl)
#define VT vec4       // arithmetic type of one sub-item
#define SUBS 2u       // sub-items per item
#define RAW_T uvec4   // an item as the elementwise kernels load it, widened per sub-item
#elif VEC == 4
#define STORE_T ELEM4 // tensor element type in memory
#define VT vec4       // arithmetic type of one item
#define SUBS 1u
#define RAW_T VT
#else
#define STORE_T ELEM1
#define VT float
#define SUBS 1u
#define RAW_T VT
#endif

#include "storage.glsl"

layout(local_size_x_id = SPEC_WG_SIZE) in;
layout(constant_id = SPEC_WG_SIZE) const uint WG = 256;
layout(constant_id = SPEC_ACTIVATION) const uint ACTIVATION = 0;
layout(constant_id = SPEC_HAS_RESIDUAL) const bool HAS_RESIDUAL = false;
layout(constant_id = SPEC_HAS_WEIGHT) const bool HAS_WEIGHT = false;
layout(constant_id = SPEC_HAS_BIAS) const bool HAS_BIAS = false;
// Reduction kernels: leave the channel block (kp_scratch) for the
// elementwise pass after the reduction.
layout(constant_id = SPEC_STORE_CHANNEL) const bool STORE_CHANNEL = false;

#include "activation.glsl"

uint next_pow2(uint v) {
    return v <= 1u ? 1u : (1u << uint(findMSB(v - 1u) + 1));
}

// n / d for n < 2^31 (see kp_fastdiv).
uint fastdiv(uint n, kp_fastdiv f) {
    uint hi, lo;
    umulExtended(n, f.mul, hi, lo);
    return (hi + n) >> f.shift;
}

// The fused tail of every normalize: residual add, then the activation.
VT finish_output(VT y, VT z, kp_activation act) {
    if (HAS_RESIDUAL) y += z;
    return act_forward(y, act);
}
