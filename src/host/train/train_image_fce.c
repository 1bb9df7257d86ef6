/* train_image_fce.c: `train --dataset cifar10|svhn|folder --mode fce`: joint training of the image
 * EBM (ebm_image.h) and the image Glow (iglow.h) by flow contrastive estimation, SPEC c.3, with the
 * same rules as the 2D loop (fce_train.c).
 *
 * One step, n data + n samples, T = 1 (all on the device; the read-back is the 2 stats, c and the n
 * values of f(x) and log q(x) for the bits/dim metrics):
 *   x ← dequantise(batch of step, noise offset step·n·D);  ε_l ~ N(0, 1) per level (Philox,
 *   stream seed_eps, offset step·n·D + the earlier levels' values);
 *   (x̃, log q(x̃)) ← inverse(ε);  log q(x) ← forward(x);  f ← EBM([x; x̃]) (one tape of 2n);
 *   EBM turn:  nce_loss gscale +1 (dfx, dfx̃, dc), EBM backward (param grads), Adam (--lr-ebm);
 *   flow turn: nce_loss gscale −1 (dfx̃, dlq, dlq̃), EBM backward of [0; dfx̃] with dx only
 *              (∂V/∂x̃), iglow backward (x, dlq) + inverse_backward (dx̃, dlq̃) + finish_grad,
 *              Adamax (--lr-flow, 1e-5 as the paper for images), refresh.
 *   Next turn from the accuracy before the update: the flow while acc > --threshold, the EBM
 *   otherwise; --max-mode-steps caps consecutive steps of one player (0 = no cap, the images
 *   default: unlike 2D, the paper's rule is used as is). --steps counts steps of either player.
 * Fresh start: the flow from --init-flow (an MLE image checkpoint: its architecture and parameters,
 * fresh Adamax moments; the paper's pipeline) or, without it, a random flow with data-dependent
 * actnorm init (a notice says so); then c₀ = mean(f(x) − log q(x)) on an init batch (the step-0
 * pictures with their own dequantisation noise), so that acc ≈ 0.5 at the start (SPEC c.3).
 * A non-finite value stops the run (exit code of FCE_STATUS_ERR_NUMERIC).
 *
 * Checkpoints: <out>/checkpoint.fce is the flow in the image MLE format (iglow_checkpoint.h; its
 * step field is the flow's Adamax count), so eval and sample take it as is; <out>/ebm.fce holds the
 * EBM (params incl. c, Adam moments) and the FCE state (step, updates of each player, turn). Each is
 * written to .tmp then renamed; ebm.fce first. --resume checks that the two agree (the flow's step
 * equals ebm.fce's flow updates): a crash between the two renames is reported, not resumed. */
#define _POSIX_C_SOURCE 200809L
#include "train/train_image_fce.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fce/backend.h"
#include "fce/dataset.h"
#include "data/image_common.h"
#include "fce/log.h"
#include "util/fs_util.h"
#include "formats/ckpt_io.h"
#include "formats/ebm_image_file.h"
#include "formats/flow_image_file.h"

#define LN2 0.69314718055994530942
#define MAXL 16

typedef fce_image_fce_state ifce_state; /* stored in ebm.fce (formats/ebm_image_file.h) */

struct fce_ifce {
    fce_image_train_config cfg;
    fce_ctx ctx;
    int have_ctx;
    fce_image_set set;
    fce_iglow *g;
    fce_iglow_tape *tp_data, *tp_samp;
    fce_ebm_image *ebm;
    fce_ebm_image_tape *tp_ebm;
    int N, L;
    size_t D;
    uint8_t *d_u8;
    float *d_x, *d_eps[MAXL], *d_ebm_in, *d_df, *d_dx, *d_dlq, *d_dlqt, *d_stats;
    float *h_f, *h_lq;
    fce_batch_source batches; /* host batches, one step of look-ahead (image_common.h) */
    uint64_t seed_data, seed_noise, seed_eps, seed_init;
    ifce_state st;
    char path_ckpt[1100], path_ebm[1100];
    int64_t saved_step; /* step of the checkpoint pair on disk, −1 while none was written */
    FILE *metrics;
};

static fce_status cfg_err(const char *msg) {
    fce_log_error("%s", msg);
    return FCE_STATUS_ERR_CONFIG;
}

static fce_status validate(const fce_image_train_config *c) {
    if (!fce_is_image_dataset(c->dataset)) return cfg_err("--dataset: not one of cifar10, svhn, folder");
    if (strcmp(c->preset, "cifar10") && strcmp(c->preset, "svhn") && strcmp(c->preset, "tiny")) {
        fce_log_error("--preset: '%s' is not one of cifar10, svhn, tiny", c->preset);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (!c->data_dir[0]) return cfg_err("--data-dir is required");
    if (c->steps < 1) return cfg_err("--steps must be >= 1");
    if (c->batch < 1 || c->batch > 100000) return cfg_err("--batch must be in 1..100000");
    if (c->L < 0 || c->K < 0 || c->width < 0) return cfg_err("--L, --K, --width must be >= 1");
    if (!(c->lr_ebm > 0) || !(c->lr_flow > 0)) return cfg_err("--lr-ebm and --lr-flow must be > 0");
    if (!(c->lr_c >= 0 && c->lr_c < 1e6)) return cfg_err("--lr-c must be >= 0 (0: --lr-ebm)");
    if (!(c->threshold > 0 && c->threshold < 1)) return cfg_err("--threshold must be in (0, 1)");
    if (c->max_mode_steps < 0) return cfg_err("--max-mode-steps must be >= 0");
    if (c->ebm_width_scale < 0 || c->ebm_width_scale > 64 ||
        (c->ebm_width_scale & (c->ebm_width_scale - 1)))
        return cfg_err("--ebm-width-scale must be 0 or a power of two <= 64");
    if (c->n_bits < 1 || c->n_bits > 8) return cfg_err("--n-bits must be in 1..8");
    if (c->log_every < 1) return cfg_err("--log-every must be >= 1");
    if (c->checkpoint_every < 0) return cfg_err("--checkpoint-every must be >= 0");
    return FCE_STATUS_OK;
}

/* ---- setup ---- */

#define DEV(ptr, bytes) FCE_TRY(ctx->ops->alloc(ctx, (void **)&(ptr), (bytes)))

void fce_ifce_free(fce_ifce *t) {
    if (!t) return;
    if (t->metrics) fclose(t->metrics);
    if (t->have_ctx) {
        fce_ctx *ctx = &t->ctx;
        void *bufs[] = {t->d_u8, t->d_x, t->d_ebm_in, t->d_df, t->d_dx, t->d_dlq, t->d_dlqt, t->d_stats};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
        for (int l = 0; l < MAXL; l++) ctx->ops->release(ctx, t->d_eps[l]);
        fce_iglow_tape_free(t->tp_data);
        fce_iglow_tape_free(t->tp_samp);
        fce_iglow_free(t->g);
        fce_ebm_image_tape_free(t->tp_ebm);
        fce_ebm_image_free(t->ebm);
        fce_ctx_free(ctx);
    }
    fce_batch_source_free(&t->batches);
    free(t->h_f);
    free(t->h_lq);
    fce_image_set_free(&t->set);
    free(t);
}

/* The dequantised batch of `step` into d_x (noise stream `seed`). */
static fce_status load_x(fce_ifce *t, int64_t step, uint64_t seed) {
    size_t ND = (size_t)t->N * t->D;
    FCE_TRY(t->ctx.ops->upload(&t->ctx, t->d_u8, fce_batch_source_get(&t->batches, step), ND));
    return t->ctx.ops->dequantize(&t->ctx, t->d_x, t->d_u8, ND, t->cfg.n_bits, seed, (uint64_t)step * ND);
}

static fce_status setup(fce_ifce *t) {
    fce_image_train_config *c = &t->cfg;
    if (!c->preset[0])
        snprintf(c->preset, sizeof c->preset, "%.15s", strcmp(c->dataset, "folder") ? c->dataset : "tiny");
    FCE_TRY(validate(c));
    if (!c->out_dir[0]) snprintf(c->out_dir, sizeof c->out_dir, "runs/%s-fce", c->dataset);
    snprintf(t->path_ckpt, sizeof t->path_ckpt, "%s/checkpoint.fce", c->out_dir);
    snprintf(t->path_ebm, sizeof t->path_ebm, "%s/ebm.fce", c->out_dir);
    FCE_TRY(fce_image_load_split(c->dataset, c->data_dir, 1, &t->set));
    fce_iglow_config gc = fce_image_preset(c, &t->set);
    fce_iglow_ckpt_state cs;
    const char *arch_from = c->resume ? t->path_ckpt : c->init_flow[0] ? c->init_flow : NULL;
    if (arch_from) FCE_TRY(fce_iglow_ckpt_peek(arch_from, &gc, &cs));
    if (gc.H != t->set.H || gc.W != t->set.W || gc.C != t->set.C) {
        fce_log_error("%s: its flow takes %dx%dx%d pictures, the data are %dx%dx%d", arch_from ? arch_from : "preset",
                      gc.H, gc.W, gc.C, t->set.H, t->set.W, t->set.C);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (gc.L < 1 || gc.L > MAXL || gc.H % (1 << gc.L) || gc.W % (1 << gc.L))
        return cfg_err("--L: the pictures are not divisible by 2^L");
    if (gc.H % 8 || gc.W % 8) return cfg_err("the image EBM needs H and W multiples of 8");
    FCE_TRY(fce_ctx_init(&t->ctx, c->device));
    t->have_ctx = 1;
    FCE_TRY(fce_mkdirs(c->out_dir));
    fce_ctx *ctx = &t->ctx;
    t->N = c->batch;
    t->L = gc.L;
    t->D = (size_t)gc.H * gc.W * gc.C;
    t->seed_data = fce_derive_seed(c->seed, 1);
    t->seed_noise = fce_derive_seed(c->seed, 2);
    t->seed_eps = fce_derive_seed(c->seed, 5);
    t->seed_init = fce_derive_seed(c->seed, 6);
    FCE_TRY(fce_iglow_init(&t->g, ctx, &gc, fce_derive_seed(c->seed, 3)));
    fce_ebm_image_config ec = {gc.H, gc.W, gc.C, c->ebm_width_scale, 0};
    FCE_TRY(fce_ebm_image_init(&t->ebm, ctx, &ec, fce_derive_seed(c->seed, 4)));
    FCE_TRY(fce_iglow_tape_init(&t->tp_data, t->g, t->N));
    FCE_TRY(fce_iglow_tape_init(&t->tp_samp, t->g, t->N));
    FCE_TRY(fce_ebm_image_tape_init(&t->tp_ebm, t->ebm, 2 * t->N));
    size_t N = (size_t)t->N, ND = N * t->D;
    DEV(t->d_u8, ND);
    DEV(t->d_x, ND * sizeof(float));
    for (int l = 0; l < t->L; l++) DEV(t->d_eps[l], N * (size_t)fce_iglow_n_z(t->g, l) * sizeof(float));
    DEV(t->d_ebm_in, 2 * ND * sizeof(float));
    DEV(t->d_dx, 2 * ND * sizeof(float));
    DEV(t->d_df, 2 * N * sizeof(float));
    DEV(t->d_dlq, N * sizeof(float));
    DEV(t->d_dlqt, N * sizeof(float));
    DEV(t->d_stats, 2 * sizeof(float));
    FCE_TRY(fce_batch_source_init(&t->batches, &t->set, t->N, t->seed_data));
    t->h_f = malloc(2 * N * sizeof(float));
    t->h_lq = malloc(N * sizeof(float));
    if (!t->h_f || !t->h_lq) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    memset(&t->st, 0, sizeof t->st);
    t->st.seed = (int64_t)c->seed;
    t->st.n_bits = c->n_bits;
    t->st.batch = c->batch;
    t->st.width_scale = c->ebm_width_scale;
    snprintf(t->st.dataset, sizeof t->st.dataset, "%s", c->dataset);
    return FCE_STATUS_OK;
}

static fce_status fresh_start(fce_ifce *t) {
    fce_ctx *ctx = &t->ctx;
    const fce_image_train_config *c = &t->cfg;
    FCE_TRY(load_x(t, 0, t->seed_init));
    if (c->init_flow[0]) {
        fce_iglow_ckpt_state s;
        FCE_TRY(fce_iglow_ckpt_load(c->init_flow, t->g, 0, &s));
        if (s.n_bits != c->n_bits)
            fce_log_warn("--init-flow %s was trained at --n-bits %lld, this run uses %d", c->init_flow,
                         (long long)s.n_bits, c->n_bits);
        if (!c->quiet) fce_log_info("flow initialised from %s (MLE step %lld)", c->init_flow, (long long)s.step);
    } else {
        fce_log_info("notice: no --init-flow; FCE starts from a random flow (the paper starts from an "
                     "MLE-pretrained one: train --mode mle first, then --init-flow <out>/checkpoint.fce)");
    }
    if (!fce_iglow_actnorm_initialized(t->g)) FCE_TRY(fce_iglow_data_init(t->g, t->tp_data, t->d_x, t->N));
    /* c₀ = mean(f(x) − log q(x)) on the init batch (SPEC c.3); the EBM tape takes 2n: [x; x] */
    size_t ND = (size_t)t->N * t->D;
    FCE_TRY(fce_iglow_forward(t->g, t->tp_data, t->d_x, t->N));
    FCE_TRY(ctx->ops->copy(ctx, t->d_ebm_in, t->d_x, ND * sizeof(float)));
    FCE_TRY(ctx->ops->copy(ctx, t->d_ebm_in + ND, t->d_x, ND * sizeof(float)));
    const float *f;
    FCE_TRY(fce_ebm_image_forward(t->ebm, t->tp_ebm, t->d_ebm_in, 2 * t->N, &f));
    FCE_TRY(ctx->ops->download(ctx, t->h_f, f, (size_t)t->N * sizeof(float)));
    FCE_TRY(ctx->ops->download(ctx, t->h_lq, fce_iglow_tape_logq(t->tp_data), (size_t)t->N * sizeof(float)));
    double s = 0;
    for (int i = 0; i < t->N; i++) s += (double)t->h_f[i] - (double)t->h_lq[i];
    float c0 = (float)(s / t->N);
    if (!isfinite(c0)) {
        fce_log_error("c initialisation: mean(f - log q) is %g (not finite)", (double)c0);
        return FCE_STATUS_ERR_NUMERIC;
    }
    return ctx->ops->upload(ctx, fce_ebm_image_c(t->ebm), &c0, sizeof c0);
}

static fce_status resume(fce_ifce *t) {
    fce_iglow_ckpt_state fs;
    ifce_state s;
    FCE_TRY(fce_iglow_ckpt_load(t->path_ckpt, t->g, 1, &fs));
    FCE_TRY(fce_ebm_image_file_read(t->path_ebm, &t->ctx, t->ebm, &s));
    const char *bad = NULL;
    if (fs.step != s.flow_updates) bad = "flow step (checkpoint.fce and ebm.fce are from different saves)";
    else if (s.seed != t->st.seed) bad = "seed (--seed)";
    else if (s.n_bits != t->st.n_bits) bad = "n_bits (--n-bits)";
    else if (s.batch != t->st.batch) bad = "batch (--batch)";
    else if (strcmp(s.dataset, t->st.dataset) != 0) bad = "dataset (--dataset)";
    if (bad) {
        fce_log_error("--resume %s: its %s differs from this run's", t->cfg.out_dir, bad);
        return FCE_STATUS_ERR_FORMAT;
    }
    t->st = s;
    t->saved_step = s.step;
    if (!t->cfg.quiet) fce_log_info("resumed %s at step %lld", t->cfg.out_dir, (long long)s.step);
    return FCE_STATUS_OK;
}

fce_status fce_ifce_create(fce_ifce **out, const fce_image_train_config *cfg) {
    *out = NULL;
    fce_ifce *t = calloc(1, sizeof *t);
    if (!t) return FCE_STATUS_ERR_NOMEM;
    t->cfg = *cfg;
    t->saved_step = -1;
    fce_status st = setup(t);
    if (st == FCE_STATUS_OK) st = cfg->resume ? resume(t) : fresh_start(t);
    if (st != FCE_STATUS_OK) {
        fce_ifce_free(t);
        return st;
    }
    *out = t;
    return FCE_STATUS_OK;
}

/* ---- the step ---- */

/* Adam over the EBM's arena at --lr-ebm, with c at --lr-c when that is set: SPEC c.3 notes that
 * Adam moves c by about lr per step while log q of images differs by hundreds of nats between
 * models, so c may need a faster rate than the network. The ranges before and after c are
 * updated separately so every element gets exactly one Adam step. */
static fce_status ebm_update(fce_ifce *t, fce_param_arena *a) {
    fce_ctx *ctx = &t->ctx;
    const int step = (int)t->st.ebm_updates;
    const float lr = t->cfg.lr_ebm, lr_c = t->cfg.lr_c > 0 ? t->cfg.lr_c : lr;
    if (lr_c == lr)
        return ctx->ops->adam_step(ctx, a->params, a->grads, a->m, a->v, a->n_trainable, lr, 0.9f,
                                   0.999f, 1e-7f, step);
    const size_t ic = (size_t)(fce_ebm_image_c(t->ebm) - a->params), n = a->n_trainable;
    FCE_ASSERT(ic < n, "ebm_update: c is not in the trainable range");
    FCE_TRY(ctx->ops->adam_step(ctx, a->params, a->grads, a->m, a->v, ic, lr, 0.9f, 0.999f, 1e-7f, step));
    FCE_TRY(ctx->ops->adam_step(ctx, a->params + ic, a->grads + ic, a->m + ic, a->v + ic, 1, lr_c, 0.9f,
                                0.999f, 1e-7f, step));
    if (ic + 1 < n)
        FCE_TRY(ctx->ops->adam_step(ctx, a->params + ic + 1, a->grads + ic + 1, a->m + ic + 1,
                                    a->v + ic + 1, n - ic - 1, lr, 0.9f, 0.999f, 1e-7f, step));
    return FCE_STATUS_OK;
}

static fce_status contrastive_forward(fce_ifce *t, int64_t step, const float **f) {
    fce_ctx *ctx = &t->ctx;
    size_t N = (size_t)t->N, ND = N * t->D;
    FCE_TRY(load_x(t, step, t->seed_noise));
    uint64_t off = (uint64_t)step * ND;
    for (int l = 0; l < t->L; l++) {
        size_t nz = N * (size_t)fce_iglow_n_z(t->g, l);
        FCE_TRY(ctx->ops->fill_normal(ctx, t->d_eps[l], nz, t->seed_eps, off, 1.0f));
        off += nz;
    }
    FCE_TRY(fce_iglow_inverse(t->g, t->tp_samp, (const float *const *)t->d_eps, 1.0f, t->N));
    FCE_TRY(fce_iglow_forward(t->g, t->tp_data, t->d_x, t->N));
    FCE_TRY(ctx->ops->copy(ctx, t->d_ebm_in, t->d_x, ND * sizeof(float)));
    FCE_TRY(ctx->ops->copy(ctx, t->d_ebm_in + ND, fce_iglow_tape_x(t->tp_samp), ND * sizeof(float)));
    return fce_ebm_image_forward(t->ebm, t->tp_ebm, t->d_ebm_in, 2 * t->N, f);
}

static fce_status grad_flow(fce_ifce *t, const float *f) {
    fce_ctx *ctx = &t->ctx;
    int n = t->N;
    size_t ND = (size_t)n * t->D;
    FCE_TRY(ctx->ops->nce_loss(ctx, t->d_stats, NULL, t->d_df + n, t->d_dlq, t->d_dlqt, NULL, f, f + n,
                               fce_iglow_tape_logq(t->tp_data), fce_iglow_tape_logq(t->tp_samp),
                               fce_ebm_image_c(t->ebm), n, -1.0f));
    FCE_TRY(ctx->ops->zero(ctx, t->d_df, (size_t)n * sizeof(float))); /* data rows: no x̃ path */
    FCE_TRY(fce_ebm_image_backward(t->ebm, t->tp_ebm, t->d_df, t->d_dx, 2 * n, 0));
    FCE_TRY(fce_iglow_zero_grad(t->g));
    FCE_TRY(fce_iglow_backward(t->g, t->tp_data, t->d_dlq, n));
    FCE_TRY(fce_iglow_inverse_backward(t->g, t->tp_samp, t->d_dx + ND, t->d_dlqt, n));
    return fce_iglow_finish_grad(t->g);
}

fce_status fce_ifce_flow_value(fce_ifce *t, int64_t step, int grads, float *value) {
    const float *f;
    FCE_TRY(contrastive_forward(t, step, &f));
    if (grads) {
        FCE_TRY(grad_flow(t, f));
    } else {
        int n = t->N;
        FCE_TRY(t->ctx.ops->nce_loss(&t->ctx, t->d_stats, NULL, NULL, NULL, NULL, NULL, f, f + n,
                                     fce_iglow_tape_logq(t->tp_data), fce_iglow_tape_logq(t->tp_samp),
                                     fce_ebm_image_c(t->ebm), n, -1.0f));
    }
    float stats[2];
    FCE_TRY(t->ctx.ops->download(&t->ctx, stats, t->d_stats, sizeof stats));
    *value = stats[0];
    return FCE_STATUS_OK;
}

/* metrics of the running interval */
typedef struct ifce_acc {
    double value, acc, lq, fc;
    long n, n_ebm;
} ifce_acc;

static fce_status step_impl(fce_ifce *t, fce_ifce_probe *p, ifce_acc *m) {
    fce_ctx *ctx = &t->ctx;
    const int n = t->N;
    const int64_t step = t->st.step;
    const int flow_turn = (int)t->st.flow_turn;
    const float *f;
    float c;
    FCE_TRY(contrastive_forward(t, step, &f));
    /* the next batch is gathered on the host while the device runs this step's passes */
    if (step + 1 < t->cfg.steps) fce_batch_source_prefetch(&t->batches, step + 1);
    FCE_TRY(ctx->ops->download(ctx, &c, fce_ebm_image_c(t->ebm), sizeof c));
    if (flow_turn) {
        FCE_TRY(grad_flow(t, f));
    } else {
        fce_param_arena *a = fce_ebm_image_arena(t->ebm);
        FCE_TRY(fce_param_arena_zero_grad(a, ctx));
        FCE_TRY(ctx->ops->nce_loss(ctx, t->d_stats, t->d_df, t->d_df + n, NULL, NULL, fce_ebm_image_dc(t->ebm),
                                   f, f + n, fce_iglow_tape_logq(t->tp_data),
                                   fce_iglow_tape_logq(t->tp_samp), fce_ebm_image_c(t->ebm), n, 1.0f));
        FCE_TRY(fce_ebm_image_backward(t->ebm, t->tp_ebm, t->d_df, NULL, 2 * n, 1));
    }
    float stats[2];
    FCE_TRY(ctx->ops->download(ctx, stats, t->d_stats, sizeof stats));
    FCE_TRY(ctx->ops->download(ctx, t->h_f, f, 2 * (size_t)n * sizeof(float)));
    FCE_TRY(ctx->ops->download(ctx, t->h_lq, fce_iglow_tape_logq(t->tp_data), (size_t)n * sizeof(float)));
    if (p) {
        size_t b = (size_t)n * sizeof(float);
        if (p->fx) memcpy(p->fx, t->h_f, b);
        if (p->fxt) memcpy(p->fxt, t->h_f + n, b);
        if (p->lq) memcpy(p->lq, t->h_lq, b);
        if (p->lqt) FCE_TRY(ctx->ops->download(ctx, p->lqt, fce_iglow_tape_logq(t->tp_samp), b));
        p->c = c;
        p->value = stats[0];
        p->acc = stats[1];
        p->flow_turn = flow_turn;
    }
    if (!isfinite(stats[0])) {
        /* Nothing is saved from here on, so the pair on disk (if any) stays the last good one. */
        if (t->saved_step >= 0)
            fce_log_error("training diverged at step %lld: the value function is %g. The last good "
                          "checkpoint (step %lld) is kept unchanged: %s and %s; try lower --lr-ebm / "
                          "--lr-flow, then --resume", (long long)step, (double)stats[0],
                          (long long)t->saved_step, t->path_ckpt, t->path_ebm);
        else
            fce_log_error("training diverged at step %lld: the value function is %g. No checkpoint was "
                          "written yet (--checkpoint-every N saves one every N steps); try lower "
                          "--lr-ebm / --lr-flow", (long long)step, (double)stats[0]);
        return FCE_STATUS_ERR_NUMERIC;
    }
    if (flow_turn) {
        fce_param_arena *a = fce_iglow_arena(t->g);
        t->st.flow_updates++;
        FCE_TRY(ctx->ops->adamax_step(ctx, a->params, a->grads, a->m, a->v, a->n_trainable, t->cfg.lr_flow,
                                      0.9f, 0.999f, 1e-7f, (int)t->st.flow_updates));
        FCE_TRY(fce_iglow_refresh(t->g));
    } else {
        fce_param_arena *a = fce_ebm_image_arena(t->ebm);
        t->st.ebm_updates++;
        FCE_TRY(ebm_update(t, a));
    }
    if (m) {
        m->value += stats[0];
        m->acc += stats[1];
        for (int i = 0; i < n; i++) m->lq += t->h_lq[i] / n, m->fc += ((double)t->h_f[i] - c) / n;
        m->n++;
        m->n_ebm += !flow_turn;
    }
    /* whose turn next: the accuracy before this update decides (SPEC c.3, as fce_train.c) */
    int next = stats[1] > t->cfg.threshold;
    if (t->cfg.max_mode_steps > 0 && next == flow_turn && t->st.consecutive >= t->cfg.max_mode_steps)
        next = !flow_turn;
    t->st.consecutive = next == flow_turn ? t->st.consecutive + 1 : 1;
    t->st.flow_turn = next;
    t->st.step = step + 1;
    return FCE_STATUS_OK;
}

fce_status fce_ifce_step(fce_ifce *t, fce_ifce_probe *probe) { return step_impl(t, probe, NULL); }
fce_iglow *fce_ifce_flow(fce_ifce *t) { return t->g; }
fce_ebm_image *fce_ifce_ebm(fce_ifce *t) { return t->ebm; }
int64_t fce_ifce_steps_done(const fce_ifce *t) { return t->st.step; }

/* The checkpoint pair: both files are written to temporaries first and renamed only when both are
 * complete, so a failure or crash while writing (the flow's file is hundreds of MB) keeps the
 * previous pair; --resume also refuses a pair whose steps differ. */
static fce_status save(fce_ifce *t) {
    FCE_TRY(fce_ebm_image_file_write_tmp(t->path_ebm, &t->ctx, t->ebm, &t->st));
    fce_iglow_ckpt_state fs;
    memset(&fs, 0, sizeof fs);
    fs.step = t->st.flow_updates;
    fs.seed = t->st.seed;
    fs.n_bits = t->st.n_bits;
    fs.batch = t->st.batch;
    fs.seconds = t->st.seconds;
    snprintf(fs.dataset, sizeof fs.dataset, "%s", t->st.dataset);
    fce_status st = fce_iglow_ckpt_save_tmp(t->path_ckpt, t->g, &fs);
    if (st != FCE_STATUS_OK) {
        fce_ckpt_discard(t->path_ebm);
        return st;
    }
    FCE_TRY(fce_ckpt_commit(t->path_ebm));
    FCE_TRY(fce_ckpt_commit(t->path_ckpt));
    t->saved_step = t->st.step;
    return FCE_STATUS_OK;
}

static fce_status run_loop(fce_ifce *t) {
    const fce_image_train_config *c = &t->cfg;
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", c->out_dir);
    t->metrics = fopen(mpath, c->resume ? "a" : "w");
    if (!t->metrics) {
        fce_log_error("cannot write %s", mpath);
        return FCE_STATUS_ERR_IO;
    }
    if (!c->quiet) {
        const fce_iglow_config *gc = fce_iglow_cfg(t->g);
        fce_log_info("train fce on %s (%zu images %dx%dx%d) | flow L %d K %d width %d | EBM widths %d/%d/%d | "
                     "device %s | batch %d | %ld steps | lr ebm %g flow %g | out %s", c->dataset, t->set.n,
                     gc->H, gc->W, gc->C, gc->L, gc->K, gc->width, fce_ebm_image_width(t->ebm, 0),
                     fce_ebm_image_width(t->ebm, 1), fce_ebm_image_width(t->ebm, 2), t->ctx.device_name,
                     t->N, c->steps, (double)c->lr_ebm, (double)c->lr_flow, c->out_dir);
    }
    double D = (double)t->D, lnb = D * log((double)(1 << c->n_bits));
    double t0 = fce_now_seconds(), sec0 = t->st.seconds, t_int = t0;
    int64_t step0 = t->st.step;
    ifce_acc m;
    memset(&m, 0, sizeof m);
    while (t->st.step < c->steps) {
        FCE_TRY(step_impl(t, NULL, &m));
        double now = fce_now_seconds();
        t->st.seconds = sec0 + (now - t0);
        int out_of_time = c->time_limit > 0 && now - t0 >= c->time_limit;
        int last = t->st.step == c->steps || out_of_time;
        if (t->st.step % c->log_every == 0 || last) {
            float cc;
            FCE_TRY(t->ctx.ops->download(&t->ctx, &cc, fce_ebm_image_c(t->ebm), sizeof cc));
            double k = (double)m.n, ips = k * t->N / (now - t_int > 1e-9 ? now - t_int : 1e-9);
            double bpd_flow = (-m.lq / k + lnb) / (D * LN2), bpd_ebm = (-m.fc / k + lnb) / (D * LN2);
            fprintf(t->metrics, "{\"step\": %lld, \"value\": %.9g, \"acc\": %.9g, \"c\": %.9g, "
                    "\"frac_ebm\": %.6g, \"bpd_flow\": %.9g, \"bpd_ebm\": %.9g, \"ebm_updates\": %lld, "
                    "\"flow_updates\": %lld, \"img_per_s\": %.6g, \"seconds\": %.6g}\n",
                    (long long)t->st.step, m.value / k, m.acc / k, (double)cc, m.n_ebm / k, bpd_flow,
                    bpd_ebm, (long long)t->st.ebm_updates, (long long)t->st.flow_updates, ips, t->st.seconds);
            fflush(t->metrics);
            if (!c->quiet) {
                double rate = (double)(t->st.step - step0) / (now - t0 > 1e-9 ? now - t0 : 1e-9);
                char eta[32];
                fce_format_duration((double)(c->steps - t->st.step) / rate, eta, sizeof eta);
                fprintf(stderr, "step %6lld/%ld | V %.4f | acc %.3f | c %.4g | ebm %.0f%% | bpd flow %.4f "
                        "ebm %.4f | %.1f img/s | ETA %s\n", (long long)t->st.step, c->steps, m.value / k,
                        m.acc / k, (double)cc, 100.0 * m.n_ebm / k, bpd_flow, bpd_ebm, ips, eta);
            }
            memset(&m, 0, sizeof m);
            t_int = now;
        }
        if (out_of_time) {
            fce_log_info("--time-limit %gs reached at step %lld of %ld; --resume goes on from here",
                         (double)c->time_limit, (long long)t->st.step, c->steps);
            break;
        }
        if (c->checkpoint_every > 0 && t->st.step % c->checkpoint_every == 0 && !last) FCE_TRY(save(t));
    }
    FCE_TRY(save(t));
    if (!c->quiet) fce_log_info("wrote checkpoint.fce (flow), ebm.fce and metrics.jsonl in %s", c->out_dir);
    return FCE_STATUS_OK;
}

fce_status fce_image_train_fce_run(const fce_image_train_config *cfg) {
    fce_ifce *t;
    FCE_TRY(fce_ifce_create(&t, cfg));
    fce_status st = run_loop(t);
    fce_ifce_free(t);
    return st;
}

/* ---- fce-bench hooks (bench/bench_phases.c times each player's step on its own) ---- */

void fce_ifce_set_turn(fce_ifce *t, int flow_turn) {
    t->st.flow_turn = flow_turn ? 1 : 0;
    t->st.consecutive = 0;
}

fce_ctx *fce_ifce_ctx(fce_ifce *t) { return &t->ctx; }
