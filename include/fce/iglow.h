/* iglow.h: the multi-scale image Glow (SPEC a.1–a.11, §e) on the backend op table, NHWC.
 *
 *   x (N, H, W, C) → for level l = 0..L−1:
 *     squeeze (h, w, c) = (H_l/2, W_l/2, 4·C_l);
 *     K × [actnorm (a.2) → LU invertible 1×1 conv on c channels (a.5) → coupling (a.7 additive or
 *          a.8 affine) whose network is fce_convnet (convnet.h, SPEC a.6, plain zero padding)];
 *     l < L−1: split (a.9): z1 = channels [0, c/2) go on to level l+1, z2 = [c/2, c) is scored by a
 *          conditional prior N(z2; μ, e^{2ρ}) with (μ | ρ) = (Conv3x3(z1) + b)·e^{3·logs}, a zero-
 *          initialised 3×3 conv c/2 → c. OUR CONVENTION: its output channels are [μ (c/2) | ρ (c/2)],
 *          contiguous halves, not [G]'s interleaving (a parameterisation choice: equivalent up to a
 *          permutation of the conv's output channels).
 *     l = L−1: learned top prior (a.10, learntop): μ_top and ρ_top of shape (h, w, c) each, shared
 *          over the batch, zero at init (standard normal). They are copied into every row of the
 *          batch; their gradients are the sums over the batch (src/host/flow/iglow_prior.c).
 *   log q(x) = Σ log-dets + Σ split log-densities + top log-density.
 *
 * The latent of level l (fce_iglow_tape_z) is z2 (N, h·w·c/2) for l < L−1 and z_top (N, h·w·c) for
 * l = L−1; the map x ↔ (z_0, …, z_{L−1}) is a bijection of R^{HWC}.
 *
 * Sampling at temperature T: each latent is z = μ + T·e^{ρ}·ε with ε from the caller (one buffer per
 * level, fce_iglow_n_z(g, l) values per sample). The returned log q(x̃) is the log-density OF THE
 * SAMPLED DISTRIBUTION, i.e. every prior is N(μ, T²e^{2ρ}); at T = 1 this is the flow density
 * log q(x̃) itself (what FCE needs, SPEC a.9). For T ≠ 1 it differs from the flow's log q(x̃) by
 * Σ[½(T²−1)ε² − log T] over the latent values, a term that does not depend on the parameters, so
 * the backward through the inverse is the same for every T.
 *
 * Tapes are made for one fixed batch size N (the conv plans are shape-specific, convnet.h): every
 * pass takes exactly the tape's N. Four passes: forward (x → z's, log q(x)), its backward, inverse
 * (ε's → x̃, log q(x̃)) and the backward through the inverse (ε fixed, SPEC a.12). */
#ifndef FCE_IGLOW_H
#define FCE_IGLOW_H

#include "fce/backend.h"
#include "fce/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_iglow_config {
    int H, W, C;  /* input shape; H and W divisible by 2^L */
    int L;        /* levels (≥ 1) */
    int K;        /* steps per level (≥ 1) */
    int width;    /* coupling network width Wd */
    int affine;   /* 1: affine coupling (a.8), 0: additive (a.7) */
} fce_iglow_config;

/* Test preset: 8×8×3, L = 2, K = 2, width 8. */
fce_iglow_config fce_iglow_config_tiny(int affine);

typedef struct fce_iglow fce_iglow;
typedef struct fce_iglow_tape fce_iglow_tape;

/* Declares, allocates and initialises the flow: random orthogonal W per step in LU form (seeded),
 * identity actnorms (not yet data-initialised), zero coupling output layers, zero split priors and
 * a zero top prior. Refreshes W and W⁻¹. */
fce_status fce_iglow_init(fce_iglow **g, fce_ctx *ctx, const fce_iglow_config *cfg, uint64_t seed);
/* The parameter count (the arena's n_total) of a flow of this configuration, without allocating
 * it: file readers compare it with a file's before building a model from a header. */
fce_status fce_iglow_param_count(const fce_iglow_config *cfg, size_t *n_total);
void fce_iglow_free(fce_iglow *g);

const fce_param_table *fce_iglow_params(const fce_iglow *g);
fce_param_arena *fce_iglow_arena(fce_iglow *g);
fce_ctx *fce_iglow_ctx(fce_iglow *g);
const fce_iglow_config *fce_iglow_cfg(const fce_iglow *g);
int fce_iglow_actnorm_initialized(const fce_iglow *g);
void fce_iglow_set_actnorm_initialized(fce_iglow *g, int v);
/* Values per sample of the latent of level l (and of its ε). */
int fce_iglow_n_z(const fce_iglow *g, int l);

fce_status fce_iglow_tape_init(fce_iglow_tape **tp, fce_iglow *g, int N);
/* A tape for forward and inverse passes only (sampling, evaluation): the K coupling networks of a
 * level share one set of activation buffers, so it needs about 1/K of a training tape's memory
 * (cifar10 preset: ~7 MB instead of ~90 MB per picture) and can hold large sampling batches.
 * backward / inverse_backward on it are programmer errors (asserted). */
fce_status fce_iglow_tape_init_inference(fce_iglow_tape **tp, fce_iglow *g, int N);
void fce_iglow_tape_free(fce_iglow_tape *tp);
int fce_iglow_tape_n(const fce_iglow_tape *tp);
/* (N) log q of the last pass; (N, H, W, C) input of the last forward / output of the last inverse. */
const float *fce_iglow_tape_logq(const fce_iglow_tape *tp);
const float *fce_iglow_tape_x(const fce_iglow_tape *tp);
/* (N, fce_iglow_n_z(g, l)) latent of level l and the mean / log-std of its prior, from the last pass
 * (NHWC order over the level's (h, w, channels)). */
const float *fce_iglow_tape_z(const fce_iglow_tape *tp, int l);
const float *fce_iglow_tape_prior_mean(const fce_iglow_tape *tp, int l);
const float *fce_iglow_tape_prior_logs(const fce_iglow_tape *tp, int l);

/* Data-dependent actnorm init (SPEC a.2): one forward pass on x that initialises every actnorm, the
 * flow's and the coupling networks' inner ones, on its own input in topological order. Runs once. */
fce_status fce_iglow_data_init(fce_iglow *g, fce_iglow_tape *tp, const float *x, int N);

/* x (N, H, W, C) → z's and log q(x). */
fce_status fce_iglow_forward(fce_iglow *g, fce_iglow_tape *tp, const float *x, int N);
/* Sets the temperature the tape's next inverse passes use (an upload when it changes; the inverse
 * does this itself, so only a caller that records the inverse as a CUDA graph needs to call it
 * first, outside the recording: backend/step_graph.h). */
fce_status fce_iglow_tape_set_temperature(fce_iglow *g, fce_iglow_tape *tp, float T);
/* eps[l] (N, fce_iglow_n_z(g, l)) for l = 0..L−1 → x̃ and log q(x̃) at temperature T (see above). */
fce_status fce_iglow_inverse(fce_iglow *g, fce_iglow_tape *tp, const float *const *eps, float T,
                             int N);

/* Gradients: zero_grad, then any number of backward / inverse_backward (parameter gradients
 * accumulate), then finish_grad (folds the gradients w.r.t. W and W⁻¹ into the LU parameters).
 * dlogq (N) = ∂L/∂log q per sample; dx (N, H, W, C) = ∂L/∂x̃ (may be NULL). */
fce_status fce_iglow_zero_grad(fce_iglow *g);
fce_status fce_iglow_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq, int N);
/* The same backward that also writes dx (N, H, W, C) = ∂L/∂x = Σ_i dlogq_i·∇ₓ log q(x_i) at the
 * last forward's input (overwritten): the input gradient of log q, which an EBM on a frozen flow
 * base needs (ebm/ebm_flow_base.h). Parameter gradients accumulate as in fce_iglow_backward. */
fce_status fce_iglow_backward_input(fce_iglow *g, fce_iglow_tape *tp, const float *dlogq, float *dx,
                                    int N);
fce_status fce_iglow_inverse_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dx,
                                      const float *dlogq, int N);
fce_status fce_iglow_finish_grad(fce_iglow *g);

/* Recomputes W and W⁻¹ of every step from the LU parameters; call after every parameter change. */
fce_status fce_iglow_refresh(fce_iglow *g);

#ifdef __cplusplus
}
#endif
#endif
