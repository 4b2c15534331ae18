/* Error reporting: a result code plus a thread-local message naming the argument. */
#ifndef VKBN_ERRORS_H_
#define VKBN_ERRORS_H_

#include "vkbn/vkbn.h"

#if defined(__GNUC__)
#define VKBN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VKBN_PRINTF(a, b)
/* A required pointer argument: fails with VKBN_ERROR_NULL_ARGUMENT naming it. */
#define VKBN_REQUIRE(ptr, name)                                                                  \
    do {                                                                                         \
        if (!(ptr)) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s: required, got NULL", name); \
    } while (0)

#endif

/* Records the message for vkbn_last_error() on this thread and returns code. */
vkbn_result vkbn__fail(vkbn_result code, const char* fmt, ...) VKBN_PRINTF(2, 3);
/* Maps a failed VkResult to a vkbn code with a message "what: VK_ERROR_...". */
vkbn_result vkbn__fail_vk(VkResult vr, const char* what);
const char* vkbn__vk_result_name(VkResult vr);

#define VKBN_CHECK(expr)                               \
    do {                                               \
        vkbn_result vkbn__r_ = (expr);                 \
        if (vkbn__r_ != VKBN_SUCCESS) return vkbn__r_; \
    } while (0)

/* A required pointer argument: fails with VKBN_ERROR_NULL_ARGUMENT naming it. */
#define VKBN_REQUIRE(ptr, name)                                                                  \
    do {                                                                                         \
        if (!(ptr)) return vkbn__fail(VKBN_ERROR_NULL_ARGUMENT, "%s: required, got NULL", name); \
    } while (0)

#endif
