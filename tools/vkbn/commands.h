/* The commands of the `vkbn` tool. Each one parses its own options from
 * argv (argv[0] is the command's name) and returns the process exit code. */
#ifndef VKBN_TOOLS_COMMANDS_H_
#define VKBN_TOOLS_COMMANDS_H_

#include "cli.h"

extern const cli_command command_devices; /* cmd_devices.c */
extern const cli_command command_run;     /* cmd_run.c */
extern const cli_command command_check;   /* cmd_check.c */
extern const cli_command command_plan;    /* cmd_plan.c */

#endif
