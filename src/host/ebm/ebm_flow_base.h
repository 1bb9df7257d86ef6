/* ebm_flow_base.h: an image EBM on a frozen flow base (`train --ebm-base flow`, an extension beyond
 * the paper): f(x) = log q₀(x) + g(x), with g the paper's conv EBM (ebm_image.h) and q₀ a frozen
 * copy of the flow FCE starts from. With g's output layer zero-initialised, f = log q₀ = log q at
 * the start, so every NCE logit f − c − log q is 0 and the game starts at V = −log 4 instead of in
 * the saturated regime where −log q(x) spreads over hundreds of nats (issue 10).
 *
 * This module owns q₀ and its tapes and adds its terms to g's: log q₀ to the forward, and
 * df·∇ₓ log q₀ to the input gradient the flow's FCE update needs. q₀ is never updated (the
 * backward through it accumulates into its own arena's gradients, which nothing reads; they are
 * zeroed before each use so that they stay finite). g's parameter gradients are g's alone: log q₀
 * has no parameters the EBM trains.
 *
 * Rows: a forward takes n_fwd + n_grad rows; the first n_fwd go through an inference tape (no
 * backward), the last n_grad through a training tape, whose input gradient backward_input gives.
 * The image FCE trainer uses n_fwd = n_grad = n ([x; x̃]: only the samples need ∇ₓ); eval uses
 * n_grad = 0. */
#ifndef FCE_EBM_FLOW_BASE_H
#define FCE_EBM_FLOW_BASE_H

#include "fce/backend.h"
#include "fce/iglow.h"

typedef struct fce_ebm_flow_base {
    fce_iglow *flow;                 /* q₀, owned, frozen */
    fce_iglow_tape *tp_fwd, *tp_grad; /* n_fwd rows (inference), n_grad rows (training; NULL if 0) */
    int n_fwd, n_grad;
    size_t dim;  /* values per row: H·W·C */
    float *f;    /* (n_fwd + n_grad): g + log q₀ of the last forward */
    float *dx;   /* (n_grad, dim): scratch for ∇ₓ log q₀ */
} fce_ebm_flow_base;

/* A frozen copy of src (same architecture and parameters, on src's context) into *copy. */
fce_status fce_ebm_flow_base_copy_flow(fce_iglow **copy, fce_iglow *src);
/* Takes ownership of flow (freed by fce_ebm_flow_base_free, also on failure here). */
fce_status fce_ebm_flow_base_init(fce_ebm_flow_base *b, fce_iglow *flow, int n_fwd, int n_grad);
void fce_ebm_flow_base_free(fce_ebm_flow_base *b); /* NULL-safe on a zeroed b */

/* *f (rows = n_fwd + n_grad values, valid until the next forward) = g (rows values, g's output
 * for the same rows) + log q₀(in). in is (rows, dim). */
fce_status fce_ebm_flow_base_forward(fce_ebm_flow_base *b, const float *in, int rows, const float *g,
                                     const float **f);
/* dx (n_grad rows of dim) += df_i·∇ₓ log q₀(x_i) at the last forward's final n_grad rows, with df
 * (n_grad) = ∂L/∂f at those rows. */
fce_status fce_ebm_flow_base_backward_input(fce_ebm_flow_base *b, const float *df, float *dx);

#endif
