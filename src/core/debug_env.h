/* The debugging switches: the only environment variables vkbn reads. Each is
 * documented for users (README.md, "Debugging switches"; include/vkbn/vkbn.h
 * next to the flag or field it stands in for), so that an application can be
 * debugged without recompiling it. They are read here and nowhere else; the
 * backends call these functions.
 *
 *   VKBN_VALIDATION=1   as if every context vkbn creates its own instance for
 *                       had VKBN_CONTEXT_ENABLE_VALIDATION
 *   VKBN_CPU_ISA=level  the CPU path's instruction set when
 *                       vkbn_context_desc.cpu_isa is AUTO
 *
 * Switches that exist only for vkbn's own tests are not environment
 * variables: see test_hooks.h. */
#ifndef VKBN_DEBUG_ENV_H_
#define VKBN_DEBUG_ENV_H_

#include <stdbool.h>

#define VKBN__ENV_VALIDATION "VKBN_VALIDATION"
#define VKBN__ENV_CPU_ISA "VKBN_CPU_ISA"

/* VKBN_VALIDATION is set, non-empty and not "0". */
bool vkbn__debug_validation(void);
/* VKBN_CPU_ISA's value, or NULL when unset or empty. */
const char* vkbn__debug_cpu_isa(void);

#endif
