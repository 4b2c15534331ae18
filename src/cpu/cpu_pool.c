/* A persistent pool of worker threads. The caller runs as thread 0, workers
 * are threads 1..n-1, and every run gives each thread the same index, so work
 * split by thread index (static partitioning) is the same on every run.
 *
 * Workers wait for a new generation number: they spin briefly (a plan's
 * phases follow each other within microseconds), then sleep on a condition
 * variable. The caller waits for the pending count to reach zero the same
 * way. A sequentially consistent fence after each task makes its stores,
 * non-temporal ones included, visible before it reports done. */
#include <stdlib.h>

#include "../core/errors.h"
#include "cpu_internal.h"

#define SPIN_ITERATIONS 2000 /* about 50 us of PAUSE on current x86 cores */

struct vkbn__cpu_pool {
    uint32_t threads;
    vkbn__thread* workers;
    uint32_t started;
    vkbn__mutex lock; /* guards sleeping on wake/done */
    vkbn__cond wake;
    vkbn__cond done;
    vkbn__mutex run_lock; /* one run at a time */
    vkbn__cpu_task task;
    void* arg;
    uint32_t generation; /* atomic */
    uint32_t pending;    /* atomic: workers still running this generation */
    uint32_t stop;       /* atomic */
};

typedef struct worker_start {
    vkbn__cpu_pool* pool;
    uint32_t index;
} worker_start;

static uint32_t load_acquire(const uint32_t* p) { return vkbn__atomic_load_acquire32(p); }

static void worker_main(void* p) {
    worker_start* start = p;
    vkbn__cpu_pool* pool = start->pool;
    uint32_t index = start->index;
    vkbn__free(start);
    uint32_t seen = 0;
    for (;;) {
        uint32_t g = load_acquire(&pool->generation);
        for (int i = 0; i < SPIN_ITERATIONS && g == seen && !load_acquire(&pool->stop); ++i) {
            vkbn__cpu_relax();
            g = load_acquire(&pool->generation);
        }
        if (g == seen) {
            vkbn__mutex_lock(&pool->lock);
            while ((g = load_acquire(&pool->generation)) == seen && !load_acquire(&pool->stop)) {
                vkbn__cond_wait(&pool->wake, &pool->lock);
            }
            vkbn__mutex_unlock(&pool->lock);
        }
        if (load_acquire(&pool->stop)) break;
        seen = g;
        pool->task(pool->arg, index);
        vkbn__atomic_fence();
        if (vkbn__atomic_sub32(&pool->pending, 1) == 0) {
            vkbn__mutex_lock(&pool->lock);
            vkbn__cond_signal(&pool->done);
            vkbn__mutex_unlock(&pool->lock);
        }
    }
}

vkbn_result vkbn__cpu_pool_create(uint32_t threads, vkbn__cpu_pool** out) {
    *out = NULL;
    vkbn__cpu_pool* pool = vkbn__calloc(1, sizeof *pool);
    if (!pool) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating the CPU thread pool: out of host memory");
    pool->threads = threads;
    vkbn__mutex_init(&pool->lock);
    vkbn__mutex_init(&pool->run_lock);
    vkbn__cond_init(&pool->wake);
    vkbn__cond_init(&pool->done);
    if (threads > 1) {
        pool->workers = vkbn__calloc(threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            vkbn__cpu_pool_destroy(pool);
            return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating the CPU thread pool: out of host memory");
        }
    }
    for (uint32_t i = 1; i < threads; ++i) {
        worker_start* start = vkbn__calloc(1, sizeof *start);
        int rc = start ? 0 : 1;
        if (start) {
            start->pool = pool;
            start->index = i;
            rc = vkbn__thread_create(&pool->workers[i - 1], worker_main, start) ? 0 : 1;
            if (rc != 0) vkbn__free(start);
        }
        if (rc != 0) {
            vkbn__cpu_pool_destroy(pool);
            return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "desc->cpu_threads: could not start thread %u of %u",
                              i + 1, threads);
        }
        pool->started = i;
    }
    *out = pool;
    return VKBN_SUCCESS;
}

void vkbn__cpu_pool_destroy(vkbn__cpu_pool* pool) {
    if (!pool) return;
    vkbn__mutex_lock(&pool->lock);
    vkbn__atomic_store_release32(&pool->stop, 1);
    vkbn__cond_broadcast(&pool->wake);
    vkbn__mutex_unlock(&pool->lock);
    for (uint32_t i = 0; i < pool->started; ++i) vkbn__thread_join(pool->workers[i]);
    vkbn__cond_destroy(&pool->wake);
    vkbn__cond_destroy(&pool->done);
    vkbn__mutex_destroy(&pool->lock);
    vkbn__mutex_destroy(&pool->run_lock);
    vkbn__free(pool->workers);
    vkbn__free(pool);
}

uint32_t vkbn__cpu_pool_threads(const vkbn__cpu_pool* pool) { return pool->threads; }

void vkbn__cpu_pool_run(vkbn__cpu_pool* pool, vkbn__cpu_task task, void* arg) {
    vkbn__mutex_lock(&pool->run_lock);
    if (pool->threads == 1) {
        task(arg, 0);
        vkbn__atomic_fence();
        vkbn__mutex_unlock(&pool->run_lock);
        return;
    }
    pool->task = task;
    pool->arg = arg;
    vkbn__atomic_store_release32(&pool->pending, pool->threads - 1);
    vkbn__mutex_lock(&pool->lock);
    vkbn__atomic_add32(&pool->generation, 1);
    vkbn__cond_broadcast(&pool->wake);
    vkbn__mutex_unlock(&pool->lock);

    task(arg, 0);
    vkbn__atomic_fence();

    for (int i = 0; i < SPIN_ITERATIONS && load_acquire(&pool->pending) != 0; ++i) vkbn__cpu_relax();
    if (load_acquire(&pool->pending) != 0) {
        vkbn__mutex_lock(&pool->lock);
        while (load_acquire(&pool->pending) != 0) vkbn__cond_wait(&pool->done, &pool->lock);
        vkbn__mutex_unlock(&pool->lock);
    }
    vkbn__mutex_unlock(&pool->run_lock);
}
