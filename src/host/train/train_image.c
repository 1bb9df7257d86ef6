/* train_image.c: `train --mode mle` for images (train_image.h): MLE training of the image Glow in
 * bits/dim. (Test-split evaluation and sampling follow; they are moving to eval/.)
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
#include "util/json.h"
#include "formats/flow_image_file.h"
#include "train/image_run.h"
#include "train/optimizer.h"
#include "train/train_image_fce.h" /* fce_ebm_image_load_file, for the evaluation below */

#define LN2 0.69314718055994530942

void fce_image_eval_config_defaults(fce_image_eval_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    snprintf(c->device, sizeof c->device, "auto");
    c->batch = 64;
    c->seed = 1;
}

void fce_image_sample_config_defaults(fce_image_sample_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->device, sizeof c->device, "auto");
    snprintf(c->grid, sizeof c->grid, "samples.png");
    c->n = 64;
    c->temperature = 1.0f;
    c->seed = 1;
    c->batch = 500;
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

static fce_status validate_train(fce_image_train_config *c) {
    FCE_TRY(fce_image_train_config_check(c, "mle"));
    if (!(c->lr > 0)) return config_error("--lr must be > 0");
    if (c->warmup_steps < -1) return config_error("--warmup-steps must be >= 0 (or -1: 10 epochs)");
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
        void *bufs[] = {t->d_u8, t->d_x, t->d_dlogq};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
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

/* One step; *bpd receives the batch's bits/dim (before the update). */
static fce_status train_step(img_trainer *t, int fresh, double *bpd) {
    fce_ctx *ctx = &t->ctx;
    const fce_image_train_config *c = &t->cfg;
    int64_t step = t->st.step;
    FCE_TRY(fce_image_run_batch(ctx, &t->batches, step, t->d_u8, t->d_x, c->n_bits, t->seed_noise));
    if (fresh && step == 0 && !fce_iglow_actnorm_initialized(t->g))
        FCE_TRY(fce_iglow_data_init(t->g, t->tp, t->d_x, t->N));
    FCE_TRY(fce_iglow_zero_grad(t->g));
    FCE_TRY(fce_iglow_forward(t->g, t->tp, t->d_x, t->N));
    /* the next batch is gathered on the host while the device runs the forward pass */
    if (step + 1 < c->steps) fce_batch_source_prefetch(&t->batches, step + 1);
    FCE_TRY(ctx->ops->download(ctx, t->h_logq, fce_iglow_tape_logq(t->tp),
                               (size_t)t->N * sizeof(float)));
    double s = 0;
    for (int i = 0; i < t->N; i++) s += t->h_logq[i];
    double D = (double)t->D;
    *bpd = (-s / t->N + D * log((double)(1 << c->n_bits))) / (D * LN2);
    if (!isfinite(*bpd)) return diverged(t, step, *bpd);
    FCE_TRY(fce_iglow_backward(t->g, t->tp, t->d_dlogq, t->N));
    FCE_TRY(fce_iglow_finish_grad(t->g));
    const fce_optimizer adamax = {FCE_OPTIM_ADAMAX, c->beta1, c->beta2, c->adam_eps};
    fce_param_arena *a = fce_iglow_arena(t->g);
    FCE_TRY(fce_optimizer_step(ctx, &adamax, a, 0, a->n_trainable, lr_at(t, step), step + 1));
    FCE_TRY(fce_iglow_refresh(t->g));
    t->st.step = step + 1;
    return FCE_STATUS_OK;
}

static void log_interval(img_trainer *t, fce_image_clock *k, double now, double bpd, long n, float lr) {
    const fce_image_train_config *c = &t->cfg;
    double ips = fce_image_clock_interval(k, now, n, t->N);
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

static fce_status train_loop(img_trainer *t, int fresh) {
    const fce_image_train_config *c = &t->cfg;
    t->metrics = fce_image_run_metrics(c->out_dir, !fresh);
    if (!t->metrics) return FCE_STATUS_ERR_IO;
    if (!c->quiet) {
        const fce_iglow_config *gc = fce_iglow_cfg(t->g);
        fce_log_info("train mle on %s (%zu images %dx%dx%d) | L %d K %d width %d %s | device %s | "
                     "batch %d | %ld steps | warm-up %ld | out %s", c->dataset, t->set.n, gc->H,
                     gc->W, gc->C, gc->L, gc->K, gc->width, gc->affine ? "affine" : "additive",
                     t->ctx.device_name, t->N, c->steps, t->warmup, c->out_dir);
    }
    fce_image_clock k;
    fce_image_clock_start(&k, t->st.seconds, t->st.step, c->time_limit);
    double sum_bpd = 0;
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
        int out_of_time;
        t->st.seconds = fce_image_clock_tick(&k, now, &out_of_time);
        if (t->st.step % c->log_every == 0 || t->st.step == c->steps || out_of_time) {
            log_interval(t, &k, now, sum_bpd / n_int, n_int, lr_at(t, s));
            sum_bpd = 0;
            n_int = 0;
        }
        if (out_of_time) {
            fce_image_clock_stopped(&k, t->st.step, c->steps);
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

fce_status fce_image_train_mle_run(const fce_image_train_config *cfg) {
    img_trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = *cfg;
    fce_status st = trainer_setup(&t);
    if (st == FCE_STATUS_OK && cfg->resume) st = trainer_resume(&t);
    if (st == FCE_STATUS_OK) st = train_loop(&t, !cfg->resume);
    trainer_free(&t);
    return st;
}

/* ---- a model from a checkpoint (eval, sample) ---- */

static fce_status model_from_ckpt(const char *path, const char *device, fce_ctx *ctx, int *have_ctx,
                                  fce_iglow **g, fce_iglow_ckpt_state *s) {
    if (!path[0]) return config_error("--checkpoint is required");
    fce_iglow_config gc;
    FCE_TRY(fce_iglow_ckpt_peek(path, &gc, s));
    if (!*have_ctx) { /* a second model (sample --compare) shares the context */
        FCE_TRY(fce_ctx_init(ctx, device));
        *have_ctx = 1;
    }
    FCE_TRY(fce_iglow_init(g, ctx, &gc, 1));
    return fce_iglow_ckpt_load(path, *g, 0, s);
}

/* bits/dim of the EBM of ebm_path on the test split with its learned c (SPEC g):
 * bpd = −(f(x+u) − c − D·ln n_bins)/(D·ln 2), the same dequantisation as the flow's. */
static fce_status ebm_bpd(const char *ebm_path, fce_ctx *ctx, const fce_image_set *set, int B,
                          int n_bits, uint64_t seed, double *bpd_out) {
    fce_ebm_image *e = NULL;
    fce_ebm_image_tape *tp = NULL;
    uint8_t *d_u8 = NULL, *h_u8 = NULL;
    float *d_x = NULL, *h_f = NULL, c = 0;
    FCE_TRY(fce_ebm_image_load_file(ebm_path, ctx, &e));
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(e);
    fce_status st = FCE_STATUS_OK;
    if (ec->H != set->H || ec->W != set->W || ec->C != set->C) {
        fce_log_error("%s: the EBM takes %dx%dx%d pictures, the data are %dx%dx%d", ebm_path, ec->H,
                      ec->W, ec->C, set->H, set->W, set->C);
        st = FCE_STATUS_ERR_CONFIG;
    }
    size_t D = (size_t)set->H * set->W * set->C, BD = (size_t)B * D;
    if (st == FCE_STATUS_OK) st = fce_ebm_image_tape_init(&tp, e, B);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_u8, BD);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_x, BD * sizeof(float));
    if (st == FCE_STATUS_OK) st = ctx->ops->download(ctx, &c, fce_ebm_image_c(e), sizeof c);
    h_u8 = malloc(BD);
    h_f = malloc((size_t)B * sizeof(float));
    if (st == FCE_STATUS_OK && (!h_u8 || !h_f)) st = FCE_STATUS_ERR_NOMEM;
    double sum = 0, lnb = D * log((double)(1 << n_bits));
    for (size_t start = 0; st == FCE_STATUS_OK && start < set->n; start += (size_t)B) {
        size_t m = set->n - start < (size_t)B ? set->n - start : (size_t)B;
        memcpy(h_u8, set->pixels + start * D, m * D);
        for (size_t r = m; r < (size_t)B; r++) memcpy(h_u8 + r * D, set->pixels, D); /* padding */
        const float *f = NULL;
        st = ctx->ops->upload(ctx, d_u8, h_u8, BD);
        if (st == FCE_STATUS_OK) st = ctx->ops->dequantize(ctx, d_x, d_u8, BD, n_bits, seed, start * D);
        if (st == FCE_STATUS_OK) st = fce_ebm_image_forward(e, tp, d_x, B, &f);
        if (st == FCE_STATUS_OK) st = ctx->ops->download(ctx, h_f, f, (size_t)B * sizeof(float));
        for (size_t r = 0; st == FCE_STATUS_OK && r < m; r++)
            sum += -((double)h_f[r] - (double)c - lnb);
    }
    if (st == FCE_STATUS_OK) *bpd_out = sum / (double)set->n / (D * LN2);
    ctx->ops->release(ctx, d_u8);
    ctx->ops->release(ctx, d_x);
    fce_ebm_image_tape_free(tp);
    fce_ebm_image_free(e);
    free(h_u8);
    free(h_f);
    return st;
}

/* ---- evaluation ---- */

static fce_status eval_impl(const fce_image_eval_config *c, fce_ctx *ctx, int *have_ctx,
                            fce_iglow **g, fce_iglow_tape **tp, fce_image_set *set, uint8_t **h_u8,
                            uint8_t **d_u8, float **d_x, float **h_lq, double *bpd_out) {
    if (!fce_is_image_dataset(c->dataset)) return config_error("--dataset: not one of cifar10, svhn, folder");
    if (!c->data_dir[0]) return config_error("--data-dir is required");
    if (c->batch < 1 || c->batch > 100000) return config_error("--batch must be in 1..100000");
    fce_iglow_ckpt_state s;
    FCE_TRY(model_from_ckpt(c->checkpoint, c->device, ctx, have_ctx, g, &s));
    FCE_TRY(fce_image_load_split(c->dataset, c->data_dir, 0, set));
    const fce_iglow_config *gc = fce_iglow_cfg(*g);
    if (set->H != gc->H || set->W != gc->W || set->C != gc->C) {
        fce_log_error("%s: pictures are %dx%dx%d but the checkpoint's flow takes %dx%dx%d",
                      c->data_dir, set->H, set->W, set->C, gc->H, gc->W, gc->C);
        return FCE_STATUS_ERR_CONFIG;
    }
    int B = c->batch;
    if ((size_t)B > set->n) B = (int)set->n;
    size_t D = (size_t)gc->H * gc->W * gc->C, BD = (size_t)B * D;
    int n_bits = (int)s.n_bits;
    FCE_TRY(fce_iglow_tape_init_inference(tp, *g, B)); /* forward only */
    FCE_TRY(ctx->ops->alloc(ctx, (void **)d_u8, BD));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)d_x, BD * sizeof(float)));
    *h_u8 = malloc(BD);
    *h_lq = malloc((size_t)B * sizeof(float));
    if (!*h_u8 || !*h_lq) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    double sum = 0, lnb = D * log((double)(1 << n_bits));
    for (size_t start = 0; start < set->n; start += (size_t)B) {
        size_t m = set->n - start < (size_t)B ? set->n - start : (size_t)B;
        memcpy(*h_u8, set->pixels + start * D, m * D);
        for (size_t r = m; r < (size_t)B; r++) memcpy(*h_u8 + r * D, set->pixels, D); /* padding */
        FCE_TRY(ctx->ops->upload(ctx, *d_u8, *h_u8, BD));
        FCE_TRY(ctx->ops->dequantize(ctx, *d_x, *d_u8, BD, n_bits, c->seed, start * D));
        FCE_TRY(fce_iglow_forward(*g, *tp, *d_x, B));
        FCE_TRY(ctx->ops->download(ctx, *h_lq, fce_iglow_tape_logq(*tp), (size_t)B * sizeof(float)));
        for (size_t r = 0; r < m; r++) sum += -(double)(*h_lq)[r] + lnb;
    }
    double bpd = sum / (double)set->n / (D * LN2);
    if (bpd_out) *bpd_out = bpd;
    fce_log_info("test bits/dim %.4f on %zu images (%s, checkpoint step %lld)", bpd, set->n,
                 c->dataset, (long long)s.step);
    /* the EBM: --ebm, else <dir of checkpoint>/ebm.fce when it exists */
    char ebm_path[1100] = "";
    if (c->ebm[0]) {
        snprintf(ebm_path, sizeof ebm_path, "%s", c->ebm);
    } else {
        const char *slash = strrchr(c->checkpoint, '/');
        int dl = slash ? (int)(slash - c->checkpoint) : 0;
        snprintf(ebm_path, sizeof ebm_path, "%.*s%sebm.fce", dl, c->checkpoint, slash ? "/" : "");
        struct stat sb;
        if (stat(ebm_path, &sb) != 0) ebm_path[0] = 0;
    }
    char ebm_json[64] = "";
    double bpd_ebm = 0;
    if (ebm_path[0]) {
        FCE_TRY(ebm_bpd(ebm_path, ctx, set, B, n_bits, c->seed, &bpd_ebm));
        fce_log_info("EBM test bits/dim %.4f (%s, with its learned c)", bpd_ebm, ebm_path);
        snprintf(ebm_json, sizeof ebm_json, ", \"bpd_ebm\": %.9g", bpd_ebm);
    }
    char json[2700];
    snprintf(json, sizeof json,
             "{\"bpd\": %.9g%s, \"n_images\": %zu, \"dataset\": \"%s\", \"step\": %lld, "
             "\"n_bits\": %d}\n", bpd, ebm_json, set->n, c->dataset, (long long)s.step, n_bits);
    if (!c->out_dir[0]) {
        fputs(json, stdout);
        fflush(stdout);
        return isfinite(bpd) ? FCE_STATUS_OK : FCE_STATUS_ERR_NUMERIC;
    }
    FCE_TRY(fce_mkdirs(c->out_dir));
    char path[1100];
    snprintf(path, sizeof path, "%s/eval.json", c->out_dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(json, f) < 0) {
        if (f) fclose(f);
        fce_log_error("cannot write %s", path);
        return FCE_STATUS_ERR_IO;
    }
    if (fclose(f) != 0) {
        fce_log_error("cannot write %s", path);
        return FCE_STATUS_ERR_IO;
    }
    return isfinite(bpd) ? FCE_STATUS_OK : FCE_STATUS_ERR_NUMERIC;
}

fce_status fce_image_eval_run(const fce_image_eval_config *c, double *bpd_out) {
    fce_ctx ctx;
    int have_ctx = 0;
    fce_iglow *g = NULL;
    fce_iglow_tape *tp = NULL;
    fce_image_set set;
    memset(&set, 0, sizeof set);
    uint8_t *h_u8 = NULL, *d_u8 = NULL;
    float *d_x = NULL, *h_lq = NULL;
    fce_status st = eval_impl(c, &ctx, &have_ctx, &g, &tp, &set, &h_u8, &d_u8, &d_x, &h_lq, bpd_out);
    if (have_ctx) {
        ctx.ops->release(&ctx, d_u8);
        ctx.ops->release(&ctx, d_x);
        fce_iglow_tape_free(tp);
        fce_iglow_free(g);
        fce_ctx_free(&ctx);
    }
    free(h_u8);
    free(h_lq);
    fce_image_set_free(&set);
    return st;
}

/* ---- sampling ---- */

#define MAX_LEVELS 16

/* Samples of the checkpoint at `path`: ε per level from Philox(seed) in level order (so two
 * checkpoints of one architecture see the same noise), the inverse at temperature T, and the
 * uint8 pictures downloaded into *h_u8 (N·D bytes, malloc'd, the caller frees). gc_out receives
 * the architecture. Everything this allocates on the device is released before returning; the
 * context (made on first use) stays with the caller. */
static fce_status sample_u8(fce_ctx *ctx, int *have_ctx, const char *path, const char *device, int N,
                            float T, uint64_t seed, fce_iglow_config *gc_out, uint8_t **h_u8) {
    fce_iglow *g = NULL;
    fce_iglow_tape *tp = NULL;
    float *d_eps[MAX_LEVELS] = {0};
    uint8_t *d_u8 = NULL;
    fce_iglow_ckpt_state s;
    fce_status st = model_from_ckpt(path, device, ctx, have_ctx, &g, &s);
    if (st == FCE_STATUS_OK) {
        *gc_out = *fce_iglow_cfg(g);
        if (gc_out->C != 3 || gc_out->L > MAX_LEVELS) {
            fce_log_error("sample: %s: the grid needs RGB pictures (C = 3); the checkpoint has C = %d",
                          path, gc_out->C);
            st = FCE_STATUS_ERR_UNSUPPORTED;
        }
    }
    size_t D = (size_t)gc_out->H * gc_out->W * gc_out->C;
    if (st == FCE_STATUS_OK) st = fce_iglow_tape_init_inference(&tp, g, N); /* inverse only */
    uint64_t off = 0;
    for (int l = 0; st == FCE_STATUS_OK && l < gc_out->L; l++) {
        size_t nz = (size_t)N * (size_t)fce_iglow_n_z(g, l);
        st = ctx->ops->alloc(ctx, (void **)&d_eps[l], nz * sizeof(float));
        if (st == FCE_STATUS_OK) st = ctx->ops->fill_normal(ctx, d_eps[l], nz, seed, off, 1.0f);
        off += nz;
    }
    if (st == FCE_STATUS_OK) st = fce_iglow_inverse(g, tp, (const float *const *)d_eps, T, N);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_u8, (size_t)N * D);
    if (st == FCE_STATUS_OK)
        st = ctx->ops->postprocess(ctx, d_u8, fce_iglow_tape_x(tp), (size_t)N * D, (int)s.n_bits);
    if (st == FCE_STATUS_OK && !(*h_u8 = malloc((size_t)N * D))) {
        fce_log_error("out of host memory");
        st = FCE_STATUS_ERR_NOMEM;
    }
    if (st == FCE_STATUS_OK) st = ctx->ops->download(ctx, *h_u8, d_u8, (size_t)N * D);
    if (*have_ctx) {
        for (int l = 0; l < MAX_LEVELS; l++) ctx->ops->release(ctx, d_eps[l]);
        ctx->ops->release(ctx, d_u8);
        fce_iglow_tape_free(tp);
        fce_iglow_free(g);
    }
    return st;
}

/* Copies N pictures (H, W, 3) into a cols-wide panel of the grid (gw wide) at column x0, with
 * 1-pixel gaps between pictures. */
static void paste_panel(uint8_t *grid, int gw, int x0, const uint8_t *u8, int N, int cols, int H,
                        int W) {
    size_t D = (size_t)H * W * 3;
    for (int i = 0; i < N; i++) {
        int r0 = (i / cols) * (H + 1), c0 = x0 + (i % cols) * (W + 1);
        for (int y = 0; y < H; y++)
            memcpy(grid + ((size_t)(r0 + y) * gw + c0) * 3, u8 + (size_t)i * D + (size_t)y * W * 3,
                   (size_t)W * 3);
    }
}

/* Gap between the two panels of --compare, in pixels (white, so the panels read as two figures). */
#define COMPARE_GAP 6

static fce_status sample_impl(const fce_image_sample_config *c, fce_ctx *ctx, int *have_ctx,
                              uint8_t **h_a, uint8_t **h_b, uint8_t **grid) {
    if (c->n < 1 || c->n > 100000) return config_error("--n must be in 1..100000");
    if (!(c->temperature >= 0)) return config_error("--temperature must be >= 0");
    if (!c->grid[0]) return config_error("--grid is required");
    if (!c->checkpoint[0]) return config_error("--checkpoint is required");
    int N = c->n;
    fce_iglow_config ga, gb;
    FCE_TRY(sample_u8(ctx, have_ctx, c->checkpoint, c->device, N, c->temperature, c->seed, &ga, h_a));
    if (c->compare[0]) {
        /* Same noise needs the same latent sizes: the picture shape and L decide them. */
        fce_iglow_config peek;
        fce_iglow_ckpt_state s;
        FCE_TRY(fce_iglow_ckpt_peek(c->compare, &peek, &s));
        if (peek.H != ga.H || peek.W != ga.W || peek.C != ga.C || peek.L != ga.L) {
            fce_log_error("sample --compare: %s is a %dx%dx%d flow with L = %d, %s is %dx%dx%d with "
                          "L = %d; the same noise needs the same picture shape and number of levels",
                          c->compare, peek.H, peek.W, peek.C, peek.L, c->checkpoint, ga.H, ga.W,
                          ga.C, ga.L);
            return FCE_STATUS_ERR_CONFIG;
        }
        FCE_TRY(sample_u8(ctx, have_ctx, c->compare, c->device, N, c->temperature, c->seed, &gb, h_b));
    }
    int cols = (int)ceil(sqrt((double)N));
    while (cols * cols < N) cols++;
    while (cols > 1 && (cols - 1) * (cols - 1) >= N) cols--;
    int rows = (N + cols - 1) / cols;
    int pw = cols * ga.W + (cols - 1), gh = rows * ga.H + (rows - 1);
    int gw = c->compare[0] ? 2 * pw + COMPARE_GAP : pw;
    if (!(*grid = calloc((size_t)gw * gh * 3, 1))) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    paste_panel(*grid, gw, 0, *h_a, N, cols, ga.H, ga.W);
    if (c->compare[0]) {
        for (int y = 0; y < gh; y++) memset(*grid + ((size_t)y * gw + pw) * 3, 255, COMPARE_GAP * 3);
        paste_panel(*grid, gw, pw + COMPARE_GAP, *h_b, N, cols, ga.H, ga.W);
    }
    FCE_TRY(fce_image_write_rgb(c->grid, *grid, gw, gh));
    if (c->compare[0])
        fce_log_info("wrote %d samples at temperature %g from the same noise: %s (left) | %s (right) "
                     "to %s", N, (double)c->temperature, c->checkpoint, c->compare, c->grid);
    else
        fce_log_info("wrote %d samples at temperature %g to %s", N, (double)c->temperature, c->grid);
    return FCE_STATUS_OK;
}

/* ---- batched sampling into numbered PNGs (and an optional .npz) ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void le16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { le16(p, v & 0xffff), le16(p + 2, v >> 16); }

/* The NPY v1.0 header of a uint8 (n, h, w, c) C-order array, padded to a multiple of 64 bytes. */
static size_t npy_header(char *buf, size_t cap, int n, int h, int w, int c) {
    char dict[200];
    int dl = snprintf(dict, sizeof dict,
                      "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }", n, h, w, c);
    size_t total = 10 + (size_t)dl + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    le16((uint8_t *)buf + 8, (unsigned)(total - 10));
    memset(buf + 10, ' ', total - 10);
    memcpy(buf + 10, dict, (size_t)dl);
    buf[total - 1] = '\n';
    return total;
}

/* ZIP local file header (30 bytes + name) of a stored entry. */
static void zip_local(uint8_t *p, uint32_t crc, uint32_t size) {
    memset(p, 0, 30);
    le32(p, 0x04034b50u);
    le16(p + 4, 20);
    le16(p + 12, 0x21); /* 1980-01-01 */
    le32(p + 14, crc);
    le32(p + 18, size);
    le32(p + 22, size);
    le16(p + 26, 5);
    memcpy(p + 30, "x.npy", 5);
}

typedef struct sample_out {
    float *d_eps[MAX_LEVELS];
    uint8_t *d_u8, *h_u8;
    fce_iglow_tape *tp;
    FILE *npz;
} sample_out;

static fce_status sample_dir_impl(const fce_image_sample_config *c, fce_ctx *ctx, fce_iglow *g,
                                  int n_bits, sample_out *o) {
    const fce_iglow_config *gc = fce_iglow_cfg(g);
    int N = c->n, B = c->batch < N ? c->batch : N;
    size_t D = (size_t)gc->H * gc->W * gc->C;
    FCE_TRY(fce_mkdirs(c->out_dir));
    FCE_TRY(fce_iglow_tape_init_inference(&o->tp, g, B)); /* inverse only */
    for (int l = 0; l < gc->L; l++)
        FCE_TRY(ctx->ops->alloc(ctx, (void **)&o->d_eps[l], (size_t)B * fce_iglow_n_z(g, l) * sizeof(float)));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&o->d_u8, (size_t)B * D));
    o->h_u8 = malloc((size_t)B * D);
    if (!o->h_u8) return FCE_STATUS_ERR_NOMEM;
    char hdr[256];
    size_t hl = 0, arr_bytes = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    if (c->npz[0]) {
        hl = npy_header(hdr, sizeof hdr, N, gc->H, gc->W, gc->C);
        arr_bytes = hl + (size_t)N * D;
        if (!hl || arr_bytes > 0xfffffffeu) {
            fce_log_error("--npz: the array is too large for a ZIP without ZIP64");
            return FCE_STATUS_ERR_UNSUPPORTED;
        }
        o->npz = fopen(c->npz, "wb");
        uint8_t lh[35];
        zip_local(lh, 0, (uint32_t)arr_bytes);
        if (!o->npz || fwrite(lh, 1, 35, o->npz) != 35 || fwrite(hdr, 1, hl, o->npz) != hl) {
            fce_log_error("cannot write %s", c->npz);
            return FCE_STATUS_ERR_IO;
        }
        crc = crc32(crc, (const Bytef *)hdr, (uInt)hl);
    }
    double t0 = now_s();
    uint64_t off = 0;
    int nb = 0;
    for (int start = 0; start < N; start += B, nb++) {
        int m = N - start < B ? N - start : B;
        for (int l = 0; l < gc->L; l++) {
            size_t nz = (size_t)B * (size_t)fce_iglow_n_z(g, l);
            FCE_TRY(ctx->ops->fill_normal(ctx, o->d_eps[l], nz, c->seed, off, 1.0f));
            off += nz;
        }
        FCE_TRY(fce_iglow_inverse(g, o->tp, (const float *const *)o->d_eps, c->temperature, B));
        FCE_TRY(ctx->ops->postprocess(ctx, o->d_u8, fce_iglow_tape_x(o->tp), (size_t)B * D, n_bits));
        FCE_TRY(ctx->ops->download(ctx, o->h_u8, o->d_u8, (size_t)m * D));
        for (int i = 0; i < m; i++) {
            char path[1100];
            snprintf(path, sizeof path, "%s/%06d.png", c->out_dir, start + i);
            FCE_TRY(fce_image_write_rgb(path, o->h_u8 + (size_t)i * D, gc->W, gc->H));
        }
        if (o->npz) {
            crc = crc32(crc, o->h_u8, (uInt)((size_t)m * D));
            if (fwrite(o->h_u8, 1, (size_t)m * D, o->npz) != (size_t)m * D) {
                fce_log_error("cannot write %s", c->npz);
                return FCE_STATUS_ERR_IO;
            }
        }
        if ((nb + 1) % 5 == 0 && start + m < N) {
            double dt = now_s() - t0;
            fce_log_info("sample: %d/%d pictures, %.1f img/s", start + m, N, (start + m) / (dt > 0 ? dt : 1e-9));
        }
    }
    if (o->npz) {
        uint8_t cd[51], eo[22], lcrc[4];
        le32(lcrc, (uint32_t)crc);
        memset(cd, 0, sizeof cd);
        le32(cd, 0x02014b50u);
        le16(cd + 4, 20);
        le16(cd + 6, 20);
        le16(cd + 14, 0x21);
        le32(cd + 16, (uint32_t)crc);
        le32(cd + 20, (uint32_t)arr_bytes);
        le32(cd + 24, (uint32_t)arr_bytes);
        le16(cd + 28, 5);
        memcpy(cd + 46, "x.npy", 5);
        memset(eo, 0, sizeof eo);
        le32(eo, 0x06054b50u);
        le16(eo + 8, 1);
        le16(eo + 10, 1);
        le32(eo + 12, 51);
        le32(eo + 16, (uint32_t)(35 + arr_bytes));
        int ok = fwrite(cd, 1, 51, o->npz) == 51 && fwrite(eo, 1, 22, o->npz) == 22 &&
                 fseek(o->npz, 14, SEEK_SET) == 0 && fwrite(lcrc, 1, 4, o->npz) == 4;
        ok = (fclose(o->npz) == 0) && ok;
        o->npz = NULL;
        if (!ok) {
            fce_log_error("cannot write %s", c->npz);
            return FCE_STATUS_ERR_IO;
        }
    }
    double dt = now_s() - t0;
    fce_log_info("sample: wrote %d pictures to %s%s%s in %.3f s (%.1f img/s, batch %d, temperature %g)", N,
                 c->out_dir, c->npz[0] ? " and " : "", c->npz, dt, N / (dt > 0 ? dt : 1e-9), B,
                 (double)c->temperature);
    return FCE_STATUS_OK;
}

static fce_status sample_dir_run(const fce_image_sample_config *c) {
    if (c->n < 1 || c->n > 100000) return config_error("--n must be in 1..100000");
    if (c->batch < 1 || c->batch > 100000) return config_error("--batch must be in 1..100000");
    if (!(c->temperature >= 0)) return config_error("--temperature must be >= 0");
    fce_ctx ctx;
    int have_ctx = 0;
    fce_iglow *g = NULL;
    fce_iglow_ckpt_state s;
    sample_out o;
    memset(&o, 0, sizeof o);
    fce_status st = model_from_ckpt(c->checkpoint, c->device, &ctx, &have_ctx, &g, &s);
    if (st == FCE_STATUS_OK) {
        const fce_iglow_config *gc = fce_iglow_cfg(g);
        if (gc->C != 3 || gc->L > MAX_LEVELS) {
            fce_log_error("sample: PNG output needs RGB pictures (C = 3); the checkpoint has C = %d", gc->C);
            st = FCE_STATUS_ERR_UNSUPPORTED;
        }
    }
    if (st == FCE_STATUS_OK) st = sample_dir_impl(c, &ctx, g, (int)s.n_bits, &o);
    if (o.npz) {
        fclose(o.npz);
        remove(c->npz);
    }
    if (have_ctx) {
        for (int l = 0; l < MAX_LEVELS; l++) ctx.ops->release(&ctx, o.d_eps[l]);
        ctx.ops->release(&ctx, o.d_u8);
        fce_iglow_tape_free(o.tp);
        fce_iglow_free(g);
        fce_ctx_free(&ctx);
    }
    free(o.h_u8);
    return st;
}

fce_status fce_image_sample_run(const fce_image_sample_config *c) {
    if (c->out_dir[0]) {
        if (c->compare[0]) return config_error("--compare makes a grid; it does not go with --out-dir");
        return sample_dir_run(c);
    }
    fce_ctx ctx;
    int have_ctx = 0;
    uint8_t *h_a = NULL, *h_b = NULL, *grid = NULL;
    fce_status st = sample_impl(c, &ctx, &have_ctx, &h_a, &h_b, &grid);
    if (have_ctx) fce_ctx_free(&ctx);
    free(h_a);
    free(h_b);
    free(grid);
    return st;
}
