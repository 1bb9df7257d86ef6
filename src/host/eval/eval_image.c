/* eval_image.c: `fce-gpu eval` (eval_image.h): the test-split bits/dim of an image flow and, when
 * its ebm.fce is beside it (or --ebm names one), of the EBM with its learned c, as one JSON line;
 * then the EBM's log Ẑ with the flow as the proposal (--z-samples, log_z_image.h) and its bits/dim
 * with c + log Ẑ.
 *
 * bits/dim = (−log q(x + u) + D·ln n_bins)/(D·ln 2) with the same seeded dequantisation noise u for
 * both models (SPEC g); the EBM's log-density is f(x + u) − c, with f = log q₀ + g for an EBM on a
 * flow base (train --ebm-base flow; q₀ from the run's ebm_base.fce). The last partial batch is padded
 * with copies of the first picture, whose values are not counted. A progress line with the rate
 * and ETA goes to stderr every --progress-every seconds unless --quiet (eval/progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "fce/eval_image.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image_common.h"
#include "ebm/ebm_flow_base.h"
#include "eval/flow_from_file.h"
#include "eval/log_z_image.h"
#include "eval/progress.h"
#include "fce/backend.h"
#include "fce/dataset.h"
#include "fce/ebm_image.h"
#include "fce/iglow.h"
#include "fce/log.h"
#include "fce/philox.h"
#include "fce/train_image.h" /* fce_is_image_dataset */
#include "formats/ebm_base_file.h"
#include "formats/ebm_image_file.h"
#include "util/fs_util.h"
#include "util/json.h"

#define LN2 0.69314718055994530942

void fce_image_eval_config_defaults(fce_image_eval_config *c) {
    memset(c, 0, sizeof *c);
    c->z_samples = 1024; /* log Ẑ's relative error bar ~ sd(w)/32 with a good proposal */
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    snprintf(c->device, sizeof c->device, "auto");
    c->batch = 64;
    c->seed = 1;
    c->progress_every = 5.0f;
}

/* An EBM on a flow base (f = log q₀ + g): q₀ from the ebm_base.fce beside ebm_path, for B rows;
 * base stays zeroed for an EBM without one. */
static fce_status load_base(const char *ebm_path, fce_ctx *ctx, int B, fce_ebm_flow_base *base) {
    fce_image_fce_state s;
    FCE_TRY(fce_ebm_image_file_state(ebm_path, &s));
    if (s.base_kind != FCE_EBM_BASE_FLOW) return FCE_STATUS_OK;
    fce_iglow *q0 = NULL;
    FCE_TRY(fce_ebm_base_file_load(ebm_path, &s, ctx, &q0));
    return fce_ebm_flow_base_init(base, q0, B, 0);
}

/* bits/dim of the EBM e (on its flow base when base->flow is set) on the test split with its
 * learned c (SPEC g): bpd = −(f(x+u) − c − D·ln n_bins)/(D·ln 2), the same dequantisation as the
 * flow's. */
static fce_status ebm_bpd(fce_ebm_image *e, fce_ebm_image_tape *tp, fce_ebm_flow_base *base, fce_ctx *ctx,
                          const fce_image_set *set, int B, int n_bits, const fce_image_eval_config *cfg,
                          double *bpd_out) {
    uint64_t seed = cfg->seed;
    uint8_t *d_u8 = NULL, *h_u8 = NULL;
    float *d_x = NULL, *h_f = NULL, c = 0;
    size_t D = (size_t)set->H * set->W * set->C, BD = (size_t)B * D;
    fce_status st = ctx->ops->alloc(ctx, (void **)&d_u8, BD);
    if (st == FCE_STATUS_OK) st = ctx->ops->alloc(ctx, (void **)&d_x, BD * sizeof(float));
    if (st == FCE_STATUS_OK) st = ctx->ops->download(ctx, &c, fce_ebm_image_c(e), sizeof c);
    h_u8 = malloc(BD);
    h_f = malloc((size_t)B * sizeof(float));
    if (st == FCE_STATUS_OK && (!h_u8 || !h_f)) st = FCE_STATUS_ERR_NOMEM;
    double sum = 0, lnb = D * log((double)(1 << n_bits));
    fce_progress pr;
    fce_progress_begin(&pr, "eval ebm", set->n, cfg->progress_every, cfg->quiet);
    for (size_t start = 0; st == FCE_STATUS_OK && start < set->n; start += (size_t)B) {
        size_t m = set->n - start < (size_t)B ? set->n - start : (size_t)B;
        memcpy(h_u8, set->pixels + start * D, m * D);
        for (size_t r = m; r < (size_t)B; r++) memcpy(h_u8 + r * D, set->pixels, D); /* padding */
        const float *f = NULL;
        st = ctx->ops->upload(ctx, d_u8, h_u8, BD);
        if (st == FCE_STATUS_OK) st = ctx->ops->dequantize(ctx, d_x, d_u8, BD, n_bits, seed, start * D);
        if (st == FCE_STATUS_OK) st = fce_ebm_image_forward(e, tp, d_x, B, &f);
        if (st == FCE_STATUS_OK && base->flow) st = fce_ebm_flow_base_forward(base, d_x, B, f, &f);
        if (st == FCE_STATUS_OK) st = ctx->ops->download(ctx, h_f, f, (size_t)B * sizeof(float));
        for (size_t r = 0; st == FCE_STATUS_OK && r < m; r++)
            sum += -((double)h_f[r] - (double)c - lnb);
        if (st == FCE_STATUS_OK) fce_progress_update(&pr, start + m);
    }
    if (st == FCE_STATUS_OK) *bpd_out = sum / (double)set->n / (D * LN2);
    ctx->ops->release(ctx, d_u8);
    ctx->ops->release(ctx, d_x);
    free(h_u8);
    free(h_f);
    return st;
}

/* The EBM of ebm_path: its bits/dim with the learned c and, with --z-samples M, log Ẑ with the
 * flow g (tape tp of B rows) as the proposal (log_z_image.h), noise stream derive(seed, 9). */
static fce_status ebm_figures(const char *ebm_path, fce_ctx *ctx, fce_iglow *g, fce_iglow_tape *tp,
                              const fce_image_set *set, int B, int n_bits, const fce_image_eval_config *cfg,
                              double *bpd_out, fce_log_z *z) {
    fce_ebm_image *e = NULL;
    fce_ebm_image_tape *tp_e = NULL;
    fce_ebm_flow_base base;
    memset(&base, 0, sizeof base);
    FCE_TRY(fce_ebm_image_load_file(ebm_path, ctx, &e));
    const fce_ebm_image_config *ec = fce_ebm_image_cfg(e);
    fce_status st = FCE_STATUS_OK;
    if (ec->H != set->H || ec->W != set->W || ec->C != set->C) {
        fce_log_error("%s: the EBM takes %dx%dx%d pictures, the data are %dx%dx%d", ebm_path, ec->H,
                      ec->W, ec->C, set->H, set->W, set->C);
        st = FCE_STATUS_ERR_CONFIG;
    }
    if (st == FCE_STATUS_OK) st = fce_ebm_image_tape_init(&tp_e, e, B);
    if (st == FCE_STATUS_OK) st = load_base(ebm_path, ctx, B, &base);
    if (st == FCE_STATUS_OK) st = ebm_bpd(e, tp_e, &base, ctx, set, B, n_bits, cfg, bpd_out);
    if (st == FCE_STATUS_OK && cfg->z_samples > 0)
        st = fce_log_z_image(ctx, g, tp, e, tp_e, base.flow ? &base : NULL, B, cfg->z_samples,
                             fce_derive_seed(cfg->seed, 9), cfg->quiet, cfg->progress_every, z);
    fce_ebm_image_tape_free(tp_e);
    fce_ebm_image_free(e);
    fce_ebm_flow_base_free(&base);
    return st;
}

/* ---- evaluation ---- */

static fce_status eval_impl(const fce_image_eval_config *c, fce_ctx *ctx, int *have_ctx,
                            fce_iglow **g, fce_iglow_tape **tp, fce_image_set *set, uint8_t **h_u8,
                            uint8_t **d_u8, float **d_x, float **h_lq, double *bpd_out) {
    if (!fce_is_image_dataset(c->dataset))
        return fce_config_error("--dataset: not one of cifar10, svhn, folder");
    if (!c->data_dir[0]) return fce_config_error("--data-dir is required");
    if (c->batch < 1 || c->batch > 100000) return fce_config_error("--batch must be in 1..100000");
    if (!(c->progress_every >= 0)) return fce_config_error("--progress-every must be >= 0");
    if (c->z_samples != 0 && (c->z_samples < 2 || c->z_samples > 100000000))
        return fce_config_error("--z-samples must be 0 (no log Z) or in 2..100000000");
    fce_iglow_ckpt_state s;
    FCE_TRY(fce_flow_from_file(c->checkpoint, c->device, ctx, have_ctx, g, &s));
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
    fce_progress pr;
    fce_progress_begin(&pr, "eval flow", set->n, c->progress_every, c->quiet);
    for (size_t start = 0; start < set->n; start += (size_t)B) {
        size_t m = set->n - start < (size_t)B ? set->n - start : (size_t)B;
        memcpy(*h_u8, set->pixels + start * D, m * D);
        for (size_t r = m; r < (size_t)B; r++) memcpy(*h_u8 + r * D, set->pixels, D); /* padding */
        FCE_TRY(ctx->ops->upload(ctx, *d_u8, *h_u8, BD));
        FCE_TRY(ctx->ops->dequantize(ctx, *d_x, *d_u8, BD, n_bits, c->seed, start * D));
        FCE_TRY(fce_iglow_forward(*g, *tp, *d_x, B));
        FCE_TRY(ctx->ops->download(ctx, *h_lq, fce_iglow_tape_logq(*tp), (size_t)B * sizeof(float)));
        for (size_t r = 0; r < m; r++) sum += -(double)(*h_lq)[r] + lnb;
        fce_progress_update(&pr, start + m);
    }
    double bpd = sum / (double)set->n / (D * LN2);
    if (bpd_out) *bpd_out = bpd;
    fce_log_info("test bits/dim %.4f on %zu images (%s, checkpoint step %lld)", bpd, set->n,
                 c->dataset, (long long)s.step);
    char ebm_path[1100]; /* --ebm, else <dir of checkpoint>/ebm.fce when it exists */
    fce_ebm_path_for(c->checkpoint, c->ebm, ebm_path, sizeof ebm_path);
    double bpd_ebm = NAN;
    fce_log_z z = {NAN, NAN, NAN, 0};
    if (ebm_path[0]) {
        FCE_TRY(ebm_figures(ebm_path, ctx, *g, *tp, set, B, n_bits, c, &bpd_ebm, &z));
        fce_log_info("EBM test bits/dim %.4f (%s, with its learned c)", bpd_ebm, ebm_path);
        if (c->z_samples > 0)
            fce_log_info("EBM log Z %.4g (se %.3g, ESS %.1f of %ld flow samples): bits/dim %.4f with c + log Z",
                         z.log_z, z.se, z.ess, z.m, bpd_ebm + z.log_z / ((double)D * LN2));
    }
    char json[2700];
    FILE *mem = fmemopen(json, sizeof json, "w");
    if (!mem) {
        fce_log_error("out of host memory");
        return FCE_STATUS_ERR_NOMEM;
    }
    fce_json j;
    fce_json_begin(&j, mem);
    fce_json_num(&j, "bpd", bpd, 9);
    if (ebm_path[0]) fce_json_num(&j, "bpd_ebm", bpd_ebm, 9);
    if (ebm_path[0] && c->z_samples > 0) {
        fce_log_z_json(&z, "log_z", &j);
        fce_json_num(&j, "bpd_ebm_z", bpd_ebm + z.log_z / ((double)D * LN2), 9);
    }
    fce_json_int(&j, "n_images", (long long)set->n);
    fce_json_str(&j, "dataset", c->dataset);
    fce_json_int(&j, "step", (long long)s.step);
    fce_json_int(&j, "n_bits", n_bits);
    fce_json_end(&j, 1);
    fclose(mem);
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
