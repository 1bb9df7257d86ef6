/* iglow.c: the multi-scale image Glow (iglow.h) on the backend op table, NHWC. It owns the levels
 * (squeeze, a block of K flow steps from flow_step.h with the conv coupling network, split), the
 * parameter arena, the tapes and the passes through the levels; the priors and sampling are in
 * iglow_prior.c. Layer math: SPEC a.1, a.9, a.10 (the steps: a.2, a.5, a.7, a.8); backprop
 * bookkeeping: a.12.
 *
 * Tape layout of level l (shared by both directions): xin = the level's input (N, H_l, W_l, C_l)
 * (level 0: x or x̃; level l > 0: z1 of level l−1), x[0] = squeeze(xin) (N, h, w, c), x[1..K] the
 * steps' outputs (flow_step.h). Then x[K] = (z1 | z2) at a split, or z_top at the top.
 * The forward pass fills it bottom-up, the inverse top-down; each backward reads the same slots. */
#include "flow/iglow_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "fce/log.h"

fce_iglow_config fce_iglow_config_tiny(int affine) {
    fce_iglow_config c = {8, 8, 3, 2, 2, 8, affine};
    return c;
}

/* ---- construction ---- */

/* adds the prior tensor "iglow.l<l>.<what>" */
static fce_status declare_prior(fce_iglow *g, int l, const char *what, int rows, int cols,
                                fce_param_view *view) {
    char name[FCE_PARAM_NAME_MAX];
    int n = snprintf(name, sizeof name, "iglow.l%d.%s", l, what);
    FCE_ASSERT(n > 0 && n < (int)sizeof name, "iglow: parameter name too long");
    return fce_model_params_add(&g->params, name, rows, cols, 0, view);
}

/* Per level: its K steps ("iglow.l<l>.k<k>.*"), then its prior. The order fixes the arena layout
 * and the checkpoint table hash. */
static fce_status iglow_declare(fce_iglow *g) {
    const fce_iglow_config *cfg = &g->cfg;
    const fce_coupling_net_config net = {.kind = FCE_COUPLING_NET_CONV, .width = cfg->width,
                                         .name = "nn"};
    char prefix[FCE_PARAM_NAME_MAX];
    for (int l = 0; l < cfg->L; l++) {
        iglow_level *lv = &g->levels[l];
        const int c = lv->c;
        snprintf(prefix, sizeof prefix, "iglow.l%d", l % 1000);
        FCE_TRY(fce_flow_steps_declare(&lv->steps, &g->params.table, prefix, cfg->K, c, cfg->affine,
                                       &net));
        lv->steps.hw = lv->hw; /* every pass of this block runs on h·w pixels */
        if (l < cfg->L - 1) {
            FCE_TRY(declare_prior(g, l, "prior.w", c, 9 * (c / 2), &lv->split.conv_w));
            FCE_TRY(declare_prior(g, l, "prior.b", 1, c, &lv->split.bias));
            FCE_TRY(declare_prior(g, l, "prior.logs", 1, c, &lv->split.logs));
        } else {
            FCE_TRY(declare_prior(g, l, "top.mean", lv->n_z, 1, &lv->top.mean));
            FCE_TRY(declare_prior(g, l, "top.logs", lv->n_z, 1, &lv->top.logs));
        }
    }
    return FCE_STATUS_OK;
}

static fce_status iglow_bind(fce_iglow *g) {
    const fce_param_table *t = &g->params.table;
    const fce_param_arena *a = &g->params.arena;
    for (int l = 0; l < g->cfg.L; l++) {
        iglow_level *lv = &g->levels[l];
        FCE_TRY(fce_flow_steps_bind(&lv->steps, t, a, g->params.ctx));
        if (l < g->cfg.L - 1) {
            fce_param_view_bind(&lv->split.conv_w, t, a);
            fce_param_view_bind(&lv->split.bias, t, a);
            fce_param_view_bind(&lv->split.logs, t, a);
        } else {
            fce_param_view_bind(&lv->top.mean, t, a);
            fce_param_view_bind(&lv->top.logs, t, a);
        }
    }
    return FCE_STATUS_OK;
}

/* The levels' shapes: each squeezes (H, W, C) to (H/2, W/2, 4C) and passes half of it on. */
static void plan_levels(fce_iglow *g) {
    const fce_iglow_config *cfg = &g->cfg;
    int Hl = cfg->H, Wl = cfg->W, Cl = cfg->C;
    for (int l = 0; l < cfg->L; l++) {
        iglow_level *lv = &g->levels[l];
        lv->Hin = Hl;
        lv->Win = Wl;
        lv->Cin = Cl;
        lv->h = Hl / 2;
        lv->w = Wl / 2;
        lv->c = 4 * Cl;
        lv->hw = lv->h * lv->w;
        lv->n_z = l < cfg->L - 1 ? lv->hw * (lv->c / 2) : lv->hw * lv->c;
        Hl = lv->h;
        Wl = lv->w;
        Cl = lv->c / 2;
    }
}

/* Plans the levels, declares, allocates and initialises the parameters of g (cfg and ctx set). */
static fce_status iglow_build(fce_iglow *g, uint64_t seed) {
    fce_model_params *mp = &g->params;
    g->levels = calloc((size_t)g->cfg.L, sizeof *g->levels);
    if (!g->levels) return FCE_STATUS_ERR_NOMEM;
    plan_levels(g);
    FCE_TRY(iglow_declare(g));
    FCE_TRY(fce_model_params_alloc(mp));
    FCE_TRY(iglow_bind(g));
    /* the steps' maps and networks; actnorms, split priors and the top prior start at 0 */
    for (int l = 0; l < g->cfg.L; l++)
        fce_flow_steps_init_host(&g->levels[l].steps, &mp->table, mp->host, seed, l * g->cfg.K);
    FCE_TRY(fce_model_params_upload(mp));
    return fce_iglow_refresh(g);
}

static fce_status check_config(const fce_iglow_config *cfg) {
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
    return FCE_STATUS_OK;
}

fce_status fce_iglow_param_count(const fce_iglow_config *cfg, size_t *n_total) {
    FCE_TRY(check_config(cfg));
    fce_iglow *g = calloc(1, sizeof *g);
    if (!g) return FCE_STATUS_ERR_NOMEM;
    g->cfg = *cfg;
    g->levels = calloc((size_t)cfg->L, sizeof *g->levels);
    fce_status st = g->levels ? FCE_STATUS_OK : FCE_STATUS_ERR_NOMEM;
    if (st == FCE_STATUS_OK) {
        plan_levels(g);
        st = iglow_declare(g); /* the table only: nothing is allocated on a backend */
    }
    if (st == FCE_STATUS_OK) {
        fce_param_table_plan(&g->params.table);
        *n_total = g->params.table.n_total;
    }
    fce_iglow_free(g);
    return st;
}

fce_status fce_iglow_init(fce_iglow **out, fce_ctx *ctx, const fce_iglow_config *cfg,
                          uint64_t seed) {
    *out = NULL;
    FCE_TRY(check_config(cfg));
    fce_iglow *g = calloc(1, sizeof *g);
    if (!g) return FCE_STATUS_ERR_NOMEM;
    g->params.ctx = ctx;
    g->cfg = *cfg;
    fce_status st = iglow_build(g, seed);
    if (st != FCE_STATUS_OK) {
        fce_iglow_free(g);
        return st;
    }
    *out = g;
    return FCE_STATUS_OK;
}

void fce_iglow_free(fce_iglow *g) {
    if (!g) return;
    for (int l = 0; g->levels && l < g->cfg.L; l++)
        fce_flow_steps_free(&g->levels[l].steps, g->params.ctx);
    fce_model_params_free(&g->params);
    free(g->levels);
    free(g);
}

const fce_param_table *fce_iglow_params(const fce_iglow *g) { return &g->params.table; }
fce_param_arena *fce_iglow_arena(fce_iglow *g) { return &g->params.arena; }
fce_ctx *fce_iglow_ctx(fce_iglow *g) { return g->params.ctx; }
const fce_iglow_config *fce_iglow_cfg(const fce_iglow *g) { return &g->cfg; }
int fce_iglow_actnorm_initialized(const fce_iglow *g) { return g->actnorm_initialized; }
void fce_iglow_set_actnorm_initialized(fce_iglow *g, int v) { g->actnorm_initialized = v; }
int fce_iglow_n_z(const fce_iglow *g, int l) { return g->levels[l].n_z; }

fce_status fce_iglow_refresh(fce_iglow *g) {
    for (int l = 0; l < g->cfg.L; l++)
        FCE_TRY(fce_flow_steps_refresh(&g->levels[l].steps, g->params.ctx));
    return FCE_STATUS_OK;
}

/* ---- tapes ---- */

static fce_status alloc_f(fce_ctx *ctx, float **p, size_t n) {
    return ctx->ops->alloc(ctx, (void **)p, n * sizeof(float));
}

/* Floats of the coupling networks' shared scratch: the largest N·h·w·max(width, output channels)
 * of any level (convnet.h). */
static size_t net_scratch_floats(const fce_iglow *g, int N) {
    size_t m = 0;
    for (int l = 0; l < g->cfg.L; l++) {
        const int c = g->levels[l].c, out = g->cfg.affine ? c : c / 2;
        const size_t d = (size_t)(g->cfg.width > out ? g->cfg.width : out);
        const size_t f = (size_t)N * (size_t)g->levels[l].hw * d;
        if (f > m) m = f;
    }
    return m;
}

/* The most channels an actnorm backward of this flow runs on: a level's c, or the networks' width
 * or output channels. */
static int an_work_channels(const fce_iglow *g) {
    int m = g->cfg.width;
    for (int l = 0; l < g->cfg.L; l++)
        if (g->levels[l].c > m) m = g->levels[l].c;
    return m;
}

static fce_status level_tape_init(fce_iglow_tape *tp, int l) {
    fce_iglow *g = tp->g;
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[l];
    iglow_level_tape *lt = &tp->level[l];
    const int N = tp->N;
    const size_t full = (size_t)N * lv->hw * lv->c, nz = (size_t)N * lv->n_z;
    FCE_TRY(alloc_f(ctx, &lt->xin, full)); /* H_l·W_l·C_l = h·w·c */
    FCE_TRY(fce_flow_steps_tape_init(&lt->steps, &lv->steps, ctx, N, lv->h, lv->w, tp->inference,
                                     tp->net_scratch0, tp->net_scratch1, tp->an_work));
    FCE_TRY(alloc_f(ctx, &lt->mean, nz));
    FCE_TRY(alloc_f(ctx, &lt->logs, nz));
    FCE_TRY(alloc_f(ctx, &lt->u, nz));
    if (l == g->cfg.L - 1) return FCE_STATUS_OK;
    FCE_TRY(alloc_f(ctx, &lt->z2, nz));
    FCE_TRY(alloc_f(ctx, &lt->prior_out, full));
    fce_conv_shape cs = {.N = N, .H = lv->h, .W = lv->w, .Cin = lv->c / 2, .Cout = lv->c,
                         .KH = 3, .KW = 3, .stride = 1, .pad = 1};
    return ctx->ops->conv_plan_init(ctx, &lt->prior_plan, &cs);
}

/* The tape's scratch buffers of S floats (iglow_internal.h), for alloc and release alike. */
#define IGLOW_SCRATCH(tp)                                                                          \
    {&(tp)->grad.d_cur, &(tp)->grad.d_next, &(tp)->grad.d_net_out, &(tp)->grad.d_net_in,           \
     &(tp)->d_z1, &(tp)->d_z2, &(tp)->d_prior_mean, &(tp)->d_prior_logs, &(tp)->d_addend,          \
     &(tp)->d_prior_out, &(tp)->conv_scratch, &(tp)->zeros, &(tp)->logs_over_3, &(tp)->scaled_eps}

static fce_status tape_init(fce_iglow_tape **out, fce_iglow *g, int N, int inference) {
    *out = NULL;
    FCE_ASSERT(N >= 1, "iglow tape: batch %d", N);
    fce_ctx *ctx = g->params.ctx;
    const fce_iglow_config *cfg = &g->cfg;
    const size_t S = (size_t)N * cfg->H * cfg->W * cfg->C; /* the largest tensor of any level */
    fce_status st = FCE_STATUS_OK;
    float *ones = NULL;
    fce_iglow_tape *tp = calloc(1, sizeof *tp);
    if (!tp) return FCE_STATUS_ERR_NOMEM;
    tp->g = g;
    tp->N = N;
    tp->inference = inference;
    tp->level = calloc((size_t)cfg->L, sizeof *tp->level);
    if (!tp->level) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->net_scratch0, net_scratch_floats(g, N)));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->net_scratch1, net_scratch_floats(g, N)));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->an_work, fce_actnorm_work_floats(an_work_channels(g))));
    for (int l = 0; l < cfg->L; l++) FCE_TRY_GOTO(st, level_tape_init(tp, l));
    float **scratch[] = IGLOW_SCRATCH(tp);
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++)
        FCE_TRY_GOTO(st, alloc_f(ctx, scratch[i], S));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->batch_ones, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->logq, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->log_prior, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->dld, (size_t)N));
    FCE_TRY_GOTO(st, alloc_f(ctx, &tp->log_T, 1));
    ones = malloc((size_t)N * sizeof *ones);
    if (!ones) FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    for (int i = 0; i < N; i++) ones[i] = 1.0f;
    FCE_TRY_GOTO(st, ctx->ops->upload(ctx, tp->batch_ones, ones, (size_t)N * sizeof(float)));
    free(ones);
    tp->log_T_host = 0.0f; /* log_T is zero-filled */
    *out = tp;
    return FCE_STATUS_OK;
cleanup:
    free(ones);
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
    fce_ctx *ctx = tp->g->params.ctx;
    for (int l = 0; tp->level && l < tp->g->cfg.L; l++) {
        iglow_level_tape *lt = &tp->level[l];
        fce_flow_steps_tape_free(&lt->steps, &tp->g->levels[l].steps, ctx);
        float *bufs[] = {lt->xin, lt->mean, lt->logs, lt->u, lt->z2, lt->prior_out};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
        ctx->ops->conv_plan_free(ctx, lt->prior_plan);
    }
    float **scratch[] = IGLOW_SCRATCH(tp);
    for (size_t i = 0; i < sizeof scratch / sizeof scratch[0]; i++)
        ctx->ops->release(ctx, *scratch[i]);
    float *bufs[] = {tp->batch_ones, tp->logq, tp->log_prior, tp->dld, tp->log_T, tp->net_scratch0,
                     tp->net_scratch1, tp->an_work};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) ctx->ops->release(ctx, bufs[i]);
    free(tp->level);
    free(tp);
}

int fce_iglow_tape_n(const fce_iglow_tape *tp) { return tp->N; }
const float *fce_iglow_tape_logq(const fce_iglow_tape *tp) { return tp->logq; }
const float *fce_iglow_tape_x(const fce_iglow_tape *tp) { return tp->level[0].xin; }
const float *fce_iglow_tape_z(const fce_iglow_tape *tp, int l) {
    return l < tp->g->cfg.L - 1 ? tp->level[l].z2 : tp->level[l].steps.x[tp->g->cfg.K];
}
const float *fce_iglow_tape_prior_mean(const fce_iglow_tape *tp, int l) { return tp->level[l].mean; }
const float *fce_iglow_tape_prior_logs(const fce_iglow_tape *tp, int l) { return tp->level[l].logs; }

/* ---- passes ---- */

static fce_status check_n(const fce_iglow_tape *tp, int N) {
    FCE_ASSERT(N == tp->N, "iglow: batch %d, the tape (and its conv plans) is for %d", N, tp->N);
    return FCE_STATUS_OK;
}

static fce_status forward_impl(fce_iglow *g, fce_iglow_tape *tp, const float *x, int N, int init) {
    FCE_TRY(check_n(tp, N));
    fce_ctx *ctx = g->params.ctx;
    const int L = g->cfg.L, K = g->cfg.K;
    const iglow_level *l0 = &g->levels[0];
    FCE_TRY(ctx->ops->copy(ctx, tp->level[0].xin, x, (size_t)N * l0->hw * l0->c * sizeof(float)));
    FCE_TRY(ctx->ops->zero(ctx, tp->logq, (size_t)N * sizeof(float)));
    for (int l = 0; l < L; l++) {
        iglow_level *lv = &g->levels[l];
        iglow_level_tape *lt = &tp->level[l];
        float *const *x_steps = lt->steps.x;
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        FCE_TRY(ctx->ops->squeeze_forward(ctx, x_steps[0], lt->xin, N, lv->Hin, lv->Win, lv->Cin));
        FCE_TRY(fce_flow_steps_forward(&lv->steps, &lt->steps, ctx, N, lv->hw, tp->logq, init));
        if (l < L - 1) {
            float *z1 = tp->level[l + 1].xin;
            FCE_TRY(ctx->ops->channels_copy(ctx, z1, half, 0, x_steps[K], c, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, lt->z2, half, 0, x_steps[K], c, half, half, rows, 0));
            FCE_TRY(iglow_split_prior_forward(g, tp, l));
            FCE_TRY(ctx->ops->gaussian_diag_logp(ctx, tp->logq, lt->z2, lt->mean, lt->logs, N,
                                                 lv->n_z));
        } else {
            FCE_TRY(iglow_top_prior_forward(g, tp));
            FCE_TRY(ctx->ops->gaussian_diag_logp(ctx, tp->logq, x_steps[K], lt->mean, lt->logs, N,
                                                 lv->n_z));
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
    return fce_iglow_refresh(g); /* the actnorms changed: the log-dets the passes add (flow_step.h) */
}

fce_status fce_iglow_inverse(fce_iglow *g, fce_iglow_tape *tp, const float *const *eps, float T,
                             int N) {
    FCE_TRY(check_n(tp, N));
    fce_ctx *ctx = g->params.ctx;
    const int L = g->cfg.L, K = g->cfg.K;
    /* Two accumulators: log_prior = Σ log-prior terms at the sampled latents (at T ≠ 1 with the
     * parameter-free correction to N(μ, T²e^{2ρ}), iglow_prior.c), and ld (in tp->logq until the
     * end) = log|det ∂x̃/∂z| accumulated by the inverse ops (each subtracts its forward log-det).
     * log q(x̃) = log_prior − ld. */
    float *ld = tp->logq;
    FCE_TRY(ctx->ops->zero(ctx, ld, (size_t)N * sizeof(float)));
    FCE_TRY(ctx->ops->zero(ctx, tp->log_prior, (size_t)N * sizeof(float)));
    FCE_TRY(iglow_set_temperature(g, tp, T));
    for (int l = L - 1; l >= 0; l--) {
        iglow_level *lv = &g->levels[l];
        iglow_level_tape *lt = &tp->level[l];
        float *const *x_steps = lt->steps.x;
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        if (l == L - 1) {
            FCE_TRY(iglow_top_prior_forward(g, tp));
            FCE_TRY(iglow_sample(g, tp, l, eps[l], T, x_steps[K], ld));
        } else {
            const float *z1 = tp->level[l + 1].xin;
            FCE_TRY(iglow_split_prior_forward(g, tp, l));
            FCE_TRY(iglow_sample(g, tp, l, eps[l], T, lt->z2, ld));
            FCE_TRY(ctx->ops->channels_copy(ctx, x_steps[K], c, 0, z1, half, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, x_steps[K], c, half, lt->z2, half, 0, half, rows, 0));
        }
        FCE_TRY(fce_flow_steps_inverse(&lv->steps, &lt->steps, ctx, N, lv->hw, ld));
        FCE_TRY(ctx->ops->squeeze_inverse(ctx, lt->xin, x_steps[0], N, lv->Hin, lv->Win, lv->Cin));
    }
    /* logq = log_prior − ld */
    FCE_TRY(ctx->ops->scale(ctx, tp->logq, ld, (size_t)N, -1.0f));
    return ctx->ops->channels_copy(ctx, tp->logq, 1, 0, tp->log_prior, 1, 0, 1, (size_t)N, 1);
}

fce_status fce_iglow_zero_grad(fce_iglow *g) {
    FCE_TRY(fce_param_arena_zero_grad(&g->params.arena, g->params.ctx));
    for (int l = 0; l < g->cfg.L; l++)
        FCE_TRY(fce_flow_steps_zero_grad(&g->levels[l].steps, g->params.ctx));
    return FCE_STATUS_OK;
}

/* grad->d_cur = ∂L/∂x[K] of the top level, from its prior term */
static fce_status top_latent_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq,
                                      float *d_top) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[g->cfg.L - 1];
    const iglow_level_tape *lt = &tp->level[g->cfg.L - 1];
    const int N = tp->N;
    FCE_TRY(ctx->ops->zero(ctx, d_top, (size_t)N * lv->n_z * sizeof(float)));
    FCE_TRY(ctx->ops->gaussian_diag_logp_backward_acc(ctx, d_top, tp->d_prior_mean, tp->d_prior_logs,
                                                      lt->steps.x[g->cfg.K], lt->mean, lt->logs,
                                                      dlogq, N, lv->n_z));
    return iglow_top_prior_backward(g, tp, tp->d_prior_mean, tp->d_prior_logs);
}

/* d_x = ∂L/∂x[K] = (∂L/∂z1 | ∂L/∂z2) of split level l: tp->d_z1 holds ∂L/∂z1 (= ∂L/∂xin of level
 * l+1) from the levels above; the split's prior term adds to it and gives ∂L/∂z2. */
static fce_status split_backward(fce_iglow *g, fce_iglow_tape *tp, int l, const float *dlogq,
                                 float *d_x) {
    fce_ctx *ctx = g->params.ctx;
    const iglow_level *lv = &g->levels[l];
    const iglow_level_tape *lt = &tp->level[l];
    const int N = tp->N, c = lv->c, half = c / 2;
    const size_t rows = (size_t)N * lv->hw;
    FCE_TRY(ctx->ops->zero(ctx, tp->d_z2, rows * half * sizeof(float)));
    FCE_TRY(ctx->ops->gaussian_diag_logp_backward_acc(ctx, tp->d_z2, tp->d_prior_mean,
                                                      tp->d_prior_logs, lt->z2, lt->mean, lt->logs,
                                                      dlogq, N, lv->n_z));
    FCE_TRY(iglow_split_prior_backward(g, tp, l, tp->d_prior_mean, tp->d_prior_logs, tp->d_z1));
    FCE_TRY(ctx->ops->channels_copy(ctx, d_x, c, 0, tp->d_z1, half, 0, half, rows, 0));
    return ctx->ops->channels_copy(ctx, d_x, c, half, tp->d_z2, half, 0, half, rows, 0);
}

/* The backward of the forward pass; dx non-NULL also receives ∂L/∂x (the input gradient). */
static fce_status backward_impl(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq, float *dx,
                                int N) {
    FCE_TRY(check_n(tp, N));
    FCE_ASSERT(!tp->inference, "iglow backward on an inference tape (use fce_iglow_tape_init)");
    fce_ctx *ctx = g->params.ctx;
    const int L = g->cfg.L;
    fce_flow_grad_bufs grad = tp->grad;
    for (int l = L - 1; l >= 0; l--) {
        iglow_level *lv = &g->levels[l];
        if (l == L - 1) FCE_TRY(top_latent_backward(g, tp, dlogq, grad.d_cur));
        else FCE_TRY(split_backward(g, tp, l, dlogq, grad.d_cur));
        FCE_TRY(fce_flow_steps_backward(&lv->steps, &tp->level[l].steps, ctx, N, lv->hw, dlogq,
                                        &grad));
        /* d_cur = ∂L/∂x[0] → ∂L/∂xin (= ∂L/∂z1 of level l−1; at level 0 the input gradient) */
        float *d_in = l > 0 ? tp->d_z1 : dx;
        if (d_in)
            FCE_TRY(ctx->ops->squeeze_inverse(ctx, d_in, grad.d_cur, N, lv->Hin, lv->Win, lv->Cin));
    }
    return FCE_STATUS_OK;
}

fce_status fce_iglow_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq, int N) {
    return backward_impl(g, tp, dlogq, NULL, N);
}

fce_status fce_iglow_backward_input(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq, float *dx,
                                    int N) {
    return backward_impl(g, tp, dlogq, dx, N);
}

fce_status fce_iglow_inverse_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dx,
                                      const float *dlogq, int N) {
    FCE_TRY(check_n(tp, N));
    FCE_ASSERT(!tp->inference,
               "iglow inverse backward on an inference tape (use fce_iglow_tape_init)");
    fce_ctx *ctx = g->params.ctx;
    const int L = g->cfg.L;
    const iglow_level *l0 = &g->levels[0];
    fce_flow_grad_bufs grad = tp->grad;
    /* log q(x̃) = log_prior − ld: ∂L/∂log_prior = dlogq, ∂L/∂ld = −dlogq; ε is fixed */
    FCE_TRY(ctx->ops->scale(ctx, tp->dld, dlogq, (size_t)N, -1.0f));
    if (dx) FCE_TRY(ctx->ops->squeeze_forward(ctx, grad.d_cur, dx, N, l0->Hin, l0->Win, l0->Cin));
    else FCE_TRY(ctx->ops->zero(ctx, grad.d_cur, (size_t)N * l0->hw * l0->c * sizeof(float)));
    for (int l = 0; l < L; l++) {
        iglow_level *lv = &g->levels[l];
        const size_t rows = (size_t)N * lv->hw;
        const int c = lv->c, half = c / 2;
        FCE_TRY(fce_flow_steps_inverse_backward(&lv->steps, &tp->level[l].steps, ctx, N, lv->hw,
                                                tp->dld, &grad));
        /* d_cur = ∂L/∂x[K] */
        if (l == L - 1) {
            FCE_TRY(iglow_sample_backward(g, tp, l, grad.d_cur, dlogq, tp->d_prior_mean,
                                          tp->d_prior_logs));
            FCE_TRY(iglow_top_prior_backward(g, tp, tp->d_prior_mean, tp->d_prior_logs));
        } else {
            const iglow_level *next = &g->levels[l + 1];
            FCE_TRY(ctx->ops->channels_copy(ctx, tp->d_z1, half, 0, grad.d_cur, c, 0, half, rows, 0));
            FCE_TRY(ctx->ops->channels_copy(ctx, tp->d_z2, half, 0, grad.d_cur, c, half, half, rows,
                                            0));
            FCE_TRY(iglow_sample_backward(g, tp, l, tp->d_z2, dlogq, tp->d_prior_mean,
                                          tp->d_prior_logs));
            FCE_TRY(iglow_split_prior_backward(g, tp, l, tp->d_prior_mean, tp->d_prior_logs,
                                               tp->d_z1));
            /* z1 = unsqueeze(x[0] of level l+1): its gradient squeezed is ∂L/∂x[0] there */
            FCE_TRY(ctx->ops->squeeze_forward(ctx, grad.d_cur, tp->d_z1, N, next->Hin, next->Win,
                                              next->Cin));
        }
    }
    return FCE_STATUS_OK; /* the gradient w.r.t. the ε's is not needed: ε is fixed noise */
}

fce_status fce_iglow_finish_grad(fce_iglow *g) {
    for (int l = 0; l < g->cfg.L; l++)
        FCE_TRY(fce_flow_steps_finish_grad(&g->levels[l].steps, g->params.ctx));
    return FCE_STATUS_OK;
}
