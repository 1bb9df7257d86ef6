/* test_log_z.c: the importance-sampling estimate of log Z (eval/log_z.h) and its use in a 2D run.
 *  - equal log-weights k (the target is the proposal times e^k): log Ẑ = k exactly, se 0, ESS = M;
 *  - a known Z: proposal N(0, 1), target e^k·N(μ, 1): log Ẑ within 4 se of k, and se and ESS
 *    match their closed forms, √((e^{μ²} − 1)/M) and M·e^{−μ²};
 *  - weights of ±1000 nats neither overflow nor underflow; NaN, +Inf, M < 2 are reported as such;
 *  - the midpoint rule (fce_log_integral) integrates a normal density to 1;
 *  - a trained 2D FCE run: log Ẑ with its flow as proposal agrees with the EBM's integral on a grid
 *    wide enough to hold its mass, within 4 se. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/log_z.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/train_2d_internal.h"

#define EXACT 1e-12
#define LOG_2PI 1.8378770664093454836

TEST(equal_weights_are_exact) {
    double w[100];
    for (int i = 0; i < 100; i++) w[i] = 3.25;
    fce_log_z z;
    fce_log_z_estimate(w, 100, &z);
    ASSERT_NEAR(z.log_z, 3.25, EXACT);
    ASSERT_NEAR(z.se, 0.0, EXACT);
    ASSERT_NEAR(z.ess, 100.0, 1e-9);
    ASSERT_EQ_INT(z.m, 100);
    return 0;
}

/* x ~ N(0, 1) = q; exp(f) = e^k·N(x; μ, 1), so Z = e^k and w = f − log q = k + μx − μ²/2. */
TEST(known_z_within_its_error_bar) {
    const size_t M = 20000;
    const double mu = 0.5, k = -7.0;
    double *w = malloc(M * sizeof *w);
    ASSERT_TRUE(w != NULL);
    for (size_t i = 0; i < M; i++) w[i] = k + mu * fce_philox_normal(42, i) - 0.5 * mu * mu;
    fce_log_z z;
    fce_log_z_estimate(w, M, &z);
    free(w);
    const double se_true = sqrt((exp(mu * mu) - 1.0) / (double)M), ess_true = (double)M * exp(-mu * mu);
    fprintf(stderr, "    log Z %.5f (true %.1f), se %.5f (closed form %.5f), ESS %.0f (%.0f)\n", z.log_z, k,
            z.se, se_true, z.ess, ess_true);
    ASSERT_NEAR(z.log_z, k, 4.0 * se_true);
    ASSERT_NEAR(z.se, se_true, 0.1 * se_true);
    ASSERT_NEAR(z.ess, ess_true, 0.05 * ess_true);
    return 0;
}

TEST(extreme_and_undefined_weights) {
    double w[4] = {1000.0, 0.0, -1000.0, 0.0};
    fce_log_z z;
    fce_log_z_estimate(w, 4, &z);
    ASSERT_NEAR(z.log_z, 1000.0 - log(4.0), 1e-9); /* e^1000 dominates: no overflow */
    ASSERT_NEAR(z.ess, 1.0, 1e-9);
    ASSERT_TRUE(isfinite(z.se));
    for (int i = 0; i < 4; i++) w[i] = -1000.0 + i; /* no underflow to log 0 */
    fce_log_z_estimate(w, 4, &z);
    ASSERT_NEAR(z.log_z, -1000.0 + log((1 + exp(1.0) + exp(2.0) + exp(3.0)) / 4.0), 1e-9);
    w[2] = NAN;
    fce_log_z_estimate(w, 4, &z);
    ASSERT_TRUE(isnan(z.log_z) && isnan(z.se) && isnan(z.ess));
    w[2] = INFINITY;
    fce_log_z_estimate(w, 4, &z);
    ASSERT_TRUE(z.log_z == INFINITY && isnan(z.se));
    fce_log_z_estimate(w, 1, &z); /* one sample: an estimate, no error bar */
    ASSERT_NEAR(z.log_z, -1000.0, EXACT);
    ASSERT_TRUE(isnan(z.se));
    return 0;
}

TEST(midpoint_rule_integrates_a_normal_to_one) {
    const int R = 400;
    const double box = 8.0, cell = 2 * box / R;
    float *v = malloc((size_t)R * R * sizeof *v);
    ASSERT_TRUE(v != NULL);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < R; c++) {
            const double x = -box + (c + 0.5) * cell, y = -box + (r + 0.5) * cell;
            v[(size_t)r * R + c] = (float)(-0.5 * (x * x + y * y) - LOG_2PI + 300.0); /* shifted: no underflow */
        }
    ASSERT_NEAR(fce_log_integral(v, (size_t)R * R, 2 * log(cell)), 300.0, 1e-4);
    free(v);
    return 0;
}

/* log ∫exp(f − c) on a grid of res² cells over [−box, box]², through the trainer's EBM. */
static int grid_log_z(fce_trainer *t, int res, double box, double *out) {
    fce_ctx *ctx = &t->ctx;
    const size_t P = (size_t)res * res;
    float *pts = malloc(FCE_EVAL_CHUNK * FCE_DIM * sizeof *pts), *v = malloc(P * sizeof *v), c;
    ASSERT_TRUE(pts && v);
    ASSERT_OK(ctx->ops->download(ctx, &c, fce_ebm_c(t->ebm), sizeof c));
    const double cell = 2 * box / res;
    for (size_t i0 = 0; i0 < P; i0 += FCE_EVAL_CHUNK) {
        const int rows = (int)(P - i0 < FCE_EVAL_CHUNK ? P - i0 : FCE_EVAL_CHUNK);
        for (int i = 0; i < rows; i++) {
            const size_t k = i0 + (size_t)i;
            pts[2 * i] = (float)(-box + ((double)(k % (size_t)res) + 0.5) * cell);
            pts[2 * i + 1] = (float)(-box + ((double)(k / (size_t)res) + 0.5) * cell);
        }
        const float *f;
        ASSERT_OK(ctx->ops->upload(ctx, t->d_x, pts, (size_t)rows * FCE_DIM * sizeof(float)));
        ASSERT_OK(fce_ebm_forward(t->ebm, t->tp_ebm, t->d_x, rows, &f));
        ASSERT_OK(ctx->ops->download(ctx, v + i0, f, (size_t)rows * sizeof(float)));
        for (int i = 0; i < rows; i++) v[i0 + (size_t)i] -= c;
    }
    *out = fce_log_integral(v, P, 2 * log(cell));
    free(pts);
    free(v);
    return 0;
}

TEST(trained_2d_run_agrees_with_grid) {
    fce_train_config c;
    fce_test_config_2d(&c, "test_log_z_out", 64, 16);
    c.steps = 600;
    fce_trainer *t = calloc(1, sizeof *t);
    ASSERT_OK(fce_trainer_setup(t, &c));
    ASSERT_OK(fce_trainer_fresh_start(t));
    while (t->st.ebm_updates < c.steps && t->st.step < 50 * c.steps) ASSERT_OK(fce_trainer_step(t));
    ASSERT_OK(fce_report_2d_log_z(&t->report));
    const fce_log_z *z = &t->report.last_log_z;
    double grid;
    ASSERT_TRUE(grid_log_z(t, 600, 12.0, &grid) == 0);
    fprintf(stderr, "    after %lld steps: log Z %.4f (se %.4f, ESS %.0f of %ld flow samples), grid %.4f\n",
            (long long)t->st.step, z->log_z, z->se, z->ess, z->m, grid);
    ASSERT_EQ_INT(z->m, FCE_LOG_Z_SAMPLES_2D);
    ASSERT_TRUE(z->ess > 0.05 * (double)z->m); /* a reliable estimate: its se means something */
    ASSERT_NEAR(z->log_z, grid, 4.0 * z->se);
    fce_trainer_free(t);
    free(t);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(equal_weights_are_exact);
RUN_TEST(known_z_within_its_error_bar);
RUN_TEST(extreme_and_undefined_weights);
RUN_TEST(midpoint_rule_integrates_a_normal_to_one);
RUN_TEST(trained_2d_run_agrees_with_grid);
FCE_TEST_MAIN_END
