/* Device profiles: the Vulkan properties vkbn's planner reads (vkbn__caps,
 * vk_tuning.c, vk_geometry.c) for named real GPUs, plus what a cost estimate
 * needs, so that a GPU's plan can be seen without the GPU.
 *
 * A context on a profile (vk_profile_context.c, vkbn_context_desc.profile)
 * plans from these values with the production planner. Every value carries its
 * provenance and a source string (a document and section, a driver source
 * file, a report or log of that GPU); a value no source gives is UNKNOWN,
 * stored as 0 / false / NULL, and whoever reads the profile must substitute
 * the field's fallback below, chosen so that the plan is still correct on the
 * real device (only speed may differ):
 *
 *   field                          fallback when unknown, and its effect
 *   vendor_id, device_type         none: every profile knows them
 *   driver_name                    "" (not "MoltenVK": the MoltenVK quirk is not applied)
 *   api_version                    VK_API_VERSION_1_1, vkbn's minimum
 *   subgroup_size                  1: no subgroup path
 *   min_subgroup_size              subgroup_size (when known), else 1
 *   max_subgroup_size              subgroup_size for workgroup floors, and the subgroup path off
 *   subgroup_size_control,
 *   compute_full_subgroups,
 *   subgroup_basic_shuffle         false: the shared-memory reduction path
 *   compute_units                  none needed: the planner only uses the exposed count
 *   compute_units_exposed          false: target workgroups from the tuning's default
 *   max_workgroup_invocations      128, the spec minimum
 *   max_workgroup_size_x           128, the spec minimum
 *   max_shared_memory              16384, the spec minimum
 *   max_storage_buffer_range       2^27, the spec minimum (windows of 128 MiB)
 *   max_storage_buffers_per_stage  4, the spec minimum, below vkbn's 12: a plan from such a
 *                                  profile must say that the bindings are unverified
 *   min_storage_buffer_alignment   256, the spec maximum
 *   max_memory_allocation_count    4096, the spec minimum
 *   storage_buffer_16bit           false: f16 tensors unsupported
 *   memory_model(_device_scope)    false: sliced reductions merge in a dispatch of their own
 *   resident_groups_256            1: a cost estimate assumes one resident workgroup per compute unit
 *   dram_bandwidth_gbs             none: no bandwidth-bound time estimate
 *   last_level_cache_bytes         0: assume no cache reuse between passes
 *
 * Provenance VKBN__PROV_LOWER_BOUND means the true value is at least the one
 * stored (the stored value is safe to plan with). */
#ifndef VKBN_VK_PROFILES_H_
#define VKBN_VK_PROFILES_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vulkan/vulkan_core.h>

/* The Vulkan specification's required limits ("Required Limits" table). */
#define VKBN__SPEC_MIN_WORKGROUP_INVOCATIONS 128u
#define VKBN__SPEC_MIN_WORKGROUP_SIZE_X 128u
#define VKBN__SPEC_MIN_SHARED_MEMORY 16384u
#define VKBN__SPEC_MIN_STORAGE_BUFFER_RANGE (1u << 27)
#define VKBN__SPEC_MIN_STORAGE_BUFFERS_PER_STAGE 4u
#define VKBN__SPEC_MAX_MIN_STORAGE_BUFFER_ALIGNMENT 256u
#define VKBN__SPEC_MIN_MEMORY_ALLOCATION_COUNT 4096u

/* Where a value comes from. */
typedef enum vkbn__prov {
    VKBN__PROV_UNKNOWN = 0, /* no source: use the field's fallback (above) */
    VKBN__PROV_VENDOR,      /* the vendor's datasheet, whitepaper or product page for this GPU */
    VKBN__PROV_REPORT,      /* a published report or log of this GPU on this driver */
    VKBN__PROV_DRIVER,      /* the driver's own source code, for this GPU's generation */
    VKBN__PROV_SAME_DRIVER, /* the same driver on another GPU: a driver-wide value */
    VKBN__PROV_THIRD_PARTY, /* a third-party database or a curated target table */
    VKBN__PROV_SPEC,        /* guaranteed by the Vulkan specification */
    VKBN__PROV_LOWER_BOUND, /* the true value is at least this one */
} vkbn__prov;

typedef struct vkbn__pu32 {
    uint32_t value;
    vkbn__prov prov;
    const char* source;
} vkbn__pu32;

typedef struct vkbn__pu64 {
    uint64_t value;
    vkbn__prov prov;
    const char* source;
} vkbn__pu64;

typedef struct vkbn__pbool {
    bool value;
    vkbn__prov prov;
    const char* source;
} vkbn__pbool;

typedef struct vkbn__pstr {
    const char* value; /* NULL when unknown */
    vkbn__prov prov;
    const char* source;
} vkbn__pstr;

typedef struct vkbn__device_profile {
    const char* name;         /* short name for lookups: "h100" */
    const char* display_name; /* "NVIDIA H100 SXM5 80GB" */
    const char* driver_note;  /* which driver (and version range) the Vulkan values describe */

    vkbn__pu32 vendor_id;   /* VkPhysicalDeviceProperties::vendorID (PCI vendor id) */
    vkbn__pu32 device_type; /* a VkPhysicalDeviceType */
    vkbn__pstr driver_name; /* VkPhysicalDeviceDriverProperties::driverName */
    vkbn__pu32 api_version; /* VkPhysicalDeviceProperties::apiVersion */

    /* Subgroups (VkPhysicalDeviceSubgroupProperties, ...SubgroupSizeControl*). */
    vkbn__pu32 subgroup_size;
    vkbn__pu32 min_subgroup_size;
    vkbn__pu32 max_subgroup_size;
    vkbn__pbool subgroup_size_control;
    vkbn__pbool compute_full_subgroups;
    vkbn__pbool subgroup_basic_shuffle; /* BASIC and SHUFFLE in supportedOperations */

    /* Compute units: the true count, and whether the planner can learn it
     * (VK_NV_shader_sm_builtins or VK_AMD_shader_core_properties: vk_context.c). */
    vkbn__pu32 compute_units;
    vkbn__pbool compute_units_exposed;

    /* VkPhysicalDeviceLimits. */
    vkbn__pu32 max_workgroup_invocations;     /* maxComputeWorkGroupInvocations */
    vkbn__pu32 max_workgroup_size_x;          /* maxComputeWorkGroupSize[0] */
    vkbn__pu32 max_shared_memory;             /* maxComputeSharedMemorySize */
    vkbn__pu32 max_storage_buffer_range;      /* maxStorageBufferRange */
    vkbn__pu32 max_storage_buffers_per_stage; /* maxPerStageDescriptorStorageBuffers */
    vkbn__pu32 min_storage_buffer_alignment;  /* minStorageBufferOffsetAlignment */
    vkbn__pu32 max_memory_allocation_count;   /* maxMemoryAllocationCount */

    /* Features. */
    vkbn__pbool storage_buffer_16bit;      /* storageBuffer16BitAccess */
    vkbn__pbool memory_model;              /* vulkanMemoryModel */
    vkbn__pbool memory_model_device_scope; /* vulkanMemoryModelDeviceScope */

    /* For a cost estimate. */
    vkbn__pu32 resident_groups_256;    /* workgroups of 256 threads resident per compute unit */
    vkbn__pu32 dram_bandwidth_gbs;     /* peak DRAM bandwidth, GB/s */
    vkbn__pu64 last_level_cache_bytes; /* largest on-chip cache in front of DRAM */
} vkbn__device_profile;

extern const vkbn__device_profile vkbn__device_profiles[];
extern const size_t vkbn__device_profile_count;

/* The profile whose short name matches (ASCII, case-insensitive), or NULL. */
const vkbn__device_profile* vkbn__device_profile_find(const char* name);

/* A field's value when known, else the caller's fallback. */
static inline uint32_t vkbn__pu32_or(const vkbn__pu32* f, uint32_t fallback) {
    return f->prov != VKBN__PROV_UNKNOWN ? f->value : fallback;
}
static inline uint64_t vkbn__pu64_or(const vkbn__pu64* f, uint64_t fallback) {
    return f->prov != VKBN__PROV_UNKNOWN ? f->value : fallback;
}
static inline bool vkbn__pbool_or(const vkbn__pbool* f, bool fallback) {
    return f->prov != VKBN__PROV_UNKNOWN ? f->value : fallback;
}

#endif
