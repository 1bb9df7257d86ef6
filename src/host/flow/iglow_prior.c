/* iglow_prior.c: the image Glow's priors (iglow.h): the split prior (SPEC a.9, our [μ | ρ] channel
 * halves), the learned top prior (a.10) and reparameterised sampling z = μ + T·e^{ρ}·ε.
 *
 * Elementwise products with per-element e^{ρ} have no op of their own; they are run as actnorm ops
 * over ONE row of N·n_z "channels" (bias and log-scale per element): with s = 3·(ρ/3),
 *   u = (T·ε + 0)·e^{s}          actnorm_forward(u, ·, Tε, zeros, ρ/3, 1, 1, N·n_z)
 *   z = (u + μ)·e^{0}            actnorm_forward(z, ·, u, μ, zeros, 1, 1, N·n_z)
 * and their backwards are actnorm_backward over the same single row. */
#include <math.h>

#include "fce/log.h"
#include "flow/iglow_internal.h"

fce_status ig_prior_forward(fce_iglow *g, fce_iglow_tape *tp, int l) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * lv->hw;
    const float *z1 = tp->lv[l + 1].xin;
    /* conv2d_zeros: hp = (Conv3x3(z1) + b)·e^{3·logs}, then hp = [mean | logs] */
    FCE_TRY(ctx->ops->conv2d_forward(ctx, lt->plan, tp->gpre, z1, lv->pw, NULL));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, lt->hp, NULL, tp->gpre, lv->pb, lv->ps, N, lv->hw, c));
    FCE_TRY(ctx->ops->channels_copy(ctx, lt->mean, half, 0, lt->hp, c, 0, half, rows, 0));
    return ctx->ops->channels_copy(ctx, lt->logs, half, 0, lt->hp, c, half, half, rows, 0);
}

fce_status ig_prior_backward(fce_iglow *g, fce_iglow_tape *tp, int l, const float *dmean,
                             const float *dlogs, float *dz1) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * lv->hw;
    const float *z1 = tp->lv[l + 1].xin;
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->ghp, c, 0, dmean, half, 0, half, rows, 0));
    FCE_TRY(ctx->ops->channels_copy(ctx, tp->ghp, c, half, dlogs, half, 0, half, rows, 0));
    FCE_TRY(ctx->ops->actnorm_backward(ctx, tp->gpre, lv->dpb, lv->dps, tp->ghp, lt->hp, NULL, lv->pb,
                                       lv->ps, N, lv->hw, c));
    FCE_TRY(ctx->ops->conv2d_backward_filter(ctx, lt->plan, lv->dpw, NULL, tp->gpre, z1));
    FCE_TRY(ctx->ops->conv2d_backward_data(ctx, lt->plan, tp->gt, tp->gpre, lv->pw));
    return ctx->ops->channels_copy(ctx, dz1, half, 0, tp->gt, half, 0, half, rows, 1);
}

/* Broadcast of the batch-shared top prior: mean (N, n_z) = ones(N, 1)·top.meanᵀ, i.e. linear_forward
 * with top.mean as an (n_z × 1) weight; the backward's dW += dyᵀ·ones sums over the batch. */
fce_status ig_top_forward(fce_iglow *g, fce_iglow_tape *tp) {
    fce_ctx *ctx = g->ctx;
    const int L = g->cfg.L;
    const ig_level *lv = &g->levels[L - 1];
    ig_level_tape *lt = &tp->lv[L - 1];
    FCE_TRY(ctx->ops->linear_forward(ctx, lt->mean, tp->ones, lv->pw, NULL, tp->N, 1, lv->n_z));
    return ctx->ops->linear_forward(ctx, lt->logs, tp->ones, lv->ps, NULL, tp->N, 1, lv->n_z);
}

fce_status ig_top_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dmean, const float *dlogs) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[g->cfg.L - 1];
    FCE_TRY(ctx->ops->linear_backward(ctx, NULL, lv->dpw, NULL, dmean, tp->ones, lv->pw, tp->N, 1, lv->n_z));
    return ctx->ops->linear_backward(ctx, NULL, lv->dps, NULL, dlogs, tp->ones, lv->ps, tp->N, 1, lv->n_z);
}

fce_status ig_set_temperature(fce_iglow *g, fce_iglow_tape *tp, float T) {
    FCE_ASSERT(T > 0.0f && isfinite(T), "iglow: temperature must be positive (got %g)", (double)T);
    const float lt = logf(T);
    if (lt == tp->logT_host) return FCE_STATUS_OK;
    FCE_TRY(g->ctx->ops->upload(g->ctx, tp->logT, &lt, sizeof lt));
    tp->logT_host = lt;
    return FCE_STATUS_OK;
}

static const float *level_z(const fce_iglow *g, const fce_iglow_tape *tp, int l) {
    return l < g->cfg.L - 1 ? tp->lv[l].z2 : tp->lv[l].x[g->cfg.K];
}

/* z = mean + T·e^{logs}·ε (the level's prior must be in lt->mean / lt->logs). Adds the level's
 * log-prior term to tp->lp: log N(z; μ, T²e^{2ρ}) = gaussian_diag_logp(z | μ, ρ) + [log N(ε; 0, I)
 * − log N(Tε; 0, I) − n_z·log T]; the bracket (parameter-free, 0 at T = 1, skipped there) is split
 * as + log N(ε) into lp and + log N(Tε) + n_z·log T into ld (log q = lp − ld). */
fce_status ig_sample(fce_iglow *g, fce_iglow_tape *tp, int l, const float *eps, float T, float *z,
                     float *ld) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, D = lv->n_z, tot = N * D;
    FCE_TRY(ctx->ops->scale(ctx, tp->eT, eps, (size_t)tot, T));
    FCE_TRY(ctx->ops->scale(ctx, tp->ls3, lt->logs, (size_t)tot, 1.0f / FCE_ACTNORM_LOGSCALE_FACTOR));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, lt->u, NULL, tp->eT, tp->zeros, tp->ls3, 1, 1, tot));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, z, NULL, lt->u, lt->mean, tp->zeros, 1, 1, tot));
    FCE_TRY(ctx->ops->gaussian_diag_logp(ctx, tp->lp, z, lt->mean, lt->logs, N, D));
    if (T != 1.0f) {
        FCE_TRY(ctx->ops->gaussian_logp(ctx, tp->lp, eps, N, D));
        FCE_TRY(ctx->ops->gaussian_logp(ctx, ld, tp->eT, N, D));
        FCE_TRY(ctx->ops->invconv_logdet(ctx, ld, tp->logT, N, D, 1, 1.0f));
    }
    return FCE_STATUS_OK;
}

/* Backward of ig_sample with ε fixed. dz (N, n_z) = ∂L/∂z from downstream; it is clobbered (the
 * log-prior term's ∂/∂z is added to it). Writes dmean, dlogs = ∂L/∂(μ, ρ) (overwrite). */
fce_status ig_sample_backward(fce_iglow *g, fce_iglow_tape *tp, int l, float *dz,
                              const float *dlogq, float *dmean, float *dlogs) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, D = lv->n_z, tot = N * D;
    const float *z = level_z(g, tp, l);
    /* the prior term gaussian_diag_logp(z | μ, ρ), which receives dlogq */
    FCE_TRY(ctx->ops->gaussian_diag_logp_backward_acc(ctx, dz, dmean, dlogs, z, lt->mean, lt->logs,
                                                      dlogq, N, D));
    /* z = μ + u, u = e^{ρ}·Tε: dμ += dz, dρ += dz·u */
    FCE_TRY(ctx->ops->channels_copy(ctx, dmean, D, 0, dz, D, 0, D, (size_t)N, 1));
    FCE_TRY(ctx->ops->zero(ctx, tp->gt, (size_t)tot * sizeof(float)));
    FCE_TRY(ctx->ops->scale(ctx, tp->ls3, lt->logs, (size_t)tot, 1.0f / FCE_ACTNORM_LOGSCALE_FACTOR));
    FCE_TRY(ctx->ops->actnorm_backward(ctx, tp->gpre, NULL, tp->gt, dz, lt->u, NULL, tp->zeros,
                                       tp->ls3, 1, 1, tot)); /* gt = 3·dz·u */
    FCE_TRY(ctx->ops->scale(ctx, tp->gt, tp->gt, (size_t)tot, 1.0f / FCE_ACTNORM_LOGSCALE_FACTOR));
    return ctx->ops->channels_copy(ctx, dlogs, D, 0, tp->gt, D, 0, D, (size_t)N, 1);
}
