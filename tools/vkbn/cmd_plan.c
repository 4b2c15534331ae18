/* `vkbn plan`: what vkbn would run for an op, shape, layout, dtype and
 * fusion, on a device or on a device profile (a real GPU that is not here):
 * the plan's dispatches, workgroups, bytes and serial chain from its report
 * (vkbn_plan_get_report), and on a profile with a known bandwidth, the
 * predicted fraction of the copy bandwidth. Nothing runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "plan_probe.h"

#define CMD "plan"

/* The assumed cost of one dispatch (launch, and the drain at its barrier)
 * in predictions: not measured; the GPU kit measures the real one. */
#define DEFAULT_DISPATCH_US 2.0f

enum {
    OPT_PROFILE,
    OPT_DEVICE,
    OPT_LIST,
    OPT_MODE,
    OPT_SHAPE,
    OPT_LAYOUT,
    OPT_DTYPE,
    OPT_ACTIVATION,
    OPT_ALPHA,
    OPT_BETA,
    OPT_RESIDUAL,
    OPT_DISPATCH_US,
    OPT_JSON,
    OPT_COUNT
};

static const cli_option options[OPT_COUNT] = {
    [OPT_PROFILE] = {"--profile", "NAME", "plan on a device profile (a real GPU that is not here; see --profiles)"},
    [OPT_DEVICE] = {"--device", "DEV", "plan on this device: index, name part or cpu; default: the default device"},
    [OPT_LIST] = {"--profiles", NULL, "list the device profiles and exit"},
    [OPT_MODE] = {"--mode", "M", "train|infer|backward|frozen (backward from running statistics); default train"},
    [OPT_SHAPE] = {"--shape", "NxCxHxW", "the tensor: N x C, then up to three spatial sizes (required)"},
    [OPT_LAYOUT] = {"--layout", "L", "nchw (channels-first, default) or nhwc (channels-last)"},
    [OPT_DTYPE] = {"--dtype", "T", "f32 (default), f16 or bf16"},
    [OPT_ACTIVATION] = {"--activation", "A", "none|relu|leaky_relu|clamp|silu; default none"},
    [OPT_ALPHA] = {"--alpha", "A", "leaky_relu slope or clamp min"},
    [OPT_BETA] = {"--beta", "B", "clamp max"},
    [OPT_RESIDUAL] = {"--residual", NULL, "forward: add a residual; backward: write its gradient"},
    [OPT_DISPATCH_US] = {"--dispatch-us", "US", "predictions: assumed cost of one dispatch, microseconds; default 2"},
    [OPT_JSON] = {"--json", NULL, "write the plan as JSON to stdout"},
};

static const char* const mode_names[] = {"train", "infer", "backward", "frozen"};
static const char* const activation_names[] = {"none", "relu", "leaky_relu", "clamp", "silu"};
static const char* const role_names[] = {"reduce", "merge", "params", "elementwise", "copy"};

static int find_name(const char* const* names, int count, const char* text) {
    for (int i = 0; i < count; ++i) {
        if (strcmp(names[i], text) == 0) return i;
    }
    return -1;
}

static int parse_shape(const char* text, vkbn_tensor_desc* t) {
    uint64_t dims[2 + VKBN_MAX_SPATIAL_RANK];
    int count = 0;
    const char* s = text;
    while (*s) {
        if (count == 2 + VKBN_MAX_SPATIAL_RANK) {
            return cli_error(CMD, CLI_USAGE, "--shape: at most %d dimensions, got '%s'", 2 + VKBN_MAX_SPATIAL_RANK,
                             text);
        }
        char* end = NULL;
        if (*s < '0' || *s > '9') return cli_error(CMD, CLI_USAGE, "--shape: expected NxC[xD...], got '%s'", text);
        unsigned long long v = strtoull(s, &end, 10);
        if (v == 0 || v > UINT32_MAX) {
            return cli_error(CMD, CLI_USAGE, "--shape: each dimension must be in [1, 2^32), got '%s'", text);
        }
        dims[count++] = v;
        s = end;
        if (*s == 'x' || *s == 'X') {
            ++s;
            if (!*s) return cli_error(CMD, CLI_USAGE, "--shape: expected NxC[xD...], got '%s'", text);
        } else if (*s) {
            return cli_error(CMD, CLI_USAGE, "--shape: expected NxC[xD...], got '%s'", text);
        }
    }
    if (count < 2) return cli_error(CMD, CLI_USAGE, "--shape: expected at least N x C, got '%s'", text);
    t->n = (uint32_t)dims[0];
    t->c = (uint32_t)dims[1];
    t->spatial_rank = (uint32_t)(count - 2);
    for (int i = 2; i < count; ++i) t->spatial[i - 2] = (uint32_t)dims[i];
    return CLI_OK;
}

static int list_profiles(void) {
    printf("%-12s %-32s %6s %9s %12s %10s\n", "profile", "GPU", "CUs", "resident", "bandwidth", "LLC");
    for (uint32_t i = 0; i < vkbn_profile_count(); ++i) {
        vkbn_profile_info p;
        if (vkbn_profile_get(i, &p) != VKBN_SUCCESS) continue;
        char cus[16] = "?", res[16] = "?", bw[24] = "?", llc[24] = "?";
        if (p.compute_units) snprintf(cus, sizeof cus, "%u", p.compute_units);
        if (p.resident_workgroups) snprintf(res, sizeof res, "%u", p.resident_workgroups);
        if (p.dram_bandwidth) snprintf(bw, sizeof bw, "%.0f GB/s", p.dram_bandwidth / 1e9);
        if (p.last_level_cache) cli_format_bytes(p.last_level_cache, llc, sizeof llc);
        printf("%-12s %-32s %6s %9s %12s %10s\n", p.name, p.display_name, cus, res, bw, llc);
    }
    printf("(? : no source gives the number; the planner takes the choice that is correct on any device)\n");
    return CLI_OK;
}

static int parse(const cli_args* a, plan_probe* p, float* dispatch_us) {
    memset(p, 0, sizeof *p);
    p->op = PROBE_TRAINING;
    if (a->value[OPT_MODE]) {
        int m = find_name(mode_names, 4, a->value[OPT_MODE]);
        if (m < 0) return cli_error(CMD, CLI_USAGE, "--mode: expected train, infer, backward or frozen");
        p->op = (probe_op)m;
    }
    if (!a->value[OPT_SHAPE]) return cli_error(CMD, CLI_USAGE, "--shape is required (e.g. --shape 32x64x112x112)");
    int r = parse_shape(a->value[OPT_SHAPE], &p->tensor);
    if (r != CLI_OK) return r;
    p->tensor.layout = VKBN_LAYOUT_CHANNELS_FIRST;
    if (a->value[OPT_LAYOUT]) {
        const char* l = a->value[OPT_LAYOUT];
        if (strcmp(l, "nhwc") == 0) {
            p->tensor.layout = VKBN_LAYOUT_CHANNELS_LAST;
        } else if (strcmp(l, "nchw") != 0) {
            return cli_error(CMD, CLI_USAGE, "--layout: expected nchw or nhwc, got '%s'", l);
        }
    }
    p->tensor.dtype = VKBN_DTYPE_F32;
    if (a->value[OPT_DTYPE] && cli_parse_dtype(CMD, "--dtype", a->value[OPT_DTYPE], &p->tensor.dtype) != CLI_OK) {
        return CLI_USAGE;
    }
    if (a->value[OPT_ACTIVATION]) {
        int k = find_name(activation_names, 5, a->value[OPT_ACTIVATION]);
        if (k < 0) return cli_error(CMD, CLI_USAGE, "--activation: expected none, relu, leaky_relu, clamp or silu");
        p->activation = (vkbn_activation)k;
    }
    if (a->value[OPT_ALPHA] && cli_parse_float(CMD, "--alpha", a->value[OPT_ALPHA], &p->activation_alpha)) {
        return CLI_USAGE;
    }
    if (a->value[OPT_BETA] && cli_parse_float(CMD, "--beta", a->value[OPT_BETA], &p->activation_beta)) {
        return CLI_USAGE;
    }
    p->residual = a->value[OPT_RESIDUAL] != NULL;
    *dispatch_us = DEFAULT_DISPATCH_US;
    if (a->value[OPT_DISPATCH_US]) {
        if (cli_parse_float(CMD, "--dispatch-us", a->value[OPT_DISPATCH_US], dispatch_us)) return CLI_USAGE;
        if (!(*dispatch_us >= 0.0f)) return cli_error(CMD, CLI_USAGE, "--dispatch-us: must be >= 0");
    }
    if (a->value[OPT_PROFILE] && a->value[OPT_DEVICE]) {
        return cli_error(CMD, CLI_USAGE, "--profile and --device exclude each other: give one");
    }
    return CLI_OK;
}

static const vkbn_profile_info* find_profile(const char* name, vkbn_profile_info* out) {
    for (uint32_t i = 0; name && i < vkbn_profile_count(); ++i) {
        if (vkbn_profile_get(i, out) != VKBN_SUCCESS) continue;
        const char *a = out->name, *b = name;
        while (*a && *b && (*a | 0x20) == (*b | 0x20)) ++a, ++b;
        if (!*a && !*b) return out;
    }
    return NULL;
}

static void print_text(const plan_probe* p, vkbn_plan plan, const vkbn_device_info* dev, const vkbn_profile_info* prof,
                       const vkbn_plan_report* rep, const plan_prediction* pred, float dispatch_us) {
    char a[24], b[24], c[24];
    printf("device:      %s\n", dev->name);
    printf("plan:        %s\n", vkbn_plan_describe(plan));
    printf("passes:      %u, in %u dispatch%s (%u behind a barrier)\n", rep->passes, rep->dispatches,
           rep->dispatches == 1 ? "" : "es", rep->barriers);
    printf("\n  #  %-13s %-12s %21s %5s %11s %11s %11s %6s\n", "kernel", "role", "workgroups", "size", "read",
           "written", "re-read", "chain");
    for (uint32_t i = 0; i < rep->dispatches; ++i) {
        vkbn_dispatch_report d;
        if (vkbn_plan_get_dispatch_report(plan, i, &d) != VKBN_SUCCESS) continue;
        char groups[48];
        snprintf(groups, sizeof groups, "%ux%ux%u = %llu", d.workgroups[0], d.workgroups[1], d.workgroups[2],
                 (unsigned long long)d.workgroups[0] * d.workgroups[1] * d.workgroups[2]);
        cli_format_bytes(d.bytes_read, a, sizeof a);
        cli_format_bytes(d.bytes_written, b, sizeof b);
        cli_format_bytes(d.bytes_reread, c, sizeof c);
        printf("%3u  %-13s %-12s %21s %5u %11s %11s %11s %6u%s\n", i, d.kernel, role_names[d.role], groups,
               d.workgroup_size, a, b, c, d.serial_chain, d.barrier_before ? "  (barrier before)" : "");
    }
    cli_format_bytes(rep->bytes_read, a, sizeof a);
    cli_format_bytes(rep->bytes_written, b, sizeof b);
    cli_format_bytes(rep->bytes_reread, c, sizeof c);
    printf("\nbytes:       %s read, %s written in the worst case (nothing cached); %s of the reads are re-reads\n", a,
           b, c);
    cli_format_bytes(plan_probe_effective_bytes(p), a, sizeof a);
    cli_format_bytes(pred->minimum, b, sizeof b);
    cli_format_bytes(pred->moved, c, sizeof c);
    printf("minimum:     %s effective (docs/SEMANTICS.md), %s with vectors%s\n", a, b,
           pred->fits ? "" : " and the re-reads a plan cannot avoid");
    printf("moved:       %s (%.3fx the minimum)%s\n", c, (double)pred->moved / (double)pred->minimum,
           pred->fits ? ", re-reads served by the last-level cache" : "");
    cli_format_bytes(rep->footprint_bytes, a, sizeof a);
    cli_format_bytes(rep->scratch_bytes, b, sizeof b);
    printf("footprint:   %s, of which %s scratch\n", a, b);
    printf("chain:       %u dependent memory steps at most in one invocation\n", rep->serial_chain);
    if (pred->seconds > 0) {
        printf(
            "prediction:  %.1f us, %.2f of the copy bandwidth (%s: %.0f GB/s; %.1f us per dispatch assumed, "
            "not measured)\n",
            pred->seconds * 1e6, pred->fraction_of_copy, prof->name, prof->dram_bandwidth / 1e9, dispatch_us);
    } else if (prof) {
        printf("prediction:  none (%s: no source gives its memory bandwidth)\n", prof->name);
    }
}

static void print_json(const plan_probe* p, vkbn_plan plan, const vkbn_device_info* dev, const vkbn_profile_info* prof,
                       const vkbn_plan_report* rep, const plan_prediction* pred, float dispatch_us) {
    printf("{\n  \"device\": \"%s\",\n", dev->name);
    if (prof) printf("  \"profile\": \"%s\",\n", prof->name);
    printf("  \"op\": \"%s\",\n  \"shape\": [%u, %u", mode_names[p->op], p->tensor.n, p->tensor.c);
    for (uint32_t i = 0; i < p->tensor.spatial_rank; ++i) printf(", %u", p->tensor.spatial[i]);
    printf("],\n  \"layout\": \"%s\",\n  \"dtype\": \"%s\",\n  \"activation\": \"%s\",\n  \"residual\": %s,\n",
           cli_layout_name(p->tensor.layout), cli_dtype_name(p->tensor.dtype), activation_names[p->activation],
           p->residual ? "true" : "false");
    printf("  \"description\": \"%s\",\n", vkbn_plan_describe(plan));
    printf("  \"passes\": %u,\n  \"barriers\": %u,\n  \"dispatches\": [\n", rep->passes, rep->barriers);
    for (uint32_t i = 0; i < rep->dispatches; ++i) {
        vkbn_dispatch_report d;
        if (vkbn_plan_get_dispatch_report(plan, i, &d) != VKBN_SUCCESS) continue;
        printf(
            "    {\"kernel\": \"%s\", \"role\": \"%s\", \"workgroups\": [%u, %u, %u], \"workgroup_size\": %u, "
            "\"barrier_before\": %s, \"bytes_read\": %llu, \"bytes_written\": %llu, \"bytes_reread\": %llu, "
            "\"serial_chain\": %u}%s\n",
            d.kernel, role_names[d.role], d.workgroups[0], d.workgroups[1], d.workgroups[2], d.workgroup_size,
            d.barrier_before ? "true" : "false", (unsigned long long)d.bytes_read, (unsigned long long)d.bytes_written,
            (unsigned long long)d.bytes_reread, d.serial_chain, i + 1 < rep->dispatches ? "," : "");
    }
    printf("  ],\n  \"stream_workgroups_min\": %llu,\n  \"stream_workgroups_max\": %llu,\n",
           (unsigned long long)rep->stream_workgroups_min, (unsigned long long)rep->stream_workgroups_max);
    printf("  \"bytes_read\": %llu,\n  \"bytes_written\": %llu,\n  \"bytes_reread\": %llu,\n",
           (unsigned long long)rep->bytes_read, (unsigned long long)rep->bytes_written,
           (unsigned long long)rep->bytes_reread);
    printf("  \"serial_chain\": %u,\n  \"scratch_bytes\": %llu,\n  \"footprint_bytes\": %llu,\n", rep->serial_chain,
           (unsigned long long)rep->scratch_bytes, (unsigned long long)rep->footprint_bytes);
    printf("  \"effective_bytes\": %llu,\n  \"minimum_bytes\": %llu,\n  \"moved_bytes\": %llu,\n  \"fits_cache\": %s",
           (unsigned long long)plan_probe_effective_bytes(p), (unsigned long long)pred->minimum,
           (unsigned long long)pred->moved, pred->fits ? "true" : "false");
    if (pred->seconds > 0) {
        printf(
            ",\n  \"prediction\": {\"seconds\": %.9g, \"copy_seconds\": %.9g, \"fraction_of_copy\": %.4f, "
            "\"dispatch_us_assumed\": %.3g}",
            pred->seconds, pred->copy_seconds, pred->fraction_of_copy, dispatch_us);
    }
    printf("\n}\n");
}

static int run(int argc, char** argv) {
    cli_args a;
    int r = cli_parse(CMD, options, OPT_COUNT, argc, argv, &a);
    if (r == CLI_HELP) {
        cli_print_command_usage(&command_plan);
        return CLI_OK;
    }
    if (r != CLI_OK) return r;
    if (a.value[OPT_LIST]) return list_profiles();
    plan_probe p;
    float dispatch_us = 0;
    r = parse(&a, &p, &dispatch_us);
    if (r != CLI_OK) return r;

    vkbn_profile_info profile_storage;
    const vkbn_profile_info* prof = NULL;
    vkbn_context_desc desc;
    memset(&desc, 0, sizeof desc);
    if (a.value[OPT_PROFILE]) {
        prof = find_profile(a.value[OPT_PROFILE], &profile_storage);
        desc.profile = a.value[OPT_PROFILE];
    } else {
        desc.device = a.value[OPT_DEVICE];
    }
    vkbn_context ctx = NULL;
    vkbn_result vr = vkbn_context_create(&desc, &ctx);
    if (vr != VKBN_SUCCESS) return cli_api_error(CMD, vr);
    vkbn_device_info dev;
    vkbn_context_get_device_info(ctx, &dev);
    plan_probe_objects o;
    vr = plan_probe_build(ctx, &p, &o);
    if (vr != VKBN_SUCCESS) {
        r = cli_api_error(CMD, vr);
        vkbn_context_destroy(ctx);
        return r;
    }
    vkbn_plan_report rep;
    vr = vkbn_plan_get_report(o.plan, &rep);
    if (vr != VKBN_SUCCESS) {
        r = cli_api_error(CMD, vr);
    } else {
        plan_prediction pred;
        plan_probe_predict(&p, &rep, prof, dispatch_us * 1e-6, &pred);
        if (a.value[OPT_JSON]) {
            print_json(&p, o.plan, &dev, prof, &rep, &pred, dispatch_us);
        } else {
            print_text(&p, o.plan, &dev, prof, &rep, &pred, dispatch_us);
        }
        r = CLI_OK;
    }
    plan_probe_release(&o);
    vkbn_context_destroy(ctx);
    return r;
}

const cli_command command_plan = {
    "plan",
    "Show the plan vkbn makes for an op on a device or a device profile: dispatches, bytes, chain. Runs nothing.",
    "A device profile is a real GPU's properties with their sources (vkbn plan --profiles): the\n"
    "planner runs on them as on the GPU itself. Example:\n"
    "  vkbn plan --profile h100 --mode train --layout nhwc --shape 32x64x112x112 --json\n"
    "Bytes are the worst case (nothing cached between dispatches); with a profile's last-level cache\n"
    "holding the op, re-reads are taken as cache hits. Predictions use the profile's bandwidth and an\n"
    "assumed cost per dispatch (--dispatch-us), and are not measurements.",
    options,
    OPT_COUNT,
    run,
};
