/* train_2d.c: the 2D training run (train.h): setup, the three kinds of step, the alternation,
 * checkpoints and resume. The FCE game itself (the contrastive forward, the value and its gradients,
 * c's initialisation, the optimizers and the turn rule) is fce_game.c, which this file drives with
 * the 2D networks; evaluation, logs and pictures are train_2d_report.c.
 *
 * FCE (SPEC c.3): n data points x and n flow samples x̃ = g(ε), ε ~ N(0, I), per step; the
 * accuracy on this batch, before the update, decides the next turn. NCE: the same game against a
 * fixed Gaussian fitted to the data (nce_noise_2d.h), only the EBM playing. MLE: the flow alone.
 * The turn decision needs acc on the host, so each step reads back 8 bytes (value, accuracy):
 * the one synchronisation per step, and a small one. The step that ends a log interval also reads
 * its batch's f and log q for the health figures (train/fce_diag.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"
#include "util/fs_util.h"
#include "train/run_folder.h"
#include "train/stop_signal.h"
#include "train/train_2d_internal.h"

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

/* ---- batches ---- */

/* The global row of this rank's first row of step `step`'s batch: data and noise are indexed by it
 * (dist.h), so the ranks of a job draw exactly the rows of one process's batch. */
static uint64_t first_row(const fce_trainer *t, int64_t step) {
    return (uint64_t)step * (uint64_t)t->shard.global + (uint64_t)t->shard.row0;
}

/* Data batch of step `step` into d_x: a pure function of (seed, step), so resume is exact. */
static fce_status load_data_batch(fce_trainer *t, int64_t step) {
    fce_data2d_sample(t->data, t->h_x, (size_t)t->n, t->seed_data, first_row(t, step));
    return t->ctx.ops->upload(&t->ctx, t->d_x, t->h_x, (size_t)t->n * FCE_DIM * sizeof(float));
}

/* NCE noise batch of step `step`: samples x̃ = μ + Lε into d_noise, their log q into d_lqt_noise,
 * and log q of the current data batch (h_x) into d_lq_noise. */
static fce_status load_noise_batch(fce_trainer *t, int64_t step) {
    const int n = t->n;
    const fce_gauss2 *g = &t->noise;
    fce_gauss2_sample(g, t->seed_noise, first_row(t, step) * FCE_DIM, n, t->h_noise, t->h_lqt);
    for (int i = 0; i < n; i++) t->h_lq[i] = (float)fce_gauss2_logp(g, t->h_x[2 * i], t->h_x[2 * i + 1]);
    fce_ctx *ctx = &t->ctx;
    FCE_TRY(ctx->ops->upload(ctx, t->d_noise, t->h_noise, (size_t)n * FCE_DIM * sizeof(float)));
    FCE_TRY(ctx->ops->upload(ctx, t->d_lqt_noise, t->h_lqt, (size_t)n * sizeof(float)));
    return ctx->ops->upload(ctx, t->d_lq_noise, t->h_lq, (size_t)n * sizeof(float));
}

/* ---- the 2D networks as the FCE game drives them (fce_game_models) ---- */

/* The data batch, and the noise model's samples: the flow's x̃ = g(ε), or NCE's Gaussian. */
static fce_status game_draw(void *self, int64_t step, const float **x, const float **xt, const float **lq,
                            const float **lqt) {
    fce_trainer *t = self;
    const size_t nD = (size_t)t->n * FCE_DIM;
    FCE_TRY(load_data_batch(t, step));
    *x = t->d_x;
    if (t->cfg.mode == FCE_MODE_NCE) {
        FCE_TRY(load_noise_batch(t, step));
        *xt = t->d_noise, *lq = t->d_lq_noise, *lqt = t->d_lqt_noise;
        return FCE_STATUS_OK;
    }
    FCE_TRY(t->ctx.ops->fill_normal(&t->ctx, t->d_eps, nD, t->seed_noise, first_row(t, step) * FCE_DIM, 1.0f));
    FCE_TRY(fce_glow_inverse(t->glow, t->tp_samp, t->d_eps, t->n));
    FCE_TRY(fce_glow_forward(t->glow, t->tp_data, t->d_x, t->n));
    *xt = fce_glow_tape_x(t->tp_samp);
    *lq = fce_glow_tape_logq(t->tp_data), *lqt = fce_glow_tape_logq(t->tp_samp);
    return FCE_STATUS_OK;
}

static fce_status game_ebm_forward(void *self, const float *in, int rows, const float **f) {
    fce_trainer *t = self;
    return fce_ebm_forward(t->ebm, t->tp_ebm, in, rows, f);
}

/* The MLP's backward takes a row range: ∂V/∂x̃ runs on the sample rows alone. */
static fce_status game_ebm_backward(void *self, float *df, float *dx) {
    fce_trainer *t = self;
    const int n = t->n;
    if (!dx) return fce_ebm_backward(t->ebm, t->tp_ebm, df, NULL, 0, 2 * n, 1);
    return fce_ebm_backward(t->ebm, t->tp_ebm, df + n, dx + (size_t)n * FCE_DIM, n, n, 0);
}

static fce_status game_flow_grads(void *self, const float *dlq, const float *dxt, const float *dlqt) {
    fce_trainer *t = self;
    FCE_TRY(fce_glow_zero_grad(t->glow));
    FCE_TRY(fce_glow_backward(t->glow, t->tp_data, dlq, t->n));
    FCE_TRY(fce_glow_inverse_backward(t->glow, t->tp_samp, dxt, dlqt, t->n));
    return fce_glow_finish_grad(t->glow);
}

static fce_status game_flow_refresh(void *self) {
    fce_trainer *t = self;
    return fce_glow_refresh(t->glow);
}


/* ---- setup ---- */

static int max_int(int a, int b) { return a > b ? a : b; }

/* The buffers: the tapes' capacities cover a step, the init batch and an evaluation chunk. */
static fce_status alloc_buffers(fce_trainer *t) {
    fce_ctx *ctx = &t->ctx;
    const int n = t->n, m = t->cfg.init_batch, D = FCE_DIM;
    t->cap_flow = max_int(max_int(n, FCE_EVAL_CHUNK), m);
    t->cap_ebm = max_int(max_int(2 * n, FCE_EVAL_CHUNK), m);
    FCE_TRY(fce_glow_tape_init(&t->tp_data, t->glow, t->cap_flow));
    FCE_TRY(fce_glow_tape_init(&t->tp_samp, t->glow, n));
    FCE_TRY(fce_ebm_tape_init(&t->tp_ebm, t->ebm, t->cap_ebm));
    float **dev[] = {&t->d_x, &t->d_eps, &t->d_mle_dlq, &t->d_noise, &t->d_lq_noise, &t->d_lqt_noise};
    const size_t dev_floats[] = {(size_t)t->cap_ebm * D, (size_t)n * D, (size_t)n, (size_t)n * D,
                                 (size_t)max_int(n, m), (size_t)n};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        FCE_TRY(ctx->ops->alloc(ctx, (void **)dev[i], dev_floats[i] * sizeof(float)));
    const int hmax = max_int(t->cap_ebm, t->cap_flow);
    float **host[] = {&t->h_x, &t->h_noise, &t->h_lq, &t->h_lqt};
    const size_t host_floats[] = {(size_t)hmax * D, (size_t)n * D, (size_t)hmax, (size_t)n};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) {
        *host[i] = calloc(host_floats[i], sizeof(float));
        if (!*host[i]) {
            fce_log_error("out of host memory");
            return FCE_STATUS_ERR_NOMEM;
        }
    }
    /* MLE: ∂(−mean log q)/∂log q_i = −1/n over the global batch, a constant uploaded once */
    for (int i = 0; i < n; i++) t->h_lq[i] = -1.0f / (float)t->shard.global;
    return ctx->ops->upload(ctx, t->d_mle_dlq, t->h_lq, (size_t)n * sizeof(float));
}

static fce_status game_setup(fce_trainer *t) {
    const fce_train_config *c = &t->cfg;
    const fce_game_models models = {t, game_draw, game_ebm_forward, game_ebm_backward, game_flow_grads,
                                    game_flow_refresh,
                                    fce_ebm_arena(t->ebm), fce_glow_arena(t->glow), fce_ebm_c(t->ebm),
                                    fce_ebm_dc(t->ebm)};
    const fce_game_settings settings = {c->lr_ebm, 0, c->lr_flow, c->flow_optim, c->beta1, c->beta2,
                                        c->adam_eps, c->threshold, c->max_mode_steps};
    const fce_game_counters counters = {&t->st.flow_turn, &t->st.consecutive, &t->st.ebm_t, &t->st.flow_t};
    return fce_game_init(&t->game, &t->ctx, &models, &settings, &counters, t->n, FCE_DIM);
}

static fce_status report_setup(fce_trainer *t) {
    fce_report_2d *r = &t->report;
    FCE_TRY(fce_report_2d_init(r, &t->cfg, t->data, 100000, fce_derive_seed(t->cfg.seed, 4),
                               fce_derive_seed(t->cfg.seed, 5)));
    r->st = &t->st;
    r->noise = &t->noise;
    fce_models_2d m = {&t->ctx, t->glow, t->tp_data, t->ebm, t->tp_ebm, t->d_x};
    r->models = m;
    /* the NCE baseline's Gaussian from the same data sample as the picture's histogram */
    return fce_gauss2_fit(&t->noise, r->ref, r->n_ref);
}

/* --out's default: runs/<dataset>-<mode>. */
static void default_out_dir(fce_train_config *c) {
    if (!c->out_dir[0])
        snprintf(c->out_dir, sizeof c->out_dir, "runs/%.100s-%s", c->dataset, fce_train_mode_name(c->mode));
}

fce_status fce_trainer_setup(fce_trainer *t, const fce_train_config *cfg) {
    t->cfg = *cfg;
    t->saved_step = -1;
    FCE_TRY(validate_config(cfg));
    FCE_TRY(fce_data2d_from_name(cfg->dataset, &t->data));
    default_out_dir(&t->cfg);
    snprintf(t->path_ckpt, sizeof t->path_ckpt, "%s/checkpoint.fce", t->cfg.out_dir);
    FCE_TRY(fce_dist_shard_of(cfg->dist, cfg->batch, "--batch", &t->shard));
    FCE_TRY(fce_dist_ctx_init(cfg->dist, &t->ctx, cfg->device)); /* before the folder: a bad --device leaves none */
    FCE_TRY(fce_mkdirs(t->cfg.out_dir));
    t->n = t->shard.rows;
    t->seed_data = fce_derive_seed(cfg->seed, 1);
    t->seed_noise = fce_derive_seed(cfg->seed, 2);
    t->seed_init = fce_derive_seed(cfg->seed, 3);
    fce_glow_config gc = {FCE_DIM, cfg->flow_K, cfg->flow_width, cfg->flow_nn_actnorm};
    fce_ebm_config ec = {FCE_DIM, cfg->ebm_width, cfg->ebm_hidden};
    FCE_TRY(fce_glow_init(&t->glow, &t->ctx, &gc, fce_derive_seed(cfg->seed, 10)));
    FCE_TRY(fce_ebm_init(&t->ebm, &t->ctx, &ec, fce_derive_seed(cfg->seed, 11)));
    FCE_TRY(alloc_buffers(t));
    FCE_TRY(game_setup(t));
    return report_setup(t);
}

/* The networks and their tapes (NULL-safe). */
static void free_models(fce_trainer *t) {
    fce_glow_tape_free(t->tp_data);
    fce_glow_tape_free(t->tp_samp);
    fce_glow_free(t->glow);
    fce_ebm_tape_free(t->tp_ebm);
    fce_ebm_free(t->ebm);
}

void fce_trainer_free(fce_trainer *t) {
    fce_ctx *ctx = &t->ctx;
    fce_report_2d_free(&t->report);
    if (ctx->ops) {
        fce_game_free(&t->game);
        float *dev[] = {t->d_x, t->d_eps, t->d_mle_dlq, t->d_noise, t->d_lq_noise, t->d_lqt_noise};
        for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) ctx->ops->release(ctx, dev[i]);
        free_models(t);
        fce_ctx_free(ctx);
    }
    float *host[] = {t->h_x, t->h_noise, t->h_lq, t->h_lqt};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
}


/* ---- the steps ---- */

/* Cosine decay from 1 to lr_final_frac over the run's --steps updates (1 = constant). A function
 * of the counters alone, so a resumed run continues the same schedule. */
static float lr_factor(const fce_trainer *t) {
    double f = t->cfg.lr_final_frac;
    double progress = (double)fce_train_primary_updates(t->cfg.mode, &t->st) / (double)t->cfg.steps;
    if (progress > 1) progress = 1;
    return (float)(f + (1.0 - f) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
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
    FCE_TRY(fce_dist_mean(ctx->dist, nll, 1));
    FCE_TRY(fce_glow_zero_grad(t->glow));
    FCE_TRY(fce_glow_backward(t->glow, t->tp_data, t->d_mle_dlq, n));
    FCE_TRY(fce_glow_finish_grad(t->glow));
    return fce_game_update_flow(&t->game, lr_factor(t));
}

/* ---- initialisation of a fresh run ---- */

fce_status fce_trainer_fresh_start(fce_trainer *t) {
    fce_ctx *ctx = &t->ctx;
    const int D = FCE_DIM;
    fce_dist_shard init; /* this rank's rows of the init batch; actnorm and c₀ reduce over the ranks */
    FCE_TRY(fce_dist_shard_of(ctx->dist, t->cfg.init_batch, "--init-batch", &init));
    const int m = init.rows;
    memset(&t->st, 0, sizeof t->st);
    t->st.seed = (int64_t)t->cfg.seed;
    t->st.mode = t->cfg.mode;
    snprintf(t->st.dataset, sizeof t->st.dataset, "%s", t->cfg.dataset);
    /* init batch: its own stream, not one of the training batches */
    fce_data2d_sample(t->data, t->h_x, (size_t)m, t->seed_init, (uint64_t)init.row0);
    FCE_TRY(ctx->ops->upload(ctx, t->d_x, t->h_x, (size_t)m * D * sizeof(float)));
    if (t->cfg.init_flow[0]) {
        FCE_TRY(fce_checkpoint_load_flow(t->cfg.init_flow, t->glow));
        fce_log_info("flow initialised from %s", t->cfg.init_flow);
    }
    if (t->cfg.mode != FCE_MODE_NCE) FCE_TRY(fce_glow_data_init(t->glow, t->tp_data, t->d_x, m));
    if (t->cfg.mode == FCE_MODE_MLE) return FCE_STATUS_OK;
    const float *lq = t->d_lq_noise; /* NCE: log q of the Gaussian */
    if (t->cfg.mode == FCE_MODE_FCE) {
        FCE_TRY(fce_glow_forward(t->glow, t->tp_data, t->d_x, m));
        lq = fce_glow_tape_logq(t->tp_data);
    } else {
        for (int i = 0; i < m; i++)
            t->h_lq[i] = (float)fce_gauss2_logp(&t->noise, t->h_x[2 * i], t->h_x[2 * i + 1]);
        FCE_TRY(ctx->ops->upload(ctx, t->d_lq_noise, t->h_lq, (size_t)m * sizeof(float)));
    }
    t->st.c_initialized = 1;
    return fce_game_init_c(&t->game, t->d_x, m, lq, m);
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
    t->saved_step = t->st.step;
    fce_log_info("resumed %s at step %lld", t->path_ckpt, (long long)t->st.step);
    return FCE_STATUS_OK;
}

/* ---- the loop ---- */

fce_status fce_trainer_contrastive_grads(fce_trainer *t, int flow_turn, float stats[2]) {
    FCE_TRY(fce_game_forward(&t->game, t->st.step));
    FCE_TRY(fce_game_grads(&t->game, flow_turn));
    return fce_game_read_stats(&t->game, stats);
}

/* Nothing is saved from here on: a checkpoint on disk stays the last good one. */
static fce_status diverged(const fce_trainer *t, const char *what, double v, const char *fix) {
    if (t->saved_step >= 0)
        fce_log_error("training diverged at step %lld: %s is %g. The last good checkpoint (step %lld) is "
                      "kept unchanged: %s; try %s, then --resume", (long long)t->st.step, what, v,
                      (long long)t->saved_step, t->path_ckpt, fix);
    else
        fce_log_error("training diverged at step %lld: %s is %g. No checkpoint was written yet "
                      "(--checkpoint-every N saves one every N %s updates); try %s", (long long)t->st.step,
                      what, v, t->cfg.mode == FCE_MODE_MLE ? "flow" : "EBM", fix);
    return FCE_STATUS_ERR_NUMERIC;
}

/* Whether this step's EBM update ends a log interval (run_loop logs after it): then its batch's
 * health figures are read back, before the update changes c (fce_diag.h); other steps read nothing. */
static int ends_interval(const fce_trainer *t, int flow_turn) {
    const int64_t next = t->st.ebm_updates + 1;
    return !flow_turn && (next % t->cfg.log_every == 0 || next == t->cfg.steps);
}

fce_status fce_trainer_step(fce_trainer *t) {
    fce_report_2d *r = &t->report;
    if (t->cfg.mode == FCE_MODE_MLE) {
        double nll;
        FCE_TRY(step_mle(t, t->st.step, &nll));
        if (!isfinite(nll)) return diverged(t, "the flow's NLL", nll, "a lower --lr-flow");
        r->sum_nll += nll;
        t->st.flow_updates++;
    } else {
        float stats[2];
        int flow_turn = t->cfg.mode == FCE_MODE_FCE && t->st.flow_turn;
        FCE_TRY(fce_trainer_contrastive_grads(t, flow_turn, stats));
        if (!isfinite(stats[0]))
            return diverged(t, "the value function", stats[0], "lower --lr-ebm / --lr-flow");
        if (ends_interval(t, flow_turn)) FCE_TRY(fce_diag_measure(&r->diag, &t->game));
        if (flow_turn) {
            FCE_TRY(fce_game_update_flow(&t->game, lr_factor(t)));
            t->st.flow_updates++;
        } else {
            FCE_TRY(fce_game_update_ebm(&t->game, lr_factor(t)));
            t->st.ebm_updates++;
            r->n_interval_ebm++;
        }
        r->sum_value += stats[0];
        r->sum_acc += stats[1];
        fce_game_next_turn(&t->game, flow_turn, stats[1]);
    }
    r->n_interval++;
    t->st.step++;
    return FCE_STATUS_OK;
}

/* The checkpoint of the current step, and the curves up to it. */
static fce_status save_checkpoint(fce_trainer *t) {
    const int root = fce_dist_is_root(t->ctx.dist); /* rank 0 writes the job's files */
    t->st.seconds = fce_now_seconds() - t->report.t_session0;
    if (root) FCE_TRY(fce_checkpoint_save(t->path_ckpt, t->glow, t->ebm, &t->st));
    t->saved_step = t->st.step;
    return root ? fce_report_2d_write_curves(&t->report) : FCE_STATUS_OK;
}

/* The interval's metrics row and progress line (rank 0 of a job). */
static fce_status log_interval(fce_trainer *t) {
    return fce_dist_is_root(t->ctx.dist) ? fce_report_2d_log_interval(&t->report) : FCE_STATUS_OK;
}

/* After SIGINT / SIGTERM: the interval so far, a checkpoint, and how to go on. */
static fce_status stop_on_signal(fce_trainer *t) {
    const fce_train_config *c = &t->cfg;
    FCE_TRY(log_interval(t));
    FCE_TRY(save_checkpoint(t));
    fce_log_info("stopped by %s at step %lld (%lld of %ld %s updates); wrote the checkpoint %s; "
                 "--resume continues from here", fce_stop_signal_name(t->stop_signal), (long long)t->st.step,
                 (long long)fce_train_primary_updates(c->mode, &t->st), c->steps,
                 c->mode == FCE_MODE_MLE ? "flow" : "EBM", t->path_ckpt);
    return FCE_STATUS_OK;
}

static fce_status run_loop(fce_trainer *t) {
    const fce_train_config *c = &t->cfg;
    const int64_t max_total = c->max_total_steps ? c->max_total_steps : 50 * (int64_t)c->steps;
    int64_t now;
    while ((now = fce_train_primary_updates(c->mode, &t->st)) < c->steps) {
        if (t->st.step >= max_total) {
            fce_log_warn("stopped after %lld steps in total with %lld of %ld %s updates "
                         "(--max-total-steps): the other player kept the turn", (long long)t->st.step,
                         (long long)now, c->steps, c->mode == FCE_MODE_MLE ? "flow" : "EBM");
            break;
        }
        const int64_t before = now;
        FCE_TRY(fce_trainer_step(t));
        FCE_TRY(fce_stop_check(t->ctx.dist, NULL, &t->stop_signal)); /* once per step */
        if (t->stop_signal) return stop_on_signal(t);
        now = fce_train_primary_updates(c->mode, &t->st);
        if (now == before) continue; /* a flow turn of FCE: intervals are counted in EBM updates */
        int last = now == c->steps;
        if (now % c->log_every == 0 || last) FCE_TRY(log_interval(t));
        if ((c->checkpoint_every && now % c->checkpoint_every == 0) || last) FCE_TRY(save_checkpoint(t));
    }
    return FCE_STATUS_OK;
}

/* The session: fresh start or resume, config.json, the loop, the closing evaluation and reports. */
static fce_status run_session(fce_trainer *t) {
    fce_report_2d *r = &t->report;
    const int root = fce_dist_is_root(t->ctx.dist); /* rank 0 writes the job's files */
    if (t->cfg.resume) FCE_TRY(fce_trainer_resume(t));
    else FCE_TRY(fce_trainer_fresh_start(t));
    if (root) FCE_TRY(fce_report_2d_open(r));
    if (root) FCE_TRY(fce_report_2d_write_config(r));
    if (!t->cfg.quiet)
        fce_log_info("train %s on %s | device %s | batch %d | %ld %s updates | out %s",
                     fce_train_mode_name(t->cfg.mode), t->cfg.dataset, t->ctx.device_name, t->shard.global,
                     t->cfg.steps, t->cfg.mode == FCE_MODE_MLE ? "flow" : "EBM", t->cfg.out_dir);
    FCE_TRY(run_loop(t));
    if (!root) return FCE_STATUS_OK;
    if (r->n_interval) FCE_TRY(fce_report_2d_log_interval(r));
    /* a resumed run that was already complete has not evaluated in this session */
    FCE_TRY(fce_report_2d_eval_mse(r, &r->last_mse_ebm, &r->last_mse_flow));
    FCE_TRY(fce_report_2d_log_z(r));
    double seconds = fce_now_seconds() - r->t_start;
    FCE_TRY(fce_report_2d_write_density_png(r));
    FCE_TRY(fce_report_2d_write_curves(r));
    return fce_report_2d_write_summary(r, seconds, fce_stop_reason(0, t->stop_signal));
}

fce_status fce_train_run(const fce_train_config *cfg) {
    fce_train_config c = *cfg;
    default_out_dir(&c);
    fce_data2d_kind kind;
    FCE_TRY(validate_config(&c));
    FCE_TRY(fce_data2d_from_name(c.dataset, &kind));
    /* before anything is touched: a run in the way, or nothing to resume */
    FCE_TRY(fce_run_folder_check(c.out_dir, c.resume, c.force));
    FCE_TRY(fce_run_folder_check_kept(c.out_dir, c.force, c.init_flow, "--init-flow"));
    fce_trainer *t = calloc(1, sizeof *t);
    if (!t) return FCE_STATUS_ERR_NOMEM;
    fce_stop_guard *guard = fce_stop_guard_install();
    fce_status st = fce_trainer_setup(t, &c);
    if (st == FCE_STATUS_OK) st = fce_run_folder_make_job(c.dist, c.out_dir, c.resume, c.force);
    if (st == FCE_STATUS_OK) st = run_session(t);
    fce_stop_guard_remove(guard);
    fce_trainer_free(t);
    free(t);
    return st;
}
