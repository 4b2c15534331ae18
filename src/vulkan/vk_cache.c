/* The pipeline cache: the caller's VkPipelineCache, or vkbn's own, kept in a
 * file the caller names.
 *
 * The file is a header of vkbn's followed by the driver's
 * vkGetPipelineCacheData blob. A blob written by another driver can at best
 * be useless and at worst crash a driver that trusts it, so it is loaded only
 * when all of these match the running device: vkbn's header (vkbn version,
 * hash of the embedded SPIR-V, vendor ID, device ID, driver version,
 * pipelineCacheUUID, pointer size, blob size and hash) and the blob's own
 * VkPipelineCacheHeaderVersionOne (vendor ID, device ID, pipelineCacheUUID).
 * Anything else is ignored, logged, and replaced at the next save. Files are
 * machine-local (host byte order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/errors.h"
#include "vk_internal.h"

#define MAX_FILE_BYTES (512ull << 20)

typedef struct file_header {
    char magic[8];         /* "VKBNPCF" */
    uint32_t header_size;  /* sizeof(file_header) */
    uint32_t vkbn_version; /* VKBN_VERSION */
    uint64_t shaders_hash; /* FNV-1a of every embedded SPIR-V blob */
    uint32_t vendor_id;
    uint32_t device_id;
    uint32_t driver_version;
    uint32_t pointer_bytes; /* 32- and 64-bit processes keep different caches */
    uint8_t cache_uuid[VK_UUID_SIZE];
    uint64_t data_size;
    uint64_t data_hash; /* FNV-1a of the blob: a torn or damaged file is ignored */
} file_header;

static const char file_magic[8] = "VKBNPCF";

static uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
    const uint8_t* p = data;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t shaders_hash(void) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < vkbn__spirv_blob_count; ++i) {
        h = fnv1a(h, vkbn__spirv_blobs[i].code, vkbn__spirv_blobs[i].size);
    }
    return h;
}

static void expected_header(const struct vkbn__vk* vk, file_header* h) {
    memset(h, 0, sizeof *h);
    memcpy(h->magic, file_magic, sizeof h->magic);
    h->header_size = sizeof *h;
    h->vkbn_version = VKBN_VERSION;
    h->shaders_hash = shaders_hash();
    h->vendor_id = vk->caps.props.vendorID;
    h->device_id = vk->caps.props.deviceID;
    h->driver_version = vk->caps.props.driverVersion;
    h->pointer_bytes = (uint32_t)sizeof(void*);
    memcpy(h->cache_uuid, vk->caps.props.pipelineCacheUUID, VK_UUID_SIZE);
}

/* Why the file cannot be used, or NULL when it can. */
static const char* check_file(const struct vkbn__vk* vk, const uint8_t* bytes, size_t size) {
    file_header want, got;
    if (size < sizeof got) return "too short for vkbn's header";
    memcpy(&got, bytes, sizeof got);
    expected_header(vk, &want);
    if (memcmp(got.magic, want.magic, sizeof got.magic) != 0 || got.header_size != want.header_size) {
        return "not a vkbn pipeline cache";
    }
    if (got.vkbn_version != want.vkbn_version || got.shaders_hash != want.shaders_hash) {
        return "written by another vkbn build";
    }
    if (got.vendor_id != want.vendor_id || got.device_id != want.device_id) return "written for another device";
    if (got.driver_version != want.driver_version) return "written by another driver version";
    if (memcmp(got.cache_uuid, want.cache_uuid, VK_UUID_SIZE) != 0) return "pipelineCacheUUID differs";
    if (got.pointer_bytes != want.pointer_bytes) return "written by a process of another pointer size";
    if (got.data_size != size - sizeof got) return "truncated or padded";
    const uint8_t* data = bytes + sizeof got;
    if (fnv1a(0xcbf29ce484222325ull, data, (size_t)got.data_size) != got.data_hash) return "damaged (hash mismatch)";
    /* The driver's own header (VkPipelineCacheHeaderVersionOne). */
    if (got.data_size < 32) return "the driver's data lacks its header";
    uint32_t f[4];
    memcpy(f, data, sizeof f);
    if (f[0] < 32 || f[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE) return "the driver's header is not version one";
    if (f[2] != want.vendor_id || f[3] != want.device_id) return "the driver's header names another device";
    if (memcmp(data + 16, want.cache_uuid, VK_UUID_SIZE) != 0) return "the driver's header has another UUID";
    return NULL;
}

static uint8_t* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t* bytes = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n >= 0 && (uint64_t)n <= MAX_FILE_BYTES && fseek(f, 0, SEEK_SET) == 0) {
        bytes = vkbn__calloc((size_t)n + 1, 1);
        if (bytes && fread(bytes, 1, (size_t)n, f) != (size_t)n) {
            vkbn__free(bytes);
            bytes = NULL;
        }
    }
    fclose(f);
    *size = bytes ? (size_t)n : 0;
    return bytes;
}

vkbn_result vkbn__vk_cache_init(struct vkbn__vk* vk, const vkbn_context_desc* desc) {
    vkbn_pipeline_stats* st = &vk->stats;
    st->hits_reported = vk->caps.creation_feedback;
    if (desc->pipeline_cache) {
        vk->pipeline_cache = desc->pipeline_cache;
        snprintf(st->cache_file_status, sizeof st->cache_file_status, "none: the caller's VkPipelineCache");
        return VKBN_SUCCESS;
    }
    vk->own_pipeline_cache = true;
    snprintf(st->cache_file_status, sizeof st->cache_file_status, "none: no pipeline_cache_path");
    uint8_t* file = NULL;
    size_t file_size = 0;
    const char* path = desc->pipeline_cache_path;
    if (path && *path) {
        size_t len = strlen(path);
        vk->pipeline_cache_path = vkbn__calloc(len + 1, 1);
        if (!vk->pipeline_cache_path)
            return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "pipeline cache: out of host memory");
        memcpy(vk->pipeline_cache_path, path, len);
        file = read_file(path, &file_size);
        const char* why = file ? check_file(vk, file, file_size) : "absent or unreadable";
        if (why) {
            snprintf(st->cache_file_status, sizeof st->cache_file_status, "not loaded: %s", why);
            vkbn__log(vk->ctx, VKBN_LOG_INFO, "vkbn: pipeline cache %s %s; starting empty", path, why);
            vkbn__free(file);
            file = NULL;
        } else {
            st->cache_file_loaded = 1;
            st->cache_file_bytes = file_size - sizeof(file_header);
            snprintf(st->cache_file_status, sizeof st->cache_file_status, "loaded");
        }
    }
    VkPipelineCacheCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                     .initialDataSize = file ? file_size - sizeof(file_header) : 0,
                                     .pInitialData = file ? file + sizeof(file_header) : NULL};
    VkResult vr = vk->d.vkCreatePipelineCache(vk->device, &cci, vk->alloc, &vk->pipeline_cache);
    if (vr != VK_SUCCESS && file) {
        /* A driver may still refuse data it wrote itself: start empty. */
        snprintf(st->cache_file_status, sizeof st->cache_file_status, "not loaded: the driver refused it (%s)",
                 vkbn__vk_result_name(vr));
        st->cache_file_loaded = 0;
        st->cache_file_bytes = 0;
        cci.initialDataSize = 0;
        cci.pInitialData = NULL;
        vr = vk->d.vkCreatePipelineCache(vk->device, &cci, vk->alloc, &vk->pipeline_cache);
    }
    vkbn__free(file);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, "vkCreatePipelineCache");
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_cache_save(struct vkbn__vk* vk) {
    if (!vk->own_pipeline_cache || !vk->pipeline_cache_path) {
        return vkbn__fail(VKBN_ERROR_UNSUPPORTED, "ctx: no pipeline_cache_path was given at context creation");
    }
    vkbn__mutex_lock(&vk->pipeline_lock);
    size_t n = 0;
    uint8_t* data = NULL;
    VkResult vr = vk->d.vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &n, NULL);
    if (vr == VK_SUCCESS) {
        data = vkbn__calloc(n ? n : 1, 1);
        vr =
            data ? vk->d.vkGetPipelineCacheData(vk->device, vk->pipeline_cache, &n, data) : VK_ERROR_OUT_OF_HOST_MEMORY;
    }
    vkbn__mutex_unlock(&vk->pipeline_lock);
    if (vr != VK_SUCCESS) {
        vkbn__free(data);
        return vkbn__fail_vk(vr, "vkGetPipelineCacheData");
    }
    file_header h;
    expected_header(vk, &h);
    h.data_size = n;
    h.data_hash = fnv1a(0xcbf29ce484222325ull, data, n);
    /* Write a temporary file and rename it over the old one, so a reader
     * never sees half a file (and a crash leaves the old one). */
    const char* path = vk->pipeline_cache_path;
    size_t tmp_len = strlen(path) + 48;
    char* tmp = vkbn__calloc(tmp_len, 1);
    vkbn_result r = VKBN_SUCCESS;
    FILE* f = NULL;
    if (!tmp) {
        r = vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "saving the pipeline cache: out of host memory");
    } else {
        snprintf(tmp, tmp_len, "%s.%lx.tmp", path, (unsigned long)((uintptr_t)vk ^ (uintptr_t)time(NULL)));
        f = fopen(tmp, "wb");
        if (!f) r = vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->pipeline_cache_path: cannot write %s", tmp);
    }
    if (f) {
        bool ok = fwrite(&h, sizeof h, 1, f) == 1 && (n == 0 || fwrite(data, n, 1, f) == 1);
        ok = (fclose(f) == 0) && ok;
#if defined(_WIN32)
        if (ok) remove(path); /* rename does not replace on Windows */
#endif
        if (!ok || rename(tmp, path) != 0) {
            remove(tmp);
            r = vkbn__fail(VKBN_ERROR_INVALID_ARGUMENT, "desc->pipeline_cache_path: cannot write %s", path);
        }
    }
    vkbn__free(tmp);
    vkbn__free(data);
    return r;
}

void vkbn__vk_cache_destroy(struct vkbn__vk* vk) {
    if (vk->own_pipeline_cache && vk->pipeline_cache) {
        if (vk->pipeline_cache_path && vkbn__vk_cache_save(vk) != VKBN_SUCCESS) {
            vkbn__log(vk->ctx, VKBN_LOG_WARNING, "vkbn: could not save the pipeline cache: %s", vkbn_last_error());
        }
        vk->d.vkDestroyPipelineCache(vk->device, vk->pipeline_cache, vk->alloc);
    }
    vk->pipeline_cache = VK_NULL_HANDLE;
    vkbn__free(vk->pipeline_cache_path);
    vk->pipeline_cache_path = NULL;
}
