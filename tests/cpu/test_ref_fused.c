/* test_ref_fused.c: every fused, batched or planar op of issue 12 (fce/ops.def: invconv_forward*,
 * invconv_backward, the "fused ops") is, on the CPU reference, bit for bit the composition of the
 * unfused ops it replaces, in the order flow_step.c's unfused path runs them. That is what keeps
 * the CPU backend's results unchanged by the fused path, and what makes the fused backwards
 * gradient-checked: each equals, bit for bit, a composition of ops that test_ref_gradcheck.c
 * checks against finite differences. Inputs are random, with activations of both signs around
 * the ReLU masks. */
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

#define N 3
#define HW 5
#define C 12
#define HALF (C / 2)
#define ROWS ((size_t)N * HW)
#define K 3

static int same(const char *what, const void *a, const void *b, size_t n_floats) {
    if (memcmp(a, b, n_floats * sizeof(float)) == 0) return 1;
    fprintf(stderr, "  %s: not bit for bit equal\n", what);
    return 0;
}

/* n uniform values in [lo, hi); a copy of n values */
static float *rnd(size_t n, uint64_t seed, float lo, float hi) {
    float *x = fce_test_alloc(n);
    return fce_test_fill_uniform(x, n, seed, lo, hi), x;
}
static float *copy_of(const float *x, size_t n) { return memcpy(fce_test_alloc(n), x, n * sizeof *x); }

TEST(actnorm_relu_forward_is_actnorm_then_relu) {
    float *x = rnd(ROWS * C, 1, -2, 2), *b = rnd(C, 2, -1, 1), *s = rnd(C, 3, -0.3f, 0.3f);
    float *n = fce_test_alloc(ROWS * C), *want = fce_test_alloc(ROWS * C), *got = fce_test_alloc(ROWS * C);
    fce_ref_actnorm_forward(n, NULL, x, b, s, N, HW, C);
    fce_ref_leaky_relu_forward(want, n, ROWS * C, 0.0f);
    fce_ref_actnorm_relu_forward(got, x, b, s, N, HW, C);
    ASSERT_TRUE(same("y", got, want, ROWS * C));
    free(x), free(b), free(s), free(n), free(want), free(got);
    return 0;
}

/* The fused backward reads the ReLU's output y where the unfused one read the actnorm output n. */
TEST(actnorm_relu_backward_is_relu_then_actnorm_backward) {
    float *x = rnd(ROWS * C, 4, -2, 2), *b = rnd(C, 5, -1, 1), *s = rnd(C, 6, -0.3f, 0.3f);
    float *dy = rnd(ROWS * C, 7, -1, 1), *n = fce_test_alloc(ROWS * C), *y = fce_test_alloc(ROWS * C);
    float *dn = fce_test_alloc(ROWS * C), *dx_w = fce_test_alloc(ROWS * C), *dx_g = fce_test_alloc(ROWS * C);
    float *db_w = rnd(C, 8, -1, 1), *ds_w = rnd(C, 9, -1, 1), *db_g = copy_of(db_w, C), *ds_g = copy_of(ds_w, C);
    fce_ref_actnorm_forward(n, NULL, x, b, s, N, HW, C);
    fce_ref_leaky_relu_forward(y, n, ROWS * C, 0.0f);
    fce_ref_leaky_relu_backward(dn, dy, n, ROWS * C, 0.0f);
    fce_ref_actnorm_backward(dx_w, db_w, ds_w, dn, n, NULL, b, s, N, HW, C);
    fce_ref_actnorm_relu_backward(dx_g, db_g, ds_g, dy, y, b, s, N, HW, C, NULL);
    ASSERT_TRUE(same("dx", dx_g, dx_w, ROWS * C) && same("dbias", db_g, db_w, C) &&
                same("dlogs", ds_g, ds_w, C));
    free(x), free(b), free(s), free(dy), free(n), free(y), free(dn), free(dx_w), free(dx_g);
    free(db_w), free(ds_w), free(db_g), free(ds_g);
    return 0;
}

TEST(actnorm_inverse_split_is_inverse_then_copy) {
    float *y = rnd(ROWS * C, 10, -2, 2), *b = rnd(C, 11, -1, 1), *s = rnd(C, 12, -0.3f, 0.3f);
    float *xw = fce_test_alloc(ROWS * C), *xg = fce_test_alloc(ROWS * C);
    float *aw = fce_test_alloc(ROWS * HALF), *ag = fce_test_alloc(ROWS * HALF);
    fce_ref_actnorm_inverse(xw, NULL, y, b, s, N, HW, C);
    fce_ref_channels_copy(aw, HALF, 0, xw, C, 0, HALF, ROWS, 0);
    fce_ref_actnorm_inverse_split(xg, ag, y, b, s, N, HW, C);
    ASSERT_TRUE(same("x", xg, xw, ROWS * C) && same("xa", ag, aw, ROWS * HALF));
    free(y), free(b), free(s), free(xw), free(xg), free(aw), free(ag);
    return 0;
}

/* The forward step's tail: W·y1 (invconv_forward_halves vs invconv_forward), the network's head,
 * the coupling and the next actnorm (coupling_additive_forward_fused vs the three ops). */
TEST(coupling_forward_fused_is_head_coupling_actnorm) {
    float *y1 = rnd(ROWS * C, 13, -2, 2), *W = rnd(C * C, 14, -1, 1), *raw = rnd(ROWS * HALF, 15, -2, 2);
    float *hb = rnd(HALF, 16, -1, 1), *hs = rnd(HALF, 17, -0.3f, 0.3f);
    float *ab = rnd(C, 18, -1, 1), *as = rnd(C, 19, -0.3f, 0.3f);
    float *y2 = fce_test_alloc(ROWS * C), *planar = fce_test_alloc(ROWS * C);
    float *h_w = fce_test_alloc(ROWS * HALF), *x_w = fce_test_alloc(ROWS * C), *y1n_w = fce_test_alloc(ROWS * C);
    float *h_g = fce_test_alloc(ROWS * HALF), *x_g = fce_test_alloc(ROWS * C), *y1n_g = fce_test_alloc(ROWS * C);
    fce_ref_invconv_forward(y2, y1, W, (int)ROWS, C);
    fce_ref_invconv_forward_halves(planar, y1, W, (int)ROWS, C);
    for (size_t r = 0; r < ROWS; r++)
        for (int k = 0; k < HALF; k++) {
            ASSERT_TRUE(planar[r * HALF + k] == y2[r * C + k]);
            ASSERT_TRUE(planar[ROWS * HALF + r * HALF + k] == y2[r * C + HALF + k]);
        }
    fce_ref_actnorm_forward(h_w, NULL, raw, hb, hs, N, HW, HALF);
    fce_ref_coupling_additive_forward(x_w, y2, h_w, ROWS, C);
    fce_ref_actnorm_forward(y1n_w, NULL, x_w, ab, as, N, HW, C);
    fce_ref_coupling_additive_forward_fused(x_g, y1n_g, h_g, planar, raw, hb, hs, ab, as, ROWS, C);
    ASSERT_TRUE(same("h", h_g, h_w, ROWS * HALF) && same("x_next", x_g, x_w, ROWS * C) &&
                same("y1_next", y1n_g, y1n_w, ROWS * C));
    free(y1), free(W), free(raw), free(hb), free(hs), free(ab), free(as), free(y2), free(planar);
    free(h_w), free(x_w), free(y1n_w), free(h_g), free(x_g), free(y1n_g);
    return 0;
}

TEST(coupling_inverse_fused_is_head_then_inverse) {
    float *x = rnd(ROWS * C, 20, -2, 2), *raw = rnd(ROWS * HALF, 21, -2, 2);
    float *hb = rnd(HALF, 22, -1, 1), *hs = rnd(HALF, 23, -0.3f, 0.3f);
    float *h_w = fce_test_alloc(ROWS * HALF), *y_w = fce_test_alloc(ROWS * C);
    float *h_g = fce_test_alloc(ROWS * HALF), *y_g = fce_test_alloc(ROWS * C);
    fce_ref_actnorm_forward(h_w, NULL, raw, hb, hs, N, HW, HALF);
    fce_ref_coupling_additive_inverse(y_w, x, h_w, ROWS, C);
    fce_ref_coupling_additive_inverse_fused(y_g, h_g, x, raw, hb, hs, ROWS, C);
    ASSERT_TRUE(same("h", h_g, h_w, ROWS * HALF) && same("y", y_g, y_w, ROWS * C));
    free(x), free(raw), free(hb), free(hs), free(h_w), free(y_w), free(h_g), free(y_g);
    return 0;
}

static int check_net_backward(float dir, uint64_t seed) {
    float *dout = rnd(ROWS * C, seed, -1, 1), *h = rnd(ROWS * HALF, seed + 1, -2, 2);
    float *hb = rnd(HALF, seed + 2, -1, 1), *hs = rnd(HALF, seed + 3, -0.3f, 0.3f);
    float *din = fce_test_alloc(ROWS * C), *dh = fce_test_alloc(ROWS * HALF);
    float *dr_w = fce_test_alloc(ROWS * HALF), *dr_g = fce_test_alloc(ROWS * HALF);
    float *db_w = rnd(HALF, seed + 4, -1, 1), *ds_w = rnd(HALF, seed + 5, -1, 1);
    float *db_g = copy_of(db_w, HALF), *ds_g = copy_of(ds_w, HALF);
    fce_ref_coupling_additive_backward(din, dh, dout, ROWS, C, dir);
    fce_ref_actnorm_backward(dr_w, db_w, ds_w, dh, h, NULL, hb, hs, N, HW, HALF);
    fce_ref_coupling_additive_net_backward(dr_g, db_g, ds_g, dout, h, hb, hs, ROWS, C, dir, NULL);
    int ok = same("draw", dr_g, dr_w, ROWS * HALF) && same("dbias", db_g, db_w, HALF) &&
             same("dlogs", ds_g, ds_w, HALF) && same("din = dout", din, dout, ROWS * C);
    free(dout), free(h), free(hb), free(hs), free(din), free(dh), free(dr_w), free(dr_g);
    free(db_w), free(ds_w), free(db_g), free(ds_g);
    return ok;
}

TEST(coupling_net_backward_is_coupling_then_actnorm_backward) {
    ASSERT_TRUE(check_net_backward(1.0f, 30));
    ASSERT_TRUE(check_net_backward(-1.0f, 40));
    return 0;
}

/* K steps' parameters every STRIDE floats (trainable) and every FSTRIDE (perm, sign), as the
 * arena lays them out. */
#define STRIDE (2 * C * C + 64)
#define FSTRIDE (2 * C + 16)

typedef struct steps {
    float *P, *F;        /* trainable: L, U, logs, an_logs at 0, C², 2C², 2C²+C; frozen: perm, sign */
    float *W, *Winv;     /* K·C² each */
} steps;

static void steps_init(steps *s) {
    s->P = rnd((size_t)K * STRIDE, 50, -0.3f, 0.3f);
    s->F = fce_test_alloc((size_t)K * FSTRIDE);
    for (int k = 0; k < K; k++)
        for (int i = 0; i < C; i++) {
            s->F[k * FSTRIDE + i] = (float)((i * 5 + k) % C);
            s->F[k * FSTRIDE + C + i] = (i + k) % 3 ? 1.0f : -1.0f;
        }
    s->W = fce_test_alloc((size_t)K * C * C);
    s->Winv = fce_test_alloc((size_t)K * C * C);
}
#define L_OF(s, k) ((s)->P + (size_t)(k) * STRIDE)
#define U_OF(s, k) (L_OF(s, k) + C * C)
#define LOGS_OF(s, k) (L_OF(s, k) + 2 * C * C)
#define AN_OF(s, k) (L_OF(s, k) + 2 * C * C + C)
#define PERM_OF(s, k) ((s)->F + (size_t)(k) * FSTRIDE)
#define SIGN_OF(s, k) (PERM_OF(s, k) + C)

/* The maps, their log-dets added per sample in both directions, and the log-det gradients, batched
 * against step by step. */
TEST(batched_maps_and_logdets_are_step_by_step) {
    steps s;
    steps_init(&s);
    double consts[2 * K];
    fce_ref_invconv_lu_weights_batch(s.W, s.Winv, consts, PERM_OF(&s, 0), SIGN_OF(&s, 0), L_OF(&s, 0),
                                     U_OF(&s, 0), LOGS_OF(&s, 0), AN_OF(&s, 0), K, STRIDE, FSTRIDE, C, HW);
    float W[C * C], Winv[C * C];
    float *ld_w = rnd(N, 60, -5, 5), *ld_g = copy_of(ld_w, N), *y = rnd(ROWS * C, 61, -1, 1);
    float *x = fce_test_alloc(ROWS * C), *b = rnd(C, 62, -1, 1);
    for (int k = 0; k < K; k++) { /* forward: actnorm's log-det, then the map's */
        fce_ref_invconv_lu_weights(W, Winv, PERM_OF(&s, k), SIGN_OF(&s, k), L_OF(&s, k), U_OF(&s, k),
                                   LOGS_OF(&s, k), C);
        ASSERT_TRUE(same("W", s.W + k * C * C, W, C * C) && same("Winv", s.Winv + k * C * C, Winv, C * C));
        fce_ref_actnorm_forward(x, ld_w, y, b, AN_OF(&s, k), N, HW, C);
        fce_ref_invconv_logdet(ld_w, LOGS_OF(&s, k), N, HW, C, 1.0f);
    }
    fce_ref_logdet_add_consts(ld_g, consts, 2 * K, N, 1.0f);
    ASSERT_TRUE(same("forward log-dets", ld_g, ld_w, N));
    for (int k = K - 1; k >= 0; k--) { /* inverse: the map's, then actnorm's */
        fce_ref_invconv_logdet(ld_w, LOGS_OF(&s, k), N, HW, C, -1.0f);
        fce_ref_actnorm_inverse(x, ld_w, y, b, AN_OF(&s, k), N, HW, C);
    }
    fce_ref_logdet_add_consts(ld_g, consts, 2 * K, N, -1.0f);
    ASSERT_TRUE(same("inverse log-dets", ld_g, ld_w, N));

    float *G = rnd((size_t)K * STRIDE, 63, -1, 1), *G2 = copy_of(G, (size_t)K * STRIDE);
    float *dW = rnd((size_t)K * C * C, 64, -1, 1), *dWinv = rnd((size_t)K * C * C, 65, -1, 1);
    float *dlogdet = rnd(N, 66, -1, 1);
    for (int k = 0; k < K; k++) {
        float *g = G + (size_t)k * STRIDE;
        fce_ref_invconv_logdet_backward(g + 2 * C * C, dlogdet, N, HW, C, -1.0f);
        fce_ref_invconv_lu_backward(g, g + C * C, g + 2 * C * C, dW + k * C * C, dWinv + k * C * C,
                                    s.Winv + k * C * C, PERM_OF(&s, k), SIGN_OF(&s, k), L_OF(&s, k),
                                    U_OF(&s, k), LOGS_OF(&s, k), C);
    }
    fce_ref_invconv_logdet_backward_batch(G2 + 2 * C * C, dlogdet, K, STRIDE, N, HW, C, -1.0f);
    fce_ref_invconv_lu_backward_batch(G2, G2 + C * C, G2 + 2 * C * C, dW, dWinv, s.Winv, PERM_OF(&s, 0),
                                      SIGN_OF(&s, 0), L_OF(&s, 0), U_OF(&s, 0), LOGS_OF(&s, 0), K,
                                      STRIDE, FSTRIDE, C);
    ASSERT_TRUE(same("dL, dU, dlogs", G2, G, (size_t)K * STRIDE));
    free(s.P), free(s.F), free(s.W), free(s.Winv), free(ld_w), free(ld_g), free(y), free(x), free(b);
    free(G), free(G2), free(dW), free(dWinv), free(dlogdet);
    return 0;
}

TEST(invconv_products_are_the_dense_layer_without_bias) {
    float *x = rnd(ROWS * C, 70, -1, 1), *W = rnd(C * C, 71, -1, 1), *dy = rnd(ROWS * C, 72, -1, 1);
    float *yw = fce_test_alloc(ROWS * C), *yg = fce_test_alloc(ROWS * C);
    float *dxw = fce_test_alloc(ROWS * C), *dxg = fce_test_alloc(ROWS * C);
    float *dWw = rnd(C * C, 73, -1, 1), *dWg = copy_of(dWw, C * C);
    fce_ref_linear_forward(yw, x, W, NULL, (int)ROWS, C, C);
    fce_ref_invconv_forward(yg, x, W, (int)ROWS, C);
    fce_ref_linear_backward(dxw, dWw, NULL, dy, x, W, (int)ROWS, C, C);
    fce_ref_invconv_backward(dxg, dWg, dy, x, W, (int)ROWS, C);
    ASSERT_TRUE(same("y", yg, yw, ROWS * C) && same("dx", dxg, dxw, ROWS * C) && same("dW", dWg, dWw, C * C));
    free(x), free(W), free(dy), free(yw), free(yg), free(dxw), free(dxg), free(dWw), free(dWg);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(actnorm_relu_forward_is_actnorm_then_relu);
RUN_TEST(actnorm_relu_backward_is_relu_then_actnorm_backward);
RUN_TEST(actnorm_inverse_split_is_inverse_then_copy);
RUN_TEST(coupling_forward_fused_is_head_coupling_actnorm);
RUN_TEST(coupling_inverse_fused_is_head_then_inverse);
RUN_TEST(coupling_net_backward_is_coupling_then_actnorm_backward);
RUN_TEST(batched_maps_and_logdets_are_step_by_step);
RUN_TEST(invconv_products_are_the_dense_layer_without_bias);
FCE_TEST_MAIN_END
