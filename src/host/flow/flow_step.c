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
    fs->hw = 1;
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

/* The step's views whose values and gradients the batched ops address by step 0's and a stride. */
#define STEP_VIEWS(s)                                                                              \
    {&(s)->actnorm_bias, &(s)->actnorm_logs, &(s)->lu_perm, &(s)->lu_sign, &(s)->lu_lower,         \
     &(s)->lu_upper, &(s)->lu_logs}

/* Step k's trainable tensors k·pstride floats after step 0's and its frozen perm and sign
 * k·fstride after step 0's (the arena keeps the frozen ones last): what the batched ops need. */
static int steps_evenly_spaced(const fce_flow_steps *fs, size_t pstride, size_t fstride) {
    const fce_flow_step *s0 = &fs->step[0];
    const fce_param_view *v0[] = STEP_VIEWS(s0);
    for (int k = 1; k < fs->K; k++) {
        const fce_flow_step *sk = &fs->step[k];
        const fce_param_view *vk[] = STEP_VIEWS(sk);
        for (size_t i = 0; i < sizeof v0 / sizeof v0[0]; i++) {
            const int frozen = vk[i] == &sk->lu_perm || vk[i] == &sk->lu_sign;
            const size_t d = (size_t)k * (frozen ? fstride : pstride);
            if (vk[i]->value != v0[i]->value + d || vk[i]->grad != v0[i]->grad + d) return 0;
        }
    }
    return 1;
}

fce_status fce_flow_steps_bind(fce_flow_steps *fs, const fce_param_table *t,
                               const fce_param_arena *a, fce_ctx *ctx) {
    const size_t cc = (size_t)fs->c * (size_t)fs->c, K = (size_t)fs->K;
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&fs->lu_scratch, 4 * K * cc * sizeof(float)));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&fs->ld_consts, 2 * K * sizeof(double)));
    for (int k = 0; k < fs->K; k++) {
        fce_flow_step *s = &fs->step[k];
        fce_param_view *views[] = STEP_VIEWS(s);
        for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
            fce_param_view_bind(views[i], t, a);
        s->W = fs->lu_scratch + (size_t)k * cc;
        s->W_inv = fs->lu_scratch + (K + (size_t)k) * cc;
        s->dW = fs->lu_scratch + (2 * K + (size_t)k) * cc;
        s->dW_inv = fs->lu_scratch + (3 * K + (size_t)k) * cc;
        fce_coupling_net_bind(&s->net, t, a);
    }
    const fce_flow_step *s0 = &fs->step[0], *s1 = &fs->step[fs->K > 1 ? 1 : 0];
    fs->pstride = (size_t)(s1->actnorm_bias.value - s0->actnorm_bias.value);
    fs->fstride = (size_t)(s1->lu_perm.value - s0->lu_perm.value);
    FCE_ASSERT(steps_evenly_spaced(fs, fs->pstride, fs->fstride),
               "flow steps: the arena does not lay the K steps out alike (batched ops need it)");
    fs->fused = !fs->affine && fce_coupling_net_has_head(&fs->step[0].net);
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
    if (ctx && ctx->ops) {
        ctx->ops->release(ctx, fs->lu_scratch);
        ctx->ops->release(ctx, fs->ld_consts);
    }
    free(fs->step);
    fs->lu_scratch = NULL;
    fs->ld_consts = NULL;
    fs->step = NULL;
}

/* One launch for all K steps (one GPU block per step); on the CPU the same per-step arithmetic. */
fce_status fce_flow_steps_refresh(fce_flow_steps *fs, fce_ctx *ctx) {
    const fce_flow_step *s = &fs->step[0];
    return ctx->ops->invconv_lu_weights_batch(ctx, s->W, s->W_inv, fs->ld_consts, s->lu_perm.value,
                                              s->lu_sign.value, s->lu_lower.value,
                                              s->lu_upper.value, s->lu_logs.value,
                                              s->actnorm_logs.value, fs->K, fs->pstride,
                                              fs->fstride, fs->c, fs->hw);
}

/* dW and dW⁻¹ of every step are one contiguous range (bind's layout). */
fce_status fce_flow_steps_zero_grad(fce_flow_steps *fs, fce_ctx *ctx) {
    const size_t bytes = 2 * (size_t)fs->K * (size_t)fs->c * (size_t)fs->c * sizeof(float);
    return ctx->ops->zero(ctx, fs->step[0].dW, bytes);
}

fce_status fce_flow_steps_finish_grad(fce_flow_steps *fs, fce_ctx *ctx) {
    const fce_flow_step *s = &fs->step[0];
    return ctx->ops->invconv_lu_backward_batch(ctx, s->lu_lower.grad, s->lu_upper.grad,
                                               s->lu_logs.grad, s->dW, s->dW_inv, s->W_inv,
                                               s->lu_perm.value, s->lu_sign.value,
                                               s->lu_lower.value, s->lu_upper.value,
                                               s->lu_logs.value, fs->K, fs->pstride, fs->fstride,
                                               fs->c);
}

/* ---- tapes ---- */

fce_status fce_flow_steps_tape_init(fce_flow_steps_tape *tp, const fce_flow_steps *fs, fce_ctx *ctx,
                                    int N, int h, int w, int shared_net, float *net_g0,
                                    float *net_g1, float *work) {
    const int K = fs->K;
    const size_t bytes = (size_t)N * (size_t)h * (size_t)w * (size_t)fs->c * sizeof(float);
    fce_status st = FCE_STATUS_OK;
    tp->shared_net = shared_net;
    tp->work = work;
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
                                                    net_g0, net_g1, work));
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
    FCE_TRY(ctx->ops->invconv_forward(ctx, tp->y2[k], tp->y1[k], s->W, (int)rows, c));
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
    FCE_TRY(ctx->ops->invconv_forward(ctx, tp->y1[k], tp->y2[k], s->W_inv, (int)rows, c));
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
    FCE_TRY(ctx->ops->invconv_backward(ctx, g->d_cur, s->dW, g->d_next, p->tp->y1[k], s->W,
                                       (int)p->rows, c));
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
    FCE_TRY(ctx->ops->invconv_backward(ctx, g->d_cur, s->dW_inv, g->d_next, p->tp->y2[k],
                                       s->W_inv, (int)p->rows, c));
    FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->lu_logs.grad, dld, N, hw, c, -1.0f));
    /* coupling inverse y2 = inverse(x[k+1]): d_cur → d_next (w.r.t. x[k+1]) */
    return coupling_backward(p, k, 1, dld, g);
}

static void swap_grads(fce_flow_grad_bufs *g) {
    float *t = g->d_cur;
    g->d_cur = g->d_next;
    g->d_next = t;
}

/* ---- the fused path: additive coupling, conv network (the image flow) ----
 * The maths of the step functions above in fewer launches and bytes (fce/ops.def "fused ops");
 * on the CPU each fused op is the unfused sequence bit for bit (tests/cpu/test_ref_fused.c), so
 * the results do not depend on the path.
 *   forward  y1[0] = actnorm(x[0]); logq += the block's 2K data-independent log-dets, in the
 *            unfused order (logdet_add_consts; built by refresh); per step: y2 = W·y1 as planar
 *            halves, whose first half is the network's input as is; the network up to its head;
 *            one op for the head, the coupling and the next step's actnorm.
 *   inverse  the network's input split off by the previous step's inverse actnorm (one copy per
 *            block for the top step); per step: the network up to its head; one op for the head
 *            and the inverse coupling; y1 = W⁻¹·y2; the inverse actnorm with the split; then
 *            ld −= the log-dets in reverse order.
 *   backward the coupling's input gradient is its output gradient, kept in place: the head's
 *            backward reads the second half of it; the network's input gradient is added to the
 *            first half; then W's and the actnorm's backward (coalesced); the maps' log-det
 *            gradients of all K steps in one op at the end.
 * Not fused: the data-dependent init (the log-dets change within the pass) and affine couplings
 * (their log-det depends on the data and sits between the steps' constant ones). */

static fce_status fused_forward(const step_pass *p, float *logq) {
    fce_ctx *ctx = p->ctx;
    fce_flow_steps *fs = p->fs;
    fce_flow_steps_tape *tp = p->tp;
    const int N = p->N, hw = p->hw, c = p->c, K = fs->K;
    const fce_flow_step *s0 = &fs->step[0];
    FCE_TRY(ctx->ops->actnorm_forward(ctx, tp->y1[0], NULL, tp->x[0], s0->actnorm_bias.value,
                                      s0->actnorm_logs.value, N, hw, c));
    FCE_TRY(ctx->ops->logdet_add_consts(ctx, logq, fs->ld_consts, 2 * K, N, 1.0f));
    for (int k = 0; k < K; k++) {
        const fce_flow_step *s = &fs->step[k], *next = k + 1 < K ? &fs->step[k + 1] : NULL;
        FCE_TRY(ctx->ops->invconv_forward_halves(ctx, tp->y2[k], tp->y1[k], s->W, (int)p->rows, c));
        FCE_TRY(fce_coupling_net_forward_raw(&s->net, &tp->net[k], ctx, tp->y2[k], N, 0));
        const fce_coupling_net_head h = fce_coupling_net_head_of(&s->net, &tp->net[k]);
        FCE_TRY(ctx->ops->coupling_additive_forward_fused(
            ctx, tp->x[k + 1], next ? tp->y1[k + 1] : NULL, h.out, tp->y2[k], h.raw, h.bias, h.logs,
            next ? next->actnorm_bias.value : NULL, next ? next->actnorm_logs.value : NULL, p->rows, c));
    }
    return FCE_STATUS_OK;
}

static fce_status fused_inverse(const step_pass *p, float *ld) {
    fce_ctx *ctx = p->ctx;
    fce_flow_steps *fs = p->fs;
    fce_flow_steps_tape *tp = p->tp;
    const int N = p->N, hw = p->hw, c = p->c, half = p->half, K = fs->K;
    const size_t rows = p->rows;
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->xa[K - 1], half, 0, tp->x[K], c, 0, half, rows, 0));
    for (int k = K - 1; k >= 0; k--) {
        const fce_flow_step *s = &fs->step[k];
        FCE_TRY(fce_coupling_net_forward_raw(&s->net, &tp->net[k], ctx, tp->xa[k], N, 0));
        const fce_coupling_net_head h = fce_coupling_net_head_of(&s->net, &tp->net[k]);
        FCE_TRY(ctx->ops->coupling_additive_inverse_fused(ctx, tp->y2[k], h.out, tp->x[k + 1], h.raw,
                                                          h.bias, h.logs, rows, c));
        FCE_TRY(ctx->ops->invconv_forward(ctx, tp->y1[k], tp->y2[k], s->W_inv, (int)rows, c));
        FCE_TRY(ctx->ops->actnorm_inverse_split(ctx, tp->x[k], k > 0 ? tp->xa[k - 1] : NULL,
                                                tp->y1[k], s->actnorm_bias.value,
                                                s->actnorm_logs.value, N, hw, c));
    }
    return ctx->ops->logdet_add_consts(ctx, ld, fs->ld_consts, 2 * K, N, -1.0f);
}

/* The coupling and its network, backward, in place: g->d_cur = ∂L/∂(coupling output) becomes
 * ∂L/∂(coupling input) (dir = +1: the forward coupling, −1: the inverse). */
static fce_status fused_coupling_backward(const step_pass *p, int k, float dir,
                                          const fce_flow_grad_bufs *g) {
    fce_ctx *ctx = p->ctx;
    const fce_flow_step *s = &p->fs->step[k];
    fce_coupling_net_tape *nt = &p->tp->net[k];
    const fce_coupling_net_head h = fce_coupling_net_head_of(&s->net, nt);
    FCE_TRY(ctx->ops->coupling_additive_net_backward(ctx, h.raw, h.dbias, h.dlogs, g->d_cur, h.out,
                                                     h.bias, h.logs, p->rows, p->c, dir, p->tp->work));
    FCE_TRY(fce_coupling_net_backward_from_raw(&s->net, nt, ctx, g->d_net_in, p->N));
    return ctx->ops->channels_copy(ctx, g->d_cur, p->c, 0, g->d_net_in, p->half, 0, p->half, p->rows,
                                   1);
}

static fce_status fused_backward(const step_pass *p, const float *dlogq, fce_flow_grad_bufs *g) {
    fce_ctx *ctx = p->ctx;
    fce_flow_steps *fs = p->fs;
    const int N = p->N, hw = p->hw, c = p->c, K = fs->K;
    for (int k = K - 1; k >= 0; k--) {
        fce_flow_step *s = &fs->step[k];
        FCE_TRY(fused_coupling_backward(p, k, 1.0f, g));
        FCE_TRY(ctx->ops->invconv_backward(ctx, g->d_next, s->dW, g->d_cur, p->tp->y1[k], s->W,
                                           (int)p->rows, c));
        FCE_TRY(ctx->ops->actnorm_backward_ws(ctx, g->d_cur, s->actnorm_bias.grad,
                                              s->actnorm_logs.grad, g->d_next, p->tp->y1[k], dlogq,
                                              s->actnorm_bias.value, s->actnorm_logs.value, N, hw,
                                              c, p->tp->work));
    }
    return ctx->ops->invconv_logdet_backward_batch(ctx, fs->step[0].lu_logs.grad, dlogq, K,
                                                   fs->pstride, N, hw, c, 1.0f);
}

static fce_status fused_inverse_backward(const step_pass *p, const float *dld,
                                         fce_flow_grad_bufs *g) {
    fce_ctx *ctx = p->ctx;
    fce_flow_steps *fs = p->fs;
    const int N = p->N, hw = p->hw, c = p->c, K = fs->K;
    for (int k = 0; k < K; k++) {
        fce_flow_step *s = &fs->step[k];
        FCE_TRY(ctx->ops->actnorm_inverse_backward_ws(
            ctx, g->d_next, s->actnorm_bias.grad, s->actnorm_logs.grad, g->d_cur, p->tp->x[k], dld,
            s->actnorm_bias.value, s->actnorm_logs.value, N, hw, c, p->tp->work));
        FCE_TRY(ctx->ops->invconv_backward(ctx, g->d_cur, s->dW_inv, g->d_next, p->tp->y2[k],
                                           s->W_inv, (int)p->rows, c));
        FCE_TRY(fused_coupling_backward(p, k, -1.0f, g));
    }
    return ctx->ops->invconv_logdet_backward_batch(ctx, fs->step[0].lu_logs.grad, dld, K,
                                                   fs->pstride, N, hw, c, -1.0f);
}

/* The fused path serves this pass: it is built for the block's hw (the log-dets of refresh). */
static int use_fused(const fce_flow_steps *fs, const fce_flow_steps_tape *tp, int hw, int backward) {
    return fs->fused && hw == fs->hw && (!backward || tp->work);
}

/* ---- the block's passes ---- */

fce_status fce_flow_steps_forward(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                  int hw, float *logq, int init) {
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    if (!init && logq && use_fused(fs, tp, hw, 0)) return fused_forward(&p, logq);
    for (int k = 0; k < fs->K; k++) FCE_TRY(step_forward(&p, k, logq, init));
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_inverse(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                  int hw, float *ld) {
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    if (ld && use_fused(fs, tp, hw, 0)) return fused_inverse(&p, ld);
    for (int k = fs->K - 1; k >= 0; k--) FCE_TRY(step_inverse(&p, k, ld));
    return FCE_STATUS_OK;
}

fce_status fce_flow_steps_backward(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                   int hw, const float *dlogq, fce_flow_grad_bufs *g) {
    FCE_ASSERT(!tp->shared_net, "flow backward on an inference tape");
    const step_pass p = pass_of(fs, tp, ctx, N, hw);
    if (use_fused(fs, tp, hw, 1)) return fused_backward(&p, dlogq, g);
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
    if (use_fused(fs, tp, hw, 1)) return fused_inverse_backward(&p, dld, g);
    for (int k = 0; k < fs->K; k++) {
        FCE_TRY(step_inverse_backward(&p, k, dld, g));
        swap_grads(g);
    }
    return FCE_STATUS_OK;
}
