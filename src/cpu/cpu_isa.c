/* What the CPU offers (instruction sets, cores, caches) and the choice of
 * kernel table. x86-64: CPUID plus XGETBV, so a level counts only when the
 * OS saves its registers too. aarch64: Advanced SIMD is architectural. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/debug_env.h"
#include "../core/errors.h"
#include "cpu_internal.h"

static const char* const isa_names[] = {"auto", "scalar", "sse2", "avx2", "avx512", "neon"};

const char* vkbn__cpu_isa_name(vkbn_cpu_isa isa) {
    return (unsigned)isa < sizeof isa_names / sizeof isa_names[0] ? isa_names[isa] : "unknown";
}

/* NULL for a level this build has no kernels for: another architecture's, or
 * an x86-64 level left out of VKBN_CPU_X86_LEVELS. */
const vkbn__cpu_kernels* vkbn__cpu_kernels_for(vkbn_cpu_isa isa) {
    switch (isa) {
        case VKBN_CPU_ISA_SCALAR: return &vkbn__cpu_kernels_scalar;
#if defined(VKBN_ARCH_X86_64) && defined(VKBN_CPU_KERNELS_SSE2)
        case VKBN_CPU_ISA_SSE2: return &vkbn__cpu_kernels_sse2;
#endif
#if defined(VKBN_ARCH_X86_64) && defined(VKBN_CPU_KERNELS_AVX2)
        case VKBN_CPU_ISA_AVX2: return &vkbn__cpu_kernels_avx2;
#endif
#if defined(VKBN_ARCH_X86_64) && defined(VKBN_CPU_KERNELS_AVX512)
        case VKBN_CPU_ISA_AVX512: return &vkbn__cpu_kernels_avx512;
#endif
#if defined(VKBN_ARCH_AARCH64)
        case VKBN_CPU_ISA_NEON: return &vkbn__cpu_kernels_neon;
#endif
        default: return NULL;
    }
}

#if defined(VKBN_ARCH_X86_64)
static void detect_x86(vkbn__cpu_caps* caps) {
    uint32_t r[4];
    caps->supported |= 1u << VKBN_CPU_ISA_SSE2; /* x86-64 baseline */
    if (vkbn__cpuid(0, 0, r)) {
        char v[13];
        memcpy(v, &r[1], 4);
        memcpy(v + 4, &r[3], 4);
        memcpy(v + 8, &r[2], 4);
        v[12] = 0;
        snprintf(caps->vendor, sizeof caps->vendor, "%s",
                 strcmp(v, "GenuineIntel") == 0   ? "Intel"
                 : strcmp(v, "AuthenticAMD") == 0 ? "AMD"
                                                  : v);
    }
    if (!vkbn__cpuid(1, 0, r)) return;
    uint32_t c = r[2];
    bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28), f16c = c & (1u << 29);
    uint64_t xcr0 = osxsave ? vkbn__xgetbv0() : 0;
    bool ymm_state = (xcr0 & 0x6) == 0x6, zmm_state = (xcr0 & 0xe6) == 0xe6;
    const bool leaf7 = vkbn__cpuid(7, 0, r);
    uint32_t b7 = leaf7 ? r[1] : 0, subleaves7 = leaf7 ? r[0] : 0; /* EAX: the highest subleaf */
    bool avx2 = b7 & (1u << 5), avx512f = b7 & (1u << 16), avx512bw = b7 & (1u << 30), avx512vl = b7 & (1u << 31);
    if (avx && avx2 && fma && f16c && ymm_state) caps->supported |= 1u << VKBN_CPU_ISA_AVX2;
    if ((caps->supported & (1u << VKBN_CPU_ISA_AVX2)) && avx512f && avx512bw && avx512vl && zmm_state) {
        caps->supported |= 1u << VKBN_CPU_ISA_AVX512;
        /* AVX512_BF16: leaf 7 subleaf 1, EAX bit 5; AVX512DQ: EBX bit 17. */
        bool avx512dq = b7 & (1u << 17);
        uint32_t a71 = subleaves7 >= 1 && vkbn__cpuid(7, 1, r) ? r[0] : 0;
        caps->avx512_bf16 = avx512dq && (a71 & (1u << 5));
    }
    if (vkbn__cpuid(0x80000004u, 0, r)) {
        uint32_t brand[12];
        for (unsigned i = 0; i < 3; ++i) vkbn__cpuid(0x80000002u + i, 0, brand + 4 * i);
        char s[49];
        memcpy(s, brand, 48);
        s[48] = 0;
        const char* p = s;
        while (*p == ' ') ++p;
        snprintf(caps->model, sizeof caps->model, "%s", p);
    }
}
#endif

void vkbn__cpu_detect(vkbn__cpu_caps* caps) {
    memset(caps, 0, sizeof *caps);
    caps->supported = 1u << VKBN_CPU_ISA_SCALAR;
#if defined(VKBN_ARCH_X86_64)
    detect_x86(caps);
#elif defined(VKBN_ARCH_AARCH64)
    caps->supported |= 1u << VKBN_CPU_ISA_NEON;
    snprintf(caps->vendor, sizeof caps->vendor, "Arm");
#endif
    if (!caps->model[0]) vkbn__cpu_model_name(caps->model, sizeof caps->model);
    if (!caps->model[0]) {
#if defined(VKBN_ARCH_AARCH64)
        snprintf(caps->model, sizeof caps->model, "aarch64");
#else
        snprintf(caps->model, sizeof caps->model, "unknown");
#endif
    }
    /* Only levels this build has kernels for count. */
    for (int isa = VKBN_CPU_ISA_NEON; isa >= VKBN_CPU_ISA_SCALAR; --isa) {
        if (!vkbn__cpu_kernels_for((vkbn_cpu_isa)isa)) caps->supported &= ~(1u << isa);
    }
    caps->best = VKBN_CPU_ISA_SCALAR;
    static const vkbn_cpu_isa order[] = {VKBN_CPU_ISA_AVX512, VKBN_CPU_ISA_AVX2, VKBN_CPU_ISA_NEON, VKBN_CPU_ISA_SSE2};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; ++i) {
        if (caps->supported & (1u << order[i])) {
            caps->best = order[i];
            break;
        }
    }
    caps->cores = vkbn__physical_cores();
    uint64_t llc = vkbn__last_level_cache_bytes();
    caps->llc_bytes = llc ? llc : 8u << 20;
    caps->memory_bytes = vkbn__physical_memory_bytes();
}

static bool same_name(const char* a, const char* b) {
    for (; *a && *b; ++a, ++b) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    }
    return *a == *b;
}

static vkbn_result check_level(const vkbn__cpu_caps* caps, vkbn_cpu_isa isa, const char* field) {
    if (caps->supported & (1u << isa)) return VKBN_SUCCESS;
    return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "%s: %s is not supported by this CPU or build (best: %s)", field,
                      vkbn__cpu_isa_name(isa), vkbn__cpu_isa_name(caps->best));
}

vkbn_result vkbn__cpu_resolve_isa(const vkbn__cpu_caps* caps, vkbn_cpu_isa requested, vkbn_cpu_isa* out) {
    if ((unsigned)requested > VKBN_CPU_ISA_NEON) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->cpu_isa: unknown level %d", (int)requested);
    }
    if (requested != VKBN_CPU_ISA_AUTO) {
        VKBN_CHECK(check_level(caps, requested, "desc->cpu_isa"));
        *out = requested;
        return VKBN_SUCCESS;
    }
    const char* env = vkbn__debug_cpu_isa();
    if (env) {
        for (int isa = VKBN_CPU_ISA_SCALAR; isa <= VKBN_CPU_ISA_NEON; ++isa) {
            if (same_name(env, isa_names[isa])) {
                VKBN_CHECK(check_level(caps, (vkbn_cpu_isa)isa, "VKBN_CPU_ISA"));
                *out = (vkbn_cpu_isa)isa;
                return VKBN_SUCCESS;
            }
        }
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                          "VKBN_CPU_ISA: unknown level \"%s\" (scalar, sse2, avx2, avx512, neon)", env);
    }
    *out = caps->best;
    return VKBN_SUCCESS;
}

void vkbn__cpu_describe(const vkbn__cpu_caps* caps, vkbn_cpu_isa isa, uint32_t threads, vkbn_device_info* info) {
    memset(info, 0, sizeof *info);
    const vkbn__cpu_kernels* k = vkbn__cpu_kernels_for(isa);
    info->backend = VKBN_BACKEND_CPU;
    info->type = VKBN_DEVICE_TYPE_NATIVE_CPU;
    snprintf(info->name, sizeof info->name, "CPU: %s (%s, %u thread%s)", caps->model, vkbn__cpu_isa_name(isa), threads,
             threads == 1 ? "" : "s");
    snprintf(info->vendor, sizeof info->vendor, "%s", caps->vendor[0] ? caps->vendor : "unknown");
    snprintf(info->driver_name, sizeof info->driver_name, "vkbn CPU path");
    snprintf(info->driver_info, sizeof info->driver_info, "%s kernels, %u core%s, last-level cache %llu KiB",
             vkbn__cpu_isa_name(isa), caps->cores, caps->cores == 1 ? "" : "s",
             (unsigned long long)(caps->llc_bytes >> 10));
    uint32_t lanes = k ? k->lanes : 1;
    info->subgroup_size = info->min_subgroup_size = info->max_subgroup_size = lanes; /* SIMD lanes */
    info->storage_16bit = 1;
    info->timestamps = 1; /* wall time */
    info->timestamp_period_ns = 1.0;
    info->device_local_memory = caps->memory_bytes;
    info->max_storage_buffer_range = UINT64_MAX;
    info->max_allocation_size = caps->memory_bytes;
    info->min_storage_buffer_offset_alignment = 4;
    info->cpu_threads = threads;
    snprintf(info->cpu_simd, sizeof info->cpu_simd, "%s", vkbn__cpu_isa_name(isa));
}
