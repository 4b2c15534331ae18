/* Tests of the `vkbn` command-line tool, run as a separate process.
 *
 *   test_cli VKBN_BINARY GROUP
 *
 * GROUP is one of
 *   usage    help, version, and every bad input that fails before a device is
 *            touched (no device needed)
 *   devices  `vkbn devices` lists the devices vkbn_enumerate_devices lists
 *   run      `vkbn run` outputs against the fp64 reference, and the errors
 *            that come from the device side
 *   backward `vkbn run --mode backward` outputs against the fp64 reference
 *   check    `vkbn check --quick` passes
 * The device groups return 77 (skip) when vkbn lists no device. The device
 * runs (run, backward, check) go to VKBN_CLI_TEST_DEVICE with --device when
 * it is set (tools/vkbn/CMakeLists.txt: "llvmpipe" for the Vulkan entries,
 * "cpu" for the CPU-path ones; 77 when no device matches), else to the
 * default device; every run must report the device that names (or the
 * default), and a Vulkan request must get a Vulkan device. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compare.h"
#include "datagen.h"
#include "npy.h"
#include "reference.h"
#include "vkbn/vkbn.h"

extern char** environ;

#define SKIP_CODE 77
#define MAX_ARGS 64

typedef struct test_ctx {
    const char* vkbn; /* the binary under test */
    char dir[256];    /* scratch directory, removed at the end */
    int passed, failed, skipped;
    const char* device;  /* VKBN_CLI_TEST_DEVICE: --device of every device run; NULL: none (the default) */
    vkbn_device_info on; /* the device those runs must report */
    int f16;             /* it has 16-bit storage */
} test_ctx;

/* A finished child process: exit code (-1 if it did not exit) and output. */
typedef struct proc_result {
    int code;
    char* out;
    char* err;
} proc_result;

static void proc_free(proc_result* p) {
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
check(test_ctx* t, int ok, const char* fmt, ...) {
    if (ok) {
        ++t->passed;
        return;
    }
    ++t->failed;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* A run's stdout names the device it ran on ("... on device N (NAME): wrote",
 * `vkbn check`'s "device N: NAME"): it must be t->on. */
static void check_ran_on(test_ctx* t, const char* what, const char* out) {
    check(t, out && strstr(out, t->on.name) != NULL, "%s: the tool did not report running on \"%s\": %s", what,
          t->on.name, out ? out : "");
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

static void path_in(const test_ctx* t, const char* name, char* out, size_t size) {
    snprintf(out, size, "%s/%s", t->dir, name);
}

static char* read_text(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return calloc(1, 1);
    size_t cap = 4096, len = 0;
    char* s = malloc(cap);
    size_t n;
    while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char* bigger = realloc(s, cap * 2);
            if (!bigger) break;
            s = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (s) s[len] = '\0';
    return s ? s : calloc(1, 1);
}

static int write_bytes(const char* path, const void* data, size_t size) {
    FILE* f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, size, f);
    return fclose(f) == 0 && w == size ? 0 : -1;
}

/* bf16 files: '<u2' or '<i2' arrays of bfloat16 bit patterns (vkbn run
 * --dtype bf16). The tool writes bf16 outputs as '<u2' whatever x was. */
static int is_bf16(npy_dtype dtype) { return dtype == NPY_U16 || dtype == NPY_I16; }
static npy_dtype output_dtype(npy_dtype x_dtype) { return is_bf16(x_dtype) ? NPY_U16 : x_dtype; }

/* The value the file holds, as it holds it (f16 and bf16 decoded). */
static float stored(float v, npy_dtype dtype) {
    if (dtype == NPY_F16) return ref_f16_to_f32(ref_f32_to_f16(v));
    return is_bf16(dtype) ? ref_bf16_to_f32(ref_f32_to_bf16(v)) : v;
}

/* Element i of an array read back, as a float. */
static float element(const npy_array* a, uint64_t i) {
    if (a->dtype == NPY_F16) return ref_f16_to_f32(((const uint16_t*)a->data)[i]);
    if (is_bf16(a->dtype)) return ref_bf16_to_f32(((const uint16_t*)a->data)[i]);
    return ((const float*)a->data)[i];
}

/* Writes an array of `count` floats as f32, or rounded to f16 or to bf16
 * bit patterns ('<u2', '<i2'). */
static int write_npy(const char* path, npy_dtype dtype, uint32_t ndim, const uint64_t* shape, const float* v) {
    npy_array a;
    memset(&a, 0, sizeof a);
    a.dtype = dtype;
    a.ndim = ndim;
    a.count = 1;
    for (uint32_t i = 0; i < ndim; ++i) {
        a.shape[i] = shape[i];
        a.count *= shape[i];
    }
    uint16_t* h = NULL;
    if (dtype != NPY_F32) {
        h = malloc((a.count ? a.count : 1) * sizeof *h);
        if (!h) return -1;
        for (uint64_t i = 0; i < a.count; ++i) h[i] = dtype == NPY_F16 ? ref_f32_to_f16(v[i]) : ref_f32_to_bf16(v[i]);
        a.data = h;
    } else {
        a.data = (void*)v;
    }
    char err[512];
    int r = npy_write(path, &a, err, sizeof err);
    if (r != 0) fprintf(stderr, "test setup: %s\n", err);
    free(h);
    return r;
}

/* A fresh empty directory in the scratch directory. */
static const char* fresh_dir(const test_ctx* t, const char* name, char* out, size_t size) {
    path_in(t, name, out, size);
    mkdir(out, 0777);
    return out;
}

/* Number of entries in a directory; -1 if it does not exist. */
static int dir_entries(const char* path) {
    DIR* d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
    }
    closedir(d);
    return n;
}

/* Removes a directory tree (two levels are all the tests make). */
static void remove_tree(const char* path) {
    DIR* d = opendir(path);
    if (!d) {
        remove(path);
        return;
    }
    struct dirent* e;
    char child[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
            remove_tree(child);
        } else {
            remove(child);
        }
    }
    closedir(d);
    rmdir(path);
}

static int file_exists(const char* path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ------------------------------------------------------------------------ */
/* Running the tool                                                          */
/* ------------------------------------------------------------------------ */

/* Runs the tool with argv = {vkbn, args...}, capturing stdout and stderr. */
static int spawn_tool(const test_ctx* t, const char* const* args, int nargs, proc_result* r) {
    char out_path[600], err_path[600];
    path_in(t, "stdout.txt", out_path, sizeof out_path);
    path_in(t, "stderr.txt", err_path, sizeof err_path);
    char* argv[MAX_ARGS + 2];
    argv[0] = (char*)t->vkbn;
    for (int i = 0; i < nargs; ++i) argv[i + 1] = (char*)args[i];
    argv[nargs + 1] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int e = posix_spawn(&pid, t->vkbn, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    r->code = -1;
    if (e != 0) {
        fprintf(stderr, "cannot start %s: %s\n", t->vkbn, strerror(e));
        r->out = calloc(1, 1);
        r->err = calloc(1, 1);
        return -1;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status)) r->code = WEXITSTATUS(status);
    r->out = read_text(out_path);
    r->err = read_text(err_path);
    return 0;
}

/* Collects the NULL-terminated arguments after `first`. */
static int collect(const char* first, va_list ap, const char** args) {
    int n = 0;
    for (const char* a = first; a && n < MAX_ARGS; a = va_arg(ap, const char*)) args[n++] = a;
    return n;
}

static int run_tool(const test_ctx* t, proc_result* r, const char* first, ...) {
    const char* args[MAX_ARGS];
    va_list ap;
    va_start(ap, first);
    int n = collect(first, ap, args);
    va_end(ap);
    return spawn_tool(t, args, n, r);
}

/* The joined command line, for failure messages. */
static void join_args(const char* const* args, int n, char* out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < size; ++i) {
        int k = snprintf(out + used, size - used, "%s%s", i ? " " : "", args[i]);
        if (k < 0) break;
        used += (size_t)k;
    }
}

static int count_lines(const char* s) {
    int n = 0;
    for (; *s; ++s) n += *s == '\n';
    return n;
}

/* Runs the tool and expects it to fail with `code`, one stderr line that
 * starts with `prefix` and contains `needle`, and nothing in `out_dir`
 * (which must stay empty, or absent if it was absent). */
static void expect_error(test_ctx* t, int code, const char* prefix, const char* needle, const char* out_dir,
                         const char* first, ...) {
    const char* args[MAX_ARGS];
    va_list ap;
    va_start(ap, first);
    int n = collect(first, ap, args);
    va_end(ap);
    int existed = out_dir ? dir_entries(out_dir) : -1;
    proc_result r;
    spawn_tool(t, args, n, &r);
    char line[1024];
    join_args(args, n, line, sizeof line);
    check(t, r.code == code, "vkbn %s: exit code %d, expected %d (stderr: %s)", line, r.code, code, r.err);
    check(t, count_lines(r.err) == 1 && r.err[strlen(r.err) - 1] == '\n',
          "vkbn %s: stderr is not exactly one line: '%s'", line, r.err);
    check(t, strncmp(r.err, prefix, strlen(prefix)) == 0, "vkbn %s: stderr does not start with '%s': '%s'", line,
          prefix, r.err);
    check(t, strstr(r.err, needle) != NULL, "vkbn %s: stderr does not mention '%s': '%s'", line, needle, r.err);
    if (out_dir) {
        int now = dir_entries(out_dir);
        check(t, existed < 0 ? now < 0 : now == 0, "vkbn %s: left %d entries in %s", line, now, out_dir);
    }
    proc_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Test data                                                                 */
/* ------------------------------------------------------------------------ */

/* Inputs written to the scratch directory: all of them, the tests pick. */
typedef struct inputs {
    char x[600], x16[600], z[600], z_short[600], w[600], w_short[600], w16[600], b[600], rm[600], rv[600];
    char m1[600], bad[600], f8[600], d1[600], d6[600], zero[600];
    char xb[600], xi[600], wb[600]; /* bf16 bits: x as '<u2' and '<i2', the weight as '<u2' */
} inputs;

static int make_inputs(const test_ctx* t, inputs* in) {
    const uint64_t xs[] = {2, 3, 4, 5}, zs_short[] = {2, 3, 4, 4}, c3[] = {3}, c4[] = {4}, m1[] = {1, 3};
    const uint64_t d1[] = {12}, d6[] = {1, 2, 1, 1, 1, 2}, zero[] = {2, 0, 3};
    float v[120];
    rng r;
    rng_seed(&r, 42);
    gen_normal_f32(&r, v, 120, 0.5, 1.5);
    path_in(t, "x.npy", in->x, sizeof in->x);
    path_in(t, "x16.npy", in->x16, sizeof in->x16);
    path_in(t, "z.npy", in->z, sizeof in->z);
    path_in(t, "z_short.npy", in->z_short, sizeof in->z_short);
    path_in(t, "w.npy", in->w, sizeof in->w);
    path_in(t, "w_short.npy", in->w_short, sizeof in->w_short);
    path_in(t, "w16.npy", in->w16, sizeof in->w16);
    path_in(t, "b.npy", in->b, sizeof in->b);
    path_in(t, "rm.npy", in->rm, sizeof in->rm);
    path_in(t, "rv.npy", in->rv, sizeof in->rv);
    path_in(t, "m1.npy", in->m1, sizeof in->m1);
    path_in(t, "bad.npy", in->bad, sizeof in->bad);
    path_in(t, "f8.npy", in->f8, sizeof in->f8);
    path_in(t, "d1.npy", in->d1, sizeof in->d1);
    path_in(t, "d6.npy", in->d6, sizeof in->d6);
    path_in(t, "zero.npy", in->zero, sizeof in->zero);
    path_in(t, "xb.npy", in->xb, sizeof in->xb);
    path_in(t, "xi.npy", in->xi, sizeof in->xi);
    path_in(t, "wb.npy", in->wb, sizeof in->wb);
    const float ones[4] = {1, 1, 1, 1};
    int e = 0;
    e |= write_npy(in->x, NPY_F32, 4, xs, v);
    e |= write_npy(in->x16, NPY_F16, 4, xs, v);
    e |= write_npy(in->z, NPY_F32, 4, xs, v);
    e |= write_npy(in->z_short, NPY_F32, 4, zs_short, v);
    e |= write_npy(in->w, NPY_F32, 1, c3, ones);
    e |= write_npy(in->w_short, NPY_F32, 1, c4, ones);
    e |= write_npy(in->w16, NPY_F16, 1, c3, ones);
    e |= write_npy(in->b, NPY_F32, 1, c3, v);
    e |= write_npy(in->rm, NPY_F32, 1, c3, v);
    e |= write_npy(in->rv, NPY_F32, 1, c3, ones);
    e |= write_npy(in->m1, NPY_F32, 2, m1, v);
    e |= write_npy(in->d1, NPY_F32, 1, d1, v);
    e |= write_npy(in->d6, NPY_F32, 6, d6, v);
    e |= write_npy(in->zero, NPY_F32, 3, zero, v);
    e |= write_npy(in->xb, NPY_U16, 4, xs, v);
    e |= write_npy(in->xi, NPY_I16, 4, xs, v);
    e |= write_npy(in->wb, NPY_U16, 1, c3, ones);
    static const char garbage[] = "this is not a .npy file\n";
    e |= write_bytes(in->bad, garbage, sizeof garbage - 1);
    /* A valid .npy 1.0 file holding float64, which vkbn does not take. */
    char f8[128 + 8 * 3];
    const char* header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }";
    memset(f8, ' ', 128);
    memcpy(f8, "\x93NUMPY\x01\x00", 8);
    f8[8] = (char)(128 - 10);
    f8[9] = 0;
    memcpy(f8 + 10, header, strlen(header));
    f8[127] = '\n';
    const double d[3] = {1, 2, 3};
    memcpy(f8 + 128, d, sizeof d);
    e |= write_bytes(in->f8, f8, sizeof f8);
    return e;
}

/* ------------------------------------------------------------------------ */
/* usage: no device needed                                                   */
/* ------------------------------------------------------------------------ */

static void test_help_and_version(test_ctx* t) {
    static const char* const helps[][2] = {{"--help", NULL},     {"help", NULL},    {"-h", NULL},
                                           {"help", "run"},      {"run", "--help"}, {"check", "--help"},
                                           {"devices", "--help"}};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; ++i) {
        proc_result r;
        run_tool(t, &r, helps[i][0], helps[i][1], NULL);
        check(t, r.code == 0 && strstr(r.out, "usage: vkbn") && r.err[0] == '\0', "vkbn %s %s: code %d out '%.80s'",
              helps[i][0], helps[i][1] ? helps[i][1] : "", r.code, r.out);
        proc_free(&r);
    }
    proc_result r;
    run_tool(t, &r, NULL);
    check(t,
          r.code == 0 && strstr(r.out, "devices") && strstr(r.out, "run") && strstr(r.out, "check") &&
              strstr(r.out, "--momentum") && strstr(r.out, "--quick"),
          "vkbn with no arguments: code %d, usage incomplete: '%s'", r.code, r.out);
    proc_free(&r);
    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", VKBN_VERSION_MAJOR, VKBN_VERSION_MINOR, VKBN_VERSION_PATCH);
    run_tool(t, &r, "--version", NULL);
    check(t, r.code == 0 && strstr(r.out, version), "vkbn --version: code %d, '%s', expected %s", r.code, r.out,
          version);
    proc_free(&r);
    expect_error(t, 2, "vkbn: ", "frobnicate", NULL, "frobnicate", NULL);
    expect_error(t, 2, "vkbn help: ", "frobnicate", NULL, "help", "frobnicate", NULL);
    expect_error(t, 2, "vkbn devices: ", "--all", NULL, "devices", "--all", NULL);
    expect_error(t, 2, "vkbn check: ", "--slow", NULL, "check", "--slow", NULL);
}

/* "'PATH', which holds WHAT": how a --dtype mismatch names the file and
 * what it found. */
static const char* holds(const char* path, const char* what, char* out, size_t size) {
    snprintf(out, size, "'%s', which holds %s", path, what);
    return out;
}

/* bf16 takes '<u2' or '<i2' tensor files, and only with --dtype bf16; any
 * other file fails naming it and its dtype, and nothing is written (nor is
 * a missing --out directory created). */
static void test_bad_bf16_files(test_ctx* t, const inputs* in, const char* out) {
    const char* R = "vkbn run: ";
    char absent[600], needle[800];
    path_in(t, "out_bf16_absent", absent, sizeof absent);
    const char* bf16[] = {"--dtype", "bf16"};
    expect_error(t, 2, R, holds(in->x, "f32 ('<f4')", needle, sizeof needle), out, "run", "--mode", "train", bf16[0],
                 bf16[1], "--x", in->x, "--out", out, NULL);
    expect_error(t, 2, R, holds(in->x16, "f16 ('<f2')", needle, sizeof needle), absent, "run", "--mode", "infer",
                 bf16[0], bf16[1], "--x", in->x16, "--running-mean", in->rm, "--running-var", in->rv, "--out", absent,
                 NULL);
    expect_error(t, 2, R, holds(in->w, "f32 ('<f4')", needle, sizeof needle), out, "run", "--mode", "train", bf16[0],
                 bf16[1], "--x", in->w, "--out", out, NULL);
    expect_error(t, 2, R, "--dtype bf16", out, "run", "--mode", "train", "--x", in->xb, "--out", out, NULL);
    expect_error(t, 2, R, holds(in->xi, "16-bit integers ('<i2')", needle, sizeof needle), out, "run", "--mode",
                 "train", "--dtype", "f16", "--x", in->xi, "--out", out, NULL);
    snprintf(needle, sizeof needle, "'%s' is (2, 3, 4, 5) f32 ('<f4'), but x is (2, 3, 4, 5) bf16", in->z);
    expect_error(t, 2, R, needle, out, "run", "--mode", "train", bf16[0], bf16[1], "--x", in->xb, "--residual", in->z,
                 "--out", out, NULL);
    snprintf(needle, sizeof needle, "'%s' holds '<u2'", in->wb);
    expect_error(t, 2, R, needle, out, "run", "--mode", "train", bf16[0], bf16[1], "--x", in->xb, "--weight", in->wb,
                 "--out", out, NULL);
    snprintf(needle, sizeof needle, "--dy: '%s' is (2, 3, 4, 5) f16 ('<f2')", in->x16);
    expect_error(t, 2, R, needle, out, "run", "--mode", "backward", bf16[0], bf16[1], "--x", in->xb, "--dy", in->x16,
                 "--save-mean", in->rm, "--save-invstd", in->rv, "--out", out, NULL);
    expect_error(t, 2, R, "--dtype: expected f32, f16 or bf16", out, "run", "--mode", "train", "--dtype", "bfloat16",
                 "--x", in->xb, "--out", out, NULL);
}

/* Bad input files: every one exits 2, names the file or option, writes nothing. */
static void test_bad_files(test_ctx* t, const inputs* in) {
    char out[600];
    fresh_dir(t, "out_bad_files", out, sizeof out);
    const char* R = "vkbn run: ";
    expect_error(t, 2, R, in->bad, out, "run", "--mode", "train", "--x", in->bad, "--out", out, NULL);
    expect_error(t, 2, R, in->f8, out, "run", "--mode", "train", "--x", in->f8, "--out", out, NULL);
    /* A directory opens like a file on POSIX; the message must say what it is. */
    expect_error(t, 2, R, "directory", out, "run", "--mode", "train", "--x", t->dir, "--out", out, NULL);
    expect_error(t, 2, R, "--weight", out, "run", "--mode", "train", "--x", in->x, "--weight", in->f8, "--out", out,
                 NULL);
    expect_error(t, 2, R, "missing.npy", out, "run", "--mode", "train", "--x", "missing.npy", "--out", out, NULL);
    expect_error(t, 2, R, "--dtype", out, "run", "--mode", "train", "--x", in->x, "--dtype", "f16", "--out", out, NULL);
    expect_error(t, 2, R, "--dtype", out, "run", "--mode", "train", "--x", in->x16, "--dtype", "f32", "--out", out,
                 NULL);
    expect_error(t, 2, R, "--residual", out, "run", "--mode", "train", "--x", in->x, "--residual", in->z_short, "--out",
                 out, NULL);
    expect_error(t, 2, R, "--residual", out, "run", "--mode", "train", "--x", in->x16, "--residual", in->z, "--out",
                 out, NULL);
    expect_error(t, 2, R, "--weight", out, "run", "--mode", "train", "--x", in->x, "--weight", in->w_short, "--out",
                 out, NULL);
    expect_error(t, 2, R, "--bias", out, "run", "--mode", "train", "--x", in->x, "--bias", in->x, "--out", out, NULL);
    expect_error(t, 2, R, "--running-var", out, "run", "--mode", "train", "--x", in->x, "--running-mean", in->rm,
                 "--running-var", in->w_short, "--out", out, NULL);
    /* nhwc reads C from the last axis: 5 channels, so 3-long vectors are wrong. */
    expect_error(t, 2, R, "--weight", out, "run", "--mode", "train", "--layout", "nhwc", "--x", in->x, "--weight",
                 in->w, "--out", out, NULL);
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--x", in->d1, "--out", out, NULL);
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--x", in->d6, "--out", out, NULL);
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--x", in->zero, "--out", out, NULL);
    /* Backward inputs must match x (shape and dtype) or c. */
    const char* stats[] = {"--save-mean", in->rm, "--save-invstd", in->rv};
    expect_error(t, 2, R, "--dy", out, "run", "--mode", "backward", "--x", in->x, "--dy", in->z_short, stats[0],
                 stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "--y", out, "run", "--mode", "backward", "--x", in->x, "--dy", in->x, "--relu", "--y",
                 in->x16, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "--save-invstd", out, "run", "--mode", "backward", "--x", in->x, "--dy", in->x, stats[0],
                 stats[1], stats[2], in->w_short, "--out", out, NULL);
    expect_error(t, 2, R, "--running-var", out, "run", "--mode", "backward", "--frozen", "--x", in->x, "--dy", in->x,
                 "--running-mean", in->rm, "--running-var", in->w_short, "--out", out, NULL);
    test_bad_bf16_files(t, in, out);
}

/* The activation mask's files and options: each a usage error before any
 * device work, naming the option, writing nothing. x is 2x3x4x5 = 120
 * elements: a mask of 16 bytes. */
static void test_bad_mask(test_ctx* t, const inputs* in) {
    char out[600], m15[600], m16[600], m2d[600];
    fresh_dir(t, "out_bad_mask", out, sizeof out);
    uint8_t bytes[16] = {0};
    const struct {
        char* path;
        uint32_t ndim;
        uint64_t shape[2];
    } files[] = {{m15, 1, {15, 0}}, {m16, 1, {16, 0}}, {m2d, 2, {2, 8}}};
    static const char* const names[] = {"mask15.npy", "mask16.npy", "mask2d.npy"};
    for (int i = 0; i < 3; ++i) {
        path_in(t, names[i], files[i].path, 600);
        npy_array a;
        memset(&a, 0, sizeof a);
        a.dtype = NPY_U8;
        a.ndim = files[i].ndim;
        a.count = files[i].shape[0] * (files[i].ndim == 2 ? files[i].shape[1] : 1);
        memcpy(a.shape, files[i].shape, sizeof files[i].shape);
        a.data = bytes;
        char err[512];
        check(t, npy_write(files[i].path, &a, err, sizeof err) == 0, "writing %s: %s", names[i], err);
    }
    const char* R = "vkbn run: ";
    const char* stats[] = {"--save-mean", in->rm, "--save-invstd", in->rv};
    const char* x = in->x;
    /* A float file, too short, two-dimensional. */
    expect_error(t, 2, R, "'|u1'", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--relu", "--activation-mask",
                 x, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "expected (16,)", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--relu",
                 "--activation-mask", m15, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "expected (16,)", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--relu",
                 "--activation-mask", m2d, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    /* A mask where no activation has one, with --y, in the wrong mode; a
     * mask file as a tensor. */
    expect_error(t, 2, R, "--activation-mask", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--activation",
                 "silu", "--activation-mask", m16, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "--activation-mask", out, "run", "--mode", "backward", "--x", x, "--dy", x,
                 "--activation-mask", m16, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "--activation-mask", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--relu", "--y",
                 x, "--activation-mask", m16, stats[0], stats[1], stats[2], stats[3], "--out", out, NULL);
    expect_error(t, 2, R, "--activation-mask", out, "run", "--mode", "train", "--x", x, "--relu", "--activation-mask",
                 m16, "--out", out, NULL);
    expect_error(t, 2, R, "--save-activation-mask", out, "run", "--mode", "train", "--x", x, "--activation", "silu",
                 "--save-activation-mask", "--out", out, NULL);
    expect_error(t, 2, R, "--save-activation-mask", out, "run", "--mode", "infer", "--x", x, "--running-mean", in->rm,
                 "--running-var", in->rv, "--save-activation-mask", "--out", out, NULL);
    expect_error(t, 2, R, "--save-activation-mask", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--relu",
                 "--y", x, stats[0], stats[1], stats[2], stats[3], "--save-activation-mask", "--out", out, NULL);
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--x", m16, "--out", out, NULL);
    expect_error(t, 2, R, "--y", out, "run", "--mode", "backward", "--x", x, "--dy", x, "--relu", "--y", m16, stats[0],
                 stats[1], stats[2], stats[3], "--out", out, NULL);
}

/* Bad options: every one exits 2, names the option, writes nothing. */
static void test_bad_options(test_ctx* t, const inputs* in) {
    char out[600], missing[600], file_out[600];
    fresh_dir(t, "out_bad_options", out, sizeof out);
    path_in(t, "no/such/dir", missing, sizeof missing);
    const char* R = "vkbn run: ";
    const char* x = in->x;
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--out", out, NULL);
    expect_error(t, 2, R, "--mode", out, "run", "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "--out", NULL, "run", "--mode", "train", "--x", x, NULL);
    expect_error(t, 2, R, "--mode", out, "run", "--mode", "training", "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "--layout", out, "run", "--mode", "train", "--layout", "nchwc", "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "--dtype", out, "run", "--mode", "train", "--dtype", "f64", "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "--frobnicate", out, "run", "--mode", "train", "--x", x, "--frobnicate", "--out", out, NULL);
    expect_error(t, 2, R, "'extra'", out, "run", "--mode", "train", "--x", x, "extra", "--out", out, NULL);
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--x", x, "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "--x", out, "run", "--mode", "train", "--out", out, "--x", NULL);
    expect_error(t, 2, R, "--relu", out, "run", "--mode", "train", "--x", x, "--relu=yes", "--out", out, NULL);
    expect_error(t, 2, R, "--eps", out, "run", "--mode", "train", "--x", x, "--eps", "-1", "--out", out, NULL);
    expect_error(t, 2, R, "--eps", out, "run", "--mode", "train", "--x", x, "--eps", "0.1x", "--out", out, NULL);
    expect_error(t, 2, R, "--eps", out, "run", "--mode", "train", "--x", x, "--eps", "", "--out", out, NULL);
    expect_error(t, 2, R, "--eps", out, "run", "--mode", "train", "--x", x, "--eps", "nan", "--out", out, NULL);
    expect_error(t, 2, R, "--eps", out, "run", "--mode", "train", "--x", x, "--eps=1e99", "--out", out, NULL);
    const char* rs[] = {"--running-mean", in->rm, "--running-var", in->rv};
    expect_error(t, 2, R, "--momentum", out, "run", "--mode", "train", "--x", x, rs[0], rs[1], rs[2], rs[3],
                 "--momentum", "2", "--out", out, NULL);
    expect_error(t, 2, R, "--momentum", out, "run", "--mode", "train", "--x", x, rs[0], rs[1], rs[2], rs[3],
                 "--momentum", "0.1", "--cumulative", "3", "--out", out, NULL);
    expect_error(t, 2, R, "--cumulative", out, "run", "--mode", "train", "--x", x, rs[0], rs[1], rs[2], rs[3],
                 "--cumulative", "-3", "--out", out, NULL);
    expect_error(t, 2, R, "--momentum", out, "run", "--mode", "train", "--x", x, "--momentum", "0.5", "--out", out,
                 NULL);
    expect_error(t, 2, R, "--running-var", out, "run", "--mode", "train", "--x", x, rs[0], rs[1], "--out", out, NULL);
    expect_error(t, 2, R, "--running-mean", out, "run", "--mode", "infer", "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "--biased-running-var", out, "run", "--mode", "infer", "--x", x, rs[0], rs[1], rs[2], rs[3],
                 "--biased-running-var", "--out", out, NULL);
    /* The activations' options. */
    const char* T[] = {"run", "--mode", "train", "--x", x};
    expect_error(t, 2, R, "--activation", out, T[0], T[1], T[2], T[3], T[4], "--activation", "gelu", "--out", out,
                 NULL);
    expect_error(t, 2, R, "--activation", out, T[0], T[1], T[2], T[3], T[4], "--relu", "--activation", "silu", "--out",
                 out, NULL);
    expect_error(t, 2, R, "--alpha", out, T[0], T[1], T[2], T[3], T[4], "--activation", "relu", "--alpha", "1", "--out",
                 out, NULL);
    expect_error(t, 2, R, "--beta", out, T[0], T[1], T[2], T[3], T[4], "--activation", "leaky_relu", "--beta", "1",
                 "--out", out, NULL);
    expect_error(t, 2, R, "--beta", out, T[0], T[1], T[2], T[3], T[4], "--activation", "clamp", "--alpha", "0", "--out",
                 out, NULL);
    expect_error(t, 2, R, "--beta", out, T[0], T[1], T[2], T[3], T[4], "--activation", "clamp", "--alpha", "2",
                 "--beta", "1", "--out", out, NULL);
    expect_error(t, 2, R, "--alpha", out, T[0], T[1], T[2], T[3], T[4], "--activation", "leaky_relu", "--alpha", "inf",
                 "--out", out, NULL);
    expect_error(t, 2, R, "--alpha", out, T[0], T[1], T[2], T[3], T[4], "--activation", "clamp", "--alpha", "x",
                 "--beta", "1", "--out", out, NULL);
    expect_error(t, 2, R, "--residual-relu", out, T[0], T[1], T[2], T[3], T[4], "--residual-relu", "--out", out, NULL);
    /* Backward's options, against the mode and each other. */
    const char* B[] = {"run", "--mode", "backward", "--x", x, "--dy", x};
    const char* st[] = {"--save-mean", in->rm, "--save-invstd", in->rv};
    expect_error(t, 2, R, "--dy", out, B[0], B[1], B[2], B[3], B[4], "--out", out, NULL);
    expect_error(t, 2, R, "--save-mean", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], "--out", out, NULL);
    expect_error(t, 2, R, "--save-invstd", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], st[0], st[1], "--out", out,
                 NULL);
    expect_error(t, 2, R, "--y", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], st[0], st[1], st[2], st[3],
                 "--residual-relu", "--out", out, NULL);
    expect_error(t, 2, R, "--y", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], st[0], st[1], st[2], st[3],
                 "--activation", "clamp", "--alpha", "0", "--beta", "6", "--out", out, NULL);
    expect_error(t, 2, R, "--alpha", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], st[0], st[1], st[2], st[3],
                 "--activation", "leaky_relu", "--alpha", "-0.1", "--y", x, "--out", out, NULL);
    expect_error(t, 2, R, "--running-mean", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], "--frozen", "--out", out,
                 NULL);
    expect_error(t, 2, R, "--frozen", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], st[0], st[1], st[2], st[3], rs[0],
                 rs[1], rs[2], rs[3], "--out", out, NULL);
    expect_error(t, 2, R, "--save-mean", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], "--frozen", rs[0], rs[1], rs[2],
                 rs[3], st[0], st[1], "--out", out, NULL);
    expect_error(t, 2, R, "--momentum", out, B[0], B[1], B[2], B[3], B[4], B[5], B[6], st[0], st[1], st[2], st[3],
                 "--momentum", "0.1", "--out", out, NULL);
    expect_error(t, 2, R, "--dy", out, T[0], T[1], T[2], T[3], T[4], "--dy", x, "--out", out, NULL);
    expect_error(t, 2, R, "--frozen", out, "run", "--mode", "infer", "--x", x, rs[0], rs[1], rs[2], rs[3], "--frozen",
                 "--out", out, NULL);
    expect_error(t, 2, R, "--mode", out, "run", "--mode", "backwards", "--x", x, "--out", out, NULL);
    expect_error(t, 2, R, "no/such", NULL, "run", "--mode", "train", "--x", x, "--out", missing, NULL);
    check(t, !file_exists(missing), "vkbn run created %s", missing);
    path_in(t, "x.npy", file_out, sizeof file_out);
    expect_error(t, 2, R, "--out", NULL, "run", "--mode", "train", "--x", x, "--out", file_out, NULL);
}

/* `vkbn plan` on device profiles: no device needed. The text and the JSON
 * name the plan's dispatches; bad options exit 2 naming the option. */
static void test_plan(test_ctx* t) {
    proc_result r;
    run_tool(t, &r, "plan", "--profiles", NULL);
    check(t, r.code == 0 && strstr(r.out, "h100") && strstr(r.out, "m2-moltenvk") && strstr(r.out, "adreno740"),
          "vkbn plan --profiles: code %d, '%s'", r.code, r.out);
    proc_free(&r);
    run_tool(t, &r, "plan", "--profile", "h100", "--mode", "train", "--layout", "nhwc", "--shape", "32x64x112x112",
             NULL);
    check(t,
          r.code == 0 && strstr(r.out, "stats_cl") && strstr(r.out, "apply") && strstr(r.out, "elementwise") &&
              strstr(r.out, "prediction:") && strstr(r.out, "H100"),
          "vkbn plan --profile h100 (text): code %d, '%s' (stderr %s)", r.code, r.out, r.err);
    proc_free(&r);
    run_tool(t, &r, "plan", "--profile", "H100", "--mode", "backward", "--activation", "relu", "--residual", "--dtype",
             "f16", "--shape", "32x256x56x56", "--json", NULL);
    check(t,
          r.code == 0 && r.out[0] == '{' && strstr(r.out, "\"profile\": \"h100\"") &&
              strstr(r.out, "\"kernel\": \"bwd_stats_cf\"") && strstr(r.out, "\"kernel\": \"bwd_apply\"") &&
              strstr(r.out, "\"serial_chain\"") && strstr(r.out, "\"fraction_of_copy\""),
          "vkbn plan --json: code %d, '%s' (stderr %s)", r.code, r.out, r.err);
    proc_free(&r);
    run_tool(t, &r, "plan", "--profile", "h100", "--mode", "train", "--dtype", "bf16", "--shape", "32x64x56x56",
             "--json", NULL);
    check(t, r.code == 0 && strstr(r.out, "\"dtype\": \"bf16\""),
          "vkbn plan --dtype bf16 --json: code %d, '%s' (stderr %s)", r.code, r.out, r.err);
    proc_free(&r);
    /* A profile without a bandwidth plans, and predicts nothing. */
    run_tool(t, &r, "plan", "--profile", "adreno740", "--mode", "infer", "--shape", "1x64x56x56", NULL);
    check(t, r.code == 0 && strstr(r.out, "prediction:  none"), "vkbn plan --profile adreno740: code %d, '%s'", r.code,
          r.out);
    proc_free(&r);
    expect_error(t, 2, "vkbn plan: ", "--shape", NULL, "plan", "--profile", "h100", NULL);
    expect_error(t, 2, "vkbn plan: ", "--shape", NULL, "plan", "--profile", "h100", "--shape", "32x0x4", NULL);
    expect_error(t, 2, "vkbn plan: ", "--shape", NULL, "plan", "--profile", "h100", "--shape", "32xx4", NULL);
    expect_error(t, 2, "vkbn plan: ", "--mode", NULL, "plan", "--profile", "h100", "--shape", "2x3", "--mode", "fwd",
                 NULL);
    expect_error(t, 2, "vkbn plan: ", "f32, f16 or bf16", NULL, "plan", "--profile", "h100", "--shape", "2x3",
                 "--dtype", "f64", NULL);
    expect_error(t, 2, "vkbn plan: ", "gtx", NULL, "plan", "--profile", "gtx", "--shape", "2x3", NULL);
    expect_error(t, 2, "vkbn plan: ", "exclude", NULL, "plan", "--profile", "h100", "--device", "0", "--shape", "2x3",
                 NULL);
}

static int group_usage(test_ctx* t) {
    inputs in;
    if (make_inputs(t, &in) != 0) {
        check(t, 0, "cannot write the test inputs in %s", t->dir);
        return 1;
    }
    test_help_and_version(t);
    test_plan(t);
    test_bad_files(t, &in);
    test_bad_options(t, &in);
    test_bad_mask(t, &in);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* devices                                                                   */
/* ------------------------------------------------------------------------ */

static int group_devices(test_ctx* t, const vkbn_device_info* def) {
    proc_result r;
    run_tool(t, &r, "devices", NULL);
    check(t, r.code == 0, "vkbn devices: exit code %d (stderr: %s)", r.code, r.err);
    check(t, strstr(r.out, def->name) != NULL, "vkbn devices does not name the default device '%s': %s", def->name,
          r.out);
    char line[300];
    snprintf(line, sizeof line, "device %u (default): %s\n", def->index, def->name);
    check(t, strstr(r.out, line) != NULL, "vkbn devices does not mark the default (%s): %s", line, r.out);
    /* The default is the fastest kind: a GPU where there is one, else the CPU
     * path, never a Vulkan CPU driver such as lavapipe. */
    uint32_t count = 0;
    vkbn_enumerate_devices(&count, NULL);
    vkbn_device_info* all = calloc(count ? count : 1, sizeof *all);
    int gpus = 0;
    if (all && vkbn_enumerate_devices(&count, all) == VKBN_SUCCESS) {
        for (uint32_t i = 0; i < count; ++i) {
            gpus += all[i].type == VKBN_DEVICE_TYPE_DISCRETE_GPU || all[i].type == VKBN_DEVICE_TYPE_INTEGRATED_GPU ||
                    all[i].type == VKBN_DEVICE_TYPE_VIRTUAL_GPU;
        }
    }
    free(all);
    check(t,
          gpus ? def->backend == VKBN_BACKEND_VULKAN && def->type != VKBN_DEVICE_TYPE_VULKAN_CPU
               : def->backend == VKBN_BACKEND_CPU,
          "the default '%s' is not the fastest kind (%d GPU%s listed)", def->name, gpus, gpus == 1 ? "" : "s");
    if (def->backend == VKBN_BACKEND_VULKAN) {
        check(t, strstr(r.out, "subgroup operations") != NULL && strstr(r.out, "16-bit storage") != NULL,
              "vkbn devices misses Vulkan fields: %s", r.out);
    } else { /* no Vulkan GPU: the CPU path is the default and lists its SIMD level */
        check(t, strstr(r.out, "SIMD") != NULL && strstr(r.out, "threads") != NULL,
              "vkbn devices misses CPU fields: %s", r.out);
    }
    /* bf16 runs on every device, f16 only with 16-bit storage */
    check(t, strstr(r.out, "element types") != NULL && strstr(r.out, " bf16") != NULL,
          "vkbn devices does not list the element types with bf16: %s", r.out);
    /* the CPU path is listed whether or not Vulkan devices exist */
    check(t, strstr(r.out, "vkbn's own path") != NULL, "vkbn devices does not list the CPU path: %s", r.out);
    proc_free(&r);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* run: outputs against the fp64 reference                                   */
/* ------------------------------------------------------------------------ */

typedef struct run_spec {
    const char* name;
    int training;
    int nhwc;
    npy_dtype dtype;     /* of x, z, y */
    npy_dtype vec_dtype; /* of the weight, bias and running-stat files */
    uint32_t ndim;
    uint64_t shape[5];
    int affine, residual, relu, running;
    const char* activation; /* --activation NAME (NULL: none, or --relu) */
    const char* alpha;      /* --alpha */
    const char* beta;       /* --beta */
    const char* eps;        /* NULL: default */
    const char* momentum;   /* NULL: default */
    const char* cumulative; /* NULL: exponential */
    int biased;
    int no_subgroups;    /* --no-subgroups */
    int sync_validation; /* --sync-validation (skipped with VKBN_TEST_NO_VALIDATION) */
} run_spec;

/* Host copies of one case's data (as the files hold them, decoded to float). */
typedef struct run_data {
    uint64_t count, c;
    ref_shape shape;
    float *x, *z, *w, *b, *rm, *rv;
} run_data;

static void data_free(run_data* d) {
    free(d->x);
    free(d->z);
    free(d->w);
    free(d->b);
    free(d->rm);
    free(d->rv);
}

static int make_data(const run_spec* s, uint64_t seed, run_data* d) {
    memset(d, 0, sizeof d[0]);
    d->count = 1;
    for (uint32_t i = 0; i < s->ndim; ++i) d->count *= s->shape[i];
    d->c = s->nhwc ? s->shape[s->ndim - 1] : s->shape[1];
    d->shape.n = s->shape[0];
    d->shape.c = d->c;
    d->shape.s = d->count / (d->shape.n * d->c);
    d->shape.layout = s->nhwc ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
    d->x = malloc(d->count * sizeof(float));
    d->z = malloc(d->count * sizeof(float));
    d->w = malloc(d->c * sizeof(float));
    d->b = malloc(d->c * sizeof(float));
    d->rm = malloc(d->c * sizeof(float));
    d->rv = malloc(d->c * sizeof(float));
    if (!d->x || !d->z || !d->w || !d->b || !d->rm || !d->rv) return -1;
    rng r;
    rng_seed(&r, seed);
    gen_normal_f32(&r, d->x, d->count, 0.0, 1.5);
    gen_normal_f32(&r, d->z, d->count, 0.0, 1.0);
    gen_uniform_f32(&r, d->w, d->c, -1.5, 1.5);
    gen_uniform_f32(&r, d->b, d->c, -1.0, 1.0);
    gen_uniform_f32(&r, d->rm, d->c, -1.0, 1.0);
    gen_uniform_f32(&r, d->rv, d->c, 0.5, 2.0);
    for (uint64_t n = 0; n < d->shape.n; ++n) {
        for (uint64_t ch = 0; ch < d->c; ++ch) {
            for (uint64_t i = 0; i < d->shape.s; ++i) {
                uint64_t k = ref_index(&d->shape, n, ch, i);
                d->x[k] = stored(d->x[k] + 0.7f * (float)ch - 1.0f, s->dtype);
                d->z[k] = stored(d->z[k], s->dtype);
            }
        }
    }
    for (uint64_t ch = 0; ch < d->c; ++ch) {
        d->w[ch] = stored(d->w[ch], s->vec_dtype);
        d->b[ch] = stored(d->b[ch], s->vec_dtype);
        d->rm[ch] = stored(d->rm[ch], s->vec_dtype);
        d->rv[ch] = stored(d->rv[ch], s->vec_dtype);
    }
    return 0;
}

static double* to_double(const float* v, uint64_t n) {
    double* d = malloc((n ? n : 1) * sizeof *d);
    for (uint64_t i = 0; d && i < n; ++i) d[i] = v[i];
    return d;
}

/* The reference outputs of a case. */
typedef struct run_ref {
    double *y, *mean, *invstd, *var, *rm, *rv;
} run_ref;

static void ref_free(run_ref* r) {
    free(r->y);
    free(r->mean);
    free(r->invstd);
    free(r->var);
    free(r->rm);
    free(r->rv);
}

static double parse_or(const char* text, double fallback) { return text ? strtod(text, NULL) : fallback; }

static vkbn_activation activation_of(const char* name) {
    static const char* const names[] = {"none", "relu", "leaky_relu", "clamp", "silu"};
    for (int i = 0; name && i < 5; ++i) {
        if (strcmp(name, names[i]) == 0) return (vkbn_activation)i;
    }
    return VKBN_ACTIVATION_NONE;
}

static void compute_ref(const run_spec* s, const run_data* d, run_ref* out) {
    double *x = to_double(d->x, d->count), *z = to_double(d->z, d->count);
    double *w = to_double(d->w, d->c), *b = to_double(d->b, d->c);
    out->rm = to_double(d->rm, d->c);
    out->rv = to_double(d->rv, d->c);
    out->y = calloc(d->count, sizeof(double));
    out->mean = calloc(d->c, sizeof(double));
    out->invstd = calloc(d->c, sizeof(double));
    out->var = calloc(d->c, sizeof(double));
    double eps = (double)(float)parse_or(s->eps, VKBN_DEFAULT_EPS);
    vkbn_activation act = s->relu ? VKBN_ACTIVATION_RELU : activation_of(s->activation);
    double alpha = (double)(float)parse_or(s->alpha, act == VKBN_ACTIVATION_LEAKY_RELU ? 0.01 : 0.0);
    double beta = (double)(float)parse_or(s->beta, 0.0);
    if (s->training) {
        double f = s->cumulative ? 1.0 / (parse_or(s->cumulative, 0) + 1.0)
                                 : (double)(float)parse_or(s->momentum, VKBN_DEFAULT_MOMENTUM);
        ref_forward_training a = {
            .shape = d->shape,
            .x = x,
            .z = s->residual ? z : NULL,
            .weight = s->affine ? w : NULL,
            .bias = s->affine ? b : NULL,
            .running_mean = s->running ? out->rm : NULL,
            .running_var = s->running ? out->rv : NULL,
            .eps = eps,
            .factor = f,
            .biased_running_var = s->biased,
            .activation = act,
            .activation_alpha = alpha,
            .activation_beta = beta,
            .y = out->y,
            .mean = out->mean,
            .invstd = out->invstd,
            .var = out->var,
        };
        ref_batchnorm_forward_training(&a);
    } else {
        ref_forward_inference a = {
            .shape = d->shape,
            .x = x,
            .z = s->residual ? z : NULL,
            .weight = s->affine ? w : NULL,
            .bias = s->affine ? b : NULL,
            .running_mean = out->rm,
            .running_var = out->rv,
            .eps = eps,
            .activation = act,
            .activation_alpha = alpha,
            .activation_beta = beta,
            .y = out->y,
        };
        ref_batchnorm_forward_inference(&a);
    }
    free(x);
    free(z);
    free(w);
    free(b);
}

/* Reads DIR/name and compares it with want (count values, f32 unless y). */
static void check_output(test_ctx* t, const run_spec* s, const char* dir, const char* name, const double* want,
                         uint64_t count, double atol, double rtol) {
    char path[700], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    npy_array a;
    if (npy_read(path, &a, err, sizeof err) != 0) {
        check(t, 0, "%s: %s", s->name, err);
        return;
    }
    int is_y = strcmp(name, "y.npy") == 0;
    int shape_ok = a.count == count && a.dtype == (is_y ? output_dtype(s->dtype) : NPY_F32);
    if (is_y) {
        shape_ok &= a.ndim == s->ndim;
        for (uint32_t i = 0; shape_ok && i < s->ndim; ++i) shape_ok &= a.shape[i] == s->shape[i];
    } else {
        shape_ok &= a.ndim == 1;
    }
    check(t, shape_ok, "%s: %s has the wrong shape or dtype", s->name, name);
    if (shape_ok) {
        float* got = malloc(count * sizeof *got);
        for (uint64_t i = 0; got && i < count; ++i) got[i] = element(&a, i);
        cmp_result c = cmp_f32(got, want, count, atol, rtol);
        check(t, got && c.ok, "%s: %s differs from the reference: worst at %zu, got %g want %g (%.3g of tolerance)",
              s->name, name, c.worst, got ? (double)got[c.worst] : 0.0, want[c.worst], c.max_scaled);
        free(got);
    }
    npy_free(&a);
}

/* Writes the case's input files and builds the argument list. */
static int case_args(const test_ctx* t, const run_spec* s, const run_data* d, const char* out_dir, char paths[6][600],
                     const char** args) {
    static const char* const names[] = {"x", "z", "w", "b", "rm", "rv"};
    for (int i = 0; i < 6; ++i) {
        char file[128];
        snprintf(file, sizeof file, "%s_%s.npy", s->name, names[i]);
        path_in(t, file, paths[i], 600);
    }
    uint64_t c[1] = {d->c};
    int e = write_npy(paths[0], s->dtype, s->ndim, s->shape, d->x);
    e |= write_npy(paths[1], s->dtype, s->ndim, s->shape, d->z);
    e |= write_npy(paths[2], s->vec_dtype, 1, c, d->w);
    e |= write_npy(paths[3], s->vec_dtype, 1, c, d->b);
    e |= write_npy(paths[4], s->vec_dtype, 1, c, d->rm);
    e |= write_npy(paths[5], s->vec_dtype, 1, c, d->rv);
    if (e) return -1;
    int n = 0;
    args[n++] = "run";
    args[n++] = "--mode";
    args[n++] = s->training ? "train" : "infer";
    args[n++] = "--layout";
    args[n++] = s->nhwc ? "nhwc" : "nchw";
    args[n++] = "--x";
    args[n++] = paths[0];
    if (is_bf16(s->dtype)) args[n++] = "--dtype", args[n++] = "bf16";
    if (s->residual) args[n++] = "--residual", args[n++] = paths[1];
    if (s->affine) args[n++] = "--weight", args[n++] = paths[2], args[n++] = "--bias", args[n++] = paths[3];
    if (s->running)
        args[n++] = "--running-mean", args[n++] = paths[4], args[n++] = "--running-var", args[n++] = paths[5];
    if (s->relu) args[n++] = "--relu";
    if (s->activation) args[n++] = "--activation", args[n++] = s->activation;
    if (s->alpha) args[n++] = "--alpha", args[n++] = s->alpha;
    if (s->beta) args[n++] = "--beta", args[n++] = s->beta;
    if (s->eps) args[n++] = "--eps", args[n++] = s->eps;
    if (s->momentum) args[n++] = "--momentum", args[n++] = s->momentum;
    if (s->cumulative) args[n++] = "--cumulative", args[n++] = s->cumulative;
    if (s->biased) args[n++] = "--biased-running-var";
    if (s->no_subgroups) args[n++] = "--no-subgroups";
    if (s->sync_validation) args[n++] = "--sync-validation";
    if (t->device) args[n++] = "--device", args[n++] = t->device;
    args[n++] = "--out";
    args[n++] = out_dir;
    return n;
}

/* y's tolerance: f32 arithmetic, plus the rounding on store of a 16-bit
 * type (half an ulp: 2^-11 relative for f16, 2^-8 for bf16), with room. */
static void y_tolerance(npy_dtype dtype, double* atol, double* rtol) {
    *atol = dtype == NPY_F32 ? 2e-5 : dtype == NPY_F16 ? 2e-3 : 1e-4;
    *rtol = dtype == NPY_F32 ? 1e-4 : dtype == NPY_F16 ? 2e-3 : 5e-3;
}

static void check_outputs(test_ctx* t, const run_spec* s, const run_data* d, const run_ref* ref, const char* out) {
    double atol, rtol;
    y_tolerance(s->dtype, &atol, &rtol);
    check_output(t, s, out, "y.npy", ref->y, d->count, atol, rtol);
    int want_files = 1;
    if (s->training) {
        check_output(t, s, out, "save_mean.npy", ref->mean, d->c, 1e-5, 1e-5);
        check_output(t, s, out, "save_invstd.npy", ref->invstd, d->c, 1e-5, 1e-4);
        want_files += 2;
        if (s->running) {
            check_output(t, s, out, "running_mean.npy", ref->rm, d->c, 1e-5, 1e-5);
            check_output(t, s, out, "running_var.npy", ref->rv, d->c, 1e-5, 1e-4);
            want_files += 2;
        }
    }
    int n = dir_entries(out);
    check(t, n == want_files, "%s: %d files in %s, expected %d", s->name, n, out, want_files);
}

static void run_case(test_ctx* t, const run_spec* s, uint64_t seed) {
    if (s->dtype == NPY_F16 && !t->f16) {
        printf("skip %s: the device has no 16-bit storage\n", s->name);
        ++t->skipped;
        return;
    }
    const char* no_layers = getenv("VKBN_TEST_NO_VALIDATION");
    if (s->sync_validation && no_layers && *no_layers && strcmp(no_layers, "0") != 0) {
        printf("skip %s: VKBN_TEST_NO_VALIDATION (no validation layers)\n", s->name);
        ++t->skipped;
        return;
    }
    run_data d;
    char out[600], paths[6][600];
    const char* args[MAX_ARGS];
    fresh_dir(t, s->name, out, sizeof out);
    int n = make_data(s, seed, &d) == 0 ? case_args(t, s, &d, out, paths, args) : -1;
    if (n < 0) {
        check(t, 0, "%s: cannot write the inputs", s->name);
        data_free(&d);
        return;
    }
    proc_result r;
    spawn_tool(t, args, n, &r);
    check(t, r.code == 0 && r.err[0] == '\0', "%s: exit code %d, stderr '%s'", s->name, r.code, r.err);
    if (r.code == 0) {
        check_ran_on(t, s->name, r.out);
        run_ref ref;
        compute_ref(s, &d, &ref);
        check_outputs(t, s, &d, &ref, out);
        ref_free(&ref);
    }
    proc_free(&r);
    data_free(&d);
}

static const run_spec run_specs[] = {
    {.name = "train_nchw_f32",
     .training = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 4,
     .shape = {3, 5, 4, 3},
     .affine = 1,
     .residual = 1,
     .relu = 1,
     .running = 1,
     .momentum = "0.2"},
    {.name = "train_nhwc_f16",
     .training = 1,
     .nhwc = 1,
     .dtype = NPY_F16,
     .vec_dtype = NPY_F16,
     .ndim = 4,
     .shape = {2, 3, 5, 4},
     .affine = 1,
     .running = 1,
     .cumulative = "2",
     .biased = 1},
    {.name = "infer_nchw_f16",
     .dtype = NPY_F16,
     .vec_dtype = NPY_F32,
     .ndim = 3,
     .shape = {2, 6, 7},
     .affine = 1,
     .residual = 1,
     .relu = 1,
     .running = 1},
    {.name = "infer_nhwc_f32",
     .nhwc = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F16,
     .ndim = 2,
     .shape = {4, 6},
     .affine = 1,
     .running = 1,
     .eps = "1e-3"},
    {.name = "train_nchw_f32_plain", .training = 1, .dtype = NPY_F32, .vec_dtype = NPY_F32, .ndim = 2, .shape = {5, 3}},
    {.name = "train_nhwc_f32_rank3",
     .training = 1,
     .nhwc = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 5,
     .shape = {2, 2, 3, 4, 3},
     .affine = 1,
     .running = 1,
     .relu = 1},
    {.name = "train_nchw_f16_odd",
     .training = 1,
     .dtype = NPY_F16,
     .vec_dtype = NPY_F32,
     .ndim = 3,
     .shape = {3, 5, 7},
     .residual = 1,
     .eps = "0"},
    {.name = "infer_nhwc_f16_residual",
     .nhwc = 1,
     .dtype = NPY_F16,
     .vec_dtype = NPY_F16,
     .ndim = 4,
     .shape = {2, 4, 4, 8},
     .residual = 1,
     .relu = 1,
     .running = 1},
    {.name = "train_nchw_f32_silu",
     .training = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 4,
     .shape = {2, 3, 4, 5},
     .affine = 1,
     .residual = 1,
     .activation = "silu"},
    {.name = "train_nhwc_f16_leaky",
     .training = 1,
     .nhwc = 1,
     .dtype = NPY_F16,
     .vec_dtype = NPY_F32,
     .ndim = 3,
     .shape = {3, 7, 4},
     .affine = 1,
     .activation = "leaky_relu",
     .alpha = "-0.3"},
    {.name = "infer_nchw_f32_relu6",
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 4,
     .shape = {2, 5, 3, 3},
     .affine = 1,
     .running = 1,
     .activation = "clamp",
     .alpha = "0",
     .beta = "6"},
    {.name = "train_nchw_f32_leaky_default",
     .training = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 2,
     .shape = {9, 4},
     .activation = "leaky_relu"},
    /* bf16: files of bit patterns, '<u2' and (as torch's int16 view saves
     * them) '<i2'; y comes back as '<u2'. No device needs 16-bit storage. */
    {.name = "train_nchw_bf16",
     .training = 1,
     .dtype = NPY_U16,
     .vec_dtype = NPY_F32,
     .ndim = 4,
     .shape = {3, 5, 4, 3},
     .affine = 1,
     .residual = 1,
     .relu = 1,
     .running = 1,
     .momentum = "0.2"},
    {.name = "infer_nhwc_bf16_int16",
     .nhwc = 1,
     .dtype = NPY_I16,
     .vec_dtype = NPY_F16,
     .ndim = 4,
     .shape = {2, 4, 4, 8},
     .affine = 1,
     .residual = 1,
     .running = 1,
     .activation = "clamp",
     .alpha = "0",
     .beta = "6"},
    {.name = "train_nhwc_bf16_silu",
     .training = 1,
     .nhwc = 1,
     .dtype = NPY_U16,
     .vec_dtype = NPY_F32,
     .ndim = 3,
     .shape = {3, 7, 5},
     .affine = 1,
     .activation = "silu"},
    /* The debugging options: the shared-memory kernels, and synchronization
     * validation (any message fails the run). */
    {.name = "train_nchw_f32_no_subgroups",
     .training = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 4,
     .shape = {3, 5, 4, 3},
     .affine = 1,
     .running = 1,
     .no_subgroups = 1},
    {.name = "train_nhwc_f32_sync_validation",
     .training = 1,
     .nhwc = 1,
     .dtype = NPY_F32,
     .vec_dtype = NPY_F32,
     .ndim = 4,
     .shape = {2, 3, 5, 4},
     .affine = 1,
     .residual = 1,
     .relu = 1,
     .sync_validation = 1},
};

/* Errors found on the device side: still one line, still nothing written. */
static void test_device_errors(test_ctx* t, const inputs* in) {
    char out[600], absent[600];
    fresh_dir(t, "out_device_errors", out, sizeof out);
    path_in(t, "out_absent", absent, sizeof absent);
    const char* R = "vkbn run: ";
    expect_error(t, 2, R, "VKBN_ERROR_TOO_FEW_VALUES", out, "run", "--mode", "train", "--x", in->m1, "--out", out,
                 NULL);
    expect_error(t, 2, R, "VKBN_ERROR_TOO_FEW_VALUES", absent, "run", "--mode", "train", "--x", in->m1, "--out", absent,
                 NULL);
    expect_error(t, 2, R, "VKBN_ERROR_DEVICE_NOT_FOUND", out, "run", "--device", "99", "--mode", "train", "--x", in->x,
                 "--out", out, NULL);
    expect_error(t, 2, R, "VKBN_ERROR_DEVICE_NOT_FOUND", out, "run", "--device", "no such device", "--mode", "train",
                 "--x", in->x, "--out", out, NULL);
    expect_error(t, 2, "vkbn check: ", "VKBN_ERROR_DEVICE_NOT_FOUND", NULL, "check", "--device", "99", NULL);
}

/* A failure while writing the outputs (save_mean.npy is a directory) removes
 * every output already written, and exits 1. */
static void test_write_failure(test_ctx* t, const inputs* in) {
    char out[600], blocker[700];
    fresh_dir(t, "out_write_failure", out, sizeof out);
    snprintf(blocker, sizeof blocker, "%s/save_mean.npy", out);
    mkdir(blocker, 0777);
    proc_result r;
    run_tool(t, &r, "run", "--mode", "train", "--x", in->x, "--out", out, NULL);
    check(t, r.code == 1, "write failure: exit code %d, expected 1 (stderr: %s)", r.code, r.err);
    check(t, count_lines(r.err) == 1 && strncmp(r.err, "vkbn run: ", 10) == 0 && strstr(r.err, "save_mean.npy"),
          "write failure: stderr is not one line naming save_mean.npy: '%s'", r.err);
    check(t, dir_entries(out) == 1, "write failure: %d entries left in %s, expected only the blocking directory",
          dir_entries(out), out);
    proc_free(&r);
}

static int group_run(test_ctx* t) {
    for (size_t i = 0; i < sizeof run_specs / sizeof run_specs[0]; ++i) run_case(t, &run_specs[i], 100 + i);
    inputs in;
    if (make_inputs(t, &in) != 0) {
        check(t, 0, "cannot write the test inputs in %s", t->dir);
        return 1;
    }
    test_device_errors(t, &in);
    test_write_failure(t, &in);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* backward: `vkbn run --mode backward` against the fp64 reference            */
/* ------------------------------------------------------------------------ */

typedef struct bwd_spec {
    const char* name;
    int nhwc, frozen;
    npy_dtype dtype; /* of x, dy, y, z */
    uint32_t ndim;
    uint64_t shape[5];
    int affine;             /* --weight, --bias */
    const char* flag;       /* "--relu", "--residual-relu" or NULL */
    const char* activation; /* --activation NAME */
    const char* alpha;
    const char* beta;
    int residual; /* --residual Z.npy (SiLU's u; writes dresidual.npy) */
    const char* eps;
    int dy_u16; /* bf16: dy as '<u2' beside x as '<i2' (both are bf16) */
} bwd_spec;

static const bwd_spec bwd_specs[] = {
    {.name = "bwd_train_nchw_f32_residual_relu",
     .dtype = NPY_F32,
     .ndim = 4,
     .shape = {3, 5, 4, 3},
     .affine = 1,
     .flag = "--residual-relu"},
    {.name = "bwd_train_nhwc_f16_silu",
     .nhwc = 1,
     .dtype = NPY_F16,
     .ndim = 4,
     .shape = {2, 3, 5, 4},
     .affine = 1,
     .activation = "silu",
     .residual = 1},
    {.name = "bwd_frozen_nchw_f32_relu6",
     .frozen = 1,
     .dtype = NPY_F32,
     .ndim = 3,
     .shape = {2, 6, 7},
     .affine = 1,
     .activation = "clamp",
     .alpha = "0",
     .beta = "6",
     .eps = "1e-3"},
    {.name = "bwd_frozen_nhwc_f16_leaky",
     .nhwc = 1,
     .frozen = 1,
     .dtype = NPY_F16,
     .ndim = 2,
     .shape = {4, 6},
     .activation = "leaky_relu",
     .alpha = "0.2"},
    {.name = "bwd_train_nchw_f32_plain", .dtype = NPY_F32, .ndim = 2, .shape = {5, 3}},
    {.name = "bwd_train_nhwc_f32_relu",
     .nhwc = 1,
     .dtype = NPY_F32,
     .ndim = 5,
     .shape = {2, 2, 3, 4, 3},
     .affine = 1,
     .flag = "--relu"},
    {.name = "bwd_train_nchw_bf16_residual_relu",
     .dtype = NPY_U16,
     .ndim = 4,
     .shape = {3, 5, 4, 3},
     .affine = 1,
     .flag = "--residual-relu"},
    {.name = "bwd_frozen_nhwc_bf16_int16_silu",
     .nhwc = 1,
     .frozen = 1,
     .dtype = NPY_I16,
     .ndim = 3,
     .shape = {3, 6, 4},
     .affine = 1,
     .activation = "silu",
     .residual = 1,
     .dy_u16 = 1},
    {.name = "bwd_train_nhwc_bf16_leaky",
     .nhwc = 1,
     .dtype = NPY_U16,
     .ndim = 2,
     .shape = {9, 4},
     .activation = "leaky_relu",
     .alpha = "0.1"},
};

/* The inputs of a backward case, as the files hold them (decoded to float). */
typedef struct bwd_data {
    run_data d;
    float *dy, *y, *mean, *invstd;
} bwd_data;

static void bwd_data_free(bwd_data* b) {
    data_free(&b->d);
    free(b->dy);
    free(b->y);
    free(b->mean);
    free(b->invstd);
}

static vkbn_activation bwd_activation(const bwd_spec* s) {
    return s->flag ? VKBN_ACTIVATION_RELU : activation_of(s->activation);
}

static double bwd_alpha(const bwd_spec* s) {
    return (double)(float)parse_or(s->alpha, bwd_activation(s) == VKBN_ACTIVATION_LEAKY_RELU ? 0.01 : 0.0);
}

/* x, z, weight, bias and the running statistics as for the forward cases,
 * dy, and what the forward would have saved: y and the batch statistics. */
static int bwd_make_data(const bwd_spec* s, uint64_t seed, bwd_data* b) {
    run_spec rs = {.name = s->name,
                   .training = !s->frozen,
                   .nhwc = s->nhwc,
                   .dtype = s->dtype,
                   .vec_dtype = NPY_F32,
                   .ndim = s->ndim};
    memcpy(rs.shape, s->shape, sizeof rs.shape);
    memset(b, 0, sizeof *b);
    if (make_data(&rs, seed, &b->d) != 0) return -1;
    run_data* d = &b->d;
    b->dy = malloc(d->count * sizeof(float));
    b->y = malloc(d->count * sizeof(float));
    b->mean = malloc(d->c * sizeof(float));
    b->invstd = malloc(d->c * sizeof(float));
    double *x = to_double(d->x, d->count), *z = to_double(d->z, d->count), *w = to_double(d->w, d->c);
    double *bb = to_double(d->b, d->c), *rm = to_double(d->rm, d->c), *rv = to_double(d->rv, d->c);
    double *y = calloc(d->count, sizeof(double)), *mean = calloc(d->c, sizeof(double));
    double* invstd = calloc(d->c, sizeof(double));
    int ok = b->dy && b->y && b->mean && b->invstd && x && z && w && bb && rm && rv && y && mean && invstd;
    if (ok) {
        rng r;
        rng_seed(&r, seed * 31 + 7);
        gen_normal_f32(&r, b->dy, d->count, 0.0, 1.0);
        for (uint64_t i = 0; i < d->count; ++i) b->dy[i] = stored(b->dy[i], s->dtype);
        double eps = (double)(float)parse_or(s->eps, VKBN_DEFAULT_EPS);
        vkbn_activation act = bwd_activation(s);
        const double* zz = s->residual || (s->flag && strcmp(s->flag, "--residual-relu") == 0) ? z : NULL;
        if (s->frozen) {
            ref_forward_inference a = {.shape = d->shape,
                                       .x = x,
                                       .z = zz,
                                       .weight = s->affine ? w : NULL,
                                       .bias = s->affine ? bb : NULL,
                                       .running_mean = rm,
                                       .running_var = rv,
                                       .eps = eps,
                                       .activation = act,
                                       .activation_alpha = bwd_alpha(s),
                                       .activation_beta = parse_or(s->beta, 0.0),
                                       .y = y};
            ref_batchnorm_forward_inference(&a);
        } else {
            ref_forward_training a = {.shape = d->shape,
                                      .x = x,
                                      .z = zz,
                                      .weight = s->affine ? w : NULL,
                                      .bias = s->affine ? bb : NULL,
                                      .eps = eps,
                                      .activation = act,
                                      .activation_alpha = bwd_alpha(s),
                                      .activation_beta = parse_or(s->beta, 0.0),
                                      .y = y,
                                      .mean = mean,
                                      .invstd = invstd};
            ref_batchnorm_forward_training(&a);
        }
        for (uint64_t i = 0; i < d->count; ++i) b->y[i] = stored((float)y[i], s->dtype);
        for (uint64_t i = 0; i < d->c; ++i) {
            b->mean[i] = (float)mean[i];
            b->invstd[i] = (float)invstd[i];
        }
    }
    double* all[] = {x, z, w, bb, rm, rv, y, mean, invstd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    return ok ? 0 : -1;
}

/* Reads DIR/name: a tensor of x's shape and dtype, or an f32 (C,) vector;
 * compares it within `rel` of the largest reference value. */
static void check_bwd_output(test_ctx* t, const bwd_spec* s, const char* dir, const char* name, const double* want,
                             uint64_t count, int tensor, double rel) {
    char path[700], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    npy_array a;
    if (npy_read(path, &a, err, sizeof err) != 0) {
        check(t, 0, "%s: %s", s->name, err);
        return;
    }
    int ok =
        a.count == count && a.dtype == (tensor ? output_dtype(s->dtype) : NPY_F32) && a.ndim == (tensor ? s->ndim : 1);
    for (uint32_t i = 0; ok && tensor && i < s->ndim; ++i) ok &= a.shape[i] == s->shape[i];
    check(t, ok, "%s: %s has the wrong shape or dtype", s->name, name);
    if (ok) {
        float* got = malloc(count * sizeof *got);
        double scale = 0.0;
        for (uint64_t i = 0; got && i < count; ++i) {
            got[i] = element(&a, i);
            if (fabs(want[i]) > scale) scale = fabs(want[i]);
        }
        cmp_result c = cmp_f32(got, want, count, rel * scale + 1e-6, 0.0);
        check(t, got && c.ok, "%s: %s differs from the reference: worst at %zu, got %g want %g (%.3g of tolerance)",
              s->name, name, c.worst, got ? (double)got[c.worst] : 0.0, want[c.worst], c.max_scaled);
        free(got);
    }
    npy_free(&a);
}

static void run_bwd_case(test_ctx* t, const bwd_spec* s, uint64_t seed) {
    if (s->dtype == NPY_F16 && !t->f16) {
        printf("skip %s: the device has no 16-bit storage\n", s->name);
        ++t->skipped;
        return;
    }
    bwd_data b;
    char out[600], paths[10][600];
    fresh_dir(t, s->name, out, sizeof out);
    if (bwd_make_data(s, seed, &b) != 0) {
        check(t, 0, "%s: cannot make the inputs", s->name);
        bwd_data_free(&b);
        return;
    }
    const run_data* d = &b.d;
    static const char* const names[] = {"x", "dy", "y", "z", "w", "b", "sm", "si", "rm", "rv"};
    const float* data[] = {d->x, b.dy, b.y, d->z, d->w, d->b, b.mean, b.invstd, d->rm, d->rv};
    uint64_t c[1] = {d->c};
    int e = 0;
    for (int i = 0; i < 10; ++i) {
        char file[160];
        snprintf(file, sizeof file, "%s_%s.npy", s->name, names[i]);
        path_in(t, file, paths[i], sizeof paths[i]);
        npy_dtype tensor_dtype = i == 1 && s->dy_u16 ? NPY_U16 : s->dtype;
        e |= i < 4 ? write_npy(paths[i], tensor_dtype, s->ndim, s->shape, data[i])
                   : write_npy(paths[i], NPY_F32, 1, c, data[i]);
    }
    const char* args[MAX_ARGS];
    int n = 0;
    args[n++] = "run", args[n++] = "--mode", args[n++] = "backward";
    args[n++] = "--layout", args[n++] = s->nhwc ? "nhwc" : "nchw";
    args[n++] = "--x", args[n++] = paths[0], args[n++] = "--dy", args[n++] = paths[1];
    if (is_bf16(s->dtype)) args[n++] = "--dtype", args[n++] = "bf16";
    if (bwd_activation(s) != VKBN_ACTIVATION_NONE && bwd_activation(s) != VKBN_ACTIVATION_SILU) {
        args[n++] = "--y", args[n++] = paths[2];
    }
    if (s->residual) args[n++] = "--residual", args[n++] = paths[3];
    if (s->affine) args[n++] = "--weight", args[n++] = paths[4], args[n++] = "--bias", args[n++] = paths[5];
    if (s->frozen) {
        args[n++] = "--frozen", args[n++] = "--running-mean", args[n++] = paths[8];
        args[n++] = "--running-var", args[n++] = paths[9];
    } else {
        args[n++] = "--save-mean", args[n++] = paths[6], args[n++] = "--save-invstd", args[n++] = paths[7];
    }
    if (s->flag) args[n++] = s->flag;
    if (t->device) args[n++] = "--device", args[n++] = t->device;
    if (s->activation) args[n++] = "--activation", args[n++] = s->activation;
    if (s->alpha) args[n++] = "--alpha", args[n++] = s->alpha;
    if (s->beta) args[n++] = "--beta", args[n++] = s->beta;
    if (s->eps) args[n++] = "--eps", args[n++] = s->eps;
    args[n++] = "--out", args[n++] = out;
    proc_result r;
    memset(&r, 0, sizeof r);
    if (e == 0) spawn_tool(t, args, n, &r);
    check(t, e == 0 && r.code == 0 && r.err && r.err[0] == '\0', "%s: exit code %d, stderr '%s'", s->name, r.code,
          r.err ? r.err : "");
    int dresidual = s->residual || (s->flag && strcmp(s->flag, "--residual-relu") == 0);
    if (e == 0 && r.code == 0) {
        check_ran_on(t, s->name, r.out);
        double *x = to_double(d->x, d->count), *dy = to_double(b.dy, d->count), *y = to_double(b.y, d->count);
        double *z = to_double(d->z, d->count), *w = to_double(d->w, d->c), *bb = to_double(d->b, d->c);
        double *sm = to_double(b.mean, d->c), *si = to_double(b.invstd, d->c), *rm = to_double(d->rm, d->c);
        double* rv = to_double(d->rv, d->c);
        double *dx = calloc(d->count, sizeof(double)), *dz = calloc(d->count, sizeof(double));
        double *dw = calloc(d->c, sizeof(double)), *db = calloc(d->c, sizeof(double));
        ref_backward a = {.shape = d->shape,
                          .frozen = s->frozen,
                          .x = x,
                          .dy = dy,
                          .y = y,
                          .z = s->residual ? z : NULL,
                          .weight = s->affine ? w : NULL,
                          .bias = s->affine ? bb : NULL,
                          .save_mean = sm,
                          .save_invstd = si,
                          .running_mean = rm,
                          .running_var = rv,
                          .eps = (double)(float)parse_or(s->eps, VKBN_DEFAULT_EPS),
                          .activation = bwd_activation(s),
                          .activation_alpha = bwd_alpha(s),
                          .activation_beta = parse_or(s->beta, 0.0),
                          .dx = dx,
                          .dweight = dw,
                          .dbias = db,
                          .dz = dz};
        ref_batchnorm_backward(&a);
        /* dx and dresidual: one rounding on store, relative to the largest value. */
        double rel = s->dtype == NPY_F32 ? 1e-4 : s->dtype == NPY_F16 ? 4e-3 : 5e-3;
        check_bwd_output(t, s, out, "dx.npy", dx, d->count, 1, rel);
        check_bwd_output(t, s, out, "dweight.npy", dw, d->c, 0, 1e-4);
        check_bwd_output(t, s, out, "dbias.npy", db, d->c, 0, 1e-4);
        if (dresidual) check_bwd_output(t, s, out, "dresidual.npy", dz, d->count, 1, rel);
        int files = dir_entries(out);
        check(t, files == 3 + dresidual, "%s: %d files in %s, expected %d", s->name, files, out, 3 + dresidual);
        double* all[] = {x, dy, y, z, w, bb, sm, si, rm, rv, dx, dz, dw, db};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
    }
    proc_free(&r);
    bwd_data_free(&b);
}

/* Reads a whole file; NULL if it cannot. */
static uint8_t* read_file(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t* data = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1)) != NULL) {
        *size = fread(data, 1, (size_t)n, f);
    }
    fclose(f);
    return data;
}

/* The activation mask end to end: train (and infer) with
 * --save-activation-mask writes activation_mask.npy, '|u1' of 4 * ceil(e /
 * 32) bytes whose bit e is y[e] > 0 (relu) or alpha < y[e] < beta (clamp);
 * backward with it in place of --y writes the same files, byte for byte,
 * on every device. */
static void run_mask_case(test_ctx* t, const char* activation, const char* alpha, const char* beta, int nhwc) {
    char name[64], x[600], dy[600], fwd[600], g_y[600], g_m[600], y_path[700], m_path[700], sm[700], si[700];
    snprintf(name, sizeof name, "mask_%s_%s", activation, nhwc ? "nhwc" : "nchw");
    const uint64_t shape[4] = {3, 5, 7, 3}; /* 315 elements: 40 bytes, the last word partly used */
    const uint64_t count = 315;
    float v[315], g[315];
    uint64_t state = 77;
    for (uint64_t i = 0; i < count; ++i) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(state >> 11) / 9007199254740992.0 * 4.0 - 2.0);
        g[i] = (float)((double)(state >> 20 & 1023) / 512.0 - 1.0);
    }
    char file[160];
    snprintf(file, sizeof file, "%s_x.npy", name);
    path_in(t, file, x, sizeof x);
    snprintf(file, sizeof file, "%s_dy.npy", name);
    path_in(t, file, dy, sizeof dy);
    int e = write_npy(x, NPY_F32, 4, shape, v) | write_npy(dy, NPY_F32, 4, shape, g);
    snprintf(file, sizeof file, "%s_fwd", name);
    path_in(t, file, fwd, sizeof fwd);
    /* The options every run shares: layout, activation, device. */
    const char* common[10];
    int nc = 0;
    common[nc++] = "--layout", common[nc++] = nhwc ? "nhwc" : "nchw";
    common[nc++] = "--activation", common[nc++] = activation;
    if (alpha) common[nc++] = "--alpha", common[nc++] = alpha;
    if (beta) common[nc++] = "--beta", common[nc++] = beta;
    if (t->device) common[nc++] = "--device", common[nc++] = t->device;
    const char* args[MAX_ARGS];
    int n = 0;
    args[n++] = "run", args[n++] = "--mode", args[n++] = "train", args[n++] = "--x", args[n++] = x;
    for (int i = 0; i < nc; ++i) args[n++] = common[i];
    args[n++] = "--save-activation-mask", args[n++] = "--out", args[n++] = fwd;
    proc_result r;
    memset(&r, 0, sizeof r);
    r.code = -1;
    if (e == 0) spawn_tool(t, args, n, &r);
    check(t, e == 0 && r.code == 0, "%s: train: exit code %d, stderr '%s'", name, r.code, r.err ? r.err : "");
    proc_free(&r);
    snprintf(y_path, sizeof y_path, "%s/y.npy", fwd);
    snprintf(m_path, sizeof m_path, "%s/activation_mask.npy", fwd);
    snprintf(sm, sizeof sm, "%s/save_mean.npy", fwd);
    snprintf(si, sizeof si, "%s/save_invstd.npy", fwd);
    npy_array ya, ma;
    char err[512];
    if (npy_read(y_path, &ya, err, sizeof err) != 0 || npy_read(m_path, &ma, err, sizeof err) != 0) {
        check(t, 0, "%s: %s", name, err);
        return;
    }
    check(t, ma.dtype == NPY_U8 && ma.ndim == 1 && ma.count == 40, "%s: activation_mask.npy is not 40 '|u1' bytes",
          name);
    const double lo = alpha ? strtod(alpha, NULL) : 0.0, hi = beta ? strtod(beta, NULL) : 0.0;
    uint64_t wrong = 0;
    for (uint64_t i = 0; ma.count == 40 && i < count; ++i) {
        float y = ((const float*)ya.data)[i];
        int want = strcmp(activation, "clamp") == 0 ? y > lo && y < hi : y > 0.0f;
        wrong += (((const uint8_t*)ma.data)[i / 8] >> (i % 8) & 1) != want;
    }
    check(t, wrong == 0, "%s: %llu bits of activation_mask.npy differ from y", name, (unsigned long long)wrong);
    npy_free(&ya);
    npy_free(&ma);
    snprintf(file, sizeof file, "%s_grads_y", name);
    path_in(t, file, g_y, sizeof g_y);
    snprintf(file, sizeof file, "%s_grads_mask", name);
    path_in(t, file, g_m, sizeof g_m);
    for (int k = 0; k < 2; ++k) {
        n = 0;
        args[n++] = "run", args[n++] = "--mode", args[n++] = "backward", args[n++] = "--x", args[n++] = x;
        args[n++] = "--dy", args[n++] = dy;
        for (int i = 0; i < nc; ++i) args[n++] = common[i];
        args[n++] = k ? "--activation-mask" : "--y", args[n++] = k ? m_path : y_path;
        args[n++] = "--save-mean", args[n++] = sm, args[n++] = "--save-invstd", args[n++] = si;
        args[n++] = "--out", args[n++] = k ? g_m : g_y;
        spawn_tool(t, args, n, &r);
        check(t, r.code == 0, "%s: backward with %s: exit code %d, stderr '%s'", name, k ? "the mask" : "y", r.code,
              r.err ? r.err : "");
        proc_free(&r);
    }
    static const char* const outs[] = {"dx.npy", "dweight.npy", "dbias.npy"};
    for (int i = 0; i < 3; ++i) {
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/%s", g_y, outs[i]);
        snprintf(b, sizeof b, "%s/%s", g_m, outs[i]);
        size_t na = 0, nb = 0;
        uint8_t *da = read_file(a, &na), *db = read_file(b, &nb);
        check(t, da && db && na == nb && memcmp(da, db, na) == 0, "%s: %s with the mask differs from %s with y", name,
              outs[i], outs[i]);
        free(da);
        free(db);
    }
    printf("ok   %s\n", name);
}

static int group_backward(test_ctx* t) {
    for (size_t i = 0; i < sizeof bwd_specs / sizeof bwd_specs[0]; ++i) run_bwd_case(t, &bwd_specs[i], 400 + i);
    run_mask_case(t, "relu", NULL, NULL, 0);
    run_mask_case(t, "clamp", "-0.5", "0.75", 1);
    run_mask_case(t, "leaky_relu", "0.1", NULL, 0);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* check                                                                     */
/* ------------------------------------------------------------------------ */

static int group_check(test_ctx* t) {
    proc_result r;
    if (t->device)
        run_tool(t, &r, "check", "--quick", "--device", t->device, NULL);
    else
        run_tool(t, &r, "check", "--quick", NULL);
    check_ran_on(t, "vkbn check --quick", r.out);
    check(t, r.code == 0, "vkbn check --quick: exit code %d\n%s%s", r.code, r.out, r.err);
    const char* summary = strstr(r.out, " passed, 0 failed");
    check(t, summary != NULL, "vkbn check --quick: no 'N passed, 0 failed' line:\n%s", r.out);
    check(t, strstr(r.out, "FAIL") == NULL, "vkbn check --quick reports failures:\n%s", r.out);
    check(t, strstr(r.out, "bf16 yes") != NULL, "vkbn check --quick does not say that bf16 runs:\n%s", r.out);
    proc_free(&r);
    return 0;
}

/* ------------------------------------------------------------------------ */

static int is_decimal(const char* v) {
    if (!*v) return 0;
    for (; *v; ++v) {
        if (*v < '0' || *v > '9') return 0;
    }
    return 1;
}

static int contains_nocase(const char* hay, const char* part) {
    size_t len = strlen(part);
    for (const char* h = hay; *h; ++h) {
        size_t k = 0;
        while (k < len && h[k] && (h[k] | 0x20) == (part[k] | 0x20)) ++k;
        if (k == len) return 1;
    }
    return 0;
}

/* The device `request` names as vkbn_context_desc.device does ("cpu" in any
 * case, an index, a name part; NULL: the default) and the default device;
 * 0 when vkbn lists none or nothing matches. */
static int find_device(const char* request, vkbn_device_info* out, vkbn_device_info* def) {
    uint32_t count = 0;
    if (vkbn_enumerate_devices(&count, NULL) != VKBN_SUCCESS || count == 0) return 0;
    vkbn_device_info* all = calloc(count, sizeof *all);
    if (!all || vkbn_enumerate_devices(&count, all) != VKBN_SUCCESS) {
        free(all);
        return 0;
    }
    int found = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (all[i].is_default) *def = all[i];
    }
    int cpu = request && strlen(request) == 3 && contains_nocase(request, "cpu");
    for (uint32_t i = 0; i < count && !found; ++i) {
        int match;
        if (!request)
            match = all[i].is_default != 0;
        else if (cpu)
            match = all[i].backend == VKBN_BACKEND_CPU;
        else if (is_decimal(request))
            match = all[i].index == strtoul(request, NULL, 10);
        else
            match = contains_nocase(all[i].name, request);
        if (match) {
            *out = all[i];
            found = 1;
        }
    }
    free(all);
    return found;
}

static int make_scratch(test_ctx* t) {
    const char* tmp = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/vkbn-cli-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    return mkdtemp(t->dir) ? 0 : -1;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s VKBN_BINARY usage|devices|run|backward|check\n", argv[0]);
        return 2;
    }
    test_ctx t = {.vkbn = argv[1]};
    const char* group = argv[2];
    int needs_device = strcmp(group, "usage") != 0;
    vkbn_device_info def;
    memset(&def, 0, sizeof def);
    const char* request = getenv("VKBN_CLI_TEST_DEVICE");
    t.device = request && *request ? request : NULL;
    /* Only the device groups touch Vulkan: "usage" stays clean under LeakSanitizer. */
    int have_device = needs_device && find_device(t.device, &t.on, &def);
    if (needs_device && !have_device) {
        printf("skipped: vkbn lists no device%s%s\n", t.device ? " matching " : "", t.device ? t.device : "");
        return SKIP_CODE;
    }
    if (have_device && t.device &&
        (t.on.backend == VKBN_BACKEND_CPU) != (strlen(t.device) == 3 && contains_nocase(t.device, "cpu"))) {
        /* A Vulkan request (lavapipe by name) must never land on the CPU path. */
        fprintf(stderr, "FAIL: VKBN_CLI_TEST_DEVICE=%s names \"%s\", not a %s device\n", t.device, t.on.name,
                t.on.backend == VKBN_BACKEND_CPU ? "Vulkan" : "CPU-path");
        return 1;
    }
    t.f16 = have_device && t.on.storage_16bit;
    if (make_scratch(&t) != 0) {
        fprintf(stderr, "cannot create a scratch directory: %s\n", strerror(errno));
        return 1;
    }
    int r;
    if (strcmp(group, "usage") == 0) {
        r = group_usage(&t);
    } else if (strcmp(group, "devices") == 0) {
        r = group_devices(&t, &def);
    } else if (strcmp(group, "run") == 0) {
        r = group_run(&t);
    } else if (strcmp(group, "backward") == 0) {
        r = group_backward(&t);
    } else if (strcmp(group, "check") == 0) {
        r = group_check(&t);
    } else {
        fprintf(stderr, "unknown group '%s'\n", group);
        r = 2;
    }
    remove_tree(t.dir);
    printf("%d passed, %d failed", t.passed, t.failed);
    if (t.skipped) printf(", %d skipped", t.skipped);
    printf("\n");
    return r != 0 || t.failed ? 1 : 0;
}
