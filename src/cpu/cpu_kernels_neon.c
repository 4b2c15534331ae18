/* The CPU kernels for neon: cpu_kernels_impl.h over cpu_simd_neon.h
 * (compiled with this ISA's target flags: see CMakeLists.txt). */
#include "cpu_simd_neon.h"

#include "cpu_kernels_impl.h"
