/* Deterministic test data: a seeded PRNG (same stream on every platform) and
 * the distributions the tests need. */
#ifndef VKBN_TESTING_DATAGEN_H_
#define VKBN_TESTING_DATAGEN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rng {
    uint64_t state;
} rng;

void rng_seed(rng* r, uint64_t seed);
uint64_t rng_next(rng* r);  /* 64 random bits */
double rng_uniform(rng* r); /* [0, 1) */
double rng_normal(rng* r);  /* normal-like: mean 0, variance 1, within (-6, 6) (datagen.c) */

/* Fills v[0..count) with mean + std * N(0, 1), rounded to float. */
void gen_normal_f32(rng* r, float* v, size_t count, double mean, double std);
/* Fills v[0..count) with uniform values in [lo, hi), rounded to float. */
void gen_uniform_f32(rng* r, float* v, size_t count, double lo, double hi);

#ifdef __cplusplus
}
#endif

#endif
