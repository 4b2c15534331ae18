/* Device profiles of real GPUs (vk_profiles.h): each value with where it
 * comes from. A value no source gives stays unknown; nothing is estimated
 * here. Abbreviated sources, cited in full once:
 *   [spec]    Vulkan specification, "Required Limits" table
 *             (docs.vulkan.org/refpages/latest/refpages/source/Required_Limits.html)
 *   [radv]    Mesa src/amd/vulkan/radv_physical_device.c (radv_get_physical_device_properties,
 *             radv_physical_device_get_features), radv_constants.h, radv_instance.h
 *   [anv]     Mesa src/intel/vulkan/anv_physical_device.c (get_properties*, get_features,
 *             get_device_extensions), src/intel/dev/intel_device_info.c, src/intel/isl/isl.c
 *   [mvk]     KhronosGroup/MoltenVK MoltenVK/MoltenVK/GPUObjects/MVKDevice.mm
 *             (initMetalFeatures, initLimits, getFeatures, getProperties)
 *   [iree-kt] iree-org/iree compiler/src/iree/compiler/Codegen/Dialect/GPU/TargetUtils/KnownTargets.cpp
 *   [iree-tt] iree-org/iree compiler/src/iree/compiler/Dialect/Vulkan/Utils/TargetTriple.cpp
 *   [nv-wp]   NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022), Table 3, H100 SXM5 column */
#include "vk_profiles.h"

#define KNOWN(v, p, s) \
    { (v), VKBN__PROV_##p, (s) }
#define UNKNOWN(why) \
    { 0, VKBN__PROV_UNKNOWN, "unknown: " why }

#define SPEC_LIMITS "Vulkan spec, Required Limits table"

/* ---- NVIDIA ------------------------------------------------------------ */
#define NV_AMPERE_REPORT \
    "NVIDIA driver on Ampere: IREE TargetTriple.cpp NV_Ampere entry, from vulkan.gpuinfo.org report 11252"
#define NV_LINUX_VULKANINFO                                                                           \
    "NVIDIA Linux driver, vulkaninfo on GeForce GTX 1050 Ti (KhronosGroup/Vulkan-Tools PR #106) and " \
    "GTX 1660 (expipiplus1/vulkan issue #48)"
#define NV_GGML_LOGS                                                                               \
    "llama.cpp ggml_vulkan device lines on the NVIDIA driver: RTX 3070 (PR #12833), RTX 4070 (PR " \
    "#14903), RTX 5090 (PR #19376): 'warp size: 32 | shared memory: 49152'"

/* ---- Mobile ------------------------------------------------------------ */
#define IREE_ADRENO \
    "IREE KnownTargets.cpp getAdrenoWgpDetails (one entry for all Adreno; cites gpuinfo report 19218, Adreno 740)"
#define IREE_VALHALL "IREE KnownTargets.cpp getValhallWgpDetails (Mali-G715: vulkan.gpuinfo.org report 29754)"

const vkbn__device_profile vkbn__device_profiles[] = {
    {
        .name = "h100",
        .display_name = "NVIDIA H100 SXM5 80GB",
        .driver_note = "NVIDIA proprietary driver (Linux, R5xx); no Vulkan report of the H100 itself was found, so "
                       "driver-wide limits come from the same driver on other GPUs",
        .vendor_id = KNOWN(0x10DE, SAME_DRIVER, NV_LINUX_VULKANINFO ": vendorID = 0x10de"),
        .device_type =
            KNOWN(VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, SAME_DRIVER, NV_LINUX_VULKANINFO ": deviceType = DISCRETE_GPU"),
        .driver_name = KNOWN("NVIDIA", REPORT,
                             "vulkaninfo --summary on 'NVIDIA H100 80GB HBM3' quoted in a public Isaac Sim container "
                             "setup note (driver 580.105.08): driverName = NVIDIA"),
        .api_version = UNKNOWN("no report of the H100 driver's apiVersion was found"),
        .subgroup_size =
            KNOWN(32, SAME_DRIVER, NV_AMPERE_REPORT "; " NV_GGML_LOGS "; CUDA warpSize 32 on 'NVIDIA H100 80GB HBM3'"),
        .min_subgroup_size = KNOWN(32, SAME_DRIVER, NV_AMPERE_REPORT ": minSubgroupSize 32"),
        .max_subgroup_size = KNOWN(32, SAME_DRIVER, NV_AMPERE_REPORT ": maxSubgroupSize 32"),
        .subgroup_size_control = UNKNOWN("no report of this feature on the NVIDIA driver was found"),
        .compute_full_subgroups = UNKNOWN("no report of this feature on the NVIDIA driver was found"),
        .subgroup_basic_shuffle = KNOWN(true, SAME_DRIVER,
                                        NV_AMPERE_REPORT ": BASIC|VOTE|ARITHMETIC|BALLOT|SHUFFLE|"
                                                         "SHUFFLE_RELATIVE|CLUSTERED|QUAD"),
        .compute_units = KNOWN(132, VENDOR,
                               "[nv-wp]: 132 SMs (H100 SXM5); CUDA device query of 'NVIDIA H100 80GB "
                               "HBM3': multiProcessorCount 132"),
        .compute_units_exposed = KNOWN(true, SAME_DRIVER,
                                       "VK_NV_shader_sm_builtins on the NVIDIA driver: vkd3d-proton PR #67 reads "
                                       "shaderSMCount (24 on a GTX 1660 Ti)"),
        .max_workgroup_invocations = KNOWN(1024, SAME_DRIVER, NV_AMPERE_REPORT),
        .max_workgroup_size_x = KNOWN(1024, SAME_DRIVER, NV_AMPERE_REPORT ": {1024, 1024, 64}"),
        .max_shared_memory = KNOWN(49152, SAME_DRIVER, NV_AMPERE_REPORT "; " NV_GGML_LOGS),
        .max_storage_buffer_range = KNOWN(0xFFFFFFFFu, SAME_DRIVER, NV_LINUX_VULKANINFO),
        .max_storage_buffers_per_stage = KNOWN(1048576, SAME_DRIVER, NV_LINUX_VULKANINFO),
        .min_storage_buffer_alignment = UNKNOWN("no NVIDIA report with this limit was found"),
        .max_memory_allocation_count = KNOWN(0xFFFFFFFFu, SAME_DRIVER, NV_LINUX_VULKANINFO),
        .storage_buffer_16bit = KNOWN(true, SAME_DRIVER, NV_AMPERE_REPORT),
        .memory_model = UNKNOWN("no report of this feature on the NVIDIA driver was found"),
        .memory_model_device_scope = UNKNOWN("no report of this feature on the NVIDIA driver was found"),
        .resident_groups_256 = KNOWN(8, VENDOR,
                                     "2048 threads per SM / 256: [nv-wp] (Max Threads / SM 2048); CUDA "
                                     "device query: maxThreadsPerMultiProcessor 2048"),
        .dram_bandwidth_gbs = KNOWN(3350, VENDOR,
                                    "NVIDIA H100 SXM datasheet: GPU memory bandwidth 3.35 TB/s "
                                    "([nv-wp]: 3352 GB/s)"),
        .last_level_cache_bytes = KNOWN(50ull << 20, VENDOR, "[nv-wp]: 50 MB L2 cache"),
    },
    {
        .name = "rx7900xtx",
        .display_name = "AMD Radeon RX 7900 XTX",
        .driver_note = "RADV (Mesa), the values radv_physical_device.c sets for GFX11",
        .vendor_id = KNOWN(0x1002, DRIVER, "[radv]: vendorID = ATI_VENDOR_ID (0x1002, radv_constants.h)"),
        .device_type =
            KNOWN(VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, DRIVER, "[radv]: DISCRETE_GPU when the GPU has dedicated VRAM"),
        .driver_name = KNOWN("radv", DRIVER, "[radv]: driverName \"radv\""),
        .api_version = KNOWN(VK_API_VERSION_1_3, LOWER_BOUND,
                             "radv_instance.h RADV_API_VERSION: 1.3 (Mesa 24.x), 1.4 in later Mesa"),
        .subgroup_size = KNOWN(64, DRIVER, "[radv]: subgroupSize = RADV_SUBGROUP_SIZE (64)"),
        .min_subgroup_size = KNOWN(32, DRIVER, "[radv]: minSubgroupSize 32 on GFX10+ (wave32)"),
        .max_subgroup_size = KNOWN(64, DRIVER, "[radv]: maxSubgroupSize 64"),
        .subgroup_size_control = KNOWN(true, DRIVER, "[radv]: subgroupSizeControl = true"),
        .compute_full_subgroups = KNOWN(true, DRIVER, "[radv]: computeFullSubgroups = true"),
        .subgroup_basic_shuffle = KNOWN(true, DRIVER, "[radv]: subgroupSupportedOperations include BASIC and SHUFFLE"),
        .compute_units = KNOWN(96, VENDOR,
                               "AMD RX 7900 XTX specifications: 96 compute units, fully enabled Navi 31 "
                               "GCD (Guru3D review spec table)"),
        .compute_units_exposed =
            KNOWN(true, DRIVER,
                  "[radv] implements VK_AMD_shader_core_properties: vkbn counts shaderEngineCount x "
                  "shaderArraysPerEngineCount x computeUnitsPerShaderArray (min good CUs per SA)"),
        .max_workgroup_invocations = KNOWN(1024, DRIVER, "[radv]: maxComputeWorkGroupInvocations 1024"),
        .max_workgroup_size_x = KNOWN(1024, DRIVER, "[radv]: maxComputeWorkGroupSize {1024, 1024, 1024}"),
        .max_shared_memory = KNOWN(65536, DRIVER, "[radv]: max_shared_size = 65536 on GFX7+"),
        .max_storage_buffer_range = KNOWN(0xFFFFFFFFu, DRIVER, "[radv]: maxStorageBufferRange = UINT32_MAX"),
        .max_storage_buffers_per_stage = KNOWN(8388606, DRIVER,
                                               "[radv]: radv_max_descriptor_set_size() = (2^31 - 16 x 24 - 4 MiB x 64) "
                                               "/ 224 (radv_constants.h)"),
        .min_storage_buffer_alignment = KNOWN(4, DRIVER, "[radv]: minStorageBufferOffsetAlignment 4"),
        .max_memory_allocation_count = KNOWN(0xFFFFFFFFu, DRIVER, "[radv]: maxMemoryAllocationCount = UINT32_MAX"),
        .storage_buffer_16bit = KNOWN(true, DRIVER, "[radv]: storageBuffer16BitAccess = true"),
        .memory_model = KNOWN(true, DRIVER, "[radv]: vulkanMemoryModel = true"),
        .memory_model_device_scope = KNOWN(true, DRIVER, "[radv]: vulkanMemoryModelDeviceScope = true"),
        .resident_groups_256 =
            KNOWN(8, DRIVER,
                  "2 SIMDs/CU x 16 waves/SIMD (Mesa radv_null_winsys.c, GFX10_3+) x 64 lanes / 256 in "
                  "wave64, radv's size (RADV_SUBGROUP_SIZE) for full-subgroup compute; 4 in wave32"),
        .dram_bandwidth_gbs = KNOWN(960, VENDOR,
                                    "AMD RX 7900 XTX specifications: 20 Gbps x 384-bit = 960 GB/s "
                                    "(Guru3D review spec table)"),
        .last_level_cache_bytes = KNOWN(
            96ull << 20, VENDOR, "AMD RX 7900 XTX specifications: 96 MB Infinity Cache (Guru3D review spec table)"),
    },
    {
        .name = "a770",
        .display_name = "Intel Arc A770 16GB",
        .driver_note = "ANV, the Intel open-source Mesa driver (Linux), the values it sets for DG2 (verx10 125)",
        .vendor_id = KNOWN(0x8086, DRIVER, "[anv]: vendorID = 0x8086"),
        .device_type =
            KNOWN(VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, DRIVER, "[anv]: DISCRETE_GPU when the device has local memory"),
        .driver_name = KNOWN("Intel open-source Mesa driver", DRIVER, "[anv]: get_properties_1_2 driverName"),
        .api_version =
            KNOWN(VK_API_VERSION_1_3, LOWER_BOUND, "ANV_API_VERSION off Android: 1.3 (Mesa 23-24), 1.4 in later Mesa"),
        .subgroup_size = KNOWN(32, DRIVER, "[anv]: subgroupSize = BRW_SUBGROUP_SIZE (32, brw_compiler.h)"),
        .min_subgroup_size = KNOWN(8, DRIVER, "[anv]: minSubgroupSize 8 before Xe2 (ver < 20)"),
        .max_subgroup_size = KNOWN(32, DRIVER, "[anv]: maxSubgroupSize 32"),
        .subgroup_size_control = KNOWN(true, DRIVER, "[anv]: subgroupSizeControl = true"),
        .compute_full_subgroups = KNOWN(true, DRIVER, "[anv]: computeFullSubgroups = true"),
        .subgroup_basic_shuffle = KNOWN(true, DRIVER, "[anv]: subgroupSupportedOperations include BASIC and SHUFFLE"),
        .compute_units = KNOWN(
            32, VENDOR,
            "Intel Arc A770 specifications: 32 Xe-cores (svethardware.cz report of Intel's published specifications)"),
        .compute_units_exposed = KNOWN(false, DRIVER,
                                       "[anv]: get_device_extensions offers neither "
                                       "VK_NV_shader_sm_builtins nor VK_AMD_shader_core_properties"),
        .max_workgroup_invocations =
            KNOWN(1024, DRIVER,
                  "[anv]: MIN2(1024, 32 x max_cs_workgroup_threads); intel_device_info.c: max_cs_workgroup_threads = "
                  "max_cs_threads on verx10 >= 125 (112 threads per DSS in GFX12_HW_INFO)"),
        .max_workgroup_size_x = KNOWN(1024, DRIVER, "[anv]: maxComputeWorkGroupSize = max_workgroup_size x 3"),
        .max_shared_memory = KNOWN(65536, DRIVER, "intel_device_info_get_max_slm_size: 64 KiB below verx10 200"),
        .max_storage_buffer_range =
            KNOWN(0xFFFFFFFFu, DRIVER,
                  "[anv]: MIN3(isl max_buffer_size = 2^32 on gfx9+, largest heap, UINT32_MAX) with a 16 GiB heap"),
        .max_storage_buffers_per_stage =
            KNOWN(33554432, LOWER_BOUND,
                  "[anv]: get_device_descriptor_limits: descriptor heap / descriptor size; its comment: '>= Gfx12.5 "
                  "... we have 33M+ descriptors'"),
        .min_storage_buffer_alignment =
            KNOWN(4, DRIVER, "[anv]: minStorageBufferOffsetAlignment = ANV_SSBO_ALIGNMENT (4)"),
        .max_memory_allocation_count = KNOWN(0xFFFFFFFFu, DRIVER, "[anv]: maxMemoryAllocationCount = UINT32_MAX"),
        .storage_buffer_16bit = KNOWN(true, DRIVER, "[anv]: storageBuffer16BitAccess = !no_16bit (driconf default)"),
        .memory_model = KNOWN(true, DRIVER, "[anv]: vulkanMemoryModel = true"),
        .memory_model_device_scope = KNOWN(true, DRIVER, "[anv]: vulkanMemoryModelDeviceScope = true"),
        .resident_groups_256 = UNKNOWN("threads resident per Xe-core depend on the SIMD width the compiler picks; no "
                                       "DG2 occupancy figure was found"),
        .dram_bandwidth_gbs = KNOWN(560, VENDOR,
                                    "Intel Arc A770 (16 GB) specifications: 560 GB/s (svethardware.cz "
                                    "report of Intel's published specifications)"),
        .last_level_cache_bytes = KNOWN(16ull << 20, THIRD_PARTY, "fpsbench.com GPU database, DG2-512: 16 MB L2"),
    },
    {
        .name = "adreno740",
        .display_name = "Qualcomm Adreno 740 (Snapdragon 8 Gen 2)",
        .driver_note = "Qualcomm proprietary driver (Android); only a curated target table and other Adreno GPUs' "
                       "reports were found",
        .vendor_id = KNOWN(0x5143, SAME_DRIVER,
                           "Qualcomm driver on Adreno 650 and 829: vendor 0x5143 (device logs in "
                           "public emulator repositories)"),
        .device_type = KNOWN(VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, THIRD_PARTY,
                             "[iree-tt]: getDeviceType(QC_Adreno) = IntegratedGPU"),
        .driver_name = KNOWN("Qualcomm Technologies Inc. Adreno Vulkan Driver", SAME_DRIVER,
                             "driverName on Adreno 650, 720 and 840 with the stock driver (public device logs); a "
                             "llama.cpp ggml_vulkan line on Adreno 720 prints the same"),
        .api_version = UNKNOWN("depends on the Android release and driver; no Adreno 740 report was read"),
        .subgroup_size = KNOWN(64, THIRD_PARTY, IREE_ADRENO ": subgroup size 64"),
        .min_subgroup_size = UNKNOWN("no report of VkPhysicalDeviceSubgroupSizeControlProperties was found"),
        .max_subgroup_size = UNKNOWN("no report of VkPhysicalDeviceSubgroupSizeControlProperties was found"),
        .subgroup_size_control = UNKNOWN("no report found"),
        .compute_full_subgroups = UNKNOWN("no report found"),
        .subgroup_basic_shuffle = KNOWN(true, THIRD_PARTY, IREE_ADRENO ": subgroup ops Shuffle | Arithmetic"),
        .compute_units = UNKNOWN("Qualcomm publishes no shader-processor count for the Adreno 740"),
        .compute_units_exposed = UNKNOWN("no report of the Qualcomm driver's extensions was read"),
        .max_workgroup_invocations = KNOWN(1024, THIRD_PARTY, IREE_ADRENO),
        .max_workgroup_size_x = KNOWN(1024, THIRD_PARTY, IREE_ADRENO ": {1024, 1024, 1024}"),
        .max_shared_memory = KNOWN(32768, THIRD_PARTY, IREE_ADRENO ": 32 KiB workgroup memory"),
        .max_storage_buffer_range = UNKNOWN("no report found"),
        .max_storage_buffers_per_stage = UNKNOWN("no report found"),
        .min_storage_buffer_alignment = UNKNOWN("no report found"),
        .max_memory_allocation_count = UNKNOWN("no report found"),
        .storage_buffer_16bit = KNOWN(true, THIRD_PARTY,
                                      IREE_ADRENO ": storage bitwidths 64/32/16; [iree-tt] lists "
                                                  "VK_KHR_16bit_storage (gpuinfo reports 10983, 16312)"),
        .memory_model = UNKNOWN("no report found"),
        .memory_model_device_scope = UNKNOWN("no report found"),
        .resident_groups_256 = UNKNOWN("Qualcomm publishes no occupancy figure"),
        .dram_bandwidth_gbs = UNKNOWN("set by the SoC's LPDDR configuration, not by the GPU"),
        .last_level_cache_bytes = UNKNOWN("Qualcomm publishes no GPU or system cache size"),
    },
    {
        .name = "mali-g715",
        .display_name = "Arm Mali-G715",
        .driver_note = "Arm proprietary driver (Android); the core count, and with it the compute units, is chosen "
                       "by each SoC",
        .vendor_id = KNOWN(0x13B5, THIRD_PARTY,
                           "Mesa panvk: vendorID = ARM_VENDOR_ID (0x13b5), as the Arm driver "
                           "reports for Mali GPUs"),
        .device_type = KNOWN(VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, THIRD_PARTY,
                             "[iree-tt]: getDeviceType(ARM_Valhall) = IntegratedGPU; Mesa panvk: INTEGRATED_GPU"),
        .driver_name = UNKNOWN("the Arm driver's driverName string was not found in a report"),
        .api_version = UNKNOWN("depends on the Android release and driver"),
        .subgroup_size = KNOWN(16, THIRD_PARTY, IREE_VALHALL ": subgroup size 16"),
        .min_subgroup_size = UNKNOWN("no report of VkPhysicalDeviceSubgroupSizeControlProperties was found"),
        .max_subgroup_size = UNKNOWN("no report of VkPhysicalDeviceSubgroupSizeControlProperties was found"),
        .subgroup_size_control = UNKNOWN("no report found"),
        .compute_full_subgroups = UNKNOWN("no report found"),
        .subgroup_basic_shuffle = KNOWN(true, THIRD_PARTY,
                                        IREE_VALHALL ": subgroup ops Shuffle | Arithmetic ([iree-tt]: shuffle from the "
                                                     "Android 12 drivers on)"),
        .compute_units = UNKNOWN("the number of shader cores is chosen per SoC"),
        .compute_units_exposed = UNKNOWN("no report of the Arm driver's extensions was read"),
        .max_workgroup_invocations = KNOWN(512, THIRD_PARTY, IREE_VALHALL),
        .max_workgroup_size_x = KNOWN(512, THIRD_PARTY, IREE_VALHALL ": {512, 512, 512}"),
        .max_shared_memory = KNOWN(32768, THIRD_PARTY, IREE_VALHALL ": 32 KiB workgroup memory"),
        .max_storage_buffer_range = UNKNOWN("no report found"),
        .max_storage_buffers_per_stage = UNKNOWN("no report found"),
        .min_storage_buffer_alignment = UNKNOWN("no report found"),
        .max_memory_allocation_count = UNKNOWN("no report found"),
        .storage_buffer_16bit = KNOWN(true, THIRD_PARTY,
                                      "[iree-tt] ARM_Valhall: storageBuffer16BitAccess = true "
                                      "(gpuinfo reports 10312, 15142)"),
        .memory_model = UNKNOWN("no report found"),
        .memory_model_device_scope = UNKNOWN("no report found"),
        .resident_groups_256 = UNKNOWN("no occupancy figure per core was found"),
        .dram_bandwidth_gbs = UNKNOWN("set by the SoC's memory, not by the GPU"),
        .last_level_cache_bytes = UNKNOWN("set by the SoC"),
    },
    {
        .name = "m2-moltenvk",
        .display_name = "Apple M2 (10-core GPU) through MoltenVK",
        .driver_note = "MoltenVK on macOS (Vulkan over Metal); Metal gives no cross-threadgroup visibility inside a "
                       "dispatch (MoltenVK #2497, SPIRV-Cross #2473) whatever the features say",
        .vendor_id = KNOWN(0x106B, DRIVER, "[mvk]: vendorID = kAppleVendorId (0x106b) on Apple silicon"),
        .device_type = KNOWN(VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU, DRIVER,
                             "[mvk] initGPUInfoProperties: INTEGRATED_GPU when memory is unified"),
        .driver_name = KNOWN("MoltenVK", DRIVER, "[mvk]: VkPhysicalDeviceDriverProperties driverName \"MoltenVK\""),
        .api_version = UNKNOWN("depends on the MoltenVK release"),
        .subgroup_size = KNOWN(32, DRIVER, "[mvk]: subgroupSize 32 on non-AMD GPUs"),
        .min_subgroup_size = KNOWN(4, DRIVER,
                                   "[mvk] initMetalFeatures: minSubgroupSize 4 on Apple GPUs ('assumed "
                                   "to be 4'); gfx-rs/wgpu #5551 vulkaninfo of an Apple GPU: 4"),
        .max_subgroup_size = KNOWN(32, DRIVER, "[mvk] initMetalFeatures: maxSubgroupSize 32 (non-AMD, simdPermute)"),
        .subgroup_size_control = KNOWN(true, SAME_DRIVER,
                                       "[mvk]: subgroupSizeControl = simdPermute || quadPermute, which the Apple GPU "
                                       "in gfx-rs/wgpu #5551 has (it reports SUBGROUP_FEATURE_SHUFFLE)"),
        .compute_full_subgroups = KNOWN(true, SAME_DRIVER,
                                        "[mvk]: computeFullSubgroups = simdPermute || quadPermute (see "
                                        "subgroup_size_control)"),
        .subgroup_basic_shuffle = KNOWN(true, SAME_DRIVER,
                                        "gfx-rs/wgpu #5551 vulkaninfo (MoltenVK, Apple GPU): BASIC|VOTE|ARITHMETIC|"
                                        "BALLOT|SHUFFLE|SHUFFLE_RELATIVE|QUAD"),
        .compute_units = KNOWN(10, VENDOR, "Apple M2 announcement (2022-06-06): up to a 10-core GPU"),
        .compute_units_exposed = UNKNOWN("MoltenVK's extension list was not read for the NV/AMD extensions"),
        .max_workgroup_invocations = KNOWN(1024, DRIVER,
                                           "[mvk]: MTLDevice.maxThreadsPerThreadgroup; Apple Metal Feature Set "
                                           "Tables (Apple8 = M2): 1024 threads per threadgroup"),
        .max_workgroup_size_x = KNOWN(1024, DRIVER,
                                      "[mvk]: maxThreadsPerThreadgroup.width; gfx-rs/wgpu #5551: "
                                      "{1024, 1024, 1024}"),
        .max_shared_memory = KNOWN(32768, DRIVER,
                                   "[mvk]: MTLDevice.maxThreadgroupMemoryLength; Apple Metal Feature Set Tables: 32 "
                                   "KB; gfx-rs/wgpu #5551: 32768"),
        .max_storage_buffer_range = UNKNOWN("[mvk] reports min(MTLDevice.maxBufferLength, 2^32 - 1); maxBufferLength "
                                            "depends on the Mac's memory"),
        .max_storage_buffers_per_stage = KNOWN(31, DRIVER,
                                               "[mvk]: maxPerStageBufferCount = 31 (Metal buffer argument "
                                               "table)"),
        .min_storage_buffer_alignment = KNOWN(16, DRIVER, "[mvk] initLimits: minStorageBufferOffsetAlignment = 16"),
        .max_memory_allocation_count = KNOWN(0x3FFFFFFFu, DRIVER, "[mvk]: kMVKUndefinedLargeUInt32 = INT32_MAX / 2"),
        .storage_buffer_16bit = KNOWN(true, DRIVER, "[mvk] getFeatures: storageBuffer16BitAccess = true"),
        .memory_model = KNOWN(true, DRIVER,
                              "[mvk] getFeatures: vulkanMemoryModel = true (not honoured across "
                              "threadgroups: MoltenVK #2497)"),
        .memory_model_device_scope = KNOWN(true, DRIVER, "[mvk] getFeatures: vulkanMemoryModelDeviceScope = true"),
        .resident_groups_256 = UNKNOWN("Apple publishes no threads-per-core occupancy figure"),
        .dram_bandwidth_gbs = KNOWN(100, VENDOR,
                                    "Apple M2 announcement (2022-06-06): 100 GB/s unified memory "
                                    "bandwidth"),
        .last_level_cache_bytes = UNKNOWN("Apple publishes no system-level cache size for M2"),
    },
};

const size_t vkbn__device_profile_count = sizeof vkbn__device_profiles / sizeof vkbn__device_profiles[0];

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

const vkbn__device_profile* vkbn__device_profile_find(const char* name) {
    if (!name) return NULL;
    for (size_t i = 0; i < vkbn__device_profile_count; ++i) {
        const char* a = vkbn__device_profiles[i].name;
        const char* b = name;
        while (*a && ascii_lower(*a) == ascii_lower(*b)) ++a, ++b;
        if (*a == '\0' && *b == '\0') return &vkbn__device_profiles[i];
    }
    return NULL;
}
