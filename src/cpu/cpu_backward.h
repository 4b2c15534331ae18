/* The CPU path's backward plans (cpu_backward.c), reached from cpu_plan.c. */
#ifndef VKBN_CPU_BACKWARD_H_
#define VKBN_CPU_BACKWARD_H_

#include <stddef.h>

#include "cpu_internal.h"

struct vkbn__cpu_bwd_plan;

/* Plans the backward operation of `plan` (*out set even on failure, for
 * vkbn__cpu_backward_destroy); writes a short description into `what`. */
vkbn_result vkbn__cpu_backward_build(vkbn_plan plan, struct vkbn__cpu_bwd_plan** out, char* what, size_t what_size);
/* One run; the caller holds the context's execution lock. */
void vkbn__cpu_backward_run(vkbn_plan plan, struct vkbn__cpu_bwd_plan* p);
/* Whether the plan writes its outputs with non-temporal stores. */
bool vkbn__cpu_backward_streams(const struct vkbn__cpu_bwd_plan* p);
void vkbn__cpu_backward_destroy(struct vkbn__cpu_bwd_plan* p);

#endif
