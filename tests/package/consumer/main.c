/* Uses an installed vkbn: the version it was compiled against and linked
 * with, a CPU-path context (no GPU needed) and a buffer round trip. */
#include <stdio.h>
#include <string.h>

#include <vkbn/vkbn.h>
#if defined(CONSUMER_MPI)
#include <vkbn/vkbn_mpi.h>
#endif

int main(void) {
    if (vkbn_version() != VKBN_VERSION) {
        fprintf(stderr, "consumer: header %d, library %u\n", VKBN_VERSION, vkbn_version());
        return 1;
    }
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = "cpu";
    d.cpu_threads = 2;
    vkbn_context ctx = NULL;
    if (vkbn_context_create(&d, &ctx) != VKBN_SUCCESS) {
        fprintf(stderr, "consumer: context: %s\n", vkbn_last_error());
        return 1;
    }
    float in[16], out[16];
    for (int i = 0; i < 16; ++i) in[i] = (float)i;
    vkbn_buffer buf = NULL;
    int ok = vkbn_buffer_create(ctx, sizeof in, &buf) == VKBN_SUCCESS &&
             vkbn_buffer_upload(buf, 0, in, sizeof in) == VKBN_SUCCESS &&
             vkbn_buffer_download(buf, 0, out, sizeof out) == VKBN_SUCCESS && memcmp(in, out, sizeof in) == 0;
    vkbn_buffer_destroy(buf);
    vkbn_context_destroy(ctx);
#if defined(CONSUMER_MPI)
    ok = ok && vkbn_mpi_forward_training != NULL;
#endif
    printf("consumer: vkbn %s %s\n", vkbn_version_string(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
