/* iglow_prior.c: the image Glow's priors (iglow.h): the split prior (SPEC a.9, our [μ | ρ] channel
 * halves), the learned top prior (a.10) and reparameterised sampling z = μ + T·e^{ρ}·ε, with their
 * backwards.
 *
 * Elementwise products with per-element e^{ρ} have no op of their own; they are run as actnorm ops
 * over ONE row of N·n_z "channels" (bias and log-scale per element): with s = 3·(ρ/3),
 *   u = (T·ε + 0)·e^{s}          actnorm_forward(u, ·, Tε, zeros, ρ/3, 1, 1, N·n_z)
 *   z = (u + μ)·e^{0}            actnorm_forward(z, ·, u, μ, zeros, 1, 1, N·n_z)
 * and their backwards are actnorm_backward over the same single row. */
#include <math.h>

#include "fce/log.h"
#include "flow/iglow_internal.h"

/* (mean | logs) of split level l from z1 = the input of level l+1:
 * prior_out = (Conv3x3(z1) + b)·e^{3·logs} (the "conv2d_zeros" of [G]), then its channel halves. */
fce_status iglow_split_prior_forward(fce_iglow *g, fce_iglow_tape *tp, int l) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[l];
    iglow_level_tape *lt = &tp->level[l];
    const int c = lv->c, half = c / 2;
    const size_t rows = (size_t)tp->N * lv->hw;
    FCE_TRY(ctx->ops->conv2d_forward(ctx, lt->prior_plan, tp->conv_scratch, tp->level[l + 1].xin,
                                     lv->split.conv_w.value, NULL));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, lt->prior_out, NULL, tp->conv_scratch,
                                      lv->split.bias.value, lv->split.logs.value, tp->N, lv->hw,
                                      c));
    FCE_TRY(ctx->ops->channels_copy(ctx, lt->mean, half, 0, lt->prior_out, c, 0, half, rows, 0));
    return ctx->ops->channels_copy(ctx, lt->logs, half, 0, lt->prior_out, c, half, half, rows, 0);
}

/* Backward of iglow_split_prior_forward: d_mean, d_logs → the prior's parameter gradients, and
 * d_z1 += the gradient w.r.t. z1. */
fce_status iglow_split_prior_backward(fce_iglow *g, fce_iglow_tape *tp, int l, const float *d_mean,
                                      const float *d_logs, float *d_z1) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[l];
    iglow_level_tape *lt = &tp->level[l];
    const int c = lv->c, half = c / 2;
    const size_t rows = (size_t)tp->N * lv->hw;
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->d_prior_out, c, 0, d_mean, half, 0, half, rows, 0));
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->d_prior_out, c, half, d_logs, half, 0, half, rows, 0));
    FCE_TRY(ctx->ops->actnorm_backward(
        ctx, tp->conv_scratch, lv->split.bias.grad, lv->split.logs.grad, tp->d_prior_out,
        lt->prior_out, NULL, lv->split.bias.value, lv->split.logs.value, tp->N, lv->hw, c));
    FCE_TRY(ctx->ops->conv2d_backward_filter(ctx, lt->prior_plan, lv->split.conv_w.grad, NULL,
                                             tp->conv_scratch, tp->level[l + 1].xin));
    FCE_TRY(ctx->ops->conv2d_backward_data(ctx, lt->prior_plan, tp->d_addend, tp->conv_scratch,
                                           lv->split.conv_w.value));
    return ctx->ops->channels_copy(ctx, d_z1, half, 0, tp->d_addend, half, 0, half, rows, 1);
}

/* dst (N, n) = row (n) in every row: one copy, then the filled rows copied after themselves
 * (1, 2, 4, … rows), so log2(N) + 1 copies. Exactly what the GEMM against a vector of ones this
 * replaces gave: 0 + 1·v is v for every v but −0, which the top prior never holds (it starts at +0
 * and the optimizers' p − step cannot produce −0 from it). */
static fce_status broadcast_row(fce_ctx *ctx, float *dst, const float *row, int N, int n) {
    const size_t row_bytes = (size_t)n * sizeof(float);
    FCE_TRY(ctx->ops->copy(ctx, dst, row, row_bytes));
    for (int filled = 1; filled < N; filled *= 2) {
        const int more = filled < N - filled ? filled : N - filled;
        FCE_TRY(ctx->ops->copy(ctx, dst + (size_t)filled * n, dst, (size_t)more * row_bytes));
    }
    return FCE_STATUS_OK;
}

/* The batch-shared top prior, broadcast to (N, n_z): mean and logs of every sample. */
fce_status iglow_top_prior_forward(fce_iglow *g, fce_iglow_tape *tp) {
    const int L = g->cfg.L;
    const iglow_level *lv = &g->levels[L - 1];
    iglow_level_tape *lt = &tp->level[L - 1];
    FCE_TRY(broadcast_row(g->params.ctx, lt->mean, lv->top.mean.value, tp->N, lv->n_z));
    return broadcast_row(g->params.ctx, lt->logs, lv->top.logs.value, tp->N, lv->n_z);
}

/* Backward of the broadcast: d_top.mean += Σ_n d_mean[n, ·] (the same for logs). The batch sum is
 * linear_backward's weight gradient for y = ones(N, 1)·wᵀ (dW += dyᵀ·ones), kept on purpose: it
 * fixes the summation order, in double and in row order on the CPU reference (linear_ref.c) and
 * cuBLAS's on the GPU, and no other op of the table sums over rows in that order, so any other
 * batch sum would change the trained bits. */
fce_status iglow_top_prior_backward(fce_iglow *g, fce_iglow_tape *tp, const float *d_mean,
                                    const float *d_logs) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[g->cfg.L - 1];
    const iglow_top_prior *p = &lv->top;
    FCE_TRY(ctx->ops->linear_backward(ctx, NULL, p->mean.grad, NULL, d_mean, tp->batch_ones,
                                      p->mean.value, tp->N, 1, lv->n_z));
    return ctx->ops->linear_backward(ctx, NULL, p->logs.grad, NULL, d_logs, tp->batch_ones,
                                     p->logs.value, tp->N, 1, lv->n_z);
}

fce_status iglow_set_temperature(fce_iglow *g, fce_iglow_tape *tp, float T) {
    FCE_ASSERT(T > 0.0f && isfinite(T), "iglow: temperature must be positive (got %g)", (double)T);
    const float log_T = logf(T);
    if (log_T == tp->log_T_host) return FCE_STATUS_OK;
    FCE_TRY(g->params.ctx->ops->upload(g->params.ctx, tp->log_T, &log_T, sizeof log_T));
    tp->log_T_host = log_T;
    return FCE_STATUS_OK;
}

fce_status fce_iglow_tape_set_temperature(fce_iglow *g, fce_iglow_tape *tp, float T) {
    return iglow_set_temperature(g, tp, T);
}

static const float *level_z(const fce_iglow *g, const fce_iglow_tape *tp, int l) {
    return l < g->cfg.L - 1 ? tp->level[l].z2 : tp->level[l].steps.x[g->cfg.K];
}

/* z = mean + T·e^{logs}·ε (the level's prior must be in lt->mean / lt->logs). Adds the level's
 * log-prior term to tp->log_prior: log N(z; μ, T²e^{2ρ}) = gaussian_diag_logp(z | μ, ρ)
 * + [log N(ε; 0, I) − log N(Tε; 0, I) − n_z·log T]; the bracket (parameter-free, 0 at T = 1,
 * skipped there) is split as + log N(ε) into log_prior and + log N(Tε) + n_z·log T into ld
 * (log q = log_prior − ld). */
fce_status iglow_sample(fce_iglow *g, fce_iglow_tape *tp, int l, const float *eps, float T,
                        float *z, float *ld) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[l];
    iglow_level_tape *lt = &tp->level[l];
    const int N = tp->N, D = lv->n_z, tot = N * D;
    FCE_TRY(ctx->ops->scale(ctx, tp->scaled_eps, eps, (size_t)tot, T));
    FCE_TRY(ctx->ops->scale(ctx, tp->logs_over_3, lt->logs, (size_t)tot,
                            1.0f / FCE_ACTNORM_LOGSCALE_FACTOR));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, lt->u, NULL, tp->scaled_eps, tp->zeros, tp->logs_over_3,
                                      1, 1, tot));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, z, NULL, lt->u, lt->mean, tp->zeros, 1, 1, tot));
    FCE_TRY(ctx->ops->gaussian_diag_logp(ctx, tp->log_prior, z, lt->mean, lt->logs, N, D));
    if (T != 1.0f) {
        FCE_TRY(ctx->ops->gaussian_logp(ctx, tp->log_prior, eps, N, D));
        FCE_TRY(ctx->ops->gaussian_logp(ctx, ld, tp->scaled_eps, N, D));
        FCE_TRY(ctx->ops->invconv_logdet(ctx, ld, tp->log_T, N, D, 1, 1.0f));
    }
    return FCE_STATUS_OK;
}

/* Backward of iglow_sample with ε fixed. dz (N, n_z) = ∂L/∂z from downstream; it is clobbered (the
 * log-prior term's ∂/∂z is added to it). Writes d_mean, d_logs = ∂L/∂(μ, ρ) (overwrite). */
fce_status iglow_sample_backward(fce_iglow *g, fce_iglow_tape *tp, int l, float *dz,
                                 const float *dlogq, float *d_mean, float *d_logs) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[l];
    iglow_level_tape *lt = &tp->level[l];
    const int N = tp->N, D = lv->n_z, tot = N * D;
    const float *z = level_z(g, tp, l);
    /* the prior term gaussian_diag_logp(z | μ, ρ), which receives dlogq */
    FCE_TRY(ctx->ops->gaussian_diag_logp_backward_acc(ctx, dz, d_mean, d_logs, z, lt->mean,
                                                      lt->logs, dlogq, N, D));
    /* z = μ + u, u = e^{ρ}·Tε: dμ += dz, dρ += dz·u */
    FCE_TRY(ctx->ops->channels_copy(ctx, d_mean, D, 0, dz, D, 0, D, (size_t)N, 1));
    FCE_TRY(ctx->ops->zero(ctx, tp->d_addend, (size_t)tot * sizeof(float)));
    FCE_TRY(ctx->ops->scale(ctx, tp->logs_over_3, lt->logs, (size_t)tot,
                            1.0f / FCE_ACTNORM_LOGSCALE_FACTOR));
    FCE_TRY(ctx->ops->actnorm_backward(ctx, tp->conv_scratch, NULL, tp->d_addend, dz, lt->u, NULL,
                                       tp->zeros, tp->logs_over_3, 1, 1, tot)); /* 3·dz·u */
    FCE_TRY(ctx->ops->scale(ctx, tp->d_addend, tp->d_addend, (size_t)tot,
                            1.0f / FCE_ACTNORM_LOGSCALE_FACTOR));
    return ctx->ops->channels_copy(ctx, d_logs, D, 0, tp->d_addend, D, 0, D, (size_t)N, 1);
}
