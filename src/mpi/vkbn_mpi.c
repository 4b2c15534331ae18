/* vkbn_mpi (vkbn_mpi.h): the sync API of vkbn.h with MPI_Allgather as the
 * exchange. Each rank sends one record:
 *
 *   int64 status | uint64 count | c doubles | c doubles
 *
 * status is the rank's vkbn_result from computing its partials (so a rank
 * whose arguments are bad still enters the collective and every rank learns
 * of it); the doubles are (mean, M2) forward or (sum g, sum g xhat) backward.
 * Records are merged in rank order on every rank. Allgather rather than
 * allreduce: Chan's merge is not a sum, and a fixed-order merge of gathered
 * records gives every rank the same bits without relying on the MPI
 * library's reduction order (see docs/ARCHITECTURE.md for the traffic). */
#include "vkbn/vkbn_mpi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stdio.h>

/* Errors go to vkbn_last_error() through vkbn's public vkbn_set_last_error,
 * so that vkbn_mpi links against a shared vkbn. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static vkbn_result
mpi_fail(vkbn_result code, const char* fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return vkbn_set_last_error(code, message);
}

#define VKBN_CHECK(expr)                                     \
    do {                                                     \
        vkbn_result vkbn_mpi_r_ = (expr);                    \
        if (vkbn_mpi_r_ != VKBN_SUCCESS) return vkbn_mpi_r_; \
    } while (0)

typedef struct exchange {
    int ranks;
    uint32_t c;
    size_t record_doubles; /* 2 + 2c */
    double* mine;
    double* all;
    double* parts; /* ranks x 2c doubles, unpacked */
} exchange;

static vkbn_result exchange_init(exchange* x, MPI_Comm comm, uint32_t c) {
    memset(x, 0, sizeof *x);
    if (comm == MPI_COMM_NULL) return mpi_fail(VKBN_ERROR_NULL_ARGUMENT, "comm: required, got MPI_COMM_NULL");
    int size = 0;
    if (MPI_Comm_size(comm, &size) != MPI_SUCCESS || size < 1) {
        return mpi_fail(VKBN_ERROR_INVALID_ARGUMENT, "comm: MPI_Comm_size failed");
    }
    x->ranks = size;
    x->c = c;
    x->record_doubles = 2 + 2 * (size_t)c;
    if (x->record_doubles * sizeof(double) > (size_t)INT32_MAX) {
        return mpi_fail(VKBN_ERROR_TOO_LARGE, "desc->tensor.c: %u channels exceed one MPI message", c);
    }
    x->mine = calloc(x->record_doubles, sizeof(double));
    x->all = calloc(x->record_doubles * (size_t)size, sizeof(double));
    if (!x->mine || !x->all) {
        free(x->mine);
        free(x->all);
        return mpi_fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_mpi: out of host memory");
    }
    return VKBN_SUCCESS;
}

static void exchange_free(exchange* x) {
    free(x->mine);
    free(x->all);
}

/* Gathers every rank's record; fails on every rank if any rank failed. */
static vkbn_result exchange_run(exchange* x, MPI_Comm comm, int64_t status, uint64_t count) {
    memcpy(&x->mine[0], &status, sizeof status);
    memcpy(&x->mine[1], &count, sizeof count);
    /* Bytes, not MPI_DOUBLE: the record's first two words are integers. */
    int bytes = (int)(x->record_doubles * sizeof(double));
    int rc = MPI_Allgather(x->mine, bytes, MPI_BYTE, x->all, bytes, MPI_BYTE, comm);
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, text, &len);
        return mpi_fail(VKBN_ERROR_INVALID_ARGUMENT, "comm: MPI_Allgather failed: %.*s", len, text);
    }
    if (status != VKBN_SUCCESS) return (vkbn_result)status; /* the rank's own message stands */
    for (int r = 0; r < x->ranks; ++r) {
        int64_t st;
        memcpy(&st, &x->all[(size_t)r * x->record_doubles], sizeof st);
        if (st != VKBN_SUCCESS) {
            return mpi_fail(VKBN_ERROR_INVALID_ARGUMENT, "comm: rank %d failed to compute its partials (%s)", r,
                            vkbn_result_string((vkbn_result)st));
        }
    }
    return VKBN_SUCCESS;
}

static uint64_t record_count(const exchange* x, int r) {
    uint64_t n;
    memcpy(&n, &x->all[(size_t)r * x->record_doubles + 1], sizeof n);
    return n;
}

static double* record_a(const exchange* x, int r) { return &x->all[(size_t)r * x->record_doubles + 2]; }
static double* record_b(const exchange* x, int r) { return record_a(x, r) + x->c; }

vkbn_result vkbn_mpi_forward_training(vkbn_context ctx, const vkbn_forward_training_desc* desc, MPI_Comm comm) {
    if (!ctx) return mpi_fail(VKBN_ERROR_NULL_ARGUMENT, "ctx: required, got NULL");
    if (!desc) return mpi_fail(VKBN_ERROR_NULL_ARGUMENT, "desc: required, got NULL");
    exchange x;
    uint32_t c = desc->tensor.c;
    VKBN_CHECK(exchange_init(&x, comm, c));
    vkbn_batch_stats local = {0, c, x.mine + 2, x.mine + 2 + c};
    vkbn_batch_stats_desc sd;
    memset(&sd, 0, sizeof sd);
    sd.tensor = desc->tensor;
    sd.x = desc->x;
    vkbn_result status = vkbn_batch_stats_compute(ctx, &sd, &local);
    vkbn_result r = exchange_run(&x, comm, status, local.count);
    vkbn_batch_stats* parts = NULL;
    double* mean = NULL;
    if (r == VKBN_SUCCESS) {
        parts = calloc((size_t)x.ranks, sizeof *parts);
        mean = calloc(2 * (size_t)c, sizeof(double));
        if (!parts || !mean) r = mpi_fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_mpi: out of host memory");
    }
    if (r == VKBN_SUCCESS) {
        for (int i = 0; i < x.ranks; ++i) {
            parts[i].count = record_count(&x, i);
            parts[i].c = c;
            parts[i].mean = record_a(&x, i);
            parts[i].m2 = record_b(&x, i);
        }
        vkbn_batch_stats global = {0, c, mean, mean + c};
        r = vkbn_batch_stats_merge(parts, (uint32_t)x.ranks, &global);
        if (r == VKBN_SUCCESS) r = vkbn_forward_training_global(ctx, desc, &global);
    }
    free(parts);
    free(mean);
    exchange_free(&x);
    return r;
}

vkbn_result vkbn_mpi_backward(vkbn_context ctx, const vkbn_backward_desc* desc, MPI_Comm comm) {
    if (!ctx) return mpi_fail(VKBN_ERROR_NULL_ARGUMENT, "ctx: required, got NULL");
    if (!desc) return mpi_fail(VKBN_ERROR_NULL_ARGUMENT, "desc: required, got NULL");
    exchange x;
    uint32_t c = desc->tensor.c;
    VKBN_CHECK(exchange_init(&x, comm, c));
    vkbn_grad_sums local = {0, c, x.mine + 2, x.mine + 2 + c};
    vkbn_result status = vkbn_grad_sums_compute(ctx, desc, &local);
    vkbn_result r = exchange_run(&x, comm, status, local.count);
    vkbn_grad_sums* parts = NULL;
    double* sums = NULL;
    if (r == VKBN_SUCCESS) {
        parts = calloc((size_t)x.ranks, sizeof *parts);
        sums = calloc(2 * (size_t)c, sizeof(double));
        if (!parts || !sums) r = mpi_fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_mpi: out of host memory");
    }
    if (r == VKBN_SUCCESS) {
        for (int i = 0; i < x.ranks; ++i) {
            parts[i].count = record_count(&x, i);
            parts[i].c = c;
            parts[i].sum_g = record_a(&x, i);
            parts[i].sum_g_xhat = record_b(&x, i);
        }
        vkbn_grad_sums global = {0, c, sums, sums + c};
        r = vkbn_grad_sums_merge(parts, (uint32_t)x.ranks, &global);
        if (r == VKBN_SUCCESS) r = vkbn_backward_global(ctx, desc, &global);
    }
    free(parts);
    free(sums);
    exchange_free(&x);
    return r;
}
