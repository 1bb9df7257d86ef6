/* test_gpu_conv.c: the cuDNN convolution (CUDA backend) against the CPU reference, through the
 * public op table only (ctx->ops->conv_*), for every conv shape of the op-case registry
 * (tests/ops/op_cases.c: the shapes the image models use plus odd ones).
 *
 * For each shape the same seeded host data goes to a CPU context and a deterministic CUDA context
 * (ctx.deterministic = 1 before any plan is made), and each of
 *   forward without bias, forward with bias, backward data, backward filter + bias
 * runs on both and is compared with EXPECT_CLOSE. Overwritten outputs (y, dx) are pre-filled with
 * garbage, accumulated ones (dw, db) with nonzero values, so = versus += is checked. The GPU ops
 * then run again and must reproduce their first results bit for bit (deterministic algorithms);
 * the rerun of backward filter passes db = NULL, which must leave dw unchanged.
 *
 * Builds without CUDA too (fce_gpu_usable says so and the binary exits 77, or 1 when
 * FCE_REQUIRE_GPU=1). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "gpu_test_pair.h"
#include "op_cases.h"
#include "test_util.h"

/* Tolerances: the conv class of the op tolerances (tests/ops/op_cases.h, where their derivation
 * is written): TOL_CONV_ATOL at a sum of K ≤ 64 products, growing as √(K/64); TOL_CONV_RTOL.
 * The data keep every result O(1)–O(10), as that derivation assumes: x, dy ~ U(−1, 1) and
 * w ~ U(−1, 1)/√fan_in (fan_in = Cin·KH·KW, as the models initialise). */
static fce_ctx g_cpu, g_gpu;

#define SH(N_, H_, W_, CI, CO, KH_, KW_, S, P)                                                     \
    {.N = (N_), .H = (H_), .W = (W_), .Cin = (CI), .Cout = (CO), .KH = (KH_), .KW = (KW_),         \
     .stride = (S), .pad = (P)}

static float *host_garbage(size_t n, float v) {
    float *h = fce_test_alloc(n);
    for (size_t i = 0; i < n; i++) h[i] = v;
    return h;
}

static int bitwise_equal(fce_ctx *ctx, const float *a_dev, const float *b_dev, size_t n,
                         const char *what, const char *label) {
    float *a = fce_test_host_from_dev(ctx, a_dev, n), *b = fce_test_host_from_dev(ctx, b_dev, n);
    int eq = memcmp(a, b, n * sizeof(float)) == 0;
    if (!eq) fprintf(stderr, "  %s: %s differs between two GPU runs\n", label, what);
    free(a);
    free(b);
    return eq;
}

/* Downloads a GPU buffer and compares it with a CPU one. */
static int close_to_cpu(const char *name, const float *gpu_dev, const float *cpu_host, size_t n,
                        long long K) {
    float *got = fce_test_host_from_dev(&g_gpu, gpu_dev, n);
    int ok = fce_test_close(name, got, cpu_host, n, op_tol_conv_atol((double)K), TOL_CONV_RTOL);
    free(got);
    return ok;
}

static int check_shape(const fce_conv_shape *s, uint64_t seed) {
    int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    size_t nx = (size_t)s->N * s->H * s->W * s->Cin, ny = (size_t)s->N * Ho * Wo * s->Cout;
    size_t nw = (size_t)s->Cout * s->KH * s->KW * s->Cin, nb = (size_t)s->Cout;
    long long K_fwd = (long long)s->Cin * s->KH * s->KW, K_bd = (long long)s->Cout * s->KH * s->KW;
    long long K_bf = (long long)s->N * Ho * Wo;
    char label[160];
    snprintf(label, sizeof label, "N=%d %dx%d %d->%d k%dx%d s%d p%d", s->N, s->H, s->W, s->Cin,
             s->Cout, s->KH, s->KW, s->stride, s->pad);
    fprintf(stderr, "  shape %s\n", label);

    float *hx = fce_test_alloc(nx), *hw = fce_test_alloc(nw), *hb = fce_test_alloc(nb);
    float *hdy = fce_test_alloc(ny), *hdw0 = fce_test_alloc(nw), *hdb0 = fce_test_alloc(nb);
    float wscale = 1.0f / sqrtf((float)K_fwd);
    fce_test_fill_uniform(hx, nx, seed + 1, -1.0f, 1.0f);
    fce_test_fill_uniform(hw, nw, seed + 2, -wscale, wscale);
    fce_test_fill_uniform(hb, nb, seed + 3, -1.0f, 1.0f);
    fce_test_fill_uniform(hdy, ny, seed + 4, -1.0f, 1.0f);
    fce_test_fill_uniform(hdw0, nw, seed + 5, -1.0f, 1.0f); /* nonzero: dw += is checked */
    fce_test_fill_uniform(hdb0, nb, seed + 6, -1.0f, 1.0f);
    float *hy_garbage = host_garbage(ny, 77.0f), *hx_garbage = host_garbage(nx, -55.0f);

    fce_conv_plan *pc = NULL, *pg = NULL;
    ASSERT_OK(g_cpu.ops->conv_plan_init(&g_cpu, &pc, s));
    ASSERT_OK(g_gpu.ops->conv_plan_init(&g_gpu, &pg, s));
    ASSERT_TRUE(pc != NULL && pg != NULL);

    /* CPU side: host buffers through the CPU table. */
    float *cy = host_garbage(ny, 77.0f), *cyb = host_garbage(ny, 77.0f);
    float *cdx = host_garbage(nx, -55.0f);
    float *cdw = fce_test_alloc(nw), *cdb = fce_test_alloc(nb);
    memcpy(cdw, hdw0, nw * sizeof(float));
    memcpy(cdb, hdb0, nb * sizeof(float));
    ASSERT_OK(g_cpu.ops->conv2d_forward(&g_cpu, pc, cy, hx, hw, NULL));
    ASSERT_OK(g_cpu.ops->conv2d_forward(&g_cpu, pc, cyb, hx, hw, hb));
    ASSERT_OK(g_cpu.ops->conv2d_backward_data(&g_cpu, pc, cdx, hdy, hw));
    ASSERT_OK(g_cpu.ops->conv2d_backward_filter(&g_cpu, pc, cdw, cdb, hdy, hx));

    /* GPU side: two runs from fresh copies. */
    float *gx = fce_test_dev_from_host(&g_gpu, hx, nx), *gw = fce_test_dev_from_host(&g_gpu, hw, nw);
    float *gb = fce_test_dev_from_host(&g_gpu, hb, nb), *gdy = fce_test_dev_from_host(&g_gpu, hdy, ny);
    float *gy[2], *gyb[2], *gdx[2], *gdw[2], *gdb;
    for (int r = 0; r < 2; r++) {
        gy[r] = fce_test_dev_from_host(&g_gpu, hy_garbage, ny);
        gyb[r] = fce_test_dev_from_host(&g_gpu, hy_garbage, ny);
        gdx[r] = fce_test_dev_from_host(&g_gpu, hx_garbage, nx);
        gdw[r] = fce_test_dev_from_host(&g_gpu, hdw0, nw);
    }
    gdb = fce_test_dev_from_host(&g_gpu, hdb0, nb);
    for (int r = 0; r < 2; r++) {
        ASSERT_OK(g_gpu.ops->conv2d_forward(&g_gpu, pg, gy[r], gx, gw, NULL));
        ASSERT_OK(g_gpu.ops->conv2d_forward(&g_gpu, pg, gyb[r], gx, gw, gb));
        ASSERT_OK(g_gpu.ops->conv2d_backward_data(&g_gpu, pg, gdx[r], gdy, gw));
        /* db only on the first run: the second checks that db = NULL leaves dw alone */
        ASSERT_OK(g_gpu.ops->conv2d_backward_filter(&g_gpu, pg, gdw[r], r == 0 ? gdb : NULL, gdy,
                                                    gx));
    }
    ASSERT_OK(g_gpu.ops->sync(&g_gpu));

    ASSERT_TRUE(close_to_cpu("conv2d_forward y", gy[0], cy, ny, K_fwd));
    ASSERT_TRUE(close_to_cpu("conv2d_forward y (bias)", gyb[0], cyb, ny, K_fwd + 1));
    ASSERT_TRUE(close_to_cpu("conv2d_backward_data dx", gdx[0], cdx, nx, K_bd));
    ASSERT_TRUE(close_to_cpu("conv2d_backward_filter dw", gdw[0], cdw, nw, K_bf + 1));
    ASSERT_TRUE(close_to_cpu("conv2d_backward_filter db", gdb, cdb, nb, K_bf + 1));

    ASSERT_TRUE(bitwise_equal(&g_gpu, gy[0], gy[1], ny, "y", label));
    ASSERT_TRUE(bitwise_equal(&g_gpu, gyb[0], gyb[1], ny, "y (bias)", label));
    ASSERT_TRUE(bitwise_equal(&g_gpu, gdx[0], gdx[1], nx, "dx", label));
    ASSERT_TRUE(bitwise_equal(&g_gpu, gdw[0], gdw[1], nw, "dw", label));

    for (int r = 0; r < 2; r++) FCE_TEST_RELEASE(&g_gpu, gy[r], gyb[r], gdx[r], gdw[r]);
    FCE_TEST_RELEASE(&g_gpu, gdb, gx, gw, gb, gdy);
    g_gpu.ops->conv_plan_free(&g_gpu, pg);
    g_cpu.ops->conv_plan_free(&g_cpu, pc);
    FCE_TEST_FREE(cy, cyb, cdx, cdw, cdb, hx, hw, hb, hdy, hdw0, hdb0, hy_garbage, hx_garbage);
    return 0;
}

TEST(conv_vs_cpu) {
    for (int i = 0; i < op_n_conv_shapes; i++)
        if (check_shape(&op_conv_shapes[i], 1000u + 10u * (uint64_t)i)) return 1;
    return 0;
}

/* ---- TF32 (fce_ctx_set_tf32, opt-in) ----
 * With TF32 each product's inputs keep 10 mantissa bits. Tensor cores fed FP32 data may simply
 * drop the low 13 bits (truncation, relative error < 2⁻¹⁰ per input) rather than round (2⁻¹¹),
 * so |a·b − ã·b̃| < (2·2⁻¹⁰ + 2⁻²⁰)·|a·b|; the FP32 accumulation adds far less (≤ K·2⁻²⁴·Σ|a·b|
 * even in the worst case, 2.7e-4·Σ|a·b| at K = 4608). The stated bound per output is therefore
 *     |gpu − ref| ≤ 5·2⁻¹¹·Σ|a·b| + 1e-6,
 * where Σ|a·b| is the same convolution of |x| and |w| (or |dy| and |w|, |dy| and |x|), computed
 * by the CPU reference. It is checked on the shapes whose sums are longest. */
#define TF32_REL (5.0 / 2048.0)

static fce_ctx g_tf32;

static void host_abs(float *d, const float *s, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = fabsf(s[i]);
}

static int within_bound(const char *name, const float *gpu_dev, const float *ref, const float *absum,
                        size_t n) {
    float *got = fce_test_host_from_dev(&g_tf32, gpu_dev, n);
    double worst = 0, max_err = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]), bound = TF32_REL * absum[i] + 1e-6;
        if (!(err <= bound)) bad++;
        if (err / bound > worst) worst = err / bound;
        if (err > max_err) max_err = err;
    }
    fprintf(stderr, "    %-26s max err %.3g, worst err/bound %.3f%s\n", name, max_err, worst,
            bad ? "  FAIL" : "");
    free(got);
    return bad == 0;
}

static int check_tf32_shape(const fce_conv_shape *s, uint64_t seed) {
    int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    size_t nx = (size_t)s->N * s->H * s->W * s->Cin, ny = (size_t)s->N * Ho * Wo * s->Cout;
    size_t nw = (size_t)s->Cout * s->KH * s->KW * s->Cin;
    fprintf(stderr, "  tf32 shape N=%d %dx%d %d->%d k%dx%d\n", s->N, s->H, s->W, s->Cin, s->Cout,
            s->KH, s->KW);
    float *hx = fce_test_alloc(nx), *hw = fce_test_alloc(nw), *hdy = fce_test_alloc(ny);
    float *ax = fce_test_alloc(nx), *aw = fce_test_alloc(nw), *ady = fce_test_alloc(ny);
    fce_test_fill_uniform(hx, nx, seed + 1, -1.0f, 1.0f);
    fce_test_fill_uniform(hw, nw, seed + 2, -1.0f, 1.0f);
    fce_test_fill_uniform(hdy, ny, seed + 3, -1.0f, 1.0f);
    host_abs(ax, hx, nx), host_abs(aw, hw, nw), host_abs(ady, hdy, ny);
    fce_conv_plan *pc = NULL, *pg = NULL;
    ASSERT_OK(g_cpu.ops->conv_plan_init(&g_cpu, &pc, s));
    ASSERT_OK(g_tf32.ops->conv_plan_init(&g_tf32, &pg, s));
    float *cy = fce_test_alloc(ny), *cdx = fce_test_alloc(nx), *cdw = fce_test_alloc(nw);
    float *by = fce_test_alloc(ny), *bdx = fce_test_alloc(nx), *bdw = fce_test_alloc(nw);
    memset(cdw, 0, nw * sizeof(float));
    memset(bdw, 0, nw * sizeof(float));
    ASSERT_OK(g_cpu.ops->conv2d_forward(&g_cpu, pc, cy, hx, hw, NULL));
    ASSERT_OK(g_cpu.ops->conv2d_forward(&g_cpu, pc, by, ax, aw, NULL));
    ASSERT_OK(g_cpu.ops->conv2d_backward_data(&g_cpu, pc, cdx, hdy, hw));
    ASSERT_OK(g_cpu.ops->conv2d_backward_data(&g_cpu, pc, bdx, ady, aw));
    ASSERT_OK(g_cpu.ops->conv2d_backward_filter(&g_cpu, pc, cdw, NULL, hdy, hx));
    ASSERT_OK(g_cpu.ops->conv2d_backward_filter(&g_cpu, pc, bdw, NULL, ady, ax));
    float *gx = fce_test_dev_from_host(&g_tf32, hx, nx), *gw = fce_test_dev_from_host(&g_tf32, hw, nw);
    float *gdy = fce_test_dev_from_host(&g_tf32, hdy, ny), *gy = fce_test_dev_from_host(&g_tf32, cy, ny);
    float *gdx = fce_test_dev_from_host(&g_tf32, hx, nx);
    float *gdw = fce_test_dev_from_host(&g_tf32, bdw, nw);
    ASSERT_OK(g_tf32.ops->zero(&g_tf32, gdw, nw * sizeof(float)));
    ASSERT_OK(g_tf32.ops->conv2d_forward(&g_tf32, pg, gy, gx, gw, NULL));
    ASSERT_OK(g_tf32.ops->conv2d_backward_data(&g_tf32, pg, gdx, gdy, gw));
    ASSERT_OK(g_tf32.ops->conv2d_backward_filter(&g_tf32, pg, gdw, NULL, gdy, gx));
    ASSERT_OK(g_tf32.ops->sync(&g_tf32));
    int ok = within_bound("tf32 conv2d_forward y", gy, cy, by, ny) &
             within_bound("tf32 conv2d_backward_data", gdx, cdx, bdx, nx) &
             within_bound("tf32 conv2d_backward_filter", gdw, cdw, bdw, nw);
    FCE_TEST_RELEASE(&g_tf32, gx, gw, gdy, gy, gdx, gdw);
    g_tf32.ops->conv_plan_free(&g_tf32, pg);
    g_cpu.ops->conv_plan_free(&g_cpu, pc);
    FCE_TEST_FREE(hx, hw, hdy, ax, aw, ady, cy, cdx, cdw, by, bdx, bdw);
    return ok ? 0 : 1;
}

/* The dense layer (cuBLAS) in TF32 against the same kind of bound: y = x·Wᵀ, K = 512. */
static int check_tf32_linear(void) {
    enum { R = 64, IN = 512, OUT = 512 };
    float *hx = fce_test_alloc((size_t)R * IN), *hw = fce_test_alloc((size_t)OUT * IN);
    float *ax = fce_test_alloc((size_t)R * IN), *aw = fce_test_alloc((size_t)OUT * IN);
    float *cy = fce_test_alloc((size_t)R * OUT), *by = fce_test_alloc((size_t)R * OUT);
    fce_test_fill_uniform(hx, (size_t)R * IN, 71, -1.0f, 1.0f);
    fce_test_fill_uniform(hw, (size_t)OUT * IN, 72, -1.0f, 1.0f);
    host_abs(ax, hx, (size_t)R * IN), host_abs(aw, hw, (size_t)OUT * IN);
    ASSERT_OK(g_cpu.ops->linear_forward(&g_cpu, cy, hx, hw, NULL, R, IN, OUT));
    ASSERT_OK(g_cpu.ops->linear_forward(&g_cpu, by, ax, aw, NULL, R, IN, OUT));
    float *gx = fce_test_dev_from_host(&g_tf32, hx, (size_t)R * IN);
    float *gw = fce_test_dev_from_host(&g_tf32, hw, (size_t)OUT * IN);
    float *gy = fce_test_dev_from_host(&g_tf32, cy, (size_t)R * OUT);
    ASSERT_OK(g_tf32.ops->linear_forward(&g_tf32, gy, gx, gw, NULL, R, IN, OUT));
    int ok = within_bound("tf32 linear_forward", gy, cy, by, (size_t)R * OUT);
    FCE_TEST_RELEASE(&g_tf32, gx, gw, gy);
    FCE_TEST_FREE(hx, hw, ax, aw, cy, by);
    return ok ? 0 : 1;
}

TEST(conv_tf32_within_bound) {
    ASSERT_OK(fce_ctx_init(&g_tf32, "0"));
    ASSERT_OK(fce_ctx_set_tf32(&g_tf32, 1)); /* before any plan */
    ASSERT_TRUE(g_tf32.tf32 == 1);
    int rc = 0;
    for (int i = 0; i < OP_N_CONV_SHAPES_CIFAR_COUPLING && !rc; i++)
        rc = check_tf32_shape(&op_conv_shapes[i], 5000u + 10u * (uint64_t)i);
    if (!rc) rc = check_tf32_linear();
    fce_ctx_free(&g_tf32);
    return rc;
}

/* A bad shape is refused by the CUDA backend too, with no plan made. */
TEST(conv_bad_shape) {
    const fce_conv_shape bad[] = {SH(0, 8, 8, 3, 4, 3, 3, 1, 1), SH(1, 8, 8, 3, 4, 3, 3, 0, 1),
                                  SH(1, 8, 8, 3, 4, 3, 3, 1, -1), SH(1, 2, 8, 3, 4, 5, 3, 1, 1)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fce_conv_plan *p = (fce_conv_plan *)&g_gpu; /* any non-NULL value: must be reset */
        ASSERT_EQ_INT(g_gpu.ops->conv_plan_init(&g_gpu, &p, &bad[i]), FCE_STATUS_ERR_CONFIG);
        ASSERT_TRUE(p == NULL);
    }
    g_gpu.ops->conv_plan_free(&g_gpu, NULL); /* NULL-safe */
    return 0;
}

FCE_TEST_MAIN_BEGIN
    int rc = fce_test_gpu_pair_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    g_gpu.deterministic = 1; /* before any plan: deterministic cuDNN algorithms only */
    fprintf(stderr, "comparing %s (cuDNN, deterministic) against %s\n", g_gpu.device_name,
            g_cpu.device_name);
    RUN_TEST(conv_vs_cpu);
    RUN_TEST(conv_bad_shape);
    RUN_TEST(conv_tf32_within_bound);
    fce_ctx_free(&g_gpu);
    fce_ctx_free(&g_cpu);
FCE_TEST_MAIN_END
