/* test_gpu_ops.c: every op of the CUDA backend against the CPU reference, driven by the op-case
 * registry (tests/ops/op_cases.h: each case names an op call, its buffers and their tolerance
 * classes, and a list of shapes; STYLE 6.11). For every case with a family and every shape, the
 * same seeded host data is uploaded to a CPU context and a CUDA context, the op runs on both
 * through the public op table (ctx->ops->...), and every output is downloaded and compared with
 * EXPECT_CLOSE. The GPU op then runs a second time from fresh copies of the inputs and must
 * reproduce its first result bit for bit (fixed-order reductions, no float atomics).
 *
 * Only include/fce/backend.h and the test helpers are used, so this file also builds without CUDA;
 * there fce_gpu_usable() says "built without CUDA" and the binary exits 77 (skip), or 1 when
 * FCE_REQUIRE_GPU=1. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "gpu_test_pair.h"
#include "op_cases.h"
#include "test_util.h"

static fce_ctx g_cpu, g_gpu;

// ---- the driver ----

/* EXPECT_CLOSE returns from the function on failure, so each comparison is its own function. */
static int compare_one(const char *name, const float *got, const float *ref, size_t n, double atol,
                       double rtol) {
    EXPECT_CLOSE(name, got, ref, n, atol, rtol);
    return 0;
}

static void release_all(fce_ctx *ctx, void **bufs, int count) {
    for (int i = 0; i < count; i++) {
        ctx->ops->release(ctx, bufs[i]);
        bufs[i] = NULL;
    }
}

/* One output of one case × shape: the GPU against the CPU, and against its rerun (bitwise). */
static int compare_output(const char *label, const op_buf *b, const op_shape *s, void *bc,
                          void *bg, void *bg2, size_t n) {
    double atol = 0.0, rtol = 0.0;
    op_tol_of(b->tol, s, &atol, &rtol);
    float *ref = fce_test_host_from_dev(&g_cpu, bc, n);
    float *got = fce_test_host_from_dev(&g_gpu, bg, n);
    float *again = fce_test_host_from_dev(&g_gpu, bg2, n);
    int fails = compare_one(label, got, ref, n, atol, rtol);
    if (memcmp(got, again, n * sizeof(float)) != 0) {
        fprintf(stderr, "  FAIL %s: two GPU runs differ (reduction order not fixed?)\n", label);
        fails++;
    }
    FCE_TEST_FREE(ref, got, again);
    return fails;
}

/* One case × one shape: CPU vs GPU, then GPU vs a second GPU run (bitwise). 0 = pass. The cases
 * of a family have float buffers only (the u8 ones have their own test below). */
static int run_case_shape(int case_idx, int shape_idx) {
    const op_case *oc = &op_cases[case_idx];
    const op_shape *s = &oc->shapes[shape_idx];
    float *host[OP_MAX_BUFS] = {0};
    void *bc[OP_MAX_BUFS] = {0}, *bg[OP_MAX_BUFS] = {0}, *bg2[OP_MAX_BUFS] = {0};
    size_t n[OP_MAX_BUFS] = {0};
    const int nb = op_case_n_bufs(oc);
    int fails = 0;

    for (int i = 0; i < nb; i++) {
        n[i] = op_buf_count(&oc->bufs[i], s);
        host[i] = fce_test_alloc(n[i]);
        uint64_t seed = 0x5EEDull * 1000003ull + (uint64_t)case_idx * 7919ull +
                        (uint64_t)shape_idx * 104729ull + (uint64_t)i * 15485863ull;
        op_buf_init(host[i], n[i], &oc->bufs[i], s, seed, fce_test_fill_uniform);
        bc[i] = fce_test_dev_from_host(&g_cpu, host[i], n[i]);
        bg[i] = fce_test_dev_from_host(&g_gpu, host[i], n[i]);
        bg2[i] = fce_test_dev_from_host(&g_gpu, host[i], n[i]);
    }

    fce_status st_c = oc->run(&g_cpu, bc, s, NULL);
    fce_status st_g = oc->run(&g_gpu, bg, s, NULL);
    fce_status st_g2 = oc->run(&g_gpu, bg2, s, NULL);
    if (st_c != FCE_STATUS_OK || st_g != FCE_STATUS_OK || st_g2 != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL %s[%d]: status cpu %s, gpu %s, gpu again %s\n", oc->name, shape_idx,
                fce_status_str(st_c), fce_status_str(st_g), fce_status_str(st_g2));
        fails++;
    } else {
        for (int i = 0; i < nb; i++) {
            if (oc->bufs[i].role == OP_IN) continue;
            char label[128];
            snprintf(label, sizeof label, "%s[%d].%s", oc->name, shape_idx, oc->bufs[i].name);
            fails += compare_output(label, &oc->bufs[i], s, bc[i], bg[i], bg2[i], n[i]);
        }
    }

    release_all(&g_cpu, bc, nb);
    release_all(&g_gpu, bg, nb);
    release_all(&g_gpu, bg2, nb);
    for (int i = 0; i < nb; i++) free(host[i]);
    return fails;
}

/* Every case of `family`, every shape; prints one line per case. 1 when one failed. */
static int run_family(const char *family) {
    int failed_rows = 0, rows = 0;
    for (int c = 0; c < op_n_cases; c++) {
        if (!op_cases[c].family || strcmp(op_cases[c].family, family) != 0) continue;
        rows++;
        int fails = 0;
        for (int k = 0; k < op_cases[c].n_shapes; k++) fails += run_case_shape(c, k);
        fprintf(stderr, "  %s %s (%d shapes)\n", fails ? "FAIL" : "ok  ", op_cases[c].name,
                op_cases[c].n_shapes);
        if (fails) failed_rows++;
    }
    ASSERT_TRUE(rows > 0);
    ASSERT_EQ_INT(failed_rows, 0);
    return 0;
}

/* Every case of the registry with a family, family by family (in the order the families first
 * appear in op_cases.c). */
TEST(op_cases) {
    int failed = 0, families = 0;
    for (int c = 0; c < op_n_cases; c++) {
        const char *family = op_cases[c].family;
        int first = family != NULL;
        for (int k = 0; k < c && first; k++)
            first = !op_cases[k].family || strcmp(op_cases[k].family, family) != 0;
        if (!first) continue;
        fprintf(stderr, "  family %s\n", family);
        families++;
        failed += run_family(family) != 0;
    }
    ASSERT_TRUE(families > 0);
    ASSERT_EQ_INT(failed, 0);
    return 0;
}

/* squeeze_inverse(squeeze_forward(x)) == x and coupling_additive_inverse(forward(x)) == x on the
 * GPU (independent of the CPU reference): the squeeze is an exact permutation, the additive
 * round trip agrees to float rounding of the add and subtract. */
TEST(glow_roundtrips) {
    enum { N = 3, H = 8, W = 32, C = 3, ROWS = N * H * W, CC = 12 };
    const size_t n_sq = (size_t)N * H * W * C, n_add = (size_t)ROWS * CC;
    float *hx = fce_test_alloc(n_sq), *hxa = fce_test_alloc(n_add), *hh = fce_test_alloc(n_add / 2);
    fce_test_fill_uniform(hx, n_sq, 101, -3.0f, 3.0f);
    fce_test_fill_uniform(hxa, n_add, 102, -2.0f, 2.0f);
    fce_test_fill_uniform(hh, n_add / 2, 103, -3.0f, 3.0f);
    float *x = fce_test_dev_from_host(&g_gpu, hx, n_sq);
    float *y = fce_test_dev_from_host(&g_gpu, hx, n_sq);
    float *xb = fce_test_dev_from_host(&g_gpu, hx, n_sq);
    ASSERT_OK(g_gpu.ops->squeeze_forward(&g_gpu, y, x, N, H, W, C));
    ASSERT_OK(g_gpu.ops->squeeze_inverse(&g_gpu, xb, y, N, H, W, C));
    float *back = fce_test_host_from_dev(&g_gpu, xb, n_sq);
    ASSERT_TRUE(memcmp(back, hx, n_sq * sizeof(float)) == 0);
    free(back);
    FCE_TEST_RELEASE(&g_gpu, x, y, xb);

    float *a = fce_test_dev_from_host(&g_gpu, hxa, n_add);
    float *b = fce_test_dev_from_host(&g_gpu, hxa, n_add);
    float *h = fce_test_dev_from_host(&g_gpu, hh, n_add / 2);
    ASSERT_OK(g_gpu.ops->coupling_additive_forward(&g_gpu, b, a, h, ROWS, CC));
    ASSERT_OK(g_gpu.ops->coupling_additive_inverse(&g_gpu, a, b, h, ROWS, CC));
    back = fce_test_host_from_dev(&g_gpu, a, n_add);
    EXPECT_CLOSE("coupling_additive round trip", back, hxa, n_add, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    FCE_TEST_RELEASE(&g_gpu, a, b, h);
    FCE_TEST_FREE(back, hx, hxa, hh);
    return 0;
}

/* dequantize and postprocess (u8 buffers are backend memory of n bytes): the GPU must equal the
 * CPU bit for bit (same float operations, no FMA contraction, preprocess_ref.c), for n = 1, 1000
 * and a CIFAR batch of 64 plus 3 (an odd tail; every byte value appears), n_bits 8 and 5, with
 * an offset that crosses the Philox counter's 2^32 boundary. postprocess gets a mix of in-range
 * values, out-of-range values, ±inf, NaN and bin edges; postprocess(dequantize(u8)) on the GPU
 * must give the quantised bytes. */
static void *dev_bytes(fce_ctx *ctx, const void *h, size_t bytes) {
    void *d = NULL;
    if (ctx->ops->alloc(ctx, &d, bytes) != FCE_STATUS_OK ||
        ctx->ops->upload(ctx, d, h, bytes) != FCE_STATUS_OK)
        abort();
    return d;
}

static int preprocess_case(size_t n, int n_bits) {
    const float specials[] = {NAN, INFINITY, -INFINITY, 0.5f, -0.5f, 0.0f, -0x1p-30f,
                              0.49999997f, -0.50000006f, 1e30f, -1e30f, 1e-40f, -1e-40f};
    const size_t n_spec = sizeof specials / sizeof specials[0];
    float *hf = fce_test_alloc(n), *garbage = fce_test_alloc(n);
    uint8_t *hu = malloc(n), *r_cpu = malloc(n), *r_gpu = malloc(n), *fill = malloc(n);
    float *x_cpu = malloc(n * sizeof(float)), *x_gpu = malloc(n * sizeof(float));
    if (!hu || !r_cpu || !r_gpu || !fill || !x_cpu || !x_gpu) abort();
    fce_test_fill_uniform(hf, n, 0xB17E5ull + n, 0.0f, 256.0f);
    for (size_t i = 0; i < n; i++) hu[i] = (uint8_t)(hf[i] < 255.0f ? hf[i] : 255.0f);
    if (n >= 256)
        for (size_t i = 0; i < 256; i++) hu[i] = (uint8_t)i; /* every byte value */
    fce_test_fill_uniform(garbage, n, 77, -9.0f, 9.0f);
    memset(fill, 0xAB, n);
    int fails = 0;

    /* dequantize: CPU vs GPU, bitwise */
    uint8_t *u_c = dev_bytes(&g_cpu, hu, n), *u_g = dev_bytes(&g_gpu, hu, n);
    float *x_c = fce_test_dev_from_host(&g_cpu, garbage, n);
    float *x_g = fce_test_dev_from_host(&g_gpu, garbage, n);
    const uint64_t seed = OP_RNG_SEED, offset = OP_RNG_OFFSET;
    if (g_cpu.ops->dequantize(&g_cpu, x_c, u_c, n, n_bits, seed, offset) != FCE_STATUS_OK ||
        g_gpu.ops->dequantize(&g_gpu, x_g, u_g, n, n_bits, seed, offset) != FCE_STATUS_OK ||
        g_cpu.ops->download(&g_cpu, x_cpu, x_c, n * sizeof(float)) != FCE_STATUS_OK ||
        g_gpu.ops->download(&g_gpu, x_gpu, x_g, n * sizeof(float)) != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL dequantize n %zu n_bits %d: an op failed\n", n, n_bits);
        fails++;
    } else if (memcmp(x_cpu, x_gpu, n * sizeof(float)) != 0) {
        size_t i = 0;
        while (memcmp(&x_cpu[i], &x_gpu[i], sizeof(float)) == 0) i++;
        fprintf(stderr, "  FAIL dequantize n %zu n_bits %d: first difference at %zu: cpu %.9g "
                "gpu %.9g\n", n, n_bits, i, (double)x_cpu[i], (double)x_gpu[i]);
        fails++;
    }

    /* postprocess(dequantize(u8)) on the GPU == the quantised bytes */
    uint8_t *o_g = dev_bytes(&g_gpu, fill, n);
    if (g_gpu.ops->postprocess(&g_gpu, o_g, x_g, n, n_bits) != FCE_STATUS_OK ||
        g_gpu.ops->download(&g_gpu, r_gpu, o_g, n) != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL postprocess round trip n %zu n_bits %d: an op failed\n", n, n_bits);
        fails++;
    } else {
        const int sh = 8 - n_bits;
        for (size_t i = 0; i < n; i++) {
            if (r_gpu[i] != (uint8_t)((hu[i] >> sh) << sh)) {
                fprintf(stderr, "  FAIL round trip n %zu n_bits %d at %zu: u8 %d -> %d\n", n,
                        n_bits, i, hu[i], r_gpu[i]);
                fails++;
                break;
            }
        }
    }

    /* postprocess: CPU vs GPU, bitwise, on wide-range values and specials */
    fce_test_fill_uniform(hf, n, 0xF00Dull + n, -0.7f, 0.7f);
    for (size_t i = 0; i < n_spec && i < n; i++) hf[(i * 7919u) % n] = specials[i];
    float *p_c = fce_test_dev_from_host(&g_cpu, hf, n);
    float *p_g = fce_test_dev_from_host(&g_gpu, hf, n);
    uint8_t *o_c = dev_bytes(&g_cpu, fill, n), *o_g2 = dev_bytes(&g_gpu, fill, n);
    if (g_cpu.ops->postprocess(&g_cpu, o_c, p_c, n, n_bits) != FCE_STATUS_OK ||
        g_gpu.ops->postprocess(&g_gpu, o_g2, p_g, n, n_bits) != FCE_STATUS_OK ||
        g_cpu.ops->download(&g_cpu, r_cpu, o_c, n) != FCE_STATUS_OK ||
        g_gpu.ops->download(&g_gpu, r_gpu, o_g2, n) != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL postprocess n %zu n_bits %d: an op failed\n", n, n_bits);
        fails++;
    } else if (memcmp(r_cpu, r_gpu, n) != 0) {
        size_t i = 0;
        while (r_cpu[i] == r_gpu[i]) i++;
        fprintf(stderr, "  FAIL postprocess n %zu n_bits %d at %zu: x %.9g cpu %d gpu %d\n", n,
                n_bits, i, (double)hf[i], r_cpu[i], r_gpu[i]);
        fails++;
    }

    FCE_TEST_RELEASE(&g_cpu, u_c, x_c, p_c, o_c);
    FCE_TEST_RELEASE(&g_gpu, u_g, x_g, o_g, p_g, o_g2);
    FCE_TEST_FREE(hf, garbage, hu, r_cpu, r_gpu, fill, x_cpu, x_gpu);
    fprintf(stderr, "  %s preprocess n %zu n_bits %d\n", fails ? "FAIL" : "ok  ", n, n_bits);
    return fails;
}

TEST(preprocess) {
    const size_t ns[] = {1, 1000, (size_t)3072 * 64 + 3};
    int fails = 0;
    for (int k = 0; k < 3; k++) {
        fails += preprocess_case(ns[k], 8);
        fails += preprocess_case(ns[k], 5);
    }
    ASSERT_EQ_INT(fails, 0);
    return 0;
}

/* Every slot of both op tables is filled (an op added to backend.h but not wired into a backend
 * would otherwise be a NULL call). The table holds only function pointers, so it is scanned as
 * slots of that size. */
typedef void (*any_fn)(void);
/* Every slot is set, except the CUDA graph entries on a backend without graphs (the CPU ones
 * leave all four NULL; the CUDA backend must set all four). */
static int table_complete(const fce_ctx *ctx, int graphs) {
    const unsigned char *bytes = (const unsigned char *)ctx->ops;
    size_t n_slots = sizeof(fce_backend_ops) / sizeof(any_fn), missing = 0;
    const size_t g0 = offsetof(fce_backend_ops, graph_begin) / sizeof(any_fn);
    for (size_t k = 0; k < n_slots; k++) {
        any_fn f;
        if (!graphs && k >= g0 && k < g0 + 4) {
            memcpy(&f, bytes + k * sizeof(any_fn), sizeof f);
            if (f) missing++, fprintf(stderr, "  %s: graph slot %zu set without graphs\n", ctx->device_name, k);
            continue;
        }
        memcpy(&f, bytes + k * sizeof(any_fn), sizeof f);
        if (!f) {
            fprintf(stderr, "  %s: op table slot %zu is NULL\n", ctx->device_name, k);
            missing++;
        }
    }
    return missing == 0;
}

TEST(op_tables_complete) {
    ASSERT_TRUE(sizeof(fce_backend_ops) % sizeof(any_fn) == 0);
    ASSERT_TRUE(offsetof(fce_backend_ops, graph_free) ==
                offsetof(fce_backend_ops, graph_begin) + 3 * sizeof(any_fn));
    ASSERT_TRUE(table_complete(&g_cpu, 0));
    ASSERT_TRUE(table_complete(&g_gpu, 1));
    return 0;
}

/* Memory ops: alloc is zero-filled; copy and zero behave; upload/download round-trip. */
TEST(memory_ops) {
    enum { n = 1000 };
    float *h = fce_test_alloc(n), *back = NULL;
    fce_test_fill_uniform(h, n, 42, -1.0f, 1.0f);
    void *a = NULL, *b = NULL;
    ASSERT_OK(g_gpu.ops->alloc(&g_gpu, &a, n * sizeof(float)));
    ASSERT_OK(g_gpu.ops->alloc(&g_gpu, &b, n * sizeof(float)));
    back = fce_test_host_from_dev(&g_gpu, a, n);
    for (int i = 0; i < n; i++) ASSERT_TRUE(back[i] == 0.0f);
    free(back);
    ASSERT_OK(g_gpu.ops->upload(&g_gpu, a, h, n * sizeof(float)));
    ASSERT_OK(g_gpu.ops->copy(&g_gpu, b, a, n * sizeof(float)));
    back = fce_test_host_from_dev(&g_gpu, b, n);
    ASSERT_TRUE(memcmp(back, h, n * sizeof(float)) == 0);
    free(back);
    ASSERT_OK(g_gpu.ops->zero(&g_gpu, b, (n / 2) * sizeof(float)));
    ASSERT_OK(g_gpu.ops->sync(&g_gpu));
    back = fce_test_host_from_dev(&g_gpu, b, n);
    ASSERT_TRUE(back[0] == 0.0f && back[n / 2 - 1] == 0.0f && back[n / 2] == h[n / 2]);
    free(back);
    g_gpu.ops->release(&g_gpu, a);
    g_gpu.ops->release(&g_gpu, b);
    g_gpu.ops->release(&g_gpu, NULL); /* NULL-safe */
    free(h);
    return 0;
}

FCE_TEST_MAIN_BEGIN
    int rc = fce_test_gpu_pair_open(&g_cpu, &g_gpu);
    if (rc) return rc;
    fprintf(stderr, "comparing %s against %s\n", g_gpu.device_name, g_cpu.device_name);
    RUN_TEST(op_tables_complete);
    RUN_TEST(memory_ops);
    RUN_TEST(op_cases);
    RUN_TEST(glow_roundtrips);
    RUN_TEST(preprocess);
    fce_ctx_free(&g_gpu);
    fce_ctx_free(&g_cpu);
FCE_TEST_MAIN_END
