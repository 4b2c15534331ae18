/* NumPy .npy files: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Layout: magic "\x93NUMPY", major and minor version bytes, the header length
 * (little-endian uint16 in 1.0, uint32 in 2.0 and 3.0), then the header: a
 * Python dict literal with the keys 'descr', 'fortran_order' and 'shape',
 * padded with spaces and ended by '\n'. The raw data follows. */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_PREAMBLE_V1_LEN 10 /* magic, 2 version bytes, uint16 header length */
#define NPY_ALIGN 64
/* NumPy leaves room for the first axis to grow in place (format.py's
 * GROWTH_AXIS_MAX_DIGITS); we do the same so our files match np.save's. */
#define NPY_GROWTH_AXIS_MAX_DIGITS 21
/* A sanity bound: real headers are well under 1 KiB (np.load's default
 * max_header_size is 10000). */
#define NPY_MAX_HEADER_LEN (1u << 20)

/* ------------------------------------------------------------------------ */
/* Errors and small helpers                                                  */
/* ------------------------------------------------------------------------ */

/* Writes "path: message" into err (when there is room) and returns 1. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int
fail(char* err, size_t err_size, const char* path, const char* fmt, ...) {
    if (!err || err_size == 0) return 1;
    int n = snprintf(err, err_size, "%s: ", path ? path : "(null)");
    if (n >= 0 && (size_t)n < err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 1;
}

/* The dtypes this reader takes, indexed by npy_dtype. */
static const struct {
    const char* descr;
    size_t size;
} known_dtypes[] = {{"<f4", 4}, {"<f2", 2}, {"<u2", 2}, {"<i2", 2}, {"|u1", 1}};

#define KNOWN_DTYPE_COUNT (sizeof known_dtypes / sizeof known_dtypes[0])
#define EXPECTED_DTYPES "expected dtype '<f4' or '<f2' (or bfloat16 bit patterns as '<u2' or '<i2')"

static int dtype_known(npy_dtype dtype) { return (unsigned)dtype < KNOWN_DTYPE_COUNT; }

size_t npy_dtype_size(npy_dtype dtype) { return dtype_known(dtype) ? known_dtypes[dtype].size : 0; }

const char* npy_dtype_descr(npy_dtype dtype) { return dtype_known(dtype) ? known_dtypes[dtype].descr : "?"; }

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Reverses the bytes of each element: .npy data is little-endian. */
static void swap_elements(void* data, uint64_t count, size_t elem_size) {
    unsigned char* p = data;
    for (uint64_t i = 0; i < count; i++, p += elem_size)
        for (size_t a = 0, b = elem_size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* The product of the dims into *count; 0 on success, 1 on uint64 overflow. */
static int shape_product(const uint64_t* shape, uint32_t ndim, uint64_t* count) {
    uint64_t c = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        if (shape[i] != 0 && c > UINT64_MAX / shape[i]) return 1;
        c *= shape[i];
    }
    *count = c;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Header parsing: a small recursive-descent parser for the dict literal     */
/* ------------------------------------------------------------------------ */

typedef struct npy_header {
    char descr[16];
    int fortran_order;
    uint32_t ndim;
    uint64_t shape[NPY_MAX_DIMS];
    int have_descr, have_fortran_order, have_shape;
} npy_header;

typedef struct header_parser {
    const char* p;
    const char* end;
    char msg[128]; /* why parsing failed */
} header_parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int
parse_fail(header_parser* hp, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(hp->msg, sizeof hp->msg, fmt, ap);
    va_end(ap);
    return 1;
}

static void skip_space(header_parser* hp) {
    while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r')) hp->p++;
}

/* Skips whitespace, then consumes `c` if it is next. */
static int accept(header_parser* hp, char c) {
    skip_space(hp);
    if (hp->p < hp->end && *hp->p == c) {
        hp->p++;
        return 1;
    }
    return 0;
}

static int expect(header_parser* hp, char c, const char* where) {
    if (accept(hp, c)) return 0;
    return parse_fail(hp, "bad header: expected '%c' %s", c, where);
}

/* A quoted string without escapes ('...' or "..."), as in descr and keys. */
static int parse_string(header_parser* hp, char* buf, size_t buf_size) {
    skip_space(hp);
    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"'))
        return parse_fail(hp, "bad header: expected a quoted string");
    char quote = *hp->p++;
    size_t len = 0;
    while (hp->p < hp->end && *hp->p != quote) {
        if (len + 1 >= buf_size) return parse_fail(hp, "bad header: string too long");
        buf[len++] = *hp->p++;
    }
    if (hp->p >= hp->end) return parse_fail(hp, "bad header: unterminated string");
    hp->p++;
    buf[len] = '\0';
    return 0;
}

static int parse_bool(header_parser* hp, int* value) {
    skip_space(hp);
    size_t left = (size_t)(hp->end - hp->p);
    if (left >= 4 && memcmp(hp->p, "True", 4) == 0) {
        hp->p += 4;
        *value = 1;
        return 0;
    }
    if (left >= 5 && memcmp(hp->p, "False", 5) == 0) {
        hp->p += 5;
        *value = 0;
        return 0;
    }
    return parse_fail(hp, "bad header: fortran_order must be True or False");
}

/* A non-negative decimal integer; Python 2 NumPy wrote longs as "3L". */
static int parse_dim(header_parser* hp, uint64_t* value) {
    skip_space(hp);
    if (hp->p >= hp->end || *hp->p < '0' || *hp->p > '9')
        return parse_fail(hp, "bad header: shape must hold non-negative integers");
    uint64_t v = 0;
    while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') {
        uint64_t digit = (uint64_t)(*hp->p++ - '0');
        if (v > (UINT64_MAX - digit) / 10) return parse_fail(hp, "bad header: shape dimension too large");
        v = v * 10 + digit;
    }
    if (hp->p < hp->end && *hp->p == 'L') hp->p++;
    *value = v;
    return 0;
}

/* "(" [dim ("," dim)* [","]] ")": "()", "(5,)", "(2, 3)", "(2, 3,)". */
static int parse_shape(header_parser* hp, npy_header* h) {
    if (expect(hp, '(', "to open shape")) return 1;
    h->ndim = 0;
    if (accept(hp, ')')) return 0;
    for (;;) {
        if (h->ndim == NPY_MAX_DIMS) return parse_fail(hp, "shape has more than %d dimensions", NPY_MAX_DIMS);
        if (parse_dim(hp, &h->shape[h->ndim])) return 1;
        h->ndim++;
        if (accept(hp, ')')) return 0;
        if (expect(hp, ',', "between shape dimensions")) return 1;
        if (accept(hp, ')')) return 0;
    }
}

static int parse_entry(header_parser* hp, npy_header* h) {
    char key[32];
    if (parse_string(hp, key, sizeof key)) return 1;
    if (expect(hp, ':', "after a key")) return 1;
    if (strcmp(key, "descr") == 0 && !h->have_descr) {
        h->have_descr = 1;
        skip_space(hp);
        if (hp->p < hp->end && *hp->p == '[') /* a structured dtype: a list of fields */
            return parse_fail(hp, EXPECTED_DTYPES ", got a structured dtype");
        return parse_string(hp, h->descr, sizeof h->descr);
    }
    if (strcmp(key, "fortran_order") == 0 && !h->have_fortran_order) {
        h->have_fortran_order = 1;
        return parse_bool(hp, &h->fortran_order);
    }
    if (strcmp(key, "shape") == 0 && !h->have_shape) {
        h->have_shape = 1;
        return parse_shape(hp, h);
    }
    return parse_fail(hp, "bad header: unexpected or repeated key '%s'", key);
}

/* The whole dict: entries in any order, an optional trailing comma, then
 * only the whitespace padding. */
static int parse_header(const char* text, size_t len, npy_header* h, char* msg, size_t msg_size) {
    header_parser hp = {text, text + len, {0}};
    memset(h, 0, sizeof *h);
    int rc = expect(&hp, '{', "to open the header dict");
    while (!rc && !accept(&hp, '}')) {
        rc = parse_entry(&hp, h);
        if (rc || accept(&hp, ',')) continue;
        rc = expect(&hp, '}', "or ',' after a value");
        break;
    }
    if (!rc) {
        skip_space(&hp);
        if (hp.p != hp.end) rc = parse_fail(&hp, "bad header: unexpected text after the dict");
    }
    if (!rc && !(h->have_descr && h->have_fortran_order && h->have_shape))
        rc = parse_fail(&hp, "bad header: needs the keys 'descr', 'fortran_order' and 'shape'");
    if (rc) snprintf(msg, msg_size, "%s", hp.msg);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

static uint32_t read_le(const unsigned char* b, int bytes) {
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

/* Reads magic, version and header; *header is NUL-terminated, owned by the caller. */
static int read_header_text(FILE* f, const char* path, char** header, size_t* header_len, char* err, size_t err_size) {
    unsigned char pre[12];
    errno = 0;
    size_t got = fread(pre, 1, 8, f);
    /* A read error is not bad magic: a directory opens like a file on POSIX
     * and fails here with EISDIR. */
    if (got != 8 && ferror(f)) return fail(err, err_size, path, "cannot read: %s", strerror(errno));
    if (got != 8 || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return fail(err, err_size, path, "not a .npy file (bad magic)");
    unsigned major = pre[6], minor = pre[7];
    if ((major < 1 || major > 3) || minor != 0)
        return fail(err, err_size, path, "unsupported .npy format version %u.%u (expected 1.0, 2.0 or 3.0)", major,
                    minor);
    int len_bytes = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, (size_t)len_bytes, f) != (size_t)len_bytes)
        return fail(err, err_size, path, "truncated header");
    uint32_t len = read_le(pre + 8, len_bytes);
    if (len > NPY_MAX_HEADER_LEN)
        return fail(err, err_size, path, "header length %u is implausibly large", (unsigned)len);
    char* text = malloc((size_t)len + 1);
    if (!text) return fail(err, err_size, path, "out of memory");
    if (fread(text, 1, len, f) != len) {
        free(text);
        return fail(err, err_size, path, "truncated header");
    }
    text[len] = '\0';
    *header = text;
    *header_len = len;
    return 0;
}

/* Maps the parsed header to the array's dtype, shape and count. */
static int header_to_array(const npy_header* h, const char* path, npy_array* out, char* err, size_t err_size) {
    size_t k = 0;
    while (k < KNOWN_DTYPE_COUNT && strcmp(h->descr, known_dtypes[k].descr) != 0) ++k;
    if (k == KNOWN_DTYPE_COUNT) return fail(err, err_size, path, EXPECTED_DTYPES ", got '%s'", h->descr);
    out->dtype = (npy_dtype)k;
    if (h->fortran_order) return fail(err, err_size, path, "fortran_order True is not supported (expected C order)");
    out->ndim = h->ndim;
    memcpy(out->shape, h->shape, sizeof out->shape);
    if (shape_product(out->shape, out->ndim, &out->count) || out->count > SIZE_MAX / npy_dtype_size(out->dtype))
        return fail(err, err_size, path, "shape is too large (element count overflows)");
    return 0;
}

/* Bytes left in f from the current position, or -1 if the stream cannot tell. */
static long long bytes_remaining(FILE* f) {
    long here = ftell(f);
    if (here < 0 || fseek(f, 0, SEEK_END) != 0) return -1;
    long end = ftell(f);
    if (fseek(f, here, SEEK_SET) != 0 || end < here) return -1;
    return (long long)(end - here);
}

static int read_data(FILE* f, const char* path, npy_array* out, char* err, size_t err_size) {
    size_t elem = npy_dtype_size(out->dtype);
    size_t bytes = (size_t)out->count * elem;
    /* Check the size before allocating, so a bogus shape cannot ask for terabytes. */
    long long left = bytes_remaining(f);
    if (left >= 0 && (unsigned long long)left < bytes)
        return fail(err, err_size, path, "truncated data: shape needs %llu bytes, file has %lld",
                    (unsigned long long)bytes, left);
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) return fail(err, err_size, path, "out of memory for %llu bytes", (unsigned long long)bytes);
    size_t got = fread(out->data, 1, bytes, f);
    if (got != bytes)
        return fail(err, err_size, path, "truncated data: shape needs %llu bytes, file has %llu",
                    (unsigned long long)bytes, (unsigned long long)got);
    if (!host_is_little_endian()) swap_elements(out->data, out->count, elem);
    return 0;
}

int npy_read(const char* path, npy_array* out, char* err, size_t err_size) {
    if (err && err_size) err[0] = '\0';
    if (!out) return fail(err, err_size, path, "no output array given");
    memset(out, 0, sizeof *out);
    if (!path) return fail(err, err_size, path, "no path given");
    FILE* f = fopen(path, "rb");
    if (!f) return fail(err, err_size, path, "cannot open: %s", strerror(errno));
    int rc = npy_read_stream(f, path, out, err, err_size);
    fclose(f);
    return rc;
}

int npy_read_stream(FILE* f, const char* path, npy_array* out, char* err, size_t err_size) {
    if (err && err_size) err[0] = '\0';
    if (!out) return fail(err, err_size, path, "no output array given");
    memset(out, 0, sizeof *out);
    if (!f) return fail(err, err_size, path, "no stream given");
    char* text = NULL;
    size_t text_len = 0;
    npy_header h;
    char msg[128];
    int rc = read_header_text(f, path, &text, &text_len, err, err_size);
    if (!rc && parse_header(text, text_len, &h, msg, sizeof msg)) rc = fail(err, err_size, path, "%s", msg);
    if (!rc) rc = header_to_array(&h, path, out, err, err_size);
    if (!rc) rc = read_data(f, path, out, err, err_size);
    free(text);
    if (rc) npy_free(out);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* The header exactly as NumPy's np.save writes it (format 1.0): the dict,
 * spare room for the first axis, space padding so that the data starts at a
 * multiple of 64 bytes, and '\n'. Returns its length, or 0 if it does not fit. */
static size_t format_header(const npy_array* a, char* buf, size_t buf_size) {
    size_t n = (size_t)snprintf(buf, buf_size, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                npy_dtype_descr(a->dtype));
    for (uint32_t i = 0; i < a->ndim && n < buf_size; i++)
        n += (size_t)snprintf(buf + n, buf_size - n, i ? ", %llu" : "%llu", (unsigned long long)a->shape[i]);
    if (n < buf_size) n += (size_t)snprintf(buf + n, buf_size - n, "%s), }", a->ndim == 1 ? "," : "");
    if (a->ndim > 0 && n < buf_size) {
        int digits = snprintf(NULL, 0, "%llu", (unsigned long long)a->shape[0]);
        for (int i = digits; i < NPY_GROWTH_AXIS_MAX_DIGITS && n < buf_size; i++) buf[n++] = ' ';
    }
    /* NumPy pads with 1..64 spaces (64 when already aligned), then '\n'. */
    size_t pad = NPY_ALIGN - (NPY_PREAMBLE_V1_LEN + n + 1) % NPY_ALIGN;
    if (n + pad + 1 >= buf_size) return 0;
    memset(buf + n, ' ', pad);
    n += pad;
    buf[n++] = '\n';
    return n;
}

static int check_array(const char* path, const npy_array* a, char* err, size_t err_size) {
    uint64_t count;
    if (!a) return fail(err, err_size, path, "no array given");
    if (!dtype_known(a->dtype)) return fail(err, err_size, path, "unknown dtype %d", (int)a->dtype);
    if (a->ndim > NPY_MAX_DIMS) return fail(err, err_size, path, "ndim %u exceeds %d", (unsigned)a->ndim, NPY_MAX_DIMS);
    if (shape_product(a->shape, a->ndim, &count) || count > SIZE_MAX / npy_dtype_size(a->dtype))
        return fail(err, err_size, path, "shape is too large (element count overflows)");
    if (count != a->count)
        return fail(err, err_size, path, "count %llu does not match the shape's product %llu",
                    (unsigned long long)a->count, (unsigned long long)count);
    if (count > 0 && !a->data) return fail(err, err_size, path, "no data given");
    return 0;
}

/* The data, little-endian whatever the host. */
static int write_data(FILE* f, const npy_array* a) {
    size_t elem = npy_dtype_size(a->dtype);
    size_t bytes = (size_t)a->count * elem;
    if (bytes == 0) return 0;
    if (host_is_little_endian()) return fwrite(a->data, 1, bytes, f) != bytes;
    unsigned char* tmp = malloc(bytes);
    if (!tmp) return 1;
    memcpy(tmp, a->data, bytes);
    swap_elements(tmp, a->count, elem);
    int rc = fwrite(tmp, 1, bytes, f) != bytes;
    free(tmp);
    return rc;
}

int npy_write(const char* path, const npy_array* a, char* err, size_t err_size) {
    if (err && err_size) err[0] = '\0';
    if (!path) return fail(err, err_size, path, "no path given");
    if (check_array(path, a, err, err_size)) return 1;

    char header[512];
    size_t header_len = format_header(a, header, sizeof header);
    if (header_len == 0) return fail(err, err_size, path, "header too long");
    unsigned char preamble[NPY_PREAMBLE_V1_LEN];
    memcpy(preamble, NPY_MAGIC, NPY_MAGIC_LEN);
    preamble[6] = 1;
    preamble[7] = 0;
    preamble[8] = (unsigned char)(header_len & 0xff);
    preamble[9] = (unsigned char)(header_len >> 8);

    FILE* f = fopen(path, "wb");
    if (!f) return fail(err, err_size, path, "cannot create: %s", strerror(errno));
    int bad = fwrite(preamble, 1, sizeof preamble, f) != sizeof preamble ||
              fwrite(header, 1, header_len, f) != header_len || write_data(f, a);
    bad = fclose(f) != 0 || bad;
    if (bad) {
        remove(path); /* do not leave a half-written file behind */
        return fail(err, err_size, path, "write failed");
    }
    return 0;
}

void npy_free(npy_array* a) {
    if (!a) return;
    free(a->data);
    a->data = NULL;
}
