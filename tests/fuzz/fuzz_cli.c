/* Fuzz target: the `vkbn` tool's argument parsing and `run` / `plan` end to
 * end on the CPU path, with fuzzed .npy files.
 *
 * The input is text: one argument per line, then, after a line "%%", up to
 * three files separated by lines "%%". The first argument picks the command
 * (run or plan; anything else is taken as run). Whatever follows a
 * file-taking option (--x, --dy, --weight, ...) names one of the files: its
 * first character, '0' to '2', picks which (any other picks the first); the
 * value of --out is always a scratch directory, so nothing outside it is
 * written. No Vulkan driver is visible (the loader is pointed at none), so
 * every run is on vkbn's CPU path.
 *
 * Checked: no crash, leak or undefined behaviour (ASan, UBSan), and the
 * exit code is one the tool documents (0, 1 or 2). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

#define MAX_ARGS 48
#define MAX_FILES 3

static char g_dir[64];
static char g_files[MAX_FILES][96];
static char g_out[96];

int setenv(const char* name, const char* value, int overwrite);

/* The scratch directory goes at exit (the tool writes its outputs there). */
static void remove_scratch(void) {
    for (int i = 0; i < MAX_FILES; ++i) remove(g_files[i]);
    static const char* const outputs[] = {"y.npy",           "save_mean.npy", "save_invstd.npy", "running_mean.npy",
                                          "running_var.npy", "dx.npy",        "dweight.npy",     "dbias.npy",
                                          "dresidual.npy"};
    char path[160];
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; ++i) {
        snprintf(path, sizeof path, "%s/%s", g_out, outputs[i]);
        remove(path);
    }
    remove(g_out);
    remove(g_dir);
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
    (void)argc, (void)argv;
    setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
    snprintf(g_dir, sizeof g_dir, "/tmp/vkbn-fuzz-cli-XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    for (int i = 0; i < MAX_FILES; ++i) snprintf(g_files[i], sizeof g_files[i], "%s/in%d.npy", g_dir, i);
    snprintf(g_out, sizeof g_out, "%s/out", g_dir);
    atexit(remove_scratch);
    /* The tool's own output is not what is tested. Its one-line errors go
     * to stderr with libFuzzer's and the sanitizers' reports (run.sh keeps
     * the end of it). */
    if (!freopen("/dev/null", "w", stdout)) abort();
    return 0;
}

/* Whether the command's option takes a file: its metavar names a .npy (the
 * tool's own option table says so; --out takes a directory). */
static int takes_file(const cli_command* command, const char* option) {
    for (size_t i = 0; i < command->option_count; ++i) {
        const cli_option* o = &command->options[i];
        if (strcmp(o->name, option) == 0) return o->metavar && strstr(o->metavar, ".npy") != NULL;
    }
    return 0;
}

static void write_file(const char* path, const uint8_t* data, size_t size) {
    FILE* f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

/* "--name=value" is split in two, so that its value is replaced like any other. */
static int push(char** argv, int argc, const char* start, size_t len) {
    if (argc >= MAX_ARGS - 1) return argc;
    char* a = malloc(len + 1);
    memcpy(a, start, len);
    a[len] = '\0';
    char* eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    if (eq && argc < MAX_ARGS - 2) {
        *eq = '\0';
        argv[argc++] = a;
        size_t vlen = strlen(eq + 1);
        char* v = malloc(vlen + 1);
        memcpy(v, eq + 1, vlen + 1);
        argv[argc++] = v;
        return argc;
    }
    argv[argc++] = a;
    return argc;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char* argv[MAX_ARGS];
    int argc = 0;
    size_t i = 0;
    /* Arguments, one per line, up to "%%". */
    while (i < size) {
        size_t end = i;
        while (end < size && data[end] != '\n') ++end;
        if (end - i == 2 && data[i] == '%' && data[i + 1] == '%') {
            i = end + 1;
            break;
        }
        argc = push(argv, argc, (const char*)data + i, end - i);
        i = end + 1;
    }
    /* The files. */
    int files = 0;
    while (files < MAX_FILES) {
        size_t start = i < size ? i : size, end = start;
        while (end < size && !(end + 3 <= size && data[end] == '\n' && data[end + 1] == '%' && data[end + 2] == '%'))
            ++end;
        write_file(g_files[files++], data + start, end - start);
        if (end >= size) break;
        i = end + 4; /* past "\n%%\n" */
    }
    for (int f = files; f < MAX_FILES; ++f) remove(g_files[f]);
    const cli_command* command = argc > 0 && strcmp(argv[0], "plan") == 0 ? &command_plan : &command_run;
    /* File options name the files; --out names the scratch directory. */
    for (int k = 1; k < argc; ++k) {
        if (strcmp(argv[k - 1], "--out") == 0) {
            free(argv[k]);
            argv[k] = strdup(g_out);
        } else if (takes_file(command, argv[k - 1])) {
            int which = argv[k][0] >= '0' && argv[k][0] < '0' + MAX_FILES ? argv[k][0] - '0' : 0;
            free(argv[k]);
            argv[k] = strdup(g_files[which]);
        }
    }
    char name[] = "run";
    char* args[MAX_ARGS + 1];
    args[0] = argc > 0 ? argv[0] : name;
    for (int k = 1; k < argc; ++k) args[k] = argv[k];
    int nargs = argc > 0 ? argc : 1;
    args[nargs] = NULL;
    int rc = command->run(nargs, args);
    for (int k = 0; k < argc; ++k) free(argv[k]);
    if (rc != CLI_OK && rc != CLI_FAILED && rc != CLI_USAGE && rc != CLI_HELP) abort();
    return 0;
}
