/* train_image_fce.c: `train --dataset cifar10|svhn|folder --mode fce`: joint training of the image
 * EBM (ebm_image.h) and the image Glow (iglow.h) by flow contrastive estimation, SPEC c.3. The game
 * (the contrastive forward, the value and its gradients, c's initialisation, the optimizers and the
 * turn rule) is fce_game.c, the same as the 2D trainer's; this file drives it with the image
 * networks and owns the run: data, checkpoints, metrics.
 *
 * One step, n data + n samples, T = 1 (all on the device; the read-back is the 2 stats, c and the n
 * values of f(x) and log q(x) for the bits/dim metrics; the step that ends a log interval also
 * reads its batch's 4n + 1 values for the health figures, train/fce_diag.h):
 *   x ← dequantise(batch of step, noise offset step·n·D);  ε_l ~ N(0, 1) per level (Philox,
 *   stream seed_eps, offset step·n·D + the earlier levels' values);
 *   (x̃, log q(x̃)) ← inverse(ε);  log q(x) ← forward(x);  f ← EBM([x; x̃]) (one tape of 2n);
 *   EBM turn:  Adam (--lr-ebm, c at --lr-c when set); flow turn: Adamax (--lr-flow, 1e-5 as the
 *   paper for images); β1, β2, ε from the config.
 *   --max-mode-steps caps consecutive steps of one player (0 = no cap, the images default: unlike
 *   2D, the paper's rule is used as is). --steps counts steps of either player.
 * Fresh start: the flow from --init-flow (an MLE image checkpoint: its architecture and parameters,
 * fresh Adamax moments; the paper's pipeline) or, without it, a random flow with data-dependent
 * actnorm init (a notice says so); then c₀ on an init batch (the step-0 pictures with their own
 * dequantisation noise). A non-finite value stops the run (exit code of FCE_STATUS_ERR_NUMERIC).
 *
 * Checkpoints: <out>/checkpoint.fce is the flow in the image MLE format (formats/flow_image_file.h; its
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

#include "backend/step_graph.h"
#include "fce/backend.h"
#include "fce/dataset.h"
#include "dist/dist.h"
#include "fce/log.h"
#include "util/fs_util.h"
#include "util/json.h"
#include "formats/ckpt_io.h"
#include "formats/ebm_image_file.h"
#include "formats/flow_image_file.h"
#include "train/fce_diag.h"
#include "train/fce_game.h"
#include "train/image_ebm_base.h"
#include "train/image_run.h"
#include "train/run_folder.h"
#include "train/sample_grid.h"
#include "train/stop_signal.h"

#define LN2 0.69314718055994530942
#define MAXL 16
/* the step's read-back, in floats: [value, accuracy, c, f (2n, data first), log q (n), log q of the
 * samples (n), c after the update] */
#define REPORT_C 2
#define REPORT_F 3
#define REPORT_LQ(n) (3 + 2 * (size_t)(n))
#define REPORT_LQT(n) (3 + 3 * (size_t)(n))
#define REPORT_C_AFTER(n) (3 + 4 * (size_t)(n))
#define REPORT_FLOATS(n) (4 + 4 * (size_t)(n))

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
    fce_ebm_flow_base base; /* --ebm-base flow: f = log q₀ + g (base.flow NULL: none) */
    int base_kind;          /* FCE_EBM_BASE_* of --ebm-base */
    int N, L; /* N: this rank's rows of each --batch (all of them alone) */
    fce_dist_shard shard;
    size_t D;
    uint8_t *d_u8;
    float *d_x, *d_eps[MAXL];
    /* the step's one read-back (step_impl): value, accuracy, c before the update, f (2n), log q
     * (n), log q of the samples (n), gathered on the device and downloaded together */
    float *d_report, *h_report;
    /* the step's device work, recorded once per player as a CUDA graph (backend/step_graph.h) */
    fce_step_graph graph_ebm, graph_flow;
    int rng_slot; /* game.vars slot: this step's Philox offset step·B·D (data noise and ε) */
    float c_now;  /* c after the last step's update (its report), or as set up */
    fce_batch_source batches; /* host batches, one step of look-ahead (image_common.h) */
    uint64_t seed_data, seed_noise, seed_eps, seed_init;
    ifce_state st;
    fce_game game; /* its counters are st's */
    fce_diag diag; /* the health of the step that ends a log interval */
    char path_ckpt[1100], path_ebm[1100];
    int64_t saved_step; /* step of the checkpoint pair on disk, −1 while none was written */
    FILE *metrics;
    fce_sample_grid grid; /* --sample-every */
    /* the last log interval's figures (summary.json) */
    double last_value, last_acc, last_c, last_frac_ebm, last_bpd_flow, last_bpd_ebm, last_ips;
    const char *last_health; /* fce_diag_health's word (static), NULL: unmeasured */
    int stop_signal; /* the signal that stopped this session (stop_signal.h), 0: none */
};

static fce_status validate(fce_image_train_config *c) {
    FCE_TRY(fce_image_train_config_check(c, "fce"));
    if (!(c->lr_ebm > 0) || !(c->lr_flow > 0))
        return fce_config_error("--lr-ebm and --lr-flow must be > 0");
    if (!(c->lr_c >= 0 && c->lr_c < 1e6))
        return fce_config_error("--lr-c must be >= 0 (0: --lr-ebm)");
    if (!(c->threshold > 0 && c->threshold < 1))
        return fce_config_error("--threshold must be in (0, 1)");
    if (c->max_mode_steps < 0) return fce_config_error("--max-mode-steps must be >= 0");
    if (c->ebm_width_scale < 0 || c->ebm_width_scale > 64 ||
        (c->ebm_width_scale & (c->ebm_width_scale - 1)))
        return fce_config_error("--ebm-width-scale must be 0 or a power of two <= 64");
    if (fce_image_ebm_base_kind(c->ebm_base) < 0) return FCE_STATUS_ERR_CONFIG;
    return FCE_STATUS_OK;
}

/* ---- the image networks as the FCE game drives them (fce_game_models) ---- */

/* The dequantised batch of `step` into d_x (noise stream `seed`). */
static fce_status load_x(fce_ifce *t, int64_t step, uint64_t seed) {
    return fce_image_run_batch(&t->ctx, &t->batches, step, t->d_u8, t->d_x, t->cfg.n_bits, seed);
}

/* f = g, or with a flow base f = g + log q₀ */
static fce_status game_ebm_forward(void *self, const float *in, int rows, const float **f) {
    fce_ifce *t = self;
    FCE_TRY(fce_ebm_image_forward(t->ebm, t->tp_ebm, in, rows, f));
    return t->base.flow ? fce_ebm_flow_base_forward(&t->base, in, rows, *f, f) : FCE_STATUS_OK;
}

/* The conv net's backward takes the whole tape of 2n: for ∂V/∂x̃ the data rows get df = 0. A flow
 * base adds df·∇ₓ log q₀ at the samples; the EBM's parameter gradients are g's alone. */
static fce_status game_ebm_backward(void *self, float *df, float *dx) {
    fce_ifce *t = self;
    if (dx) FCE_TRY(t->ctx.ops->zero(&t->ctx, df, (size_t)t->N * sizeof(float)));
    FCE_TRY(fce_ebm_image_backward(t->ebm, t->tp_ebm, df, dx, 2 * t->N, !dx));
    if (!dx || !t->base.flow) return FCE_STATUS_OK;
    return fce_ebm_flow_base_backward_input(&t->base, df + t->N, dx + (size_t)t->N * t->D);
}

/* The data batch, and the flow's samples x̃ = g(ε) with ε drawn level by level. Enqueue only (a
 * step recorded as a graph): the batch was uploaded and this step's Philox offset step·B·D written
 * into game.vars by stage_step, so `step` is not used here. Offsets as one process of B rows draws
 * them: data noise (step·B + row0)·D + i, level l's ε at step·B·D + B·(earlier levels' values per
 * row) + row0·(level l's per row) + i. */
static fce_status game_draw(void *self, int64_t step, const float **x, const float **xt, const float **lq,
                            const float **lqt) {
    fce_ifce *t = self;
    (void)step;
    const uint64_t B = (uint64_t)t->shard.global, row0 = (uint64_t)t->shard.row0;
    const uint64_t *at = fce_step_vars_u64(&t->game.vars, t->rng_slot);
    FCE_TRY(t->ctx.ops->dequantize_at(&t->ctx, t->d_x, t->d_u8, (size_t)t->N * t->D, t->cfg.n_bits,
                                      t->seed_noise, row0 * t->D, at));
    uint64_t off = 0;
    for (int l = 0; l < t->L; l++) {
        const uint64_t per_row = (uint64_t)fce_iglow_n_z(t->g, l);
        FCE_TRY(t->ctx.ops->fill_normal_at(&t->ctx, t->d_eps[l], (size_t)t->N * per_row, t->seed_eps,
                                           off + row0 * per_row, at, 1.0f));
        off += B * per_row;
    }
    FCE_TRY(fce_iglow_inverse(t->g, t->tp_samp, (const float *const *)t->d_eps, 1.0f, t->N));
    FCE_TRY(fce_iglow_forward(t->g, t->tp_data, t->d_x, t->N));
    *x = t->d_x, *xt = fce_iglow_tape_x(t->tp_samp);
    *lq = fce_iglow_tape_logq(t->tp_data), *lqt = fce_iglow_tape_logq(t->tp_samp);
    return FCE_STATUS_OK;
}

/* The host half of a step, before its device work is enqueued: the batch of `step` uploaded, the
 * Philox offset and (update >= 0: the player's) optimizer scalars written, game.vars uploaded. */
static fce_status stage_step(fce_ifce *t, int64_t step, int update) {
    const size_t ND = (size_t)t->N * t->D;
    FCE_TRY(t->ctx.ops->upload(&t->ctx, t->d_u8, fce_batch_source_get(&t->batches, step), ND));
    fce_step_vars_set_u64(&t->game.vars, t->rng_slot, (uint64_t)step * (uint64_t)t->shard.global * t->D);
    if (update >= 0) fce_game_plan_update(&t->game, update, 1.0f);
    return fce_step_vars_upload(&t->game.vars);
}

static fce_status game_flow_grads(void *self, const float *dlq, const float *dxt, const float *dlqt) {
    fce_ifce *t = self;
    FCE_TRY(fce_iglow_zero_grad(t->g));
    FCE_TRY(fce_iglow_backward(t->g, t->tp_data, dlq, t->N));
    FCE_TRY(fce_iglow_inverse_backward(t->g, t->tp_samp, dxt, dlqt, t->N));
    return fce_iglow_finish_grad(t->g);
}

static fce_status game_flow_refresh(void *self) {
    fce_ifce *t = self;
    return fce_iglow_refresh(t->g);
}

static fce_status game_setup(fce_ifce *t) {
    const fce_image_train_config *c = &t->cfg;
    const fce_game_models models = {t, game_draw, game_ebm_forward, game_ebm_backward, game_flow_grads,
                                    game_flow_refresh,
                                    fce_ebm_image_arena(t->ebm), fce_iglow_arena(t->g),
                                    fce_ebm_image_c(t->ebm), fce_ebm_image_dc(t->ebm)};
    const fce_game_settings settings = {c->lr_ebm, c->lr_c, c->lr_flow, FCE_OPTIM_ADAMAX, c->beta1, c->beta2,
                                        c->adam_eps, c->threshold, c->max_mode_steps};
    const fce_game_counters counters = {&t->st.flow_turn, &t->st.consecutive, &t->st.ebm_updates,
                                        &t->st.flow_updates};
    FCE_TRY(fce_game_init(&t->game, &t->ctx, &models, &settings, &counters, t->N, t->D));
    return fce_step_vars_reserve(&t->game.vars, 1, &t->rng_slot);
}

/* ---- setup ---- */

/* The networks and their tapes (NULL-safe). */
static void free_models(fce_ifce *t) {
    fce_iglow_tape_free(t->tp_data);
    fce_iglow_tape_free(t->tp_samp);
    fce_iglow_free(t->g);
    fce_ebm_image_tape_free(t->tp_ebm);
    fce_ebm_image_free(t->ebm);
    fce_ebm_flow_base_free(&t->base);
}

void fce_ifce_free(fce_ifce *t) {
    if (!t) return;
    if (t->metrics) fclose(t->metrics);
    fce_sample_grid_free(&t->grid);
    if (t->have_ctx) {
        fce_ctx *ctx = &t->ctx;
        fce_step_graph_free(ctx, &t->graph_ebm);
        fce_step_graph_free(ctx, &t->graph_flow);
        fce_game_free(&t->game);
        fce_diag_free(&t->diag);
        for (int l = 0; l < MAXL; l++) ctx->ops->release(ctx, t->d_eps[l]);
        ctx->ops->release(ctx, t->d_x);
        ctx->ops->release(ctx, t->d_u8);
        ctx->ops->release(ctx, t->d_report);
        free_models(t);
        fce_ctx_free(ctx);
    }
    fce_batch_source_free(&t->batches);
    free(t->h_report);
    fce_image_set_free(&t->set);
    free(t);
}

/* The flow's architecture: the preset's, or that of the checkpoint the run starts from. */
static fce_status flow_architecture(fce_ifce *t, fce_iglow_config *gc) {
    const fce_image_train_config *c = &t->cfg;
    *gc = fce_image_preset(c, &t->set);
    fce_iglow_ckpt_state cs;
    const char *arch_from = c->resume ? t->path_ckpt : c->init_flow[0] ? c->init_flow : NULL;
    if (arch_from) FCE_TRY(fce_iglow_ckpt_peek(arch_from, gc, &cs));
    if (gc->H != t->set.H || gc->W != t->set.W || gc->C != t->set.C) {
        fce_log_error("%s: its flow takes %dx%dx%d pictures, the data are %dx%dx%d", arch_from ? arch_from : "preset",
                      gc->H, gc->W, gc->C, t->set.H, t->set.W, t->set.C);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (gc->L < 1 || gc->L > MAXL || gc->H % (1 << gc->L) || gc->W % (1 << gc->L))
        return fce_config_error("--L: the pictures are not divisible by 2^L");
    if (gc->H % 8 || gc->W % 8)
        return fce_config_error("the image EBM needs H and W multiples of 8");
    return FCE_STATUS_OK;
}

static fce_status setup(fce_ifce *t) {
    fce_image_train_config *c = &t->cfg;
    FCE_TRY(validate(c));
    t->base_kind = fce_image_ebm_base_kind(c->ebm_base);
    snprintf(t->path_ckpt, sizeof t->path_ckpt, "%s/checkpoint.fce", c->out_dir);
    snprintf(t->path_ebm, sizeof t->path_ebm, "%s/ebm.fce", c->out_dir);
    FCE_TRY(fce_image_load_split(c->dataset, c->data_dir, 1, &t->set));
    fce_iglow_config gc;
    FCE_TRY(flow_architecture(t, &gc));
    FCE_TRY(fce_dist_shard_of(c->dist, c->batch, "--batch", &t->shard));
    FCE_TRY(fce_dist_ctx_init(c->dist, &t->ctx, c->device));
    t->have_ctx = 1;
    FCE_TRY(fce_mkdirs(c->out_dir));
    fce_ctx *ctx = &t->ctx;
    t->N = t->shard.rows;
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
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_u8, ND));
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_x, ND * sizeof(float)));
    for (int l = 0; l < t->L; l++)
        FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_eps[l], N * (size_t)fce_iglow_n_z(t->g, l) * sizeof(float)));
    FCE_TRY(game_setup(t));
    fce_step_graph_init(&t->graph_ebm, "fce ebm step");
    fce_step_graph_init(&t->graph_flow, "fce flow step");
    FCE_TRY(fce_diag_init(&t->diag, c->batch)); /* the global batch's figures */
    FCE_TRY(fce_batch_source_init(&t->batches, &t->set, t->N, t->seed_data));
    fce_batch_source_shard(&t->batches, c->batch, t->shard.row0);
    FCE_TRY(ctx->ops->alloc(ctx, (void **)&t->d_report, REPORT_FLOATS(N) * sizeof(float)));
    t->h_report = malloc(REPORT_FLOATS(N) * sizeof(float));
    if (!t->h_report) {
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
    if (t->base_kind == FCE_EBM_BASE_FLOW) /* q₀ = this flow; g ≡ 0, so c₀ = 0 and V = −log 4 */
        FCE_TRY(fce_image_ebm_base_start(&t->base, t->g, t->ebm, c->out_dir, fce_dist_is_root(ctx->dist), t->N,
                                         &t->st));
    /* c₀ on the init batch; the EBM tape takes 2n: [x; x] */
    size_t ND = (size_t)t->N * t->D;
    float *in = t->game.in;
    FCE_TRY(fce_iglow_forward(t->g, t->tp_data, t->d_x, t->N));
    FCE_TRY(ctx->ops->copy(ctx, in, t->d_x, ND * sizeof(float)));
    FCE_TRY(ctx->ops->copy(ctx, in + ND, t->d_x, ND * sizeof(float)));
    return fce_game_init_c(&t->game, in, 2 * t->N, fce_iglow_tape_logq(t->tp_data), t->N);
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
    else if (s.base_kind != t->base_kind) bad = "EBM base (--ebm-base)";
    if (bad) {
        fce_log_error("--resume %s: its %s differs from this run's", t->cfg.out_dir, bad);
        return FCE_STATUS_ERR_FORMAT;
    }
    if (s.base_kind == FCE_EBM_BASE_FLOW)
        FCE_TRY(fce_image_ebm_base_resume(&t->base, &t->ctx, t->path_ebm, &s, t->N));
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
    if (st == FCE_STATUS_OK) st = t->ctx.ops->download(&t->ctx, &t->c_now, fce_ebm_image_c(t->ebm), sizeof t->c_now);
    if (st != FCE_STATUS_OK) {
        fce_ifce_free(t);
        return st;
    }
    *out = t;
    return FCE_STATUS_OK;
}

/* ---- the step ---- */

fce_status fce_ifce_flow_value(fce_ifce *t, int64_t step, int grads, float *value) {
    FCE_TRY(stage_step(t, step, -1));
    FCE_TRY(fce_game_forward(&t->game, step));
    FCE_TRY(grads ? fce_game_grads(&t->game, 1) : fce_game_value(&t->game));
    float stats[2];
    FCE_TRY(fce_game_read_stats(&t->game, stats));
    *value = stats[0];
    return FCE_STATUS_OK;
}

/* metrics of the running interval */
typedef struct ifce_acc {
    double value, acc, lq, fc;
    long n, n_ebm;
} ifce_acc;

static void fill_probe(fce_ifce *t, fce_ifce_probe *p, float c, const float stats[2], int flow_turn) {
    size_t b = (size_t)t->N * sizeof(float);
    const float *h = t->h_report;
    if (p->fx) memcpy(p->fx, h + REPORT_F, b);
    if (p->fxt) memcpy(p->fxt, h + REPORT_F + t->N, b);
    if (p->lq) memcpy(p->lq, h + REPORT_LQ(t->N), b);
    if (p->lqt) memcpy(p->lqt, h + REPORT_LQT(t->N), b);
    p->c = c;
    p->value = stats[0];
    p->acc = stats[1];
    p->flow_turn = flow_turn;
}

static fce_status diverged(const fce_ifce *t, int64_t step, double value) {
    /* Nothing is saved from here on, so the pair on disk (if any) stays the last good one. */
    if (t->saved_step >= 0)
        fce_log_error("training diverged at step %lld: the value function is %g. The last good "
                      "checkpoint (step %lld) is kept unchanged: %s and %s; try lower --lr-ebm / "
                      "--lr-flow, then --resume", (long long)step, value, (long long)t->saved_step,
                      t->path_ckpt, t->path_ebm);
    else
        fce_log_error("training diverged at step %lld: the value function is %g. No checkpoint was "
                      "written yet (--checkpoint-every N saves one every N steps); try lower "
                      "--lr-ebm / --lr-flow", (long long)step, value);
    return FCE_STATUS_ERR_NUMERIC;
}

/* A step's device work, the same ops in the same order every step of one player's turn, so that it
 * can be recorded once as a CUDA graph and replayed (backend/step_graph.h): the forward passes,
 * the value and the player's gradients, the report gathered (c as the forward saw it, before the
 * update), the update. */
static fce_status step_body(fce_ifce *t, int flow_turn) {
    fce_ctx *ctx = &t->ctx;
    fce_game *game = &t->game;
    const size_t n = (size_t)t->N, fb = sizeof(float);
    float *r = t->d_report;
    FCE_TRY(fce_game_forward(game, 0)); /* the draw reads this step's offset from game.vars */
    FCE_TRY(ctx->ops->copy(ctx, r + REPORT_C, game->models.c, fb));
    FCE_TRY(fce_game_grads(game, flow_turn));
    FCE_TRY(ctx->ops->copy(ctx, r, game->stats, 2 * fb));
    FCE_TRY(ctx->ops->copy(ctx, r + REPORT_F, game->f, 2 * n * fb));
    FCE_TRY(ctx->ops->copy(ctx, r + REPORT_LQ(n), game->lq, n * fb));
    FCE_TRY(ctx->ops->copy(ctx, r + REPORT_LQT(n), game->lqt, n * fb));
    FCE_TRY(fce_game_apply_update(game, flow_turn));
    return ctx->ops->copy(ctx, r + REPORT_C_AFTER(n), game->models.c, fb); /* for the metrics row */
}
static fce_status ebm_body(void *t) { return step_body(t, 0); }
static fce_status flow_body(void *t) { return step_body(t, 1); }

/* One step synchronises with the host once: the batch and this step's values (game.vars) are
 * uploaded, the step's work is enqueued (as one graph launch on CUDA), and everything the host
 * needs (value, accuracy, c as the step saw it, f, log q at data and samples) is read back
 * together from d_report. A non-finite value is therefore noticed after the update; the run then
 * stops without saving (diverged), so the checkpoint on disk stays the last good one. The step
 * that ends a log interval computes its health figures (fce_diag.h) from the same read-back. */
static fce_status step_impl(fce_ifce *t, fce_ifce_probe *p, ifce_acc *m) {
    fce_ctx *ctx = &t->ctx;
    fce_game *game = &t->game;
    const int n = t->N;
    const int64_t step = t->st.step;
    const int flow_turn = (int)t->st.flow_turn;
    const size_t fb = sizeof(float);
    FCE_TRY(stage_step(t, step, flow_turn));
    FCE_TRY(fce_step_graph_run(ctx, flow_turn ? &t->graph_flow : &t->graph_ebm,
                               flow_turn ? flow_body : ebm_body, t));
    /* the next batch is gathered on the host while the device runs this step */
    if (step + 1 < t->cfg.steps) fce_batch_source_prefetch(&t->batches, step + 1);
    FCE_TRY(ctx->ops->download(ctx, t->h_report, t->d_report, REPORT_FLOATS(n) * fb));
    const float *h = t->h_report, *h_f = h + REPORT_F, *h_lq = h + REPORT_LQ(n), *h_lqt = h + REPORT_LQT(n);
    float stats[2] = {h[0], h[1]};
    const float c = h[REPORT_C];
    t->c_now = h[REPORT_C_AFTER(n)];
    FCE_TRY(fce_game_global_stats(game, stats)); /* over the ranks of a job (dist.h) */
    if (m && ((step + 1) % t->cfg.log_every == 0 || step + 1 == t->cfg.steps))
        FCE_TRY(fce_diag_measure_host(&t->diag, ctx, h_f, h_f + n, h_lq, h_lqt, c, n));
    if (p) fill_probe(t, p, c, stats, flow_turn);
    if (!isfinite(stats[0])) return diverged(t, step, stats[0]);
    if (m) {
        m->value += stats[0];
        m->acc += stats[1];
        for (int i = 0; i < n; i++) m->lq += h_lq[i] / n, m->fc += ((double)h_f[i] - c) / n;
        m->n++;
        m->n_ebm += !flow_turn;
    }
    fce_game_next_turn(game, flow_turn, stats[1]);
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
    if (!fce_dist_is_root(t->ctx.dist)) { /* rank 0 writes the job's files */
        t->saved_step = t->st.step;
        return FCE_STATUS_OK;
    }
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
    return fce_image_run_curves(&t->cfg, "fce", t->st.step);
}

/* The metrics row and the progress line of the interval m, which ends now. */
static fce_status log_interval(fce_ifce *t, fce_image_clock *k, double now, const ifce_acc *m) {
    const fce_image_train_config *c = &t->cfg;
    double sums[2] = {m->lq, m->fc}; /* of this rank's rows: the mean over the ranks is the batch's */
    FCE_TRY(fce_dist_mean(t->ctx.dist, sums, 2));
    if (!fce_dist_is_root(t->ctx.dist)) return FCE_STATUS_OK; /* rank 0 writes the job's files */
    const float cc = t->c_now; /* from the step's read-back: no second sync on a log step */
    double D = (double)t->D, lnb = D * log((double)(1 << c->n_bits));
    double n = (double)m->n, ips = fce_image_clock_interval(k, now, m->n, c->batch);
    double bpd_flow = (-sums[0] / n + lnb) / (D * LN2), bpd_ebm = (-sums[1] / n + lnb) / (D * LN2);
    t->last_value = m->value / n, t->last_acc = m->acc / n, t->last_c = cc, t->last_frac_ebm = m->n_ebm / n;
    t->last_bpd_flow = bpd_flow, t->last_bpd_ebm = bpd_ebm, t->last_ips = ips;
    fce_json j;
    fce_json_begin(&j, t->metrics);
    fce_json_int(&j, "step", (long long)t->st.step);
    fce_json_num(&j, "value", m->value / n, 9);
    fce_json_num(&j, "acc", m->acc / n, 9);
    fce_json_num(&j, "c", cc, 9);
    fce_json_num(&j, "frac_ebm", m->n_ebm / n, 6);
    fce_json_num(&j, "bpd_flow", bpd_flow, 9);
    fce_json_num(&j, "bpd_ebm", bpd_ebm, 9);
    fce_json_int(&j, "ebm_updates", (long long)t->st.ebm_updates);
    fce_json_int(&j, "flow_updates", (long long)t->st.flow_updates);
    fce_json_num(&j, "img_per_s", ips, 6);
    fce_json_num(&j, "seconds", t->st.seconds, 6);
    fce_diag_json(&t->diag, &j);
    fce_json_end(&j, 1);
    fflush(t->metrics);
    const char *health = fce_diag_health(&t->diag.fig);
    if (!c->quiet) {
        char eta[32];
        fce_image_clock_eta(k, now, t->st.step, c->steps - t->st.step, eta, sizeof eta);
        fprintf(stderr, "step %6lld/%ld | V %.4f | acc %.3f | c %.4g | ebm %.0f%% | bpd flow %.4f "
                "ebm %.4f | %s | %.1f img/s | ETA %s\n", (long long)t->st.step, c->steps, m->value / n,
                m->acc / n, (double)cc, 100.0 * m->n_ebm / n, bpd_flow, bpd_ebm, health ? health : "-", ips,
                eta);
    }
    t->last_health = health;
    fce_diag_reset(&t->diag);
    return FCE_STATUS_OK;
}

/* config.json, the announcement, the sample grids' setup and the metrics file: the session's start. */
static fce_status session_start(fce_ifce *t) {
    const fce_image_train_config *c = &t->cfg;
    if (!fce_dist_is_root(t->ctx.dist)) return FCE_STATUS_OK; /* rank 0 writes the job's files */
    const fce_image_run_models models = {t->g, t->ebm, t->set.n, -1, c->resume ? t->st.step : 0};
    FCE_TRY(fce_image_run_write_config(c, "fce", &t->ctx, &models));
    if (c->sample_every > 0) FCE_TRY(fce_sample_grid_init(&t->grid, &t->ctx, t->g, c->n_bits, fce_derive_seed(c->seed, 8)));
    if (!c->quiet) {
        const fce_iglow_config *gc = fce_iglow_cfg(t->g);
        fce_log_info("train fce on %s (%zu images %dx%dx%d) | flow L %d K %d width %d | EBM widths %d/%d/%d | "
                     "device %s | batch %d | %ld steps | lr ebm %g flow %g | out %s", c->dataset, t->set.n,
                     gc->H, gc->W, gc->C, gc->L, gc->K, gc->width, fce_ebm_image_width(t->ebm, 0),
                     fce_ebm_image_width(t->ebm, 1), fce_ebm_image_width(t->ebm, 2), t->ctx.device_name,
                     c->batch, c->steps, (double)c->lr_ebm, (double)c->lr_flow, c->out_dir);
    }
    return fce_image_run_metrics(c->out_dir, c->resume, t->st.step, &t->metrics);
}

/* summary.json, and the notices of how the session ended. */
static fce_status session_end(fce_ifce *t, const fce_image_clock *k, int out_of_time) {
    const fce_image_train_config *c = &t->cfg;
    const fce_image_run_end e = {t->st.step, t->st.seconds, out_of_time, t->stop_signal, t->path_ebm};
    fce_run_record r;
    FCE_TRY(fce_image_run_summary_open(&r, c, "fce", &t->ctx, k, &e));
    fce_json_int(&r.j, "ebm_updates", (long long)t->st.ebm_updates);
    fce_json_int(&r.j, "flow_updates", (long long)t->st.flow_updates);
    fce_json_num(&r.j, "value", t->last_value, 9);
    fce_json_num(&r.j, "acc", t->last_acc, 9);
    fce_json_str(&r.j, "health", t->last_health); /* of the last interval's last step */
    fce_json_num(&r.j, "c", t->last_c, 9);
    fce_json_num(&r.j, "frac_ebm", t->last_frac_ebm, 6);
    fce_json_num(&r.j, "bpd_flow", t->last_bpd_flow, 9);
    fce_json_num(&r.j, "bpd_ebm", t->last_bpd_ebm, 9);
    fce_json_num(&r.j, "img_per_s", t->last_ips, 6);
    FCE_TRY(fce_run_record_close(&r));
    if (!c->quiet)
        fce_log_info("wrote checkpoint.fce (flow), ebm.fce, metrics.jsonl, curves.png, config.json and "
                     "summary.json in %s", c->out_dir);
    return FCE_STATUS_OK;
}

static fce_status run_loop(fce_ifce *t) {
    const fce_image_train_config *c = &t->cfg;
    FCE_TRY(session_start(t));
    fce_image_clock k;
    fce_image_clock_start(&k, t->st.seconds, t->st.step, c->time_limit);
    ifce_acc m;
    memset(&m, 0, sizeof m);
    int out_of_time = 0;
    while (t->st.step < c->steps) {
        FCE_TRY(step_impl(t, NULL, &m));
        double now = fce_now_seconds();
        t->st.seconds = fce_image_clock_tick(&k, now, &out_of_time);
        FCE_TRY(fce_stop_check(t->ctx.dist, &out_of_time, &t->stop_signal)); /* once per step */
        int last = t->st.step == c->steps || out_of_time || t->stop_signal;
        if (t->st.step % c->log_every == 0 || last) {
            FCE_TRY(log_interval(t, &k, now, &m));
            memset(&m, 0, sizeof m);
        }
        if (c->sample_every > 0 && t->st.step % c->sample_every == 0 && fce_dist_is_root(t->ctx.dist))
            FCE_TRY(fce_sample_grid_write(&t->grid, c->out_dir, t->st.step));
        if (out_of_time || t->stop_signal) break;
        if (c->checkpoint_every > 0 && t->st.step % c->checkpoint_every == 0 && !last) FCE_TRY(save(t));
    }
    FCE_TRY(save(t));
    return fce_dist_is_root(t->ctx.dist) ? session_end(t, &k, out_of_time) : FCE_STATUS_OK; /* rank 0 writes */
}

fce_status fce_image_train_fce_run(const fce_image_train_config *cfg) {
    /* the folder before the data: a run in the way or an unwritable --out stops at once */
    fce_image_train_config c = *cfg;
    FCE_TRY(fce_image_train_config_check(&c, "fce"));
    FCE_TRY(fce_run_folder_check_kept(c.out_dir, c.force, c.init_flow, "--init-flow"));
    FCE_TRY(fce_run_folder_prepare_job(c.dist, c.out_dir, c.resume, c.force));
    fce_ifce *t;
    FCE_TRY(fce_ifce_create(&t, &c));
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
long fce_ifce_graph_launches(const fce_ifce *t) { return t->graph_ebm.launches + t->graph_flow.launches; }
