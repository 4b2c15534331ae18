/* The CPU backend: one vkbn__cpu per context (a thread pool and the kernel
 * table of the chosen instruction set), one vkbn__cpu_plan per plan. */
#ifndef VKBN_CPU_INTERNAL_H_
#define VKBN_CPU_INTERNAL_H_

#include <stdbool.h>
#include <stdint.h>

#include "../core/internal.h"
#include "../core/platform.h"
#include "cpu_kernels.h"

/* ------------------------------------------------------------------------ */
/* cpu_isa.c: what the CPU has and which kernels to use                      */
/* ------------------------------------------------------------------------ */

typedef struct vkbn__cpu_caps {
    vkbn_cpu_isa best;     /* the best level this CPU supports */
    uint32_t supported;    /* bit (1 << level) per supported vkbn_cpu_isa */
    bool avx512_bf16;      /* AVX-512 BF16 and DQ beside the avx512 level (bf16 stores, cpu_simd_avx512.h) */
    uint32_t cores;        /* physical cores this process may run on */
    uint64_t llc_bytes;    /* last-level cache */
    uint64_t memory_bytes; /* physical memory */
    char model[128];       /* "AMD EPYC 9R45", ... */
    char vendor[32];
} vkbn__cpu_caps;

void vkbn__cpu_detect(vkbn__cpu_caps* caps);
const char* vkbn__cpu_isa_name(vkbn_cpu_isa isa);
/* The kernel table of a level, or NULL if this build has none for it. */
const vkbn__cpu_kernels* vkbn__cpu_kernels_for(vkbn_cpu_isa isa);
/* Resolves the requested level (desc, then the VKBN_CPU_ISA override) to one
 * the CPU supports, or fails naming the field. */
vkbn_result vkbn__cpu_resolve_isa(const vkbn__cpu_caps* caps, vkbn_cpu_isa requested, vkbn_cpu_isa* out);
/* Fills a device description of the CPU path for `threads` and `isa`. */
void vkbn__cpu_describe(const vkbn__cpu_caps* caps, vkbn_cpu_isa isa, uint32_t threads, vkbn_device_info* info);

/* ------------------------------------------------------------------------ */
/* cpu_pool.c: a persistent pool; the caller is thread 0                     */
/* ------------------------------------------------------------------------ */

typedef void (*vkbn__cpu_task)(void* arg, uint32_t thread);
typedef struct vkbn__cpu_pool vkbn__cpu_pool;

vkbn_result vkbn__cpu_pool_create(uint32_t threads, vkbn__cpu_pool** out);
void vkbn__cpu_pool_destroy(vkbn__cpu_pool* pool);
uint32_t vkbn__cpu_pool_threads(const vkbn__cpu_pool* pool);
/* Runs task(arg, t) for every t in [0, threads) and returns when all are
 * done; every thread's stores (non-temporal ones included) are visible. */
void vkbn__cpu_pool_run(vkbn__cpu_pool* pool, vkbn__cpu_task task, void* arg);

/* ------------------------------------------------------------------------ */
/* The context                                                               */
/* ------------------------------------------------------------------------ */

struct vkbn__cpu {
    vkbn__cpu_caps caps;
    vkbn_cpu_isa isa;
    const vkbn__cpu_kernels* kernels;
    vkbn__cpu_pool* pool;
    uint32_t threads;
    uint64_t stream_bytes;  /* operations touching more bytes use non-temporal stores */
    uint64_t channel_block; /* test hook: channels-last backward blocks of this many channels, or UNSET */
    bool bf16_native;       /* bf16 stores by the ISA's conversion (kernels->bf16_native on a CPU with it) */
    vkbn__mutex exec_lock;  /* one plan execution at a time */
};

/* cpu_context.c */
bool vkbn__cpu_device_matches(const char* want);
vkbn_result vkbn__cpu_context_create(vkbn_context ctx, const vkbn_context_desc* desc);
void vkbn__cpu_context_destroy(vkbn_context ctx);
vkbn_result vkbn__cpu_buffer_create(vkbn_context ctx, uint64_t size, vkbn_buffer buf);
void vkbn__cpu_buffer_destroy(vkbn_buffer buf);
vkbn_result vkbn__cpu_buffer_upload(vkbn_buffer buf, uint64_t offset, const void* src, uint64_t size);
vkbn_result vkbn__cpu_buffer_download(vkbn_buffer buf, uint64_t offset, void* dst, uint64_t size);
/* Describes the CPU path as vkbn_enumerate_devices lists it (defaults). */
void vkbn__cpu_describe_default(vkbn_device_info* info);

/* cpu_plan.c: the pass executor (cpu_plan.h), core's plan entries. */
vkbn_result vkbn__cpu_plan_build(vkbn_plan plan);
vkbn_result vkbn__cpu_plan_execute(vkbn_plan plan, uint32_t repetitions, double* seconds);
void vkbn__cpu_plan_destroy(vkbn_plan plan);

/* The backend's objects behind core's opaque pointers. */
static inline struct vkbn__cpu* vkbn__cpu_of(vkbn_context ctx) { return (struct vkbn__cpu*)ctx->impl; }
static inline struct vkbn__cpu_plan* vkbn__cpu_plan_of(vkbn_plan plan) { return (struct vkbn__cpu_plan*)plan->impl; }

/* Host address of a buffer's first byte. */
static inline uint8_t* vkbn__cpu_ptr(vkbn_buffer b) { return b ? b->host + b->offset : NULL; }

#endif
