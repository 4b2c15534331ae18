/* Golden hashes: every output buffer of a fixed set of cases, hashed bit for
 * bit (FNV-1a 64 over the downloaded bytes) and compared with
 * tests/golden/hashes.txt, so that a redesign of the library's middle can
 * prove its results unchanged. Public API only; the inputs come from this
 * file alone (its own PRNG, normal-like values from sums of uniforms, its own
 * f16 rounding; of libm only sqrt, which IEEE rounds exactly), so only the
 * library can move a hash.
 *
 *   test_golden check    [--backend cpu|lavapipe|all] [--only PATTERN] [--golden FILE] [--verbose]
 *   test_golden generate [--backend ...] [--only PATTERN] [--golden FILE] [--commit HASH]
 *
 * PATTERN selects the case ids that start with it, '*' matching any run of
 * characters: "cpu-avx2-t2/" one configuration, "cpu-*" + "/sync/" (written
 * together) the CPU path's synchronized passes.
 * generate replaces the selected entries of the configurations it ran and
 * keeps every other line; check fails on a mismatch, on a case the file
 * lacks and on an entry of a configuration that ran but that the test no
 * longer produces; entries of configurations that did not run here (an ISA
 * level this CPU lacks, another LP_NATIVE_VECTOR_WIDTH, another Mesa) are
 * reported as skipped.
 *
 * Configurations: the CPU path at 1 and 2 threads for every ISA level of the
 * architecture ("cpu-avx2-t2"), and at 1 thread with streaming stores forced
 * on a few shapes ("cpu-avx2-t1-stream"; the cpu_stream_bytes test hook, which the
 * other configurations pin off so that the machine's cache size decides
 * nothing); lavapipe at the LP_NATIVE_VECTOR_WIDTH of the environment with
 * subgroups on and off ("lvp-w256-sg", "lvp-w256-nosg"), validation layers on
 * (any message fails). Exit 77 when nothing could run. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"

#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#define HAVE_GLIBC_VERSION 1
#endif

#ifndef VKBN_GOLDEN_FILE
#define VKBN_GOLDEN_FILE "tests/golden/hashes.txt"
#endif

/* ------------------------------------------------------------------------ */
/* Hashes and the result list                                                */
/* ------------------------------------------------------------------------ */

static uint64_t fnv1a(const void* data, size_t size) {
    const unsigned char* p = (const unsigned char*)data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

typedef struct entry {
    char* id;
    uint64_t hash;
} entry;

typedef struct entry_list {
    entry* v;
    size_t n, cap;
} entry_list;

static char* dup_str(const char* s) {
    size_t n = strlen(s) + 1;
    char* d = (char*)malloc(n);
    memcpy(d, s, n);
    return d;
}

static void list_add(entry_list* l, const char* id, uint64_t hash) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = (entry*)realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].id = dup_str(id);
    l->v[l->n].hash = hash;
    l->n++;
}

static void list_free(entry_list* l) {
    for (size_t i = 0; i < l->n; ++i) free(l->v[i].id);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int entry_cmp(const void* a, const void* b) { return strcmp(((const entry*)a)->id, ((const entry*)b)->id); }

static entry* list_find(const entry_list* l, const char* id) {
    entry key = {(char*)id, 0};
    return l->n ? (entry*)bsearch(&key, l->v, l->n, sizeof *l->v, entry_cmp) : NULL;
}

/* '*' matches any run of characters; the pattern is a prefix. */
static int glob_prefix(const char* p, const char* s) {
    if (!*p) return 1;
    if (*p == '*') {
        for (;; ++s) {
            if (glob_prefix(p + 1, s)) return 1;
            if (!*s) return 0;
        }
    }
    return *s && *p == *s && glob_prefix(p + 1, s + 1);
}

/* The configuration of a case id: everything before the first '/'. */
static void config_of(const char* id, char* out, size_t size) {
    size_t n = strcspn(id, "/");
    if (n >= size) n = size - 1;
    memcpy(out, id, n);
    out[n] = 0;
}

/* ------------------------------------------------------------------------ */
/* Run state                                                                 */
/* ------------------------------------------------------------------------ */

static struct {
    const char* only; /* case-id pattern or NULL */
    int verbose;
    entry_list results;
    int errors;     /* API failures and validation messages */
    char cfg[64];   /* the configuration running */
    char path[512]; /* the case path being built (after the configuration) */
    vkbn_context ctx;
} g;

static void failf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL %s/%s: ", g.cfg, g.path);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    g.errors++;
}

#define TRY(expr)                                                                                       \
    do {                                                                                                \
        vkbn_result r_ = (expr);                                                                        \
        if (r_ != VKBN_SUCCESS) failf("%s: %s (%s)", #expr, vkbn_last_error(), vkbn_result_string(r_)); \
    } while (0)

static int selected(const char* full_id) { return !g.only || glob_prefix(g.only, full_id); }

/* Whether some id that starts with `prefix` can match the pattern. */
static int could_match(const char* p, const char* prefix) {
    if (!*p || !*prefix) return 1;
    if (*p == '*') return could_match(p + 1, prefix) || could_match(p, prefix + 1);
    return *p == *prefix && could_match(p + 1, prefix + 1);
}

/* Whether the case at g.cfg/g.path has outputs --only selects (else it is not run). */
static int wanted(void) {
    char prefix[640];
    snprintf(prefix, sizeof prefix, "%s/%s/", g.cfg, g.path);
    return !g.only || could_match(g.only, prefix);
}

static void full_id(char* out, size_t size, const char* output) {
    snprintf(out, size, "%s/%s/%s", g.cfg, g.path, output);
}

static void rec_mem(const char* output, const void* data, size_t size) {
    char id[768];
    full_id(id, sizeof id, output);
    if (selected(id)) list_add(&g.results, id, fnv1a(data, size));
}

static void rec_buf(const char* output, vkbn_buffer b, uint64_t size) {
    char id[768];
    full_id(id, sizeof id, output);
    if (!selected(id)) return;
    void* host = malloc(size ? size : 1);
    memset(host, 0, size);
    if (!b) {
        failf("%s: no buffer", output);
    } else {
        TRY(vkbn_buffer_download(b, 0, host, size));
    }
    list_add(&g.results, id, fnv1a(host, size));
    free(host);
}

/* ------------------------------------------------------------------------ */
/* Deterministic data                                                        */
/* ------------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t* s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unif(uint64_t* s) { return (double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0); }

/* Irwin-Hall: mean 0, variance 1, only additions (no libm). */
static double gauss(uint64_t* s) {
    double a = 0.0;
    for (int i = 0; i < 12; ++i) a += unif(s);
    return a - 6.0;
}

static uint64_t seed_of(const char* tag) { return fnv1a(tag, strlen(tag)) ^ 0x5eed0f601de4ull; }

/* IEEE half, round to nearest even, with subnormals; no inf/NaN inputs here. */
static uint16_t to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to inf */
    if (mag < 0x38800000u) {                                   /* subnormal half (or zero) */
        if (mag < 0x33000000u) return (uint16_t)sign;          /* < 2^-25: rounds to 0 */
        uint32_t e = mag >> 23, m = (mag & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 bits to drop from 24-bit mantissa to get units of 2^-24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t h = ((mag >> 13) - (112u << 10));
    uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static float from_f16(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            e = 113;
            while (!(m & 0x400u)) {
                m <<= 1;
                e--;
            }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* Per-channel patterns: a mean far from 0 with a tiny spread (cancellation),
 * a constant channel (variance 0), negative and zero weights. */
static const double k_mean[5] = {0.0, 5.0, -3.0, 100.0, 0.5};
static const double k_std[5] = {1.0, 0.5, 2.0, 0.01, 3.0};

/* ------------------------------------------------------------------------ */
/* Shapes and the per-shape fixture                                          */
/* ------------------------------------------------------------------------ */

typedef enum level { LITE, FULL, BIG, MID } level;

typedef struct shape {
    const char* name;
    uint32_t n, c, rank, sp[3];
    /* The case list per dtype (NONE_LEVEL: not run), on the CPU path and on
     * Vulkan (where every distinct kernel specialization costs a pipeline
     * compile, so the whole matrix runs on fewer shapes). */
    level cpu_f32, cpu_f16, vk_f32, vk_f16;
} shape;

#define NONE_LEVEL ((level)-1)

/* N = 1; C = 1 (rank 3); S = 1; primes; short rows (the CPU path's lanes
 * plan at 1 and 2 threads, vec4 on Vulkan); a shape that takes split plans
 * (lavapipe: channels-first 2 slices per channel, channels-last 8; the CPU
 * path at 2 threads: channels-first 6 parts per channel, channels-last rows
 * in 2 parts; at 1 thread with streaming stores: fused, pipelined). */
static const shape k_shapes[] = {
    {"1x3x5x7", 1, 3, 2, {5, 7, 0}, LITE, LITE, LITE, NONE_LEVEL},
    {"4x1x3x4x5", 4, 1, 3, {3, 4, 5}, LITE, NONE_LEVEL, LITE, NONE_LEVEL},
    {"6x5", 6, 5, 0, {0, 0, 0}, LITE, LITE, LITE, NONE_LEVEL},
    {"3x5x7x11", 3, 5, 2, {7, 11, 0}, FULL, FULL, FULL, MID},
    {"2x8x4", 2, 8, 1, {4, 0, 0}, FULL, LITE, MID, LITE},
    {"4x3x128x128", 4, 3, 2, {128, 128, 0}, BIG, BIG, BIG, BIG},
};
#define SHAPE_COUNT (sizeof k_shapes / sizeof k_shapes[0])

typedef struct fixture {
    vkbn_context ctx;
    int vulkan;
    level lvl;
    vkbn_tensor_desc t;
    uint64_t count, bytes, s;
    uint32_t c;
    /* host values (as stored: f16 ones already rounded) in storage order */
    float *x, *z, *dy;
    void *xs, *zs, *dys, *pattern;
    float *w, *b, *rm, *rv, *mean, *invstd, *vpattern;
    vkbn_buffer X, Z, DY, Y, T, DX, DZ, YIN, W, B, RM, RV, SM, SI, SMI, SII, DW, DB;
} fixture;

static uint64_t layout_index(const vkbn_tensor_desc* t, uint64_t s_count, uint64_t n, uint64_t ch, uint64_t s) {
    return t->layout == VKBN_LAYOUT_CHANNELS_FIRST ? (n * t->c + ch) * s_count + s : (n * s_count + s) * t->c + ch;
}

static float store_round(vkbn_dtype dt, double v) {
    float f = (float)v;
    return dt == VKBN_DTYPE_F16 ? from_f16(to_f16(f)) : f;
}

static void encode(vkbn_dtype dt, const float* v, void* out, uint64_t count) {
    if (dt == VKBN_DTYPE_F32) {
        memcpy(out, v, count * 4);
    } else {
        uint16_t* h = (uint16_t*)out;
        for (uint64_t i = 0; i < count; ++i) h[i] = to_f16(v[i]);
    }
}

/* A tensor in logical order (n, c, s), stored in the layout. kind: 0 x, 1 z, 2 dy. */
static void gen_tensor(const shape* sh, const vkbn_tensor_desc* t, uint64_t s_count, int kind, float* out) {
    char tag[96];
    snprintf(tag, sizeof tag, "%s/%d", sh->name, kind);
    uint64_t st = seed_of(tag), k = 0;
    for (uint64_t n = 0; n < t->n; ++n) {
        for (uint64_t ch = 0; ch < t->c; ++ch) {
            for (uint64_t s = 0; s < s_count; ++s, ++k) {
                double v, mu, sd;
                if (kind == 0) {
                    mu = k_mean[ch % 5];
                    sd = k_std[ch % 5];
                } else if (kind == 1) {
                    mu = 0.5;
                    sd = 1.0;
                } else {
                    mu = 0.0;
                    sd = 1.0;
                }
                v = mu + sd * gauss(&st);
                if (kind == 0 && t->c >= 3 && ch == 2) {
                    v = 2.5; /* a constant channel */
                } else if (k % 97 == 13) {
                    v = 0.0;
                } else if (k % 89 == 5) {
                    v = mu + 40.0 * sd; /* an outlier */
                } else if (k % 101 == 7) {
                    v = -0.0;
                } else if (k % 103 == 11 && kind == 0) {
                    v = 1e-40; /* subnormal in f32, 0 in f16 */
                }
                out[layout_index(t, s_count, n, ch, s)] = store_round(t->dtype, v);
            }
        }
    }
}

static void gen_vectors(const shape* sh, fixture* f) {
    char tag[96];
    snprintf(tag, sizeof tag, "%s/vectors", sh->name);
    uint64_t st = seed_of(tag);
    for (uint32_t ch = 0; ch < f->c; ++ch) {
        f->w[ch] = (float)(0.5 + unif(&st));
        if (ch == 1) f->w[ch] = -0.75f;
        if (ch == 4) f->w[ch] = 0.0f;
        f->b[ch] = (float)(0.5 * gauss(&st));
        f->rm[ch] = (float)(0.9 * k_mean[ch % 5] + 0.5 * gauss(&st));
        f->rv[ch] = (float)(0.5 + 1.5 * unif(&st));
        if (ch == 4) f->rv[ch] = 0.0f;
    }
    /* Backward-training statistics: the batch's, in double, from the stored x. */
    for (uint32_t ch = 0; ch < f->c; ++ch) {
        double sum = 0.0, sq = 0.0;
        for (uint64_t n = 0; n < f->t.n; ++n)
            for (uint64_t s = 0; s < f->s; ++s) sum += f->x[layout_index(&f->t, f->s, n, ch, s)];
        double m = (double)f->t.n * (double)f->s, mean = sum / m;
        for (uint64_t n = 0; n < f->t.n; ++n) {
            for (uint64_t s = 0; s < f->s; ++s) {
                double d = f->x[layout_index(&f->t, f->s, n, ch, s)] - mean;
                sq += d * d;
            }
        }
        f->mean[ch] = (float)mean;
        f->invstd[ch] = (float)(1.0 / sqrt(sq / m + (double)VKBN_DEFAULT_EPS));
    }
}

static vkbn_buffer new_buffer(fixture* f, uint64_t size) {
    vkbn_buffer b = NULL;
    TRY(vkbn_buffer_create(f->ctx, size ? size : 4, &b));
    return b;
}

static void upload(vkbn_buffer b, const void* data, uint64_t size) {
    if (b && size) TRY(vkbn_buffer_upload(b, 0, data, size));
}

static void fixture_init(fixture* f, vkbn_context ctx, int vulkan, const shape* sh, vkbn_layout layout, vkbn_dtype dt,
                         level lvl) {
    memset(f, 0, sizeof *f);
    f->ctx = ctx;
    f->vulkan = vulkan;
    f->lvl = lvl;
    f->t.n = sh->n;
    f->t.c = sh->c;
    f->t.spatial_rank = sh->rank;
    f->s = 1;
    for (uint32_t i = 0; i < sh->rank; ++i) {
        f->t.spatial[i] = sh->sp[i];
        f->s *= sh->sp[i];
    }
    f->t.layout = layout;
    f->t.dtype = dt;
    f->c = sh->c;
    f->count = (uint64_t)sh->n * sh->c * f->s;
    f->bytes = f->count * vkbn_dtype_size(dt);
    f->x = (float*)malloc(f->count * 4);
    f->z = (float*)malloc(f->count * 4);
    f->dy = (float*)malloc(f->count * 4);
    f->xs = malloc(f->bytes);
    f->zs = malloc(f->bytes);
    f->dys = malloc(f->bytes);
    f->pattern = malloc(f->bytes);
    memset(f->pattern, 0xA5, f->bytes);
    float** vecs[] = {&f->w, &f->b, &f->rm, &f->rv, &f->mean, &f->invstd, &f->vpattern};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; ++i) *vecs[i] = (float*)calloc(f->c, 4);
    memset(f->vpattern, 0xA5, f->c * 4);
    gen_tensor(sh, &f->t, f->s, 0, f->x);
    gen_tensor(sh, &f->t, f->s, 1, f->z);
    gen_tensor(sh, &f->t, f->s, 2, f->dy);
    encode(dt, f->x, f->xs, f->count);
    encode(dt, f->z, f->zs, f->count);
    encode(dt, f->dy, f->dys, f->count);
    gen_vectors(sh, f);
    vkbn_buffer* tensors[] = {&f->X, &f->Z, &f->DY, &f->Y, &f->T, &f->DX, &f->DZ, &f->YIN};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; ++i) *tensors[i] = new_buffer(f, f->bytes);
    vkbn_buffer* vectors[] = {&f->W, &f->B, &f->RM, &f->RV, &f->SM, &f->SI, &f->SMI, &f->SII, &f->DW, &f->DB};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; ++i) *vectors[i] = new_buffer(f, (uint64_t)f->c * 4);
    upload(f->X, f->xs, f->bytes);
    upload(f->Z, f->zs, f->bytes);
    upload(f->DY, f->dys, f->bytes);
    upload(f->W, f->w, f->c * 4);
    upload(f->B, f->b, f->c * 4);
    upload(f->SMI, f->mean, f->c * 4);
    upload(f->SII, f->invstd, f->c * 4);
}

static void fixture_free(fixture* f) {
    vkbn_buffer bufs[] = {f->X, f->Z,  f->DY, f->Y,  f->T,  f->DX,  f->DZ,  f->YIN, f->W,
                          f->B, f->RM, f->RV, f->SM, f->SI, f->SMI, f->SII, f->DW,  f->DB};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) vkbn_buffer_destroy(bufs[i]);
    void* mem[] = {f->x, f->z, f->dy, f->xs, f->zs,   f->dys,    f->pattern,
                   f->w, f->b, f->rm, f->rv, f->mean, f->invstd, f->vpattern};
    for (size_t i = 0; i < sizeof mem / sizeof mem[0]; ++i) free(mem[i]);
}

/* Outputs start from a fixed pattern, so a hash never depends on what an
 * earlier case left behind. */
static void reset_outputs(fixture* f) {
    vkbn_buffer t[] = {f->Y, f->DX, f->DZ};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; ++i) upload(t[i], f->pattern, f->bytes);
    vkbn_buffer v[] = {f->SM, f->SI, f->DW, f->DB};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i) upload(v[i], f->vpattern, f->c * 4);
    upload(f->RM, f->rm, f->c * 4);
    upload(f->RV, f->rv, f->c * 4);
}

static const char* layout_name(vkbn_layout l) { return l == VKBN_LAYOUT_CHANNELS_FIRST ? "nchw" : "nhwc"; }
static const char* dtype_name(vkbn_dtype d) { return d == VKBN_DTYPE_F32 ? "f32" : "f16"; }

static void set_path(const fixture* f, const char* op, const char* variant, const char* shape_name) {
    snprintf(g.path, sizeof g.path, "%s/%s/%s/%s/%s", op, layout_name(f->t.layout), dtype_name(f->t.dtype), variant,
             shape_name);
}

static void describe(vkbn_plan p) {
    if (!g.verbose || !p) return;
    static uint32_t last;
    vkbn_pipeline_stats ps;
    if (vkbn_context_get_pipeline_stats(g.ctx, &ps) != VKBN_SUCCESS || ps.pipelines_created < last) {
        printf("  %s/%s: %s\n", g.cfg, g.path, vkbn_plan_describe(p));
    } else {
        printf("  %s/%s: %s [+%u pipelines]\n", g.cfg, g.path, vkbn_plan_describe(p), ps.pipelines_created - last);
        last = ps.pipelines_created;
    }
}

/* ------------------------------------------------------------------------ */
/* Variants                                                                  */
/* ------------------------------------------------------------------------ */

enum { O_Y = 1, O_SM = 2, O_SI = 4, O_RM = 8, O_RV = 16, O_DX = 32, O_DW = 64, O_DB = 128, O_DZ = 256 };
/* Case lists: FULL every variant; MID (Vulkan's second shape and dtype) each
 * activation once per op; LITE (the edge shapes) a few fused variants; BIG
 * (the split shape) the plain and residual ones. */
enum { IN_LITE = 1, IN_FULL = 2, IN_BIG = 4, IN_MID = 8 };
#define ALL_LEVELS (IN_LITE | IN_FULL | IN_BIG | IN_MID)

typedef struct act_params {
    vkbn_activation act;
    float alpha, beta;
} act_params;

typedef struct train_variant {
    const char* name;
    int levels;
    act_params a;
    int affine, z, saves, running, inplace;
    vkbn_running_average avg;
    uint64_t cumulative;
    int biased;
    float eps, momentum;
    uint32_t split;
    int outputs;
} train_variant;

static const train_variant k_train[] = {
    {"plain", ALL_LEVELS, {0, 0, 0}, 0, 0, 0, 0, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"affine", ALL_LEVELS, {0, 0, 0}, 1, 0, 1, 1, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y | O_SM | O_SI | O_RM | O_RV},
    {"relu", IN_FULL | IN_MID, {1, 0, 0}, 1, 0, 1, 1, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"leaky-relu-0.1", IN_FULL, {2, 0.1f, 0}, 1, 0, 1, 1, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"clamp-m0.5-1.25", IN_FULL, {3, -0.5f, 1.25f}, 1, 0, 1, 1, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"silu", IN_FULL | IN_BIG | IN_MID, {4, 0, 0}, 1, 0, 1, 1, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"z-relu", IN_FULL | IN_BIG, {1, 0, 0}, 1, 1, 1, 1, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"z-silu", IN_FULL | IN_LITE | IN_MID, {4, 0, 0}, 1, 1, 0, 0, 0, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
    {"running-cumulative4-biased-eps1e-3",
     IN_FULL | IN_LITE | IN_MID,
     {0, 0, 0},
     0,
     0,
     1,
     1,
     0,
     VKBN_RUNNING_AVERAGE_CUMULATIVE,
     4,
     1,
     1e-3f,
     0.1f,
     0,
     O_Y | O_SI | O_RM | O_RV},
    {"running-momentum0.25", IN_FULL, {0, 0, 0}, 0, 0, 0, 1, 0, 0, 0, 0, 1e-5f, 0.25f, 0, O_Y | O_RM | O_RV},
    {"relu-split3", IN_FULL | IN_MID, {1, 0, 0}, 1, 0, 1, 0, 0, 0, 0, 0, 1e-5f, 0.1f, 3, O_Y | O_SM | O_SI},
    {"affine-split1", IN_FULL, {0, 0, 0}, 1, 0, 0, 0, 0, 0, 0, 0, 1e-5f, 0.1f, 1, O_Y},
    {"relu-inplace", IN_FULL, {1, 0, 0}, 1, 0, 0, 0, 1, 0, 0, 0, 1e-5f, 0.1f, 0, O_Y},
};

typedef struct infer_variant {
    const char* name;
    int levels;
    act_params a;
    int affine, z, inplace;
} infer_variant;

static const infer_variant k_infer[] = {
    {"plain", IN_FULL, {0, 0, 0}, 0, 0, 0},
    {"affine", ALL_LEVELS, {0, 0, 0}, 1, 0, 0},
    {"relu", IN_FULL, {1, 0, 0}, 1, 0, 0},
    {"leaky-relu-0.1", IN_FULL | IN_MID, {2, 0.1f, 0}, 1, 0, 0},
    {"clamp-m0.5-1.25", IN_FULL, {3, -0.5f, 1.25f}, 1, 0, 0},
    {"silu", IN_FULL, {4, 0, 0}, 1, 0, 0},
    {"z-relu", IN_FULL, {1, 0, 0}, 1, 1, 0},
    {"z-silu", IN_FULL | IN_BIG | IN_MID, {4, 0, 0}, 1, 1, 0},
    {"relu-inplace", IN_FULL, {1, 0, 0}, 1, 0, 1},
};

typedef struct bwd_variant {
    const char* name;
    int levels_train, levels_frozen;
    act_params a;
    int weight, bias, z, inplace;
    uint32_t split;
    int outputs;
} bwd_variant;

#define ALL_GRADS (O_DX | O_DW | O_DB)
static const bwd_variant k_bwd[] = {
    {"plain", IN_FULL, IN_FULL, {0, 0, 0}, 0, 0, 0, 0, 0, ALL_GRADS},
    {"affine", ALL_LEVELS, IN_FULL, {0, 0, 0}, 1, 1, 0, 0, 0, ALL_GRADS},
    {"relu", IN_FULL, IN_FULL | IN_BIG, {1, 0, 0}, 1, 1, 0, 0, 0, ALL_GRADS},
    {"leaky-relu-0.1", IN_FULL | IN_MID, IN_FULL, {2, 0.1f, 0}, 1, 1, 0, 0, 0, ALL_GRADS},
    {"clamp-m0.5-1.25", IN_FULL, IN_FULL | IN_MID, {3, -0.5f, 1.25f}, 1, 1, 0, 0, 0, ALL_GRADS},
    {"silu", IN_FULL, IN_FULL, {4, 0, 0}, 1, 1, 0, 0, 0, ALL_GRADS},
    {"z-relu", ALL_LEVELS, IN_FULL, {1, 0, 0}, 1, 1, 1, 0, 0, ALL_GRADS | O_DZ},
    {"z-silu", IN_FULL | IN_MID, IN_FULL | IN_LITE, {4, 0, 0}, 1, 1, 1, 0, 0, ALL_GRADS | O_DZ},
    {"relu-dx", IN_FULL, IN_FULL | IN_BIG | IN_MID, {1, 0, 0}, 1, 1, 0, 0, 0, O_DX},
    {"relu-dw-db", IN_FULL | IN_MID, IN_FULL, {1, 0, 0}, 1, 1, 0, 0, 0, O_DW | O_DB},
    {"z-relu-dz", IN_FULL, IN_FULL, {1, 0, 0}, 1, 1, 1, 0, 0, O_DZ},
    {"silu-dx-dz", IN_FULL, IN_FULL, {4, 0, 0}, 1, 1, 1, 0, 0, O_DX | O_DZ},
    {"relu-inplace", IN_FULL, IN_FULL, {1, 0, 0}, 1, 1, 0, 1, 0, ALL_GRADS},
    {"relu-split3", IN_FULL | IN_MID, 0, {1, 0, 0}, 1, 1, 0, 0, 3, ALL_GRADS},
};

static int in_level(int levels, level l) { return (levels >> (int)l) & 1; }

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */
/* ------------------------------------------------------------------------ */

static void rec_tensor(const fixture* f, const char* name, vkbn_buffer b) { rec_buf(name, b, f->bytes); }
static void rec_vector(const fixture* f, const char* name, vkbn_buffer b) { rec_buf(name, b, (uint64_t)f->c * 4); }

static void run_train(fixture* f, const shape* sh, const train_variant* v) {
    set_path(f, "train", v->name, sh->name);
    if (!wanted()) return;
    reset_outputs(f);
    vkbn_forward_training_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = f->t;
    d.x = f->X;
    d.y = f->Y;
    if (v->inplace) {
        upload(f->T, f->xs, f->bytes);
        d.x = d.y = f->T;
    }
    d.residual = v->z ? f->Z : NULL;
    d.weight = v->affine ? f->W : NULL;
    d.bias = v->affine ? f->B : NULL;
    if (v->running) {
        d.running_mean = f->RM;
        d.running_var = f->RV;
    }
    if (v->saves) {
        d.save_mean = f->SM;
        d.save_invstd = f->SI;
    }
    d.eps = v->eps;
    d.momentum = v->momentum;
    d.running_average = v->avg;
    d.cumulative_count = v->cumulative;
    d.biased_running_var = (vkbn_bool)v->biased;
    d.activation = v->a.act;
    d.activation_alpha = v->a.alpha;
    d.activation_beta = v->a.beta;
    d.reduction_split = v->split;
    vkbn_plan p = NULL;
    TRY(vkbn_plan_create_forward_training(f->ctx, &d, &p));
    describe(p);
    if (p) TRY(vkbn_plan_execute(p));
    vkbn_plan_destroy(p);
    if (v->outputs & O_Y) rec_tensor(f, "y", d.y);
    if (v->outputs & O_SM) rec_vector(f, "save_mean", f->SM);
    if (v->outputs & O_SI) rec_vector(f, "save_invstd", f->SI);
    if (v->outputs & O_RM) rec_vector(f, "running_mean", f->RM);
    if (v->outputs & O_RV) rec_vector(f, "running_var", f->RV);
}

static void run_infer(fixture* f, const shape* sh, const infer_variant* v) {
    set_path(f, "infer", v->name, sh->name);
    if (!wanted()) return;
    reset_outputs(f);
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = f->t;
    d.x = f->X;
    d.y = f->Y;
    if (v->inplace) {
        upload(f->T, f->xs, f->bytes);
        d.x = d.y = f->T;
    }
    d.residual = v->z ? f->Z : NULL;
    d.weight = v->affine ? f->W : NULL;
    d.bias = v->affine ? f->B : NULL;
    d.running_mean = f->RM;
    d.running_var = f->RV;
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = v->a.act;
    d.activation_alpha = v->a.alpha;
    d.activation_beta = v->a.beta;
    vkbn_plan p = NULL;
    TRY(vkbn_plan_create_forward_inference(f->ctx, &d, &p));
    describe(p);
    if (p) TRY(vkbn_plan_execute(p));
    vkbn_plan_destroy(p);
    rec_tensor(f, "y", d.y);
}

static double act_d(const act_params* a, double u) {
    switch (a->act) {
        case VKBN_ACTIVATION_RELU: return u > 0.0 ? u : 0.0;
        case VKBN_ACTIVATION_LEAKY_RELU: return u >= 0.0 ? u : (double)a->alpha * u;
        case VKBN_ACTIVATION_CLAMP: return u < a->alpha ? a->alpha : (u > a->beta ? a->beta : u);
        default: return u;
    }
}

/* The forward output the backward reads its mask from, computed here in
 * double from the stored inputs and rounded to the storage type. */
static void make_yin(fixture* f, const act_params* a, int frozen, int affine, int z) {
    float* y = (float*)malloc(f->count * 4);
    void* ys = malloc(f->bytes);
    for (uint64_t n = 0; n < f->t.n; ++n) {
        for (uint32_t ch = 0; ch < f->c; ++ch) {
            double mean = frozen ? f->rm[ch] : f->mean[ch];
            double invstd = frozen ? 1.0 / sqrt((double)f->rv[ch] + (double)VKBN_DEFAULT_EPS) : f->invstd[ch];
            double w = affine ? f->w[ch] : 1.0, b = affine ? f->b[ch] : 0.0;
            for (uint64_t s = 0; s < f->s; ++s) {
                uint64_t i = layout_index(&f->t, f->s, n, ch, s);
                double u = ((double)f->x[i] - mean) * invstd * w + b + (z ? (double)f->z[i] : 0.0);
                y[i] = store_round(f->t.dtype, act_d(a, u));
            }
        }
    }
    encode(f->t.dtype, y, ys, f->count);
    upload(f->YIN, ys, f->bytes);
    free(y);
    free(ys);
}

static void run_bwd(fixture* f, const shape* sh, const bwd_variant* v, int frozen) {
    char name[128];
    snprintf(name, sizeof name, "%s", v->name);
    set_path(f, frozen ? "bwd-frozen" : "bwd-train", name, sh->name);
    if (!wanted()) return;
    reset_outputs(f);
    int needs_y =
        v->a.act == VKBN_ACTIVATION_RELU || v->a.act == VKBN_ACTIVATION_LEAKY_RELU || v->a.act == VKBN_ACTIVATION_CLAMP;
    if (needs_y) make_yin(f, &v->a, frozen, v->weight, v->z);
    vkbn_backward_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = f->t;
    d.x = f->X;
    d.dy = f->DY;
    d.y = needs_y ? f->YIN : NULL;
    d.residual = v->z ? f->Z : NULL;
    d.weight = v->weight ? f->W : NULL;
    d.bias = v->bias ? f->B : NULL;
    d.frozen = (vkbn_bool)frozen;
    if (frozen) {
        d.running_mean = f->RM;
        d.running_var = f->RV;
    } else {
        d.save_mean = f->SMI;
        d.save_invstd = f->SII;
    }
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = v->a.act;
    d.activation_alpha = v->a.alpha;
    d.activation_beta = v->a.beta;
    d.dx = (v->outputs & O_DX) ? f->DX : NULL;
    d.dweight = (v->outputs & O_DW) ? f->DW : NULL;
    d.dbias = (v->outputs & O_DB) ? f->DB : NULL;
    d.dresidual = (v->outputs & O_DZ) ? f->DZ : NULL;
    if (v->inplace) {
        upload(f->T, f->dys, f->bytes);
        d.dy = d.dx = f->T;
    }
    d.reduction_split = v->split;
    vkbn_plan p = NULL;
    TRY(vkbn_plan_create_backward(f->ctx, &d, &p));
    describe(p);
    if (p) TRY(vkbn_plan_execute(p));
    vkbn_plan_destroy(p);
    if (v->outputs & O_DX) rec_tensor(f, "dx", d.dx);
    if (v->outputs & O_DW) rec_vector(f, "dweight", f->DW);
    if (v->outputs & O_DB) rec_vector(f, "dbias", f->DB);
    if (v->outputs & O_DZ) rec_tensor(f, "dresidual", f->DZ);
}

/* ------------------------------------------------------------------------ */
/* Synchronized batch norm: the batch in two slices on one context           */
/* ------------------------------------------------------------------------ */

typedef struct sync_variant {
    const char* name;
    int levels;
    act_params a;
    int z;
} sync_variant;

static const sync_variant k_sync[] = {
    {"affine", IN_FULL | IN_BIG, {0, 0, 0}, 0},
    {"z-relu", IN_FULL | IN_LITE | IN_MID, {1, 0, 0}, 1},
    {"silu", IN_FULL, {4, 0, 0}, 0},
};

typedef struct slice {
    vkbn_tensor_desc t;
    uint64_t bytes;
    vkbn_buffer x, z, dy, y, dx, dz;
} slice;

static void rec_stats(const char* name, const vkbn_batch_stats* s) {
    size_t bytes = 8 + 2 * (size_t)s->c * 8;
    unsigned char* buf = (unsigned char*)malloc(bytes);
    memcpy(buf, &s->count, 8);
    memcpy(buf + 8, s->mean, (size_t)s->c * 8);
    memcpy(buf + 8 + (size_t)s->c * 8, s->m2, (size_t)s->c * 8);
    rec_mem(name, buf, bytes);
    free(buf);
}

static void rec_sums(const char* name, const vkbn_grad_sums* s) {
    size_t bytes = 8 + 2 * (size_t)s->c * 8;
    unsigned char* buf = (unsigned char*)malloc(bytes);
    memcpy(buf, &s->count, 8);
    memcpy(buf + 8, s->sum_g, (size_t)s->c * 8);
    memcpy(buf + 8 + (size_t)s->c * 8, s->sum_g_xhat, (size_t)s->c * 8);
    rec_mem(name, buf, bytes);
    free(buf);
}

static void run_sync(fixture* f, const shape* sh, const sync_variant* v) {
    set_path(f, "sync", v->name, sh->name);
    if (!wanted()) return;
    reset_outputs(f);
    uint32_t c = f->c;
    uint64_t sample = f->bytes / f->t.n;
    /* Uneven slices; with n = 1 the second is empty. */
    uint32_t n0 = (f->t.n + 1) / 2;
    slice sl[2];
    memset(sl, 0, sizeof sl);
    for (int i = 0; i < 2; ++i) {
        sl[i].t = f->t;
        sl[i].t.n = i == 0 ? n0 : f->t.n - n0;
        sl[i].bytes = sl[i].t.n * sample;
        if (!sl[i].t.n) continue;
        uint64_t at = i == 0 ? 0 : n0 * sample;
        vkbn_buffer* bufs[] = {&sl[i].x, &sl[i].z, &sl[i].dy, &sl[i].y, &sl[i].dx, &sl[i].dz};
        for (size_t k = 0; k < 6; ++k) *bufs[k] = new_buffer(f, sl[i].bytes);
        upload(sl[i].x, (const char*)f->xs + at, sl[i].bytes);
        upload(sl[i].z, (const char*)f->zs + at, sl[i].bytes);
        upload(sl[i].dy, (const char*)f->dys + at, sl[i].bytes);
        upload(sl[i].y, f->pattern, sl[i].bytes);
        upload(sl[i].dx, f->pattern, sl[i].bytes);
        upload(sl[i].dz, f->pattern, sl[i].bytes);
    }
    double* mem = (double*)calloc(12 * (size_t)c, sizeof(double));
    vkbn_batch_stats parts[2] = {{0, c, mem, mem + c}, {0, c, mem + 2 * c, mem + 3 * c}};
    vkbn_batch_stats global = {0, c, mem + 4 * c, mem + 5 * c};
    vkbn_grad_sums sums[2] = {{0, c, mem + 6 * c, mem + 7 * c}, {0, c, mem + 8 * c, mem + 9 * c}};
    vkbn_grad_sums gsum = {0, c, mem + 10 * c, mem + 11 * c};
    char name[64];

    for (int i = 0; i < 2; ++i) {
        vkbn_batch_stats_desc sd = {sl[i].t, sl[i].x};
        TRY(vkbn_batch_stats_compute(f->ctx, &sd, &parts[i]));
        snprintf(name, sizeof name, "stats.s%d", i);
        rec_stats(name, &parts[i]);
        if (f->vulkan && sl[i].t.n) {
            /* The same statistics left in device memory by a plan. */
            vkbn_buffer out = new_buffer(f, 12ull * c);
            upload(out, f->vpattern, 4ull * c);
            vkbn_batch_stats_plan_desc pd = {sl[i].t, sl[i].x, out};
            vkbn_plan p = NULL;
            TRY(vkbn_plan_create_batch_stats(f->ctx, &pd, &p));
            describe(p);
            if (p) TRY(vkbn_plan_execute(p));
            vkbn_plan_destroy(p);
            snprintf(name, sizeof name, "statsplan.s%d", i);
            rec_buf(name, out, 12ull * c);
            vkbn_buffer_destroy(out);
        }
    }
    TRY(vkbn_batch_stats_merge(parts, 2, &global));
    rec_stats("stats.merged", &global);

    for (int i = 0; i < 2; ++i) {
        vkbn_forward_training_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = sl[i].t;
        d.x = sl[i].x;
        d.y = sl[i].y;
        d.residual = v->z ? sl[i].z : NULL;
        d.weight = f->W;
        d.bias = f->B;
        if (i == 0) { /* the vectors are the whole batch's, the same on every replica */
            d.running_mean = f->RM;
            d.running_var = f->RV;
            d.save_mean = f->SM;
            d.save_invstd = f->SI;
        }
        d.eps = VKBN_DEFAULT_EPS;
        d.momentum = VKBN_DEFAULT_MOMENTUM;
        d.activation = v->a.act;
        d.activation_alpha = v->a.alpha;
        d.activation_beta = v->a.beta;
        TRY(vkbn_forward_training_global(f->ctx, &d, &global));
        snprintf(name, sizeof name, "fwd.s%d.y", i);
        if (sl[i].t.n) rec_buf(name, sl[i].y, sl[i].bytes);
    }
    rec_vector(f, "fwd.save_mean", f->SM);
    rec_vector(f, "fwd.save_invstd", f->SI);
    rec_vector(f, "fwd.running_mean", f->RM);
    rec_vector(f, "fwd.running_var", f->RV);

    for (int pass = 0; pass < 2; ++pass) {
        for (int i = 0; i < 2; ++i) {
            vkbn_backward_desc d;
            memset(&d, 0, sizeof d);
            d.tensor = sl[i].t;
            d.x = sl[i].x;
            d.dy = sl[i].dy;
            d.y = v->a.act == VKBN_ACTIVATION_RELU ? sl[i].y : NULL;
            d.residual = v->z ? sl[i].z : NULL;
            d.weight = f->W;
            d.bias = f->B;
            d.save_mean = f->SM;
            d.save_invstd = f->SI;
            d.eps = VKBN_DEFAULT_EPS;
            d.activation = v->a.act;
            d.activation_alpha = v->a.alpha;
            d.activation_beta = v->a.beta;
            if (pass == 0) {
                TRY(vkbn_grad_sums_compute(f->ctx, &d, &sums[i]));
                snprintf(name, sizeof name, "grad.s%d", i);
                rec_sums(name, &sums[i]);
                continue;
            }
            d.dx = sl[i].t.n ? sl[i].dx : NULL;
            d.dresidual = v->z && sl[i].t.n ? sl[i].dz : NULL;
            vkbn_buffer dw = NULL, db = NULL;
            if (i == 0) {
                d.dweight = f->DW;
                d.dbias = f->DB;
            } else if (!sl[i].t.n) {
                /* An empty slice writes only dweight and dbias (the same as the other replica's). */
                d.dweight = dw = new_buffer(f, 4ull * c);
                d.dbias = db = new_buffer(f, 4ull * c);
                upload(dw, f->vpattern, 4ull * c);
                upload(db, f->vpattern, 4ull * c);
            }
            TRY(vkbn_backward_global(f->ctx, &d, &gsum));
            if (dw) {
                rec_vector(f, "bwd.s1.dweight", dw);
                rec_vector(f, "bwd.s1.dbias", db);
                vkbn_buffer_destroy(dw);
                vkbn_buffer_destroy(db);
            }
            if (sl[i].t.n) {
                snprintf(name, sizeof name, "bwd.s%d.dx", i);
                rec_buf(name, sl[i].dx, sl[i].bytes);
                if (v->z) {
                    snprintf(name, sizeof name, "bwd.s%d.dresidual", i);
                    rec_buf(name, sl[i].dz, sl[i].bytes);
                }
            }
        }
        if (pass == 0) {
            TRY(vkbn_grad_sums_merge(sums, 2, &gsum));
            rec_sums("grad.merged", &gsum);
        }
    }
    rec_vector(f, "bwd.dweight", f->DW);
    rec_vector(f, "bwd.dbias", f->DB);

    for (int i = 0; i < 2; ++i) {
        vkbn_buffer bufs[] = {sl[i].x, sl[i].z, sl[i].dy, sl[i].y, sl[i].dx, sl[i].dz};
        for (size_t k = 0; k < 6; ++k) vkbn_buffer_destroy(bufs[k]);
    }
    free(mem);
}

static void run_copy(vkbn_context ctx) {
    static const uint64_t sizes[] = {4, 12, 420 * 4, 4 * 3 * 128 * 128 * 4 + 8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
        uint64_t size = sizes[i];
        snprintf(g.path, sizeof g.path, "copy/%lluB", (unsigned long long)size);
        if (!wanted()) continue;
        unsigned char* data = (unsigned char*)malloc(size);
        uint64_t st = seed_of("copy");
        for (uint64_t k = 0; k < size; ++k) data[k] = (unsigned char)splitmix(&st);
        vkbn_buffer x = NULL, y = NULL;
        TRY(vkbn_buffer_create(ctx, size, &x));
        TRY(vkbn_buffer_create(ctx, size, &y));
        if (x && y) {
            TRY(vkbn_buffer_upload(x, 0, data, size));
            memset(data, 0xA5, size);
            TRY(vkbn_buffer_upload(y, 0, data, size));
            vkbn_copy_desc d = {x, y, size};
            vkbn_plan p = NULL;
            TRY(vkbn_plan_create_copy(ctx, &d, &p));
            describe(p);
            if (p) TRY(vkbn_plan_execute(p));
            vkbn_plan_destroy(p);
            rec_buf("y", y, size);
        }
        vkbn_buffer_destroy(x);
        vkbn_buffer_destroy(y);
        free(data);
    }
}

/* Every case of one configuration. stream_only: the streaming-stores
 * configuration's short list (the primes and the split shape). */
static void run_config(vkbn_context ctx, int vulkan, int stream_only) {
    for (size_t si = 0; si < SHAPE_COUNT; ++si) {
        const shape* sh = &k_shapes[si];
        if (stream_only && sh->cpu_f32 != BIG && strcmp(sh->name, "3x5x7x11") != 0) continue;
        for (int d = 0; d < 2; ++d) {
            vkbn_dtype dt = d ? VKBN_DTYPE_F16 : VKBN_DTYPE_F32;
            level lvl = vulkan ? (d ? sh->vk_f16 : sh->vk_f32) : (d ? sh->cpu_f16 : sh->cpu_f32);
            if (lvl == NONE_LEVEL) continue;
            if (stream_only && lvl == FULL) lvl = LITE;
            for (int l = 0; l < 2; ++l) {
                vkbn_layout layout = l ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
                fixture f;
                fixture_init(&f, ctx, vulkan, sh, layout, dt, lvl);
                for (size_t i = 0; i < sizeof k_train / sizeof k_train[0]; ++i)
                    if (in_level(k_train[i].levels, lvl)) run_train(&f, sh, &k_train[i]);
                for (size_t i = 0; i < sizeof k_infer / sizeof k_infer[0]; ++i)
                    if (in_level(k_infer[i].levels, lvl)) run_infer(&f, sh, &k_infer[i]);
                for (size_t i = 0; i < sizeof k_bwd / sizeof k_bwd[0]; ++i) {
                    if (in_level(k_bwd[i].levels_train, lvl)) run_bwd(&f, sh, &k_bwd[i], 0);
                    if (in_level(k_bwd[i].levels_frozen, lvl)) run_bwd(&f, sh, &k_bwd[i], 1);
                }
                for (size_t i = 0; i < sizeof k_sync / sizeof k_sync[0]; ++i)
                    if (in_level(k_sync[i].levels, lvl)) run_sync(&f, sh, &k_sync[i]);
                fixture_free(&f);
            }
        }
    }
    if (!stream_only) run_copy(ctx);
}

/* ------------------------------------------------------------------------ */
/* Configurations                                                            */
/* ------------------------------------------------------------------------ */

#define MAX_CONFIGS 32

typedef struct run_info {
    char ran[MAX_CONFIGS][64];
    size_t ran_count;
    char skipped[MAX_CONFIGS][64]; /* config-name prefixes skipped here, with why */
    char skip_why[MAX_CONFIGS][256];
    size_t skipped_count;
    char isa_present[128], isa_absent[128];
    char cpu_model[256];
    char mesa[256];
    char lp_width[16];
    int vulkan_ran;
} run_info;

static void note_skip(run_info* ri, const char* prefix, const char* fmt, ...) {
    if (ri->skipped_count == MAX_CONFIGS) return;
    snprintf(ri->skipped[ri->skipped_count], sizeof ri->skipped[0], "%s", prefix);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ri->skip_why[ri->skipped_count], sizeof ri->skip_why[0], fmt, ap);
    va_end(ap);
    printf("SKIP %s*: %s\n", prefix, ri->skip_why[ri->skipped_count]);
    ri->skipped_count++;
}

static double now(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run_one(run_info* ri, vkbn_context ctx, const char* name, int vulkan, int stream_only) {
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/", name);
    if (g.only && !could_match(g.only, prefix)) return;
    snprintf(g.cfg, sizeof g.cfg, "%s", name);
    g.path[0] = 0;
    g.ctx = ctx;
    size_t before = g.results.n;
    int errors = g.errors;
    double t0 = now();
    run_config(ctx, vulkan, stream_only);
    if (vulkan) {
        uint64_t msgs = vkbn_context_validation_message_count(ctx);
        if (msgs) failf("%llu validation message(s)", (unsigned long long)msgs);
    }
    printf("config %-22s %5zu cases %6.2f s%s", name, g.results.n - before, now() - t0,
           g.errors != errors ? "  (errors)" : "");
    vkbn_pipeline_stats ps;
    if (vulkan && vkbn_context_get_pipeline_stats(ctx, &ps) == VKBN_SUCCESS)
        printf(" (%u pipelines, %.2f s creating them)", ps.pipelines_created, ps.create_seconds);
    printf("\n");
    fflush(stdout);
    snprintf(ri->ran[ri->ran_count++], sizeof ri->ran[0], "%s", name);
}

/* The golden file: its entries, sorted, and its header keys ("# key: value"). */
typedef struct golden {
    entry_list entries;
    char header[32][2][256];
    size_t header_count;
    int loaded;
} golden;

/* The CPU hashes were recorded on x86-64; other architectures name their
 * configurations apart ("cpu-aarch64-neon-t2") and skip those not recorded. */
#if defined(__x86_64__) || defined(_M_X64)
#define CPU_ARCH_TAG ""
#elif defined(__aarch64__) || defined(_M_ARM64)
#define CPU_ARCH_TAG "aarch64-"
#else
#define CPU_ARCH_TAG "other-"
#endif

static int config_recorded(const golden* gf, const char* prefix);

static void run_cpu(run_info* ri, const golden* gf, int generate) {
    static const struct {
        const char* name;
        vkbn_cpu_isa isa;
    } isas[] = {
#if defined(__aarch64__) || defined(_M_ARM64)
        {"scalar", VKBN_CPU_ISA_SCALAR},
        {"neon", VKBN_CPU_ISA_NEON},
#else
        {"scalar", VKBN_CPU_ISA_SCALAR},
        {"sse2", VKBN_CPU_ISA_SSE2},
        {"avx2", VKBN_CPU_ISA_AVX2},
        {"avx512", VKBN_CPU_ISA_AVX512},
#endif
    };
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; ++i) {
        /* cpu_threads 1, 2; then 1 thread with streaming stores everywhere. */
        for (int k = 0; k < 3; ++k) {
            uint32_t threads = k == 1 ? 2 : 1;
            int stream = k == 2;
            char name[64];
            snprintf(name, sizeof name, "cpu-%s%s-t%u%s", CPU_ARCH_TAG, isas[i].name, threads, stream ? "-stream" : "");
            if (*CPU_ARCH_TAG && !generate && !config_recorded(gf, name)) {
                note_skip(ri, name, "no hashes recorded for this architecture's configuration");
                continue;
            }
            /* The cache size must not decide the plan: streaming off, or on
             * everywhere (the test-only hook; UINT64_MAX - 1: no tensor is that large). */
            vkbn_test_hooks hooks = vkbn_test_hooks_none();
            hooks.cpu_stream_bytes = stream ? 0 : VKBN_TEST_HOOK_UNSET - 1;
            vkbn_test_set_hooks(&hooks);
            vkbn_context_desc d;
            memset(&d, 0, sizeof d);
            d.device = "cpu";
            d.cpu_threads = threads;
            d.cpu_isa = isas[i].isa;
            d.log = test_log;
            vkbn_context ctx = NULL;
            vkbn_result r = vkbn_context_create(&d, &ctx);
            if (r == VKBN_ERROR_UNSUPPORTED) {
                if (k == 0) {
                    char prefix[64];
                    snprintf(prefix, sizeof prefix, "cpu-%s%s-", CPU_ARCH_TAG, isas[i].name);
                    note_skip(ri, prefix, "this CPU lacks %s (%s)", isas[i].name, vkbn_last_error());
                    size_t len = strlen(ri->isa_absent);
                    snprintf(ri->isa_absent + len, sizeof ri->isa_absent - len, "%s%s", len ? " " : "", isas[i].name);
                }
                break;
            }
            if (r != VKBN_SUCCESS) {
                snprintf(g.cfg, sizeof g.cfg, "%s", name);
                failf("vkbn_context_create: %s (%s)", vkbn_last_error(), vkbn_result_string(r));
                break;
            }
            if (k == 0) {
                vkbn_device_info info;
                if (vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS) {
                    /* "CPU: <model> (isa, threads)": keep the model. */
                    snprintf(ri->cpu_model, sizeof ri->cpu_model, "%.255s",
                             strncmp(info.name, "CPU: ", 5) == 0 ? info.name + 5 : info.name);
                    char* paren = strrchr(ri->cpu_model, '(');
                    if (paren) *paren = 0;
                    for (size_t e = strlen(ri->cpu_model); e > 0 && ri->cpu_model[e - 1] == ' '; --e)
                        ri->cpu_model[e - 1] = 0;
                }
                size_t len = strlen(ri->isa_present);
                snprintf(ri->isa_present + len, sizeof ri->isa_present - len, "%s%s", len ? " " : "", isas[i].name);
            }
            run_one(ri, ctx, name, 0, stream);
            vkbn_context_destroy(ctx);
        }
    }
}

/* The recorded value of a header key, or "". */
static const char* header_get(const golden* gf, const char* key) {
    for (size_t i = 0; i < gf->header_count; ++i)
        if (strcmp(gf->header[i][0], key) == 0) return gf->header[i][1];
    return "";
}

static void header_set(golden* gf, const char* key, const char* value) {
    for (size_t i = 0; i < gf->header_count; ++i) {
        if (strcmp(gf->header[i][0], key) == 0) {
            snprintf(gf->header[i][1], sizeof gf->header[i][1], "%s", value);
            return;
        }
    }
    if (gf->header_count == 32) return;
    snprintf(gf->header[gf->header_count][0], 256, "%s", key);
    snprintf(gf->header[gf->header_count][1], 256, "%s", value);
    gf->header_count++;
}

static int config_recorded(const golden* gf, const char* prefix) {
    for (size_t i = 0; i < gf->entries.n; ++i)
        if (strncmp(gf->entries.v[i].id, prefix, strlen(prefix)) == 0) return 1;
    return 0;
}

static void run_lavapipe(run_info* ri, const golden* gf, int generate) {
    const char* width = getenv("LP_NATIVE_VECTOR_WIDTH");
    if (!width || !*width) {
        note_skip(ri, "lvp-",
                  "LP_NATIVE_VECTOR_WIDTH is not set: the lavapipe hashes are keyed by it (128, 256 or 512)");
        return;
    }
    if (strcmp(width, "128") && strcmp(width, "256") && strcmp(width, "512")) {
        note_skip(ri, "lvp-", "LP_NATIVE_VECTOR_WIDTH=%s: the hashes are recorded for 128, 256 and 512", width);
        return;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "lvp-w%s-", width);
    if (!generate && !config_recorded(gf, prefix)) {
        note_skip(ri, "lvp-", "no hashes recorded for LP_NATIVE_VECTOR_WIDTH=%s", width);
        return;
    }
    snprintf(ri->lp_width, sizeof ri->lp_width, "%s", width);
    /* VKBN_TEST_MERGE_DISPATCH: the merge dispatch must give the
     * last-workgroup merge's bits (merge.glsl). */
    test_apply_hooks();
    for (int nosg = 0; nosg < 2; ++nosg) {
        char name[64];
        snprintf(name, sizeof name, "lvp-w%s-%s", width, nosg ? "nosg" : "sg");
        vkbn_context_desc d;
        memset(&d, 0, sizeof d);
        d.device = "llvmpipe";
        d.flags = test_context_flags() | (nosg ? VKBN_CONTEXT_DISABLE_SUBGROUPS : 0);
        d.log = test_log;
        vkbn_context ctx = NULL;
        vkbn_result r = vkbn_context_create(&d, &ctx);
        if (r == VKBN_ERROR_NO_DEVICE || r == VKBN_ERROR_DEVICE_NOT_FOUND) {
            note_skip(ri, "lvp-", "no lavapipe device (%s)", vkbn_last_error());
            return;
        }
        if (r != VKBN_SUCCESS) {
            snprintf(g.cfg, sizeof g.cfg, "%s", name);
            failf("vkbn_context_create: %s (%s)", vkbn_last_error(), vkbn_result_string(r));
            return;
        }
        vkbn_device_info info;
        TRY(vkbn_context_get_device_info(ctx, &info));
        char bits[32];
        snprintf(bits, sizeof bits, "%s bits", width);
        const char* recorded = header_get(gf, "mesa");
        if (info.backend != VKBN_BACKEND_VULKAN || info.type != VKBN_DEVICE_TYPE_VULKAN_CPU) {
            /* Named, never the default (vkbn's CPU path where lavapipe is the
             * only Vulkan device): the device must be lavapipe itself. */
            snprintf(g.cfg, sizeof g.cfg, "%s", name);
            failf("device \"llvmpipe\" opened \"%s\", which is not a Vulkan CPU driver", info.name);
        } else if (!strstr(info.name, bits)) {
            snprintf(g.cfg, sizeof g.cfg, "%s", name);
            failf("device \"%s\" does not run at LP_NATIVE_VECTOR_WIDTH=%s", info.name, width);
        } else if (!generate && strcmp(recorded, info.driver_info) != 0) {
            note_skip(ri, "lvp-", "this driver is %s, the hashes were recorded with %s", info.driver_info,
                      *recorded ? recorded : "(none)");
            vkbn_context_destroy(ctx);
            return;
        } else if ((int)vkbn_context_uses_subgroups(ctx) != !nosg) {
            snprintf(g.cfg, sizeof g.cfg, "%s", name);
            failf("subgroups %s expected, the context %s them (VKBN_DISABLE_SUBGROUPS set?)", nosg ? "off" : "on",
                  nosg ? "uses" : "does not use");
        } else {
            snprintf(ri->mesa, sizeof ri->mesa, "%s", info.driver_info);
            ri->vulkan_ran = 1;
            run_one(ri, ctx, name, 1, 0);
        }
        vkbn_context_destroy(ctx);
    }
}

/* ------------------------------------------------------------------------ */
/* The golden file                                                           */
/* ------------------------------------------------------------------------ */

/* The header keys the file records, in order. */
static const char* const k_header_keys[] = {
    "commit",
    "mesa",
    "lavapipe LP_NATIVE_VECTOR_WIDTH",
    "lavapipe configs",
    "cpu arch",
    "cpu threads",
    "cpu isa recorded",
    "cpu isa skipped",
    "cpu model",
    "libc",
    "compiler",
};
#define HEADER_KEYS (sizeof k_header_keys / sizeof k_header_keys[0])

static int load_golden(const char* path, golden* gf) {
    memset(gf, 0, sizeof *gf);
    FILE* fp = fopen(path, "r");
    if (!fp) return 0;
    char line[1024];
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == '#') {
            const char* colon = strstr(line, ": ");
            if (line[1] == ' ' && colon) {
                char key[256];
                size_t n = (size_t)(colon - line - 2);
                if (n >= sizeof key) n = sizeof key - 1;
                memcpy(key, line + 2, n);
                key[n] = 0;
                for (size_t k = 0; k < HEADER_KEYS; ++k)
                    if (strcmp(key, k_header_keys[k]) == 0) header_set(gf, key, colon + 2);
            }
            continue;
        }
        if (!line[0]) continue;
        char* space = strrchr(line, ' ');
        if (!space) continue;
        *space = 0;
        list_add(&gf->entries, line, strtoull(space + 1, NULL, 16));
    }
    fclose(fp);
    qsort(gf->entries.v, gf->entries.n, sizeof *gf->entries.v, entry_cmp);
    gf->loaded = 1;
    return 1;
}

static int ran_config(const run_info* ri, const char* cfg) {
    for (size_t i = 0; i < ri->ran_count; ++i)
        if (strcmp(ri->ran[i], cfg) == 0) return 1;
    return 0;
}

/* The distinct configurations of the entries, in order. */
static size_t configs_of(const entry_list* l, char out[][64], size_t max) {
    size_t n = 0;
    for (size_t i = 0; i < l->n; ++i) {
        char cfg[64];
        config_of(l->v[i].id, cfg, sizeof cfg);
        if (n && strcmp(out[n - 1], cfg) == 0) continue;
        int seen = 0;
        for (size_t k = 0; k < n && !seen; ++k) seen = strcmp(out[k], cfg) == 0;
        if (!seen && n < max) snprintf(out[n++], 64, "%s", cfg);
    }
    return n;
}

static void append_word(char* buf, size_t size, const char* word) {
    size_t len = strlen(buf);
    if (!strstr(buf, word)) snprintf(buf + len, size - len, "%s%s", len ? " " : "", word);
}

static int write_golden(const char* path, golden* gf, const run_info* ri, const char* commit) {
    qsort(gf->entries.v, gf->entries.n, sizeof *gf->entries.v, entry_cmp);
    static char cfgs[256][64];
    size_t ncfg = configs_of(&gf->entries, cfgs, 256);
    char widths[64] = "", isas[128] = "", skipped[128] = "";
    static const char* const w_all[] = {"128", "256", "512"};
    for (size_t k = 0; k < 3; ++k) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "lvp-w%s-", w_all[k]);
        for (size_t i = 0; i < ncfg; ++i)
            if (strncmp(cfgs[i], prefix, strlen(prefix)) == 0) append_word(widths, sizeof widths, w_all[k]);
    }
#if defined(__aarch64__) || defined(_M_ARM64)
    static const char* const isa_all[] = {"scalar", "neon"};
#else
    static const char* const isa_all[] = {"scalar", "sse2", "avx2", "avx512"};
#endif
    for (size_t k = 0; k < sizeof isa_all / sizeof isa_all[0]; ++k) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "cpu-%s%s-", CPU_ARCH_TAG, isa_all[k]);
        int found = 0;
        for (size_t i = 0; i < ncfg && !found; ++i) found = strncmp(cfgs[i], prefix, strlen(prefix)) == 0;
        append_word(found ? isas : skipped, found ? sizeof isas : sizeof skipped, isa_all[k]);
    }
    if (commit) header_set(gf, "commit", commit);
    if (ri->vulkan_ran) header_set(gf, "mesa", ri->mesa);
    header_set(gf, "lavapipe LP_NATIVE_VECTOR_WIDTH", widths);
    header_set(gf, "lavapipe configs",
               "lvp-w<width>-sg (subgroups on) and -nosg (VKBN_CONTEXT_DISABLE_SUBGROUPS), validation layers on");
    header_set(
        gf, "cpu threads",
        "1 and 2 (cpu-<isa>-t1, -t2; streaming pinned off by the test hook), 1 with streaming stores (-t1-stream)");
    header_set(gf, "cpu isa recorded", isas);
    header_set(gf, "cpu isa skipped", *skipped ? skipped : "none");
    if (ri->cpu_model[0]) {
        header_set(gf, "cpu model", ri->cpu_model);
#if defined(__x86_64__) || defined(_M_X64)
        header_set(gf, "cpu arch", "x86_64 (other architectures' configurations are named cpu-<arch>-*)");
#endif
#ifdef HAVE_GLIBC_VERSION
        char libc[64];
        snprintf(libc, sizeof libc, "glibc %s (expf in the CPU path's SiLU)", gnu_get_libc_version());
        header_set(gf, "libc", libc);
#endif
#if defined(__clang__)
        header_set(gf, "compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
        header_set(gf, "compiler", "gcc " __VERSION__);
#endif
    }
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE* fp = fopen(tmp, "w");
    if (!fp) {
        printf("FAIL: cannot write %s\n", tmp);
        return 0;
    }
    fprintf(fp,
            "# vkbn golden hashes (tests/test_golden.c): FNV-1a 64 of the bytes of every output buffer of a fixed\n"
            "# set of cases, one line per case, \"<config>/<case-id> <hash>\". They pin the results bit for bit;\n"
            "# only a deliberate change of numerics (a reduction order, a formula) regenerates them, with the\n"
            "# reason in the commit message (docs/ARCHITECTURE.md, \"Testing\"). The CPU path's synchronized\n"
            "# passes (cpu-*/sync/) are expected to move once: test_golden generate --only 'cpu-*/sync/'.\n"
            "# They depend on:\n");
    for (size_t k = 0; k < HEADER_KEYS; ++k) {
        const char* v = header_get(gf, k_header_keys[k]);
        if (*v) fprintf(fp, "# %s: %s\n", k_header_keys[k], v);
    }
    for (size_t i = 0; i < gf->entries.n; ++i)
        fprintf(fp, "%s %016llx\n", gf->entries.v[i].id, (unsigned long long)gf->entries.v[i].hash);
    if (fclose(fp) != 0) {
        printf("FAIL: cannot write %s\n", tmp);
        return 0;
    }
    remove(path); /* rename does not replace on Windows */
    if (rename(tmp, path) != 0) {
        printf("FAIL: cannot rename %s to %s\n", tmp, path);
        return 0;
    }
    printf("wrote %zu entries to %s\n", gf->entries.n, path);
    return 1;
}

static const char* skip_reason(const run_info* ri, const char* cfg) {
    for (size_t i = 0; i < ri->skipped_count; ++i)
        if (strncmp(cfg, ri->skipped[i], strlen(ri->skipped[i])) == 0) return ri->skip_why[i];
    if (strncmp(cfg, "lvp-w", 5) == 0 && ri->lp_width[0]) return "recorded at another LP_NATIVE_VECTOR_WIDTH";
    return "not selected in this run (--backend)";
}

static int usage(void) {
    printf(
        "usage: test_golden check|generate [--backend cpu|lavapipe|all] [--only PATTERN] [--golden FILE]\n"
        "                   [--commit HASH] [--verbose]\n");
    return 2;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_pin_drivers(); /* sanitizer builds: even the CPU path's contexts enumerate the Vulkan devices */
    if (argc < 2) return usage();
    int generate = strcmp(argv[1], "generate") == 0;
    if (!generate && strcmp(argv[1], "check") != 0) return usage();
    const char* path = VKBN_GOLDEN_FILE;
    const char* backend = "all";
    const char* commit = NULL;
    for (int i = 2; i < argc; ++i) {
        if (strcmp(argv[i], "--verbose") == 0) {
            g.verbose = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--only") == 0) {
            g.only = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--golden") == 0) {
            path = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--backend") == 0) {
            backend = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--commit") == 0) {
            commit = argv[++i];
        } else {
            return usage();
        }
    }
    int cpu = strcmp(backend, "all") == 0 || strcmp(backend, "cpu") == 0;
    int lvp = strcmp(backend, "all") == 0 || strcmp(backend, "lavapipe") == 0;
    if (!cpu && !lvp) return usage();

    golden gf;
    if (!load_golden(path, &gf) && !generate) {
        printf("FAIL: cannot read the golden file %s\n", path);
        return 1;
    }
    run_info ri;
    memset(&ri, 0, sizeof ri);
    double t0 = now();
    if (cpu) run_cpu(&ri, &gf, generate);
    if (lvp) run_lavapipe(&ri, &gf, generate);
    printf("ran %zu configuration(s), %zu cases in %.2f s\n", ri.ran_count, g.results.n, now() - t0);

    entry_list* res = &g.results;
    qsort(res->v, res->n, sizeof *res->v, entry_cmp);
    for (size_t i = 1; i < res->n; ++i) {
        if (strcmp(res->v[i - 1].id, res->v[i].id) == 0) {
            printf("FAIL: case id %s produced twice\n", res->v[i].id);
            g.errors++;
        }
    }

    if (generate) {
        if (g.errors) {
            printf("FAIL: %d error(s): %s not written\n", g.errors, path);
            list_free(&gf.entries);
            list_free(res);
            return 1;
        }
        if (gf.loaded && ri.vulkan_ran && *header_get(&gf, "mesa") && strcmp(header_get(&gf, "mesa"), ri.mesa)) {
            printf(
                "WARNING: the file's lavapipe hashes were recorded with %s, these with %s: regenerate every "
                "LP_NATIVE_VECTOR_WIDTH\n",
                header_get(&gf, "mesa"), ri.mesa);
        }
        entry_list merged;
        memset(&merged, 0, sizeof merged);
        size_t kept = 0;
        for (size_t i = 0; i < gf.entries.n; ++i) {
            char cfg[64];
            config_of(gf.entries.v[i].id, cfg, sizeof cfg);
            if (ran_config(&ri, cfg) && selected(gf.entries.v[i].id)) continue;
            list_add(&merged, gf.entries.v[i].id, gf.entries.v[i].hash);
            kept++;
        }
        size_t changed = 0, added = 0;
        for (size_t i = 0; i < res->n; ++i) {
            entry* old = list_find(&gf.entries, res->v[i].id);
            if (!old)
                added++;
            else if (old->hash != res->v[i].hash)
                changed++;
            list_add(&merged, res->v[i].id, res->v[i].hash);
        }
        printf("generate: %zu kept, %zu new, %zu changed, %zu removed\n", kept, added, changed,
               gf.entries.n - kept - (res->n - added));
        list_free(&gf.entries);
        gf.entries = merged;
        int ok = write_golden(path, &gf, &ri, commit);
        list_free(&gf.entries);
        list_free(res);
        return ok ? 0 : 1;
    }

    size_t matched = 0, mismatched = 0, missing = 0, stale = 0;
    for (size_t i = 0; i < res->n; ++i) {
        entry* want = list_find(&gf.entries, res->v[i].id);
        if (!want) {
            printf("MISSING %s %016llx (not in the golden file)\n", res->v[i].id, (unsigned long long)res->v[i].hash);
            missing++;
        } else if (want->hash != res->v[i].hash) {
            printf("MISMATCH %s got %016llx want %016llx\n", res->v[i].id, (unsigned long long)res->v[i].hash,
                   (unsigned long long)want->hash);
            mismatched++;
        } else {
            matched++;
        }
    }
    /* Entries of configurations that ran but that no case produced; those of
     * configurations that did not run, per configuration. */
    static char skipped_cfg[256][64];
    size_t skipped_n[256] = {0}, nskip = 0;
    for (size_t i = 0; i < gf.entries.n; ++i) {
        const char* id = gf.entries.v[i].id;
        if (!selected(id)) continue;
        char cfg[64];
        config_of(id, cfg, sizeof cfg);
        if (ran_config(&ri, cfg)) {
            if (!list_find(res, id)) {
                printf("STALE %s (in the golden file, not produced by this test)\n", id);
                stale++;
            }
            continue;
        }
        size_t k = 0;
        while (k < nskip && strcmp(skipped_cfg[k], cfg) != 0) ++k;
        if (k == nskip && nskip < 256) snprintf(skipped_cfg[nskip++], 64, "%s", cfg);
        if (k < 256) skipped_n[k]++;
    }
    size_t skipped_total = 0;
    for (size_t k = 0; k < nskip; ++k) {
        printf("SKIPPED %s: %zu recorded cases not run here (%s)\n", skipped_cfg[k], skipped_n[k],
               skip_reason(&ri, skipped_cfg[k]));
        skipped_total += skipped_n[k];
    }
    printf("golden: %zu matched, %zu mismatched, %zu missing, %zu stale, %zu skipped; %d error(s)\n", matched,
           mismatched, missing, stale, skipped_total, g.errors);
    list_free(&gf.entries);
    list_free(res);
    if (mismatched || missing || stale || g.errors) return 1;
    if (!ri.ran_count) {
        printf("SKIP: no configuration could run here\n");
        return TEST_SKIP;
    }
    return 0;
}
