/* vkbn_mpi under mpirun: each rank holds a slice of one batch (uneven,
 * empty ones included) on lavapipe or the CPU path (argv[1]: a comma list,
 * cycled over the ranks, e.g. "vk,cpu"), and runs vkbn_mpi_forward_training
 * and vkbn_mpi_backward on MPI_COMM_WORLD, on the world with its ranks
 * reversed (so other processes and devices hold the slices), and on
 * sub-communicators from MPI_Comm_split. Every rank checks the assembled
 * outputs against the fp64 reference on the whole batch, that every rank's
 * statistics and parameter gradients are bit-identical, and rank 0 of each
 * communicator checks the single-process run on the whole batch alike. Then
 * a rank with a bad argument: every rank must fail. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_check.h"
#include "test_util.h"
#include "vkbn/vkbn_mpi.h"

static int g_rank;

/* Samples per rank for a communicator of k ranks (pattern p). */
static void split_for(uint32_t n, int k, int p, uint32_t* out) {
    memset(out, 0, sizeof(uint32_t) * (size_t)k);
    if (k == 1) {
        out[0] = n;
    } else if (k == 2) {
        out[0] = p ? 0 : 2; /* an empty rank, or 2 + rest */
        out[1] = n - out[0];
    } else {
        /* 3 + 0 + rest, or 1 + rest + 0 (further ranks empty). */
        out[0] = p ? 1 : 3;
        out[1] = p ? n - 1 : 0;
        out[2] = p ? 0 : n - 3;
    }
}

static int run_on(vkbn_context ctx, const sync_case* sc, MPI_Comm comm, int pattern, const char* comm_name) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    sync_batch b;
    sync_batch_make(sc, &b);
    uint32_t split[64];
    split_for(sc->tensor.n, size, pattern, split);
    uint32_t n0 = 0;
    for (int i = 0; i < rank; ++i) n0 += split[i];
    char desc[96], name[192], msg[256];
    sync_case_describe(sc, desc, sizeof desc);
    snprintf(name, sizeof name, "%s on %s (%d ranks, pattern %d, rank %d holds %u)", desc, comm_name, size, pattern,
             rank, split[rank]);
    int failed_before = g_counts.failed;

    sync_slice s;
    vkbn_result r = sync_slice_create(ctx, &b, n0, n0 + split[rank], &s);
    CHECK(r == VKBN_SUCCESS, "%s: slice: %s", name, vkbn_last_error());
    vkbn_forward_training_desc fd = sync_slice_forward_desc(&s);
    r = vkbn_mpi_forward_training(ctx, &fd, comm);
    CHECK(r == VKBN_SUCCESS, "%s: forward: %s", name, vkbn_last_error());
    vkbn_backward_desc bd = sync_slice_backward_desc(&s);
    r = vkbn_mpi_backward(ctx, &bd, comm);
    CHECK(r == VKBN_SUCCESS, "%s: backward: %s", name, vkbn_last_error());

    sync_outputs o, single;
    sync_outputs_alloc(&b, &o);
    sync_outputs_alloc(&b, &single);
    CHECK(sync_slice_collect(&s, &o) == VKBN_SUCCESS, "%s: collect: %s", name, vkbn_last_error());
    /* Assemble the tensors on every rank. */
    int counts[64], displs[64];
    for (int i = 0, off = 0; i < size; ++i) {
        counts[i] = (int)(split[i] * b.sample);
        displs[i] = off;
        off += counts[i];
    }
    float* tensors[] = {o.y, o.dx, o.dz};
    for (int t = 0; t < 3; ++t) {
        float* mine = malloc(sizeof(float) * (counts[rank] ? (size_t)counts[rank] : 1));
        memcpy(mine, tensors[t] + displs[rank], sizeof(float) * (size_t)counts[rank]);
        MPI_Allgatherv(mine, counts[rank], MPI_FLOAT, tensors[t], counts, displs, MPI_FLOAT, comm);
        free(mine);
    }
    /* Every rank's vectors must be rank 0's bits. */
    uint32_t c = sc->tensor.c;
    float* vec = malloc(sizeof(float) * 6 * c);
    float* const src[] = {o.save_mean, o.save_invstd, o.running_mean, o.running_var, o.dweight, o.dbias};
    for (int v = 0; v < 6; ++v) memcpy(vec + (size_t)v * c, src[v], sizeof(float) * c);
    float* root = malloc(sizeof(float) * 6 * c);
    memcpy(root, vec, sizeof(float) * 6 * c);
    MPI_Bcast(root, (int)(6 * c), MPI_FLOAT, 0, comm);
    CHECK(memcmp(root, vec, sizeof(float) * 6 * c) == 0, "%s: this rank's statistics or gradients differ from rank 0's",
          name);
    free(vec);
    free(root);
    double worst = 0.0;
    CHECK(sync_check(&b, &o, &worst, msg, sizeof msg), "%s: %s", name, msg);
    /* The single-process run on the whole batch, on every rank's device. */
    r = sync_run_single(ctx, &b, &single);
    CHECK(r == VKBN_SUCCESS, "%s: single-process run: %s", name, vkbn_last_error());
    double w2 = 0.0;
    char msg2[256];
    if (r == VKBN_SUCCESS) CHECK(sync_check(&b, &single, &w2, msg2, sizeof msg2), "%s: single: %s", name, msg2);
    if (rank == 0 && g_counts.failed == failed_before) printf("ok   %s: %s\n", name, msg);
    sync_outputs_free(&o);
    sync_outputs_free(&single);
    sync_slice_destroy(&s);
    sync_batch_free(&b);
    return g_counts.failed == failed_before;
}

static sync_case make_case(uint32_t n, uint32_t c, uint32_t rank, uint32_t s0, vkbn_layout layout, vkbn_dtype dtype,
                           vkbn_activation act, int residual, uint64_t seed) {
    sync_case sc;
    memset(&sc, 0, sizeof sc);
    sc.tensor.n = n;
    sc.tensor.c = c;
    sc.tensor.spatial_rank = rank;
    sc.tensor.spatial[0] = s0;
    sc.tensor.layout = layout;
    sc.tensor.dtype = dtype;
    sc.activation = act;
    sc.activation_alpha = 0.1f;
    sc.residual = residual;
    sc.eps = VKBN_DEFAULT_EPS;
    sc.momentum = VKBN_DEFAULT_MOMENTUM;
    sc.x_mean = 3.0;
    sc.x_std = 2.0;
    sc.seed = seed;
    return sc;
}

/* A rank whose x is missing: every rank must fail, and nothing be written. */
static void bad_rank(vkbn_context ctx, MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    sync_case sc =
        make_case(3 * (uint32_t)size, 5, 1, 4, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32, VKBN_ACTIVATION_NONE, 0, 77);
    sync_batch b;
    sync_batch_make(&sc, &b);
    sync_slice s;
    sync_slice_create(ctx, &b, 3 * (uint32_t)rank, 3 * (uint32_t)rank + 3, &s);
    float sentinel[5] = {7, 7, 7, 7, 7}, back[5];
    vkbn_buffer_upload(s.save_mean, 0, sentinel, sizeof sentinel);
    vkbn_forward_training_desc fd = sync_slice_forward_desc(&s);
    if (rank == size - 1) fd.x = NULL;
    vkbn_result r = vkbn_mpi_forward_training(ctx, &fd, comm);
    if (rank == size - 1) {
        CHECK(r == VKBN_ERROR_NULL_ARGUMENT && strstr(vkbn_last_error(), "desc->x"), "bad rank: %s", vkbn_last_error());
    } else {
        CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && strstr(vkbn_last_error(), "rank"), "a good rank with a bad peer: %s",
              vkbn_last_error());
    }
    vkbn_buffer_download(s.save_mean, 0, back, sizeof back);
    CHECK(memcmp(back, sentinel, sizeof back) == 0, "a failed step wrote save_mean");
    CHECK(vkbn_mpi_forward_training(ctx, &fd, MPI_COMM_NULL) == VKBN_ERROR_NULL_ARGUMENT &&
              strstr(vkbn_last_error(), "comm"),
          "MPI_COMM_NULL: %s", vkbn_last_error());
    sync_slice_destroy(&s);
    sync_batch_free(&b);
}

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int size;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 64) {
        if (g_rank == 0) printf("FAIL: at most 64 ranks (the splits are per-rank arrays of 64)\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* This rank's device: the (g_rank mod count)-th of argv[1]. */
    const char* list = argc > 1 ? argv[1] : "vk";
    char devs[8][8];
    int ndev = 0;
    for (const char* p = list; *p && ndev < 8;) {
        size_t len = strcspn(p, ",");
        snprintf(devs[ndev++], sizeof devs[0], "%.*s", (int)(len < 7 ? len : 7), p);
        p += len + (p[len] == ',');
    }
    const char* dev = devs[g_rank % ndev];
    vkbn_context ctx = NULL;
    if (strcmp(dev, "cpu") != 0) {
        /* A "vk" rank: the tests' Vulkan device (lavapipe by name, or
         * $VKBN_TEST_DEVICE: test_util.h), never the default, which is the
         * CPU path where lavapipe is the only Vulkan device; a context on any
         * other backend fails. Every rank must take part (a rank that skipped
         * alone would leave the others waiting), so without that device a
         * "vk" rank says so and runs the CPU path instead, and the merge
         * across ranks is still checked. */
        int skip = 0;
        ctx = test_context_try(0, 0, &skip);
        if (skip) {
            printf("rank %d: no Vulkan device; this rank runs the CPU path\n", g_rank);
            dev = "cpu";
        } else {
            vkbn_device_info info;
            vkbn_context_get_device_info(ctx, &info);
            printf("rank %d: %s\n", g_rank, info.name);
        }
    }
    if (strcmp(dev, "cpu") == 0) {
        vkbn_context_desc cd;
        memset(&cd, 0, sizeof cd);
        cd.device = "cpu";
        cd.cpu_threads = 1;
        if (vkbn_context_create(&cd, &ctx) != VKBN_SUCCESS) {
            printf("FAIL rank %d: CPU context: %s\n", g_rank, vkbn_last_error());
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }

    MPI_Comm reversed, sub;
    MPI_Comm_split(MPI_COMM_WORLD, 0, size - 1 - g_rank, &reversed);
    /* The last rank alone, the others together (with 2 ranks: two singles). */
    MPI_Comm_split(MPI_COMM_WORLD, g_rank == size - 1, g_rank, &sub);
    uint64_t seed = 100;
    for (int l = 0; l < 2; ++l) {
        for (int d = 0; d < 2; ++d) {
            vkbn_layout layout = l ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
            vkbn_dtype dtype = d ? VKBN_DTYPE_F16 : VKBN_DTYPE_F32;
            vkbn_activation act = (l + d) % 2 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
            sync_case sc = make_case(7, 13, 1, 9, layout, dtype, act, (l + d) % 2, seed++);
            for (int p = 0; p < 2; ++p) {
                run_on(ctx, &sc, MPI_COMM_WORLD, p, "world");
                run_on(ctx, &sc, reversed, p, "world reversed");
            }
            run_on(ctx, &sc, sub, 0, "sub-communicator");
        }
    }
    bad_rank(ctx, MPI_COMM_WORLD);
    CHECK(vkbn_context_validation_message_count(ctx) == 0, "rank %d: %llu validation messages", g_rank,
          (unsigned long long)vkbn_context_validation_message_count(ctx));
    MPI_Comm_free(&reversed);
    MPI_Comm_free(&sub);
    vkbn_context_destroy(ctx);

    int local[2] = {g_counts.passed, g_counts.failed}, total[2] = {0, 0};
    MPI_Reduce(local, total, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Bcast(total, 2, MPI_INT, 0, MPI_COMM_WORLD);
    if (g_rank == 0) printf("%d ranks (%s): %d passed, %d failed\n", size, list, total[0], total[1]);
    MPI_Finalize();
    return total[1] ? 1 : 0;
}
