/* Data-parallel training of one batch-norm layer under mpirun with vkbn_mpi.
 *
 *   mpirun -np 3 ./mpi_train [DEVICES]     DEVICES: comma list cycled over
 *                                           the ranks ("vk", "cpu"); default "vk"
 *
 * "vk" is a Vulkan device, not just the default device: the default is the
 * fastest one, which is vkbn's CPU path where the only Vulkan device is a CPU
 * driver such as lavapipe. A "vk" rank takes the default when it is a Vulkan
 * device (a GPU), else the first Vulkan device listed, else (no Vulkan device
 * at all) the CPU path, and says so.
 *
 * Every step, each rank draws its own slice of a global batch (rank r holds
 * 2 r samples: rank 0 none, the slices unequal), x ~ N(mu_c, sigma_c), and
 * the target t = a_c (x - mu_c) / sigma_c + b_c. The layer y = bn(x) learns
 * weight -> a and bias -> b by SGD on the mean squared error over the whole
 * batch (learning rate 0.5 / (1 + step / 8)). vkbn_mpi_forward_training normalizes every slice with the whole
 * batch's statistics; vkbn_mpi_backward gives every rank the whole batch's
 * dweight and dbias, so the replicas' parameters stay bit-identical without
 * any further exchange. Exits 0 when the parameters reach a and b and every
 * rank holds the same bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vkbn/vkbn.h"
#include "vkbn/vkbn_mpi.h"

#define C 4
#define S 256
#define STEPS 60

static uint64_t g_state;
static double uniform(void) {
    g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_state >> 11) / 9007199254740992.0;
}
static double normal(void) {
    double u1 = uniform() + 1e-300, u2 = uniform();
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The device a "vk" rank asks for: a Vulkan device's index into the list in
 * `index`, or "cpu" when vkbn lists none. */
static const char* vulkan_device(char* index, size_t size) {
    uint32_t count = 0;
    if (vkbn_enumerate_devices(&count, NULL) != VKBN_SUCCESS || count == 0) return "cpu";
    vkbn_device_info* all = calloc(count, sizeof *all);
    int pick = -1;
    if (all && vkbn_enumerate_devices(&count, all) == VKBN_SUCCESS) {
        for (uint32_t i = 0; i < count; ++i) {
            if (all[i].backend != VKBN_BACKEND_VULKAN) continue;
            if (pick < 0 || all[i].is_default) pick = (int)all[i].index;
        }
    }
    free(all);
    if (pick < 0) return "cpu";
    snprintf(index, size, "%d", pick);
    return index;
}

#define TRY(call)                                                                 \
    do {                                                                          \
        vkbn_result r_ = (call);                                                  \
        if (r_ != VKBN_SUCCESS) {                                                 \
            fprintf(stderr, "rank %d: %s: %s\n", rank, #call, vkbn_last_error()); \
            MPI_Abort(MPI_COMM_WORLD, 1);                                         \
        }                                                                         \
    } while (0)

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    /* This rank's device: entry (rank mod count) of the comma list. */
    const char* list = argc > 1 ? argv[1] : "vk";
    int entries = 1;
    for (const char* p = list; *p; ++p) entries += *p == ',';
    const char* dev = list;
    for (int k = rank % entries; k > 0; --k) dev = strchr(dev, ',') + 1;
    int is_cpu = strncmp(dev, "cpu", 3) == 0;
    char index[16];
    vkbn_context_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.device = is_cpu ? "cpu" : vulkan_device(index, sizeof index);
    cd.cpu_threads = 1;
    vkbn_context ctx = NULL;
    TRY(vkbn_context_create(&cd, &ctx));
    vkbn_device_info info;
    TRY(vkbn_context_get_device_info(ctx, &info));
    printf("rank %d: %s%s\n", rank, info.name,
           !is_cpu && info.backend != VKBN_BACKEND_VULKAN ? " (no Vulkan device: the CPU path instead)" : "");

    const float mu[C] = {5.0f, -3.0f, 100.0f, 0.0f}, sigma[C] = {2.0f, 0.5f, 10.0f, 1.0f};
    const float a[C] = {1.5f, 0.5f, -1.0f, 2.0f}, b[C] = {0.25f, -1.0f, 0.5f, 0.0f};
    float weight[C] = {1, 1, 1, 1}, bias[C] = {0, 0, 0, 0};

    uint32_t n = 2u * (uint32_t)rank; /* samples on this rank */
    uint64_t count = (uint64_t)n * C * S;
    float* x = malloc(sizeof(float) * (count ? count : 1));
    float* t = malloc(sizeof(float) * (count ? count : 1));
    float* y = malloc(sizeof(float) * (count ? count : 1));
    float* dy = malloc(sizeof(float) * (count ? count : 1));
    uint64_t total = 0; /* the global batch's values per channel */
    for (int r = 0; r < size; ++r) total += 2ull * (uint64_t)r * S;

    vkbn_buffer bx = NULL, by = NULL, bdy = NULL, bdx = NULL, w = NULL, bb = NULL, rm = NULL, rv = NULL, sm = NULL,
                si = NULL, dw = NULL, db = NULL;
    if (count) {
        TRY(vkbn_buffer_create(ctx, count * 4, &bx));
        TRY(vkbn_buffer_create(ctx, count * 4, &by));
        TRY(vkbn_buffer_create(ctx, count * 4, &bdy));
        TRY(vkbn_buffer_create(ctx, count * 4, &bdx));
    }
    vkbn_buffer* vecs[] = {&w, &bb, &rm, &rv, &sm, &si, &dw, &db};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; ++i) TRY(vkbn_buffer_create(ctx, C * 4, vecs[i]));
    const float zeros[C] = {0}, ones[C] = {1, 1, 1, 1};
    TRY(vkbn_buffer_upload(rm, 0, zeros, sizeof zeros));
    TRY(vkbn_buffer_upload(rv, 0, ones, sizeof ones));

    vkbn_tensor_desc td = {n, C, 1, {S, 0, 0}, VKBN_LAYOUT_CHANNELS_FIRST, VKBN_DTYPE_F32};
    for (int step = 0; step < STEPS; ++step) {
        g_state = 0x9e3779b97f4a7c15ull * (uint64_t)(step * 1000 + rank + 1);
        for (uint32_t i = 0; i < n; ++i) {
            for (uint32_t c = 0; c < C; ++c) {
                for (uint32_t s = 0; s < S; ++s) {
                    uint64_t k = ((uint64_t)i * C + c) * S + s;
                    double z = normal();
                    x[k] = (float)(mu[c] + sigma[c] * z);
                    t[k] = (float)(a[c] * z + b[c]);
                }
            }
        }
        TRY(vkbn_buffer_upload(w, 0, weight, sizeof weight));
        TRY(vkbn_buffer_upload(bb, 0, bias, sizeof bias));
        if (count) TRY(vkbn_buffer_upload(bx, 0, x, count * 4));

        vkbn_forward_training_desc f;
        memset(&f, 0, sizeof f);
        f.tensor = td;
        f.x = bx;
        f.y = by;
        f.weight = w;
        f.bias = bb;
        f.running_mean = rm;
        f.running_var = rv;
        f.save_mean = sm;
        f.save_invstd = si;
        f.eps = VKBN_DEFAULT_EPS;
        f.momentum = VKBN_DEFAULT_MOMENTUM;
        TRY(vkbn_mpi_forward_training(ctx, &f, MPI_COMM_WORLD));

        /* loss = sum (y - t)^2 / (2 total), per channel summed; dy = (y - t) / total. */
        double loss = 0.0;
        if (count) TRY(vkbn_buffer_download(by, 0, y, count * 4));
        for (uint64_t k = 0; k < count; ++k) {
            double e = (double)y[k] - t[k];
            loss += 0.5 * e * e / (double)total;
            dy[k] = (float)(e / (double)total);
        }
        double global_loss = 0.0;
        MPI_Allreduce(&loss, &global_loss, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (count) TRY(vkbn_buffer_upload(bdy, 0, dy, count * 4));

        vkbn_backward_desc bd;
        memset(&bd, 0, sizeof bd);
        bd.tensor = td;
        bd.x = bx;
        bd.dy = bdy;
        bd.weight = w;
        bd.save_mean = sm;
        bd.save_invstd = si;
        bd.eps = VKBN_DEFAULT_EPS;
        bd.dx = bdx; /* the layer below would take it */
        bd.dweight = dw;
        bd.dbias = db;
        TRY(vkbn_mpi_backward(ctx, &bd, MPI_COMM_WORLD));
        float gw[C], gb[C];
        TRY(vkbn_buffer_download(dw, 0, gw, sizeof gw));
        TRY(vkbn_buffer_download(db, 0, gb, sizeof gb));
        float lr = 0.5f / (1.0f + (float)step / 8.0f); /* decays: the batch statistics are noisy */
        for (int c = 0; c < C; ++c) {
            weight[c] -= lr * gw[c];
            bias[c] -= lr * gb[c];
        }
        if (rank == 0 && (step % 10 == 0 || step == STEPS - 1)) {
            printf("step %2d  loss %.6f  weight %.4f %.4f %.4f %.4f  bias %.4f %.4f %.4f %.4f\n", step, global_loss,
                   weight[0], weight[1], weight[2], weight[3], bias[0], bias[1], bias[2], bias[3]);
        }
    }

    /* Every replica holds the same bits, and they reached the targets. */
    float mine[2 * C], root[2 * C];
    memcpy(mine, weight, sizeof weight);
    memcpy(mine + C, bias, sizeof bias);
    memcpy(root, mine, sizeof mine);
    MPI_Bcast(root, 2 * C, MPI_FLOAT, 0, MPI_COMM_WORLD);
    int ok = memcmp(root, mine, sizeof mine) == 0;
    for (int c = 0; c < C; ++c) ok = ok && fabsf(weight[c] - a[c]) < 0.05f && fabsf(bias[c] - b[c]) < 0.05f;
    int all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rank == 0) printf("%d ranks: %s\n", size, all_ok ? "converged, replicas identical" : "FAILED");

    vkbn_buffer all[] = {bx, by, bdy, bdx, w, bb, rm, rv, sm, si, dw, db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) vkbn_buffer_destroy(all[i]);
    vkbn_context_destroy(ctx);
    free(x);
    free(t);
    free(y);
    free(dy);
    MPI_Finalize();
    return all_ok ? 0 : 1;
}
