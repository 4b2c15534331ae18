/* Fuzz target: the .npy reader (testing/npy.c), which parses files the tool
 * is handed. The input is the file. A read that succeeds must describe a
 * consistent array: a known dtype, at most NPY_MAX_DIMS dims whose product
 * is the count, and data for every element (ASan checks the last byte). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0; /* fmemopen refuses an empty buffer */
    FILE* f = fmemopen((void*)data, size, "rb");
    if (!f) return 0;
    npy_array a;
    char err[256];
    int rc = npy_read_stream(f, "fuzz.npy", &a, err, sizeof err);
    fclose(f);
    if (rc != 0) {
        if (err[0] == '\0' || a.data != NULL) abort(); /* a failure names its reason and owns nothing */
        return 0;
    }
    size_t elem = npy_dtype_size(a.dtype);
    if (elem == 0 || a.ndim > NPY_MAX_DIMS) abort();
    uint64_t count = 1;
    for (uint32_t i = 0; i < a.ndim; ++i) count *= a.shape[i];
    if (count != a.count || !a.data) abort();
    size_t bytes = (size_t)a.count * elem;
    if (bytes > size) abort(); /* the data came from the file */
    if (bytes) {
        volatile uint8_t last = ((const uint8_t*)a.data)[bytes - 1];
        (void)last;
    }
    npy_free(&a);
    return 0;
}
