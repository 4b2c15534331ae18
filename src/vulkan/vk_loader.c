/* Finding the system Vulkan loader, and loading each context's device
 * functions through its own vkGetDeviceProcAddr.
 *
 * vkbn used to compile volk in. volk defines every Vulkan entry point as a
 * global function-pointer variable (vkCreateInstance, vkCmdDispatch, ...), so
 * an engine that links vkbn statically next to the Vulkan loader had its own
 * calls bound to those variables and crashed, and one that uses volk itself
 * got duplicate symbols. vkbn now defines no Vulkan symbol: it opens the
 * loader once and keeps every pointer it calls in per-context tables. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

#if defined(_WIN32)
/* platform.h has included <windows.h>. */
static PFN_vkGetInstanceProcAddr open_loader(void) {
    HMODULE module = LoadLibraryA("vulkan-1.dll");
    if (!module) return NULL;
    return (PFN_vkGetInstanceProcAddr)(void (*)(void))GetProcAddress(module, "vkGetInstanceProcAddr");
}
#else
#include <dlfcn.h>
static PFN_vkGetInstanceProcAddr open_loader(void) {
#if defined(__APPLE__)
    static const char* const names[] = {"libvulkan.dylib", "libvulkan.1.dylib", "libMoltenVK.dylib"};
#else
    static const char* const names[] = {"libvulkan.so.1", "libvulkan.so"};
#endif
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        /* Kept open for the life of the process, as every loader user does. */
        void* module = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!module) continue;
        PFN_vkGetInstanceProcAddr gipa;
        void* sym = dlsym(module, "vkGetInstanceProcAddr");
        memcpy(&gipa, &sym, sizeof gipa); /* object to function pointer, without a cast warning */
        if (gipa) return gipa;
        dlclose(module);
    }
    return NULL;
}
#endif

static vkbn__mutex loader_lock = VKBN_MUTEX_INITIALIZER;
static PFN_vkGetInstanceProcAddr loader_gipa;
static bool loader_tried;

vkbn_result vkbn__vk_load_loader(PFN_vkGetInstanceProcAddr* out) {
    vkbn__mutex_lock(&loader_lock);
    if (!loader_tried) {
        loader_gipa = open_loader();
        loader_tried = true;
    }
    PFN_vkGetInstanceProcAddr g = loader_gipa;
    vkbn__mutex_unlock(&loader_lock);
    if (!g) return vkbn__fail(VKBN_ERROR_NO_DEVICE, "no Vulkan loader found (libvulkan.so.1 / vulkan-1.dll)");
    *out = g;
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_load_device_table(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, VkDevice device,
                                       vkbn__device_fns* table) {
    memset(table, 0, sizeof *table);
    PFN_vkGetDeviceProcAddr gdpa = (PFN_vkGetDeviceProcAddr)gipa(instance, "vkGetDeviceProcAddr");
    if (!gdpa) return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "the instance has no vkGetDeviceProcAddr");
#define VKBN__LOAD_DEVICE_FN(name)                                                                         \
    table->name = (PFN_##name)gdpa(device, #name);                                                      \
    if (!table->name) return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "the device has no %s", #name);
    VKBN__DEVICE_FUNCTIONS(VKBN__LOAD_DEVICE_FN)
#undef VKBN__LOAD_DEVICE_FN
    return VKBN_SUCCESS;
}
