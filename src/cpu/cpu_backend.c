/* The CPU path's table (core/backend.h): how core reaches everything in this
 * folder. The CPU path takes no caller scratch, records into no command
 * buffer and has no pipelines: those entries are NULL. */
#include "../core/backend.h"
#include "../core/errors.h"
#include "cpu_internal.h"

static vkbn_result list_devices(vkbn_device_info** out, uint32_t* count) {
    *count = 0;
    *out = vkbn__calloc(1, sizeof **out);
    if (!*out) return vkbn__fail(VKBN_ERROR_OUT_OF_HOST_MEMORY, "vkbn_enumerate_devices: out of host memory");
    vkbn__cpu_describe_default(*out);
    (*out)->is_default = 1; /* this backend's own best: core picks the list's default */
    *count = 1;
    return VKBN_SUCCESS;
}

static vkbn_result context_create(vkbn_context ctx, const vkbn_context_desc* desc, vkbn__device_request* req) {
    /* One device: index 0, or the best when its rank is in the range asked. */
    req->listed = 1;
    int rank = vkbn__device_rank(VKBN_DEVICE_TYPE_NATIVE_CPU);
    if (!req->device && (rank < req->min_rank || rank > req->max_rank)) {
        return vkbn__fail(VKBN_ERROR_NO_DEVICE, "the CPU path ranks outside %d to %d", req->min_rank, req->max_rank);
    }
    return vkbn__cpu_context_create(ctx, desc);
}

const vkbn__backend vkbn__cpu_backend = {
    .name = "CPU",
    .list_devices = list_devices,
    .claims = vkbn__cpu_device_matches,
    .device_types = 1u << VKBN_DEVICE_TYPE_NATIVE_CPU,
    .context_create = context_create,
    .context_destroy = vkbn__cpu_context_destroy,
    .accepts_borrowed = false,
    .buffer_create = vkbn__cpu_buffer_create,
    .buffer_destroy = vkbn__cpu_buffer_destroy,
    .buffer_upload = vkbn__cpu_buffer_upload,
    .buffer_download = vkbn__cpu_buffer_download,
    .buffer_wrap = NULL,
    .plan_build = vkbn__cpu_plan_build,
    .plan_measure_scratch = NULL,
    .plan_execute = vkbn__cpu_plan_execute,
    .plan_record = NULL,
    .plan_destroy = vkbn__cpu_plan_destroy,
    .uses_subgroups = NULL,
    .validation_message_count = NULL,
    .pipeline_stats = NULL,
    .save_pipeline_cache = NULL,
};
