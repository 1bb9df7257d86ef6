/* glow.c: the 2D Glow (glow.h) on the backend op table: K × [actnorm → LU invconv → affine
 * coupling], standard normal prior. Layer math: SPEC a.2, a.5, a.8; backprop bookkeeping: a.12.
 *
 * Tape layout, shared by both directions: x[k] is the input of step k in the forward direction
 * (x[0] = data or the sample x̃, x[K] = z or ε); y1[k] = actnorm(x[k]), y2[k] = y1[k]·Wᵀ,
 * x[k+1] = coupling(y2[k]) with h[k] = NN(xa[k]), xa[k] = first half of y2[k] (= of x[k+1]).
 * The forward pass fills it bottom-up, the inverse top-down; each backward reads the same slots. */
#include "fce/glow.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"
#include "nn/lu_init.h"
#include "nn/mlp.h"

typedef struct glow_step {
    int i_an_b, i_an_logs, i_perm, i_sign, i_L, i_U, i_logs;
    fce_mlp nn;
    float *an_b, *an_logs, *perm, *sign, *L, *U, *lu_logs;          /* params */
    float *d_an_b, *d_an_logs, *dL, *dU, *dlu_logs;                  /* grads */
    float *W, *Winv, *dW, *dWinv;                                    /* D×D scratch */
} glow_step;

struct fce_glow {
    fce_ctx *ctx;
    fce_glow_config cfg;
    fce_param_table table;
    fce_param_arena arena;
    glow_step *steps;
    float *lu_scratch; /* 4·K·D² floats: W, W⁻¹, dW, dW⁻¹ of every step */
    int actnorm_initialized;
};

struct fce_glow_tape {
    fce_glow *g;
    int cap;
    float **x, **y1, **y2, **xa; /* x has K+1 entries */
    const float **h;        /* h[k] = coupling NN output, borrowed from nn[k] */
    fce_mlp_tape *nn;
    float *logq;             /* (cap) */
    float *dld;              /* (cap) gradient w.r.t. the inverse pass's log-det accumulator */
    float *gA, *gB, *gh;     /* (cap, D) gradient buffers */
    float *gxa;              /* (cap, D/2) */
};

/* ---- host-side initialisation of the invertible maps ---- */

/* The LU parameters of SPEC a.5 from a random orthogonal matrix (lu_init.c), into the host image. */
static void init_lu_host(const glow_step *s, const fce_param_table *t, float *host, int D,
                         uint64_t seed) {
    fce_lu_init_orthogonal_host(host + t->specs[s->i_perm].offset, host + t->specs[s->i_sign].offset,
                                host + t->specs[s->i_L].offset, host + t->specs[s->i_U].offset,
                                host + t->specs[s->i_logs].offset, D, seed);
}

/* ---- construction ---- */

static fce_status glow_declare(fce_glow *g) {
    const int D = g->cfg.dim, half = D / 2;
    char name[FCE_PARAM_NAME_MAX];
    for (int k = 0; k < g->cfg.K; k++) {
        glow_step *s = &g->steps[k];
#define DECL(field, suffix, rows, cols, flags)                                                     \
    snprintf(name, sizeof name, "glow.k%d.%s", k, suffix);                                         \
    FCE_TRY(fce_param_table_add(&g->table, name, rows, cols, flags, &s->field))
        DECL(i_an_b, "actnorm.bias", 1, D, 0);
        DECL(i_an_logs, "actnorm.logs", 1, D, 0);
        DECL(i_L, "invconv.L", D, D, 0);
        DECL(i_U, "invconv.U", D, D, 0);
        DECL(i_logs, "invconv.logs", 1, D, 0);
        DECL(i_perm, "invconv.perm", 1, D, FCE_PARAM_FLAG_FROZEN);
        DECL(i_sign, "invconv.sign", 1, D, FCE_PARAM_FLAG_FROZEN);
#undef DECL
        int dims[4] = {half, g->cfg.width, g->cfg.width, D};
        snprintf(name, sizeof name, "glow.k%d.coupling", k);
        FCE_TRY(fce_mlp_declare(&s->nn, &g->table, name, 3, dims, 0.0f, 1, g->cfg.nn_actnorm));
    }
    fce_param_table_plan(&g->table);
    return FCE_STATUS_OK;
}

static void glow_bind(fce_glow *g) {
    const size_t DD = (size_t)g->cfg.dim * (size_t)g->cfg.dim;
    float *p = g->arena.params, *gr = g->arena.grads;
    const fce_param_spec *sp = g->table.specs;
    for (int k = 0; k < g->cfg.K; k++) {
        glow_step *s = &g->steps[k];
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
        s->W = g->lu_scratch + (4 * (size_t)k + 0) * DD;
        s->Winv = g->lu_scratch + (4 * (size_t)k + 1) * DD;
        s->dW = g->lu_scratch + (4 * (size_t)k + 2) * DD;
        s->dWinv = g->lu_scratch + (4 * (size_t)k + 3) * DD;
        fce_mlp_bind(&s->nn, &g->table, &g->arena);
    }
}

fce_status fce_glow_init(fce_glow **out, fce_ctx *ctx, const fce_glow_config *cfg, uint64_t seed) {
    *out = NULL;
    if (cfg->dim < 2 || cfg->dim % 2 || cfg->dim > FCE_INVCONV_MAX_C || cfg->K < 1 || cfg->width < 1) {
        fce_log_error("glow: dimension must be even and in 2..%d, K and width >= 1 (got D=%d K=%d "
                      "width=%d)", FCE_INVCONV_MAX_C, cfg->dim, cfg->K, cfg->width);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_status st = FCE_STATUS_OK;
    float *host = NULL;
    fce_glow *g = calloc(1, sizeof *g);
    if (!g) return FCE_STATUS_ERR_NOMEM;
    g->ctx = ctx;
    g->cfg = *cfg;
    g->steps = calloc((size_t)cfg->K, sizeof *g->steps);
    if (!g->steps) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    FCE_TRY_GOTO(st, glow_declare(g));
    FCE_TRY_GOTO(st, fce_param_arena_init(&g->arena, &g->table, ctx));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&g->lu_scratch,
                                     4 * (size_t)cfg->K * cfg->dim * cfg->dim * sizeof(float)));
    glow_bind(g);
    host = calloc(g->arena.n_total, sizeof *host);
    if (!host) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    for (int k = 0; k < cfg->K; k++) {
        uint64_t sk = seed * 1000003ull + 7919ull * (uint64_t)k;
        init_lu_host(&g->steps[k], &g->table, host, cfg->dim, sk ^ 0x1u);
        fce_mlp_init_host(&g->steps[k].nn, &g->table, host, sk ^ 0x2u);
    }
    FCE_TRY_GOTO(st, fce_param_arena_upload(&g->arena, ctx, host));
    FCE_TRY_GOTO(st, fce_glow_refresh(g));
    free(host);
    *out = g;
    return FCE_STATUS_OK;
cleanup:
    free(host);
    fce_glow_free(g);
    return st;
}

void fce_glow_free(fce_glow *g) {
    if (!g) return;
    fce_param_arena_free(&g->arena, g->ctx);
    if (g->ctx && g->ctx->ops) g->ctx->ops->release(g->ctx, g->lu_scratch);
    fce_param_table_free(&g->table);
    free(g->steps);
    free(g);
}

const fce_param_table *fce_glow_params(const fce_glow *g) { return &g->table; }
fce_param_arena *fce_glow_arena(fce_glow *g) { return &g->arena; }
fce_ctx *fce_glow_ctx(fce_glow *g) { return g->ctx; }
const fce_glow_config *fce_glow_cfg(const fce_glow *g) { return &g->cfg; }
int fce_glow_actnorm_initialized(const fce_glow *g) { return g->actnorm_initialized; }
void fce_glow_set_actnorm_initialized(fce_glow *g, int v) { g->actnorm_initialized = v; }

fce_status fce_glow_refresh(fce_glow *g) {
    fce_ctx *ctx = g->ctx;
    for (int k = 0; k < g->cfg.K; k++) {
        glow_step *s = &g->steps[k];
        FCE_TRY(ctx->ops->invconv_lu_weights(ctx, s->W, s->Winv, s->perm, s->sign, s->L, s->U,
                                             s->lu_logs, g->cfg.dim));
    }
    return FCE_STATUS_OK;
}

/* ---- tapes ---- */

fce_status fce_glow_tape_init(fce_glow_tape **out, fce_glow *g, int cap) {
    *out = NULL;
    fce_ctx *ctx = g->ctx;
    const int K = g->cfg.K, D = g->cfg.dim;
    const size_t row_bytes = (size_t)cap * (size_t)D * sizeof(float);
    fce_status st = FCE_STATUS_OK;
    fce_glow_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->g = g;
    tp->cap = cap;
    tp->x = calloc((size_t)K + 1, sizeof(float *));
    tp->y1 = calloc((size_t)K, sizeof(float *));
    tp->y2 = calloc((size_t)K, sizeof(float *));
    tp->xa = calloc((size_t)K, sizeof(float *));
    tp->h = calloc((size_t)K, sizeof(const float *));
    tp->nn = calloc((size_t)K, sizeof(fce_mlp_tape));
    if (!tp->x || !tp->y1 || !tp->y2 || !tp->xa || !tp->h || !tp->nn)
        FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    for (int k = 0; k <= K; k++) FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->x[k], row_bytes));
    for (int k = 0; k < K; k++) {
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->y1[k], row_bytes));
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->y2[k], row_bytes));
        FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->xa[k], row_bytes / 2));
        FCE_TRY_GOTO(st, fce_mlp_tape_init(&tp->nn[k], &g->steps[k].nn, ctx, cap));
        tp->h[k] = fce_mlp_output(&g->steps[k].nn, &tp->nn[k]); /* NN output, not a copy */
    }
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->logq, (size_t)cap * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->dld, (size_t)cap * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->gA, row_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->gB, row_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->gh, row_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->gxa, row_bytes / 2));
    *out = tp;
    return FCE_STATUS_OK;
cleanup:
    fce_glow_tape_free(tp);
    return st;
}

void fce_glow_tape_free(fce_glow_tape *tp) {
    if (!tp) return;
    fce_ctx *ctx = tp->g->ctx;
    const int K = tp->g->cfg.K;
    for (int k = 0; k <= K && tp->x; k++) ctx->ops->release(ctx, tp->x[k]);
    for (int k = 0; k < K; k++) {
        if (tp->y1) ctx->ops->release(ctx, tp->y1[k]);
        if (tp->y2) ctx->ops->release(ctx, tp->y2[k]);
        if (tp->xa) ctx->ops->release(ctx, tp->xa[k]);
        if (tp->nn) fce_mlp_tape_free(&tp->nn[k], ctx);
    }
    ctx->ops->release(ctx, tp->logq);
    ctx->ops->release(ctx, tp->dld);
    ctx->ops->release(ctx, tp->gA);
    ctx->ops->release(ctx, tp->gB);
    ctx->ops->release(ctx, tp->gh);
    ctx->ops->release(ctx, tp->gxa);
    free(tp->x);
    free(tp->y1);
    free(tp->y2);
    free(tp->xa);
    free(tp->h);
    free(tp->nn);
    free(tp);
}

const float *fce_glow_tape_logq(const fce_glow_tape *tp) { return tp->logq; }
const float *fce_glow_tape_x(const fce_glow_tape *tp) { return tp->x[0]; }
const float *fce_glow_tape_z(const fce_glow_tape *tp) { return tp->x[tp->g->cfg.K]; }

/* ---- passes ---- */

static fce_status check_rows(const fce_glow_tape *tp, int N) {
    FCE_ASSERT(N > 0 && N <= tp->cap, "glow: %d rows, tape holds %d", N, tp->cap);
    return FCE_STATUS_OK;
}

static fce_status glow_forward_impl(fce_glow *g, fce_glow_tape *tp, const float *x, int N,
                                    int init) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->ctx;
    const int D = g->cfg.dim, half = D / 2;
    FCE_TRY(ctx->ops->copy(ctx, tp->x[0], x, (size_t)N * D * sizeof(float)));
    FCE_TRY(ctx->ops->zero(ctx, tp->logq, (size_t)N * sizeof(float)));
    for (int k = 0; k < g->cfg.K; k++) {
        glow_step *s = &g->steps[k];
        if (init) FCE_TRY(ctx->ops->actnorm_init(ctx, s->an_b, s->an_logs, tp->x[k], N, 1, D));
        FCE_TRY(ctx->ops->actnorm_forward(ctx, tp->y1[k], tp->logq, tp->x[k], s->an_b, s->an_logs,
                                          N, 1, D));
        /* y2 = y1·Wᵀ (per row: y2 = W y1) */
        FCE_TRY(ctx->ops->linear_forward(ctx, tp->y2[k], tp->y1[k], s->W, NULL, N, D, D));
        FCE_TRY(ctx->ops->invconv_logdet(ctx, tp->logq, s->lu_logs, N, 1, D, 1.0f));
        FCE_TRY(ctx->ops->channels_copy(ctx, tp->xa[k], half, 0, tp->y2[k], D, 0, half, (size_t)N, 0));
        FCE_TRY(fce_mlp_forward(&s->nn, &tp->nn[k], ctx, tp->xa[k], N, init));
        FCE_TRY(ctx->ops->coupling_affine_forward(ctx, tp->x[k + 1], tp->logq, tp->y2[k], tp->h[k],
                                                  N, 1, D));
    }
    return ctx->ops->gaussian_logp(ctx, tp->logq, tp->x[g->cfg.K], N, D);
}

fce_status fce_glow_forward(fce_glow *g, fce_glow_tape *tp, const float *x, int N) {
    return glow_forward_impl(g, tp, x, N, 0);
}

fce_status fce_glow_data_init(fce_glow *g, fce_glow_tape *tp, const float *x, int N) {
    if (g->actnorm_initialized) return FCE_STATUS_OK; /* never re-run on a loaded flow (SPEC h.4) */
    FCE_TRY(glow_forward_impl(g, tp, x, N, 1));
    g->actnorm_initialized = 1;
    return FCE_STATUS_OK;
}

fce_status fce_glow_inverse(fce_glow *g, fce_glow_tape *tp, const float *eps, int N) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->ctx;
    const int D = g->cfg.dim, half = D / 2, K = g->cfg.K;
    FCE_TRY(ctx->ops->copy(ctx, tp->x[K], eps, (size_t)N * D * sizeof(float)));
    /* The inverse ops accumulate the log-det of the map they apply, log|det ∂x/∂ε| (each subtracts
     * its forward log-det); log q(x̃) = log N(ε) − log|det ∂x/∂ε| is formed at the end. */
    FCE_TRY(ctx->ops->zero(ctx, tp->logq, (size_t)N * sizeof(float)));
    for (int k = K - 1; k >= 0; k--) {
        glow_step *s = &g->steps[k];
        FCE_TRY(ctx->ops->channels_copy(ctx, tp->xa[k], half, 0, tp->x[k + 1], D, 0, half, (size_t)N, 0));
        FCE_TRY(fce_mlp_forward(&s->nn, &tp->nn[k], ctx, tp->xa[k], N, 0));
        FCE_TRY(ctx->ops->coupling_affine_inverse(ctx, tp->y2[k], tp->logq, tp->x[k + 1], tp->h[k],
                                                  N, 1, D));
        /* y1 = y2·W⁻ᵀ (per row: y1 = W⁻¹ y2) */
        FCE_TRY(ctx->ops->linear_forward(ctx, tp->y1[k], tp->y2[k], s->Winv, NULL, N, D, D));
        FCE_TRY(ctx->ops->invconv_logdet(ctx, tp->logq, s->lu_logs, N, 1, D, -1.0f));
        FCE_TRY(ctx->ops->actnorm_inverse(ctx, tp->x[k], tp->logq, tp->y1[k], s->an_b, s->an_logs,
                                          N, 1, D));
    }
    FCE_TRY(ctx->ops->scale(ctx, tp->logq, tp->logq, (size_t)N, -1.0f));
    return ctx->ops->gaussian_logp(ctx, tp->logq, tp->x[K], N, D);
}

fce_status fce_glow_zero_grad(fce_glow *g) {
    fce_ctx *ctx = g->ctx;
    const size_t DD = (size_t)g->cfg.dim * (size_t)g->cfg.dim;
    FCE_TRY(fce_param_arena_zero_grad(&g->arena, ctx));
    for (int k = 0; k < g->cfg.K; k++) {
        FCE_TRY(ctx->ops->zero(ctx, g->steps[k].dW, DD * sizeof(float)));
        FCE_TRY(ctx->ops->zero(ctx, g->steps[k].dWinv, DD * sizeof(float)));
    }
    return FCE_STATUS_OK;
}

fce_status fce_glow_backward(fce_glow *g, fce_glow_tape *tp, const float *dlogq, int N) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->ctx;
    const int D = g->cfg.dim, half = D / 2, K = g->cfg.K;
    float *dy = tp->gA, *dtmp = tp->gB;
    /* ∂/∂z of the prior term */
    FCE_TRY(ctx->ops->zero(ctx, dy, (size_t)N * D * sizeof(float)));
    FCE_TRY(ctx->ops->gaussian_logp_backward_acc(ctx, dy, tp->x[K], dlogq, N, D));
    for (int k = K - 1; k >= 0; k--) {
        glow_step *s = &g->steps[k];
        /* coupling: dy (w.r.t. x[k+1]) → dtmp (w.r.t. y2), dh */
        FCE_TRY(ctx->ops->coupling_affine_backward(ctx, dtmp, tp->gh, dy, tp->x[k + 1], tp->h[k],
                                                   dlogq, N, 1, D));
        FCE_TRY(fce_mlp_backward(&s->nn, &tp->nn[k], ctx, tp->gh, tp->gxa, 0, N, 1));
        FCE_TRY(ctx->ops->channels_copy(ctx, dtmp, D, 0, tp->gxa, half, 0, half, (size_t)N, 1));
        /* invconv: y2 = y1·Wᵀ → dy (w.r.t. y1), dW += */
        FCE_TRY(ctx->ops->linear_backward(ctx, dy, s->dW, NULL, dtmp, tp->y1[k], s->W, N, D, D));
        FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->dlu_logs, dlogq, N, 1, D, 1.0f));
        /* actnorm: dy (w.r.t. y1) → dtmp (w.r.t. x[k]) */
        FCE_TRY(ctx->ops->actnorm_backward(ctx, dtmp, s->d_an_b, s->d_an_logs, dy, tp->y1[k], dlogq,
                                           s->an_b, s->an_logs, N, 1, D));
        float *t = dy;
        dy = dtmp;
        dtmp = t;
    }
    return FCE_STATUS_OK;
}

fce_status fce_glow_inverse_backward(fce_glow *g, fce_glow_tape *tp, const float *dx,
                                     const float *dlogq, int N) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->ctx;
    const int D = g->cfg.dim, half = D / 2, K = g->cfg.K;
    float *dcur = tp->gA, *dtmp = tp->gB; /* dcur: gradient w.r.t. x[k] */
    /* ∂L/∂(log|det ∂x/∂ε|) = −∂L/∂log q(x̃); ε is fixed, so the prior term has no gradient */
    float *dld = tp->dld;
    FCE_TRY(ctx->ops->scale(ctx, dld, dlogq, (size_t)N, -1.0f));
    if (dx) FCE_TRY(ctx->ops->copy(ctx, dcur, dx, (size_t)N * D * sizeof(float)));
    else FCE_TRY(ctx->ops->zero(ctx, dcur, (size_t)N * D * sizeof(float)));
    for (int k = 0; k < K; k++) {
        glow_step *s = &g->steps[k];
        /* actnorm inverse: x[k] = y1·e^{−s} − b → dtmp (w.r.t. y1) */
        FCE_TRY(ctx->ops->actnorm_inverse_backward(ctx, dtmp, s->d_an_b, s->d_an_logs, dcur,
                                                   tp->x[k], dld, s->an_b, s->an_logs, N, 1, D));
        /* y1 = y2·W⁻ᵀ → dcur (w.r.t. y2), dW⁻¹ += */
        FCE_TRY(ctx->ops->linear_backward(ctx, dcur, s->dWinv, NULL, dtmp, tp->y2[k], s->Winv, N, D, D));
        FCE_TRY(ctx->ops->invconv_logdet_backward(ctx, s->dlu_logs, dld, N, 1, D, -1.0f));
        /* coupling inverse: y2 = inverse(x[k+1]) → dtmp (w.r.t. x[k+1]), dh */
        FCE_TRY(ctx->ops->coupling_affine_inverse_backward(ctx, dtmp, tp->gh, dcur, tp->y2[k],
                                                           tp->h[k], dld, N, 1, D));
        FCE_TRY(fce_mlp_backward(&s->nn, &tp->nn[k], ctx, tp->gh, tp->gxa, 0, N, 1));
        FCE_TRY(ctx->ops->channels_copy(ctx, dtmp, D, 0, tp->gxa, half, 0, half, (size_t)N, 1));
        float *t = dcur;
        dcur = dtmp;
        dtmp = t;
    }
    return FCE_STATUS_OK; /* the gradient w.r.t. ε is not needed: ε is fixed noise */
}

fce_status fce_glow_finish_grad(fce_glow *g) {
    fce_ctx *ctx = g->ctx;
    for (int k = 0; k < g->cfg.K; k++) {
        glow_step *s = &g->steps[k];
        FCE_TRY(ctx->ops->invconv_lu_backward(ctx, s->dL, s->dU, s->dlu_logs, s->dW, s->dWinv,
                                              s->Winv, s->perm, s->sign, s->L, s->U, s->lu_logs,
                                              g->cfg.dim));
    }
    return FCE_STATUS_OK;
}
