/* Which backend and device a new context runs on, and the device list across
 * backends: each backend's devices in vkbn__backends order (the Vulkan
 * devices in loader order, then vkbn's CPU path, always last).
 *
 * vkbn_context_desc.device:
 * - NULL or "": the default device (the first backend's best device; the CPU
 *   path when no other backend has one);
 * - a name a backend claims for itself ("cpu", any case): that backend;
 * - a decimal index into the whole list;
 * - otherwise a name substring, matched in list order.
 * desc->borrowed goes to the backend that accepts borrowed devices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "errors.h"

const vkbn__backend* const vkbn__backends[] = {&vkbn__vulkan_backend, &vkbn__cpu_backend};
const uint32_t vkbn__backend_count = sizeof vkbn__backends / sizeof vkbn__backends[0];

/* Every backend's devices, with the backend each came from and its index in
 * that backend's own list. */
typedef struct device_list {
    vkbn_device_info* infos;
    uint32_t* backend;
    uint32_t* local;
    uint32_t count;
    uint32_t default_index;
} device_list;

static void list_free(device_list* l) {
    vkbn__free(l->infos);
    vkbn__free(l->backend);
    vkbn__free(l->local);
    memset(l, 0, sizeof *l);
}

static vkbn_result list_devices(device_list* out) {
    memset(out, 0, sizeof *out);
    vkbn_device_info* per[8] = {0};
    uint32_t n[8] = {0}, total = 0;
    vkbn_result r = VKBN_SUCCESS;
    for (uint32_t b = 0; b < vkbn__backend_count && r == VKBN_SUCCESS; ++b) {
        r = vkbn__backends[b]->list_devices(&per[b], &n[b]);
        total += n[b];
    }
    if (r == VKBN_SUCCESS && total > 0) {
        out->infos = vkbn__calloc(total, sizeof *out->infos);
        out->backend = vkbn__calloc(total, sizeof *out->backend);
        out->local = vkbn__calloc(total, sizeof *out->local);
        if (!out->infos || !out->backend || !out->local) {
            r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "listing devices: out of host memory");
        }
    }
    bool have_default = false;
    for (uint32_t b = 0; b < vkbn__backend_count && r == VKBN_SUCCESS; ++b) {
        for (uint32_t i = 0; i < n[b]; ++i) {
            uint32_t k = out->count++;
            out->infos[k] = per[b][i];
            out->infos[k].index = k;
            out->backend[k] = b;
            out->local[k] = i;
            /* The first backend with devices provides the default: its own
             * best one, as its list marks it. */
            if (!have_default && per[b][i].is_default) {
                out->default_index = k;
                have_default = true;
            }
        }
        if (n[b] > 0) have_default = true;
    }
    for (uint32_t b = 0; b < vkbn__backend_count; ++b) vkbn__free(per[b]);
    if (r != VKBN_SUCCESS) {
        list_free(out);
        return r;
    }
    for (uint32_t k = 0; k < out->count; ++k) out->infos[k].is_default = k == out->default_index;
    return VKBN_SUCCESS;
}

vkbn_result vkbn__list_all_devices(vkbn_device_info** out, uint32_t* count) {
    device_list l;
    VKBN_CHECK(list_devices(&l));
    *out = l.infos;
    *count = l.count;
    l.infos = NULL;
    list_free(&l);
    return VKBN_SUCCESS;
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

/* Creates the context on entry k of the list (its backend's device `local`). */
static vkbn_result create_on(vkbn_context ctx, const vkbn_context_desc* desc, const device_list* l, uint32_t k) {
    const vkbn__backend* b = vkbn__backends[l->backend[k]];
    char local[16];
    snprintf(local, sizeof local, "%u", l->local[k]);
    ctx->ops = b;
    vkbn_result r = b->context_create(ctx, desc, local);
    if (r != VKBN_SUCCESS) {
        if (ctx->impl) b->context_destroy(ctx);
        ctx->impl = NULL;
        return r;
    }
    ctx->info.index = k;
    ctx->info.is_default = k == l->default_index;
    return VKBN_SUCCESS;
}

/* The default device: each backend's best in list order, the first that
 * opens. No list is built (it would create and destroy a VkInstance per
 * context): a backend before the one that opens had no usable device, so the
 * opened device's index in its backend's list is its index in the whole list. */
static vkbn_result create_default(vkbn_context ctx, const vkbn_context_desc* desc) {
    vkbn_result r = VKBN_ERROR_NO_DEVICE;
    for (uint32_t b = 0; b < vkbn__backend_count && r == VKBN_ERROR_NO_DEVICE; ++b) {
        if (b > 0)
            vkbn__log(ctx, VKBN_LOG_INFO, "vkbn: %s; trying the %s backend", vkbn_last_error(),
                      vkbn__backends[b]->name);
        ctx->ops = vkbn__backends[b];
        memset(&ctx->info, 0, sizeof ctx->info);
        r = ctx->ops->context_create(ctx, desc, NULL);
        if (r != VKBN_SUCCESS && ctx->impl) ctx->ops->context_destroy(ctx);
        if (r != VKBN_SUCCESS) ctx->impl = NULL;
    }
    if (r == VKBN_SUCCESS) ctx->info.is_default = 1;
    return r;
}

static vkbn_result create_borrowed(vkbn_context ctx, const vkbn_context_desc* desc) {
    for (uint32_t b = 0; b < vkbn__backend_count; ++b) {
        if (!vkbn__backends[b]->accepts_borrowed) continue;
        ctx->ops = vkbn__backends[b];
        return ctx->ops->context_create(ctx, desc, NULL);
    }
    return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "desc->borrowed: no backend of this build accepts a borrowed device");
}

vkbn_result vkbn__context_create_backend(vkbn_context ctx, const vkbn_context_desc* desc) {
    if (desc->borrowed) return create_borrowed(ctx, desc);
    const char* want = desc->device && *desc->device ? desc->device : NULL;
    if (!want) return create_default(ctx, desc);
    device_list l;
    VKBN_CHECK(list_devices(&l));
    vkbn_result r = VKBN_SUCCESS;
    if (l.count == 0) {
        r = vkbn__fail(VKBN_ERROR_NO_DEVICE, "vkbn_context_create: no device");
    } else {
        uint32_t k = l.count;
        for (uint32_t i = 0; i < l.count && k == l.count; ++i) {
            if (vkbn__backends[l.backend[i]]->claims && vkbn__backends[l.backend[i]]->claims(want)) k = i;
        }
        if (k == l.count && is_decimal(want)) {
            unsigned long idx = strtoul(want, NULL, 10);
            if (idx >= l.count) {
                r = vkbn__fail(VKBN_ERROR_DEVICE_NOT_FOUND,
                               "desc->device: no device has index %s (%u devices; see `vkbn devices`)", want, l.count);
            }
            k = (uint32_t)idx;
        }
        for (uint32_t i = 0; i < l.count && k == l.count && r == VKBN_SUCCESS; ++i) {
            if (name_contains(l.infos[i].name, want)) k = i;
        }
        if (r == VKBN_SUCCESS && k == l.count) {
            r = vkbn__fail(VKBN_ERROR_DEVICE_NOT_FOUND, "desc->device: no device matches \"%s\" (see `vkbn devices`)",
                           want);
        }
        if (r == VKBN_SUCCESS) r = create_on(ctx, desc, &l, k);
    }
    list_free(&l);
    return r;
}
