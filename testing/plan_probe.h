/* A plan built for what it is, not to run: the buffers an operation needs
 * (never filled) and its plan, on any context, including one on a device
 * profile (vkbn_context_desc.profile). Shared by `vkbn plan`, the plan
 * bounds test and the benchmark's prediction; the operations and their
 * buffers are the benchmark's (bench/target_vkbn.cc). */
#ifndef VKBN_TESTING_PLAN_PROBE_H_
#define VKBN_TESTING_PLAN_PROBE_H_

#include <stdint.h>

#include "vkbn/vkbn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum probe_op {
    PROBE_TRAINING,       /* forward training: weight, bias, running and saved statistics */
    PROBE_INFERENCE,      /* forward inference: weight, bias, running statistics */
    PROBE_BACKWARD,       /* backward from the saved statistics: dx, dweight, dbias */
    PROBE_BACKWARD_FROZEN /* backward from the running statistics: dx, dweight, dbias */
} probe_op;

typedef struct plan_probe {
    probe_op op;
    vkbn_tensor_desc tensor;
    vkbn_activation activation; /* with its parameters below where it takes them */
    float activation_alpha;
    float activation_beta;
    int residual; /* forward: z added; backward: dresidual written */
} plan_probe;

#define PLAN_PROBE_MAX_BUFFERS 16

typedef struct plan_probe_objects {
    vkbn_plan plan;
    vkbn_buffer buffers[PLAN_PROBE_MAX_BUFFERS];
    uint32_t count;
} plan_probe_objects;

/* Creates the buffers and the plan; on failure everything created is freed. */
vkbn_result plan_probe_build(vkbn_context ctx, const plan_probe* p, plan_probe_objects* out);
void plan_probe_release(plan_probe_objects* o);

/* Bytes of one full-size tensor. */
uint64_t plan_probe_tensor_bytes(const plan_probe* p);
/* Effective bytes (docs/SEMANTICS.md, "How the benchmark counts bytes"):
 * every full-size tensor the op reads or writes, once. */
uint64_t plan_probe_effective_bytes(const plan_probe* p);
/* The per-channel vectors the op reads and writes, each access once (the
 * running statistics of training are read and written). */
uint64_t plan_probe_vector_bytes(const plan_probe* p);
/* Whether backward reads y for the activation's mask. */
int plan_probe_reads_mask(const plan_probe* p);

const char* plan_probe_op_name(probe_op op); /* "train", "infer", "backward", "frozen" */

/* What a plan costs on a profiled GPU, from its report:
 * - fits: the op's tensors and vectors fit the profile's last-level cache
 *   (an unknown cache holds nothing);
 * - moved: the plan's bytes to and from memory, its re-reads served by the
 *   cache where the op fits;
 * - minimum: the op's own minimum, defined without the plan: the effective
 *   bytes and the vectors, plus, where the op needs its batch statistics
 *   before its output (training forward and backward) and does not fit,
 *   one more read of x (and of dy for backward);
 * - with the profile's bandwidth, a time: moved / bandwidth plus
 *   dispatch_seconds per dispatch, and the same for a copy of one tensor
 *   (one dispatch), giving the predicted fraction of the copy's bandwidth:
 *   (effective / seconds) / (2 x tensor / copy_seconds). 0 without one. */
typedef struct plan_prediction {
    int fits;
    uint64_t moved;
    uint64_t minimum;
    double seconds;
    double copy_seconds;
    double fraction_of_copy;
} plan_prediction;

void plan_probe_predict(const plan_probe* p, const vkbn_plan_report* report, const vkbn_profile_info* profile,
                        double dispatch_seconds, plan_prediction* out);

#ifdef __cplusplus
}
#endif

#endif
