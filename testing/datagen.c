/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, integer-only, so
 * the bit stream is the same on every platform. The normal deviates go
 * through libm's log, sqrt and cos, whose last bit may differ between C
 * libraries; after rounding to float that almost never shows. */
#include "datagen.h"

#include <math.h>

static const double two_pi = 6.283185307179586476925286766559;

void rng_seed(rng* r, uint64_t seed) { r->state = seed; }

uint64_t rng_next(rng* r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The top 53 bits as a multiple of 2^-53: exact, and never 1. */
double rng_uniform(rng* r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Box-Muller, one deviate per call from two fresh uniforms (no cached second
 * deviate, so the stream depends only on the state). 1 - u is in (0, 1], so
 * the log is finite. */
double rng_normal(rng* r) {
    double u1 = 1.0 - rng_uniform(r);
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

void gen_normal_f32(rng* r, float* v, size_t count, double mean, double std) {
    for (size_t i = 0; i < count; i++) v[i] = (float)(mean + std * rng_normal(r));
}

void gen_uniform_f32(rng* r, float* v, size_t count, double lo, double hi) {
    for (size_t i = 0; i < count; i++) {
        float f = (float)(lo + (hi - lo) * rng_uniform(r));
        /* Rounding to float can land on hi itself; step back below it. */
        if (f >= hi && hi > lo) f = nextafterf(f, -INFINITY);
        v[i] = f;
    }
}
