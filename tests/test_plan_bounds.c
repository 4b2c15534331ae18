/* The production planner on every device profile (vkbn_context_desc.profile),
 * for the ResNet-50 shapes at batch 32 and 1 and the size sweep, every op
 * and fusion of the benchmark, both layouts and both dtypes: bounds that
 * must hold on every vendor's GPU, read from the plans' own reports.
 *
 * 1. Serial chain: no invocation performs more than 64 dependent memory
 *    steps (VKBN__MAX_MERGE_CHAIN).
 * 2. Occupancy: where the tensor has the work of a full wave (compute units
 *    x resident workgroups of 256, each of whose invocations moves 64 bytes:
 *    four 16-byte loads in flight), every dispatch that streams the tensor
 *    launches at least a full wave. Profiles whose compute-unit count is
 *    unknown have no wave to check against.
 * 3. Bytes: what the plan moves to and from memory is at most 1.05x the
 *    op's own minimum, defined without the plan: the effective bytes
 *    (docs/SEMANTICS.md) and the per-channel vectors, plus, where the op
 *    needs its batch statistics before its output (training forward and
 *    backward) and its tensors do not fit the profile's last-level cache,
 *    one more read of x (and of dy for backward). The plan's bytes count a
 *    re-read (bytes_reread) as served by the cache only where the plan's
 *    whole footprint fits it; an unknown cache size holds nothing.
 *    Known excess, bounded tightly instead: a training backward with a mask
 *    activation (ReLU) reads y in both passes, one more tensor where its
 *    tensors do not fit the cache, until backward reads a bit mask instead
 *    of y. */
#include <stdio.h>
#include <string.h>

#include "plan_probe.h"
#include "test_util.h"

#define MAX_CHAIN 64u
#define BYTES_BOUND 1.05
/* Bytes one invocation of a full wave must have to move (four 16-byte loads). */
#define WAVE_BYTES_PER_INVOCATION 64u
#define WAVE_INVOCATIONS 256u

typedef struct shape {
    uint32_t n, c, h, w;
} shape;

/* The ResNet-50 batch-norm layers (bench/cases.cc, kResNet50). */
static const uint32_t resnet50[][2] = {
    {64, 112}, {64, 56},  {256, 56},  {128, 56}, {128, 28}, {512, 28},
    {256, 28}, {256, 14}, {1024, 14}, {512, 14}, {512, 7},  {2048, 7},
};

/* The sweep's shape of a size (bench/cases.cc, sweep_shape): 64 channels,
 * batch up to 32, a power-of-two near-square image. */
static shape sweep_shape(uint64_t bytes, uint32_t esize) {
    uint64_t per_channel = bytes / esize / 64;
    shape s = {0, 64, 1, 1};
    s.n = (uint32_t)(per_channel < 32 ? per_channel : 32);
    uint64_t image = per_channel / s.n;
    while ((uint64_t)s.h * s.h < image) s.h *= 2;
    s.w = (uint32_t)(image / s.h);
    return s;
}

typedef struct fusion {
    vkbn_activation activation;
    int residual;
    const char* name;
} fusion;

static const fusion fusions[] = {
    {VKBN_ACTIVATION_NONE, 0, "none"},
    {VKBN_ACTIVATION_RELU, 0, "relu"},
    {VKBN_ACTIVATION_RELU, 1, "add_relu"},
};

typedef struct worst {
    uint32_t plans;
    uint32_t chain;
    double bytes_ratio;
    char bytes_case[160];
    double wave_ratio; /* fewest workgroups / wave, where checked */
    char wave_case[160];
    uint32_t wave_checked;
} worst;

static void describe_case(const plan_probe* p, const char* fusion_name, char* out, size_t size) {
    snprintf(out, size, "%s/%s %ux%ux%ux%u %s %s", plan_probe_op_name(p->op), fusion_name, p->tensor.n, p->tensor.c,
             p->tensor.spatial[0], p->tensor.spatial[1],
             p->tensor.layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw",
             p->tensor.dtype == VKBN_DTYPE_F16    ? "f16"
             : p->tensor.dtype == VKBN_DTYPE_BF16 ? "bf16"
                                                  : "f32");
}

static void check_plan(const vkbn_profile_info* prof, vkbn_context ctx, const plan_probe* p, const char* fusion_name,
                       worst* wst) {
    char name[160];
    describe_case(p, fusion_name, name, sizeof name);
    plan_probe_objects o;
    vkbn_result r = plan_probe_build(ctx, p, &o);
    CHECK(r == VKBN_SUCCESS, "%s %s: planning failed: %s", prof->name, name, vkbn_last_error());
    if (r != VKBN_SUCCESS) return;
    vkbn_plan_report rep;
    r = vkbn_plan_get_report(o.plan, &rep);
    CHECK(r == VKBN_SUCCESS, "%s %s: no report: %s", prof->name, name, vkbn_last_error());
    if (r != VKBN_SUCCESS) {
        plan_probe_release(&o);
        return;
    }
    wst->plans++;

    /* The report agrees with the plan's shape: a fused plan's one dispatch
     * gives each channel (group) one workgroup along x. */
    if (rep.dispatches == 1 && strstr(vkbn_plan_describe(o.plan), "fused")) {
        vkbn_dispatch_report d;
        CHECK(vkbn_plan_get_dispatch_report(o.plan, 0, &d) == VKBN_SUCCESS && d.workgroups[0] == 1,
              "%s %s: a fused plan launches %u workgroups per channel group (%s)", prof->name, name, d.workgroups[0],
              vkbn_plan_describe(o.plan));
    }

    /* 1. The serial chain. */
    CHECK(rep.serial_chain <= MAX_CHAIN, "%s %s: serial chain %u > %u (%s)", prof->name, name, rep.serial_chain,
          MAX_CHAIN, vkbn_plan_describe(o.plan));
    if (rep.serial_chain > wst->chain) wst->chain = rep.serial_chain;

    /* 2. A full wave wherever the tensor has that much work. */
    uint64_t tensor = plan_probe_tensor_bytes(p);
    uint64_t wave = prof->compute_units
                        ? (uint64_t)prof->compute_units * (prof->resident_workgroups ? prof->resident_workgroups : 1)
                        : 0;
    if (wave && tensor >= wave * WAVE_INVOCATIONS * WAVE_BYTES_PER_INVOCATION) {
        for (uint32_t i = 0; i < rep.dispatches; ++i) {
            vkbn_dispatch_report d;
            CHECK(vkbn_plan_get_dispatch_report(o.plan, i, &d) == VKBN_SUCCESS, "%s %s: dispatch %u", prof->name, name,
                  i);
            if (d.role != VKBN_DISPATCH_REDUCE && d.role != VKBN_DISPATCH_ELEMENTWISE) continue;
            uint64_t groups = (uint64_t)d.workgroups[0] * d.workgroups[1] * d.workgroups[2];
            CHECK(groups >= wave, "%s %s: dispatch %u (%s) launches %llu workgroups, less than a wave of %llu (%s)",
                  prof->name, name, i, d.kernel, (unsigned long long)groups, (unsigned long long)wave,
                  vkbn_plan_describe(o.plan));
            double ratio = (double)groups / (double)wave;
            if (!wst->wave_checked || ratio < wst->wave_ratio) {
                wst->wave_ratio = ratio;
                snprintf(wst->wave_case, sizeof wst->wave_case, "%s", name);
            }
            wst->wave_checked++;
        }
    }

    /* 3. Bytes against the op's own minimum (plan_probe_predict). */
    plan_prediction pred;
    plan_probe_predict(p, &rep, prof, 0.0, &pred);
    uint64_t minimum = pred.minimum, moved = pred.moved;
    /* The known excess: y read in both passes of a masked training backward. */
    if (!pred.fits && p->op == PROBE_BACKWARD && plan_probe_reads_mask(p)) minimum += tensor;
    double ratio = (double)moved / (double)minimum;
    CHECK(ratio <= BYTES_BOUND,
          "%s %s: moves %llu bytes, %.3fx the minimum %llu (read %llu, written %llu, re-read %llu, footprint %llu; %s)",
          prof->name, name, (unsigned long long)moved, ratio, (unsigned long long)minimum,
          (unsigned long long)rep.bytes_read, (unsigned long long)rep.bytes_written,
          (unsigned long long)rep.bytes_reread, (unsigned long long)rep.footprint_bytes, vkbn_plan_describe(o.plan));
    if (ratio > wst->bytes_ratio) {
        wst->bytes_ratio = ratio;
        snprintf(wst->bytes_case, sizeof wst->bytes_case, "%s", name);
    }
    plan_probe_release(&o);
}

static void check_shape(const vkbn_profile_info* prof, vkbn_context ctx, shape s, vkbn_dtype dtype, worst* wst) {
    static const probe_op ops[] = {PROBE_TRAINING, PROBE_INFERENCE, PROBE_BACKWARD, PROBE_BACKWARD_FROZEN};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; ++o) {
        for (size_t f = 0; f < sizeof fusions / sizeof fusions[0]; ++f) {
            for (int layout = 0; layout < 2; ++layout) {
                plan_probe p;
                memset(&p, 0, sizeof p);
                p.op = ops[o];
                p.tensor.n = s.n;
                p.tensor.c = s.c;
                p.tensor.spatial_rank = 2;
                p.tensor.spatial[0] = s.h;
                p.tensor.spatial[1] = s.w;
                p.tensor.layout = layout ? VKBN_LAYOUT_CHANNELS_LAST : VKBN_LAYOUT_CHANNELS_FIRST;
                p.tensor.dtype = dtype;
                p.activation = fusions[f].activation;
                p.residual = fusions[f].residual;
                check_plan(prof, ctx, &p, fusions[f].name, wst);
            }
        }
    }
}

/* A context on a profile plans and reports, and refuses everything that
 * would touch memory or run, naming the profile; bad profile arguments fail
 * naming the argument. */
static void check_plans_only(void) {
    vkbn_context_desc desc;
    memset(&desc, 0, sizeof desc);
    vkbn_context ctx = NULL;
    desc.profile = "no-such-gpu";
    CHECK(vkbn_context_create(&desc, &ctx) == VKBN_ERROR_DEVICE_NOT_FOUND && !ctx &&
              strstr(vkbn_last_error(), "desc->profile") && strstr(vkbn_last_error(), "h100"),
          "an unknown profile: %s", vkbn_last_error());
    desc.profile = "h100";
    desc.device = "cpu";
    CHECK(vkbn_context_create(&desc, &ctx) == VKBN_ERROR_INVALID_ARGUMENT && !ctx &&
              strstr(vkbn_last_error(), "desc->profile"),
          "a profile with a device: %s", vkbn_last_error());
    desc.device = NULL;
    CHECK(vkbn_context_create(&desc, &ctx) == VKBN_SUCCESS, "h100: %s", vkbn_last_error());
    if (!ctx) return;
    vkbn_device_info info;
    CHECK(vkbn_context_get_device_info(ctx, &info) == VKBN_SUCCESS && strstr(info.name, "H100") &&
              info.type == VKBN_DEVICE_TYPE_DISCRETE_GPU && info.backend == VKBN_BACKEND_VULKAN && info.storage_16bit,
          "h100's device info: '%s' type %d", info.name, (int)info.type);
    plan_probe p;
    memset(&p, 0, sizeof p);
    p.op = PROBE_TRAINING;
    p.tensor.n = 2, p.tensor.c = 3, p.tensor.spatial_rank = 2, p.tensor.spatial[0] = p.tensor.spatial[1] = 4;
    plan_probe_objects o;
    CHECK(plan_probe_build(ctx, &p, &o) == VKBN_SUCCESS, "h100: a plan: %s", vkbn_last_error());
    if (o.plan) {
        float v[4] = {0};
        CHECK(vkbn_buffer_upload(o.buffers[0], 0, v, sizeof v) == VKBN_ERROR_UNSUPPORTED &&
                  strstr(vkbn_last_error(), "h100"),
              "upload on a profile: %s", vkbn_last_error());
        CHECK(vkbn_buffer_download(o.buffers[0], 0, v, sizeof v) == VKBN_ERROR_UNSUPPORTED, "download on a profile: %s",
              vkbn_last_error());
        CHECK(vkbn_plan_execute(o.plan) == VKBN_ERROR_UNSUPPORTED, "execute on a profile: %s", vkbn_last_error());
        double t = 0;
        CHECK(vkbn_plan_execute_timed(o.plan, 1, &t) == VKBN_ERROR_UNSUPPORTED, "timed execute on a profile");
        vkbn_plan_report rep;
        CHECK(vkbn_plan_get_report(o.plan, &rep) == VKBN_SUCCESS && rep.dispatches >= 1 && rep.passes == 2,
              "a report on a profile");
        vkbn_dispatch_report d;
        CHECK(vkbn_plan_get_dispatch_report(o.plan, rep.dispatches, &d) == VKBN_ERROR_INVALID_ARGUMENT &&
                  strstr(vkbn_last_error(), "index"),
              "a dispatch past the end: %s", vkbn_last_error());
        CHECK(vkbn_plan_get_report(o.plan, NULL) == VKBN_ERROR_NULL_ARGUMENT, "a report into NULL");
        plan_probe_release(&o);
    }
    vkbn_profile_info prof;
    CHECK(vkbn_profile_get(vkbn_profile_count(), &prof) == VKBN_ERROR_INVALID_ARGUMENT, "a profile past the end");
    vkbn_context_destroy(ctx);

    /* The CPU path's plans have no dispatches. */
    desc.profile = NULL;
    desc.device = "cpu";
    CHECK(vkbn_context_create(&desc, &ctx) == VKBN_SUCCESS, "cpu: %s", vkbn_last_error());
    if (!ctx) return;
    if (plan_probe_build(ctx, &p, &o) == VKBN_SUCCESS) {
        vkbn_plan_report rep;
        CHECK(vkbn_plan_get_report(o.plan, &rep) == VKBN_ERROR_UNSUPPORTED, "a report of a CPU plan: %s",
              vkbn_last_error());
        plan_probe_release(&o);
    }
    vkbn_context_destroy(ctx);
}

/* On a real Vulkan device (lavapipe in CI) the report describes the plan
 * that runs: its totals are its dispatches' sums, and running it works. */
static void check_device_report(void) {
    vkbn_context_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.device = "llvmpipe";
    vkbn_context ctx = NULL;
    if (vkbn_context_create(&desc, &ctx) != VKBN_SUCCESS) {
        printf("no lavapipe here: the report of a plan on a device is not checked\n");
        return;
    }
    plan_probe p;
    memset(&p, 0, sizeof p);
    p.op = PROBE_BACKWARD;
    p.activation = VKBN_ACTIVATION_RELU;
    p.residual = 1;
    p.tensor.n = 4, p.tensor.c = 24, p.tensor.spatial_rank = 2, p.tensor.spatial[0] = p.tensor.spatial[1] = 64;
    p.tensor.layout = VKBN_LAYOUT_CHANNELS_LAST;
    plan_probe_objects o;
    CHECK(plan_probe_build(ctx, &p, &o) == VKBN_SUCCESS, "lavapipe: a plan: %s", vkbn_last_error());
    if (o.plan) {
        vkbn_plan_report rep;
        CHECK(vkbn_plan_get_report(o.plan, &rep) == VKBN_SUCCESS, "lavapipe: a report");
        uint64_t read = 0, written = 0, reread = 0;
        uint32_t barriers = 0, chain = 0;
        for (uint32_t i = 0; i < rep.dispatches; ++i) {
            vkbn_dispatch_report d;
            CHECK(vkbn_plan_get_dispatch_report(o.plan, i, &d) == VKBN_SUCCESS && d.kernel && d.workgroup_size > 0 &&
                      d.workgroups[0] > 0 && d.bytes_reread <= d.bytes_read,
                  "lavapipe: dispatch %u", i);
            read += d.bytes_read, written += d.bytes_written, reread += d.bytes_reread;
            barriers += d.barrier_before;
            if (d.serial_chain > chain) chain = d.serial_chain;
        }
        CHECK(read == rep.bytes_read && written == rep.bytes_written && reread == rep.bytes_reread &&
                  barriers == rep.barriers && chain == rep.serial_chain,
              "lavapipe: the totals are not the dispatches' sums");
        /* x, dy and y read, dx and dz written, at least once each. */
        uint64_t t = plan_probe_tensor_bytes(&p);
        CHECK(rep.bytes_read >= 3 * t && rep.bytes_written >= 2 * t && rep.footprint_bytes >= 5 * t,
              "lavapipe: read %llu, written %llu for tensors of %llu", (unsigned long long)rep.bytes_read,
              (unsigned long long)rep.bytes_written, (unsigned long long)t);
        CHECK(vkbn_plan_execute(o.plan) == VKBN_SUCCESS, "lavapipe: the reported plan runs: %s", vkbn_last_error());
        plan_probe_release(&o);
    }
    vkbn_context_destroy(ctx);
}

int main(void) {
    test_pin_drivers();
    check_plans_only();
    check_device_report();
    uint32_t count = vkbn_profile_count();
    CHECK(count >= 6, "%u device profiles, expected at least 6", count);
    for (uint32_t i = 0; i < count; ++i) {
        vkbn_profile_info prof;
        CHECK(vkbn_profile_get(i, &prof) == VKBN_SUCCESS, "profile %u", i);
        vkbn_context_desc desc;
        memset(&desc, 0, sizeof desc);
        desc.profile = prof.name;
        vkbn_context ctx = NULL;
        vkbn_result r = vkbn_context_create(&desc, &ctx);
        CHECK(r == VKBN_SUCCESS, "%s: context on the profile: %s", prof.name, vkbn_last_error());
        if (r != VKBN_SUCCESS) continue;
        vkbn_device_info info;
        vkbn_context_get_device_info(ctx, &info);
        worst wst;
        memset(&wst, 0, sizeof wst);
        /* bf16 on every profile (16-bit storage or words), f16 where it runs. */
        vkbn_dtype dtypes[3] = {VKBN_DTYPE_F32, VKBN_DTYPE_BF16, VKBN_DTYPE_F16};
        for (int d = 0; d < (info.storage_16bit ? 3 : 2); ++d) {
            for (uint32_t batch = 1; batch <= 32; batch += 31) {
                for (size_t l = 0; l < sizeof resnet50 / sizeof resnet50[0]; ++l) {
                    shape s = {batch, resnet50[l][0], resnet50[l][1], resnet50[l][1]};
                    check_shape(&prof, ctx, s, dtypes[d], &wst);
                }
            }
            uint32_t esize = vkbn_dtype_size(dtypes[d]);
            for (uint64_t bytes = 4u << 10; bytes <= (1ull << 30); bytes *= 2) {
                check_shape(&prof, ctx, sweep_shape(bytes, esize), dtypes[d], &wst);
            }
        }
        printf("%-12s %5u plans: longest chain %u; bytes at most %.3fx the minimum (%s); ", prof.name, wst.plans,
               wst.chain, wst.bytes_ratio, wst.bytes_case);
        if (wst.wave_checked) {
            printf("fewest workgroups %.2f waves (%s)\n", wst.wave_ratio, wst.wave_case);
        } else {
            printf("waves unchecked (compute units unknown)\n");
        }
        vkbn_context_destroy(ctx);
    }
    return test_summary();
}
