/* A CPU-path context: the instruction set, the thread pool, and buffers in
 * 64-byte-aligned host memory (upload and download are copies). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/errors.h"
#include "../core/test_hooks.h"
#include "cpu_internal.h"

#define MAX_THREADS 1024u
#define ALIGNMENT 64u

bool vkbn__cpu_device_matches(const char* want) {
    if (!want) return false;
    return tolower((unsigned char)want[0]) == 'c' && tolower((unsigned char)want[1]) == 'p' &&
           tolower((unsigned char)want[2]) == 'u' && want[3] == 0;
}

void vkbn__cpu_describe_default(vkbn_device_info* info) {
    vkbn__cpu_caps caps;
    vkbn__cpu_detect(&caps);
    vkbn_cpu_isa isa = caps.best;
    /* An invalid override fails context creation; listing shows the default. */
    char saved[512];
    snprintf(saved, sizeof saved, "%s", vkbn_last_error());
    if (vkbn__cpu_resolve_isa(&caps, VKBN_CPU_ISA_AUTO, &isa) != VKBN_SUCCESS) {
        isa = caps.best;
        vkbn__fail(VKBN_SUCCESS, "%s", saved);
    }
    vkbn__cpu_describe(&caps, isa, caps.cores, info);
}

vkbn_result vkbn__cpu_context_create(vkbn_context ctx, const vkbn_context_desc* desc) {
    struct vkbn__cpu* cpu = vkbn__calloc(1, sizeof *cpu);
    if (!cpu) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_context_create: out of host memory");
    ctx->impl = cpu;
    vkbn__mutex_init(&cpu->exec_lock);
    vkbn__cpu_detect(&cpu->caps);
    VKBN_CHECK(vkbn__cpu_resolve_isa(&cpu->caps, desc->cpu_isa, &cpu->isa));
    cpu->kernels = vkbn__cpu_kernels_for(cpu->isa);
    if (desc->cpu_threads > MAX_THREADS) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->cpu_threads: at most %u, got %u", MAX_THREADS,
                          desc->cpu_threads);
    }
    cpu->threads = desc->cpu_threads ? desc->cpu_threads : cpu->caps.cores;
    /* Operations whose tensors exceed the last-level cache write around it
     * (cpu_plan.c). */
    cpu->stream_bytes = cpu->caps.llc_bytes;
    /* Test-only override, so that tests reach the streaming paths with small
     * tensors. */
    uint64_t stream = vkbn__test_hooks()->cpu_stream_bytes;
    if (stream != VKBN_TEST_HOOK_UNSET) cpu->stream_bytes = stream;
    /* ... and the channels-last backward's channel blocks with small ones. */
    cpu->channel_block = vkbn__test_hooks()->cpu_channel_block;
    /* bf16 stores by AVX-512 BF16's conversion where the kernels and the CPU
     * have it (the hook keeps the integer rounding, so that tests reach both
     * on such a CPU). */
    cpu->bf16_native = cpu->kernels->bf16_native && cpu->caps.avx512_bf16 &&
                       vkbn__test_hooks()->cpu_bf16_integer == VKBN_TEST_HOOK_UNSET;
    VKBN_CHECK(vkbn__cpu_pool_create(cpu->threads, &cpu->pool));
    vkbn__cpu_describe(&cpu->caps, cpu->isa, cpu->threads, &ctx->info);
    vkbn__log(ctx, VKBN_LOG_INFO, "vkbn: %s", ctx->info.name);
    return VKBN_SUCCESS;
}

void vkbn__cpu_context_destroy(vkbn_context ctx) {
    struct vkbn__cpu* cpu = vkbn__cpu_of(ctx);
    if (!cpu) return;
    vkbn__cpu_pool_destroy(cpu->pool);
    vkbn__mutex_destroy(&cpu->exec_lock);
    vkbn__free(cpu);
    ctx->impl = NULL;
}

vkbn_result vkbn__cpu_buffer_create(vkbn_context ctx, uint64_t size, vkbn_buffer buf) {
    (void)ctx;
    if (size > (uint64_t)SIZE_MAX - ALIGNMENT) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "size: %llu bytes do not fit this machine's address space",
                          (unsigned long long)size);
    }
    size_t bytes = ((size_t)size + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    /* Buffers of 2 MiB and more start on a 2 MiB boundary and ask for large
     * pages: the kernels stream whole tensors, and with 4 KiB pages every
     * page is a TLB miss and a boundary the L2 prefetcher stops at, and a
     * first touch costs a fault per 4 KiB (measured: docs/ARCHITECTURE.md,
     * "CPU path"). */
    const size_t large = (size_t)2 << 20;
    const size_t align = bytes >= large ? large : ALIGNMENT;
    void* p = vkbn__host_alloc_fails() ? NULL : vkbn__aligned_alloc(bytes, align);
    if (!p) {
        return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "size: could not allocate %llu bytes of host memory",
                          (unsigned long long)size);
    }
    if (bytes >= large) vkbn__advise_large_pages(p, bytes / large * large);
    buf->host = p;
    buf->root = (uint64_t)(uintptr_t)p;
    return VKBN_SUCCESS;
}

void vkbn__cpu_buffer_destroy(vkbn_buffer buf) { vkbn__aligned_free(buf->host); }

vkbn_result vkbn__cpu_buffer_upload(vkbn_buffer buf, uint64_t offset, const void* src, uint64_t size) {
    vkbn_context ctx = buf->ctx;
    /* Wait for a plan running on another thread, as a Vulkan upload would. */
    vkbn__mutex_lock(&vkbn__cpu_of(ctx)->exec_lock);
    memcpy(vkbn__cpu_ptr(buf) + offset, src, (size_t)size);
    vkbn__mutex_unlock(&vkbn__cpu_of(ctx)->exec_lock);
    return VKBN_SUCCESS;
}

vkbn_result vkbn__cpu_buffer_download(vkbn_buffer buf, uint64_t offset, void* dst, uint64_t size) {
    vkbn_context ctx = buf->ctx;
    vkbn__mutex_lock(&vkbn__cpu_of(ctx)->exec_lock);
    memcpy(dst, vkbn__cpu_ptr(buf) + offset, (size_t)size);
    vkbn__mutex_unlock(&vkbn__cpu_of(ctx)->exec_lock);
    return VKBN_SUCCESS;
}
