/* The platform layer's implementations (platform.h): Win32, then POSIX with
 * Linux (sysfs, sched_getaffinity) and Darwin (sysctlbyname) specifics. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include "platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(VKBN_ARCH_X86_64) && !defined(VKBN_MSVC)
#include <cpuid.h>
#endif

typedef struct thread_start {
    vkbn__thread_fn fn;
    void* arg;
} thread_start;

/* ======================================================================== */
#if defined(_WIN32)
#include <direct.h>
#include <io.h>
#include <malloc.h>
#include <process.h>
#include <sys/stat.h>

static unsigned __stdcall thread_main(void* p) {
    thread_start s = *(thread_start*)p;
    free(p);
    s.fn(s.arg);
    return 0;
}

bool vkbn__thread_create(vkbn__thread* thread, vkbn__thread_fn fn, void* arg) {
    thread_start* s = malloc(sizeof *s);
    if (!s) return false;
    s->fn = fn;
    s->arg = arg;
    /* _beginthreadex, not CreateThread: the C runtime sets up its per-thread state. */
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, s, 0, NULL);
    if (h == 0) {
        free(s);
        return false;
    }
    *thread = (HANDLE)h;
    return true;
}

void vkbn__thread_join(vkbn__thread thread) {
    WaitForSingleObject(thread, INFINITE);
    CloseHandle(thread);
}

void* vkbn__aligned_alloc(size_t size, size_t alignment) { return _aligned_malloc(size ? size : 1, alignment); }
void vkbn__aligned_free(void* p) { _aligned_free(p); }
/* Windows' large pages need the SeLockMemoryPrivilege and VirtualAlloc: not
 * for a library's buffers. */
void vkbn__advise_large_pages(void* p, size_t size) {
    (void)p;
    (void)size;
}

/* The processor records (cores, caches) of GetLogicalProcessorInformation. */
static SYSTEM_LOGICAL_PROCESSOR_INFORMATION* processor_info(DWORD* count) {
    DWORD bytes = 0;
    GetLogicalProcessorInformation(NULL, &bytes);
    if (bytes == 0) return NULL;
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION* info = malloc(bytes);
    if (info && !GetLogicalProcessorInformation(info, &bytes)) {
        free(info);
        return NULL;
    }
    *count = bytes / sizeof *info;
    return info;
}

uint32_t vkbn__physical_cores(void) {
    DWORD count = 0;
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION* info = processor_info(&count);
    uint32_t cores = 0;
    for (DWORD i = 0; info && i < count; ++i) cores += info[i].Relationship == RelationProcessorCore;
    free(info);
    if (cores > 0) return cores;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwNumberOfProcessors > 0 ? (uint32_t)si.dwNumberOfProcessors : 1;
}

uint64_t vkbn__last_level_cache_bytes(void) {
    DWORD count = 0;
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION* info = processor_info(&count);
    uint64_t best = 0;
    unsigned best_level = 0;
    for (DWORD i = 0; info && i < count; ++i) {
        if (info[i].Relationship != RelationCache || info[i].Cache.Type == CacheInstruction) continue;
        unsigned level = info[i].Cache.Level;
        uint64_t size = info[i].Cache.Size;
        if (level > best_level || (level == best_level && size > best)) {
            best_level = level;
            best = size;
        }
    }
    free(info);
    return best;
}

uint64_t vkbn__physical_memory_bytes(void) {
    MEMORYSTATUSEX m;
    m.dwLength = sizeof m;
    return GlobalMemoryStatusEx(&m) ? (uint64_t)m.ullTotalPhys : 0;
}

void vkbn__cpu_model_name(char* out, size_t size) {
    if (size) out[0] = 0; /* x86-64 reads the brand string with CPUID */
}

int vkbn__setenv(const char* name, const char* value) {
    /* An empty value removes the variable (_putenv_s). */
    return _putenv_s(name, value ? value : "") == 0 ? 0 : -1;
}

long vkbn__process_id(void) { return (long)_getpid(); }

int vkbn__path_kind(const char* path) {
    struct _stat64 st;
    if (_stat64(path, &st) != 0) return 0;
    return (st.st_mode & _S_IFDIR) ? 2 : 1;
}

bool vkbn__dir_writable(const char* path) {
    DWORD attr = GetFileAttributesA(path);
    return attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY) && !(attr & FILE_ATTRIBUTE_READONLY);
}

int vkbn__mkdir(const char* path) { return _mkdir(path); }
int vkbn__rmdir(const char* path) { return _rmdir(path); }

int vkbn__replace_file(const char* from, const char* to) {
    if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING)) return 0;
    errno = EACCES;
    return -1;
}

double vkbn__now_seconds(void) {
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)f.QuadPart;
}

/* ======================================================================== */
#else
#include <sys/stat.h>
#include <sys/types.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif

static void* thread_main(void* p) {
    thread_start s = *(thread_start*)p;
    free(p);
    s.fn(s.arg);
    return NULL;
}

bool vkbn__thread_create(vkbn__thread* thread, vkbn__thread_fn fn, void* arg) {
    thread_start* s = malloc(sizeof *s);
    if (!s) return false;
    s->fn = fn;
    s->arg = arg;
    if (pthread_create(thread, NULL, thread_main, s) != 0) {
        free(s);
        return false;
    }
    return true;
}

void vkbn__thread_join(vkbn__thread thread) { pthread_join(thread, NULL); }

void* vkbn__aligned_alloc(size_t size, size_t alignment) {
    void* p = NULL;
    return posix_memalign(&p, alignment, size ? size : 1) == 0 ? p : NULL;
}
void vkbn__aligned_free(void* p) { free(p); }

void vkbn__advise_large_pages(void* p, size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, size, MADV_HUGEPAGE); /* advice: EINVAL where THP is off changes nothing */
#else
    (void)p;
    (void)size;
#endif
}

#if defined(__APPLE__)
static uint64_t sysctl_u64(const char* name) {
    uint64_t v64 = 0;
    size_t len = sizeof v64;
    if (sysctlbyname(name, &v64, &len, NULL, 0) != 0) return 0;
    if (len == sizeof(uint32_t)) {
        uint32_t v32;
        memcpy(&v32, &v64, sizeof v32);
        return v32;
    }
    return len == sizeof v64 ? v64 : 0;
}
#endif

#if defined(__linux__)
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
#endif

uint32_t vkbn__physical_cores(void) {
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
#elif defined(__APPLE__)
    uint64_t n = sysctl_u64("hw.physicalcpu");
    if (n > 0) return (uint32_t)n;
#endif
#if defined(_SC_NPROCESSORS_ONLN)
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online > 0) return (uint32_t)online;
#endif
    return 1;
}

uint64_t vkbn__last_level_cache_bytes(void) {
    uint64_t best = 0;
#if defined(__linux__)
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
#elif defined(__APPLE__)
    best = sysctl_u64("hw.l3cachesize");
    if (best == 0) best = sysctl_u64("hw.l2cachesize");
#endif
#if defined(_SC_LEVEL3_CACHE_SIZE)
    if (best == 0) {
        long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
        if (l3 > 0) best = (uint64_t)l3;
    }
#endif
    return best;
}

uint64_t vkbn__physical_memory_bytes(void) {
#if defined(__APPLE__)
    return sysctl_u64("hw.memsize");
#elif defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
#else
    return 0;
#endif
}

void vkbn__cpu_model_name(char* out, size_t size) {
    if (!size) return;
    out[0] = 0;
#if defined(__APPLE__)
    size_t len = size;
    if (sysctlbyname("machdep.cpu.brand_string", out, &len, NULL, 0) != 0) out[0] = 0;
    out[size - 1] = 0;
#else
    FILE* f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char* p = strchr(line, ':');
        if (!p) continue;
        ++p;
        while (*p == ' ' || *p == '\t') ++p;
        snprintf(out, size, "%s", p);
        out[strcspn(out, "\n")] = 0;
        break;
    }
    fclose(f);
#endif
}

int vkbn__setenv(const char* name, const char* value) { return value ? setenv(name, value, 1) : unsetenv(name); }

long vkbn__process_id(void) { return (long)getpid(); }

int vkbn__path_kind(const char* path) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    return S_ISDIR(st.st_mode) ? 2 : 1;
}

bool vkbn__dir_writable(const char* path) { return access(path, W_OK | X_OK) == 0; }

int vkbn__mkdir(const char* path) { return mkdir(path, 0777); }
int vkbn__rmdir(const char* path) { return rmdir(path); }
int vkbn__replace_file(const char* from, const char* to) { return rename(from, to); }

double vkbn__now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#endif

/* ======================================================================== */
#if defined(VKBN_ARCH_X86_64)
#if defined(VKBN_MSVC)
bool vkbn__cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
    int r[4];
    __cpuid(r, (int)(leaf & 0x80000000u));
    if ((uint32_t)r[0] < leaf) return false;
    __cpuidex(r, (int)leaf, (int)subleaf);
    for (int i = 0; i < 4; ++i) regs[i] = (uint32_t)r[i];
    return true;
}
uint64_t vkbn__xgetbv0(void) { return _xgetbv(0); }
#else
bool vkbn__cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]) {
    if (__get_cpuid_max(leaf & 0x80000000u, NULL) < leaf) return false;
    __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
    return true;
}
uint64_t vkbn__xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif
#endif
