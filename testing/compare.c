/* Element-wise comparison of a backend's f32 output with the fp64 reference.
 *
 * Non-finite values: a NaN matches a NaN, an infinity matches the same
 * infinity. Any other pair where either side is not finite is counted in
 * `nonfinite` and treated as an infinite scaled error, so `worst` points at
 * the first such element (max_abs stays over the finite pairs only). */
#include "compare.h"

#include <math.h>

/* Whether a pair with a non-finite side matches (only called for those). */
static int nonfinite_pair_matches(double got, double want) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return 0; /* want finite, got NaN or inf */
}

/* |got - want| / (atol + rtol * |want|); with a zero tolerance, 0 for an
 * exact match and infinity otherwise. */
static double scaled_error(double abs_err, double want, double atol, double rtol) {
    double tol = atol + rtol * fabs(want);
    if (tol > 0.0) return abs_err / tol;
    return abs_err == 0.0 ? 0.0 : INFINITY;
}

cmp_result cmp_f32(const float* got, const double* want, size_t count, double atol, double rtol) {
    cmp_result r = {0.0, 0.0, 0, 0, 0};
    for (size_t i = 0; i < count; i++) {
        double g = (double)got[i];
        double w = want[i];
        double scaled;
        if (!isfinite(g) || !isfinite(w)) {
            if (nonfinite_pair_matches(g, w)) continue;
            r.nonfinite++;
            scaled = INFINITY;
        } else {
            double abs_err = fabs(g - w);
            if (abs_err > r.max_abs) r.max_abs = abs_err;
            scaled = scaled_error(abs_err, w, atol, rtol);
        }
        /* Strictly greater: the first of equal errors stays the worst. */
        if (scaled > r.max_scaled) {
            r.max_scaled = scaled;
            r.worst = i;
        }
    }
    r.ok = r.max_scaled <= 1.0 && r.nonfinite == 0;
    return r;
}
