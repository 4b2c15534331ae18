/* Backward plans in an engine (vkbn.h, "Embedding in an engine"): the engine
 * owns the device, one host-visible buffer holding every tensor and vector at
 * odd 4-byte offsets, the scratch and the command buffers. Each plan runs
 * immediately, then is recorded twice into one of the engine's command
 * buffers (with vkbn's barriers, or the engine's own per the contract) after
 * the engine has cleared the outputs: every output byte must agree with the
 * immediate run, and the synchronization validation layer must stay quiet. */
#include "engine_util.h"

#define N 3
#define C 10
#define S 700
#define COUNT (N * C * S)

typedef struct layout {
    VkDeviceSize x, dy, y, z, dx, dz, w, b, mean, invstd, dw, db, scratch, end;
} layout;

/* Consecutive ranges at odd multiples of 4 bytes; the scratch at its alignment. */
static layout make_layout(uint64_t scratch_alignment) {
    layout l;
    VkDeviceSize at = 4, t = COUNT * 4, v = C * 4;
    VkDeviceSize* tensors[] = {&l.x, &l.dy, &l.y, &l.z, &l.dx, &l.dz};
    for (size_t i = 0; i < 6; ++i) *tensors[i] = at, at += t + 12;
    VkDeviceSize* vectors[] = {&l.w, &l.b, &l.mean, &l.invstd, &l.dw, &l.db};
    for (size_t i = 0; i < 6; ++i) *vectors[i] = at, at += v + 4;
    l.scratch = (at + scratch_alignment - 1) / scratch_alignment * scratch_alignment;
    l.end = l.scratch;
    return l;
}

static vkbn_buffer wrap(vkbn_context ctx, const engine_buffer* big, VkDeviceSize offset, VkDeviceSize size) {
    vkbn_buffer b = NULL;
    vkbn_result r = vkbn_buffer_wrap(ctx, big->buffer, offset, size, &b);
    CHECK(r == VKBN_SUCCESS, "wrap at %llu: %s", (unsigned long long)offset, vkbn_last_error());
    return b;
}

static void fill_inputs(const engine_buffer* big, const layout* l) {
    float* x = (float*)(big->map + l->x);
    float* dy = (float*)(big->map + l->dy);
    float* y = (float*)(big->map + l->y);
    float* z = (float*)(big->map + l->z);
    for (uint64_t i = 0; i < COUNT; ++i) {
        x[i] = (float)((i * 7919) % 1001) / 250.0f - 2.0f;
        dy[i] = (float)((i * 104729) % 997) / 300.0f - 1.6f;
        y[i] = (float)((i * 31) % 17) / 8.0f - 1.0f; /* a mask with both signs */
        z[i] = (float)((i * 13) % 29) / 14.0f - 1.0f;
    }
    float* v[] = {(float*)(big->map + l->w), (float*)(big->map + l->b), (float*)(big->map + l->mean),
                  (float*)(big->map + l->invstd)};
    for (int c = 0; c < C; ++c) {
        v[0][c] = 0.5f + 0.1f * (float)c;
        v[1][c] = 0.2f - 0.05f * (float)c;
        v[2][c] = 0.03f * (float)c - 0.1f;
        v[3][c] = 0.7f + 0.02f * (float)c; /* save_invstd, or running_var when frozen */
    }
}

/* The output bytes (dx, dz, dweight, dbias), copied. */
static uint8_t* outputs(const engine_buffer* big, const layout* l) {
    uint8_t* o = malloc(2 * COUNT * 4 + 2 * C * 4);
    memcpy(o, big->map + l->dx, COUNT * 4);
    memcpy(o + COUNT * 4, big->map + l->dz, COUNT * 4);
    memcpy(o + 2 * COUNT * 4, big->map + l->dw, C * 4);
    memcpy(o + 2 * COUNT * 4 + C * 4, big->map + l->db, C * 4);
    return o;
}

/* What the contract asks of an engine that records without vkbn's barriers. */
static void contract_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0,
                         NULL);
}

typedef struct variant {
    const char* name;
    vkbn_layout layout;
    int frozen;
    vkbn_activation activation;
    uint32_t split;
} variant;

static void run_variant(test_engine* e, vkbn_context ctx, const variant* v, int k) {
    vkbn_backward_desc d;
    memset(&d, 0, sizeof d);
    d.tensor = (vkbn_tensor_desc){.n = N, .c = C, .spatial_rank = 1, .spatial = {S}, .layout = v->layout};
    d.frozen = (vkbn_bool)v->frozen;
    d.activation = v->activation;
    d.eps = VKBN_DEFAULT_EPS;
    d.reduction_split = v->split;
    /* Sizing first (buffers only need the right size and offset for it). */
    layout l = make_layout(4);
    engine_buffer big;
    engine_buffer_create(e, 1 << 20, &big);
    vkbn_buffer bufs[13] = {0};
    VkDeviceSize t = COUNT * 4, vb = C * 4;
    bufs[0] = d.x = wrap(ctx, &big, l.x, t);
    bufs[1] = d.dy = wrap(ctx, &big, l.dy, t);
    bufs[2] = d.y = wrap(ctx, &big, l.y, t);
    bufs[3] = d.residual = wrap(ctx, &big, l.z, t);
    bufs[4] = d.dx = wrap(ctx, &big, l.dx, t);
    bufs[5] = d.dresidual = wrap(ctx, &big, l.dz, t);
    bufs[6] = d.weight = wrap(ctx, &big, l.w, vb);
    bufs[7] = d.bias = wrap(ctx, &big, l.b, vb);
    bufs[8] = wrap(ctx, &big, l.mean, vb);
    bufs[9] = wrap(ctx, &big, l.invstd, vb);
    if (v->frozen) {
        d.running_mean = bufs[8], d.running_var = bufs[9];
    } else {
        d.save_mean = bufs[8], d.save_invstd = bufs[9];
    }
    bufs[10] = d.dweight = wrap(ctx, &big, l.dw, vb);
    bufs[11] = d.dbias = wrap(ctx, &big, l.db, vb);
    vkbn_scratch_requirements req;
    CHECK(vkbn_backward_scratch_requirements(ctx, &d, &req) == VKBN_SUCCESS, "%s: requirements: %s", v->name,
          vkbn_last_error());
    l = make_layout(req.alignment);
    if (req.size > 0) bufs[12] = d.scratch = wrap(ctx, &big, l.scratch, req.size);
    vkbn_plan plan = NULL;
    CHECK(vkbn_plan_create_backward(ctx, &d, &plan) == VKBN_SUCCESS, "%s: plan: %s", v->name, vkbn_last_error());
    uint64_t before = atomic_load(&e->messages);
    if (plan) {
        fill_inputs(&big, &l);
        memset(big.map + l.dx, 0, 2 * (t + 12));
        memset(big.map + l.dw, 0, 2 * (vb + 4));
        CHECK(vkbn_plan_execute(plan) == VKBN_SUCCESS, "%s: execute: %s", v->name, vkbn_last_error());
        uint8_t* immediate = outputs(&big, &l);

        VkCommandBuffer cmd = engine_begin(e, VK_NULL_HANDLE);
        /* The engine's own work first: clear every output with transfers. */
        vkCmdFillBuffer(cmd, big.buffer, l.dx, 2 * (t + 12), 0);
        vkCmdFillBuffer(cmd, big.buffer, l.dw, 2 * (vb + 4), 0);
        engine_barrier(cmd);
        for (int run = 0; run < 2; ++run) {
            bool own = (k + run) % 2 == 0;
            if (!own) contract_barrier(cmd);
            vkbn_result r =
                vkbn_plan_record(plan, cmd, own ? VKBN_RECORD_BARRIER_BEFORE | VKBN_RECORD_BARRIER_AFTER : 0);
            CHECK(r == VKBN_SUCCESS, "%s: record: %s", v->name, vkbn_last_error());
            if (!own) contract_barrier(cmd);
        }
        engine_barrier(cmd);
        CHECK(engine_submit(e, &cmd, 1, NULL) == VK_SUCCESS, "%s: submit", v->name);
        uint8_t* recorded = outputs(&big, &l);
        CHECK(memcmp(immediate, recorded, 2 * COUNT * 4 + 2 * C * 4) == 0,
              "%s: recorded runs differ from the immediate run", v->name);
        bool nonzero = false;
        for (int i = 0; i < COUNT && !nonzero; ++i) nonzero = ((float*)recorded)[i] != 0.0f;
        CHECK(nonzero, "%s: dx is all zero", v->name);
        if (env_set("VKBN_TEST_VERBOSE")) printf("ok   %s | %s\n", v->name, vkbn_plan_describe(plan));
        free(immediate);
        free(recorded);
    }
    CHECK(atomic_load(&e->messages) == before, "%s: %llu validation message(s)", v->name,
          (unsigned long long)(atomic_load(&e->messages) - before));
    vkbn_plan_destroy(plan);
    for (int i = 0; i < 13; ++i) vkbn_buffer_destroy(bufs[i]);
    engine_buffer_destroy(e, &big);
}

int main(void) {
    test_engine e;
    engine_create(&e, 0);
    vkbn_vulkan_device b = engine_borrow(&e, 1);
    vkbn_context ctx = engine_context(&e, &b, NULL);
    static const variant variants[] = {
        {"training split relu nchw", VKBN_LAYOUT_CHANNELS_FIRST, 0, VKBN_ACTIVATION_RELU, 4},
        {"training split silu nhwc", VKBN_LAYOUT_CHANNELS_LAST, 0, VKBN_ACTIVATION_SILU, 3},
        {"training fused relu nchw", VKBN_LAYOUT_CHANNELS_FIRST, 0, VKBN_ACTIVATION_RELU, 1},
        {"frozen split silu nchw", VKBN_LAYOUT_CHANNELS_FIRST, 1, VKBN_ACTIVATION_SILU, 4},
        {"frozen split relu nhwc", VKBN_LAYOUT_CHANNELS_LAST, 1, VKBN_ACTIVATION_RELU, 2},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; ++i) run_variant(&e, ctx, &variants[i], (int)i);
    vkbn_context_destroy(ctx);
    CHECK(atomic_load(&e.messages) == 0, "validation messages: %llu", (unsigned long long)atomic_load(&e.messages));
    engine_destroy(&e);
    return test_summary();
}
