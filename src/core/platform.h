/* Thin portability layer: mutexes, thread-local storage, a monotonic clock. */
#ifndef VKBN_PLATFORM_H_
#define VKBN_PLATFORM_H_

#include <stdint.h>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
typedef SRWLOCK vkbn__mutex;
#define VKBN_THREAD_LOCAL __declspec(thread)
static inline void vkbn__mutex_init(vkbn__mutex* m) { InitializeSRWLock(m); }
static inline void vkbn__mutex_destroy(vkbn__mutex* m) { (void)m; }
static inline void vkbn__mutex_lock(vkbn__mutex* m) { AcquireSRWLockExclusive(m); }
static inline void vkbn__mutex_unlock(vkbn__mutex* m) { ReleaseSRWLockExclusive(m); }
#define VKBN_MUTEX_INITIALIZER SRWLOCK_INIT
#else
#include <pthread.h>
typedef pthread_mutex_t vkbn__mutex;
#define VKBN_THREAD_LOCAL _Thread_local
static inline void vkbn__mutex_init(vkbn__mutex* m) { pthread_mutex_init(m, NULL); }
static inline void vkbn__mutex_destroy(vkbn__mutex* m) { pthread_mutex_destroy(m); }
static inline void vkbn__mutex_lock(vkbn__mutex* m) { pthread_mutex_lock(m); }
static inline void vkbn__mutex_unlock(vkbn__mutex* m) { pthread_mutex_unlock(m); }
#define VKBN_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#endif

#if defined(_MSC_VER)
#include <intrin.h>
static inline uint64_t vkbn__atomic_inc64(volatile uint64_t* p) {
    return (uint64_t)_InterlockedIncrement64((volatile long long*)p);
}
static inline uint64_t vkbn__atomic_load64(volatile uint64_t* p) {
    return (uint64_t)_InterlockedOr64((volatile long long*)p, 0);
}
#else
static inline uint64_t vkbn__atomic_inc64(volatile uint64_t* p) { return __atomic_add_fetch(p, 1, __ATOMIC_RELAXED); }
static inline uint64_t vkbn__atomic_load64(volatile uint64_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
#endif

/* Seconds from an arbitrary origin, monotonic. */
double vkbn__now_seconds(void);

#endif
