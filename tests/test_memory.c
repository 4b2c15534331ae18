/* The device-memory allocator (src/vulkan/vk_memory.c) on its own, with no
 * device: first its free list (alignment, best fit, reuse, coalescing,
 * invariants under a random workload), then the allocator over a fake
 * device table that records what Vulkan would be asked (block sizes and
 * release, dedicated allocations, memory priorities, non-coherent flushes,
 * threads, out-of-memory fallbacks). Lavapipe cannot show most of this: it
 * has no VK_EXT_memory_priority and one coherent memory type. Static builds
 * only (it calls the library's internal functions). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
/* After vk_internal.h, which sets VK_NO_PROTOTYPES before vkbn.h. */
#include "test_util.h"

/* ---- The free list ----------------------------------------------------- */

/* Sorted, disjoint, never adjacent, inside the block; free + used = size. */
static bool list_ok(const vkbn__free_list* l) {
    uint64_t free_bytes = 0;
    for (uint32_t i = 0; i < l->count; ++i) {
        const vkbn__free_range* r = &l->ranges[i];
        if (r->size == 0 || r->offset + r->size > l->size) return false;
        if (i > 0 && l->ranges[i - 1].offset + l->ranges[i - 1].size >= r->offset) return false;
        free_bytes += r->size;
    }
    return free_bytes + l->used == l->size && l->count <= l->live + 1 && l->capacity >= l->live + 1;
}

static void test_free_list_basics(void) {
    vkbn__free_list l;
    CHECK(vkbn__free_list_init(&l, 1024), "init");
    uint64_t a = 1, b = 1, c = 1, d = 1;
    CHECK(vkbn__free_list_alloc(&l, 100, 16, &a) == VKBN__FIT_OK && a == 0, "first at 0, got %llu",
          (unsigned long long)a);
    /* Aligned to 64: the padding [100, 128) stays free. */
    CHECK(vkbn__free_list_alloc(&l, 50, 64, &b) == VKBN__FIT_OK && b == 128, "aligned to 64 at 128, got %llu",
          (unsigned long long)b);
    CHECK(l.count == 2 && l.ranges[0].offset == 100 && l.ranges[0].size == 28, "padding kept free");
    /* Best fit: 16 bytes at 16 fit the padding (at 112), not the tail. */
    CHECK(vkbn__free_list_alloc(&l, 16, 16, &c) == VKBN__FIT_OK && c == 112, "best fit into the padding, got %llu",
          (unsigned long long)c);
    CHECK(list_ok(&l), "invariants after allocating");
    CHECK(vkbn__free_list_alloc(&l, 2000, 16, &d) == VKBN__FIT_NO_ROOM, "too large");
    CHECK(vkbn__free_list_alloc(&l, 10, 24, &d) == VKBN__FIT_NO_ROOM, "alignment not a power of two");
    CHECK(vkbn__free_list_alloc(&l, 0, 16, &d) == VKBN__FIT_NO_ROOM, "zero bytes");
    /* Reuse: what b held is handed out again. */
    vkbn__free_list_release(&l, b, 50);
    CHECK(vkbn__free_list_alloc(&l, 50, 64, &d) == VKBN__FIT_OK && d == b, "freed space reused, got %llu",
          (unsigned long long)d);
    /* Coalescing: freeing a, c and d leaves one range, the whole block. */
    vkbn__free_list_release(&l, a, 100);
    vkbn__free_list_release(&l, d, 50);
    CHECK(list_ok(&l), "invariants after releasing");
    vkbn__free_list_release(&l, c, 16);
    CHECK(l.count == 1 && l.ranges[0].offset == 0 && l.ranges[0].size == 1024 && l.live == 0 && l.used == 0,
          "everything merged back: %u ranges", l.count);
    /* The whole block in one piece, then nothing fits. */
    CHECK(vkbn__free_list_alloc(&l, 1024, 1024, &a) == VKBN__FIT_OK && a == 0 && l.count == 0, "whole block");
    CHECK(vkbn__free_list_alloc(&l, 1, 1, &b) == VKBN__FIT_NO_ROOM, "full block");
    vkbn__free_list_release(&l, a, 1024);
    CHECK(l.count == 1 && l.ranges[0].size == 1024, "empty again");
    vkbn__free_list_destroy(&l);
}

/* Random allocations and releases against a byte map of the block. */
static void test_free_list_random(void) {
    enum { SIZE = 1 << 16, SLOTS = 200 };
    static uint8_t owner[SIZE];
    memset(owner, 0, sizeof owner);
    struct {
        uint64_t offset, size;
        bool live;
    } slot[SLOTS];
    memset(slot, 0, sizeof slot);
    vkbn__free_list l;
    CHECK(vkbn__free_list_init(&l, SIZE), "init");
    uint32_t seed = 12345;
    int overlaps = 0, misaligned = 0, broken = 0, fits = 0;
    for (int step = 0; step < 20000; ++step) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t i = (seed >> 8) % SLOTS;
        if (slot[i].live) {
            for (uint64_t k = 0; k < slot[i].size; ++k) owner[slot[i].offset + k] = 0;
            vkbn__free_list_release(&l, slot[i].offset, slot[i].size);
            slot[i].live = false;
        } else {
            uint64_t size = 1 + (seed >> 20) % 1500;
            uint64_t align = 1ull << ((seed >> 4) % 9);
            uint64_t off = 0;
            if (vkbn__free_list_alloc(&l, size, align, &off) == VKBN__FIT_OK) {
                ++fits;
                misaligned += off % align != 0;
                for (uint64_t k = 0; k < size; ++k) {
                    overlaps += owner[off + k] != 0;
                    owner[off + k] = 1;
                }
                slot[i].offset = off;
                slot[i].size = size;
                slot[i].live = true;
            }
        }
        broken += !list_ok(&l);
    }
    CHECK(fits > 5000 && overlaps == 0 && misaligned == 0 && broken == 0,
          "random workload: %d fits, %d overlapping bytes, %d misaligned, %d broken states", fits, overlaps, misaligned,
          broken);
    for (uint32_t i = 0; i < SLOTS; ++i) {
        if (slot[i].live) vkbn__free_list_release(&l, slot[i].offset, slot[i].size);
    }
    CHECK(l.count == 1 && l.ranges[0].size == SIZE && l.used == 0, "all released: one range");
    vkbn__free_list_destroy(&l);
}

/* ---- A fake device ----------------------------------------------------- */

#define MAX_MEMS 256
#define MAX_BUFS 4096

typedef struct fake_memory {
    bool live;
    uint64_t size;
    uint32_t type;
    bool has_priority;
    float priority;
    VkBuffer dedicated; /* VkMemoryDedicatedAllocateInfo.buffer */
    uint8_t* host;
    bool mapped;
} fake_memory;

typedef struct fake_buffer {
    bool live;
    uint64_t size;
    uint64_t mem; /* index + 1 in g_mem, 0: unbound */
    uint64_t offset;
} fake_buffer;

static struct {
    vkbn__mutex lock;
    fake_memory mem[MAX_MEMS];
    fake_buffer buf[MAX_BUFS];
    uint32_t allocations;    /* vkAllocateMemory calls that succeeded */
    int fail_above;          /* vkAllocateMemory fails for sizes above this (-1: never) */
    uint64_t dedicated_size; /* buffers of this size report requiresDedicatedAllocation */
    uint64_t prefers_size;   /* ... and of this one prefersDedicatedAllocation */
    int bad_flushes;
    int flushes;
} g;

static uint64_t handle_index(const void* h) { return (uint64_t)(uintptr_t)h; }

static VKAPI_ATTR VkResult VKAPI_CALL fake_create_buffer(VkDevice d, const VkBufferCreateInfo* ci,
                                                         const VkAllocationCallbacks* a, VkBuffer* out) {
    (void)d, (void)a;
    vkbn__mutex_lock(&g.lock);
    for (uint64_t i = 0; i < MAX_BUFS; ++i) {
        if (!g.buf[i].live) {
            g.buf[i] = (fake_buffer){.live = true, .size = ci->size};
            *out = (VkBuffer)(uintptr_t)(i + 1);
            vkbn__mutex_unlock(&g.lock);
            return VK_SUCCESS;
        }
    }
    vkbn__mutex_unlock(&g.lock);
    return VK_ERROR_OUT_OF_HOST_MEMORY;
}

static VKAPI_ATTR void VKAPI_CALL fake_destroy_buffer(VkDevice d, VkBuffer b, const VkAllocationCallbacks* a) {
    (void)d, (void)a;
    vkbn__mutex_lock(&g.lock);
    g.buf[handle_index(b) - 1].live = false;
    vkbn__mutex_unlock(&g.lock);
}

/* Requirements: the size rounded up to 64, alignment 64, types 0 and 1. */
static VKAPI_ATTR void VKAPI_CALL fake_requirements2(VkDevice d, const VkBufferMemoryRequirementsInfo2* info,
                                                     VkMemoryRequirements2* out) {
    (void)d;
    vkbn__mutex_lock(&g.lock);
    uint64_t size = g.buf[handle_index(info->buffer) - 1].size;
    vkbn__mutex_unlock(&g.lock);
    out->memoryRequirements.size = (size + 63) / 64 * 64;
    out->memoryRequirements.alignment = 64;
    out->memoryRequirements.memoryTypeBits = 0x3;
    for (VkBaseOutStructure* s = out->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_MEMORY_DEDICATED_REQUIREMENTS) {
            VkMemoryDedicatedRequirements* dr = (VkMemoryDedicatedRequirements*)s;
            dr->requiresDedicatedAllocation = size == g.dedicated_size;
            dr->prefersDedicatedAllocation = size == g.dedicated_size || size == g.prefers_size;
        }
    }
}

static VKAPI_ATTR VkResult VKAPI_CALL fake_allocate(VkDevice d, const VkMemoryAllocateInfo* ai,
                                                    const VkAllocationCallbacks* a, VkDeviceMemory* out) {
    (void)d, (void)a;
    if (g.fail_above >= 0 && ai->allocationSize > (uint64_t)g.fail_above) return VK_ERROR_OUT_OF_DEVICE_MEMORY;
    fake_memory m = {.live = true, .size = ai->allocationSize, .type = ai->memoryTypeIndex};
    for (const VkBaseInStructure* s = ai->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_MEMORY_PRIORITY_ALLOCATE_INFO_EXT) {
            m.has_priority = true;
            m.priority = ((const VkMemoryPriorityAllocateInfoEXT*)s)->priority;
        } else if (s->sType == VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO) {
            m.dedicated = ((const VkMemoryDedicatedAllocateInfo*)s)->buffer;
        }
    }
    vkbn__mutex_lock(&g.lock);
    for (uint64_t i = 0; i < MAX_MEMS; ++i) {
        if (!g.mem[i].live) {
            g.mem[i] = m;
            g.allocations++;
            *out = (VkDeviceMemory)(uintptr_t)(i + 1);
            vkbn__mutex_unlock(&g.lock);
            return VK_SUCCESS;
        }
    }
    vkbn__mutex_unlock(&g.lock);
    return VK_ERROR_TOO_MANY_OBJECTS;
}

static VKAPI_ATTR void VKAPI_CALL fake_free(VkDevice d, VkDeviceMemory mem, const VkAllocationCallbacks* a) {
    (void)d, (void)a;
    vkbn__mutex_lock(&g.lock);
    fake_memory* m = &g.mem[handle_index(mem) - 1];
    free(m->host);
    memset(m, 0, sizeof *m);
    vkbn__mutex_unlock(&g.lock);
}

static VKAPI_ATTR VkResult VKAPI_CALL fake_map(VkDevice d, VkDeviceMemory mem, VkDeviceSize offset, VkDeviceSize size,
                                               VkMemoryMapFlags flags, void** out) {
    (void)d, (void)offset, (void)size, (void)flags;
    vkbn__mutex_lock(&g.lock);
    fake_memory* m = &g.mem[handle_index(mem) - 1];
    VkResult vr = VK_ERROR_MEMORY_MAP_FAILED;
    if (!m->mapped) {
        m->host = calloc(1, m->size);
        m->mapped = m->host != NULL;
        *out = m->host;
        vr = m->host ? VK_SUCCESS : VK_ERROR_MEMORY_MAP_FAILED;
    }
    vkbn__mutex_unlock(&g.lock);
    return vr;
}

static VKAPI_ATTR void VKAPI_CALL fake_unmap(VkDevice d, VkDeviceMemory mem) {
    (void)d;
    vkbn__mutex_lock(&g.lock);
    g.mem[handle_index(mem) - 1].mapped = false;
    vkbn__mutex_unlock(&g.lock);
}

static VKAPI_ATTR VkResult VKAPI_CALL fake_bind(VkDevice d, VkBuffer b, VkDeviceMemory mem, VkDeviceSize offset) {
    (void)d;
    vkbn__mutex_lock(&g.lock);
    fake_buffer* fb = &g.buf[handle_index(b) - 1];
    fb->mem = handle_index(mem);
    fb->offset = offset;
    vkbn__mutex_unlock(&g.lock);
    return VK_SUCCESS;
}

/* Ranges of non-coherent memory: whole atoms (128 here) or to the end. */
static VKAPI_ATTR VkResult VKAPI_CALL fake_flush(VkDevice d, uint32_t n, const VkMappedMemoryRange* r) {
    (void)d;
    vkbn__mutex_lock(&g.lock);
    for (uint32_t i = 0; i < n; ++i) {
        const fake_memory* m = &g.mem[handle_index(r[i].memory) - 1];
        bool to_end = r[i].size == VK_WHOLE_SIZE || r[i].offset + r[i].size == m->size;
        g.bad_flushes += r[i].offset % 128 != 0 || (!to_end && r[i].size % 128 != 0) || !m->mapped;
        g.flushes++;
    }
    vkbn__mutex_unlock(&g.lock);
    return VK_SUCCESS;
}

static uint32_t live_memories(void) {
    uint32_t n = 0;
    vkbn__mutex_lock(&g.lock);
    for (int i = 0; i < MAX_MEMS; ++i) n += g.mem[i].live;
    vkbn__mutex_unlock(&g.lock);
    return n;
}

/* Types: 0 device-local, host-visible, coherent (unified memory); 1
 * host-visible, not coherent; 2 GiB heap; minStorageBufferOffsetAlignment 32. */
static void fake_vk(struct vkbn__vk* vk, bool memory_priority) {
    memset(vk, 0, sizeof *vk);
    vk->device = (VkDevice)(uintptr_t)0x1234;
    vk->d.vkCreateBuffer = fake_create_buffer;
    vk->d.vkDestroyBuffer = fake_destroy_buffer;
    vk->d.vkGetBufferMemoryRequirements2 = fake_requirements2;
    vk->d.vkAllocateMemory = fake_allocate;
    vk->d.vkFreeMemory = fake_free;
    vk->d.vkMapMemory = fake_map;
    vk->d.vkUnmapMemory = fake_unmap;
    vk->d.vkBindBufferMemory = fake_bind;
    vk->d.vkFlushMappedMemoryRanges = fake_flush;
    vk->d.vkInvalidateMappedMemoryRanges = fake_flush;
    vk->caps.mem.memoryTypeCount = 2;
    vk->caps.mem.memoryTypes[0].propertyFlags = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    vk->caps.mem.memoryTypes[1].propertyFlags = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    vk->caps.mem.memoryHeapCount = 1;
    vk->caps.mem.memoryHeaps[0].size = 2ull << 30;
    vk->caps.props.limits.nonCoherentAtomSize = 128;
    vk->caps.min_sboa = 32;
    vk->caps.max_alloc = 1ull << 30;
    vk->caps.memory_priority = memory_priority;
    vkbn__mutex_init(&vk->memory_lock);
    g.fail_above = -1;
    g.dedicated_size = 0;
    g.prefers_size = 0;
}

static const fake_memory* memory_of(VkBuffer b) {
    const fake_buffer* fb = &g.buf[handle_index(b) - 1];
    return fb->mem ? &g.mem[fb->mem - 1] : NULL;
}

/* ---- The allocator over the fake device -------------------------------- */

static void test_blocks(void) {
    struct vkbn__vk vk;
    fake_vk(&vk, true);
    const VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    enum { N = 10 };
    VkBuffer b[N];
    vkbn__allocation* a[N];
    uint32_t before = g.allocations;
    for (int i = 0; i < N; ++i) {
        vkbn_result r = vkbn__vk_create_buffer(&vk, 1000, 0, usage, VKBN__MEM_BUFFER, &b[i], &a[i], "test");
        CHECK(r == VKBN_SUCCESS, "small buffer %d: %s", i, vkbn_last_error());
    }
    CHECK(g.allocations - before == 1 && vkbn__vk_memory_block_count(&vk) == 1, "%d small buffers: %u allocations", N,
          g.allocations - before);
    const fake_memory* block = memory_of(b[0]);
    CHECK(block && block->size == VKBN__BLOCK_MIN && block->dedicated == VK_NULL_HANDLE,
          "the first block is %llu bytes", block ? (unsigned long long)block->size : 0ull);
    CHECK(block && block->has_priority && block->priority == 1.0f, "blocks have priority 1");
    int same = 0, aligned = 0, mapped = 0;
    for (int i = 0; i < N; ++i) {
        same += memory_of(b[i]) == block;
        aligned += a[i]->offset % 64 == 0 && a[i]->size >= 1024;
        mapped += a[i]->mapped == block->host + a[i]->offset && a[i]->coherent;
        for (int j = 0; j < i; ++j) {
            bool apart = a[i]->offset >= a[j]->offset + a[j]->size || a[j]->offset >= a[i]->offset + a[i]->size;
            CHECK(apart, "buffers %d and %d overlap", i, j);
        }
    }
    CHECK(same == N && aligned == N && mapped == N, "one block: %d, aligned: %d, mapped once: %d", same, aligned,
          mapped);
    /* Reuse: a buffer destroyed, another of its size takes its place. */
    uint64_t hole = a[3]->offset;
    vkbn__vk_destroy_buffer(&vk, b[3], a[3]);
    CHECK(vkbn__vk_create_buffer(&vk, 1000, 0, usage, VKBN__MEM_SCRATCH, &b[3], &a[3], "test") == VKBN_SUCCESS &&
              a[3]->offset == hole,
          "freed space reused");
    /* Coalescing: two neighbours freed hold a buffer twice their size. */
    uint64_t lo = a[4]->offset < a[5]->offset ? a[4]->offset : a[5]->offset;
    bool adjacent = a[4]->offset + a[4]->size == a[5]->offset || a[5]->offset + a[5]->size == a[4]->offset;
    vkbn__vk_destroy_buffer(&vk, b[4], a[4]);
    vkbn__vk_destroy_buffer(&vk, b[5], a[5]);
    CHECK(vkbn__vk_create_buffer(&vk, 2048, 0, usage, VKBN__MEM_BUFFER, &b[4], &a[4], "test") == VKBN_SUCCESS,
          "2048 bytes");
    CHECK(!adjacent || a[4]->offset == lo, "neighbours merged: at %llu, expected %llu",
          (unsigned long long)a[4]->offset, (unsigned long long)lo);
    CHECK(vkbn__vk_create_buffer(&vk, 16, 0, usage, VKBN__MEM_BUFFER, &b[5], &a[5], "test") == VKBN_SUCCESS, "16");
    CHECK(g.allocations - before == 1, "still one allocation");
    /* Release: the block goes with its last buffer. */
    for (int i = 0; i < N; ++i) vkbn__vk_destroy_buffer(&vk, b[i], a[i]);
    CHECK(vkbn__vk_memory_block_count(&vk) == 0 && live_memories() == 0, "empty block freed");
    vkbn__mutex_destroy(&vk.memory_lock);
}

static void test_growth_and_dedicated(void) {
    struct vkbn__vk vk;
    fake_vk(&vk, true);
    const VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
    /* 1 MiB buffers: two per 2 MiB block, then blocks of 4, 8, 16, 16 MiB. */
    enum { N = 40 };
    VkBuffer b[N];
    vkbn__allocation* a[N];
    for (int i = 0; i < N; ++i) {
        CHECK(vkbn__vk_create_buffer(&vk, VKBN__SUBALLOC_MAX, 0, usage, VKBN__MEM_BUFFER, &b[i], &a[i], "test") ==
                  VKBN_SUCCESS,
              "1 MiB buffer %d", i);
    }
    uint64_t sizes[8] = {0};
    uint32_t blocks = 0;
    for (int i = 0; i < MAX_MEMS; ++i) {
        if (g.mem[i].live && blocks < 8) sizes[blocks++] = g.mem[i].size;
    }
    /* 2 + 4 + 8 + 16 MiB hold 30 of them: 40 need a fifth block. */
    CHECK(blocks == 5 && sizes[0] == 2ull << 20 && sizes[1] == 4ull << 20 && sizes[2] == 8ull << 20 &&
              sizes[3] == 16ull << 20 && sizes[4] == 16ull << 20,
          "block sizes: %u blocks, %llu %llu %llu %llu %llu", blocks, (unsigned long long)sizes[0],
          (unsigned long long)sizes[1], (unsigned long long)sizes[2], (unsigned long long)sizes[3],
          (unsigned long long)sizes[4]);
    for (int i = 0; i < N; ++i) vkbn__vk_destroy_buffer(&vk, b[i], a[i]);
    CHECK(live_memories() == 0, "all blocks freed");

    /* Over 1 MiB: dedicated, priority 0.5 for tensors, 1 for scratch, 0 for
     * staging; named (VkMemoryDedicatedAllocateInfo) where the driver prefers. */
    VkBuffer t, s, st, pref;
    vkbn__allocation *ta, *sa, *sta, *prefa;
    CHECK(vkbn__vk_create_buffer(&vk, VKBN__SUBALLOC_MAX + 64, 0, usage, VKBN__MEM_BUFFER, &t, &ta, "test") ==
              VKBN_SUCCESS,
          "tensor");
    CHECK(vkbn__vk_create_buffer(&vk, 3 << 20, 0, usage, VKBN__MEM_SCRATCH, &s, &sa, "test") == VKBN_SUCCESS,
          "scratch");
    CHECK(vkbn__vk_create_buffer(&vk, 5 << 20, 1, usage, VKBN__MEM_STAGING, &st, &sta, "test") == VKBN_SUCCESS,
          "staging");
    g.prefers_size = 7 << 20;
    CHECK(vkbn__vk_create_buffer(&vk, 7 << 20, 0, usage, VKBN__MEM_BUFFER, &pref, &prefa, "test") == VKBN_SUCCESS,
          "preferred dedicated");
    const fake_memory *mt = memory_of(t), *ms = memory_of(s), *mst = memory_of(st), *mp = memory_of(pref);
    CHECK(!ta->block && mt->size == VKBN__SUBALLOC_MAX + 64 && mt->priority == 0.5f && mt->has_priority,
          "tensor: dedicated, 0.5");
    CHECK(!sa->block && ms->priority == 1.0f, "scratch: dedicated, 1");
    CHECK(!sta->block && mst->priority == 0.0f && mst->type == 1 && !sta->coherent, "staging: dedicated, 0");
    CHECK(mt->dedicated == VK_NULL_HANDLE && mp->dedicated == pref, "named only where the driver prefers it");
    vkbn__vk_destroy_buffer(&vk, t, ta);
    vkbn__vk_destroy_buffer(&vk, s, sa);
    vkbn__vk_destroy_buffer(&vk, st, sta);
    vkbn__vk_destroy_buffer(&vk, pref, prefa);

    /* A small buffer the driver requires dedicated gets it, named. */
    g.dedicated_size = 512;
    CHECK(vkbn__vk_create_buffer(&vk, 512, 0, usage, VKBN__MEM_BUFFER, &t, &ta, "test") == VKBN_SUCCESS && !ta->block &&
              memory_of(t)->dedicated == t && memory_of(t)->size == 512,
          "required dedicated");
    vkbn__vk_destroy_buffer(&vk, t, ta);
    CHECK(live_memories() == 0, "nothing left");
    vkbn__mutex_destroy(&vk.memory_lock);
}

static void test_priority_off_and_noncoherent(void) {
    struct vkbn__vk vk;
    fake_vk(&vk, false);
    VkBuffer b[3];
    vkbn__allocation* a[3];
    for (int i = 0; i < 3; ++i) {
        CHECK(vkbn__vk_create_buffer(&vk, 100, 1, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, VKBN__MEM_STAGING, &b[i], &a[i],
                                     "test") == VKBN_SUCCESS,
              "staging %d", i);
    }
    const fake_memory* m = memory_of(b[0]);
    CHECK(m && !m->has_priority, "no VK_EXT_memory_priority: no priority struct");
    /* Not coherent: whole atoms, so flushes of one buffer never touch another. */
    int atoms = 0;
    for (int i = 0; i < 3; ++i) atoms += a[i]->offset % 128 == 0 && a[i]->size % 128 == 0 && !a[i]->coherent;
    CHECK(atoms == 3, "non-coherent allocations in whole atoms: %d of 3", atoms);
    g.flushes = g.bad_flushes = 0;
    for (int i = 0; i < 3; ++i) {
        vkbn__vk_memory_flush(&vk, a[i], true);
        vkbn__vk_memory_flush(&vk, a[i], false);
    }
    CHECK(g.flushes == 6 && g.bad_flushes == 0, "flushes: %d, bad: %d", g.flushes, g.bad_flushes);
    /* Coherent memory: nothing to flush. */
    VkBuffer c;
    vkbn__allocation* ca;
    CHECK(vkbn__vk_create_buffer(&vk, 100, 0, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VKBN__MEM_BUFFER, &c, &ca, "test") ==
              VKBN_SUCCESS,
          "coherent");
    vkbn__vk_memory_flush(&vk, ca, true);
    CHECK(g.flushes == 6, "coherent memory is not flushed");
    /* Pools: staging (type 1, priority 0) and buffers (type 0) do not share. */
    CHECK(vkbn__vk_memory_block_count(&vk) == 2 && memory_of(c) != m, "one block per memory type and priority");
    vkbn__vk_destroy_buffer(&vk, c, ca);
    for (int i = 0; i < 3; ++i) vkbn__vk_destroy_buffer(&vk, b[i], a[i]);
    CHECK(live_memories() == 0, "nothing left");
    vkbn__mutex_destroy(&vk.memory_lock);
}

static void test_out_of_memory(void) {
    struct vkbn__vk vk;
    fake_vk(&vk, true);
    /* No room for a block: the buffer gets memory of its own size. */
    g.fail_above = 4096;
    VkBuffer b;
    vkbn__allocation* a;
    CHECK(vkbn__vk_create_buffer(&vk, 1000, 0, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VKBN__MEM_BUFFER, &b, &a, "test") ==
                  VKBN_SUCCESS &&
              !a->block && memory_of(b)->size == 1024,
          "fallback to a dedicated allocation");
    vkbn__vk_destroy_buffer(&vk, b, a);
    /* No room at all: an error, nothing left behind. */
    g.fail_above = 0;
    uint32_t live_buffers = 0;
    vkbn_result r =
        vkbn__vk_create_buffer(&vk, 1000, 0, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VKBN__MEM_BUFFER, &b, &a, "test");
    for (int i = 0; i < MAX_BUFS; ++i) live_buffers += g.buf[i].live;
    CHECK(r == VKBN_ERROR_OUT_OF_DEVICE_MEMORY && b == VK_NULL_HANDLE && a == NULL && live_buffers == 0 &&
              live_memories() == 0,
          "out of device memory: %s", vkbn_result_string(r));
    vkbn__mutex_destroy(&vk.memory_lock);
}

/* Plans and buffers are created and destroyed from several threads. */
typedef struct worker {
    struct vkbn__vk* vk;
    uint32_t seed;
    int failures;
} worker;

static void work(void* arg) {
    worker* w = arg;
    enum { LIVE = 24 };
    VkBuffer b[LIVE] = {0};
    vkbn__allocation* a[LIVE] = {0};
    for (int step = 0; step < 3000; ++step) {
        w->seed = w->seed * 1664525u + 1013904223u;
        int i = (int)((w->seed >> 8) % LIVE);
        if (a[i]) {
            /* The bytes written at creation are still ours. */
            uint8_t tag = (uint8_t)(uintptr_t)b[i];
            for (uint64_t k = 0; k < 64; ++k) w->failures += a[i]->mapped[k] != tag;
            vkbn__vk_destroy_buffer(w->vk, b[i], a[i]);
            a[i] = NULL;
        } else {
            uint64_t size = 64 + (w->seed >> 16) % 20000;
            vkbn__mem_use use = (w->seed >> 4) % 2 ? VKBN__MEM_BUFFER : VKBN__MEM_SCRATCH;
            if (vkbn__vk_create_buffer(w->vk, size, 0, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, use, &b[i], &a[i],
                                       "thread") != VKBN_SUCCESS) {
                w->failures++;
                continue;
            }
            memset(a[i]->mapped, (uint8_t)(uintptr_t)b[i], 64);
        }
    }
    for (int i = 0; i < LIVE; ++i) {
        if (a[i]) vkbn__vk_destroy_buffer(w->vk, b[i], a[i]);
    }
}

static void test_threads(void) {
    struct vkbn__vk vk;
    fake_vk(&vk, true);
    enum { T = 4 };
    worker w[T];
    vkbn__thread th[T];
    for (int i = 0; i < T; ++i) {
        w[i] = (worker){.vk = &vk, .seed = 777u * (uint32_t)(i + 1)};
        CHECK(vkbn__thread_create(&th[i], work, &w[i]), "thread %d", i);
    }
    int failures = 0;
    for (int i = 0; i < T; ++i) {
        vkbn__thread_join(th[i]);
        failures += w[i].failures;
    }
    CHECK(failures == 0, "threads: %d failures (lost bytes or failed allocations)", failures);
    CHECK(vkbn__vk_memory_block_count(&vk) == 0 && live_memories() == 0, "threads: every block freed");
    vkbn__mutex_destroy(&vk.memory_lock);
}

int main(void) {
    vkbn__mutex_init(&g.lock);
    test_free_list_basics();
    test_free_list_random();
    test_blocks();
    test_growth_and_dedicated();
    test_priority_off_and_noncoherent();
    test_out_of_memory();
    test_threads();
    return test_summary();
}
