/* A persistent pool of worker threads. The caller runs as thread 0, workers
 * are threads 1..n-1, and every run gives each thread the same index, so work
 * split by thread index (static partitioning) is the same on every run.
 *
 * Workers wait for a new generation number: they spin briefly (a plan's
 * phases follow each other within microseconds), then sleep on a condition
 * variable. The caller waits for the pending count to reach zero the same
 * way. A sequentially consistent fence after each task makes its stores,
 * non-temporal ones included, visible before it reports done. */
#include <pthread.h>
#include <stdlib.h>

#include "../core/errors.h"
#include "cpu_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERATIONS 2000 /* about 50 us of PAUSE on current x86 cores */

struct vkbn__cpu_pool {
    uint32_t threads;
    pthread_t* workers;
    uint32_t started;
    pthread_mutex_t lock; /* guards sleeping on wake/done */
    pthread_cond_t wake;
    pthread_cond_t done;
    pthread_mutex_t run_lock; /* one run at a time */
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

static uint32_t load_acquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

static void* worker_main(void* p) {
    worker_start* start = p;
    vkbn__cpu_pool* pool = start->pool;
    uint32_t index = start->index;
    free(start);
    uint32_t seen = 0;
    for (;;) {
        uint32_t g = load_acquire(&pool->generation);
        for (int i = 0; i < SPIN_ITERATIONS && g == seen && !load_acquire(&pool->stop); ++i) {
            cpu_relax();
            g = load_acquire(&pool->generation);
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->lock);
            while ((g = load_acquire(&pool->generation)) == seen && !load_acquire(&pool->stop)) {
                pthread_cond_wait(&pool->wake, &pool->lock);
            }
            pthread_mutex_unlock(&pool->lock);
        }
        if (load_acquire(&pool->stop)) break;
        seen = g;
        pool->task(pool->arg, index);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_sub_fetch(&pool->pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
    return NULL;
}

vkbn_result vkbn__cpu_pool_create(uint32_t threads, vkbn__cpu_pool** out) {
    *out = NULL;
    vkbn__cpu_pool* pool = vkbn__calloc(1, sizeof *pool);
    if (!pool) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating the CPU thread pool: out of host memory");
    pool->threads = threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_mutex_init(&pool->run_lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
    if (threads > 1) {
        pool->workers = vkbn__calloc(threads - 1, sizeof *pool->workers);
        if (!pool->workers) {
            vkbn__cpu_pool_destroy(pool);
            return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "creating the CPU thread pool: out of host memory");
        }
    }
    for (uint32_t i = 1; i < threads; ++i) {
        worker_start* start = malloc(sizeof *start);
        int rc = start ? 0 : 1;
        if (start) {
            start->pool = pool;
            start->index = i;
            rc = pthread_create(&pool->workers[i - 1], NULL, worker_main, start);
            if (rc != 0) free(start);
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
    pthread_mutex_lock(&pool->lock);
    __atomic_store_n(&pool->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (uint32_t i = 0; i < pool->started; ++i) pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->run_lock);
    vkbn__free(pool->workers);
    vkbn__free(pool);
}

uint32_t vkbn__cpu_pool_threads(const vkbn__cpu_pool* pool) { return pool->threads; }

void vkbn__cpu_pool_run(vkbn__cpu_pool* pool, vkbn__cpu_task task, void* arg) {
    pthread_mutex_lock(&pool->run_lock);
    if (pool->threads == 1) {
        task(arg, 0);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&pool->run_lock);
        return;
    }
    pool->task = task;
    pool->arg = arg;
    __atomic_store_n(&pool->pending, pool->threads - 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&pool->lock);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);

    task(arg, 0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    for (int i = 0; i < SPIN_ITERATIONS && load_acquire(&pool->pending) != 0; ++i) cpu_relax();
    if (load_acquire(&pool->pending) != 0) {
        pthread_mutex_lock(&pool->lock);
        while (load_acquire(&pool->pending) != 0) pthread_cond_wait(&pool->done, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->run_lock);
}
