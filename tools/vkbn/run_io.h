/* The files of `vkbn run`: reading and checking its .npy inputs, and writing
 * its outputs all or nothing. Every function prints its own one-line error
 * ("vkbn run: ...", naming the option and the file) and returns an exit code. */
#ifndef VKBN_TOOLS_RUN_IO_H_
#define VKBN_TOOLS_RUN_IO_H_

#include <stddef.h>
#include <stdint.h>

#include "npy.h"
#include "vkbn/vkbn.h"

/* Writes the shape as NumPy prints it: "(2, 3)", "(5,)", "()". */
void io_format_shape(const npy_array* a, char* out, size_t size);

/* Reads the tensor file of `option` (--x, --residual). CLI_USAGE on error. */
int io_read_tensor(const char* option, const char* path, npy_array* out);

/* The element type a tensor file holds: '<f4' f32, '<f2' f16, and '<u2' or
 * '<i2' bf16 (NumPy has no bfloat16: such files hold the bit patterns, as
 * x.view(np.uint16) or torch's x.view(torch.int16) saves them). */
vkbn_dtype io_tensor_dtype(const npy_array* a);

/* An output of x's shape and element type holding `data`. bf16 is always
 * written as '<u2', whether x came as '<u2' or '<i2'. */
npy_array io_tensor_output(const npy_array* x, void* data);

/* Reads the activation mask file of `option`: 1-D '|u1' of exactly `size`
 * bytes (vkbn_activation_mask_requirements of x's shape, which `what`
 * names for the error). CLI_USAGE on error. */
int io_read_mask(const char* option, const char* path, uint64_t size, const char* what, npy_array* out);

/* Reads the per-channel vector file of `option`: 1-D of length c, '<f4' or
 * '<f2' (vectors are f32 whatever the tensors' type, so bf16 bit patterns
 * are refused), returned as c floats the caller frees. `c_axis` says where
 * x's C comes from, for the error ("axis 1 of x (--layout nchw)"). CLI_USAGE
 * on error. */
int io_read_vector(const char* option, const char* path, uint64_t c, const char* c_axis, float** out);

/* Before any work: checks that --out names a writable directory, or one that
 * can be created (its parent exists and is writable). CLI_USAGE if not. */
int io_check_out_dir(const char* dir);

/* One output file: `name` inside the output directory. */
typedef struct io_output {
    const char* name;
    npy_array array;
} io_output;

#define IO_MAX_OUTPUTS 8

/* Creates `dir` if missing, writes every output to a temporary name in it and
 * renames them all at the end. On any failure it removes what it wrote (and
 * the directory, if it created it) and returns CLI_FAILED. */
int io_write_outputs(const char* dir, const io_output* outputs, size_t count);

#endif
