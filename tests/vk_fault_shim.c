/* The fault-injecting stand-in for the Vulkan loader (vk_fault_shim.h).
 *
 * Each wrapped function keeps the driver's pointer it was last looked up as
 * (through the loader's vkGetInstanceProcAddr or the device's
 * vkGetDeviceProcAddr). Every device in these tests comes from one driver,
 * whose entry points dispatch on the handle, so one pointer per name serves
 * all of them. */
#include "vk_fault_shim.h"

#include <stdatomic.h>
#include <string.h>

enum fault_kind { FAULT_HOST, FAULT_DEVICE };

static _Atomic uint64_t g_calls, g_fail_at, g_submitted;
static _Atomic uint64_t g_submits, g_lose_at;
static _Atomic int g_lost;
static _Atomic int64_t g_live;
static const char* _Atomic g_failed_call;

void vk_fault_shim_fail_at(uint64_t k) {
    atomic_store(&g_fail_at, k);
    atomic_store(&g_calls, 0);
    atomic_store(&g_submitted, 0);
    atomic_store(&g_failed_call, NULL);
}

void vk_fault_shim_lose_device_at(uint64_t k) {
    atomic_store(&g_lose_at, k);
    atomic_store(&g_submits, 0);
    atomic_store(&g_lost, 0);
}

uint64_t vk_fault_shim_calls(void) { return atomic_load(&g_calls); }
uint64_t vk_fault_shim_submitted(void) { return atomic_load(&g_submitted); }
uint64_t vk_fault_shim_submits_and_waits(void) { return atomic_load(&g_submits); }
int64_t vk_fault_shim_live_objects(void) { return atomic_load(&g_live); }
const char* vk_fault_shim_failed_call(void) { return atomic_load(&g_failed_call); }

/* Nonzero (the VkResult to return) when this call is the one to fail. */
static VkResult injected(const char* name, enum fault_kind kind) {
    uint64_t n = atomic_fetch_add(&g_calls, 1) + 1;
    if (n != atomic_load(&g_fail_at)) return VK_SUCCESS;
    atomic_store(&g_failed_call, name);
    return kind == FAULT_DEVICE ? VK_ERROR_OUT_OF_DEVICE_MEMORY : VK_ERROR_OUT_OF_HOST_MEMORY;
}

/* Submissions and waits: VK_ERROR_DEVICE_LOST from the chosen one on. */
static int device_lost(int counts) {
    if (counts) {
        uint64_t n = atomic_fetch_add(&g_submits, 1) + 1;
        if (n == atomic_load(&g_lose_at)) atomic_store(&g_lost, 1);
    }
    return atomic_load(&g_lost);
}

static void created(VkResult r, uint32_t count) {
    if (r == VK_SUCCESS) atomic_fetch_add(&g_live, (int64_t)count);
}

#define DESTROYED(handle)                                             \
    do {                                                              \
        if ((handle) != VK_NULL_HANDLE) atomic_fetch_sub(&g_live, 1); \
    } while (0)

/* ---- the wrapped functions ------------------------------------------------
 * FALLIBLE(name, kind): fail here if this is the chosen call. */
#define REAL(name) static PFN_##name real_##name
#define FALLIBLE(name, kind)                     \
    do {                                         \
        VkResult fault_ = injected(#name, kind); \
        if (fault_ != VK_SUCCESS) return fault_; \
    } while (0)

REAL(vkCreateInstance);
REAL(vkDestroyInstance);
REAL(vkEnumerateInstanceVersion);
REAL(vkEnumerateInstanceLayerProperties);
REAL(vkEnumerateInstanceExtensionProperties);
REAL(vkEnumeratePhysicalDevices);
REAL(vkEnumerateDeviceExtensionProperties);
REAL(vkCreateDevice);
REAL(vkDestroyDevice);
REAL(vkCreateDebugUtilsMessengerEXT);
REAL(vkDestroyDebugUtilsMessengerEXT);
REAL(vkGetDeviceProcAddr);
REAL(vkAllocateMemory);
REAL(vkFreeMemory);
REAL(vkMapMemory);
REAL(vkBindBufferMemory);
REAL(vkFlushMappedMemoryRanges);
REAL(vkInvalidateMappedMemoryRanges);
REAL(vkCreateBuffer);
REAL(vkDestroyBuffer);
REAL(vkCreateShaderModule);
REAL(vkDestroyShaderModule);
REAL(vkCreatePipelineCache);
REAL(vkDestroyPipelineCache);
REAL(vkGetPipelineCacheData);
REAL(vkCreateComputePipelines);
REAL(vkDestroyPipeline);
REAL(vkCreatePipelineLayout);
REAL(vkDestroyPipelineLayout);
REAL(vkCreateDescriptorSetLayout);
REAL(vkDestroyDescriptorSetLayout);
REAL(vkCreateDescriptorPool);
REAL(vkDestroyDescriptorPool);
REAL(vkAllocateDescriptorSets);
REAL(vkCreateCommandPool);
REAL(vkDestroyCommandPool);
REAL(vkResetCommandPool);
REAL(vkAllocateCommandBuffers);
REAL(vkBeginCommandBuffer);
REAL(vkEndCommandBuffer);
REAL(vkCreateFence);
REAL(vkDestroyFence);
REAL(vkResetFences);
REAL(vkWaitForFences);
REAL(vkCreateQueryPool);
REAL(vkDestroyQueryPool);
REAL(vkGetQueryPoolResults);
REAL(vkQueueSubmit);
REAL(vkQueueWaitIdle);
REAL(vkDeviceWaitIdle);

static VKAPI_ATTR VkResult VKAPI_CALL w_vkCreateInstance(const VkInstanceCreateInfo* ci, const VkAllocationCallbacks* a,
                                                         VkInstance* out) {
    FALLIBLE(vkCreateInstance, FAULT_HOST);
    VkResult r = real_vkCreateInstance(ci, a, out);
    created(r, 1);
    return r;
}
static VKAPI_ATTR void VKAPI_CALL w_vkDestroyInstance(VkInstance h, const VkAllocationCallbacks* a) {
    DESTROYED(h);
    real_vkDestroyInstance(h, a);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkEnumerateInstanceVersion(uint32_t* v) {
    FALLIBLE(vkEnumerateInstanceVersion, FAULT_HOST);
    return real_vkEnumerateInstanceVersion(v);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkEnumerateInstanceLayerProperties(uint32_t* n, VkLayerProperties* p) {
    FALLIBLE(vkEnumerateInstanceLayerProperties, FAULT_HOST);
    return real_vkEnumerateInstanceLayerProperties(n, p);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkEnumerateInstanceExtensionProperties(const char* layer, uint32_t* n,
                                                                               VkExtensionProperties* p) {
    FALLIBLE(vkEnumerateInstanceExtensionProperties, FAULT_HOST);
    return real_vkEnumerateInstanceExtensionProperties(layer, n, p);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkEnumeratePhysicalDevices(VkInstance i, uint32_t* n, VkPhysicalDevice* p) {
    FALLIBLE(vkEnumeratePhysicalDevices, FAULT_HOST);
    return real_vkEnumeratePhysicalDevices(i, n, p);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkEnumerateDeviceExtensionProperties(VkPhysicalDevice pd, const char* layer,
                                                                             uint32_t* n, VkExtensionProperties* p) {
    FALLIBLE(vkEnumerateDeviceExtensionProperties, FAULT_HOST);
    return real_vkEnumerateDeviceExtensionProperties(pd, layer, n, p);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkCreateDevice(VkPhysicalDevice pd, const VkDeviceCreateInfo* ci,
                                                       const VkAllocationCallbacks* a, VkDevice* out) {
    FALLIBLE(vkCreateDevice, FAULT_HOST);
    VkResult r = real_vkCreateDevice(pd, ci, a, out);
    created(r, 1);
    return r;
}
static VKAPI_ATTR void VKAPI_CALL w_vkDestroyDevice(VkDevice h, const VkAllocationCallbacks* a) {
    DESTROYED(h);
    real_vkDestroyDevice(h, a);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkCreateDebugUtilsMessengerEXT(VkInstance i,
                                                                       const VkDebugUtilsMessengerCreateInfoEXT* ci,
                                                                       const VkAllocationCallbacks* a,
                                                                       VkDebugUtilsMessengerEXT* out) {
    FALLIBLE(vkCreateDebugUtilsMessengerEXT, FAULT_HOST);
    VkResult r = real_vkCreateDebugUtilsMessengerEXT(i, ci, a, out);
    created(r, 1);
    return r;
}
static VKAPI_ATTR void VKAPI_CALL w_vkDestroyDebugUtilsMessengerEXT(VkInstance i, VkDebugUtilsMessengerEXT h,
                                                                    const VkAllocationCallbacks* a) {
    DESTROYED(h);
    real_vkDestroyDebugUtilsMessengerEXT(i, h, a);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkAllocateMemory(VkDevice d, const VkMemoryAllocateInfo* ai,
                                                         const VkAllocationCallbacks* a, VkDeviceMemory* out) {
    FALLIBLE(vkAllocateMemory, FAULT_DEVICE);
    VkResult r = real_vkAllocateMemory(d, ai, a, out);
    created(r, 1);
    return r;
}
static VKAPI_ATTR void VKAPI_CALL w_vkFreeMemory(VkDevice d, VkDeviceMemory h, const VkAllocationCallbacks* a) {
    DESTROYED(h);
    real_vkFreeMemory(d, h, a);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkMapMemory(VkDevice d, VkDeviceMemory m, VkDeviceSize o, VkDeviceSize s,
                                                    VkMemoryMapFlags f, void** out) {
    FALLIBLE(vkMapMemory, FAULT_DEVICE);
    return real_vkMapMemory(d, m, o, s, f, out);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkBindBufferMemory(VkDevice d, VkBuffer b, VkDeviceMemory m, VkDeviceSize o) {
    FALLIBLE(vkBindBufferMemory, FAULT_DEVICE);
    return real_vkBindBufferMemory(d, b, m, o);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkFlushMappedMemoryRanges(VkDevice d, uint32_t n,
                                                                  const VkMappedMemoryRange* r) {
    FALLIBLE(vkFlushMappedMemoryRanges, FAULT_HOST);
    return real_vkFlushMappedMemoryRanges(d, n, r);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkInvalidateMappedMemoryRanges(VkDevice d, uint32_t n,
                                                                       const VkMappedMemoryRange* r) {
    FALLIBLE(vkInvalidateMappedMemoryRanges, FAULT_HOST);
    return real_vkInvalidateMappedMemoryRanges(d, n, r);
}

/* vkCreateX / vkDestroyX pairs of one non-dispatchable handle. */
#define CREATE_DESTROY(Type, kind)                                                                                \
    static VKAPI_ATTR VkResult VKAPI_CALL w_vkCreate##Type(VkDevice d, const Vk##Type##CreateInfo* ci,            \
                                                           const VkAllocationCallbacks* a, Vk##Type* out) {       \
        FALLIBLE(vkCreate##Type, kind);                                                                           \
        VkResult r = real_vkCreate##Type(d, ci, a, out);                                                          \
        created(r, 1);                                                                                            \
        return r;                                                                                                 \
    }                                                                                                             \
    static VKAPI_ATTR void VKAPI_CALL w_vkDestroy##Type(VkDevice d, Vk##Type h, const VkAllocationCallbacks* a) { \
        DESTROYED(h);                                                                                             \
        real_vkDestroy##Type(d, h, a);                                                                            \
    }
CREATE_DESTROY(Buffer, FAULT_DEVICE)
CREATE_DESTROY(ShaderModule, FAULT_HOST)
CREATE_DESTROY(PipelineCache, FAULT_HOST)
CREATE_DESTROY(PipelineLayout, FAULT_HOST)
CREATE_DESTROY(DescriptorSetLayout, FAULT_HOST)
CREATE_DESTROY(DescriptorPool, FAULT_DEVICE)
CREATE_DESTROY(CommandPool, FAULT_HOST)
CREATE_DESTROY(Fence, FAULT_HOST)
CREATE_DESTROY(QueryPool, FAULT_HOST)

static VKAPI_ATTR VkResult VKAPI_CALL w_vkGetPipelineCacheData(VkDevice d, VkPipelineCache c, size_t* n, void* p) {
    FALLIBLE(vkGetPipelineCacheData, FAULT_HOST);
    return real_vkGetPipelineCacheData(d, c, n, p);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkCreateComputePipelines(VkDevice d, VkPipelineCache c, uint32_t n,
                                                                 const VkComputePipelineCreateInfo* ci,
                                                                 const VkAllocationCallbacks* a, VkPipeline* out) {
    FALLIBLE(vkCreateComputePipelines, FAULT_HOST);
    VkResult r = real_vkCreateComputePipelines(d, c, n, ci, a, out);
    created(r, n);
    return r;
}
static VKAPI_ATTR void VKAPI_CALL w_vkDestroyPipeline(VkDevice d, VkPipeline h, const VkAllocationCallbacks* a) {
    DESTROYED(h);
    real_vkDestroyPipeline(d, h, a);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkAllocateDescriptorSets(VkDevice d, const VkDescriptorSetAllocateInfo* ai,
                                                                 VkDescriptorSet* out) {
    FALLIBLE(vkAllocateDescriptorSets, FAULT_DEVICE);
    return real_vkAllocateDescriptorSets(d, ai, out);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkResetCommandPool(VkDevice d, VkCommandPool p, VkCommandPoolResetFlags f) {
    FALLIBLE(vkResetCommandPool, FAULT_DEVICE);
    return real_vkResetCommandPool(d, p, f);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkAllocateCommandBuffers(VkDevice d, const VkCommandBufferAllocateInfo* ai,
                                                                 VkCommandBuffer* out) {
    FALLIBLE(vkAllocateCommandBuffers, FAULT_HOST);
    return real_vkAllocateCommandBuffers(d, ai, out);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkBeginCommandBuffer(VkCommandBuffer c, const VkCommandBufferBeginInfo* bi) {
    FALLIBLE(vkBeginCommandBuffer, FAULT_HOST);
    return real_vkBeginCommandBuffer(c, bi);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkEndCommandBuffer(VkCommandBuffer c) {
    /* Ended even when it reports failure: the driver may have ended it
     * before running out of memory, and a command buffer left recording
     * would make the next begin an error the failure did not cause. */
    VkResult fault = injected("vkEndCommandBuffer", FAULT_HOST);
    VkResult r = real_vkEndCommandBuffer(c);
    return fault != VK_SUCCESS ? fault : r;
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkResetFences(VkDevice d, uint32_t n, const VkFence* f) {
    FALLIBLE(vkResetFences, FAULT_DEVICE);
    return real_vkResetFences(d, n, f);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkQueueSubmit(VkQueue q, uint32_t n, const VkSubmitInfo* s, VkFence f) {
    FALLIBLE(vkQueueSubmit, FAULT_HOST);
    if (device_lost(1)) return VK_ERROR_DEVICE_LOST;
    VkResult r = real_vkQueueSubmit(q, n, s, f);
    if (r == VK_SUCCESS) atomic_fetch_add(&g_submitted, 1);
    return r;
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkWaitForFences(VkDevice d, uint32_t n, const VkFence* f, VkBool32 all,
                                                        uint64_t timeout) {
    FALLIBLE(vkWaitForFences, FAULT_HOST);
    /* A device already lost answers at once (its fences may never signal). */
    if (atomic_load(&g_lost)) return VK_ERROR_DEVICE_LOST;
    /* Lost at this wait: the submitted work finishes first, so that nothing
     * the driver still runs is freed under it when the test cleans up. */
    VkResult r = real_vkWaitForFences(d, n, f, all, timeout);
    if (device_lost(1)) return VK_ERROR_DEVICE_LOST;
    return r;
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkGetQueryPoolResults(VkDevice d, VkQueryPool p, uint32_t first, uint32_t n,
                                                              size_t size, void* data, VkDeviceSize stride,
                                                              VkQueryResultFlags flags) {
    FALLIBLE(vkGetQueryPoolResults, FAULT_HOST);
    if (device_lost(0)) return VK_ERROR_DEVICE_LOST;
    return real_vkGetQueryPoolResults(d, p, first, n, size, data, stride, flags);
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkQueueWaitIdle(VkQueue q) {
    FALLIBLE(vkQueueWaitIdle, FAULT_HOST);
    VkResult r = real_vkQueueWaitIdle(q);
    return device_lost(0) ? VK_ERROR_DEVICE_LOST : r;
}
static VKAPI_ATTR VkResult VKAPI_CALL w_vkDeviceWaitIdle(VkDevice d) {
    FALLIBLE(vkDeviceWaitIdle, FAULT_HOST);
    VkResult r = real_vkDeviceWaitIdle(d);
    return device_lost(0) ? VK_ERROR_DEVICE_LOST : r;
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL w_vkGetDeviceProcAddr(VkDevice d, const char* name);

/* name -> (real pointer slot, wrapper) */
typedef struct wrapped {
    const char* name;
    PFN_vkVoidFunction* real;
    PFN_vkVoidFunction wrapper;
} wrapped;

#define W(name) \
    { #name, (PFN_vkVoidFunction*)&real_##name, (PFN_vkVoidFunction)w_##name }
static const wrapped g_wrapped[] = {
    W(vkCreateInstance),
    W(vkDestroyInstance),
    W(vkEnumerateInstanceVersion),
    W(vkEnumerateInstanceLayerProperties),
    W(vkEnumerateInstanceExtensionProperties),
    W(vkEnumeratePhysicalDevices),
    W(vkEnumerateDeviceExtensionProperties),
    W(vkCreateDevice),
    W(vkDestroyDevice),
    W(vkCreateDebugUtilsMessengerEXT),
    W(vkDestroyDebugUtilsMessengerEXT),
    W(vkGetDeviceProcAddr),
    W(vkAllocateMemory),
    W(vkFreeMemory),
    W(vkMapMemory),
    W(vkBindBufferMemory),
    W(vkFlushMappedMemoryRanges),
    W(vkInvalidateMappedMemoryRanges),
    W(vkCreateBuffer),
    W(vkDestroyBuffer),
    W(vkCreateShaderModule),
    W(vkDestroyShaderModule),
    W(vkCreatePipelineCache),
    W(vkDestroyPipelineCache),
    W(vkGetPipelineCacheData),
    W(vkCreateComputePipelines),
    W(vkDestroyPipeline),
    W(vkCreatePipelineLayout),
    W(vkDestroyPipelineLayout),
    W(vkCreateDescriptorSetLayout),
    W(vkDestroyDescriptorSetLayout),
    W(vkCreateDescriptorPool),
    W(vkDestroyDescriptorPool),
    W(vkAllocateDescriptorSets),
    W(vkCreateCommandPool),
    W(vkDestroyCommandPool),
    W(vkResetCommandPool),
    W(vkAllocateCommandBuffers),
    W(vkBeginCommandBuffer),
    W(vkEndCommandBuffer),
    W(vkCreateFence),
    W(vkDestroyFence),
    W(vkResetFences),
    W(vkWaitForFences),
    W(vkCreateQueryPool),
    W(vkDestroyQueryPool),
    W(vkGetQueryPoolResults),
    W(vkQueueSubmit),
    W(vkQueueWaitIdle),
    W(vkDeviceWaitIdle),
};
#define WRAPPED_COUNT (sizeof g_wrapped / sizeof g_wrapped[0])

/* The wrapper for `name` with its real pointer set from `real`, or `real`
 * itself when the name is not wrapped (or the driver lacks it). */
static PFN_vkVoidFunction wrap(const char* name, PFN_vkVoidFunction real) {
    if (!real) return NULL;
    for (size_t i = 0; i < WRAPPED_COUNT; ++i) {
        if (strcmp(g_wrapped[i].name, name) == 0) {
            *g_wrapped[i].real = real;
            return g_wrapped[i].wrapper;
        }
    }
    return real;
}

static VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL w_vkGetDeviceProcAddr(VkDevice d, const char* name) {
    return wrap(name, real_vkGetDeviceProcAddr(d, name));
}

PFN_vkVoidFunction VKAPI_CALL vk_fault_shim_gipa(VkInstance instance, const char* name) {
    if (strcmp(name, "vkGetInstanceProcAddr") == 0) return (PFN_vkVoidFunction)vk_fault_shim_gipa;
    return wrap(name, vkGetInstanceProcAddr(instance, name));
}
