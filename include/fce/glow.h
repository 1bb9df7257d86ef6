/* glow.h: the 2D Glow flow of the paper (Table 3; SPEC a.13): one level of K steps of
 *   actnorm → LU-parameterised invertible D×D map → affine coupling,
 * whose coupling network is fc(width) → ReLU → fc(width) → ReLU → zero-initialised fc, with a
 * standard normal prior. Rows are points (N, D), D even.
 *
 * Actnorm inside the coupling network (SPEC a.3) is optional (nn_actnorm); the default is off, a
 * decision measured in README "Decisions": on a one-dimensional input its data-dependent init is
 * degenerate for the first layer, and the measured runs did not favour it.
 *
 * Four passes: forward (x → z with log q(x)), its backward, inverse (ε → x̃ with log q(x̃), used
 * for sampling) and the backward through the inverse (FCE's flow update goes through the sampling
 * path, SPEC a.12). A tape holds one pass's activations for up to `cap` rows; it is planned once. */
#ifndef FCE_GLOW_H
#define FCE_GLOW_H

#include "fce/backend.h"
#include "fce/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_glow_config {
    int dim;    /* D, even */
    int K;      /* steps */
    int width;  /* coupling network hidden width */
    int nn_actnorm; /* actnorm after each hidden layer of the coupling network (default off) */
} fce_glow_config;

typedef struct fce_glow fce_glow;
typedef struct fce_glow_tape fce_glow_tape;

/* Declares, allocates and initialises the flow on ctx: random orthogonal W per step (seeded),
 * identity actnorm (not yet data-initialised), zero last coupling layer. */
fce_status fce_glow_init(fce_glow **g, fce_ctx *ctx, const fce_glow_config *cfg, uint64_t seed);
void fce_glow_free(fce_glow *g);

const fce_param_table *fce_glow_params(const fce_glow *g);
fce_ctx *fce_glow_ctx(fce_glow *g);
fce_param_arena *fce_glow_arena(fce_glow *g);
const fce_glow_config *fce_glow_cfg(const fce_glow *g);
int fce_glow_actnorm_initialized(const fce_glow *g);
void fce_glow_set_actnorm_initialized(fce_glow *g, int v);

fce_status fce_glow_tape_init(fce_glow_tape **tp, fce_glow *g, int cap);
void fce_glow_tape_free(fce_glow_tape *tp);
/* (N) log q of the last pass; (N, D) input of the last forward / output of the last inverse. */
const float *fce_glow_tape_logq(const fce_glow_tape *tp);
const float *fce_glow_tape_x(const fce_glow_tape *tp);
/* (N, D) latent of the last forward pass / the ε of the last inverse. */
const float *fce_glow_tape_z(const fce_glow_tape *tp);

/* Data-dependent actnorm init: runs x (N rows) through the flow, initialising each actnorm on its
 * own input in topological order (SPEC a.2). Runs once; a loaded or initialised flow skips it. */
fce_status fce_glow_data_init(fce_glow *g, fce_glow_tape *tp, const float *x, int N);

/* x (N, D) → z and log q(x) (into the tape). */
fce_status fce_glow_forward(fce_glow *g, fce_glow_tape *tp, const float *x, int N);
/* ε (N, D) → x̃ = g(ε) and log q(x̃) (into the tape). */
fce_status fce_glow_inverse(fce_glow *g, fce_glow_tape *tp, const float *eps, int N);

/* Gradients. Call zero_grad, then any number of backward / inverse_backward (each accumulates
 * into the parameter gradients), then finish_grad, which folds the gradients w.r.t. W and W⁻¹ into
 * the LU parameters. dlogq (N) = ∂L/∂log q per sample; dx (N, D) = ∂L/∂x̃ (may be NULL). */
fce_status fce_glow_zero_grad(fce_glow *g);
fce_status fce_glow_backward(fce_glow *g, fce_glow_tape *tp, const float *dlogq, int N);
fce_status fce_glow_inverse_backward(fce_glow *g, fce_glow_tape *tp, const float *dx,
                                     const float *dlogq, int N);
fce_status fce_glow_finish_grad(fce_glow *g);

/* Recomputes W and W⁻¹ of every step from the LU parameters; call after every parameter change
 * (optimizer step, load). fce_glow_init calls it. */
fce_status fce_glow_refresh(fce_glow *g);

#ifdef __cplusplus
}
#endif
#endif
