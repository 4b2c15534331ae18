/* The cost of synchronizing batch norm across MPI ranks, under mpirun:
 *
 *   mpirun -np K vkbn-mpi-bench [ITERATIONS]
 *
 * For C = 64, 512, 2048 channels, per training step and rank:
 *   exchange   one MPI_Allgather of the 16 + 16 C byte record vkbn_mpi sends
 *              (times two per step: forward and backward)
 *   step       vkbn_mpi_forward_training + vkbn_mpi_backward on the CPU path
 *              with a one-value slice per rank, so that nearly all of it is
 *              the synchronization: partials, two exchanges, two merges and
 *              the per-channel host arithmetic
 * Wall time, mean of ITERATIONS (default 200) after 20 warm-up steps, the
 * slowest rank's mean reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkbn/vkbn.h"
#include "vkbn/vkbn_mpi.h"

static double slowest(double mine) {
  double all = 0.0;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return all;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int iterations = argc > 1 ? atoi(argv[1]) : 200;
  if (iterations < 1) iterations = 1;
  vkbn_context_desc cd;
  memset(&cd, 0, sizeof cd);
  cd.device = "cpu";
  cd.cpu_threads = 1;
  vkbn_context ctx = NULL;
  if (vkbn_context_create(&cd, &ctx) != VKBN_SUCCESS) {
    fprintf(stderr, "rank %d: %s\n", rank, vkbn_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (rank == 0)
    printf("%d ranks, %d iterations (us per call, slowest rank)\n%8s %12s %12s %12s\n", size, iterations, "C",
           "record B", "exchange", "step");
  const uint32_t channels[] = {64, 512, 2048};
  for (size_t k = 0; k < sizeof channels / sizeof channels[0]; ++k) {
    uint32_t c = channels[k];
    size_t record = 16 + 16 * (size_t)c;
    char* send = calloc(record, 1);
    char* recv = calloc(record * (size_t)size, 1);
    for (int i = 0; i < 20; ++i)
      MPI_Allgather(send, (int)record, MPI_BYTE, recv, (int)record, MPI_BYTE, MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < iterations; ++i)
      MPI_Allgather(send, (int)record, MPI_BYTE, recv, (int)record, MPI_BYTE, MPI_COMM_WORLD);
    double exchange = slowest((MPI_Wtime() - t0) / iterations);

    /* One value per channel per rank: tensor (1, c). */
    vkbn_tensor_desc td = {1, c, 0, {0, 0, 0}, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32};
    vkbn_buffer x, y, dy, dx, w, b, rm, rv, sm, si, dw, db;
    vkbn_buffer* all[] = {&x, &y, &dy, &dx, &w, &b, &rm, &rv, &sm, &si, &dw, &db};
    float* init = calloc(c, sizeof(float));
    for (uint32_t i = 0; i < c; ++i) init[i] = (float)(rank + 1) * 0.5f + (float)i * 1e-3f;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) {
      vkbn_buffer_create(ctx, (uint64_t)c * 4, all[i]);
      vkbn_buffer_upload(*all[i], 0, init, (uint64_t)c * 4);
    }
    vkbn_forward_training_desc f;
    memset(&f, 0, sizeof f);
    f.tensor = td;
    f.x = x;
    f.y = y;
    f.weight = w;
    f.bias = b;
    f.running_mean = rm;
    f.running_var = rv;
    f.save_mean = sm;
    f.save_invstd = si;
    f.eps = VKBN_DEFAULT_EPS;
    f.momentum = VKBN_DEFAULT_MOMENTUM;
    vkbn_backward_desc bd;
    memset(&bd, 0, sizeof bd);
    bd.tensor = td;
    bd.x = x;
    bd.dy = dy;
    bd.weight = w;
    bd.save_mean = sm;
    bd.save_invstd = si;
    bd.dx = dx;
    bd.dweight = dw;
    bd.dbias = db;
    double step = 0.0;
    for (int i = -20; i < iterations; ++i) {
      if (i == 0) {
        MPI_Barrier(MPI_COMM_WORLD);
        step = MPI_Wtime();
      }
      if (vkbn_mpi_forward_training(ctx, &f, MPI_COMM_WORLD) != VKBN_SUCCESS ||
          vkbn_mpi_backward(ctx, &bd, MPI_COMM_WORLD) != VKBN_SUCCESS) {
        fprintf(stderr, "rank %d: %s\n", rank, vkbn_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }
    step = slowest((MPI_Wtime() - step) / iterations);
    if (rank == 0) printf("%8u %12zu %12.2f %12.2f\n", c, record, exchange * 1e6, step * 1e6);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) vkbn_buffer_destroy(*all[i]);
    free(init);
    free(send);
    free(recv);
  }
  vkbn_context_destroy(ctx);
  MPI_Finalize();
  return 0;
}
