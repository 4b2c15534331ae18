/* Device buffers: owned ones are mapped directly where memory is unified,
 * everything else moves through a staging buffer in chunks. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

#define STAGING_CHUNK (64ull << 20)
#define STAGING_MIN (64ull << 10)

static const VkBufferUsageFlags buffer_usage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

/* A buffer's root identity (vkbn_buffer_T.root): its VkBuffer handle. */
static uint64_t root_of(VkBuffer buffer) {
    uint64_t id = 0;
    memcpy(&id, &buffer, sizeof buffer < sizeof id ? sizeof buffer : sizeof id);
    return id;
}

vkbn_result vkbn__vk_buffer_create(vkbn_context ctx, uint64_t size, vkbn_buffer buf) {
    struct vkbn__vk* vk = vkbn__vk_of(ctx);
    /* Round up so that whole-vector loads at the end stay inside the buffer. */
    uint64_t alloc_size = vkbn__align_up(size, 16);
    buf->root_end = alloc_size;
    if (size > vk->caps.max_alloc) {
        return vkbn__fail(VKBN_ERROR_TOO_LARGE, "size: %llu bytes exceeds the device's largest allocation (%llu)",
                          (unsigned long long)size, (unsigned long long)vk->caps.max_alloc);
    }
    if (vk->profile) {
        /* Plans only: a size and an identity, no memory. */
        vkbn__mutex_lock(&vk->memory_lock);
        buf->root = ++vk->next_buffer_id;
        vkbn__mutex_unlock(&vk->memory_lock);
        return VKBN_SUCCESS;
    }
    VKBN_CHECK(vkbn__vk_create_buffer(vk, alloc_size, vk->buffer_memory_type, buffer_usage, VKBN__MEM_BUFFER,
                                      &buf->vk_buffer, &buf->vk_allocation, "vkbn_buffer_create"));
    /* Host-visible memory is mapped by the allocator; only unified memory is
     * written directly (choose_buffer_memory). */
    if (vk->buffer_mappable) buf->mapped = buf->vk_allocation->mapped;
    buf->root = root_of(buf->vk_buffer);
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_buffer_wrap(vkbn_context ctx, VkBuffer buffer, uint64_t offset, uint64_t size, vkbn_buffer buf) {
    struct vkbn__vk* vk = vkbn__vk_of(ctx);
    if (vk->profile) return vkbn__vk_profile_unsupported(vk, "vkbn_buffer_wrap");
    /* Vulkan cannot tell a VkBuffer's size; its memory requirements are at
     * least that size, so a range past them is certainly outside it. */
    VkMemoryRequirements req;
    vk->d.vkGetBufferMemoryRequirements(vk->device, buffer, &req);
    if (offset > req.size || size > req.size - offset) {
        return vkbn__fail(VKBN_ERROR_BUFFER_TOO_SMALL,
                          "size: [%llu, %llu) is outside the VkBuffer (at most %llu bytes per its memory requirements)",
                          (unsigned long long)offset, (unsigned long long)(offset + size),
                          (unsigned long long)req.size);
    }
    buf->vk_buffer = buffer;
    buf->root = root_of(buffer);
    buf->root_end = offset + size;
    return VKBN_SUCCESS;
}

void vkbn__vk_buffer_destroy(vkbn_buffer buf) {
    struct vkbn__vk* vk = vkbn__vk_of(buf->ctx);
    if (buf->kind != VKBN__BUFFER_OWNED || vk->profile) return;
    vkbn__vk_destroy_buffer(vk, buf->vk_buffer, buf->vk_allocation);
    buf->vk_buffer = VK_NULL_HANDLE;
    buf->vk_allocation = NULL;
    buf->mapped = NULL;
}

/* The staging buffer grows to the largest chunk needed (from STAGING_MIN, so
 * that small transfers do not regrow it); caller holds submit_lock. */
static vkbn_result ensure_staging(struct vkbn__vk* vk, uint64_t size) {
    if (size < STAGING_MIN) size = STAGING_MIN;
    if (vk->staging_size >= size) return VKBN_SUCCESS;
    if (vk->staging) {
        vkbn__vk_destroy_buffer(vk, vk->staging, vk->staging_allocation);
        vk->staging = VK_NULL_HANDLE;
        vk->staging_allocation = NULL;
        vk->staging_map = NULL;
        vk->staging_size = 0;
    }
    int32_t type = vkbn__vk_find_memory_type(&vk->caps.mem, ~0u, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                             VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0) return vkbn__fail(VKBN_ERROR_UNSUPPORTED_DEVICE, "the device has no host-visible memory");
    VKBN_CHECK(vkbn__vk_create_buffer(
        vk, size, (uint32_t)type, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        VKBN__MEM_STAGING, &vk->staging, &vk->staging_allocation, "creating the staging buffer"));
    vk->staging_map = vk->staging_allocation->mapped;
    vk->staging_size = size;
    return VKBN_SUCCESS;
}

/* Copies through staging in chunks; to_device selects the direction. */
static vkbn_result staged_copy(vkbn_buffer buf, uint64_t offset, uint8_t* host, uint64_t size, bool to_device) {
    struct vkbn__vk* vk = vkbn__vk_of(buf->ctx);
    uint64_t chunk = size < STAGING_CHUNK ? size : STAGING_CHUNK;
    for (uint64_t done = 0; done < size; done += chunk) {
        uint64_t n = size - done < chunk ? size - done : chunk;
        VKBN_CHECK(vkbn__vk_begin(vk));
        vkbn_result r = ensure_staging(vk, vkbn__align_up(chunk, 16));
        if (r != VKBN_SUCCESS) {
            vkbn__vk_abort(vk);
            return r;
        }
        if (to_device) {
            memcpy(vk->staging_map, host + done, n);
            vkbn__vk_memory_flush(vk, vk->staging_allocation, true);
        }
        VkBufferCopy region = {.srcOffset = to_device ? 0 : buf->offset + offset + done,
                               .dstOffset = to_device ? buf->offset + offset + done : 0,
                               .size = n};
        if (to_device) {
            vk->d.vkCmdCopyBuffer(vk->cmd, vk->staging, buf->vk_buffer, 1, &region);
        } else {
            vk->d.vkCmdCopyBuffer(vk->cmd, buf->vk_buffer, vk->staging, 1, &region);
            VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                  .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                  .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
            vk->d.vkCmdPipelineBarrier(vk->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb,
                                       0, NULL, 0, NULL);
        }
        /* Keep the staging buffer locked until the host has read it back. */
        VkResult vr = vk->d.vkEndCommandBuffer(vk->cmd);
        if (vr == VK_SUCCESS) vr = vk->d.vkResetFences(vk->device, 1, &vk->fence);
        if (vr == VK_SUCCESS) vr = vkbn__vk_submit_locked(vk);
        if (vr == VK_SUCCESS && !to_device) {
            vkbn__vk_memory_flush(vk, vk->staging_allocation, false);
            memcpy(host + done, vk->staging_map, n);
        }
        vkbn__mutex_unlock(&vk->submit_lock);
        if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, to_device ? "vkbn_buffer_upload" : "vkbn_buffer_download");
    }
    return VKBN_SUCCESS;
}

vkbn_result vkbn__vk_buffer_upload(vkbn_buffer buf, uint64_t offset, const void* src, uint64_t size) {
    struct vkbn__vk* vk = vkbn__vk_of(buf->ctx);
    if (vk->profile) return vkbn__vk_profile_unsupported(vk, "vkbn_buffer_upload");
    if (buf->mapped) {
        /* Immediate-mode work has completed before any call returns, so the
         * device is not using this memory now. */
        memcpy(buf->mapped + buf->offset + offset, src, size);
        vkbn__vk_memory_flush(vk, buf->vk_allocation, true);
        return VKBN_SUCCESS;
    }
    return staged_copy(buf, offset, (uint8_t*)src, size, true);
}

vkbn_result vkbn__vk_buffer_download(vkbn_buffer buf, uint64_t offset, void* dst, uint64_t size) {
    struct vkbn__vk* vk = vkbn__vk_of(buf->ctx);
    if (vk->profile) return vkbn__vk_profile_unsupported(vk, "vkbn_buffer_download");
    if (buf->mapped) {
        vkbn__vk_memory_flush(vk, buf->vk_allocation, false);
        memcpy(dst, buf->mapped + buf->offset + offset, size);
        return VKBN_SUCCESS;
    }
    return staged_copy(buf, offset, dst, size, false);
}
