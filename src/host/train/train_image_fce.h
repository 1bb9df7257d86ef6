/* train_image_fce.h: internals of the image FCE trainer (train_image_fce.c), for the tests.
 * The public entry is fce_image_train_fce_run (train_image.h). */
#ifndef FCE_TRAIN_IMAGE_FCE_H
#define FCE_TRAIN_IMAGE_FCE_H

#include <stdint.h>

#include "fce/ebm_image.h"
#include "fce/iglow.h"
#include "fce/train_image.h"
#include "formats/ebm_image_file.h" /* the EBM file the trainer writes */

typedef struct fce_ifce fce_ifce;

/* What one step saw, before its update (host copies of n values each, caller-owned; any NULL). */
typedef struct fce_ifce_probe {
    float *fx, *fxt, *lq, *lqt;
    float c;          /* c used by the step */
    float value, acc; /* the backend's nce_loss stats */
    int flow_turn;    /* the player of this step */
} fce_ifce_probe;

/* Setup + fresh start (c initialisation, --init-flow) or --resume. */
fce_status fce_ifce_create(fce_ifce **t, const fce_image_train_config *cfg);
void fce_ifce_free(fce_ifce *t); /* NULL-safe */
/* One FCE step with its update and the turn rule; probe may be NULL. */
fce_status fce_ifce_step(fce_ifce *t, fce_ifce_probe *probe);
/* The flow's gradient of V at step `step` (no update, no turn change): into its arena's grads.
 * *value receives V. With grads = 0 only V is computed (finite differences). */
fce_status fce_ifce_flow_value(fce_ifce *t, int64_t step, int grads, float *value);
fce_iglow *fce_ifce_flow(fce_ifce *t);
fce_ebm_image *fce_ifce_ebm(fce_ifce *t);
int64_t fce_ifce_steps_done(const fce_ifce *t);

/* For fce-bench: the player of the next fce_ifce_step (1 flow, 0 EBM), overriding the turn rule
 * once (the rule still decides the turn after that step); and the trainer's backend context. */
void fce_ifce_set_turn(fce_ifce *t, int flow_turn);
fce_ctx *fce_ifce_ctx(fce_ifce *t);
/* CUDA graph launches of both players' steps so far (backend/step_graph.h; 0 when eager). */
long fce_ifce_graph_launches(const fce_ifce *t);

#endif
