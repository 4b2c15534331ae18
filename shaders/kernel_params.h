/*
 * The interface between the host and the kernels, declared once for C and GLSL:
 * binding indices, specialization-constant IDs and one push-constant struct per
 * kernel. Every field is 32 bits so that std430 (GLSL) and C agree on offsets.
 *
 * Units: "v" offsets and counts are in vector items of the kernel's variant
 * (4 elements with VEC=4, 1 element with VEC=1). *_base fields are element
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
#define SPEC_SAVE_MASK 6     /* bit 0: write save_mean; bit 1: write save_invstd */
#define SPEC_FUSED 7         /* stats kernels: normalize in the same dispatch */
#define SPEC_CHANNELS_LAST 8 /* apply kernel: layout */
#define SPEC_INFERENCE 9     /* apply kernel: parameters from running statistics */
#define SPEC_CL_THREADS_X 10 /* stats_cl: threads along channels (WG / this along rows) */
#define SPEC_ITEMS 11        /* apply / copy: vector items per thread */
/* Backward kernels (bwd_*.comp). */
#define SPEC_BWD_FROZEN 12 /* statistics from running_mean / running_var (else save_mean / save_invstd) */
#define SPEC_BWD_WRITES 13 /* what this dispatch writes: BWD_WRITE_* bits */
#define SPEC_COUNT 14

#define BWD_WRITE_DX 1u
#define BWD_WRITE_DZ 2u
#define BWD_WRITE_DWEIGHT 4u
#define BWD_WRITE_DBIAS 8u

/* Bindings of the statistics kernels (stats_cf, stats_cl). */
#define BIND_STATS_X 0
#define BIND_STATS_Y 1
#define BIND_STATS_Z 2
#define BIND_STATS_WEIGHT 3
#define BIND_STATS_BIAS 4
#define BIND_STATS_RUNNING_MEAN 5
#define BIND_STATS_RUNNING_VAR 6
#define BIND_STATS_SAVE_MEAN 7
#define BIND_STATS_SAVE_INVSTD 8
#define BIND_STATS_PARTIALS 9  /* scratch: (count, mean, M2) per channel and slice */
#define BIND_STATS_COUNTERS 10 /* scratch: finished-slice counters, one per channel group */
#define BIND_STATS_CHANNEL 11  /* scratch: pivot | mean | scale | shift, each c_pad floats */
#define BIND_STATS_PIVOT 12    /* x's first sample: each channel's first element is its pivot */
#define BIND_STATS_COUNT 13

/* Bindings of the apply kernel (normalize + fusions). */
#define BIND_APPLY_X 0
#define BIND_APPLY_Y 1
#define BIND_APPLY_Z 2
#define BIND_APPLY_WEIGHT 3
#define BIND_APPLY_BIAS 4
#define BIND_APPLY_RUNNING_MEAN 5
#define BIND_APPLY_RUNNING_VAR 6
#define BIND_APPLY_CHANNEL 7
#define BIND_APPLY_COUNT 8

/* Bindings of the backward kernels (bwd_stats_cf, bwd_stats_cl, bwd_apply).
 * ACT is y (the mask of RELU, LEAKY_RELU, CLAMP) or the residual (SiLU's u);
 * MEAN / VAR are save_mean / save_invstd in training mode and running_mean /
 * running_var with frozen statistics. SCRATCH holds partial sums, counters
 * and channel coefficients as 32-bit words, at offsets the push constants give. */
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

/* Offsets of the per-channel vectors, shared by the stats and apply kernels. */
KP_STRUCT(kp_channel_bases) {
    KP_U32 weight;
    KP_U32 bias;
    KP_U32 running_mean;
    KP_U32 running_var;
    KP_U32 save_mean;
    KP_U32 save_invstd;
};

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

/* Statistics kernels accumulate x - K, where the pivot K is the channel's
 * first element: fp32 Welford/Chan on raw data loses about eps * |mean| / std
 * relative precision in the variance, on shifted data only about eps. The
 * scratch keeps the shifted mean so that normalize computes
 * ((x - K) - mean') * scale + shift without rounding the mean to |mean|'s ulp.
 *
 * Channels-first statistics. Workgroup (g, c - c_base) reduces slice g of
 * channel c: items [g * slice_len, min((g + 1) * slice_len, m_v)) of the
 * channel in this window, where item j lies at ((j / sv) * C + c) * sv + j % sv. */
KP_STRUCT(kp_stats_cf) {
    KP_U32 channels;     /* C */
    KP_U32 c_base;       /* first channel of this dispatch */
    KP_U32 m_v;          /* items per channel in this window (n_window * sv) */
    KP_U32 slice_len;    /* items per slice */
    KP_U32 slice_base;   /* first partial slot of this window */
    KP_U32 slices_total; /* partial slots per channel over all windows */
    KP_U32 x_base;
    KP_U32 y_base;
    KP_U32 z_base;
    KP_F32 eps;
    KP_F32 factor;         /* running-average weight of this batch */
    KP_F32 var_correction; /* m / (m - 1), or 1 for a biased running variance */
    KP_U32 c_pad;          /* stride of the channel scratch arrays */
    KP_U32 pivot_base;     /* item offset of x's first sample in the pivot binding */
    kp_fastdiv sv;         /* spatial size in items */
    kp_channel_bases ch;
    kp_activation act;
};

/* Channels-last statistics. Workgroup (g, cg) reduces rows
 * [g * slice_rows, min((g + 1) * slice_rows, rows)) of channel items
 * [cg * threads_x, (cg + 1) * threads_x). Item (r, cv) lies at r * cv_count + cv. */
KP_STRUCT(kp_stats_cl) {
    KP_U32 channels; /* C */
    KP_U32 cv_count; /* C / VEC */
    KP_U32 rows;     /* rows (n * spatial) in this window */
    KP_U32 slice_rows;
    KP_U32 slice_base;
    KP_U32 slices_total;
    KP_U32 cg_base; /* first channel group of this dispatch */
    KP_U32 x_base;
    KP_U32 y_base;
    KP_U32 z_base;
    KP_F32 eps;
    KP_F32 factor;
    KP_F32 var_correction;
    KP_U32 c_pad;
    KP_U32 pivot_base;
    kp_channel_bases ch;
    kp_activation act;
};

/* Normalize pass over a flat range of items. Channels-first: channel =
 * (i / inner) % C with inner = spatial items; channels-last: channel item =
 * i % cv_count. */
KP_STRUCT(kp_apply) {
    KP_U32 total_v; /* items in this window */
    KP_U32 x_base;
    KP_U32 y_base;
    KP_U32 z_base;
    KP_F32 eps;          /* inference */
    KP_U32 c_pad;        /* training: stride of the channel scratch arrays */
    KP_U32 groups_x;     /* workgroups along x of the dispatch (for 2-D grids) */
    kp_fastdiv inner;    /* channels-first: spatial items; channels-last: channel items */
    kp_fastdiv channels; /* channels-first: C */
    kp_channel_bases ch;
    kp_activation act;
};

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */
/* ------------------------------------------------------------------------ */

/* Item offsets of the tensors of a backward dispatch in their bound ranges. */
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

/* Word offsets inside the scratch binding. Partials: per channel and slice
 * (sum g, its compensation, sum g (x - mean), its compensation). Counters: one
 * per channel (group). Channel: six arrays of c_pad floats, the coefficients
 * of dx (see bwd_common.glsl). */
KP_STRUCT(kp_bwd_scratch) {
    KP_U32 partials;
    KP_U32 counters;
    KP_U32 channel;
    KP_U32 c_pad;
};

/* Channels-first backward statistics: the slices and items of kp_stats_cf. */
KP_STRUCT(kp_bwd_stats_cf) {
    KP_U32 channels;
    KP_U32 c_base;
    KP_U32 m_v;
    KP_U32 slice_len;
    KP_U32 slice_base;
    KP_U32 slices_total;
    KP_F32 eps;   /* frozen: added to running_var */
    KP_F32 inv_m; /* 1 / m */
    kp_fastdiv sv;
    kp_bwd_tensors t;
    kp_bwd_vectors ch;
    kp_bwd_scratch sc;
    kp_activation act;
};

/* Channels-last backward statistics: the rows and channel groups of kp_stats_cl. */
KP_STRUCT(kp_bwd_stats_cl) {
    KP_U32 channels;
    KP_U32 cv_count;
    KP_U32 rows;
    KP_U32 slice_rows;
    KP_U32 slice_base;
    KP_U32 slices_total;
    KP_U32 cg_base;
    KP_F32 eps;
    KP_F32 inv_m;
    kp_bwd_tensors t;
    kp_bwd_vectors ch;
    kp_bwd_scratch sc;
    kp_activation act;
};

/* The elementwise dx (and dz) pass over a flat range of items, indexed as in
 * kp_apply. Training: coefficients from the scratch; frozen: from the running
 * statistics. */
KP_STRUCT(kp_bwd_apply) {
    KP_U32 total_v;
    KP_U32 groups_x;
    KP_F32 eps;
    KP_F32 inv_m; /* unused: keeps bwd_common.glsl's view of p uniform */
    kp_fastdiv inner;
    kp_fastdiv channels;
    kp_bwd_tensors t;
    kp_bwd_vectors ch;
    kp_bwd_scratch sc;
    kp_activation act;
};

KP_STRUCT(kp_copy) {
    KP_U32 words;    /* 32-bit words to copy */
    KP_U32 src_base; /* in words */
    KP_U32 dst_base;
    KP_U32 groups_x;
};

#endif /* VKBN_KERNEL_PARAMS_H_ */
