/* The fp64 reference of SEMANTICS.md. Plain loops in double precision,
 * written for clarity: one channel at a time, two passes for the statistics. */
#include "reference.h"

#include <math.h>
#include <string.h>

ref_shape ref_shape_from_desc(const vkbn_tensor_desc* t) {
    ref_shape sh;
    uint32_t rank = t->spatial_rank < VKBN_MAX_SPATIAL_RANK ? t->spatial_rank : VKBN_MAX_SPATIAL_RANK;
    sh.n = t->n;
    sh.c = t->c;
    sh.s = 1;
    for (uint32_t i = 0; i < rank; i++) sh.s *= t->spatial[i];
    sh.layout = t->layout;
    return sh;
}

uint64_t ref_index(const ref_shape* sh, uint64_t n, uint64_t c, uint64_t s) {
    if (sh->layout == VKBN_LAYOUT_CHANNELS_LAST) return (n * sh->s + s) * sh->c + c;
    return (n * sh->c + c) * sh->s + s;
}

/* ------------------------------------------------------------------------ */
/* Batch normalization                                                       */
/* ------------------------------------------------------------------------ */

static double channel_mean(const ref_shape* sh, const double* x, uint64_t c) {
    double sum = 0.0;
    for (uint64_t n = 0; n < sh->n; n++)
        for (uint64_t s = 0; s < sh->s; s++) sum += x[ref_index(sh, n, c, s)];
    return sum / (double)(sh->n * sh->s);
}

/* Biased variance by the second pass over squared deviations from the mean
 * (never E[x^2] - E[x]^2, which cancels). */
static double channel_variance(const ref_shape* sh, const double* x, uint64_t c, double mean) {
    double sum = 0.0;
    for (uint64_t n = 0; n < sh->n; n++)
        for (uint64_t s = 0; s < sh->s; s++) {
            double d = x[ref_index(sh, n, c, s)] - mean;
            sum += d * d;
        }
    return sum / (double)(sh->n * sh->s);
}

/* ------------------------------------------------------------------------ */
/* Activations                                                               */
/* ------------------------------------------------------------------------ */

/* Written with comparisons that let NaN through, as PyTorch's do. */
double ref_activation(vkbn_activation a, double u, double alpha, double beta) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: return u < 0.0 ? 0.0 : u;
        case VKBN_ACTIVATION_LEAKY_RELU: return u < 0.0 ? alpha * u : u;
        case VKBN_ACTIVATION_CLAMP: return u < alpha ? alpha : u > beta ? beta : u;
        case VKBN_ACTIVATION_SILU: return u / (1.0 + exp(-u));
        case VKBN_ACTIVATION_NONE: break;
    }
    return u;
}

int ref_activation_reads_y(vkbn_activation a) {
    return a == VKBN_ACTIVATION_RELU || a == VKBN_ACTIVATION_LEAKY_RELU || a == VKBN_ACTIVATION_CLAMP;
}

double ref_activation_grad_from_y(vkbn_activation a, double dy, double y, double alpha, double beta) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: return y > 0.0 ? dy : 0.0;
        case VKBN_ACTIVATION_LEAKY_RELU: return y > 0.0 ? dy : dy * alpha;
        case VKBN_ACTIVATION_CLAMP: return y > alpha && y < beta ? dy : 0.0;
        default: return dy;
    }
}

double ref_activation_grad_from_u(vkbn_activation a, double dy, double u, double alpha, double beta) {
    switch (a) {
        case VKBN_ACTIVATION_RELU: return u > 0.0 ? dy : 0.0;
        case VKBN_ACTIVATION_LEAKY_RELU: return u > 0.0 ? dy : dy * alpha;
        case VKBN_ACTIVATION_CLAMP: return u > alpha && u < beta ? dy : 0.0;
        case VKBN_ACTIVATION_SILU: {
            double s = 1.0 / (1.0 + exp(-u));
            return dy * s * (1.0 + u * (1.0 - s));
        }
        case VKBN_ACTIVATION_NONE: break;
    }
    return dy;
}

/* The fusions after the affine map: residual add, then the activation. */
static double fuse(double v, const double* z, uint64_t i, vkbn_activation activation, double alpha, double beta) {
    if (z) v += z[i];
    return ref_activation(activation, v, alpha, beta);
}

/* y = gamma * (x - center) * scale + beta (then the fusions) for one channel. */
static void normalize_channel(const ref_shape* sh, const double* x, const double* z, uint64_t c, double center,
                              double scale, double gamma, double beta, vkbn_activation activation, double alpha,
                              double act_beta, double* y) {
    for (uint64_t n = 0; n < sh->n; n++)
        for (uint64_t s = 0; s < sh->s; s++) {
            uint64_t i = ref_index(sh, n, c, s);
            y[i] = fuse(gamma * (x[i] - center) * scale + beta, z, i, activation, alpha, act_beta);
        }
}

void ref_batchnorm_forward_training(const ref_forward_training* a) {
    const ref_shape* sh = &a->shape;
    uint64_t m = sh->n * sh->s;
    for (uint64_t c = 0; c < sh->c; c++) {
        double mean = channel_mean(sh, a->x, c);
        double var = channel_variance(sh, a->x, c, mean);
        double invstd = 1.0 / sqrt(var + a->eps);
        double gamma = a->weight ? a->weight[c] : 1.0;
        double beta = a->bias ? a->bias[c] : 0.0;
        normalize_channel(sh, a->x, a->z, c, mean, invstd, gamma, beta, a->activation, a->activation_alpha,
                          a->activation_beta, a->y);
        /* mean, invstd and var are optional outputs: NULL skips them. */
        if (a->mean) a->mean[c] = mean;
        if (a->invstd) a->invstd[c] = invstd;
        if (a->var) a->var[c] = var;
        if (a->running_mean && a->running_var) {
            /* m = 1 is an error for the library; here the unbiased estimate
             * is then NaN rather than a division by zero. */
            double var_est = a->biased_running_var ? var : m > 1 ? var * (double)m / (double)(m - 1) : NAN;
            double f = a->factor;
            a->running_mean[c] = (1.0 - f) * a->running_mean[c] + f * mean;
            a->running_var[c] = (1.0 - f) * a->running_var[c] + f * var_est;
        }
    }
}

void ref_batchnorm_forward_inference(const ref_forward_inference* a) {
    const ref_shape* sh = &a->shape;
    for (uint64_t c = 0; c < sh->c; c++) {
        double scale = 1.0 / sqrt(a->running_var[c] + a->eps);
        double gamma = a->weight ? a->weight[c] : 1.0;
        double beta = a->bias ? a->bias[c] : 0.0;
        normalize_channel(sh, a->x, a->z, c, a->running_mean[c], scale, gamma, beta, a->activation, a->activation_alpha,
                          a->activation_beta, a->y);
    }
}

/* g = dy * act'(u) of element i of channel c (xhat given). */
static double backward_grad(const ref_backward* a, uint64_t i, uint64_t c, double xhat) {
    double alpha = a->activation_alpha, beta = a->activation_beta;
    if (ref_activation_reads_y(a->activation)) {
        return ref_activation_grad_from_y(a->activation, a->dy[i], a->y[i], alpha, beta);
    }
    double gamma = a->weight ? a->weight[c] : 1.0, shift = a->bias ? a->bias[c] : 0.0;
    double u = gamma * xhat + shift + (a->z ? a->z[i] : 0.0);
    return ref_activation_grad_from_u(a->activation, a->dy[i], u, alpha, beta);
}

void ref_batchnorm_backward(const ref_backward* a) {
    const ref_shape* sh = &a->shape;
    double m = (double)(sh->n * sh->s);
    for (uint64_t c = 0; c < sh->c; c++) {
        double mean = a->frozen ? a->running_mean[c] : a->save_mean[c];
        double invstd = a->frozen ? 1.0 / sqrt(a->running_var[c] + a->eps) : a->save_invstd[c];
        double gamma = a->weight ? a->weight[c] : 1.0;
        double sum_g = 0.0, sum_gx = 0.0;
        for (uint64_t n = 0; n < sh->n; n++)
            for (uint64_t s = 0; s < sh->s; s++) {
                uint64_t i = ref_index(sh, n, c, s);
                double xhat = (a->x[i] - mean) * invstd;
                double g = backward_grad(a, i, c, xhat);
                sum_g += g;
                sum_gx += g * xhat;
                if (a->dz) a->dz[i] = g;
            }
        if (a->dbias) a->dbias[c] = sum_g;
        if (a->dweight) a->dweight[c] = sum_gx;
        if (!a->dx) continue;
        for (uint64_t n = 0; n < sh->n; n++)
            for (uint64_t s = 0; s < sh->s; s++) {
                uint64_t i = ref_index(sh, n, c, s);
                double xhat = (a->x[i] - mean) * invstd;
                double g = backward_grad(a, i, c, xhat);
                a->dx[i] = a->frozen ? gamma * invstd * g : gamma * invstd * (g - sum_g / m - xhat * sum_gx / m);
            }
    }
}

/* ------------------------------------------------------------------------ */
/* IEEE binary16 <-> binary32, by hand on the bit patterns                   */
/* ------------------------------------------------------------------------ */

static uint32_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static float f32_from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* q + round-to-nearest-even of the `shift` low bits dropped from `bits`
 * (q = bits >> shift). A carry out of the mantissa correctly bumps the
 * exponent, up to infinity. shift is 1..31. */
static uint32_t shift_round_even(uint32_t bits, uint32_t shift) {
    uint32_t q = bits >> shift;
    uint32_t rem = bits & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;
    return q;
}

uint16_t ref_f32_to_f16(float f) {
    uint32_t b = f32_bits(f);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    uint32_t exp = (b >> 23) & 0xffu;
    uint32_t mant = b & 0x7fffffu;

    if (exp == 0xffu) {
        if (mant == 0) return (uint16_t)(sign | 0x7c00u);
        /* NaN: keep the payload's top bits and make it quiet. */
        return (uint16_t)(sign | 0x7e00u | (mant >> 13));
    }
    int e = (int)exp - 127;
    if (e > 15) return (uint16_t)(sign | 0x7c00u);
    if (e >= -14) {
        /* Normal half: re-bias the exponent, round the mantissa from 23 to 10 bits. */
        uint32_t bits = ((uint32_t)(e + 15) << 23) | mant;
        return (uint16_t)(sign | shift_round_even(bits, 13));
    }
    /* Subnormal half (or zero): the value is (1.mant) * 2^e, counted in
     * units of 2^-24 that is (mant | 1 << 23) >> -(e + 1). f32 zeros and
     * subnormals (exp 0) are far below half's smallest subnormal. */
    if (exp == 0) return sign;
    uint32_t shift = (uint32_t)(-(e + 1)); /* >= 14 */
    if (shift > 24) return sign;           /* below half of 2^-24: rounds to 0 */
    return (uint16_t)(sign | shift_round_even(mant | 0x800000u, shift));
}

float ref_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;

    if (exp == 0x1fu) return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign);
    /* Subnormal half: normalize so the leading 1 becomes implicit. */
    uint32_t e = 113u; /* the f32 biased exponent of 2^-14 */
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return f32_from_bits(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

uint16_t ref_f32_to_bf16(float f) {
    uint32_t b = f32_bits(f);
    if ((b & 0x7f800000u) == 0x7f800000u && (b & 0x7fffffu) != 0) return (uint16_t)((b >> 16) | 0x40u);
    /* The dropped 16 bits against one half of the kept half's last place. */
    return (uint16_t)shift_round_even(b, 16);
}

float ref_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

float ref_storage_round(float v, int dtype) {
    switch (dtype) {
        case 1: return ref_f16_to_f32(ref_f32_to_f16(v));
        case 2: return ref_bf16_to_f32(ref_f32_to_bf16(v));
        default: return v;
    }
}

double ref_storage_ulp(int dtype) { return dtype == 1 ? 1.0 / 1024.0 : dtype == 2 ? 1.0 / 128.0 : 0.0; }

const char* ref_dtype_name(int dtype) { return dtype == 1 ? "f16" : dtype == 2 ? "bf16" : "f32"; }

void ref_storage_encode(void* dst, const float* v, uint64_t count, int dtype) {
    if (dtype == 0) {
        memcpy(dst, v, count * sizeof *v);
        return;
    }
    uint16_t* h = dst;
    for (uint64_t i = 0; i < count; ++i) h[i] = dtype == 1 ? ref_f32_to_f16(v[i]) : ref_f32_to_bf16(v[i]);
}

void ref_storage_decode(float* dst, const void* src, uint64_t count, int dtype) {
    if (dtype == 0) {
        memcpy(dst, src, count * sizeof *dst);
        return;
    }
    const uint16_t* h = src;
    for (uint64_t i = 0; i < count; ++i) dst[i] = dtype == 1 ? ref_f16_to_f32(h[i]) : ref_bf16_to_f32(h[i]);
}
