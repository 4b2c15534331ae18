#include "run_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "platform.h"
#include "reference.h"

#define CMD "run"

void io_format_shape(const npy_array* a, char* out, size_t size) {
    size_t used = 0;
    int n = snprintf(out, size, "(");
    used = n > 0 ? (size_t)n : 0;
    for (uint32_t i = 0; i < a->ndim && used < size; ++i) {
        n = snprintf(out + used, size - used, "%s%llu", i ? ", " : "", (unsigned long long)a->shape[i]);
        if (n < 0) return;
        used += (size_t)n;
    }
    if (used < size) snprintf(out + used, size - used, "%s", a->ndim == 1 ? ",)" : ")");
}

int io_read_tensor(const char* option, const char* path, npy_array* out) {
    char err[512] = "";
    memset(out, 0, sizeof *out);
    if (npy_read(path, out, err, sizeof err) != 0) {
        memset(out, 0, sizeof *out);
        if (err[0] == '\0') snprintf(err, sizeof err, "cannot read it");
        /* npy_read's reason usually starts with the path already. */
        if (strstr(err, path)) return cli_error(CMD, CLI_USAGE, "%s: %s", option, err);
        return cli_error(CMD, CLI_USAGE, "%s: '%s': %s", option, path, err);
    }
    if (out->dtype == NPY_U8) {
        npy_free(out);
        memset(out, 0, sizeof *out);
        return cli_error(CMD, CLI_USAGE,
                         "%s: '%s': expected dtype '<f4' or '<f2' (or bfloat16 bit patterns as '<u2' or '<i2'), got "
                         "'|u1' (an activation mask goes to --activation-mask)",
                         option, path);
    }
    return CLI_OK;
}

vkbn_dtype io_tensor_dtype(const npy_array* a) {
    switch (a->dtype) {
        case NPY_F16: return VKBN_DTYPE_F16;
        case NPY_U16:
        case NPY_I16: return VKBN_DTYPE_BF16;
        case NPY_F32:
        case NPY_U8: break;
    }
    return VKBN_DTYPE_F32;
}

npy_array io_tensor_output(const npy_array* x, void* data) {
    npy_array out = *x;
    if (io_tensor_dtype(x) == VKBN_DTYPE_BF16) out.dtype = NPY_U16;
    out.data = data;
    return out;
}

int io_read_mask(const char* option, const char* path, uint64_t size, const char* what, npy_array* out) {
    char err[512] = "";
    memset(out, 0, sizeof *out);
    if (npy_read(path, out, err, sizeof err) != 0) {
        memset(out, 0, sizeof *out);
        if (err[0] == '\0') snprintf(err, sizeof err, "cannot read it");
        if (strstr(err, path)) return cli_error(CMD, CLI_USAGE, "%s: %s", option, err);
        return cli_error(CMD, CLI_USAGE, "%s: '%s': %s", option, path, err);
    }
    int r = CLI_OK;
    if (out->dtype != NPY_U8) {
        r = cli_error(CMD, CLI_USAGE, "%s: '%s' holds '%s': an activation mask is '|u1' (uint8) bytes", option, path,
                      npy_dtype_descr(out->dtype));
    } else if (out->ndim != 1 || out->count != size) {
        char shape[128];
        io_format_shape(out, shape, sizeof shape);
        r = cli_error(CMD, CLI_USAGE, "%s: '%s' has shape %s, expected (%llu,): the mask of %s", option, path, shape,
                      (unsigned long long)size, what);
    }
    if (r != CLI_OK) {
        npy_free(out);
        memset(out, 0, sizeof *out);
    }
    return r;
}

int io_read_vector(const char* option, const char* path, uint64_t c, const char* c_axis, float** out) {
    *out = NULL;
    npy_array a;
    int r = io_read_tensor(option, path, &a);
    if (r != CLI_OK) return r;
    if (a.dtype != NPY_F32 && a.dtype != NPY_F16) {
        const char* descr = npy_dtype_descr(a.dtype);
        npy_free(&a);
        return cli_error(CMD, CLI_USAGE,
                         "%s: '%s' holds '%s': per-channel vectors are f32 whatever --dtype says; save it as '<f4' "
                         "(PyTorch: w.float().numpy()) or '<f2'",
                         option, path, descr);
    }
    if (a.ndim != 1 || a.shape[0] != c) {
        char shape[128];
        io_format_shape(&a, shape, sizeof shape);
        npy_free(&a);
        return cli_error(CMD, CLI_USAGE, "%s: '%s' has shape %s, expected (%llu,): one value per channel, C = %s",
                         option, path, shape, (unsigned long long)c, c_axis);
    }
    float* v = malloc((size_t)c * sizeof *v);
    if (!v) {
        npy_free(&a);
        return cli_error(CMD, CLI_FAILED, "%s: out of memory reading '%s'", option, path);
    }
    for (uint64_t i = 0; i < c; ++i) {
        v[i] = a.dtype == NPY_F16 ? ref_f16_to_f32(((const uint16_t*)a.data)[i]) : ((const float*)a.data)[i];
    }
    npy_free(&a);
    *out = v;
    return CLI_OK;
}

/* The directory that holds `path` ("." for a bare name). Caller frees. */
static char* parent_of(const char* path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') --len;
    while (len > 0 && path[len - 1] != '/') --len;
    while (len > 1 && path[len - 1] == '/') --len;
    char* parent = malloc(len + 2);
    if (!parent) return NULL;
    if (len == 0) {
        strcpy(parent, ".");
    } else {
        memcpy(parent, path, len);
        parent[len] = '\0';
    }
    return parent;
}

static int check_parent(const char* dir) {
    char* parent = parent_of(dir);
    if (!parent) return cli_error(CMD, CLI_FAILED, "--out: out of memory");
    int r = CLI_OK;
    int kind = vkbn__path_kind(parent);
    if (kind == 0) {
        r = cli_error(CMD, CLI_USAGE,
                      "--out: cannot create '%s': its parent '%s' does not exist (only one level is created)", dir,
                      parent);
    } else if (kind != 2) {
        r = cli_error(CMD, CLI_USAGE, "--out: cannot create '%s': '%s' is not a directory", dir, parent);
    } else if (!vkbn__dir_writable(parent)) {
        r = cli_error(CMD, CLI_USAGE, "--out: cannot create '%s': directory '%s' is not writable", dir, parent);
    }
    free(parent);
    return r;
}

int io_check_out_dir(const char* dir) {
    int kind = vkbn__path_kind(dir);
    if (kind == 0) {
        if (errno == ENOENT) return check_parent(dir);
        return cli_error(CMD, CLI_USAGE, "--out: '%s': %s", dir, strerror(errno));
    }
    if (kind != 2) return cli_error(CMD, CLI_USAGE, "--out: '%s' exists and is not a directory", dir);
    if (!vkbn__dir_writable(dir)) return cli_error(CMD, CLI_USAGE, "--out: directory '%s' is not writable", dir);
    return CLI_OK;
}

/* "dir/prefix name suffix", allocated. */
static char* join(const char* dir, const char* prefix, const char* name, const char* suffix) {
    size_t len = strlen(dir);
    int slash = len > 0 && dir[len - 1] != '/';
    size_t size = len + 1 + strlen(prefix) + strlen(name) + strlen(suffix) + 1;
    char* p = malloc(size);
    if (p) snprintf(p, size, "%s%s%s%s%s", dir, slash ? "/" : "", prefix, name, suffix);
    return p;
}

/* The final and temporary paths of every output. */
typedef struct out_paths {
    char* final[IO_MAX_OUTPUTS];
    char* temp[IO_MAX_OUTPUTS];
    size_t count;
} out_paths;

static void free_paths(out_paths* p) {
    for (size_t i = 0; i < p->count; ++i) {
        free(p->final[i]);
        free(p->temp[i]);
    }
    p->count = 0;
}

static int make_paths(const char* dir, const io_output* outputs, size_t count, out_paths* p) {
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".tmp-%ld", vkbn__process_id());
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < count; ++i) {
        p->final[i] = join(dir, "", outputs[i].name, "");
        p->temp[i] = join(dir, ".", outputs[i].name, suffix);
        p->count = i + 1;
        if (!p->final[i] || !p->temp[i]) {
            free_paths(p);
            return cli_error(CMD, CLI_FAILED, "out of memory building output paths");
        }
    }
    return CLI_OK;
}

/* Removes what a failed write left: the first `renamed` final files, the
 * temporaries after them, and the directory if this run created it. */
static void roll_back(const out_paths* p, size_t renamed, size_t written, const char* dir, int created) {
    for (size_t i = 0; i < renamed; ++i) remove(p->final[i]);
    for (size_t i = renamed; i < written; ++i) remove(p->temp[i]);
    if (created) vkbn__rmdir(dir);
}

static int write_temps(const io_output* outputs, const out_paths* p, size_t* written) {
    for (size_t i = 0; i < p->count; ++i) {
        char err[512] = "";
        /* A partly written file may exist even when npy_write fails. */
        *written = i + 1;
        if (npy_write(p->temp[i], &outputs[i].array, err, sizeof err) != 0) {
            return cli_error(CMD, CLI_FAILED, "cannot write '%s': %s; no output was written", p->final[i],
                             err[0] ? err : "write failed");
        }
    }
    return CLI_OK;
}

static int rename_all(const out_paths* p, size_t* renamed) {
    for (size_t i = 0; i < p->count; ++i) {
        if (vkbn__replace_file(p->temp[i], p->final[i]) != 0) {
            return cli_error(CMD, CLI_FAILED, "cannot write '%s' (renaming '%s'): %s; no output was written",
                             p->final[i], p->temp[i], strerror(errno));
        }
        *renamed = i + 1;
    }
    return CLI_OK;
}

int io_write_outputs(const char* dir, const io_output* outputs, size_t count) {
    if (count > IO_MAX_OUTPUTS) return cli_error(CMD, CLI_FAILED, "internal error: too many outputs");
    int created = 0;
    if (vkbn__mkdir(dir) == 0) {
        created = 1;
    } else if (errno != EEXIST) {
        return cli_error(CMD, CLI_FAILED, "--out: cannot create directory '%s': %s", dir, strerror(errno));
    }
    out_paths paths;
    int r = make_paths(dir, outputs, count, &paths);
    size_t written = 0, renamed = 0;
    if (r == CLI_OK) r = write_temps(outputs, &paths, &written);
    if (r == CLI_OK) r = rename_all(&paths, &renamed);
    if (r != CLI_OK) roll_back(&paths, renamed, written, dir, created);
    free_paths(&paths);
    return r;
}
