/* test_train_image_fce.c: image FCE (train_image_fce.c) on the CPU backend, tiny flow and a
 * width-reduced EBM on generated CIFAR-format data: MLE pretraining, then FCE from that checkpoint
 * (finite metrics, both players get turns, both checkpoint files, resume continues); the step's
 * value and accuracy equal a hand computation from the downloaded f, log q and c. On a flow base
 * (--ebm-base flow): the first step's logits are 0 up to float error, so V = −log 4; and a resumed
 * run (which reads ebm_base.fce back) ends exactly where an uninterrupted one does. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/train_image.h"
#include "fce_test.h"
#include "test_util.h"
#include "train/train_image_fce.h"

static void base_cfg(fce_image_train_config *c, const char *mode, const char *out, long steps) {
    fce_test_image_cfg(c, fce_test_path("train.bin"), out, 8, steps);
    snprintf(c->mode, sizeof c->mode, "%s", mode);
    c->log_every = 5;
    c->ebm_width_scale = 16;
    c->lr_flow = 1e-4f;
    c->max_mode_steps = 2; /* guarantees both players turns in a short run */
}

static double field(const char *line, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *p = strstr(line, k);
    return p ? strtod(p + strlen(k), NULL) : NAN;
}

TEST(mle_then_fce_and_resume) {
    fce_image_train_config c;
    base_cfg(&c, "mle", fce_test_path("mle"), 5);
    ASSERT_OK(fce_image_train_run(&c));
    base_cfg(&c, "fce", fce_test_path("fce"), 20);
    snprintf(c.init_flow, sizeof c.init_flow, "%s/checkpoint.fce", fce_test_path("mle"));
    ASSERT_OK(fce_image_train_run(&c));
    char mp[600], line[1024];
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", fce_test_path("fce"));
    FILE *f = fopen(mp, "r");
    ASSERT_TRUE(f != NULL);
    int rows = 0;
    double ebm_up = 0, flow_up = 0;
    while (fgets(line, sizeof line, f)) {
        const char *keys[] = {"value", "acc", "c", "frac_ebm", "bpd_flow", "bpd_ebm", "img_per_s"};
        for (int i = 0; i < 7; i++) ASSERT_TRUE(isfinite(field(line, keys[i])));
        ebm_up = field(line, "ebm_updates");
        flow_up = field(line, "flow_updates");
        rows++;
    }
    fclose(f);
    fprintf(stderr, "  %d rows, %g EBM and %g flow updates; last: %s", rows, ebm_up, flow_up, line);
    ASSERT_EQ_INT(rows, 4);
    ASSERT_TRUE(ebm_up > 0 && flow_up > 0 && ebm_up + flow_up == 20);
    ASSERT_TRUE(access(fce_test_path("fce/checkpoint.fce"), F_OK) == 0);
    ASSERT_TRUE(access(fce_test_path("fce/ebm.fce"), F_OK) == 0);
    /* resume: 4 more steps */
    c.steps = 24;
    c.resume = 1;
    ASSERT_OK(fce_image_train_run(&c));
    f = fopen(mp, "r");
    ASSERT_TRUE(f != NULL);
    rows = 0;
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    ASSERT_EQ_INT(rows, 5);
    ASSERT_TRUE(field(line, "step") == 24);
    ASSERT_TRUE(field(line, "ebm_updates") + field(line, "flow_updates") == 24);
    return 0;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

TEST(value_and_accuracy_by_hand) {
    fce_image_train_config c;
    base_cfg(&c, "fce", fce_test_path("hand"), 10);
    snprintf(c.init_flow, sizeof c.init_flow, "%s/checkpoint.fce", fce_test_path("mle"));
    c.max_mode_steps = 1; /* alternate: both kinds of step are checked */
    fce_ifce *t;
    ASSERT_OK(fce_ifce_create(&t, &c));
    int n = c.batch, kinds[2] = {0, 0};
    float fx[64], fxt[64], lq[64], lqt[64];
    for (int s = 0; s < 4; s++) {
        fce_ifce_probe p = {fx, fxt, lq, lqt, 0, 0, 0, 0};
        fce_status st = fce_ifce_step(t, &p);
        if (st != FCE_STATUS_OK) {
            fce_ifce_free(t);
            ASSERT_OK(st);
        }
        double V = 0, cor = 0;
        for (int i = 0; i < n; i++) {
            double a = (double)fx[i] - p.c - lq[i], b = (double)fxt[i] - p.c - lqt[i];
            V -= (softplus(-a) + softplus(b)) / n;
            cor += (a > 0) + (b < 0);
        }
        double acc = cor / (2.0 * n);
        fprintf(stderr, "  step %d (%s): V %.6f (hand %.6f), acc %.4f (hand %.4f), c %.4g\n", s,
                p.flow_turn ? "flow" : "EBM", (double)p.value, V, (double)p.acc, acc, (double)p.c);
        kinds[p.flow_turn]++;
        if (!(fabs(p.value - V) <= 1e-4 * (1 + fabs(V)) && fabs(p.acc - acc) < 1e-6)) {
            fce_ifce_free(t);
            ASSERT_TRUE(0);
        }
    }
    fce_ifce_free(t);
    ASSERT_TRUE(kinds[0] > 0 && kinds[1] > 0);
    return 0;
}

/* The last metrics.jsonl line of run folder dir (sub-folder of the test's), or "" */
static void last_metrics(const char *dir, char *line, size_t n) {
    char mp[700];
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", fce_test_path(dir));
    line[0] = 0;
    FILE *f = fopen(mp, "r");
    if (!f) return;
    while (fgets(line, (int)n, f)) {}
    fclose(f);
}

TEST(flow_base_starts_at_minus_log_4) {
    fce_image_train_config c;
    base_cfg(&c, "fce", fce_test_path("base0"), 4);
    snprintf(c.init_flow, sizeof c.init_flow, "%s/checkpoint.fce", fce_test_path("mle"));
    snprintf(c.ebm_base, sizeof c.ebm_base, "flow");
    fce_ifce *t;
    ASSERT_OK(fce_ifce_create(&t, &c));
    float fx[64], fxt[64], lq[64], lqt[64];
    fce_ifce_probe p = {fx, fxt, lq, lqt, 0, 0, 0, 0};
    fce_status st = fce_ifce_step(t, &p);
    fce_ifce_free(t);
    ASSERT_OK(st);
    /* a = f(x) − c − log q(x) with f = log q₀ + g, g ≡ 0 and q₀ = q: the same forward pass twice;
     * b likewise at x̃, where log q(x̃) comes from the sampling pass and log q₀(x̃) from a forward
     * pass (test_iglow.c's bound between the two: 2e-3 + 1e-5·|log q|). V = −log 4 − mean(b)/2 +
     * O(b²), so |V + log 4| <= max|b|/2 + float error. */
    double amax = 0, bmax = 0, lqmax = 0;
    for (int i = 0; i < c.batch; i++) {
        amax = fmax(amax, fabs((double)fx[i] - p.c - lq[i]));
        bmax = fmax(bmax, fabs((double)fxt[i] - p.c - lqt[i]));
        lqmax = fmax(lqmax, fmax(fabs(lq[i]), fabs(lqt[i])));
    }
    fprintf(stderr, "  step 0: V %.7f (−log 4 = %.7f), acc %.3f, c %g, max |a| %.3g, max |b| %.3g, max |log q| %.4g\n",
            (double)p.value, -log(4.0), (double)p.acc, (double)p.c, amax, bmax, lqmax);
    ASSERT_TRUE(p.flow_turn == 0 && fabs(p.c) <= 1e-6 * lqmax);
    ASSERT_TRUE(amax <= 1e-6 * lqmax && bmax <= 2e-3 + 1e-5 * lqmax);
    ASSERT_NEAR(p.value, -log(4.0), bmax / 2 + 1e-6);
    return 0;
}

TEST(flow_base_resume_is_exact) {
    fce_image_train_config c;
    base_cfg(&c, "fce", fce_test_path("base_whole"), 10);
    snprintf(c.init_flow, sizeof c.init_flow, "%s/checkpoint.fce", fce_test_path("mle"));
    snprintf(c.ebm_base, sizeof c.ebm_base, "flow");
    c.log_every = 2; /* rows average their interval: the cut at 6 is at an interval's end */
    ASSERT_OK(fce_image_train_run(&c));
    snprintf(c.out_dir, sizeof c.out_dir, "%s", fce_test_path("base_cut"));
    c.steps = 6;
    ASSERT_OK(fce_image_train_run(&c));
    c.steps = 10;
    c.resume = 1;
    ASSERT_OK(fce_image_train_run(&c));
    char whole[1024], cut[1024];
    last_metrics("base_whole", whole, sizeof whole);
    last_metrics("base_cut", cut, sizeof cut);
    fprintf(stderr, "  whole: %s  resumed: %s", whole, cut);
    const char *keys[] = {"step", "value", "acc", "c", "bpd_flow", "bpd_ebm", "ebm_updates"};
    for (int i = 0; i < 7; i++) ASSERT_TRUE(field(whole, keys[i]) == field(cut, keys[i]));
    ASSERT_TRUE(field(cut, "step") == 10 && isfinite(field(cut, "value")));
    return 0;
}

FCE_TEST_MAIN_BEGIN
const char *dir = fce_test_tmpdir("/tmp/fce_test_train_image_fce_XXXXXX");
if (!dir) return 1;
if (!fce_test_write_cifar_checker(fce_test_path("train.bin"), 24, 4242u)) return 1;
RUN_TEST(mle_then_fce_and_resume);
RUN_TEST(value_and_accuracy_by_hand);
RUN_TEST(flow_base_starts_at_minus_log_4);
RUN_TEST(flow_base_resume_is_exact);
if (!fce_test_rm_tree(dir)) fprintf(stderr, "could not remove %s\n", dir);
FCE_TEST_MAIN_END
