/* glow2d.c: the 2D Glow (glow.h): one block of K flow steps (flow_step.h) on (N, D) points, with a
 * dense coupling network (coupling_net.h over nn/mlp.h) and a standard normal prior. It owns the
 * flow's parameter arena, its tapes and the prior; the steps themselves are flow_step.c's, shared
 * with the image flow. Tape layout: flow_step.h, with x[0] = data or the sample x̃ and x[K] = z
 * or ε. */
#include "fce/glow.h"

#include <stdlib.h>

#include "fce/log.h"
#include "flow/flow_step.h"
#include "nn/model_params.h"

struct fce_glow {
    fce_model_params params; /* context, table, arena */
    fce_glow_config cfg;
    fce_flow_steps steps;
    int actnorm_initialized;
};

struct fce_glow_tape {
    fce_glow *g;
    int cap;                 /* rows */
    fce_flow_steps_tape steps;
    float *logq;             /* (cap) */
    float *dld;              /* (cap) gradient w.r.t. the inverse pass's log-det accumulator */
    fce_flow_grad_bufs grad; /* (cap, D) each, d_net_in (cap, D/2) */
};

/* ---- construction ---- */

/* Declares, allocates and initialises the parameters of g (cfg and ctx set). */
static fce_status glow_build(fce_glow *g, uint64_t seed) {
    fce_model_params *mp = &g->params;
    const fce_coupling_net_config net = {.kind = FCE_COUPLING_NET_DENSE, .width = g->cfg.width,
                                         .actnorm = g->cfg.nn_actnorm, .name = "coupling"};
    FCE_TRY(fce_flow_steps_declare(&g->steps, &mp->table, "glow", g->cfg.K, g->cfg.dim, 1, &net));
    FCE_TRY(fce_model_params_alloc(mp));
    FCE_TRY(fce_flow_steps_bind(&g->steps, &mp->table, &mp->arena, mp->ctx));
    fce_flow_steps_init_host(&g->steps, &mp->table, mp->host, seed, 0);
    FCE_TRY(fce_model_params_upload(mp));
    return fce_glow_refresh(g);
}

fce_status fce_glow_init(fce_glow **out, fce_ctx *ctx, const fce_glow_config *cfg, uint64_t seed) {
    *out = NULL;
    if (cfg->dim < 2 || cfg->dim % 2 || cfg->dim > FCE_INVCONV_MAX_C || cfg->K < 1 || cfg->width < 1) {
        fce_log_error("glow: dimension must be even and in 2..%d, K and width >= 1 (got D=%d K=%d "
                      "width=%d)", FCE_INVCONV_MAX_C, cfg->dim, cfg->K, cfg->width);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_glow *g = calloc(1, sizeof *g);
    if (!g) return FCE_STATUS_ERR_NOMEM;
    g->params.ctx = ctx;
    g->cfg = *cfg;
    fce_status st = glow_build(g, seed);
    if (st != FCE_STATUS_OK) {
        fce_glow_free(g);
        return st;
    }
    *out = g;
    return FCE_STATUS_OK;
}

void fce_glow_free(fce_glow *g) {
    if (!g) return;
    fce_flow_steps_free(&g->steps, g->params.ctx);
    fce_model_params_free(&g->params);
    free(g);
}

const fce_param_table *fce_glow_params(const fce_glow *g) { return &g->params.table; }
fce_param_arena *fce_glow_arena(fce_glow *g) { return &g->params.arena; }
fce_ctx *fce_glow_ctx(fce_glow *g) { return g->params.ctx; }
const fce_glow_config *fce_glow_cfg(const fce_glow *g) { return &g->cfg; }
int fce_glow_actnorm_initialized(const fce_glow *g) { return g->actnorm_initialized; }
void fce_glow_set_actnorm_initialized(fce_glow *g, int v) { g->actnorm_initialized = v; }

fce_status fce_glow_refresh(fce_glow *g) { return fce_flow_steps_refresh(&g->steps, g->params.ctx); }

/* ---- tapes ---- */

fce_status fce_glow_tape_init(fce_glow_tape **out, fce_glow *g, int cap) {
    *out = NULL;
    fce_ctx *ctx = g->params.ctx;
    const size_t row_bytes = (size_t)cap * (size_t)g->cfg.dim * sizeof(float);
    fce_status st = FCE_STATUS_OK;
    fce_glow_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->g = g;
    tp->cap = cap;
    /* cap rows = cap samples of 1 × 1 pixels */
    FCE_TRY_GOTO(st, fce_flow_steps_tape_init(&tp->steps, &g->steps, ctx, cap, 1, 1, 0, NULL,
                                              NULL, NULL));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->logq, (size_t)cap * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->dld, (size_t)cap * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->grad.d_cur, row_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->grad.d_next, row_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->grad.d_net_out, row_bytes));
    FCE_TRY_GOTO(st, ctx->ops->alloc(ctx, (void **)&tp->grad.d_net_in, row_bytes / 2));
    *out = tp;
    return FCE_STATUS_OK;
cleanup:
    fce_glow_tape_free(tp);
    return st;
}

void fce_glow_tape_free(fce_glow_tape *tp) {
    if (!tp) return;
    fce_ctx *ctx = tp->g->params.ctx;
    fce_flow_steps_tape_free(&tp->steps, &tp->g->steps, ctx);
    float *bufs[] = {tp->logq, tp->dld, tp->grad.d_cur, tp->grad.d_next, tp->grad.d_net_out,
                     tp->grad.d_net_in};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
    free(tp);
}

const float *fce_glow_tape_logq(const fce_glow_tape *tp) { return tp->logq; }
const float *fce_glow_tape_x(const fce_glow_tape *tp) { return tp->steps.x[0]; }
const float *fce_glow_tape_z(const fce_glow_tape *tp) { return tp->steps.x[tp->g->cfg.K]; }

/* ---- passes ---- */

static fce_status check_rows(const fce_glow_tape *tp, int N) {
    FCE_ASSERT(N > 0 && N <= tp->cap, "glow: %d rows, tape holds %d", N, tp->cap);
    return FCE_STATUS_OK;
}

static fce_status glow_forward_impl(fce_glow *g, fce_glow_tape *tp, const float *x, int N,
                                    int init) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->params.ctx;
    const int D = g->cfg.dim;
    FCE_TRY(ctx->ops->copy(ctx, tp->steps.x[0], x, (size_t)N * D * sizeof(float)));
    FCE_TRY(ctx->ops->zero(ctx, tp->logq, (size_t)N * sizeof(float)));
    FCE_TRY(fce_flow_steps_forward(&g->steps, &tp->steps, ctx, N, 1, tp->logq, init));
    return ctx->ops->gaussian_logp(ctx, tp->logq, tp->steps.x[g->cfg.K], N, D);
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
    fce_ctx *ctx = g->params.ctx;
    const int D = g->cfg.dim, K = g->cfg.K;
    FCE_TRY(ctx->ops->copy(ctx, tp->steps.x[K], eps, (size_t)N * D * sizeof(float)));
    /* The inverse ops accumulate the log-det of the map they apply, log|det ∂x/∂ε| (each subtracts
     * its forward log-det); log q(x̃) = log N(ε) − log|det ∂x/∂ε| is formed at the end. */
    FCE_TRY(ctx->ops->zero(ctx, tp->logq, (size_t)N * sizeof(float)));
    FCE_TRY(fce_flow_steps_inverse(&g->steps, &tp->steps, ctx, N, 1, tp->logq));
    FCE_TRY(ctx->ops->scale(ctx, tp->logq, tp->logq, (size_t)N, -1.0f));
    return ctx->ops->gaussian_logp(ctx, tp->logq, tp->steps.x[K], N, D);
}

fce_status fce_glow_zero_grad(fce_glow *g) {
    FCE_TRY(fce_param_arena_zero_grad(&g->params.arena, g->params.ctx));
    return fce_flow_steps_zero_grad(&g->steps, g->params.ctx);
}

fce_status fce_glow_backward(fce_glow *g, fce_glow_tape *tp, const float *dlogq, int N) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->params.ctx;
    const int D = g->cfg.dim;
    fce_flow_grad_bufs grad = tp->grad;
    /* ∂/∂z of the prior term */
    FCE_TRY(ctx->ops->zero(ctx, grad.d_cur, (size_t)N * D * sizeof(float)));
    FCE_TRY(ctx->ops->gaussian_logp_backward_acc(ctx, grad.d_cur, tp->steps.x[g->cfg.K], dlogq, N,
                                                 D));
    return fce_flow_steps_backward(&g->steps, &tp->steps, ctx, N, 1, dlogq, &grad);
}

fce_status fce_glow_inverse_backward(fce_glow *g, fce_glow_tape *tp, const float *dx,
                                     const float *dlogq, int N) {
    FCE_TRY(check_rows(tp, N));
    fce_ctx *ctx = g->params.ctx;
    const size_t bytes = (size_t)N * (size_t)g->cfg.dim * sizeof(float);
    fce_flow_grad_bufs grad = tp->grad; /* d_cur: gradient w.r.t. x[k] */
    /* ∂L/∂(log|det ∂x/∂ε|) = −∂L/∂log q(x̃); ε is fixed, so the prior term has no gradient */
    FCE_TRY(ctx->ops->scale(ctx, tp->dld, dlogq, (size_t)N, -1.0f));
    if (dx) FCE_TRY(ctx->ops->copy(ctx, grad.d_cur, dx, bytes));
    else FCE_TRY(ctx->ops->zero(ctx, grad.d_cur, bytes));
    /* the gradient w.r.t. ε is not needed: ε is fixed noise */
    return fce_flow_steps_inverse_backward(&g->steps, &tp->steps, ctx, N, 1, tp->dld, &grad);
}

fce_status fce_glow_finish_grad(fce_glow *g) {
    return fce_flow_steps_finish_grad(&g->steps, g->params.ctx);
}
