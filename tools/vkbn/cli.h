/* Helpers shared by the commands of the `vkbn` tool: exit codes, one-line
 * errors, a table-driven option parser, number parsing and the names of the
 * library's enums. */
#ifndef VKBN_TOOLS_CLI_H_
#define VKBN_TOOLS_CLI_H_

#include <stddef.h>
#include <stdint.h>

#include "vkbn/vkbn.h"

/* Exit codes of every command. */
enum {
    CLI_OK = 0,     /* success */
    CLI_FAILED = 1, /* failure at run time (device, driver, memory) or a check that failed */
    CLI_USAGE = 2   /* usage or input error */
};

/* cli_parse's extra result: the command's --help was asked for. */
#define CLI_HELP (-1)

/* One option of a command. */
typedef struct cli_option {
    const char* name;    /* "--x" */
    const char* metavar; /* "X.npy"; NULL for a flag that takes no value */
    const char* help;    /* one line for the usage text */
} cli_option;

/* A command: its name, its one-line summary, more text for its own help
 * (NULL: none), its options and its entry point (argv[0] is the command's
 * name). */
typedef struct cli_command {
    const char* name;
    const char* summary;
    const char* details;
    const cli_option* options;
    size_t option_count;
    int (*run)(int argc, char** argv);
} cli_command;

#define CLI_MAX_OPTIONS 32

/* The parsed options, indexed like the command's option table: the value of
 * an option, "" for a flag that was given, NULL for an option not given. */
typedef struct cli_args {
    const char* value[CLI_MAX_OPTIONS];
} cli_args;

/* Prints "vkbn <command>: <message>" as one line on stderr (newlines in the
 * message become spaces) and returns `code`. command NULL prints "vkbn: ". */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int cli_error(const char* command, int code, const char* fmt, ...);

/* Reports a failed vkbn call: "vkbn <command>: <vkbn_last_error()>
 * (<vkbn_result_string>)", and returns the exit code cli_exit_code gives. */
int cli_api_error(const char* command, vkbn_result result);

/* The exit code for a failed vkbn call: CLI_USAGE when the user's input is at
 * fault (an argument, a shape, a device name), CLI_FAILED when the device or
 * the system is (memory, driver, a device that lacks a feature). */
int cli_exit_code(vkbn_result result);

/* Parses argv[1..argc) (argv[0] is the command) against the option table:
 * "--name value" or "--name=value", each option at most once, no positional
 * arguments. Returns CLI_OK, CLI_HELP for -h/--help, or CLI_USAGE after
 * printing the error. */
int cli_parse(const char* command, const cli_option* options, size_t count, int argc, char** argv, cli_args* out);

/* Prints the command's usage with its option table to stdout. */
void cli_print_command_usage(const cli_command* command);

/* Number parsing: the whole text must be the number. On error they print a
 * message naming `option` and return CLI_USAGE; otherwise CLI_OK. */
int cli_parse_float(const char* command, const char* option, const char* text, float* out);
int cli_parse_u64(const char* command, const char* option, const char* text, uint64_t* out);
/* An element type: "f32", "f16" or "bf16". */
int cli_parse_dtype(const char* command, const char* option, const char* text, vkbn_dtype* out);

/* Names of the library's enums. */
const char* cli_layout_name(vkbn_layout layout); /* "nchw", "nhwc" */
const char* cli_dtype_name(vkbn_dtype dtype);    /* "f32", "f16", "bf16" */
const char* cli_device_type_name(vkbn_device_type type);

/* "1.5 GiB", "512 MiB", "12 KiB", "100 B". */
void cli_format_bytes(uint64_t bytes, char* out, size_t size);

#endif
