/* The CPU kernels for avx512: cpu_kernels_impl.h over cpu_simd_avx512.h
 * (compiled with this ISA's target flags: see CMakeLists.txt). */
#include "cpu_simd_avx512.h"

#include "cpu_kernels_impl.h"
