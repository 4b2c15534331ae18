/* The CPU backward kernels, written once over the vector primitives of one
 * instruction set; included by cpu_kernels_impl.h (so per ISA, with that
 * ISA's V, W, v_* and the storage loads and stores defined there).
 *
 * The arithmetic is shaders/bwd_common.glsl's, lane by lane:
 *   d = x - mean;  g = dy act'(u)  (act' from y, or SiLU's from u = d k1 + shift [+ z])
 *   sums:     sum g, sum g d        (compensated, as shaders/bwd_sum.glsl)
 *   training: dx = k1 ((g - mg) - (d invstd) e), evaluated as k1 g + db d + dc
 *   (vkbn__cpu_bwd_coef: two fused multiply-adds);  frozen: dx = k1 g
 * act' and its kinks: cpu_activation.h.
 *
 * Sums: every vector of g (and of g d) joins a per-lane pair (s, c) by
 * TwoSum; after BWD_BLOCK values a lane's pair merges into an outer pair
 * (TwoSum on s, c added) and restarts, so the plain float sum c runs over at
 * most BWD_BLOCK terms and each lane's result carries about
 * 2u sum |terms| + u |sum| whatever m. Lanes then merge in a fixed tree (lane
 * l with lane l + h) and values that did not fill a vector (scalar tails,
 * blocked the same way) merge last. Everything is a fixed function of the
 * shape and of the ranges the planner passes, so results are bitwise
 * reproducible for a thread count. */

/* ------------------------------------------------------------------------ */
/* Per element                                                               */
/* ------------------------------------------------------------------------ */

#define BWD_BLOCK 1024 /* values per lane in an inner compensated pair */

ALWAYS_INLINE void csum_add_v(V* s, V* c, V v) {
    V t = v_add(*s, v);
    V z = v_sub(t, *s);
    V e = v_add(v_sub(*s, v_sub(t, z)), v_sub(v, z));
    *s = t;
    *c = v_add(*c, e);
}

/* Whether act' is one of two values chosen by a test of y: the activations
 * with a mask (validate.c's activation_has_mask). */
ALWAYS_INLINE int bwd_act_from_y(const vkbn_activation act) {
    return act == VKBN_ACTIVATION_RELU || act == VKBN_ACTIVATION_LEAKY_RELU || act == VKBN_ACTIVATION_CLAMP;
}

/* Whether the activation's derivative reads `act` (y, or SiLU's residual). */
ALWAYS_INLINE int bwd_reads_act(const vkbn__cpu_bwd_tensors* t, const vkbn_activation act) {
    return bwd_act_from_y(act) || (act == VKBN_ACTIVATION_SILU && t->act != NULL);
}

/* What the element loops branch on, fixed for a kernel call. The generic
 * bodies read it from the tensors at run time; the channels-last kernels
 * also run the passes that matter (training's sums and dx, frozen
 * statistics' single pass) with it constant, so their loops test nothing
 * per vector but dx's streaming and keep no pointer they do not read: with
 * every flag tested per vector, the activation mask's dx loop ran 43% over
 * the plain backward's on 32x512x7x7 (in cache), and the tests, not the
 * bits, were the cost. */
typedef struct bwd_flags {
    unsigned writes;       /* VKBN__BWD_WRITE_* */
    int x;                 /* x is read (else d = 0) */
    int frozen;            /* dx = k1 g */
    int mask;              /* act' from the activation mask's bits: BWD_MASK_* */
    int stream, stream_dz; /* non-temporal stores of dx, dz */
} bwd_flags;

enum {
    BWD_MASK_NONE,   /* y (or no activation) */
    BWD_MASK_ANY,    /* the mask, vectors at any element */
    BWD_MASK_ALIGNED /* the mask, every vector at a multiple of W (channels-last with W | C) */
};

/* From the tensors; dx_aligned, dz_aligned: whether every vector store of
 * the range is aligned, which non-temporal stores need. */
ALWAYS_INLINE bwd_flags bwd_flags_of(const vkbn__cpu_bwd_tensors* t, unsigned writes, const vkbn_activation act,
                                     int dx_aligned, int dz_aligned) {
    const int mask = bwd_act_from_y(act) && t->mask != NULL ? BWD_MASK_ANY : BWD_MASK_NONE;
    bwd_flags f = {writes, t->x != NULL, t->frozen, mask, t->stream && dx_aligned, t->stream_dz && dz_aligned};
    return f;
}

/* The training passes over x: the sums (writing nothing) and dx alone. */
ALWAYS_INLINE int bwd_is_train_sums(bwd_flags f) { return f.writes == 0 && f.x && !f.frozen; }
ALWAYS_INLINE int bwd_is_train_dx(bwd_flags f) { return f.writes == VKBN__BWD_WRITE_DX && f.x && !f.frozen; }

/* Their flags: constants but dx's streaming (a branch per store that
 * measured free; a constant doubled the dx bodies). */
ALWAYS_INLINE bwd_flags bwd_flags_train(unsigned writes, int mask, int stream) {
    bwd_flags r = {writes, 1, 0, mask, stream, 0};
    return r;
}

/* Whether they take the mask with constant flags: where W divides C (every
 * vector's bits one aligned load), for RELU and LEAKY_RELU (the planner
 * runs CLAMP with a mask as RELU: its bodies would be dead code). */
ALWAYS_INLINE int bwd_mask_constant(const vkbn__cpu_bwd_tensors* t, const vkbn_activation act) {
    return act != VKBN_ACTIVATION_CLAMP && t->c % W == 0;
}

/* Frozen statistics with dweight or dbias: one pass, the sums and dx (y
 * or no activation; the elementwise frozen pass, without sums, stays
 * generic), and its flags. */
ALWAYS_INLINE int bwd_is_frozen_sums(bwd_flags f) {
    return f.writes == VKBN__BWD_WRITE_DX && f.x && f.frozen && !f.mask;
}
ALWAYS_INLINE bwd_flags bwd_flags_frozen(int stream) {
    bwd_flags r = {VKBN__BWD_WRITE_DX, 1, 1, BWD_MASK_NONE, stream, 0};
    return r;
}

/* g = dy act'(u) (cpu_activation.h); a is y (mask activations) or the
 * residual (SiLU, whose u is recomputed from d and the coefficients). */
ALWAYS_INLINE V bwd_grad_v(const vkbn__cpu_bwd_tensors* t, V dy, V a, V d, V k1, V shift, const vkbn_activation act) {
    V u = v_zero();
    if (act == VKBN_ACTIVATION_SILU) {
        u = v_fma(d, k1, shift);
        if (t->act) u = v_add(u, a);
    }
    return act_grad_v(dy, a, u, act, t->act_alpha, t->act_beta);
}

ALWAYS_INLINE float bwd_grad_s(const vkbn__cpu_bwd_tensors* t, float dy, float a, float d, float k1, float shift,
                               const vkbn_activation act) {
    float u = 0.0f;
    if (act == VKBN_ACTIVATION_SILU) {
        u = s_fma(d, k1, shift);
        if (t->act) u += a;
    }
    return act_grad_s(dy, a, u, act, t->act_alpha, t->act_beta);
}

/* g from the activation mask's bits instead of y: dy where the bit is set,
 * else 0 (RELU; the planner runs CLAMP as RELU) or alpha dy (LEAKY_RELU):
 * what act_grad_v gives for a y of 1.0 or 0.0, one select per vector. */
ALWAYS_INLINE V bwd_grad_bits_v(const vkbn__cpu_bwd_tensors* t, V dy, uint32_t bits, const vkbn_activation act) {
    if (act == VKBN_ACTIVATION_LEAKY_RELU) return v_select_bits(bits, dy, v_mul(dy, v_set1(t->act_alpha)));
    return v_select_bits(bits, dy, v_zero());
}

/* Whether element i of an output starts an aligned vector (false for no output). */
ALWAYS_INLINE int bwd_aligned(const uint8_t* base, uint64_t i, const int dt) {
    const uint64_t es = dt ? 2 : 4;
    return base && ((uintptr_t)base + i * es) % (W * es) == 0;
}

/* The kernels take a local copy of the tensors: the outputs are written
 * through uint8_t pointers, which may alias anything, so reading t->...
 * through the caller's pointer would reload every field after each store.
 * (Whether a range streams is its bwd_flags'.) */
ALWAYS_INLINE vkbn__cpu_bwd_tensors bwd_local(const vkbn__cpu_bwd_tensors* t) { return *t; }

/* The per-channel coefficients as vectors (one channel in every lane, or W
 * channels). */
typedef struct bwd_coef_v {
    V mean, k1, shift, db, dc;
} bwd_coef_v;

static bwd_coef_v coef_splat(const vkbn__cpu_bwd_coef* k) {
    bwd_coef_v r = {v_set1(k->mean), v_set1(k->k1), v_set1(k->shift), v_set1(k->db), v_set1(k->dc)};
    return r;
}

ALWAYS_INLINE bwd_coef_v coef_lanes(const float* coef, uint64_t c, uint64_t j) {
    bwd_coef_v r = {v_loadu(coef + VKBN__BWD_MEAN * c + j), v_loadu(coef + VKBN__BWD_K1 * c + j),
                    v_loadu(coef + VKBN__BWD_SHIFT * c + j), v_loadu(coef + VKBN__BWD_DB * c + j),
                    v_loadu(coef + VKBN__BWD_DC * c + j)};
    return r;
}

/* The coefficients a sums pass reads: mean always, k1 for SiLU's u and
 * frozen dx, shift for SiLU (the rest stay zero: no loads that the loop
 * would carry for nothing). */
ALWAYS_INLINE bwd_coef_v coef_lanes_sums(const float* coef, uint64_t c, uint64_t j, unsigned writes,
                                         const vkbn_activation act) {
    bwd_coef_v r;
    r.mean = v_loadu(coef + VKBN__BWD_MEAN * c + j);
    r.db = r.dc = r.shift = r.k1 = v_zero();
    if (act == VKBN_ACTIVATION_SILU || (writes & VKBN__BWD_WRITE_DX)) r.k1 = v_loadu(coef + VKBN__BWD_K1 * c + j);
    if (act == VKBN_ACTIVATION_SILU) r.shift = v_loadu(coef + VKBN__BWD_SHIFT * c + j);
    return r;
}

static vkbn__cpu_bwd_coef coef_at(const float* coef, uint64_t c, uint64_t j) {
    vkbn__cpu_bwd_coef r = {coef[VKBN__BWD_MEAN * c + j],  coef[VKBN__BWD_INVSTD * c + j], coef[VKBN__BWD_K1 * c + j],
                            coef[VKBN__BWD_SHIFT * c + j], coef[VKBN__BWD_DB * c + j],     coef[VKBN__BWD_DC * c + j]};
    return r;
}

/* One vector of element i: g and d. */
ALWAYS_INLINE V bwd_load_grad_v(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t i, const bwd_coef_v* k, V* d,
                                const int dt, const vkbn_activation act) {
    V dy = load_v(t->dy, i, dt);
    *d = f.x ? v_sub(load_v(t->x, i, dt), k->mean) : v_zero();
    if (f.mask) return bwd_grad_bits_v(t, dy, mask_vector(t->mask, i, f.mask == BWD_MASK_ALIGNED), act);
    V a = v_zero();
    if (bwd_reads_act(t, act)) a = load_v(t->act, i, dt);
    return bwd_grad_v(t, dy, a, *d, k->k1, k->shift, act);
}

ALWAYS_INLINE float bwd_load_grad_s(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t i,
                                    const vkbn__cpu_bwd_coef* k, float* d, const int dt, const vkbn_activation act) {
    float dy = load_s(t->dy, i, dt);
    *d = f.x ? load_s(t->x, i, dt) - k->mean : 0.0f;
    float a = 0.0f;
    if (bwd_reads_act(t, act)) a = f.mask ? mask_s(t->mask, i) : load_s(t->act, i, dt);
    return bwd_grad_s(t, dy, a, *d, k->k1, k->shift, act);
}

ALWAYS_INLINE V bwd_dx_v(bwd_flags f, V g, V d, const bwd_coef_v* k) {
    if (f.frozen) return v_mul(g, k->k1);
    return v_fma(k->k1, g, v_fma(k->db, d, k->dc));
}

ALWAYS_INLINE float bwd_dx_s(bwd_flags f, float g, float d, const vkbn__cpu_bwd_coef* k) {
    if (f.frozen) return g * k->k1;
    return s_fma(k->k1, g, s_fma(k->db, d, k->dc));
}

/* Writes what f.writes asks of element i's vector. */
ALWAYS_INLINE void bwd_write_v(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t i, V g, V d, const bwd_coef_v* k,
                               const int dt) {
    if (f.writes & VKBN__BWD_WRITE_DZ) store_v(t->dz, i, g, dt, f.stream_dz);
    if (f.writes & VKBN__BWD_WRITE_DX) store_v(t->dx, i, bwd_dx_v(f, g, d, k), dt, f.stream);
}

ALWAYS_INLINE void bwd_write_s(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t i, float g, float d,
                               const vkbn__cpu_bwd_coef* k, const int dt) {
    if (f.writes & VKBN__BWD_WRITE_DZ) store_s(t->dz, i, g, dt);
    if (f.writes & VKBN__BWD_WRITE_DX) store_s(t->dx, i, bwd_dx_s(f, g, d, k), dt);
}

/* ------------------------------------------------------------------------ */
/* Channels-first                                                            */
/* ------------------------------------------------------------------------ */

/* Lane sums of one channel in progress: an inner pair per lane (at most
 * BWD_BLOCK values), the outer pair it merges into, and the same for the
 * scalar tails. */
typedef struct bwd_acc {
    V sg, cg, sgd, cgd;     /* inner */
    V osg, ocg, osgd, ocgd; /* outer */
    uint32_t count;         /* values per lane in the inner pair */
    vkbn__cpu_csum tail, otail;
    uint32_t tail_count;
} bwd_acc;

static void bwd_acc_flush(bwd_acc* a) {
    csum_add_v(&a->osg, &a->ocg, a->sg);
    a->ocg = v_add(a->ocg, a->cg);
    csum_add_v(&a->osgd, &a->ocgd, a->sgd);
    a->ocgd = v_add(a->ocgd, a->cgd);
    a->sg = a->cg = a->sgd = a->cgd = v_zero();
    a->count = 0;
}

static void bwd_tail_flush(bwd_acc* a) {
    a->otail = vkbn__cpu_csum_merge(a->otail, a->tail);
    memset(&a->tail, 0, sizeof a->tail);
    a->tail_count = 0;
}

/* `len` contiguous elements from element i. */
ALWAYS_INLINE void cf_bwd_run(const vkbn__cpu_bwd_tensors* t, bwd_flags f, bwd_acc* a, uint64_t i, uint64_t len,
                              const bwd_coef_v* kv, const vkbn__cpu_bwd_coef* k, const int dt,
                              const vkbn_activation act) {
    const uint64_t end = i + len;
    while (i + W <= end) {
        /* Vectors up to the end of the run or of the inner block. */
        uint64_t nv = (end - i) / W, room = BWD_BLOCK - a->count;
        if (nv > room) nv = room;
        const uint64_t stop = i + nv * W;
        V sg = a->sg, cg = a->cg, sgd = a->sgd, cgd = a->cgd;
        for (; i < stop; i += W) {
            V d;
            V g = bwd_load_grad_v(t, f, i, kv, &d, dt, act);
            if (f.writes) bwd_write_v(t, f, i, g, d, kv, dt);
            csum_add_v(&sg, &cg, g);
            csum_add_v(&sgd, &cgd, v_mul(g, d));
        }
        a->sg = sg, a->cg = cg, a->sgd = sgd, a->cgd = cgd;
        a->count += (uint32_t)nv;
        if (a->count == BWD_BLOCK) bwd_acc_flush(a);
    }
    for (; i < end; ++i) {
        float d;
        float g = bwd_load_grad_s(t, f, i, k, &d, dt, act);
        if (f.writes) bwd_write_s(t, f, i, g, d, k, dt);
        vkbn__csum_add(&a->tail.sg, &a->tail.cg, g);
        vkbn__csum_add(&a->tail.sgd, &a->tail.cgd, g * d);
        if (++a->tail_count == BWD_BLOCK) bwd_tail_flush(a);
    }
}

/* The lanes in a fixed tree, then the tails. */
static vkbn__cpu_csum bwd_acc_finish(bwd_acc* a) {
    bwd_acc_flush(a);
    bwd_tail_flush(a);
    float sg[W], cg[W], sgd[W], cgd[W];
    v_storeu(sg, a->osg);
    v_storeu(cg, a->ocg);
    v_storeu(sgd, a->osgd);
    v_storeu(cgd, a->ocgd);
    for (int h = W / 2; h >= 1; h /= 2) {
        for (int l = 0; l < h; ++l) {
            vkbn__cpu_csum x = {sg[l], cg[l], sgd[l], cgd[l]}, y = {sg[l + h], cg[l + h], sgd[l + h], cgd[l + h]};
            x = vkbn__cpu_csum_merge(x, y);
            sg[l] = x.sg, cg[l] = x.cg, sgd[l] = x.sgd, cgd[l] = x.cgd;
        }
    }
    vkbn__cpu_csum r = {sg[0], cg[0], sgd[0], cgd[0]};
    return vkbn__cpu_csum_merge(r, a->otail);
}

ALWAYS_INLINE vkbn__cpu_csum cf_bwd_sums_t(const vkbn__cpu_bwd_tensors* targ, uint64_t c, uint64_t j0, uint64_t j1,
                                           const vkbn__cpu_bwd_coef* k, unsigned writes, const int dt,
                                           const vkbn_activation act) {
    const vkbn__cpu_bwd_tensors tl = bwd_local(targ);
    const vkbn__cpu_bwd_tensors* t = &tl;
    bwd_acc a;
    memset(&a, 0, sizeof a);
    a.sg = a.cg = a.sgd = a.cgd = a.osg = a.ocg = a.osgd = a.ocgd = v_zero();
    const bwd_coef_v kv = coef_splat(k);
    const uint64_t s = t->s, es = dt ? 2 : 4;
    uint64_t n = j0 / s, s0 = j0 % s;
    for (uint64_t j = j0; j < j1; ++n, s0 = 0) {
        uint64_t len = s - s0;
        if (len > j1 - j) len = j1 - j;
        if (j + len < j1) {
            /* The head of the next row: rows of a channel are C rows apart,
             * each a short stream the hardware prefetcher must first find. */
            uint64_t next = ((n + 1) * t->c + c) * s;
            uint64_t head = s * es < RUN_PREFETCH_HEAD ? s * es : RUN_PREFETCH_HEAD;
            for (uint64_t b = 0; b < head; b += 64) {
                VKBN_PREFETCH(t->dy + next * es + b);
                if (t->x) VKBN_PREFETCH(t->x + next * es + b);
            }
        }
        const uint64_t first = (n * t->c + c) * s + s0;
        const bwd_flags f = bwd_flags_of(t, writes, act, bwd_aligned(t->dx, first, dt), bwd_aligned(t->dz, first, dt));
        cf_bwd_run(t, f, &a, first, len, &kv, k, dt, act);
        j += len;
    }
    return bwd_acc_finish(&a);
}

ALWAYS_INLINE void cf_bwd_apply_t(const vkbn__cpu_bwd_tensors* targ, uint64_t i, uint64_t count,
                                  const vkbn__cpu_bwd_coef* k, unsigned writes, const int dt,
                                  const vkbn_activation act) {
    const vkbn__cpu_bwd_tensors tl = bwd_local(targ);
    const vkbn__cpu_bwd_tensors* t = &tl;
    const uint64_t end = i + count, es = dt ? 2 : 4;
    const bwd_coef_v kv = coef_splat(k);
    uint8_t* lead = (writes & VKBN__BWD_WRITE_DX) ? t->dx : t->dz;
    if (t->stream || t->stream_dz) {
        /* Peel to the main output's alignment, so the body streams (scalar
         * stores: the flags' streaming does not matter here). */
        const bwd_flags peel = bwd_flags_of(t, writes, act, 0, 0);
        while (i < end && ((uintptr_t)(lead + i * es) % (W * es)) != 0) {
            float d;
            float g = bwd_load_grad_s(t, peel, i, k, &d, dt, act);
            bwd_write_s(t, peel, i, g, d, k, dt);
            ++i;
        }
    }
    const bwd_flags f = bwd_flags_of(t, writes, act, bwd_aligned(t->dx, i, dt), bwd_aligned(t->dz, i, dt));
    for (; i + 2 * W <= end; i += 2 * W) {
        V d0, d1;
        V g0 = bwd_load_grad_v(t, f, i, &kv, &d0, dt, act);
        V g1 = bwd_load_grad_v(t, f, i + W, &kv, &d1, dt, act);
        bwd_write_v(t, f, i, g0, d0, &kv, dt);
        bwd_write_v(t, f, i + W, g1, d1, &kv, dt);
    }
    for (; i + W <= end; i += W) {
        V d;
        V g = bwd_load_grad_v(t, f, i, &kv, &d, dt, act);
        bwd_write_v(t, f, i, g, d, &kv, dt);
    }
    for (; i < end; ++i) {
        float d;
        float g = bwd_load_grad_s(t, f, i, k, &d, dt, act);
        bwd_write_s(t, f, i, g, d, k, dt);
    }
}

/* ------------------------------------------------------------------------ */
/* Channels-last: lanes are channels, rows walked in memory order (two or    */
/* three sequential streams, which hardware prefetchers follow). Sums: each  */
/* tile of CL_BWD_TILE_ROWS rows adds into plain per-channel tile sums (at   */
/* most 16 roundings deep, within the bound of bwd_sum.glsl's chunks), then  */
/* each tile sum joins the channel's compensated pair by TwoSum.             */
/* ------------------------------------------------------------------------ */

#define CL_BWD_TILE_ROWS 16
#define BWD_PREFETCH_BYTES 4096 /* how far ahead the streams are fetched in software */

/* Software prefetch of the input streams `ahead` bytes past element i:
 * measured, the hardware prefetchers alone leave the sums pass at a third of
 * the copy bandwidth. Prefetches never fault. */
ALWAYS_INLINE void bwd_prefetch(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t i, uint64_t ahead, const int dt,
                                const vkbn_activation act) {
    const uint64_t at = i * (dt ? 2 : 4) + ahead;
    VKBN_PREFETCH(t->dy + at);
    if (f.x) VKBN_PREFETCH(t->x + at);
    if (f.mask) {
        /* As far ahead in elements; a line of the mask holds 512. */
        if (f.mask == BWD_MASK_ANY || i % 512 < W)
            VKBN_PREFETCH((const uint8_t*)t->mask + (i + ahead / (dt ? 2 : 4)) / 8);
    } else if (bwd_reads_act(t, act))
        VKBN_PREFETCH(t->act + at);
}

/* How far ahead the kernels over channels [c0, c0 + cb) of rows of c
 * prefetch: BWD_PREFETCH_BYTES when the window is the whole row; in a channel
 * block (cpu_plan_grads.c), the same channels whole rows ahead, as many as
 * hold about BWD_PREFETCH_BYTES of the block (a plain byte offset would land
 * in other blocks' channels). */
ALWAYS_INLINE uint64_t cl_prefetch_ahead(uint64_t c, uint64_t cb, const int dt) {
    const uint64_t es = dt ? 2 : 4;
    if (cb == c) return BWD_PREFETCH_BYTES;
    return (BWD_PREFETCH_BYTES + cb * es - 1) / (cb * es) * c * es;
}

/* Once per tile, so kept out of line; and unspecialized: GCC's clones for the
 * narrow rows' constant c warn (-Waggressive-loop-optimizations) about the
 * scalar tail loop they never run. */
#define BWD_OUT_OF_LINE VKBN_NOINLINE /* noinline, and noclone on GCC */

/* Compensated pairs (s, c) += v for c lanes: s and c arrays. */
BWD_OUT_OF_LINE static void cl_csum_arrays(uint64_t c, float* s, float* comp, const float* v) {
    uint64_t j = 0;
    for (; j + W <= c; j += W) {
        V a = v_loadu(s + j), b = v_loadu(comp + j);
        csum_add_v(&a, &b, v_loadu(v + j));
        v_storeu(s + j, a);
        v_storeu(comp + j, b);
    }
    for (; j < c; ++j) vkbn__csum_add(s + j, comp + j, v[j]);
}

/* Clears channels [c0, c1) of `arrays` consecutive arrays of c floats. */
static void cl_clear_window(float* a, int arrays, uint64_t c, uint64_t c0, uint64_t c1) {
    for (int k = 0; k < arrays; ++k) memset(a + (uint64_t)k * c + c0, 0, (c1 - c0) * sizeof *a);
}

/* Merges the inner pairs (4 arrays of c) of channels [c0, c1) into the outer
 * ones and clears them. */
static void cl_bwd_flush(uint64_t c, uint64_t c0, uint64_t c1, float* outer, float* inner) {
    for (uint64_t j = c0; j < c1; ++j) {
        vkbn__cpu_csum o = {outer[j], outer[c + j], outer[2 * c + j], outer[3 * c + j]};
        vkbn__cpu_csum b = {inner[j], inner[c + j], inner[2 * c + j], inner[3 * c + j]};
        o = vkbn__cpu_csum_merge(o, b);
        outer[j] = o.sg, outer[c + j] = o.cg, outer[2 * c + j] = o.sgd, outer[3 * c + j] = o.cgd;
    }
    cl_clear_window(inner, 4, c, c0, c1);
}

/* Whether every row's vectors of an output are aligned. */
ALWAYS_INLINE int cl_rows_aligned(const uint8_t* base, uint64_t c, const int dt) {
    return bwd_aligned(base, 0, dt) && c % W == 0;
}

/* Narrow windows (channels [c0, c0 + nv W), nv <= CL_NARROW_MAX: narrow rows,
 * or a narrow channel block): the same sums in the same order, with the
 * coefficients and the tile sums in registers. The loops over v run to
 * CL_NARROW_MAX, a constant, and test v < nv: the compiler unrolls them and
 * keeps a[v], b[v] and kv[v] in registers for any nv, with one body for all
 * four widths instead of one each (a predictable branch per vector). */
#define CL_NARROW_MAX 4

ALWAYS_INLINE void cl_bwd_sums_narrow(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t r0, uint64_t r1,
                                      uint64_t c0, const float* coef, float* sums, const int dt,
                                      const vkbn_activation act, const int nv) {
    const uint64_t c = t->c, cb = (uint64_t)nv * W, ahead = cl_prefetch_ahead(c, cb, dt);
    float* inner = sums + 4 * c;
    float* tg = sums + 8 * c;
    float* tgd = tg + c;
    bwd_coef_v kv[CL_NARROW_MAX];
    for (int v = 0; v < CL_NARROW_MAX; ++v)
        if (v < nv) kv[v] = coef_lanes_sums(coef, c, c0 + (uint64_t)v * W, f.writes, act);
    uint64_t tiles = 0;
    for (uint64_t rt = r0; rt < r1; rt += CL_BWD_TILE_ROWS) {
        const uint64_t re = rt + CL_BWD_TILE_ROWS < r1 ? rt + CL_BWD_TILE_ROWS : r1;
        V a[CL_NARROW_MAX], b[CL_NARROW_MAX];
        for (int v = 0; v < CL_NARROW_MAX; ++v) a[v] = b[v] = v_zero();
        for (uint64_t r = rt; r < re; ++r) {
            for (int v = 0; v < CL_NARROW_MAX; ++v) {
                if (v >= nv) break;
                const uint64_t i = r * c + c0 + (uint64_t)v * W;
                if ((i * (dt ? 2 : 4)) % 64 < (uint64_t)W * (dt ? 2 : 4)) bwd_prefetch(t, f, i, ahead, dt, act);
                V d;
                V g = bwd_load_grad_v(t, f, i, &kv[v], &d, dt, act);
                if (f.writes) bwd_write_v(t, f, i, g, d, &kv[v], dt);
                a[v] = v_add(a[v], g);
                b[v] = v_add(b[v], v_mul(g, d));
            }
        }
        for (int v = 0; v < CL_NARROW_MAX; ++v) {
            if (v >= nv) break;
            v_storeu(tg + c0 + v * W, a[v]);
            v_storeu(tgd + c0 + v * W, b[v]);
        }
        cl_csum_arrays(cb, inner + c0, inner + c + c0, tg + c0);
        cl_csum_arrays(cb, inner + 2 * c + c0, inner + 3 * c + c0, tgd + c0);
        if (++tiles == BWD_BLOCK) {
            cl_bwd_flush(c, c0, c0 + cb, sums, inner);
            tiles = 0;
        }
    }
    cl_bwd_flush(c, c0, c0 + cb, sums, inner);
}

/* Any window: tile sums in memory, coefficients loaded per vector. */
ALWAYS_INLINE void cl_bwd_sums_wide(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t r0, uint64_t r1, uint64_t c0,
                                    uint64_t c1, const float* coef, float* sums, const int dt,
                                    const vkbn_activation act) {
    const uint64_t c = t->c, cb = c1 - c0, cv = c0 + cb / W * W, ahead = cl_prefetch_ahead(c, cb, dt);
    float* inner = sums + 4 * c;
    float* tg = sums + 8 * c; /* tile sums of g, then of g d */
    float* tgd = tg + c;
    uint64_t tiles = 0;
    for (uint64_t rt = r0; rt < r1; rt += CL_BWD_TILE_ROWS) {
        const uint64_t re = rt + CL_BWD_TILE_ROWS < r1 ? rt + CL_BWD_TILE_ROWS : r1;
        cl_clear_window(tg, 2, c, c0, c1);
        for (uint64_t r = rt; r < re; ++r) {
            uint64_t j = c0;
            for (; j < cv; j += W) {
                const bwd_coef_v kv = coef_lanes_sums(coef, c, j, f.writes, act);
                const uint64_t i = r * c + j;
                if ((i * (dt ? 2 : 4)) % 64 < (uint64_t)W * (dt ? 2 : 4)) bwd_prefetch(t, f, i, ahead, dt, act);
                V d;
                V g = bwd_load_grad_v(t, f, i, &kv, &d, dt, act);
                if (f.writes) bwd_write_v(t, f, i, g, d, &kv, dt);
                v_storeu(tg + j, v_add(v_loadu(tg + j), g));
                v_storeu(tgd + j, v_add(v_loadu(tgd + j), v_mul(g, d)));
            }
            for (; j < c1; ++j) {
                const vkbn__cpu_bwd_coef k = coef_at(coef, c, j);
                const uint64_t i = r * c + j;
                float d;
                float g = bwd_load_grad_s(t, f, i, &k, &d, dt, act);
                if (f.writes) bwd_write_s(t, f, i, g, d, &k, dt);
                tg[j] += g;
                tgd[j] += g * d;
            }
        }
        cl_csum_arrays(cb, inner + c0, inner + c + c0, tg + c0);
        cl_csum_arrays(cb, inner + 2 * c + c0, inner + 3 * c + c0, tgd + c0);
        /* The plain sums of errors run over at most BWD_BLOCK tiles. */
        if (++tiles == BWD_BLOCK) {
            cl_bwd_flush(c, c0, c1, sums, inner);
            tiles = 0;
        }
    }
    cl_bwd_flush(c, c0, c1, sums, inner);
}

ALWAYS_INLINE void cl_bwd_sums_body(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t r0, uint64_t r1, uint64_t c0,
                                    uint64_t c1, const float* coef, float* sums, const int dt,
                                    const vkbn_activation act) {
    const uint64_t cb = c1 - c0;
    if (cb % W == 0 && cb / W <= CL_NARROW_MAX)
        cl_bwd_sums_narrow(t, f, r0, r1, c0, coef, sums, dt, act, (int)(cb / W));
    else
        cl_bwd_sums_wide(t, f, r0, r1, c0, c1, coef, sums, dt, act);
}

/* Channels [c0, c1) of rows [r0, r1); c0 is a multiple of W, and so is c1
 * unless it is c: each channel takes the vector or the scalar path that it
 * takes in the whole row, so that a channel's sums do not depend on the
 * window. Training's sums pass (with the mask where bwd_mask_constant, or
 * without) and frozen statistics' pass run with constant flags; any other
 * (dz, no x, a mask where W does not divide C) takes the generic loops,
 * narrow or wide as the window asks. */
ALWAYS_INLINE void cl_bwd_sums_t(const vkbn__cpu_bwd_tensors* targ, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1,
                                 const float* coef, float* sums, unsigned writes, const int dt,
                                 const vkbn_activation act) {
    const vkbn__cpu_bwd_tensors tl = bwd_local(targ);
    const vkbn__cpu_bwd_tensors* t = &tl;
    const bwd_flags f =
        bwd_flags_of(t, writes, act, cl_rows_aligned(t->dx, t->c, dt), cl_rows_aligned(t->dz, t->c, dt));
    cl_clear_window(sums, 10, t->c, c0, c1);
    if (bwd_is_train_sums(f) && f.mask && bwd_mask_constant(t, act))
        cl_bwd_sums_body(t, bwd_flags_train(0, BWD_MASK_ALIGNED, 0), r0, r1, c0, c1, coef, sums, dt, act);
    else if (bwd_is_train_sums(f) && !f.mask)
        cl_bwd_sums_body(t, bwd_flags_train(0, BWD_MASK_NONE, 0), r0, r1, c0, c1, coef, sums, dt, act);
    else if (bwd_is_frozen_sums(f))
        cl_bwd_sums_body(t, bwd_flags_frozen(f.stream), r0, r1, c0, c1, coef, sums, dt, act);
    else
        cl_bwd_sums_body(t, f, r0, r1, c0, c1, coef, sums, dt, act);
}

ALWAYS_INLINE void cl_bwd_apply_narrow(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t r0, uint64_t r1,
                                       uint64_t c0, const float* coef, const int dt, const vkbn_activation act,
                                       const int nv) {
    const uint64_t c = t->c, ahead = cl_prefetch_ahead(c, (uint64_t)nv * W, dt);
    bwd_coef_v kv[CL_NARROW_MAX];
    for (int v = 0; v < CL_NARROW_MAX; ++v)
        if (v < nv) kv[v] = coef_lanes(coef, c, c0 + (uint64_t)v * W);
    for (uint64_t r = r0; r < r1; ++r) {
        for (int v = 0; v < CL_NARROW_MAX; ++v) {
            if (v >= nv) break;
            const uint64_t i = r * c + c0 + (uint64_t)v * W;
            if ((i * (dt ? 2 : 4)) % 64 < (uint64_t)W * (dt ? 2 : 4)) bwd_prefetch(t, f, i, ahead, dt, act);
            V d;
            V g = bwd_load_grad_v(t, f, i, &kv[v], &d, dt, act);
            bwd_write_v(t, f, i, g, d, &kv[v], dt);
        }
    }
}

ALWAYS_INLINE void cl_bwd_apply_wide(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t r0, uint64_t r1, uint64_t c0,
                                     uint64_t c1, const float* coef, const int dt, const vkbn_activation act) {
    const uint64_t c = t->c, cb = c1 - c0, cv = c0 + cb / W * W, ahead = cl_prefetch_ahead(c, cb, dt);
    for (uint64_t r = r0; r < r1; ++r) {
        uint64_t j = c0;
        for (; j < cv; j += W) {
            const bwd_coef_v kv = coef_lanes(coef, c, j);
            const uint64_t i = r * c + j;
            if ((i * (dt ? 2 : 4)) % 64 < (uint64_t)W * (dt ? 2 : 4)) bwd_prefetch(t, f, i, ahead, dt, act);
            V d;
            V g = bwd_load_grad_v(t, f, i, &kv, &d, dt, act);
            bwd_write_v(t, f, i, g, d, &kv, dt);
        }
        for (; j < c1; ++j) {
            const vkbn__cpu_bwd_coef k = coef_at(coef, c, j);
            float d;
            float g = bwd_load_grad_s(t, f, r * c + j, &k, &d, dt, act);
            bwd_write_s(t, f, r * c + j, g, d, &k, dt);
        }
    }
}

ALWAYS_INLINE void cl_bwd_apply_body(const vkbn__cpu_bwd_tensors* t, bwd_flags f, uint64_t r0, uint64_t r1, uint64_t c0,
                                     uint64_t c1, const float* coef, const int dt, const vkbn_activation act) {
    const uint64_t cb = c1 - c0;
    if (cb % W == 0 && cb / W <= CL_NARROW_MAX)
        cl_bwd_apply_narrow(t, f, r0, r1, c0, coef, dt, act, (int)(cb / W));
    else
        cl_bwd_apply_wide(t, f, r0, r1, c0, c1, coef, dt, act);
}

/* Channels [c0, c1) of rows [r0, r1), windows as cl_bwd_sums_t's. The
 * training dx pass runs with constant flags, the others as there. */
ALWAYS_INLINE void cl_bwd_apply_t(const vkbn__cpu_bwd_tensors* targ, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1,
                                  const float* coef, unsigned writes, const int dt, const vkbn_activation act) {
    const vkbn__cpu_bwd_tensors tl = bwd_local(targ);
    const vkbn__cpu_bwd_tensors* t = &tl;
    const bwd_flags f =
        bwd_flags_of(t, writes, act, cl_rows_aligned(t->dx, t->c, dt), cl_rows_aligned(t->dz, t->c, dt));
    const unsigned dx = VKBN__BWD_WRITE_DX;
    if (!bwd_is_train_dx(f) || (f.mask && !bwd_mask_constant(t, act)))
        cl_bwd_apply_body(t, f, r0, r1, c0, c1, coef, dt, act);
    else if (f.mask)
        cl_bwd_apply_body(t, bwd_flags_train(dx, BWD_MASK_ALIGNED, f.stream), r0, r1, c0, c1, coef, dt, act);
    else
        cl_bwd_apply_body(t, bwd_flags_train(dx, BWD_MASK_NONE, f.stream), r0, r1, c0, c1, coef, dt, act);
}

/* ------------------------------------------------------------------------ */
/* Instantiation for every (dtype, activation): cpu_kernels_impl.h's        */
/* VKBN_CPU_DEFINE_BY_DTYPE and VKBN_CPU_INSTANTIATE, with no residual or    */
/* streaming variants (the kernels decide those per range from the tensors). */
/* ------------------------------------------------------------------------ */

#define CF_SUMS_DEF(DT, Z, NT, ACT)                                                                        \
    static VKBN_NOINLINE vkbn__cpu_csum VKBN_CPU_FN(cf_bwd_sums, DT, Z, NT, ACT)(                          \
        const vkbn__cpu_bwd_tensors* t, uint64_t c, uint64_t j0, uint64_t j1, const vkbn__cpu_bwd_coef* k, \
        unsigned writes) {                                                                                 \
        return cf_bwd_sums_t(t, c, j0, j1, k, writes, DT, ACT);                                            \
    }
#define CF_APPLY_DEF(DT, Z, NT, ACT)                                                                  \
    static VKBN_NOINLINE void VKBN_CPU_FN(cf_bwd_apply, DT, Z, NT, ACT)(                              \
        const vkbn__cpu_bwd_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_bwd_coef* k, \
        unsigned writes) {                                                                            \
        cf_bwd_apply_t(t, offset, count, k, writes, DT, ACT);                                         \
    }
#define CL_SUMS_DEF(DT, Z, NT, ACT)                                                                            \
    static VKBN_NOINLINE void VKBN_CPU_FN(cl_bwd_sums, DT, Z, NT, ACT)(                                        \
        const vkbn__cpu_bwd_tensors* t, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1, const float* coef, \
        float* sums, unsigned writes) {                                                                        \
        cl_bwd_sums_t(t, r0, r1, c0, c1, coef, sums, writes, DT, ACT);                                         \
    }
#define CL_APPLY_DEF(DT, Z, NT, ACT)                                                                                 \
    static VKBN_NOINLINE void VKBN_CPU_FN(cl_bwd_apply, DT, Z, NT, ACT)(const vkbn__cpu_bwd_tensors* t, uint64_t r0, \
                                                                        uint64_t r1, uint64_t c0, uint64_t c1,       \
                                                                        const float* coef, unsigned writes) {        \
        cl_bwd_apply_t(t, r0, r1, c0, c1, coef, writes, DT, ACT);                                                    \
    }
VKBN_CPU_DEFINE_BY_DTYPE(CF_SUMS_DEF)
VKBN_CPU_DEFINE_BY_DTYPE(CF_APPLY_DEF)
VKBN_CPU_DEFINE_BY_DTYPE(CL_SUMS_DEF)
VKBN_CPU_DEFINE_BY_DTYPE(CL_APPLY_DEF)

/* has_z and stream are 0 here: Z and NT are always 0. */
#define CF_SUMS_CALL(DT, Z, NT, ACT) r = VKBN_CPU_FN(cf_bwd_sums, DT, 0, 0, ACT)(t, c, j0, j1, k, writes)
#define CF_APPLY_CALL(DT, Z, NT, ACT) VKBN_CPU_FN(cf_bwd_apply, DT, 0, 0, ACT)(t, offset, count, k, writes)
#define CL_SUMS_CALL(DT, Z, NT, ACT) VKBN_CPU_FN(cl_bwd_sums, DT, 0, 0, ACT)(t, r0, r1, c0, c1, coef, sums, writes)
#define CL_APPLY_CALL(DT, Z, NT, ACT) VKBN_CPU_FN(cl_bwd_apply, DT, 0, 0, ACT)(t, r0, r1, c0, c1, coef, writes)

static vkbn__cpu_csum cf_bwd_sums(const vkbn__cpu_bwd_tensors* t, uint64_t c, uint64_t j0, uint64_t j1,
                                  const vkbn__cpu_bwd_coef* k, unsigned writes) {
    vkbn__cpu_csum r = {0.0f, 0.0f, 0.0f, 0.0f};
    const int dt = KERNEL_DT(t);
    enum { has_z = 0, stream = 0 };
    VKBN_CPU_INSTANTIATE(CF_SUMS_CALL, t->activation)
    return r;
}

static void cf_bwd_apply(const vkbn__cpu_bwd_tensors* t, uint64_t offset, uint64_t count, const vkbn__cpu_bwd_coef* k,
                         unsigned writes) {
    const int dt = KERNEL_DT(t);
    enum { has_z = 0, stream = 0 };
    VKBN_CPU_INSTANTIATE(CF_APPLY_CALL, t->activation)
}

static void cl_bwd_sums(const vkbn__cpu_bwd_tensors* t, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1,
                        const float* coef, float* sums, unsigned writes) {
    const int dt = KERNEL_DT(t);
    enum { has_z = 0, stream = 0 };
    VKBN_CPU_INSTANTIATE(CL_SUMS_CALL, t->activation)
}

static void cl_bwd_apply(const vkbn__cpu_bwd_tensors* t, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1,
                         const float* coef, unsigned writes) {
    const int dt = KERNEL_DT(t);
    enum { has_z = 0, stream = 0 };
    VKBN_CPU_INSTANTIATE(CL_APPLY_CALL, t->activation)
}
