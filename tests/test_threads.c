/* Threads, as vkbn.h's "Threads" section promises them, checked against the
 * fp64 reference (and, in `make test-tsan`, by ThreadSanitizer):
 *   cpu       the CPU path's pool at 1 to 4 worker threads, with 3 threads
 *             of the caller's creating plans, running the one-shot calls and
 *             executing plans on one context at once (immediate calls are
 *             serialised per context; plan creation is not), the activation
 *             mask's shared words among them
 *   vulkan    lavapipe: 4 threads creating plans on one context at once
 *             (pipelines created under the context's lock) and executing
 *             them; then 3 contexts, one per thread, at once
 *   sync      the in-process synchronized calls: each thread its own
 *             context and slice of the batch (lavapipe, lavapipe, CPU), the
 *             partial statistics merged on the main thread, then each
 *             slice's forward and gradient sums at once; the result must be
 *             the reference's and bit-identical to a serial run
 * (77 when the device is missing). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bwd_cases.h"
#include "cases.h"
#include "sync_check.h"
#include "test_util.h"

#define CALLER_THREADS 3
#define REPEATS 3

typedef struct job {
    vkbn_context ctx;
    int index;
    int failures;
    char message[600];
} job;

static vkbn_context open_context(const char* device, uint32_t cpu_threads, vkbn_context_flags flags) {
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = device;
    d.cpu_threads = cpu_threads;
    d.flags = flags;
    vkbn_context ctx = NULL;
    if (vkbn_context_create(&d, &ctx) != VKBN_SUCCESS) return NULL;
    return ctx;
}

/* Each job runs forward cases (both layouts, training and inference, fused
 * residual + activation, split reductions) and a backward case, REPEATS
 * times, each case through case_run (reference check) on the shared
 * context. Shapes differ per job so that plans differ. */
static void* run_cases(void* arg) {
    job* j = arg;
    /* The ReLU repeat writes and reads the activation mask where the context
     * takes one: its words shared by the pool's workers (none of the shapes'
     * ranges ends on a word) are what ThreadSanitizer watches. */
    const bool mask = test_mask_supported(j->ctx);
    for (int rep = 0; rep < REPEATS; ++rep) {
        const uint32_t sp[2] = {5 + (uint32_t)j->index, 3};
        fwd_case c = case_default(2 + (uint32_t)j->index, 7 + 2 * (uint32_t)j->index, 2, sp,
                                  (vkbn_layout)((rep + j->index) % 2), VKBN_DTYPE_F32);
        c.training = rep != 1;
        c.residual = rep == 2;
        c.activation = rep == 2 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
        c.reduction_split = rep == 0 ? 3 : 0;
        c.mask = mask && rep == 2;
        c.seed = 100 + (uint64_t)j->index * 10 + (uint64_t)rep;
        case_result r;
        if (case_run(j->ctx, &c, &r) != 0) {
            ++j->failures;
            snprintf(j->message, sizeof j->message, "forward: %s", r.message);
        }
        bwd_case b = bwd_case_default(3, 5 + (uint32_t)j->index, 1, sp, (vkbn_layout)(rep % 2), VKBN_DTYPE_F32);
        b.seed = 200 + (uint64_t)j->index * 10 + (uint64_t)rep;
        if (mask && rep == 2) {
            b.activation = VKBN_ACTIVATION_CLAMP;
            b.activation_alpha = -0.5f;
            b.activation_beta = 0.5f;
            b.mask = 1;
        }
        bwd_result br;
        if (bwd_case_run(j->ctx, &b, &br) != 0) {
            ++j->failures;
            snprintf(j->message, sizeof j->message, "backward: %s", br.message);
        }
    }
    return NULL;
}

/* Runs `threads` jobs on ctx (one context each when ctxs is given). */
static void run_jobs(vkbn_context ctx, const vkbn_context* ctxs, int threads, const char* what) {
    pthread_t t[8];
    job jobs[8];
    for (int i = 0; i < threads; ++i) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].ctx = ctxs ? ctxs[i] : ctx;
        jobs[i].index = i;
        CHECK(pthread_create(&t[i], NULL, run_cases, &jobs[i]) == 0, "%s: pthread_create", what);
    }
    for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
    for (int i = 0; i < threads; ++i) {
        CHECK(jobs[i].failures == 0, "%s, thread %d: %d cases failed, last: %s", what, i, jobs[i].failures,
              jobs[i].message);
    }
}

static int test_cpu_pool(void) {
    for (uint32_t workers = 1; workers <= 4; ++workers) {
        vkbn_context ctx = open_context("cpu", workers, 0);
        if (!ctx) {
            printf("no CPU path: skipped (%s)\n", vkbn_last_error());
            return TEST_SKIP;
        }
        char what[64];
        snprintf(what, sizeof what, "CPU path, %u workers", workers);
        run_jobs(ctx, NULL, CALLER_THREADS, what);
        vkbn_context_destroy(ctx);
        printf("%s: %d threads ran their cases at once\n", what, CALLER_THREADS);
    }
    return 0;
}

static int test_vulkan(void) {
    vkbn_context_flags flags = test_context_flags();
    vkbn_context ctx = open_context(TEST_VULKAN_DEVICE, 0, flags);
    if (!ctx || !test_backend_is_requested(ctx, TEST_VULKAN_DEVICE)) {
        printf("no lavapipe: skipped (%s)\n", vkbn_last_error());
        vkbn_context_destroy(ctx);
        return TEST_SKIP;
    }
    run_jobs(ctx, NULL, 4, "lavapipe, one context");
    CHECK(vkbn_context_validation_message_count(ctx) == 0, "validation messages: %llu",
          (unsigned long long)vkbn_context_validation_message_count(ctx));
    vkbn_context_destroy(ctx);
    printf("lavapipe: 4 threads created and ran plans on one context\n");

    vkbn_context ctxs[3];
    for (int i = 0; i < 3; ++i) {
        ctxs[i] = open_context(TEST_VULKAN_DEVICE, 0, flags);
        CHECK(ctxs[i] != NULL, "context %d: %s", i, vkbn_last_error());
        if (!ctxs[i]) return 1;
    }
    run_jobs(NULL, ctxs, 3, "lavapipe, a context per thread");
    for (int i = 0; i < 3; ++i) {
        CHECK(vkbn_context_validation_message_count(ctxs[i]) == 0, "context %d: validation messages: %llu", i,
              (unsigned long long)vkbn_context_validation_message_count(ctxs[i]));
        vkbn_context_destroy(ctxs[i]);
    }
    printf("lavapipe: 3 contexts ran at once\n");
    return 0;
}

/* ---- synchronized batch norm from threads --------------------------------- */

#define SLICES 3

typedef struct sync_job {
    sync_slice slice;
    vkbn_batch_stats partial;
    const vkbn_batch_stats* global_stats;
    vkbn_grad_sums sums;
    int phase; /* 0: statistics; 1: forward and gradient sums */
    vkbn_result result;
} sync_job;

static void* run_sync(void* arg) {
    sync_job* j = arg;
    if (j->phase == 0) {
        j->result = sync_slice_stats(&j->slice, &j->partial);
    } else {
        j->result = sync_slice_forward(&j->slice, j->global_stats);
        if (j->result == VKBN_SUCCESS) j->result = sync_slice_grad_sums(&j->slice, &j->sums);
    }
    return NULL;
}

/* Runs one phase on every slice: a thread each, or in order on this one. */
static void run_sync_phase(sync_job* jobs, int phase, int threaded) {
    pthread_t t[SLICES];
    for (int i = 0; i < SLICES; ++i) {
        jobs[i].phase = phase;
        if (threaded) {
            pthread_create(&t[i], NULL, run_sync, &jobs[i]);
        } else {
            run_sync(&jobs[i]);
        }
    }
    for (int i = 0; threaded && i < SLICES; ++i) pthread_join(t[i], NULL);
}

/* One synchronized step over the slices; threaded or in order. Fills o. */
static int sync_step(vkbn_context* ctxs, const sync_batch* b, const uint32_t* bounds, int threaded, sync_outputs* o) {
    sync_job jobs[SLICES];
    memset(jobs, 0, sizeof jobs);
    uint32_t c = b->c.tensor.c;
    double* vectors = calloc((size_t)c * 4 * (SLICES + 1), sizeof(double));
    int ok = 1;
    for (int i = 0; i < SLICES && ok; ++i) {
        ok = sync_slice_create(ctxs[i], b, bounds[i], bounds[i + 1], &jobs[i].slice) == VKBN_SUCCESS;
        jobs[i].partial = (vkbn_batch_stats){0, c, vectors + (size_t)c * 4 * i, vectors + (size_t)c * (4 * i + 1)};
        jobs[i].sums = (vkbn_grad_sums){0, c, vectors + (size_t)c * (4 * i + 2), vectors + (size_t)c * (4 * i + 3)};
    }
    vkbn_batch_stats partials[SLICES],
        global = {0, c, vectors + (size_t)c * 4 * SLICES, vectors + (size_t)c * (4 * SLICES + 1)};
    vkbn_grad_sums sums[SLICES],
        global_sums = {0, c, vectors + (size_t)c * (4 * SLICES + 2), vectors + (size_t)c * (4 * SLICES + 3)};
    if (ok) {
        run_sync_phase(jobs, 0, threaded);
        for (int i = 0; i < SLICES; ++i) ok &= jobs[i].result == VKBN_SUCCESS, partials[i] = jobs[i].partial;
    }
    if (ok) ok = vkbn_batch_stats_merge(partials, SLICES, &global) == VKBN_SUCCESS;
    if (ok) {
        for (int i = 0; i < SLICES; ++i) jobs[i].global_stats = &global;
        run_sync_phase(jobs, 1, threaded);
        for (int i = 0; i < SLICES; ++i) ok &= jobs[i].result == VKBN_SUCCESS, sums[i] = jobs[i].sums;
    }
    if (ok) ok = vkbn_grad_sums_merge(sums, SLICES, &global_sums) == VKBN_SUCCESS;
    for (int i = 0; i < SLICES && ok; ++i) ok = sync_slice_backward(&jobs[i].slice, &global_sums) == VKBN_SUCCESS;
    for (int i = 0; i < SLICES && ok; ++i) ok = sync_slice_collect(&jobs[i].slice, o) == VKBN_SUCCESS;
    if (!ok) printf("  synchronized step: %s\n", vkbn_last_error());
    for (int i = 0; i < SLICES; ++i) sync_slice_destroy(&jobs[i].slice);
    free(vectors);
    return ok;
}

static int test_sync_threads(void) {
    vkbn_context_flags flags = test_context_flags();
    vkbn_context ctxs[SLICES] = {open_context(TEST_VULKAN_DEVICE, 0, flags), open_context(TEST_VULKAN_DEVICE, 0, flags),
                                 open_context("cpu", 2, 0)};
    if (!ctxs[0] || !ctxs[1] || !ctxs[2] || !test_backend_is_requested(ctxs[0], TEST_VULKAN_DEVICE)) {
        printf("no lavapipe: skipped (%s)\n", vkbn_last_error());
        for (int i = 0; i < SLICES; ++i) vkbn_context_destroy(ctxs[i]);
        return TEST_SKIP;
    }
    sync_case c;
    memset(&c, 0, sizeof c);
    c.tensor = (vkbn_tensor_desc){.n = 7, .c = 5, .spatial_rank = 2, .spatial = {6, 3}};
    c.tensor.layout = VKBN_LAYOUT_CHANNELS_LAST;
    c.tensor.dtype = VKBN_DTYPE_F32;
    c.residual = 1;
    c.activation = VKBN_ACTIVATION_RELU;
    c.eps = VKBN_DEFAULT_EPS, c.momentum = VKBN_DEFAULT_MOMENTUM;
    c.x_mean = 1.0, c.x_std = 2.0;
    c.seed = 77;
    sync_batch b;
    CHECK(sync_batch_make(&c, &b) == 0, "sync batch");
    const uint32_t bounds[SLICES + 1] = {0, 3, 4, 7};
    sync_outputs threaded, serial;
    sync_outputs_alloc(&b, &threaded);
    sync_outputs_alloc(&b, &serial);
    int ok = sync_step(ctxs, &b, bounds, 1, &threaded) && sync_step(ctxs, &b, bounds, 0, &serial);
    CHECK(ok, "synchronized steps ran");
    if (ok) {
        double worst = 0;
        char message[512] = "";
        CHECK(sync_check(&b, &threaded, &worst, message, sizeof message) == 1, "threaded step: %s", message);
        CHECK(sync_outputs_identical(&b, &threaded, &serial), "threaded and serial steps differ");
    }
    for (int i = 0; i < 2; ++i) {
        CHECK(vkbn_context_validation_message_count(ctxs[i]) == 0, "context %d: validation messages", i);
    }
    sync_outputs_free(&threaded);
    sync_outputs_free(&serial);
    sync_batch_free(&b);
    for (int i = 0; i < SLICES; ++i) vkbn_context_destroy(ctxs[i]);
    printf("synchronized step: 3 contexts in 3 threads, identical to the serial step\n");
    return 0;
}

int main(int argc, char** argv) {
    test_pin_drivers();
    const char* suite = argc > 1 ? argv[1] : "cpu";
    int rc;
    if (strcmp(suite, "cpu") == 0) {
        rc = test_cpu_pool();
    } else if (strcmp(suite, "vulkan") == 0) {
        rc = test_vulkan();
    } else if (strcmp(suite, "sync") == 0) {
        rc = test_sync_threads();
    } else {
        printf("unknown suite %s (cpu, vulkan, sync)\n", suite);
        return 2;
    }
    if (rc == TEST_SKIP) return TEST_SKIP;
    return test_summary();
}
