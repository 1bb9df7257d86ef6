/* flow_step.c: the Glow flow step and blocks of K steps (flow_step.h) on the backend op table: their
 * parameters, init, tapes, and the four passes. Rows are pixels: an op over (N, hw, c) sees N·hw
 * rows of c channels; the 2D flow is the case hw = 1. */
#include "flow/flow_step.h"

#include <stdio.h>
#include <stdlib.h>

#include "fce/log.h"
#include "nn/lu_init.h"

/* ---- construction ---- */

/* adds "<step_prefix>.<what>" to the table */
static fce_status declare_tensor(fce_param_table *t, const char *step_prefix, const char *what,
                                 int rows, int cols, unsigned flags, int *index) {
    char name[FCE_PARAM_NAME_MAX];
    int n = snprintf(name, sizeof name, "%s.%s", step_prefix, what);
    FCE_ASSERT(n > 0 && n < (int)sizeof name, "flow step: parameter name too long");
    return fce_param_table_add(t, name, rows, cols, flags, index);
}

/* The order fixes the arena layout and the checkpoint table hash: changing it breaks checkpoints. */
static fce_status declare_step(fce_flow_step *s, fce_param_table *t, const char *step_prefix, int c,
                               int affine, const fce_coupling_net_config *net) {
    const unsigned frozen = FCE_PARAM_FLAG_FROZEN;
    FCE_TRY(declare_tensor(t, step_prefix, "actnorm.bias", 1, c, 0, &s->actnorm_bias.index));
    FCE_TRY(declare_tensor(t, step_prefix, "actnorm.logs", 1, c, 0, &s->actnorm_logs.index));
    FCE_TRY(declare_tensor(t, step_prefix, "invconv.L", c, c, 0, &s->lu_lower.index));
    FCE_TRY(declare_tensor(t, step_prefix, "invconv.U", c, c, 0, &s->lu_upper.index));
    FCE_TRY(declare_tensor(t, step_prefix, "invconv.logs", 1, c, 0, &s->lu_logs.index));
    FCE_TRY(declare_tensor(t, step_prefix, "invconv.perm", 1, c, frozen, &s->lu_perm.index));
    FCE_TRY(declare_tensor(t, step_prefix, "invconv.sign", 1, c, frozen, &s->lu_sign.index));
    return fce_coupling_net_declare(&s->net, net, t, step_prefix, c / 2, affine ? c : c / 2);
}

fce_status fce_flow_steps_declare(fce_flow_steps *fs, fce_param_table *t, const char *prefix, int K,
                                  int c, int affine, const fce_coupling_net_config *net) {
    fs->K = K;
    fs->c = c;
    fs->affine = affine;
    fs->step = calloc((size_t)K, sizeof *fs->step);
    if (!fs->step) return FCE_STATUS_ERR_NOMEM;
    char step_prefix[FCE_PARAM_NAME_MAX];
    for (int k = 0; k < K; k++) {
        int n = snprintf(step_prefix, sizeof step_prefix, "%s.k%d", prefix, k);
        FCE_ASSERT(n > 0 && n < (int)sizeof step_prefix, "flow step: parameter name too long");
        FCE_TRY(declare_step(&fs->step[k], t, step_prefix, c, affine, net));
    }
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_bind(fce_flow_steps *fs, const fce_param_table *t,
                               const fce_param_arena *a, fce_ctx *ctx) {
    const size_t cc = (size_t)fs->c * (size_t)fs->c;
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&fs->lu_scratch, 4 * (size_t)fs->K * cc * sizeof(float)));
    for (int k = 0; k < fs->K; k++) {
        fce_flow_step *s = &fs->step[k];
        fce_param_view *views[] = {&s->actnorm_bias, &s->actnorm_logs, &s->lu_perm, &s->lu_sign,
                                   &s->lu_lower, &s->lu_upper, &s->lu_logs};
        for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
            fce_param_view_bind(views[i], t, a);
        float *scratch = fs->lu_scratch + 4 * (size_t)k * cc;
        s->W = scratch;
        s->W_inv = scratch + cc;
        s->dW = scratch + 2 * cc;
        s->dW_inv = scratch + 3 * cc;
        fce_coupling_net_bind(&s->net, t, a);
    }
    return FCE_STATUS_OK;
}

void fce_flow_steps_init_host(const fce_flow_steps *fs, const fce_param_table *t, float *host,
                              uint64_t seed, int first_step) {
    for (int k = 0; k < fs->K; k++) {
        const fce_flow_step *s = &fs->step[k];
        const uint64_t step_seed = seed * 1000003ull + 7919ull * (uint64_t)(first_step + k);
        fce_lu_init_orthogonal_host(
            fce_param_view_host(&s->lu_perm, t, host), fce_param_view_host(&s->lu_sign, t, host),
            fce_param_view_host(&s->lu_lower, t, host), fce_param_view_host(&s->lu_upper, t, host),
            fce_param_view_host(&s->lu_logs, t, host), fs->c, step_seed ^ 0x1u);
        fce_coupling_net_init_host(&s->net, t, host, step_seed ^ 0x2u);
    }
}

void fce_flow_steps_free(fce_flow_steps *fs, fce_ctx *ctx) {
    if (ctx && ctx->ops) ctx->ops->release(ctx, fs->lu_scratch);
    free(fs->step);
    fs->lu_scratch = NULL;
    fs->step = NULL;
}

fce_status fce_flow_steps_refresh(fce_flow_steps *fs, fce_ctx *ctx) {
    for (int k = 0; k < fs->K; k++) {
        fce_flow_step *s = &fs->step[k];
        FCE_TRY(ctx->ops->invconv_lu_weights(ctx, s->W, s->W_inv, s->lu_perm.value,
                                             s->lu_sign.value, s->lu_lower.value, s->lu_upper.value,
                                             s->lu_logs.value, fs->c));
    }
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_zero_grad(fce_flow_steps *fs, fce_ctx *ctx) {
    const size_t bytes = (size_t)fs->c * (size_t)fs->c * sizeof(float);
    for (int k = 0; k < fs->K; k++) {
        FCE_TRY(ctx->ops->zero(ctx, fs->step[k].dW, bytes));
        FCE_TRY(ctx->ops->zero(ctx, fs->step[k].dW_inv, bytes));
    }
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_finish_grad(fce_flow_steps *fs, fce_ctx *ctx) {
    for (int k = 0; k < fs->K; k++) {
        fce_flow_step *s = &fs->step[k];
        FCE_TRY(ctx->ops->invconv_lu_backward(ctx, s->lu_lower.grad, s->lu_upper.grad,
                                              s->lu_logs.grad, s->dW, s->dW_inv, s->W_inv,
                                              s->lu_perm.value, s->lu_sign.value, s->lu_lower.value,
                                              s->lu_upper.value, s->lu_logs.value, fs->c));
    }
    return FCE_STATUS_OK;
}

/* ---- tapes ---- */

fce_status fce_flow_steps_tape_init(fce_flow_steps_tape *tp, const fce_flow_steps *fs, fce_ctx *ctx,
                                    int N, int h, int w, int shared_net, float *net_g0,
                                    float *net_g1) {
    const int K = fs->K;
    const size_t bytes = (size_t)N * (size_t)h * (size_t)w * (size_t)fs->c * sizeof(float);
    fce_status st = FCE_STATUS_OK;
    tp->shared_net = shared_net;
    tp->x = calloc((size_t)K + 1, sizeof(float *));
    tp->y1 = calloc((size_t)K, sizeof(float *));
    tp->y2 = calloc((size_t)K, sizeof(float *));
    tp->xa = calloc((size_t)K, sizeof(float *));
    tp->net = calloc((size_t)K, sizeof(fce_coupling_net_tape));
    if (!tp->x || !tp->y1 || !tp->y2 || !tp->xa || !tp->net) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    for (int k = 0; k <= K; k++) FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->x[k], bytes));
    for (int k = 0; k < K; k++) {
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->y1[k], bytes));
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->y2[k], bytes));
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->xa[k], bytes / 2));
        if (shared_net && k > 0) {
            tp->net[k] = tp->net[0]; /* a copy of the handles; freed once, through net[0] */
            continue;
        }
        FCE_TRY_GOTO(st, fce_coupling_net_tape_init(&tp->net[k], &fs->step[k].net, ctx, N, h, w,
                                                    net_g0, net_g1));
    }
    return FCE_STATUS_OK;
cleanup:
    fce_flow_steps_tape_free(tp, fs, ctx);
    return st;
}

void fce_flow_steps_tape_free(fce_flow_steps_tape *tp, const fce_flow_steps *fs, fce_ctx *ctx) {
    for (int k = 0; k <= fs->K && tp->x; k++) ctx->ops->release(ctx, tp->x[k]);
    for (int k = 0; k < fs->K; k++) {
        if (tp->y1) ctx->ops->release(ctx, tp->y1[k]);
        if (tp->y2) ctx->ops->release(ctx, tp->y2[k]);
        if (tp->xa) ctx->ops->release(ctx, tp->xa[k]);
        if (tp->net && (!tp->shared_net || k == 0))
            fce_coupling_net_tape_free(&tp->net[k], &fs->step[k].net, ctx);
    }
    free(tp->x);
    free(tp->y1);
    free(tp->y2);
    free(tp->xa);
    free(tp->net);
    tp->x = tp->y1 = tp->y2 = tp->xa = NULL;
    tp->net = NULL;
}

/* ---- one step: its shape and the four passes ---- */

/* What every step of one pass shares: the block, its tape, the backend and the shape. */
typedef struct step_pass {
    fce_flow_steps *fs;
    fce_flow_steps_tape *tp;
    fce_ctx *ctx;
    int N, hw;   /* samples, pixels per sample */
    int c, half; /* channels, the coupling's halves */
    size_t rows; /* N·hw: pixels, the rows of the per-pixel ops */
} step_pass;

static step_pass pass_of(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N, int hw) {
    const step_pass p = {fs, tp, ctx, N, hw, fs->c, fs->c / 2, (size_t)N * (size_t)hw};
    return p;
}

static fce_status step_forward(const step_pass *p, int k, float *logq, int init) {
    fce_ctx *ctx = p->ctx;
    const fce_flow_step *s = &p->fs->step[k];
    fce_flow_steps_tape *tp = p->tp;
    const int N = p->N, hw = p->hw, c = p->c, half = p->half;
    const size_t rows = p->rows;
    if (init)
        FCE_TRY(ctx->ops->actnorm_init(ctx, s->actnorm_bias.value, s->actnorm_logs.value, tp->x[k],
                                       N, hw, c));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, tp->y1[k], logq, tp->x[k], s->actnorm_bias.value,
                                      s->actnorm_logs.value, N, hw, c));
    /* per pixel y2 = W·y1, i.e. y2 = y1·Wᵀ over N·hw rows */
    FCE_TRY(ctx->ops->linear_forward(ctx, tp->y2[k], tp->y1[k], s->W, NULL, (int)rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet(ctx, logq, s->lu_logs.value, N, hw, c, 1.0f));
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->xa[k], half, 0, tp->y2[k], c, 0, half, rows, 0));
    FCE_TRY(fce_coupling_net_forward(&s->net, &tp->net[k], ctx, tp->xa[k], N, init));
    const float *h = fce_coupling_net_output(&s->net, &tp->net[k]);
    if (p->fs->affine)
        return ctx->ops->coupling_affine_forward(ctx, tp->x[k + 1], logq, tp->y2[k], h, N, hw, c);
    return ctx->ops->coupling_additive_forward(ctx, tp->x[k + 1], tp->y2[k], h, rows, c);
}

/* x[k+1] → x[k]; ld accumulates log|det ∂x[k]/∂x[k+1]| */
static fce_status step_inverse(const step_pass *p, int k, float *ld) {
    fce_ctx *ctx = p->ctx;
    const fce_flow_step *s = &p->fs->step[k];
    fce_flow_steps_tape *tp = p->tp;
    const int N = p->N, hw = p->hw, c = p->c, half = p->half;
    const size_t rows = p->rows;
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->xa[k], half, 0, tp->x[k + 1], c, 0, half, rows, 0));
    FCE_TRY(fce_coupling_net_forward(&s->net, &tp->net[k], ctx, tp->xa[k], N, 0));
    const float *h = fce_coupling_net_output(&s->net, &tp->net[k]);
    if (p->fs->affine)
        FCE_TRY(ctx->ops->coupling_affine_inverse(ctx, tp->y2[k], ld, tp->x[k + 1], h, N, hw, c));
    else
        FCE_TRY(ctx->ops->coupling_additive_inverse(ctx, tp->y2[k], tp->x[k + 1], h, rows, c));
    /* per pixel y1 = W⁻¹·y2 */
    FCE_TRY(ctx->ops->linear_forward(ctx, tp->y1[k], tp->y2[k], s->W_inv, NULL, (int)rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet(ctx, ld, s->lu_logs.value, N, hw, c, -1.0f));
    return ctx->ops->actnorm_inverse(ctx, tp->x[k], ld, tp->y1[k], s->actnorm_bias.value,
                                     s->actnorm_logs.value, N, hw, c);
}

/* Backward of the coupling layer, g->d_cur (w.r.t. its output) → g->d_next (w.r.t. its input), of
 * the forward coupling (inverse = 0: output x[k+1], input y2[k], dlogdet = ∂L/∂logq) or of its
 * inverse (inverse = 1: output y2[k], input x[k+1], dlogdet = ∂L/∂ld); the network's parameter
 * gradients accumulate, and its share of the input gradient (through xa) is added to d_next. */
static fce_status coupling_backward(const step_pass *p, int k, int inverse, const float *dlogdet,
                                    const fce_flow_grad_bufs *g) {
    fce_ctx *ctx = p->ctx;
    const fce_flow_step *s = &p->fs->step[k];
    const fce_flow_steps_tape *tp = p->tp;
    const float *h = fce_coupling_net_output(&s->net, &tp->net[k]);
    if (!p->fs->affine)
        FCE_TRY(ctx->ops->coupling_additive_backward(ctx, g->d_next, g->d_net_out, g->d_cur,
                                                     p->rows, p->c, inverse ? -1.0f : 1.0f));
    else if (!inverse)
        FCE_TRY(ctx->ops->coupling_affine_backward(ctx, g->d_next, g->d_net_out, g->d_cur,
                                                   tp->x[k + 1], h, dlogdet, p->N, p->hw, p->c));
    else
        FCE_TRY(ctx->ops->coupling_affine_inverse_backward(
            ctx, g->d_next, g->d_net_out, g->d_cur, tp->y2[k], h, dlogdet, p->N, p->hw, p->c));
    FCE_TRY(
        fce_coupling_net_backward(&s->net, &p->tp->net[k], ctx, g->d_net_out, g->d_net_in, p->N));
    return ctx->ops->channels_copy(ctx, g->d_next, p->c, 0, g->d_net_in, p->half, 0, p->half,
                                   p->rows, 1);
}

/* backward of step_forward: g->d_cur (w.r.t. x[k+1]) → g->d_next (w.r.t. x[k]); d_cur is clobbered */
static fce_status step_backward(const step_pass *p, int k, const float *dlogq,
                                const fce_flow_grad_bufs *g) {
    fce_ctx *ctx = p->ctx;
    fce_flow_step *s = &p->fs->step[k];
    const int N = p->N, hw = p->hw, c = p->c;
    /* coupling: d_cur → d_next (w.r.t. y2) */
    FCE_TRY(coupling_backward(p, k, 0, dlogq, g));
    /* invertible map: d_next (w.r.t. y2) → d_cur (w.r.t. y1), dW += */
    FCE_TRY(ctx->ops->linear_backward(ctx, g->d_cur, s->dW, NULL, g->d_next, p->tp->y1[k], s->W,
                                      (int)p->rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->lu_logs.grad, dlogq, N, hw, c, 1.0f));
    /* actnorm: d_cur (w.r.t. y1) → d_next (w.r.t. x[k]) */
    return ctx->ops->actnorm_backward(ctx, g->d_next, s->actnorm_bias.grad, s->actnorm_logs.grad,
                                      g->d_cur, p->tp->y1[k], dlogq, s->actnorm_bias.value,
                                      s->actnorm_logs.value, N, hw, c);
}

/* backward of step_inverse: g->d_cur (w.r.t. x[k]) → g->d_next (w.r.t. x[k+1]); dld = ∂L/∂ld */
static fce_status step_inverse_backward(const step_pass *p, int k, const float *dld,
                                        const fce_flow_grad_bufs *g) {
    fce_ctx *ctx = p->ctx;
    fce_flow_step *s = &p->fs->step[k];
    const int N = p->N, hw = p->hw, c = p->c;
    /* actnorm inverse x[k] = y1·e^{−s} − b: d_cur → d_next (w.r.t. y1) */
    FCE_TRY(ctx->ops->actnorm_inverse_backward(
        ctx, g->d_next, s->actnorm_bias.grad, s->actnorm_logs.grad, g->d_cur, p->tp->x[k], dld,
        s->actnorm_bias.value, s->actnorm_logs.value, N, hw, c));
    /* y1 = W⁻¹·y2: d_next → d_cur (w.r.t. y2), dW⁻¹ += */
    FCE_TRY(ctx->ops->linear_backward(ctx, g->d_cur, s->dW_inv, NULL, g->d_next, p->tp->y2[k],
                                      s->W_inv, (int)p->rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->lu_logs.grad, dld, N, hw, c, -1.0f));
    /* coupling inverse y2 = inverse(x[k+1]): d_cur → d_next (w.r.t. x[k+1]) */
    return coupling_backward(p, k, 1, dld, g);
}

static void swap_grads(fce_flow_grad_bufs *g) {
    float *t = g->d_cur;
    g->d_cur = g->d_next;
    g->d_next = t;
}

/* ---- the block's passes ---- */

fce_status fce_flow_steps_forward(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                  int hw, float *logq, int init) {
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    for (int k = 0; k < fs->K; k++) FCE_TRY(step_forward(&p, k, logq, init));
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_inverse(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                  int hw, float *ld) {
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    for (int k = fs->K - 1; k >= 0; k--) FCE_TRY(step_inverse(&p, k, ld));
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_backward(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                   int hw, const float *dlogq, fce_flow_grad_bufs *g) {
    FCE_ASSERT(!tp->shared_net, "flow backward on an inference tape");
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    for (int k = fs->K - 1; k >= 0; k--) {
        FCE_TRY(step_backward(&p, k, dlogq, g));
        swap_grads(g);
    }
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_inverse_backward(fce_flow_steps *fs, fce_flow_steps_tape *tp,
                                           fce_ctx *ctx, int N, int hw, const float *dld,
                                           fce_flow_grad_bufs *g) {
    FCE_ASSERT(!tp->shared_net, "flow inverse backward on an inference tape");
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    for (int k = 0; k < fs->K; k++) {
        FCE_TRY(step_inverse_backward(&p, k, dld, g));
        swap_grads(g);
    }
    return FCE_STATUS_OK;
}
