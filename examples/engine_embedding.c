/* vkbn inside an engine.
 *
 * The "engine" here owns everything, as a game engine or inference runtime
 * would: the VkInstance, the VkDevice (created with what
 * vkbn_vulkan_get_requirements asks for), the queue, its own memory (one big
 * device buffer holding every tensor at its own offset, plus a staging
 * buffer), and the command buffer. vkbn borrows the device, wraps the
 * engine's buffer, takes its scratch memory from the engine, and records its
 * work between the engine's own commands:
 *
 *   copy inputs in (engine) -> clear y (engine) -> forward training (vkbn)
 *   -> forward inference with the running statistics training just updated
 *   (vkbn) -> copy results out (engine)
 *
 * all in one command buffer, submitted once. The results are checked against
 * the fp64 reference. With the Khronos validation layer installed, it runs
 * with synchronization validation on and fails on any message.
 *
 *   engine_embedding            runs, prints what it did, exits 0 when correct */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vulkan/vulkan.h> /* the engine calls the loader directly */

#include "vkbn/vkbn.h"
#include "reference.h" /* vkbn's fp64 test reference (testing/) */

#define CHECK_VK(call)                                                    \
    do {                                                                  \
        VkResult vr_ = (call);                                            \
        if (vr_ != VK_SUCCESS) {                                          \
            fprintf(stderr, "engine: %s failed (%d)\n", #call, (int)vr_); \
            exit(1);                                                      \
        }                                                                 \
    } while (0)
#define CHECK_BN(call)                                                                                \
    do {                                                                                              \
        vkbn_result r_ = (call);                                                                      \
        if (r_ != VKBN_SUCCESS) {                                                                     \
            fprintf(stderr, "vkbn: %s: %s (%s)\n", #call, vkbn_last_error(), vkbn_result_string(r_)); \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

static unsigned validation_messages;

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                 VkDebugUtilsMessageTypeFlagsEXT types,
                                                 const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    (void)types;
    (void)user;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        ++validation_messages;
        fprintf(stderr, "validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static int has_validation_layer(void) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties layers[64];
    if (n > 64) n = 64;
    vkEnumerateInstanceLayerProperties(&n, layers);
    for (uint32_t i = 0; i < n; ++i) {
        if (strcmp(layers[i].layerName, "VK_LAYER_KHRONOS_validation") == 0) return 1;
    }
    return 0;
}

/* The engine's allocator, reduced to its essence: one allocation per buffer. */
typedef struct gpu_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    void* map; /* host-visible buffers only */
} gpu_buffer;

static gpu_buffer make_buffer(VkPhysicalDevice pd, VkDevice dev, VkDeviceSize size, VkBufferUsageFlags usage,
                              VkMemoryPropertyFlags want) {
    gpu_buffer b = {0};
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size, .usage = usage};
    CHECK_VK(vkCreateBuffer(dev, &bci, NULL, &b.buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev, b.buffer, &req);
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < mem.memoryTypeCount && type == UINT32_MAX; ++i) {
        if ((req.memoryTypeBits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & want) == want) type = i;
    }
    if (type == UINT32_MAX) {
        fprintf(stderr, "engine: no memory type with flags 0x%x\n", want);
        exit(1);
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = type};
    CHECK_VK(vkAllocateMemory(dev, &mai, NULL, &b.memory));
    CHECK_VK(vkBindBufferMemory(dev, b.buffer, b.memory, 0));
    if (want & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) CHECK_VK(vkMapMemory(dev, b.memory, 0, VK_WHOLE_SIZE, 0, &b.map));
    return b;
}

static void barrier(VkCommandBuffer cmd, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
                    VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* Where each tensor lives in the engine's big buffer (bytes). Offsets only
 * need to be multiples of 4; these are deliberately not 16-aligned. */
typedef struct layout {
    VkDeviceSize x, y, weight, bias, running_mean, running_var, save_mean, save_invstd;
    VkDeviceSize x2, z2, y2, scratch, end;
} layout;

enum { N = 4, C = 24, H = 14, W = 14, N2 = 2, H2 = 7, W2 = 9 };

static float frand(unsigned* s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffffff) / 16777216.0f;
}

static int check(const char* what, const float* got, const double* want, size_t n, double tol) {
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
        double e = fabs(got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(e <= worst)) worst = e;
    }
    int ok = worst <= tol;
    printf("  %-34s max relative error %.2e %s\n", what, worst, ok ? "ok" : "FAIL");
    return ok;
}

int main(void) {
    /* ---- The engine's instance and device ---- */
    int validation = has_validation_layer() && !getenv("VKBN_TEST_NO_VALIDATION");
    const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char* inst_exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
    VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT vf = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                  .enabledValidationFeatureCount = 1,
                                  .pEnabledValidationFeatures = &sync};
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "vkbn engine example",
                             .apiVersion = VK_API_VERSION_1_3};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .pNext = validation ? &vf : NULL,
                                .pApplicationInfo = &app,
                                .enabledLayerCount = validation ? 1 : 0,
                                .ppEnabledLayerNames = layers,
                                .enabledExtensionCount = validation ? 2 : 0,
                                .ppEnabledExtensionNames = inst_exts};
    VkInstance instance;
    VkResult vr = vkCreateInstance(&ici, NULL, &instance);
    if (vr == VK_ERROR_INCOMPATIBLE_DRIVER) {
        printf("no Vulkan driver: skipped\n");
        return 77;
    }
    CHECK_VK(vr);
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    if (validation) {
        VkDebugUtilsMessengerCreateInfoEXT mci = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                                                  .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                                                     VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                                  .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                                                  .pfnUserCallback = on_message};
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT");
        CHECK_VK(create(instance, &mci, NULL, &messenger));
    }
    uint32_t count = 1;
    VkPhysicalDevice pd;
    vr = vkEnumeratePhysicalDevices(instance, &count, &pd);
    if (count == 0) {
        printf("no Vulkan device: skipped\n");
        return 77;
    }
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(pd, &props);

    /* Ask vkbn what to enable, and enable it along with our own needs. */
    vkbn_vulkan_requirements req;
    CHECK_BN(vkbn_vulkan_get_requirements(vkGetInstanceProcAddr, instance, pd, &req));
    printf("device %s; vkbn asks for Vulkan %u.%u, %u extension(s)%s%s%s\n", props.deviceName,
           VK_API_VERSION_MAJOR(req.api_version), VK_API_VERSION_MINOR(req.api_version), req.extension_count,
           req.storage_buffer_16bit_access ? ", storageBuffer16BitAccess" : "",
           req.subgroup_size_control ? ", subgroupSizeControl" : "",
           req.compute_full_subgroups ? ", computeFullSubgroups" : "");
    uint32_t family_count = 16, family = 0;
    VkQueueFamilyProperties families[16];
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &family_count, families);
    while (family < family_count && !(families[family].queueFlags & req.queue_flags)) ++family;
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &priority};
    vkbn_vulkan_feature_chain chain;
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = vkbn_vulkan_chain_features(&req, &chain, NULL),
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = req.extension_count,
                              .ppEnabledExtensionNames = req.extensions};
    VkDevice dev;
    CHECK_VK(vkCreateDevice(pd, &dci, NULL, &dev));
    VkQueue queue;
    vkGetDeviceQueue(dev, family, 0, &queue);

    /* ---- vkbn borrows the device ---- */
    vkbn_vulkan_device borrowed = {.instance = instance,
                                   .physical_device = pd,
                                   .device = dev,
                                   .queue = queue,
                                   .queue_family_index = family,
                                   .api_version = VK_API_VERSION_1_3,
                                   .get_instance_proc_addr = vkGetInstanceProcAddr,
                                   .create_info = &dci};
    vkbn_context_desc cd = {.borrowed = &borrowed};
    vkbn_context ctx;
    CHECK_BN(vkbn_context_create(&cd, &ctx));

    /* ---- The engine's memory: one big device buffer, tensors at offsets ---- */
    const VkDeviceSize tbytes = (VkDeviceSize)N * C * H * W * 4, vbytes = C * 4,
                       t2bytes = (VkDeviceSize)N2 * C * H2 * W2 * 4;
    layout at;
    at.x = 4;
    at.y = at.x + tbytes + 8;
    at.weight = at.y + tbytes + 4;
    at.bias = at.weight + vbytes + 4;
    at.running_mean = at.bias + vbytes + 4;
    at.running_var = at.running_mean + vbytes + 4;
    at.save_mean = at.running_var + vbytes + 4;
    at.save_invstd = at.save_mean + vbytes + 4;
    at.x2 = at.save_invstd + vbytes + 12;
    at.z2 = at.x2 + t2bytes + 4;
    at.y2 = at.z2 + t2bytes + 4;
    VkDeviceSize after = at.y2 + t2bytes;

    vkbn_tensor_desc t = {.n = N, .c = C, .spatial_rank = 2, .spatial = {H, W}, .layout = VKBN_LAYOUT_CHANNELS_FIRST};
    vkbn_tensor_desc t2 = {
        .n = N2, .c = C, .spatial_rank = 2, .spatial = {H2, W2}, .layout = VKBN_LAYOUT_CHANNELS_FIRST};

    /* vkbn wraps the whole VkBuffer once; each argument is a view at its offset. */
    gpu_buffer big = make_buffer(
        pd, dev, 4u << 20,
        VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    vkbn_buffer whole;
    CHECK_BN(vkbn_buffer_wrap(ctx, big.buffer, 0, 4u << 20, &whole));
#define VIEW(name, off, bytes) \
    vkbn_buffer name;          \
    CHECK_BN(vkbn_buffer_create_view(whole, off, bytes, &name))
    VIEW(x, at.x, tbytes);
    VIEW(y, at.y, tbytes);
    VIEW(weight, at.weight, vbytes);
    VIEW(bias, at.bias, vbytes);
    VIEW(running_mean, at.running_mean, vbytes);
    VIEW(running_var, at.running_var, vbytes);
    VIEW(save_mean, at.save_mean, vbytes);
    VIEW(save_invstd, at.save_invstd, vbytes);
    VIEW(x2, at.x2, t2bytes);
    VIEW(z2, at.z2, t2bytes);
    VIEW(y2, at.y2, t2bytes);

    vkbn_forward_training_desc train = {.tensor = t,
                                        .x = x,
                                        .y = y,
                                        .weight = weight,
                                        .bias = bias,
                                        .running_mean = running_mean,
                                        .running_var = running_var,
                                        .save_mean = save_mean,
                                        .save_invstd = save_invstd,
                                        .eps = VKBN_DEFAULT_EPS,
                                        .momentum = VKBN_DEFAULT_MOMENTUM,
                                        .reduction_split = 3 /* a split plan, which uses scratch */};
    /* The scratch size is known before the plan exists, so the engine places
     * it in its own memory: vkbn allocates nothing for this plan. */
    vkbn_scratch_requirements sreq;
    CHECK_BN(vkbn_forward_training_scratch_requirements(ctx, &train, &sreq));
    at.scratch = (after + sreq.alignment - 1) / sreq.alignment * sreq.alignment;
    at.end = at.scratch + sreq.size;
    VIEW(scratch, at.scratch, sreq.size ? sreq.size : 4);
    train.scratch = sreq.size ? scratch : NULL;
    printf("engine buffer: %llu bytes used of %u; vkbn scratch %llu bytes at offset %llu (alignment %llu)\n",
           (unsigned long long)at.end, 4u << 20, (unsigned long long)sreq.size, (unsigned long long)at.scratch,
           (unsigned long long)sreq.alignment);

    vkbn_forward_inference_desc infer = {.tensor = t2,
                                         .x = x2,
                                         .y = y2,
                                         .residual = z2,
                                         .weight = weight,
                                         .bias = bias,
                                         .running_mean = running_mean,
                                         .running_var = running_var,
                                         .eps = VKBN_DEFAULT_EPS,
                                         .activation = VKBN_ACTIVATION_RELU};
    /* Load time: plans (pipelines, descriptors) are made now, never per frame. */
    vkbn_plan train_plan, infer_plan;
    CHECK_BN(vkbn_plan_create_forward_training(ctx, &train, &train_plan));
    CHECK_BN(vkbn_plan_create_forward_inference(ctx, &infer, &infer_plan));
    printf("plans: %s\n       %s\n", vkbn_plan_describe(train_plan), vkbn_plan_describe(infer_plan));

    /* ---- Host data, in a staging buffer laid out like the big buffer ---- */
    gpu_buffer staging =
        make_buffer(pd, dev, at.end, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    uint8_t* host = staging.map;
    unsigned seed = 12345;
    float* hx = (float*)(host + at.x);
    for (VkDeviceSize i = 0; i < tbytes / 4; ++i)
        hx[i] = 3.0f * frand(&seed) - 1.0f + 0.1f * (float)((i / (H * W)) % C);
    for (int c = 0; c < C; ++c) {
        ((float*)(host + at.weight))[c] = 0.5f + frand(&seed);
        ((float*)(host + at.bias))[c] = frand(&seed) - 0.5f;
        ((float*)(host + at.running_mean))[c] = 0.2f * frand(&seed);
        ((float*)(host + at.running_var))[c] = 0.5f + frand(&seed);
    }
    float* hx2 = (float*)(host + at.x2);
    float* hz2 = (float*)(host + at.z2);
    for (VkDeviceSize i = 0; i < t2bytes / 4; ++i) {
        hx2[i] = 2.0f * frand(&seed) - 0.5f;
        hz2[i] = frand(&seed) - 0.5f;
    }
    /* Keep the inputs for the reference before the results overwrite them. */
    double* rx = malloc(tbytes / 4 * sizeof(double));
    double* rx2 = malloc(t2bytes / 4 * sizeof(double));
    double* rz2 = malloc(t2bytes / 4 * sizeof(double));
    double rw[C], rb[C], rrm[C], rrv[C];
    for (VkDeviceSize i = 0; i < tbytes / 4; ++i) rx[i] = hx[i];
    for (VkDeviceSize i = 0; i < t2bytes / 4; ++i) {
        rx2[i] = hx2[i];
        rz2[i] = hz2[i];
    }
    for (int c = 0; c < C; ++c) {
        rw[c] = ((float*)(host + at.weight))[c];
        rb[c] = ((float*)(host + at.bias))[c];
        rrm[c] = ((float*)(host + at.running_mean))[c];
        rrv[c] = ((float*)(host + at.running_var))[c];
    }

    /* ---- One frame: engine work, vkbn work, engine work; one submission ---- */
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = family};
    VkCommandPool pool;
    CHECK_VK(vkCreateCommandPool(dev, &pci, NULL, &pool));
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VkCommandBuffer cmd;
    CHECK_VK(vkAllocateCommandBuffers(dev, &cai, &cmd));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    CHECK_VK(vkBeginCommandBuffer(cmd, &bi));
    /* Engine: upload the inputs (everything up to the scratch) and clear y. */
    VkBufferCopy up = {.srcOffset = 0, .dstOffset = 0, .size = at.scratch};
    vkCmdCopyBuffer(cmd, staging.buffer, big.buffer, 1, &up);
    barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_TRANSFER_WRITE_BIT);
    vkCmdFillBuffer(cmd, big.buffer, at.y, tbytes, 0);
    /* Hand over to vkbn with the barrier its contract asks for (vkbn.h):
     * our transfer writes -> its compute reads/writes and scratch fill. */
    barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    CHECK_BN(vkbn_plan_record(train_plan, cmd, 0));
    /* Inference reads the running statistics training just wrote: let vkbn
     * place the barriers this time. */
    CHECK_BN(vkbn_plan_record(infer_plan, cmd, VKBN_RECORD_BARRIER_BEFORE | VKBN_RECORD_BARRIER_AFTER));
    /* Engine: read everything back (its own transfer after vkbn's writes). */
    VkBufferCopy down = {.srcOffset = 0, .dstOffset = 0, .size = at.scratch};
    vkCmdCopyBuffer(cmd, big.buffer, staging.buffer, 1, &down);
    barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
            VK_ACCESS_HOST_READ_BIT);
    CHECK_VK(vkEndCommandBuffer(cmd));
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    CHECK_VK(vkCreateFence(dev, &fci, NULL, &fence));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    CHECK_VK(vkQueueSubmit(queue, 1, &si, fence));
    CHECK_VK(vkWaitForFences(dev, 1, &fence, VK_TRUE, UINT64_MAX));
    printf("one command buffer, one submission: done\n");

    /* ---- Check against the fp64 reference ---- */
    ref_shape sh = ref_shape_from_desc(&t), sh2 = ref_shape_from_desc(&t2);
    double* ry = malloc(tbytes / 4 * sizeof(double));
    double* ry2 = malloc(t2bytes / 4 * sizeof(double));
    double mean[C], invstd[C], var[C];
    ref_forward_training rt = {
        sh, rx,   NULL,   rw, rb, rrm, rrv, VKBN_DEFAULT_EPS, VKBN_DEFAULT_MOMENTUM, 0, VKBN_ACTIVATION_NONE,
        ry, mean, invstd, var};
    ref_batchnorm_forward_training(&rt); /* updates rrm, rrv as the device did */
    ref_forward_inference ri = {sh2, rx2, rz2, rw, rb, rrm, rrv, VKBN_DEFAULT_EPS, VKBN_ACTIVATION_RELU, ry2};
    ref_batchnorm_forward_inference(&ri);
    int ok = 1;
    ok &= check("training y", (float*)(host + at.y), ry, tbytes / 4, 1e-5);
    ok &= check("save_mean", (float*)(host + at.save_mean), mean, C, 1e-5);
    ok &= check("save_invstd", (float*)(host + at.save_invstd), invstd, C, 1e-5);
    ok &= check("running_mean", (float*)(host + at.running_mean), rrm, C, 1e-5);
    ok &= check("running_var", (float*)(host + at.running_var), rrv, C, 1e-5);
    ok &= check("inference y (residual + relu)", (float*)(host + at.y2), ry2, t2bytes / 4, 1e-5);
    if (validation) {
        printf("validation layers with synchronization validation: %u message(s)\n", validation_messages);
        ok &= validation_messages == 0;
    }

    /* ---- Teardown: vkbn first, then the engine's own objects ---- */
    vkbn_plan_destroy(train_plan);
    vkbn_plan_destroy(infer_plan);
    vkbn_buffer views[] = {x,           y,  weight, bias, running_mean, running_var, save_mean,
                           save_invstd, x2, z2,     y2,   scratch,      whole};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; ++i) vkbn_buffer_destroy(views[i]);
    vkbn_context_destroy(ctx);
    vkDestroyFence(dev, fence, NULL);
    vkDestroyCommandPool(dev, pool, NULL);
    gpu_buffer* bufs[] = {&big, &staging};
    for (int i = 0; i < 2; ++i) {
        if (bufs[i]->map) vkUnmapMemory(dev, bufs[i]->memory);
        vkDestroyBuffer(dev, bufs[i]->buffer, NULL);
        vkFreeMemory(dev, bufs[i]->memory, NULL);
    }
    vkDestroyDevice(dev, NULL);
    if (messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT");
        destroy(instance, messenger, NULL);
    }
    vkDestroyInstance(instance, NULL);
    free(rx);
    free(rx2);
    free(rz2);
    free(ry);
    free(ry2);
    printf("%s\n", ok ? "engine example: OK" : "engine example: FAILED");
    return ok ? 0 : 1;
}
