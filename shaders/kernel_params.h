/*
 * The interface between the host and the kernels, declared once for C and GLSL:
 * binding indices, specialization-constant IDs and one push-constant struct per
 * kernel. Every field is 32 bits so that std430 (GLSL) and C agree on offsets.
 *
 * Units: "v" offsets and counts are in vector items of the kernel's variant
 * (4 elements with VEC=4, 1 element with VEC=1, 8 halves with VEC=8, which
 * only the f16 elementwise kernels have). *_base fields are element
 * offsets (in items for tensors, in floats for per-channel vectors) from the
 * start of the bound range, which vkbn aligns down to the device's
 * minStorageBufferOffsetAlignment.
 */
#ifndef VKBN_KERNEL_PARAMS_H_
#define VKBN_KERNEL_PARAMS_H_

#ifdef VULKAN /* GLSL compiled by glslang for Vulkan */
#define KP_U32 uint
#define KP_F32 float
#define KP_STRUCT(name) struct name
#else
#include <stdint.h>
#define KP_U32 uint32_t
#define KP_F32 float
#define KP_STRUCT(name)       \
    typedef struct name name; \
    struct name
#endif

/* Specialization constants shared by the kernels. */
#define SPEC_WG_SIZE 0    /* workgroup size (power of two) */
#define SPEC_ACTIVATION 1 /* vkbn_activation */
#define SPEC_HAS_RESIDUAL 2
#define SPEC_HAS_WEIGHT 3
#define SPEC_HAS_BIAS 4
#define SPEC_HAS_RUNNING 5   /* update running statistics */
#define SPEC_SAVE_MASK 6     /* bit 0: write save_mean; bit 1: write save_invstd; bit 2: export */
#define SPEC_FUSED 7         /* reduction kernels: one workgroup owns a channel (group), no merge */
#define SPEC_CHANNELS_LAST 8 /* elementwise kernels: layout */
#define SPEC_INFERENCE 9     /* apply kernel: channels-first parameters from running statistics */
#define SPEC_CL_THREADS_X 10 /* channels-last reductions: threads along channels (WG / this along rows) */
#define SPEC_ITEMS 11        /* elementwise kernels and copy: vector items per thread */
/* Backward kernels (bwd_*.comp). */
#define SPEC_BWD_FROZEN 12 /* statistics from running_mean / running_var (else save_mean / save_invstd) */
#define SPEC_BWD_WRITES 13 /* what this dispatch writes: BWD_WRITE_* bits */
/* Reduction kernels: store the channel block (kp_scratch) for the
 * elementwise pass after the reduction. */
#define SPEC_STORE_CHANNEL 14
/* Elementwise kernels: 0, or how every item of a thread has the channel
 * items of its first, so that it loads the channel parameters once
 * (elementwise.glsl: 1, its items are WG apart and WG is a multiple of a
 * channels-last row; 2, they are a row apart, the row a multiple of WG). */
#define SPEC_THREAD_CHANNEL 15
/* Reduction kernels that are not FUSED: how slices merge (merge.glsl). */
#define SPEC_MERGE 16
/* The activation bit mask: the statistics family writes it beside y, the
 * gradient family reads it in place of y (mask.glsl). */
#define SPEC_ACT_MASK 17
#define SPEC_COUNT 18

/* SPEC_MERGE values. */
#define MERGE_LAST_WORKGROUP 0u /* the last workgroup of a group merges (needs MEMORY_MODEL=1) */
#define MERGE_DEFERRED 1u       /* store partials only; a MERGE_PASS dispatch follows */
#define MERGE_PASS 2u           /* the merge dispatch: merge the partials, finish the channels */
/* Channels-last merges: slices merged serially by one lane at most
 * (merge_channels.glsl, vk_reduce.c). */
#define MERGE_LANE_STEPS 16u

#define BWD_WRITE_DX 1u
#define BWD_WRITE_DZ 2u
#define BWD_WRITE_DWEIGHT 4u
#define BWD_WRITE_DBIAS 8u
/* Not a write: bwd_apply after a reduction that wrote dz reads g back from
 * dz instead of forming it from dy and y (or z). */
#define BWD_G_FROM_DZ 16u

/* Bindings of the statistics family: the reduction kernels (stats_cf,
 * stats_cl) bind all of them, the apply kernel the first BIND_APPLY_COUNT.
 * SCRATCH is the plan's scratch (kp_scratch) or, for apply from host
 * parameters, the host's arrays. */
#define BIND_STATS_X 0
#define BIND_STATS_Y 1
#define BIND_STATS_Z 2
#define BIND_STATS_WEIGHT 3
#define BIND_STATS_BIAS 4
#define BIND_STATS_RUNNING_MEAN 5
#define BIND_STATS_RUNNING_VAR 6
#define BIND_STATS_SCRATCH 7
#define BIND_STATS_MASK 8 /* the activation mask's words, written beside y (SPEC_ACT_MASK) */
#define BIND_APPLY_COUNT 9
#define BIND_STATS_SAVE_MEAN 9
#define BIND_STATS_SAVE_INVSTD 10
#define BIND_STATS_PIVOT 11 /* x's first sample: each channel's first element is its pivot */
#define BIND_STATS_COUNT 12

/* Bindings of the gradient family (bwd_stats_cf, bwd_stats_cl, bwd_apply).
 * ACT is y (act' of RELU, LEAKY_RELU, CLAMP), the activation mask's words
 * in its place (SPEC_ACT_MASK), or the residual (SiLU's u);
 * MEAN / VAR are save_mean / save_invstd in training mode and running_mean /
 * running_var with frozen statistics. SCRATCH as for the statistics family. */
#define BIND_BWD_X 0
#define BIND_BWD_DY 1
#define BIND_BWD_ACT 2
#define BIND_BWD_DX 3
#define BIND_BWD_DZ 4
#define BIND_BWD_WEIGHT 5
#define BIND_BWD_BIAS 6
#define BIND_BWD_MEAN 7
#define BIND_BWD_VAR 8
#define BIND_BWD_DWEIGHT 9
#define BIND_BWD_DBIAS 10
#define BIND_BWD_SCRATCH 11
#define BIND_BWD_COUNT 12

#define BIND_COPY_SRC 0
#define BIND_COPY_DST 1
#define BIND_COPY_COUNT 2

/* The most bindings of any kernel (descriptor pools, device limits). */
#define BIND_MAX_COUNT 12

/* Parameters of the fused activation (vkbn_activation): LEAKY_RELU's slope
 * is alpha, CLAMP's range is [alpha, beta]. */
KP_STRUCT(kp_activation) {
    KP_F32 alpha;
    KP_F32 beta;
};

/* Fast unsigned division by a runtime constant d: for n < 2^31,
 * n / d == (mulhi(n, mul) + n) >> shift. */
KP_STRUCT(kp_fastdiv) {
    KP_U32 d;
    KP_U32 mul;
    KP_U32 shift;
};

/* ------------------------------------------------------------------------ */
/* What every reduction and every elementwise kernel shares                  */
/* ------------------------------------------------------------------------ */

/* Word offsets in the scratch binding, one convention for every kernel:
 * - partials: one vec4-packed partial result per channel and slice
 *   (merge.glsl), at partials + (channel * slices_total + slice) * 4;
 * - counters: one per channel group, zero when a run starts;
 * - channel: the block a reduction leaves for the elementwise pass after
 *   it, arrays of c_pad floats (statistics: 4, pivot | mean - pivot |
 *   scale | shift; gradients: 6, bwd_common.glsl). An elementwise pass from
 *   host parameters (VKBN__SOURCE_HOST) binds the host's arrays instead,
 *   `channel` at their start. channel and c_pad are multiples of 4.
 * Laid out by vkbn__vk_scratch_layout (vk_plan_build.c). */
KP_STRUCT(kp_scratch) {
    KP_U32 partials;
    KP_U32 counters;
    KP_U32 channel;
    KP_U32 c_pad;
};

/* How a per-channel reduction is sliced, for every reduction kernel.
 * Channels-first: workgroup (g, c - group_base) reduces items
 * [g * slice_items, min((g + 1) * slice_items, items)) of channel c in this
 * window, item j lying at ((j / sv) * C + c) * sv + j % sv.
 * Channels-last: workgroup (g, cg - group_base) reduces rows
 * [g * slice_items, min(..., items)) of channel items [cg * TX, (cg + 1) * TX),
 * item (r, cv) lying at r * cv_count + cv. */
KP_STRUCT(kp_slices) {
    KP_U32 channels;     /* C */
    KP_U32 group_base;   /* first channel (group) of this dispatch */
    KP_U32 items;        /* channels-first: items per channel in this window; channels-last: rows */
    KP_U32 slice_items;  /* items (rows) per slice */
    KP_U32 slice_base;   /* first partial slot of this window */
    KP_U32 slices_total; /* partial slots per channel over all windows */
    KP_U32 cv_count;     /* channels-last: C / VEC */
    kp_fastdiv sv;       /* channels-first: spatial size in items */
};

/* An elementwise pass over a flat range of items. Channels-first: channel =
 * (i / inner) % C with inner = spatial items; channels-last: channel item =
 * i % inner, inner = C / VEC. With VEC=8, inner and channels index vec4
 * sub-items (an item is two) while total_v and the tensor bases count
 * 8-element items. apply_params: total_v = C, one thread per channel. */
KP_STRUCT(kp_elementwise) {
    KP_U32 total_v;      /* items in this window */
    KP_U32 groups_x;     /* workgroups along x of the dispatch (for 2-D grids) */
    kp_fastdiv inner;    /* channels-first: spatial items; channels-last: channel items */
    kp_fastdiv channels; /* channels-first: C; channels-last rows a row apart
                          * (SPEC_THREAD_CHANNEL 2): WG blocks per row */
};

/* ------------------------------------------------------------------------ */
/* Statistics family: REDUCE_STATS (stats_cf, stats_cl), NORMALIZE (apply)  */
/* ------------------------------------------------------------------------ */

/* Offsets of the per-channel vectors. */
KP_STRUCT(kp_channel_bases) {
    KP_U32 weight;
    KP_U32 bias;
    KP_U32 running_mean;
    KP_U32 running_var;
    KP_U32 save_mean;
    KP_U32 save_invstd;
};

/* What the statistics kernels read besides the slicing and the scratch.
 * Statistics kernels accumulate x - K, where the pivot K is the channel's
 * first element: fp32 Welford/Chan on raw data loses about eps * |mean| / std
 * relative precision in the variance, on shifted data only about eps. The
 * channel block keeps the shifted mean so that normalize computes
 * ((x - K) - mean') * scale + shift without rounding the mean to |mean|'s ulp. */
KP_STRUCT(kp_stats_io) {
    KP_U32 x_base;
    KP_U32 y_base;
    KP_U32 z_base;
    KP_F32 eps;
    KP_F32 factor;         /* running-average weight of this batch */
    KP_F32 var_correction; /* m / (m - 1), or 1 for a biased running variance */
    KP_U32 pivot_base;     /* item offset of x's first sample in the pivot binding */
    kp_channel_bases ch;
    kp_activation act;
    KP_U32 mask_base; /* bit offset of the window's first element in the mask binding */
};

KP_STRUCT(kp_stats) {
    kp_slices r;
    kp_scratch sc;
    kp_stats_io io;
};

/* Normalize: channel parameters from the scratch's channel block (after a
 * reduction, or apply_params for channels-last inference), the host's
 * arrays, or the running statistics (channels-first inference). Also
 * apply_params's push constants. */
KP_STRUCT(kp_apply) {
    kp_elementwise e;
    kp_scratch sc;
    kp_stats_io io;
};

/* ------------------------------------------------------------------------ */
/* Gradient family: REDUCE_GRADS (bwd_stats_cf, bwd_stats_cl), APPLY_GRADS   */
/* (bwd_apply)                                                               */
/* ------------------------------------------------------------------------ */

/* Item offsets of the tensors of a backward dispatch in their bound ranges
 * (act: a bit offset when it is the activation mask). */
KP_STRUCT(kp_bwd_tensors) {
    KP_U32 x;
    KP_U32 dy;
    KP_U32 act;
    KP_U32 dx;
    KP_U32 dz;
};

/* Float offsets of the per-channel vectors of a backward dispatch. */
KP_STRUCT(kp_bwd_vectors) {
    KP_U32 weight;
    KP_U32 bias;
    KP_U32 mean;
    KP_U32 var;
    KP_U32 dweight;
    KP_U32 dbias;
};

KP_STRUCT(kp_grads_io) {
    KP_F32 eps;   /* frozen: added to running_var */
    KP_F32 inv_m; /* 1 / m */
    kp_bwd_tensors t;
    kp_bwd_vectors ch;
    kp_activation act;
};

KP_STRUCT(kp_bwd_stats) {
    kp_slices r;
    kp_scratch sc;
    kp_grads_io io;
};

/* dx (and dz): coefficients from the scratch's channel block (training),
 * the host's arrays, or the running statistics (frozen). */
KP_STRUCT(kp_bwd_apply) {
    kp_elementwise e;
    kp_scratch sc;
    kp_grads_io io;
};

KP_STRUCT(kp_copy) {
    KP_U32 words;    /* 32-bit words to copy */
    KP_U32 src_base; /* in words */
    KP_U32 dst_base;
    KP_U32 groups_x;
};

#endif /* VKBN_KERNEL_PARAMS_H_ */
