/* test_probe.c: the pieces of `fce-gpu probe` (probe_internal.h) on the CPU backend.
 *  (1) the linear probe on linearly separable synthetic features (10 Gaussian classes in 32-d,
 *      well apart) reaches >= 0.95 test accuracy on held-out points, and its training loss falls
 *      below 0.1; with the gradient's sign flipped (or not applied) it could not. The same data
 *      with shuffled labels stays near chance (<= 0.3): the score is not trivially high;
 *  (2) the standardiser: mean 0 and std ~1 after actnorm_forward, and a constant feature stays
 *      finite (the variance floor);
 *  (3) the EBM with n_out = 10: the n_out <= 1 parameter table is unchanged (hash), and the 10
 *      logits equal the top-layer features dotted with the last conv's rows plus its biases;
 *  (4) fce_probe_features does not depend on the batch size (padding of the last batch);
 *  (5) the supervised baseline learns 16x16 pictures whose class is where a bright square sits;
 *  (6) the plot: a PNG with each method's colour present. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/backend.h"
#include "fce/ebm_image.h"
#include "fce/image_io.h"
#include "fce/philox.h"
#include "fce_test.h"
#include "probe/probe_internal.h"
#include "test_util.h"

enum { F_SYN = 32, K_SYN = 10 };

/* n points: class y = i mod 10 (shuffled by the seed), x = μ_y + 0.3·ε with μ ~ N(0, I) fixed. */
static void synth(float *x, int32_t *y, int n, uint64_t seed, int shuffle_labels) {
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)(fce_philox_uniform(seed, (uint64_t)i) * K_SYN);
        if (y[i] >= K_SYN) y[i] = K_SYN - 1;
        for (int j = 0; j < F_SYN; j++)
            x[i * F_SYN + j] = fce_philox_normal(99, (uint64_t)(y[i] * F_SYN + j)) * 1.0f + 2.0f +
                               0.3f * fce_philox_normal(seed + 1, (uint64_t)(i * F_SYN + j));
    }
    if (shuffle_labels)
        for (int i = 0; i < n; i++) {
            y[i] = (int32_t)(fce_philox_uniform(seed + 7, (uint64_t)i) * K_SYN);
            if (y[i] >= K_SYN) y[i] = K_SYN - 1;
        }
}

static int run_linear(int shuffle_labels, fce_probe_result *r) {
    enum { NTR = 300, NTE = 500 };
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    float *xtr = fce_test_alloc(NTR * F_SYN), *xte = fce_test_alloc(NTE * F_SYN);
    int32_t ytr[NTR], yte[NTE];
    synth(xtr, ytr, NTR, 11, shuffle_labels);
    synth(xte, yte, NTE, 22, shuffle_labels);
    float *d_xtr = fce_test_dev_from_host(&ctx, xtr, NTR * F_SYN);
    float *d_xte = fce_test_dev_from_host(&ctx, xte, NTE * F_SYN);
    int32_t *d_yte = NULL;
    ASSERT_OK(ctx.ops->alloc(&ctx, (void **)&d_yte, sizeof yte));
    ASSERT_OK(ctx.ops->upload(&ctx, d_yte, yte, sizeof yte));
    fce_probe_train_opts o = {32, 60, 0, 1e-2f, 0.0f, 5, 8, 1, "test"};
    ASSERT_OK(fce_probe_linear(&ctx, d_xtr, ytr, NTR, d_xte, d_yte, NTE, F_SYN, K_SYN, &o, r));
    fprintf(stderr, "  linear probe (%s labels): test acc %.4f loss %.4f, train acc %.4f loss %.4f, "
            "%ld steps\n", shuffle_labels ? "random" : "true", r->test_acc, r->test_loss,
            r->train_acc, r->train_loss, r->steps);
    ASSERT_EQ_INT(r->steps, 60 * ((NTR + 31) / 32));
    ctx.ops->release(&ctx, d_xtr);
    ctx.ops->release(&ctx, d_xte);
    ctx.ops->release(&ctx, d_yte);
    free(xtr);
    free(xte);
    fce_ctx_free(&ctx);
    return 0;
}

TEST(linear_probe_separable) {
    fce_probe_result r;
    if (run_linear(0, &r)) return 1;
    ASSERT_TRUE(r.test_acc >= 0.95);
    ASSERT_TRUE(r.train_acc >= 0.99);
    ASSERT_TRUE(r.train_loss < 0.1);
    return 0;
}

TEST(linear_probe_random_labels_near_chance) {
    fce_probe_result r;
    if (run_linear(1, &r)) return 1;
    ASSERT_TRUE(r.test_acc <= 0.3);
    return 0;
}

TEST(standardizer) {
    enum { K = 50, F = 3 };
    float x[K * F], bias[F], logs[F], y[K * F];
    for (int i = 0; i < K; i++) {
        x[i * F + 0] = 5.0f + 3.0f * fce_philox_normal(3, (uint64_t)i);
        x[i * F + 1] = -2.0f + 0.1f * fce_philox_normal(4, (uint64_t)i);
        x[i * F + 2] = 7.0f; /* constant */
    }
    fce_probe_standardizer(x, K, F, bias, logs);
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    ASSERT_OK(ctx.ops->actnorm_forward(&ctx, y, NULL, x, bias, logs, K, 1, F));
    for (int j = 0; j < 2; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < K; i++) m += y[i * F + j];
        m /= K;
        for (int i = 0; i < K; i++) v += (y[i * F + j] - m) * (y[i * F + j] - m);
        v /= K;
        ASSERT_NEAR(m, 0.0, 1e-5);
        ASSERT_NEAR(v, 1.0, 1e-3);
    }
    for (int i = 0; i < K; i++) ASSERT_NEAR(y[i * F + 2], 0.0, 1e-6);
    /* a test value 1 away from the constant: scaled by 1/√(1e-6·mean var), large but finite */
    float t[F] = {5.0f, -2.0f, 8.0f}, u[F];
    ASSERT_OK(ctx.ops->actnorm_forward(&ctx, u, NULL, t, bias, logs, 1, 1, F));
    ASSERT_TRUE(isfinite(u[2]) && u[2] > 1.0f && u[2] < 1e4f);
    fce_ctx_free(&ctx);
    return 0;
}

static const float *param_view(fce_ebm_image *e, const char *name) {
    const fce_param_table *t = fce_ebm_image_params(e);
    for (int s = 0; s < t->n; s++)
        if (!strcmp(t->specs[s].name, name)) return fce_ebm_image_arena(e)->params + t->specs[s].offset;
    return NULL;
}

TEST(ebm_image_n_out_logits) {
    enum { N = 3, H = 16, W = 16, C = 3, NO = 10 };
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_ebm_image *e0 = NULL, *e1 = NULL, *ec = NULL;
    fce_ebm_image_config c0 = {.H = H, .W = W, .C = C, .width_scale = 16, .n_out = 0};
    fce_ebm_image_config c1 = c0, cc = c0;
    c1.n_out = 1;
    cc.n_out = NO;
    ASSERT_OK(fce_ebm_image_init(&e0, &ctx, &c0, 3));
    ASSERT_OK(fce_ebm_image_init(&e1, &ctx, &c1, 3));
    ASSERT_OK(fce_ebm_image_init(&ec, &ctx, &cc, 3));
    ASSERT_TRUE(fce_param_table_hash(fce_ebm_image_params(e0)) ==
                fce_param_table_hash(fce_ebm_image_params(e1)));
    ASSERT_TRUE(fce_param_table_hash(fce_ebm_image_params(e0)) !=
                fce_param_table_hash(fce_ebm_image_params(ec)));
    ASSERT_EQ_INT(fce_ebm_image_n_out(e0), 1);
    ASSERT_EQ_INT(fce_ebm_image_n_out(ec), NO);
    const int F = fce_ebm_image_feature_dim(ec);
    ASSERT_EQ_INT(F, (H / 8) * (W / 8) * fce_ebm_image_width(ec, 2));
    float *x = fce_test_alloc(N * H * W * C);
    fce_test_fill_uniform(x, N * H * W * C, 8, -0.5f, 0.5f);
    float *b3 = (float *)param_view(ec, "ebm.conv3.b");
    for (int j = 0; j < NO; j++) b3[j] = 0.1f * (float)j - 0.3f; /* nonzero biases */
    fce_ebm_image_tape *tp = NULL;
    ASSERT_OK(fce_ebm_image_tape_init(&tp, ec, N));
    const float *logits = NULL;
    ASSERT_OK(fce_ebm_image_forward(ec, tp, x, N, &logits));
    const float *feat = fce_ebm_image_tape_features(tp), *w3 = param_view(ec, "ebm.conv3.w");
    for (int n = 0; n < N; n++)
        for (int j = 0; j < NO; j++) {
            double s = b3[j];
            for (int i = 0; i < F; i++) s += (double)w3[(size_t)j * F + i] * feat[(size_t)n * F + i];
            ASSERT_NEAR(logits[n * NO + j], s, 1e-5);
        }
    fce_ebm_image_tape_free(tp);
    fce_ebm_image_free(e0);
    fce_ebm_image_free(e1);
    fce_ebm_image_free(ec);
    free(x);
    fce_ctx_free(&ctx);
    return 0;
}

/* 16x16 RGB pictures; class c in 0..3 has a bright 8x8 square in quadrant c on a noisy dark
 * background. */
static int make_quadrants(fce_image_set *s, int n, uint64_t seed) {
    ASSERT_OK(fce_image_set_alloc(s, (size_t)n, 16, 16, 3, 1, "test pictures"));
    for (int i = 0; i < n; i++) {
        int c = i % 4;
        s->labels[i] = (uint8_t)c;
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                for (int ch = 0; ch < 3; ch++) {
                    int in = (y / 8) * 2 + x / 8 == c;
                    float u = fce_philox_uniform(seed, (uint64_t)((i * 16 + y) * 16 + x) * 3 + ch);
                    s->pixels[((size_t)(i * 16 + y) * 16 + x) * 3 + ch] =
                        (uint8_t)(in ? 170 + 60 * u : 20 + 60 * u);
                }
    }
    return 0;
}

TEST(features_independent_of_batch) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_image_set s;
    memset(&s, 0, sizeof s);
    if (make_quadrants(&s, 5, 3)) return 1;
    fce_ebm_image *e = NULL;
    fce_ebm_image_config c = {.H = 16, .W = 16, .C = 3, .width_scale = 16};
    ASSERT_OK(fce_ebm_image_init(&e, &ctx, &c, 4));
    const int F = fce_ebm_image_feature_dim(e);
    const size_t idx[5] = {4, 0, 3, 3, 1};
    float *a = NULL, *b = NULL;
    ASSERT_OK(ctx.ops->alloc(&ctx, (void **)&a, 5 * (size_t)F * sizeof(float)));
    ASSERT_OK(ctx.ops->alloc(&ctx, (void **)&b, 5 * (size_t)F * sizeof(float)));
    ASSERT_OK(fce_probe_features(e, &s, idx, 5, 2, 8, 77, a, 1, "test"));
    ASSERT_OK(fce_probe_features(e, &s, idx, 5, 5, 8, 77, b, 1, "test"));
    ASSERT_TRUE(memcmp(a, b, 5 * (size_t)F * sizeof(float)) == 0);
    int nonzero = 0;
    for (int i = 0; i < 5 * F; i++) nonzero += a[i] != 0.0f;
    ASSERT_TRUE(nonzero > F);
    ctx.ops->release(&ctx, a);
    ctx.ops->release(&ctx, b);
    fce_ebm_image_free(e);
    fce_image_set_free(&s);
    fce_ctx_free(&ctx);
    return 0;
}

TEST(supervised_learns_quadrants) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    fce_image_set tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    if (make_quadrants(&tr, 64, 5) || make_quadrants(&te, 40, 6)) return 1;
    size_t idx[64];
    for (int i = 0; i < 64; i++) idx[i] = (size_t)i;
    int32_t yte[40];
    for (int i = 0; i < 40; i++) yte[i] = te.labels[i];
    int32_t *d_yte = NULL;
    ASSERT_OK(ctx.ops->alloc(&ctx, (void **)&d_yte, sizeof yte));
    ASSERT_OK(ctx.ops->upload(&ctx, d_yte, yte, sizeof yte));
    fce_ebm_image_config arch = {.H = 16, .W = 16, .C = 3, .width_scale = 16};
    fce_probe_train_opts o = {16, 15, 0, 3e-3f, 0.0f, 9, 8, 1, "test"};
    fce_probe_result r;
    ASSERT_OK(fce_probe_supervised(&ctx, &arch, &tr, idx, 64, &te, d_yte, 40, 10, &o, &r));
    fprintf(stderr, "  supervised: test acc %.4f loss %.4f, train acc %.4f loss %.4f, %ld steps\n",
            r.test_acc, r.test_loss, r.train_acc, r.train_loss, r.steps);
    ASSERT_EQ_INT(r.steps, 15 * 4);
    ASSERT_TRUE(r.test_acc >= 0.9);
    ctx.ops->release(&ctx, d_yte);
    fce_image_set_free(&tr);
    fce_image_set_free(&te);
    fce_ctx_free(&ctx);
    return 0;
}

TEST(plot_has_every_colour) {
    char dir[] = "/tmp/fce_probe_plot_XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/p.png", dir);
    const int k[3] = {100, 1000, 4000};
    const double a0[3] = {0.3, 0.5, 0.6}, a1[3] = {0.2, NAN, 0.3}, a2[3] = {0.25, 0.6, 0.8};
    const double *acc[3] = {a0, a1, a2};
    const char *names[3] = {"fce", "random", "supervised"};
    ASSERT_OK(fce_probe_plot(path, "cifar10: linear probe", k, 3, acc, names, 3));
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
    ASSERT_OK(fce_image_read_rgb(path, &rgb, &w, &h)); /* reads p.ppm in a build without libpng */
    const unsigned char col[3][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}};
    int count[3] = {0, 0, 0};
    for (int i = 0; i < w * h; i++)
        for (int m = 0; m < 3; m++)
            if (!memcmp(rgb + (size_t)i * 3, col[m], 3)) count[m]++;
    fprintf(stderr, "  plot %dx%d: pixels per colour %d %d %d\n", w, h, count[0], count[1], count[2]);
    for (int m = 0; m < 3; m++) ASSERT_TRUE(count[m] > 100);
    free(rgb);
    remove(path);
    snprintf(path, sizeof path, "%s/p.ppm", dir);
    remove(path);
    rmdir(dir);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(linear_probe_separable);
RUN_TEST(linear_probe_random_labels_near_chance);
RUN_TEST(standardizer);
RUN_TEST(ebm_image_n_out_logits);
RUN_TEST(features_independent_of_batch);
RUN_TEST(supervised_learns_quadrants);
RUN_TEST(plot_has_every_colour);
FCE_TEST_MAIN_END
