/* The library's internal objects, shared by the front end (api.c, validate.c)
 * and the backends (src/vulkan, src/cpu). */
#ifndef VKBN_INTERNAL_H_
#define VKBN_INTERNAL_H_

#include <stdbool.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

#include "passes.h"

struct vkbn__backend; /* backend.h */

struct vkbn_context_T {
    const struct vkbn__backend* ops; /* the backend's table (backend.h) */
    void* impl;                      /* the backend's context */
    vkbn_context_flags flags;
    vkbn_log_fn log;
    void* log_user_data;
    vkbn_device_info info;
};

typedef enum vkbn__buffer_kind { VKBN__BUFFER_OWNED, VKBN__BUFFER_WRAPPED, VKBN__BUFFER_VIEW } vkbn__buffer_kind;

struct vkbn_buffer_T {
    vkbn_context ctx;
    vkbn__buffer_kind kind;
    uint64_t offset; /* bytes from the start of the root storage */
    uint64_t size;
    /* Identity of the root storage, shared by every view of it: two ranges
     * can overlap only when their roots are equal (validate.c). */
    uint64_t root;
    /* Vulkan: the end (in bytes from the root's start) of the storage vkbn
     * may bind: an owned buffer's whole allocation, a wrapped one's range. */
    uint64_t root_end;
    /* The backend's storage of the root. */
    VkBuffer vk_buffer;                     /* Vulkan: owned or the caller's */
    struct vkbn__allocation* vk_allocation; /* Vulkan: the root's memory, owned buffers and their views */
    uint8_t* mapped;                        /* host pointer to the root's byte 0, when mappable */
    uint8_t* host;                          /* CPU path: the root allocation */
};

/* A validated operation, the same for every backend: the buffers and
 * scalars the passes read and write. What runs is the plan's pass list
 * (passes.h), not a kind of operation. */
typedef struct vkbn__op {
    vkbn_tensor_desc tensor;
    uint64_t elements;    /* n * c * spatial */
    uint64_t spatial;     /* S */
    uint64_t per_channel; /* m = n * S */
    uint32_t elem_size;
    /* Tensors; NULL where the op has none. y and z of a backward op are set
     * only where the activation reads them (y: the mask; z: SiLU's u). */
    vkbn_buffer x, y, z;
    vkbn_buffer dy, dx, dz; /* backward; dx, dz: NULL when not wanted */
    /* Per-channel vectors (c floats); NULL where absent. */
    vkbn_buffer weight, bias;
    vkbn_buffer running_mean, running_var;
    vkbn_buffer save_mean, save_invstd;
    vkbn_buffer dweight, dbias;
    /* The activation bit mask (vkbn_activation_mask_requirements), or NULL:
     * written beside y by a normalize pass, read in place of y by the
     * gradient passes (a backward op then has y = NULL). Only with RELU,
     * LEAKY_RELU or CLAMP. */
    vkbn_buffer mask;
    float eps;
    float factor;         /* running-average weight f of this batch */
    float var_correction; /* m / (m - 1), or 1 */
    vkbn_activation activation;
    float activation_alpha;
    float activation_beta;
    uint32_t reduction_split;
    uint64_t copy_bytes;
    vkbn_buffer scratch; /* the caller's scratch, or NULL: the plan allocates its own */
} vkbn__op;

struct vkbn_plan_T {
    vkbn_context ctx;
    vkbn__op op;
    vkbn__pass_list passes;
    char description[256];
    void* impl; /* the backend's plan */
};

/* Bytes of the activation mask of `elements` elements: one bit each, in
 * whole 32-bit words. */
static inline uint64_t vkbn__mask_bytes(uint64_t elements) { return (elements + 31u) / 32u * 4u; }

/* lower.c: the pass list of each public operation (passes.h). */
typedef enum vkbn__op_kind {
    VKBN__OP_FORWARD_TRAINING,
    VKBN__OP_FORWARD_INFERENCE,
    VKBN__OP_BACKWARD,
    VKBN__OP_BACKWARD_FROZEN,
    VKBN__OP_COPY
} vkbn__op_kind;
void vkbn__lower(vkbn__op_kind kind, const vkbn__op* op, vkbn__pass_list* out);

/* api.c: a plan of `passes` over `op` on ctx's backend (the one way every
 * plan, public or internal, is built). */
vkbn_result vkbn__plan_create(vkbn_context ctx, const vkbn__op* op, const vkbn__pass_list* passes, vkbn_plan* out);

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

/* device_select.c: the backend and device of a new context (desc->device,
 * the default device's ranking), and the device list across backends. */
vkbn_result vkbn__context_create_backend(vkbn_context ctx, const vkbn_context_desc* desc);
vkbn_result vkbn__list_all_devices(vkbn_device_info** out, uint32_t* count);
/* The default device's ranking by device type, higher first (0 to
 * VKBN__RANK_MAX): the default is the highest-ranked device of the list. */
#define VKBN__RANK_MAX 5
int vkbn__device_rank(vkbn_device_type type);

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
