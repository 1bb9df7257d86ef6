/* fce_game.h: the FCE game (SPEC c.3) between an EBM and a noise model, one implementation for the
 * 2D trainer (train_2d.c; the noise model is the flow, or the NCE baseline's fixed Gaussian) and
 * the image FCE trainer (train_image_fce.c). It owns the game's buffers and rules; the trainers own
 * the networks and drive them through fce_game_models, since the 2D and the image networks have
 * different APIs.
 *
 * One step, n data points x and n samples x̃ from the noise model q, T = 1:
 *   forward:   [x; x̃] and log q(x), log q(x̃) from the trainer (draw), f ← EBM([x; x̃]);
 *              a = f(x) − c − log q(x),  b = f(x̃) − c − log q(x̃),  acc = (#[a>0] + #[b<0]) / 2n,
 *              V the NCE value (backend nce_loss);
 *   EBM turn:  gradients of −V over θ and c (gscale +1); the noise model's outputs are constants;
 *   flow turn: gradients of V over the flow (gscale −1), through log q(x) (the data pass), and
 *              through x̃ and log q(x̃) (the sampling pass, with ∂V/∂x̃ = ∂V/∂f(x̃)·∇ₓf(x̃) from the
 *              EBM's input gradient); θ and c frozen;
 *   update:    the player's optimizer (Adam for the EBM, c optionally at its own rate; Adam or
 *              Adamax for the flow), β1, β2, ε from the run's config;
 *   next turn: from the accuracy measured before the update: the flow plays while acc > threshold,
 *              the EBM otherwise (at exactly the threshold the EBM plays: a degenerate classifier
 *              scores 0.5 and would otherwise keep the flow forever); max_mode_steps > 0 caps the
 *              consecutive steps of one player.
 * c₀ = mean(f(x) − log q(x)) over an init batch, so that log p ≈ log q at the start and acc ≈ 0.5
 * (an O(1) c against large log q would saturate the logistic loss). */
#ifndef FCE_TRAIN_FCE_GAME_H
#define FCE_TRAIN_FCE_GAME_H

#include <stddef.h>
#include <stdint.h>

#include "backend/step_vars.h"
#include "fce/backend.h"
#include "fce/params.h"
#include "train/optimizer.h"

/* The networks behind the game, as the trainer drives them. self is the trainer; every buffer is
 * backend memory; rows hold dim values each. */
typedef struct fce_game_models {
    void *self;
    /* The batch of `step`: the data x and the noise model's samples x̃ (n rows each), and its
     * log q at both (n values each); valid until the next draw. */
    fce_status (*draw)(void *self, int64_t step, const float **x, const float **xt, const float **lq,
                       const float **lqt);
    /* f at `rows` rows of in; *f stays valid until the next forward. */
    fce_status (*ebm_forward)(void *self, const float *in, int rows, const float **f);
    /* The backward of the last forward over [x; x̃] from df (2n values, one per row). dx NULL:
     * accumulates the EBM's parameter gradients (c's is nce_loss's). Else ∂V/∂x̃ = df(x̃)·∇ₓf(x̃)
     * into rows [n, 2n) of dx (2n rows) and no parameter gradients; df's data rows and dx's rows
     * [0, n) are then scratch. */
    fce_status (*ebm_backward)(void *self, float *df, float *dx);
    /* The flow's parameter gradients, from scratch, given ∂V/∂log q(x), ∂V/∂x̃ (n rows) and
     * ∂V/∂log q(x̃): backward through the data pass and the sampling pass of the last draw. */
    fce_status (*flow_grads)(void *self, const float *dlq, const float *dxt, const float *dlqt);
    /* After a flow update: recompute what the flow derives from its parameters. */
    fce_status (*flow_refresh)(void *self);
    fce_param_arena *ebm_arena, *flow_arena;
    float *c, *dc; /* c and its gradient, inside the EBM's arena */
} fce_game_models;

/* The rules, from the trainer's config. */
typedef struct fce_game_settings {
    float lr_ebm;    /* Adam over the EBM's parameters */
    float lr_c;      /* Adam's rate for c alone; 0: lr_ebm */
    float lr_flow;
    fce_flow_optim flow_rule;
    float beta1, beta2, adam_eps; /* both optimizers */
    float threshold;              /* the flow plays while acc > threshold */
    int max_mode_steps;           /* cap on consecutive steps of one player (0: none) */
} fce_game_settings;

/* The game's counters live in the trainer's checkpointed state (each trainer's file keeps its own
 * layout); the game reads and advances them through these pointers. */
typedef struct fce_game_counters {
    int64_t *flow_turn;   /* 1: the flow plays the next step */
    int64_t *consecutive; /* steps of the current player so far */
    int64_t *ebm_steps, *flow_steps; /* optimizer steps of each player (bias correction) */
} fce_game_counters;

typedef struct fce_game {
    fce_ctx *ctx;
    fce_game_models models;
    fce_game_settings settings;
    fce_game_counters counters;
    int n;      /* data points (and samples) per step */
    size_t dim; /* values per point */
    /* backend buffers: in, dx (2n rows); df (2n); dlq, dlqt (n); stats (value, accuracy) */
    float *in, *dx, *df, *dlq, *dlqt, *stats;
    /* of the last fce_game_forward: f (2n, data rows first), log q at data and samples (n each) */
    const float *f, *lq, *lqt;
    /* the per-step values (backend/step_vars.h): the optimizers' scalars of this step's update in
     * slots sched_ebm, sched_c (c's own rate) and sched_flow (3 each); drivers reserve theirs too */
    fce_step_vars vars;
    int sched_ebm, sched_c, sched_flow;
} fce_game;

fce_status fce_game_init(fce_game *g, fce_ctx *ctx, const fce_game_models *models,
                         const fce_game_settings *settings, const fce_game_counters *counters, int n,
                         size_t dim);
void fce_game_free(fce_game *g); /* releases the buffers; NULL-safe on a zeroed game */

/* c₀ = mean over the first m rows of (f − log q), f from the EBM at `rows` rows of in (m <= rows),
 * lq (m) in backend memory; written into c. A non-finite c₀ is FCE_STATUS_ERR_NUMERIC. */
fce_status fce_game_init_c(fce_game *g, const float *in, int rows, const float *lq, int m);

/* The contrastive forward of `step`: draw, [x; x̃] into in, the EBM over it; sets f, lq, lqt. */
fce_status fce_game_forward(fce_game *g, int64_t step);
/* V and the gradients of the player (flow_turn 1: the flow, 0: the EBM and c) from the last
 * forward, into its arena's grads; the other player's parameters are untouched. */
fce_status fce_game_grads(fce_game *g, int flow_turn);
/* V and the accuracy of the last forward without gradients (finite differences). */
fce_status fce_game_value(fce_game *g);
/* (value, accuracy) of the last fce_game_grads or fce_game_value: the step's read-back. */
fce_status fce_game_read_stats(fce_game *g, float stats[2]);
/* This rank's stats (as read back from g->stats) made the job's, as fce_game_read_stats does. */
fce_status fce_game_global_stats(fce_game *g, float stats[2]);

/* The player's optimizer step from the gradients in its arena, its step count advanced first, at
 * its rate × lr_scale (a trainer's schedule; 1: constant). The flow's update ends with refresh. */
fce_status fce_game_update_ebm(fce_game *g, float lr_scale);
fce_status fce_game_update_flow(fce_game *g, float lr_scale);
/* The same update in two halves, for a step recorded as a CUDA graph (backend/step_graph.h):
 * plan (host only: the step count advanced, this step's scalars written into g->vars; the caller
 * uploads g->vars once before enqueuing the step) and apply (enqueue only: the all-reduce of a job,
 * the optimizer reading its scalars from g->vars, the flow's refresh). update_* = plan, upload,
 * apply. */
void fce_game_plan_update(fce_game *g, int flow_turn, float lr_scale);
fce_status fce_game_apply_update(fce_game *g, int flow_turn);

/* The turn rule after a step of the player flow_turn that measured accuracy acc (before its
 * update): sets the next player and the consecutive count. */
void fce_game_next_turn(fce_game *g, int flow_turn, float acc);

#endif
