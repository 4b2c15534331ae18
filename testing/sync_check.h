/* Synchronized batch norm in the test kit: a whole batch on the host, slices
 * of it run on contexts through the public sync API (vkbn.h, "Synchronized
 * batch norm"), the single-context run on the whole batch, and the check of
 * either against the fp64 reference. Shared by the multi-context test, the
 * MPI tests and the benchmark's merge suite. */
#ifndef VKBN_TESTING_SYNC_CHECK_H_
#define VKBN_TESTING_SYNC_CHECK_H_

#include <stddef.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sync_case {
    vkbn_tensor_desc tensor; /* the whole batch */
    vkbn_activation activation;
    float activation_alpha;
    float activation_beta;
    int residual; /* y = act(bn(x) + z); backward writes dresidual */
    float eps;
    float momentum;
    int biased_running_var;
    double x_mean, x_std; /* x ~ N(x_mean, x_std) per element */
    uint64_t seed;
} sync_case;

/* The whole batch's inputs in host memory, f32 values exactly representable
 * in the case's dtype. */
typedef struct sync_batch {
    sync_case c;
    uint64_t elements;
    uint64_t sample;                                   /* elements per sample: c * S */
    float *x, *z, *dy;                                 /* elements each (z: NULL without residual) */
    float *weight, *bias, *running_mean, *running_var; /* c each: the initial values */
} sync_batch;

/* What a run produced on the whole batch (slices assembled). */
typedef struct sync_outputs {
    float *y, *dx, *dz;
    float *save_mean, *save_invstd, *running_mean, *running_var, *dweight, *dbias;
} sync_outputs;

int sync_batch_make(const sync_case* c, sync_batch* b);
void sync_batch_free(sync_batch* b);
int sync_outputs_alloc(const sync_batch* b, sync_outputs* o);
void sync_outputs_free(sync_outputs* o);

/* One slice [n0, n1) of the batch on a context, with its buffers. */
typedef struct sync_slice {
    vkbn_context ctx;
    const sync_batch* b;
    uint32_t n0, n1;
    vkbn_tensor_desc tensor; /* n = n1 - n0, possibly 0 */
    vkbn_buffer x, y, z, dy, dx, dz;
    vkbn_buffer weight, bias, running_mean, running_var, save_mean, save_invstd, dweight, dbias;
} sync_slice;

vkbn_result sync_slice_create(vkbn_context ctx, const sync_batch* b, uint32_t n0, uint32_t n1, sync_slice* s);
void sync_slice_destroy(sync_slice* s);
/* The descriptions of the slice's forward training and backward. */
vkbn_forward_training_desc sync_slice_forward_desc(const sync_slice* s);
vkbn_backward_desc sync_slice_backward_desc(const sync_slice* s);
/* The four steps of one training step; stats and sums need arrays of c. */
vkbn_result sync_slice_stats(sync_slice* s, vkbn_batch_stats* out);
vkbn_result sync_slice_forward(sync_slice* s, const vkbn_batch_stats* global);
vkbn_result sync_slice_grad_sums(sync_slice* s, vkbn_grad_sums* out);
vkbn_result sync_slice_backward(sync_slice* s, const vkbn_grad_sums* global);
/* Downloads the slice's y, dx, dz into o (at the slice's place) and its
 * vectors into o's vectors. */
vkbn_result sync_slice_collect(const sync_slice* s, sync_outputs* o);

/* vkbn_forward_training + vkbn_backward on the whole batch on one context. */
vkbn_result sync_run_single(vkbn_context ctx, const sync_batch* b, sync_outputs* o);

/* Checks o against the fp64 reference on the whole batch (forward from the
 * inputs; backward from o's own stored y, save_mean and save_invstd, as the
 * library's backward reads them). Tolerances follow cases.c / bwd_cases.c.
 * Returns 1 when everything is within tolerance; otherwise 0 and a message
 * naming the worst output. worst: the largest error / tolerance. */
int sync_check(const sync_batch* b, const sync_outputs* o, double* worst, char* message, size_t size);

/* Whether two runs' outputs are bit-identical (1) or not (0). */
int sync_outputs_identical(const sync_batch* b, const sync_outputs* a, const sync_outputs* o);

/* Statistics / sums arrays of c doubles for `count` partials (one block). */
typedef struct sync_partials {
    uint32_t count;
    vkbn_batch_stats* stats;
    vkbn_grad_sums* sums;
    double* storage;
} sync_partials;
int sync_partials_alloc(uint32_t count, uint32_t c, sync_partials* p);
void sync_partials_free(sync_partials* p);

void sync_case_describe(const sync_case* c, char* out, size_t size);

#ifdef __cplusplus
}
#endif

#endif
