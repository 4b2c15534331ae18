/* Device memory for vkbn's own buffers (vkbn_buffer_create, plan scratch,
 * staging, the placeholder): small buffers share blocks, large ones get
 * their own VkDeviceMemory. Borrowed memory (vkbn_buffer_wrap, the caller's
 * scratch) never comes here.
 *
 * Why blocks: a VkDeviceMemory per buffer costs an OS/driver allocation and
 * at least one page-table granule (64 KiB to 2 MiB on discrete GPUs) for a
 * per-channel vector of a few hundred bytes, and many drivers cap the count
 * at 4096 (maxMemoryAllocationCount) for the whole process, the engine's own
 * allocations included. Why not VMA: docs/ARCHITECTURE.md, "Dependencies".
 *
 * Threshold: a buffer whose memory requirement is at most VKBN__SUBALLOC_MAX
 * (1 MiB) goes into a block: per-channel vectors (4 C bytes), scratch
 * (partials and counters: kilobytes to a few hundred KiB), the placeholder,
 * small tensors. 1 MiB is where the validation layer's best practices stop
 * calling a dedicated allocation small, and a full-size (16 MiB) block still
 * holds at least 16 such buffers. Larger buffers (tensors) keep a
 * dedicated allocation: sharing would save nothing in allocation count that
 * matters and would let one long-lived tensor pin a block. A buffer the
 * driver requires dedicated always gets one; where the driver prefers or
 * requires it, the allocation names its buffer (VkMemoryDedicatedAllocateInfo).
 *
 * Blocks: one per VkDeviceMemory, of one memory type and one priority (a
 * pool is the blocks of one such pair). A pool's first block is 2 MiB,
 * each further one twice the last up to 16 MiB (VMA's defaults are 256 MiB
 * for large heaps; vkbn's small buffers add up to kilobytes per plan, so a
 * context rarely needs a second block and 2 MiB wastes little), never over
 * an eighth of the heap or the largest allocation. Free space is a sorted
 * list of ranges per block (best fit, merged with its neighbours when a
 * buffer goes); a block left empty is freed at once. Host-visible blocks are
 * mapped once, when created.
 *
 * Alignment inside a block: the buffer's VkMemoryRequirements.alignment,
 * raised to minStorageBufferOffsetAlignment (every buffer here is a storage
 * buffer or could be bound as one) and, in host-visible memory that is not
 * coherent, to nonCoherentAtomSize with sizes rounded up likewise, so that a
 * flush or invalidate of one buffer never touches its neighbours' bytes.
 * vkbn creates no images, so bufferImageGranularity does not apply.
 *
 * Memory priority (VK_EXT_memory_priority, when enabled; 0 leaves device
 * memory first when it runs short, 1 last; untagged allocations count as
 * 0.5):
 *   1.0  small buffers in blocks (per-channel vectors, scratch, the
 *        placeholder, small tensors) and dedicated scratch: read or written
 *        by every dispatch of every run; demoting them frees little and puts
 *        system-memory latency on every run's critical path.
 *   0.5  dedicated vkbn buffers (tensors over 1 MiB): the default, the same
 *        as the engine's own untagged allocations; vkbn cannot tell its
 *        tensors from the engine's other activations and weights, so it
 *        claims no precedence over them.
 *   0.0  staging (in a block or not): host-visible memory touched only by
 *        uploads and downloads.
 *
 * Thread safety: the block list and the free lists are changed under
 * vk->memory_lock (plans and buffers are created and destroyed from any
 * thread); dedicated allocations take no lock. */
#include <string.h>

#include "../core/errors.h"
#include "vk_internal.h"

/* ---- The free list of one block ---------------------------------------- */

/* Free ranges are never adjacent, so an allocation separates any two of
 * them: count <= live + 1. Capacity >= live + 2 before an allocation keeps
 * it >= live + 1 after, which is what a release needs: releasing never
 * allocates, so it cannot fail. */
static bool reserve(vkbn__free_list* l) {
    if (l->capacity >= l->live + 2) return true;
    uint32_t cap = l->capacity ? l->capacity : 8;
    while (cap < l->live + 2) cap *= 2;
    vkbn__free_range* r = vkbn__calloc(cap, sizeof *r);
    if (!r) return false;
    if (l->count) memcpy(r, l->ranges, l->count * sizeof *r);
    vkbn__free(l->ranges);
    l->ranges = r;
    l->capacity = cap;
    return true;
}

bool vkbn__free_list_init(vkbn__free_list* l, uint64_t size) {
    memset(l, 0, sizeof *l);
    l->size = size;
    if (!reserve(l)) return false;
    l->ranges[0] = (vkbn__free_range){0, size};
    l->count = 1;
    return true;
}

void vkbn__free_list_destroy(vkbn__free_list* l) {
    vkbn__free(l->ranges);
    memset(l, 0, sizeof *l);
}

vkbn__fit vkbn__free_list_alloc(vkbn__free_list* l, uint64_t size, uint64_t align, uint64_t* offset) {
    if (size == 0 || size > l->size || align == 0 || (align & (align - 1)) != 0) return VKBN__FIT_NO_ROOM;
    uint32_t best = UINT32_MAX;
    uint64_t best_start = 0, best_waste = UINT64_MAX;
    for (uint32_t i = 0; i < l->count; ++i) {
        const vkbn__free_range* r = &l->ranges[i];
        uint64_t start = (r->offset + align - 1) & ~(align - 1);
        uint64_t end = r->offset + r->size;
        if (start >= end || end - start < size) continue;
        if (r->size - size < best_waste) {
            best = i;
            best_start = start;
            best_waste = r->size - size;
        }
    }
    if (best == UINT32_MAX) return VKBN__FIT_NO_ROOM;
    if (!reserve(l)) return VKBN__FIT_NO_HOST_MEMORY;
    vkbn__free_range* r = &l->ranges[best];
    uint64_t pad = best_start - r->offset;
    uint64_t tail = r->offset + r->size - (best_start + size);
    if (pad && tail) {
        memmove(r + 2, r + 1, (l->count - best - 1) * sizeof *r);
        r[1] = (vkbn__free_range){best_start + size, tail};
        r->size = pad;
        l->count++;
    } else if (pad) {
        r->size = pad;
    } else if (tail) {
        r->offset = best_start + size;
        r->size = tail;
    } else {
        memmove(r, r + 1, (l->count - best - 1) * sizeof *r);
        l->count--;
    }
    l->used += size;
    l->live++;
    *offset = best_start;
    return VKBN__FIT_OK;
}

void vkbn__free_list_release(vkbn__free_list* l, uint64_t offset, uint64_t size) {
    uint32_t i = 0;
    while (i < l->count && l->ranges[i].offset < offset) ++i;
    bool prev = i > 0 && l->ranges[i - 1].offset + l->ranges[i - 1].size == offset;
    bool next = i < l->count && offset + size == l->ranges[i].offset;
    if (prev && next) {
        l->ranges[i - 1].size += size + l->ranges[i].size;
        memmove(&l->ranges[i], &l->ranges[i + 1], (l->count - i - 1) * sizeof *l->ranges);
        l->count--;
    } else if (prev) {
        l->ranges[i - 1].size += size;
    } else if (next) {
        l->ranges[i].offset = offset;
        l->ranges[i].size += size;
    } else if (l->count < l->capacity) { /* always (see reserve) */
        memmove(&l->ranges[i + 1], &l->ranges[i], (l->count - i) * sizeof *l->ranges);
        l->ranges[i] = (vkbn__free_range){offset, size};
        l->count++;
    }
    l->used -= size;
    l->live--;
}

/* ---- Vulkan memory ----------------------------------------------------- */

static float priority_of(vkbn__mem_use use, bool dedicated) {
    if (use == VKBN__MEM_STAGING) return 0.0f;
    if (use == VKBN__MEM_BUFFER && dedicated) return 0.5f;
    return 1.0f;
}

/* dedicated_buffer: the buffer a dedicated allocation is for, or VK_NULL_HANDLE. */
static VkResult allocate_memory(struct vkbn__vk* vk, uint64_t size, uint32_t type, float priority,
                                VkBuffer dedicated_buffer, VkDeviceMemory* out) {
    const void* next = NULL;
    VkMemoryPriorityAllocateInfoEXT prio = {.sType = VK_STRUCTURE_TYPE_MEMORY_PRIORITY_ALLOCATE_INFO_EXT,
                                            .priority = priority};
    if (vk->caps.memory_priority) {
        prio.pNext = next;
        next = &prio;
    }
    VkMemoryDedicatedAllocateInfo ded = {.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO,
                                         .buffer = dedicated_buffer};
    if (dedicated_buffer) {
        ded.pNext = next;
        next = &ded;
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .pNext = next,
                                .allocationSize = size,
                                .memoryTypeIndex = type};
    *out = VK_NULL_HANDLE;
    return vk->d.vkAllocateMemory(vk->device, &mai, vk->alloc, out);
}

static bool host_visible(const struct vkbn__vk* vk, uint32_t type) {
    return (vk->caps.mem.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) != 0;
}

static bool coherent(const struct vkbn__vk* vk, uint32_t type) {
    return !host_visible(vk, type) ||
           (vk->caps.mem.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
}

static vkbn_result alloc_dedicated(struct vkbn__vk* vk, const VkMemoryRequirements* req, uint32_t type, float priority,
                                   VkBuffer name_buffer, vkbn__allocation* a, const char* what) {
    VkResult vr = allocate_memory(vk, req->size, type, priority, name_buffer, &a->memory);
    if (vr != VK_SUCCESS) return vkbn__fail_vk(vr, what);
    a->offset = 0;
    a->size = req->size;
    a->coherent = coherent(vk, type);
    if (host_visible(vk, type)) {
        void* p = NULL;
        vr = vk->d.vkMapMemory(vk->device, a->memory, 0, VK_WHOLE_SIZE, 0, &p);
        if (vr != VK_SUCCESS) {
            vk->d.vkFreeMemory(vk->device, a->memory, vk->alloc);
            a->memory = VK_NULL_HANDLE;
            return vkbn__fail_vk(vr, what);
        }
        a->mapped = p;
    }
    return VKBN_SUCCESS;
}

/* The size of a new block in the pool (type, priority): 2 MiB doubling per
 * block the pool holds, up to 16 MiB; at most an eighth of the heap and the
 * largest allocation; at least `need`. Caller holds memory_lock. */
static uint64_t next_block_size(const struct vkbn__vk* vk, uint32_t type, float priority, uint64_t need,
                                uint64_t align) {
    uint32_t n = 0;
    for (const vkbn__mem_block* b = vk->blocks; b; b = b->next) n += b->type == type && b->priority == priority;
    uint64_t size = VKBN__BLOCK_MIN;
    while (n-- > 0 && size < VKBN__BLOCK_MAX) size *= 2;
    uint64_t heap = vk->caps.mem.memoryHeaps[vk->caps.mem.memoryTypes[type].heapIndex].size;
    if (heap / 8 < size) size = heap / 8;
    if (vk->caps.max_alloc < size) size = vk->caps.max_alloc;
    size = size / align * align;
    return size < need ? need : size;
}

/* Makes a block for (type, priority), maps it if host-visible and links it
 * in; caller holds memory_lock. */
static VkResult new_block(struct vkbn__vk* vk, uint64_t size, uint32_t type, float priority, vkbn__mem_block** out) {
    *out = NULL;
    vkbn__mem_block* b = vkbn__calloc(1, sizeof *b);
    if (!b || !vkbn__free_list_init(&b->free, size)) {
        vkbn__free(b);
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    }
    b->type = type;
    b->priority = priority;
    VkResult vr = allocate_memory(vk, size, type, priority, VK_NULL_HANDLE, &b->memory);
    if (vr == VK_SUCCESS && host_visible(vk, type)) {
        void* p = NULL;
        vr = vk->d.vkMapMemory(vk->device, b->memory, 0, VK_WHOLE_SIZE, 0, &p);
        b->mapped = p;
    }
    if (vr != VK_SUCCESS) {
        if (b->memory) vk->d.vkFreeMemory(vk->device, b->memory, vk->alloc);
        vkbn__free_list_destroy(&b->free);
        vkbn__free(b);
        return vr;
    }
    b->next = vk->blocks;
    vk->blocks = b;
    *out = b;
    return VK_SUCCESS;
}

/* Places the buffer in a block of its pool, making one if none has room.
 * *fallback: the block could not be made for lack of device memory (the
 * caller tries a dedicated allocation of the buffer's own size). */
static vkbn_result alloc_in_block(struct vkbn__vk* vk, const VkMemoryRequirements* req, uint32_t type, float priority,
                                  vkbn__allocation* a, bool* fallback, const char* what) {
    *fallback = false;
    uint64_t align = req->alignment ? req->alignment : 1;
    if (align < vk->caps.min_sboa) align = vk->caps.min_sboa;
    bool is_coherent = coherent(vk, type);
    uint64_t atom = vk->caps.props.limits.nonCoherentAtomSize;
    if (!is_coherent && align < atom) align = atom;
    if (align & (align - 1))
        return vkbn__fail(VKBN_ERROR_VULKAN, "%s: alignment %llu is not a power of two", what,
                          (unsigned long long)align);
    uint64_t size = vkbn__align_up(req->size, align);
    vkbn__mutex_lock(&vk->memory_lock);
    vkbn__mem_block* found = NULL;
    uint64_t offset = 0;
    for (vkbn__mem_block* b = vk->blocks; b && !found; b = b->next) {
        if (b->type != type || b->priority != priority) continue;
        vkbn__fit fit = vkbn__free_list_alloc(&b->free, size, align, &offset);
        if (fit == VKBN__FIT_NO_HOST_MEMORY) {
            vkbn__mutex_unlock(&vk->memory_lock);
            return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", what);
        }
        if (fit == VKBN__FIT_OK) found = b;
    }
    if (!found) {
        VkResult vr = new_block(vk, next_block_size(vk, type, priority, size, align), type, priority, &found);
        if (vr == VK_SUCCESS && vkbn__free_list_alloc(&found->free, size, align, &offset) != VKBN__FIT_OK) {
            vr = VK_ERROR_OUT_OF_HOST_MEMORY; /* a fresh block holds `size` at offset 0: host memory ran out */
        }
        if (vr != VK_SUCCESS) {
            vkbn__mutex_unlock(&vk->memory_lock);
            if (vr == VK_ERROR_OUT_OF_DEVICE_MEMORY) {
                *fallback = true;
                return VKBN_SUCCESS;
            }
            return vkbn__fail_vk(vr, what);
        }
    }
    a->memory = found->memory;
    a->offset = offset;
    a->size = size;
    a->mapped = found->mapped ? found->mapped + offset : NULL;
    a->coherent = is_coherent;
    a->block = found;
    vkbn__mutex_unlock(&vk->memory_lock);
    return VKBN_SUCCESS;
}

static void free_allocation(struct vkbn__vk* vk, vkbn__allocation* a) {
    if (!a->block) {
        if (a->memory) {
            if (a->mapped) vk->d.vkUnmapMemory(vk->device, a->memory);
            vk->d.vkFreeMemory(vk->device, a->memory, vk->alloc);
        }
        return;
    }
    vkbn__mem_block* empty = NULL;
    vkbn__mutex_lock(&vk->memory_lock);
    vkbn__free_list_release(&a->block->free, a->offset, a->size);
    if (a->block->free.live == 0) {
        for (vkbn__mem_block** p = &vk->blocks; *p; p = &(*p)->next) {
            if (*p == a->block) {
                *p = a->block->next;
                empty = a->block;
                break;
            }
        }
    }
    vkbn__mutex_unlock(&vk->memory_lock);
    if (empty) {
        if (empty->mapped) vk->d.vkUnmapMemory(vk->device, empty->memory);
        vk->d.vkFreeMemory(vk->device, empty->memory, vk->alloc);
        vkbn__free_list_destroy(&empty->free);
        vkbn__free(empty);
    }
}

vkbn_result vkbn__vk_create_buffer(struct vkbn__vk* vk, uint64_t size, uint32_t memory_type, VkBufferUsageFlags usage,
                                   vkbn__mem_use use, VkBuffer* buffer, vkbn__allocation** allocation,
                                   const char* what) {
    *buffer = VK_NULL_HANDLE;
    *allocation = NULL;
    vkbn__allocation* a = vkbn__calloc(1, sizeof *a);
    if (!a) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", what);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = usage,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult vr = vk->d.vkCreateBuffer(vk->device, &bci, vk->alloc, buffer);
    if (vr != VK_SUCCESS) {
        *buffer = VK_NULL_HANDLE;
        vkbn__free(a);
        return vkbn__fail_vk(vr, what);
    }
    VkMemoryDedicatedRequirements dr = {.sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS};
    VkMemoryRequirements2 req2 = {.sType = VK_STRUCTURE_TYPE_MEMORY_REQUIREMENTS_2, .pNext = &dr};
    VkBufferMemoryRequirementsInfo2 ri = {.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_REQUIREMENTS_INFO_2,
                                          .buffer = *buffer};
    if (vk->d.vkGetBufferMemoryRequirements2) {
        vk->d.vkGetBufferMemoryRequirements2(vk->device, &ri, &req2);
    } else { /* core 1.1, but a loader may not hand it out: no dedicated hints then */
        vk->d.vkGetBufferMemoryRequirements(vk->device, *buffer, &req2.memoryRequirements);
    }
    const VkMemoryRequirements* req = &req2.memoryRequirements;
    int32_t type = (int32_t)memory_type;
    if (!(req->memoryTypeBits & (1u << memory_type))) {
        type = vkbn__vk_find_memory_type(&vk->caps.mem, req->memoryTypeBits,
                                         vk->caps.mem.memoryTypes[memory_type].propertyFlags, 0);
    }
    vkbn_result r = VKBN_SUCCESS;
    if (type < 0) r = vkbn__fail(VKBN_ERROR_VULKAN, "%s: no memory type fits the buffer", what);
    bool dedicated = req->size > VKBN__SUBALLOC_MAX || dr.requiresDedicatedAllocation;
    if (r == VKBN_SUCCESS && !dedicated) {
        bool fallback = false;
        r = alloc_in_block(vk, req, (uint32_t)type, priority_of(use, false), a, &fallback, what);
        dedicated = fallback; /* no device memory for a new block: try the buffer's own size */
    }
    if (r == VKBN_SUCCESS && dedicated) {
        bool name = dr.prefersDedicatedAllocation || dr.requiresDedicatedAllocation;
        r = alloc_dedicated(vk, req, (uint32_t)type, priority_of(use, true), name ? *buffer : VK_NULL_HANDLE, a, what);
    }
    if (r == VKBN_SUCCESS) {
        vr = vk->d.vkBindBufferMemory(vk->device, *buffer, a->memory, a->offset);
        if (vr != VK_SUCCESS) {
            free_allocation(vk, a);
            r = vkbn__fail_vk(vr, what);
        }
    }
    if (r != VKBN_SUCCESS) {
        vk->d.vkDestroyBuffer(vk->device, *buffer, vk->alloc);
        *buffer = VK_NULL_HANDLE;
        vkbn__free(a);
        return r;
    }
    *allocation = a;
    return VKBN_SUCCESS;
}

void vkbn__vk_destroy_buffer(struct vkbn__vk* vk, VkBuffer buffer, vkbn__allocation* allocation) {
    if (buffer) vk->d.vkDestroyBuffer(vk->device, buffer, vk->alloc);
    if (!allocation) return;
    free_allocation(vk, allocation);
    vkbn__free(allocation);
}

void vkbn__vk_memory_flush(struct vkbn__vk* vk, const vkbn__allocation* a, bool flush) {
    if (!a || a->coherent || !a->mapped) return;
    /* Block ranges are aligned and sized in whole non-coherent atoms. */
    VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                             .memory = a->memory,
                             .offset = a->block ? a->offset : 0,
                             .size = a->block ? a->size : VK_WHOLE_SIZE};
    if (flush) {
        vk->d.vkFlushMappedMemoryRanges(vk->device, 1, &r);
    } else {
        vk->d.vkInvalidateMappedMemoryRanges(vk->device, 1, &r);
    }
}

void vkbn__vk_memory_destroy(struct vkbn__vk* vk) {
    /* Only blocks of buffers the caller never destroyed are left. */
    while (vk->blocks) {
        vkbn__mem_block* b = vk->blocks;
        vk->blocks = b->next;
        if (b->mapped) vk->d.vkUnmapMemory(vk->device, b->memory);
        vk->d.vkFreeMemory(vk->device, b->memory, vk->alloc);
        vkbn__free_list_destroy(&b->free);
        vkbn__free(b);
    }
}

uint32_t vkbn__vk_memory_block_count(struct vkbn__vk* vk) {
    uint32_t n = 0;
    vkbn__mutex_lock(&vk->memory_lock);
    for (const vkbn__mem_block* b = vk->blocks; b; b = b->next) ++n;
    vkbn__mutex_unlock(&vk->memory_lock);
    return n;
}
