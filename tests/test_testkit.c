/* Tests of the test kit itself (testing/): the fp64 reference, half-float
 * conversion, the PRNG, the comparison and the .npy reader and writer.
 * Needs no device and does not link the library. Temporary files go to the
 * current directory (ctest runs it in the build tree) and are removed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "datagen.h"
#include "npy.h"
#include "reference.h"

/* ------------------------------------------------------------------------ */
/* A minimal harness: counted checks and the closing "N passed, M failed"    */
/* ------------------------------------------------------------------------ */

typedef struct tally {
    int passed;
    int failed;
} tally;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
check_at(tally* t, int ok, int line, const char* fmt, ...) {
    if (ok) {
        t->passed++;
        return;
    }
    t->failed++;
    printf("FAIL test_testkit.c:%d: ", line);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

#define CHECK(t, cond, ...) check_at((t), (cond) ? 1 : 0, __LINE__, __VA_ARGS__)

static int near(double got, double want, double tol) { return fabs(got - want) <= tol; }

/* Checks got[i] == want[i] to within 1e-12 for a whole array. */
static void check_doubles(tally* t, const char* what, const double* got, const double* want, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (!near(got[i], want[i], 1e-12)) {
            CHECK(t, 0, "%s[%llu]: got %.17g, want %.17g", what, (unsigned long long)i, got[i], want[i]);
            return;
        }
    CHECK(t, 1, "%s", what);
}

/* ------------------------------------------------------------------------ */
/* Half floats                                                               */
/* ------------------------------------------------------------------------ */

/* The value of a finite half, decoded arithmetically (independent of the
 * bit-level decoder under test). */
static double half_value(uint16_t h) {
    int exp = (h >> 10) & 0x1f;
    int mant = h & 0x3ff;
    double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return (h & 0x8000) ? -v : v;
}

static int half_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

static void test_f16_exhaustive(tally* t) {
    int decode_bad = 0, roundtrip_bad = 0, nan_bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = ref_f16_to_f32(h);
        if (half_is_nan(h)) {
            nan_bad += !isnan(f) || !half_is_nan(ref_f32_to_f16(f));
            continue;
        }
        int is_inf = (h & 0x7fff) == 0x7c00;
        double want = is_inf ? ((h & 0x8000) ? -INFINITY : INFINITY) : half_value(h);
        /* The sign too: -0 must decode to -0. */
        if ((double)f != want || !signbit(f) != !signbit(want)) {
            if (!decode_bad) printf("  f16 0x%04x decodes to %.9g, want %.9g\n", (unsigned)h, f, want);
            decode_bad++;
        }
        if (ref_f32_to_f16(f) != h) {
            if (!roundtrip_bad)
                printf("  f16 0x%04x -> f32 -> f16 gives 0x%04x\n", (unsigned)h, (unsigned)ref_f32_to_f16(f));
            roundtrip_bad++;
        }
    }
    CHECK(t, decode_bad == 0, "f16 decode: %d of 65536 wrong", decode_bad);
    CHECK(t, roundtrip_bad == 0, "f16 -> f32 -> f16 round trip: %d wrong", roundtrip_bad);
    CHECK(t, nan_bad == 0, "f16 NaNs: %d not kept NaN", nan_bad);
}

static void test_f16_known_cases(tally* t) {
    static const struct {
        float in;
        uint16_t want;
        const char* what;
    } cases[] = {
        {1.0f, 0x3c00, "one"},
        {-2.0f, 0xc000, "minus two"},
        {0.0f, 0x0000, "zero"},
        {-0.0f, 0x8000, "negative zero"},
        {65504.0f, 0x7bff, "largest finite"},
        {65519.0f, 0x7bff, "just below the overflow midpoint"},
        {65520.0f, 0x7c00, "overflow midpoint rounds to inf (even)"},
        {1e10f, 0x7c00, "overflow to inf"},
        {-1e10f, 0xfc00, "overflow to -inf"},
        {1.00048828125f, 0x3c00, "tie 1 + 2^-11 rounds down to even"},
        {1.00146484375f, 0x3c02, "tie 1 + 3*2^-11 rounds up to even"},
        {1.0004884f, 0x3c01, "just above the tie rounds up"},
        {5.9604644775390625e-8f, 0x0001, "smallest subnormal 2^-24"},
        {2.98023223876953125e-8f, 0x0000, "2^-25, half the smallest subnormal: tie to 0"},
        {2.9802326e-8f, 0x0001, "just above 2^-25 rounds up"},
        {8.94069671630859375e-8f, 0x0002, "3*2^-25: tie to even 2"},
        {6.09755516052246094e-5f, 0x03ff, "largest subnormal"},
        {6.10053539276123047e-5f, 0x0400, "tie above the largest subnormal rounds to the smallest normal"},
        {6.103515625e-5f, 0x0400, "smallest normal 2^-14"},
        {1e-30f, 0x0000, "underflow to zero"},
        {-1e-30f, 0x8000, "underflow to negative zero"},
        {1e-45f, 0x0000, "f32 subnormal to zero"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = ref_f32_to_f16(cases[i].in);
        CHECK(t, got == cases[i].want, "f32->f16 %s (%.9g): got 0x%04x, want 0x%04x", cases[i].what, cases[i].in,
              (unsigned)got, (unsigned)cases[i].want);
    }
    CHECK(t, ref_f32_to_f16(INFINITY) == 0x7c00, "f32->f16 +inf");
    CHECK(t, ref_f32_to_f16(-INFINITY) == 0xfc00, "f32->f16 -inf");
    CHECK(t, half_is_nan(ref_f32_to_f16(NAN)), "f32->f16 NaN stays NaN");
    CHECK(t, isinf(ref_f16_to_f32(0x7c00)) && ref_f16_to_f32(0x7c00) > 0, "f16->f32 +inf");
}

/* The nearest half to f (ties to the even code), found by searching the
 * decoded values: an oracle independent of the bit tricks under test. */
static uint16_t nearest_half(float f) {
    if (isnan(f)) return 0x7e00;
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00; /* the midpoint of 65504 and 2^16 rounds to inf */
    uint16_t lo = 0, hi = 0x7bff;           /* largest code with value <= a */
    while (lo < hi) {
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value(mid) <= a)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    double below = half_value(lo);
    double above = lo == 0x7bff ? 65536.0 : half_value((uint16_t)(lo + 1));
    double d_below = a - below, d_above = above - a;
    int up = d_above < d_below || (d_above == d_below && (lo & 1));
    return (uint16_t)(sign | (lo + up));
}

/* Counts disagreements with the oracle, printing the first. */
static int oracle_mismatch(float f, int* bad) {
    uint16_t got = ref_f32_to_f16(f), want = nearest_half(f);
    int ok = isnan(f) ? half_is_nan(got) : got == want;
    if (!ok && !*bad) printf("  f32 %.9g: got f16 0x%04x, want 0x%04x\n", f, (unsigned)got, (unsigned)want);
    *bad += !ok;
    return !ok;
}

static float float_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void test_f32_to_f16_oracle(tally* t) {
    int bad = 0;
    /* Around every rounding boundary of the normal range: low 13 bits near 0 and the tie. */
    static const uint32_t low_bits[] = {0, 1, 0xfff, 0x1000, 0x1001, 0x1fff};
    for (uint32_t exp = 96; exp <= 143; exp++)
        for (uint32_t top = 0; top < 1024; top++)
            for (size_t k = 0; k < sizeof low_bits / sizeof low_bits[0]; k++) {
                uint32_t b = (exp << 23) | (top << 13) | low_bits[k];
                oracle_mismatch(float_from_bits(b), &bad);
                oracle_mismatch(float_from_bits(b | 0x80000000u), &bad);
            }
    /* Every subnormal midpoint (k + 1/2) * 2^-24 and its float neighbours. */
    for (int k = 0; k <= 1024; k++) {
        float mid = (float)ldexp(2 * k + 1, -25);
        oracle_mismatch(mid, &bad);
        oracle_mismatch(nextafterf(mid, 0.0f), &bad);
        oracle_mismatch(nextafterf(mid, 1.0f), &bad);
    }
    /* Random bit patterns over the whole float range. */
    rng r;
    rng_seed(&r, 12345);
    for (int i = 0; i < 1000000; i++) oracle_mismatch(float_from_bits((uint32_t)(rng_next(&r) >> 32)), &bad);
    CHECK(t, bad == 0, "f32->f16 agrees with the nearest-even oracle: %d mismatches", bad);
}

/* ------------------------------------------------------------------------ */
/* The reference                                                             */
/* ------------------------------------------------------------------------ */

static void test_ref_shape_and_index(tally* t) {
    vkbn_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.n = 2;
    d.c = 3;
    d.spatial_rank = 2;
    d.spatial[0] = 4;
    d.spatial[1] = 5;
    d.spatial[2] = 99; /* past the rank: ignored */
    d.layout = VKBN_LAYOUT_CHANNELS_LAST;
    ref_shape sh = ref_shape_from_desc(&d);
    CHECK(t, sh.n == 2 && sh.c == 3 && sh.s == 20 && sh.layout == VKBN_LAYOUT_CHANNELS_LAST,
          "ref_shape_from_desc: n=%llu c=%llu s=%llu", (unsigned long long)sh.n, (unsigned long long)sh.c,
          (unsigned long long)sh.s);
    d.spatial_rank = 0;
    sh = ref_shape_from_desc(&d);
    CHECK(t, sh.s == 1, "ref_shape_from_desc rank 0: s=%llu", (unsigned long long)sh.s);

    ref_shape cf = {2, 3, 4, VKBN_LAYOUT_CHANNELS_FIRST};
    ref_shape cl = {2, 3, 4, VKBN_LAYOUT_CHANNELS_LAST};
    CHECK(t, ref_index(&cf, 1, 0, 2) == 14, "channels-first index (1,0,2)");
    CHECK(t, ref_index(&cl, 1, 0, 2) == 18, "channels-last index (1,0,2)");
    CHECK(t, ref_index(&cf, 0, 2, 1) == 9, "channels-first index (0,2,1)");
    CHECK(t, ref_index(&cl, 0, 2, 1) == 5, "channels-last index (0,2,1)");
}

/* The hand case: n=2, c=2, s=2. Channel 0 holds 1,2,3,4 (mean 2.5, var 1.25);
 * channel 1 is constant 5 (var 0, so y = bias exactly). eps = 2.75 makes
 * channel 0's invstd exactly 0.5. Logical arrays are [n][c][s]. */
enum { HN = 2, HC = 2, HS = 2, HCOUNT = HN * HC * HS };
static const double hand_x[HN][HC][HS] = {{{1, 2}, {5, 5}}, {{3, 4}, {5, 5}}};
static const double hand_z[HN][HC][HS] = {{{0.25, -1}, {2, 0.5}}, {{-2, 0.5}, {1, -3}}};
static const double hand_weight[HC] = {2, 3};
static const double hand_bias[HC] = {1, -1};
static const double hand_eps = 2.75;

/* Logical [n][c][s] -> flat array in the shape's layout. */
static void to_layout(const ref_shape* sh, const double logical[HN][HC][HS], double* flat) {
    for (uint64_t n = 0; n < HN; n++)
        for (uint64_t c = 0; c < HC; c++)
            for (uint64_t s = 0; s < HS; s++) flat[ref_index(sh, n, c, s)] = logical[n][c][s];
}

static void from_layout(const ref_shape* sh, const double* flat, double logical[HN][HC][HS]) {
    for (uint64_t n = 0; n < HN; n++)
        for (uint64_t c = 0; c < HC; c++)
            for (uint64_t s = 0; s < HS; s++) logical[n][c][s] = flat[ref_index(sh, n, c, s)];
}

typedef struct training_variant {
    const char* name;
    int affine, residual;
    vkbn_activation activation;
    double want_y[HN][HC][HS];
} training_variant;

static const training_variant training_variants[] = {
    {"plain", 0, 0, VKBN_ACTIVATION_NONE, {{{-0.75, -0.25}, {0, 0}}, {{0.25, 0.75}, {0, 0}}}},
    {"affine", 1, 0, VKBN_ACTIVATION_NONE, {{{-0.5, 0.5}, {-1, -1}}, {{1.5, 2.5}, {-1, -1}}}},
    {"affine+relu", 1, 0, VKBN_ACTIVATION_RELU, {{{0, 0.5}, {0, 0}}, {{1.5, 2.5}, {0, 0}}}},
    {"affine+add", 1, 1, VKBN_ACTIVATION_NONE, {{{-0.25, -0.5}, {1, -0.5}}, {{-0.5, 3.0}, {0, -4}}}},
    {"affine+add+relu", 1, 1, VKBN_ACTIVATION_RELU, {{{0, 0}, {1, 0}}, {{0, 3.0}, {0, 0}}}},
};

static const char* layout_name(vkbn_layout l) {
    return l == VKBN_LAYOUT_CHANNELS_LAST ? "channels-last" : "channels-first";
}

static void run_training_variant(tally* t, vkbn_layout layout, const training_variant* v) {
    ref_shape sh = {HN, HC, HS, layout};
    double x[HCOUNT], z[HCOUNT], y[HCOUNT], y_logical[HN][HC][HS];
    double mean[HC], invstd[HC], var[HC];
    to_layout(&sh, hand_x, x);
    to_layout(&sh, hand_z, z);
    ref_forward_training a;
    memset(&a, 0, sizeof a);
    a.shape = sh;
    a.x = x;
    a.z = v->residual ? z : NULL;
    a.weight = v->affine ? hand_weight : NULL;
    a.bias = v->affine ? hand_bias : NULL;
    a.eps = hand_eps;
    a.activation = v->activation;
    a.y = y;
    a.mean = mean;
    a.invstd = invstd;
    a.var = var;
    ref_batchnorm_forward_training(&a);

    char what[96];
    from_layout(&sh, y, y_logical);
    snprintf(what, sizeof what, "training %s %s: y", layout_name(layout), v->name);
    check_doubles(t, what, &y_logical[0][0][0], &v->want_y[0][0][0], HCOUNT);
    const double want_mean[HC] = {2.5, 5}, want_invstd[HC] = {0.5, 1 / sqrt(2.75)}, want_var[HC] = {1.25, 0};
    snprintf(what, sizeof what, "training %s %s: mean", layout_name(layout), v->name);
    check_doubles(t, what, mean, want_mean, HC);
    snprintf(what, sizeof what, "training %s %s: invstd", layout_name(layout), v->name);
    check_doubles(t, what, invstd, want_invstd, HC);
    snprintf(what, sizeof what, "training %s %s: var", layout_name(layout), v->name);
    check_doubles(t, what, var, want_var, HC);
}

/* running = 0.9 * running + 0.1 * batch, the variance unbiased (m = 4:
 * 1.25 * 4/3) or biased (1.25). */
static void test_running_update(tally* t, int biased) {
    ref_shape sh = {HN, HC, HS, VKBN_LAYOUT_CHANNELS_FIRST};
    double x[HCOUNT], y[HCOUNT];
    double running_mean[HC] = {1, 0}, running_var[HC] = {2, 4};
    to_layout(&sh, hand_x, x);
    ref_forward_training a;
    memset(&a, 0, sizeof a);
    a.shape = sh;
    a.x = x;
    a.eps = hand_eps;
    a.factor = 0.1;
    a.biased_running_var = biased;
    a.running_mean = running_mean;
    a.running_var = running_var;
    a.y = y;
    ref_batchnorm_forward_training(&a);
    const double want_mean[HC] = {0.9 * 1 + 0.1 * 2.5, 0.1 * 5};
    const double want_var[HC] = {0.9 * 2 + 0.1 * (biased ? 1.25 : 1.25 * 4 / 3), 0.9 * 4};
    check_doubles(t, biased ? "running mean (biased var)" : "running mean", running_mean, want_mean, HC);
    check_doubles(t, biased ? "running var (biased)" : "running var (unbiased)", running_var, want_var, HC);
}

/* Inference on the same x: running_mean {2, 1}, running_var {3, 3}, eps 1
 * (scale 1/2), weight {4, -2}, bias {0.5, 1}: channel 0 gives 2x - 3.5,
 * channel 1 gives -3. */
static void test_inference(tally* t, vkbn_layout layout) {
    static const double running_mean[HC] = {2, 1}, running_var[HC] = {3, 3};
    static const double weight[HC] = {4, -2}, bias[HC] = {0.5, 1};
    static const double want_plain[HN][HC][HS] = {{{-1.5, 0.5}, {-3, -3}}, {{2.5, 4.5}, {-3, -3}}};
    static const double want_add_relu[HN][HC][HS] = {{{0, 0}, {0, 0}}, {{0.5, 5.0}, {0, 0}}};
    ref_shape sh = {HN, HC, HS, layout};
    double x[HCOUNT], z[HCOUNT], y[HCOUNT], y_logical[HN][HC][HS];
    to_layout(&sh, hand_x, x);
    to_layout(&sh, hand_z, z);
    ref_forward_inference a;
    memset(&a, 0, sizeof a);
    a.shape = sh;
    a.x = x;
    a.weight = weight;
    a.bias = bias;
    a.running_mean = running_mean;
    a.running_var = running_var;
    a.eps = 1.0;
    a.y = y;
    char what[80];
    ref_batchnorm_forward_inference(&a);
    from_layout(&sh, y, y_logical);
    snprintf(what, sizeof what, "inference %s: y", layout_name(layout));
    check_doubles(t, what, &y_logical[0][0][0], &want_plain[0][0][0], HCOUNT);

    a.z = z;
    a.activation = VKBN_ACTIVATION_RELU;
    ref_batchnorm_forward_inference(&a);
    from_layout(&sh, y, y_logical);
    snprintf(what, sizeof what, "inference %s add+relu: y", layout_name(layout));
    check_doubles(t, what, &y_logical[0][0][0], &want_add_relu[0][0][0], HCOUNT);
}

/* A mean of 1e4 with unit spread: the two-pass variance stays exact where
 * E[x^2] - E[x]^2 would cancel. */
static void test_reference_large_mean(tally* t) {
    ref_shape sh = {4, 1, 1, VKBN_LAYOUT_CHANNELS_FIRST};
    const double x[4] = {10000 + 1, 10000 + 2, 10000 + 3, 10000 + 4};
    double y[4], mean, var;
    ref_forward_training a;
    memset(&a, 0, sizeof a);
    a.shape = sh;
    a.x = x;
    a.eps = 0;
    a.y = y;
    a.mean = &mean;
    a.var = &var;
    ref_batchnorm_forward_training(&a);
    CHECK(t, mean == 10002.5 && var == 1.25, "large mean: mean %.17g var %.17g", mean, var);
}

static void test_reference(tally* t) {
    test_ref_shape_and_index(t);
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < sizeof training_variants / sizeof training_variants[0]; i++)
            run_training_variant(t, (vkbn_layout)l, &training_variants[i]);
    test_running_update(t, 0);
    test_running_update(t, 1);
    test_inference(t, VKBN_LAYOUT_CHANNELS_FIRST);
    test_inference(t, VKBN_LAYOUT_CHANNELS_LAST);
    test_reference_large_mean(t);
}

/* ------------------------------------------------------------------------ */
/* Comparison                                                                */
/* ------------------------------------------------------------------------ */

static void test_compare(tally* t) {
    const double want[4] = {1.0, -2.0, 100.0, 0.0};
    const float exact[4] = {1.0f, -2.0f, 100.0f, 0.0f};
    cmp_result r = cmp_f32(exact, want, 4, 0.0, 0.0);
    CHECK(t, r.ok && r.max_abs == 0 && r.max_scaled == 0 && r.nonfinite == 0, "cmp exact match, zero tolerance");

    const float off[4] = {1.001f, -2.0f, 100.5f, 0.0f};
    r = cmp_f32(off, want, 4, 1e-3, 1e-3); /* tolerances 0.002, 0.003, 0.101, 0.001 */
    CHECK(t, !r.ok && r.worst == 2 && near(r.max_abs, 0.5, 1e-9) && near(r.max_scaled, 0.5 / 0.101, 1e-6),
          "cmp outside tolerance: ok=%d worst=%llu max_abs=%g max_scaled=%g", r.ok, (unsigned long long)r.worst,
          r.max_abs, r.max_scaled);
    r = cmp_f32(off, want, 4, 1e-3, 1e-2);
    CHECK(t, r.ok && r.worst == 2, "cmp within tolerance: ok=%d worst=%llu", r.ok, (unsigned long long)r.worst);

    const double want_nf[4] = {NAN, INFINITY, -INFINITY, 1.0};
    const float got_nf[4] = {NAN, INFINITY, -INFINITY, 1.0f};
    r = cmp_f32(got_nf, want_nf, 4, 0.0, 0.0);
    CHECK(t, r.ok && r.nonfinite == 0, "cmp NaN matches NaN, inf matches inf");

    const float got_bad[4] = {1.0f, -INFINITY, INFINITY, NAN};
    r = cmp_f32(got_bad, want_nf, 4, 1.0, 1.0);
    CHECK(t, !r.ok && r.nonfinite == 4 && r.worst == 0, "cmp nonfinite mismatches: nonfinite=%llu worst=%llu",
          (unsigned long long)r.nonfinite, (unsigned long long)r.worst);

    r = cmp_f32(exact, want, 0, 0.0, 0.0);
    CHECK(t, r.ok, "cmp of zero elements is ok");
}

/* ------------------------------------------------------------------------ */
/* PRNG                                                                      */
/* ------------------------------------------------------------------------ */

static void test_rng(tally* t) {
    rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int same = 1, differs = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t va = rng_next(&a), vb = rng_next(&b), vc = rng_next(&c);
        same &= va == vb;
        differs |= va != vc;
    }
    CHECK(t, same, "rng: same seed, same stream");
    CHECK(t, differs, "rng: another seed, another stream");
    rng_seed(&a, 0);
    uint64_t first = rng_next(&a);
    CHECK(t, first == 0xe220a8397b1dcdafull, "rng: splitmix64(0) first output 0x%016llx", (unsigned long long)first);

    rng_seed(&a, 7);
    rng_seed(&b, 7);
    same = 1;
    for (int i = 0; i < 5; i++) same &= rng_normal(&a) == rng_normal(&b);
    CHECK(t, same, "rng_normal: same seed, same values");

    int in_range = 1;
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&a);
        in_range &= u >= 0.0 && u < 1.0;
    }
    CHECK(t, in_range, "rng_uniform in [0, 1)");
}

/* Sample moments of 100k of rng_normal's deviates (Irwin-Hall, 12 uniforms):
 * mean 0, variance 1, kurtosis 2.9 (a normal's 3 less 6/60), all within
 * (-6, 6) (standard errors about 0.003, 0.0045 and 0.015). */
static void test_normal_moments(tally* t) {
    enum { COUNT = 100000 };
    rng r;
    rng_seed(&r, 2024);
    double s1 = 0, s2 = 0, s4 = 0;
    double* v = malloc(COUNT * sizeof *v);
    float* f = malloc(COUNT * sizeof *f);
    if (!v || !f) {
        CHECK(t, 0, "out of memory");
        free(v);
        free(f);
        return;
    }
    int bounded = 1;
    for (int i = 0; i < COUNT; i++) {
        s1 += v[i] = rng_normal(&r);
        bounded &= fabs(v[i]) < 6.0;
    }
    CHECK(t, bounded, "normal deviates within (-6, 6)");
    double mean = s1 / COUNT;
    for (int i = 0; i < COUNT; i++) {
        double d = (v[i] - mean) * (v[i] - mean);
        s2 += d;
        s4 += d * d;
    }
    double var = s2 / COUNT, kurtosis = (s4 / COUNT) / (var * var);
    CHECK(t, fabs(mean) < 0.02, "normal mean %g", mean);
    CHECK(t, fabs(var - 1) < 0.03, "normal variance %g", var);
    CHECK(t, fabs(kurtosis - 2.9) < 0.06, "normal kurtosis %g (Irwin-Hall: 2.9)", kurtosis);

    gen_normal_f32(&r, f, COUNT, 10.0, 3.0);
    double fs = 0, fs2 = 0;
    for (int i = 0; i < COUNT; i++) fs += f[i];
    for (int i = 0; i < COUNT; i++) fs2 += (f[i] - fs / COUNT) * (f[i] - fs / COUNT);
    CHECK(t, fabs(fs / COUNT - 10) < 0.06 && fabs(sqrt(fs2 / COUNT) - 3) < 0.05, "gen_normal_f32 mean %g std %g",
          fs / COUNT, sqrt(fs2 / COUNT));

    int in_range = 1;
    gen_uniform_f32(&r, f, COUNT, -2.0, 3.0);
    for (int i = 0; i < COUNT; i++) in_range &= f[i] >= -2.0f && f[i] < 3.0f;
    CHECK(t, in_range, "gen_uniform_f32 in [-2, 3)");
    free(v);
    free(f);
}

/* ------------------------------------------------------------------------ */
/* .npy files                                                                */
/* ------------------------------------------------------------------------ */

static long file_size(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return size;
}

/* The header length field and the layout rules of a written 1.0 file. */
static int written_header_ok(const char* path, size_t* header_len) {
    unsigned char buf[1024];
    FILE* f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (got < 10 || memcmp(buf, "\x93NUMPY\x01\x00", 8) != 0) return 0;
    size_t len = (size_t)buf[8] | ((size_t)buf[9] << 8);
    *header_len = len;
    if ((10 + len) % 64 != 0 || 10 + len > got || buf[10 + len - 1] != '\n') return 0;
    size_t close = 10;
    while (close < 10 + len && buf[close] != '}') close++;
    for (size_t i = close + 1; i < 10 + len - 1; i++)
        if (buf[i] != ' ') return 0;
    return 1;
}

static void roundtrip_case(tally* t, npy_dtype dtype, uint32_t ndim, const uint64_t* shape, uint64_t count) {
    char path[64], err[256];
    snprintf(path, sizeof path, "test_testkit_rt_%s_%ud.npy", npy_dtype_descr(dtype) + 1, (unsigned)ndim);
    npy_array a;
    memset(&a, 0, sizeof a);
    a.dtype = dtype;
    a.ndim = ndim;
    if (ndim) memcpy(a.shape, shape, ndim * sizeof *shape);
    a.count = count;
    size_t bytes = (size_t)count * npy_dtype_size(dtype);
    unsigned char* data = malloc(bytes);
    rng r;
    rng_seed(&r, ndim + 100u * dtype);
    for (size_t i = 0; i < bytes; i++) data[i] = (unsigned char)rng_next(&r);
    a.data = data;

    int rc = npy_write(path, &a, err, sizeof err);
    CHECK(t, rc == 0, "npy_write %s: %s", path, err);
    size_t header_len = 0;
    CHECK(t, written_header_ok(path, &header_len), "%s: header not NumPy-aligned (len %llu)", path,
          (unsigned long long)header_len);
    CHECK(t, file_size(path) == (long)(10 + header_len + bytes), "%s: file size %ld", path, file_size(path));

    npy_array b;
    rc = npy_read(path, &b, err, sizeof err);
    CHECK(t, rc == 0, "npy_read %s: %s", path, err);
    if (rc == 0) {
        int same_shape = b.dtype == dtype && b.ndim == ndim && b.count == count &&
                         (ndim == 0 || memcmp(b.shape, shape, ndim * sizeof *shape) == 0);
        CHECK(t, same_shape, "%s: dtype/shape/count differ after the round trip", path);
        CHECK(t, same_shape && memcmp(b.data, data, bytes) == 0, "%s: data differ after the round trip", path);
    }
    npy_free(&b);
    free(data);
    remove(path);
}

static void test_npy_roundtrip(tally* t) {
    static const uint64_t shape3[3] = {2, 3, 4};
    static const uint64_t shape1[1] = {5};
    static const npy_dtype dtypes[] = {NPY_F32, NPY_F16, NPY_U16, NPY_I16, NPY_U8};
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        npy_dtype dtype = dtypes[d];
        roundtrip_case(t, dtype, 0, NULL, 1);
        roundtrip_case(t, dtype, 1, shape1, 5);
        roundtrip_case(t, dtype, 3, shape3, 24);
    }
}

/* What np.save(np.arange(6, dtype=np.float32).reshape(2, 3)) writes (NumPy
 * 1.24): the dict, 20 spaces of room for axis 0, padding to 128, '\n'. */
static void test_npy_matches_numpy_writer(tally* t) {
    const char* path = "test_testkit_numpy_layout.npy";
    char err[256];
    float values[6] = {0, 1, 2, 3, 4, 5};
    npy_array a;
    memset(&a, 0, sizeof a);
    a.dtype = NPY_F32;
    a.ndim = 2;
    a.shape[0] = 2;
    a.shape[1] = 3;
    a.count = 6;
    a.data = values;
    CHECK(t, npy_write(path, &a, err, sizeof err) == 0, "npy_write: %s", err);
    unsigned char buf[256];
    FILE* f = fopen(path, "rb");
    size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    remove(path);
    const char* dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(t, got == 128 + 24, "numpy-identical file size: got %llu, want 152", (unsigned long long)got);
    CHECK(t, got >= 128 && buf[8] == 118 && buf[9] == 0, "numpy-identical header length 118");
    CHECK(t, got >= 128 && memcmp(buf + 10, dict, strlen(dict)) == 0, "numpy-identical header dict");
}

/* Writes magic, version, the header padded NumPy-style, then `data`. */
static void write_raw_npy(const char* path, int major, const char* dict, const void* data, size_t data_len) {
    size_t len_bytes = major == 1 ? 2 : 4;
    size_t dict_len = strlen(dict);
    size_t header_len = dict_len + 1;
    while ((8 + len_bytes + header_len) % 64) header_len++;
    FILE* f = fopen(path, "wb");
    if (!f) return;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    for (size_t i = 0; i < len_bytes; i++) pre[8 + i] = (unsigned char)(header_len >> (8 * i));
    fwrite(pre, 1, 8 + len_bytes, f);
    fwrite(dict, 1, dict_len, f);
    for (size_t i = dict_len; i + 1 < header_len; i++) fputc(' ', f);
    fputc('\n', f);
    if (data_len) fwrite(data, 1, data_len, f);
    fclose(f);
}

/* Hand-built headers NumPy (or other writers) produce, all for f32 (2, 3). */
static void test_npy_read_variants(tally* t) {
    static const struct {
        int major;
        const char* dict;
    } variants[] = {
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}"},
        {1, "{ \"descr\" : \"<f4\" ,\n 'fortran_order':False,'shape':( 2 ,3 , ) , }"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }"},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
        {3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
    };
    const char* path = "test_testkit_variant.npy";
    float values[7] = {0.5f, 1, 2, 3, 4, 5.25f, 99}; /* the 7th is trailing data, ignored */
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char err[256] = "";
        write_raw_npy(path, variants[i].major, variants[i].dict, values, sizeof values);
        npy_array a;
        int rc = npy_read(path, &a, err, sizeof err);
        int ok = rc == 0 && a.dtype == NPY_F32 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6 &&
                 memcmp(a.data, values, 6 * sizeof(float)) == 0;
        CHECK(t, ok, "read v%d.0 header %s: %s", variants[i].major, variants[i].dict, rc ? err : "wrong contents");
        npy_free(&a);
    }
    /* A 0-d f16 array: shape (), one element. */
    uint16_t half = 0x3c00;
    write_raw_npy(path, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (), }", &half, 2);
    npy_array a;
    char err[256] = "";
    int rc = npy_read(path, &a, err, sizeof err);
    CHECK(t, rc == 0 && a.dtype == NPY_F16 && a.ndim == 0 && a.count == 1 && ((uint16_t*)a.data)[0] == 0x3c00,
          "read 0-d f16: %s", err);
    npy_free(&a);
    /* bf16 bit patterns (1.0, -2.0) as np.save writes x.view(np.uint16) and
     * torch's x.view(torch.int16).numpy(): the bits come back unchanged. */
    static const struct {
        const char* dict;
        npy_dtype dtype;
    } bits16[] = {{"{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", NPY_U16},
                  {"{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", NPY_I16}};
    const uint16_t bf16[2] = {0x3f80, 0xc000};
    for (size_t i = 0; i < sizeof bits16 / sizeof bits16[0]; i++) {
        write_raw_npy(path, 1, bits16[i].dict, bf16, sizeof bf16);
        rc = npy_read(path, &a, err, sizeof err);
        CHECK(t, rc == 0 && a.dtype == bits16[i].dtype && a.ndim == 1 && a.count == 2 && memcmp(a.data, bf16, 4) == 0,
              "read %s: %s", bits16[i].dict, rc ? err : "wrong contents");
        npy_free(&a);
    }
    remove(path);
}

/* Each bad file is rejected with a message that names it and says why. */
static void test_npy_rejects(tally* t) {
    static const struct {
        const char* dict;
        size_t data_len;
        const char* why; /* a substring the message must hold */
    } bad[] = {
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "'>f4'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, "'<f8'"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "expected dtype '<f4' or '<f2'"},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24, "'<i4'"},
        {"{'descr': '>u2', 'fortran_order': False, 'shape': (2, 3), }", 12, "'>u2'"},
        {"{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }", 6, "'<u2' or '<i2'"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "fortran"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False}", 24, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", 24, "extra"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", 24, "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", 24, "overflow"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4, "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk", 24, "after"},
        {"['descr', '<f4']", 24, "header"},
    };
    const char* path = "test_testkit_bad.npy";
    float zeros[12] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        write_raw_npy(path, 1, bad[i].dict, zeros, bad[i].data_len);
        npy_array a;
        int rc = npy_read(path, &a, err, sizeof err);
        CHECK(t, rc != 0 && a.data == NULL, "should reject %s", bad[i].dict);
        CHECK(t, strstr(err, path) && strstr(err, bad[i].why), "message for %s: '%s' should name %s and hold %s",
              bad[i].dict, err, path, bad[i].why);
        if (rc == 0) npy_free(&a);
    }
    /* Not a .npy file, an unknown version, a missing file. */
    FILE* f = fopen(path, "wb");
    if (f) {
        fputs("hello, world: not numpy", f);
        fclose(f);
    }
    char err[256] = "";
    npy_array a;
    CHECK(t, npy_read(path, &a, err, sizeof err) != 0 && strstr(err, path) && strstr(err, "magic"), "bad magic: '%s'",
          err);
    write_raw_npy(path, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", zeros, 24);
    CHECK(t, npy_read(path, &a, err, sizeof err) != 0 && strstr(err, path) && strstr(err, "version"),
          "version 4.0: '%s'", err);
    remove(path);
    const char* missing = "test_testkit_does_not_exist.npy";
    CHECK(t, npy_read(missing, &a, err, sizeof err) != 0 && strstr(err, missing), "missing file: '%s'", err);
}

static void test_npy_write_rejects(tally* t) {
    char err[256] = "";
    float v[6] = {0};
    npy_array a;
    memset(&a, 0, sizeof a);
    a.dtype = NPY_F32;
    a.ndim = 2;
    a.shape[0] = 2;
    a.shape[1] = 3;
    a.count = 5; /* does not match the shape */
    a.data = v;
    const char* path = "test_testkit_write_bad.npy";
    CHECK(t, npy_write(path, &a, err, sizeof err) != 0 && strstr(err, path) && strstr(err, "count"),
          "write with a wrong count: '%s'", err);
    a.count = 6;
    a.ndim = NPY_MAX_DIMS + 1;
    CHECK(t, npy_write(path, &a, err, sizeof err) != 0 && strstr(err, "ndim"), "write with too many dims: '%s'", err);
    CHECK(t, file_size(path) < 0, "a rejected write leaves no file");
}

static void test_npy(tally* t) {
    test_npy_roundtrip(t);
    test_npy_matches_numpy_writer(t);
    test_npy_read_variants(t);
    test_npy_rejects(t);
    test_npy_write_rejects(t);
}

int main(void) {
    tally t = {0, 0};
    test_f16_exhaustive(&t);
    test_f16_known_cases(&t);
    test_f32_to_f16_oracle(&t);
    test_reference(&t);
    test_compare(&t);
    test_rng(&t);
    test_normal_moments(&t);
    test_npy(&t);
    printf("%d passed, %d failed\n", t.passed, t.failed);
    return t.failed ? 1 : 0;
}
