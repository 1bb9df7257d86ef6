/* test_softmax.c: the softmax cross-entropy op (backend.h softmax_xent, ref/softmax_ref.c).
 *  (1) a hand-computed batch: logits (1, 2, 3) label 2, (0, 0, 0) label 0 (a three-way tie: the
 *      argmax is the lowest index, counted correct), (1000, −1000, 0) label 1 (the max-subtracted
 *      form gives loss 2000 exactly, no overflow), with gscale 0.5 and a pre-filled stats pair;
 *  (2) dlogits against central differences of the summed loss (stats[0]) at N = 5, K = 7, for
 *      gscale 1 and 0.25, in the same op table the trainers use;
 *  (3) a label outside [0, K): NaN loss, not counted, dlogits = gscale·p; NULL stats / dlogits. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

TEST(softmax_xent_hand_computed) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    const float z[9] = {1, 2, 3, 0, 0, 0, 1000, -1000, 0};
    const int32_t y[3] = {2, 0, 1};
    float stats[2] = {0.5f, 2.0f}, d[9];
    for (int i = 0; i < 9; i++) d[i] = 777.0f;
    ASSERT_OK(ctx.ops->softmax_xent(&ctx, stats, d, z, y, 3, 3, 0.5f));
    /* row 0: lse = 3 + log(e^-2 + e^-1 + 1) = 3.4076059644443806; p = (0.0900306, 0.2447285,
     * 0.6652410); loss = lse − 3 */
    const double lse0 = 3.0 + log(exp(-2.0) + exp(-1.0) + 1.0);
    ASSERT_NEAR(lse0, 3.4076059644443806, 1e-15);
    const double p0[3] = {exp(1 - lse0), exp(2 - lse0), exp(3 - lse0)};
    ASSERT_NEAR(p0[0], 0.09003057317038046, 1e-15);
    ASSERT_NEAR(d[0], 0.5 * 0.09003057317038046, 1e-7);
    ASSERT_NEAR(d[1], 0.5 * 0.24472847105479767, 1e-7);
    ASSERT_NEAR(d[2], 0.5 * (0.6652409557748219 - 1.0), 1e-7);
    /* row 1: uniform p = 1/3, loss = log 3 */
    ASSERT_NEAR(d[3], 0.5 * (1.0 / 3 - 1), 1e-7);
    ASSERT_NEAR(d[4], 0.5 / 3, 1e-7);
    ASSERT_NEAR(d[5], 0.5 / 3, 1e-7);
    /* row 2: p = (1, 0, 0) to double precision; label 1: loss = 1000 − (−1000) = 2000 */
    ASSERT_NEAR(d[6], 0.5, 1e-7);
    ASSERT_NEAR(d[7], -0.5, 1e-7);
    ASSERT_NEAR(d[8], 0.0, 1e-7);
    /* stats accumulate onto (0.5, 2): rows 0 and 1 are correct, row 2 is not */
    ASSERT_NEAR(stats[0], 0.5 + 0.4076059644443806 + log(3.0) + 2000.0, 2e-4);
    ASSERT_EQ_INT((int)stats[1], 4);
    for (int i = 0; i < 9; i++) ASSERT_TRUE(isfinite(d[i]));
    fce_ctx_free(&ctx);
    return 0;
}

typedef struct fd_state {
    float *z;
    int32_t *y;
    int N, K;
} fd_state;

static double summed_loss(const fd_state *s) {
    float st[2] = {0, 0};
    fce_ref_softmax_xent(st, NULL, s->z, s->y, s->N, s->K, 1.0f);
    return st[0];
}

static int check_fd(float gscale) {
    enum { N = 5, K = 7 };
    float z[N * K], d[N * K], num[N * K];
    int32_t y[N] = {0, 3, 6, 2, 2};
    fce_test_fill_uniform(z, N * K, 1234, -3.0f, 3.0f);
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init_cpu(&ctx));
    for (int i = 0; i < N * K; i++) d[i] = 777.0f;
    ASSERT_OK(ctx.ops->softmax_xent(&ctx, NULL, d, z, y, N, K, gscale));
    fd_state s = {z, y, N, K};
    /* 4-point stencil, h = 2^-7 (exact in float for |z| < 4); stats[0] is a float sum of five
     * O(1) losses: rounding ~5e-7, i.e. ~4e-5 in the derivative. */
    const double h = 0x1p-7;
    for (int i = 0; i < N * K; i++) {
        float z0 = z[i];
        z[i] = (float)(z0 + h);
        double f1 = summed_loss(&s);
        z[i] = (float)(z0 - h);
        double fm1 = summed_loss(&s);
        z[i] = (float)(z0 + 2 * h);
        double f2 = summed_loss(&s);
        z[i] = (float)(z0 - 2 * h);
        double fm2 = summed_loss(&s);
        z[i] = z0;
        num[i] = (float)(gscale * (-f2 + 8 * f1 - 8 * fm1 + fm2) / (12 * h));
    }
    EXPECT_CLOSE("softmax_xent dlogits vs finite differences", d, num, N * K, 3e-4, 1e-3);
    /* each row of dlogits sums to 0 (Σ p = 1), and the label's entry is the only negative one */
    for (int n = 0; n < N; n++) {
        double sum = 0;
        for (int k = 0; k < K; k++) {
            sum += d[n * K + k];
            ASSERT_TRUE((k == y[n]) == (gscale * d[n * K + k] < 0));
        }
        ASSERT_NEAR(sum, 0.0, 1e-6);
    }
    fce_ctx_free(&ctx);
    return 0;
}

TEST(softmax_xent_gradcheck_gscale_1) { return check_fd(1.0f); }
TEST(softmax_xent_gradcheck_gscale_quarter) { return check_fd(0.25f); }

TEST(softmax_xent_bad_label_and_null_outputs) {
    const float z[4] = {0.0f, 1.0f, 2.0f, -1.0f};
    const int32_t y[2] = {5, 1};
    float st[2] = {0, 0}, d[4];
    fce_ref_softmax_xent(st, d, z, y, 2, 2, 1.0f);
    ASSERT_TRUE(isnan(st[0]));
    ASSERT_EQ_INT((int)st[1], 0); /* row 1: argmax 0, label 1: wrong; row 0: invalid */
    const double p1 = 1.0 / (1.0 + exp(-1.0));
    ASSERT_NEAR(d[1], p1, 1e-7); /* no one-hot term on the invalid row */
    ASSERT_NEAR(d[0], 1.0 - p1, 1e-7);
    float st2[2] = {1.0f, 1.0f};
    const int32_t y2[2] = {1, 0};
    fce_ref_softmax_xent(st2, NULL, z, y2, 2, 2, 1.0f); /* stats only */
    ASSERT_EQ_INT((int)st2[1], 3);
    float d2[4] = {9, 9, 9, 9};
    fce_ref_softmax_xent(NULL, d2, z, y2, 2, 2, 1.0f); /* gradient only */
    ASSERT_NEAR(d2[1], p1 - 1.0, 1e-7);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(softmax_xent_hand_computed);
RUN_TEST(softmax_xent_gradcheck_gscale_1);
RUN_TEST(softmax_xent_gradcheck_gscale_quarter);
RUN_TEST(softmax_xent_bad_label_and_null_outputs);
FCE_TEST_MAIN_END
