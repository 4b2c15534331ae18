/* `vkbn devices`: what vkbn_enumerate_devices reports, one block per device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* VkSubgroupFeatureFlagBits, in bit order. */
static const char* const subgroup_operation_names[] = {
    "basic", "vote", "arithmetic", "ballot", "shuffle", "shuffle_relative", "clustered", "quad",
};

/* Prints one "  label   value" line with the labels aligned. */
static void field(const char* label, const char* value) { printf("  %-26s %s\n", label, value); }

static void decode_subgroup_operations(uint32_t bits, char* out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof subgroup_operation_names / sizeof subgroup_operation_names[0]; ++i) {
        if (!(bits & (1u << i))) continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? " " : "", subgroup_operation_names[i]);
        if (n < 0 || (size_t)n >= size - used) return;
        used += (size_t)n;
    }
    uint32_t unknown = bits & ~((1u << 8) - 1u);
    if (unknown) snprintf(out + used, size - used, "%s(other bits 0x%x)", used ? " " : "", unknown);
    if (bits == 0) snprintf(out, size, "none");
}

static void print_subgroups(const vkbn_device_info* d) {
    char text[256];
    if (d->subgroup_size_control && d->min_subgroup_size != d->max_subgroup_size) {
        snprintf(text, sizeof text, "%u (%u..%u with size control)", d->subgroup_size, d->min_subgroup_size,
                 d->max_subgroup_size);
    } else if (d->subgroup_size_control) {
        snprintf(text, sizeof text, "%u (fixed, with size control)", d->subgroup_size);
    } else {
        snprintf(text, sizeof text, "%u (no size control)", d->subgroup_size);
    }
    field("subgroup size", text);
    decode_subgroup_operations(d->subgroup_operations, text, sizeof text);
    field("subgroup operations", text);
}

static void print_vulkan_fields(const vkbn_device_info* d) {
    char text[600];
    snprintf(text, sizeof text, "%s%s%s", d->driver_name[0] ? d->driver_name : "(not reported)",
             d->driver_info[0] ? ", " : "", d->driver_info);
    field("driver", text);
    snprintf(text, sizeof text, "%u.%u.%u", VK_API_VERSION_MAJOR(d->api_version), VK_API_VERSION_MINOR(d->api_version),
             VK_API_VERSION_PATCH(d->api_version));
    field("Vulkan API", text);
    print_subgroups(d);
    field("16-bit storage (f16)", d->storage_16bit ? "yes" : "no");
    if (d->timestamps) {
        snprintf(text, sizeof text, "yes (period %g ns)", d->timestamp_period_ns);
        field("timestamps", text);
    } else {
        field("timestamps", "no");
    }
    cli_format_bytes(d->device_local_memory, text, sizeof text);
    field("device-local memory", text);
    char human[64];
    cli_format_bytes(d->max_storage_buffer_range, human, sizeof human);
    snprintf(text, sizeof text, "%s (%llu bytes)", human, (unsigned long long)d->max_storage_buffer_range);
    field("max storage buffer range", text);
}

static void print_cpu_fields(const vkbn_device_info* d) {
    char text[64];
    snprintf(text, sizeof text, "%u", d->cpu_threads);
    field("threads", text);
    field("SIMD", d->cpu_simd[0] ? d->cpu_simd : "(not reported)");
}

/* The tensor element types the device runs: bf16 everywhere (it needs no
 * 16-bit storage), f16 only with 16-bit storage. */
static void print_dtypes(const vkbn_device_info* d) {
    field("element types", d->storage_16bit ? "f32 f16 bf16" : "f32 bf16 (f16 needs 16-bit storage)");
}

static void print_device(const vkbn_device_info* d) {
    printf("device %u%s: %s\n", d->index, d->is_default ? " (default)" : "", d->name);
    field("type", cli_device_type_name(d->type));
    char text[64];
    snprintf(text, sizeof text, "%s (0x%04x)", d->vendor[0] ? d->vendor : "unknown", d->vendor_id);
    field("vendor", text);
    if (d->backend == VKBN_BACKEND_CPU) {
        print_cpu_fields(d);
    } else {
        print_vulkan_fields(d);
    }
    print_dtypes(d);
}

static int cmd_devices(int argc, char** argv) {
    cli_args args;
    int r = cli_parse("devices", NULL, 0, argc, argv, &args);
    if (r == CLI_HELP) {
        cli_print_command_usage(&command_devices);
        return CLI_OK;
    }
    if (r != CLI_OK) return r;

    uint32_t count = 0;
    vkbn_result vr = vkbn_enumerate_devices(&count, NULL);
    if (vr != VKBN_SUCCESS) return cli_api_error("devices", vr);
    if (count == 0) {
        printf("no device found: no Vulkan loader, or no Vulkan driver that exposes a device\n");
        return CLI_OK;
    }
    vkbn_device_info* infos = calloc(count, sizeof *infos);
    if (!infos) return cli_error("devices", CLI_FAILED, "out of memory listing %u devices", count);
    vr = vkbn_enumerate_devices(&count, infos);
    if (vr != VKBN_SUCCESS) {
        free(infos);
        return cli_api_error("devices", vr);
    }
    for (uint32_t i = 0; i < count; ++i) {
        if (i > 0) printf("\n");
        print_device(&infos[i]);
    }
    free(infos);
    return CLI_OK;
}

const cli_command command_devices = {
    .name = "devices",
    .summary = "List the devices vkbn can run on, with the features it uses.",
    .details = "The index or a part of the name selects a device in 'run' and 'check' (--device).\n",
    .options = NULL,
    .option_count = 0,
    .run = cmd_devices,
};
