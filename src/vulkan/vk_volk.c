/* volk's implementation, compiled with every global it defines renamed to
 * vkbn_volk_* (cmake/VolkPrivate.cmake explains why). */
#include "vkbn_volk.h"

#include <volk.c>
