/* A minimal "engine" for the embedding tests: its own instance (validation
 * with synchronization validation and best practices, messages counted but
 * those vkbn's one filter excuses), device (enabling what
 * vkbn_vulkan_get_requirements lists, minus what a test leaves out), queue,
 * command pool, host-visible buffers and one-shot submissions. It calls the
 * Vulkan loader directly, as an engine linked against it would. */
#ifndef VKBN_TEST_ENGINE_UTIL_H_
#define VKBN_TEST_ENGINE_UTIL_H_

#include <stdatomic.h>

#include "test_util.h"

#include "../src/vulkan/vk_validation_filter.h"

/* Optional features a test may withhold from the device. */
enum { ENGINE_NO_16BIT = 0x1, ENGINE_NO_SUBGROUP_CONTROL = 0x2 };

typedef struct test_engine {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    _Atomic uint64_t messages; /* validation warnings and errors */
    int quiet;                 /* a test that expects messages: do not print them */
    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    VkDevice device;
    uint32_t family;
    VkQueue queue;
    VkCommandPool pool;
    VkFence fence;
    /* What the device was created with, for vkbn_vulkan_device.create_info. */
    vkbn_vulkan_requirements req;
    vkbn_vulkan_feature_chain chain;
    VkDeviceQueueCreateInfo qci;
    VkDeviceCreateInfo dci;
    float priority;
} test_engine;

static VKAPI_ATTR VkBool32 VKAPI_CALL engine_on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT types,
                                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    (void)types;
    test_engine* e = user;
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    /* The same filter as vkbn's own instance (vk_validation_filter.h). */
    if (vkbn__validation_ignored(data ? data->pMessageIdName : NULL, e->req.memory_priority)) return VK_FALSE;
    atomic_fetch_add(&e->messages, 1);
    if (!e->quiet) printf("  [validation] %s\n", data && data->pMessage ? data->pMessage : "?");
    return VK_FALSE;
}

static int engine_has_layer(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties props[64];
    if (n > 64) n = 64;
    vkEnumerateInstanceLayerProperties(&n, props);
    for (uint32_t i = 0; i < n; ++i) {
        if (strcmp(props[i].layerName, name) == 0) return 1;
    }
    return 0;
}

/* Whether `name` contains `part`, ignoring ASCII case (as vkbn matches names). */
static int engine_name_contains(const char* name, const char* part) {
    size_t len = strlen(part);
    for (const char* h = name; *h; ++h) {
        size_t k = 0;
        while (k < len && h[k] && (h[k] | 0x20) == (part[k] | 0x20)) ++k;
        if (k == len) return 1;
    }
    return 0;
}

/* Creates the engine; exits with TEST_SKIP when there is no Vulkan device
 * (or, with VKBN_TEST_DEVICE unset, no lavapipe). */
static void engine_create(test_engine* e, unsigned without) {
    test_pin_drivers();
    memset(e, 0, sizeof *e);
    int validation = !env_set("VKBN_TEST_NO_VALIDATION");
    if (validation && !engine_has_layer("VK_LAYER_KHRONOS_validation")) {
        printf("FAIL: VK_LAYER_KHRONOS_validation is not installed (set VKBN_TEST_NO_VALIDATION=1 to run without)\n");
        exit(1);
    }
    const char* layers[] = {"VK_LAYER_KHRONOS_validation"};
    const char* exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME};
    const VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
                                                    VK_VALIDATION_FEATURE_ENABLE_BEST_PRACTICES_EXT};
    VkValidationFeaturesEXT features = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                        .enabledValidationFeatureCount = 2,
                                        .pEnabledValidationFeatures = enables};
    if (validation) test_enable_vendor_best_practices();
    VkDebugUtilsMessengerCreateInfoEXT mci = {.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                                              .pNext = &features,
                                              .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                                                 VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                                              .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                                                             VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                                                             VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                                              .pfnUserCallback = engine_on_message,
                                              .pUserData = e};
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "vkbn engine test",
                             .apiVersion = VK_API_VERSION_1_3};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .pNext = validation ? &mci : NULL,
                                .pApplicationInfo = &app,
                                .enabledLayerCount = validation ? 1 : 0,
                                .ppEnabledLayerNames = layers,
                                .enabledExtensionCount = validation ? 2 : 0,
                                .ppEnabledExtensionNames = exts};
    VkResult vr = vkCreateInstance(&ici, NULL, &e->instance);
    if (vr == VK_ERROR_INCOMPATIBLE_DRIVER) {
        printf("SKIP: no Vulkan driver\n");
        exit(TEST_SKIP);
    }
    if (vr != VK_SUCCESS) {
        printf("FAIL: vkCreateInstance: %d\n", vr);
        exit(1);
    }
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(e->instance, "vkCreateDebugUtilsMessengerEXT");
        mci.pNext = NULL;
        create(e->instance, &mci, NULL, &e->messenger);
    }
    uint32_t n = 8;
    VkPhysicalDevice pds[8];
    vkEnumeratePhysicalDevices(e->instance, &n, pds);
    if (n == 0) {
        printf("SKIP: no Vulkan device\n");
        exit(TEST_SKIP);
    }
    /* The test device (test_util.h: $VKBN_TEST_DEVICE, a part of the device
     * name here, else lavapipe): the first device whose name holds it. */
    const char* want = test_device_request();
    e->phys = VK_NULL_HANDLE;
    for (uint32_t i = 0; i < n && !e->phys; ++i) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (engine_name_contains(p.deviceName, want)) e->phys = pds[i];
    }
    if (!e->phys) {
        printf("%s: no Vulkan device's name contains \"%s\"\n", getenv("VKBN_TEST_DEVICE") ? "FAIL" : "SKIP", want);
        exit(getenv("VKBN_TEST_DEVICE") ? 1 : TEST_SKIP);
    }
    vkGetPhysicalDeviceProperties(e->phys, &e->props);
    vkGetPhysicalDeviceMemoryProperties(e->phys, &e->mem);
    vkbn_result r = vkbn_vulkan_get_requirements(vkGetInstanceProcAddr, e->instance, e->phys, &e->req);
    if (r != VKBN_SUCCESS) {
        printf("FAIL: vkbn_vulkan_get_requirements: %s\n", vkbn_last_error());
        exit(1);
    }
    if (without & ENGINE_NO_16BIT) e->req.storage_buffer_16bit_access = VK_FALSE;
    if (without & ENGINE_NO_SUBGROUP_CONTROL) {
        e->req.subgroup_size_control = VK_FALSE;
        e->req.compute_full_subgroups = VK_FALSE;
    }
    uint32_t qn = 0;
    VkQueueFamilyProperties qp[16];
    vkGetPhysicalDeviceQueueFamilyProperties(e->phys, &qn, NULL); /* the count first (best practices) */
    if (qn > 16) qn = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(e->phys, &qn, qp);
    for (e->family = 0; e->family < qn && !(qp[e->family].queueFlags & e->req.queue_flags); ++e->family) {
    }
    e->priority = 1.0f;
    e->qci = (VkDeviceQueueCreateInfo){.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                       .queueFamilyIndex = e->family,
                                       .queueCount = 1,
                                       .pQueuePriorities = &e->priority};
    e->dci = (VkDeviceCreateInfo){.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                                  .pNext = vkbn_vulkan_chain_features(&e->req, &e->chain, NULL),
                                  .queueCreateInfoCount = 1,
                                  .pQueueCreateInfos = &e->qci,
                                  .enabledExtensionCount = e->req.extension_count,
                                  .ppEnabledExtensionNames = e->req.extensions};
    vr = vkCreateDevice(e->phys, &e->dci, NULL, &e->device);
    if (vr != VK_SUCCESS) {
        printf("FAIL: vkCreateDevice: %d\n", vr);
        exit(1);
    }
    vkGetDeviceQueue(e->device, e->family, 0, &e->queue);
    /* Command buffers are freed after each submission, never reset one by
     * one: no VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT. */
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                   .queueFamilyIndex = e->family};
    vkCreateCommandPool(e->device, &pci, NULL, &e->pool);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vkCreateFence(e->device, &fci, NULL, &e->fence);
}

static void engine_destroy(test_engine* e) {
    vkDestroyFence(e->device, e->fence, NULL);
    vkDestroyCommandPool(e->device, e->pool, NULL);
    vkDestroyDevice(e->device, NULL);
    if (e->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(e->instance, "vkDestroyDebugUtilsMessengerEXT");
        destroy(e->instance, e->messenger, NULL);
    }
    vkDestroyInstance(e->instance, NULL);
}

/* The borrowed-device description of the engine (queue may be left out). */
static vkbn_vulkan_device engine_borrow(const test_engine* e, int with_queue) {
    vkbn_vulkan_device b;
    memset(&b, 0, sizeof b);
    b.instance = e->instance;
    b.physical_device = e->phys;
    b.device = e->device;
    b.queue = with_queue ? e->queue : VK_NULL_HANDLE;
    b.queue_family_index = e->family;
    b.api_version = VK_API_VERSION_1_3;
    b.get_instance_proc_addr = vkGetInstanceProcAddr;
    b.create_info = &e->dci;
    return b;
}

static vkbn_context engine_context(const test_engine* e, const vkbn_vulkan_device* b,
                                   const VkAllocationCallbacks* alloc) {
    vkbn_context_desc d;
    memset(&d, 0, sizeof d);
    d.borrowed = b;
    d.flags = test_switch_flags() & VKBN_CONTEXT_DISABLE_SUBGROUPS; /* validation is the engine's */
    d.log = test_log;
    d.allocation_callbacks = alloc;
    vkbn_context ctx = NULL;
    if (vkbn_context_create(&d, &ctx) != VKBN_SUCCESS) {
        printf("FAIL: vkbn_context_create (borrowed): %s\n", vkbn_last_error());
        exit(1);
    }
    (void)e;
    return ctx;
}

/* One host-visible, coherent buffer (storage + transfer), mapped. */
typedef struct engine_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint8_t* map;
    VkDeviceSize size;
} engine_buffer;

static void engine_buffer_create(test_engine* e, VkDeviceSize size, engine_buffer* b) {
    memset(b, 0, sizeof *b);
    b->size = size;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT};
    vkCreateBuffer(e->device, &bci, NULL, &b->buffer);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(e->device, b->buffer, &req);
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = 0;
    while (type < e->mem.memoryTypeCount &&
           (!(req.memoryTypeBits & (1u << type)) || (e->mem.memoryTypes[type].propertyFlags & want) != want)) {
        ++type;
    }
    /* Where the device has memory priorities, the engine gives one too (the
     * best practices ask it of every allocation); its buffers are 1 MiB and
     * up, as an engine's blocks would be. */
    VkMemoryPriorityAllocateInfoEXT prio = {.sType = VK_STRUCTURE_TYPE_MEMORY_PRIORITY_ALLOCATE_INFO_EXT,
                                            .priority = 0.5f};
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .pNext = e->req.memory_priority ? &prio : NULL,
                                .allocationSize = req.size,
                                .memoryTypeIndex = type};
    vkAllocateMemory(e->device, &mai, NULL, &b->memory);
    vkBindBufferMemory(e->device, b->buffer, b->memory, 0);
    void* p = NULL;
    vkMapMemory(e->device, b->memory, 0, VK_WHOLE_SIZE, 0, &p);
    b->map = p;
}

static void engine_buffer_destroy(test_engine* e, engine_buffer* b) {
    if (!b->buffer) return;
    vkUnmapMemory(e->device, b->memory);
    vkDestroyBuffer(e->device, b->buffer, NULL);
    vkFreeMemory(e->device, b->memory, NULL);
    memset(b, 0, sizeof *b);
}

static VkCommandBuffer engine_begin(test_engine* e, VkCommandPool pool) {
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = pool ? pool : e->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkCommandBuffer cmd;
    vkAllocateCommandBuffers(e->device, &ai, &cmd);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vkBeginCommandBuffer(cmd, &bi);
    return cmd;
}

/* Ends, submits (all `count` buffers at once), waits, frees. */
static VkResult engine_submit(test_engine* e, VkCommandBuffer* cmds, uint32_t count, const VkCommandPool* pools) {
    for (uint32_t i = 0; i < count; ++i) vkEndCommandBuffer(cmds[i]);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = count, .pCommandBuffers = cmds};
    vkResetFences(e->device, 1, &e->fence);
    VkResult vr = vkQueueSubmit(e->queue, 1, &si, e->fence);
    if (vr == VK_SUCCESS) vr = vkWaitForFences(e->device, 1, &e->fence, VK_TRUE, UINT64_MAX);
    for (uint32_t i = 0; i < count; ++i) vkFreeCommandBuffers(e->device, pools ? pools[i] : e->pool, 1, &cmds[i]);
    return vr;
}

/* A global barrier for the engine's own transfer/compute work. */
static void engine_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &mb, 0,
                         NULL, 0, NULL);
}

#endif
