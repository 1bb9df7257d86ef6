/* test_optim.c: Adam and Adamax against values computed independently in the test (backend.h).
 *
 *   Adam:   m = b1 m + (1 − b1) g; v = b2 v + (1 − b2) g²; p −= lr·m̂/(√v̂ + eps)
 *   Adamax: m = b1 m + (1 − b1) g; u = max(b2 u, |g|); p −= lr/(1 − b1^t)·m/(u + eps)
 * Three steps (t = 1, 2, 3) with changing gradients, against a double-precision reference written
 * here (Adam in the equivalent "lr_t" form of Kingma & Ba §2, so a misplaced eps or bias correction
 * shows), plus literal first-step values: with m̂ = g and v̂ = g² the first Adam step is
 * −lr·g/(|g| + eps) ≈ −lr·sign(g), and so is the first Adamax step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/optim_sched.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

/* STYLE 6.11 "elementwise kernels": the reference keeps m, v in float between steps while the
 * test keeps them in double, a difference of a few float roundings. */
#define OPTIM_ATOL 1e-6
#define OPTIM_RTOL 1e-6
/* Literal first-step values: one float rounding of p ≈ 1 (6e-8). */
#define LITERAL_ATOL 1e-7

#define NP 3
static const float P0[NP] = {1.0f, -0.5f, 0.25f};

/* One optimizer state array after step t against its double-precision oracle, as
 * EXPECT_CLOSE "<what> (t=<t>)". Returns 0 when close, 1 (after the message) when not. */
static int state_close(const char *what, int t, const float *got, const double *oracle) {
    float ref[NP];
    for (int i = 0; i < NP; i++) ref[i] = (float)oracle[i];
    char name[32];
    snprintf(name, sizeof name, "%s (t=%d)", what, t);
    EXPECT_CLOSE(name, got, ref, NP, OPTIM_ATOL, OPTIM_RTOL);
    return 0;
}

TEST(adam_three_steps) {
    const float lr = 0.01f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    const float g[3][NP] = {{0.5f, -2.0f, 1e-3f}, {0.3f, 1.0f, -2e-3f}, {-0.1f, 0.5f, 5e-3f}};
    float p[NP], m[NP] = {0}, v[NP] = {0};
    double pd[NP], md[NP] = {0}, vd[NP] = {0};
    for (int i = 0; i < NP; i++) pd[i] = p[i] = P0[i];

    for (int t = 1; t <= 3; t++) {
        fce_ref_adam_step(p, g[t - 1], m, v, NP, lr, b1, b2, eps, t);
        double c1 = 1.0 - pow(b1, t), c2 = 1.0 - pow(b2, t);
        double lr_t = lr * sqrt(c2) / c1;
        for (int i = 0; i < NP; i++) {
            double gi = g[t - 1][i];
            md[i] = b1 * md[i] + (1.0 - b1) * gi;
            vd[i] = b2 * vd[i] + (1.0 - b2) * gi * gi;
            pd[i] -= lr_t * md[i] / (sqrt(vd[i]) + eps * sqrt(c2));
        }
        if (t == 1) {
            /* m = (1 − b1)·g, v = (1 − b2)·g², p = p0 − lr·g/(|g| + eps). The hyper-parameters
             * are floats: 1 − 0.9f = 0.100000024 and 1 − 0.999f = 9.99987125e−4 (not 1e−3), so
             * v = 0.25·9.99987125e−4 and 4·9.99987125e−4. */
            ASSERT_NEAR(m[0], 0.05, LITERAL_ATOL);
            ASSERT_NEAR(m[1], -0.2, LITERAL_ATOL);
            ASSERT_NEAR(v[0], 2.4999678e-4, 1e-11);
            ASSERT_NEAR(v[1], 3.9999485e-3, 1e-10);
            ASSERT_NEAR(p[0], 0.99, LITERAL_ATOL);         /* 1 − 0.01·0.5/(0.5 + 1e−8) */
            ASSERT_NEAR(p[1], -0.49, LITERAL_ATOL);        /* −0.5 + 0.01 */
            ASSERT_NEAR(p[2], 0.2400001, LITERAL_ATOL);    /* 0.25 − 0.01/(1 + 1e−5): eps shows */
        }
        if (state_close("adam p", t, p, pd) || state_close("adam m", t, m, md) ||
            state_close("adam v", t, v, vd))
            return 1;
    }
    return 0;
}

TEST(adamax_three_steps) {
    const float lr = 0.002f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    const float g[3][NP] = {{2.0f, -0.5f, 1e-3f}, {-0.5f, 0.25f, -1e-3f}, {0.1f, 1.5f, 4e-3f}};
    float p[NP], m[NP] = {0}, u[NP] = {0};
    double pd[NP], md[NP] = {0}, ud[NP] = {0};
    for (int i = 0; i < NP; i++) pd[i] = p[i] = P0[i];

    for (int t = 1; t <= 3; t++) {
        fce_ref_adamax_step(p, g[t - 1], m, u, NP, lr, b1, b2, eps, t);
        for (int i = 0; i < NP; i++) {
            double gi = g[t - 1][i];
            md[i] = b1 * md[i] + (1.0 - b1) * gi;
            ud[i] = b2 * ud[i] > fabs(gi) ? b2 * ud[i] : fabs(gi);
            pd[i] -= (lr / (1.0 - pow(b1, t))) * md[i] / (ud[i] + eps);
        }
        if (t == 1) {
            ASSERT_NEAR(p[0], 0.998, LITERAL_ATOL); /* 1 − 0.002·2/(2 + 1e−7) */
            ASSERT_NEAR(p[1], -0.498, LITERAL_ATOL);
            ASSERT_NEAR(u[0], 2.0, 0.0);
        }
        /* u by hand: element 0 sees |g| = 2, 0.5, 0.1, so u = 2, 0.999·2, 0.999²·2 (decay wins);
         * element 1 sees 0.5, 0.25, 1.5, so u = 0.5, 0.4995, 1.5 (a new maximum resets it). */
        if (t == 2) {
            ASSERT_NEAR(u[0], 1.998, LITERAL_ATOL);
            ASSERT_NEAR(u[1], 0.4995, LITERAL_ATOL);
        }
        if (t == 3) {
            ASSERT_NEAR(u[0], 1.996002, LITERAL_ATOL);
            ASSERT_NEAR(u[1], 1.5, 0.0);
        }
        if (state_close("adamax p", t, p, pd) || state_close("adamax m", t, m, md) ||
            state_close("adamax u", t, u, ud))
            return 1;
    }
    return 0;
}

TEST(zero_gradient_keeps_zero_state) {
    /* g = 0 from zero state: m = v = 0 and p does not move (0/(0 + eps) = 0). */
    float p[NP], m[NP] = {0}, v[NP] = {0}, zero[NP] = {0};
    for (int i = 0; i < NP; i++) p[i] = P0[i];
    fce_ref_adam_step(p, zero, m, v, NP, 0.01f, 0.9f, 0.999f, 1e-8f, 1);
    fce_ref_adamax_step(p, zero, m, v, NP, 0.01f, 0.9f, 0.999f, 1e-8f, 1);
    for (int i = 0; i < NP; i++) {
        ASSERT_TRUE(p[i] == P0[i]);
        ASSERT_TRUE(m[i] == 0.0f && v[i] == 0.0f);
    }
    return 0;
}

/* The step-indexed forms (fce/ops.def adam_step_at, adamax_step_at; CUDA graphs read their
 * per-step scalars from memory) equal the plain forms bit for bit over three steps. */
TEST(step_indexed_forms_equal_plain) {
    const float g[NP] = {0.5f, -2.0f, 1e-3f};
    for (int rule = 0; rule < 2; rule++) {
        float p1[NP], m1[NP] = {0}, v1[NP] = {0}, p2[NP], m2[NP] = {0}, v2[NP] = {0};
        for (int i = 0; i < NP; i++) p1[i] = p2[i] = P0[i];
        for (int t = 1; t <= 3; t++) {
            double sched[FCE_ADAM_SCHED];
            if (rule == 0) {
                fce_ref_adam_step(p1, g, m1, v1, NP, 0.01f, 0.9f, 0.999f, 1e-8f, t);
                fce_adam_sched(sched, 0.01f, 0.9f, 0.999f, t);
                fce_ref_adam_step_at(p2, g, m2, v2, NP, 0.9f, 0.999f, 1e-8f, sched);
            } else {
                fce_ref_adamax_step(p1, g, m1, v1, NP, 0.01f, 0.9f, 0.999f, 1e-8f, t);
                fce_adamax_sched(sched, 0.01f, 0.9f, t);
                fce_ref_adamax_step_at(p2, g, m2, v2, NP, 0.9f, 0.999f, 1e-8f, sched);
            }
        }
        ASSERT_TRUE(memcmp(p1, p2, sizeof p1) == 0 && memcmp(m1, m2, sizeof m1) == 0 &&
                    memcmp(v1, v2, sizeof v1) == 0);
        ASSERT_TRUE(p1[0] != P0[0]); /* the steps moved something */
    }
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(adam_three_steps);
RUN_TEST(adamax_three_steps);
RUN_TEST(zero_gradient_keeps_zero_state);
RUN_TEST(step_indexed_forms_equal_plain);
FCE_TEST_MAIN_END
