/* The run-time version query (vkbn.h, beside the VKBN_VERSION macros): what
 * the library binary was built from, for callers that load it as a shared
 * library and want to know whether it matches the header they compiled. */
#include "vkbn/vkbn.h"

#define VKBN_STRINGIFY_(x) #x
#define VKBN_STRINGIFY(x) VKBN_STRINGIFY_(x)

uint32_t vkbn_version(void) { return VKBN_VERSION; }

const char* vkbn_version_string(void) {
    return VKBN_STRINGIFY(VKBN_VERSION_MAJOR) "." VKBN_STRINGIFY(VKBN_VERSION_MINOR) "." VKBN_STRINGIFY(
        VKBN_VERSION_PATCH);
}
