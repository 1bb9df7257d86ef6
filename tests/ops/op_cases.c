/* op_cases.c: the op-case registry (op_cases.h): the cases, their calls and the GPU comparison's
 * shapes. Each row: family, name, run, buffers, shapes.
 *
 * Overwritten outputs (OP_OUT) are pre-filled with garbage and accumulated ones (OP_ACC: parameter
 * gradients, _acc ops, logdet/logp) with nonzero values, so = versus += is checked too. Shapes
 * include N = 1, sizes that are not multiples of the block size, rows = 200, 1000, 10000, and an
 * elementwise size beyond the grid cap (grid-stride loops). The rows after the optimizers were
 * added later, so the seeds of the earlier rows (tests/gpu/test_gpu_ops.c derives them from the
 * row's index) stay as they were. */
#include <stdint.h>
#include <stdlib.h>

#include "fce/optim_sched.h"
#include "op_cases.h"

// ---- shapes of the GPU comparison ----

/* Flat lengths: 1, around the block size 256, the brief's row counts, and beyond the grid cap
 * (8192 blocks · 256 threads) so the grid-stride loop runs more than once. */
static const op_shape SHAPES_FLAT[] = {{.N = 1},    {.N = 255},   {.N = 256},    {.N = 257},
                                    {.N = 200},  {.N = 1000},  {.N = 10000},  {.N = 2100001}};
/* (N, HW, C): the 2D model (HW = 1, C = 2), small images, the CIFAR channel counts, and the
 * coupling network's width (past the CPU actnorm's 128-channel chunk). */
static const op_shape SHAPES_FLOW[] = {
    {.N = 1, .HW = 1, .C = 2},   {.N = 200, .HW = 1, .C = 2}, {.N = 1000, .HW = 1, .C = 2},
    {.N = 10000, .HW = 1, .C = 2}, {.N = 3, .HW = 5, .C = 6},   {.N = 4, .HW = 16, .C = 12},
    {.N = 2, .HW = 64, .C = 48},  {.N = 1, .HW = 1024, .C = 6}, {.N = 257, .HW = 3, .C = 24},
    {.N = 3, .HW = 7, .C = 300}};
/* (N, in, out): the 2D MLPs (2 → 128 → 128 → 1) and odd sizes. */
static const op_shape SHAPES_LINEAR[] = {
    {.N = 1, .in = 2, .out = 128},      {.N = 200, .in = 2, .out = 128},
    {.N = 1000, .in = 128, .out = 128}, {.N = 10000, .in = 128, .out = 1},
    {.N = 37, .in = 3, .out = 5},       {.N = 257, .in = 130, .out = 67}};
/* rows = N·HW; src_C = C. */
static const op_shape SHAPES_COPY[] = {
    {.N = 1, .HW = 1, .C = 4, .dst_C = 2, .src_c0 = 2, .dst_c0 = 0, .count = 2},
    {.N = 200, .HW = 1, .C = 2, .dst_C = 4, .src_c0 = 0, .dst_c0 = 2, .count = 2},
    {.N = 1000, .HW = 1, .C = 3, .dst_C = 5, .src_c0 = 1, .dst_c0 = 1, .count = 2},
    {.N = 10000, .HW = 1, .C = 12, .dst_C = 6, .src_c0 = 6, .dst_c0 = 0, .count = 6},
    {.N = 3, .HW = 5, .C = 48, .dst_C = 24, .src_c0 = 24, .dst_c0 = 0, .count = 24}};
/* C×C maps: 1 and 2 (2D), odd sizes, the CIFAR channel counts and the kernel's maximum 64;
 * N, HW for the log-det ops. */
static const op_shape SHAPES_INVCONV[] = {
    {.N = 1, .HW = 1, .C = 1},   {.N = 200, .HW = 1, .C = 2},  {.N = 1000, .HW = 1, .C = 3},
    {.N = 10000, .HW = 1, .C = 2}, {.N = 3, .HW = 64, .C = 12},  {.N = 5, .HW = 16, .C = 24},
    {.N = 2, .HW = 64, .C = 48},  {.N = 257, .HW = 1, .C = 64}};
/* (N, D = C) for the Gaussian prior: 2D model, odd D, CIFAR D = 3072. */
static const op_shape SHAPES_GAUSS[] = {
    {.N = 1, .C = 2},   {.N = 200, .C = 2}, {.N = 1000, .C = 2}, {.N = 10000, .C = 2},
    {.N = 7, .C = 33},  {.N = 3, .C = 3072}};
/* (N, H, W, C) for the squeeze: H, W ∈ {2, 8, 32} (square and not), C ∈ {1, 3, 12}, N = 1 and
 * odd batches, and a CIFAR batch (64·32·32·3, beyond one block row of the grid). */
static const op_shape SHAPES_SQUEEZE[] = {
    {.N = 1, .H = 2, .W = 2, .C = 1},    {.N = 3, .H = 2, .W = 8, .C = 3},
    {.N = 5, .H = 8, .W = 8, .C = 12},   {.N = 1, .H = 32, .W = 32, .C = 3},
    {.N = 7, .H = 32, .W = 2, .C = 1},   {.N = 2, .H = 8, .W = 32, .C = 12},
    {.N = 1, .H = 32, .W = 32, .C = 12}, {.N = 64, .H = 32, .W = 32, .C = 3}};
/* (N, HW, C) for the additive coupling (rows = N·HW, C even): the 2D case, odd pixel counts and
 * the image Glow's channel counts (12, 24, 48 after squeezes). */
static const op_shape SHAPES_ADDITIVE[] = {
    {.N = 1, .HW = 1, .C = 2},    {.N = 257, .HW = 1, .C = 2},  {.N = 3, .HW = 5, .C = 6},
    {.N = 1, .HW = 256, .C = 12}, {.N = 7, .HW = 64, .C = 24},  {.N = 2, .HW = 17, .C = 48},
    {.N = 64, .HW = 256, .C = 12}};
/* (N, D = C) for the diagonal Gaussian: D = 1, 7, 3072 (CIFAR), odd sizes on both sides of the
 * warp/block switch (1024) and N = 1. */
static const op_shape SHAPES_GAUSS_DIAG[] = {
    {.N = 1, .C = 1},    {.N = 1000, .C = 1}, {.N = 1, .C = 7},     {.N = 257, .C = 7},
    {.N = 10000, .C = 2}, {.N = 3, .C = 1024}, {.N = 3, .C = 1025},  {.N = 1, .C = 3072},
    {.N = 5, .C = 3072}, {.N = 64, .C = 768}};
/* n of each kind for the NCE loss. */
static const op_shape SHAPES_NCE[] = {{.N = 1},   {.N = 200},  {.N = 255},
                                   {.N = 257}, {.N = 1000}, {.N = 10000}};

/* (N rows, C = K classes) for softmax_xent: K = 1, the probe's K = 10 at batch and evaluation
 * sizes, K on both sides of a warp (32) and of 1024. */
static const op_shape SHAPES_SOFTMAX[] = {
    {.N = 1, .C = 1},     {.N = 1, .C = 10},   {.N = 128, .C = 10}, {.N = 257, .C = 10},
    {.N = 1024, .C = 10}, {.N = 10000, .C = 10}, {.N = 7, .C = 33},  {.N = 3, .C = 1000},
    {.N = 5, .C = 1025}};

/* (N, HW, C, count = K steps) for the batched 1×1-map ops: the 2D model's K = 10 steps of C = 2,
 * the image flow's C = 12, 24, 48, and one step. */
static const op_shape SHAPES_BATCH[] = {
    {.N = 200, .HW = 1, .C = 2, .count = 10}, {.N = 3, .HW = 16, .C = 12, .count = 3},
    {.N = 5, .HW = 4, .C = 24, .count = 1},  {.N = 2, .HW = 64, .C = 48, .count = 2},
    {.N = 257, .HW = 1, .C = 64, .count = 2}};

#define SHAPES(a) (a), (int)(sizeof(a) / sizeof((a)[0]))

// ---- the calls (buffer order = the row's bufs order) ----

#define F(i) ((float *)b[i])
#define U8(i) ((uint8_t *)b[i])
#define LABELS_AT(i) ((const int32_t *)b[i]) /* int32 labels stored in a float buffer */
/* A run function `fn` whose body is `return call;`. */
#define RUN(fn, call)                                                                              \
    static fce_status fn(fce_ctx *c, void *const *b, const op_shape *s,                            \
                         const fce_conv_plan *plan) {                                              \
        (void)b, (void)s, (void)plan;                                                              \
        return call;                                                                               \
    }

static size_t rows_of(const op_shape *s) { return (size_t)s->N * (size_t)s->HW; }
static size_t len_of(const op_shape *s) { return (size_t)s->N; }

RUN(run_fill_normal, c->ops->fill_normal(c, F(0), len_of(s), OP_RNG_SEED, OP_RNG_OFFSET, 1.5f))
RUN(run_fill_uniform,
    c->ops->fill_uniform(c, F(0), len_of(s), OP_RNG_SEED, OP_RNG_OFFSET, -2.0f, 3.0f))

RUN(run_linear_forward, c->ops->linear_forward(c, F(0), F(1), F(2), F(3), s->N, s->in, s->out))
RUN(run_linear_forward_nobias,
    c->ops->linear_forward(c, F(0), F(1), F(2), NULL, s->N, s->in, s->out))
RUN(run_linear_backward,
    c->ops->linear_backward(c, F(0), F(1), F(2), F(3), F(4), F(5), s->N, s->in, s->out))
RUN(run_linear_backward_dw_only,
    c->ops->linear_backward(c, NULL, F(0), NULL, F(1), F(2), F(3), s->N, s->in, s->out))
RUN(run_linear_backward_no_db,
    c->ops->linear_backward(c, F(0), F(1), NULL, F(2), F(3), F(4), s->N, s->in, s->out))

RUN(run_leaky_relu_forward, c->ops->leaky_relu_forward(c, F(0), F(1), len_of(s), 0.2f))
RUN(run_relu_forward, c->ops->leaky_relu_forward(c, F(0), F(1), len_of(s), 0.0f))
RUN(run_leaky_relu_backward, c->ops->leaky_relu_backward(c, F(0), F(1), F(2), len_of(s), 0.2f))
RUN(run_relu_backward, c->ops->leaky_relu_backward(c, F(0), F(1), F(2), len_of(s), 0.0f))
RUN(run_leaky_relu_backward_inplace, /* dx = dy */
    c->ops->leaky_relu_backward(c, F(0), F(0), F(1), len_of(s), 0.2f))

RUN(run_scale, c->ops->scale(c, F(0), F(1), len_of(s), -1.5f))
RUN(run_scale_inplace, c->ops->scale(c, F(0), F(0), len_of(s), -1.0f)) /* y = x */

RUN(run_channels_copy, c->ops->channels_copy(c, F(0), s->dst_C, s->dst_c0, F(1), s->C, s->src_c0,
                                             s->count, rows_of(s), 0))
RUN(run_channels_copy_acc, c->ops->channels_copy(c, F(0), s->dst_C, s->dst_c0, F(1), s->C,
                                                 s->src_c0, s->count, rows_of(s), 1))

RUN(run_actnorm_forward,
    c->ops->actnorm_forward(c, F(0), F(1), F(2), F(3), F(4), s->N, s->HW, s->C))
RUN(run_actnorm_forward_nologdet,
    c->ops->actnorm_forward(c, F(0), NULL, F(1), F(2), F(3), s->N, s->HW, s->C))
RUN(run_actnorm_inverse,
    c->ops->actnorm_inverse(c, F(0), F(1), F(2), F(3), F(4), s->N, s->HW, s->C))
RUN(run_actnorm_backward, c->ops->actnorm_backward(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6),
                                                   F(7), s->N, s->HW, s->C))
RUN(run_actnorm_backward_nodlogdet, c->ops->actnorm_backward(c, F(0), F(1), F(2), F(3), F(4), NULL,
                                                             F(5), F(6), s->N, s->HW, s->C))
RUN(run_actnorm_inverse_backward,
    c->ops->actnorm_inverse_backward(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), s->N,
                                     s->HW, s->C))
RUN(run_actnorm_init, c->ops->actnorm_init(c, F(0), F(1), F(2), s->N, s->HW, s->C))

RUN(run_invconv_lu_weights,
    c->ops->invconv_lu_weights(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), s->C))
RUN(run_invconv_lu_backward, c->ops->invconv_lu_backward(c, F(0), F(1), F(2), F(3), F(4), F(5),
                                                         F(6), F(7), F(8), F(9), F(10), s->C))
RUN(run_invconv_lu_backward_dw_only,
    c->ops->invconv_lu_backward(c, F(0), F(1), F(2), F(3), NULL, F(5), F(6), F(7), F(8), F(9),
                                F(10), s->C))
RUN(run_invconv_lu_backward_dwinv_only,
    c->ops->invconv_lu_backward(c, F(0), F(1), F(2), NULL, F(4), F(5), F(6), F(7), F(8), F(9),
                                F(10), s->C))
RUN(run_invconv_logdet_fwd, c->ops->invconv_logdet(c, F(0), F(1), s->N, s->HW, s->C, 1.0f))
RUN(run_invconv_logdet_inv, c->ops->invconv_logdet(c, F(0), F(1), s->N, s->HW, s->C, -1.0f))
RUN(run_invconv_logdet_backward_fwd,
    c->ops->invconv_logdet_backward(c, F(0), F(1), s->N, s->HW, s->C, 1.0f))
RUN(run_invconv_logdet_backward_inv,
    c->ops->invconv_logdet_backward(c, F(0), F(1), s->N, s->HW, s->C, -1.0f))

RUN(run_coupling_forward,
    c->ops->coupling_affine_forward(c, F(0), F(1), F(2), F(3), s->N, s->HW, s->C))
RUN(run_coupling_inverse,
    c->ops->coupling_affine_inverse(c, F(0), F(1), F(2), F(3), s->N, s->HW, s->C))
RUN(run_coupling_backward, c->ops->coupling_affine_backward(c, F(0), F(1), F(2), F(3), F(4), F(5),
                                                            s->N, s->HW, s->C))
RUN(run_coupling_backward_nodlogdet,
    c->ops->coupling_affine_backward(c, F(0), F(1), F(2), F(3), F(4), NULL, s->N, s->HW, s->C))
RUN(run_coupling_inverse_backward,
    c->ops->coupling_affine_inverse_backward(c, F(0), F(1), F(2), F(3), F(4), F(5), s->N, s->HW,
                                             s->C))

RUN(run_gaussian_logp, c->ops->gaussian_logp(c, F(0), F(1), s->N, s->C))
RUN(run_gaussian_logp_backward_acc,
    c->ops->gaussian_logp_backward_acc(c, F(0), F(1), F(2), s->N, s->C))

RUN(run_squeeze_forward, c->ops->squeeze_forward(c, F(0), F(1), s->N, s->H, s->W, s->C))
RUN(run_squeeze_inverse, c->ops->squeeze_inverse(c, F(0), F(1), s->N, s->H, s->W, s->C))

RUN(run_coupling_additive_forward,
    c->ops->coupling_additive_forward(c, F(0), F(1), F(2), rows_of(s), s->C))
RUN(run_coupling_additive_inverse,
    c->ops->coupling_additive_inverse(c, F(0), F(1), F(2), rows_of(s), s->C))
RUN(run_coupling_additive_backward_fwd,
    c->ops->coupling_additive_backward(c, F(0), F(1), F(2), rows_of(s), s->C, 1.0f))
RUN(run_coupling_additive_backward_inv,
    c->ops->coupling_additive_backward(c, F(0), F(1), F(2), rows_of(s), s->C, -1.0f))
RUN(run_coupling_additive_backward_fwd_inplace, /* din = dout */
    c->ops->coupling_additive_backward(c, F(0), F(1), F(0), rows_of(s), s->C, 1.0f))
RUN(run_coupling_additive_backward_inv_inplace,
    c->ops->coupling_additive_backward(c, F(0), F(1), F(0), rows_of(s), s->C, -1.0f))

RUN(run_gaussian_diag_logp, c->ops->gaussian_diag_logp(c, F(0), F(1), F(2), F(3), s->N, s->C))
RUN(run_gaussian_diag_backward,
    c->ops->gaussian_diag_logp_backward_acc(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), s->N,
                                            s->C))
RUN(run_gaussian_diag_backward_dz_only,
    c->ops->gaussian_diag_logp_backward_acc(c, F(0), NULL, NULL, F(1), F(2), F(3), F(4), s->N,
                                            s->C))

RUN(run_nce_ebm, c->ops->nce_loss(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8), F(9),
                                  F(10), s->N, 1.0f))
RUN(run_nce_flow, c->ops->nce_loss(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8), F(9),
                                   F(10), s->N, -1.0f))
RUN(run_nce_stats_only, c->ops->nce_loss(c, F(0), NULL, NULL, NULL, NULL, NULL, F(1), F(2), F(3),
                                         F(4), F(5), s->N, 1.0f))

RUN(run_softmax_xent,
    c->ops->softmax_xent(c, F(0), F(1), F(2), LABELS_AT(3), s->N, s->C, 1.0f / (float)s->N))
RUN(run_softmax_xent_stats_only,
    c->ops->softmax_xent(c, F(0), NULL, F(1), LABELS_AT(2), s->N, s->C, 1.0f))
RUN(run_softmax_xent_grad_only,
    c->ops->softmax_xent(c, NULL, F(0), F(1), LABELS_AT(2), s->N, s->C, 0.5f))

/* Three steps (t = 1, 2, 3) from the same gradient: bias correction and state carry-over. */
static fce_status run_adam_3(fce_ctx *c, void *const *b, const op_shape *s,
                             const fce_conv_plan *plan) {
    for (int t = 1; t <= 3; t++)
        FCE_TRY(c->ops->adam_step(c, F(0), F(1), F(2), F(3), len_of(s), 1e-3f, 0.9f, 0.999f, 1e-8f,
                                  t));
    return FCE_STATUS_OK;
}
static fce_status run_adamax_3(fce_ctx *c, void *const *b, const op_shape *s,
                               const fce_conv_plan *plan) {
    for (int t = 1; t <= 3; t++)
        FCE_TRY(c->ops->adamax_step(c, F(0), F(1), F(2), F(3), len_of(s), 2e-3f, 0.9f, 0.999f,
                                    1e-7f, t));
    return FCE_STATUS_OK;
}
/* One step at t = 10, as fce-bench times the optimizers. */
RUN(run_adam_t10,
    c->ops->adam_step(c, F(0), F(1), F(2), F(3), len_of(s), 1e-3f, 0.9f, 0.999f, 1e-7f, 10))
RUN(run_adamax_t10,
    c->ops->adamax_step(c, F(0), F(1), F(2), F(3), len_of(s), 1e-3f, 0.9f, 0.999f, 1e-7f, 10))

/* The step-indexed forms (CUDA graphs): the per-step value in a small backend buffer made here. */
static fce_status with_step_value(fce_ctx *c, const void *host, size_t bytes, void **dev) {
    FCE_TRY(c->ops->alloc(c, dev, bytes));
    fce_status st = c->ops->upload(c, *dev, host, bytes);
    if (st != FCE_STATUS_OK) c->ops->release(c, *dev);
    return st;
}
static fce_status run_fill_normal_at(fce_ctx *c, void *const *b, const op_shape *s,
                                     const fce_conv_plan *plan) {
    const uint64_t add = 12345; /* the same draws as fill_normal: offset + add = OP_RNG_OFFSET */
    void *d;
    FCE_TRY(with_step_value(c, &add, sizeof add, &d));
    fce_status st = c->ops->fill_normal_at(c, F(0), len_of(s), OP_RNG_SEED, OP_RNG_OFFSET - add, d, 1.5f);
    c->ops->release(c, d);
    return st;
}
static fce_status run_dequantize_at(fce_ctx *c, void *const *b, const op_shape *s,
                                    const fce_conv_plan *plan) {
    const uint64_t add = 777;
    void *d;
    FCE_TRY(with_step_value(c, &add, sizeof add, &d));
    fce_status st = c->ops->dequantize_at(c, F(0), U8(1), len_of(s), 8, OP_RNG_SEED, OP_RNG_OFFSET - add, d);
    c->ops->release(c, d);
    return st;
}
/* Three steps (t = 1, 2, 3), as run_adam_3 / run_adamax_3, the scalars uploaded per step. */
static fce_status run_optim_at_3(fce_ctx *c, void *const *b, const op_shape *s, int adamax) {
    double sched[FCE_ADAM_SCHED] = {0};
    void *d;
    FCE_TRY(with_step_value(c, sched, sizeof sched, &d));
    fce_status st = FCE_STATUS_OK;
    for (int t = 1; t <= 3 && st == FCE_STATUS_OK; t++) {
        if (adamax) fce_adamax_sched(sched, 2e-3f, 0.9f, t);
        else fce_adam_sched(sched, 1e-3f, 0.9f, 0.999f, t);
        st = c->ops->upload(c, d, sched, sizeof sched);
        if (st != FCE_STATUS_OK) break;
        st = adamax ? c->ops->adamax_step_at(c, F(0), F(1), F(2), F(3), len_of(s), 0.9f, 0.999f, 1e-7f, d)
                    : c->ops->adam_step_at(c, F(0), F(1), F(2), F(3), len_of(s), 0.9f, 0.999f, 1e-8f, d);
    }
    c->ops->release(c, d);
    return st;
}
static fce_status run_adam_at_3(fce_ctx *c, void *const *b, const op_shape *s, const fce_conv_plan *plan) {
    return run_optim_at_3(c, b, s, 0);
}
static fce_status run_adamax_at_3(fce_ctx *c, void *const *b, const op_shape *s, const fce_conv_plan *plan) {
    return run_optim_at_3(c, b, s, 1);
}

RUN(run_conv2d_forward, c->ops->conv2d_forward(c, plan, F(0), F(1), F(2), F(3)))
RUN(run_conv2d_forward_nobias, c->ops->conv2d_forward(c, plan, F(0), F(1), F(2), NULL))
RUN(run_conv2d_backward_data, c->ops->conv2d_backward_data(c, plan, F(0), F(1), F(2)))
RUN(run_conv2d_backward_filter, c->ops->conv2d_backward_filter(c, plan, F(0), F(1), F(2), F(3)))
RUN(run_conv2d_backward_filter_nodb,
    c->ops->conv2d_backward_filter(c, plan, F(0), NULL, F(1), F(2)))

/* 8 bits, the noise of the fills' seed and offset. */
RUN(run_dequantize, c->ops->dequantize(c, F(0), U8(1), len_of(s), 8, OP_RNG_SEED, OP_RNG_OFFSET))
RUN(run_postprocess, c->ops->postprocess(c, U8(0), F(1), len_of(s), 8))

/* ---- the invertible maps' products and the fused ops of the additive flow (fce/ops.def) ---- */
RUN(run_invconv_forward, c->ops->invconv_forward(c, F(0), F(1), F(2), (int)rows_of(s), s->C))
RUN(run_invconv_forward_halves,
    c->ops->invconv_forward_halves(c, F(0), F(1), F(2), (int)rows_of(s), s->C))
RUN(run_invconv_backward,
    c->ops->invconv_backward(c, F(0), F(1), F(2), F(3), F(4), (int)rows_of(s), s->C))
RUN(run_actnorm_relu_forward,
    c->ops->actnorm_relu_forward(c, F(0), F(1), F(2), F(3), s->N, s->HW, s->C))
RUN(run_actnorm_relu_backward, c->ops->actnorm_relu_backward(c, F(0), F(1), F(2), F(3), F(4), F(5),
                                                              F(6), s->N, s->HW, s->C, F(7)))
RUN(run_actnorm_backward_ws, c->ops->actnorm_backward_ws(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6),
                                                          F(7), s->N, s->HW, s->C, F(8)))
RUN(run_actnorm_inverse_backward_ws,
    c->ops->actnorm_inverse_backward_ws(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), s->N,
                                        s->HW, s->C, F(8)))
RUN(run_actnorm_inverse_split,
    c->ops->actnorm_inverse_split(c, F(0), F(1), F(2), F(3), F(4), s->N, s->HW, s->C))
RUN(run_coupling_fused_forward,
    c->ops->coupling_additive_forward_fused(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8),
                                            rows_of(s), s->C))
RUN(run_coupling_fused_forward_last, /* the block's last step: no next actnorm */
    c->ops->coupling_additive_forward_fused(c, F(0), NULL, F(1), F(2), F(3), F(4), F(5), NULL, NULL,
                                            rows_of(s), s->C))
RUN(run_coupling_fused_inverse,
    c->ops->coupling_additive_inverse_fused(c, F(0), F(1), F(2), F(3), F(4), F(5), rows_of(s), s->C))
RUN(run_coupling_net_backward_fwd,
    c->ops->coupling_additive_net_backward(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), rows_of(s),
                                           s->C, 1.0f, F(7)))
RUN(run_coupling_net_backward_inv,
    c->ops->coupling_additive_net_backward(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), rows_of(s),
                                           s->C, -1.0f, F(7)))

/* The batched ops' frozen perm and sign of K steps (one step every C floats): step k's perm a
 * rotation by k, signs alternating with k. Written by the call itself on either backend, so both
 * get the same values; the buffers' own inits are overwritten. */
static fce_status batch_perm_sign(fce_ctx *c, float *perm, float *sign, const op_shape *s) {
    const size_t n = (size_t)s->count * (size_t)s->C;
    float *h = malloc(2 * n * sizeof *h);
    if (!h) return FCE_STATUS_ERR_NOMEM;
    for (int k = 0; k < s->count; k++)
        for (int i = 0; i < s->C; i++) {
            h[(size_t)k * s->C + i] = (float)((i + k) % s->C);
            h[n + (size_t)k * s->C + i] = ((i + k) % 2) ? -1.0f : 1.0f;
        }
    fce_status st = c->ops->upload(c, perm, h, n * sizeof *h);
    if (st == FCE_STATUS_OK) st = c->ops->upload(c, sign, h + n, n * sizeof *h);
    free(h);
    return st;
}

/* W, W⁻¹ and the log-dets of K steps (trainable tensors every C² floats), then the log-dets added
 * to a per-sample accumulator (dir = +1 in order, −1 in reverse): the consts are doubles, so the
 * case compares what they add up to. bufs: W, Winv, logdet, perm, sign, L, U, logs, an_logs,
 * consts (scratch). */
static fce_status batch_weights(fce_ctx *c, void *const *b, const op_shape *s, float dir) {
    const size_t cc = (size_t)s->C * (size_t)s->C;
    FCE_TRY(batch_perm_sign(c, F(3), F(4), s));
    FCE_TRY(c->ops->invconv_lu_weights_batch(c, F(0), F(1), (double *)b[9], F(3), F(4), F(5), F(6),
                                             F(7), F(8), s->count, cc, (size_t)s->C, s->C, s->HW));
    return c->ops->logdet_add_consts(c, F(2), (const double *)b[9], 2 * s->count, s->N, dir);
}
static fce_status run_invconv_batch_fwd(fce_ctx *c, void *const *b, const op_shape *s,
                                        const fce_conv_plan *plan) {
    (void)plan;
    return batch_weights(c, b, s, 1.0f);
}
static fce_status run_invconv_batch_inv(fce_ctx *c, void *const *b, const op_shape *s,
                                        const fce_conv_plan *plan) {
    (void)plan;
    return batch_weights(c, b, s, -1.0f);
}
/* bufs: dL, dU, dlogs, dW, dWinv, Winv, perm, sign, L, U, logs */
static fce_status run_invconv_lu_backward_batch(fce_ctx *c, void *const *b, const op_shape *s,
                                                const fce_conv_plan *plan) {
    (void)plan;
    const size_t cc = (size_t)s->C * (size_t)s->C;
    FCE_TRY(batch_perm_sign(c, F(6), F(7), s));
    return c->ops->invconv_lu_backward_batch(c, F(0), F(1), F(2), F(3), F(4), F(5), F(6), F(7), F(8),
                                             F(9), F(10), s->count, cc, (size_t)s->C, s->C);
}
RUN(run_invconv_logdet_backward_batch_fwd,
    c->ops->invconv_logdet_backward_batch(c, F(0), F(1), s->count, (size_t)s->C * (size_t)s->C, s->N,
                                          s->HW, s->C, 1.0f))
RUN(run_invconv_logdet_backward_batch_inv,
    c->ops->invconv_logdet_backward_batch(c, F(0), F(1), s->count, (size_t)s->C * (size_t)s->C, s->N,
                                          s->HW, s->C, -1.0f))

// ---- the table ----

/* An input in [lo, hi]; an output of class t pre-filled in [lo, hi] (accumulated, or in place); an
 * overwritten output of class t pre-filled with garbage; the special inputs. */
#define IN(nm, d, lo, hi) {nm, d, OP_IN, INIT_UNIFORM, lo, hi, TOL_IN}
#define ACC(nm, d, lo, hi, t) {nm, d, OP_ACC, INIT_UNIFORM, lo, hi, t}
#define GARBAGE(nm, d, t) {nm, d, OP_OUT, INIT_UNIFORM, 7.0f, 9.0f, t}
#define PERM(nm, d) {nm, d, OP_IN, INIT_PERM, 0, 0, TOL_IN}
#define SIGN(nm, d) {nm, d, OP_IN, INIT_SIGN, 0, 0, TOL_IN}
#define LABELS(nm, d) {nm, d, OP_IN, INIT_LABEL, 0, 0, TOL_IN}

/* Buffer groups several rows share. */
#define LINEAR_DW ACC("dW", "OI", -1, 1, TOL_GEMM_N)
#define LINEAR_BW_INPUTS IN("dy", "NO", -1, 1), IN("x", "NI", -1, 1), IN("W", "OI", -1, 1)
#define GAUSS_DIAG_INPUTS IN("z", "NC", -3, 3), IN("mean", "NC", -1, 1), IN("logs", "NC", -1, 1)
#define ACTNORM_PARAMS IN("bias", "C", -1, 1), IN("logs", "C", -0.3f, 0.3f)
/* a backward's gradients, the gradient it starts from (dout) and the activation it reads */
#define ACTNORM_BW(din, dout, act)                                                                 \
    GARBAGE(din, "NHC", TOL_ELEM), ACC("dbias", "C", -1, 1, TOL_RED),                              \
        ACC("dlogs", "C", -1, 1, TOL_RED), IN(dout, "NHC", -1, 1), IN(act, "NHC", -2, 2)
#define LOGDET ACC("logdet", "N", -5, 5, TOL_RED)
#define DLOGDET IN("dlogdet", "N", -1, 1)
#define INVCONV_LU_PARAMS                                                                          \
    PERM("perm", "C"), SIGN("sign", "C"), IN("L", "CC", -0.3f, 0.3f), IN("U", "CC", -0.3f, 0.3f),  \
        IN("logs", "C", -0.3f, 0.3f)
/* invconv_lu_backward's buffers, named dW / dWinv (or "...(unused)" where the call passes NULL) */
#define INVCONV_LU_BW(dW, dWinv)                                                                   \
    ACC("dL", "CC", -1, 1, TOL_RED), ACC("dU", "CC", -1, 1, TOL_RED),                              \
        ACC("dlogs", "C", -1, 1, TOL_RED), IN(dW, "CC", -1, 1), IN(dWinv, "CC", -1, 1),            \
        IN("Winv", "CC", -0.5f, 0.5f), INVCONV_LU_PARAMS
#define COUPLING_BW(din, dout, act)                                                                \
    GARBAGE(din, "NHC", TOL_ELEM), GARBAGE("dh", "NHC", TOL_ELEM), IN(dout, "NHC", -1, 1),         \
        IN(act, "NHC", -2, 2), IN("h", "NHC", -3, 3)
#define NCE_GRADS                                                                                  \
    GARBAGE("dfx", "N", TOL_ELEM), GARBAGE("dfxt", "N", TOL_ELEM), GARBAGE("dlq", "N", TOL_ELEM),  \
        GARBAGE("dlqt", "N", TOL_ELEM), ACC("dc", "1", -1, 1, TOL_RED)
#define NCE_INPUTS(r)                                                                              \
    IN("fx", "N", -r, r), IN("fxt", "N", -r, r), IN("lq", "N", -r, r), IN("lqt", "N", -r, r),      \
        IN("c", "1", -1, 1)
#define ADAM_STATE(v, v_hi)                                                                        \
    ACC("p", "N", -1, 1, TOL_ELEM), IN("g", "N", -1, 1), ACC("m", "N", -0.1f, 0.1f, TOL_ELEM),     \
        ACC(v, "N", 0, v_hi, TOL_ELEM)
#define CONV_X IN("x", "NYXI", -1, 1)
#define CONV_DY IN("dy", "NPO", -1, 1)
#define CONV_W {"w", "ORI", OP_IN, INIT_FAN_IN, -1, 1, TOL_IN}

/* the actnorm backwards' work buffer for C channels: 4·4·4·8·C floats ≥ fce_actnorm_work_floats(C)
 * = 256 + 256·C (backend.h; dims digits multiply) */
#define WORK(d) IN("work", "4448" d, 0, 0)
#define RELU_OUT(nm, d) {nm, d, OP_IN, INIT_RELU, -2, 2, TOL_IN}
/* invconv_lu_weights_batch + logdet_add_consts: W, W⁻¹ and logdet compared; perm and sign are
 * written by the call; consts is scratch (2K doubles) */
#define BATCH_WEIGHTS_BUFS                                                                         \
    GARBAGE("W", "KCC", TOL_RED), GARBAGE("Winv", "KCC", TOL_RED), LOGDET, IN("perm", "KC", 0, 0), \
        IN("sign", "KC", 0, 0), IN("L", "KCC", -0.3f, 0.3f), IN("U", "KCC", -0.3f, 0.3f),         \
        IN("logs", "KCC", -0.3f, 0.3f), IN("an_logs", "KCC", -0.3f, 0.3f), IN("consts", "4K", 0, 0)
#define INVCONV_FWD_BUFS GARBAGE("y", "NHC", TOL_GEMM), IN("x", "NHC", -1, 1), IN("W", "CC", -1, 1)
#define COUPLING_NET_BW                                                                            \
    GARBAGE("draw", "NHc", TOL_ELEM), ACC("h_dbias", "c", -1, 1, TOL_RED),                         \
        ACC("h_dlogs", "c", -1, 1, TOL_RED), IN("dout", "NHC", -1, 1), IN("h", "NHc", -2, 2),      \
        IN("h_bias", "c", -1, 1), IN("h_logs", "c", -0.3f, 0.3f), WORK("C")

const op_case op_cases[] = {
    {"rng", "fill_normal", run_fill_normal, {GARBAGE("x", "N", TOL_RNG_NORMAL)},
     SHAPES(SHAPES_FLAT)},
    {"rng", "fill_uniform", run_fill_uniform, {GARBAGE("x", "N", TOL_RNG_UNIFORM)},
     SHAPES(SHAPES_FLAT)},
    {"rng", "fill_normal_at", run_fill_normal_at, {GARBAGE("x", "N", TOL_RNG_NORMAL)},
     SHAPES(SHAPES_FLAT)},

    {"linear", "linear_forward", run_linear_forward,
     {GARBAGE("y", "NO", TOL_GEMM), IN("x", "NI", -1, 1), IN("W", "OI", -1, 1),
      IN("b", "O", -1, 1)},
     SHAPES(SHAPES_LINEAR)},
    {"linear", "linear_forward_nobias", run_linear_forward_nobias,
     {GARBAGE("y", "NO", TOL_GEMM), IN("x", "NI", -1, 1), IN("W", "OI", -1, 1)},
     SHAPES(SHAPES_LINEAR)},
    {"linear", "linear_backward", run_linear_backward,
     {GARBAGE("dx", "NI", TOL_GEMM), LINEAR_DW, ACC("db", "O", -1, 1, TOL_RED), LINEAR_BW_INPUTS},
     SHAPES(SHAPES_LINEAR)},
    {"linear", "linear_backward_dW_only", run_linear_backward_dw_only,
     {LINEAR_DW, LINEAR_BW_INPUTS},
     SHAPES(SHAPES_LINEAR)},

    {"act", "leaky_relu_forward", run_leaky_relu_forward,
     {GARBAGE("y", "N", TOL_ELEM), IN("x", "N", -2, 2)}, SHAPES(SHAPES_FLAT)},
    {"act", "relu_forward", run_relu_forward, {GARBAGE("y", "N", TOL_ELEM), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    {"act", "leaky_relu_backward", run_leaky_relu_backward,
     {GARBAGE("dx", "N", TOL_ELEM), IN("dy", "N", -2, 2), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    {"act", "leaky_relu_backward_inplace", run_leaky_relu_backward_inplace,
     {ACC("dx=dy", "N", -2, 2, TOL_ELEM), IN("x", "N", -2, 2)}, SHAPES(SHAPES_FLAT)},
    {"act", "scale", run_scale, {GARBAGE("y", "N", TOL_ELEM), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    {"act", "scale_inplace", run_scale_inplace, {ACC("y=x", "N", -2, 2, TOL_ELEM)},
     SHAPES(SHAPES_FLAT)},
    {"act", "channels_copy", run_channels_copy,
     {ACC("dst", "NHD", -1, 1, TOL_ELEM), IN("src", "NHC", -1, 1)}, SHAPES(SHAPES_COPY)},
    {"act", "channels_copy_acc", run_channels_copy_acc,
     {ACC("dst", "NHD", -1, 1, TOL_ELEM), IN("src", "NHC", -1, 1)}, SHAPES(SHAPES_COPY)},

    {"actnorm", "actnorm_forward", run_actnorm_forward,
     {GARBAGE("y", "NHC", TOL_ELEM), LOGDET, IN("x", "NHC", -2, 2), ACTNORM_PARAMS},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_forward_nologdet", run_actnorm_forward_nologdet,
     {GARBAGE("y", "NHC", TOL_ELEM), IN("x", "NHC", -2, 2), ACTNORM_PARAMS}, SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_inverse", run_actnorm_inverse,
     {GARBAGE("x", "NHC", TOL_ELEM), LOGDET, IN("y", "NHC", -2, 2), ACTNORM_PARAMS},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_backward", run_actnorm_backward,
     {ACTNORM_BW("dx", "dy", "y"), DLOGDET, ACTNORM_PARAMS},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_backward_nodlogdet", run_actnorm_backward_nodlogdet,
     {ACTNORM_BW("dx", "dy", "y"), ACTNORM_PARAMS},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_inverse_backward", run_actnorm_inverse_backward,
     {ACTNORM_BW("dy", "dx", "x"), DLOGDET, ACTNORM_PARAMS},
     SHAPES(SHAPES_FLOW)},
    {"actnorm", "actnorm_init", run_actnorm_init,
     {GARBAGE("bias", "C", TOL_RED), GARBAGE("logs", "C", TOL_RED), IN("x", "NHC", -2, 3)},
     SHAPES(SHAPES_FLOW)},

    {"invconv", "invconv_lu_weights", run_invconv_lu_weights,
     {GARBAGE("W", "CC", TOL_RED), GARBAGE("Winv", "CC", TOL_RED), INVCONV_LU_PARAMS},
     SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_lu_backward", run_invconv_lu_backward,
     {INVCONV_LU_BW("dW", "dWinv")}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_lu_backward_dW_only", run_invconv_lu_backward_dw_only,
     {INVCONV_LU_BW("dW", "dWinv(unused)")}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_lu_backward_dWinv_only", run_invconv_lu_backward_dwinv_only,
     {INVCONV_LU_BW("dW(unused)", "dWinv")}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_forward", run_invconv_logdet_fwd,
     {LOGDET, IN("logs", "C", -0.5f, 0.5f)}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_inverse", run_invconv_logdet_inv,
     {LOGDET, IN("logs", "C", -0.5f, 0.5f)}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_backward_forward", run_invconv_logdet_backward_fwd,
     {ACC("dlogs", "C", -1, 1, TOL_RED), DLOGDET}, SHAPES(SHAPES_INVCONV)},
    {"invconv", "invconv_logdet_backward_inverse", run_invconv_logdet_backward_inv,
     {ACC("dlogs", "C", -1, 1, TOL_RED), DLOGDET}, SHAPES(SHAPES_INVCONV)},

    {"coupling", "coupling_affine_forward", run_coupling_forward,
     {GARBAGE("y", "NHC", TOL_ELEM), LOGDET, IN("x", "NHC", -2, 2), IN("h", "NHC", -3, 3)},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_inverse", run_coupling_inverse,
     {GARBAGE("x", "NHC", TOL_ELEM), LOGDET, IN("y", "NHC", -2, 2), IN("h", "NHC", -3, 3)},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_backward", run_coupling_backward,
     {COUPLING_BW("dx", "dy", "y"), DLOGDET},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_backward_nodlogdet", run_coupling_backward_nodlogdet,
     {COUPLING_BW("dx", "dy", "y")},
     SHAPES(SHAPES_FLOW)},
    {"coupling", "coupling_affine_inverse_backward", run_coupling_inverse_backward,
     {COUPLING_BW("dy", "dx", "x"), DLOGDET},
     SHAPES(SHAPES_FLOW)},

    {"gaussian", "gaussian_logp", run_gaussian_logp,
     {ACC("logp", "N", -5, 5, TOL_RED), IN("z", "NC", -3, 3)}, SHAPES(SHAPES_GAUSS)},
    {"gaussian", "gaussian_logp_backward_acc", run_gaussian_logp_backward_acc,
     {ACC("dz", "NC", -1, 1, TOL_ELEM), IN("z", "NC", -3, 3), IN("dlogp", "N", -1, 1)},
     SHAPES(SHAPES_GAUSS)},

    {"squeeze", "squeeze_forward", run_squeeze_forward,
     {GARBAGE("y", "NYXC", TOL_ELEM), IN("x", "NYXC", -3, 3)}, SHAPES(SHAPES_SQUEEZE)},
    {"squeeze", "squeeze_inverse", run_squeeze_inverse,
     {GARBAGE("x", "NYXC", TOL_ELEM), IN("y", "NYXC", -3, 3)}, SHAPES(SHAPES_SQUEEZE)},

    {"coupling_additive", "coupling_additive_forward", run_coupling_additive_forward,
     {GARBAGE("y", "NHC", TOL_ELEM), IN("x", "NHC", -2, 2), IN("h", "NHc", -3, 3)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_inverse", run_coupling_additive_inverse,
     {GARBAGE("x", "NHC", TOL_ELEM), IN("y", "NHC", -2, 2), IN("h", "NHc", -3, 3)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_backward_of_forward",
     run_coupling_additive_backward_fwd,
     {GARBAGE("din", "NHC", TOL_ELEM), GARBAGE("dh", "NHc", TOL_ELEM), IN("dout", "NHC", -1, 1)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_backward_of_inverse",
     run_coupling_additive_backward_inv,
     {GARBAGE("din", "NHC", TOL_ELEM), GARBAGE("dh", "NHc", TOL_ELEM), IN("dout", "NHC", -1, 1)},
     SHAPES(SHAPES_ADDITIVE)},
    /* din = dout (in place): the buffer must come out unchanged, dh still filled. */
    {"coupling_additive", "coupling_additive_backward_of_forward_inplace",
     run_coupling_additive_backward_fwd_inplace,
     {ACC("dout", "NHC", -1, 1, TOL_ELEM), GARBAGE("dh", "NHc", TOL_ELEM)},
     SHAPES(SHAPES_ADDITIVE)},
    {"coupling_additive", "coupling_additive_backward_of_inverse_inplace",
     run_coupling_additive_backward_inv_inplace,
     {ACC("dout", "NHC", -1, 1, TOL_ELEM), GARBAGE("dh", "NHc", TOL_ELEM)},
     SHAPES(SHAPES_ADDITIVE)},

    {"gaussian_diag", "gaussian_diag_logp", run_gaussian_diag_logp,
     {ACC("logp", "N", -5, 5, TOL_RED), GAUSS_DIAG_INPUTS},
     SHAPES(SHAPES_GAUSS_DIAG)},
    {"gaussian_diag", "gaussian_diag_logp_backward_acc", run_gaussian_diag_backward,
     {ACC("dz", "NC", -1, 1, TOL_ELEM), GARBAGE("dmean", "NC", TOL_ELEM),
      GARBAGE("dlogs", "NC", TOL_ELEM), GAUSS_DIAG_INPUTS, IN("dlogp", "N", -1, 1)},
     SHAPES(SHAPES_GAUSS_DIAG)},
    {"gaussian_diag", "gaussian_diag_logp_backward_acc_dz_only", run_gaussian_diag_backward_dz_only,
     {ACC("dz", "NC", -1, 1, TOL_ELEM), GAUSS_DIAG_INPUTS, IN("dlogp", "N", -1, 1)},
     SHAPES(SHAPES_GAUSS_DIAG)},

    {"nce", "nce_loss_ebm", run_nce_ebm,
     {GARBAGE("stats", "2", TOL_RED), NCE_GRADS, NCE_INPUTS(3)}, SHAPES(SHAPES_NCE)},
    {"nce", "nce_loss_flow", run_nce_flow,
     {GARBAGE("stats", "2", TOL_RED), NCE_GRADS, NCE_INPUTS(3)}, SHAPES(SHAPES_NCE)},
    /* Logits up to ±120: softplus and σ must not overflow. */
    {"nce", "nce_loss_extreme_logits", run_nce_ebm,
     {GARBAGE("stats", "2", TOL_RED), NCE_GRADS, NCE_INPUTS(60)}, SHAPES(SHAPES_NCE)},
    {"nce", "nce_loss_stats_only", run_nce_stats_only,
     {GARBAGE("stats", "2", TOL_RED), NCE_INPUTS(3)}, SHAPES(SHAPES_NCE)},

    /* stats accumulate (pre-filled), dlogits are overwritten; labels are int32 bit patterns */
    {"softmax", "softmax_xent", run_softmax_xent,
     {ACC("stats", "2", 0, 5, TOL_RED), GARBAGE("dlogits", "NC", TOL_ELEM),
      IN("logits", "NC", -4, 4), LABELS("labels", "N")},
     SHAPES(SHAPES_SOFTMAX)},
    /* logits up to ±1000: the max-subtracted form must stay finite */
    {"softmax", "softmax_xent_extreme_logits", run_softmax_xent,
     {ACC("stats", "2", 0, 5, TOL_RED), GARBAGE("dlogits", "NC", TOL_ELEM),
      IN("logits", "NC", -1000, 1000), LABELS("labels", "N")},
     SHAPES(SHAPES_SOFTMAX)},
    {"softmax", "softmax_xent_stats_only", run_softmax_xent_stats_only,
     {ACC("stats", "2", 0, 5, TOL_RED), IN("logits", "NC", -4, 4), LABELS("labels", "N")},
     SHAPES(SHAPES_SOFTMAX)},
    {"softmax", "softmax_xent_grad_only", run_softmax_xent_grad_only,
     {GARBAGE("dlogits", "NC", TOL_ELEM), IN("logits", "NC", -4, 4), LABELS("labels", "N")},
     SHAPES(SHAPES_SOFTMAX)},

    {"optim", "adam_step_x3", run_adam_3, {ADAM_STATE("v", 0.01f)}, SHAPES(SHAPES_FLAT)},
    {"optim", "adamax_step_x3", run_adamax_3, {ADAM_STATE("u", 0.5f)}, SHAPES(SHAPES_FLAT)},
    {"optim", "adam_step_at_x3", run_adam_at_3, {ADAM_STATE("v", 0.01f)}, SHAPES(SHAPES_FLAT)},
    {"optim", "adamax_step_at_x3", run_adamax_at_3, {ADAM_STATE("u", 0.5f)}, SHAPES(SHAPES_FLAT)},

    /* ---- the calls fce-bench times that the rows above do not make ---- */
    {"optim", "adam_step", run_adam_t10, {ADAM_STATE("v", 0.01f)}, SHAPES(SHAPES_FLAT)},
    {"optim", "adamax_step", run_adamax_t10, {ADAM_STATE("u", 0.5f)}, SHAPES(SHAPES_FLAT)},
    {"act", "relu_backward", run_relu_backward,
     {GARBAGE("dx", "N", TOL_ELEM), IN("dy", "N", -2, 2), IN("x", "N", -2, 2)},
     SHAPES(SHAPES_FLAT)},
    /* the invertible 1×1 conv's backward: no bias */
    {"linear", "linear_backward_no_db", run_linear_backward_no_db,
     {GARBAGE("dx", "NI", TOL_GEMM), LINEAR_DW, LINEAR_BW_INPUTS},
     SHAPES(SHAPES_LINEAR)},
    /* The convolutions (test_gpu_conv.c compares them, with reruns for determinism) and the u8
     * image ops (test_gpu_ops.c's preprocess test, with special values): fce-bench only. */
    {NULL, "conv2d_forward", run_conv2d_forward,
     {GARBAGE("y", "NPO", TOL_CONV_Y), CONV_X, CONV_W, IN("b", "O", -1, 1)}, NULL, 0},
    {NULL, "conv2d_forward_nobias", run_conv2d_forward_nobias,
     {GARBAGE("y", "NPO", TOL_CONV_Y), CONV_X, CONV_W}, NULL, 0},
    {NULL, "conv2d_backward_data", run_conv2d_backward_data,
     {GARBAGE("dx", "NYXI", TOL_CONV_DX), CONV_DY, CONV_W}, NULL, 0},
    {NULL, "conv2d_backward_filter", run_conv2d_backward_filter,
     {ACC("dw", "ORI", -1, 1, TOL_CONV_DW), ACC("db", "O", -1, 1, TOL_CONV_DW), CONV_DY, CONV_X},
     NULL, 0},
    {NULL, "conv2d_backward_filter_nodb", run_conv2d_backward_filter_nodb,
     {ACC("dw", "ORI", -1, 1, TOL_CONV_DW), CONV_DY, CONV_X}, NULL, 0},
    {NULL, "dequantize", run_dequantize,
     {GARBAGE("x", "N", TOL_EXACT), {"u8", "N", OP_IN, INIT_BYTES, 0, 256, TOL_IN}}, NULL, 0},
    {NULL, "dequantize_at", run_dequantize_at,
     {GARBAGE("x", "N", TOL_EXACT), {"u8", "N", OP_IN, INIT_BYTES, 0, 256, TOL_IN}}, NULL, 0},
    {NULL, "postprocess", run_postprocess,
     {{"u8", "N", OP_OUT, INIT_BYTES, 171, 171, TOL_EXACT}, IN("x", "N", -0.6f, 0.6f)}, NULL, 0},

    /* ---- issue 12: the invertible maps' products (exact FP32 also under TF32; dense-layer
     * GEMMs, so the "linear" family's tolerance on the fast CPU backend too) and the fused ops
     * of the additive flow; WORK: the actnorm backwards' work buffer (zero at start, scratch) ---- */
    {"linear", "invconv_forward", run_invconv_forward, {INVCONV_FWD_BUFS}, SHAPES(SHAPES_ADDITIVE)},
    {"linear", "invconv_forward_halves", run_invconv_forward_halves, {INVCONV_FWD_BUFS},
     SHAPES(SHAPES_ADDITIVE)},
    {"linear", "invconv_backward", run_invconv_backward,
     {GARBAGE("dx", "NHC", TOL_GEMM), ACC("dW", "CC", -1, 1, TOL_GEMM_N), IN("dy", "NHC", -1, 1),
      IN("x", "NHC", -1, 1), IN("W", "CC", -1, 1)},
     SHAPES(SHAPES_ADDITIVE)},
    {"invconv", "invconv_lu_weights_batch_logdet_fwd", run_invconv_batch_fwd,
     {BATCH_WEIGHTS_BUFS}, SHAPES(SHAPES_BATCH)},
    {"invconv", "invconv_lu_weights_batch_logdet_inv", run_invconv_batch_inv,
     {BATCH_WEIGHTS_BUFS}, SHAPES(SHAPES_BATCH)},
    {"invconv", "invconv_lu_backward_batch", run_invconv_lu_backward_batch,
     {ACC("dL", "KCC", -1, 1, TOL_RED), ACC("dU", "KCC", -1, 1, TOL_RED),
      ACC("dlogs", "KCC", -1, 1, TOL_RED), IN("dW", "KCC", -1, 1), IN("dWinv", "KCC", -1, 1),
      IN("Winv", "KCC", -0.5f, 0.5f), IN("perm", "KC", 0, 0), IN("sign", "KC", 0, 0),
      IN("L", "KCC", -0.3f, 0.3f), IN("U", "KCC", -0.3f, 0.3f), IN("logs", "KCC", -0.3f, 0.3f)},
     SHAPES(SHAPES_BATCH)},
    {"invconv", "invconv_logdet_backward_batch_fwd", run_invconv_logdet_backward_batch_fwd,
     {ACC("dlogs", "KCC", -1, 1, TOL_RED), DLOGDET}, SHAPES(SHAPES_BATCH)},
    {"invconv", "invconv_logdet_backward_batch_inv", run_invconv_logdet_backward_batch_inv,
     {ACC("dlogs", "KCC", -1, 1, TOL_RED), DLOGDET}, SHAPES(SHAPES_BATCH)},
    {"fused", "actnorm_relu_forward", run_actnorm_relu_forward,
     {GARBAGE("y", "NHC", TOL_ELEM), IN("x", "NHC", -2, 2), ACTNORM_PARAMS}, SHAPES(SHAPES_FLOW)},
    /* y: a ReLU output, so ≥ 0, with exact zeros where the mask closes */
    {"fused", "actnorm_relu_backward", run_actnorm_relu_backward,
     {GARBAGE("dx", "NHC", TOL_ELEM), ACC("dbias", "C", -1, 1, TOL_RED),
      ACC("dlogs", "C", -1, 1, TOL_RED), IN("dy", "NHC", -1, 1), RELU_OUT("y", "NHC"),
      ACTNORM_PARAMS, WORK("C")},
     SHAPES(SHAPES_FLOW)},
    {"fused", "actnorm_backward_ws", run_actnorm_backward_ws,
     {ACTNORM_BW("dx", "dy", "y"), DLOGDET, ACTNORM_PARAMS, WORK("C")}, SHAPES(SHAPES_FLOW)},
    {"fused", "actnorm_inverse_backward_ws", run_actnorm_inverse_backward_ws,
     {ACTNORM_BW("dy", "dx", "x"), DLOGDET, ACTNORM_PARAMS, WORK("C")}, SHAPES(SHAPES_FLOW)},
    {"fused", "actnorm_inverse_split", run_actnorm_inverse_split,
     {GARBAGE("x", "NHC", TOL_ELEM), GARBAGE("xa", "NHc", TOL_ELEM), IN("y", "NHC", -2, 2),
      ACTNORM_PARAMS},
     SHAPES(SHAPES_ADDITIVE)},
    {"fused", "coupling_additive_forward_fused", run_coupling_fused_forward,
     {GARBAGE("x_next", "NHC", TOL_ELEM), GARBAGE("y1_next", "NHC", TOL_ELEM),
      GARBAGE("h", "NHc", TOL_ELEM), IN("y", "NHC", -2, 2), IN("raw", "NHc", -2, 2),
      IN("h_bias", "c", -1, 1), IN("h_logs", "c", -0.3f, 0.3f), ACTNORM_PARAMS},
     SHAPES(SHAPES_ADDITIVE)},
    {"fused", "coupling_additive_forward_fused_last", run_coupling_fused_forward_last,
     {GARBAGE("x_next", "NHC", TOL_ELEM), GARBAGE("h", "NHc", TOL_ELEM), IN("y", "NHC", -2, 2),
      IN("raw", "NHc", -2, 2), IN("h_bias", "c", -1, 1), IN("h_logs", "c", -0.3f, 0.3f)},
     SHAPES(SHAPES_ADDITIVE)},
    {"fused", "coupling_additive_inverse_fused", run_coupling_fused_inverse,
     {GARBAGE("y", "NHC", TOL_ELEM), GARBAGE("h", "NHc", TOL_ELEM), IN("x", "NHC", -2, 2),
      IN("raw", "NHc", -2, 2), IN("h_bias", "c", -1, 1), IN("h_logs", "c", -0.3f, 0.3f)},
     SHAPES(SHAPES_ADDITIVE)},
    {"fused", "coupling_additive_net_backward_fwd", run_coupling_net_backward_fwd,
     {COUPLING_NET_BW}, SHAPES(SHAPES_ADDITIVE)},
    {"fused", "coupling_additive_net_backward_inv", run_coupling_net_backward_inv,
     {COUPLING_NET_BW}, SHAPES(SHAPES_ADDITIVE)},
};

const int op_n_cases = (int)(sizeof op_cases / sizeof op_cases[0]);

// ---- convolution shapes ----

#define SH(N_, H_, W_, CI, CO, KH_, KW_, S, P)                                                     \
    {.N = (N_), .H = (H_), .W = (W_), .Cin = (CI), .Cout = (CO), .KH = (KH_), .KW = (KW_),         \
     .stride = (S), .pad = (P)}

/* Glow coupling NN at the three levels (16×16, 8×8, 4×4; C = 12, 24, 48; N = 2): 3×3 pad 1
 * C/2 → 512, 1×1 512 → 512, zero conv 3×3 pad 1 512 → C. EBM: 4×4 stride 2 pad 1 convs and the
 * final 4×4 valid conv. Odd: N = 1, 5×7 images, stride 2 leaving rows uncovered, KH ≠ KW. */
const fce_conv_shape op_conv_shapes[] = {
    /* coupling NN, first conv */
    SH(2, 16, 16, 6, 512, 3, 3, 1, 1),
    SH(2, 8, 8, 12, 512, 3, 3, 1, 1),
    SH(2, 4, 4, 24, 512, 3, 3, 1, 1),
    /* coupling NN, 1×1 */
    SH(2, 16, 16, 512, 512, 1, 1, 1, 0),
    SH(2, 8, 8, 512, 512, 1, 1, 1, 0),
    SH(2, 4, 4, 512, 512, 1, 1, 1, 0),
    /* coupling NN, zero conv */
    SH(2, 16, 16, 512, 12, 3, 3, 1, 1),
    SH(2, 8, 8, 512, 24, 3, 3, 1, 1),
    SH(2, 4, 4, 512, 48, 3, 3, 1, 1),
    /* EBM */
    SH(2, 32, 32, 3, 64, 4, 4, 2, 1),
    SH(2, 16, 16, 64, 128, 4, 4, 2, 1),
    SH(2, 8, 8, 128, 256, 4, 4, 2, 1),
    SH(2, 4, 4, 256, 1, 4, 4, 1, 0),
    /* small odd shapes */
    SH(1, 5, 7, 3, 5, 3, 3, 1, 1),
    SH(1, 5, 7, 2, 3, 4, 4, 2, 1),
    SH(1, 5, 7, 7, 4, 1, 1, 1, 0),
    SH(1, 5, 7, 3, 2, 3, 3, 2, 0),
    SH(1, 5, 7, 5, 3, 2, 3, 1, 1),
    /* the tiny flow on 16×16 pictures (width 16; levels 8×8×12 and 4×4×24): coupling convs
     * (additive: out C/2; affine: out C) and the split prior 3×3 C/2 → C */
    SH(4, 8, 8, 6, 16, 3, 3, 1, 1),
    SH(4, 8, 8, 16, 16, 1, 1, 1, 0),
    SH(4, 8, 8, 16, 6, 3, 3, 1, 1),
    SH(4, 4, 4, 12, 16, 3, 3, 1, 1),
    SH(4, 4, 4, 16, 24, 3, 3, 1, 1),
    SH(4, 8, 8, 6, 12, 3, 3, 1, 1),
    /* the paper's EBM on 16×16 pictures: three 4×4 stride-2 convs, then a 2×2 valid conv */
    SH(4, 16, 16, 3, 64, 4, 4, 2, 1),
    SH(4, 8, 8, 64, 128, 4, 4, 2, 1),
    SH(4, 4, 4, 128, 256, 4, 4, 2, 1),
    SH(4, 2, 2, 256, 1, 2, 2, 1, 0),
    /* blocking edges of the CPU GEMM: K = 333 (one K block of 256 and a part), M = 144 (past
     * one 128-high M block) and Cout = 521 (past one 512-wide N block), none a multiple of a
     * tile */
    SH(2, 9, 8, 37, 521, 3, 3, 1, 1),
    /* stride 3 with a padding of 2 (rows of padding only), KH ≠ KW */
    SH(2, 10, 9, 5, 7, 3, 2, 3, 2),
    /* a filter as large as the picture, with stride 2, and a 1×1 conv with stride 2 */
    SH(3, 5, 5, 4, 3, 5, 5, 2, 0),
    SH(2, 7, 7, 6, 5, 1, 1, 2, 0),
};
const int op_n_conv_shapes = (int)(sizeof op_conv_shapes / sizeof op_conv_shapes[0]);
