/* The CPU kernels for scalar: cpu_kernels_impl.h over cpu_simd_scalar.h
 * (compiled with this ISA's target flags: see CMakeLists.txt). */
#include "cpu_simd_scalar.h"

#include "cpu_kernels_impl.h"
