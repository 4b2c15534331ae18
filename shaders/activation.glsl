// The fused activations (vkbn_activation) and their derivatives. ACTIVATION
// is the specialization constant; alpha and beta its parameters (kp_activation):
//   RELU        max(u, 0)
//   LEAKY_RELU  u >= 0 ? u : alpha * u
//   CLAMP       min(max(u, alpha), beta)
//   SILU        u * sigmoid(u)
// Selections (not multiplications by 0/1 masks) so that an infinite dy is
// masked to 0, as PyTorch's threshold_backward does.

#define ACT_NONE 0u
#define ACT_RELU 1u
#define ACT_LEAKY_RELU 2u
#define ACT_CLAMP 3u
#define ACT_SILU 4u

#if VEC != 1
#define VSEL(cond, a, b) mix(b, a, cond) // componentwise cond ? a : b
#define VGT(a, b) greaterThan(a, b)
#define VGE(a, b) greaterThanEqual(a, b)
#define VLT(a, b) lessThan(a, b)
#else
#define VSEL(cond, a, b) mix(b, a, cond)
#define VGT(a, b) ((a) > (b))
#define VGE(a, b) ((a) >= (b))
#define VLT(a, b) ((a) < (b))
#endif

VT act_forward(VT u, kp_activation a) {
    if (ACTIVATION == ACT_RELU) return max(u, VT(0.0));
    if (ACTIVATION == ACT_LEAKY_RELU) return VSEL(VGE(u, VT(0.0)), u, u * a.alpha);
    if (ACTIVATION == ACT_CLAMP) return clamp(u, VT(a.alpha), VT(a.beta));
    if (ACTIVATION == ACT_SILU) return u / (1.0 + exp(-u));
    return u;
}

// Whether act' is read from y (the stored forward output) rather than u.
const bool ACT_GRAD_FROM_Y = ACTIVATION == ACT_RELU || ACTIVATION == ACT_LEAKY_RELU || ACTIVATION == ACT_CLAMP;

// dL/du = dy * act'(u), for the activations whose act' y tells.
VT act_grad_from_y(VT dy, VT y, kp_activation a) {
    if (ACTIVATION == ACT_RELU) return VSEL(VGT(y, VT(0.0)), dy, VT(0.0));
    if (ACTIVATION == ACT_LEAKY_RELU) return VSEL(VGT(y, VT(0.0)), dy, dy * a.alpha);
    if (ACTIVATION == ACT_CLAMP) return VSEL(VGT(y, VT(a.alpha)), VSEL(VLT(y, VT(a.beta)), dy, VT(0.0)), VT(0.0));
    return dy;
}

// dL/du for SiLU: act'(u) = s (1 + u (1 - s)), s = sigmoid(u).
VT act_grad_silu(VT dy, VT u) {
    VT s = 1.0 / (1.0 + exp(-u));
    return dy * (s * (1.0 + u * (1.0 - s)));
}
