/* Fuzz target: descriptor validation and plan creation through the public
 * API, with fuzzed descs (shapes, layouts, dtypes, flags, activations, eps,
 * momentum, buffers of any size, views at any offset, NULLs), on the CPU
 * path and on a device profile (the Vulkan planners, nothing created).
 *
 * Checked for every input:
 *   - a call that fails returns an error code with a message and no plan;
 *   - a failing call writes nothing: every buffer's bytes are as before;
 *   - a plan the CPU path accepts executes (its tensors fit the buffers,
 *     so the work is bounded by the buffers' sizes) and a profile plan
 *     reports its dispatches;
 *   - no crash, leak or undefined behaviour (ASan, UBSan). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vkbn/vkbn.h"

#define BUFFERS 6
#define MAX_BUFFER_BYTES 16384

static vkbn_context g_cpu, g_profile;

int setenv(const char* name, const char* value, int overwrite);

int LLVMFuzzerInitialize(int* argc, char*** argv) {
    (void)argc, (void)argv;
    /* No Vulkan driver: none is needed, and lavapipe's small leak per
     * instance (tests/lsan.supp) would be nameless once it is unloaded. */
    setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = "cpu";
    d.cpu_threads = 1;
    if (vkbn_context_create(&d, &g_cpu) != VKBN_SUCCESS) abort();
    memset(&d, 0, sizeof d);
    d.profile = "h100";
    if (vkbn_context_create(&d, &g_profile) != VKBN_SUCCESS) abort();
    return 0;
}

/* The input, read front to back; zeros past its end. */
typedef struct reader {
    const uint8_t* p;
    size_t left;
} reader;

static uint8_t u8(reader* r) {
    if (!r->left) return 0;
    --r->left;
    return *r->p++;
}
static uint32_t u16(reader* r) { return u8(r) | (uint32_t)u8(r) << 8; }
static uint32_t u32(reader* r) { return u16(r) | u16(r) << 16; }

/* Mostly small dimensions (where plans run), sometimes any 32-bit value. */
static uint32_t dim(reader* r) {
    uint8_t k = u8(r);
    if (k < 200) return k % 40;
    if (k < 250) return u16(r);
    return u32(r);
}

static float number(reader* r) {
    uint8_t k = u8(r);
    switch (k % 8) {
        case 0: return 1e-5f;
        case 1: return 0.1f;
        case 2: return 0.0f;
        case 3: return -1.0f;
        case 4: return NAN;
        case 5: return INFINITY;
        default: {
            uint32_t bits = u32(r);
            float f;
            memcpy(&f, &bits, sizeof f);
            return f;
        }
    }
}

typedef struct pool {
    vkbn_context ctx;
    vkbn_buffer buf[BUFFERS];
    vkbn_buffer view[BUFFERS];
    uint64_t size[BUFFERS];
} pool;

static void pool_create(pool* p, vkbn_context ctx, reader* r) {
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    for (int i = 0; i < BUFFERS; ++i) {
        uint64_t size = u16(r) % MAX_BUFFER_BYTES + 1;
        if (vkbn_buffer_create(ctx, size, &p->buf[i]) != VKBN_SUCCESS) abort();
        p->size[i] = size;
        uint64_t off = u16(r), len = u16(r);
        vkbn_buffer v = NULL;
        vkbn_result res = vkbn_buffer_create_view(p->buf[i], off, len, &v);
        if ((res == VKBN_SUCCESS) != (v != NULL)) abort();
        p->view[i] = v;
    }
}

static void pool_destroy(pool* p) {
    for (int i = 0; i < BUFFERS; ++i) {
        vkbn_buffer_destroy(p->view[i]);
        vkbn_buffer_destroy(p->buf[i]);
    }
}

/* A buffer argument: NULL, a buffer, or a view. */
static vkbn_buffer pick(pool* p, reader* r) {
    uint8_t k = u8(r) % (2 * BUFFERS + 2);
    if (k < BUFFERS) return p->buf[k];
    if (k < 2 * BUFFERS) return p->view[k - BUFFERS];
    return NULL;
}

/* Every buffer's bytes (CPU path: host memory, downloads are cheap). */
static uint8_t* snapshot(pool* p) {
    uint8_t* s = calloc(BUFFERS, MAX_BUFFER_BYTES);
    for (int i = 0; i < BUFFERS; ++i) {
        if (vkbn_buffer_download(p->buf[i], 0, s + i * MAX_BUFFER_BYTES, p->size[i]) != VKBN_SUCCESS) abort();
    }
    return s;
}

static void fill(pool* p, reader* r) {
    uint8_t* s = malloc(MAX_BUFFER_BYTES);
    for (int i = 0; i < BUFFERS; ++i) {
        uint8_t seed = u8(r);
        for (uint64_t b = 0; b < p->size[i]; ++b) s[b] = (uint8_t)(seed + b * 7);
        /* Mostly small finite floats: 0x3c.. / 0x3d.. high bytes. */
        if (seed & 1) {
            for (uint64_t b = 3; b < p->size[i]; b += 4) s[b] = 0x3c | (s[b] & 1);
        }
        if (vkbn_buffer_upload(p->buf[i], 0, s, p->size[i]) != VKBN_SUCCESS) abort();
    }
    free(s);
}

typedef struct op_descs {
    int op;
    vkbn_forward_training_desc training;
    vkbn_forward_inference_desc inference;
    vkbn_backward_desc backward;
    vkbn_copy_desc copy;
} op_descs;

/* The same fields for both contexts: buffers are picked by index. */
static void read_descs(op_descs* o, pool* p, reader* r) {
    memset(o, 0, sizeof *o);
    o->op = u8(r) % 4;
    vkbn_tensor_desc t;
    t.n = dim(r), t.c = dim(r), t.spatial_rank = u8(r) % 5;
    for (int i = 0; i < VKBN_MAX_SPATIAL_RANK; ++i) t.spatial[i] = dim(r);
    t.layout = (vkbn_layout)(u8(r) % 3);
    t.dtype = (vkbn_dtype)(u8(r) % 3);
    vkbn_activation act = (vkbn_activation)(u8(r) % 7);
    float alpha = number(r), beta = number(r);
    switch (o->op) {
        case 0: {
            vkbn_forward_training_desc* d = &o->training;
            d->tensor = t, d->activation = act, d->activation_alpha = alpha, d->activation_beta = beta;
            d->x = pick(p, r), d->y = pick(p, r), d->residual = pick(p, r), d->weight = pick(p, r);
            d->bias = pick(p, r), d->running_mean = pick(p, r), d->running_var = pick(p, r);
            d->save_mean = pick(p, r), d->save_invstd = pick(p, r), d->scratch = pick(p, r);
            d->eps = number(r), d->momentum = number(r);
            d->running_average = (vkbn_running_average)(u8(r) % 3);
            d->cumulative_count = u32(r);
            d->biased_running_var = u8(r) % 3;
            d->reduction_split = u8(r) % 6;
            break;
        }
        case 1: {
            vkbn_forward_inference_desc* d = &o->inference;
            d->tensor = t, d->activation = act, d->activation_alpha = alpha, d->activation_beta = beta;
            d->x = pick(p, r), d->y = pick(p, r), d->residual = pick(p, r), d->weight = pick(p, r);
            d->bias = pick(p, r), d->running_mean = pick(p, r), d->running_var = pick(p, r);
            d->eps = number(r);
            break;
        }
        case 2: {
            vkbn_backward_desc* d = &o->backward;
            d->tensor = t, d->activation = act, d->activation_alpha = alpha, d->activation_beta = beta;
            d->x = pick(p, r), d->dy = pick(p, r), d->y = pick(p, r), d->residual = pick(p, r);
            d->weight = pick(p, r), d->bias = pick(p, r), d->save_mean = pick(p, r), d->save_invstd = pick(p, r);
            d->frozen = u8(r) % 3, d->running_mean = pick(p, r), d->running_var = pick(p, r);
            d->eps = number(r);
            d->dx = pick(p, r), d->dweight = pick(p, r), d->dbias = pick(p, r), d->dresidual = pick(p, r);
            d->reduction_split = u8(r) % 6, d->scratch = pick(p, r);
            break;
        }
        default: o->copy.x = pick(p, r), o->copy.y = pick(p, r), o->copy.size = dim(r); break;
    }
}

static vkbn_result create(vkbn_context ctx, const op_descs* o, vkbn_plan* plan) {
    switch (o->op) {
        case 0: return vkbn_plan_create_forward_training(ctx, &o->training, plan);
        case 1: return vkbn_plan_create_forward_inference(ctx, &o->inference, plan);
        case 2: return vkbn_plan_create_backward(ctx, &o->backward, plan);
        default: return vkbn_plan_create_copy(ctx, &o->copy, plan);
    }
}

static void check_failure(vkbn_result res, vkbn_plan plan) {
    if (res >= 0 || plan != NULL || vkbn_last_error()[0] == '\0') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    reader r = {data, size};
    /* The CPU path: create, and execute what is accepted. */
    pool cpu;
    pool_create(&cpu, g_cpu, &r);
    fill(&cpu, &r);
    reader descs_at = r; /* the profile context reads the same descs */
    op_descs o;
    read_descs(&o, &cpu, &r);
    uint8_t* before = snapshot(&cpu);
    vkbn_plan plan = NULL;
    vkbn_result res = create(g_cpu, &o, &plan);
    if (res == VKBN_SUCCESS) {
        if (!plan) abort();
        if (vkbn_plan_execute(plan) != VKBN_SUCCESS) abort(); /* host memory suffices for these sizes */
        vkbn_plan_destroy(plan);
    } else {
        check_failure(res, plan);
        uint8_t* after = snapshot(&cpu);
        if (memcmp(before, after, BUFFERS * MAX_BUFFER_BYTES) != 0) abort();
        free(after);
    }
    free(before);
    pool_destroy(&cpu);

    /* A device profile: the Vulkan planners on the same descs. */
    pool prof;
    reader again = {data, size};
    pool_create(&prof, g_profile, &again);
    r = descs_at;
    read_descs(&o, &prof, &r);
    plan = NULL;
    res = create(g_profile, &o, &plan);
    if (res == VKBN_SUCCESS) {
        vkbn_plan_report report;
        if (vkbn_plan_get_report(plan, &report) != VKBN_SUCCESS) abort();
        vkbn_plan_destroy(plan);
    } else {
        check_failure(res, plan);
    }
    pool_destroy(&prof);
    return 0;
}
