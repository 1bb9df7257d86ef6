/* test_nce.c: closed forms of the logistic NCE value function (SPEC b; STYLE 6.11).
 *
 * V = −(1/n)[Σ softplus(−a_i) + Σ softplus(b_i)], a = fx − c − lq, b = fxt − c − lqt,
 * acc = (#{a > 0} + #{b < 0})/(2n), gradients of L = gscale·(−V).
 * - p = q (a = b = 0): D = σ(0) = ½ everywhere, V = −2 ln 2 (−V = log 4), acc = 0 (ties are wrong),
 *   dfx = −gscale·½/n, dfxt = +gscale·½/n, dlq = −dfx, dlqt = −dfxt, dc += 0;
 * - a 2 + 2 batch with logits ±ln 3, ln 7 whose sigmoids are 1/4, 3/4, 7/8, worked by hand;
 * - gradient signs: the EBM (gscale = +1) descends −V, so a small step against its gradients
 *   raises V; the flow (gscale = −1) descends V, so its step on log q lowers V;
 * - accuracy is strict (a > 0, b < 0); logits of ±1e4 give finite, exact limits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

/* Values computed in double from float inputs: the only error is rounding of the float outputs
 * and of inputs like ln 3 + 0.75 (≈ 2.4e-7 in a logit, ≤ 6e-8 after σ' ≤ ¼). */
#define NCE_ATOL 1e-6

typedef struct {
    float stats[2];
    float dfx[8], dfxt[8], dlq[8], dlqt[8], dc;
} nce_out;

static void run_nce(nce_out *o, const float *fx, const float *fxt, const float *lq,
                    const float *lqt, float c, int n, float gscale, float dc0) {
    for (int i = 0; i < 8; i++) o->dfx[i] = o->dfxt[i] = o->dlq[i] = o->dlqt[i] = 777.0f;
    o->dc = dc0;
    fce_ref_nce_loss(o->stats, o->dfx, o->dfxt, o->dlq, o->dlqt, &o->dc, fx, fxt, lq, lqt, &c, n,
                     gscale);
}

TEST(p_equals_q_gives_log4) {
    /* Dyadic values: fx = lq + c is exact in float, so every logit is exactly 0. */
    const int n = 4;
    const float c = 0.5f;
    const float lq[4] = {-1.25f, 0.5f, 2.0f, -3.375f}, lqt[4] = {0.75f, -2.5f, 1.125f, 3.0f};
    float fx[4], fxt[4];
    for (int i = 0; i < n; i++) {
        fx[i] = lq[i] + c;
        fxt[i] = lqt[i] + c;
    }
    for (int g = -1; g <= 1; g += 2) {
        float gscale = (float)g;
        nce_out o;
        run_nce(&o, fx, fxt, lq, lqt, c, n, gscale, 0.5f);
        ASSERT_NEAR(o.stats[0], -2.0 * log(2.0), NCE_ATOL);
        ASSERT_NEAR(-o.stats[0], log(4.0), NCE_ATOL);
        ASSERT_NEAR(o.stats[1], 0.0, 0.0); /* a = 0 and b = 0 are ties: all wrong */
        for (int i = 0; i < n; i++) {
            /* D = σ(a) = ½ shows up as |dfx|·n = 1 − D = ½ and dfxt·n = σ(b) = ½. */
            ASSERT_NEAR(o.dfx[i], -gscale * 0.5 / n, NCE_ATOL);
            ASSERT_NEAR(o.dfxt[i], gscale * 0.5 / n, NCE_ATOL);
            ASSERT_NEAR(o.dlq[i], gscale * 0.5 / n, NCE_ATOL);
            ASSERT_NEAR(o.dlqt[i], -gscale * 0.5 / n, NCE_ATOL);
        }
        ASSERT_NEAR(o.dc, 0.5, NCE_ATOL); /* accumulated: 0.5 + gscale·(n/2 − n/2)/n */
    }
    return 0;
}

TEST(hand_computed_2_plus_2) {
    /* Logits a = (ln 3, −ln 3), b = (−ln 3, ln 7), so σ(a) = (3/4, 1/4), σ(b) = (1/4, 7/8).
     *   softplus(−a) = (ln 4/3, ln 4), softplus(b) = (ln 4/3, ln 8)
     *   V   = −½·(ln 4/3 + ln 4 + ln 4/3 + ln 8) = −½·ln(512/9) = −2.0205500238516443
     *   acc = (1 + 1)/4 = 0.5  (a₁ > 0, b₁ < 0 right; a₂ < 0, b₂ > 0 wrong)
     *   gscale = +1: dfx = −(1 − σ(a))/2 = (−0.125, −0.375), dfxt = σ(b)/2 = (0.125, 0.4375),
     *                dlq = (0.125, 0.375), dlqt = (−0.125, −0.4375),
     *                dc = ((¼ + ¾) − (¼ + ⅞))/2 = −0.0625
     *   gscale = −1: every gradient negated, V and acc unchanged. */
    const float c = 0.25f, ln3 = (float)log(3.0), ln7 = (float)log(7.0);
    const float lq[2] = {0.5f, -1.0f}, lqt[2] = {-0.5f, 2.0f};
    const float fx[2] = {ln3 + 0.75f, -ln3 - 0.75f}; /* a + c + lq */
    const float fxt[2] = {-ln3 - 0.25f, ln7 + 2.25f}; /* b + c + lqt */
    const double want_dfx[2] = {-0.125, -0.375}, want_dfxt[2] = {0.125, 0.4375};
    for (int g = -1; g <= 1; g += 2) {
        nce_out o;
        run_nce(&o, fx, fxt, lq, lqt, c, 2, (float)g, 0.0f);
        ASSERT_NEAR(o.stats[0], -2.0205500238516443, NCE_ATOL);
        ASSERT_NEAR(o.stats[1], 0.5, 0.0);
        for (int i = 0; i < 2; i++) {
            ASSERT_NEAR(o.dfx[i], g * want_dfx[i], NCE_ATOL);
            ASSERT_NEAR(o.dfxt[i], g * want_dfxt[i], NCE_ATOL);
            ASSERT_NEAR(o.dlq[i], -g * want_dfx[i], NCE_ATOL);
            ASSERT_NEAR(o.dlqt[i], -g * want_dfxt[i], NCE_ATOL);
        }
        ASSERT_NEAR(o.dc, g * -0.0625, NCE_ATOL);
    }
    return 0;
}

static float nce_value(const float *fx, const float *fxt, const float *lq, const float *lqt,
                       float c, int n) {
    float stats[2];
    fce_ref_nce_loss(stats, NULL, NULL, NULL, NULL, NULL, fx, fxt, lq, lqt, &c, n, 1.0f);
    return stats[0];
}

TEST(gradient_signs_ebm_ascends_flow_descends) {
    const int n = 8;
    const float eta = 0.05f, c = 0.1f;
    float fx[8], fxt[8], lq[8], lqt[8];
    fce_test_fill_normal(fx, 8, 401, 1.0f);
    fce_test_fill_normal(fxt, 8, 402, 1.0f);
    fce_test_fill_normal(lq, 8, 403, 1.0f);
    fce_test_fill_normal(lqt, 8, 404, 1.0f);
    float V0 = nce_value(fx, fxt, lq, lqt, c, n);

    /* EBM: L = −V. Pushing f up on data and down on samples raises V. */
    nce_out e;
    run_nce(&e, fx, fxt, lq, lqt, c, n, +1.0f, 0.0f);
    float fx1[8], fxt1[8], lq1[8], lqt1[8];
    for (int i = 0; i < n; i++) {
        ASSERT_TRUE(e.dfx[i] < 0.0f);
        ASSERT_TRUE(e.dfxt[i] > 0.0f);
        fx1[i] = fx[i] - eta * e.dfx[i];
        fxt1[i] = fxt[i] - eta * e.dfxt[i];
    }
    float c1 = c - eta * e.dc;
    float V_ebm = nce_value(fx1, fxt1, lq, lqt, c1, n);
    fprintf(stderr, "    V before %.7f, after an EBM step %.7f\n", V0, V_ebm);
    ASSERT_TRUE(V_ebm > V0);

    /* Flow: L = V. Its gradients are the EBM's negated; a step on log q lowers V. */
    nce_out f;
    run_nce(&f, fx, fxt, lq, lqt, c, n, -1.0f, 0.0f);
    for (int i = 0; i < n; i++) {
        ASSERT_TRUE(f.dfx[i] > 0.0f && f.dfx[i] == -e.dfx[i]);
        ASSERT_TRUE(f.dfxt[i] < 0.0f && f.dfxt[i] == -e.dfxt[i]);
        ASSERT_TRUE(f.dlq[i] < 0.0f); /* raise log q on data */
        ASSERT_TRUE(f.dlqt[i] > 0.0f); /* lower log q on samples */
        lq1[i] = lq[i] - eta * f.dlq[i];
        lqt1[i] = lqt[i] - eta * f.dlqt[i];
    }
    ASSERT_TRUE(f.dc == -e.dc);
    float V_flow = nce_value(fx, fxt, lq1, lqt1, c, n);
    fprintf(stderr, "    V before %.7f, after a flow step %.7f\n", V0, V_flow);
    ASSERT_TRUE(V_flow < V0);
    return 0;
}

TEST(accuracy_is_strict) {
    /* a = (1, −1, 0, 2): two right; b = (−1, 1, 0, −3): two right; the zeros are wrong. */
    const float zero[4] = {0, 0, 0, 0};
    const float fx[4] = {1, -1, 0, 2}, fxt[4] = {-1, 1, 0, -3};
    nce_out o;
    run_nce(&o, fx, fxt, zero, zero, 0.0f, 4, 1.0f, 0.0f);
    ASSERT_NEAR(o.stats[1], 0.5, 0.0);
    /* The same batch with c shifted so every logit crosses 0 the other way. */
    /* a = (.5, −1.5, −.5, 1.5): 2 right; b = (−1.5, .5, −.5, −3.5): 3 right. */
    run_nce(&o, fx, fxt, zero, zero, 0.5f, 4, 1.0f, 0.0f);
    ASSERT_NEAR(o.stats[1], 5.0 / 8.0, 0.0);
    return 0;
}

TEST(extreme_logits_are_finite) {
    /* a = (1e4, −1e4, 1e4, −1e4), b = (1e4, −1e4, −1e4, 1e4):
     * softplus(−a) = (0, 1e4, 0, 1e4), softplus(b) = (1e4, 0, 0, 1e4), V = −4e4/4 = −1e4;
     * acc = (2 + 2)/8; dfx = −(1 − σ(a))/4 = (0, −¼, 0, −¼), dfxt = σ(b)/4 = (¼, 0, 0, ¼). */
    const float zero[4] = {0, 0, 0, 0};
    const float fx[4] = {1e4f, -1e4f, 1e4f, -1e4f}, fxt[4] = {1e4f, -1e4f, -1e4f, 1e4f};
    const double want_dfx[4] = {0, -0.25, 0, -0.25}, want_dfxt[4] = {0.25, 0, 0, 0.25};
    nce_out o;
    run_nce(&o, fx, fxt, zero, zero, 0.0f, 4, 1.0f, 0.0f);
    ASSERT_TRUE(isfinite(o.stats[0]) && isfinite(o.stats[1]) && isfinite(o.dc));
    ASSERT_NEAR(o.stats[0], -1e4, 1e-3);
    ASSERT_NEAR(o.stats[1], 0.5, 0.0);
    for (int i = 0; i < 4; i++) {
        ASSERT_TRUE(isfinite(o.dfx[i]) && isfinite(o.dfxt[i]));
        ASSERT_TRUE(isfinite(o.dlq[i]) && isfinite(o.dlqt[i]));
        ASSERT_NEAR(o.dfx[i], want_dfx[i], NCE_ATOL);
        ASSERT_NEAR(o.dfxt[i], want_dfxt[i], NCE_ATOL);
    }
    ASSERT_NEAR(o.dc, ((0 + 1 + 0 + 1) - (1 + 0 + 0 + 1)) / 4.0, NCE_ATOL);
    return 0;
}

TEST(null_gradients_and_determinism) {
    float fx[5], fxt[5], lq[5], lqt[5], c = -0.3f;
    fce_test_fill_normal(fx, 5, 411, 2.0f);
    fce_test_fill_normal(fxt, 5, 412, 2.0f);
    fce_test_fill_normal(lq, 5, 413, 2.0f);
    fce_test_fill_normal(lqt, 5, 414, 2.0f);
    nce_out a, b;
    run_nce(&a, fx, fxt, lq, lqt, c, 5, 1.0f, 0.0f);
    run_nce(&b, fx, fxt, lq, lqt, c, 5, 1.0f, 0.0f);
    ASSERT_TRUE(memcmp(&a, &b, sizeof a) == 0);
    float stats[2];
    fce_ref_nce_loss(stats, NULL, NULL, NULL, NULL, NULL, fx, fxt, lq, lqt, &c, 5, 1.0f);
    ASSERT_TRUE(stats[0] == a.stats[0] && stats[1] == a.stats[1]);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(p_equals_q_gives_log4);
RUN_TEST(hand_computed_2_plus_2);
RUN_TEST(gradient_signs_ebm_ascends_flow_descends);
RUN_TEST(accuracy_is_strict);
RUN_TEST(extreme_logits_are_finite);
RUN_TEST(null_gradients_and_determinism);
FCE_TEST_MAIN_END
