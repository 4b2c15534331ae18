/* Embedding vkbn in an engine (vkbn.h, "Embedding in an engine"): the test
 * owns the instance (validation + synchronization validation, every message
 * fails), the device, the queue, one big buffer holding every tensor at
 * odd 4-byte offsets, and the command buffers.
 *
 *   test_engine record      recorded runs are bit-identical to immediate runs
 *                           (training split/fused, inference, f32/f16, both
 *                           layouts, several steps, caller scratch), results
 *                           against the fp64 reference, barriers by vkbn or by
 *                           the caller; sync validation shown to bite
 *   test_engine threads     plans created and recorded from 4 threads at once
 *   test_engine contexts    two contexts side by side (borrowed + own)
 *   test_engine features    borrowed device without 16-bit storage and without
 *                           subgroup size control; recording-only context;
 *                           allocation callbacks; bad input
 *   test_engine cache       pipeline cache file round trip, stale files, the
 *                           caller's VkPipelineCache; creation times printed */
#include <math.h>
#include <stdint.h>

#include "cases.h"
#include "datagen.h"
#include "engine_util.h"
#include "platform.h"
#include "reference.h"

/* ------------------------------------------------------------------------ */
/* A forward case laid out inside the engine's big buffer                    */
/* ------------------------------------------------------------------------ */

typedef struct bound_case {
    vkbn_tensor_desc t;
    int training, affine, residual, steps;
    vkbn_activation activation;
    uint32_t split;
    uint64_t count, tbytes, vbytes;
    uint64_t off_x, off_y, off_z, off_w, off_b, off_rm, off_rv, off_sm, off_si, off_scratch, end;
    vkbn_buffer whole; /* the big buffer wrapped once; most arguments are views of it */
    vkbn_buffer x, y, z, w, b, rm, rv, sm, si, scratch;
    vkbn_plan plan;
    uint8_t *x_host, *z_host;
    float *w_host, *b_host, *rm_host, *rv_host;
} bound_case;

static uint64_t next_offset(uint64_t at, uint64_t bytes, uint64_t skew) {
    /* 4-byte aligned, deliberately not 16-aligned unless skew is 0 */
    return ((at + bytes + 3) / 4) * 4 + skew;
}

static void fill_host(bound_case* c, uint64_t seed) {
    rng r;
    rng_seed(&r, seed);
    uint32_t es = vkbn_dtype_size(c->t.dtype);
    c->x_host = malloc(c->tbytes);
    c->z_host = malloc(c->tbytes);
    for (uint64_t i = 0; i < c->count; ++i) {
        float vx = (float)(1.5 + 2.0 * rng_normal(&r)), vz = (float)rng_normal(&r);
        if (es == 2) {
            uint16_t hx = ref_f32_to_f16(vx), hz = ref_f32_to_f16(vz);
            memcpy(c->x_host + 2 * i, &hx, 2);
            memcpy(c->z_host + 2 * i, &hz, 2);
        } else {
            memcpy(c->x_host + 4 * i, &vx, 4);
            memcpy(c->z_host + 4 * i, &vz, 4);
        }
    }
    c->w_host = malloc(c->vbytes);
    c->b_host = malloc(c->vbytes);
    c->rm_host = malloc(c->vbytes);
    c->rv_host = malloc(c->vbytes);
    gen_uniform_f32(&r, c->w_host, c->t.c, -1.5, 1.5);
    gen_uniform_f32(&r, c->b_host, c->t.c, -1.0, 1.0);
    gen_uniform_f32(&r, c->rm_host, c->t.c, -1.0, 1.0);
    gen_uniform_f32(&r, c->rv_host, c->t.c, 0.5, 2.0);
}

static vkbn_buffer view(vkbn_buffer whole, uint64_t off, uint64_t bytes) {
    vkbn_buffer v = NULL;
    vkbn_result r = vkbn_buffer_create_view(whole, off, bytes, &v);
    CHECK(r == VKBN_SUCCESS, "view at %llu: %s", (unsigned long long)off, vkbn_last_error());
    return v;
}

/* Lays the case out from `base` in `big`, wraps it and creates its plan.
 * Returns the end offset. */
static uint64_t bind_case(vkbn_context ctx, const engine_buffer* big, bound_case* c, uint64_t base, uint64_t seed) {
    c->count = vkbn_tensor_element_count(&c->t);
    c->tbytes = c->count * vkbn_dtype_size(c->t.dtype);
    c->vbytes = (uint64_t)c->t.c * 4;
    if (!c->steps) c->steps = 1;
    fill_host(c, seed);
    c->off_x = next_offset(base, 0, 4);
    c->off_y = next_offset(c->off_x, c->tbytes, 8);
    c->off_z = next_offset(c->off_y, c->tbytes, 12);
    c->off_w = next_offset(c->off_z, c->tbytes, 4);
    c->off_b = next_offset(c->off_w, c->vbytes, 4);
    c->off_rm = next_offset(c->off_b, c->vbytes, 4);
    c->off_rv = next_offset(c->off_rm, c->vbytes, 4);
    c->off_sm = next_offset(c->off_rv, c->vbytes, 4);
    c->off_si = next_offset(c->off_sm, c->vbytes, 4);
    uint64_t after = next_offset(c->off_si, c->vbytes, 0);
    CHECK(vkbn_buffer_wrap(ctx, big->buffer, 0, big->size, &c->whole) == VKBN_SUCCESS, "wrap: %s", vkbn_last_error());
    /* x and y wrap the VkBuffer at their offsets; the rest are views. */
    CHECK(vkbn_buffer_wrap(ctx, big->buffer, c->off_x, c->tbytes, &c->x) == VKBN_SUCCESS, "wrap x: %s",
          vkbn_last_error());
    CHECK(vkbn_buffer_wrap(ctx, big->buffer, c->off_y, c->tbytes, &c->y) == VKBN_SUCCESS, "wrap y: %s",
          vkbn_last_error());
    c->z = c->residual ? view(c->whole, c->off_z, c->tbytes) : NULL;
    c->w = c->affine ? view(c->whole, c->off_w, c->vbytes) : NULL;
    c->b = c->affine ? view(c->whole, c->off_b, c->vbytes) : NULL;
    c->rm = view(c->whole, c->off_rm, c->vbytes);
    c->rv = view(c->whole, c->off_rv, c->vbytes);
    c->sm = c->training ? view(c->whole, c->off_sm, c->vbytes) : NULL;
    c->si = c->training ? view(c->whole, c->off_si, c->vbytes) : NULL;
    vkbn_result r;
    if (c->training) {
        vkbn_forward_training_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = c->t;
        d.x = c->x;
        d.y = c->y;
        d.residual = c->z;
        d.weight = c->w;
        d.bias = c->b;
        d.running_mean = c->rm;
        d.running_var = c->rv;
        d.save_mean = c->sm;
        d.save_invstd = c->si;
        d.eps = VKBN_DEFAULT_EPS;
        d.momentum = VKBN_DEFAULT_MOMENTUM;
        d.activation = c->activation;
        d.reduction_split = c->split;
        vkbn_scratch_requirements req;
        r = vkbn_forward_training_scratch_requirements(ctx, &d, &req);
        CHECK(r == VKBN_SUCCESS && req.alignment > 0, "scratch requirements: %s", vkbn_last_error());
        c->off_scratch = ((after + req.alignment - 1) / req.alignment) * req.alignment;
        if (req.size) {
            c->scratch = view(c->whole, c->off_scratch, req.size);
            after = c->off_scratch + req.size;
        }
        d.scratch = c->scratch;
        r = vkbn_plan_create_forward_training(ctx, &d, &c->plan);
    } else {
        vkbn_forward_inference_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = c->t;
        d.x = c->x;
        d.y = c->y;
        d.residual = c->z;
        d.weight = c->w;
        d.bias = c->b;
        d.running_mean = c->rm;
        d.running_var = c->rv;
        d.eps = VKBN_DEFAULT_EPS;
        d.activation = c->activation;
        r = vkbn_plan_create_forward_inference(ctx, &d, &c->plan);
    }
    CHECK(r == VKBN_SUCCESS, "plan: %s", vkbn_last_error());
    c->end = after;
    CHECK(c->end <= big->size, "big buffer too small: %llu > %llu", (unsigned long long)c->end,
          (unsigned long long)big->size);
    return c->end;
}

static void unbind_case(bound_case* c) {
    vkbn_plan_destroy(c->plan);
    vkbn_buffer* all[] = {&c->x, &c->y, &c->z, &c->w, &c->b, &c->rm, &c->rv, &c->sm, &c->si, &c->scratch, &c->whole};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) vkbn_buffer_destroy(*all[i]);
    free(c->x_host);
    free(c->z_host);
    free(c->w_host);
    free(c->b_host);
    free(c->rm_host);
    free(c->rv_host);
    memset(c, 0, sizeof *c);
}

/* Inputs in, outputs (and scratch) poisoned with NaN bytes. */
static void upload(const bound_case* c, const engine_buffer* big) {
    memcpy(big->map + c->off_x, c->x_host, c->tbytes);
    memcpy(big->map + c->off_z, c->z_host, c->tbytes);
    memcpy(big->map + c->off_w, c->w_host, c->vbytes);
    memcpy(big->map + c->off_b, c->b_host, c->vbytes);
    memcpy(big->map + c->off_rm, c->rm_host, c->vbytes);
    memcpy(big->map + c->off_rv, c->rv_host, c->vbytes);
    memset(big->map + c->off_y, 0xff, c->tbytes);
    memset(big->map + c->off_sm, 0xff, c->vbytes);
    memset(big->map + c->off_si, 0xff, c->vbytes);
    if (c->scratch) memset(big->map + c->off_scratch, 0xa5, vkbn_buffer_size(c->scratch));
}

/* Every output's bytes, concatenated. */
static uint8_t* outputs(const bound_case* c, const engine_buffer* big, size_t* size) {
    *size = c->tbytes + 4 * c->vbytes;
    uint8_t* o = malloc(*size);
    memcpy(o, big->map + c->off_y, c->tbytes);
    memcpy(o + c->tbytes, big->map + c->off_sm, c->vbytes);
    memcpy(o + c->tbytes + c->vbytes, big->map + c->off_si, c->vbytes);
    memcpy(o + c->tbytes + 2 * c->vbytes, big->map + c->off_rm, c->vbytes);
    memcpy(o + c->tbytes + 3 * c->vbytes, big->map + c->off_rv, c->vbytes);
    return o;
}

static void describe(const bound_case* c, char* out, size_t n) {
    snprintf(out, n, "%s %s %s n=%u c=%u s=%u split=%u steps=%d%s%s", c->training ? "train" : "infer",
             c->t.layout ? "nhwc" : "nchw", c->t.dtype ? "f16" : "f32", c->t.n, c->t.c,
             c->t.spatial_rank ? c->t.spatial[0] * (c->t.spatial_rank > 1 ? c->t.spatial[1] : 1) : 1, c->split,
             c->steps, c->residual ? " residual" : "", c->affine ? " affine" : "");
}

static double decode(const bound_case* c, const uint8_t* bytes, uint64_t i) {
    if (c->t.dtype == VKBN_DTYPE_F16) {
        uint16_t h;
        memcpy(&h, bytes + 2 * i, 2);
        return ref_f16_to_f32(h);
    }
    float f;
    memcpy(&f, bytes + 4 * i, 4);
    return f;
}

/* One step against the fp64 reference (loose bounds: the forward matrix
 * holds the tight ones; this catches wrong offsets, bindings and sync). */
static void check_reference(const bound_case* c, const engine_buffer* big, const char* label) {
    ref_shape sh = ref_shape_from_desc(&c->t);
    double *x = malloc(c->count * sizeof *x), *z = malloc(c->count * sizeof *z), *y = malloc(c->count * sizeof *y);
    double w[512], b[512], rm[512], rv[512], mean[512], invstd[512], var[512];
    for (uint64_t i = 0; i < c->count; ++i) {
        x[i] = decode(c, c->x_host, i);
        z[i] = decode(c, c->z_host, i);
    }
    for (uint32_t k = 0; k < c->t.c; ++k) {
        w[k] = c->w_host[k];
        b[k] = c->b_host[k];
        rm[k] = c->rm_host[k];
        rv[k] = c->rv_host[k];
    }
    if (c->training) {
        ref_forward_training a = {sh,
                                  x,
                                  c->residual ? z : NULL,
                                  c->affine ? w : NULL,
                                  c->affine ? b : NULL,
                                  rm,
                                  rv,
                                  VKBN_DEFAULT_EPS,
                                  VKBN_DEFAULT_MOMENTUM,
                                  0,
                                  c->activation,
                                  y,
                                  mean,
                                  invstd,
                                  var};
        ref_batchnorm_forward_training(&a);
    } else {
        ref_forward_inference a = {sh, x,  c->residual ? z : NULL, c->affine ? w : NULL, c->affine ? b : NULL,
                                   rm, rv, VKBN_DEFAULT_EPS,       c->activation,        y};
        ref_batchnorm_forward_inference(&a);
    }
    double tol = c->t.dtype == VKBN_DTYPE_F16 ? 4e-3 : 1e-4, worst = 0;
    for (uint64_t i = 0; i < c->count; ++i) {
        double e = fabs(decode(c, big->map + c->off_y, i) - y[i]) / (1.0 + fabs(y[i]));
        if (!(e <= worst)) worst = e;
    }
    for (uint32_t k = 0; k < c->t.c && c->training; ++k) {
        float got_mean, got_inv, got_rm;
        memcpy(&got_mean, big->map + c->off_sm + 4 * k, 4);
        memcpy(&got_inv, big->map + c->off_si + 4 * k, 4);
        memcpy(&got_rm, big->map + c->off_rm + 4 * k, 4);
        double e = fabs(got_mean - mean[k]) / (1.0 + fabs(mean[k]));
        e = fmax(e, fabs(got_inv - invstd[k]) / invstd[k]);
        e = fmax(e, fabs(got_rm - rm[k]) / (1.0 + fabs(rm[k])));
        if (!(e <= worst)) worst = e;
    }
    CHECK(worst <= tol, "%s: against the fp64 reference: relative error %.3g > %.3g", label, worst, tol);
    free(x);
    free(z);
    free(y);
}

/* The barrier the header's contract asks of a caller around a run, placed
 * by the test itself (flags = 0 path). */
static void contract_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cmd, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* Records every step of the case into cmd: vkbn's barriers, or the caller's. */
static void record_steps(const bound_case* c, VkCommandBuffer cmd, int vkbn_barriers) {
    for (int s = 0; s < c->steps; ++s) {
        if (!vkbn_barriers) contract_barrier(cmd);
        vkbn_result r =
            vkbn_plan_record(c->plan, cmd, vkbn_barriers ? VKBN_RECORD_BARRIER_BEFORE | VKBN_RECORD_BARRIER_AFTER : 0);
        CHECK(r == VKBN_SUCCESS, "vkbn_plan_record: %s", vkbn_last_error());
        if (!vkbn_barriers) contract_barrier(cmd);
    }
}

/* Immediate runs, then recorded runs of the same plan on the same memory:
 * every output byte must agree. */
static void record_vs_immediate(test_engine* e, vkbn_context ctx, const engine_buffer* big, bound_case* c, int k) {
    char label[160];
    describe(c, label, sizeof label);
    uint64_t before = atomic_load(&e->messages);
    upload(c, big);
    for (int s = 0; s < c->steps; ++s) {
        vkbn_result r = vkbn_plan_execute(c->plan);
        CHECK(r == VKBN_SUCCESS, "%s: execute: %s", label, vkbn_last_error());
    }
    size_t n = 0;
    uint8_t* immediate = outputs(c, big, &n);
    if (c->steps == 1) check_reference(c, big, label);

    upload(c, big);
    VkCommandBuffer cmd = engine_begin(e, VK_NULL_HANDLE);
    /* The engine's own work first: clear y with a transfer, then hand over. */
    vkCmdFillBuffer(cmd, big->buffer, c->off_y, (c->tbytes + 3) & ~3ull, 0);
    engine_barrier(cmd);
    record_steps(c, cmd, k % 2 == 0);
    engine_barrier(cmd);
    CHECK(engine_submit(e, &cmd, 1, NULL) == VK_SUCCESS, "%s: submit", label);
    uint8_t* recorded = outputs(c, big, &n);
    CHECK(memcmp(immediate, recorded, n) == 0, "%s: recorded run differs from the immediate run", label);
    CHECK(atomic_load(&e->messages) == before, "%s: %llu validation message(s)", label,
          (unsigned long long)(atomic_load(&e->messages) - before));
    if (env_set("VKBN_TEST_VERBOSE")) printf("ok   %s | %s\n", label, vkbn_plan_describe(c->plan));
    free(immediate);
    free(recorded);
}

static bound_case make_case(uint32_t n, uint32_t ch, uint32_t s0, uint32_t s1, int layout, int dtype, int training,
                            uint32_t split) {
    bound_case c;
    memset(&c, 0, sizeof c);
    c.t.n = n;
    c.t.c = ch;
    c.t.spatial_rank = s1 ? 2 : (s0 ? 1 : 0);
    c.t.spatial[0] = s0;
    c.t.spatial[1] = s1;
    c.t.layout = (vkbn_layout)layout;
    c.t.dtype = (vkbn_dtype)dtype;
    c.training = training;
    c.split = split;
    c.affine = 1;
    return c;
}

static void test_record(void) {
    test_engine e;
    engine_create(&e, 0);
    vkbn_vulkan_device b = engine_borrow(&e, 1);
    vkbn_context ctx = engine_context(&e, &b, NULL);
    engine_buffer big;
    engine_buffer_create(&e, 16u << 20, &big);
    static const uint32_t shapes[][4] = {{3, 13, 7, 5},   {2, 8, 4, 4}, {8, 32, 32, 32},
                                         {33, 7, 129, 0}, {2, 1, 0, 0}, {4, 16, 31, 0}};
    int k = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        for (int layout = 0; layout < 2; ++layout) {
            for (int dtype = 0; dtype < 2; ++dtype) {
                for (int mode = 0; mode < 4; ++mode) {
                    /* training: vkbn's choice, fused, split; then inference */
                    static const uint32_t splits[] = {0, 1, 4, 0};
                    bound_case c = make_case(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], layout, dtype,
                                             mode < 3, splits[mode]);
                    c.residual = k % 3 == 1;
                    c.affine = k % 4 != 3;
                    c.activation = k % 2 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
                    c.steps = mode == 2 ? 3 : 1; /* split plans reuse their counters across steps */
                    bind_case(ctx, &big, &c, (uint64_t)(k % 5) * 4, 900 + (uint64_t)k);
                    if (c.plan) record_vs_immediate(&e, ctx, &big, &c, k);
                    unbind_case(&c);
                    ++k;
                }
            }
        }
    }

    /* Synchronization validation bites: two runs of a split plan with no
     * barrier between them race on y, the statistics and the scratch. */
    if (!env_set("VKBN_TEST_NO_VALIDATION")) {
        bound_case c = make_case(8, 32, 32, 32, 0, 0, 1, 4);
        bind_case(ctx, &big, &c, 0, 7);
        upload(&c, &big);
        e.quiet = 1;
        uint64_t before = atomic_load(&e.messages);
        VkCommandBuffer cmd = engine_begin(&e, VK_NULL_HANDLE);
        vkbn_plan_record(c.plan, cmd, 0);
        vkbn_plan_record(c.plan, cmd, 0);
        engine_submit(&e, &cmd, 1, NULL);
        uint64_t hazards = atomic_load(&e.messages) - before;
        CHECK(hazards > 0, "synchronization validation reported nothing for two unsynchronized runs");
        printf("synchronization validation: %llu message(s) for two runs without barriers (expected)\n",
               (unsigned long long)hazards);
        atomic_store(&e.messages, 0);
        e.quiet = 0;
        unbind_case(&c);
    }
    engine_buffer_destroy(&e, &big);
    vkbn_context_destroy(ctx);
    CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
    engine_destroy(&e);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

#define THREADS 4
#define THREAD_RUNS 6

typedef struct thread_job {
    test_engine* e;
    vkbn_context ctx;
    const engine_buffer* big;
    bound_case c;
    uint64_t base;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    int phase; /* 0: create the plan; 1: record */
} thread_job;

static void thread_main(void* arg) {
    thread_job* j = arg;
    if (j->phase == 0) {
        bind_case(j->ctx, j->big, &j->c, j->base, 300 + j->base);
    } else {
        j->cmd = engine_begin(j->e, j->pool);
        for (int r = 0; r < THREAD_RUNS; ++r) {
            vkbn_result res =
                vkbn_plan_record(j->c.plan, j->cmd, VKBN_RECORD_BARRIER_BEFORE | VKBN_RECORD_BARRIER_AFTER);
            CHECK(res == VKBN_SUCCESS, "thread record: %s", vkbn_last_error());
        }
    }
}

static void run_threads(thread_job* jobs, int phase) {
    vkbn__thread t[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        jobs[i].phase = phase;
        CHECK(vkbn__thread_create(&t[i], thread_main, &jobs[i]), "starting thread %d", i);
    }
    for (int i = 0; i < THREADS; ++i) vkbn__thread_join(t[i]);
}

static void test_threads(void) {
    test_engine e;
    engine_create(&e, 0);
    vkbn_vulkan_device b = engine_borrow(&e, 1);
    vkbn_context ctx = engine_context(&e, &b, NULL);
    engine_buffer big;
    engine_buffer_create(&e, 8u << 20, &big);
    thread_job jobs[THREADS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < THREADS; ++i) {
        jobs[i].e = &e;
        jobs[i].ctx = ctx;
        jobs[i].big = &big;
        jobs[i].base = (uint64_t)i * (2u << 20);
        jobs[i].c = make_case(4 + i, 8 + 3 * i, 16 + i, 8, i % 2, 0, i != 3, i == 0 ? 4 : 0);
        jobs[i].c.steps = THREAD_RUNS;
        VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                       .queueFamilyIndex = e.family};
        vkCreateCommandPool(e.device, &pci, NULL, &jobs[i].pool);
    }
    run_threads(jobs, 0); /* plans created concurrently on one context */
    uint8_t* want[THREADS];
    size_t n[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        upload(&jobs[i].c, &big);
        for (int r = 0; r < THREAD_RUNS; ++r) vkbn_plan_execute(jobs[i].c.plan);
        want[i] = outputs(&jobs[i].c, &big, &n[i]);
        upload(&jobs[i].c, &big);
    }
    run_threads(jobs, 1); /* recorded concurrently, each into its own command buffer */
    VkCommandBuffer cmds[THREADS];
    VkCommandPool pools[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        cmds[i] = jobs[i].cmd;
        pools[i] = jobs[i].pool;
    }
    CHECK(engine_submit(&e, cmds, THREADS, pools) == VK_SUCCESS, "submit");
    for (int i = 0; i < THREADS; ++i) {
        size_t m;
        uint8_t* got = outputs(&jobs[i].c, &big, &m);
        CHECK(m == n[i] && memcmp(got, want[i], m) == 0, "thread %d: recorded runs differ from immediate runs", i);
        free(got);
        free(want[i]);
        unbind_case(&jobs[i].c);
        vkDestroyCommandPool(e.device, jobs[i].pool, NULL);
    }
    engine_buffer_destroy(&e, &big);
    vkbn_context_destroy(ctx);
    CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
    engine_destroy(&e);
}

/* ------------------------------------------------------------------------ */
/* Two contexts side by side                                                 */
/* ------------------------------------------------------------------------ */

static int run_case(vkbn_context ctx, const fwd_case* c, const char* label) {
    case_result r;
    int rc = case_run(ctx, c, &r);
    CHECK(rc == 0, "%s: %s", label, r.message);
    return rc;
}

static void test_contexts(void) {
    test_engine e;
    engine_create(&e, 0);
    vkbn_vulkan_device b = engine_borrow(&e, 1);
    vkbn_context borrowed = engine_context(&e, &b, NULL);
    /* The own context also runs vkbn's immediate path under synchronization
     * validation (its own instance, VKBN_CONTEXT_ENABLE_SYNC_VALIDATION). */
    vkbn_context own = test_context(env_set("VKBN_TEST_NO_VALIDATION") ? 0 : VKBN_CONTEXT_ENABLE_SYNC_VALIDATION, 0);
    const uint32_t sp[2] = {9, 7};
    /* Interleaved work on both. */
    for (int k = 0; k < 4; ++k) {
        fwd_case c = case_default(3, 5 + k, 2, sp, (vkbn_layout)(k % 2), VKBN_DTYPE_F32);
        c.reduction_split = k % 2 ? 3 : 0;
        c.seed = 40 + (uint64_t)k;
        run_case(borrowed, &c, "borrowed context");
        run_case(own, &c, "own context");
    }
    /* Buffers do not cross contexts. */
    vkbn_buffer x = NULL, y = NULL;
    vkbn_buffer_create(own, 4 * 60, &x);
    vkbn_buffer_create(borrowed, 4 * 60, &y);
    vkbn_forward_inference_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = (vkbn_tensor_desc){.n = 2, .c = 3, .spatial_rank = 1, .spatial = {10}};
    d.x = x;
    d.y = y;
    d.running_mean = y;
    d.running_var = y;
    vkbn_result r = vkbn_forward_inference(own, &d);
    CHECK(r == VKBN_ERROR_WRONG_CONTEXT && strstr(vkbn_last_error(), "desc->y"), "mixing contexts: %s (%s)",
          vkbn_result_string(r), vkbn_last_error());
    vkbn_buffer_destroy(x);
    vkbn_buffer_destroy(y);
    CHECK(vkbn_context_validation_message_count(own) == 0, "own context: %llu validation message(s)",
          (unsigned long long)vkbn_context_validation_message_count(own));
    /* One goes away; the other keeps working. */
    vkbn_context_destroy(own);
    fwd_case c = case_default(2, 4, 2, sp, VKBN_LAYOUT_CHANNELS_LAST, VKBN_DTYPE_F16);
    run_case(borrowed, &c, "borrowed context after the other's destruction");
    vkbn_context_destroy(borrowed);
    CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
    engine_destroy(&e);
}

/* ------------------------------------------------------------------------ */
/* Features left off, recording-only contexts, allocation callbacks, errors  */
/* ------------------------------------------------------------------------ */

typedef struct counting_alloc {
    _Atomic int64_t live;
    _Atomic uint64_t calls;
} counting_alloc;

/* Header of each allocation: its size, kept for realloc. */
#define ALLOC_HEADER 64

static void* VKAPI_CALL count_alloc(void* user, size_t size, size_t align, VkSystemAllocationScope scope) {
    (void)scope;
    counting_alloc* a = user;
    /* The header occupies `off` bytes in front, keeping the block aligned. */
    size_t off = align > ALLOC_HEADER ? align : ALLOC_HEADER;
    uint8_t* p = aligned_alloc(off, ((size + off + off - 1) / off) * off);
    if (!p) return NULL;
    memcpy(p + off - sizeof(size_t), &size, sizeof size);
    memcpy(p + off - 2 * sizeof(size_t), &off, sizeof off);
    atomic_fetch_add(&a->live, 1);
    atomic_fetch_add(&a->calls, 1);
    return p + off;
}

static void VKAPI_CALL count_free(void* user, void* mem) {
    if (!mem) return;
    counting_alloc* a = user;
    size_t off;
    memcpy(&off, (uint8_t*)mem - 2 * sizeof(size_t), sizeof off);
    atomic_fetch_sub(&a->live, 1);
    free((uint8_t*)mem - off);
}

static void* VKAPI_CALL count_realloc(void* user, void* old, size_t size, size_t align, VkSystemAllocationScope scope) {
    if (!old) return count_alloc(user, size, align, scope);
    if (size == 0) {
        count_free(user, old);
        return NULL;
    }
    size_t old_size;
    memcpy(&old_size, (uint8_t*)old - sizeof(size_t), sizeof old_size);
    void* p = count_alloc(user, size, align, scope);
    if (p) {
        memcpy(p, old, old_size < size ? old_size : size);
        count_free(user, old);
    }
    return p;
}

/* VK_EXT_memory_priority: listed with its feature or not at all (lavapipe
 * has neither), and chained by vkbn_vulkan_chain_features when asked. */
static void check_memory_priority_requirements(const test_engine* e) {
    bool listed = false;
    for (uint32_t i = 0; i < e->req.extension_count; ++i) {
        listed |= strcmp(e->req.extensions[i], VK_EXT_MEMORY_PRIORITY_EXTENSION_NAME) == 0;
    }
    CHECK(listed == (e->req.memory_priority != 0), "VK_EXT_memory_priority listed %d, feature %d", listed,
          e->req.memory_priority);
    printf("memory priority: %s\n", e->req.memory_priority ? "offered and enabled" : "not offered by this device");
    vkbn_vulkan_requirements req;
    memset(&req, 0, sizeof req);
    req.memory_priority = VK_TRUE;
    vkbn_vulkan_feature_chain chain;
    int tail = 0;
    void* head = vkbn_vulkan_chain_features(&req, &chain, &tail);
    CHECK(head == &chain.memory_priority &&
              chain.memory_priority.sType == VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PRIORITY_FEATURES_EXT &&
              chain.memory_priority.memoryPriority == VK_TRUE && chain.memory_priority.pNext == &tail,
          "vkbn_vulkan_chain_features links memoryPriority in front of next");
    req.memory_priority = VK_FALSE;
    CHECK(vkbn_vulkan_chain_features(&req, &chain, &tail) == &tail, "nothing asked: next comes back");
}

static void test_features(void) {
    /* Without 16-bit storage: f16 fails cleanly, f32 runs. */
    {
        test_engine e;
        engine_create(&e, ENGINE_NO_16BIT);
        vkbn_vulkan_device b = engine_borrow(&e, 1);
        vkbn_context ctx = engine_context(&e, &b, NULL);
        vkbn_device_info info;
        vkbn_context_get_device_info(ctx, &info);
        CHECK(!info.storage_16bit, "16-bit storage reported although not enabled");
        vkbn_buffer x = NULL, y = NULL, v = NULL;
        vkbn_buffer_create(ctx, 2 * 60, &x);
        vkbn_buffer_create(ctx, 2 * 60, &y);
        vkbn_buffer_create(ctx, 4 * 3, &v);
        vkbn_forward_training_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = (vkbn_tensor_desc){.n = 2, .c = 3, .spatial_rank = 1, .spatial = {10}, .dtype = VKBN_DTYPE_F16};
        d.x = x;
        d.y = y;
        d.save_mean = v;
        d.eps = VKBN_DEFAULT_EPS;
        vkbn_plan plan = NULL;
        vkbn_result r = vkbn_plan_create_forward_training(ctx, &d, &plan);
        CHECK(r == VKBN_ERROR_UNSUPPORTED_DTYPE && plan == NULL && strstr(vkbn_last_error(), "desc->tensor.dtype"),
              "f16 without 16-bit storage: %s (%s)", vkbn_result_string(r), vkbn_last_error());
        vkbn_buffer_destroy(x);
        vkbn_buffer_destroy(y);
        vkbn_buffer_destroy(v);
        const uint32_t sp[1] = {33};
        fwd_case c = case_default(3, 6, 1, sp, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32);
        c.reduction_split = 3;
        run_case(ctx, &c, "f32 without 16-bit storage");
        vkbn_context_destroy(ctx);
        CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
        engine_destroy(&e);
    }
    /* Without subgroup size control: the shared-memory path, still correct. */
    {
        test_engine e;
        engine_create(&e, ENGINE_NO_SUBGROUP_CONTROL);
        vkbn_vulkan_device b = engine_borrow(&e, 1);
        vkbn_context ctx = engine_context(&e, &b, NULL);
        CHECK(!vkbn_context_uses_subgroups(ctx), "subgroup path chosen without computeFullSubgroups");
        static const uint32_t shapes[][4] = {{3, 13, 7, 5}, {8, 32, 32, 32}, {7, 1, 1000, 0}};
        for (size_t i = 0; i < 3; ++i) {
            for (int layout = 0; layout < 2; ++layout) {
                for (uint32_t split = 1; split <= 4; split += 3) {
                    fwd_case c = case_default(shapes[i][0], shapes[i][1], shapes[i][3] ? 2 : 1, &shapes[i][2],
                                              (vkbn_layout)layout, (vkbn_dtype)(split == 4));
                    c.reduction_split = split;
                    run_case(ctx, &c, "without subgroup size control");
                }
            }
        }
        vkbn_context_destroy(ctx);
        CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
        engine_destroy(&e);
    }
    /* With everything: the subgroup path where the device has it. */
    test_engine e;
    engine_create(&e, 0);
    check_memory_priority_requirements(&e);
    {
        vkbn_vulkan_device b = engine_borrow(&e, 1);
        vkbn_context ctx = engine_context(&e, &b, NULL);
        vkbn_device_info info;
        vkbn_context_get_device_info(ctx, &info);
        printf("borrowed device %s: subgroup path %s, 16-bit storage %s\n", info.name,
               vkbn_context_uses_subgroups(ctx) ? "on" : "off", info.storage_16bit ? "on" : "off");
        if (e.req.compute_full_subgroups && info.subgroup_operations) {
            CHECK(vkbn_context_uses_subgroups(ctx) || env_set("VKBN_TEST_DISABLE_SUBGROUPS"),
                  "full subgroups enabled but the subgroup path is off");
        }
        vkbn_context_destroy(ctx);
    }
    /* A recording-only context (no queue): plans record, immediate calls refuse. */
    {
        vkbn_vulkan_device b = engine_borrow(&e, 0);
        vkbn_context ctx = engine_context(&e, &b, NULL);
        engine_buffer big;
        engine_buffer_create(&e, 1u << 20, &big);
        bound_case c = make_case(4, 6, 50, 0, 0, 0, 1, 3);
        bind_case(ctx, &big, &c, 0, 11);
        vkbn_result r = vkbn_plan_execute(c.plan);
        CHECK(r == VKBN_ERROR_UNSUPPORTED && strstr(vkbn_last_error(), "queue"), "execute without a queue: %s (%s)",
              vkbn_result_string(r), vkbn_last_error());
        upload(&c, &big);
        VkCommandBuffer cmd = engine_begin(&e, VK_NULL_HANDLE);
        r = vkbn_plan_record(c.plan, cmd, VKBN_RECORD_BARRIER_BEFORE | VKBN_RECORD_BARRIER_AFTER);
        CHECK(r == VKBN_SUCCESS, "record without a queue: %s", vkbn_last_error());
        CHECK(engine_submit(&e, &cmd, 1, NULL) == VK_SUCCESS, "submit");
        check_reference(&c, &big, "recording-only context");

        /* Bad input on the embedding calls. */
        r = vkbn_plan_record(c.plan, VK_NULL_HANDLE, 0);
        CHECK(r == VKBN_ERROR_NULL_ARGUMENT && strstr(vkbn_last_error(), "cmd"), "record NULL cmd: %s",
              vkbn_last_error());
        cmd = engine_begin(&e, VK_NULL_HANDLE);
        r = vkbn_plan_record(c.plan, cmd, 0x80);
        CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && strstr(vkbn_last_error(), "flags"), "record bad flags: %s",
              vkbn_last_error());
        CHECK(vkbn_plan_record(NULL, cmd, 0) == VKBN_ERROR_NULL_ARGUMENT, "record NULL plan");
        engine_submit(&e, &cmd, 1, NULL);
        vkbn_buffer w = NULL;
        r = vkbn_buffer_wrap(ctx, big.buffer, big.size - 64, 128, &w);
        CHECK(r == VKBN_ERROR_BUFFER_TOO_SMALL && w == NULL && strstr(vkbn_last_error(), "VkBuffer"),
              "wrap past the VkBuffer: %s (%s)", vkbn_result_string(r), vkbn_last_error());
        r = vkbn_buffer_wrap(ctx, big.buffer, 6, 128, &w);
        CHECK(r == VKBN_ERROR_MISALIGNED && strstr(vkbn_last_error(), "offset"), "wrap at offset 6: %s",
              vkbn_last_error());

        vkbn_forward_training_desc d;
        memset(&d, 0, sizeof d);
        d.tensor = c.t;
        d.x = c.x;
        d.y = c.y;
        d.save_mean = c.sm;
        d.eps = VKBN_DEFAULT_EPS;
        d.reduction_split = 3;
        vkbn_scratch_requirements req;
        CHECK(vkbn_forward_training_scratch_requirements(ctx, &d, &req) == VKBN_SUCCESS && req.size > 0,
              "scratch requirements of a split plan");
        vkbn_scratch_requirements again;
        vkbn_forward_training_scratch_requirements(ctx, &d, &again);
        CHECK(again.size == req.size && again.alignment == req.alignment, "scratch requirements are stable");
        d.reduction_split = 1;
        vkbn_scratch_requirements fused;
        CHECK(vkbn_forward_training_scratch_requirements(ctx, &d, &fused) == VKBN_SUCCESS && fused.size == 0,
              "a fused plan needs no scratch (got %llu)", (unsigned long long)fused.size);
        d.reduction_split = 3;
        vkbn_plan p = NULL;
        d.scratch = view(c.whole, 1u << 18, req.size - 4);
        r = vkbn_plan_create_forward_training(ctx, &d, &p);
        CHECK(r == VKBN_ERROR_BUFFER_TOO_SMALL && strstr(vkbn_last_error(), "desc->scratch"), "scratch too small: %s",
              vkbn_last_error());
        vkbn_buffer_destroy(d.scratch);
        d.scratch = view(c.whole, (1u << 18) + 4, req.size);
        r = vkbn_plan_create_forward_training(ctx, &d, &p);
        CHECK(req.alignment == 4 || (r == VKBN_ERROR_MISALIGNED && strstr(vkbn_last_error(), "desc->scratch")),
              "misaligned scratch: %s", vkbn_last_error());
        vkbn_plan_destroy(p);
        p = NULL;
        vkbn_buffer_destroy(d.scratch);
        d.scratch = view(c.whole, c.off_x & ~(req.alignment - 1), req.size);
        r = vkbn_plan_create_forward_training(ctx, &d, &p);
        CHECK(r == VKBN_ERROR_ALIASING && strstr(vkbn_last_error(), "desc->scratch"), "scratch over x: %s",
              vkbn_last_error());
        vkbn_buffer_destroy(d.scratch);
        unbind_case(&c);
        engine_buffer_destroy(&e, &big);
        vkbn_context_destroy(ctx);
    }
    /* Allocation callbacks reach every object vkbn creates, and balance. */
    {
        counting_alloc counts;
        atomic_init(&counts.live, 0);
        atomic_init(&counts.calls, 0);
        VkAllocationCallbacks cb = {.pUserData = &counts,
                                    .pfnAllocation = count_alloc,
                                    .pfnReallocation = count_realloc,
                                    .pfnFree = count_free};
        vkbn_vulkan_device b = engine_borrow(&e, 1);
        vkbn_context ctx = engine_context(&e, &b, &cb);
        uint64_t after_create = atomic_load(&counts.calls);
        const uint32_t sp[1] = {40};
        fwd_case c = case_default(3, 6, 1, sp, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32);
        c.reduction_split = 3;
        run_case(ctx, &c, "with allocation callbacks");
        uint64_t after_run = atomic_load(&counts.calls);
        vkbn_context_destroy(ctx);
        printf("allocation callbacks: %llu calls (context %llu, one case %llu), %lld live after destroy\n",
               (unsigned long long)atomic_load(&counts.calls), (unsigned long long)after_create,
               (unsigned long long)(after_run - after_create), (long long)atomic_load(&counts.live));
        CHECK(after_create > 0 && after_run > after_create, "the driver never used the allocation callbacks");
        CHECK(atomic_load(&counts.live) == 0, "%lld allocations through the callbacks were not freed with them",
              (long long)atomic_load(&counts.live));
    }
    CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
    engine_destroy(&e);
}

/* ------------------------------------------------------------------------ */
/* Pipeline cache                                                            */
/* ------------------------------------------------------------------------ */

/* Creates the plans a small network would (and so their pipelines). */
static void create_plans(vkbn_context ctx) {
    const uint32_t sp[2] = {14, 14};
    for (int layout = 0; layout < 2; ++layout) {
        for (int k = 0; k < 4; ++k) {
            vkbn_tensor_desc t = {
                .n = 2, .c = 16, .spatial_rank = 2, .spatial = {sp[0], sp[1]}, .layout = (vkbn_layout)layout};
            uint64_t bytes = vkbn_tensor_element_count(&t) * 4;
            vkbn_buffer x = NULL, y = NULL, v = NULL, w = NULL;
            vkbn_buffer_create(ctx, bytes, &x);
            vkbn_buffer_create(ctx, bytes, &y);
            vkbn_buffer_create(ctx, 64, &v);
            vkbn_buffer_create(ctx, 64, &w);
            vkbn_plan p = NULL;
            vkbn_result r;
            if (k < 3) {
                vkbn_forward_training_desc d;
                memset(&d, 0, sizeof d);
                d.tensor = t;
                d.x = x;
                d.y = y;
                d.save_mean = v;
                d.eps = VKBN_DEFAULT_EPS;
                d.reduction_split = k == 0 ? 1 : 4;
                d.activation = k == 2 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
                r = vkbn_plan_create_forward_training(ctx, &d, &p);
            } else {
                vkbn_forward_inference_desc d;
                memset(&d, 0, sizeof d);
                d.tensor = t;
                d.x = x;
                d.y = y;
                d.running_mean = v;
                d.running_var = w;
                d.eps = VKBN_DEFAULT_EPS;
                r = vkbn_plan_create_forward_inference(ctx, &d, &p);
            }
            CHECK(r == VKBN_SUCCESS, "plan: %s", vkbn_last_error());
            vkbn_plan_destroy(p);
            vkbn_buffer_destroy(x);
            vkbn_buffer_destroy(y);
            vkbn_buffer_destroy(v);
            vkbn_buffer_destroy(w);
        }
    }
}

static vkbn_context cache_context(const char* path) {
    test_pin_drivers();
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = test_device_request();
    d.flags = test_context_flags();
    d.log = test_log;
    d.pipeline_cache_path = path;
    vkbn_context ctx = NULL;
    if (vkbn_context_create(&d, &ctx) != VKBN_SUCCESS) {
        printf("FAIL: context with a pipeline cache: %s\n", vkbn_last_error());
        exit(1);
    }
    if (!test_backend_is_requested(ctx, d.device)) exit(1);
    return ctx;
}

static uint64_t fnv1a(const uint8_t* p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint8_t* slurp(const char* path, size_t* n) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t* b = malloc(*n ? *n : 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char* path, const uint8_t* b, size_t n) {
    FILE* f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* Offsets in vkbn's file header (vk_cache.c). */
#define HDR_DRIVER_VERSION 32
#define HDR_DATA_HASH 64
#define HDR_SIZE 72

static void test_cache(const char* dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/vkbn_test_pipeline_cache.bin", dir);
    remove(path);
    vkbn_pipeline_stats cold, warm;

    vkbn_context ctx = cache_context(path);
    vkbn_context_get_pipeline_stats(ctx, &cold);
    CHECK(!cold.cache_file_loaded && strstr(cold.cache_file_status, "absent"), "no file yet: %s",
          cold.cache_file_status);
    create_plans(ctx);
    vkbn_context_get_pipeline_stats(ctx, &cold);
    vkbn_context_destroy(ctx); /* saves */

    size_t n = 0;
    uint8_t* file = slurp(path, &n);
    CHECK(file && n >= HDR_SIZE + 32, "the cache file was not written (%llu bytes)", (unsigned long long)n);

    ctx = cache_context(path);
    create_plans(ctx);
    vkbn_context_get_pipeline_stats(ctx, &warm);
    CHECK(warm.cache_file_loaded && strcmp(warm.cache_file_status, "loaded") == 0, "second start: %s",
          warm.cache_file_status);
    CHECK(warm.pipelines_created == cold.pipelines_created && cold.pipelines_created > 0,
          "the same plans made %u then %u pipelines", cold.pipelines_created, warm.pipelines_created);
    /* A plan made twice on one context compiles nothing the second time. */
    vkbn_pipeline_stats again;
    create_plans(ctx);
    vkbn_context_get_pipeline_stats(ctx, &again);
    CHECK(again.pipelines_created == warm.pipelines_created, "pipelines are not reused within a context");
    vkbn_context_destroy(ctx);

    printf(
        "pipeline creation, %u pipelines: cold %.1f ms (%u cache hits), warm from %s (%llu bytes of driver data) "
        "%.1f ms (%u cache hits; hits %s)\n",
        cold.pipelines_created, cold.create_seconds * 1e3, cold.pipelines_cache_hits, path,
        (unsigned long long)warm.cache_file_bytes, warm.create_seconds * 1e3, warm.pipelines_cache_hits,
        warm.hits_reported ? "reported by the driver" : "not reported by this driver");
    if (warm.hits_reported && warm.cache_file_bytes > 32) {
        CHECK(warm.pipelines_cache_hits == warm.pipelines_created,
              "second start: %u of %u pipelines were created from scratch",
              warm.pipelines_created - warm.pipelines_cache_hits, warm.pipelines_created);
    } else {
        printf(
            "note: the driver's cache holds no pipelines (%llu bytes: its header only), so a second start "
            "cannot skip compilation on this driver\n",
            (unsigned long long)warm.cache_file_bytes);
    }

    /* A driver update: the same file with another driver version is ignored. */
    if (file && n >= HDR_SIZE) {
        uint8_t* stale = malloc(n);
        memcpy(stale, file, n);
        stale[HDR_DRIVER_VERSION] ^= 1;
        spit(path, stale, n);
        ctx = cache_context(path);
        vkbn_context_get_pipeline_stats(ctx, &warm);
        CHECK(!warm.cache_file_loaded && strstr(warm.cache_file_status, "driver version"), "stale driver: %s",
              warm.cache_file_status);
        create_plans(ctx);
        vkbn_context_destroy(ctx);
        /* The driver's own header naming another pipelineCacheUUID, vkbn's
         * header intact (hash recomputed): also ignored. */
        memcpy(stale, file, n);
        stale[HDR_SIZE + 16] ^= 0xff;
        uint64_t h = fnv1a(stale + HDR_SIZE, n - HDR_SIZE);
        memcpy(stale + HDR_DATA_HASH, &h, sizeof h);
        spit(path, stale, n);
        ctx = cache_context(path);
        vkbn_context_get_pipeline_stats(ctx, &warm);
        CHECK(!warm.cache_file_loaded && strstr(warm.cache_file_status, "UUID"), "stale UUID: %s",
              warm.cache_file_status);
        vkbn_context_destroy(ctx);
        /* A damaged file. */
        memcpy(stale, file, n);
        stale[n - 1] ^= 0x5a;
        spit(path, stale, n);
        ctx = cache_context(path);
        vkbn_context_get_pipeline_stats(ctx, &warm);
        CHECK(!warm.cache_file_loaded && strstr(warm.cache_file_status, "damaged"), "damaged: %s",
              warm.cache_file_status);
        vkbn_context_destroy(ctx);
        free(stale);
    }
    free(file);
    remove(path);

    /* No path: saving is refused. */
    ctx = test_context(0, 0);
    CHECK(vkbn_context_save_pipeline_cache(ctx) == VKBN_ERROR_UNSUPPORTED, "save without a path");
    vkbn_context_destroy(ctx);

    /* The caller's VkPipelineCache receives vkbn's pipelines. */
    test_engine e;
    engine_create(&e, 0);
    VkPipelineCacheCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    VkPipelineCache cache;
    vkCreatePipelineCache(e.device, &pci, NULL, &cache);
    vkbn_vulkan_device b = engine_borrow(&e, 1);
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.borrowed = &b;
    d.pipeline_cache = cache;
    d.pipeline_cache_path = path; /* ignored with a caller's cache */
    CHECK(vkbn_context_create(&d, &ctx) == VKBN_SUCCESS, "context with the caller's cache: %s", vkbn_last_error());
    create_plans(ctx);
    vkbn_pipeline_stats st;
    vkbn_context_get_pipeline_stats(ctx, &st);
    CHECK(strstr(st.cache_file_status, "caller") != NULL, "caller's cache: %s", st.cache_file_status);
    CHECK(vkbn_context_save_pipeline_cache(ctx) == VKBN_ERROR_UNSUPPORTED, "save with the caller's cache");
    vkbn_context_destroy(ctx);
    size_t size = 0;
    vkGetPipelineCacheData(e.device, cache, &size, NULL);
    CHECK(size >= 32, "the caller's cache holds %llu bytes", (unsigned long long)size);
    vkDestroyPipelineCache(e.device, cache, NULL);
    FILE* f = fopen(path, "rb");
    CHECK(f == NULL, "a context with the caller's cache wrote vkbn's cache file");
    if (f) fclose(f);
    CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
    engine_destroy(&e);
}

int main(int argc, char** argv) {
    const char* suite = argc > 1 ? argv[1] : "record";
    if (strcmp(suite, "record") == 0) {
        test_record();
    } else if (strcmp(suite, "threads") == 0) {
        test_threads();
    } else if (strcmp(suite, "contexts") == 0) {
        test_contexts();
    } else if (strcmp(suite, "features") == 0) {
        test_features();
    } else if (strcmp(suite, "cache") == 0) {
        test_cache(argc > 2 ? argv[2] : ".");
    } else {
        printf("unknown suite %s (record, threads, contexts, features, cache)\n", suite);
        return 2;
    }
    return test_summary();
}
