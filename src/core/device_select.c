/* Which backend a context runs on, and the device list across backends: the
 * Vulkan devices in loader order, then vkbn's CPU path, always last.
 *
 * vkbn_context_desc.device:
 * - NULL or "": the best Vulkan device; the CPU path when there is none;
 * - "cpu" (any case): the CPU path;
 * - a decimal index into that list (the CPU path's is the Vulkan count);
 * - otherwise a name substring: Vulkan devices first, then the CPU path. */
#include <stdlib.h>
#include <string.h>

#include "../cpu/cpu_internal.h"
#include "../vulkan/vk_internal.h"
#include "errors.h"

vkbn_result vkbn__list_vulkan_devices(vkbn_device_info** out, uint32_t* count) {
    *out = NULL;
    *count = 0;
    PFN_vkGetInstanceProcAddr gipa = NULL;
    if (vkbn__vk_load_loader(&gipa) != VKBN_SUCCESS) return VKBN_SUCCESS; /* no loader: no Vulkan devices */
    VkInstance instance = VK_NULL_HANDLE;
    bool debug_utils = false;
    if (vkbn__vk_create_instance(gipa, false, false, NULL, &instance, &debug_utils) != VKBN_SUCCESS) {
        return VKBN_SUCCESS; /* a loader without drivers lists nothing */
    }
    vkbn__instance_fns fn;
    vkbn__vk_load_instance_fns(gipa, instance, &fn);
    VkPhysicalDevice* pds = NULL;
    uint32_t n = 0;
    vkbn_result r = vkbn__vk_list_devices(&fn, instance, &pds, &n);
    if (r == VKBN_SUCCESS && n > 0) {
        vkbn_device_info* all = vkbn__calloc(n, sizeof *all);
        if (!all) {
            r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_enumerate_devices: out of host memory");
        } else {
            for (uint32_t i = 0; i < n; ++i) {
                vkbn__vk_describe_device(&fn, pds[i], &all[i]);
                all[i].index = i;
            }
            all[vkbn__vk_default_device(all, n)].is_default = 1;
            *out = all;
            *count = n;
        }
    }
    vkbn__free(pds);
    fn.DestroyInstance(instance, NULL);
    return r;
}

static bool is_decimal(const char* s) {
    if (!*s) return false;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return false;
    }
    return true;
}

static bool name_contains(const char* hay, const char* needle) {
    size_t wl = strlen(needle);
    for (const char* h = hay; *h; ++h) {
        size_t k = 0;
        while (k < wl && h[k] && (h[k] | 0x20) == (needle[k] | 0x20)) ++k;
        if (k == wl) return true;
    }
    return false;
}

static uint32_t vulkan_device_count(void) {
    vkbn_device_info* infos = NULL;
    uint32_t n = 0;
    vkbn__list_vulkan_devices(&infos, &n);
    vkbn__free(infos);
    return n;
}

/* The CPU path, with the index and default flag it has in the device list
 * (vulkan_count Vulkan devices come before it). */
static vkbn_result create_cpu(vkbn_context ctx, const vkbn_context_desc* desc, uint32_t vulkan_count) {
    VKBN_CHECK(vkbn__cpu_context_create(ctx, desc));
    ctx->info.index = vulkan_count;
    ctx->info.is_default = vulkan_count == 0;
    return VKBN_SUCCESS;
}

static vkbn_result fall_back_to_cpu(vkbn_context ctx, const vkbn_context_desc* desc, uint32_t vulkan_count) {
    vkbn__vk_context_destroy(ctx);
    memset(&ctx->info, 0, sizeof ctx->info);
    return create_cpu(ctx, desc, vulkan_count);
}

vkbn_result vkbn__context_create_backend(vkbn_context ctx, const vkbn_context_desc* desc) {
    const char* want = desc->device && *desc->device ? desc->device : NULL;
    if (!desc->borrowed && want) {
        if (vkbn__cpu_device_matches(want)) return create_cpu(ctx, desc, vulkan_device_count());
        if (is_decimal(want)) {
            vkbn_device_info* infos = NULL;
            uint32_t n = 0;
            VKBN_CHECK(vkbn__list_vulkan_devices(&infos, &n));
            vkbn__free(infos);
            unsigned long idx = strtoul(want, NULL, 10);
            if (idx == n) return create_cpu(ctx, desc, n);
            if (idx > n) {
                return vkbn__fail(VKBN_ERROR_DEVICE_NOT_FOUND,
                                  "desc->device: no device has index %s (%u devices; see `vkbn devices`)", want, n + 1);
            }
        }
    }
    ctx->backend = VKBN_BACKEND_VULKAN;
    vkbn_result r = vkbn__vk_context_create(ctx, desc);
    if (r == VKBN_SUCCESS || desc->borrowed) return r;
    if (!want && r == VKBN_ERROR_NO_DEVICE) {
        vkbn__log(ctx, VKBN_LOG_INFO, "vkbn: no Vulkan device (%s); using the CPU path", vkbn_last_error());
        return fall_back_to_cpu(ctx, desc, 0);
    }
    if (want && !is_decimal(want) && (r == VKBN_ERROR_DEVICE_NOT_FOUND || r == VKBN_ERROR_NO_DEVICE)) {
        vkbn_device_info cpu;
        vkbn__cpu_describe_default(&cpu);
        if (name_contains(cpu.name, want)) {
            return fall_back_to_cpu(ctx, desc, r == VKBN_ERROR_NO_DEVICE ? 0 : vulkan_device_count());
        }
        if (r == VKBN_ERROR_NO_DEVICE) {
            return vkbn__fail(VKBN_ERROR_DEVICE_NOT_FOUND,
                              "desc->device: no device matches \"%s\" (no Vulkan device; the CPU path is \"%s\")", want,
                              cpu.name);
        }
    }
    return r;
}
