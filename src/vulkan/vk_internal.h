/* The Vulkan backend: one vkbn__vk per context. Every device-level call goes
 * through the context's own function table (no globals), so several contexts,
 * on several devices or on a borrowed device, live side by side. */
#ifndef VKBN_VK_INTERNAL_H_
#define VKBN_VK_INTERNAL_H_

#include "vkbn_volk.h" /* volk under a private prefix; before vkbn.h: it sets VK_NO_PROTOTYPES */

#include "../core/internal.h"
#include "../core/platform.h"
#include "kernel_params.h"

typedef enum vkbn__kernel {
    VKBN__KERNEL_STATS_CF,
    VKBN__KERNEL_STATS_CL,
    VKBN__KERNEL_APPLY,
    VKBN__KERNEL_COPY,
    VKBN__KERNEL_BWD_STATS_CF,
    VKBN__KERNEL_BWD_STATS_CL,
    VKBN__KERNEL_BWD_APPLY,
    VKBN__KERNEL_APPLY_PARAMS,
    VKBN__KERNEL_COUNT
} vkbn__kernel;

/* A compile-time variant of a kernel (glslang -D values). */
/* How a variant stores tensor elements (shaders/common.glsl's VKBN_DTYPE). */
typedef enum vkbn__storage {
    VKBN__STORE_F32 = 0,
    VKBN__STORE_F16 = 1,
    VKBN__STORE_BF16 = 2,      /* 16-bit elements (storageBuffer16BitAccess) */
    VKBN__STORE_BF16_WORDS = 3 /* bf16 in 32-bit words: any device (storage.glsl) */
} vkbn__storage;

typedef struct vkbn__variant {
    uint8_t dtype;        /* a vkbn__storage */
    uint8_t vec;          /* 1, 4 or 8 (16-bit elementwise kernels) */
    uint8_t subgroups;    /* 0 or 1 */
    uint8_t memory_model; /* reductions: 1 under the Vulkan memory model (merge.glsl) */
} vkbn__variant;

/* One embedded SPIR-V blob (generated at build time: vk_shaders.c). */
typedef struct vkbn__spirv {
    vkbn__kernel kernel;
    vkbn__variant variant;
    const uint32_t* code;
    size_t size; /* bytes */
    const char* name;
} vkbn__spirv;

extern const vkbn__spirv vkbn__spirv_blobs[];
extern const uint32_t vkbn__spirv_blob_count;

/* Tuning for one device, from the per-vendor table (vk_tuning.c). */
typedef struct vkbn__tuning {
    uint32_t workgroup_size;   /* threads per workgroup, a power of two */
    uint32_t apply_items;      /* vector items per thread in apply and copy */
    uint32_t target_groups;    /* workgroups that keep the whole device busy */
    bool whole_waves;          /* target_groups is a wave: compute units x resident workgroups */
    uint32_t min_slice_elems;  /* smallest share of a channel worth its own workgroup */
    uint32_t cl_threads_x_max; /* channels-last: most threads along channels */
    /* Sliced reductions may merge in their last workgroup: the device has
     * the Vulkan memory model and no quirk against it (vk_tuning.c). */
    bool last_workgroup_merge;
    char source[64]; /* which table entry applied */
} vkbn__tuning;

/* What the device can do, and what vkbn enabled on it. */
typedef struct vkbn__caps {
    VkPhysicalDeviceProperties props;
    uint32_t subgroup_size;
    uint32_t min_subgroup_size;
    uint32_t max_subgroup_size;
    VkSubgroupFeatureFlags subgroup_ops; /* 0 if compute has no subgroup support */
    bool subgroup_size_control;          /* enabled */
    bool full_subgroups;                 /* computeFullSubgroups enabled */
    bool storage16;                      /* storageBuffer16BitAccess enabled */
    bool creation_feedback;              /* pipeline creation feedback usable (1.3 or the extension) */
    bool memory_model;                   /* vulkanMemoryModel and its device scope enabled */
    bool memory_priority;                /* VK_EXT_memory_priority and its feature enabled */
    uint32_t timestamp_bits;             /* of the chosen queue family */
    uint64_t max_alloc;
    uint64_t max_range;
    uint32_t min_sboa;
    uint32_t sm_count; /* compute units when the driver tells (NV/AMD extensions), else 0 */
    VkPhysicalDeviceMemoryProperties mem;
    char driver_name[256];
    char driver_info[256];
} vkbn__caps;

/* Instance-level functions, loaded per context from its vkGetInstanceProcAddr. */
typedef struct vkbn__instance_fns {
    PFN_vkDestroyInstance DestroyInstance;
    PFN_vkEnumeratePhysicalDevices EnumeratePhysicalDevices;
    PFN_vkGetPhysicalDeviceProperties GetPhysicalDeviceProperties;
    PFN_vkGetPhysicalDeviceProperties2 GetPhysicalDeviceProperties2;
    PFN_vkGetPhysicalDeviceFeatures2 GetPhysicalDeviceFeatures2;
    PFN_vkGetPhysicalDeviceMemoryProperties GetPhysicalDeviceMemoryProperties;
    PFN_vkGetPhysicalDeviceQueueFamilyProperties GetPhysicalDeviceQueueFamilyProperties;
    PFN_vkEnumerateDeviceExtensionProperties EnumerateDeviceExtensionProperties;
    PFN_vkCreateDevice CreateDevice;
    PFN_vkGetDeviceProcAddr GetDeviceProcAddr;
    PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT;
} vkbn__instance_fns;

typedef struct vkbn__pipeline_entry {
    vkbn__kernel kernel;
    vkbn__variant variant;
    uint32_t spec[SPEC_COUNT];
    VkPipeline pipeline;
} vkbn__pipeline_entry;

struct vkbn__vk {
    vkbn_context ctx;
    PFN_vkGetInstanceProcAddr gipa;
    vkbn__instance_fns fn;
    struct VolkDeviceTable d; /* this device's functions (volk, private prefix) */
    const VkAllocationCallbacks* alloc;
    VkInstance instance;
    bool own_instance;
    VkPhysicalDevice phys;
    VkDevice device;
    bool own_device;
    VkQueue queue; /* VK_NULL_HANDLE: a borrowed device without a queue (recording only) */
    uint32_t queue_family;
    vkbn_queue_lock_fn lock_queue; /* the caller's lock around a borrowed queue, or NULL */
    void* lock_queue_user_data;
    VkDebugUtilsMessengerEXT messenger;
    uint64_t validation_messages; /* updated with atomics from the messenger callback */

    vkbn__caps caps;
    vkbn__tuning tuning;
    bool use_subgroups;
    uint64_t max_binding_range; /* <= caps.max_range */
    uint32_t bind_align;        /* max(minStorageBufferOffsetAlignment, 16) */

    /* Pipelines: one layout per kernel, pipelines created on first use. */
    VkDescriptorSetLayout set_layouts[VKBN__KERNEL_COUNT];
    VkPipelineLayout pipeline_layouts[VKBN__KERNEL_COUNT];
    VkShaderModule* modules;        /* one per embedded blob, created on first use */
    VkPipelineCache pipeline_cache; /* vkbn's own or the caller's (own_pipeline_cache) */
    bool own_pipeline_cache;
    char* pipeline_cache_path; /* vkbn's own cache file, or NULL */
    vkbn_pipeline_stats stats; /* under pipeline_lock */
    vkbn__pipeline_entry* pipelines;
    uint32_t pipeline_count;
    uint32_t pipeline_capacity;
    vkbn__mutex pipeline_lock;

    /* Immediate submission: one command buffer, used under submit_lock. */
    vkbn__mutex submit_lock;
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    /* Work submitted whose end no wait has seen (a wait failed): the next
     * submission, and destruction, wait for the fence first. Under
     * submit_lock. */
    bool in_flight;
    /* A submission or wait returned VK_ERROR_DEVICE_LOST: every later
     * submission fails at once (under submit_lock). */
    bool device_lost;
    VkQueryPool timestamps;

    /* Device memory (vk_memory.c): the blocks small buffers share, under
     * memory_lock. */
    vkbn__mutex memory_lock;
    struct vkbn__mem_block* blocks;

    /* Host-visible staging for buffers that cannot be mapped. */
    VkBuffer staging;
    struct vkbn__allocation* staging_allocation;
    uint8_t* staging_map;
    uint64_t staging_size;

    /* Memory type for owned buffers, and whether it is mapped. */
    uint32_t buffer_memory_type;
    bool buffer_mappable;

    /* Bound wherever an optional argument is absent. */
    VkBuffer dummy;
    struct vkbn__allocation* dummy_allocation;

    /* A context on a device profile (vk_profile.c): no instance, device or
     * memory; the planner runs on the profile's capabilities and nothing
     * executes. NULL on a real device. */
    const struct vkbn__device_profile* profile;
    uint32_t next_buffer_id; /* profile contexts: buffer identities */
};

/* Plans only: a context on a device profile cannot touch memory or run. */
vkbn_result vkbn__vk_profile_unsupported(const struct vkbn__vk* vk, const char* call);

/* The backend's objects behind core's opaque pointers. */
static inline struct vkbn__vk* vkbn__vk_of(vkbn_context ctx) { return (struct vkbn__vk*)ctx->impl; }
static inline struct vkbn__vk_plan* vkbn__vk_plan_of(vkbn_plan plan) { return (struct vkbn__vk_plan*)plan->impl; }

/* A buffer range as one descriptor sees it. */
typedef struct vkbn__range {
    VkBuffer buffer;
    VkDeviceSize offset; /* aligned to bind_align */
    VkDeviceSize range;
    uint32_t base; /* first unit of the data, from `offset` */
} vkbn__range;

/* What one dispatch moves to and from memory in the worst case (nothing
 * cached between dispatches or phases), and the longest chain of dependent
 * memory steps one of its invocations performs (vk_report.c). */
typedef struct vkbn__traffic {
    uint64_t read;
    uint64_t written;
    uint64_t reread; /* of read: bytes this plan read or wrote before (an earlier dispatch or phase) */
    uint32_t chain;
} vkbn__traffic;

typedef struct vkbn__dispatch {
    vkbn__kernel kernel;
    VkPipeline pipeline;
    VkDescriptorSet set;
    uint32_t groups[3];
    uint32_t push_size;
    uint32_t push[32];
    bool barrier_before; /* wait for the previous dispatches' writes */
    /* For reports (vkbn_plan_get_report): set by the planner with
     * vkbn__vk_plan_note after adding the dispatch. */
    vkbn_dispatch_role role;
    uint32_t workgroup_size;
    vkbn__traffic traffic;
} vkbn__dispatch;

struct vkbn__vk_plan {
    vkbn__dispatch* dispatches;
    uint32_t count;
    uint32_t capacity;
    VkDescriptorPool pool;
    uint32_t pool_sets;
    /* Scratch (kp_scratch: partials, counters, channel block): vkbn's own
     * allocation or the caller's range (op.scratch). Planners bind it through
     * vkbn__vk_scratch_range, which adds scratch_offset. */
    VkBuffer scratch_buffer;
    VkDeviceSize scratch_offset;
    struct vkbn__allocation* scratch_allocation; /* vkbn's own scratch only */
    uint64_t scratch_size;
    uint64_t counters_offset; /* from the start of the scratch */
    uint64_t counters_size;
    /* vkbn's own scratch whose counters are known to be zero: they start
     * zeroed by the first immediate run and every run leaves them at zero. */
    bool counters_ready;
    /* Sizing only (vkbn_*_scratch_requirements), or a plan on a device
     * profile: no descriptor or memory is created; the planner runs to learn
     * the scratch size and the dispatches. */
    bool measure_only;
    /* Distinct bytes the plan touches: tensors, vectors and scratch (reports). */
    uint64_t footprint;
};

/* vk_loader.c: the system Vulkan loader and per-context function tables (volk). */
vkbn_result vkbn__vk_load_loader(PFN_vkGetInstanceProcAddr* out);
/* Fails if the device's core functions cannot be loaded. */
vkbn_result vkbn__vk_load_device_table(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, VkDevice device,
                                       struct VolkDeviceTable* table);

/* vk_instance.c */
vkbn_result vkbn__vk_create_instance(PFN_vkGetInstanceProcAddr gipa, bool validation, bool sync_validation,
                                     const VkAllocationCallbacks* alloc, VkInstance* out, bool* debug_utils);
void vkbn__vk_load_instance_fns(PFN_vkGetInstanceProcAddr gipa, VkInstance instance, vkbn__instance_fns* fn);
/* Usable devices (Vulkan >= 1.1 with a compute queue), in loader order. */
vkbn_result vkbn__vk_list_devices(const vkbn__instance_fns* fn, VkInstance instance, VkPhysicalDevice** out,
                                  uint32_t* count);
/* The device's extensions (driver and implicit layers), owned by the caller
 * (vkbn__free); fails with out of memory and a message. */
vkbn_result vkbn__vk_device_extensions(const vkbn__instance_fns* fn, VkPhysicalDevice pd, VkExtensionProperties** out,
                                       uint32_t* count);
bool vkbn__vk_has_extension(const VkExtensionProperties* exts, uint32_t n, const char* name);
/* Whether one of the device's queue families has compute. */
bool vkbn__vk_has_compute_queue(const vkbn__instance_fns* fn, VkPhysicalDevice pd);
/* vkbn's device type, and a vendor's short name, for Vulkan's. */
vkbn_device_type vkbn__vk_device_type(VkPhysicalDeviceType type);
const char* vkbn__vk_vendor_name(uint32_t vendor_id, VkPhysicalDeviceType type);
vkbn_result vkbn__vk_describe_device(const vkbn__instance_fns* fn, VkPhysicalDevice pd, vkbn_device_info* info);
/* The best of the devices whose type ranks from min_rank to max_rank
 * (vkbn__device_rank; ties: the larger device-local heap, then the first);
 * UINT32_MAX when none does. */
uint32_t vkbn__vk_best_device(const vkbn_device_info* infos, uint32_t count, int min_rank, int max_rank);

/* vk_requirements.c */
vkbn_result vkbn__vk_requirements(const vkbn__instance_fns* fn, VkPhysicalDevice pd, vkbn_vulkan_requirements* out);
void* vkbn__vk_chain_features(const vkbn_vulkan_requirements* req, vkbn_vulkan_feature_chain* chain, void* next);

/* vk_context.c */
/* req: the device (core/backend.h), NULL with desc->borrowed. */
struct vkbn__device_request;
vkbn_result vkbn__vk_context_create(vkbn_context ctx, const vkbn_context_desc* desc, struct vkbn__device_request* req);
void vkbn__vk_context_destroy(vkbn_context ctx);
/* The binding range, the tuning and the subgroup path, from vk->caps (the
 * same on a device and on a profile). */
vkbn_result vkbn__vk_choose_planning(struct vkbn__vk* vk, const vkbn_context_desc* desc);
/* vk_profile_context.c: a context on desc->profile (plans only). */
vkbn_result vkbn__vk_profile_context_create(vkbn_context ctx, const vkbn_context_desc* desc);
vkbn_result vkbn__vk_begin(struct vkbn__vk* vk);           /* locks submit_lock, begins vk->cmd */
vkbn_result vkbn__vk_submit_and_wait(struct vkbn__vk* vk); /* ends, submits, waits, unlocks */
/* Submits vk->cmd (ended) signalling vk->fence and waits for that fence
 * only; the caller holds submit_lock. */
VkResult vkbn__vk_submit_locked(struct vkbn__vk* vk);
void vkbn__vk_abort(struct vkbn__vk* vk); /* unlocks after a failed recording */
void vkbn__vk_barrier(struct vkbn__vk* vk, VkCommandBuffer cmd);
int32_t vkbn__vk_find_memory_type(const VkPhysicalDeviceMemoryProperties* mem, uint32_t allowed,
                                  VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred);

/* vk_memory.c: device memory for vkbn's own buffers (docs/ARCHITECTURE.md,
 * "Device memory"). A buffer whose memory requirement is at most
 * VKBN__SUBALLOC_MAX bytes is placed in a block shared with others (one
 * VkDeviceMemory per block, VKBN__BLOCK_MIN doubling up to VKBN__BLOCK_MAX
 * per pool); larger ones, and those the driver requires dedicated, get their
 * own VkDeviceMemory. Callable from any thread. */
#define VKBN__SUBALLOC_MAX (1ull << 20)
#define VKBN__BLOCK_MIN (2ull << 20)
#define VKBN__BLOCK_MAX (16ull << 20)

/* What a buffer is for: it sets the memory priority (vk_memory.c). */
typedef enum vkbn__mem_use {
    VKBN__MEM_BUFFER,  /* vkbn_buffer_create: tensors and per-channel vectors */
    VKBN__MEM_SCRATCH, /* plan scratch and the placeholder buffer */
    VKBN__MEM_STAGING  /* host-visible staging for uploads and downloads */
} vkbn__mem_use;

/* The free space of one block: sorted, disjoint, never adjacent ranges.
 * Pure bookkeeping (no Vulkan), reachable from tests/test_memory.c. */
typedef struct vkbn__free_range {
    uint64_t offset;
    uint64_t size;
} vkbn__free_range;
typedef struct vkbn__free_list {
    uint64_t size; /* of the block */
    uint64_t used; /* bytes handed out */
    uint32_t live; /* allocations handed out */
    uint32_t count;
    uint32_t capacity; /* kept >= live + 1, so that releasing never allocates */
    vkbn__free_range* ranges;
} vkbn__free_list;
typedef enum vkbn__fit { VKBN__FIT_OK, VKBN__FIT_NO_ROOM, VKBN__FIT_NO_HOST_MEMORY } vkbn__fit;
/* false: out of host memory. */
bool vkbn__free_list_init(vkbn__free_list* l, uint64_t size);
void vkbn__free_list_destroy(vkbn__free_list* l);
/* The smallest free range that holds `size` bytes at a multiple of `align`
 * (a power of two); the padding before stays free. */
vkbn__fit vkbn__free_list_alloc(vkbn__free_list* l, uint64_t size, uint64_t align, uint64_t* offset);
/* Returns [offset, offset + size) (as handed out), merging it with free neighbours. */
void vkbn__free_list_release(vkbn__free_list* l, uint64_t offset, uint64_t size);

/* One block: a VkDeviceMemory of one memory type and priority. */
typedef struct vkbn__mem_block {
    struct vkbn__mem_block* next;
    VkDeviceMemory memory;
    uint8_t* mapped; /* mapped once, at creation, when host-visible */
    uint32_t type;
    float priority;
    vkbn__free_list free;
} vkbn__mem_block;

/* Where one buffer's memory lives. */
typedef struct vkbn__allocation {
    VkDeviceMemory memory;
    uint64_t offset;        /* of the buffer in memory */
    uint64_t size;          /* bytes reserved */
    uint8_t* mapped;        /* host address of `offset` when host-visible, else NULL */
    bool coherent;          /* HOST_COHERENT: no flush or invalidate needed */
    vkbn__mem_block* block; /* NULL: a dedicated VkDeviceMemory */
} vkbn__allocation;

/* Creates a buffer of `size` bytes in memory of `memory_type` (or another
 * type with the same properties when the buffer cannot use that one), bound
 * and, when host-visible, mapped. */
vkbn_result vkbn__vk_create_buffer(struct vkbn__vk* vk, uint64_t size, uint32_t memory_type, VkBufferUsageFlags usage,
                                   vkbn__mem_use use, VkBuffer* buffer, vkbn__allocation** allocation,
                                   const char* what);
/* Destroys the buffer and returns its memory (a block left empty is freed). */
void vkbn__vk_destroy_buffer(struct vkbn__vk* vk, VkBuffer buffer, vkbn__allocation* allocation);
/* Host writes to the allocation made visible to the device (flush), or the
 * device's writes to the host (invalidate); nothing on coherent memory. */
void vkbn__vk_memory_flush(struct vkbn__vk* vk, const vkbn__allocation* a, bool flush);
/* Frees the blocks still held (the context is going away). */
void vkbn__vk_memory_destroy(struct vkbn__vk* vk);
/* Blocks alive now (tests). */
uint32_t vkbn__vk_memory_block_count(struct vkbn__vk* vk);

/* vk_cache.c: the pipeline cache (the caller's, or vkbn's own with its file). */
vkbn_result vkbn__vk_cache_init(struct vkbn__vk* vk, const vkbn_context_desc* desc);
vkbn_result vkbn__vk_cache_save(struct vkbn__vk* vk);
void vkbn__vk_cache_destroy(struct vkbn__vk* vk);

/* vk_tuning.c */
uint64_t vkbn__vk_shared_bytes(uint32_t wg, uint32_t tx);
void vkbn__vk_choose_tuning(const vkbn__caps* caps, vkbn__tuning* t);

/* vk_buffer.c */
vkbn_result vkbn__vk_buffer_create(vkbn_context ctx, uint64_t size, vkbn_buffer buf);
void vkbn__vk_buffer_destroy(vkbn_buffer buf);
/* Wraps a caller's VkBuffer after checking what can be known about it:
 * [offset, offset + size) must fit the size its memory requirements report
 * (at least its real size). */
vkbn_result vkbn__vk_buffer_wrap(vkbn_context ctx, VkBuffer buffer, uint64_t offset, uint64_t size, vkbn_buffer buf);
vkbn_result vkbn__vk_buffer_upload(vkbn_buffer buf, uint64_t offset, const void* src, uint64_t size);
vkbn_result vkbn__vk_buffer_download(vkbn_buffer buf, uint64_t offset, void* dst, uint64_t size);

/* vk_pipeline.c */
vkbn_result vkbn__vk_pipelines_init(struct vkbn__vk* vk);
void vkbn__vk_pipelines_destroy(struct vkbn__vk* vk);
vkbn_result vkbn__vk_get_pipeline(struct vkbn__vk* vk, vkbn__kernel kernel, vkbn__variant variant,
                                  const uint32_t spec[SPEC_COUNT], VkPipeline* out);
uint32_t vkbn__vk_binding_count(vkbn__kernel kernel);

/* vk_plan.c: building blocks of plans. */
vkbn__range vkbn__vk_range(const struct vkbn__vk* vk, vkbn_buffer b, uint64_t byte_offset, uint64_t bytes,
                           uint32_t unit);
vkbn__range vkbn__vk_raw_range(const struct vkbn__vk* vk, VkBuffer buffer, uint64_t offset, uint64_t bytes);
vkbn__range vkbn__vk_dummy_range(const struct vkbn__vk* vk);
vkbn_result vkbn__vk_plan_reserve(vkbn_plan plan, uint32_t dispatches);
/* Appends a dispatch with its own descriptor set (ranges[binding]). */
vkbn_result vkbn__vk_plan_add(vkbn_plan plan, vkbn__kernel kernel, VkPipeline pipeline, const vkbn__range* ranges,
                              const void* push, uint32_t push_size, const uint32_t groups[3], bool barrier_before);
/* Annotates the dispatch added last, for reports. */
void vkbn__vk_plan_note(vkbn_plan plan, vkbn_dispatch_role role, uint32_t workgroup_size, const vkbn__traffic* t);
/* Declares the plan's scratch: `bytes` in all, of which [counters_offset,
 * + counters_size) must be zero when a run starts (vkbn zeroes them; see
 * vkbn__vk_plan_record). Binds the caller's op.scratch if given (checking its
 * size), else allocates. Offsets inside are multiples of bind_align. */
vkbn_result vkbn__vk_plan_alloc_scratch(vkbn_plan plan, uint64_t bytes, uint64_t counters_offset,
                                        uint64_t counters_size);
/* A descriptor range of [offset, offset + bytes) of the plan's scratch. */
vkbn__range vkbn__vk_scratch_range(vkbn_plan plan, uint64_t offset, uint64_t bytes);
/* Runs the planner without creating anything, to learn the scratch size. */
vkbn_result vkbn__vk_plan_measure_scratch(vkbn_plan plan, uint64_t* size, uint64_t* alignment);
vkbn_result vkbn__vk_plan_execute(vkbn_plan plan, uint32_t repetitions, double* seconds);
void vkbn__vk_plan_destroy(vkbn_plan plan);
/* Records the plan into cmd: optional barriers before/after (vkbn_record_flags),
 * a fill of the counters when zero_counters, then every dispatch with the
 * plan's own barriers between them. Reads the plan only, so any number of
 * threads may record plans at once, each into its own command buffer. */
void vkbn__vk_plan_record(vkbn_plan plan, VkCommandBuffer cmd, bool zero_counters, vkbn_record_flags flags);
/* vkbn_plan_record: checks, then records (zeroing counters every time). */
vkbn_result vkbn__vk_plan_record_for_caller(vkbn_plan plan, VkCommandBuffer cmd, vkbn_record_flags flags);

/* vk_geometry.c: what the planners share. */
typedef struct vkbn__window {
    uint32_t n0; /* first sample */
    uint32_t n;  /* samples */
} vkbn__window;

/* The layout of one operation's tensors on the device. */
typedef struct vkbn__geometry {
    struct vkbn__vk* vk;
    const vkbn__op* op;
    vkbn__variant variant; /* storage and vec; subgroups is the planner's */
    bool channels_last;
    uint32_t vec;
    uint32_t wg;
    uint32_t c;
    uint64_t s; /* spatial elements */
    uint64_t sample_bytes;
    vkbn__window* windows;
    uint32_t window_count;
} vkbn__geometry;

/* Checks the dtype and channel count against the device, picks the vector
 * width (vec4 only if every buffer in `tensors` is 4-element aligned; NULL
 * entries are ignored) and the windows. */
/* "f32", "f16", "bf16" or "bf16 (words)": a variant's storage, for plan descriptions. */
const char* vkbn__vk_storage_name(uint32_t storage);
vkbn_result vkbn__geometry_init(vkbn__geometry* g, struct vkbn__vk* vk, const vkbn__op* op, const vkbn_buffer* tensors,
                                uint32_t tensor_count);
void vkbn__geometry_free(vkbn__geometry* g);
/* A per-channel f32 vector (c floats), or the placeholder for NULL. */
vkbn__range vkbn__geometry_vector(const vkbn__geometry* g, vkbn_buffer b);
/* One window of a tensor, or the placeholder for NULL. */
/* The activation mask's words for window w (a dummy range for NULL), and
 * the bit offset of the window's first element in them. */
vkbn__range vkbn__geometry_mask_window(const vkbn__geometry* g, vkbn_buffer mask, const vkbn__window* w,
                                       uint32_t* bit_base);
vkbn__range vkbn__geometry_window(const vkbn__geometry* g, vkbn_buffer b, const vkbn__window* w);
/* The most workgroups along y (and x) of one dispatch. */
#define VKBN__MAX_GROUPS 65535u
/* Splits a 1-D count of workgroups over x and y (each at most VKBN__MAX_GROUPS). */
void vkbn__grid_2d(uint64_t groups, uint32_t out[3], uint32_t* groups_x);

/* How a per-channel reduction is spread over workgroups: channel groups
 * (channels-first: one channel; channels-last: tx channel items) times
 * slices, each window getting slices in proportion to its samples. */
typedef struct vkbn__reduction {
    uint32_t tx;          /* channels-last: threads along channel items; 1 otherwise */
    uint32_t groups;      /* channel groups */
    uint64_t inner_items; /* per sample and group: S / vec items (cf) or S rows (cl) */
    uint32_t slices_total;
    uint32_t* wslices; /* slices of each window */
    uint32_t* wlen;    /* items (cf) or rows (cl) per slice, per window */
    bool fused;        /* one window, one slice: a workgroup owns its channel (group) */
    /* How the slices merge when not fused (merge.glsl): MERGE_LAST_WORKGROUP,
     * or MERGE_DEFERRED and then a MERGE_PASS dispatch of merge_parts
     * workgroups per channel group. merge_chain: the longest run of
     * dependent merge steps one invocation performs. */
    uint32_t merge;
    uint32_t merge_parts;
    uint32_t merge_chain;
} vkbn__reduction;

/* The longest merge chain (vkbn__reduction.merge_chain) a last-workgroup
 * merge may have; a longer one runs as a merge dispatch, whose workgroups
 * share the channels. */
#define VKBN__MAX_MERGE_CHAIN 64u

/* Uses op->reduction_split as the slice count when it is set. */
vkbn_result vkbn__reduction_init(vkbn__reduction* r, const vkbn__geometry* g);
void vkbn__reduction_free(vkbn__reduction* r);

/* Planning: a plan is built from its pass list (core/passes.h), by pass
 * kind, never by public operation.
 * - vk_plan_build.c walks the list: fuses a reduction with the pass after
 *   it when one workgroup owns each channel (group), lays out the one
 *   scratch, calls the planners and describes the plan;
 * - vk_reduce.c: the reduction planner (REDUCE_STATS, REDUCE_GRADS);
 * - vk_elementwise.c: the elementwise planner (NORMALIZE, APPLY_GRADS) and
 *   COPY;
 * - vk_family.c: what is particular to each family of passes (statistics:
 *   REDUCE_STATS and NORMALIZE; gradients: REDUCE_GRADS and APPLY_GRADS):
 *   kernels, specialization constants, bindings and the push constants
 *   beyond the slicing and the scratch offsets. */

/* What the passes of a family share. */
typedef struct vkbn__vk_family {
    bool grads; /* the gradient family, else the statistics family */
    vkbn__kernel reduce_cf, reduce_cl, elementwise;
    uint32_t spec[SPEC_COUNT];         /* the family's constants, the same in each of its kernels */
    vkbn__range fixed[BIND_MAX_COUNT]; /* per-channel vectors (and the pivots) at their bindings */
    union {
        kp_stats_io stats;
        kp_grads_io grads;
    } io;             /* the window-independent part of the push constants */
    uint32_t io_size; /* bytes of io */
    vkbn_buffer act;  /* gradients: y (mask activations) or the residual (SiLU), or NULL */
} vkbn__vk_family;

/* A plan being built. */
typedef struct vkbn__vk_build {
    vkbn_plan plan;
    struct vkbn__vk* vk;
    const vkbn__op* op;
    vkbn__geometry g;
    vkbn__vk_family f;
    /* The scratch binding (kp_scratch): the plan's scratch, the host's
     * arrays of an elementwise pass from VKBN__SOURCE_HOST, or the
     * placeholder; sc the word offsets in it. */
    vkbn__range scratch;
    kp_scratch sc;
} vkbn__vk_build;

/* vk_plan_build.c: the backend's plan_build (and plan_measure_scratch). */
vkbn_result vkbn__vk_plan_build(vkbn_plan plan);
/* The one scratch layout (kp_scratch) of a reduction with `slices` partial
 * slots per channel and `groups` counters (both 0 when fused), followed by
 * `arrays` channel arrays: fills sc, returns the size in 32-bit words. */
uint64_t vkbn__vk_scratch_layout(uint32_t c, uint32_t slices, uint32_t groups, uint32_t arrays, kp_scratch* sc);

/* vk_family.c */
/* Whether inference reads its parameters from a channel block apply_params
 * writes first (else apply computes them: SPEC_INFERENCE). */
bool vkbn__vk_inference_block(const vkbn__geometry* g, const vkbn__op* op);
vkbn_result vkbn__vk_family_init(vkbn__vk_build* b, vkbn_plan plan);
/* The bindings of window w (outputs: whether the dispatch writes the
 * family's elementwise outputs; placeholders otherwise where that matters)
 * and the family's push constants with the window's bases. */
void vkbn__vk_family_window(const vkbn__vk_build* b, const vkbn__window* w, bool outputs, vkbn__range* r, void* io);
/* The constants of a reduction dispatch (fused_next: the elementwise pass
 * fused into it, or NULL) and of an elementwise dispatch (after_reduction:
 * a reduction of this plan ran before it). */
void vkbn__vk_family_reduce_spec(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__pass* fused_next,
                                 uint32_t spec[SPEC_COUNT]);
void vkbn__vk_family_elementwise_spec(const vkbn__vk_build* b, const vkbn__pass* pass, bool after_reduction,
                                      uint32_t spec[SPEC_COUNT]);
/* Rescales the tensor bases of a window's io (vkbn__vk_family_window, in
 * items of the geometry's width) to items of `vec` elements. */
void vkbn__vk_family_rebase(const vkbn__vk_build* b, uint32_t vec, void* io);

/* vk_reduce.c: a reduction pass over every window, windows x chunks of
 * channel groups; fused: one workgroup owns each channel (group) and
 * fused_next, if any, runs in the same dispatch; store_channel: leave the
 * channel block for the elementwise pass after it. */
vkbn_result vkbn__vk_plan_reduce(vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__reduction* red, bool fused,
                                 const vkbn__pass* fused_next, bool store_channel);

/* vk_elementwise.c: an elementwise pass over every window, its channel
 * parameters at b->scratch / b->sc (or the running statistics: frozen
 * backward); after: a dispatch of this plan before it writes what it reads
 * (a reduction, or vkbn__vk_plan_inference_params). */
vkbn_result vkbn__vk_plan_elementwise(vkbn__vk_build* b, const vkbn__pass* pass, bool after);
/* Inference's channel block from the running statistics, once per channel,
 * into b->scratch at b->sc (apply_params.comp). */
vkbn_result vkbn__vk_plan_inference_params(vkbn__vk_build* b);
/* Elements per item of the plan's elementwise pass: the geometry's width,
 * or 8 for 16-bit tensors whose rows and starts are 8-element aligned. */
uint32_t vkbn__vk_elementwise_vec(const vkbn__vk_build* b);
vkbn_result vkbn__vk_plan_copy(vkbn_plan plan);
/* vk_plan_build.c: a dispatch's push constants for either planner: head
 * (kp_slices or kp_elementwise), the scratch offsets, then the family's io;
 * returns the size in bytes. */
uint32_t vkbn__vk_push(uint32_t out[32], const void* head, uint32_t head_size, const vkbn__vk_build* b, const void* io);

/* vk_report.c: each dispatch's traffic (vkbn__traffic), next to its
 * vkbn__vk_plan_add, and the reports. */
void vkbn__vk_traffic_reduce(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__reduction* red, uint32_t w,
                             uint32_t g0, uint32_t count, bool fused, const vkbn__pass* fused_next, bool store_channel,
                             vkbn__traffic* t);
void vkbn__vk_traffic_merge(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__reduction* red, uint32_t g0,
                            uint32_t count, bool store_channel, vkbn__traffic* t);
void vkbn__vk_traffic_elementwise(const vkbn__vk_build* b, const vkbn__pass* pass, const vkbn__window* w, bool after,
                                  const uint32_t spec[SPEC_COUNT], vkbn__traffic* t);
void vkbn__vk_traffic_params(const vkbn__vk_build* b, vkbn__traffic* t);
/* Distinct bytes the built plan touches (after its scratch is known). */
uint64_t vkbn__vk_footprint(vkbn_plan plan);
vkbn_result vkbn__vk_plan_report(vkbn_plan plan, vkbn_plan_report* out);
vkbn_result vkbn__vk_plan_dispatch_report(vkbn_plan plan, uint32_t index, vkbn_dispatch_report* out);

/* Shared arithmetic helpers. */
static inline uint64_t vkbn__div_up(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
static inline uint64_t vkbn__align_up(uint64_t a, uint64_t b) { return vkbn__div_up(a, b) * b; }
static inline uint32_t vkbn__next_pow2(uint32_t v) {
    uint32_t p = 1;
    while (p < v) p <<= 1;
    return p;
}
kp_fastdiv vkbn__fastdiv(uint32_t d);

#endif
