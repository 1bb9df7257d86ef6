/* test_emu_tf32.c: the TF32 policy on the emulated GPU (README "TF32"): with TF32 on, the dense
 * layers' GEMMs run in TF32 tensor-op math, and the invertible 1×1 maps' GEMMs in exact FP32. The
 * fake cuBLAS records every call's math mode (emu_counters.h: gemms, gemms_tf32), so the test
 * counts, op by op and over whole passes of an image flow, how many GEMMs were issued and how
 * many of them in TF32. (That the FP32 maps keep a flow invertible to 1e-4 is emu_gpu_inverse_tf32:
 * test_gpu_inverse_cifar with FCE_TF32=1, where the fake cuBLAS rounds TF32 inputs to 10 bits.) */
#include <stdlib.h>
#include <string.h>

#include "emu_counters.h"
#include "fce/iglow.h"
#include "fce_test.h"
#include "test_util.h"

#define C 12
#define ROWS 40

/* GEMMs and TF32 GEMMs issued by fn(ctx, bufs). */
typedef fce_status (*gemm_call)(fce_ctx *ctx, float *const *b);
static int count_gemms(fce_ctx *ctx, gemm_call fn, float *const *b, long long *gemms, long long *tf32) {
    fce_emu_counters a, z, d;
    fce_emu_counters_read(&a);
    if (fn(ctx, b) != FCE_STATUS_OK) return 0;
    fce_emu_counters_read(&z);
    fce_emu_counters_diff(&a, &z, &d);
    *gemms = d.gemms, *tf32 = d.gemms_tf32;
    return 1;
}

static fce_status call_invconv_forward(fce_ctx *c, float *const *b) {
    return c->ops->invconv_forward(c, b[0], b[1], b[2], ROWS, C);
}
static fce_status call_invconv_halves(fce_ctx *c, float *const *b) {
    return c->ops->invconv_forward_halves(c, b[0], b[1], b[2], ROWS, C);
}
static fce_status call_invconv_backward(fce_ctx *c, float *const *b) {
    return c->ops->invconv_backward(c, b[0], b[3], b[1], b[4], b[2], ROWS, C);
}
static fce_status call_linear_forward(fce_ctx *c, float *const *b) {
    return c->ops->linear_forward(c, b[0], b[1], b[2], NULL, ROWS, C, C);
}

static int check_ops(int tf32_on) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init(&ctx, "0"));
    ASSERT_TRUE(ctx.kind == FCE_BACKEND_KIND_CUDA);
    ASSERT_OK(fce_ctx_set_tf32(&ctx, tf32_on));
    float *h = fce_test_alloc(ROWS * C);
    fce_test_fill_uniform(h, ROWS * C, 3, -1, 1);
    float *b[5]; /* y, x, W, dW, x2 */
    for (int i = 0; i < 5; i++) b[i] = fce_test_dev_from_host(&ctx, h, i == 2 || i == 3 ? C * C : ROWS * C);
    const struct {
        const char *what;
        gemm_call fn;
        long long gemms, tf32_when_on;
    } rows[] = {{"invconv_forward", call_invconv_forward, 1, 0},
                {"invconv_forward_halves", call_invconv_halves, 1, 0},
                {"invconv_backward", call_invconv_backward, 2, 0},
                {"linear_forward (a dense layer)", call_linear_forward, 1, 1}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        long long g = -1, t = -1;
        ASSERT_TRUE(count_gemms(&ctx, rows[i].fn, b, &g, &t));
        fprintf(stderr, "    TF32 %s: %-32s %lld GEMM(s), %lld in TF32\n", tf32_on ? "on " : "off",
                rows[i].what, g, t);
        ASSERT_EQ_INT((int)g, (int)rows[i].gemms);
        ASSERT_EQ_INT((int)t, tf32_on ? (int)rows[i].tf32_when_on : 0);
    }
    for (int i = 0; i < 5; i++) ctx.ops->release(&ctx, b[i]);
    free(h);
    fce_ctx_free(&ctx);
    return 0;
}

TEST(invconv_gemms_stay_fp32_with_tf32_on) { return check_ops(1); }
TEST(no_tf32_gemm_with_tf32_off) { return check_ops(0); }

/* A whole additive image flow (the fused path) with TF32 on: forward and inverse issue their maps'
 * GEMMs in FP32 only; the backward's only TF32 GEMMs are the top prior's two batch sums (dense
 * layers, which the policy lets use TF32). */
TEST(image_flow_passes_with_tf32_on) {
    fce_ctx ctx;
    ASSERT_OK(fce_ctx_init(&ctx, "0"));
    ASSERT_OK(fce_ctx_set_tf32(&ctx, 1));
    const fce_iglow_config cfg = {16, 16, 3, 2, 2, 8, 0};
    const int N = 2;
    const size_t D = 16 * 16 * 3;
    fce_iglow *g = NULL;
    fce_iglow_tape *tp = NULL;
    ASSERT_OK(fce_iglow_init(&g, &ctx, &cfg, 5));
    ASSERT_OK(fce_iglow_tape_init(&tp, g, N));
    float *h = fce_test_alloc(N * D);
    fce_test_fill_uniform(h, N * D, 4, -0.5f, 0.5f);
    float *x = fce_test_dev_from_host(&ctx, h, N * D), *dl = fce_test_dev_from_host(&ctx, h, N);
    float *eps[2] = {fce_test_dev_from_host(&ctx, h, N * D), fce_test_dev_from_host(&ctx, h, N * D)};
    ASSERT_OK(fce_iglow_data_init(g, tp, x, N));
    fce_emu_counters a, z, d;
    const char *pass[3] = {"forward", "backward", "inverse"};
    const long long tf32_want[3] = {0, 2, 0};
    for (int p = 0; p < 3; p++) {
        fce_emu_counters_read(&a);
        if (p == 0) ASSERT_OK(fce_iglow_forward(g, tp, x, N));
        if (p == 1) ASSERT_OK(fce_iglow_backward(g, tp, dl, N));
        if (p == 2) ASSERT_OK(fce_iglow_inverse(g, tp, (const float *const *)eps, 1.0f, N));
        fce_emu_counters_read(&z);
        fce_emu_counters_diff(&a, &z, &d);
        fprintf(stderr, "    %-8s %lld GEMM(s), %lld in TF32\n", pass[p], d.gemms, d.gemms_tf32);
        ASSERT_TRUE(d.gemms > 0);
        ASSERT_EQ_INT((int)d.gemms_tf32, (int)tf32_want[p]);
    }
    ctx.ops->release(&ctx, x), ctx.ops->release(&ctx, dl);
    ctx.ops->release(&ctx, eps[0]), ctx.ops->release(&ctx, eps[1]);
    fce_iglow_tape_free(tp);
    fce_iglow_free(g);
    fce_ctx_free(&ctx);
    free(h);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(invconv_gemms_stay_fp32_with_tf32_on);
RUN_TEST(no_tf32_gemm_with_tf32_off);
RUN_TEST(image_flow_passes_with_tf32_on);
FCE_TEST_MAIN_END
