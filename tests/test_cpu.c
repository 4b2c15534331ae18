/* The CPU path's own contract: how it is listed and selected, its place in
 * the default-device ranking (below GPUs, above lavapipe), its options and
 * their errors, bit-for-bit repeatability of one plan for a fixed thread
 * count, paths that only large tensors take (forced through the test hooks),
 * and the portable f16 conversion against the compiler's.
 * (Numerics against the fp64 reference: test_forward with
 * VKBN_TEST_DEVICE=cpu, once per ISA level and thread count.) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../src/cpu/cpu_f16.h"
#include "bwd_cases.h"
#include "cases.h"
#include "datagen.h"
#include "platform.h"
#include "reference.h"
#include "test_util.h"

static vkbn_context cpu_context(uint32_t threads, vkbn_cpu_isa isa, vkbn_result* r) {
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = "cpu";
    d.cpu_threads = threads;
    d.cpu_isa = isa;
    vkbn_context ctx = NULL;
    *r = vkbn_context_create(&d, &ctx);
    return ctx;
}

static void listing(void) {
    uint32_t count = 0;
    CHECK(vkbn_enumerate_devices(&count, NULL) == VKBN_SUCCESS && count >= 1, "enumerate: %u", count);
    vkbn_device_info* infos = calloc(count, sizeof *infos);
    uint32_t got = count;
    CHECK(vkbn_enumerate_devices(&got, infos) == VKBN_SUCCESS && got == count, "enumerate all");
    const vkbn_device_info* cpu = &infos[count - 1];
    CHECK(cpu->backend == VKBN_BACKEND_CPU && cpu->type == VKBN_DEVICE_TYPE_NATIVE_CPU, "the CPU path is last");
    CHECK(cpu->index == count - 1, "its index %u", cpu->index);
    CHECK(strncmp(cpu->name, "CPU: ", 5) == 0 && strstr(cpu->name, "thread"), "name \"%s\"", cpu->name);
    CHECK(cpu->cpu_threads >= 1 && cpu->cpu_simd[0], "threads %u, simd \"%s\"", cpu->cpu_threads, cpu->cpu_simd);
    CHECK(cpu->storage_16bit && cpu->timestamps, "f16 and timing");
    int defaults = 0, gpus = 0;
    for (uint32_t i = 0; i < count; ++i) {
        defaults += infos[i].is_default ? 1 : 0;
        if (i + 1 < count) CHECK(infos[i].backend == VKBN_BACKEND_VULKAN, "device %u is Vulkan", i);
        gpus += infos[i].type == VKBN_DEVICE_TYPE_DISCRETE_GPU || infos[i].type == VKBN_DEVICE_TYPE_INTEGRATED_GPU ||
                infos[i].type == VKBN_DEVICE_TYPE_VIRTUAL_GPU;
    }
    CHECK(defaults == 1, "one default, got %d", defaults);
    CHECK(cpu->is_default == (gpus == 0), "the CPU path is the default exactly when no Vulkan GPU exists");
    if (count == 1) {
        /* No Vulkan device (aarch64 under qemu, say): the default context is the CPU path. */
        vkbn_context def = NULL;
        vkbn_device_info info;
        CHECK(vkbn_context_create(NULL, &def) == VKBN_SUCCESS &&
                  vkbn_context_get_device_info(def, &info) == VKBN_SUCCESS && info.backend == VKBN_BACKEND_CPU &&
                  info.is_default,
              "default context without Vulkan: %s", vkbn_last_error());
        vkbn_context_destroy(def);
    }

    /* A short array gets the first entries only. */
    uint32_t one = 1;
    vkbn_device_info first;
    CHECK(vkbn_enumerate_devices(&one, &first) == VKBN_SUCCESS && one == 1 && first.index == 0, "one entry");

    /* Selecting it: "cpu" in any case, its index, a part of its name. */
    char index[16];
    snprintf(index, sizeof index, "%u", count - 1);
    const char* names[] = {"cpu", "CPU", "Cpu", index, "CPU: "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        vkbn_context_desc d;
        memset(&d, 0, sizeof d);
        d.device = names[i];
        vkbn_context ctx = NULL;
        vkbn_result r = vkbn_context_create(&d, &ctx);
        vkbn_device_info info;
        memset(&info, 0, sizeof info);
        if (ctx) vkbn_context_get_device_info(ctx, &info);
        CHECK(r == VKBN_SUCCESS && info.backend == VKBN_BACKEND_CPU, "device \"%s\": %s", names[i], vkbn_last_error());
        CHECK(info.index == count - 1 && info.is_default == cpu->is_default, "device \"%s\": index %u", names[i],
              info.index);
        if (ctx) CHECK(!vkbn_context_uses_subgroups(ctx), "no subgroups on the CPU path");
        vkbn_context_destroy(ctx);
    }
    snprintf(index, sizeof index, "%u", count);
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.device = index;
    vkbn_context ctx = (vkbn_context)1;
    CHECK(vkbn_context_create(&d, &ctx) == VKBN_ERROR_DEVICE_NOT_FOUND && !ctx, "index past the CPU path");
    CHECK(strstr(vkbn_last_error(), "desc->device"), "message: %s", vkbn_last_error());
    free(infos);
}

/* The default device's rank, as vkbn.h states it (vkbn_context_desc.device):
 * a GPU, then the CPU path, then a Vulkan CPU driver, then another type. */
static int contract_rank(vkbn_device_type t) {
    switch (t) {
        case VKBN_DEVICE_TYPE_DISCRETE_GPU: return 5;
        case VKBN_DEVICE_TYPE_INTEGRATED_GPU: return 4;
        case VKBN_DEVICE_TYPE_VIRTUAL_GPU: return 3;
        case VKBN_DEVICE_TYPE_NATIVE_CPU: return 2;
        case VKBN_DEVICE_TYPE_VULKAN_CPU: return 1;
        default: return 0;
    }
}

/* The listed default has the highest rank of the list, and the default
 * context (opened without listing) is that device, at that index. Returns
 * the default's backend. */
static vkbn_backend check_default(const char* what) {
    uint32_t count = 0;
    vkbn_enumerate_devices(&count, NULL);
    vkbn_device_info* infos = calloc(count ? count : 1, sizeof *infos);
    CHECK(count > 0 && vkbn_enumerate_devices(&count, infos) == VKBN_SUCCESS, "%s: enumerate", what);
    int best = -1, defaults = 0;
    uint32_t def = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (contract_rank(infos[i].type) > best) best = contract_rank(infos[i].type);
        if (infos[i].is_default) def = i, ++defaults;
    }
    CHECK(defaults == 1, "%s: %d defaults", what, defaults);
    CHECK(contract_rank(infos[def].type) == best, "%s: the default \"%s\" (type %d) is not of the highest rank", what,
          infos[def].name, (int)infos[def].type);
    vkbn_context ctx = NULL;
    vkbn_device_info got;
    memset(&got, 0, sizeof got);
    vkbn_result r = vkbn_context_create(NULL, &ctx);
    if (ctx) vkbn_context_get_device_info(ctx, &got);
    CHECK(r == VKBN_SUCCESS && got.index == def && got.is_default && got.backend == infos[def].backend &&
              got.type == infos[def].type && strcmp(got.name, infos[def].name) == 0,
          "%s: the default context is \"%s\" (index %u, default %u), the list's default \"%s\" (index %u): %s", what,
          got.name, got.index, got.is_default, infos[def].name, def, r == VKBN_SUCCESS ? "" : vkbn_last_error());
    vkbn_context_destroy(ctx);
    vkbn_backend backend = infos[def].backend;
    free(infos);
    return backend;
}

/* The default device is the fastest kind (vkbn.h): GPUs above vkbn's CPU
 * path, which is above a Vulkan driver running on the CPU (lavapipe: 20-50x
 * slower than the CPU path on the same cores) and a device of another type.
 * Checked on this machine's devices, then with every Vulkan device reporting
 * each type in turn (the test hook), which shows a GPU's place on a machine
 * whose only Vulkan device is lavapipe. */
static void ranking(void) {
    uint32_t count = 0;
    vkbn_enumerate_devices(&count, NULL);
    check_default("this machine");
    if (count < 2) {
        printf("ranking: no Vulkan device; the faked types are skipped\n");
        return;
    }
    static const struct {
        vkbn_device_type type;
        vkbn_backend want;
    } fakes[] = {{VKBN_DEVICE_TYPE_DISCRETE_GPU, VKBN_BACKEND_VULKAN},
                 {VKBN_DEVICE_TYPE_INTEGRATED_GPU, VKBN_BACKEND_VULKAN},
                 {VKBN_DEVICE_TYPE_VIRTUAL_GPU, VKBN_BACKEND_VULKAN},
                 {VKBN_DEVICE_TYPE_VULKAN_CPU, VKBN_BACKEND_CPU},
                 {VKBN_DEVICE_TYPE_OTHER, VKBN_BACKEND_CPU}};
    for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; ++i) {
        vkbn_test_hooks h = vkbn_test_hooks_none();
        h.vulkan_device_type = (uint64_t)fakes[i].type;
        vkbn_test_set_hooks(&h);
        char what[64];
        snprintf(what, sizeof what, "Vulkan devices as type %d", (int)fakes[i].type);
        vkbn_backend got = check_default(what);
        CHECK(got == fakes[i].want, "%s: the default is on the %s", what,
              got == VKBN_BACKEND_CPU ? "CPU path" : "Vulkan backend");
    }
    vkbn_test_set_hooks(NULL);
}

static void options(void) {
    vkbn_result r;
    vkbn_context ctx = cpu_context(3, VKBN_CPU_ISA_AUTO, &r);
    vkbn_device_info info;
    CHECK(r == VKBN_SUCCESS && vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS && info.cpu_threads == 3,
          "3 threads: %s", vkbn_last_error());
    vkbn_context_destroy(ctx);

    ctx = cpu_context(5000, VKBN_CPU_ISA_AUTO, &r);
    CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && !ctx && strstr(vkbn_last_error(), "desc->cpu_threads"),
          "5000 threads: %s", vkbn_last_error());
    ctx = cpu_context(0, (vkbn_cpu_isa)99, &r);
    CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && !ctx && strstr(vkbn_last_error(), "desc->cpu_isa"), "unknown ISA: %s",
          vkbn_last_error());

    /* Every level: either it runs and reports itself, or it is missing and
     * fails naming the field. The level of the other architecture is always
     * missing. */
    static const char* const names[] = {"", "scalar", "sse2", "avx2", "avx512", "neon"};
    int supported = 0;
    for (int isa = VKBN_CPU_ISA_SCALAR; isa <= VKBN_CPU_ISA_NEON; ++isa) {
        ctx = cpu_context(1, (vkbn_cpu_isa)isa, &r);
        if (r == VKBN_SUCCESS) {
            ++supported;
            vkbn_context_get_device_info(ctx, &info);
            CHECK(strcmp(info.cpu_simd, names[isa]) == 0, "level %s reports %s", names[isa], info.cpu_simd);
        } else {
            CHECK(r == VKBN_ERROR_UNSUPPORTED && strstr(vkbn_last_error(), "desc->cpu_isa"), "level %s: %s", names[isa],
                  vkbn_last_error());
        }
        vkbn_context_destroy(ctx);
    }
    CHECK(supported >= 1 && supported <= 4, "%d levels supported", supported);
#if defined(VKBN_ARCH_X86_64)
    vkbn_cpu_isa foreign = VKBN_CPU_ISA_NEON;
    const char* foreign_name = "neon";
#else
    vkbn_cpu_isa foreign = VKBN_CPU_ISA_AVX512;
    const char* foreign_name = "avx512";
#endif
    ctx = cpu_context(1, foreign, &r);
    CHECK(r == VKBN_ERROR_UNSUPPORTED && !ctx, "the other architecture's level: %s", vkbn_result_string(r));

    /* The debugging override: used when desc->cpu_isa is AUTO. */
    const char* saved = getenv("VKBN_CPU_ISA");
    char* keep = saved ? malloc(strlen(saved) + 1) : NULL;
    if (keep) memcpy(keep, saved, strlen(saved) + 1);
    vkbn__setenv("VKBN_CPU_ISA", "bogus");
    ctx = cpu_context(1, VKBN_CPU_ISA_AUTO, &r);
    CHECK(r == VKBN_ERROR_INVALID_ARGUMENT && !ctx && strstr(vkbn_last_error(), "VKBN_CPU_ISA"), "bogus: %s",
          vkbn_last_error());
    vkbn__setenv("VKBN_CPU_ISA", foreign_name);
    ctx = cpu_context(1, VKBN_CPU_ISA_AUTO, &r);
    CHECK(r == VKBN_ERROR_UNSUPPORTED && !ctx && strstr(vkbn_last_error(), "VKBN_CPU_ISA"), "%s: %s", foreign_name,
          vkbn_last_error());
    vkbn__setenv("VKBN_CPU_ISA", "SCALAR");
    ctx = cpu_context(1, VKBN_CPU_ISA_AUTO, &r);
    CHECK(r == VKBN_SUCCESS && vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS &&
              strcmp(info.cpu_simd, "scalar") == 0,
          "SCALAR: %s", vkbn_last_error());
    vkbn_context_destroy(ctx);
    if (keep)
        vkbn__setenv("VKBN_CPU_ISA", keep);
    else
        vkbn__setenv("VKBN_CPU_ISA", NULL);
    free(keep);
}

static void buffers_and_timing(void) {
    vkbn_result r;
    vkbn_context ctx = cpu_context(2, VKBN_CPU_ISA_AUTO, &r);
    vkbn_buffer w = (vkbn_buffer)1;
    CHECK(vkbn_buffer_wrap(ctx, (VkBuffer)(uintptr_t)0x1000, 0, 64, &w) == VKBN_ERROR_UNSUPPORTED && !w,
          "wrapping a VkBuffer");
    CHECK(strncmp(vkbn_last_error(), "ctx", 3) == 0, "wrap message: %s", vkbn_last_error());

    /* Copy: a view at an odd 4-byte offset, streaming or not. */
    enum { FLOATS = 100003 };
    vkbn_buffer a = NULL, b = NULL, view = NULL;
    CHECK(vkbn_buffer_create(ctx, FLOATS * 4, &a) == VKBN_SUCCESS, "buffer");
    CHECK(vkbn_buffer_create(ctx, FLOATS * 4 + 8, &b) == VKBN_SUCCESS, "buffer");
    CHECK(vkbn_buffer_create_view(b, 4, FLOATS * 4, &view) == VKBN_SUCCESS, "view");
    uint32_t* in = malloc(FLOATS * 4);
    uint32_t* out = malloc(FLOATS * 4);
    for (uint32_t i = 0; i < FLOATS; ++i) in[i] = i * 2654435761u; /* every bit pattern kind, NaNs included */
    vkbn_buffer_upload(a, 0, in, FLOATS * 4);
    vkbn_copy_desc cd = {a, view, FLOATS * 4};
    vkbn_plan plan = NULL;
    CHECK(vkbn_plan_create_copy(ctx, &cd, &plan) == VKBN_SUCCESS, "copy plan: %s", vkbn_last_error());
    double t = 0;
    CHECK(vkbn_plan_execute_timed(plan, 3, &t) == VKBN_SUCCESS && t > 0, "timed copy");
    vkbn_buffer_download(view, 0, out, FLOATS * 4);
    CHECK(memcmp(in, out, FLOATS * 4) == 0, "copy is bit exact");
    vkbn_plan_destroy(plan);
    free(in);
    free(out);
    vkbn_buffer_destroy(view);
    vkbn_buffer_destroy(a);
    vkbn_buffer_destroy(b);
    vkbn_context_destroy(ctx);
}

/* One plan executed repeatedly on the same inputs: every run's outputs are
 * bitwise equal (running statistics are left out: they are updated). */
static void repeat_plan(vkbn_context ctx, const fwd_case* c) {
    char name[256];
    case_describe(c, name, sizeof name);
    uint64_t count = (uint64_t)c->tensor.n * c->tensor.c;
    for (uint32_t i = 0; i < c->tensor.spatial_rank; ++i) count *= c->tensor.spatial[i];
    uint32_t es = vkbn_dtype_size(c->tensor.dtype);
    uint64_t bytes = count * es, vec = (uint64_t)c->tensor.c * 4;
    vkbn_buffer x = NULL, y = NULL, z = NULL, sm = NULL, si = NULL;
    vkbn_buffer_create(ctx, bytes, &x);
    vkbn_buffer_create(ctx, bytes, &y);
    vkbn_buffer_create(ctx, bytes, &z);
    vkbn_buffer_create(ctx, vec, &sm);
    vkbn_buffer_create(ctx, vec, &si);
    uint8_t* host = malloc(bytes);
    rng g;
    rng_seed(&g, c->seed);
    for (uint64_t i = 0; i < count; ++i) {
        float v = (float)(3.0 + 2.0 * rng_normal(&g));
        if (es == 2)
            ((uint16_t*)host)[i] = vkbn__f32_to_f16(v);
        else
            ((float*)host)[i] = v;
    }
    vkbn_buffer_upload(x, 0, host, bytes);
    vkbn_buffer_upload(z, 0, host, bytes);
    vkbn_forward_training_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = c->tensor;
    d.x = x;
    d.y = y;
    d.residual = c->residual ? z : NULL;
    d.save_mean = sm;
    d.save_invstd = si;
    d.eps = VKBN_DEFAULT_EPS;
    d.activation = c->activation;
    d.reduction_split = c->reduction_split;
    vkbn_plan plan = NULL;
    CHECK(vkbn_plan_create_forward_training(ctx, &d, &plan) == VKBN_SUCCESS, "%s: %s", name, vkbn_last_error());
    uint8_t* first = malloc(bytes + 2 * vec);
    uint8_t* again = malloc(bytes + 2 * vec);
    for (int run = 0; run < 4 && plan; ++run) {
        vkbn_plan_execute(plan);
        uint8_t* dst = run == 0 ? first : again;
        vkbn_buffer_download(y, 0, dst, bytes);
        vkbn_buffer_download(sm, 0, dst + bytes, vec);
        vkbn_buffer_download(si, 0, dst + bytes + vec, vec);
        if (run > 0) CHECK(memcmp(first, again, bytes + 2 * vec) == 0, "%s: run %d differs from run 0", name, run);
    }
    if (env_set("VKBN_TEST_VERBOSE")) printf("ok   repeat %s | %s\n", name, plan ? vkbn_plan_describe(plan) : "");
    vkbn_plan_destroy(plan);
    free(first);
    free(again);
    free(host);
    vkbn_buffer* all[] = {&x, &y, &z, &sm, &si};
    for (size_t i = 0; i < 5; ++i) vkbn_buffer_destroy(*all[i]);
}

static void repeatability(void) {
    static const uint32_t shapes[][5] = {
        /* n, c, rank, d1, d2 */
        {4, 3, 2, 61, 67}, {2, 64, 2, 28, 28}, {32, 5, 1, 1000, 0}, {1, 1, 1, 300001, 0}, {9, 130, 1, 49, 0},
    };
    for (uint32_t threads = 1; threads <= 3; ++threads) {
        vkbn_result r;
        vkbn_context ctx = cpu_context(threads, VKBN_CPU_ISA_AUTO, &r);
        CHECK(r == VKBN_SUCCESS, "context: %s", vkbn_last_error());
        if (!ctx) continue;
        unsigned k = 0;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
            for (int layout = 0; layout < 2; ++layout) {
                for (int dtype = 0; dtype < 2; ++dtype) {
                    uint32_t sp[2] = {shapes[i][3], shapes[i][4]};
                    fwd_case c = case_default(shapes[i][0], shapes[i][1], shapes[i][2], sp, (vkbn_layout)layout,
                                              (vkbn_dtype)dtype);
                    c.seed = 900 + k;
                    c.residual = k % 2;
                    c.activation = k % 3 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
                    c.reduction_split = (k % 4 == 3) ? 5 : 0;
                    ++k;
                    repeat_plan(ctx, &c);
                }
            }
        }
        vkbn_context_destroy(ctx);
    }
}

/* The pipelined channels-first plan (reduce channel c while normalizing
 * channel c - 1, in slices), which only tensors beyond the last-level cache
 * get: forced here with small tensors through the test hook
 * (src/core/test_hooks.h). */
static void pipelined(void) {
    vkbn_test_hooks hooks = vkbn_test_hooks_none();
    hooks.cpu_stream_bytes = 0;
    vkbn_test_set_hooks(&hooks);
    for (uint32_t threads = 1; threads <= 3; threads += 2) {
        vkbn_result r;
        vkbn_context ctx = cpu_context(threads, VKBN_CPU_ISA_AUTO, &r);
        CHECK(r == VKBN_SUCCESS, "context: %s", vkbn_last_error());
        if (!ctx) continue;
        const uint32_t sp[1] = {24007};
        for (int dtype = 0; dtype < 2; ++dtype) {
            fwd_case c = case_default(5, 9, 1, sp, VKBN_LAYOUT_CHANNELS_FIRST, (vkbn_dtype)dtype);
            c.seed = 4242 + (uint64_t)dtype;
            c.residual = dtype;
            c.activation = VKBN_ACTIVATION_RELU;
            c.steps = 2;
            case_result res;
            int rc = case_run(ctx, &c, &res);
            CHECK(rc == 0 && strstr(res.plan, "pipelined"), "pipelined %s x%u: %s [%s]", dtype ? "f16" : "f32", threads,
                  res.message, res.plan);
            c.data = CASE_DATA_LARGE_MEAN;
            rc = case_run(ctx, &c, &res);
            CHECK(rc == 0, "pipelined mean-1e4 %s x%u: %s", dtype ? "f16" : "f32", threads, res.message);
            repeat_plan(ctx, &c);
        }
        vkbn_context_destroy(ctx);
    }
    vkbn_test_set_hooks(NULL);
}

/* Channels-last training dx in channel blocks, which only inputs beyond the
 * last-level cache get (cpu_plan_grads.c): forced here with small tensors
 * through the test hook (cpu_channel_block). Blocks must not change a bit:
 * each case runs against the fp64 reference with blocks and is compared
 * bitwise with the same case without them. Blocks of one vector (the narrow
 * kernels in a window), of several (the general ones), last blocks with a
 * scalar tail; activations that read y and SiLU, the residual, dx in place,
 * misaligned tensors, streaming stores, reduction_split, and 3 threads on
 * uneven rows. */
static void channel_blocks(void) {
    static const struct { uint32_t n, c, s; } shapes[] = {{6, 70, 37}, {3, 200, 9}, {2, 33, 64}, {41, 48, 5}};
    static const uint64_t blocks[] = {1, 40, 80};
    static const vkbn_activation acts[] = {VKBN_ACTIVATION_NONE, VKBN_ACTIVATION_RELU, VKBN_ACTIVATION_SILU,
                                           VKBN_ACTIVATION_LEAKY_RELU};
    unsigned k = 0;
    for (uint32_t threads = 1; threads <= 3; threads += 2) {
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; ++b) {
            vkbn_result r;
            vkbn_context plain = cpu_context(threads, VKBN_CPU_ISA_AUTO, &r);
            CHECK(r == VKBN_SUCCESS, "context: %s", vkbn_last_error());
            vkbn_test_hooks hooks = vkbn_test_hooks_none();
            hooks.cpu_channel_block = blocks[b];
            if (threads == 3) hooks.cpu_stream_bytes = 0;
            vkbn_test_set_hooks(&hooks);
            vkbn_context blocked = cpu_context(threads, VKBN_CPU_ISA_AUTO, &r);
            CHECK(r == VKBN_SUCCESS, "context: %s", vkbn_last_error());
            vkbn_test_set_hooks(NULL);
            for (size_t i = 0; plain && blocked && i < sizeof shapes / sizeof shapes[0]; ++i) {
                for (int j = 0; j < 4; ++j, ++k) {
                    const uint32_t sp[1] = {shapes[i].s};
                    bwd_case c = bwd_case_default(shapes[i].n, shapes[i].c, 1, sp, VKBN_LAYOUT_CHANNELS_LAST,
                                                  (vkbn_dtype)(j & 1));
                    c.seed = 5150 + k;
                    c.activation = acts[(k + (unsigned)b) % 4];
                    c.residual = j >= 2;
                    if (c.residual) c.outputs |= BWD_OUT_DRESIDUAL;
                    c.in_place = j == 1;
                    c.offset_bytes = j == 3 ? 20 : 0;
                    c.reduction_split = j == 2 ? 5 : 0;
                    char desc[300];
                    bwd_case_describe(&c, desc, sizeof desc);
                    bwd_result res;
                    int rc = bwd_case_run(blocked, &c, &res);
                    CHECK(rc == 0, "blocks of %llu x%u: %s: %s [%s]", (unsigned long long)blocks[b], threads, desc,
                          res.message, res.plan);
                    /* One vector is never C or more (C >= 33 here). */
                    if (blocks[b] == 1) {
                        CHECK(strstr(res.plan, " blocks of ") != NULL, "blocks of 1 x%u: %s: not in blocks [%s]",
                              threads, desc, res.plan);
                    }
                    rc = bwd_case_run_same(plain, blocked, &c, &res);
                    CHECK(rc == 0, "blocks of %llu x%u: %s: %s", (unsigned long long)blocks[b], threads, desc,
                          res.message);
                }
            }
            vkbn_context_destroy(blocked);
            vkbn_context_destroy(plain);
        }
    }
    /* The planner's own choice on one thread (8-KiB rows, x and dy 25.7 MB:
     * two blocks of 1024 channels with a last-level cache of 25.7 to 51 MB,
     * none otherwise), against the same plan held unblocked by a block of C
     * or more. */
    vkbn_test_hooks hooks = vkbn_test_hooks_none();
    hooks.cpu_channel_block = VKBN_TEST_HOOK_UNSET - 1;
    vkbn_test_set_hooks(&hooks);
    vkbn_result r;
    vkbn_context plain = cpu_context(1, VKBN_CPU_ISA_AUTO, &r);
    vkbn_test_set_hooks(NULL);
    vkbn_context chosen = cpu_context(1, VKBN_CPU_ISA_AUTO, &r);
    if (plain && chosen) {
        const uint32_t sp[2] = {7, 7};
        bwd_case c = bwd_case_default(32, 2048, 2, sp, VKBN_LAYOUT_CHANNELS_LAST, VKBN_DTYPE_F32);
        c.seed = 5199;
        /* Bit for bit against the unblocked plan, whose kernels the
         * matrices check against fp64 (an fp64 reference of 3.2M elements
         * would cost more than the rest of this program under the
         * sanitizers). */
        bwd_result res;
        int rc = bwd_case_run_same(plain, chosen, &c, &res);
        CHECK(rc == 0, "32x2048x7x7 x1 against unblocked: %s", res.message);
    }
    vkbn_context_destroy(chosen);
    vkbn_context_destroy(plain);
}

/* Channels-first tensors with short rows (S <= 16) run as channels-last with
 * one lane per (channel, position); training merges each channel's lanes.
 * Many samples (past the row kernels' chunks and blocks), lane counts that
 * are not a multiple of any vector width, both modes and fusions, mean-1e4
 * data, and repeatability. */
static void short_rows(void) {
    static const struct { uint32_t n, c, s; } shapes[] = {{2500, 3, 5}, {37, 6, 3}, {64, 5, 16}};
    for (uint32_t threads = 1; threads <= 3; threads += 2) {
        vkbn_result r;
        vkbn_context ctx = cpu_context(threads, VKBN_CPU_ISA_AUTO, &r);
        CHECK(r == VKBN_SUCCESS, "context: %s", vkbn_last_error());
        if (!ctx) continue;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
            for (int k = 0; k < 4; ++k) {
                const uint32_t sp[1] = {shapes[i].s};
                const int dtype = k & 1, training = k < 2;
                fwd_case c =
                    case_default(shapes[i].n, shapes[i].c, 1, sp, VKBN_LAYOUT_CHANNELS_FIRST, (vkbn_dtype)dtype);
                c.seed = 777 + (uint64_t)(i * 4 + (size_t)k);
                c.training = training;
                c.residual = k == 1 || k == 2;
                c.activation = k >= 2 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
                c.steps = training ? 2 : 1;
                case_result res;
                int rc = case_run(ctx, &c, &res);
                CHECK(rc == 0 && strstr(res.plan, "as lanes"), "short rows %ux%ux%u %s %s x%u: %s [%s]", shapes[i].n,
                      shapes[i].c, shapes[i].s, training ? "train" : "infer", dtype ? "f16" : "f32", threads,
                      res.message, res.plan);
                if (training) {
                    c.data = CASE_DATA_LARGE_MEAN;
                    rc = case_run(ctx, &c, &res);
                    CHECK(rc == 0, "short rows mean-1e4 %ux%ux%u %s x%u: %s", shapes[i].n, shapes[i].c, shapes[i].s,
                          dtype ? "f16" : "f32", threads, res.message);
                }
                repeat_plan(ctx, &c);

                /* Backward: training (ReLU, dresidual) and frozen, f32 with
                 * a spike in dy (compensated sums across lanes) and f16. */
                bwd_case b =
                    bwd_case_default(shapes[i].n, shapes[i].c, 1, sp, VKBN_LAYOUT_CHANNELS_FIRST, (vkbn_dtype)dtype);
                b.seed = c.seed;
                b.frozen = !training;
                b.residual = k == 2;
                b.activation = k >= 2 ? VKBN_ACTIVATION_RELU : VKBN_ACTIVATION_NONE;
                b.outputs = b.residual ? BWD_OUT_ALL : BWD_OUT_DX | BWD_OUT_DWEIGHT | BWD_OUT_DBIAS;
                b.dy_data = dtype ? BWD_DY_NORMAL : BWD_DY_SPIKE;
                bwd_result br;
                rc = bwd_case_run(ctx, &b, &br);
                CHECK(rc == 0 && strstr(br.plan, "as lanes"), "short rows backward %ux%ux%u %s %s x%u: %s [%s]",
                      shapes[i].n, shapes[i].c, shapes[i].s, training ? "train" : "frozen", dtype ? "f16" : "f32",
                      threads, br.message, br.plan);
            }
        }
        vkbn_context_destroy(ctx);
    }
}

/* The portable conversion against the compiler's _Float16 (round to nearest
 * even): every f16 value widens exactly, and f32 values around every f16
 * value, ties included, narrow the same way. */
static void f16_conversion(void) {
#if defined(__FLT16_MAX__)
    int bad_widen = 0, bad_narrow = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        _Float16 hv;
        uint16_t bits = (uint16_t)h;
        memcpy(&hv, &bits, 2);
        float want = (float)hv, got = vkbn__f16_to_f32(bits);
        if (memcmp(&want, &got, 4) != 0 && !(want != want && got != got)) ++bad_widen;
        if (want != want) continue;
        /* The value itself, its f32 neighbours, and the midpoint to the
         * next f16 value (a tie) with its neighbours. */
        float probes[7] = {want, nextafterf(want, INFINITY), nextafterf(want, -INFINITY)};
        int np = 3;
        if (h != 0x7bff && h != 0xfbff && (h & 0x7fff) < 0x7c00) {
            _Float16 next;
            uint16_t nb = (uint16_t)(h + 1);
            memcpy(&next, &nb, 2);
            if ((float)next == (float)next) {
                float mid = (float)(((double)want + (double)(float)next) / 2.0);
                probes[np++] = mid;
                probes[np++] = nextafterf(mid, INFINITY);
                probes[np++] = nextafterf(mid, -INFINITY);
            }
        }
        for (int i = 0; i < np; ++i) {
            _Float16 r = (_Float16)probes[i];
            uint16_t rb;
            memcpy(&rb, &r, 2);
            if (rb != vkbn__f32_to_f16(probes[i])) ++bad_narrow;
        }
    }
    rng g;
    rng_seed(&g, 7);
    for (int i = 0; i < 1000000; ++i) {
        uint32_t probe = (uint32_t)(rng_uniform(&g) * 4294967296.0);
        float f;
        memcpy(&f, &probe, 4);
        if (f != f) continue;
        _Float16 r = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &r, 2);
        if (rb != vkbn__f32_to_f16(f)) ++bad_narrow;
    }
    CHECK(bad_widen == 0, "f16 -> f32: %d values differ from the compiler's", bad_widen);
    CHECK(bad_narrow == 0, "f32 -> f16: %d values differ from the compiler's", bad_narrow);
#else
    printf("note: no _Float16 in this compiler; conversion checked through the kernels only\n");
#endif
}

/* bf16 narrowing in every ISA's kernels, bit for bit against the portable
 * conversion (vkbn__f32_to_bf16): inference with running mean 0, running
 * variance 1, eps 0 and weight w computes y = x * w exactly in f32 (x has 8
 * significant bits and w 9, so no ISA rounds before the narrowing, FMA or
 * not), and the store then rounds every product to bf16: ties (both
 * parities), values either side of them, subnormals, overflow to infinity,
 * zeros of both signs, infinities and NaN. Channels-first rows of 37 run
 * the vector bodies and every tail length. On a CPU with AVX-512 BF16 the
 * avx512 level runs twice: with its conversion instruction (the plan says
 * "avx512+bf16"), then with the integer rounding (the test hook). */
static void bf16_narrowing(void) {
    enum { C = 2, S = 37, N = 1024 };
    const uint64_t count = (uint64_t)N * C * S;
    uint16_t* xh = malloc(count * 2);
    uint16_t* yh = malloc(count * 2);
    if (!xh || !yh) {
        CHECK(0, "bf16 narrowing: out of host memory");
        free(xh);
        free(yh);
        return;
    }
    rng g;
    rng_seed(&g, 16);
    for (uint64_t i = 0; i < count; ++i) {
        /* Every bf16 bit pattern in turn, then random ones. */
        xh[i] = i < 65536 ? (uint16_t)i : (uint16_t)(rng_uniform(&g) * 65536.0);
    }
    const float weight[C] = {1.00390625f, -1.50390625f}; /* 1 + 2^-8 and -(1.5 + 2^-8): 9 significant bits */
    const float zeros[C] = {0.0f, 0.0f}, ones[C] = {1.0f, 1.0f};
    int native_runs = 0;
    /* Each level in turn, then (where the avx512 run used the instruction)
     * avx512 again with the integer rounding. */
    for (int run = VKBN_CPU_ISA_SCALAR; run <= VKBN_CPU_ISA_NEON + 1; ++run) {
        const int integer = run == VKBN_CPU_ISA_NEON + 1, isa = integer ? VKBN_CPU_ISA_AVX512 : run;
        if (integer && native_runs == 0) break; /* the avx512 run took the integer path already */
        vkbn_result r;
        vkbn_test_hooks hooks = vkbn_test_hooks_none();
        if (integer) {
            hooks.cpu_bf16_integer = 1;
            vkbn_test_set_hooks(&hooks);
        }
        vkbn_context ctx = cpu_context(isa == VKBN_CPU_ISA_SCALAR ? 1 : 3, (vkbn_cpu_isa)isa, &r);
        if (integer) vkbn_test_set_hooks(NULL);
        if (!ctx) continue; /* a level this CPU or build lacks */
        vkbn_buffer x = NULL, y = NULL, w = NULL, rm = NULL, rv = NULL;
        vkbn_buffer_create(ctx, count * 2, &x);
        vkbn_buffer_create(ctx, count * 2, &y);
        vkbn_buffer_create(ctx, sizeof weight, &w);
        vkbn_buffer_create(ctx, sizeof zeros, &rm);
        vkbn_buffer_create(ctx, sizeof ones, &rv);
        vkbn_buffer_upload(x, 0, xh, count * 2);
        vkbn_buffer_upload(w, 0, weight, sizeof weight);
        vkbn_buffer_upload(rm, 0, zeros, sizeof zeros);
        vkbn_buffer_upload(rv, 0, ones, sizeof ones);
        vkbn_forward_inference_desc d;
        memset(&d, 0, sizeof d);
        d.tensor.n = N;
        d.tensor.c = C;
        d.tensor.spatial_rank = 1;
        d.tensor.spatial[0] = S;
        d.tensor.dtype = VKBN_DTYPE_BF16;
        d.x = x;
        d.y = y;
        d.weight = w;
        d.running_mean = rm;
        d.running_var = rv;
        d.eps = 0.0f;
        vkbn_plan plan = NULL;
        r = vkbn_plan_create_forward_inference(ctx, &d, &plan);
        CHECK(r == VKBN_SUCCESS, "bf16 narrowing (isa %d): %s", isa, vkbn_last_error());
        const int native = plan && strstr(vkbn_plan_describe(plan), "+bf16") != NULL;
        CHECK(!native || (isa == VKBN_CPU_ISA_AVX512 && !integer), "bf16 narrowing: %s",
              plan ? vkbn_plan_describe(plan) : "");
        native_runs += native;
        if (plan) r = vkbn_plan_execute(plan);
        vkbn_plan_destroy(plan);
        if (r == VKBN_SUCCESS && vkbn_buffer_download(y, 0, yh, count * 2) == VKBN_SUCCESS) {
            uint64_t bad = 0, first = 0;
            for (uint64_t i = 0; i < count; ++i) {
                float xf = vkbn__bf16_to_f32(xh[i]);
                float prod = xf * weight[(i / S) % C] + 0.0f; /* + the shift, 0: -0 becomes +0 as in the kernels */
                uint16_t want = vkbn__f32_to_bf16(prod);
                if (yh[i] != want && !(prod != prod && (yh[i] & 0x7fc0u) == 0x7fc0u)) {
                    if (bad++ == 0) first = i;
                }
            }
            CHECK(bad == 0, "bf16 narrowing (isa %d%s): %llu of %llu values differ, first x = 0x%04x: y = 0x%04x", isa,
                  native ? ", AVX-512 BF16" : "", (unsigned long long)bad, (unsigned long long)count, xh[first],
                  yh[first]);
        }
        vkbn_buffer_destroy(x);
        vkbn_buffer_destroy(y);
        vkbn_buffer_destroy(w);
        vkbn_buffer_destroy(rm);
        vkbn_buffer_destroy(rv);
        vkbn_context_destroy(ctx);
    }
    free(xh);
    free(yh);
    printf("bf16 narrowing: %s\n", native_runs
                                       ? "the avx512 level with AVX-512 BF16's conversion and with the integer rounding"
                                       : "no AVX-512 BF16 here (or in this build): integer rounding only");
}

/* The portable bf16 conversion against its definition: widening is exact
 * (a shift), and narrowing every f32 near each bf16 value, ties included,
 * gives the nearest bf16, ties to even (testing/reference.c's independent
 * rounding). */
static void bf16_conversion(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        float v = vkbn__bf16_to_f32((uint16_t)h);
        uint32_t bits;
        memcpy(&bits, &v, 4);
        if (bits != h << 16) ++bad;
        if (v != v) {
            if ((vkbn__f32_to_bf16(v) & 0x7fc0u) != 0x7fc0u) ++bad; /* NaN stays NaN, quiet */
            continue;
        }
        for (uint32_t low = 0; low < 65536; low += 0x1fff) {
            uint32_t b = bits | low;
            float f;
            memcpy(&f, &b, 4);
            if (f != f) continue;
            if (vkbn__f32_to_bf16(f) != ref_f32_to_bf16(f)) ++bad;
        }
        uint32_t tie = bits | 0x8000u, above = tie + 1, below = tie - 1;
        const uint32_t probes[3] = {tie, above, below};
        for (int i = 0; i < 3; ++i) {
            float f;
            memcpy(&f, &probes[i], 4);
            if (f == f && vkbn__f32_to_bf16(f) != ref_f32_to_bf16(f)) ++bad;
        }
    }
    CHECK(bad == 0, "bf16 conversion: %d values differ from the reference", bad);
}

/* test_cpu [devices]: everything, or (devices) only what depends on which
 * devices exist: the listing, the default-device ranking and the context
 * options, which the no-Vulkan run (cpu_no_vulkan) checks without a
 * driver; the kernels' checks after them do not depend on it. */
int main(int argc, char** argv) {
    test_pin_drivers(); /* "cpu" counts the Vulkan devices: sanitizer builds see the driver */
    listing();
    ranking();
    options();
    if (argc > 1 && strcmp(argv[1], "devices") == 0) return test_summary();
    buffers_and_timing();
    repeatability();
    pipelined();
    short_rows();
    channel_blocks();
    f16_conversion();
    bf16_conversion();
    bf16_narrowing();
    return test_summary();
}
