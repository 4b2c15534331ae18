/* The debugging switches (debug_env.h): the one place vkbn reads its
 * environment. */
#include "debug_env.h"

#include <stdlib.h>
#include <string.h>

bool vkbn__debug_validation(void) {
    const char* v = getenv(VKBN__ENV_VALIDATION);
    return v && *v && strcmp(v, "0") != 0;
}

const char* vkbn__debug_cpu_isa(void) {
    const char* v = getenv(VKBN__ENV_CPU_ISA);
    return v && *v ? v : NULL;
}
