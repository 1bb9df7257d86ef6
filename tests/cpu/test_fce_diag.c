/* test_fce_diag.c: the FCE game's health figures (train/fce_diag.h).
 *  - hand-made vectors with known accuracies, logit means and sds, saturated share, sds of f and
 *    log q and a known correlation;
 *  - the accuracies agree with the NCE op's (ties count as wrong), so their mean is the game's acc;
 *  - the health word follows its documented rules and thresholds;
 *  - in the 2D trainer, only the steps that end a log interval are measured, and the measured
 *    accuracy is that step's own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce_test.h"
#include "test_util.h"
#include "ref/ref.h"
#include "train/fce_diag.h"
#include "train/train_2d_internal.h"

#define EXACT 1e-12

/* a = f − c − log q = {2, −2, 12, −12} on data, b = {2, −2, −2, −12} on samples, c = 1. */
TEST(known_figures) {
    const float lq_data[4] = {0, 1, 2, 3}, f_data[4] = {3, 0, 15, -8};
    const float lq_samples[4] = {-3, 1, 1, 11}, f_samples[4] = {0, 0, 0, 0};
    fce_diag_figures x;
    fce_diag_compute(&x, f_data, f_samples, lq_data, lq_samples, 1.0f, 4);
    ASSERT_NEAR(x.acc_data, 0.5, EXACT);     /* a > 0: 2 and 12 */
    ASSERT_NEAR(x.acc_samples, 0.75, EXACT); /* b < 0: three of four */
    ASSERT_NEAR(x.logit_data_mean, 0.0, EXACT);
    ASSERT_NEAR(x.logit_data_sd, sqrt(74.0), EXACT); /* (4 + 4 + 144 + 144)/4 */
    ASSERT_NEAR(x.logit_samples_mean, -3.5, EXACT);
    ASSERT_NEAR(x.logit_samples_sd, sqrt(26.75), EXACT); /* (30.25 + 2.25 + 2.25 + 72.25)/4 */
    ASSERT_NEAR(x.frac_saturated, 3.0 / 8.0, EXACT);    /* |12|, |−12|, |−12| */
    ASSERT_NEAR(x.f_data_sd, sqrt(68.25), EXACT);       /* mean 2.5: (0.25 + 6.25 + 156.25 + 110.25)/4 */
    ASSERT_NEAR(x.f_samples_sd, 0.0, EXACT);
    ASSERT_NEAR(x.logq_data_sd, sqrt(1.25), EXACT);
    ASSERT_NEAR(x.logq_samples_sd, sqrt(26.75), EXACT); /* f constant: the sd of b */
    /* corr: f deviations (0.5, −2.5, 12.5, −10.5), log q (−1.5, −0.5, 0.5, 1.5): Σ products −9 */
    ASSERT_NEAR(x.corr_f_logq_data, -9.0 / sqrt(273.0 * 5.0), EXACT);
    ASSERT_TRUE(strcmp(fce_diag_health(&x), "informative") == 0);
    return 0;
}

TEST(correlation_signs_and_constant) {
    const float lq[4] = {1, 2, 3, 4}, up[4] = {7, 9, 11, 13}, down[4] = {-1, -2, -3, -4};
    const float shuffled[4] = {1, 3, 2, 4}, flat[4] = {5, 5, 5, 5};
    fce_diag_figures x;
    fce_diag_compute(&x, up, up, lq, lq, 0.0f, 4);
    ASSERT_NEAR(x.corr_f_logq_data, 1.0, EXACT);
    fce_diag_compute(&x, down, up, lq, lq, 0.0f, 4);
    ASSERT_NEAR(x.corr_f_logq_data, -1.0, EXACT);
    fce_diag_compute(&x, shuffled, up, lq, lq, 0.0f, 4);
    ASSERT_NEAR(x.corr_f_logq_data, 0.8, EXACT); /* Σ dev products 4 over √(5·5) */
    fce_diag_compute(&x, flat, up, lq, lq, 0.0f, 4);
    ASSERT_TRUE(isnan(x.corr_f_logq_data)); /* undefined, written as null */
    return 0;
}

/* The NCE op's accuracy on the same vectors, ties (a = 0, b = 0) included: the mean of the two. */
TEST(accuracy_matches_nce_op) {
    const float f_data[6] = {1, 2, 0.5f, -3, 40, 1}, lq_data[6] = {0, 2, 1, -4, 10, 0.5f};
    const float f_samples[6] = {0, 1, 2, 3, -50, 1.5f}, lq_samples[6] = {1, 0, 2, 2, -49.5f, 1};
    const float c = 0.5f;
    float stats[2];
    fce_ref_nce_loss(stats, NULL, NULL, NULL, NULL, NULL, f_data, f_samples, lq_data, lq_samples, &c, 6, 1.0f);
    fce_diag_figures x;
    fce_diag_compute(&x, f_data, f_samples, lq_data, lq_samples, c, 6);
    ASSERT_NEAR(x.acc_data, 3.0 / 6.0, EXACT);    /* a = .5, −.5, −1, .5, 29.5, 0 (tie: wrong) */
    ASSERT_NEAR(x.acc_samples, 3.0 / 6.0, EXACT); /* b = −1.5, .5, −.5, .5, −1, 0 (tie: wrong) */
    ASSERT_NEAR(0.5 * (x.acc_data + x.acc_samples), stats[1], 1e-7);
    ASSERT_NEAR(x.frac_saturated, 1.0 / 12.0, EXACT);
    return 0;
}

static const char *health_of(double acc_data, double acc_samples, double frac_saturated) {
    fce_diag_figures x;
    memset(&x, 0, sizeof x);
    x.acc_data = acc_data, x.acc_samples = acc_samples, x.frac_saturated = frac_saturated;
    const char *w = fce_diag_health(&x);
    return w ? w : "(none)";
}

TEST(health_rules) {
    ASSERT_TRUE(!strcmp(health_of(0.5, 0.5, 0.51), "saturated"));
    ASSERT_TRUE(!strcmp(health_of(0.5, 0.5, 0.5), "informative")); /* "> 0.5" */
    ASSERT_TRUE(!strcmp(health_of(0.95, 0.95, 0.9), "saturated")); /* the first rule wins */
    ASSERT_TRUE(!strcmp(health_of(0.0, 0.9, 0.0), "c-off"));
    ASSERT_TRUE(!strcmp(health_of(0.95, 0.05, 0.0), "c-off"));
    ASSERT_TRUE(!strcmp(health_of(0.1, 0.9, 0.0), "informative")); /* a gap of exactly 0.8 */
    ASSERT_TRUE(!strcmp(health_of(0.95, 0.9, 0.0), "ebm-wins"));
    ASSERT_TRUE(!strcmp(health_of(0.9, 0.9, 0.0), "informative"));
    ASSERT_TRUE(!strcmp(health_of(0.05, 0.1, 0.0), "flow-wins"));
    ASSERT_TRUE(!strcmp(health_of(0.6, 0.4, 0.2), "informative"));
    ASSERT_TRUE(!strcmp(health_of(NAN, 0.4, 0.2), "(none)"));
    fce_diag_figures x;
    fce_diag_compute(&x, NULL, NULL, NULL, NULL, 0.0f, 0); /* unmeasured */
    ASSERT_TRUE(isnan(x.acc_data) && isnan(x.logit_samples_sd) && isnan(x.corr_f_logq_data));
    ASSERT_TRUE(fce_diag_health(&x) == NULL);
    return 0;
}

/* The 2D trainer measures the step whose EBM update ends an interval (log_every 3: EBM updates 3,
 * 6, and the last, 7), before that update; the figures' accuracy is the step's own. */
TEST(trainer_measures_interval_ends_only) {
    fce_train_config c;
    fce_test_config_2d(&c, "test_fce_diag_out", 16, 8);
    c.steps = 7, c.log_every = 3, c.threshold = 0.45f; /* both players get turns */
    fce_trainer *t = calloc(1, sizeof *t);
    ASSERT_OK(fce_trainer_setup(t, &c));
    ASSERT_OK(fce_trainer_fresh_start(t));
    fce_diag *d = &t->report.diag;
    int measured = 0, flow_steps = 0;
    while (t->st.ebm_updates < c.steps) {
        const int64_t before = t->st.ebm_updates;
        const int flow_turn = (int)t->st.flow_turn;
        ASSERT_OK(fce_trainer_step(t));
        const int ends = !flow_turn && ((before + 1) % 3 == 0 || before + 1 == c.steps);
        ASSERT_EQ_INT(!isnan(d->fig.acc_data), ends);
        flow_steps += flow_turn;
        if (ends) {
            float stats[2];
            ASSERT_OK(fce_game_read_stats(&t->game, stats)); /* the measured step's (value, acc) */
            ASSERT_NEAR(0.5 * (d->fig.acc_data + d->fig.acc_samples), stats[1], 1e-7);
            ASSERT_TRUE(isfinite(d->fig.logit_data_sd) && isfinite(d->fig.frac_saturated));
            measured++;
        }
        fce_diag_reset(d); /* as the interval's log line does */
    }
    ASSERT_EQ_INT(measured, 3);
    ASSERT_TRUE(flow_steps > 0);
    fce_trainer_free(t);
    free(t);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(known_figures);
RUN_TEST(correlation_signs_and_constant);
RUN_TEST(accuracy_matches_nce_op);
RUN_TEST(health_rules);
RUN_TEST(trainer_measures_interval_ends_only);
FCE_TEST_MAIN_END
