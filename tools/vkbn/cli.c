#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(const char* command, int code, const char* fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char* p = msg; *p; ++p) {
        if (*p == '\n' || *p == '\r') *p = ' ';
    }
    if (command) {
        fprintf(stderr, "vkbn %s: %s\n", command, msg);
    } else {
        fprintf(stderr, "vkbn: %s\n", msg);
    }
    return code;
}

int cli_exit_code(vkbn_result result) {
    switch (result) {
        case VKBN_SUCCESS: return CLI_OK;
        case VKBN_ERROR_INVALID_ARGUMENT:
        case VKBN_ERROR_INVALID_SHAPE:
        case VKBN_ERROR_SHAPE_MISMATCH:
        case VKBN_ERROR_INVALID_EPS:
        case VKBN_ERROR_INVALID_MOMENTUM:
        case VKBN_ERROR_TOO_FEW_VALUES:
        case VKBN_ERROR_DEVICE_NOT_FOUND: return CLI_USAGE;
        default:
            /* The device or the system is at fault (no device, memory, driver,
             * a device limit or feature), or the tool itself is (null handles,
             * buffer sizes, aliasing): not something the user typed. */
            return CLI_FAILED;
    }
}

int cli_api_error(const char* command, vkbn_result result) {
    const char* message = vkbn_last_error();
    if (message[0] == '\0') message = "the call failed without a message";
    return cli_error(command, cli_exit_code(result), "%s (%s)", message, vkbn_result_string(result));
}

static int find_option(const cli_option* options, size_t count, const char* name, size_t name_len) {
    for (size_t i = 0; i < count; ++i) {
        if (strlen(options[i].name) == name_len && strncmp(options[i].name, name, name_len) == 0) return (int)i;
    }
    return -1;
}

static int is_known_option(const cli_option* options, size_t count, const char* arg) {
    const char* eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    return find_option(options, count, arg, len) >= 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Parses the option at argv[*i] (advancing *i past a separate value). */
static int parse_one(const char* command, const cli_option* options, size_t count, int argc, char** argv, int* i,
                     cli_args* out) {
    const char* arg = argv[*i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return CLI_HELP;
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
        return cli_error(command, CLI_USAGE, "unexpected argument '%s' (options start with --; see 'vkbn help %s')",
                         arg, command);
    }
    const char* eq = strchr(arg, '=');
    size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
    int k = find_option(options, count, arg, name_len);
    if (k < 0) {
        return cli_error(command, CLI_USAGE, "unknown option '%.*s' (see 'vkbn help %s')", (int)name_len, arg, command);
    }
    const cli_option* opt = &options[k];
    const char* value = "";
    if (opt->metavar == NULL) {
        if (eq) return cli_error(command, CLI_USAGE, "%s takes no value, got '%s'", opt->name, eq + 1);
    } else if (eq) {
        value = eq + 1;
    } else if (*i + 1 < argc && !is_known_option(options, count, argv[*i + 1])) {
        value = argv[++*i];
    } else {
        return cli_error(command, CLI_USAGE, "%s needs a value (%s %s)", opt->name, opt->name, opt->metavar);
    }
    if (opt->metavar != NULL && value[0] == '\0') {
        return cli_error(command, CLI_USAGE, "%s: empty value, expected %s", opt->name, opt->metavar);
    }
    if (out->value[k] != NULL) return cli_error(command, CLI_USAGE, "%s given twice", opt->name);
    out->value[k] = value;
    return CLI_OK;
}

int cli_parse(const char* command, const cli_option* options, size_t count, int argc, char** argv, cli_args* out) {
    memset(out, 0, sizeof *out);
    if (count > CLI_MAX_OPTIONS) return cli_error(command, CLI_FAILED, "internal error: too many options");
    for (int i = 1; i < argc; ++i) {
        int r = parse_one(command, options, count, argc, argv, &i, out);
        if (r != CLI_OK) return r;
    }
    return CLI_OK;
}

void cli_print_command_usage(const cli_command* command) {
    printf("usage: vkbn %s%s\n\n%s\n", command->name, command->option_count ? " [options]" : "", command->summary);
    if (command->option_count > 0) printf("\noptions:\n");
    for (size_t i = 0; i < command->option_count; ++i) {
        const cli_option* o = &command->options[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-26s %s\n", left, o->help);
    }
    if (command->details) printf("\n%s", command->details);
}

static int number_text_ok(const char* text) { return text[0] != '\0' && !isspace((unsigned char)text[0]); }

int cli_parse_float(const char* command, const char* option, const char* text, float* out) {
    char* end = NULL;
    errno = 0;
    double v = number_text_ok(text) ? strtod(text, &end) : 0.0;
    if (!number_text_ok(text) || end == text || *end != '\0') {
        return cli_error(command, CLI_USAGE, "%s: expected a number, got '%s'", option, text);
    }
    /* Overflow only: a value too small for a float rounds to 0 or a subnormal. */
    if (isfinite(v) ? fabs(v) > 3.4028234663852886e38 : errno == ERANGE) {
        return cli_error(command, CLI_USAGE, "%s: '%s' does not fit a 32-bit float", option, text);
    }
    *out = (float)v;
    return CLI_OK;
}

int cli_parse_u64(const char* command, const char* option, const char* text, uint64_t* out) {
    int digits = text[0] != '\0';
    for (const char* p = text; *p; ++p) digits &= isdigit((unsigned char)*p) != 0;
    if (!digits) return cli_error(command, CLI_USAGE, "%s: expected a whole number >= 0, got '%s'", option, text);
    errno = 0;
    unsigned long long v = strtoull(text, NULL, 10);
    if (errno == ERANGE || v > UINT64_MAX) {
        return cli_error(command, CLI_USAGE, "%s: '%s' is too large (at most %llu)", option, text,
                         (unsigned long long)UINT64_MAX);
    }
    *out = (uint64_t)v;
    return CLI_OK;
}

static const vkbn_dtype dtypes[] = {VKBN_DTYPE_F32, VKBN_DTYPE_F16, VKBN_DTYPE_BF16};

int cli_parse_dtype(const char* command, const char* option, const char* text, vkbn_dtype* out) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; ++i) {
        if (strcmp(text, cli_dtype_name(dtypes[i])) == 0) {
            *out = dtypes[i];
            return CLI_OK;
        }
    }
    return cli_error(command, CLI_USAGE, "%s: expected f32, f16 or bf16, got '%s'", option, text);
}

const char* cli_layout_name(vkbn_layout layout) { return layout == VKBN_LAYOUT_CHANNELS_LAST ? "nhwc" : "nchw"; }

const char* cli_dtype_name(vkbn_dtype dtype) {
    switch (dtype) {
        case VKBN_DTYPE_F16: return "f16";
        case VKBN_DTYPE_BF16: return "bf16";
        case VKBN_DTYPE_F32: break;
    }
    return "f32";
}

const char* cli_device_type_name(vkbn_device_type type) {
    switch (type) {
        case VKBN_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
        case VKBN_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
        case VKBN_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
        case VKBN_DEVICE_TYPE_VULKAN_CPU: return "CPU (Vulkan driver)";
        case VKBN_DEVICE_TYPE_NATIVE_CPU: return "CPU (vkbn's own path)";
        case VKBN_DEVICE_TYPE_OTHER: break;
    }
    return "other";
}

void cli_format_bytes(uint64_t bytes, char* out, size_t size) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        ++u;
    }
    if (u == 0) {
        snprintf(out, size, "%llu B", (unsigned long long)bytes);
    } else if (v == floor(v)) {
        snprintf(out, size, "%.0f %s", v, units[u]);
    } else {
        snprintf(out, size, "%.1f %s", v, units[u]);
    }
}
