/* The device profiles (src/vulkan/vk_profiles.c) on their own, with no
 * device: each profile's internal consistency (subgroup sizes powers of two
 * with min <= size <= max, limits that fit each other), every known limit
 * within the Vulkan specification's required limits, every value with a
 * source (a known one names it, an unknown one says why it is unknown), and
 * lookup by short name. */
#include <stdio.h>
#include <string.h>

#include "vk_profiles.h"

#include "test_util.h"

static bool pow2(uint64_t v) { return v && (v & (v - 1)) == 0; }
static bool known(vkbn__prov p) { return p != VKBN__PROV_UNKNOWN; }

/* A known value names its source; an unknown one is zero and says why. */
static void check_source(const char* profile, const char* field, vkbn__prov prov, const char* source, bool zero) {
    CHECK((unsigned)prov <= (unsigned)VKBN__PROV_LOWER_BOUND, "%s.%s: provenance %d", profile, field, (int)prov);
    CHECK(source && source[0], "%s.%s: no source", profile, field);
    if (!source) return;
    bool says_unknown = strncmp(source, "unknown", 7) == 0;
    if (known(prov)) {
        CHECK(!says_unknown, "%s.%s: known, but its source says '%s'", profile, field, source);
    } else {
        CHECK(says_unknown && strlen(source) > strlen("unknown: "), "%s.%s: unknown without a reason: '%s'", profile,
              field, source);
        CHECK(zero, "%s.%s: unknown, but holds a value", profile, field);
    }
}

#define SRC32(p, f) check_source((p)->name, #f, (p)->f.prov, (p)->f.source, (p)->f.value == 0)
#define SRCB(p, f) check_source((p)->name, #f, (p)->f.prov, (p)->f.source, !(p)->f.value)
#define SRCS(p, f) check_source((p)->name, #f, (p)->f.prov, (p)->f.source, (p)->f.value == NULL)

static void check_sources(const vkbn__device_profile* p) {
    SRC32(p, vendor_id);
    SRC32(p, device_type);
    SRCS(p, driver_name);
    SRC32(p, api_version);
    SRC32(p, subgroup_size);
    SRC32(p, min_subgroup_size);
    SRC32(p, max_subgroup_size);
    SRCB(p, subgroup_size_control);
    SRCB(p, compute_full_subgroups);
    SRCB(p, subgroup_basic_shuffle);
    SRC32(p, compute_units);
    SRCB(p, compute_units_exposed);
    SRC32(p, max_workgroup_invocations);
    SRC32(p, max_workgroup_size_x);
    SRC32(p, max_shared_memory);
    SRC32(p, max_storage_buffer_range);
    SRC32(p, max_storage_buffers_per_stage);
    SRC32(p, min_storage_buffer_alignment);
    SRC32(p, max_memory_allocation_count);
    SRCB(p, storage_buffer_16bit);
    SRCB(p, memory_model);
    SRCB(p, memory_model_device_scope);
    SRC32(p, resident_groups_256);
    SRC32(p, dram_bandwidth_gbs);
    SRC32(p, last_level_cache_bytes);
}

/* A known limit within the spec's bound (lower bounds for maxima, an upper
 * bound for the alignment). */
static void check_min(const char* profile, const char* field, const vkbn__pu32* f, uint32_t spec_min) {
    if (known(f->prov))
        CHECK(f->value >= spec_min, "%s.%s = %u, below the spec's %u", profile, field, f->value, spec_min);
}

static void check_limits(const vkbn__device_profile* p) {
    check_min(p->name, "max_workgroup_invocations", &p->max_workgroup_invocations,
              VKBN__SPEC_MIN_WORKGROUP_INVOCATIONS);
    check_min(p->name, "max_workgroup_size_x", &p->max_workgroup_size_x, VKBN__SPEC_MIN_WORKGROUP_SIZE_X);
    check_min(p->name, "max_shared_memory", &p->max_shared_memory, VKBN__SPEC_MIN_SHARED_MEMORY);
    check_min(p->name, "max_storage_buffer_range", &p->max_storage_buffer_range, VKBN__SPEC_MIN_STORAGE_BUFFER_RANGE);
    check_min(p->name, "max_storage_buffers_per_stage", &p->max_storage_buffers_per_stage,
              VKBN__SPEC_MIN_STORAGE_BUFFERS_PER_STAGE);
    check_min(p->name, "max_memory_allocation_count", &p->max_memory_allocation_count,
              VKBN__SPEC_MIN_MEMORY_ALLOCATION_COUNT);
    const vkbn__pu32* a = &p->min_storage_buffer_alignment;
    if (known(a->prov)) {
        CHECK(pow2(a->value) && a->value <= VKBN__SPEC_MAX_MIN_STORAGE_BUFFER_ALIGNMENT,
              "%s.min_storage_buffer_alignment = %u: must be a power of two <= 256", p->name, a->value);
    }
    /* A workgroup holds at least one subgroup. */
    if (known(p->subgroup_size.prov) && known(p->max_workgroup_invocations.prov)) {
        CHECK(p->subgroup_size.value <= p->max_workgroup_invocations.value,
              "%s: subgroup_size %u > max_workgroup_invocations %u", p->name, p->subgroup_size.value,
              p->max_workgroup_invocations.value);
    }
    /* The device-scope memory model implies the model. */
    if (known(p->memory_model_device_scope.prov) && p->memory_model_device_scope.value) {
        CHECK(known(p->memory_model.prov) && p->memory_model.value, "%s: device scope without the memory model",
              p->name);
    }
    /* Known values a Vulkan 1.1 device (vkbn's minimum) must have. */
    if (known(p->api_version.prov)) {
        CHECK(p->api_version.value >= VK_API_VERSION_1_1, "%s: api_version below 1.1", p->name);
    }
    CHECK(known(p->vendor_id.prov) && p->vendor_id.value != 0, "%s: vendor_id unknown", p->name);
    CHECK(known(p->device_type.prov) && p->device_type.value <= VK_PHYSICAL_DEVICE_TYPE_CPU,
          "%s: device_type unknown or invalid", p->name);
}

static void check_subgroups(const vkbn__device_profile* p) {
    const vkbn__pu32* s = &p->subgroup_size;
    const vkbn__pu32* lo = &p->min_subgroup_size;
    const vkbn__pu32* hi = &p->max_subgroup_size;
    if (known(s->prov)) CHECK(pow2(s->value), "%s.subgroup_size %u not a power of two", p->name, s->value);
    if (known(lo->prov)) CHECK(pow2(lo->value), "%s.min_subgroup_size %u not a power of two", p->name, lo->value);
    if (known(hi->prov)) CHECK(pow2(hi->value), "%s.max_subgroup_size %u not a power of two", p->name, hi->value);
    if (known(lo->prov) && known(s->prov)) {
        CHECK(lo->value <= s->value, "%s: min_subgroup_size %u > subgroup_size %u", p->name, lo->value, s->value);
    }
    if (known(hi->prov) && known(s->prov)) {
        CHECK(s->value <= hi->value, "%s: subgroup_size %u > max_subgroup_size %u", p->name, s->value, hi->value);
    }
    if (known(lo->prov) && known(hi->prov)) {
        CHECK(lo->value <= hi->value, "%s: min_subgroup_size > max_subgroup_size", p->name);
    }
}

static void check_cost(const vkbn__device_profile* p) {
    if (known(p->compute_units_exposed.prov) && p->compute_units_exposed.value) {
        CHECK(known(p->compute_units.prov) && p->compute_units.value > 0,
              "%s: the driver exposes a compute-unit count the profile does not know", p->name);
    }
    if (known(p->resident_groups_256.prov)) {
        CHECK(p->resident_groups_256.value >= 1 && p->resident_groups_256.value <= 64, "%s: resident_groups_256 %u",
              p->name, p->resident_groups_256.value);
        if (known(p->max_workgroup_invocations.prov)) {
            CHECK(p->max_workgroup_invocations.value >= 256, "%s: resident groups of 256 on a device below 256",
                  p->name);
        }
    }
}

static void check_names(void) {
    CHECK(vkbn__device_profile_count >= 6, "%zu profiles", vkbn__device_profile_count);
    static const char* const required[] = {"h100", "rx7900xtx", "a770", "adreno740", "mali-g715", "m2-moltenvk"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; ++i) {
        CHECK(vkbn__device_profile_find(required[i]) != NULL, "no profile '%s'", required[i]);
    }
    for (size_t i = 0; i < vkbn__device_profile_count; ++i) {
        const vkbn__device_profile* p = &vkbn__device_profiles[i];
        CHECK(p->name && p->name[0] && p->display_name && p->display_name[0] && p->driver_note && p->driver_note[0],
              "profile %zu lacks a name, display name or driver note", i);
        CHECK(vkbn__device_profile_find(p->name) == p, "'%s' does not find itself", p->name);
        for (size_t j = i + 1; j < vkbn__device_profile_count; ++j) {
            CHECK(strcmp(p->name, vkbn__device_profiles[j].name) != 0, "'%s' twice", p->name);
        }
        for (const char* c = p->name; *c; ++c) {
            CHECK((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-', "'%s': short names are lower case",
                  p->name);
        }
    }
    CHECK(vkbn__device_profile_find("H100") == vkbn__device_profile_find("h100"), "lookup is case-sensitive");
    CHECK(vkbn__device_profile_find("Mali-G715") == vkbn__device_profile_find("mali-g715"), "lookup is case-sensitive");
    CHECK(vkbn__device_profile_find("M2-MoltenVK") != NULL, "mixed-case lookup failed");
    CHECK(vkbn__device_profile_find("h10") == NULL, "a prefix matched");
    CHECK(vkbn__device_profile_find("h1000") == NULL, "a longer name matched");
    CHECK(vkbn__device_profile_find("") == NULL, "the empty name matched");
    CHECK(vkbn__device_profile_find(NULL) == NULL, "NULL matched");
}

/* The facts the planner's choices hang on, as the sources give them. */
static void check_known_facts(void) {
    const vkbn__device_profile* m2 = vkbn__device_profile_find("m2-moltenvk");
    if (m2) {
        CHECK(m2->driver_name.value && strcmp(m2->driver_name.value, "MoltenVK") == 0,
              "the MoltenVK profile must carry the driver name vk_tuning.c tests");
        CHECK(m2->vendor_id.value == 0x106B, "Apple vendor id");
    }
    const vkbn__device_profile* amd = vkbn__device_profile_find("rx7900xtx");
    if (amd) {
        CHECK(amd->compute_units_exposed.value && amd->compute_units.value == 96, "RADV exposes 96 CUs");
        CHECK(amd->memory_model.value && amd->memory_model_device_scope.value, "RADV has the memory model");
    }
    const vkbn__device_profile* intel = vkbn__device_profile_find("a770");
    if (intel) CHECK(!intel->compute_units_exposed.value, "ANV exposes no compute-unit count");
    const vkbn__device_profile* adreno = vkbn__device_profile_find("adreno740");
    if (adreno) {
        CHECK(vkbn__pu32_or(&adreno->max_storage_buffer_range, VKBN__SPEC_MIN_STORAGE_BUFFER_RANGE) ==
                  VKBN__SPEC_MIN_STORAGE_BUFFER_RANGE,
              "an unknown field takes the fallback");
    }
}

int main(void) {
    check_names();
    for (size_t i = 0; i < vkbn__device_profile_count; ++i) {
        const vkbn__device_profile* p = &vkbn__device_profiles[i];
        check_sources(p);
        check_limits(p);
        check_subgroups(p);
        check_cost(p);
    }
    check_known_facts();
    printf("profiles: %zu\n", vkbn__device_profile_count);
    return test_summary();
}
