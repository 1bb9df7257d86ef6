/* fce_game.c: the FCE game shared by the 2D and the image trainers (fce_game.h). */
#include "train/fce_game.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "fce/log.h"

fce_status fce_game_init(fce_game *g, fce_ctx *ctx, const fce_game_models *models,
                         const fce_game_settings *settings, const fce_game_counters *counters, int n,
                         size_t dim) {
    memset(g, 0, sizeof *g);
    g->ctx = ctx;
    g->models = *models;
    g->settings = *settings;
    g->counters = *counters;
    g->n = n;
    g->dim = dim;
    const size_t rows = 2 * (size_t)n;
    float **bufs[] = {&g->in, &g->dx, &g->df, &g->dlq, &g->dlqt, &g->stats};
    const size_t floats[] = {rows * dim, rows * dim, rows, (size_t)n, (size_t)n, 2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        FCE_TRY(ctx->ops->alloc(ctx, (void **)bufs[i], floats[i] * sizeof(float)));
    FCE_TRY(fce_step_vars_init(&g->vars, ctx));
    FCE_TRY(fce_step_vars_reserve(&g->vars, 3, &g->sched_ebm));
    FCE_TRY(fce_step_vars_reserve(&g->vars, 3, &g->sched_c));
    return fce_step_vars_reserve(&g->vars, 3, &g->sched_flow);
}

void fce_game_free(fce_game *g) {
    if (!g->ctx) return;
    float *bufs[] = {g->in, g->dx, g->df, g->dlq, g->dlqt, g->stats};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) g->ctx->ops->release(g->ctx, bufs[i]);
    fce_step_vars_free(&g->vars);
    memset(g, 0, sizeof *g);
}

fce_status fce_game_init_c(fce_game *g, const float *in, int rows, const float *lq, int m) {
    fce_ctx *ctx = g->ctx;
    const float *f;
    FCE_TRY(g->models.ebm_forward(g->models.self, in, rows, &f));
    float *h_f = malloc((size_t)m * sizeof *h_f), *h_lq = malloc((size_t)m * sizeof *h_lq);
    fce_status st = FCE_STATUS_OK;
    if (!h_f || !h_lq) {
        fce_log_error("out of host memory");
        FCE_TRY_GOTO(st, FCE_STATUS_ERR_NOMEM);
    }
    FCE_TRY_GOTO(st, ctx->ops->download(ctx, h_f, f, (size_t)m * sizeof(float)));
    FCE_TRY_GOTO(st, ctx->ops->download(ctx, h_lq, lq, (size_t)m * sizeof(float)));
    double s[2] = {0, m}; /* over the ranks of a job: every rank's rows */
    for (int i = 0; i < m; i++) s[0] += (double)h_f[i] - (double)h_lq[i];
    FCE_TRY_GOTO(st, fce_dist_sum(ctx->dist, s, 2));
    float c0 = (float)(s[0] / s[1]);
    if (!isfinite(c0)) {
        fce_log_error("c initialisation: mean(f - log q) is %g (not finite)", (double)c0);
        FCE_TRY_GOTO(st, FCE_STATUS_ERR_NUMERIC);
    }
    st = ctx->ops->upload(ctx, g->models.c, &c0, sizeof c0);
cleanup:
    free(h_f);
    free(h_lq);
    return st;
}

fce_status fce_game_forward(fce_game *g, int64_t step) {
    fce_ctx *ctx = g->ctx;
    const size_t half = (size_t)g->n * g->dim;
    const float *x, *xt;
    FCE_TRY(g->models.draw(g->models.self, step, &x, &xt, &g->lq, &g->lqt));
    FCE_TRY(ctx->ops->copy(ctx, g->in, x, half * sizeof(float)));
    FCE_TRY(ctx->ops->copy(ctx, g->in + half, xt, half * sizeof(float)));
    return g->models.ebm_forward(g->models.self, g->in, 2 * g->n, &g->f);
}

/* −V over θ and c: ∂/∂f at both halves and ∂/∂c (gscale +1), then the EBM's backward. */
static fce_status grads_ebm(fce_game *g) {
    fce_ctx *ctx = g->ctx;
    const int n = g->n;
    FCE_TRY(fce_param_arena_zero_grad(g->models.ebm_arena, ctx));
    FCE_TRY(ctx->ops->nce_loss(ctx, g->stats, g->df, g->df + n, NULL, NULL, g->models.dc, g->f, g->f + n,
                               g->lq, g->lqt, g->models.c, n, fce_dist_grad_scale(ctx)));
    return g->models.ebm_backward(g->models.self, g->df, NULL);
}

/* V over the flow: ∂V/∂f(x̃), ∂V/∂log q(x), ∂V/∂log q(x̃) (gscale −1; c is frozen), ∂V/∂x̃ from the
 * EBM's input gradient, then the flow's backward through both passes. */
static fce_status grads_flow(fce_game *g) {
    fce_ctx *ctx = g->ctx;
    const int n = g->n;
    FCE_TRY(ctx->ops->nce_loss(ctx, g->stats, NULL, g->df + n, g->dlq, g->dlqt, NULL, g->f, g->f + n, g->lq,
                               g->lqt, g->models.c, n, -fce_dist_grad_scale(ctx)));
    FCE_TRY(g->models.ebm_backward(g->models.self, g->df, g->dx));
    return g->models.flow_grads(g->models.self, g->dlq, g->dx + (size_t)n * g->dim, g->dlqt);
}

fce_status fce_game_grads(fce_game *g, int flow_turn) { return flow_turn ? grads_flow(g) : grads_ebm(g); }

fce_status fce_game_value(fce_game *g) {
    return g->ctx->ops->nce_loss(g->ctx, g->stats, NULL, NULL, NULL, NULL, NULL, g->f, g->f + g->n, g->lq,
                                 g->lqt, g->models.c, g->n, -1.0f);
}

/* In a job of several ranks: the value is the mean of the ranks' (equal shards), and the accuracy
 * is recounted from the ranks' correct counts exactly as the nce_loss op divides them (acc·2n is an
 * exact integer), so that every rank decides the turn on the bits one process would have. */
fce_status fce_game_read_stats(fce_game *g, float stats[2]) {
    FCE_TRY(g->ctx->ops->download(g->ctx, stats, g->stats, 2 * sizeof(float)));
    return fce_game_global_stats(g, stats);
}

fce_status fce_game_global_stats(fce_game *g, float stats[2]) {
    if (fce_dist_size(g->ctx->dist) == 1) return FCE_STATUS_OK;
    double sums[3] = {stats[0], round((double)stats[1] * 2.0 * g->n), 2.0 * g->n};
    FCE_TRY(fce_dist_sum(g->ctx->dist, sums, 3));
    stats[0] = (float)(sums[0] / fce_dist_size(g->ctx->dist));
    stats[1] = (float)(sums[1] / sums[2]);
    return FCE_STATUS_OK;
}

static fce_optimizer optimizer(const fce_game_settings *s, fce_flow_optim rule) {
    fce_optimizer o = {rule, s->beta1, s->beta2, s->adam_eps};
    return o;
}

/* Adam over the EBM's arena; with its own rate for c (SPEC c.3 notes that Adam moves c by about lr
 * per step while log q of images differs by hundreds of nats between models, so c may need a faster
 * rate than the network), the ranges before and after c are stepped separately, so that every
 * element gets exactly one step. The flow: its rule (Adamax for images) over its arena. */
/* Does c get a rate of its own (--lr-c set and different from the EBM's)? Fixed for the run, so
 * every EBM step records the same ops. */
static int c_has_own_rate(const fce_game_settings *s) { return s->lr_c > 0 && s->lr_c != s->lr_ebm; }

void fce_game_plan_update(fce_game *g, int flow_turn, float lr_scale) {
    const fce_game_settings *s = &g->settings;
    double sched[3];
    if (flow_turn) {
        const fce_optimizer o = optimizer(s, s->flow_rule);
        fce_optimizer_sched(&o, s->lr_flow * lr_scale, ++*g->counters.flow_steps, sched);
        fce_step_vars_set_f64(&g->vars, g->sched_flow, sched, 3);
        return;
    }
    const fce_optimizer adam = optimizer(s, FCE_OPTIM_ADAM);
    const int64_t t = ++*g->counters.ebm_steps;
    fce_optimizer_sched(&adam, s->lr_ebm * lr_scale, t, sched);
    fce_step_vars_set_f64(&g->vars, g->sched_ebm, sched, 3);
    if (!c_has_own_rate(s)) return;
    fce_optimizer_sched(&adam, s->lr_c * lr_scale, t, sched);
    fce_step_vars_set_f64(&g->vars, g->sched_c, sched, 3);
}

static fce_status apply_ebm(fce_game *g) {
    const fce_game_settings *s = &g->settings;
    const fce_optimizer adam = optimizer(s, FCE_OPTIM_ADAM);
    fce_param_arena *a = g->models.ebm_arena;
    const size_t n = a->n_trainable;
    const double *sched = fce_step_vars_f64(&g->vars, g->sched_ebm);
    FCE_TRY(fce_dist_allreduce_grads(g->ctx, a->grads, n)); /* the ranks' shares of the batch's gradient */
    if (!c_has_own_rate(s)) return fce_optimizer_step_at(g->ctx, &adam, a, 0, n, sched);
    const size_t ic = (size_t)(g->models.c - a->params);
    FCE_ASSERT(ic < n, "fce_game_apply_update: c is not in the trainable range");
    FCE_TRY(fce_optimizer_step_at(g->ctx, &adam, a, 0, ic, sched));
    FCE_TRY(fce_optimizer_step_at(g->ctx, &adam, a, ic, 1, fce_step_vars_f64(&g->vars, g->sched_c)));
    if (ic + 1 < n) FCE_TRY(fce_optimizer_step_at(g->ctx, &adam, a, ic + 1, n - ic - 1, sched));
    return FCE_STATUS_OK;
}

fce_status fce_game_apply_update(fce_game *g, int flow_turn) {
    if (!flow_turn) return apply_ebm(g);
    const fce_optimizer o = optimizer(&g->settings, g->settings.flow_rule);
    fce_param_arena *a = g->models.flow_arena;
    FCE_TRY(fce_dist_allreduce_grads(g->ctx, a->grads, a->n_trainable));
    FCE_TRY(fce_optimizer_step_at(g->ctx, &o, a, 0, a->n_trainable, fce_step_vars_f64(&g->vars, g->sched_flow)));
    return g->models.flow_refresh(g->models.self);
}

static fce_status update(fce_game *g, int flow_turn, float lr_scale) {
    fce_game_plan_update(g, flow_turn, lr_scale);
    FCE_TRY(fce_step_vars_upload(&g->vars));
    return fce_game_apply_update(g, flow_turn);
}

fce_status fce_game_update_ebm(fce_game *g, float lr_scale) { return update(g, 0, lr_scale); }
fce_status fce_game_update_flow(fce_game *g, float lr_scale) { return update(g, 1, lr_scale); }

void fce_game_next_turn(fce_game *g, int flow_turn, float acc) {
    const fce_game_settings *s = &g->settings;
    int64_t *consecutive = g->counters.consecutive;
    int next = acc > s->threshold;
    if (s->max_mode_steps > 0 && next == flow_turn && *consecutive >= s->max_mode_steps) next = !flow_turn;
    *consecutive = next == flow_turn ? *consecutive + 1 : 1;
    *g->counters.flow_turn = next;
}
