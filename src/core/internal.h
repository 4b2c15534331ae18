/* The library's internal objects, shared by the front end (api.c, validate.c)
 * and the backends (src/vulkan, src/cpu). */
#ifndef VKBN_INTERNAL_H_
#define VKBN_INTERNAL_H_

#include <stdbool.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

struct vkbn__vk; /* src/vulkan/vk_internal.h */
struct vkbn__vk_plan;
struct vkbn__cpu; /* src/cpu */
struct vkbn__cpu_plan;

struct vkbn_context_T {
    vkbn_backend backend;
    vkbn_context_flags flags;
    vkbn_log_fn log;
    void* log_user_data;
    vkbn_device_info info;
    struct vkbn__vk* vk;
    struct vkbn__cpu* cpu;
};

typedef enum vkbn__buffer_kind { VKBN__BUFFER_OWNED, VKBN__BUFFER_WRAPPED, VKBN__BUFFER_VIEW } vkbn__buffer_kind;

struct vkbn_buffer_T {
    vkbn_context ctx;
    vkbn__buffer_kind kind;
    uint64_t offset; /* bytes from the start of the root storage */
    uint64_t size;
    /* Root storage, shared by every view of it. */
    VkBuffer vk_buffer;       /* Vulkan: owned or the caller's */
    VkDeviceMemory vk_memory; /* Vulkan, owned buffers only */
    uint8_t* mapped;          /* host pointer to the root's byte 0, when mappable */
    uint8_t* host;            /* CPU path: the root allocation */
};

typedef enum vkbn__op_kind {
    VKBN__OP_FORWARD_TRAINING,
    VKBN__OP_FORWARD_INFERENCE,
    VKBN__OP_COPY,
    VKBN__OP_BACKWARD
} vkbn__op_kind;

/* A validated operation, the same for every backend. */
typedef struct vkbn__op {
    vkbn__op_kind kind;
    vkbn_tensor_desc tensor;
    uint64_t elements;    /* n * c * spatial */
    uint64_t spatial;     /* S */
    uint64_t per_channel; /* m = n * S */
    uint32_t elem_size;
    vkbn_buffer x, y, z;
    vkbn_buffer weight, bias;
    vkbn_buffer running_mean, running_var;
    vkbn_buffer save_mean, save_invstd;
    float eps;
    float factor;         /* running-average weight f of this batch */
    float var_correction; /* m / (m - 1), or 1 */
    vkbn_activation activation;
    float activation_alpha;
    float activation_beta;
    uint32_t reduction_split;
    uint64_t copy_bytes;
    vkbn_buffer scratch; /* the caller's scratch, or NULL: the plan allocates its own */
    /* Backward (VKBN__OP_BACKWARD). y and z are set only where the activation
     * reads them (y: the mask; z: SiLU's u); running_* only when frozen,
     * save_* only in training. */
    bool frozen;
    vkbn_buffer dy;
    vkbn_buffer dx, dz, dweight, dbias; /* outputs; NULL: not wanted */
    /* Synchronized batch norm (src/core/sync.c), internal ops only:
     * - sync_stats_out (forward training): run only the statistics and write
     *   this slice's pivot | mean - pivot | M2 (three arrays of c floats) there;
     * - sync_channel (forward training): only the normalize pass, from these
     *   four arrays of sync_c_pad floats: pivot | mean - pivot | scale | shift;
     * - sync_coef (backward training): only the dx / dz pass, from these six
     *   arrays of sync_c_pad floats (bwd_common.glsl's Coef). */
    vkbn_buffer sync_stats_out, sync_channel, sync_coef;
    uint32_t sync_c_pad;
} vkbn__op;

struct vkbn_plan_T {
    vkbn_context ctx;
    vkbn__op op;
    char description[256];
    struct vkbn__vk_plan* vk;
    struct vkbn__cpu_plan* cpu;
};

/* validate.c: turn a public description into a vkbn__op, or fail naming the
 * argument. Backend limits (16-bit storage, binding ranges) are checked by the
 * backend's planner. */
vkbn_result vkbn__validate_forward_training(vkbn_context ctx, const vkbn_forward_training_desc* desc, vkbn__op* op);
vkbn_result vkbn__validate_forward_inference(vkbn_context ctx, const vkbn_forward_inference_desc* desc, vkbn__op* op);
/* The tensor description alone (shape, layout, dtype, element count), as
 * every validation starts; n = 0 only with allow_empty (an empty slice of a
 * synchronized batch). */
vkbn_result vkbn__check_tensor(const vkbn_tensor_desc* t, uint64_t* elements, uint64_t* spatial, bool allow_empty);
vkbn_result vkbn__validate_copy(vkbn_context ctx, const vkbn_copy_desc* desc, vkbn__op* op);
vkbn_result vkbn__validate_backward(vkbn_context ctx, const vkbn_backward_desc* desc, vkbn__op* op);
/* The same for one slice of a synchronized batch (sync.c): m = 1 is allowed,
 * the batch's count is checked against the merged statistics. The backward
 * one (vkbn_grad_sums_compute) requires no output: the call binds its own
 * dweight and dbias to the op once the slice is known to be valid. */
vkbn_result vkbn__validate_forward_training_slice(vkbn_context ctx, const vkbn_forward_training_desc* desc,
                                                  vkbn__op* op);
vkbn_result vkbn__validate_backward_slice(vkbn_context ctx, const vkbn_backward_desc* desc, vkbn__op* op);
/* The same for the slice of a *_global call, which may also be empty
 * (tensor.n = 0): then no tensor is touched (x, y, dy, ... may be NULL) and
 * the rest of the description is checked as for any slice, so that every
 * replica accepts or refuses the same call. */
vkbn_result vkbn__validate_forward_training_global(vkbn_context ctx, const vkbn_forward_training_desc* desc,
                                                   vkbn__op* op);
vkbn_result vkbn__validate_backward_global(vkbn_context ctx, const vkbn_backward_desc* desc, vkbn__op* op);

/* device_select.c: the backend of a new context (desc->device, CPU path
 * fallback), and the Vulkan part of the device list. */
vkbn_result vkbn__context_create_backend(vkbn_context ctx, const vkbn_context_desc* desc);
vkbn_result vkbn__list_vulkan_devices(vkbn_device_info** out, uint32_t* count);

/* Logging through the context's callback, if any. */
void vkbn__log(vkbn_context ctx, vkbn_log_level level, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Allocation helpers that honour nothing but malloc; the Vulkan allocation
 * callbacks are passed to Vulkan only. */
void* vkbn__calloc(size_t count, size_t size);
void vkbn__free(void* p);

#endif
