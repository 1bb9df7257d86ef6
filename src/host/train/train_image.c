/* train_image.c: the image commands (train_image.h): MLE training of the image Glow in bits/dim,
 * test-split evaluation and sampling.
 *
 * One MLE step (SPEC §1, c.4), batch N, D = H·W·C:
 *   gather N uint8 pictures on the host in the shuffle order of the epoch, upload;
 *   x ← dequantize(u8, seed_noise, offset = step·N·D);  (fresh run, step 0: data-dependent init on x)
 *   log q(x) ← forward;  loss = mean(−log q) + D·ln n_bins;  bpd = loss/(D·ln 2);
 *   backward with dlogq = −1/N (constant), finish_grad, Adamax at lr·min(1, (step+1)/warmup), refresh.
 * The only read-back per step is the N values of log q (the bpd of the batch and the NaN check). */
#define _POSIX_C_SOURCE 200809L
#include "fce/train_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zlib.h>

#include "fce/backend.h"
#include "fce/dataset.h"
#include "fce/iglow.h"
#include "fce/image_io.h"
#include "data/image_common.h"
#include "fce/log.h"
#include "util/fs_util.h"
#include "formats/flow_image_file.h"
#include "train/train_image_fce.h"

#define LN2 0.69314718055994530942

void fce_image_train_config_defaults(fce_image_train_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    snprintf(c->mode, sizeof c->mode, "fce");
    snprintf(c->device, sizeof c->device, "auto");
    c->batch = 64;
    c->steps = 100000;
    c->pretrain_steps = 100000;
    c->lr = 1e-3f;
    c->warmup_steps = -1;
    c->n_bits = 8;
    c->seed = 1;
    c->log_every = 100;
    c->checkpoint_every = 1000;
    c->lr_ebm = 1e-3f;
    c->lr_flow = 1e-5f;
    c->threshold = 0.5f;
}

int fce_is_image_dataset(const char *name) {
    return !strcmp(name, "cifar10") || !strcmp(name, "svhn") || !strcmp(name, "folder");
}

static fce_status config_error(const char *msg) {
    fce_log_error("%s", msg);
    return FCE_STATUS_ERR_CONFIG;
}

/* ---- training ---- */

typedef struct img_trainer {
    fce_image_train_config cfg;
    fce_ctx ctx;
    int have_ctx;
    fce_image_set set;
    fce_iglow *g;
    fce_iglow_tape *tp;
    int N;
    size_t D;
    uint8_t *d_u8;
    float *d_x, *d_dlogq;
    fce_batch_source batches; /* host batches, one step of look-ahead (image_common.h) */
    float *h_logq;
    uint64_t seed_data, seed_noise;
    long warmup;
    fce_iglow_ckpt_state st;
    char path_ckpt[1100];
    FILE *metrics;
} img_trainer;

static fce_status validate_train(const fce_image_train_config *c) {
    if (!fce_is_image_dataset(c->dataset))
        return config_error("--dataset: not one of cifar10, svhn, folder");
    if (strcmp(c->mode, "mle") != 0) {
        fce_log_error("--mode: '%s' is not supported for images (mle or fce)", c->mode);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (strcmp(c->preset, "cifar10") && strcmp(c->preset, "svhn") && strcmp(c->preset, "tiny")) {
        fce_log_error("--preset: '%s' is not one of cifar10, svhn, tiny", c->preset);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (!c->data_dir[0]) return config_error("--data-dir is required");
    if (c->steps < 1) return config_error("--steps must be >= 1");
    if (c->batch < 1 || c->batch > 100000) return config_error("--batch must be in 1..100000");
    if (c->L < 0 || c->K < 0 || c->width < 0) return config_error("--L, --K, --width must be >= 1");
    if (!(c->lr > 0)) return config_error("--lr must be > 0");
    if (c->warmup_steps < -1) return config_error("--warmup-steps must be >= 0 (or -1: 10 epochs)");
    if (c->n_bits < 1 || c->n_bits > 8) return config_error("--n-bits must be in 1..8");
    if (c->log_every < 1) return config_error("--log-every must be >= 1");
    if (c->checkpoint_every < 0) return config_error("--checkpoint-every must be >= 0");
    return FCE_STATUS_OK;
}

static fce_status check_shape(const fce_iglow_config *g) {
    int f = 1 << (g->L > 20 ? 20 : g->L);
    if (g->H % f || g->W % f) {
        fce_log_error("--L %d: the %dx%d pictures are not divisible by 2^L = %d", g->L, g->H, g->W, f);
        return FCE_STATUS_ERR_CONFIG;
    }
    return FCE_STATUS_OK;
}

static void trainer_free(img_trainer *t) {
    if (t->metrics) fclose(t->metrics);
    if (t->have_ctx) {
        fce_ctx *ctx = &t->ctx;
        ctx->ops->release(ctx, t->d_u8);
        ctx->ops->release(ctx, t->d_x);
        ctx->ops->release(ctx, t->d_dlogq);
        fce_iglow_tape_free(t->tp);
        fce_iglow_free(t->g);
        fce_ctx_free(ctx);
    }
    fce_batch_source_free(&t->batches);
    free(t->h_logq);
    fce_image_set_free(&t->set);
}

static fce_status trainer_setup(img_trainer *t) {
    const fce_image_train_config *c = &t->cfg;
    if (!t->cfg.preset[0]) /* default: the dataset's own preset; tiny for a folder */
        snprintf(t->cfg.preset, sizeof t->cfg.preset, "%.15s",
                 strcmp(c->dataset, "folder") ? c->dataset : "tiny");
    FCE_TRY(validate_train(c));
    if (!t->cfg.out_dir[0])
        snprintf(t->cfg.out_dir, sizeof t->cfg.out_dir, "runs/%s-%s", c->dataset, c->mode);
    snprintf(t->path_ckpt, sizeof t->path_ckpt, "%s/checkpoint.fce", t->cfg.out_dir);
    FCE_TRY(fce_image_load_split(c->dataset, c->data_dir, 1, &t->set));
    fce_iglow_config gc = fce_image_preset(c, &t->set);
    FCE_TRY(check_shape(&gc));
    FCE_TRY(fce_ctx_init(&t->ctx, c->device));
    t->have_ctx = 1;
    FCE_TRY(fce_mkdirs(t->cfg.out_dir));
    fce_ctx *ctx = &t->ctx;
    t->N = c->batch;
    t->D = (size_t)gc.H * gc.W * gc.C;
    t->seed_data = fce_derive_seed(c->seed, 1);
    t->seed_noise = fce_derive_seed(c->seed, 2);
    size_t n = t->set.n;
    t->warmup = c->warmup_steps >= 0 ? c->warmup_steps
                                     : (long)((10 * n + (size_t)t->N - 1) / (size_t)t->N);
    FCE_TRY(fce_iglow_init(&t->g, ctx, &gc, fce_derive_seed(c->seed, 3)));
    FCE_TRY(fce_iglow_tape_init(&t->tp, t->g, t->N));
    size_t ND = (size_t)t->N * t->D;
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_u8, ND));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_x, ND * sizeof(float)));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_dlogq, (size_t)t->N * sizeof(float)));
    FCE_TRY(fce_batch_source_init(&t->batches, &t->set, t->N, t->seed_data));
    t->h_logq = malloc((size_t)t->N * sizeof(float));
    if (!t->h_logq) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    for (int i = 0; i < t->N; i++) t->h_logq[i] = -1.0f / (float)t->N;
    FCE_TRY(ctx->ops->upload(ctx, t->d_dlogq, t->h_logq, (size_t)t->N * sizeof(float)));
    memset(&t->st, 0, sizeof t->st);
    t->st.seed = (int64_t)c->seed;
    t->st.n_bits = c->n_bits;
    t->st.batch = c->batch;
    snprintf(t->st.dataset, sizeof t->st.dataset, "%s", c->dataset);
    return FCE_STATUS_OK;
}

static fce_status trainer_resume(img_trainer *t) {
    fce_iglow_ckpt_state s;
    FCE_TRY(fce_iglow_ckpt_load(t->path_ckpt, t->g, 1, &s));
    const char *bad = NULL;
    if (s.seed != t->st.seed) bad = "seed (--seed)";
    else if (s.n_bits != t->st.n_bits) bad = "n_bits (--n-bits)";
    else if (s.batch != t->st.batch) bad = "batch (--batch)";
    else if (strcmp(s.dataset, t->st.dataset) != 0) bad = "dataset (--dataset)";
    if (bad) {
        fce_log_error("checkpoint %s: its %s differs from this run's; resume with the same value",
                      t->path_ckpt, bad);
        return FCE_STATUS_ERR_FORMAT;
    }
    t->st = s;
    if (!t->cfg.quiet) fce_log_info("resumed %s at step %lld", t->path_ckpt, (long long)s.step);
    return FCE_STATUS_OK;
}

static float lr_at(const img_trainer *t, int64_t step) {
    if (t->warmup <= 0) return t->cfg.lr;
    double f = (double)(step + 1) / (double)t->warmup;
    return (float)(t->cfg.lr * (f < 1 ? f : 1));
}

/* One step; *bpd receives the batch's bits/dim (before the update). */
static fce_status train_step(img_trainer *t, int fresh, double *bpd) {
    fce_ctx *ctx = &t->ctx;
    int64_t step = t->st.step;
    size_t ND = (size_t)t->N * t->D;
    FCE_TRY(ctx->ops->upload(ctx, t->d_u8, fce_batch_source_get(&t->batches, step), ND));
    FCE_TRY(ctx->ops->dequantize(ctx, t->d_x, t->d_u8, ND, t->cfg.n_bits, t->seed_noise,
                                 (uint64_t)step * ND));
    if (fresh && step == 0 && !fce_iglow_actnorm_initialized(t->g))
        FCE_TRY(fce_iglow_data_init(t->g, t->tp, t->d_x, t->N));
    FCE_TRY(fce_iglow_zero_grad(t->g));
    FCE_TRY(fce_iglow_forward(t->g, t->tp, t->d_x, t->N));
    /* the next batch is gathered on the host while the device runs the forward pass */
    if (step + 1 < t->cfg.steps) fce_batch_source_prefetch(&t->batches, step + 1);
    FCE_TRY(ctx->ops->download(ctx, t->h_logq, fce_iglow_tape_logq(t->tp),
                               (size_t)t->N * sizeof(float)));
    double s = 0;
    for (int i = 0; i < t->N; i++) s += t->h_logq[i];
    double D = (double)t->D;
    *bpd = (-s / t->N + D * log((double)(1 << t->cfg.n_bits))) / (D * LN2);
    if (!isfinite(*bpd)) {
        /* Nothing is saved from here on: a checkpoint on disk stays the last good one. */
        if (fce_file_exists(t->path_ckpt))
            fce_log_error("step %lld: the loss is %g (not finite); stopping. The last good checkpoint "
                          "is kept unchanged: %s; try a lower --lr or a longer --warmup-steps, then "
                          "--resume", (long long)step, *bpd, t->path_ckpt);
        else
            fce_log_error("step %lld: the loss is %g (not finite); stopping. No checkpoint was written "
                          "yet (--checkpoint-every N saves one every N steps); try a lower --lr or a "
                          "longer --warmup-steps", (long long)step, *bpd);
        return FCE_STATUS_ERR_NUMERIC;
    }
    FCE_TRY(fce_iglow_backward(t->g, t->tp, t->d_dlogq, t->N));
    FCE_TRY(fce_iglow_finish_grad(t->g));
    fce_param_arena *a = fce_iglow_arena(t->g);
    FCE_TRY(ctx->ops->adamax_step(ctx, a->params, a->grads, a->m, a->v, a->n_trainable,
                                  lr_at(t, step), 0.9f, 0.999f, 1e-7f, (int)(step + 1)));
    FCE_TRY(fce_iglow_refresh(t->g));
    t->st.step = step + 1;
    return FCE_STATUS_OK;
}

static fce_status train_loop(img_trainer *t, int fresh) {
    const fce_image_train_config *c = &t->cfg;
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c->out_dir);
    t->metrics = fopen(mpath, fresh ? "w" : "a");
    if (!t->metrics) {
        fce_log_error("cannot write %s", mpath);
        return FCE_STATUS_ERR_IO;
    }
    if (!c->quiet) {
        const fce_iglow_config *gc = fce_iglow_cfg(t->g);
        fce_log_info("train mle on %s (%zu images %dx%dx%d) | L %d K %d width %d %s | device %s | "
                     "batch %d | %ld steps | warm-up %ld | out %s", c->dataset, t->set.n, gc->H,
                     gc->W, gc->C, gc->L, gc->K, gc->width, gc->affine ? "affine" : "additive",
                     t->ctx.device_name, t->N, c->steps, t->warmup, c->out_dir);
    }
    double t0 = fce_now_seconds(), seconds0 = t->st.seconds, t_int = t0, sum_bpd = 0;
    int64_t step0 = t->st.step;
    long n_int = 0;
    int first = fresh;
    while (t->st.step < c->steps) {
        double bpd;
        int64_t s = t->st.step;
        FCE_TRY(train_step(t, first, &bpd));
        first = 0;
        sum_bpd += bpd;
        n_int++;
        double now = fce_now_seconds();
        t->st.seconds = seconds0 + (now - t0);
        int out_of_time = c->time_limit > 0 && now - t0 >= c->time_limit;
        if (t->st.step % c->log_every == 0 || t->st.step == c->steps || out_of_time) {
            double ips = (double)n_int * t->N / (now - t_int > 1e-9 ? now - t_int : 1e-9);
            fprintf(t->metrics, "{\"step\": %lld, \"bpd\": %.9g, \"img_per_s\": %.6g, "
                    "\"seconds\": %.6g, \"lr\": %.6g}\n", (long long)t->st.step, sum_bpd / n_int,
                    ips, t->st.seconds, (double)lr_at(t, s));
            fflush(t->metrics);
            if (!c->quiet) {
                double rate = (double)(t->st.step - step0) / (now - t0 > 1e-9 ? now - t0 : 1e-9);
                char eta[32];
                fce_format_duration((double)(c->steps - t->st.step) / rate, eta, sizeof eta);
                fprintf(stderr, "step %6lld/%ld | bpd %.4f | %.1f img/s | ETA %s\n",
                        (long long)t->st.step, c->steps, sum_bpd / n_int, ips, eta);
            }
            sum_bpd = 0;
            n_int = 0;
            t_int = now;
        }
        if (out_of_time) {
            fce_log_info("--time-limit %gs reached at step %lld of %ld; --resume goes on from here",
                         (double)c->time_limit, (long long)t->st.step, c->steps);
            break;
        }
        if (c->checkpoint_every > 0 && t->st.step % c->checkpoint_every == 0 &&
            t->st.step != c->steps)
            FCE_TRY(fce_iglow_ckpt_save(t->path_ckpt, t->g, &t->st));
    }
    FCE_TRY(fce_iglow_ckpt_save(t->path_ckpt, t->g, &t->st));
    if (!c->quiet) fce_log_info("wrote %s and metrics.jsonl in %s", "checkpoint.fce", c->out_dir);
    return FCE_STATUS_OK;
}

/* The paper's image pipeline (issue 4): MLE pretraining of the flow into <out>/mle, then FCE from
 * that checkpoint into <out>. Each stage is an ordinary run of its mode, so its checkpoints,
 * metrics and --resume behave as they do alone; --resume picks up the unfinished stage. A
 * --time-limit covers both stages together. */
static fce_status pipeline_run(const fce_image_train_config *cfg) {
    if (cfg->pretrain_steps < 0) return config_error("--pretrain-steps must be >= 0");
    if (!cfg->data_dir[0]) return config_error("--data-dir is required");
    fce_image_train_config f = *cfg;
    if (!f.out_dir[0]) snprintf(f.out_dir, sizeof f.out_dir, "runs/%s-fce", cfg->dataset);
    fce_image_train_config m = f;
    snprintf(m.mode, sizeof m.mode, "mle");
    m.steps = cfg->pretrain_steps;
    snprintf(m.out_dir, sizeof m.out_dir, "%.1000s/mle", f.out_dir);
    char mle_ckpt[1100], fce_ckpt[1100];
    snprintf(mle_ckpt, sizeof mle_ckpt, "%s/checkpoint.fce", m.out_dir);
    snprintf(fce_ckpt, sizeof fce_ckpt, "%s/checkpoint.fce", f.out_dir);
    double t0 = fce_now_seconds();
    int64_t mle_done = -1; /* steps in <out>/mle/checkpoint.fce, −1: none */
    fce_iglow_config gc;
    fce_iglow_ckpt_state s;
    if (cfg->resume && fce_file_exists(mle_ckpt) && fce_iglow_ckpt_peek(mle_ckpt, &gc, &s) == FCE_STATUS_OK)
        mle_done = s.step;
    if (mle_done < cfg->pretrain_steps) {
        m.resume = mle_done >= 0;
        if (!cfg->quiet)
            fce_log_info("pipeline stage 1 of 2: MLE pretraining of the flow, %ld steps, into %s%s",
                         cfg->pretrain_steps, m.out_dir, m.resume ? " (resumed)" : "");
        FCE_TRY(fce_image_train_run(&m));
        FCE_TRY(fce_iglow_ckpt_peek(mle_ckpt, &gc, &s));
        if (s.step < cfg->pretrain_steps) { /* --time-limit ended it */
            fce_log_info("pipeline: pretraining stopped at step %lld of %ld; --resume goes on",
                         (long long)s.step, cfg->pretrain_steps);
            return FCE_STATUS_OK;
        }
    }
    if (cfg->time_limit > 0) {
        double left = cfg->time_limit - (fce_now_seconds() - t0);
        if (left <= 0) {
            fce_log_info("pipeline: --time-limit reached after pretraining; --resume starts FCE");
            return FCE_STATUS_OK;
        }
        f.time_limit = (float)left;
    }
    f.resume = cfg->resume && fce_file_exists(fce_ckpt);
    if (!f.resume) snprintf(f.init_flow, sizeof f.init_flow, "%.1000s/checkpoint.fce", m.out_dir);
    if (!cfg->quiet)
        fce_log_info("pipeline stage 2 of 2: FCE from %s into %s%s", mle_ckpt, f.out_dir,
                     f.resume ? " (resumed)" : "");
    return fce_image_train_fce_run(&f);
}

fce_status fce_image_train_run(const fce_image_train_config *cfg) {
    if (!(cfg->time_limit >= 0 && cfg->time_limit < 1e9))
        return config_error("--time-limit must be a number of seconds >= 0 (0: none)");
    if (!strcmp(cfg->mode, "fce")) {
        if (!cfg->init_flow[0] && cfg->pretrain_steps != 0) return pipeline_run(cfg);
        return fce_image_train_fce_run(cfg);
    }
    img_trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = *cfg;
    fce_status st = trainer_setup(&t);
    if (st == FCE_STATUS_OK && cfg->resume) st = trainer_resume(&t);
    if (st == FCE_STATUS_OK) st = train_loop(&t, !cfg->resume);
    trainer_free(&t);
    return st;
}
