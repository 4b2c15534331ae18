/* `vkbn`: the command-line tool. Picks the command and hands it argv. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const cli_command* const commands[] = {&command_devices, &command_run, &command_check, &command_plan};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const cli_command* find_command(const char* name) {
    for (size_t i = 0; i < COMMAND_COUNT; ++i) {
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    }
    return NULL;
}

static void print_options(const cli_command* c) {
    for (size_t i = 0; i < c->option_count; ++i) {
        const cli_option* o = &c->options[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("        %-26s %s\n", left, o->help);
    }
}

static void print_usage(void) {
    printf("vkbn %d.%d.%d: batch normalization on any Vulkan device\n\n", VKBN_VERSION_MAJOR, VKBN_VERSION_MINOR,
           VKBN_VERSION_PATCH);
    printf("usage: vkbn <command> [options]\n\n");
    printf("commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; ++i) {
        printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
        print_options(commands[i]);
        printf("\n");
    }
    printf("  %-10s %s\n", "help", "This text, or 'vkbn help <command>' for one command in detail.");
    printf("  %-10s %s\n\n", "--version", "Print the version.");
    printf("exit codes: 0 success, 1 failure at run time or a failed check, 2 usage or input error.\n");
}

static int help_command(int argc, char** argv) {
    if (argc < 2) {
        print_usage();
        return CLI_OK;
    }
    if (argc > 2) return cli_error("help", CLI_USAGE, "unexpected argument '%s'", argv[2]);
    const cli_command* c = find_command(argv[1]);
    if (!c) return cli_error("help", CLI_USAGE, "unknown command '%s' (commands: devices, run, check, plan)", argv[1]);
    cli_print_command_usage(c);
    return CLI_OK;
}

int main(int argc, char** argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_usage();
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vkbn %d.%d.%d\n", VKBN_VERSION_MAJOR, VKBN_VERSION_MINOR, VKBN_VERSION_PATCH);
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0) return help_command(argc - 1, argv + 1);
    const cli_command* c = find_command(argv[1]);
    if (!c) {
        return cli_error(NULL, CLI_USAGE,
                         "unknown command '%s' (commands: devices, run, check, plan; see 'vkbn --help')", argv[1]);
    }
    return c->run(argc - 1, argv + 1);
}
