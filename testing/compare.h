/* Comparing a backend's output with the fp64 reference. */
#ifndef VKBN_TESTING_COMPARE_H_
#define VKBN_TESTING_COMPARE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cmp_result {
    double max_abs;    /* largest |got - want| */
    double max_scaled; /* largest |got - want| / (atol + rtol * |want|) */
    size_t worst;      /* index of the largest scaled error */
    size_t nonfinite;  /* got is NaN/inf where want is finite (or the reverse) */
    int ok;            /* max_scaled <= 1 and nonfinite == 0 */
} cmp_result;

/* Element-wise: |got - want| <= atol + rtol * |want| for every element. */
cmp_result cmp_f32(const float* got, const double* want, size_t count, double atol, double rtol);

#ifdef __cplusplus
}
#endif

#endif
