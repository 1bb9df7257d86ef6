/* test_gpu_ops.c: every op of the CUDA backend against the CPU reference, table-driven (6.11).
 *
 * Each table row names an op call (run), its buffers (size as a product of shape letters, initial
 * contents, and for outputs a tolerance class) and a list of shapes. For every shape the same
 * seeded host data is uploaded to a CPU context and a CUDA context, the op runs on both through the
 * public op table (ctx->ops->...), and every output is downloaded and compared with EXPECT_CLOSE.
 * The GPU op then runs a second time from fresh copies of the inputs and must reproduce its first
 * result bit for bit (fixed-order reductions, no float atomics).
 *
 * Overwritten outputs are pre-filled with garbage, and accumulated ones (parameter gradients, _acc
 * ops, logdet/logp) with nonzero values, so = versus += is checked too. Shapes include N = 1, sizes
 * that are not multiples of the block size, rows = 200, 1000, 10000, and an elementwise size beyond
 * the grid cap (grid-stride loops).
 *
 * Only include/fce/backend.h and the test helpers are used, so this file also builds without CUDA;
 * there fce_gpu_usable() says "built without CUDA" and the binary exits 77 (skip), or 1 when
 * FCE_REQUIRE_GPU=1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/backend.h"
#include "fce_test.h"
#include "test_util.h"

// ---- tolerances (STYLE 6.11; tighten once GPU numbers are measured) ----

/* Elementwise kernels: the same formula, in double and rounded once on both sides. */
#define TOL_ELEM_ATOL 1e-6
#define TOL_ELEM_RTOL 1e-6
/* Reductions (logdet, logp, actnorm stats, parameter gradients, NCE sums): double partial sums in
 * a fixed tree order on the GPU versus index order on the CPU. */
#define TOL_RED_ATOL 1e-5
#define TOL_RED_RTOL 1e-5
/* cuBLAS SGEMM in exact FP32 (FMA, no TF32) versus the double-accumulating reference. */
#define TOL_GEMM_ATOL 1e-5
#define TOL_GEMM_RTOL 1e-4
/* dW sums over the N rows (up to 10000): the FP32 rounding error of a K-term dot product of
 * U(−1, 1) products grows like K, not like the result (partial sums random-walk to 0.33·√j): a
 * sequential FMA chain has rms error ≈ 6e-9·K, 6e-6 at K = 1000 and 6e-5 at 10000 (host
 * simulation). With a flat 1e-5, an entry whose sum lands near 0 failed in 4 of 6 simulated runs
 * of the two dW rows, so T_GEMM_N adds 3e-8·N (≥ 5 rms); y and dx sum over in, out ≤ 130. */
#define TOL_GEMM_ATOL_PER_K 3e-8
/* Philox uniforms: identical integer work and the same two float roundings: bitwise. */
#define TOL_RNG_UNIFORM_ATOL 0.0
/* Philox normals: double log/cos on the GPU may differ from libm by an ulp of double, which
 * changes the rounded float in rare ties (philox.h): at most 1 float ulp, < 1e-6 for |x| < 16. */
#define TOL_RNG_NORMAL_ATOL 1e-6

enum tol_class { T_IN = 0, T_ELEM, T_RED, T_GEMM, T_GEMM_N, T_UNIFORM, T_NORMAL };
/* I_LABEL: int32 class labels in [0, C) stored bit for bit in the float buffer (softmax_xent). */
enum init_kind { I_UNIFORM = 0, I_PERM, I_SIGN, I_LABEL };

#define MAX_BUFS 12
#define MAX_SHAPES 12

/* One shape for every op; each row uses the fields it needs (flat ops use N as the length). */
typedef struct shape {
    int N, HW, C;                        /* samples, pixels per sample, channels */
    int in, out;                         /* dense layer */
    int dst_C, dst_c0, src_c0, count;    /* channels_copy (src_C = C) */
    int H, W;                            /* squeeze: image height and width (even) */
} shape;

typedef struct buf_spec {
    const char *name;
    const char *dims; /* product of: N, H (HW), C, c (C/2), Y (H), X (W), I (in), O (out),
                       * D (dst_C), K (count), digits */
    enum init_kind init;
    float lo, hi;     /* I_UNIFORM range (lo == hi: constant) */
    enum tol_class tol;
} buf_spec;

typedef fce_status (*op_run_fn)(fce_ctx *ctx, float **b, const shape *s);

typedef struct op_case {
    const char *family;
    const char *name;
    op_run_fn run;
    buf_spec bufs[MAX_BUFS]; /* ends at the first entry without a name */
    const shape *shapes;
    int n_shapes;
} op_case;

static fce_ctx g_cpu, g_gpu;

// ---- shapes ----

/* Flat lengths: 1, around the block size 256, the brief's row counts, and beyond the grid cap
 * (8192 blocks · 256 threads) so the grid-stride loop runs more than once. */
static const shape SHAPES_FLAT[] = {{.N = 1},    {.N = 255},   {.N = 256},    {.N = 257},
                                    {.N = 200},  {.N = 1000},  {.N = 10000},  {.N = 2100001}};
/* (N, HW, C): the 2D model (HW = 1, C = 2), small images, and the CIFAR channel counts. */
static const shape SHAPES_FLOW[] = {
    {.N = 1, .HW = 1, .C = 2},   {.N = 200, .HW = 1, .C = 2}, {.N = 1000, .HW = 1, .C = 2},
    {.N = 10000, .HW = 1, .C = 2}, {.N = 3, .HW = 5, .C = 6},   {.N = 4, .HW = 16, .C = 12},
    {.N = 2, .HW = 64, .C = 48},  {.N = 1, .HW = 1024, .C = 6}, {.N = 257, .HW = 3, .C = 24}};
/* (N, in, out): the 2D MLPs (2 → 128 → 128 → 1) and odd sizes. */
static const shape SHAPES_LINEAR[] = {
    {.N = 1, .in = 2, .out = 128},      {.N = 200, .in = 2, .out = 128},
    {.N = 1000, .in = 128, .out = 128}, {.N = 10000, .in = 128, .out = 1},
    {.N = 37, .in = 3, .out = 5},       {.N = 257, .in = 130, .out = 67}};
/* rows = N·HW; src_C = C. */
static const shape SHAPES_COPY[] = {
    {.N = 1, .HW = 1, .C = 4, .dst_C = 2, .src_c0 = 2, .dst_c0 = 0, .count = 2},
    {.N = 200, .HW = 1, .C = 2, .dst_C = 4, .src_c0 = 0, .dst_c0 = 2, .count = 2},
    {.N = 1000, .HW = 1, .C = 3, .dst_C = 5, .src_c0 = 1, .dst_c0 = 1, .count = 2},
    {.N = 10000, .HW = 1, .C = 12, .dst_C = 6, .src_c0 = 6, .dst_c0 = 0, .count = 6},
    {.N = 3, .HW = 5, .C = 48, .dst_C = 24, .src_c0 = 24, .dst_c0 = 0, .count = 24}};
/* C×C maps: 1 and 2 (2D), odd sizes, the CIFAR channel counts and the kernel's maximum 64;
 * N, HW for the log-det ops. */
static const shape SHAPES_INVCONV[] = {
    {.N = 1, .HW = 1, .C = 1},   {.N = 200, .HW = 1, .C = 2},  {.N = 1000, .HW = 1, .C = 3},
    {.N = 10000, .HW = 1, .C = 2}, {.N = 3, .HW = 64, .C = 12},  {.N = 5, .HW = 16, .C = 24},
    {.N = 2, .HW = 64, .C = 48},  {.N = 257, .HW = 1, .C = 64}};
/* (N, D = C) for the Gaussian prior: 2D model, odd D, CIFAR D = 3072. */
static const shape SHAPES_GAUSS[] = {
    {.N = 1, .C = 2},   {.N = 200, .C = 2}, {.N = 1000, .C = 2}, {.N = 10000, .C = 2},
    {.N = 7, .C = 33},  {.N = 3, .C = 3072}};
/* (N, H, W, C) for the squeeze: H, W ∈ {2, 8, 32} (square and not), C ∈ {1, 3, 12}, N = 1 and
 * odd batches, and a CIFAR batch (64·32·32·3, beyond one block row of the grid). */
static const shape SHAPES_SQUEEZE[] = {
    {.N = 1, .H = 2, .W = 2, .C = 1},    {.N = 3, .H = 2, .W = 8, .C = 3},
    {.N = 5, .H = 8, .W = 8, .C = 12},   {.N = 1, .H = 32, .W = 32, .C = 3},
    {.N = 7, .H = 32, .W = 2, .C = 1},   {.N = 2, .H = 8, .W = 32, .C = 12},
    {.N = 1, .H = 32, .W = 32, .C = 12}, {.N = 64, .H = 32, .W = 32, .C = 3}};
/* (N, HW, C) for the additive coupling (rows = N·HW, C even): the 2D case, odd pixel counts and
 * the image Glow's channel counts (12, 24, 48 after squeezes). */
static const shape SHAPES_ADDITIVE[] = {
    {.N = 1, .HW = 1, .C = 2},    {.N = 257, .HW = 1, .C = 2},  {.N = 3, .HW = 5, .C = 6},
    {.N = 1, .HW = 256, .C = 12}, {.N = 7, .HW = 64, .C = 24},  {.N = 2, .HW = 17, .C = 48},
    {.N = 64, .HW = 256, .C = 12}};
/* (N, D = C) for the diagonal Gaussian: D = 1, 7, 3072 (CIFAR), odd sizes on both sides of the
 * warp/block switch (1024) and N = 1. */
static const shape SHAPES_GAUSS_DIAG[] = {
    {.N = 1, .C = 1},    {.N = 1000, .C = 1}, {.N = 1, .C = 7},     {.N = 257, .C = 7},
    {.N = 10000, .C = 2}, {.N = 3, .C = 1024}, {.N = 3, .C = 1025},  {.N = 1, .C = 3072},
    {.N = 5, .C = 3072}, {.N = 64, .C = 768}};
/* n of each kind for the NCE loss. */
static const shape SHAPES_NCE[] = {{.N = 1},   {.N = 200},  {.N = 255},
                                   {.N = 257}, {.N = 1000}, {.N = 10000}};

/* (N rows, C = K classes) for softmax_xent: K = 1, the probe's K = 10 at batch and evaluation
 * sizes, K on both sides of a warp (32) and of 1024. */
static const shape SHAPES_SOFTMAX[] = {
    {.N = 1, .C = 1},     {.N = 1, .C = 10},   {.N = 128, .C = 10}, {.N = 257, .C = 10},
    {.N = 1024, .C = 10}, {.N = 10000, .C = 10}, {.N = 7, .C = 33},  {.N = 3, .C = 1000},
    {.N = 5, .C = 1025}};

#define SHAPES(a) (a), (int)(sizeof(a) / sizeof((a)[0]))

// ---- op calls (buffer order = the row's bufs order) ----

static const uint64_t RNG_SEED = 0x9E3779B97F4A7C15ull;
/* Crosses the 2^32 boundary of the Philox counter's low word within the longer fills. */
static const uint64_t RNG_OFFSET = (1ull << 32) - 1000;

static fce_status run_fill_normal(fce_ctx *c, float **b, const shape *s) {
    return c->ops->fill_normal(c, b[0], (size_t)s->N, RNG_SEED, RNG_OFFSET, 1.5f);
}
static fce_status run_fill_uniform(fce_ctx *c, float **b, const shape *s) {
    return c->ops->fill_uniform(c, b[0], (size_t)s->N, RNG_SEED, RNG_OFFSET, -2.0f, 3.0f);
}

static fce_status run_linear_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->linear_forward(c, b[0], b[1], b[2], b[3], s->N, s->in, s->out);
}
static fce_status run_linear_forward_nobias(fce_ctx *c, float **b, const shape *s) {
    return c->ops->linear_forward(c, b[0], b[1], b[2], NULL, s->N, s->in, s->out);
}
static fce_status run_linear_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->linear_backward(c, b[0], b[1], b[2], b[3], b[4], b[5], s->N, s->in, s->out);
}
static fce_status run_linear_backward_dw_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->linear_backward(c, NULL, b[0], NULL, b[1], b[2], b[3], s->N, s->in, s->out);
}

static fce_status run_leaky_relu_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->leaky_relu_forward(c, b[0], b[1], (size_t)s->N, 0.2f);
}
static fce_status run_relu_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->leaky_relu_forward(c, b[0], b[1], (size_t)s->N, 0.0f);
}
static fce_status run_leaky_relu_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->leaky_relu_backward(c, b[0], b[1], b[2], (size_t)s->N, 0.2f);
}
static fce_status run_leaky_relu_backward_inplace(fce_ctx *c, float **b, const shape *s) {
    return c->ops->leaky_relu_backward(c, b[0], b[0], b[1], (size_t)s->N, 0.2f); /* dx = dy */
}

static fce_status run_scale(fce_ctx *c, float **b, const shape *s) {
    return c->ops->scale(c, b[0], b[1], (size_t)s->N, -1.5f);
}
static fce_status run_scale_inplace(fce_ctx *c, float **b, const shape *s) {
    return c->ops->scale(c, b[0], b[0], (size_t)s->N, -1.0f); /* y = x */
}

static fce_status run_channels_copy(fce_ctx *c, float **b, const shape *s) {
    return c->ops->channels_copy(c, b[0], s->dst_C, s->dst_c0, b[1], s->C, s->src_c0, s->count,
                                 (size_t)s->N * (size_t)s->HW, 0);
}
static fce_status run_channels_copy_acc(fce_ctx *c, float **b, const shape *s) {
    return c->ops->channels_copy(c, b[0], s->dst_C, s->dst_c0, b[1], s->C, s->src_c0, s->count,
                                 (size_t)s->N * (size_t)s->HW, 1);
}

static fce_status run_actnorm_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_forward(c, b[0], b[1], b[2], b[3], b[4], s->N, s->HW, s->C);
}
static fce_status run_actnorm_forward_nologdet(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_forward(c, b[0], NULL, b[1], b[2], b[3], s->N, s->HW, s->C);
}
static fce_status run_actnorm_inverse(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_inverse(c, b[0], b[1], b[2], b[3], b[4], s->N, s->HW, s->C);
}
static fce_status run_actnorm_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_backward(c, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], s->N, s->HW,
                                    s->C);
}
static fce_status run_actnorm_backward_nodlogdet(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_backward(c, b[0], b[1], b[2], b[3], b[4], NULL, b[5], b[6], s->N, s->HW,
                                    s->C);
}
static fce_status run_actnorm_inverse_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_inverse_backward(c, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], s->N,
                                            s->HW, s->C);
}
static fce_status run_actnorm_init(fce_ctx *c, float **b, const shape *s) {
    return c->ops->actnorm_init(c, b[0], b[1], b[2], s->N, s->HW, s->C);
}

static fce_status run_invconv_lu_weights(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_lu_weights(c, b[0], b[1], b[2], b[3], b[4], b[5], b[6], s->C);
}
static fce_status run_invconv_lu_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_lu_backward(c, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8],
                                       b[9], b[10], s->C);
}
static fce_status run_invconv_lu_backward_dw_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_lu_backward(c, b[0], b[1], b[2], b[3], NULL, b[5], b[6], b[7], b[8],
                                       b[9], b[10], s->C);
}
static fce_status run_invconv_lu_backward_dwinv_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_lu_backward(c, b[0], b[1], b[2], NULL, b[4], b[5], b[6], b[7], b[8],
                                       b[9], b[10], s->C);
}
static fce_status run_invconv_logdet_fwd(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_logdet(c, b[0], b[1], s->N, s->HW, s->C, 1.0f);
}
static fce_status run_invconv_logdet_inv(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_logdet(c, b[0], b[1], s->N, s->HW, s->C, -1.0f);
}
static fce_status run_invconv_logdet_backward_fwd(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_logdet_backward(c, b[0], b[1], s->N, s->HW, s->C, 1.0f);
}
static fce_status run_invconv_logdet_backward_inv(fce_ctx *c, float **b, const shape *s) {
    return c->ops->invconv_logdet_backward(c, b[0], b[1], s->N, s->HW, s->C, -1.0f);
}

static fce_status run_coupling_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_affine_forward(c, b[0], b[1], b[2], b[3], s->N, s->HW, s->C);
}
static fce_status run_coupling_inverse(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_affine_inverse(c, b[0], b[1], b[2], b[3], s->N, s->HW, s->C);
}
static fce_status run_coupling_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_affine_backward(c, b[0], b[1], b[2], b[3], b[4], b[5], s->N, s->HW,
                                            s->C);
}
static fce_status run_coupling_backward_nodlogdet(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_affine_backward(c, b[0], b[1], b[2], b[3], b[4], NULL, s->N, s->HW,
                                            s->C);
}
static fce_status run_coupling_inverse_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_affine_inverse_backward(c, b[0], b[1], b[2], b[3], b[4], b[5], s->N,
                                                    s->HW, s->C);
}

static fce_status run_gaussian_logp(fce_ctx *c, float **b, const shape *s) {
    return c->ops->gaussian_logp(c, b[0], b[1], s->N, s->C);
}
static fce_status run_gaussian_logp_backward_acc(fce_ctx *c, float **b, const shape *s) {
    return c->ops->gaussian_logp_backward_acc(c, b[0], b[1], b[2], s->N, s->C);
}

static fce_status run_squeeze_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->squeeze_forward(c, b[0], b[1], s->N, s->H, s->W, s->C);
}
static fce_status run_squeeze_inverse(fce_ctx *c, float **b, const shape *s) {
    return c->ops->squeeze_inverse(c, b[0], b[1], s->N, s->H, s->W, s->C);
}

static size_t rows_of(const shape *s) { return (size_t)s->N * (size_t)s->HW; }
static fce_status run_coupling_additive_forward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_additive_forward(c, b[0], b[1], b[2], rows_of(s), s->C);
}
static fce_status run_coupling_additive_inverse(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_additive_inverse(c, b[0], b[1], b[2], rows_of(s), s->C);
}
static fce_status run_coupling_additive_backward_fwd(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_additive_backward(c, b[0], b[1], b[2], rows_of(s), s->C, 1.0f);
}
static fce_status run_coupling_additive_backward_inv(fce_ctx *c, float **b, const shape *s) {
    return c->ops->coupling_additive_backward(c, b[0], b[1], b[2], rows_of(s), s->C, -1.0f);
}
static fce_status run_coupling_additive_backward_fwd_inplace(fce_ctx *c, float **b,
                                                             const shape *s) {
    return c->ops->coupling_additive_backward(c, b[0], b[1], b[0], rows_of(s), s->C, 1.0f);
}
static fce_status run_coupling_additive_backward_inv_inplace(fce_ctx *c, float **b,
                                                             const shape *s) {
    return c->ops->coupling_additive_backward(c, b[0], b[1], b[0], rows_of(s), s->C, -1.0f);
}

static fce_status run_gaussian_diag_logp(fce_ctx *c, float **b, const shape *s) {
    return c->ops->gaussian_diag_logp(c, b[0], b[1], b[2], b[3], s->N, s->C);
}
static fce_status run_gaussian_diag_backward(fce_ctx *c, float **b, const shape *s) {
    return c->ops->gaussian_diag_logp_backward_acc(c, b[0], b[1], b[2], b[3], b[4], b[5], b[6],
                                                   s->N, s->C);
}
static fce_status run_gaussian_diag_backward_dz_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->gaussian_diag_logp_backward_acc(c, b[0], NULL, NULL, b[1], b[2], b[3], b[4],
                                                   s->N, s->C);
}

static fce_status run_nce(fce_ctx *c, float **b, const shape *s, float gscale) {
    return c->ops->nce_loss(c, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
                            s->N, gscale);
}
static fce_status run_nce_ebm(fce_ctx *c, float **b, const shape *s) {
    return run_nce(c, b, s, 1.0f);
}
static fce_status run_nce_flow(fce_ctx *c, float **b, const shape *s) {
    return run_nce(c, b, s, -1.0f);
}
static fce_status run_nce_stats_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->nce_loss(c, b[0], NULL, NULL, NULL, NULL, NULL, b[1], b[2], b[3], b[4], b[5],
                            s->N, 1.0f);
}

static fce_status run_softmax_xent(fce_ctx *c, float **b, const shape *s) {
    return c->ops->softmax_xent(c, b[0], b[1], b[2], (const int32_t *)(const void *)b[3], s->N,
                                s->C, 1.0f / (float)s->N);
}
static fce_status run_softmax_xent_stats_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->softmax_xent(c, b[0], NULL, b[1], (const int32_t *)(const void *)b[2], s->N,
                                s->C, 1.0f);
}
static fce_status run_softmax_xent_grad_only(fce_ctx *c, float **b, const shape *s) {
    return c->ops->softmax_xent(c, NULL, b[0], b[1], (const int32_t *)(const void *)b[2], s->N,
                                s->C, 0.5f);
}

/* Three steps (t = 1, 2, 3) from the same gradient: bias correction and state carry-over. */
static fce_status run_adam_3(fce_ctx *c, float **b, const shape *s) {
    for (int t = 1; t <= 3; t++)
        FCE_TRY(c->ops->adam_step(c, b[0], b[1], b[2], b[3], (size_t)s->N, 1e-3f, 0.9f, 0.999f,
                                  1e-8f, t));
    return FCE_STATUS_OK;
}
static fce_status run_adamax_3(fce_ctx *c, float **b, const shape *s) {
    for (int t = 1; t <= 3; t++)
        FCE_TRY(c->ops->adamax_step(c, b[0], b[1], b[2], b[3], (size_t)s->N, 2e-3f, 0.9f, 0.999f,
                                    1e-7f, t));
    return FCE_STATUS_OK;
}

// ---- the table ----

/* Shorthands: an input in [lo, hi]; an output of class t pre-filled in [lo, hi]. */
#define IN(nm, d, lo, hi) {nm, d, I_UNIFORM, lo, hi, T_IN}
#define OUT(nm, d, lo, hi, t) {nm, d, I_UNIFORM, lo, hi, t}
#define GARBAGE(nm, d, t) {nm, d, I_UNIFORM, 7.0f, 9.0f, t} /* overwritten output */

static const op_case CASES[] = {
    {"rng", "fill_normal", run_fill_normal, {GARBAGE("x", "N", T_NORMAL)}, SHAPES(SHAPES_FLAT)},
    {"rng", "fill_uniform", run_fill_uniform, {GARBAGE("x", "N", T_UNIFORM)}, SHAPES(SHAPES_FLAT)},

    {"linear", "linear_forward", run_linear_forward,
     {GARBAGE("y", "NO", T_GEMM), IN("x", "NI", -1, 1), IN("W", "OI", -1, 1), IN("b", "O", -1, 1)},
     SHAPES(SHAPES_LINEAR)},
    {"linear", "linear_forward_nobias", run_linear_forward_nobias,
     {GARBAGE("y", "NO", T_GEMM), IN("x", "NI", -1, 1), IN("W", "OI", -1, 1)},
     SHAPES(SHAPES_LINEAR)},
    {"linear", "linear_backward", run_linear_backward,
     {GARBAGE("dx", "NI", T_GEMM), OUT("dW", "OI", -1, 1, T_GEMM_N), OUT("db", "O", -1, 1, T_RED),
      IN("dy", "NO", -1, 1), IN("x", "NI", -1, 1), IN("W", "OI", -1, 1)},
     SHAPES(SHAPES_LINEAR)},
    {"linear", "linear_backward_dW_only", run_linear_backward_dw_only,
     {OUT("dW", "OI", -1, 1, T_GEMM_N), IN("dy", "NO", -1, 1), IN("x", "NI", -1, 1),
      IN("W", "OI", -1, 1)},
     SHAPES(SHAPES_LINEAR)},

    {"act", "leaky_relu_forward", run_leaky_relu_forward,
     {GARBAGE("y", "N", T_ELEM), IN("x", "N", -2, 2)}, SHAPES(SHAPES_FLAT)},
    {"act", "relu_forward", run_relu_forward, {GARBAGE("y", "N", T_ELEM), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    {"act", "leaky_relu_backward", run_leaky_relu_backward,
     {GARBAGE("dx", "N", T_ELEM), IN("dy", "N", -2, 2), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    {"act", "leaky_relu_backward_inplace", run_leaky_relu_backward_inplace,
     {OUT("dx=dy", "N", -2, 2, T_ELEM), IN("x", "N", -2, 2)}, SHAPES(SHAPES_FLAT)},
    {"act", "scale", run_scale, {GARBAGE("y", "N", T_ELEM), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    {"act", "scale_inplace", run_scale_inplace, {OUT("y=x", "N", -2, 2, T_ELEM)},
     SHAPES(SHAPES_FLAT)},
    {"act", "channels_copy", run_channels_copy,
     {OUT("dst", "NHD", -1, 1, T_ELEM), IN("src", "NHC", -1, 1)}, SHAPES(SHAPES_COPY)},
    {"act", "channels_copy_acc", run_channels_copy_acc,
     {OUT("dst", "NHD", -1, 1, T_ELEM), IN("src", "NHC", -1, 1)}, SHAPES(SHAPES_COPY)},

    {"actnorm", "actnorm_forward", run_actnorm_forward,
     {GARBAGE("y", "NHC", T_ELEM), OUT("logdet", "N", -5, 5, T_RED), IN("x", "NHC", -2, 2),
      IN("bias", "C", -1, 1), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_forward_nologdet", run_actnorm_forward_nologdet,
     {GARBAGE("y", "NHC", T_ELEM), IN("x", "NHC", -2, 2), IN("bias", "C", -1, 1),
      IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_inverse", run_actnorm_inverse,
     {GARBAGE("x", "NHC", T_ELEM), OUT("logdet", "N", -5, 5, T_RED), IN("y", "NHC", -2, 2),
      IN("bias", "C", -1, 1), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_backward", run_actnorm_backward,
     {GARBAGE("dx", "NHC", T_ELEM), OUT("dbias", "C", -1, 1, T_RED),
      OUT("dlogs", "C", -1, 1, T_RED), IN("dy", "NHC", -1, 1), IN("y", "NHC", -2, 2),
      IN("dlogdet", "N", -1, 1), IN("bias", "C", -1, 1), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_backward_nodlogdet", run_actnorm_backward_nodlogdet,
     {GARBAGE("dx", "NHC", T_ELEM), OUT("dbias", "C", -1, 1, T_RED),
      OUT("dlogs", "C", -1, 1, T_RED), IN("dy", "NHC", -1, 1), IN("y", "NHC", -2, 2),
      IN("bias", "C", -1, 1), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_inverse_backward", run_actnorm_inverse_backward,
     {GARBAGE("dy", "NHC", T_ELEM), OUT("dbias", "C", -1, 1, T_RED),
      OUT("dlogs", "C", -1, 1, T_RED), IN("dx", "NHC", -1, 1), IN("x", "NHC", -2, 2),
      IN("dlogdet", "N", -1, 1), IN("bias", "C", -1, 1), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_init", run_actnorm_init,
     {GARBAGE("bias", "C", T_RED), GARBAGE("logs", "C", T_RED), IN("x", "NHC", -2, 3)},
     SHAPES(SHAPES_FLOW)},

    {"invconv", "invconv_lu_weights", run_invconv_lu_weights,
     {GARBAGE("W", "CC", T_RED), GARBAGE("Winv", "CC", T_RED), {"perm", "C", I_PERM, 0, 0, T_IN},
      {"sign", "C", I_SIGN, 0, 0, T_IN}, IN("L", "CC", -0.3f, 0.3f), IN("U", "CC", -0.3f, 0.3f),
      IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_lu_backward", run_invconv_lu_backward,
     {OUT("dL", "CC", -1, 1, T_RED), OUT("dU", "CC", -1, 1, T_RED), OUT("dlogs", "C", -1, 1, T_RED),
      IN("dW", "CC", -1, 1), IN("dWinv", "CC", -1, 1), IN("Winv", "CC", -0.5f, 0.5f),
      {"perm", "C", I_PERM, 0, 0, T_IN}, {"sign", "C", I_SIGN, 0, 0, T_IN},
      IN("L", "CC", -0.3f, 0.3f), IN("U", "CC", -0.3f, 0.3f), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_lu_backward_dW_only", run_invconv_lu_backward_dw_only,
     {OUT("dL", "CC", -1, 1, T_RED), OUT("dU", "CC", -1, 1, T_RED), OUT("dlogs", "C", -1, 1, T_RED),
      IN("dW", "CC", -1, 1), IN("dWinv(unused)", "CC", -1, 1), IN("Winv", "CC", -0.5f, 0.5f),
      {"perm", "C", I_PERM, 0, 0, T_IN}, {"sign", "C", I_SIGN, 0, 0, T_IN},
      IN("L", "CC", -0.3f, 0.3f), IN("U", "CC", -0.3f, 0.3f), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_lu_backward_dWinv_only", run_invconv_lu_backward_dwinv_only,
     {OUT("dL", "CC", -1, 1, T_RED), OUT("dU", "CC", -1, 1, T_RED), OUT("dlogs", "C", -1, 1, T_RED),
      IN("dW(unused)", "CC", -1, 1), IN("dWinv", "CC", -1, 1), IN("Winv", "CC", -0.5f, 0.5f),
      {"perm", "C", I_PERM, 0, 0, T_IN}, {"sign", "C", I_SIGN, 0, 0, T_IN},
      IN("L", "CC", -0.3f, 0.3f), IN("U", "CC", -0.3f, 0.3f), IN("logs", "C", -0.3f, 0.3f)},
     SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_forward", run_invconv_logdet_fwd,
     {OUT("logdet", "N", -5, 5, T_RED), IN("logs", "C", -0.5f, 0.5f)}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_inverse", run_invconv_logdet_inv,
     {OUT("logdet", "N", -5, 5, T_RED), IN("logs", "C", -0.5f, 0.5f)}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_backward_forward", run_invconv_logdet_backward_fwd,
     {OUT("dlogs", "C", -1, 1, T_RED), IN("dlogdet", "N", -1, 1)}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_backward_inverse", run_invconv_logdet_backward_inv,
     {OUT("dlogs", "C", -1, 1, T_RED), IN("dlogdet", "N", -1, 1)}, SHAPES(SHAPES_INVCONV)},

    {"coupling", "coupling_affine_forward", run_coupling_forward,
     {GARBAGE("y", "NHC", T_ELEM), OUT("logdet", "N", -5, 5, T_RED), IN("x", "NHC", -2, 2),
      IN("h", "NHC", -3, 3)},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_inverse", run_coupling_inverse,
     {GARBAGE("x", "NHC", T_ELEM), OUT("logdet", "N", -5, 5, T_RED), IN("y", "NHC", -2, 2),
      IN("h", "NHC", -3, 3)},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_backward", run_coupling_backward,
     {GARBAGE("dx", "NHC", T_ELEM), GARBAGE("dh", "NHC", T_ELEM), IN("dy", "NHC", -1, 1),
      IN("y", "NHC", -2, 2), IN("h", "NHC", -3, 3), IN("dlogdet", "N", -1, 1)},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_backward_nodlogdet", run_coupling_backward_nodlogdet,
     {GARBAGE("dx", "NHC", T_ELEM), GARBAGE("dh", "NHC", T_ELEM), IN("dy", "NHC", -1, 1),
      IN("y", "NHC", -2, 2), IN("h", "NHC", -3, 3)},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_inverse_backward", run_coupling_inverse_backward,
     {GARBAGE("dy", "NHC", T_ELEM), GARBAGE("dh", "NHC", T_ELEM), IN("dx", "NHC", -1, 1),
      IN("x", "NHC", -2, 2), IN("h", "NHC", -3, 3), IN("dlogdet", "N", -1, 1)},
     SHAPES(SHAPES_FLOW)},

    {"gaussian", "gaussian_logp", run_gaussian_logp,
     {OUT("logp", "N", -5, 5, T_RED), IN("z", "NC", -3, 3)}, SHAPES(SHAPES_GAUSS)},
    {"gaussian", "gaussian_logp_backward_acc", run_gaussian_logp_backward_acc,
     {OUT("dz", "NC", -1, 1, T_ELEM), IN("z", "NC", -3, 3), IN("dlogp", "N", -1, 1)},
     SHAPES(SHAPES_GAUSS)},

    {"squeeze", "squeeze_forward", run_squeeze_forward,
     {GARBAGE("y", "NYXC", T_ELEM), IN("x", "NYXC", -3, 3)}, SHAPES(SHAPES_SQUEEZE)},
    {"squeeze", "squeeze_inverse", run_squeeze_inverse,
     {GARBAGE("x", "NYXC", T_ELEM), IN("y", "NYXC", -3, 3)}, SHAPES(SHAPES_SQUEEZE)},

    {"coupling_additive", "coupling_additive_forward", run_coupling_additive_forward,
     {GARBAGE("y", "NHC", T_ELEM), IN("x", "NHC", -2, 2), IN("h", "NHc", -3, 3)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_inverse", run_coupling_additive_inverse,
     {GARBAGE("x", "NHC", T_ELEM), IN("y", "NHC", -2, 2), IN("h", "NHc", -3, 3)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_backward_of_forward",
     run_coupling_additive_backward_fwd,
     {GARBAGE("din", "NHC", T_ELEM), GARBAGE("dh", "NHc", T_ELEM), IN("dout", "NHC", -1, 1)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_backward_of_inverse",
     run_coupling_additive_backward_inv,
     {GARBAGE("din", "NHC", T_ELEM), GARBAGE("dh", "NHc", T_ELEM), IN("dout", "NHC", -1, 1)},
     SHAPES(SHAPES_ADDITIVE)},
    /* din = dout (in place): the buffer must come out unchanged, dh still filled. */
    {"coupling_additive", "coupling_additive_backward_of_forward_inplace",
     run_coupling_additive_backward_fwd_inplace,
     {OUT("dout", "NHC", -1, 1, T_ELEM), GARBAGE("dh", "NHc", T_ELEM)}, SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_backward_of_inverse_inplace",
     run_coupling_additive_backward_inv_inplace,
     {OUT("dout", "NHC", -1, 1, T_ELEM), GARBAGE("dh", "NHc", T_ELEM)}, SHAPES(SHAPES_ADDITIVE)},

    {"gaussian_diag", "gaussian_diag_logp", run_gaussian_diag_logp,
     {OUT("logp", "N", -5, 5, T_RED), IN("z", "NC", -3, 3), IN("mean", "NC", -1, 1),
      IN("logs", "NC", -1, 1)},
     SHAPES(SHAPES_GAUSS_DIAG)},
    {"gaussian_diag", "gaussian_diag_logp_backward_acc", run_gaussian_diag_backward,
     {OUT("dz", "NC", -1, 1, T_ELEM), GARBAGE("dmean", "NC", T_ELEM),
      GARBAGE("dlogs", "NC", T_ELEM), IN("z", "NC", -3, 3), IN("mean", "NC", -1, 1),
      IN("logs", "NC", -1, 1), IN("dlogp", "N", -1, 1)},
     SHAPES(SHAPES_GAUSS_DIAG)},
    {"gaussian_diag", "gaussian_diag_logp_backward_acc_dz_only", run_gaussian_diag_backward_dz_only,
     {OUT("dz", "NC", -1, 1, T_ELEM), IN("z", "NC", -3, 3), IN("mean", "NC", -1, 1),
      IN("logs", "NC", -1, 1), IN("dlogp", "N", -1, 1)},
     SHAPES(SHAPES_GAUSS_DIAG)},

    {"nce", "nce_loss_ebm", run_nce_ebm,
     {GARBAGE("stats", "2", T_RED), GARBAGE("dfx", "N", T_ELEM), GARBAGE("dfxt", "N", T_ELEM),
      GARBAGE("dlq", "N", T_ELEM), GARBAGE("dlqt", "N", T_ELEM), OUT("dc", "1", -1, 1, T_RED),
      IN("fx", "N", -3, 3), IN("fxt", "N", -3, 3), IN("lq", "N", -3, 3), IN("lqt", "N", -3, 3),
      IN("c", "1", -1, 1)},
     SHAPES(SHAPES_NCE)},
    {"nce", "nce_loss_flow", run_nce_flow,
     {GARBAGE("stats", "2", T_RED), GARBAGE("dfx", "N", T_ELEM), GARBAGE("dfxt", "N", T_ELEM),
      GARBAGE("dlq", "N", T_ELEM), GARBAGE("dlqt", "N", T_ELEM), OUT("dc", "1", -1, 1, T_RED),
      IN("fx", "N", -3, 3), IN("fxt", "N", -3, 3), IN("lq", "N", -3, 3), IN("lqt", "N", -3, 3),
      IN("c", "1", -1, 1)},
     SHAPES(SHAPES_NCE)},
    /* Logits up to ±120: softplus and σ must not overflow. */
    {"nce", "nce_loss_extreme_logits", run_nce_ebm,
     {GARBAGE("stats", "2", T_RED), GARBAGE("dfx", "N", T_ELEM), GARBAGE("dfxt", "N", T_ELEM),
      GARBAGE("dlq", "N", T_ELEM), GARBAGE("dlqt", "N", T_ELEM), OUT("dc", "1", -1, 1, T_RED),
      IN("fx", "N", -60, 60), IN("fxt", "N", -60, 60), IN("lq", "N", -60, 60),
      IN("lqt", "N", -60, 60), IN("c", "1", -1, 1)},
     SHAPES(SHAPES_NCE)},
    {"nce", "nce_loss_stats_only", run_nce_stats_only,
     {GARBAGE("stats", "2", T_RED), IN("fx", "N", -3, 3), IN("fxt", "N", -3, 3),
      IN("lq", "N", -3, 3), IN("lqt", "N", -3, 3), IN("c", "1", -1, 1)},
     SHAPES(SHAPES_NCE)},

    /* stats accumulate (pre-filled), dlogits are overwritten; labels are int32 bit patterns */
    {"softmax", "softmax_xent", run_softmax_xent,
     {OUT("stats", "2", 0, 5, T_RED), GARBAGE("dlogits", "NC", T_ELEM), IN("logits", "NC", -4, 4),
      {"labels", "N", I_LABEL, 0, 0, T_IN}},
     SHAPES(SHAPES_SOFTMAX)},
    /* logits up to ±1000: the max-subtracted form must stay finite */
    {"softmax", "softmax_xent_extreme_logits", run_softmax_xent,
     {OUT("stats", "2", 0, 5, T_RED), GARBAGE("dlogits", "NC", T_ELEM),
      IN("logits", "NC", -1000, 1000), {"labels", "N", I_LABEL, 0, 0, T_IN}},
     SHAPES(SHAPES_SOFTMAX)},
    {"softmax", "softmax_xent_stats_only", run_softmax_xent_stats_only,
     {OUT("stats", "2", 0, 5, T_RED), IN("logits", "NC", -4, 4), {"labels", "N", I_LABEL, 0, 0, T_IN}},
     SHAPES(SHAPES_SOFTMAX)},
    {"softmax", "softmax_xent_grad_only", run_softmax_xent_grad_only,
     {GARBAGE("dlogits", "NC", T_ELEM), IN("logits", "NC", -4, 4),
      {"labels", "N", I_LABEL, 0, 0, T_IN}},
     SHAPES(SHAPES_SOFTMAX)},

    {"optim", "adam_step_x3", run_adam_3,
     {OUT("p", "N", -1, 1, T_ELEM), IN("g", "N", -1, 1), OUT("m", "N", -0.1f, 0.1f, T_ELEM),
      OUT("v", "N", 0, 0.01f, T_ELEM)},
     SHAPES(SHAPES_FLAT)},
    {"optim", "adamax_step_x3", run_adamax_3,
     {OUT("p", "N", -1, 1, T_ELEM), IN("g", "N", -1, 1), OUT("m", "N", -0.1f, 0.1f, T_ELEM),
      OUT("u", "N", 0, 0.5f, T_ELEM)},
     SHAPES(SHAPES_FLAT)},
};

#define N_CASES ((int)(sizeof(CASES) / sizeof(CASES[0])))

// ---- the driver ----

static size_t dims_size(const char *dims, const shape *s) {
    size_t n = 1;
    for (const char *p = dims; *p; p++) {
        switch (*p) {
        case 'N': n *= (size_t)s->N; break;
        case 'H': n *= (size_t)s->HW; break;
        case 'C': n *= (size_t)s->C; break;
        case 'c': n *= (size_t)(s->C / 2); break;
        case 'Y': n *= (size_t)s->H; break;
        case 'X': n *= (size_t)s->W; break;
        case 'I': n *= (size_t)s->in; break;
        case 'O': n *= (size_t)s->out; break;
        case 'D': n *= (size_t)s->dst_C; break;
        case 'K': n *= (size_t)s->count; break;
        default:
            if (*p >= '0' && *p <= '9') n *= (size_t)(*p - '0');
            else {
                fprintf(stderr, "test_gpu_ops: bad dims letter '%c' in \"%s\"\n", *p, dims);
                abort();
            }
        }
    }
    return n;
}

static void init_host(float *h, size_t n, const buf_spec *b, const shape *s, uint64_t seed) {
    switch (b->init) {
    case I_UNIFORM: fce_test_fill_uniform(h, n, seed, b->lo, b->hi); break;
    case I_SIGN:
        fce_test_fill_uniform(h, n, seed, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i++) h[i] = h[i] < 0.5f ? -1.0f : 1.0f;
        break;
    case I_LABEL: /* int32 labels in [0, C), written into the float slots bit for bit */
        fce_test_fill_uniform(h, n, seed, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i++) {
            int32_t y = (int32_t)(h[i] * (float)s->C);
            if (y >= s->C) y = s->C - 1;
            memcpy(&h[i], &y, sizeof y);
        }
        break;
    case I_PERM: { /* Fisher-Yates shuffle of 0..n−1, stored as float (backend.h) */
        float *u = fce_test_alloc(n);
        fce_test_fill_uniform(u, n, seed, 0.0f, 1.0f);
        for (size_t i = 0; i < n; i++) h[i] = (float)i;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(u[i - 1] * (float)i);
            if (j >= i) j = i - 1;
            float t = h[i - 1];
            h[i - 1] = h[j];
            h[j] = t;
        }
        free(u);
        break;
    }
    }
}

static void tol_of(enum tol_class t, const shape *s, double *atol, double *rtol) {
    switch (t) {
    case T_ELEM: *atol = TOL_ELEM_ATOL; *rtol = TOL_ELEM_RTOL; break;
    case T_RED: *atol = TOL_RED_ATOL; *rtol = TOL_RED_RTOL; break;
    case T_GEMM: *atol = TOL_GEMM_ATOL; *rtol = TOL_GEMM_RTOL; break;
    case T_GEMM_N:
        *atol = TOL_GEMM_ATOL + TOL_GEMM_ATOL_PER_K * (double)s->N;
        *rtol = TOL_GEMM_RTOL;
        break;
    case T_UNIFORM: *atol = TOL_RNG_UNIFORM_ATOL; *rtol = 0.0; break;
    case T_NORMAL: *atol = TOL_RNG_NORMAL_ATOL; *rtol = 0.0; break;
    case T_IN: *atol = 0.0; *rtol = 0.0; break;
    }
}

/* EXPECT_CLOSE returns from the function on failure, so each comparison is its own function. */
static int compare_one(const char *name, const float *got, const float *ref, size_t n, double atol,
                       double rtol) {
    EXPECT_CLOSE(name, got, ref, n, atol, rtol);
    return 0;
}

static void release_all(fce_ctx *ctx, float **bufs, int count) {
    for (int i = 0; i < count; i++) {
        ctx->ops->release(ctx, bufs[i]);
        bufs[i] = NULL;
    }
}

/* One row × one shape: CPU vs GPU, then GPU vs a second GPU run (bitwise). 0 = pass. */
static int run_case_shape(int case_idx, int shape_idx) {
    const op_case *oc = &CASES[case_idx];
    const shape *s = &oc->shapes[shape_idx];
    float *host[MAX_BUFS] = {0}, *bc[MAX_BUFS] = {0}, *bg[MAX_BUFS] = {0}, *bg2[MAX_BUFS] = {0};
    size_t n[MAX_BUFS] = {0};
    int nb = 0, fails = 0;
    while (nb < MAX_BUFS && oc->bufs[nb].name) nb++;

    for (int i = 0; i < nb; i++) {
        n[i] = dims_size(oc->bufs[i].dims, s);
        host[i] = fce_test_alloc(n[i]);
        uint64_t seed = 0x5EEDull * 1000003ull + (uint64_t)case_idx * 7919ull +
                        (uint64_t)shape_idx * 104729ull + (uint64_t)i * 15485863ull;
        init_host(host[i], n[i], &oc->bufs[i], s, seed);
        bc[i] = fce_test_dev_from_host(&g_cpu, host[i], n[i]);
        bg[i] = fce_test_dev_from_host(&g_gpu, host[i], n[i]);
        bg2[i] = fce_test_dev_from_host(&g_gpu, host[i], n[i]);
    }

    fce_status st_c = oc->run(&g_cpu, bc, s);
    fce_status st_g = oc->run(&g_gpu, bg, s);
    fce_status st_g2 = oc->run(&g_gpu, bg2, s);
    if (st_c != FCE_STATUS_OK || st_g != FCE_STATUS_OK || st_g2 != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL %s[%d]: status cpu %s, gpu %s, gpu again %s\n", oc->name, shape_idx,
                fce_status_str(st_c), fce_status_str(st_g), fce_status_str(st_g2));
        fails++;
    } else {
        for (int i = 0; i < nb; i++) {
            if (oc->bufs[i].tol == T_IN) continue;
            double atol = 0.0, rtol = 0.0;
            tol_of(oc->bufs[i].tol, s, &atol, &rtol);
            char label[128];
            float *ref = fce_test_host_from_dev(&g_cpu, bc[i], n[i]);
            float *got = fce_test_host_from_dev(&g_gpu, bg[i], n[i]);
            float *again = fce_test_host_from_dev(&g_gpu, bg2[i], n[i]);
            snprintf(label, sizeof label, "%s[%d].%s", oc->name, shape_idx, oc->bufs[i].name);
            fails += compare_one(label, got, ref, n[i], atol, rtol);
            if (memcmp(got, again, n[i] * sizeof(float)) != 0) {
                fprintf(stderr, "  FAIL %s: two GPU runs differ (reduction order not fixed?)\n",
                        label);
                fails++;
            }
            free(ref);
            free(got);
            free(again);
        }
    }

    release_all(&g_cpu, bc, nb);
    release_all(&g_gpu, bg, nb);
    release_all(&g_gpu, bg2, nb);
    for (int i = 0; i < nb; i++) free(host[i]);
    return fails;
}

/* Every row of `family`, every shape; prints one line per row. */
static int run_family(const char *family) {
    int failed_rows = 0, rows = 0;
    for (int c = 0; c < N_CASES; c++) {
        if (strcmp(CASES[c].family, family) != 0) continue;
        rows++;
        int fails = 0;
        for (int k = 0; k < CASES[c].n_shapes; k++) fails += run_case_shape(c, k);
        fprintf(stderr, "  %s %s (%d shapes)\n", fails ? "FAIL" : "ok  ", CASES[c].name,
                CASES[c].n_shapes);
        if (fails) failed_rows++;
    }
    ASSERT_TRUE(rows > 0);
    ASSERT_EQ_INT(failed_rows, 0);
    return 0;
}

TEST(rng) { return run_family("rng"); }
TEST(linear) { return run_family("linear"); }
TEST(activations_scale_channels) { return run_family("act"); }
TEST(actnorm) { return run_family("actnorm"); }
TEST(invconv) { return run_family("invconv"); }
TEST(coupling) { return run_family("coupling"); }
TEST(gaussian) { return run_family("gaussian"); }
TEST(squeeze) { return run_family("squeeze"); }
TEST(coupling_additive) { return run_family("coupling_additive"); }
TEST(gaussian_diag) { return run_family("gaussian_diag"); }
TEST(nce) { return run_family("nce"); }
TEST(optim) { return run_family("optim"); }
TEST(softmax) { return run_family("softmax"); }

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
    g_gpu.ops->release(&g_gpu, x);
    g_gpu.ops->release(&g_gpu, y);
    g_gpu.ops->release(&g_gpu, xb);

    float *a = fce_test_dev_from_host(&g_gpu, hxa, n_add);
    float *b = fce_test_dev_from_host(&g_gpu, hxa, n_add);
    float *h = fce_test_dev_from_host(&g_gpu, hh, n_add / 2);
    ASSERT_OK(g_gpu.ops->coupling_additive_forward(&g_gpu, b, a, h, ROWS, CC));
    ASSERT_OK(g_gpu.ops->coupling_additive_inverse(&g_gpu, a, b, h, ROWS, CC));
    back = fce_test_host_from_dev(&g_gpu, a, n_add);
    EXPECT_CLOSE("coupling_additive round trip", back, hxa, n_add, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    free(back);
    g_gpu.ops->release(&g_gpu, a);
    g_gpu.ops->release(&g_gpu, b);
    g_gpu.ops->release(&g_gpu, h);
    free(hx);
    free(hxa);
    free(hh);
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
    if (g_cpu.ops->dequantize(&g_cpu, x_c, u_c, n, n_bits, RNG_SEED, RNG_OFFSET) != FCE_STATUS_OK ||
        g_gpu.ops->dequantize(&g_gpu, x_g, u_g, n, n_bits, RNG_SEED, RNG_OFFSET) != FCE_STATUS_OK ||
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

    g_cpu.ops->release(&g_cpu, u_c);
    g_gpu.ops->release(&g_gpu, u_g);
    g_cpu.ops->release(&g_cpu, x_c);
    g_gpu.ops->release(&g_gpu, x_g);
    g_gpu.ops->release(&g_gpu, o_g);
    g_cpu.ops->release(&g_cpu, p_c);
    g_gpu.ops->release(&g_gpu, p_g);
    g_cpu.ops->release(&g_cpu, o_c);
    g_gpu.ops->release(&g_gpu, o_g2);
    free(hf);
    free(garbage);
    free(hu);
    free(r_cpu);
    free(r_gpu);
    free(fill);
    free(x_cpu);
    free(x_gpu);
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
static int table_complete(const fce_ctx *ctx) {
    const unsigned char *bytes = (const unsigned char *)ctx->ops;
    size_t n_slots = sizeof(fce_backend_ops) / sizeof(any_fn), missing = 0;
    for (size_t k = 0; k < n_slots; k++) {
        any_fn f;
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
    ASSERT_TRUE(table_complete(&g_cpu));
    ASSERT_TRUE(table_complete(&g_gpu));
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
    char reason[256] = "";
    if (!fce_gpu_usable(reason, sizeof reason)) FCE_TEST_SKIP_NO_GPU(reason);
    if (fce_ctx_init_cpu(&g_cpu) != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL: cannot create the CPU context\n");
        return 1;
    }
    if (fce_ctx_init(&g_gpu, "0") != FCE_STATUS_OK) {
        fprintf(stderr, "  FAIL: a GPU is usable (%s) but the CUDA context failed\n", reason);
        fce_ctx_free(&g_cpu);
        return 1;
    }
    fprintf(stderr, "comparing %s against %s\n", g_gpu.device_name, g_cpu.device_name);
    RUN_TEST(op_tables_complete);
    RUN_TEST(memory_ops);
    RUN_TEST(rng);
    RUN_TEST(linear);
    RUN_TEST(activations_scale_channels);
    RUN_TEST(actnorm);
    RUN_TEST(invconv);
    RUN_TEST(coupling);
    RUN_TEST(gaussian);
    RUN_TEST(squeeze);
    RUN_TEST(coupling_additive);
    RUN_TEST(gaussian_diag);
    RUN_TEST(glow_roundtrips);
    RUN_TEST(preprocess);
    RUN_TEST(nce);
    RUN_TEST(optim);
    RUN_TEST(softmax);
    fce_ctx_free(&g_gpu);
    fce_ctx_free(&g_cpu);
FCE_TEST_MAIN_END
