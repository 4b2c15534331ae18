/*
 * vkbn_mpi: synchronized batch norm across the ranks of an MPI communicator.
 *
 * An optional component (library vkbn_mpi, built when CMake finds MPI); the
 * core library never depends on MPI. Each rank holds a slice of the batch on
 * its own context (a GPU or the CPU path); these calls run the whole batch's
 * training step on it, as vkbn_forward_training and vkbn_backward would on the
 * whole batch, using the sync API of vkbn.h:
 *
 *   forward:  slice statistics -> MPI_Allgather (16 + 16 c bytes per rank)
 *             -> merge in rank order -> vkbn_forward_training_global
 *   backward: slice sums       -> MPI_Allgather (16 + 16 c bytes per rank)
 *             -> merge in rank order -> vkbn_backward_global
 *
 * Every rank merges the same records in the same (rank) order on the host in
 * double, so save_mean, save_invstd, the running statistics, dweight and dbias
 * come out bit-identical on every rank (given identical running statistics
 * before the step), whatever the slice sizes, ranks with n = 0 included.
 *
 * Collective: every rank of comm calls with the same c, eps, momentum and
 * options. One MPI_Allgather per call, which every rank enters even when
 * computing its own partials failed (bad x, dy, statistics, ...): then every
 * rank returns an error (VKBN_ERROR_INVALID_ARGUMENT naming the failing rank,
 * or the rank's own code) and writes nothing. Arguments checked after the
 * exchange (the outputs) fail on their rank only. A failing MPI call returns
 * VKBN_ERROR_INVALID_ARGUMENT with MPI's error string (under the default
 * MPI_ERRORS_ARE_FATAL handler MPI aborts first). comm may be any
 * communicator, such as one from MPI_Comm_split. The batch is the union of
 * the ranks' slices in rank order. Thread safety: as for MPI calls on comm.
 */
#ifndef VKBN_MPI_H_
#define VKBN_MPI_H_

#include <mpi.h>

#include "vkbn/vkbn.h"

/* Exports of a shared vkbn_mpi, as VKBN_API for vkbn (VKBN_MPI_BUILDING is
 * defined while building it; VKBN_SHARED by the build that links it). */
#if defined(_WIN32) && defined(VKBN_SHARED)
#ifdef VKBN_MPI_BUILDING
#define VKBN_MPI_API __declspec(dllexport)
#else
#define VKBN_MPI_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define VKBN_MPI_API __attribute__((visibility("default")))
#else
#define VKBN_MPI_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Forward training of this rank's slice (desc as for vkbn_forward_training_global:
 * tensor.n may be 0, and then x, y and residual may be NULL) with the
 * statistics of the batch held by all of comm. */
VKBN_MPI_API vkbn_result vkbn_mpi_forward_training(vkbn_context VKBN_NOT_NULL ctx,
                                                   const vkbn_forward_training_desc* VKBN_NOT_NULL desc, MPI_Comm comm);

/* Backward of this rank's slice in training mode (desc as for
 * vkbn_backward_global), from the sums over the batch held by all of comm:
 * dx and dresidual of the slice; dweight and dbias of the whole batch. */
VKBN_MPI_API vkbn_result vkbn_mpi_backward(vkbn_context VKBN_NOT_NULL ctx, const vkbn_backward_desc* VKBN_NOT_NULL desc,
                                           MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif
