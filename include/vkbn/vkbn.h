/*
 * vkbn: batch normalization on any Vulkan device.
 *
 * One public header, one prefix (vkbn_ / VKBN_). The exact semantics of every
 * operation (formulas, conventions, numerics, bad input) are written down in
 * docs/SEMANTICS.md in the source tree; the comment above each declaration
 * states its contract.
 *
 * Conventions
 * - Every function that can fail returns vkbn_result. On a failure found
 *   before any work starts (bad arguments, device limits, allocation) nothing
 *   is written to any output buffer; an execution failure (device lost, out
 *   of memory in a submission or wait) may leave outputs partly written, never
 *   inputs. After VKBN_ERROR_DEVICE_LOST every call that runs work on the
 *   context returns it at once; destroying everything stays safe. (docs/
 *   SEMANTICS.md, "Arguments and bad input".) vkbn_last_error() returns a one-line
 *   message that names the offending argument.
 * - The library never prints, exits or asserts on user input. Diagnostics go to
 *   the optional log callback of vkbn_context_desc.
 * - Destroy functions accept NULL.
 * - Zero-initialised description structs mean "defaults" wherever a field's
 *   comment says so. eps and momentum are used exactly as given (0 is a legal
 *   eps), so set them: VKBN_DEFAULT_EPS and VKBN_DEFAULT_MOMENTUM are PyTorch's.
 *
 * Include <vulkan/vulkan.h> (or volk.h) before this header if your project
 * needs a particular configuration of it; otherwise this header includes it.
 */
#ifndef VKBN_H_
#define VKBN_H_

#include <stddef.h>
#include <stdint.h>

#if !defined(VULKAN_H_) && !defined(VULKAN_CORE_H_)
#include <vulkan/vulkan.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define VKBN_VERSION_MAJOR 0
#define VKBN_VERSION_MINOR 1
#define VKBN_VERSION_PATCH 0
/* The version of the library as one number: major * 10000 + minor * 100 + patch. */
#define VKBN_VERSION (VKBN_VERSION_MAJOR * 10000 + VKBN_VERSION_MINOR * 100 + VKBN_VERSION_PATCH)

#if defined(__clang__)
/* Nullability marks every pointer of the API; silence clang's pedantic notes
 * about the extension and about the Vulkan handle fields it cannot mark. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-extension"
#pragma clang diagnostic ignored "-Wnullability-completeness"
#define VKBN_NULLABLE _Nullable
#define VKBN_NOT_NULL _Nonnull
#define VKBN_CLANG_PUSHED_
#else
#define VKBN_NULLABLE
#define VKBN_NOT_NULL
#endif

#if defined(_WIN32) && defined(VKBN_SHARED)
#ifdef VKBN_BUILDING
#define VKBN_API __declspec(dllexport)
#else
#define VKBN_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define VKBN_API __attribute__((visibility("default")))
#else
#define VKBN_API
#endif

#define VKBN_DEFINE_HANDLE(name) typedef struct name##_T* name;
/* A library instance bound to one device (a Vulkan device or the CPU path). */
VKBN_DEFINE_HANDLE(vkbn_context)
/* A range of memory the library can read and write: owned, a view, or wrapped. */
VKBN_DEFINE_HANDLE(vkbn_buffer)
/* One operation with its buffers and parameters bound, ready to run repeatedly. */
VKBN_DEFINE_HANDLE(vkbn_plan)

typedef uint32_t vkbn_bool;

#define VKBN_DEFAULT_EPS 1e-5f
#define VKBN_DEFAULT_MOMENTUM 0.1f
#define VKBN_MAX_SPATIAL_RANK 3

/* ------------------------------------------------------------------------ */
/* Results and errors                                                        */
/* ------------------------------------------------------------------------ */

typedef enum vkbn_result {
    VKBN_SUCCESS = 0,
    VKBN_ERROR_NULL_ARGUMENT = -1,       /* a required pointer or handle is NULL */
    VKBN_ERROR_INVALID_ARGUMENT = -2,    /* an enum, flag or field is out of range */
    VKBN_ERROR_INVALID_SHAPE = -3,       /* a dimension is 0 or the spatial rank is > 3 */
    VKBN_ERROR_SHAPE_MISMATCH = -4,      /* two arrays that must agree in shape do not */
    VKBN_ERROR_BUFFER_TOO_SMALL = -5,    /* a buffer is smaller than the tensor it must hold */
    VKBN_ERROR_INVALID_EPS = -6,         /* eps is negative, NaN or infinite */
    VKBN_ERROR_INVALID_MOMENTUM = -7,    /* momentum is outside [0, 1] or not finite */
    VKBN_ERROR_TOO_FEW_VALUES = -8,      /* training mode with one value per channel (m = 1) */
    VKBN_ERROR_UNSUPPORTED_DTYPE = -9,   /* f16 on a device without 16-bit storage */
    VKBN_ERROR_TOO_LARGE = -10,          /* sizes overflow or exceed the device's limits */
    VKBN_ERROR_ALIASING = -11,           /* an output overlaps another argument */
    VKBN_ERROR_MISALIGNED = -12,         /* an offset breaks an alignment rule */
    VKBN_ERROR_WRONG_CONTEXT = -13,      /* a buffer belongs to another context */
    VKBN_ERROR_NO_DEVICE = -14,          /* no Vulkan loader or no usable device */
    VKBN_ERROR_DEVICE_NOT_FOUND = -15,   /* no device matches the requested index or name */
    VKBN_ERROR_UNSUPPORTED_DEVICE = -16, /* the device lacks something vkbn requires */
    VKBN_ERROR_OUT_OF_HOST_MEMORY = -17,
    VKBN_ERROR_OUT_OF_DEVICE_MEMORY = -18,
    VKBN_ERROR_DEVICE_LOST = -19,
    VKBN_ERROR_VULKAN = -20,     /* any other Vulkan failure (the message has the VkResult) */
    VKBN_ERROR_UNSUPPORTED = -21 /* the operation is not available on this context */
} vkbn_result;

/* A constant string naming the code, e.g. "VKBN_ERROR_INVALID_EPS". Never NULL. */
VKBN_API const char* VKBN_NOT_NULL vkbn_result_string(vkbn_result result);

/* The message of the last failed vkbn call on the calling thread, naming the
 * argument at fault ("eps: must be finite and >= 0, got -1"). "" when no call
 * on this thread has failed. Valid until the next failing call on this thread. */
VKBN_API const char* VKBN_NOT_NULL vkbn_last_error(void);

/* For libraries layered on vkbn (vkbn_mpi): records message (truncated to
 * 511 bytes) as this thread's vkbn_last_error() and returns result. */
VKBN_API vkbn_result vkbn_set_last_error(vkbn_result result, const char* VKBN_NOT_NULL message);

/* The version of the library binary: VKBN_VERSION as the library was built
 * (major * 10000 + minor * 100 + patch), and the same as a constant string,
 * "major.minor.patch" (e.g. "0.1.0"; never NULL). The VKBN_VERSION_* macros
 * are the header the caller compiled against; these functions answer for the
 * library actually linked or loaded, which may differ with a shared library.
 * vkbn makes no compatibility promise across versions yet (0.x), so a caller
 * that checks requires vkbn_version() == VKBN_VERSION; the parts are
 * v / 10000, (v / 100) % 100 and v % 100. */
VKBN_API uint32_t vkbn_version(void);
VKBN_API const char* VKBN_NOT_NULL vkbn_version_string(void);

typedef enum vkbn_log_level {
    VKBN_LOG_DEBUG = 0,
    VKBN_LOG_INFO = 1,
    VKBN_LOG_WARNING = 2,
    VKBN_LOG_ERROR = 3
} vkbn_log_level;

/* Receives diagnostics (device choice, validation-layer messages). Called from
 * whichever thread produced them. */
typedef void (*vkbn_log_fn)(void* VKBN_NULLABLE user_data, vkbn_log_level level, const char* VKBN_NOT_NULL message);

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum vkbn_layout {
    VKBN_LAYOUT_CHANNELS_FIRST = 0, /* NCHW family: C-order (N, C, D1..Dk) */
    VKBN_LAYOUT_CHANNELS_LAST = 1   /* NHWC family: C-order (N, D1..Dk, C) */
} vkbn_layout;

/* The element type of the tensors (x, y, residual, dy, dx, dresidual).
 * Statistics and per-channel vectors are f32 whatever the dtype. The 16-bit
 * types are storage only: arithmetic runs in f32, and each result is rounded
 * to nearest even once, on store. */
typedef enum vkbn_dtype {
    VKBN_DTYPE_F32 = 0,
    VKBN_DTYPE_F16 = 1, /* IEEE binary16 */
    /* bfloat16: the upper 16 bits of an f32 (8-bit exponent, 7-bit mantissa),
     * the bit pattern PyTorch's torch.bfloat16 and ml_dtypes store. Runs on
     * every device, with or without 16-bit storage (docs/SEMANTICS.md). */
    VKBN_DTYPE_BF16 = 2
} vkbn_dtype;

/* The shape, layout and element type of x (and of y and the residual, which
 * share it). Statistics and per-channel parameters are always f32 vectors of
 * c elements. The reduction per channel runs over m = n * d[0] * ... * d[k-1]. */
typedef struct vkbn_tensor_desc {
    uint32_t n;                              /* batch, >= 1 */
    uint32_t c;                              /* channels, >= 1 */
    uint32_t spatial_rank;                   /* k = 0..3 */
    uint32_t spatial[VKBN_MAX_SPATIAL_RANK]; /* D1..Dk, each >= 1; entries past k are ignored */
    vkbn_layout layout;
    vkbn_dtype dtype;
} vkbn_tensor_desc;

/* Element count (n * c * spatial product), or 0 if the description is invalid
 * or the count overflows 64 bits. */
VKBN_API uint64_t vkbn_tensor_element_count(const vkbn_tensor_desc* VKBN_NOT_NULL desc);
/* Size in bytes of one element of the given type (4 for f32, 2 for f16 and bf16; 0 for an unknown type). */
VKBN_API uint32_t vkbn_dtype_size(vkbn_dtype dtype);

/* The activation fused after the normalization (and the residual add): with
 * u = bn(x) [+ residual], y = act(u). Its parameters are the descs'
 * activation_alpha and activation_beta; NONE, RELU and SILU ignore them, so a
 * zero-initialised desc means no activation, and RELU needs nothing more. */
typedef enum vkbn_activation {
    VKBN_ACTIVATION_NONE = 0, /* y = u */
    VKBN_ACTIVATION_RELU = 1, /* y = max(u, 0) */
    /* y = u >= 0 ? u : alpha * u; alpha, the negative slope (e.g. 0.01), finite
     * (backward takes act' from y and needs alpha >= 0, as PyTorch in place) */
    VKBN_ACTIVATION_LEAKY_RELU = 2,
    /* y = min(max(u, alpha), beta); alpha <= beta, both finite. ReLU6: 0, 6 */
    VKBN_ACTIVATION_CLAMP = 3,
    VKBN_ACTIVATION_SILU = 4 /* y = u * sigmoid(u) = u / (1 + exp(-u)) (swish) */
} vkbn_activation;

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum vkbn_backend {
    VKBN_BACKEND_VULKAN = 0,
    VKBN_BACKEND_CPU = 1 /* vkbn's own multithreaded SIMD path */
} vkbn_backend;

typedef enum vkbn_device_type {
    VKBN_DEVICE_TYPE_OTHER = 0,
    VKBN_DEVICE_TYPE_INTEGRATED_GPU = 1,
    VKBN_DEVICE_TYPE_DISCRETE_GPU = 2,
    VKBN_DEVICE_TYPE_VIRTUAL_GPU = 3,
    VKBN_DEVICE_TYPE_VULKAN_CPU = 4, /* a Vulkan driver running on the CPU (lavapipe, SwiftShader) */
    VKBN_DEVICE_TYPE_NATIVE_CPU = 5  /* vkbn's own CPU path */
} vkbn_device_type;

/* Subgroup operation bits, as VkSubgroupFeatureFlagBits. */
typedef struct vkbn_device_info {
    uint32_t index; /* the index vkbn_context_desc.device accepts */
    vkbn_backend backend;
    vkbn_device_type type;
    vkbn_bool is_default; /* the device a context gets when none is named */
    char name[256];
    char vendor[32]; /* "NVIDIA", "AMD", "Intel", "Arm", "Qualcomm", "Apple", "Mesa", ... */
    uint32_t vendor_id;
    uint32_t device_id;
    char driver_name[256];
    char driver_info[256];
    uint32_t api_version; /* VK_MAKE_API_VERSION encoding */
    uint32_t driver_version;
    uint32_t subgroup_size;     /* default subgroup size */
    uint32_t min_subgroup_size; /* with subgroup size control; else = subgroup_size */
    uint32_t max_subgroup_size;
    uint32_t subgroup_operations; /* VkSubgroupFeatureFlags supported in compute */
    vkbn_bool subgroup_size_control;
    vkbn_bool storage_16bit; /* f16 tensors supported */
    vkbn_bool timestamps;    /* timing available (GPU timestamps; wall time on the CPU path) */
    double timestamp_period_ns;
    uint64_t device_local_memory; /* bytes in the largest device-local heap */
    uint64_t max_storage_buffer_range;
    uint64_t max_allocation_size;
    uint32_t max_workgroup_invocations;
    uint32_t max_shared_memory;
    uint32_t min_storage_buffer_offset_alignment;
    uint32_t cpu_threads; /* CPU path: worker threads; 0 for Vulkan devices */
    char cpu_simd[32];    /* CPU path: "avx512", "avx2", "sse2", "neon", "scalar"; "" for Vulkan */
} vkbn_device_info;

/* Lists the Vulkan devices (in the Vulkan loader's order), then the CPU path
 * (always present, always last), Vulkan-style: with infos == NULL, writes the
 * count; otherwise writes min(*count, available) entries and sets *count to
 * that number. The order is not the ranking: is_default marks the default
 * device (see vkbn_context_desc.device), which is the CPU path wherever no
 * Vulkan GPU exists, e.g. with lavapipe alone or without a Vulkan loader. */
VKBN_API vkbn_result vkbn_enumerate_devices(uint32_t* VKBN_NOT_NULL count, vkbn_device_info* VKBN_NULLABLE infos);

/* ------------------------------------------------------------------------ */
/* Contexts                                                                  */
/* ------------------------------------------------------------------------ */

/* Debugging switches: the only environment variables vkbn reads, so that an
 * application can be debugged without recompiling it (README.md, "Debugging
 * switches"):
 *   VKBN_VALIDATION=1   as if every context that creates its own instance had
 *                       VKBN_CONTEXT_ENABLE_VALIDATION (borrowed devices and
 *                       the CPU path: no effect)
 *   VKBN_CPU_ISA=scalar|sse2|avx2|avx512|neon
 *                       the CPU path's level when vkbn_context_desc.cpu_isa is
 *                       AUTO
 * The other flags below have no environment variable: set them in desc. */
typedef enum vkbn_context_flag_bits {
    /* Enable VK_LAYER_KHRONOS_validation on vkbn's own instance, with its
     * best-practices checks (VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT;
     * the layer's NVIDIA, AMD and Arm checks come from its own settings, e.g.
     * VK_LAYER_ENABLES), and forward its messages to the log callback;
     * vkbn_context_validation_message_count() counts them, except the
     * best-practices warnings that do not apply to vkbn's compute work (logged
     * at VKBN_LOG_DEBUG with the reason; docs/ARCHITECTURE.md, "Validation").
     * Fails with VKBN_ERROR_UNSUPPORTED if the layer is missing. The
     * debugging switch VKBN_VALIDATION=1 turns it on as well. */
    VKBN_CONTEXT_ENABLE_VALIDATION = 0x1,
    /* Never use subgroup operations: the shared-memory reduction path runs on
     * every device (for testing and for drivers with subgroup bugs; the tool:
     * `vkbn run --no-subgroups`). */
    VKBN_CONTEXT_DISABLE_SUBGROUPS = 0x2,
    /* VKBN_CONTEXT_ENABLE_VALIDATION plus the layer's synchronization
     * validation (VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT):
     * hazards between vkbn's own commands count as validation messages. */
    VKBN_CONTEXT_ENABLE_SYNC_VALIDATION = 0x4
} vkbn_context_flag_bits;
typedef uint32_t vkbn_context_flags;

/* Serialises vkbn's use of a borrowed queue with the caller's (Vulkan requires
 * external synchronization of vkQueueSubmit): lock(user, 1) before vkbn submits
 * to or waits on it, lock(user, 0) after. */
typedef void (*vkbn_queue_lock_fn)(void* VKBN_NULLABLE user_data, vkbn_bool acquire);

/* A device the caller created and keeps ownership of. vkbn never destroys
 * any of these handles; the caller destroys the context before them.
 * vkbn_vulkan_get_requirements tells what to enable on it; features vkbn
 * would use but finds disabled select its fallback paths (see there). */
typedef struct vkbn_vulkan_device {
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    /* A queue with compute support, used only by the calls that run work
     * immediately (buffer upload/download, vkbn_plan_execute*, the one-shot
     * operations), each of which waits for its own fence, never for the queue
     * or the device to be idle. VK_NULL_HANDLE: a recording-only context
     * (those calls fail with VKBN_ERROR_UNSUPPORTED, except transfers to
     * host-mapped buffers). */
    VkQueue queue;
    uint32_t queue_family_index; /* the family of queue; plans may be recorded for any compute family */
    uint32_t api_version;        /* the apiVersion the instance was created with (>= 1.1) */
    /* NULL: vkbn loads the system Vulkan loader's. */
    PFN_vkGetInstanceProcAddr VKBN_NULLABLE get_instance_proc_addr;
    /* The create info the device was made with; vkbn reads its enabled
     * extensions and feature chain (only during vkbn_context_create) to know
     * what it may use. NULL: only Vulkan 1.1 core without optional features. */
    const VkDeviceCreateInfo* VKBN_NULLABLE create_info;
    /* Optional: called around every vkbn use of `queue`, for a queue the
     * caller submits to from other threads. NULL: the caller guarantees no
     * other thread uses the queue while an immediate vkbn call runs. */
    vkbn_queue_lock_fn VKBN_NULLABLE lock_queue;
    void* VKBN_NULLABLE lock_queue_user_data;
} vkbn_vulkan_device;

/* The instruction set the CPU path's kernels use (vkbn_context_desc.cpu_isa). */
typedef enum vkbn_cpu_isa {
    VKBN_CPU_ISA_AUTO = 0,   /* the best level the CPU supports */
    VKBN_CPU_ISA_SCALAR = 1, /* portable C, any CPU */
    VKBN_CPU_ISA_SSE2 = 2,   /* x86-64 baseline */
    VKBN_CPU_ISA_AVX2 = 3,   /* x86-64 with AVX2, FMA and F16C */
    VKBN_CPU_ISA_AVX512 = 4, /* x86-64 with AVX-512 F, BW and VL (and FMA, F16C) */
    VKBN_CPU_ISA_NEON = 5    /* aarch64 Advanced SIMD */
} vkbn_cpu_isa;

typedef struct vkbn_context_desc {
    /* Which device: NULL or "" for the default, the fastest kind there is:
     * a GPU (discrete, then integrated, then virtual; among equals the one
     * with the most device-local memory), else vkbn's CPU path, which ranks
     * above a Vulkan driver running on the CPU (lavapipe, SwiftShader: many
     * times slower than the CPU path on the same cores) and above a Vulkan
     * device of type OTHER, so those are never the default. "cpu"
     * (case-insensitive) for vkbn's CPU path; a decimal index from
     * vkbn_enumerate_devices; or a case-insensitive substring of the device
     * name. Ignored when `borrowed` is set. */
    const char* VKBN_NULLABLE device;
    vkbn_context_flags flags;
    /* Run on a device the caller owns instead of creating one. */
    const vkbn_vulkan_device* VKBN_NULLABLE borrowed;
    const VkAllocationCallbacks* VKBN_NULLABLE allocation_callbacks;
    vkbn_log_fn VKBN_NULLABLE log; /* NULL: silent */
    void* VKBN_NULLABLE log_user_data;
    /* Testing and tuning: the largest byte range one dispatch binds (0: the
     * device's maxStorageBufferRange). Larger tensors are processed in windows. */
    uint64_t max_binding_range;
    /* Pipelines (see "Embedding in an engine"): the caller's VkPipelineCache,
     * used for every pipeline vkbn creates and never destroyed by vkbn; or,
     * when that is VK_NULL_HANDLE, the path of a file for vkbn's own cache:
     * loaded at creation when it was written for this device, driver and
     * vkbn build (anything else is ignored and replaced), saved by
     * vkbn_context_save_pipeline_cache and by vkbn_context_destroy. */
    VkPipelineCache pipeline_cache;
    const char* VKBN_NULLABLE pipeline_cache_path;
    /* CPU path: worker threads, the caller's included (0: one per core). */
    uint32_t cpu_threads;
    /* CPU path: the instruction set (AUTO: the best the CPU has). A level the
     * CPU lacks fails with VKBN_ERROR_UNSUPPORTED. When AUTO, the debugging
     * switch VKBN_CPU_ISA=scalar|sse2|avx2|avx512|neon applies (see the
     * context flags). */
    vkbn_cpu_isa cpu_isa;
    /* Plans only, for a GPU that is not here: the name of a device profile
     * (vkbn_profile_get; "h100", case-insensitive). The context plans with
     * the same code as on a real device, from the profile's properties, and
     * nothing executes (see "Device profiles"). device and borrowed must be
     * NULL. NULL: a real device. */
    const char* VKBN_NULLABLE profile;
} vkbn_context_desc;

/* Creates a context. desc may be NULL for all defaults. On success *out is a
 * context the caller destroys with vkbn_context_destroy. */
VKBN_API vkbn_result vkbn_context_create(const vkbn_context_desc* VKBN_NULLABLE desc,
                                         vkbn_context VKBN_NULLABLE* VKBN_NOT_NULL out);
/* Waits for the context's work, then frees everything it created. A borrowed
 * device, queue and instance are left alone, and vkbn never waits for a
 * borrowed queue or device to be idle: command buffers into which the caller
 * recorded plans must have completed before. Saves vkbn's own pipeline cache
 * to pipeline_cache_path, if any (failures go to the log). Accepts NULL. */
VKBN_API void vkbn_context_destroy(vkbn_context VKBN_NULLABLE ctx);
/* The device the context runs on, including whether it is the default. */
VKBN_API vkbn_result vkbn_context_get_device_info(vkbn_context VKBN_NOT_NULL ctx, vkbn_device_info* VKBN_NOT_NULL info);
/* Whether the context's kernels use subgroup operations (1) or the
 * shared-memory fallback (0). */
VKBN_API vkbn_bool vkbn_context_uses_subgroups(vkbn_context VKBN_NOT_NULL ctx);
/* Number of validation-layer messages (warnings and errors, less the
 * best-practices warnings that do not apply) seen so far; 0 when validation
 * is off. */
VKBN_API uint64_t vkbn_context_validation_message_count(vkbn_context VKBN_NOT_NULL ctx);

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

/* Allocates `size` bytes of device memory (host memory on the CPU path).
 * The contents start undefined. On Vulkan, buffers of up to 1 MiB share
 * larger VkDeviceMemory blocks with vkbn's other small buffers and plan
 * scratch; larger ones get their own. */
VKBN_API vkbn_result vkbn_buffer_create(vkbn_context VKBN_NOT_NULL ctx, uint64_t size,
                                        vkbn_buffer VKBN_NULLABLE* VKBN_NOT_NULL out);
/* Wraps bytes [offset, offset + size) of a VkBuffer the caller owns. The
 * buffer needs VK_BUFFER_USAGE_STORAGE_BUFFER_BIT (and TRANSFER_SRC/DST for
 * upload and download). offset must be a multiple of 4. vkbn never frees it. */
VKBN_API vkbn_result vkbn_buffer_wrap(vkbn_context VKBN_NOT_NULL ctx, VkBuffer buffer, VkDeviceSize offset,
                                      VkDeviceSize size, vkbn_buffer VKBN_NULLABLE* VKBN_NOT_NULL out);
/* A view of bytes [offset, offset + size) of another buffer, which must
 * outlive it. offset must be a multiple of 4. */
VKBN_API vkbn_result vkbn_buffer_create_view(vkbn_buffer VKBN_NOT_NULL parent, uint64_t offset, uint64_t size,
                                             vkbn_buffer VKBN_NULLABLE* VKBN_NOT_NULL out);
/* Frees an owned buffer or releases a view or wrapper. Accepts NULL. */
VKBN_API void vkbn_buffer_destroy(vkbn_buffer VKBN_NULLABLE buffer);
VKBN_API uint64_t vkbn_buffer_size(vkbn_buffer VKBN_NOT_NULL buffer);
/* Copies `size` bytes from host memory into the buffer at `offset`, and
 * waits until the copy is complete. */
VKBN_API vkbn_result vkbn_buffer_upload(vkbn_buffer VKBN_NOT_NULL buffer, uint64_t offset,
                                        const void* VKBN_NOT_NULL src, uint64_t size);
/* Copies `size` bytes at `offset` of the buffer into host memory, after all
 * work the context has submitted is complete. */
VKBN_API vkbn_result vkbn_buffer_download(vkbn_buffer VKBN_NOT_NULL buffer, uint64_t offset, void* VKBN_NOT_NULL dst,
                                          uint64_t size);

/* ------------------------------------------------------------------------ */
/* Operations                                                                */
/* ------------------------------------------------------------------------ */

/* How running statistics are updated in training mode (docs/SEMANTICS.md,
 * "Running statistics"). */
typedef enum vkbn_running_average {
    /* f = momentum (PyTorch semantics: the weight of the new batch). */
    VKBN_RUNNING_AVERAGE_EXPONENTIAL = 0,
    /* f = 1 / (T + 1), T = cumulative_count: the batches already folded in. */
    VKBN_RUNNING_AVERAGE_CUMULATIVE = 1
} vkbn_running_average;

/* Forward pass in training mode. Buffers hold tensors from their start (use
 * views for offsets). x, y and residual are described by `tensor`; weight,
 * bias, the running and the saved statistics are f32 vectors of c elements.
 *
 *   y = act(weight * (x - mean) * invstd + bias [+ residual])
 *
 * y may be x itself (in place), and residual may be y. Every other output must
 * not overlap any argument. */
typedef struct vkbn_forward_training_desc {
    vkbn_tensor_desc tensor;
    /* x and y: required, except in vkbn_forward_training_global with
     * tensor.n = 0 (an empty slice), where they may be NULL. */
    vkbn_buffer VKBN_NULLABLE x;
    vkbn_buffer VKBN_NULLABLE y;
    vkbn_buffer VKBN_NULLABLE residual;     /* added before the activation */
    vkbn_buffer VKBN_NULLABLE weight;       /* gamma; NULL means 1 */
    vkbn_buffer VKBN_NULLABLE bias;         /* beta; NULL means 0 */
    vkbn_buffer VKBN_NULLABLE running_mean; /* read and updated in place; both or neither */
    vkbn_buffer VKBN_NULLABLE running_var;
    vkbn_buffer VKBN_NULLABLE save_mean;   /* out: batch mean */
    vkbn_buffer VKBN_NULLABLE save_invstd; /* out: 1 / sqrt(batch biased var + eps) */
    float eps;                             /* finite, >= 0 */
    float momentum;                        /* EXPONENTIAL: finite, in [0, 1] */
    vkbn_running_average running_average;
    uint64_t cumulative_count;    /* CUMULATIVE: T */
    vkbn_bool biased_running_var; /* 0: var * m/(m-1) (PyTorch, cuDNN); 1: var (ONNX) */
    vkbn_activation activation;
    /* Tuning and testing: 0 lets vkbn choose; 1 computes each channel's
     * statistics and output in one workgroup (one dispatch); k > 1 splits each
     * channel's reduction across up to k workgroups. Results are identical
     * to within rounding whatever the choice. */
    uint32_t reduction_split;
    /* Scratch memory the caller supplies instead of vkbn allocating it with the
     * plan: at least vkbn_forward_training_scratch_requirements().size bytes,
     * its offset a multiple of .alignment, VkBuffer usage STORAGE_BUFFER |
     * TRANSFER_DST. Its contents need not be initialised. It must not
     * overlap any other argument, and runs of plans that share it must not
     * overlap in time. NULL: vkbn allocates it once, at plan creation. */
    vkbn_buffer VKBN_NULLABLE scratch;
    float activation_alpha; /* LEAKY_RELU: slope; CLAMP: min (see vkbn_activation) */
    float activation_beta;  /* CLAMP: max */
    /* out, optional: the activation bit mask (RELU, LEAKY_RELU, CLAMP; see
     * vkbn_activation_mask_requirements), written in the same passes as y, for
     * vkbn_backward_desc.activation_mask to take in place of y. */
    vkbn_buffer VKBN_NULLABLE activation_mask;
} vkbn_forward_training_desc;

/* Forward pass in inference mode, from running statistics:
 *   y = act(weight * (x - running_mean) / sqrt(running_var + eps) + bias [+ residual])
 * On Vulkan the plan keeps a small scratch of its own (4 floats per channel,
 * always vkbn's: the per-channel scale and shift, formed once per run). */
typedef struct vkbn_forward_inference_desc {
    vkbn_tensor_desc tensor;
    vkbn_buffer VKBN_NOT_NULL x;
    vkbn_buffer VKBN_NOT_NULL y;
    vkbn_buffer VKBN_NULLABLE residual;
    vkbn_buffer VKBN_NULLABLE weight;
    vkbn_buffer VKBN_NULLABLE bias;
    vkbn_buffer VKBN_NOT_NULL running_mean;
    vkbn_buffer VKBN_NOT_NULL running_var;
    float eps;
    vkbn_activation activation;
    float activation_alpha;                    /* LEAKY_RELU: slope; CLAMP: min (see vkbn_activation) */
    float activation_beta;                     /* CLAMP: max */
    vkbn_buffer VKBN_NULLABLE activation_mask; /* out, optional: as in vkbn_forward_training_desc */
} vkbn_forward_inference_desc;

/* Backward pass (docs/SEMANTICS.md, "Backward"). With u = bn(x) [+ residual] and
 * y = act(u) the forward pass's values, g = dy * act'(u) is the gradient that
 * reaches the normalization, and per channel (sums over its m values):
 *
 *   training (frozen = 0), from the batch statistics the forward saved:
 *     xhat = (x - save_mean) * save_invstd
 *     dbias = sum g;  dweight = sum g * xhat
 *     dx = weight * save_invstd * (g - dbias / m - xhat * dweight / m)
 *   frozen statistics (frozen = 1: inference-mode statistics, fine-tuning):
 *     invstd = 1 / sqrt(running_var + eps);  xhat = (x - running_mean) * invstd
 *     dbias = sum g;  dweight = sum g * xhat;  dx = g * weight * invstd
 *   dresidual = g (the add variant: the residual's gradient)
 *
 * Buffers
 * - x, dy: required (but for an empty slice, tensor.n = 0, in the
 *   synchronized calls); x, y, dy, residual, dx and dresidual are described by
 *   `tensor`; every other buffer is an f32 vector of c elements.
 * - training: save_mean and save_invstd required (m = 1 is an error, as in
 *   the forward pass); frozen: running_mean and running_var required, eps used.
 * - weight: NULL means 1. dweight is the gradient of weight all the same.
 * - act'(u) comes from y for RELU (y > 0), LEAKY_RELU (y > 0 ? 1 : alpha) and
 *   CLAMP (alpha < y < beta): y or activation_mask is then required (with
 *   f16 or bf16 storage the test is on the stored y). SILU recomputes u from x, the statistics above,
 *   weight, bias (NULL: 0) and residual (give it if the forward added one;
 *   required with dresidual). NONE uses none of y, bias, residual.
 * - Outputs: any non-empty subset of dx, dweight, dbias, dresidual, and only
 *   their work is done: no pass that writes dx when dx is NULL; in frozen
 *   mode without dweight and dbias, no reduction (one elementwise pass).
 * - Aliasing: dx may be dy itself (in place: same buffer range). No other
 *   output may overlap any argument the call uses.
 * - reduction_split and scratch: as in vkbn_forward_training_desc (scratch
 *   sized by vkbn_backward_scratch_requirements). */
typedef struct vkbn_backward_desc {
    vkbn_tensor_desc tensor;
    /* x and dy: required, except with tensor.n = 0 (an empty slice, in
     * vkbn_grad_sums_compute and vkbn_backward_global), where they may be NULL. */
    vkbn_buffer VKBN_NULLABLE x;            /* the forward input */
    vkbn_buffer VKBN_NULLABLE dy;           /* gradient of the loss w.r.t. y */
    vkbn_buffer VKBN_NULLABLE y;            /* the forward output (RELU, LEAKY_RELU, CLAMP) */
    vkbn_buffer VKBN_NULLABLE residual;     /* the forward residual (SILU) */
    vkbn_buffer VKBN_NULLABLE weight;       /* gamma; NULL means 1 */
    vkbn_buffer VKBN_NULLABLE bias;         /* beta; NULL means 0 (SILU) */
    vkbn_buffer VKBN_NULLABLE save_mean;    /* training: the forward's batch mean */
    vkbn_buffer VKBN_NULLABLE save_invstd;  /* training: the forward's 1 / sqrt(var + eps) */
    vkbn_bool frozen;                       /* 1: statistics from running_mean / running_var */
    vkbn_buffer VKBN_NULLABLE running_mean; /* frozen */
    vkbn_buffer VKBN_NULLABLE running_var;  /* frozen */
    float eps;                              /* finite, >= 0; frozen: added to running_var */
    vkbn_activation activation;             /* of the forward pass */
    float activation_alpha;
    float activation_beta;
    vkbn_buffer VKBN_NULLABLE dx;        /* out: gradient w.r.t. x; may be dy */
    vkbn_buffer VKBN_NULLABLE dweight;   /* out: gradient w.r.t. weight (dgamma) */
    vkbn_buffer VKBN_NULLABLE dbias;     /* out: gradient w.r.t. bias (dbeta) */
    vkbn_buffer VKBN_NULLABLE dresidual; /* out: gradient w.r.t. the residual (= g) */
    uint32_t reduction_split;
    vkbn_buffer VKBN_NULLABLE scratch; /* the caller's scratch, or NULL (see the forward desc) */
    /* The forward pass's activation mask (RELU, LEAKY_RELU, CLAMP), given in
     * place of y: act'(u) is read from its bit, one bit per element instead
     * of a y element. At most one of y and activation_mask. */
    vkbn_buffer VKBN_NULLABLE activation_mask;
} vkbn_backward_desc;

/* The activation mask: one bit per element of the tensor, which a forward
 * pass with a RELU, LEAKY_RELU or CLAMP activation writes beside y
 * (activation_mask in its desc) and the backward pass reads in place of y,
 * as cuDNN's reserve space and oneDNN's workspace. Bit e (e the element's
 * index in the tensor's memory order, as for x) is bit e % 32 of the
 * little-endian 32-bit word e / 32: byte e / 8, bit e % 8, which is
 * numpy.unpackbits(mask, bitorder="little")[e]. The bit is 1 where act'(u) is
 * 1 and 0 where it is 0 (RELU, CLAMP) or alpha (LEAKY_RELU), the same test on
 * the same stored y as the backward pass without the mask (docs/SEMANTICS.md),
 * so both give the same bits. Bits past the last element, in the last word,
 * are not specified: the forward pass sets and clears each of its elements'
 * bits whatever the buffer held, the backward pass never reads the others.
 * SILU needs u itself: it has no mask (the backward pass recomputes u from
 * x); NONE has none either. A mask with them, too small, of another context,
 * overlapping an output, or given to a backward with y is refused before
 * anything runs. Every device writes and reads it (on Vulkan, f16 y is then
 * rounded by packHalf2x16 before it is stored, so that the bit is the
 * stored value's on every driver). */
typedef struct vkbn_mask_requirements {
    uint64_t size;      /* bytes: 4 * ceil(elements / 32) */
    uint64_t alignment; /* the mask's offset in its buffer must be a multiple (4) */
} vkbn_mask_requirements;

/* The mask a tensor of this description needs, on every device. Fails as
 * the plans would on an invalid description; a tensor of n = 0 (an empty
 * slice of a synchronized batch) needs none (size 0). */
VKBN_API vkbn_result vkbn_activation_mask_requirements(const vkbn_tensor_desc* VKBN_NOT_NULL tensor,
                                                       vkbn_mask_requirements* VKBN_NOT_NULL out);

/* y = x, `size` bytes: the plain copy kernel the benchmark uses as each
 * device's bandwidth ceiling. size must be a multiple of 4. */
typedef struct vkbn_copy_desc {
    vkbn_buffer VKBN_NOT_NULL x;
    vkbn_buffer VKBN_NOT_NULL y;
    uint64_t size;
} vkbn_copy_desc;

/* One-shot calls: validate, run, and wait for the result. */
VKBN_API vkbn_result vkbn_forward_training(vkbn_context VKBN_NOT_NULL ctx,
                                           const vkbn_forward_training_desc* VKBN_NOT_NULL desc);
VKBN_API vkbn_result vkbn_forward_inference(vkbn_context VKBN_NOT_NULL ctx,
                                            const vkbn_forward_inference_desc* VKBN_NOT_NULL desc);
VKBN_API vkbn_result vkbn_backward(vkbn_context VKBN_NOT_NULL ctx, const vkbn_backward_desc* VKBN_NOT_NULL desc);

/* ------------------------------------------------------------------------ */
/* Plans: an operation prepared once and run many times                      */
/* ------------------------------------------------------------------------ */

/* Validates the description, picks kernels for the shape and device, creates
 * (or reuses) the pipelines and binds the buffers. The buffers must outlive
 * the plan. */
VKBN_API vkbn_result vkbn_plan_create_forward_training(vkbn_context VKBN_NOT_NULL ctx,
                                                       const vkbn_forward_training_desc* VKBN_NOT_NULL desc,
                                                       vkbn_plan VKBN_NULLABLE* VKBN_NOT_NULL out);
VKBN_API vkbn_result vkbn_plan_create_forward_inference(vkbn_context VKBN_NOT_NULL ctx,
                                                        const vkbn_forward_inference_desc* VKBN_NOT_NULL desc,
                                                        vkbn_plan VKBN_NULLABLE* VKBN_NOT_NULL out);
VKBN_API vkbn_result vkbn_plan_create_backward(vkbn_context VKBN_NOT_NULL ctx,
                                               const vkbn_backward_desc* VKBN_NOT_NULL desc,
                                               vkbn_plan VKBN_NULLABLE* VKBN_NOT_NULL out);
VKBN_API vkbn_result vkbn_plan_create_copy(vkbn_context VKBN_NOT_NULL ctx, const vkbn_copy_desc* VKBN_NOT_NULL desc,
                                           vkbn_plan VKBN_NULLABLE* VKBN_NOT_NULL out);
/* Runs the plan once and waits for it. */
VKBN_API vkbn_result vkbn_plan_execute(vkbn_plan VKBN_NOT_NULL plan);
/* Runs the plan `repetitions` times back to back in one submission and
 * writes the mean time of one run in seconds: GPU time from timestamp
 * queries on Vulkan devices, wall time on the CPU path. Fails with
 * VKBN_ERROR_UNSUPPORTED on a device without timestamps. */
VKBN_API vkbn_result vkbn_plan_execute_timed(vkbn_plan VKBN_NOT_NULL plan, uint32_t repetitions,
                                             double* VKBN_NOT_NULL seconds_per_run);
/* A short description of what the plan runs, e.g.
 * "split: stats_cf(f32,vec4,subgroup) x128 + apply(f32,vec4)". */
VKBN_API const char* VKBN_NOT_NULL vkbn_plan_describe(vkbn_plan VKBN_NOT_NULL plan);
VKBN_API void vkbn_plan_destroy(vkbn_plan VKBN_NULLABLE plan);

/* ------------------------------------------------------------------------ */
/* Plan reports: what a plan does to the device                             */
/* ------------------------------------------------------------------------ */
/*
 * A Vulkan plan is a list of dispatches. A report says, per dispatch and in
 * total, how many workgroups run, the bytes moved to and from memory in the
 * worst case (every byte a dispatch reads or writes counted once per
 * dispatch and phase: nothing is assumed to stay in a cache between them),
 * and the longest serial chain: the dependent memory steps one invocation
 * performs one after another (a merge of partial sums; a streaming loop's
 * loads are independent and do not count). bytes_reread is the part of
 * bytes_read that the plan read or wrote before, which a cache large enough
 * for the plan's footprint would serve. Plans on the CPU path have no
 * dispatches: VKBN_ERROR_UNSUPPORTED.
 */
typedef enum vkbn_dispatch_role {
    VKBN_DISPATCH_REDUCE = 0,      /* streams the tensors into per-channel sums (fused: and normalizes) */
    VKBN_DISPATCH_MERGE = 1,       /* merges the partial sums of a sliced reduction */
    VKBN_DISPATCH_PARAMS = 2,      /* per-channel parameters from the running statistics */
    VKBN_DISPATCH_ELEMENTWISE = 3, /* streams the tensors element by element (y, or dx and dz) */
    VKBN_DISPATCH_COPY = 4         /* the copy plan */
} vkbn_dispatch_role;

typedef struct vkbn_dispatch_report {
    vkbn_dispatch_role role;
    const char* VKBN_NOT_NULL kernel; /* the shader: "stats_cf", "apply", ... */
    uint32_t workgroups[3];
    uint32_t workgroup_size;  /* invocations per workgroup */
    vkbn_bool barrier_before; /* waits for the writes of the dispatches before it */
    uint64_t bytes_read;
    uint64_t bytes_written;
    uint64_t bytes_reread; /* of bytes_read */
    uint32_t serial_chain;
} vkbn_dispatch_report;

typedef struct vkbn_plan_report {
    uint32_t passes;     /* the plan's passes (training: statistics, normalize), fused or not */
    uint32_t dispatches; /* vkbn_plan_get_dispatch_report takes 0 .. dispatches - 1 */
    uint32_t barriers;   /* dispatches that wait for the ones before them */
    /* Workgroups of the dispatches that stream the tensors (REDUCE,
     * ELEMENTWISE, COPY): the fewest and the most in one dispatch. */
    uint64_t stream_workgroups_min;
    uint64_t stream_workgroups_max;
    uint64_t bytes_read; /* sums over the dispatches */
    uint64_t bytes_written;
    uint64_t bytes_reread;
    uint32_t serial_chain;    /* the longest of any dispatch */
    uint64_t scratch_bytes;   /* the plan's scratch memory */
    uint64_t footprint_bytes; /* distinct bytes touched: tensors, vectors, scratch */
} vkbn_plan_report;

VKBN_API vkbn_result vkbn_plan_get_report(vkbn_plan VKBN_NOT_NULL plan, vkbn_plan_report* VKBN_NOT_NULL out);
VKBN_API vkbn_result vkbn_plan_get_dispatch_report(vkbn_plan VKBN_NOT_NULL plan, uint32_t index,
                                                   vkbn_dispatch_report* VKBN_NOT_NULL out);

/* ------------------------------------------------------------------------ */
/* Device profiles: plans for a GPU that is not here                         */
/* ------------------------------------------------------------------------ */
/*
 * A device profile holds the properties vkbn's Vulkan planner reads
 * (subgroup sizes, limits, features, compute units) for a real GPU and
 * driver, each with its source; a property no source gives is unknown and
 * the planner takes the choice that is correct on any device. A context
 * created with vkbn_context_desc.profile plans as on that GPU: buffers have
 * a size and no memory, plans are built by the same code as on a real
 * device and can be described and reported, and every call that would
 * touch memory or run (upload, download, execute, record, the one-shot
 * calls) fails with VKBN_ERROR_UNSUPPORTED. `vkbn plan --profile NAME`
 * prints such plans.
 */
typedef struct vkbn_profile_info {
    const char* VKBN_NOT_NULL name;         /* "h100": what vkbn_context_desc.profile takes */
    const char* VKBN_NOT_NULL display_name; /* "NVIDIA H100 SXM5 80GB" */
    const char* VKBN_NOT_NULL driver;       /* which driver its Vulkan properties describe */
    /* For cost estimates; 0 where no source gives the number. */
    uint32_t compute_units;
    uint32_t resident_workgroups; /* workgroups of 256 invocations resident on one compute unit */
    uint64_t dram_bandwidth;      /* bytes per second */
    uint64_t last_level_cache;    /* bytes */
} vkbn_profile_info;

VKBN_API uint32_t vkbn_profile_count(void);
/* index < vkbn_profile_count(); else VKBN_ERROR_INVALID_ARGUMENT. */
VKBN_API vkbn_result vkbn_profile_get(uint32_t index, vkbn_profile_info* VKBN_NOT_NULL out);

/* ------------------------------------------------------------------------ */
/* Synchronized batch norm: one batch split across contexts or processes     */
/* ------------------------------------------------------------------------ */
/*
 * Data-parallel training splits a batch into slices (one per GPU, per CPU
 * path, per MPI rank; any sizes, empty ones included) while batch norm must
 * use the statistics of the whole batch. Per step and per slice:
 *
 *   forward:  vkbn_batch_stats_compute    slice -> (count, mean, M2) per channel
 *             exchange, vkbn_batch_stats_merge (same order on every replica)
 *             vkbn_forward_training_global  y, save_*, running_* from the merge
 *   backward: vkbn_grad_sums_compute      slice -> (sum g, sum g * xhat)
 *             exchange, vkbn_grad_sums_merge
 *             vkbn_backward_global        dx, dresidual, dweight, dbias
 *
 * Every result equals (to within rounding) the single-context operation on
 * the whole batch. Merges run on the host in double, in index order, so every
 * replica that merges the same partials in the same order gets bit-identical
 * statistics whatever order they arrived in. These are one-shot calls (they
 * upload and download a few per-channel vectors); they cannot be recorded.
 * vkbn_mpi.h does the exchange over an MPI communicator.
 */

/* Per-channel statistics of a slice (or of a merge of slices), in host
 * memory the caller owns. count is the number of values per channel, the
 * same for every channel: n * S of the slice, exact in 64 bits. */
typedef struct vkbn_batch_stats {
    uint64_t count;
    uint32_t c;                 /* channels: the length of mean and m2 */
    double* VKBN_NULLABLE mean; /* c entries (0 when count = 0) */
    double* VKBN_NULLABLE m2;   /* c entries: sum (x - mean)^2 (0 when count = 0) */
} vkbn_batch_stats;

/* Per-channel backward sums of a slice (or of a merge), in host memory the
 * caller owns, with g = dy * act'(u) as in vkbn_backward_desc and
 * xhat = (x - save_mean) * save_invstd from the global statistics. */
typedef struct vkbn_grad_sums {
    uint64_t count; /* values per channel the sums ran over */
    uint32_t c;
    double* VKBN_NULLABLE sum_g;      /* c entries: sum g (= dbias) */
    double* VKBN_NULLABLE sum_g_xhat; /* c entries: sum g * xhat (= dweight) */
} vkbn_grad_sums;

/* A slice of the batch: x described by `tensor`, whose n may be 0 (an empty
 * slice: x may then be NULL and nothing runs on the device). */
typedef struct vkbn_batch_stats_desc {
    vkbn_tensor_desc tensor;
    vkbn_buffer VKBN_NULLABLE x;
} vkbn_batch_stats_desc;

/* Computes the slice's statistics into out (out->c must equal tensor.c and
 * out->mean, out->m2 hold c doubles each). On the device the slice is reduced
 * as forward training reduces it (pivot-shifted Welford/Chan in f32); the
 * result is widened to double. Empty slice: count 0, means and M2 0. */
VKBN_API vkbn_result vkbn_batch_stats_compute(vkbn_context VKBN_NOT_NULL ctx,
                                              const vkbn_batch_stats_desc* VKBN_NOT_NULL desc,
                                              vkbn_batch_stats* VKBN_NOT_NULL out);

/* The same statistics left in device memory, for engines that exchange
 * partials with their own transport (or record the step into their command
 * buffers): a plan that writes three arrays of c f32 values to `out` (at
 * least 12 c bytes, not overlapping x): pivot | mean - pivot | M2, where the
 * pivot is the channel's first value in the slice and mean - pivot and M2 are
 * those of the pivot-shifted values (so the mean keeps precision beyond
 * |mean|'s ulp). The count is not written: it is n * S of the slice, known
 * to the host exactly. Runs and records like any plan; reads x and writes
 * out (and its own scratch) in the synchronization contract of "Embedding in
 * an engine" (the forward-training row with out in place of the outputs).
 * tensor.n >= 1 (an empty slice's partial is count 0). Every backend runs
 * it: on the CPU path there is no command buffer to record into, and
 * vkbn_plan_execute runs it like any plan. */
typedef struct vkbn_batch_stats_plan_desc {
    vkbn_tensor_desc tensor;
    vkbn_buffer VKBN_NOT_NULL x;
    vkbn_buffer VKBN_NOT_NULL out;
} vkbn_batch_stats_plan_desc;

VKBN_API vkbn_result vkbn_plan_create_batch_stats(vkbn_context VKBN_NOT_NULL ctx,
                                                  const vkbn_batch_stats_plan_desc* VKBN_NOT_NULL desc,
                                                  vkbn_plan VKBN_NULLABLE* VKBN_NOT_NULL out);

/* Turns the 3 c floats such a plan wrote (copied to host memory) into
 * statistics: mean = pivot + (mean - pivot) in double, M2 as is (negative
 * rounding residue clamped to 0), out->count = count (the slice's n * S).
 * out->c gives c; out->mean and out->m2 hold c doubles. */
VKBN_API vkbn_result vkbn_batch_stats_decode(const float* VKBN_NOT_NULL words, uint64_t count,
                                             vkbn_batch_stats* VKBN_NOT_NULL out);

/* Merges parts[0..count) into out with Chan's formula in double, strictly in
 * index order ((p0 + p1) + p2) + ...: the result depends on the partials and
 * their order only. Partials with count 0 are identities. Every part and out
 * must have the same c. If every part is empty (or count = 0) the result is
 * the empty statistics (count 0, mean and M2 0), which the *_global calls
 * reject with VKBN_ERROR_TOO_FEW_VALUES. out may be one of the parts.
 * parts may be NULL when count = 0; a part with count 0 may have NULL arrays. */
VKBN_API vkbn_result vkbn_batch_stats_merge(const vkbn_batch_stats* VKBN_NULLABLE parts, uint32_t count,
                                            vkbn_batch_stats* VKBN_NOT_NULL out);

/* Forward training of a slice from the global statistics `global` (a merge
 * covering this slice): exactly vkbn_forward_training on the whole batch,
 * restricted to this slice's y. save_mean, save_invstd and the running
 * statistics (updated with the global count's unbiased correction m/(m-1))
 * are the whole batch's, so every replica writes the same values.
 * desc as in vkbn_forward_training_desc, except: tensor.n may be 0 (x, y and
 * residual are then unused and may be NULL; the vectors are still written),
 * a slice may hold a single value per channel, reduction_split and scratch
 * are ignored. global->count must be >= 2 (VKBN_ERROR_TOO_FEW_VALUES). */
VKBN_API vkbn_result vkbn_forward_training_global(vkbn_context VKBN_NOT_NULL ctx,
                                                  const vkbn_forward_training_desc* VKBN_NOT_NULL desc,
                                                  const vkbn_batch_stats* VKBN_NOT_NULL global);

/* The slice's backward sums into out (out->c = tensor.c), from desc as in
 * vkbn_backward_desc in training mode (frozen must be 0: frozen statistics
 * need no synchronization): x, dy, y / residual as the activation needs,
 * weight and bias (SiLU), and save_mean / save_invstd, the global statistics
 * vkbn_forward_training_global wrote. The outputs (dx, dweight, dbias,
 * dresidual), reduction_split and scratch are ignored. tensor.n may be 0.
 * In device memory, the same sums come from a backward plan (recordable)
 * with only dbias (= sum g) and dweight (= sum g * xhat) requested, for
 * slices of m >= 2 values per channel. */
VKBN_API vkbn_result vkbn_grad_sums_compute(vkbn_context VKBN_NOT_NULL ctx,
                                            const vkbn_backward_desc* VKBN_NOT_NULL desc,
                                            vkbn_grad_sums* VKBN_NOT_NULL out);

/* Adds parts[0..count) into out in double with compensated (Neumaier)
 * summation, strictly in index order; counts add. out may be one of the parts.
 * parts may be NULL when count = 0; a part with count 0 may have NULL arrays. */
VKBN_API vkbn_result vkbn_grad_sums_merge(const vkbn_grad_sums* VKBN_NULLABLE parts, uint32_t count,
                                          vkbn_grad_sums* VKBN_NOT_NULL out);

/* Backward of a slice from the global sums (a merge covering this slice, its
 * count the global m): dx = weight * invstd * (g - sum_g / m - xhat *
 * sum_g_xhat / m) and dresidual = g on the slice; dweight = sum_g_xhat and
 * dbias = sum_g (the same on every replica). desc as for
 * vkbn_grad_sums_compute, with its outputs; tensor.n may be 0 (then only
 * dweight and dbias are written). */
VKBN_API vkbn_result vkbn_backward_global(vkbn_context VKBN_NOT_NULL ctx, const vkbn_backward_desc* VKBN_NOT_NULL desc,
                                          const vkbn_grad_sums* VKBN_NOT_NULL global);

/* ------------------------------------------------------------------------ */
/* Embedding in an engine                                                    */
/* ------------------------------------------------------------------------ */
/*
 * An engine that owns the VkDevice, queues, memory and command buffers uses
 * vkbn like VMA or sokol_gfx: it borrows the device (vkbn_context_desc.
 * borrowed), wraps its own buffers (vkbn_buffer_wrap, any 4-byte-aligned
 * offset inside one big VkBuffer), optionally supplies scratch memory
 * (vkbn_forward_training_desc.scratch), creates plans at load time (pipelines
 * and descriptors are made then, never later), and each frame records plans
 * into its own command buffers with vkbn_plan_record. Recording never
 * allocates, compiles, submits or waits.
 *
 * Synchronization contract of one recorded run (vkbn_plan_record)
 *   Every access is made by compute shaders
 *   (VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT), except the scratch counter fill
 *   (VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT):
 *
 *   op                  reads (SHADER_READ)               writes (SHADER_WRITE)
 *   forward training    x, residual, weight, bias,        y, save_mean, save_invstd,
 *                       running_mean, running_var,        running_mean, running_var,
 *                       scratch                           scratch (+ TRANSFER_WRITE)
 *   forward inference   x, residual, weight, bias,        y, scratch (vkbn's own)
 *                       running_mean, running_var,
 *                       scratch
 *   backward            x, dy, y, residual, weight,       dx, dweight, dbias, dresidual,
 *                       bias, save_mean, save_invstd,     scratch (+ TRANSFER_WRITE)
 *                       running_mean, running_var,
 *                       scratch
 *   copy                x                                 y
 *
 *   Only the bytes of each tensor and vector are touched (the descriptors may
 *   start up to minStorageBufferOffsetAlignment bytes earlier, but nothing
 *   outside the argument is read or written). Fused plans (forward and
 *   backward) and elementwise backward plans use no scratch; an inference
 *   plan uses a scratch of its own (never the caller's: its desc has none),
 *   which no other plan touches, so only two runs of the same inference plan
 *   need the ordering below for it (a global VkMemoryBarrier gives it;
 *   buffer barriers on the caller's ranges alone do not);
 *   vkbn_plan_describe says which plan was chosen.
 *   Before the run, the caller makes earlier writes to any of these ranges
 *   available and visible to those stages and accesses, and orders earlier
 *   reads of the written ranges before it (for instance a VkMemoryBarrier
 *   from the producing stage with its write access to
 *   COMPUTE_SHADER | TRANSFER with SHADER_READ | SHADER_WRITE |
 *   TRANSFER_WRITE). After the run, later readers of the written ranges wait
 *   for COMPUTE_SHADER / SHADER_WRITE, and later writers of any range for
 *   COMPUTE_SHADER. VKBN_RECORD_BARRIER_BEFORE and VKBN_RECORD_BARRIER_AFTER
 *   have vkbn record conservative global barriers that do exactly this. The
 *   barriers between the plan's own dispatches are always recorded.
 *
 * Scratch counters
 *   Split training plans elect the workgroup that merges a channel with an
 *   integer counter that must be zero when a run starts (each run leaves it
 *   at zero again). A command buffer may be submitted in another order than
 *   it was recorded, resubmitted, or never submitted, and an engine's
 *   allocator may alias scratch memory between frames, so vkbn never assumes
 *   the counters are zero: every recorded run of such a plan starts with a
 *   vkCmdFillBuffer of its counters (4 bytes per channel group) and one
 *   barrier. The caller never zeroes scratch.
 *
 * Threads
 *   - Any number of threads may call vkbn_plan_record at once with one
 *     context, each into its own command buffer (the same plan included:
 *     recording only reads the plan). The command buffer is externally
 *     synchronized, as Vulkan requires.
 *   - Creating and destroying plans and buffers may run concurrently from
 *     several threads (pipelines are created under a per-context lock).
 *   - Calls that run work immediately (buffer upload/download,
 *     vkbn_plan_execute*, the one-shot operations) are serialised per
 *     context; on a borrowed queue see vkbn_vulkan_device.lock_queue.
 *   - A plan or buffer must not be destroyed while another thread uses it or
 *     while a command buffer that recorded it may still execute.
 *   - Separate contexts (one per device, or several on one device) are
 *     independent.
 */

/* Device extensions vkbn may ask for (vkbn_vulkan_requirements.extensions). */
#define VKBN_MAX_DEVICE_EXTENSIONS 8

/* What vkbn needs and can use on a physical device, to enable at device
 * creation. Everything listed is supported by that device. */
typedef struct vkbn_vulkan_requirements {
    uint32_t min_api_version; /* VK_API_VERSION_1_1: older devices are refused */
    uint32_t api_version;     /* the newest version vkbn uses, capped at the device's */
    VkQueueFlags queue_flags; /* VK_QUEUE_COMPUTE_BIT */
    /* Device extensions vkbn would use (each optional): enable them all. */
    uint32_t extension_count;
    const char* VKBN_NULLABLE extensions[VKBN_MAX_DEVICE_EXTENSIONS]; /* static strings */
    /* Optional features the device has and vkbn would use: VK_TRUE means
     * "enable this bit" (VkPhysicalDevice16BitStorageFeatures or
     * VkPhysicalDeviceVulkan11Features; VkPhysicalDeviceSubgroupSizeControlFeatures
     * or VkPhysicalDeviceVulkan13Features). Left off: f16 tensors fail with
     * VKBN_ERROR_UNSUPPORTED_DTYPE; without both subgroup bits the reductions
     * take the shared-memory path (same results to within rounding).
     * vulkan_memory_model and vulkan_memory_model_device_scope
     * (VkPhysicalDeviceVulkanMemoryModelFeatures or
     * VkPhysicalDeviceVulkan12Features): a sliced reduction merges in its
     * last workgroup; without both, in a dispatch of its own (same bits, one
     * more dispatch). */
    VkBool32 storage_buffer_16bit_access;
    VkBool32 subgroup_size_control;
    VkBool32 compute_full_subgroups;
    VkBool32 vulkan_memory_model;
    VkBool32 vulkan_memory_model_device_scope;
    /* VK_EXT_memory_priority's memoryPriority
     * (VkPhysicalDeviceMemoryPriorityFeaturesEXT; the extension is then in
     * `extensions`). Left off: vkbn's allocations carry no priority. */
    VkBool32 memory_priority;
} vkbn_vulkan_requirements;

/* Fills *out for physical_device of instance. get_instance_proc_addr may be
 * NULL for the system loader's. Fails with VKBN_ERROR_UNSUPPORTED_DEVICE
 * (message says why) when vkbn cannot run on the device at all. */
VKBN_API vkbn_result vkbn_vulkan_get_requirements(PFN_vkGetInstanceProcAddr VKBN_NULLABLE get_instance_proc_addr,
                                                  VkInstance instance, VkPhysicalDevice physical_device,
                                                  vkbn_vulkan_requirements* VKBN_NOT_NULL out);

/* Feature structs for a VkDeviceCreateInfo that has no feature chain of its own. */
typedef struct vkbn_vulkan_feature_chain {
    VkPhysicalDevice16BitStorageFeatures storage_16bit;
    VkPhysicalDeviceSubgroupSizeControlFeatures subgroup_size_control;
    VkPhysicalDeviceVulkanMemoryModelFeatures memory_model;
    VkPhysicalDeviceMemoryPriorityFeaturesEXT memory_priority;
} vkbn_vulkan_feature_chain;

/* Fills `chain` with the features `req` asks for, links the structs that
 * enable something in front of `next`, and returns the head (`next` if
 * none) for VkDeviceCreateInfo.pNext. An engine that already chains
 * VkPhysicalDeviceVulkan11Features / 12Features / 13Features sets the bits there instead
 * (Vulkan forbids both forms in one chain). */
VKBN_API void* VKBN_NULLABLE vkbn_vulkan_chain_features(const vkbn_vulkan_requirements* VKBN_NOT_NULL req,
                                                        vkbn_vulkan_feature_chain* VKBN_NOT_NULL chain,
                                                        void* VKBN_NULLABLE next);

typedef struct vkbn_scratch_requirements {
    uint64_t size;      /* bytes; 0 when the plan for this description needs none */
    uint64_t alignment; /* the scratch buffer's offset in its VkBuffer must be a multiple */
} vkbn_scratch_requirements;

/* The scratch the plan for `desc` would need (desc->scratch is ignored), for
 * the caller to sub-allocate before vkbn_plan_create_forward_training. The
 * answer is for this exact description: the shape, the device, and the
 * buffers' offsets (which choose the vector width) decide the plan. The same
 * description on the same context always gives the same answer. May create
 * the pipelines the plan will use (so plan creation is faster). */
VKBN_API vkbn_result vkbn_forward_training_scratch_requirements(vkbn_context VKBN_NOT_NULL ctx,
                                                                const vkbn_forward_training_desc* VKBN_NOT_NULL desc,
                                                                vkbn_scratch_requirements* VKBN_NOT_NULL out);
/* The same for the backward plan of `desc` (desc->scratch is ignored). */
VKBN_API vkbn_result vkbn_backward_scratch_requirements(vkbn_context VKBN_NOT_NULL ctx,
                                                        const vkbn_backward_desc* VKBN_NOT_NULL desc,
                                                        vkbn_scratch_requirements* VKBN_NOT_NULL out);

typedef enum vkbn_record_flag_bits {
    /* Before the run: a global barrier from every earlier command's writes
     * (ALL_COMMANDS, MEMORY_WRITE) to the run's accesses (COMPUTE_SHADER |
     * TRANSFER; SHADER_READ | SHADER_WRITE | TRANSFER_WRITE). */
    VKBN_RECORD_BARRIER_BEFORE = 0x1,
    /* After the run: a global barrier from its writes (COMPUTE_SHADER,
     * SHADER_WRITE) to every later command (ALL_COMMANDS, MEMORY_READ |
     * MEMORY_WRITE). */
    VKBN_RECORD_BARRIER_AFTER = 0x2
} vkbn_record_flag_bits;
typedef uint32_t vkbn_record_flags;

/* Records one run of the plan into `cmd`, a primary or secondary command
 * buffer of the context's VkDevice in the recording state, outside a render
 * pass, from a pool whose queue family supports compute. Records pipeline
 * barriers, at most one fill and the dispatches; it allocates nothing,
 * compiles nothing and submits nothing. It leaves a compute pipeline,
 * descriptor set 0 and push constants bound: rebind your own compute state
 * afterwards. The caller submits `cmd` and synchronizes with it as described
 * above; the plan, its buffers and its scratch must stay alive until the
 * command buffer has finished. The recording may be submitted any number of
 * times. VKBN_ERROR_UNSUPPORTED on a context without Vulkan (the CPU path). */
VKBN_API vkbn_result vkbn_plan_record(vkbn_plan VKBN_NOT_NULL plan, VkCommandBuffer cmd, vkbn_record_flags flags);

/* Pipeline creation so far on a context (for load-time budgets and the
 * benchmark's cold/warm cache measurement). */
typedef struct vkbn_pipeline_stats {
    uint32_t pipelines_created;    /* vkCreateComputePipelines calls */
    uint32_t pipelines_cache_hits; /* of those, found in the pipeline cache per the driver */
    vkbn_bool hits_reported;       /* whether the driver reports hits (pipeline creation feedback) */
    double create_seconds;         /* wall time spent in vkCreateComputePipelines */
    vkbn_bool cache_file_loaded;   /* pipeline_cache_path was read and accepted */
    uint64_t cache_file_bytes;     /* the driver's data in it */
    char cache_file_status[160];   /* what happened to the file ("loaded", "absent", "stale: ...") */
} vkbn_pipeline_stats;

VKBN_API vkbn_result vkbn_context_get_pipeline_stats(vkbn_context VKBN_NOT_NULL ctx,
                                                     vkbn_pipeline_stats* VKBN_NOT_NULL out);

/* Writes vkbn's own pipeline cache to vkbn_context_desc.pipeline_cache_path
 * (atomically: a temporary file renamed over it), headed by the device's
 * vendor and device IDs, driver version, pipelineCacheUUID and the vkbn
 * build, so that a later start on another driver ignores it.
 * VKBN_ERROR_UNSUPPORTED when the context has no such path. */
VKBN_API vkbn_result vkbn_context_save_pipeline_cache(vkbn_context VKBN_NOT_NULL ctx);

#ifdef __cplusplus
}
#endif

#ifdef VKBN_CLANG_PUSHED_
#pragma clang diagnostic pop
#undef VKBN_CLANG_PUSHED_
#endif

#endif /* VKBN_H_ */
