/* fce_train.c: the 2D training run (train.h): setup, the three kinds of step, the alternation,
 * checkpoints and resume. Evaluation, logs and pictures are in train_report.c.
 *
 * One FCE step (SPEC c.3), n data points x and n flow samples x̃ = g(ε), ε ~ N(0, I), T = 1:
 *   (x̃, log q(x̃)) ← flow inverse(ε);  log q(x) ← flow forward(x);  f ← EBM([x; x̃])
 *   a = f(x) − c − log q(x),  b = f(x̃) − c − log q(x̃),  acc = (#[a>0] + #[b<0]) / 2n
 *   EBM turn:  minimise −V over θ and c (Adam); the flow's outputs are constants.
 *   Flow turn: minimise V over α, backpropagating through log q(x) (encoder), and through x̃ and
 *              log q(x̃) (decoder, with ∂V/∂x̃ from the EBM's input gradient); θ and c frozen.
 *   The accuracy measured on this batch, before the update, decides the next turn: the flow plays
 *   while acc > threshold, the EBM otherwise (at exactly the threshold the EBM plays: a degenerate
 *   classifier scores 0.5 and would otherwise keep the flow forever; same rule as the peer).
 * The turn decision needs acc on the host, so each step reads back 8 bytes (value, accuracy):
 * the one synchronisation per step, and a small one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"
#include "util/fs_util.h"
#include "train/train_2d_internal.h"

void fce_train_config_defaults(fce_train_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "gmm8");
    c->mode = FCE_MODE_FCE;
    snprintf(c->device, sizeof c->device, "auto");
    c->steps = 2700; /* EBM updates (paper Figure 2's x-axis); about 8000 steps in all */
    c->seed = 1;
    c->log_every = 200;
    c->checkpoint_every = 2000;
    c->batch = 200;
    c->lr_ebm = 1e-3f;
    c->lr_flow = 1e-3f; /* the paper's 1e-5 does not move a random 2D flow; README "Decisions" */
    c->lr_final_frac = 0.1f; /* cosine decay; the paper gives no schedule: README "Decisions" */
    c->flow_optim = FCE_OPTIM_ADAMAX;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->adam_eps = 1e-7f; /* Keras default (the paper's code is TF2) */
    c->threshold = 0.5f;
    c->max_mode_steps = 2; /* without a cap the flow takes ~90% of the 2D steps: README */
    c->flow_K = 10;
    c->flow_width = 128;
    c->ebm_width = 128;
    c->ebm_hidden = 3;
    c->init_batch = 1000;
    c->eval_points = 10000;
    c->image_res = 160;
}

const char *fce_train_mode_name(fce_train_mode m) {
    switch (m) {
    case FCE_MODE_FCE: return "fce";
    case FCE_MODE_MLE: return "mle";
    case FCE_MODE_NCE: return "nce";
    }
    return "?";
}

/* ---- the NCE baseline's Gaussian ---- */

static fce_status gauss2_fit(fce_gauss2 *g, const float *xy, size_t n) {
    double cov[4];
    fce_data2d_mean_cov(xy, n, g->mean, cov);
    double l00 = sqrt(cov[0]);
    double l10 = cov[2] / l00;
    double r = cov[3] - l10 * l10;
    if (!(l00 > 0) || !(r > 0)) {
        fce_log_error("nce: the data covariance is singular; a Gaussian noise cannot be fitted");
        return FCE_STATUS_ERR_NUMERIC;
    }
    g->L[0] = l00;
    g->L[1] = 0;
    g->L[2] = l10;
    g->L[3] = sqrt(r);
    g->log_norm = -log(2.0 * 3.14159265358979323846) - log(g->L[0] * g->L[3]);
    return FCE_STATUS_OK;
}

double fce_gauss2_logp(const fce_gauss2 *g, double x, double y) {
    double u0 = (x - g->mean[0]) / g->L[0];
    double u1 = (y - g->mean[1] - g->L[2] * u0) / g->L[3];
    return g->log_norm - 0.5 * (u0 * u0 + u1 * u1);
}

/* ---- setup ---- */

#define ALLOC_DEV(ptr, nfloats) FCE_TRY(ctx->ops->alloc(ctx, (void **)&(ptr), (size_t)(nfloats) * sizeof(float)))
#define ALLOC_HOST(ptr, count)                                                                     \
    do {                                                                                           \
        (ptr) = calloc((size_t)(count), sizeof(*(ptr)));                                           \
        if (!(ptr)) {                                                                              \
            fce_log_error("out of host memory");                                                   \
            return FCE_STATUS_ERR_NOMEM;                                                           \
        }                                                                                          \
    } while (0)

static fce_status validate_config(const fce_train_config *c) {
    const char *bad = NULL;
    if (c->steps < 1) bad = "--steps must be >= 1";
    else if (c->batch < 1 || c->batch > 100000) bad = "--batch must be in 1..100000";
    else if (c->log_every < 1) bad = "--log-every must be >= 1";
    else if (c->checkpoint_every < 0) bad = "--checkpoint-every must be >= 0";
    else if (!(c->lr_ebm > 0) || !(c->lr_flow > 0)) bad = "learning rates must be > 0";
    else if (!(c->lr_final_frac > 0 && c->lr_final_frac <= 1)) bad = "--lr-final-frac must be in (0, 1]";
    else if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        bad = "--beta1/--beta2 must be in [0, 1)";
    else if (!(c->adam_eps > 0)) bad = "--adam-eps must be > 0";
    else if (!(c->threshold > 0 && c->threshold < 1)) bad = "--threshold must be in (0, 1)";
    else if (c->max_mode_steps < 0) bad = "--max-mode-steps must be >= 0";
    else if (c->max_total_steps < 0) bad = "--max-total-steps must be >= 0";
    else if (c->flow_K < 1 || c->flow_width < 1 || c->ebm_width < 1 || c->ebm_hidden < 1 ||
             c->ebm_hidden > 7)
        bad = "--flow-K, --flow-width, --ebm-width must be >= 1 and --ebm-hidden in 1..7";
    else if (c->init_batch < 2) bad = "--init-batch must be >= 2";
    else if (c->eval_points < 100) bad = "--eval-points must be >= 100";
    else if (c->image_res < 16 || c->image_res > 1024) bad = "--image-res must be in 16..1024";
    if (bad) {
        fce_log_error("%s", bad);
        return FCE_STATUS_ERR_CONFIG;
    }
    return FCE_STATUS_OK;
}

fce_status fce_trainer_setup(fce_trainer *t, const fce_train_config *cfg) {
    t->cfg = *cfg;
    FCE_TRY(validate_config(cfg));
    FCE_TRY(fce_data2d_from_name(cfg->dataset, &t->data));
    if (!t->cfg.out_dir[0])
        snprintf(t->cfg.out_dir, sizeof t->cfg.out_dir, "runs/%s-%s", cfg->dataset,
                 fce_train_mode_name(cfg->mode));
    snprintf(t->path_ckpt, sizeof t->path_ckpt, "%s/checkpoint.fce", t->cfg.out_dir);
    FCE_TRY(fce_ctx_init(&t->ctx, cfg->device)); /* before the folder: a bad --device leaves none */
    FCE_TRY(fce_mkdirs(t->cfg.out_dir));
    fce_ctx *ctx = &t->ctx;

    t->n = cfg->batch;
    t->cap_flow = t->n;
    if (t->cap_flow < FCE_EVAL_CHUNK) t->cap_flow = FCE_EVAL_CHUNK;
    if (t->cap_flow < cfg->init_batch) t->cap_flow = cfg->init_batch;
    t->cap_ebm = 2 * t->n;
    if (t->cap_ebm < FCE_EVAL_CHUNK) t->cap_ebm = FCE_EVAL_CHUNK;
    if (t->cap_ebm < cfg->init_batch) t->cap_ebm = cfg->init_batch;
    t->seed_data = fce_derive_seed(cfg->seed, 1);
    t->seed_noise = fce_derive_seed(cfg->seed, 2);
    t->seed_init = fce_derive_seed(cfg->seed, 3);

    fce_glow_config gc = {FCE_DIM, cfg->flow_K, cfg->flow_width, cfg->flow_nn_actnorm};
    fce_ebm_config ec = {FCE_DIM, cfg->ebm_width, cfg->ebm_hidden};
    FCE_TRY(fce_glow_init(&t->glow, ctx, &gc, fce_derive_seed(cfg->seed, 10)));
    FCE_TRY(fce_ebm_init(&t->ebm, ctx, &ec, fce_derive_seed(cfg->seed, 11)));
    FCE_TRY(fce_glow_tape_init(&t->tp_data, t->glow, t->cap_flow));
    FCE_TRY(fce_glow_tape_init(&t->tp_samp, t->glow, t->n));
    FCE_TRY(fce_ebm_tape_init(&t->tp_ebm, t->ebm, t->cap_ebm));

    const int n = t->n, D = FCE_DIM;
    ALLOC_DEV(t->d_x, (size_t)t->cap_ebm * D);
    ALLOC_DEV(t->d_eps, (size_t)n * D);
    ALLOC_DEV(t->d_ebm_in, (size_t)t->cap_ebm * D);
    ALLOC_DEV(t->d_df, 2 * (size_t)n);
    ALLOC_DEV(t->d_dlq, n);
    ALLOC_DEV(t->d_dlqt, n);
    ALLOC_DEV(t->d_dxt, (size_t)n * D);
    ALLOC_DEV(t->d_stats, 2);
    ALLOC_DEV(t->d_mle_dlq, n);
    ALLOC_DEV(t->d_lq_noise, n);
    ALLOC_DEV(t->d_lqt_noise, n);
    int hmax = t->cap_ebm > t->cap_flow ? t->cap_ebm : t->cap_flow;
    ALLOC_HOST(t->h_x, (size_t)hmax * D);
    ALLOC_HOST(t->h_noise, (size_t)n * D);
    ALLOC_HOST(t->h_lq, hmax);
    ALLOC_HOST(t->h_lqt, n);
    ALLOC_HOST(t->h_out, hmax);

    /* MLE: ∂(−mean log q)/∂log q_i = −1/n, a constant uploaded once */
    for (int i = 0; i < n; i++) t->h_lq[i] = -1.0f / (float)n;
    FCE_TRY(ctx->ops->upload(ctx, t->d_mle_dlq, t->h_lq, (size_t)n * sizeof(float)));

    /* reference sample of the data: the density picture's histogram and the NCE Gaussian */
    t->n_ref = 100000;
    ALLOC_HOST(t->h_ref, t->n_ref * D);
    fce_data2d_sample(t->data, t->h_ref, t->n_ref, fce_derive_seed(cfg->seed, 4), 0);
    FCE_TRY(gauss2_fit(&t->noise, t->h_ref, t->n_ref));

    /* evaluation points from p_true, where the density is known */
    if (fce_data2d_has_density(t->data)) {
        size_t E = (size_t)cfg->eval_points;
        ALLOC_HOST(t->h_eval_pts, E * D);
        ALLOC_HOST(t->h_eval_true, E);
        fce_data2d_sample(t->data, t->h_eval_pts, E, fce_derive_seed(cfg->seed, 5), 0);
        for (size_t i = 0; i < E; i++)
            t->h_eval_true[i] = fce_data2d_log_density(t->data, t->h_eval_pts[2 * i], t->h_eval_pts[2 * i + 1]);
    }
    t->last_mse_ebm = t->last_mse_flow = NAN;
    return FCE_STATUS_OK;
}

void fce_trainer_free(fce_trainer *t) {
    fce_ctx *ctx = &t->ctx;
    if (t->metrics) fclose(t->metrics);
    if (ctx->ops) {
        float *bufs[] = {t->d_x, t->d_eps, t->d_ebm_in, t->d_df, t->d_dlq, t->d_dlqt, t->d_dxt,
                         t->d_stats, t->d_mle_dlq, t->d_lq_noise, t->d_lqt_noise};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
        fce_glow_tape_free(t->tp_data);
        fce_glow_tape_free(t->tp_samp);
        fce_ebm_tape_free(t->tp_ebm);
        fce_glow_free(t->glow);
        fce_ebm_free(t->ebm);
        fce_ctx_free(ctx);
    }
    free(t->h_x);
    free(t->h_noise);
    free(t->h_lq);
    free(t->h_lqt);
    free(t->h_out);
    free(t->h_eval_pts);
    free(t->h_eval_true);
    free(t->h_ref);
}

/* ---- batches ---- */

/* Data batch of step `step` into d_x: a pure function of (seed, step), so resume is exact. */
static fce_status load_data_batch(fce_trainer *t, int64_t step) {
    fce_data2d_sample(t->data, t->h_x, (size_t)t->n, t->seed_data, (uint64_t)step * (uint64_t)t->n);
    return t->ctx.ops->upload(&t->ctx, t->d_x, t->h_x, (size_t)t->n * FCE_DIM * sizeof(float));
}

/* NCE noise batch of step `step`: samples x̃ = μ + Lε into d_ebm_in[n..2n), their log q into
 * d_lqt_noise, and log q of the current data batch (h_x) into d_lq_noise. */
static fce_status load_noise_batch(fce_trainer *t, int64_t step) {
    const int n = t->n;
    const fce_gauss2 *g = &t->noise;
    uint64_t base = (uint64_t)step * (uint64_t)n * FCE_DIM;
    for (int i = 0; i < n; i++) {
        double e0 = fce_philox_normal(t->seed_noise, base + 2 * (uint64_t)i);
        double e1 = fce_philox_normal(t->seed_noise, base + 2 * (uint64_t)i + 1);
        double x0 = g->mean[0] + g->L[0] * e0, x1 = g->mean[1] + g->L[2] * e0 + g->L[3] * e1;
        t->h_noise[2 * i] = (float)x0;
        t->h_noise[2 * i + 1] = (float)x1;
        t->h_lqt[i] = (float)fce_gauss2_logp(g, x0, x1);
        t->h_lq[i] = (float)fce_gauss2_logp(g, t->h_x[2 * i], t->h_x[2 * i + 1]);
    }
    fce_ctx *ctx = &t->ctx;
    FCE_TRY(ctx->ops->upload(ctx, t->d_ebm_in + (size_t)n * FCE_DIM, t->h_noise, (size_t)n * FCE_DIM * sizeof(float)));
    FCE_TRY(ctx->ops->upload(ctx, t->d_lqt_noise, t->h_lqt, (size_t)n * sizeof(float)));
    return ctx->ops->upload(ctx, t->d_lq_noise, t->h_lq, (size_t)n * sizeof(float));
}

/* ---- optimizer steps over one arena ---- */

int64_t fce_trainer_primary_updates(const fce_trainer *t) {
    return t->cfg.mode == FCE_MODE_MLE ? t->st.flow_updates : t->st.ebm_updates;
}

/* Cosine decay from 1 to lr_final_frac over the run's --steps updates (1 = constant). A function
 * of the counters alone, so a resumed run continues the same schedule. */
static float lr_factor(const fce_trainer *t) {
    double f = t->cfg.lr_final_frac;
    double progress = (double)fce_trainer_primary_updates(t) / (double)t->cfg.steps;
    if (progress > 1) progress = 1;
    return (float)(f + (1.0 - f) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}

static fce_status ebm_update(fce_trainer *t) {
    fce_param_arena *a = fce_ebm_arena(t->ebm);
    t->st.ebm_t++;
    return t->ctx.ops->adam_step(&t->ctx, a->params, a->grads, a->m, a->v, a->n_trainable,
                                 t->cfg.lr_ebm * lr_factor(t), t->cfg.beta1, t->cfg.beta2, t->cfg.adam_eps,
                                 (int)t->st.ebm_t);
}

static fce_status flow_update(fce_trainer *t) {
    fce_param_arena *a = fce_glow_arena(t->glow);
    fce_ctx *ctx = &t->ctx;
    const float lr = t->cfg.lr_flow * lr_factor(t);
    t->st.flow_t++;
    if (t->cfg.flow_optim == FCE_OPTIM_ADAM)
        FCE_TRY(ctx->ops->adam_step(ctx, a->params, a->grads, a->m, a->v, a->n_trainable,
                                    lr, t->cfg.beta1, t->cfg.beta2, t->cfg.adam_eps,
                                    (int)t->st.flow_t));
    else
        FCE_TRY(ctx->ops->adamax_step(ctx, a->params, a->grads, a->m, a->v, a->n_trainable,
                                      lr, t->cfg.beta1, t->cfg.beta2, t->cfg.adam_eps,
                                      (int)t->st.flow_t));
    return fce_glow_refresh(t->glow);
}

/* ---- the steps ---- */

/* FCE and NCE: fills d_ebm_in = [x; x̃], runs the EBM, returns f; `lq`, `lqt` point to the
 * noise model's log-densities at data and samples. */
static fce_status contrastive_forward(fce_trainer *t, int64_t step, const float **f,
                                      const float **lq, const float **lqt) {
    fce_ctx *ctx = &t->ctx;
    const int n = t->n, D = FCE_DIM;
    FCE_TRY(load_data_batch(t, step));
    FCE_TRY(ctx->ops->copy(ctx, t->d_ebm_in, t->d_x, (size_t)n * D * sizeof(float)));
    if (t->cfg.mode == FCE_MODE_NCE) {
        FCE_TRY(load_noise_batch(t, step));
        *lq = t->d_lq_noise;
        *lqt = t->d_lqt_noise;
    } else {
        FCE_TRY(ctx->ops->fill_normal(ctx, t->d_eps, (size_t)n * D, t->seed_noise,
                                      (uint64_t)step * (uint64_t)n * D, 1.0f));
        FCE_TRY(fce_glow_inverse(t->glow, t->tp_samp, t->d_eps, n));
        FCE_TRY(fce_glow_forward(t->glow, t->tp_data, t->d_x, n));
        FCE_TRY(ctx->ops->copy(ctx, t->d_ebm_in + (size_t)n * D, fce_glow_tape_x(t->tp_samp),
                               (size_t)n * D * sizeof(float)));
        *lq = fce_glow_tape_logq(t->tp_data);
        *lqt = fce_glow_tape_logq(t->tp_samp);
    }
    return fce_ebm_forward(t->ebm, t->tp_ebm, t->d_ebm_in, 2 * n, f);
}

static fce_status grad_ebm(fce_trainer *t, const float *f, const float *lq, const float *lqt) {
    fce_ctx *ctx = &t->ctx;
    const int n = t->n;
    FCE_TRY(fce_param_arena_zero_grad(fce_ebm_arena(t->ebm), ctx));
    FCE_TRY(ctx->ops->nce_loss(ctx, t->d_stats, t->d_df, t->d_df + n, NULL, NULL, fce_ebm_dc(t->ebm),
                               f, f + n, lq, lqt, fce_ebm_c(t->ebm), n, 1.0f));
    return fce_ebm_backward(t->ebm, t->tp_ebm, t->d_df, NULL, 0, 2 * n, 1);
}

static fce_status grad_flow(fce_trainer *t, const float *f, const float *lq, const float *lqt) {
    fce_ctx *ctx = &t->ctx;
    const int n = t->n;
    /* ∂V/∂f(x̃), ∂V/∂log q(x), ∂V/∂log q(x̃): the flow minimises V (gscale −1); c is frozen */
    FCE_TRY(ctx->ops->nce_loss(ctx, t->d_stats, NULL, t->d_df + n, t->d_dlq, t->d_dlqt, NULL, f,
                               f + n, lq, lqt, fce_ebm_c(t->ebm), n, -1.0f));
    /* ∂V/∂x̃ = ∂V/∂f(x̃) · ∇ₓf(x̃): the EBM's input gradient on the sample rows, no parameter grads */
    FCE_TRY(fce_ebm_backward(t->ebm, t->tp_ebm, t->d_df + n, t->d_dxt, n, n, 0));
    FCE_TRY(fce_glow_zero_grad(t->glow));
    FCE_TRY(fce_glow_backward(t->glow, t->tp_data, t->d_dlq, n));
    FCE_TRY(fce_glow_inverse_backward(t->glow, t->tp_samp, t->d_dxt, t->d_dlqt, n));
    return fce_glow_finish_grad(t->glow);
}

static fce_status step_mle(fce_trainer *t, int64_t step, double *nll) {
    fce_ctx *ctx = &t->ctx;
    const int n = t->n;
    FCE_TRY(load_data_batch(t, step));
    FCE_TRY(fce_glow_forward(t->glow, t->tp_data, t->d_x, n));
    FCE_TRY(ctx->ops->download(ctx, t->h_lq, fce_glow_tape_logq(t->tp_data), (size_t)n * sizeof(float)));
    double s = 0;
    for (int i = 0; i < n; i++) s += t->h_lq[i];
    *nll = -s / n;
    FCE_TRY(fce_glow_zero_grad(t->glow));
    FCE_TRY(fce_glow_backward(t->glow, t->tp_data, t->d_mle_dlq, n));
    FCE_TRY(fce_glow_finish_grad(t->glow));
    return flow_update(t);
}

/* ---- initialisation of a fresh run ---- */

/* c₀ = mean(f(x) − log q(x)) over an init batch, so that log p ≈ log q at the start and acc ≈ 0.5
 * (SPEC c.3: an O(1) c against large log q would saturate the logistic loss). */
static fce_status init_c(fce_trainer *t, const float *x_dev, const float *lq_dev, int m) {
    fce_ctx *ctx = &t->ctx;
    const float *f;
    FCE_TRY(fce_ebm_forward(t->ebm, t->tp_ebm, x_dev, m, &f));
    FCE_TRY(ctx->ops->download(ctx, t->h_out, f, (size_t)m * sizeof(float)));
    FCE_TRY(ctx->ops->download(ctx, t->h_lq, lq_dev, (size_t)m * sizeof(float)));
    double s = 0;
    for (int i = 0; i < m; i++) s += (double)t->h_out[i] - (double)t->h_lq[i];
    float c = (float)(s / m);
    t->st.c_initialized = 1;
    return ctx->ops->upload(ctx, fce_ebm_c(t->ebm), &c, sizeof c);
}

fce_status fce_trainer_fresh_start(fce_trainer *t) {
    fce_ctx *ctx = &t->ctx;
    const int m = t->cfg.init_batch, D = FCE_DIM;
    memset(&t->st, 0, sizeof t->st);
    t->st.seed = (int64_t)t->cfg.seed;
    t->st.mode = t->cfg.mode;
    snprintf(t->st.dataset, sizeof t->st.dataset, "%s", t->cfg.dataset);
    /* init batch: its own stream, not one of the training batches */
    fce_data2d_sample(t->data, t->h_x, (size_t)m, t->seed_init, 0);
    FCE_TRY(ctx->ops->upload(ctx, t->d_x, t->h_x, (size_t)m * D * sizeof(float)));
    if (t->cfg.init_flow[0]) {
        FCE_TRY(fce_checkpoint_load_flow(t->cfg.init_flow, t->glow));
        fce_log_info("flow initialised from %s", t->cfg.init_flow);
    }
    if (t->cfg.mode != FCE_MODE_NCE) FCE_TRY(fce_glow_data_init(t->glow, t->tp_data, t->d_x, m));
    if (t->cfg.mode == FCE_MODE_FCE) {
        FCE_TRY(fce_glow_forward(t->glow, t->tp_data, t->d_x, m));
        FCE_TRY(init_c(t, t->d_x, fce_glow_tape_logq(t->tp_data), m));
    } else if (t->cfg.mode == FCE_MODE_NCE) {
        for (int i = 0; i < m; i++)
            t->h_lq[i] = (float)fce_gauss2_logp(&t->noise, t->h_x[2 * i], t->h_x[2 * i + 1]);
        FCE_TRY(ctx->ops->upload(ctx, t->d_ebm_in, t->h_lq, (size_t)m * sizeof(float)));
        /* d_ebm_in is only scratch here: init_c runs the EBM on d_x */
        FCE_TRY(init_c(t, t->d_x, t->d_ebm_in, m));
    }
    return FCE_STATUS_OK;
}

fce_status fce_trainer_resume(fce_trainer *t) {
    if (!fce_file_exists(t->path_ckpt)) {
        fce_log_error("--resume: no checkpoint at %s (start without --resume, or point --out at the "
                      "run folder)", t->path_ckpt);
        return FCE_STATUS_ERR_IO;
    }
    FCE_TRY(fce_checkpoint_load(t->path_ckpt, t->glow, t->ebm, &t->st));
    if (t->st.mode != t->cfg.mode || strcmp(t->st.dataset, t->cfg.dataset) != 0) {
        fce_log_error("--resume: %s was written by a '%s' run on '%s', this is a '%s' run on '%s' "
                      "(use the same --mode and --dataset)", t->path_ckpt,
                      fce_train_mode_name((fce_train_mode)t->st.mode), t->st.dataset,
                      fce_train_mode_name(t->cfg.mode), t->cfg.dataset);
        return FCE_STATUS_ERR_CONFIG;
    }
    if ((uint64_t)t->st.seed != t->cfg.seed)
        fce_log_warn("--resume: checkpoint seed %lld differs from --seed %llu; continuing with the "
                     "checkpoint's data order", (long long)t->st.seed, (unsigned long long)t->cfg.seed);
    t->seed_data = fce_derive_seed((uint64_t)t->st.seed, 1);
    t->seed_noise = fce_derive_seed((uint64_t)t->st.seed, 2);
    fce_log_info("resumed %s at step %lld", t->path_ckpt, (long long)t->st.step);
    return FCE_STATUS_OK;
}

/* ---- the loop ---- */

fce_status fce_trainer_contrastive_grads(fce_trainer *t, int flow_turn, float stats[2]) {
    const float *f, *lq, *lqt;
    FCE_TRY(contrastive_forward(t, t->st.step, &f, &lq, &lqt));
    if (flow_turn) FCE_TRY(grad_flow(t, f, lq, lqt));
    else FCE_TRY(grad_ebm(t, f, lq, lqt));
    return t->ctx.ops->download(&t->ctx, stats, t->d_stats, 2 * sizeof(float));
}

fce_status fce_trainer_step(fce_trainer *t) {
    const int64_t step = t->st.step;
    if (t->cfg.mode == FCE_MODE_MLE) {
        double nll;
        FCE_TRY(step_mle(t, step, &nll));
        if (!isfinite(nll)) {
            fce_log_error("training diverged at step %lld: the flow's NLL is %g. The last good "
                          "checkpoint is %s; try a lower --lr-flow", (long long)step, nll, t->path_ckpt);
            return FCE_STATUS_ERR_NUMERIC;
        }
        t->sum_nll += nll;
        t->st.flow_updates++;
    } else {
        float stats[2];
        int flow_turn = t->cfg.mode == FCE_MODE_FCE && t->st.flow_turn;
        FCE_TRY(fce_trainer_contrastive_grads(t, flow_turn, stats));
        if (!isfinite(stats[0])) {
            fce_log_error("training diverged at step %lld: the value function is %g. The last good "
                          "checkpoint is %s; try lower --lr-ebm / --lr-flow", (long long)step,
                          stats[0], t->path_ckpt);
            return FCE_STATUS_ERR_NUMERIC;
        }
        if (flow_turn) {
            FCE_TRY(flow_update(t));
            t->st.flow_updates++;
        } else {
            FCE_TRY(ebm_update(t));
            t->st.ebm_updates++;
            t->n_interval_ebm++;
        }
        t->sum_value += stats[0];
        t->sum_acc += stats[1];
        /* whose turn next: the accuracy before this update decides (SPEC c.3) */
        int next = stats[1] > t->cfg.threshold;
        if (t->cfg.max_mode_steps > 0 && next == flow_turn && t->st.consecutive >= t->cfg.max_mode_steps)
            next = !flow_turn;
        t->st.consecutive = next == flow_turn ? t->st.consecutive + 1 : 1;
        t->st.flow_turn = next;
    }
    t->n_interval++;
    t->st.step++;
    return FCE_STATUS_OK;
}

fce_status fce_train_run(const fce_train_config *cfg) {
    fce_trainer *t = calloc(1, sizeof *t);
    if (!t) return FCE_STATUS_ERR_NOMEM;
    fce_status st = FCE_STATUS_OK;
    FCE_TRY_GOTO(st, fce_trainer_setup(t, cfg));
    if (t->cfg.resume) FCE_TRY_GOTO(st, fce_trainer_resume(t));
    else FCE_TRY_GOTO(st, fce_trainer_fresh_start(t));

    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", t->cfg.out_dir);
    t->metrics = fopen(mpath, t->cfg.resume ? "a" : "w");
    if (!t->metrics) {
        fce_log_error("cannot open %s for writing", mpath);
        FCE_TRY_GOTO(st, FCE_STATUS_ERR_IO);
    }
    if (!t->cfg.quiet)
        fce_log_info("train %s on %s | device %s | batch %d | %ld %s updates | out %s",
                     fce_train_mode_name(t->cfg.mode), t->cfg.dataset, t->ctx.device_name, t->n,
                     t->cfg.steps, t->cfg.mode == FCE_MODE_MLE ? "flow" : "EBM", t->cfg.out_dir);
    t->t_session0 = fce_now_seconds() - t->st.seconds;
    t->step_session0 = (long)t->st.step;
    t->updates_session0 = fce_trainer_primary_updates(t);
    t->t_start = fce_now_seconds();
    const int64_t max_total = t->cfg.max_total_steps ? t->cfg.max_total_steps : 50 * (int64_t)t->cfg.steps;
    while (fce_trainer_primary_updates(t) < t->cfg.steps) {
        if (t->st.step >= max_total) {
            fce_log_warn("stopped after %lld steps in total with %lld of %ld %s updates "
                         "(--max-total-steps): the other player kept the turn",
                         (long long)t->st.step, (long long)fce_trainer_primary_updates(t),
                         t->cfg.steps, t->cfg.mode == FCE_MODE_MLE ? "flow" : "EBM");
            break;
        }
        int64_t before = fce_trainer_primary_updates(t);
        FCE_TRY_GOTO(st, fce_trainer_step(t));
        int64_t now = fce_trainer_primary_updates(t);
        if (now == before) continue; /* a flow turn of FCE: intervals are counted in EBM updates */
        int last = now == t->cfg.steps;
        if (now % t->cfg.log_every == 0 || last) FCE_TRY_GOTO(st, fce_trainer_log_interval(t));
        if ((t->cfg.checkpoint_every && now % t->cfg.checkpoint_every == 0) || last) {
            t->st.seconds = fce_now_seconds() - t->t_session0;
            FCE_TRY_GOTO(st, fce_checkpoint_save(t->path_ckpt, t->glow, t->ebm, &t->st));
        }
    }
    if (t->n_interval) FCE_TRY_GOTO(st, fce_trainer_log_interval(t));
    /* a resumed run that was already complete has not evaluated in this session */
    FCE_TRY_GOTO(st, fce_trainer_eval_mse(t, &t->last_mse_ebm, &t->last_mse_flow));
    double seconds = fce_now_seconds() - t->t_start;
    FCE_TRY_GOTO(st, fce_trainer_write_density_png(t));
    FCE_TRY_GOTO(st, fce_trainer_write_summary(t, seconds));
cleanup:
    fce_trainer_free(t);
    free(t);
    return st;
}
