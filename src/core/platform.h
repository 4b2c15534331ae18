/* The platform layer: everything vkbn needs from the OS and the compiler,
 * behind one internal header. platform.c has a POSIX (Linux, macOS, other
 * Unix) and a Win32 implementation; the library, its tests and its tool call
 * no OS- or compiler-specific function outside it. Compilers: GCC and Clang
 * (any OS, MinGW-w64 included) and MSVC (the _MSC_VER branches: read against
 * Microsoft's documentation, not built here; see README). */
#ifndef VKBN_PLATFORM_H_
#define VKBN_PLATFORM_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Architecture ------------------------------------------------------ */
#if defined(__x86_64__) || (defined(_M_X64) && !defined(_M_ARM64EC))
#define VKBN_ARCH_X86_64 1
#elif defined(__aarch64__) || defined(_M_ARM64) || defined(_M_ARM64EC)
#define VKBN_ARCH_AARCH64 1
#endif

/* ---- Compiler attributes and builtins ---------------------------------- */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define VKBN_MSVC 1
#define VKBN_ALWAYS_INLINE static __forceinline
#define VKBN_NOINLINE __declspec(noinline)
#define VKBN_THREAD_LOCAL __declspec(thread)
#define VKBN_PRINTF_FORMAT(fmt, args)
#if defined(VKBN_ARCH_X86_64)
#include <immintrin.h>
#define VKBN_PREFETCH(p) _mm_prefetch((const char*)(p), _MM_HINT_T0)
#define VKBN_PREFETCH_L2(p) _mm_prefetch((const char*)(p), _MM_HINT_T1)
#elif defined(VKBN_ARCH_AARCH64)
#define VKBN_PREFETCH(p) __prefetch((const void*)(p))
#define VKBN_PREFETCH_L2(p) __prefetch((const void*)(p))
#else
#define VKBN_PREFETCH(p) ((void)(p))
#define VKBN_PREFETCH_L2(p) ((void)(p))
#endif
#else
#define VKBN_ALWAYS_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define VKBN_NOINLINE __attribute__((noinline))
#else
#define VKBN_NOINLINE __attribute__((noinline, noclone))
#endif
/* C11's keyword: GCC ignores __declspec(thread) on MinGW, and uses emulated
 * TLS there instead. */
#define VKBN_THREAD_LOCAL _Thread_local
#if defined(__MINGW32__)
#define VKBN_PRINTF_FORMAT(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#else
#define VKBN_PRINTF_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
#endif
#define VKBN_PREFETCH(p) __builtin_prefetch(p)
#define VKBN_PREFETCH_L2(p) __builtin_prefetch((p), 0, 2)
#endif

/* A pause inside a spin-wait loop. */
#if defined(VKBN_ARCH_X86_64)
#include <immintrin.h>
#define vkbn__cpu_relax() _mm_pause()
#elif defined(VKBN_ARCH_AARCH64) && defined(VKBN_MSVC)
#define vkbn__cpu_relax() __yield()
#elif defined(VKBN_ARCH_AARCH64)
#define vkbn__cpu_relax() __asm__ volatile("yield")
#else
#define vkbn__cpu_relax() ((void)0)
#endif

/* ---- Mutex, condition variable, threads -------------------------------- */
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
typedef SRWLOCK vkbn__mutex;
typedef CONDITION_VARIABLE vkbn__cond;
typedef HANDLE vkbn__thread;
#define VKBN_MUTEX_INITIALIZER SRWLOCK_INIT
static inline void vkbn__mutex_init(vkbn__mutex* m) { InitializeSRWLock(m); }
static inline void vkbn__mutex_destroy(vkbn__mutex* m) { (void)m; }
static inline void vkbn__mutex_lock(vkbn__mutex* m) { AcquireSRWLockExclusive(m); }
static inline void vkbn__mutex_unlock(vkbn__mutex* m) { ReleaseSRWLockExclusive(m); }
static inline void vkbn__cond_init(vkbn__cond* c) { InitializeConditionVariable(c); }
static inline void vkbn__cond_destroy(vkbn__cond* c) { (void)c; }
static inline void vkbn__cond_wait(vkbn__cond* c, vkbn__mutex* m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static inline void vkbn__cond_signal(vkbn__cond* c) { WakeConditionVariable(c); }
static inline void vkbn__cond_broadcast(vkbn__cond* c) { WakeAllConditionVariable(c); }
#else
#include <pthread.h>
typedef pthread_mutex_t vkbn__mutex;
typedef pthread_cond_t vkbn__cond;
typedef pthread_t vkbn__thread;
#define VKBN_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
static inline void vkbn__mutex_init(vkbn__mutex* m) { pthread_mutex_init(m, NULL); }
static inline void vkbn__mutex_destroy(vkbn__mutex* m) { pthread_mutex_destroy(m); }
static inline void vkbn__mutex_lock(vkbn__mutex* m) { pthread_mutex_lock(m); }
static inline void vkbn__mutex_unlock(vkbn__mutex* m) { pthread_mutex_unlock(m); }
static inline void vkbn__cond_init(vkbn__cond* c) { pthread_cond_init(c, NULL); }
static inline void vkbn__cond_destroy(vkbn__cond* c) { pthread_cond_destroy(c); }
static inline void vkbn__cond_wait(vkbn__cond* c, vkbn__mutex* m) { pthread_cond_wait(c, m); }
static inline void vkbn__cond_signal(vkbn__cond* c) { pthread_cond_signal(c); }
static inline void vkbn__cond_broadcast(vkbn__cond* c) { pthread_cond_broadcast(c); }
#endif

typedef void (*vkbn__thread_fn)(void* arg);
/* Starts fn(arg) on a new thread; false if the OS refused. */
bool vkbn__thread_create(vkbn__thread* thread, vkbn__thread_fn fn, void* arg);
void vkbn__thread_join(vkbn__thread thread);

/* ---- Atomics ----------------------------------------------------------- */
#if defined(VKBN_MSVC)
/* x64 loads and stores of aligned words are acquire and release in hardware;
 * the compiler barrier keeps MSVC from moving accesses across them. ARM64
 * uses the load-acquire and store-release instructions. */
static inline uint32_t vkbn__atomic_load_acquire32(const volatile uint32_t* p) {
#if defined(VKBN_ARCH_AARCH64)
    return (uint32_t)__ldar32((volatile unsigned __int32*)p);
#else
    uint32_t v = *p;
    _ReadWriteBarrier();
    return v;
#endif
}
static inline void vkbn__atomic_store_release32(volatile uint32_t* p, uint32_t v) {
#if defined(VKBN_ARCH_AARCH64)
    __stlr32((volatile unsigned __int32*)p, v);
#else
    _ReadWriteBarrier();
    *p = v;
#endif
}
static inline uint32_t vkbn__atomic_add32(volatile uint32_t* p, uint32_t v) {
    return (uint32_t)_InterlockedExchangeAdd((volatile long*)p, (long)v) + v;
}
static inline uint32_t vkbn__atomic_sub32(volatile uint32_t* p, uint32_t v) {
    return (uint32_t)_InterlockedExchangeAdd((volatile long*)p, -(long)v) - v;
}
/* A full fence that also orders non-temporal stores (MFENCE on x64). */
static inline void vkbn__atomic_fence(void) {
#if defined(VKBN_ARCH_X86_64)
    _mm_mfence();
#else
    __dmb(_ARM64_BARRIER_ISH);
#endif
}
static inline uint64_t vkbn__atomic_inc64(volatile uint64_t* p) {
    return (uint64_t)_InterlockedIncrement64((volatile long long*)p);
}
static inline uint64_t vkbn__atomic_load64(volatile uint64_t* p) {
    return (uint64_t)_InterlockedOr64((volatile long long*)p, 0);
}
static inline void vkbn__atomic_and32(volatile uint32_t* p, uint32_t v) { _InterlockedAnd((volatile long*)p, (long)v); }
static inline void vkbn__atomic_or32(volatile uint32_t* p, uint32_t v) { _InterlockedOr((volatile long*)p, (long)v); }
#else
static inline uint32_t vkbn__atomic_load_acquire32(const volatile uint32_t* p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void vkbn__atomic_store_release32(volatile uint32_t* p, uint32_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint32_t vkbn__atomic_add32(volatile uint32_t* p, uint32_t v) {
    return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL);
}
static inline uint32_t vkbn__atomic_sub32(volatile uint32_t* p, uint32_t v) {
    return __atomic_sub_fetch(p, v, __ATOMIC_ACQ_REL);
}
static inline void vkbn__atomic_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline uint64_t vkbn__atomic_inc64(volatile uint64_t* p) { return __atomic_add_fetch(p, 1, __ATOMIC_RELAXED); }
static inline uint64_t vkbn__atomic_load64(volatile uint64_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
/* Relaxed bitwise updates (the activation mask's shared words: each writer
 * touches only its own bits, and the pool's join orders them before reads). */
static inline void vkbn__atomic_and32(volatile uint32_t* p, uint32_t v) { __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }
static inline void vkbn__atomic_or32(volatile uint32_t* p, uint32_t v) { __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
#endif

/* ---- Memory ------------------------------------------------------------ */
/* alignment: a power of two, at least sizeof(void*). NULL when out of memory. */
void* vkbn__aligned_alloc(size_t size, size_t alignment);
void vkbn__aligned_free(void* p);
/* Asks the OS to back [p, p + size) with large pages where it can (Linux:
 * transparent huge pages, madvise(MADV_HUGEPAGE)); elsewhere, or if the
 * OS declines, nothing happens. p: page-aligned. */
void vkbn__advise_large_pages(void* p, size_t size);

/* ---- The machine ------------------------------------------------------- */
/* Physical cores this process may run on (at least 1). */
uint32_t vkbn__physical_cores(void);
/* The largest last-level data/unified cache, in bytes; 0 when unknown. */
uint64_t vkbn__last_level_cache_bytes(void);
/* Installed physical memory in bytes; 0 when unknown. */
uint64_t vkbn__physical_memory_bytes(void);
/* The OS's name for the CPU model ("" when it has none). */
void vkbn__cpu_model_name(char* out, size_t size);
#if defined(VKBN_ARCH_X86_64)
/* CPUID leaf/subleaf into regs = {eax, ebx, ecx, edx}; false when the leaf is
 * above the highest of its range (basic or extended). */
bool vkbn__cpuid(uint32_t leaf, uint32_t subleaf, uint32_t regs[4]);
/* XCR0 (which register states the OS saves); call only when CPUID.1:ECX.OSXSAVE. */
uint64_t vkbn__xgetbv0(void);
#endif

/* ---- Process ----------------------------------------------------------- */
/* Sets (value != NULL) or removes (value == NULL) an environment variable of
 * this process, as getenv() sees it. 0 on success. */
int vkbn__setenv(const char* name, const char* value);
long vkbn__process_id(void);

/* ---- Files (the tool and the tests) ------------------------------------ */
/* 0: does not exist (errno set), 1: a file or other non-directory, 2: a directory. */
int vkbn__path_kind(const char* path);
/* Whether the process may create files in directory path. */
bool vkbn__dir_writable(const char* path);
/* 0 on success; otherwise -1 with errno (EEXIST when it exists). */
int vkbn__mkdir(const char* path);
int vkbn__rmdir(const char* path);
/* Renames from over to (replacing to if it exists). 0 on success. */
int vkbn__replace_file(const char* from, const char* to);

/* ---- Time -------------------------------------------------------------- */
/* Seconds from an arbitrary origin, monotonic. */
double vkbn__now_seconds(void);

#endif
