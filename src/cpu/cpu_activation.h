/* The activations of the CPU kernels, forward and derivative, written once
 * over the vector primitives of one instruction set (included by
 * cpu_kernels_impl.h, so per ISA, after cpu_simd_<isa>.h). As
 * shaders/activation.glsl:
 *   RELU max(u, 0); LEAKY_RELU u >= 0 ? u : alpha u;
 *   CLAMP min(max(u, alpha), beta); SILU u sigmoid(u) = u / (1 + exp(-u)).
 * Derivatives, as g = dy act'(.): from y for the mask activations, taking
 * the strict side at the kinks (RELU y > 0, LEAKY_RELU y > 0 else alpha,
 * CLAMP alpha < y < beta), by selection, so an infinite dy is masked to 0
 * as PyTorch's threshold_backward does; SiLU's from u:
 * s (1 + u (1 - s)), s = sigmoid(u).
 * SiLU runs lane by lane through the C library's expf, so vector bodies and
 * scalar tails round alike.
 *
 * A new activation goes here and in VKBN_CPU_ACTIVATIONS, from which
 * cpu_kernels_impl.h instantiates every forward and backward kernel. */

/* X(CALL, ACT) for every activation the kernels are instantiated for. */
#define VKBN_CPU_ACTIVATIONS(X, CALL) \
    X(CALL, VKBN_ACTIVATION_NONE)     \
    X(CALL, VKBN_ACTIVATION_RELU)     \
    X(CALL, VKBN_ACTIVATION_LEAKY_RELU) X(CALL, VKBN_ACTIVATION_CLAMP) X(CALL, VKBN_ACTIVATION_SILU)

static float silu_s(float u) { return u / (1.0f + expf(-u)); }

static V silu_v(V u) {
    float l[W];
    v_storeu(l, u);
    for (int i = 0; i < W; ++i) l[i] = silu_s(l[i]);
    return v_loadu(l);
}

/* dy act'(u) for SiLU. */
static float silu_grad_s(float dy, float u) {
    float s = 1.0f / (1.0f + expf(-u));
    return dy * (s * (1.0f + u * (1.0f - s)));
}

static V silu_grad_v(V dy, V u) {
    float a[W], b[W];
    v_storeu(a, dy);
    v_storeu(b, u);
    for (int i = 0; i < W; ++i) a[i] = silu_grad_s(a[i], b[i]);
    return v_loadu(a);
}

/* y = act(u). */
ALWAYS_INLINE V act_v(V u, const vkbn_activation act, float alpha, float beta) {
    switch (act) {
        case VKBN_ACTIVATION_RELU: return v_max(v_zero(), u);
        case VKBN_ACTIVATION_LEAKY_RELU: return v_select_ge0(u, u, v_mul(u, v_set1(alpha)));
        case VKBN_ACTIVATION_CLAMP: return v_min(v_max(u, v_set1(alpha)), v_set1(beta));
        case VKBN_ACTIVATION_SILU: return silu_v(u);
        case VKBN_ACTIVATION_NONE:
        default: return u;
    }
}

ALWAYS_INLINE float act_s(float u, const vkbn_activation act, float alpha, float beta) {
    switch (act) {
        case VKBN_ACTIVATION_RELU: return s_max(0.0f, u);
        case VKBN_ACTIVATION_LEAKY_RELU: return u >= 0.0f ? u : u * alpha;
        case VKBN_ACTIVATION_CLAMP: return s_min(s_max(u, alpha), beta);
        case VKBN_ACTIVATION_SILU: return silu_s(u);
        case VKBN_ACTIVATION_NONE:
        default: return u;
    }
}

/* g = dy act'(.): y is read by the mask activations, u by SiLU. */
ALWAYS_INLINE V act_grad_v(V dy, V y, V u, const vkbn_activation act, float alpha, float beta) {
    switch (act) {
        case VKBN_ACTIVATION_RELU: return v_select_gt(y, v_zero(), dy, v_zero());
        case VKBN_ACTIVATION_LEAKY_RELU: return v_select_gt(y, v_zero(), dy, v_mul(dy, v_set1(alpha)));
        case VKBN_ACTIVATION_CLAMP:
            return v_select_gt(y, v_set1(alpha), v_select_gt(v_set1(beta), y, dy, v_zero()), v_zero());
        case VKBN_ACTIVATION_SILU: return silu_grad_v(dy, u);
        case VKBN_ACTIVATION_NONE:
        default: return dy;
    }
}

ALWAYS_INLINE float act_grad_s(float dy, float y, float u, const vkbn_activation act, float alpha, float beta) {
    switch (act) {
        case VKBN_ACTIVATION_RELU: return y > 0.0f ? dy : 0.0f;
        case VKBN_ACTIVATION_LEAKY_RELU: return y > 0.0f ? dy : dy * alpha;
        case VKBN_ACTIVATION_CLAMP: return y > alpha ? (y < beta ? dy : 0.0f) : 0.0f;
        case VKBN_ACTIVATION_SILU: return silu_grad_s(dy, u);
        case VKBN_ACTIVATION_NONE:
        default: return dy;
    }
}
