/* The one interface between core and a backend: a const table of operations
 * per backend. Core (api.c, sync.c, embed.c, device_select.c) calls only
 * these; no file of core includes a backend's headers, and no core code asks
 * which backend it has. Adding a backend is a folder that defines one table
 * and one entry in vkbn__backends (device_select.c).
 *
 * A table entry left NULL means "this backend cannot": core turns it into
 * VKBN_ERROR_UNSUPPORTED naming the call (e.g. recording into a
 * VkCommandBuffer on the CPU path). */
#ifndef VKBN_BACKEND_H_
#define VKBN_BACKEND_H_

#include "internal.h"

/* Which device context_create opens. */
typedef struct vkbn__device_request {
    /* NULL: the backend's best device among those whose type ranks
     * (vkbn__device_rank) from min_rank to max_rank, VKBN_ERROR_NO_DEVICE when
     * it has none there; else a decimal index into the backend's own list
     * (core resolves names and global indices). */
    const char* device;
    int min_rank, max_rank;
    /* Out: how many devices the backend's list holds (what list_devices
     * would count), set whenever the backend got as far as looking, whether
     * or not it opened one; 0 when it has none. Core learns from it the
     * default device's index in the whole list without listing. */
    uint32_t listed;
} vkbn__device_request;

typedef struct vkbn__backend {
    const char* name; /* "Vulkan", "CPU": for messages only */

    /* Devices. list_devices fills a vkbn__calloc'ed array (index is set by
     * core; is_default marks the backend's own best device, which core reads
     * to break ties of rank); a backend with no usable device returns SUCCESS
     * and count 0. claims(want) says whether a desc->device string names this
     * backend itself ("cpu"). device_types: a bit (1u << t) for each
     * vkbn_device_type its devices can have, so that the default device is
     * found without asking a backend that cannot have one of the rank
     * sought. */
    vkbn_result (*list_devices)(vkbn_device_info** out, uint32_t* count);
    bool (*claims)(const char* want);
    uint32_t device_types;
    /* Creates ctx->impl and fills ctx->info (info.index: the device's index
     * in this backend's own list) on the device `req` asks for (NULL only
     * with desc->borrowed, which is only ever given to a backend with
     * accepts_borrowed). */
    vkbn_result (*context_create)(vkbn_context ctx, const vkbn_context_desc* desc, vkbn__device_request* req);
    void (*context_destroy)(vkbn_context ctx);
    bool accepts_borrowed;
    /* desc->profile (a device profile: plans only) goes to this backend,
     * with req NULL. */
    bool accepts_profile;

    /* Buffers: create sets buf->root and the backend's storage; destroy
     * frees an owned buffer's storage (never called for views or wrapped
     * buffers). Ranges are checked by core. */
    vkbn_result (*buffer_create)(vkbn_context ctx, uint64_t size, vkbn_buffer buf);
    void (*buffer_destroy)(vkbn_buffer buf);
    vkbn_result (*buffer_upload)(vkbn_buffer buf, uint64_t offset, const void* src, uint64_t size);
    vkbn_result (*buffer_download)(vkbn_buffer buf, uint64_t offset, void* dst, uint64_t size);
    /* Wraps a caller's VkBuffer (buf->root, storage); NULL: not Vulkan. */
    vkbn_result (*buffer_wrap)(vkbn_context ctx, VkBuffer buffer, uint64_t offset, uint64_t size, vkbn_buffer buf);

    /* Plans: build from plan->passes over plan->op's buffers into
     * plan->impl; measure_scratch learns the caller-scratch size of a pass
     * list without creating anything (NULL: the backend needs none). */
    vkbn_result (*plan_build)(vkbn_plan plan);
    vkbn_result (*plan_measure_scratch)(vkbn_plan plan, uint64_t* size, uint64_t* alignment);
    /* Runs the plan `repetitions` times and waits; with seconds, the time
     * of one run (timestamp queries on a GPU, wall time on the CPU). */
    vkbn_result (*plan_execute)(vkbn_plan plan, uint32_t repetitions, double* seconds);
    vkbn_result (*plan_record)(vkbn_plan plan, VkCommandBuffer cmd, vkbn_record_flags flags);
    void (*plan_destroy)(vkbn_plan plan);
    /* Reports (vkbn_plan_get_report); index < the report's dispatches. */
    vkbn_result (*plan_report)(vkbn_plan plan, vkbn_plan_report* out);
    vkbn_result (*plan_dispatch_report)(vkbn_plan plan, uint32_t index, vkbn_dispatch_report* out);

    /* Context queries (NULL: nothing to report). */
    bool (*uses_subgroups)(vkbn_context ctx);
    uint64_t (*validation_message_count)(vkbn_context ctx);
    vkbn_result (*pipeline_stats)(vkbn_context ctx, vkbn_pipeline_stats* out);
    vkbn_result (*save_pipeline_cache)(vkbn_context ctx);
} vkbn__backend;

/* The backends in device-list order (device_select.c): Vulkan devices
 * first, then the CPU path, which is always there. Which device is the
 * default is a matter of rank, not of this order (vkbn__device_rank). */
extern const vkbn__backend vkbn__vulkan_backend; /* src/vulkan/vk_backend.c */
extern const vkbn__backend vkbn__cpu_backend;    /* src/cpu/cpu_backend.c */
extern const vkbn__backend* const vkbn__backends[];
extern const uint32_t vkbn__backend_count;

#endif
