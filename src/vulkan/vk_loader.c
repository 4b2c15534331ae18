/* Finding the system Vulkan loader and loading each context's device
 * functions, both through volk (compiled in under the vkbn_volk_ prefix:
 * cmake/VolkPrivate.cmake).
 *
 * volk keeps its loader state in globals, private to vkbn thanks to the
 * prefix; they are touched only here, under this lock. Every pointer vkbn
 * calls lives in per-context tables: instance functions loaded from the
 * context's own vkGetInstanceProcAddr, device functions in a VolkDeviceTable,
 * so several contexts, on several devices or on a borrowed device whose
 * caller passes its own vkGetInstanceProcAddr, never share a table. */
#include "../core/errors.h"
#include "../core/test_hooks.h"
#include "vk_internal.h"

static vkbn__mutex volk_lock = VKBN_MUTEX_INITIALIZER;
static PFN_vkGetInstanceProcAddr loader_gipa;
static bool loader_tried;

vkbn_result vkbn__vk_load_loader(PFN_vkGetInstanceProcAddr* out) {
    /* A test's shim in place of the loader (test_hooks.h). */
    if (vkbn__test_hooks()->vk_get_instance_proc_addr) {
        *out = (PFN_vkGetInstanceProcAddr)vkbn__test_hooks()->vk_get_instance_proc_addr;
        return VKBN_SUCCESS;
    }
    vkbn__mutex_lock(&volk_lock);
    if (!loader_tried) {
        loader_tried = true;
        if (volkInitialize() == VK_SUCCESS) loader_gipa = vkGetInstanceProcAddr;
    }
    PFN_vkGetInstanceProcAddr g = loader_gipa;
    vkbn__mutex_unlock(&volk_lock);
    if (!g) return vkbn__fail(VKBN_ERROR_NO_DEVICE, "no Vulkan loader found (libvulkan.so.1 / vulkan-1.dll)");
    *out = g;
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_load_device_table(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, VkDevice device,
                                       struct VolkDeviceTable* table) {
    vkbn__mutex_lock(&volk_lock);
    /* volkLoadDeviceTable goes through volk's global vkGetDeviceProcAddr: point
     * it at this context's instance for the duration of the call. */
    volkInitializeCustom(gipa);
    volkLoadInstanceOnly(instance);
    volkLoadDeviceTable(table, device);
    if (loader_gipa) volkInitializeCustom(loader_gipa);
    vkbn__mutex_unlock(&volk_lock);
    /* Core 1.0/1.1 entry points every device has; a NULL here means the
     * handles or the vkGetInstanceProcAddr passed in do not belong together. */
    if (!table->vkCreateBuffer || !table->vkCmdDispatch || !table->vkQueueSubmit) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE,
                          "the device's core functions could not be loaded (instance, device and "
                          "vkGetInstanceProcAddr must belong together)");
    }
    return VKBN_SUCCESS;
}
