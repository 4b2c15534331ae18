/* What the CPU offers (instruction sets, cores, caches) and the choice of
 * kernel table. x86-64: CPUID plus XGETBV, so a level counts only when the
 * OS saves its registers too. aarch64: Advanced SIMD is architectural. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "../core/debug_env.h"
#include "../core/errors.h"
#include "cpu_internal.h"

static const char* const isa_names[] = {"auto", "scalar", "sse2", "avx2", "avx512", "neon"};

const char* vkbn__cpu_isa_name(vkbn_cpu_isa isa) {
    return (unsigned)isa < sizeof isa_names / sizeof isa_names[0] ? isa_names[isa] : "unknown";
}

const vkbn__cpu_kernels* vkbn__cpu_kernels_for(vkbn_cpu_isa isa) {
    switch (isa) {
        case VKBN_CPU_ISA_SCALAR: return &vkbn__cpu_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
        case VKBN_CPU_ISA_SSE2: return &vkbn__cpu_kernels_sse2;
        case VKBN_CPU_ISA_AVX2: return &vkbn__cpu_kernels_avx2;
        case VKBN_CPU_ISA_AVX512: return &vkbn__cpu_kernels_avx512;
#endif
#if defined(__aarch64__)
        case VKBN_CPU_ISA_NEON: return &vkbn__cpu_kernels_neon;
#endif
        default: return NULL;
    }
}

#if defined(__x86_64__)
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void detect_x86(vkbn__cpu_caps* caps) {
    unsigned a, b, c, d;
    caps->supported |= 1u << VKBN_CPU_ISA_SSE2; /* x86-64 baseline */
    if (__get_cpuid(0, &a, &b, &c, &d)) {
        char v[13];
        memcpy(v, &b, 4);
        memcpy(v + 4, &d, 4);
        memcpy(v + 8, &c, 4);
        v[12] = 0;
        snprintf(caps->vendor, sizeof caps->vendor, "%s",
                 strcmp(v, "GenuineIntel") == 0   ? "Intel"
                 : strcmp(v, "AuthenticAMD") == 0 ? "AMD"
                                                  : v);
    }
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28), f16c = c & (1u << 29);
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    bool ymm_state = (xcr0 & 0x6) == 0x6, zmm_state = (xcr0 & 0xe6) == 0xe6;
    unsigned b7 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b7, c, d);
    }
    bool avx2 = b7 & (1u << 5), avx512f = b7 & (1u << 16), avx512bw = b7 & (1u << 30), avx512vl = b7 & (1u << 31);
    if (avx && avx2 && fma && f16c && ymm_state) caps->supported |= 1u << VKBN_CPU_ISA_AVX2;
    if ((caps->supported & (1u << VKBN_CPU_ISA_AVX2)) && avx512f && avx512bw && avx512vl && zmm_state) {
        caps->supported |= 1u << VKBN_CPU_ISA_AVX512;
    }
    unsigned max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext >= 0x80000004u) {
        uint32_t brand[12];
        for (unsigned i = 0; i < 3; ++i) {
            __cpuid(0x80000002u + i, brand[4 * i], brand[4 * i + 1], brand[4 * i + 2], brand[4 * i + 3]);
        }
        char s[49];
        memcpy(s, brand, 48);
        s[48] = 0;
        const char* p = s;
        while (*p == ' ') ++p;
        snprintf(caps->model, sizeof caps->model, "%s", p);
    }
}
#endif

/* Reads one number from a small text file (sysfs); -1 if it cannot. */
static long long read_number(const char* path, char* suffix) {
    FILE* f = fopen(path, "r");
    if (!f) return -1;
    long long v = -1;
    char unit = 0;
    int got = fscanf(f, "%lld%c", &v, &unit);
    fclose(f);
    if (got < 1) return -1;
    if (suffix) *suffix = got == 2 ? unit : 0;
    return v;
}

static uint32_t count_cores(void) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        /* Distinct (package, core) pairs among the CPUs we may run on. */
        long long seen[CPU_SETSIZE];
        uint32_t cores = 0, logical = 0;
        bool topology = true;
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
            if (!CPU_ISSET(cpu, &set)) continue;
            ++logical;
            char path[128];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
            long long core = read_number(path, NULL);
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
            long long pkg = read_number(path, NULL);
            if (core < 0 || pkg < 0) {
                topology = false;
                continue;
            }
            long long key = pkg * 1000000 + core;
            bool dup = false;
            for (uint32_t i = 0; i < cores && !dup; ++i) dup = seen[i] == key;
            if (!dup) seen[cores++] = key;
        }
        if (topology && cores > 0) return cores;
        if (logical > 0) return logical;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

static uint64_t last_level_cache(void) {
    uint64_t best = 0;
    long long best_level = 0;
    for (int i = 0; i < 10; ++i) {
        char path[128], unit = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        long long level = read_number(path, NULL);
        if (level < 0) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        long long size = read_number(path, &unit);
        if (size <= 0) continue;
        uint64_t bytes = (uint64_t)size * (unit == 'K' ? 1024u : unit == 'M' ? 1024u * 1024u : 1u);
        if (level > best_level || (level == best_level && bytes > best)) {
            best_level = level;
            best = bytes;
        }
    }
#if defined(_SC_LEVEL3_CACHE_SIZE)
    if (best == 0) {
        long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (l3 > 0) best = (uint64_t)l3;
    }
#endif
    return best ? best : 8u << 20;
}

static void read_model_name(vkbn__cpu_caps* caps) {
    FILE* f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char* p = strchr(line, ':');
        if (!p) continue;
        ++p;
        while (*p == ' ' || *p == '\t') ++p;
        snprintf(caps->model, sizeof caps->model, "%s", p);
        caps->model[strcspn(caps->model, "\n")] = 0;
        break;
    }
    fclose(f);
}

void vkbn__cpu_detect(vkbn__cpu_caps* caps) {
    memset(caps, 0, sizeof *caps);
    caps->supported = 1u << VKBN_CPU_ISA_SCALAR;
#if defined(__x86_64__)
    detect_x86(caps);
#elif defined(__aarch64__)
    caps->supported |= 1u << VKBN_CPU_ISA_NEON;
    snprintf(caps->vendor, sizeof caps->vendor, "Arm");
#endif
    if (!caps->model[0]) read_model_name(caps);
    if (!caps->model[0]) {
#if defined(__aarch64__)
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
    caps->cores = count_cores();
    caps->llc_bytes = last_level_cache();
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    caps->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
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
