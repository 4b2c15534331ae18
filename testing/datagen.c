/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, integer-only, so
 * the bit stream is the same on every platform, and so are the normal-like
 * deviates built from it (integer sums, exact in double: no libm). */
#include "datagen.h"

#include <math.h>

void rng_seed(rng* r, uint64_t seed) { r->state = seed; }

/* Inlined into rng_normal (rng_next itself may be interposed in a -fPIC
 * build, so calls to it are not). */
static inline uint64_t splitmix64(rng* r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rng_next(rng* r) { return splitmix64(r); }

/* The top 53 bits as a multiple of 2^-53: exact, and never 1. */
double rng_uniform(rng* r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

/* Irwin-Hall: the sum of 12 uniforms minus 6, each uniform 32 bits of the
 * stream: mean 0, variance 1 (exactly, as for the continuous uniform, up to
 * 2^-32), kurtosis 2.9 where a normal has 3, range (-6, 6). Test data needs
 * normal-like values, not normal tails; Box-Muller (a log and a cosine per
 * deviate) was half of the CPU-path matrices' run time, and its libm calls
 * could differ in the last bit between C libraries. The sum is an integer
 * below 2^36 and the scale a power of two, so every step is exact. */
double rng_normal(rng* r) {
    uint64_t sum = 0;
    for (int i = 0; i < 6; i++) {
        uint64_t v = splitmix64(r);
        sum += (v >> 32) + (v & 0xffffffffu);
    }
    return ((double)sum - 6.0 * 4294967295.0) * (1.0 / 4294967296.0);
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
