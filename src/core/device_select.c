/* Which backend and device a new context runs on, and the device list across
 * backends: each backend's devices in vkbn__backends order (the Vulkan
 * devices in loader order, then vkbn's CPU path, always last).
 *
 * vkbn_context_desc.device:
 * - NULL or "": the default device, the fastest kind there is: the device of
 *   the highest rank (vkbn__device_rank: a GPU, then vkbn's CPU path, then a
 *   Vulkan driver that runs on the CPU, such as lavapipe); among equal ranks
 *   the one its backend calls its best, then the first listed;
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

/* lavapipe and SwiftShader run the Vulkan kernels on the same cores as vkbn's
 * CPU path, 20-50x slower (README, "Figures"), so a Vulkan CPU driver ranks
 * below the CPU path; GPUs (discrete, integrated, virtual) rank above it. A
 * device of another type ranked below a Vulkan CPU driver before and still
 * does: nothing says it is a GPU. */
int vkbn__device_rank(vkbn_device_type type) {
    switch (type) {
        case VKBN_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VKBN_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VKBN_DEVICE_TYPE_VIRTUAL_GPU: return 3;
        case VKBN_DEVICE_TYPE_NATIVE_CPU: return 2;
        case VKBN_DEVICE_TYPE_VULKAN_CPU: return 1;
        default: return 0;
    }
}

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
    int best_rank = -1;
    bool best_own = false;
    for (uint32_t b = 0; b < vkbn__backend_count && r == VKBN_SUCCESS; ++b) {
        for (uint32_t i = 0; i < n[b]; ++i) {
            uint32_t k = out->count++;
            out->infos[k] = per[b][i];
            out->infos[k].index = k;
            out->backend[k] = b;
            out->local[k] = i;
            /* The default: the highest rank; among equals, a backend's own
             * best (as its list marks it), then the first. create_default
             * finds the same device without this list. */
            int rank = vkbn__device_rank(per[b][i].type);
            bool own = per[b][i].is_default != 0;
            if (rank > best_rank || (rank == best_rank && own && !best_own)) {
                out->default_index = k;
                best_rank = rank;
                best_own = own;
            }
        }
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

/* Creates the context on backend b's device as req asks; on failure the
 * context holds nothing. */
static vkbn_result open_on(vkbn_context ctx, const vkbn_context_desc* desc, uint32_t b, vkbn__device_request* req) {
    ctx->ops = vkbn__backends[b];
    memset(&ctx->info, 0, sizeof ctx->info);
    vkbn_result r = ctx->ops->context_create(ctx, desc, req);
    if (r != VKBN_SUCCESS) {
        if (ctx->impl) ctx->ops->context_destroy(ctx);
        ctx->impl = NULL;
    }
    return r;
}

/* Creates the context on entry k of the list (its backend's device `local`). */
static vkbn_result create_on(vkbn_context ctx, const vkbn_context_desc* desc, const device_list* l, uint32_t k) {
    char local[16];
    snprintf(local, sizeof local, "%u", l->local[k]);
    vkbn__device_request req = {local, 0, VKBN__RANK_MAX, 0};
    VKBN_CHECK(open_on(ctx, desc, l->backend[k], &req));
    ctx->info.index = k;
    ctx->info.is_default = k == l->default_index;
    return VKBN_SUCCESS;
}

/* The default device, found without building the list, which would cost a
 * VkInstance per context on top of the context's own. Ranks are tried from
 * the highest down, in runs that a single backend serves (today: the GPU
 * ranks, Vulkan; the CPU path's rank, the CPU backend; the ranks below it,
 * Vulkan again); each backend that can have a device in the run
 * (device_types) is asked for its best device ranked within it, and the first
 * that opens one is the default. So with a GPU the default is still one
 * Vulkan request; where lavapipe is the only Vulkan device the Vulkan backend
 * looks (one instance, as the old default paid to open lavapipe), declines,
 * and the CPU path opens; lavapipe is asked for only if the CPU path has no
 * device. Each backend asked reports its list's length, which places the
 * opened device in the whole list; a backend listed before it that was never
 * asked (none today) is counted by listing it. */
static vkbn_result create_default(vkbn_context ctx, const vkbn_context_desc* desc) {
    uint32_t serves[VKBN__RANK_MAX + 1] = {0}; /* per rank: a bit per backend that can have a device of it */
    for (uint32_t b = 0; b < vkbn__backend_count; ++b) {
        for (uint32_t t = 0; t < 32; ++t) {
            if (vkbn__backends[b]->device_types & (1u << t)) serves[vkbn__device_rank((vkbn_device_type)t)] |= 1u << b;
        }
    }
    uint32_t listed[8] = {0};
    bool asked[8] = {false};
    uint32_t opened = 0;
    vkbn_result r = VKBN_ERROR_NO_DEVICE;
    bool tried = false;
    for (int hi = VKBN__RANK_MAX; hi >= 0 && r == VKBN_ERROR_NO_DEVICE;) {
        int lo = hi;
        bool one_backend = serves[hi] && !(serves[hi] & (serves[hi] - 1));
        while (one_backend && lo > 0 && serves[lo - 1] == serves[hi]) --lo;
        for (uint32_t b = 0; b < vkbn__backend_count && r == VKBN_ERROR_NO_DEVICE; ++b) {
            if (!(serves[hi] & (1u << b))) continue;
            vkbn__device_request req = {NULL, lo, hi, 0};
            r = open_on(ctx, desc, b, &req);
            tried = asked[b] = true;
            listed[b] = req.listed;
            opened = b;
            if (r == VKBN_ERROR_NO_DEVICE)
                vkbn__log(ctx, VKBN_LOG_INFO, "vkbn: default device: %s backend: %s", vkbn__backends[b]->name,
                          vkbn_last_error());
        }
        hi = lo - 1;
    }
    if (!tried) return vkbn__fail(VKBN_ERROR_NO_DEVICE, "vkbn_context_create: no backend has a device");
    if (r != VKBN_SUCCESS) return r;
    uint32_t offset = 0;
    for (uint32_t b = 0; b < opened; ++b) {
        if (!asked[b]) {
            vkbn_device_info* infos = NULL;
            r = vkbn__backends[b]->list_devices(&infos, &listed[b]);
            vkbn__free(infos);
            if (r != VKBN_SUCCESS) return r; /* the caller destroys the context */
        }
        offset += listed[b];
    }
    ctx->info.index += offset;
    ctx->info.is_default = 1;
    return VKBN_SUCCESS;
}

static vkbn_result create_borrowed(vkbn_context ctx, const vkbn_context_desc* desc) {
    for (uint32_t b = 0; b < vkbn__backend_count; ++b) {
        if (!vkbn__backends[b]->accepts_borrowed) continue;
        ctx->ops = vkbn__backends[b];
        return ctx->ops->context_create(ctx, desc, NULL);
    }
    return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "desc->borrowed: no backend of this build accepts a borrowed device");
}

/* A device profile: the backend that plans on profiles, with no device. */
static vkbn_result create_on_profile(vkbn_context ctx, const vkbn_context_desc* desc) {
    if (desc->borrowed || (desc->device && *desc->device)) {
        return vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT,
                          "desc->profile: a context on a device profile takes no device and no borrowed device");
    }
    for (uint32_t b = 0; b < vkbn__backend_count; ++b) {
        if (!vkbn__backends[b]->accepts_profile) continue;
        ctx->ops = vkbn__backends[b];
        return ctx->ops->context_create(ctx, desc, NULL);
    }
    return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "desc->profile: no backend of this build plans on device profiles");
}

vkbn_result vkbn__context_create_backend(vkbn_context ctx, const vkbn_context_desc* desc) {
    if (desc->profile) return create_on_profile(ctx, desc);
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
