/* Reading and writing NumPy .npy files (format 1.0/2.0/3.0 read, 1.0 written)
 * holding little-endian arrays in C order of f32 ('<f4'), f16 ('<f2'), or
 * 16-bit integers ('<u2', '<i2'): NumPy has no bfloat16, so bf16 tensors
 * travel as their bit patterns in those (docs/SEMANTICS.md); or bytes
 * ('|u1': the activation mask of `vkbn run`). */
#ifndef VKBN_TESTING_NPY_H_
#define VKBN_TESTING_NPY_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NPY_MAX_DIMS 8

typedef enum npy_dtype {
    NPY_F32 = 0, /* '<f4' */
    NPY_F16 = 1, /* '<f2' */
    NPY_U16 = 2, /* '<u2': what np.save writes for x.view(np.uint16) (bf16 bits) */
    NPY_I16 = 3, /* '<i2': what np.save writes for torch's x.view(torch.int16) */
    NPY_U8 = 4   /* '|u1': bytes (the packed activation mask) */
} npy_dtype;

/* Bytes per element (4, 2 or 1), 0 for an unknown dtype. */
size_t npy_dtype_size(npy_dtype dtype);
/* The header's descr: "<f4", "<f2", "<u2", "<i2", "|u1"; "?" for an unknown dtype. */
const char* npy_dtype_descr(npy_dtype dtype);

typedef struct npy_array {
    npy_dtype dtype;
    uint32_t ndim;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t count; /* product of shape (1 for a 0-d array) */
    void* data;     /* count elements of dtype, owned: free with npy_free */
} npy_array;

/* Reads `path`. On failure returns nonzero and writes a one-line reason
 * ("x.npy: expected dtype '<f4' or '<f2' (...), got '>f8'") into err. Rejects
 * Fortran order, big-endian and other dtypes, truncated files, bad headers. */
int npy_read(const char* path, npy_array* out, char* err, size_t err_size);
/* The same from an open stream (read from its current position to its end;
 * `name` labels the messages). The stream stays open. */
int npy_read_stream(FILE* f, const char* name, npy_array* out, char* err, size_t err_size);
/* Writes `a` to `path` (format 1.0). Nonzero on failure with the reason. */
int npy_write(const char* path, const npy_array* a, char* err, size_t err_size);
void npy_free(npy_array* a);

#ifdef __cplusplus
}
#endif

#endif
