#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

#include "platform.h"

static VKBN_THREAD_LOCAL char tls_message[512];

const char* vkbn_last_error(void) { return tls_message; }

vkbn_result vkbn_set_last_error(vkbn_result result, const char* message) {
    return vkbn__fail(result, "%s", message ? message : "");
}

vkbn_result vkbn__fail(vkbn_result code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    return code;
}

const char* vkbn_result_string(vkbn_result result) {
    switch (result) {
#define NAME(x) \
    case x: return #x;
        NAME(VKBN_SUCCESS)
        NAME(VKBN_ERROR_NULL_ARGUMENT)
        NAME(VKBN_ERROR_INVALID_ARGUMENT)
        NAME(VKBN_ERROR_INVALID_SHAPE)
        NAME(VKBN_ERROR_SHAPE_MISMATCH)
        NAME(VKBN_ERROR_BUFFER_TOO_SMALL)
        NAME(VKBN_ERROR_INVALID_EPS)
        NAME(VKBN_ERROR_INVALID_MOMENTUM)
        NAME(VKBN_ERROR_TOO_FEW_VALUES)
        NAME(VKBN_ERROR_UNSUPPORTED_DTYPE)
        NAME(VKBN_ERROR_TOO_LARGE)
        NAME(VKBN_ERROR_ALIASING)
        NAME(VKBN_ERROR_MISALIGNED)
        NAME(VKBN_ERROR_WRONG_CONTEXT)
        NAME(VKBN_ERROR_NO_DEVICE)
        NAME(VKBN_ERROR_DEVICE_NOT_FOUND)
        NAME(VKBN_ERROR_UNSUPPORTED_DEVICE)
        NAME(VKBN_ERROR_OUT_OF_HOST_MEMORY)
        NAME(VKBN_ERROR_OUT_OF_DEVICE_MEMORY)
        NAME(VKBN_ERROR_DEVICE_LOST)
        NAME(VKBN_ERROR_VULKAN)
        NAME(VKBN_ERROR_UNSUPPORTED)
#undef NAME
    }
    return "VKBN_ERROR_UNKNOWN";
}

const char* vkbn__vk_result_name(VkResult vr) {
    switch (vr) {
#define NAME(x) \
    case x: return #x;
        NAME(VK_SUCCESS)
        NAME(VK_NOT_READY)
        NAME(VK_TIMEOUT)
        NAME(VK_INCOMPLETE)
        NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
        NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        NAME(VK_ERROR_INITIALIZATION_FAILED)
        NAME(VK_ERROR_DEVICE_LOST)
        NAME(VK_ERROR_MEMORY_MAP_FAILED)
        NAME(VK_ERROR_LAYER_NOT_PRESENT)
        NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
        NAME(VK_ERROR_FEATURE_NOT_PRESENT)
        NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
        NAME(VK_ERROR_TOO_MANY_OBJECTS)
        NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
        NAME(VK_ERROR_FRAGMENTED_POOL)
        NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
        NAME(VK_ERROR_INVALID_EXTERNAL_HANDLE)
#undef NAME
        default: return "VkResult(other)";
    }
}

vkbn_result vkbn__fail_vk(VkResult vr, const char* what) {
    vkbn_result code = VKBN_ERROR_VULKAN;
    switch (vr) {
        case VK_ERROR_OUT_OF_HOST_MEMORY: code = VKBN_ERROR_OUT_OF_HOST_MEMORY; break;
        case VK_ERROR_OUT_OF_DEVICE_MEMORY: code = VKBN_ERROR_OUT_OF_DEVICE_MEMORY; break;
        case VK_ERROR_DEVICE_LOST: code = VKBN_ERROR_DEVICE_LOST; break;
        default: break;
    }
    return vkbn__fail(code, "%s: %s (%d)", what, vkbn__vk_result_name(vr), (int)vr);
}
