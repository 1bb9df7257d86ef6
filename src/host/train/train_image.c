/* train_image.c: `train --mode mle` for images (train_image.h): MLE training of the image Glow in
 * bits/dim. Test-split evaluation and sampling are in eval/.
 *
 * One MLE step (SPEC §1, c.4), batch N, D = H·W·C:
 *   gather N uint8 pictures on the host in the shuffle order of the epoch, upload;
 *   x ← dequantize(u8, seed_noise, offset = step·N·D);  (fresh run, step 0: data-dependent init on x)
 *   log q(x) ← forward;  loss = mean(−log q) + D·ln n_bins;  bpd = loss/(D·ln 2);
 *   backward with dlogq = −1/N (constant), finish_grad, Adamax at lr·min(1, (step+1)/warmup), refresh.
 * The device work is train/mle_step.c's (one CUDA graph per step on a GPU). The only read-back per
 * step is the N values of log q (the bpd of the batch and the NaN check), after the update.
 * Warm-up: --warmup-steps, or by default 10 epochs (SPEC c.4) but at most a tenth of --steps, so a
 * short run is not all warm-up; a resumed run keeps the warm-up its config.json recorded. */
#define _POSIX_C_SOURCE 200809L
#include "fce/train_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fce/backend.h"
#include "fce/dataset.h"
#include "fce/iglow.h"
#include "fce/image_io.h"
#include "data/image_common.h"
#include "dist/dist.h"
#include "fce/log.h"
#include "util/fs_util.h"
#include "util/json.h"
#include "formats/flow_image_file.h"
#include "train/image_run.h"
#include "train/mle_step.h"
#include "train/optimizer.h"
#include "train/run_folder.h"
#include "train/run_record.h"
#include "train/sample_grid.h"
#include "train/stop_signal.h"

#define LN2 0.69314718055994530942

/* ---- training ---- */

typedef struct img_trainer {
    fce_image_train_config cfg;
    fce_ctx ctx;
    int have_ctx;
    fce_image_set set;
    fce_iglow *g;
    fce_iglow_tape *tp;
    int N; /* this rank's rows of each --batch (all of them alone) */
    fce_dist_shard shard;
    size_t D;
    fce_mle_step mle; /* the step's device work (train/mle_step.h) */
    fce_batch_source batches; /* host batches, one step of look-ahead (image_common.h) */
    float *h_logq;
    uint64_t seed_data, seed_noise;
    long warmup;
    fce_iglow_ckpt_state st;
    char path_ckpt[1100];
    FILE *metrics;
    fce_sample_grid grid;    /* --sample-every */
    double last_bpd, last_ips; /* of the last log interval */
    int stop_signal;         /* the signal that stopped this session (stop_signal.h), 0: none */
} img_trainer;

static fce_status validate_train(fce_image_train_config *c) {
    FCE_TRY(fce_image_train_config_check(c, "mle"));
    if (!(c->lr > 0)) return fce_config_error("--lr must be > 0");
    if (c->warmup_steps < -1)
        return fce_config_error("--warmup-steps must be >= 0 (or -1: 10 epochs)");
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

/* --warmup-steps, or the default: 10 epochs, at most --steps/10; on --resume the run's own. */
static long warmup_steps(const fce_image_train_config *c, size_t n_pictures) {
    if (c->warmup_steps >= 0) return c->warmup_steps;
    double recorded;
    if (c->resume && fce_run_record_read_number(c->out_dir, "config", "warmup_steps", &recorded) &&
        recorded >= 0 && recorded < 1e15)
        return (long)recorded;
    long epochs10 = (long)((10 * n_pictures + (size_t)c->batch - 1) / (size_t)c->batch), tenth = c->steps / 10;
    if (tenth < epochs10 && !c->quiet)
        fce_log_info("warm-up: %ld steps, a tenth of --steps (10 epochs would be %ld); --warmup-steps sets it",
                     tenth, epochs10);
    return tenth < epochs10 ? tenth : epochs10;
}

static void trainer_free(img_trainer *t) {
    if (t->metrics) fclose(t->metrics);
    fce_sample_grid_free(&t->grid);
    if (t->have_ctx) {
        fce_ctx *ctx = &t->ctx;
        fce_mle_step_free(&t->mle);
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
    FCE_TRY(validate_train(&t->cfg));
    snprintf(t->path_ckpt, sizeof t->path_ckpt, "%s/checkpoint.fce", t->cfg.out_dir);
    FCE_TRY(fce_image_load_split(c->dataset, c->data_dir, 1, &t->set));
    fce_iglow_config gc = fce_image_preset(c, &t->set);
    FCE_TRY(check_shape(&gc));
    FCE_TRY(fce_dist_shard_of(c->dist, c->batch, "--batch", &t->shard));
    FCE_TRY(fce_dist_ctx_init(c->dist, &t->ctx, c->device));
    t->have_ctx = 1;
    FCE_TRY(fce_mkdirs(t->cfg.out_dir));
    fce_ctx *ctx = &t->ctx;
    t->N = t->shard.rows;
    t->D = (size_t)gc.H * gc.W * gc.C;
    t->seed_data = fce_derive_seed(c->seed, 1);
    t->seed_noise = fce_derive_seed(c->seed, 2);
    t->warmup = warmup_steps(c, t->set.n);
    FCE_TRY(fce_iglow_init(&t->g, ctx, &gc, fce_derive_seed(c->seed, 3)));
    FCE_TRY(fce_iglow_tape_init(&t->tp, t->g, t->N));
    const fce_optimizer adamax = {FCE_OPTIM_ADAMAX, c->beta1, c->beta2, c->adam_eps};
    FCE_TRY(fce_mle_step_init(&t->mle, ctx, t->g, t->tp, t->N, c->batch, t->shard.row0, c->n_bits,
                              t->seed_noise, &adamax));
    t->h_logq = malloc((size_t)t->N * sizeof(float)); /* the step's one read-back */
    if (!t->h_logq) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    FCE_TRY(fce_batch_source_init(&t->batches, &t->set, t->N, t->seed_data));
    fce_batch_source_shard(&t->batches, c->batch, t->shard.row0);
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

static fce_status diverged(const img_trainer *t, int64_t step, double bpd) {
    /* Nothing is saved from here on: a checkpoint on disk stays the last good one. */
    if (fce_file_exists(t->path_ckpt))
        fce_log_error("step %lld: the loss is %g (not finite); stopping. The last good checkpoint "
                      "is kept unchanged: %s; try a lower --lr or a longer --warmup-steps, then "
                      "--resume", (long long)step, bpd, t->path_ckpt);
    else
        fce_log_error("step %lld: the loss is %g (not finite); stopping. No checkpoint was written "
                      "yet (--checkpoint-every N saves one every N steps); try a lower --lr or a "
                      "longer --warmup-steps", (long long)step, bpd);
    return FCE_STATUS_ERR_NUMERIC;
}

/* One step (train/mle_step.h); *bpd receives the batch's bits/dim (before the update), from the
 * step's one read-back: the N values of log q, after the update is enqueued. */
static fce_status train_step(img_trainer *t, int fresh, double *bpd) {
    fce_ctx *ctx = &t->ctx;
    const fce_image_train_config *c = &t->cfg;
    int64_t step = t->st.step;
    const int init = fresh && step == 0 && !fce_iglow_actnorm_initialized(t->g);
    FCE_TRY(fce_mle_step_run(&t->mle, fce_batch_source_get(&t->batches, step), step, lr_at(t, step), step + 1,
                             init));
    /* the next batch is gathered on the host while the device runs the step */
    if (step + 1 < c->steps) fce_batch_source_prefetch(&t->batches, step + 1);
    FCE_TRY(ctx->ops->download(ctx, t->h_logq, fce_iglow_tape_logq(t->tp),
                               (size_t)t->N * sizeof(float)));
    double s = 0;
    for (int i = 0; i < t->N; i++) s += t->h_logq[i];
    double D = (double)t->D;
    *bpd = (-s / t->N + D * log((double)(1 << c->n_bits))) / (D * LN2);
    FCE_TRY(fce_dist_mean(ctx->dist, bpd, 1)); /* the global batch's: every rank stops on a NaN */
    if (!isfinite(*bpd)) return diverged(t, step, *bpd);
    t->st.step = step + 1;
    return FCE_STATUS_OK;
}

static void log_interval(img_trainer *t, fce_image_clock *k, double now, double bpd, long n, float lr) {
    const fce_image_train_config *c = &t->cfg;
    if (!fce_dist_is_root(t->ctx.dist)) return; /* rank 0 writes the job's files */
    double ips = fce_image_clock_interval(k, now, n, c->batch);
    t->last_bpd = bpd;
    t->last_ips = ips;
    fce_json j;
    fce_json_begin(&j, t->metrics);
    fce_json_int(&j, "step", (long long)t->st.step);
    fce_json_num(&j, "bpd", bpd, 9);
    fce_json_num(&j, "img_per_s", ips, 6);
    fce_json_num(&j, "seconds", t->st.seconds, 6);
    fce_json_num(&j, "lr", lr, 6);
    fce_json_end(&j, 1);
    fflush(t->metrics);
    if (!c->quiet) {
        char eta[32];
        fce_image_clock_eta(k, now, t->st.step, c->steps - t->st.step, eta, sizeof eta);
        fprintf(stderr, "step %6lld/%ld | bpd %.4f | %.1f img/s | ETA %s\n", (long long)t->st.step,
                c->steps, bpd, ips, eta);
    }
}

/* The checkpoint, and the curves up to it. */
static fce_status save(img_trainer *t) {
    if (!fce_dist_is_root(t->ctx.dist)) return FCE_STATUS_OK; /* rank 0 writes the job's files */
    FCE_TRY(fce_iglow_ckpt_save(t->path_ckpt, t->g, &t->st));
    return fce_image_run_curves(&t->cfg, "mle", t->st.step);
}

/* config.json, the announcement, and the sample grids' setup: the session's start. */
static fce_status session_start(img_trainer *t, int fresh) {
    const fce_image_train_config *c = &t->cfg;
    if (!fce_dist_is_root(t->ctx.dist)) return FCE_STATUS_OK; /* rank 0 writes the job's files */
    const fce_image_run_models m = {t->g, NULL, t->set.n, t->warmup, fresh ? 0 : t->st.step};
    FCE_TRY(fce_image_run_write_config(c, "mle", &t->ctx, &m));
    if (c->sample_every > 0) FCE_TRY(fce_sample_grid_init(&t->grid, &t->ctx, t->g, c->n_bits, fce_derive_seed(c->seed, 8)));
    if (!c->quiet) {
        const fce_iglow_config *gc = fce_iglow_cfg(t->g);
        fce_log_info("train mle on %s (%zu images %dx%dx%d) | L %d K %d width %d %s | device %s | "
                     "batch %d | %ld steps | warm-up %ld | out %s", c->dataset, t->set.n, gc->H,
                     gc->W, gc->C, gc->L, gc->K, gc->width, gc->affine ? "affine" : "additive",
                     t->ctx.device_name, c->batch, c->steps, t->warmup, c->out_dir);
    }
    return fce_image_run_metrics(c->out_dir, !fresh, t->st.step, &t->metrics);
}

/* summary.json, and the notices of how the session ended. */
static fce_status session_end(img_trainer *t, const fce_image_clock *k, int out_of_time) {
    const fce_image_train_config *c = &t->cfg;
    const fce_image_run_end e = {t->st.step, t->st.seconds, out_of_time, t->stop_signal, t->path_ckpt};
    fce_run_record r;
    FCE_TRY(fce_image_run_summary_open(&r, c, "mle", &t->ctx, k, &e));
    fce_json_num(&r.j, "bpd", t->last_bpd, 9);
    fce_json_num(&r.j, "img_per_s", t->last_ips, 6);
    fce_json_num(&r.j, "lr", c->lr, 7);
    fce_json_int(&r.j, "warmup_steps", t->warmup);
    FCE_TRY(fce_run_record_close(&r));
    if (!c->quiet)
        fce_log_info("wrote checkpoint.fce, metrics.jsonl, curves.png, config.json and summary.json in %s", c->out_dir);
    return FCE_STATUS_OK;
}

static fce_status train_loop(img_trainer *t, int fresh) {
    const fce_image_train_config *c = &t->cfg;
    FCE_TRY(session_start(t, fresh));
    fce_image_clock k;
    fce_image_clock_start(&k, t->st.seconds, t->st.step, c->time_limit);
    double sum_bpd = 0;
    long n_int = 0;
    int first = fresh, out_of_time = 0;
    while (t->st.step < c->steps) {
        double bpd;
        int64_t s = t->st.step;
        FCE_TRY(train_step(t, first, &bpd));
        first = 0;
        sum_bpd += bpd;
        n_int++;
        double now = fce_now_seconds();
        t->st.seconds = fce_image_clock_tick(&k, now, &out_of_time);
        FCE_TRY(fce_stop_check(t->ctx.dist, &out_of_time, &t->stop_signal)); /* once per step */
        const int stop = out_of_time || t->stop_signal;
        if (t->st.step % c->log_every == 0 || t->st.step == c->steps || stop) {
            log_interval(t, &k, now, sum_bpd / n_int, n_int, lr_at(t, s));
            sum_bpd = 0;
            n_int = 0;
        }
        if (c->sample_every > 0 && t->st.step % c->sample_every == 0 && fce_dist_is_root(t->ctx.dist))
            FCE_TRY(fce_sample_grid_write(&t->grid, c->out_dir, t->st.step));
        if (stop) break;
        if (c->checkpoint_every > 0 && t->st.step % c->checkpoint_every == 0 && t->st.step != c->steps)
            FCE_TRY(save(t));
    }
    FCE_TRY(save(t));
    return fce_dist_is_root(t->ctx.dist) ? session_end(t, &k, out_of_time) : FCE_STATUS_OK; /* rank 0 writes */
}

fce_status fce_image_train_mle_run(const fce_image_train_config *cfg) {
    img_trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = *cfg;
    /* the folder before the data: a run in the way or an unwritable --out stops at once */
    fce_status st = validate_train(&t.cfg);
    if (st == FCE_STATUS_OK) st = fce_run_folder_prepare_job(cfg->dist, t.cfg.out_dir, cfg->resume, cfg->force);
    if (st == FCE_STATUS_OK) st = trainer_setup(&t);
    if (st == FCE_STATUS_OK && cfg->resume) st = trainer_resume(&t);
    if (st == FCE_STATUS_OK) st = train_loop(&t, !cfg->resume);
    trainer_free(&t);
    return st;
}
