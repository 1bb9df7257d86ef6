/* train_2d_internal.h: the 2D trainer's state (train_2d.c), exposed for the tests, which drive its
 * steps one at a time. Everything here is allocated once at setup. The FCE game (fce_game.h) holds
 * the step's buffers and rules; the report (train_2d_report.h) what the run writes. */
#ifndef FCE_TRAIN_2D_INTERNAL_H
#define FCE_TRAIN_2D_INTERNAL_H

#include "dist/dist.h"
#include "fce/backend.h"
#include "fce/checkpoint.h"
#include "fce/data2d.h"
#include "fce/ebm.h"
#include "fce/glow.h"
#include "fce/train.h"
#include "train/fce_game.h"
#include "train/nce_noise_2d.h"
#include "train/train_2d_report.h"

typedef struct fce_trainer {
    fce_train_config cfg;
    fce_ctx ctx;
    fce_data2d_kind data;
    fce_glow *glow;
    fce_ebm *ebm;
    fce_glow_tape *tp_data, *tp_samp; /* forward on data (and evaluation); inverse for samples */
    fce_ebm_tape *tp_ebm;             /* data rows [0, n), sample rows [n, 2n); evaluation */
    int n, cap_flow, cap_ebm;
    fce_dist_shard shard; /* this rank's n = shard.rows rows of each --batch (all of them alone) */
    /* backend buffers: points (a batch, the init batch or an evaluation chunk), the flow's noise ε,
     * MLE's constant ∂(−mean log q)/∂log q, NCE's samples and log q at data and samples */
    float *d_x, *d_eps, *d_mle_dlq, *d_noise, *d_lq_noise, *d_lqt_noise;
    /* host buffers */
    float *h_x, *h_noise, *h_lq, *h_lqt;
    fce_gauss2 noise; /* --mode nce: the noise model */
    uint64_t seed_data, seed_noise, seed_init;
    fce_train_state st; /* the checkpointed counters (the game's among them) */
    fce_game game;
    fce_report_2d report;
    char path_ckpt[1100];
    int64_t saved_step; /* step of the checkpoint on disk, −1 while none was written */
    int stop_signal;    /* the signal that stopped this session (stop_signal.h), 0: none */
} fce_trainer;

/* The pieces of fce_train_run, exposed for the tests. setup allocates everything (the run folder
 * too); fresh_start initialises actnorm and c; contrastive_grads runs the forward passes of step
 * t->st.step and the gradients of the EBM (flow_turn 0) or of the flow (flow_turn 1) into the
 * arenas, without updating, and returns (value, accuracy); step runs one whole training step. */
fce_status fce_trainer_setup(fce_trainer *t, const fce_train_config *cfg);
void fce_trainer_free(fce_trainer *t);
fce_status fce_trainer_fresh_start(fce_trainer *t);
fce_status fce_trainer_resume(fce_trainer *t);
fce_status fce_trainer_contrastive_grads(fce_trainer *t, int flow_turn, float stats[2]);
fce_status fce_trainer_step(fce_trainer *t);

#endif
