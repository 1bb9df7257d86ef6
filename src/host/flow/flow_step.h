/* flow_step.h: the Glow flow step, the one implementation shared by the 2D flow (glow2d.c: one block
 * of K steps on (N, D) points, h = w = 1) and the image flow (iglow.c: one block per level on the
 * squeezed (N, h, w, c) images). One step maps x to x' (per pixel, over c channels):
 *
 *   y1 = actnorm(x)                          SPEC a.2, with its log-det
 *   y2 = W·y1                                LU-parameterised invertible c×c map, SPEC a.4/a.5
 *   x' = coupling(y2; NN(xa)), xa = y2[:c/2] affine (SPEC a.8) or additive (a.7); NN: coupling_net.h
 *
 * A block (fce_flow_steps) is K steps on the same c. It owns the steps' parameter declarations and
 * views, their init (random orthogonal W in LU form, identity actnorm, zero coupling output), the
 * c×c scratch W, W⁻¹, dW, dW⁻¹ of every step, and the four passes over the K steps:
 *   forward            x[0] → x[K], adds the log-dets to logq          (density)
 *   inverse            x[K] → x[0], adds the inverse log-dets to ld    (sampling)
 *   backward           ∂L/∂x[K] → ∂L/∂x[0] through the forward
 *   inverse_backward   ∂L/∂x[0] → ∂L/∂x[K] through the inverse (FCE's flow update, SPEC a.12)
 * Gradients w.r.t. W and W⁻¹ collect in dW, dW⁻¹ and are folded into the LU parameters by
 * fce_flow_steps_finish_grad. Layer math: SPEC a.2, a.5, a.7, a.8; backprop bookkeeping: a.12.
 *
 * Tape layout, shared by both directions: x[k] is the input of step k in the forward direction;
 * y1[k] = actnorm(x[k]), y2[k] = W·y1[k], xa[k] = first half of y2[k] (= of x[k+1]), and
 * x[k+1] = coupling(y2[k], NN(xa[k])). The forward fills it bottom-up, the inverse top-down; each
 * backward reads the same slots. On the fused path (additive coupling, conv network: the image
 * flow; flow_step.c) the forward writes y2[k] as planar halves [xa; xb] and the network reads xa
 * there (xa[k] is then unused); the inverse writes y2[k] row-major as above. */
#ifndef FCE_FLOW_STEP_H
#define FCE_FLOW_STEP_H

#include "fce/backend.h"
#include "fce/params.h"
#include "flow/coupling_net.h"
#include "nn/model_params.h"

typedef struct fce_flow_step {
    /* actnorm bias and log-scale (c) */
    fce_param_view actnorm_bias, actnorm_logs;
    /* the LU factors of W: frozen permutation and signs of diag(U) (c), L and U (c×c, strictly
     * lower / upper), log|diag(U)| (c) */
    fce_param_view lu_perm, lu_sign, lu_lower, lu_upper, lu_logs;
    fce_coupling_net net;
    /* c×c: W and W⁻¹ (recomputed from the LU parameters by refresh) and their gradients */
    float *W, *W_inv, *dW, *dW_inv;
} fce_flow_step;

typedef struct fce_flow_steps {
    int K, c;
    int affine;          /* 1: affine couplings, 0: additive */
    int hw;              /* pixels per sample of every pass (1 unless set after declare) */
    fce_flow_step *step; /* K */
    float *lu_scratch;   /* 4·K·c² floats, backend: W of every step, then W⁻¹, dW, dW⁻¹ (so the
                            gradients are one contiguous range: one memset) */
    /* Set by bind: step k's trainable parameter tensors lie k·pstride floats after step 0's, its
     * frozen ones (perm, sign) k·fstride after step 0's (the arena lays every step out alike;
     * bind checks it), so the maps of all K steps are built and differentiated in one batched op
     * each. */
    size_t pstride, fstride;
    /* 1: the fused path (conv network, additive coupling; flow_step.c): the data-independent
     * log-dets come from ld_consts (2K doubles, backend memory, rebuilt by refresh for hw). */
    int fused;
    double *ld_consts;
} fce_flow_steps;

/* The activations of one block for a fixed shape (N, h, w, c). */
typedef struct fce_flow_steps_tape {
    float **x;                  /* K+1 tensors (N, h, w, c) */
    float **y1, **y2;           /* K tensors (N, h, w, c) */
    float **xa;                 /* K tensors (N, h, w, c/2) */
    fce_coupling_net_tape *net; /* K network tapes */
    int shared_net;             /* 1: net[k] are copies of net[0] (forward/inverse only) */
    float *work;                /* the actnorm backwards' work buffer (borrowed; NULL: unfused) */
} fce_flow_steps_tape;

/* The gradient buffers of a backward pass through a block, each (N, h, w, c) at least. The block
 * functions swap d_cur and d_next once per step, so d_cur always holds the current gradient. */
typedef struct fce_flow_grad_bufs {
    float *d_cur, *d_next; /* ping-pong: gradient w.r.t. the current tensor, and the next one */
    float *d_net_out;      /* ∂L/∂(coupling network output) */
    float *d_net_in;       /* ∂L/∂xa, the coupling network's input (N, h, w, c/2) */
} fce_flow_grad_bufs;

/* Declares K steps named "<prefix>.k<k>.actnorm.bias", "….invconv.L", …, "….<net name>.…".
 * fce_flow_steps_free releases what declare and bind allocate (NULL members are fine). */
fce_status fce_flow_steps_declare(fce_flow_steps *fs, fce_param_table *t, const char *prefix, int K,
                                  int c, int affine, const fce_coupling_net_config *net);
/* Resolves the views once the arena exists and allocates the c×c scratch. */
fce_status fce_flow_steps_bind(fce_flow_steps *fs, const fce_param_table *t,
                               const fce_param_arena *a, fce_ctx *ctx);
/* Initial values into the arena's host image: step k (global index first_step + k in the flow)
 * gets a random orthogonal W (lu_init.h) and its network's init, both seeded from seed and the
 * global index; actnorms stay 0 (identity until the data-dependent init). */
void fce_flow_steps_init_host(const fce_flow_steps *fs, const fce_param_table *t, float *host,
                              uint64_t seed, int first_step);
void fce_flow_steps_free(fce_flow_steps *fs, fce_ctx *ctx);

/* W and W⁻¹ from the LU parameters, and the log-dets the fused path adds (after every parameter
 * change, the actnorms' included). */
fce_status fce_flow_steps_refresh(fce_flow_steps *fs, fce_ctx *ctx);
/* Zeroes dW and dW⁻¹ (the arena's gradients are zeroed by the flow, in one call). */
fce_status fce_flow_steps_zero_grad(fce_flow_steps *fs, fce_ctx *ctx);
/* Folds dW and dW⁻¹ into the LU parameters' gradients. */
fce_status fce_flow_steps_finish_grad(fce_flow_steps *fs, fce_ctx *ctx);

/* A tape for N samples of h × w pixels (the dense network: N rows at most). shared_net = 1 gives
 * the K coupling networks one set of activations (about 1/K of the memory; no backward possible).
 * net_g0, net_g1: scratch for the conv networks, shared by every tape of a flow (or NULL); work:
 * fce_actnorm_work_floats(max(c, network width)) floats, shared likewise (NULL: the fused path is
 * not used on this tape and the conv networks own theirs). */
fce_status fce_flow_steps_tape_init(fce_flow_steps_tape *tp, const fce_flow_steps *fs, fce_ctx *ctx,
                                    int N, int h, int w, int shared_net, float *net_g0,
                                    float *net_g1, float *work);
void fce_flow_steps_tape_free(fce_flow_steps_tape *tp, const fce_flow_steps *fs, fce_ctx *ctx);

/* x[0] → x[K] for N samples of hw pixels; logq (N) += the log-dets. init = 1 runs the
 * data-dependent actnorm init of every step and network on its own input, in order. */
fce_status fce_flow_steps_forward(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                  int hw, float *logq, int init);
/* x[K] → x[0]; ld (N) += log|det ∂x[0]/∂x[K]| (each inverse subtracts its forward log-det). */
fce_status fce_flow_steps_inverse(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                  int hw, float *ld);
/* g->d_cur = ∂L/∂x[K] → ∂L/∂x[0] (in g->d_cur again); dlogq (N) = ∂L/∂logq. */
fce_status fce_flow_steps_backward(fce_flow_steps *fs, fce_flow_steps_tape *tp, fce_ctx *ctx, int N,
                                   int hw, const float *dlogq, fce_flow_grad_bufs *g);
/* g->d_cur = ∂L/∂x[0] → ∂L/∂x[K] (in g->d_cur again); dld (N) = ∂L/∂ld. */
fce_status fce_flow_steps_inverse_backward(fce_flow_steps *fs, fce_flow_steps_tape *tp,
                                           fce_ctx *ctx, int N, int hw, const float *dld,
                                           fce_flow_grad_bufs *g);

#endif
