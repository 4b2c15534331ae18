/* A short training loop: a tiny two-layer network with batch normalization,
 *
 *   h = X W1;  y = relu(bn(h));  out = y W2 + b2;  loss = mean((out - T)^2)
 *
 * (X: 32 x 5, hidden 7 channels, 3 outputs), trained for 8 SGD steps twice
 * from the same start: once with vkbn's forward and backward on the device
 * (the linear layers and the loss on the host in double, the BN tensors
 * crossing in f32), once entirely with the fp64 reference. The parameters
 * must agree within 1e-4 (1 + |p|) and the loss must fall.
 *
 * Why 1e-4: each step vkbn sees h and dy rounded to f32 (relative 2^-24) and
 * stays within the per-element bounds of the backward tests (R = 32 ulps
 * times the few-fold condition of the BN backward), so its gradients of order
 * 1 differ from the reference's by at most ~1e-5 per step. Eight steps at
 * learning rate 0.2, each growing an earlier difference by at most
 * 1 + lr * L (L, the loss curvature, O(1) here), accumulate at most
 * 8 * 0.2 * 1e-5 * 1.2^8 = 7e-5 < 1e-4. Measured: 2e-8 (rounding errors are
 * far from their worst case). Scaling the dweight / m term of dx by 0.99 in
 * the shader moves the parameters 5e-4 apart, and this test fails. */
#include <math.h>

#include "test_util.h"

#include "datagen.h"
#include "reference.h"

#define NS 32  /* samples: the batch */
#define DIN 5  /* input features */
#define H 7    /* hidden channels (batch norm) */
#define DOUT 3 /* outputs */
#define STEPS 8
#define LR 0.2
#define EPS 1e-5

typedef struct params {
    double w1[DIN * H], gamma[H], beta[H], w2[H * DOUT], b2[DOUT];
} params;

typedef struct grads {
    double dh[NS * H], dgamma[H], dbeta[H];
} grads;

/* The batch-norm layer, forward then backward: two implementations. */
typedef struct bn_layer {
    /* y = relu(bn(h)) in training mode (batch statistics). */
    int (*forward)(void* self, const double* h, const params* p, double* y);
    /* From dy (and the saved state of forward): dh, dgamma, dbeta. */
    int (*backward)(void* self, const double* dy, const params* p, grads* g);
    void* self;
} bn_layer;

/* ------------------------------------------------------------------------ */
/* The fp64 reference layer                                                  */
/* ------------------------------------------------------------------------ */

typedef struct ref_state {
    double h[NS * H], y[NS * H], mean[H], invstd[H];
} ref_state;

static const ref_shape g_shape = {NS, H, 1, VKBN_LAYOUT_CHANNELS_FIRST}; /* BatchNorm1d: (N, C) */

static int ref_forward(void* self, const double* h, const params* p, double* y) {
    ref_state* s = self;
    memcpy(s->h, h, sizeof s->h);
    ref_forward_training a = {.shape = g_shape,
                              .x = s->h,
                              .weight = p->gamma,
                              .bias = p->beta,
                              .eps = EPS,
                              .activation = VKBN_ACTIVATION_RELU,
                              .y = s->y,
                              .mean = s->mean,
                              .invstd = s->invstd};
    ref_batchnorm_forward_training(&a);
    memcpy(y, s->y, sizeof s->y);
    return 0;
}

static int ref_backward_step(void* self, const double* dy, const params* p, grads* g) {
    ref_state* s = self;
    ref_backward a = {.shape = g_shape,
                      .x = s->h,
                      .dy = dy,
                      .y = s->y,
                      .weight = p->gamma,
                      .bias = p->beta,
                      .save_mean = s->mean,
                      .save_invstd = s->invstd,
                      .activation = VKBN_ACTIVATION_RELU,
                      .dx = g->dh,
                      .dweight = g->dgamma,
                      .dbias = g->dbeta};
    ref_batchnorm_backward(&a);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* vkbn on the device                                                        */
/* ------------------------------------------------------------------------ */

typedef struct vk_state {
    vkbn_context ctx;
    vkbn_buffer h, y, dy, dh, gamma, beta, mean, invstd, dgamma, dbeta;
} vk_state;

static vkbn_result upload(vkbn_buffer b, const double* v, size_t n) {
    float f[NS * H];
    for (size_t i = 0; i < n; ++i) f[i] = (float)v[i];
    return vkbn_buffer_upload(b, 0, f, n * 4);
}

static vkbn_result download(vkbn_buffer b, double* v, size_t n) {
    float f[NS * H];
    vkbn_result r = vkbn_buffer_download(b, 0, f, n * 4);
    for (size_t i = 0; i < n; ++i) v[i] = f[i];
    return r;
}

static int vk_forward(void* self, const double* h, const params* p, double* y) {
    vk_state* s = self;
    vkbn_result r = upload(s->h, h, NS * H);
    if (r == VKBN_SUCCESS) r = upload(s->gamma, p->gamma, H);
    if (r == VKBN_SUCCESS) r = upload(s->beta, p->beta, H);
    vkbn_forward_training_desc d = {.tensor = {.n = NS, .c = H},
                                    .x = s->h,
                                    .y = s->y,
                                    .weight = s->gamma,
                                    .bias = s->beta,
                                    .save_mean = s->mean,
                                    .save_invstd = s->invstd,
                                    .eps = EPS,
                                    .activation = VKBN_ACTIVATION_RELU};
    if (r == VKBN_SUCCESS) r = vkbn_forward_training(s->ctx, &d);
    if (r == VKBN_SUCCESS) r = download(s->y, y, NS * H);
    CHECK(r == VKBN_SUCCESS, "vkbn forward: %s", vkbn_last_error());
    return r == VKBN_SUCCESS ? 0 : -1;
}

static int vk_backward(void* self, const double* dy, const params* p, grads* g) {
    (void)p; /* gamma is on the device since the forward pass */
    vk_state* s = self;
    vkbn_result r = upload(s->dy, dy, NS * H);
    vkbn_backward_desc d = {.tensor = {.n = NS, .c = H},
                            .x = s->h,
                            .dy = s->dy,
                            .y = s->y,
                            .weight = s->gamma,
                            .save_mean = s->mean,
                            .save_invstd = s->invstd,
                            .eps = EPS,
                            .activation = VKBN_ACTIVATION_RELU,
                            .dx = s->dh,
                            .dweight = s->dgamma,
                            .dbias = s->dbeta};
    if (r == VKBN_SUCCESS) r = vkbn_backward(s->ctx, &d);
    if (r == VKBN_SUCCESS) r = download(s->dh, g->dh, NS * H);
    if (r == VKBN_SUCCESS) r = download(s->dgamma, g->dgamma, H);
    if (r == VKBN_SUCCESS) r = download(s->dbeta, g->dbeta, H);
    CHECK(r == VKBN_SUCCESS, "vkbn backward: %s", vkbn_last_error());
    return r == VKBN_SUCCESS ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* The network on the host                                                   */
/* ------------------------------------------------------------------------ */

typedef struct data {
    double x[NS * DIN], t[NS * DOUT];
} data;

static void make_data(data* d, params* p) {
    rng r;
    rng_seed(&r, 2024);
    for (int i = 0; i < NS * DIN; ++i) d->x[i] = rng_normal(&r);
    for (int n = 0; n < NS; ++n)
        for (int o = 0; o < DOUT; ++o) {
            double v = 0;
            for (int k = 0; k < DIN; ++k) v += sin(0.7 * (k + 1) * (o + 1)) * d->x[n * DIN + k];
            d->t[n * DOUT + o] = tanh(v) + 0.1 * o;
        }
    for (int i = 0; i < DIN * H; ++i) p->w1[i] = 0.5 * rng_normal(&r);
    for (int i = 0; i < H; ++i) {
        p->gamma[i] = 1.0 + 0.2 * rng_normal(&r);
        p->beta[i] = 0.1 * rng_normal(&r);
    }
    for (int i = 0; i < H * DOUT; ++i) p->w2[i] = 0.4 * rng_normal(&r);
    for (int i = 0; i < DOUT; ++i) p->b2[i] = 0.0;
}

/* One SGD step; returns the loss before it, or NAN when the layer failed. */
static double step(const data* d, params* p, bn_layer* bn) {
    double h[NS * H], y[NS * H], out[NS * DOUT], dout[NS * DOUT], dy[NS * H];
    for (int n = 0; n < NS; ++n)
        for (int j = 0; j < H; ++j) {
            double v = 0;
            for (int k = 0; k < DIN; ++k) v += d->x[n * DIN + k] * p->w1[k * H + j];
            h[n * H + j] = v;
        }
    if (bn->forward(bn->self, h, p, y) != 0) return NAN;
    double loss = 0;
    for (int n = 0; n < NS; ++n)
        for (int o = 0; o < DOUT; ++o) {
            double v = p->b2[o];
            for (int j = 0; j < H; ++j) v += y[n * H + j] * p->w2[j * DOUT + o];
            out[n * DOUT + o] = v;
            double e = v - d->t[n * DOUT + o];
            loss += e * e / (NS * DOUT);
            dout[n * DOUT + o] = 2.0 * e / (NS * DOUT);
        }
    for (int n = 0; n < NS; ++n)
        for (int j = 0; j < H; ++j) {
            double v = 0;
            for (int o = 0; o < DOUT; ++o) v += dout[n * DOUT + o] * p->w2[j * DOUT + o];
            dy[n * H + j] = v;
        }
    grads g;
    if (bn->backward(bn->self, dy, p, &g) != 0) return NAN;
    for (int j = 0; j < H; ++j)
        for (int o = 0; o < DOUT; ++o) {
            double v = 0;
            for (int n = 0; n < NS; ++n) v += y[n * H + j] * dout[n * DOUT + o];
            p->w2[j * DOUT + o] -= LR * v;
        }
    for (int o = 0; o < DOUT; ++o) {
        double v = 0;
        for (int n = 0; n < NS; ++n) v += dout[n * DOUT + o];
        p->b2[o] -= LR * v;
    }
    for (int k = 0; k < DIN; ++k)
        for (int j = 0; j < H; ++j) {
            double v = 0;
            for (int n = 0; n < NS; ++n) v += d->x[n * DIN + k] * g.dh[n * H + j];
            p->w1[k * H + j] -= LR * v;
        }
    for (int j = 0; j < H; ++j) {
        p->gamma[j] -= LR * g.dgamma[j];
        p->beta[j] -= LR * g.dbeta[j];
    }
    return loss;
}

/* Worst |a - b| / (1 + |b|) over every parameter. */
static double param_distance(const params* a, const params* b) {
    const double* pa = (const double*)a;
    const double* pb = (const double*)b;
    double w = 0;
    for (size_t i = 0; i < sizeof(params) / sizeof(double); ++i) {
        double e = fabs(pa[i] - pb[i]) / (1.0 + fabs(pb[i]));
        if (!(e <= w)) w = e;
    }
    return w;
}

int main(void) {
    vk_state vs;
    memset(&vs, 0, sizeof vs);
    vs.ctx = test_context(0, 0);
    vkbn_buffer* tensors[] = {&vs.h, &vs.y, &vs.dy, &vs.dh};
    vkbn_buffer* vectors[] = {&vs.gamma, &vs.beta, &vs.mean, &vs.invstd, &vs.dgamma, &vs.dbeta};
    for (size_t i = 0; i < 4; ++i) vkbn_buffer_create(vs.ctx, NS * H * 4, tensors[i]);
    for (size_t i = 0; i < 6; ++i) vkbn_buffer_create(vs.ctx, H * 4, vectors[i]);

    data d;
    params start, pv, pr;
    make_data(&d, &start);
    pv = pr = start;
    ref_state rs;
    bn_layer vk_bn = {vk_forward, vk_backward, &vs};
    bn_layer ref_bn = {ref_forward, ref_backward_step, &rs};
    double first = 0, last_v = 0, last_r = 0;
    for (int s = 0; s < STEPS; ++s) {
        double lv = step(&d, &pv, &vk_bn), lr = step(&d, &pr, &ref_bn);
        if (s == 0) first = lr;
        last_v = lv;
        last_r = lr;
        double dist = param_distance(&pv, &pr);
        if (env_set("VKBN_TEST_VERBOSE")) {
            printf("step %d: loss vkbn %.9f reference %.9f, parameters apart %.3g\n", s, lv, lr, dist);
        }
        CHECK(fabs(lv - lr) <= 1e-4 * (1.0 + lr), "step %d: loss %.9g (vkbn) vs %.9g (reference)", s, lv, lr);
        CHECK(dist <= 1e-4, "step %d: parameters differ by %.3g (relative to 1 + |p|), tolerance 1e-4", s, dist);
    }
    CHECK(last_r < 0.8 * first, "the reference run does not train: loss %.6f -> %.6f", first, last_r);
    CHECK(last_v < 0.8 * first, "the vkbn run does not train: loss %.6f -> %.6f", first, last_v);
    printf("loss %.6f -> %.6f (vkbn), %.6f (reference); parameters apart %.3g after %d steps\n", first, last_v, last_r,
           param_distance(&pv, &pr), STEPS);
    CHECK(vkbn_context_validation_message_count(vs.ctx) == 0, "validation messages");
    for (size_t i = 0; i < 4; ++i) vkbn_buffer_destroy(*tensors[i]);
    for (size_t i = 0; i < 6; ++i) vkbn_buffer_destroy(*vectors[i]);
    vkbn_context_destroy(vs.ctx);
    return test_summary();
}
