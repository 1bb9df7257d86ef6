/* iglow.c: the multi-scale image Glow (iglow.h) on the backend op table, NHWC. Layer math: SPEC a.1,
 * a.2, a.5, a.7–a.10; backprop bookkeeping: a.12. The step code follows glow.c.
 *
 * Tape layout of level l (shared by both directions): xin = the level's input (N, H_l, W_l, C_l)
 * (level 0: x or x̃; level l > 0: z1 of level l−1), x[0] = squeeze(xin) (N, h, w, c), and per step
 * k: y1[k] = actnorm(x[k]), y2[k] = W·y1[k] per pixel, xa[k] = first half of y2[k],
 * x[k+1] = coupling(y2[k], NN(xa[k])). Then x[K] = (z1 | z2) at a split, or z_top at the top.
 * The forward pass fills it bottom-up, the inverse top-down; each backward reads the same slots.
 * The prior/sampling helpers are in iglow_prior.c. */
#include "flow/iglow_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "nn/lu_init.h"

fce_iglow_config fce_iglow_config_tiny(int affine) {
    fce_iglow_config c = {8, 8, 3, 2, 2, 8, affine};
    return c;
}

/* ---- construction ---- */

/* name = "iglow.l<l>.<what>" or "iglow.l<l>.k<k>.<what>" (k < 0: no step part) */
static fce_status decl(fce_iglow *g, int l, int k, const char *what, int rows, int cols,
                       unsigned flags, int *index) {
    char name[FCE_PARAM_NAME_MAX];
    int n = k < 0 ? snprintf(name, sizeof name, "iglow.l%d.%s", l, what)
                  : snprintf(name, sizeof name, "iglow.l%d.k%d.%s", l, k, what);
    FCE_ASSERT(n > 0 && n < (int)sizeof name, "iglow: parameter name too long");
    return fce_param_table_add(&g->table, name, rows, cols, flags, index);
}

static fce_status iglow_declare(fce_iglow *g) {
    const fce_iglow_config *cfg = &g->cfg;
    char name[FCE_PARAM_NAME_MAX];
    for (int l = 0; l < cfg->L; l++) {
        ig_level *lv = &g->levels[l];
        const int c = lv->c, D = c;
        for (int k = 0; k < cfg->K; k++) {
            ig_step *s = &lv->steps[k];
            FCE_TRY(decl(g, l, k, "actnorm.bias", 1, D, 0, &s->i_an_b));
            FCE_TRY(decl(g, l, k, "actnorm.logs", 1, D, 0, &s->i_an_logs));
            FCE_TRY(decl(g, l, k, "invconv.L", D, D, 0, &s->i_L));
            FCE_TRY(decl(g, l, k, "invconv.U", D, D, 0, &s->i_U));
            FCE_TRY(decl(g, l, k, "invconv.logs", 1, D, 0, &s->i_logs));
            FCE_TRY(decl(g, l, k, "invconv.perm", 1, D, FCE_PARAM_FLAG_FROZEN, &s->i_perm));
            FCE_TRY(decl(g, l, k, "invconv.sign", 1, D, FCE_PARAM_FLAG_FROZEN, &s->i_sign));
            snprintf(name, sizeof name, "iglow.l%d.k%d.nn", l % 100, k % 1000);
            FCE_TRY(fce_convnet_declare(&s->nn, &g->table, name, c / 2, cfg->width,
                                        cfg->affine ? c : c / 2));
        }
        if (l < cfg->L - 1) {
            FCE_TRY(decl(g, l, -1, "prior.w", c, 9 * (c / 2), 0, &lv->i_pw));
            FCE_TRY(decl(g, l, -1, "prior.b", 1, c, 0, &lv->i_pb));
            FCE_TRY(decl(g, l, -1, "prior.logs", 1, c, 0, &lv->i_ps));
        } else {
            FCE_TRY(decl(g, l, -1, "top.mean", lv->n_z, 1, 0, &lv->i_pw));
            FCE_TRY(decl(g, l, -1, "top.logs", lv->n_z, 1, 0, &lv->i_ps));
        }
    }
    fce_param_table_plan(&g->table);
    return FCE_STATUS_OK;
}

static void iglow_bind(fce_iglow *g) {
    float *p = g->arena.params, *gr = g->arena.grads;
    const fce_param_spec *sp = g->table.specs;
    float *scratch = g->lu_scratch;
    for (int l = 0; l < g->cfg.L; l++) {
        ig_level *lv = &g->levels[l];
        const size_t DD = (size_t)lv->c * (size_t)lv->c;
        for (int k = 0; k < g->cfg.K; k++) {
            ig_step *s = &lv->steps[k];
            s->an_b = p + sp[s->i_an_b].offset;
            s->an_logs = p + sp[s->i_an_logs].offset;
            s->perm = p + sp[s->i_perm].offset;
            s->sign = p + sp[s->i_sign].offset;
            s->L = p + sp[s->i_L].offset;
            s->U = p + sp[s->i_U].offset;
            s->lu_logs = p + sp[s->i_logs].offset;
            s->d_an_b = gr + sp[s->i_an_b].offset;
            s->d_an_logs = gr + sp[s->i_an_logs].offset;
            s->dL = gr + sp[s->i_L].offset;
            s->dU = gr + sp[s->i_U].offset;
            s->dlu_logs = gr + sp[s->i_logs].offset;
            s->W = scratch;
            s->Winv = scratch + DD;
            s->dW = scratch + 2 * DD;
            s->dWinv = scratch + 3 * DD;
            scratch += 4 * DD;
            fce_convnet_bind(&s->nn, &g->table, &g->arena);
        }
        lv->pw = p + sp[lv->i_pw].offset;
        lv->dpw = gr + sp[lv->i_pw].offset;
        lv->ps = p + sp[lv->i_ps].offset;
        lv->dps = gr + sp[lv->i_ps].offset;
        if (l < g->cfg.L - 1) {
            lv->pb = p + sp[lv->i_pb].offset;
            lv->dpb = gr + sp[lv->i_pb].offset;
        }
    }
}

fce_status fce_iglow_init(fce_iglow **out, fce_ctx *ctx, const fce_iglow_config *cfg,
                          uint64_t seed) {
    *out = NULL;
    int ok = cfg->L >= 1 && cfg->K >= 1 && cfg->width >= 1 && cfg->C >= 1 && cfg->H >= 2 &&
             cfg->W >= 2 && cfg->L < 16;
    if (ok) ok = cfg->H % (1 << cfg->L) == 0 && cfg->W % (1 << cfg->L) == 0;
    /* channels of the last level: 4·C·2^{L−1} (each split halves, each squeeze quadruples) */
    if (ok) ok = 4 * cfg->C * (1 << (cfg->L - 1)) <= FCE_INVCONV_MAX_C;
    if (!ok) {
        fce_log_error("iglow: need L, K, width >= 1, H and W divisible by 2^L and 4·C·2^(L-1) <= %d "
                      "(got %dx%dx%d L=%d K=%d width=%d)", FCE_INVCONV_MAX_C, cfg->H, cfg->W, cfg->C,
                      cfg->L, cfg->K, cfg->width);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_status st = FCE_STATUS_OK;
    float *host = NULL;
    fce_iglow *g = calloc(1, sizeof *g);
    if (!g) return FCE_STATUS_ERR_NOMEM;
    g->ctx = ctx;
    g->cfg = *cfg;
    g->levels = calloc((size_t)cfg->L, sizeof *g->levels);
    if (!g->levels) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    size_t lu_floats = 0;
    int Hl = cfg->H, Wl = cfg->W, Cl = cfg->C;
    for (int l = 0; l < cfg->L; l++) {
        ig_level *lv = &g->levels[l];
        lv->Hin = Hl;
        lv->Win = Wl;
        lv->Cin = Cl;
        lv->h = Hl / 2;
        lv->w = Wl / 2;
        lv->c = 4 * Cl;
        lv->hw = lv->h * lv->w;
        lv->n_z = l < cfg->L - 1 ? lv->hw * (lv->c / 2) : lv->hw * lv->c;
        lv->steps = calloc((size_t)cfg->K, sizeof *lv->steps);
        if (!lv->steps) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
        lu_floats += 4 * (size_t)cfg->K * (size_t)lv->c * (size_t)lv->c;
        Hl = lv->h;
        Wl = lv->w;
        Cl = lv->c / 2;
    }
    FCE_TRY_GOTO(st, iglow_declare(g));
    FCE_TRY_GOTO(st, fce_param_arena_init(&g->arena, &g->table, ctx));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&g->lu_scratch, lu_floats * sizeof(float)));
    iglow_bind(g);
    host = calloc(g->arena.n_total, sizeof *host);
    if (!host) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    for (int l = 0; l < cfg->L; l++) {
        const ig_level *lv = &g->levels[l];
        const fce_param_spec *sp = g->table.specs;
        for (int k = 0; k < cfg->K; k++) {
            const ig_step *s = &lv->steps[k];
            uint64_t sk = seed * 1000003ull + 7919ull * (uint64_t)(l * cfg->K + k);
            fce_lu_init_orthogonal_host(host + sp[s->i_perm].offset, host + sp[s->i_sign].offset,
                                        host + sp[s->i_L].offset, host + sp[s->i_U].offset,
                                        host + sp[s->i_logs].offset, lv->c, sk ^ 0x1u);
            fce_convnet_init_host(&s->nn, &g->table, host, sk ^ 0x2u);
        }
        /* actnorms, split priors and the top prior start at 0 (the calloc) */
    }
    FCE_TRY_GOTO(st, fce_param_arena_upload(&g->arena, ctx, host));
    FCE_TRY_GOTO(st, fce_iglow_refresh(g));
    free(host);
    *out = g;
    return FCE_STATUS_OK;
cleanup:
    free(host);
    fce_iglow_free(g);
    return st;
}

void fce_iglow_free(fce_iglow *g) {
    if (!g) return;
    fce_param_arena_free(&g->arena, g->ctx);
    if (g->ctx && g->ctx->ops) g->ctx->ops->release(g->ctx, g->lu_scratch);
    fce_param_table_free(&g->table);
    for (int l = 0; g->levels && l < g->cfg.L; l++) free(g->levels[l].steps);
    free(g->levels);
    free(g);
}

const fce_param_table *fce_iglow_params(const fce_iglow *g) { return &g->table; }
fce_param_arena *fce_iglow_arena(fce_iglow *g) { return &g->arena; }
fce_ctx *fce_iglow_ctx(fce_iglow *g) { return g->ctx; }
const fce_iglow_config *fce_iglow_cfg(const fce_iglow *g) { return &g->cfg; }
int fce_iglow_actnorm_initialized(const fce_iglow *g) { return g->actnorm_initialized; }
void fce_iglow_set_actnorm_initialized(fce_iglow *g, int v) { g->actnorm_initialized = v; }
int fce_iglow_n_z(const fce_iglow *g, int l) { return g->levels[l].n_z; }

fce_status fce_iglow_refresh(fce_iglow *g) {
    fce_ctx *ctx = g->ctx;
    for (int l = 0; l < g->cfg.L; l++)
        for (int k = 0; k < g->cfg.K; k++) {
            ig_step *s = &g->levels[l].steps[k];
            FCE_TRY(ctx->ops->invconv_lu_weights(ctx, s->W, s->Winv, s->perm, s->sign, s->L, s->U,
                                                 s->lu_logs, g->levels[l].c));
        }
    return FCE_STATUS_OK;
}

/* ---- tapes ---- */

static fce_status alloc_f(fce_ctx *ctx, float **p, size_t n) {
    return ctx->ops->alloc(ctx, (void **)p, n * sizeof(float));
}

/* Floats of the coupling networks' shared scratch: the largest N·h·w·max(Wd, Cout) of any level. */
static size_t nn_scratch_floats(const fce_iglow *g, int N) {
    size_t m = 0;
    for (int l = 0; l < g->cfg.L; l++) {
        const fce_convnet *nn = &g->levels[l].steps[0].nn;
        size_t d = (size_t)(nn->Wd > nn->Cout ? nn->Wd : nn->Cout);
        size_t f = (size_t)N * (size_t)g->levels[l].hw * d;
        if (f > m) m = f;
    }
    return m;
}

static fce_status tape_init(fce_iglow_tape **out, fce_iglow *g, int N, int inference) {
    *out = NULL;
    FCE_ASSERT(N >= 1, "iglow tape: batch %d", N);
    fce_ctx *ctx = g->ctx;
    const fce_iglow_config *cfg = &g->cfg;
    const int K = cfg->K;
    const size_t S = (size_t)N * cfg->H * cfg->W * cfg->C; /* the largest tensor of any level */
    fce_status st = FCE_STATUS_OK;
    fce_iglow_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->g = g;
    tp->N = N;
    tp->inference = inference;
    tp->lv = calloc((size_t)cfg->L, sizeof *tp->lv);
    if (!tp->lv) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->nn_g0, nn_scratch_floats(g, N)));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->nn_g1, nn_scratch_floats(g, N)));
    for (int l = 0; l < cfg->L; l++) {
        const ig_level *lv = &g->levels[l];
        ig_level_tape *lt = &tp->lv[l];
        const size_t rows = (size_t)N * lv->hw, full = rows * lv->c, nz = (size_t)N * lv->n_z;
        lt->x = calloc((size_t)K + 1, sizeof(float *));
        lt->y1 = calloc((size_t)K, sizeof(float *));
        lt->y2 = calloc((size_t)K, sizeof(float *));
        lt->xa = calloc((size_t)K, sizeof(float *));
        lt->nn = calloc((size_t)K, sizeof(fce_convnet_tape));
        if (!lt->x || !lt->y1 || !lt->y2 || !lt->xa || !lt->nn) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
        FCE_TRY_GOTO(st, alloc_f(ctx, &lt->xin, full)); /* H_l·W_l·C_l = h·w·c */
        for (int k = 0; k <= K; k++) FCE_TRY_GOTO(st, alloc_f(ctx, &lt->x[k], full));
        for (int k = 0; k < K; k++) {
            FCE_TRY_GOTO(st, alloc_f(ctx, &lt->y1[k], full));
            FCE_TRY_GOTO(st, alloc_f(ctx, &lt->y2[k], full));
            FCE_TRY_GOTO(st, alloc_f(ctx, &lt->xa[k], full / 2));
            if (inference && k > 0) {
                lt->nn[k] = lt->nn[0]; /* a copy of the handles; freed once, through nn[0] */
                continue;
            }
            FCE_TRY_GOTO(st, fce_convnet_tape_init_shared(&lt->nn[k], &lv->steps[k].nn, ctx, N, lv->h,
                                                          lv->w, tp->nn_g0, tp->nn_g1));
        }
        FCE_TRY_GOTO(st, alloc_f(ctx, &lt->mean, nz));
        FCE_TRY_GOTO(st, alloc_f(ctx, &lt->logs, nz));
        FCE_TRY_GOTO(st, alloc_f(ctx, &lt->u, nz));
        if (l < cfg->L - 1) {
            FCE_TRY_GOTO(st, alloc_f(ctx, &lt->z2, nz));
            FCE_TRY_GOTO(st, alloc_f(ctx, &lt->hp, full));
            fce_conv_shape cs = {.N = N, .H = lv->h, .W = lv->w, .Cin = lv->c / 2, .Cout = lv->c,
                                 .KH = 3, .KW = 3, .stride = 1, .pad = 1};
            FCE_TRY_GOTO(st, ctx->ops->conv_plan_init(ctx, &lt->plan, &cs));
        }
    }
    float **bufs[] = {&tp->gA, &tp->gB, &tp->gh, &tp->gxa, &tp->gz1, &tp->gz2, &tp->gm, &tp->gs,
                      &tp->gt, &tp->ghp, &tp->gpre, &tp->zeros, &tp->ls3, &tp->eT};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) FCE_TRY_GOTO(st, alloc_f(ctx, bufs[i], S));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->ones, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->logq, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->lp, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->dld, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->logT, 1));
    {
        float *ones = malloc((size_t)N * sizeof *ones);
        if (!ones) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
        for (int i = 0; i < N; i++) ones[i] = 1.0f;
        st = ctx->ops->upload(ctx, tp->ones, ones, (size_t)N * sizeof(float));
        free(ones);
        if (st != FCE_STATUS_OK) goto cleanup;
    }
    tp->logT_host = 0.0f; /* logT is zero-filled */
    *out = tp;
    return FCE_STATUS_OK;
cleanup:
    fce_iglow_tape_free(tp);
    return st;
}

fce_status fce_iglow_tape_init(fce_iglow_tape **out, fce_iglow *g, int N) {
    return tape_init(out, g, N, 0);
}

fce_status fce_iglow_tape_init_inference(fce_iglow_tape **out, fce_iglow *g, int N) {
    return tape_init(out, g, N, 1);
}

void fce_iglow_tape_free(fce_iglow_tape *tp) {
    if (!tp) return;
    fce_ctx *ctx = tp->g->ctx;
    const int K = tp->g->cfg.K;
    for (int l = 0; tp->lv && l < tp->g->cfg.L; l++) {
        ig_level_tape *lt = &tp->lv[l];
        ctx->ops->release(ctx, lt->xin);
        for (int k = 0; k <= K && lt->x; k++) ctx->ops->release(ctx, lt->x[k]);
        for (int k = 0; k < K; k++) {
            if (lt->y1) ctx->ops->release(ctx, lt->y1[k]);
            if (lt->y2) ctx->ops->release(ctx, lt->y2[k]);
            if (lt->xa) ctx->ops->release(ctx, lt->xa[k]);
            if (lt->nn && (!tp->inference || k == 0)) fce_convnet_tape_free(&lt->nn[k], ctx);
        }
        ctx->ops->release(ctx, lt->mean);
        ctx->ops->release(ctx, lt->logs);
        ctx->ops->release(ctx, lt->u);
        ctx->ops->release(ctx, lt->z2);
        ctx->ops->release(ctx, lt->hp);
        ctx->ops->conv_plan_free(ctx, lt->plan);
        free(lt->x);
        free(lt->y1);
        free(lt->y2);
        free(lt->xa);
        free(lt->nn);
    }
    float *bufs[] = {tp->gA, tp->gB, tp->gh, tp->gxa, tp->gz1, tp->gz2, tp->gm, tp->gs, tp->gt,
                     tp->ghp, tp->gpre, tp->zeros, tp->ls3, tp->eT, tp->ones, tp->logq, tp->lp,
                     tp->dld, tp->logT, tp->nn_g0, tp->nn_g1};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
    free(tp->lv);
    free(tp);
}

int fce_iglow_tape_n(const fce_iglow_tape *tp) { return tp->N; }
const float *fce_iglow_tape_logq(const fce_iglow_tape *tp) { return tp->logq; }
const float *fce_iglow_tape_x(const fce_iglow_tape *tp) { return tp->lv[0].xin; }
const float *fce_iglow_tape_z(const fce_iglow_tape *tp, int l) {
    return l < tp->g->cfg.L - 1 ? tp->lv[l].z2 : tp->lv[l].x[tp->g->cfg.K];
}
const float *fce_iglow_tape_prior_mean(const fce_iglow_tape *tp, int l) { return tp->lv[l].mean; }
const float *fce_iglow_tape_prior_logs(const fce_iglow_tape *tp, int l) { return tp->lv[l].logs; }

/* ---- one flow step ---- */

static fce_status step_forward(fce_iglow *g, fce_iglow_tape *tp, int l, int k, int init) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_step *s = &g->levels[l].steps[k];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, hw = lv->hw, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * hw;
    if (init) FCE_TRY(ctx->ops->actnorm_init(ctx, s->an_b, s->an_logs, lt->x[k], N, hw, c));
    FCE_TRY(ctx->ops->actnorm_forward(ctx, lt->y1[k], tp->logq, lt->x[k], s->an_b, s->an_logs, N, hw, c));
    /* per pixel y2 = W·y1: rows = N·h·w */
    FCE_TRY(ctx->ops->linear_forward(ctx, lt->y2[k], lt->y1[k], s->W, NULL, (int)rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet(ctx, tp->logq, s->lu_logs, N, hw, c, 1.0f));
    FCE_TRY(ctx->ops->channels_copy(ctx, lt->xa[k], half, 0, lt->y2[k], c, 0, half, rows, 0));
    FCE_TRY(fce_convnet_forward(&s->nn, &lt->nn[k], ctx, lt->xa[k], N, init));
    const float *h = fce_convnet_output(&lt->nn[k]);
    if (g->cfg.affine)
        return ctx->ops->coupling_affine_forward(ctx, lt->x[k + 1], tp->logq, lt->y2[k], h, N, hw, c);
    return ctx->ops->coupling_additive_forward(ctx, lt->x[k + 1], lt->y2[k], h, rows, c);
}

/* inverse of step k: x[k+1] → x[k]; ld accumulates log|det ∂x[k]/∂x[k+1]| */
static fce_status step_inverse(fce_iglow *g, fce_iglow_tape *tp, int l, int k, float *ld) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_step *s = &g->levels[l].steps[k];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, hw = lv->hw, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * hw;
    FCE_TRY(ctx->ops->channels_copy(ctx, lt->xa[k], half, 0, lt->x[k + 1], c, 0, half, rows, 0));
    FCE_TRY(fce_convnet_forward(&s->nn, &lt->nn[k], ctx, lt->xa[k], N, 0));
    const float *h = fce_convnet_output(&lt->nn[k]);
    if (g->cfg.affine)
        FCE_TRY(ctx->ops->coupling_affine_inverse(ctx, lt->y2[k], ld, lt->x[k + 1], h, N, hw, c));
    else
        FCE_TRY(ctx->ops->coupling_additive_inverse(ctx, lt->y2[k], lt->x[k + 1], h, rows, c));
    FCE_TRY(ctx->ops->linear_forward(ctx, lt->y1[k], lt->y2[k], s->Winv, NULL, (int)rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet(ctx, ld, s->lu_logs, N, hw, c, -1.0f));
    return ctx->ops->actnorm_inverse(ctx, lt->x[k], ld, lt->y1[k], s->an_b, s->an_logs, N, hw, c);
}

/* backward of step_forward: dcur (w.r.t. x[k+1]) → dnext (w.r.t. x[k]); dcur is clobbered */
static fce_status step_backward(fce_iglow *g, fce_iglow_tape *tp, int l, int k, float *dcur,
                                float *dnext, const float *dlogq) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_step *s = &g->levels[l].steps[k];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, hw = lv->hw, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * hw;
    const float *h = fce_convnet_output(&lt->nn[k]);
    if (g->cfg.affine)
        FCE_TRY(ctx->ops->coupling_affine_backward(ctx, dnext, tp->gh, dcur, lt->x[k + 1], h, dlogq, N, hw, c));
    else
        FCE_TRY(ctx->ops->coupling_additive_backward(ctx, dnext, tp->gh, dcur, rows, c, 1.0f));
    FCE_TRY(fce_convnet_backward(&s->nn, &lt->nn[k], ctx, tp->gh, tp->gxa, N, 1));
    FCE_TRY(ctx->ops->channels_copy(ctx, dnext, c, 0, tp->gxa, half, 0, half, rows, 1));
    /* dnext = d/dy2 → dcur = d/dy1 */
    FCE_TRY(ctx->ops->linear_backward(ctx, dcur, s->dW, NULL, dnext, lt->y1[k], s->W, (int)rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->dlu_logs, dlogq, N, hw, c, 1.0f));
    return ctx->ops->actnorm_backward(ctx, dnext, s->d_an_b, s->d_an_logs, dcur, lt->y1[k], dlogq,
                                      s->an_b, s->an_logs, N, hw, c);
}

/* backward of step_inverse: dcur (w.r.t. x[k]) → dnext (w.r.t. x[k+1]); dld = ∂L/∂ld */
static fce_status step_inverse_backward(fce_iglow *g, fce_iglow_tape *tp, int l, int k, float *dcur,
                                        float *dnext, const float *dld) {
    fce_ctx *ctx = g->ctx;
    const ig_level *lv = &g->levels[l];
    ig_step *s = &g->levels[l].steps[k];
    ig_level_tape *lt = &tp->lv[l];
    const int N = tp->N, hw = lv->hw, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * hw;
    const float *h = fce_convnet_output(&lt->nn[k]);
    FCE_TRY(ctx->ops->actnorm_inverse_backward(ctx, dnext, s->d_an_b, s->d_an_logs, dcur, lt->x[k],
                                               dld, s->an_b, s->an_logs, N, hw, c));
    FCE_TRY(ctx->ops->linear_backward(ctx, dcur, s->dWinv, NULL, dnext, lt->y2[k], s->Winv, (int)rows, c, c));
    FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->dlu_logs, dld, N, hw, c, -1.0f));
    if (g->cfg.affine)
        FCE_TRY(ctx->ops->coupling_affine_inverse_backward(ctx, dnext, tp->gh, dcur, lt->y2[k], h, dld, N, hw, c));
    else
        FCE_TRY(ctx->ops->coupling_additive_backward(ctx, dnext, tp->gh, dcur, rows, c, -1.0f));
    FCE_TRY(fce_convnet_backward(&s->nn, &lt->nn[k], ctx, tp->gh, tp->gxa, N, 1));
    return ctx->ops->channels_copy(ctx, dnext, c, 0, tp->gxa, half, 0, half, rows, 1);
}

/* ---- passes ---- */

static fce_status check_n(const fce_iglow_tape *tp, int N) {
    FCE_ASSERT(N == tp->N, "iglow: batch %d, the tape (and its conv plans) is for %d", N, tp->N);
    return FCE_STATUS_OK;
}

static fce_status forward_impl(fce_iglow *g, fce_iglow_tape *tp, const float *x, int N, int init) {
    FCE_TRY(check_n(tp, N));
    fce_ctx *ctx = g->ctx;
    const int L = g->cfg.L, K = g->cfg.K;
    const ig_level *l0 = &g->levels[0];
    FCE_TRY(ctx->ops->copy(ctx, tp->lv[0].xin, x, (size_t)N * l0->hw * l0->c * sizeof(float)));
    FCE_TRY(ctx->ops->zero(ctx, tp->logq, (size_t)N * sizeof(float)));
    for (int l = 0; l < L; l++) {
        const ig_level *lv = &g->levels[l];
        ig_level_tape *lt = &tp->lv[l];
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        FCE_TRY(ctx->ops->squeeze_forward(ctx, lt->x[0], lt->xin, N, lv->Hin, lv->Win, lv->Cin));
        for (int k = 0; k < K; k++) FCE_TRY(step_forward(g, tp, l, k, init));
        if (l < L - 1) {
            float *z1 = tp->lv[l + 1].xin;
            FCE_TRY(ctx->ops->channels_copy(ctx, z1, half, 0, lt->x[K], c, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, lt->z2, half, 0, lt->x[K], c, half, half, rows, 0));
            FCE_TRY(ig_prior_forward(g, tp, l));
            FCE_TRY(ctx->ops->gaussian_diag_logp(ctx, tp->logq, lt->z2, lt->mean, lt->logs, N, lv->n_z));
        } else {
            FCE_TRY(ig_top_forward(g, tp));
            FCE_TRY(ctx->ops->gaussian_diag_logp(ctx, tp->logq, lt->x[K], lt->mean, lt->logs, N, lv->n_z));
        }
    }
    return FCE_STATUS_OK;
}

fce_status fce_iglow_forward(fce_iglow *g, fce_iglow_tape *tp, const float *x, int N) {
    return forward_impl(g, tp, x, N, 0);
}

fce_status fce_iglow_data_init(fce_iglow *g, fce_iglow_tape *tp, const float *x, int N) {
    if (g->actnorm_initialized) return FCE_STATUS_OK; /* never re-run on a loaded flow (SPEC h.4) */
    FCE_TRY(forward_impl(g, tp, x, N, 1));
    g->actnorm_initialized = 1;
    return FCE_STATUS_OK;
}

fce_status fce_iglow_inverse(fce_iglow *g, fce_iglow_tape *tp, const float *const *eps, float T,
                             int N) {
    FCE_TRY(check_n(tp, N));
    fce_ctx *ctx = g->ctx;
    const int L = g->cfg.L, K = g->cfg.K;
    /* Two accumulators: lp = Σ log-prior terms at the sampled latents (at T ≠ 1 with the
     * parameter-free correction to N(μ, T²e^{2ρ}), iglow_prior.c), and ld (in tp->logq until the
     * end) = log|det ∂x̃/∂z| accumulated by the inverse ops (each subtracts its forward log-det).
     * log q(x̃) = lp − ld. */
    float *ld = tp->logq;
    FCE_TRY(ctx->ops->zero(ctx, ld, (size_t)N * sizeof(float)));
    FCE_TRY(ctx->ops->zero(ctx, tp->lp, (size_t)N * sizeof(float)));
    FCE_TRY(ig_set_temperature(g, tp, T));
    for (int l = L - 1; l >= 0; l--) {
        const ig_level *lv = &g->levels[l];
        ig_level_tape *lt = &tp->lv[l];
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        if (l == L - 1) {
            FCE_TRY(ig_top_forward(g, tp));
            FCE_TRY(ig_sample(g, tp, l, eps[l], T, lt->x[K], ld));
        } else {
            const float *z1 = tp->lv[l + 1].xin;
            FCE_TRY(ig_prior_forward(g, tp, l));
            FCE_TRY(ig_sample(g, tp, l, eps[l], T, lt->z2, ld));
            FCE_TRY(ctx->ops->channels_copy(ctx, lt->x[K], c, 0, z1, half, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, lt->x[K], c, half, lt->z2, half, 0, half, rows, 0));
        }
        for (int k = K - 1; k >= 0; k--) FCE_TRY(step_inverse(g, tp, l, k, ld));
        FCE_TRY(ctx->ops->squeeze_inverse(ctx, lt->xin, lt->x[0], N, lv->Hin, lv->Win, lv->Cin));
    }
    /* logq = lp − ld */
    FCE_TRY(ctx->ops->scale(ctx, tp->logq, ld, (size_t)N, -1.0f));
    return ctx->ops->channels_copy(ctx, tp->logq, 1, 0, tp->lp, 1, 0, 1, (size_t)N, 1);
}

fce_status fce_iglow_zero_grad(fce_iglow *g) {
    fce_ctx *ctx = g->ctx;
    FCE_TRY(fce_param_arena_zero_grad(&g->arena, ctx));
    for (int l = 0; l < g->cfg.L; l++) {
        const size_t DD = (size_t)g->levels[l].c * (size_t)g->levels[l].c;
        for (int k = 0; k < g->cfg.K; k++) {
            FCE_TRY(ctx->ops->zero(ctx, g->levels[l].steps[k].dW, DD * sizeof(float)));
            FCE_TRY(ctx->ops->zero(ctx, g->levels[l].steps[k].dWinv, DD * sizeof(float)));
        }
    }
    return FCE_STATUS_OK;
}

fce_status fce_iglow_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq, int N) {
    FCE_TRY(check_n(tp, N));
    FCE_ASSERT(!tp->inference, "iglow backward on an inference tape (use fce_iglow_tape_init)");
    fce_ctx *ctx = g->ctx;
    const int L = g->cfg.L, K = g->cfg.K;
    float *dcur = tp->gA, *dtmp = tp->gB;
    for (int l = L - 1; l >= 0; l--) {
        const ig_level *lv = &g->levels[l];
        ig_level_tape *lt = &tp->lv[l];
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        /* dcur = ∂L/∂x[K] */
        if (l == L - 1) {
            FCE_TRY(ctx->ops->zero(ctx, dcur, rows * c * sizeof(float)));
            FCE_TRY(ctx->ops->gaussian_diag_logp_backward_acc(ctx, dcur, tp->gm, tp->gs, lt->x[K],
                                                              lt->mean, lt->logs, dlogq, N, lv->n_z));
            FCE_TRY(ig_top_backward(g, tp, tp->gm, tp->gs));
        } else {
            /* tp->gz1 holds ∂L/∂z1 (= ∂L/∂xin of level l+1) */
            FCE_TRY(ctx->ops->zero(ctx, tp->gz2, rows * half * sizeof(float)));
            FCE_TRY(ctx->ops->gaussian_diag_logp_backward_acc(ctx, tp->gz2, tp->gm, tp->gs, lt->z2,
                                                              lt->mean, lt->logs, dlogq, N, lv->n_z));
            FCE_TRY(ig_prior_backward(g, tp, l, tp->gm, tp->gs, tp->gz1));
            FCE_TRY(ctx->ops->channels_copy(ctx, dcur, c, 0, tp->gz1, half, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, dcur, c, half, tp->gz2, half, 0, half, rows, 0));
        }
        for (int k = K - 1; k >= 0; k--) {
            FCE_TRY(step_backward(g, tp, l, k, dcur, dtmp, dlogq));
            float *t = dcur;
            dcur = dtmp;
            dtmp = t;
        }
        /* dcur = ∂L/∂x[0] → ∂L/∂xin (= ∂L/∂z1 of level l−1); the data gradient is not needed */
        if (l > 0) FCE_TRY(ctx->ops->squeeze_inverse(ctx, tp->gz1, dcur, N, lv->Hin, lv->Win, lv->Cin));
    }
    return FCE_STATUS_OK;
}

fce_status fce_iglow_inverse_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dx,
                                      const float *dlogq, int N) {
    FCE_TRY(check_n(tp, N));
    FCE_ASSERT(!tp->inference, "iglow inverse backward on an inference tape (use fce_iglow_tape_init)");
    fce_ctx *ctx = g->ctx;
    const int L = g->cfg.L, K = g->cfg.K;
    const ig_level *l0 = &g->levels[0];
    float *dcur = tp->gA, *dtmp = tp->gB;
    /* log q(x̃) = lp − ld: ∂L/∂lp = dlogq, ∂L/∂ld = −dlogq; ε is fixed */
    float *dld = tp->dld;
    FCE_TRY(ctx->ops->scale(ctx, dld, dlogq, (size_t)N, -1.0f));
    if (dx) FCE_TRY(ctx->ops->squeeze_forward(ctx, dcur, dx, N, l0->Hin, l0->Win, l0->Cin));
    else FCE_TRY(ctx->ops->zero(ctx, dcur, (size_t)N * l0->hw * l0->c * sizeof(float)));
    for (int l = 0; l < L; l++) {
        const ig_level *lv = &g->levels[l];
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        for (int k = 0; k < K; k++) {
            FCE_TRY(step_inverse_backward(g, tp, l, k, dcur, dtmp, dld));
            float *t = dcur;
            dcur = dtmp;
            dtmp = t;
        }
        /* dcur = ∂L/∂x[K] */
        if (l == L - 1) {
            FCE_TRY(ig_sample_backward(g, tp, l, dcur, dlogq, tp->gm, tp->gs));
            FCE_TRY(ig_top_backward(g, tp, tp->gm, tp->gs));
        } else {
            const ig_level *next = &g->levels[l + 1];
            FCE_TRY(ctx->ops->channels_copy(ctx, tp->gz1, half, 0, dcur, c, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, tp->gz2, half, 0, dcur, c, half, half, rows, 0));
            FCE_TRY(ig_sample_backward(g, tp, l, tp->gz2, dlogq, tp->gm, tp->gs));
            FCE_TRY(ig_prior_backward(g, tp, l, tp->gm, tp->gs, tp->gz1));
            /* z1 = unsqueeze(x[0] of level l+1): its gradient squeezed is ∂L/∂x[0] there */
            FCE_TRY(ctx->ops->squeeze_forward(ctx, dcur, tp->gz1, N, next->Hin, next->Win, next->Cin));
        }
    }
    return FCE_STATUS_OK; /* the gradient w.r.t. the ε's is not needed: ε is fixed noise */
}

fce_status fce_iglow_finish_grad(fce_iglow *g) {
    fce_ctx *ctx = g->ctx;
    for (int l = 0; l < g->cfg.L; l++)
        for (int k = 0; k < g->cfg.K; k++) {
            ig_step *s = &g->levels[l].steps[k];
            FCE_TRY(ctx->ops->invconv_lu_backward(ctx, s->dL, s->dU, s->dlu_logs, s->dW, s->dWinv,
                                                  s->Winv, s->perm, s->sign, s->L, s->U, s->lu_logs,
                                                  g->levels[l].c));
        }
    return FCE_STATUS_OK;
}
