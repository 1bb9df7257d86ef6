/* test_conv_plan.c: the CPU backend's conv entries (conv_plan_init/free, conv2d_forward,
 * conv2d_backward_data, conv2d_backward_filter) are the reference ops with the plan's shape: their
 * results equal direct fce_ref_conv2d_* calls bit for bit (forward with and without bias,
 * backward data overwriting garbage, backward filter accumulating into nonzero dw/db, and with
 * db = NULL). A bad shape is refused with FCE_STATUS_ERR_CONFIG and no plan. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "ref/ref.h"
#include "test_util.h"

static fce_ctx g_cpu;

#define SH(N_, H_, W_, CI, CO, KH_, KW_, S, P)                                                     \
    {.N = (N_), .H = (H_), .W = (W_), .Cin = (CI), .Cout = (CO), .KH = (KH_), .KW = (KW_),         \
     .stride = (S), .pad = (P)}

static float *filled(size_t n, uint64_t seed, float lo, float hi) {
    float *h = fce_test_alloc(n);
    fce_test_fill_uniform(h, n, seed, lo, hi);
    return h;
}

static float *copy_of(const float *src, size_t n) {
    float *h = fce_test_alloc(n);
    memcpy(h, src, n * sizeof(float));
    return h;
}

static int same_bits(const float *a, const float *b, size_t n, const char *what,
                     const fce_conv_shape *s) {
    if (memcmp(a, b, n * sizeof(float)) == 0) return 1;
    fprintf(stderr, "  %s differs from the direct reference call (N=%d %dx%d %d->%d k%dx%d s%d p%d)\n",
            what, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW, s->stride, s->pad);
    return 0;
}

static int check_shape(const fce_conv_shape *s, uint64_t seed) {
    int Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    int Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    size_t nx = (size_t)s->N * s->H * s->W * s->Cin, ny = (size_t)s->N * Ho * Wo * s->Cout;
    size_t nw = (size_t)s->Cout * s->KH * s->KW * s->Cin, nb = (size_t)s->Cout;
    float *x = filled(nx, seed + 1, -1.0f, 1.0f), *w = filled(nw, seed + 2, -0.5f, 0.5f);
    float *b = filled(nb, seed + 3, -1.0f, 1.0f), *dy = filled(ny, seed + 4, -1.0f, 1.0f);
    float *dw0 = filled(nw, seed + 5, -1.0f, 1.0f), *db0 = filled(nb, seed + 6, -1.0f, 1.0f);
    float *garb_y = filled(ny, seed + 7, 50.0f, 60.0f), *garb_x = filled(nx, seed + 8, 50.0f, 60.0f);

    fce_conv_plan *plan = NULL;
    ASSERT_OK(g_cpu.ops->conv_plan_init(&g_cpu, &plan, s));
    ASSERT_TRUE(plan != NULL);

    /* forward, no bias and bias */
    float *y_op = copy_of(garb_y, ny), *y_ref = copy_of(garb_y, ny);
    ASSERT_OK(g_cpu.ops->conv2d_forward(&g_cpu, plan, y_op, x, w, NULL));
    fce_ref_conv2d_forward(y_ref, x, w, NULL, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW,
                           s->stride, s->pad);
    ASSERT_TRUE(same_bits(y_op, y_ref, ny, "forward y", s));
    ASSERT_OK(g_cpu.ops->conv2d_forward(&g_cpu, plan, y_op, x, w, b));
    fce_ref_conv2d_forward(y_ref, x, w, b, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW,
                           s->stride, s->pad);
    ASSERT_TRUE(same_bits(y_op, y_ref, ny, "forward y (bias)", s));

    /* backward data over garbage */
    float *dx_op = copy_of(garb_x, nx), *dx_ref = copy_of(garb_x, nx);
    ASSERT_OK(g_cpu.ops->conv2d_backward_data(&g_cpu, plan, dx_op, dy, w));
    fce_ref_conv2d_backward_data(dx_ref, dy, w, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW,
                                 s->stride, s->pad);
    ASSERT_TRUE(same_bits(dx_op, dx_ref, nx, "backward data dx", s));

    /* backward filter into nonzero dw, db; then again with db = NULL */
    float *dw_op = copy_of(dw0, nw), *dw_ref = copy_of(dw0, nw);
    float *db_op = copy_of(db0, nb), *db_ref = copy_of(db0, nb);
    ASSERT_OK(g_cpu.ops->conv2d_backward_filter(&g_cpu, plan, dw_op, db_op, dy, x));
    fce_ref_conv2d_backward_filter(dw_ref, db_ref, dy, x, s->N, s->H, s->W, s->Cin, s->Cout, s->KH,
                                   s->KW, s->stride, s->pad);
    ASSERT_TRUE(same_bits(dw_op, dw_ref, nw, "backward filter dw", s));
    ASSERT_TRUE(same_bits(db_op, db_ref, nb, "backward filter db", s));
    ASSERT_OK(g_cpu.ops->conv2d_backward_filter(&g_cpu, plan, dw_op, NULL, dy, x));
    fce_ref_conv2d_backward_filter(dw_ref, NULL, dy, x, s->N, s->H, s->W, s->Cin, s->Cout, s->KH,
                                   s->KW, s->stride, s->pad);
    ASSERT_TRUE(same_bits(dw_op, dw_ref, nw, "backward filter dw (db NULL)", s));
    ASSERT_TRUE(same_bits(db_op, db_ref, nb, "db untouched when NULL", s));

    g_cpu.ops->conv_plan_free(&g_cpu, plan);
    float *all[] = {x, w, b, dy, dw0, db0, garb_y, garb_x, y_op, y_ref, dx_op, dx_ref,
                    dw_op, dw_ref, db_op, db_ref};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    return 0;
}

TEST(conv_entries_equal_reference) {
    const fce_conv_shape shapes[] = {
        SH(2, 8, 8, 6, 16, 3, 3, 1, 1),  /* coupling-NN-like 3×3 same */
        SH(2, 4, 4, 16, 16, 1, 1, 1, 0), /* 1×1 */
        SH(2, 8, 8, 3, 8, 4, 4, 2, 1),   /* EBM-like 4×4 stride 2 */
        SH(2, 4, 4, 8, 1, 4, 4, 1, 0),   /* final valid conv */
        SH(1, 5, 7, 2, 3, 4, 4, 2, 1),   /* odd sizes, uncovered rows */
        SH(1, 5, 7, 5, 3, 2, 3, 1, 1),   /* KH ≠ KW */
        SH(3, 1, 1, 4, 2, 1, 1, 1, 0),   /* 1×1 image */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (check_shape(&shapes[i], 100u + 10u * (uint64_t)i)) return 1;
    return 0;
}

TEST(conv_bad_shape_refused) {
    const fce_conv_shape bad[] = {
        SH(0, 8, 8, 3, 4, 3, 3, 1, 1),  /* N = 0 */
        SH(1, 0, 8, 3, 4, 3, 3, 1, 1),  /* H = 0 */
        SH(1, 8, 8, 0, 4, 3, 3, 1, 1),  /* Cin = 0 */
        SH(1, 8, 8, 3, 0, 3, 3, 1, 1),  /* Cout = 0 */
        SH(1, 8, 8, 3, 4, 0, 3, 1, 1),  /* KH = 0 */
        SH(1, 8, 8, 3, 4, 3, 3, 0, 1),  /* stride = 0 */
        SH(1, 8, 8, 3, 4, 3, 3, 1, -1), /* pad < 0 */
        SH(1, 2, 8, 3, 4, 5, 3, 1, 1),  /* H + 2·pad < KH */
        SH(1, 8, 1, 3, 4, 3, 4, 1, 1),  /* W + 2·pad < KW */
    };
    int dummy = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fce_conv_plan *p = (fce_conv_plan *)(void *)&dummy; /* must be reset to NULL */
        ASSERT_EQ_INT(g_cpu.ops->conv_plan_init(&g_cpu, &p, &bad[i]), FCE_STATUS_ERR_CONFIG);
        ASSERT_TRUE(p == NULL);
    }
    /* the boundary is accepted: H + 2·pad == KH */
    const fce_conv_shape edge = SH(1, 2, 2, 1, 1, 4, 4, 1, 1);
    fce_conv_plan *p = NULL;
    ASSERT_OK(g_cpu.ops->conv_plan_init(&g_cpu, &p, &edge));
    g_cpu.ops->conv_plan_free(&g_cpu, p);
    g_cpu.ops->conv_plan_free(&g_cpu, NULL); /* NULL-safe */
    return 0;
}

FCE_TEST_MAIN_BEGIN
    if (fce_ctx_init_cpu(&g_cpu) != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL: cannot create the CPU context\n");
        return 1;
    }
    RUN_TEST(conv_entries_equal_reference);
    RUN_TEST(conv_bad_shape_refused);
    fce_ctx_free(&g_cpu);
FCE_TEST_MAIN_END
