/* Test-only hooks: overrides that vkbn's own test programs set to reach code
 * paths that are otherwise hard to reach (streaming stores with small
 * tensors; a GPU's place in the default-device ranking on a machine whose
 * only Vulkan device is lavapipe; a forced merge dispatch; small device
 * limits). NOT part of vkbn's API:
 * this header is not installed, the hooks are process-wide and unsynchronized,
 * and they may change in any release. Applications use the documented
 * context flags and debugging switches (debug_env.h) instead.
 *
 * Tests include it by path (tests/test_util.h: "../src/core/test_hooks.h")
 * and set the hooks from their own VKBN_TEST_* variables. vkbn_test_set_hooks
 * is exported from the shared library (VKBN_SHARED) under its test-only name,
 * so that the same tests run against either build; the library itself reads
 * the hooks through vkbn__test_hooks() (hidden in a shared build). */
#ifndef VKBN_TEST_HOOKS_H_
#define VKBN_TEST_HOOKS_H_

#include <stdint.h>

#include "vkbn/vkbn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A field holding this value overrides nothing. */
#define VKBN_TEST_HOOK_UNSET UINT64_MAX

/* Any function pointer (a field holding NULL overrides nothing). */
typedef void (*vkbn_test_proc)(void);

typedef struct vkbn_test_hooks {
    /* CPU path: an operation whose tensors exceed this many bytes writes with
     * non-temporal stores (0: every operation), instead of the last-level
     * cache size. Read when a context is created. */
    uint64_t cpu_stream_bytes;
    /* CPU path: channels-last backward in training with dx runs its channels
     * in blocks of this many (rounded up to the vector width; 0: one vector)
     * whenever that is fewer than C, instead of only past the last-level
     * cache (cpu_plan_grads.c). Read when a context is created. */
    uint64_t cpu_channel_block;
    /* CPU path: any value keeps the integer bf16 rounding in the avx512
     * kernels on a CPU with AVX-512 BF16 (cpu_simd_avx512.h). Read when a
     * context is created. */
    uint64_t cpu_bf16_integer;
    /* Vulkan: nonzero merges every sliced reduction in a dispatch of its own,
     * as on a device without the Vulkan memory model (vk_reduce.c). */
    uint64_t vk_merge_dispatch;
    /* Vulkan: device limits taken as at most these (workgroup sizes and
     * shared memory are chosen from them, vk_tuning.c). */
    uint64_t vk_max_workgroup_invocations;
    uint64_t vk_max_shared_memory;
    /* Vulkan: every Vulkan device vkbn describes reports this
     * vkbn_device_type (and ranks for the default device as one), e.g.
     * VKBN_DEVICE_TYPE_DISCRETE_GPU for lavapipe. Only the reported type and
     * the ranking change: kernels, tuning and limits follow the real device,
     * except that a faked GPU type picks the memory such a GPU would (staging
     * on a discrete one). Read whenever devices are described (listing,
     * context creation). */
    uint64_t vulkan_device_type;
    /* Vulkan: the tuning's target workgroups, taken as a true wave (as when
     * a GPU tells its compute units), so that reductions fill whole waves
     * (vk_geometry.c) on a device that tells nothing, such as lavapipe. */
    uint64_t vk_wave;
    /* Host memory: the library's n-th host allocation after these hooks were
     * set (1 is the first) fails as if the system were out of memory. The
     * allocations are counted whether or not this is set
     * (vkbn_test_host_allocations), so a test learns how many a call makes
     * and then fails each in turn. */
    uint64_t host_alloc_fail_at;
    /* Vulkan: the vkGetInstanceProcAddr vkbn loads everything through in
     * place of the system loader's (NULL: the loader's), cast to this type.
     * A test's shim (tests/vk_fault_shim.h) forwards to the loader and fails
     * chosen calls, counting the objects alive. Every context, device
     * listing and vkbn_vulkan_get_requirements without a caller's
     * vkGetInstanceProcAddr goes through it; a borrowed device keeps the
     * caller's. */
    vkbn_test_proc vk_get_instance_proc_addr;
    /* Vulkan: nonzero stores bf16 tensors in 32-bit words even on a device
     * with 16-bit storage (scalar items: atomic half-word stores), the path
     * of devices without storageBuffer16BitAccess (shaders/storage.glsl).
     * Read when plans are built. */
    uint64_t vk_bf16_words;
} vkbn_test_hooks;

/* Every field VKBN_TEST_HOOK_UNSET: what the library runs with until a test
 * sets hooks. */
static inline vkbn_test_hooks vkbn_test_hooks_none(void) {
    vkbn_test_hooks h;
    h.cpu_stream_bytes = VKBN_TEST_HOOK_UNSET;
    h.cpu_channel_block = VKBN_TEST_HOOK_UNSET;
    h.cpu_bf16_integer = VKBN_TEST_HOOK_UNSET;
    h.vk_merge_dispatch = VKBN_TEST_HOOK_UNSET;
    h.vk_max_workgroup_invocations = VKBN_TEST_HOOK_UNSET;
    h.vk_max_shared_memory = VKBN_TEST_HOOK_UNSET;
    h.vulkan_device_type = VKBN_TEST_HOOK_UNSET;
    h.vk_wave = VKBN_TEST_HOOK_UNSET;
    h.host_alloc_fail_at = VKBN_TEST_HOOK_UNSET;
    h.vk_get_instance_proc_addr = 0;
    h.vk_bf16_words = VKBN_TEST_HOOK_UNSET;
    return h;
}

/* Replaces the process-wide hooks (NULL: back to none) and restarts the
 * count of host allocations. Contexts created afterwards see them; call it
 * before creating contexts, never while another thread creates one. */
VKBN_API void vkbn_test_set_hooks(const vkbn_test_hooks* hooks);

/* Host allocations the library made since the hooks were last set. */
VKBN_API uint64_t vkbn_test_host_allocations(void);

/* Library side: the current hooks. */
const vkbn_test_hooks* vkbn__test_hooks(void);
/* Library side: counts one host allocation; true when it must fail. */
int vkbn__host_alloc_fails(void);

#ifdef __cplusplus
}
#endif

#endif
