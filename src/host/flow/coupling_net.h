/* coupling_net.h: the network NN inside a flow step's coupling layer (SPEC a.6), behind one small
 * interface so that one step implementation (flow_step.h) serves both flows. It owns the choice
 * between the two networks and nothing else:
 *
 *   dense: nn/mlp.h, fc(width) → ReLU → fc(width) → ReLU → zero-initialised fc, one row per point
 *          or pixel (the 2D flow, glow2d.c; optional actnorm after each hidden layer)
 *   conv:  nn/convnet.h, 3×3 conv → actnorm → ReLU → 1×1 → actnorm → ReLU → zero 3×3 conv, NHWC
 *          (the image flow, iglow.c)
 *
 * Input: the first half xa of the coupling's input, (N, h, w, c/2); output: (N, h, w, c) for an
 * affine coupling (shift | log-scale) or (N, h, w, c/2) for an additive one (shift). Both are zero at
 * init, so every coupling starts as the identity. Same two passes as the networks themselves:
 * declare into a parameter table, then bind the views once the arena exists. Parameter gradients
 * always accumulate; the input gradient is overwritten. */
#ifndef FCE_COUPLING_NET_H
#define FCE_COUPLING_NET_H

#include "fce/backend.h"
#include "fce/params.h"
#include "nn/convnet.h"
#include "nn/mlp.h"

typedef enum fce_coupling_net_kind {
    FCE_COUPLING_NET_DENSE, /* nn/mlp.h */
    FCE_COUPLING_NET_CONV,  /* nn/convnet.h */
} fce_coupling_net_kind;

typedef struct fce_coupling_net_config {
    fce_coupling_net_kind kind;
    int width;        /* hidden width */
    int actnorm;      /* dense only: actnorm (SPEC a.3) after each hidden layer */
    const char *name; /* parameter names are "<step>.<name>.…" ("coupling" in 2D, "nn" in images) */
} fce_coupling_net_config;

typedef struct fce_coupling_net {
    fce_coupling_net_kind kind;
    union {
        fce_mlp dense;
        fce_convnet conv;
    } u;
} fce_coupling_net;

/* The activations of one network for a fixed shape (N, h, w): N·h·w rows for the dense network. */
typedef struct fce_coupling_net_tape {
    int hw; /* h·w: pixels per sample */
    union {
        fce_mlp_tape dense;
        fce_convnet_tape conv;
    } u;
} fce_coupling_net_tape;

/* c_in = c/2 input channels, c_out = c (affine) or c/2 (additive) output channels. */
fce_status fce_coupling_net_declare(fce_coupling_net *net, const fce_coupling_net_config *cfg,
                                    fce_param_table *t, const char *step_prefix, int c_in,
                                    int c_out);
void fce_coupling_net_bind(fce_coupling_net *net, const fce_param_table *t,
                           const fce_param_arena *a);
/* Initial values into the host image of the arena (the network's own init rule, seeded). */
void fce_coupling_net_init_host(const fce_coupling_net *net, const fce_param_table *t, float *host,
                                uint64_t seed);

/* A tape for N samples of h × w pixels. The conv network borrows g0, g1 and work (scratch shared by
 * every tape of a flow, convnet.h) when all are given; the dense one owns its scratch and ignores
 * them. */
fce_status fce_coupling_net_tape_init(fce_coupling_net_tape *tp, const fce_coupling_net *net,
                                      fce_ctx *ctx, int N, int h, int w, float *g0, float *g1,
                                      float *work);
void fce_coupling_net_tape_free(fce_coupling_net_tape *tp, const fce_coupling_net *net,
                                fce_ctx *ctx);

/* xa (N, h, w, c/2) → the tape's output; init = 1 first sets the network's inner actnorms from
 * this batch (data-dependent init). N is at most the tape's N (dense) or exactly it (conv). */
fce_status fce_coupling_net_forward(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                    fce_ctx *ctx, const float *xa, int N, int init);
/* Backward of the last forward: dout → dxa (overwritten); parameter gradients accumulate. */
fce_status fce_coupling_net_backward(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                     fce_ctx *ctx, const float *dout, float *dxa, int N);
/* The output of the last forward, (N, h, w, c_out), owned by the tape. */
const float *fce_coupling_net_output(const fce_coupling_net *net, const fce_coupling_net_tape *tp);

/* ---- the fused path of flow_step.c (the conv network only) ----
 * The network's last layer is an actnorm ("the head": out = (raw + bias)·e^{3·logs}). The fused
 * path runs the network up to raw, applies the head itself fused with the coupling (ops.def
 * coupling_additive_*_fused, writing out), and starts the backward from ∂L/∂raw. */
typedef struct fce_coupling_net_head {
    float *raw;              /* the zero conv's output (scratch, valid after forward_raw) */
    float *out;              /* the network output buffer the fused op fills (read by backward) */
    const float *bias, *logs; /* the head's parameters */
    float *dbias, *dlogs;    /* and their gradients */
    float *work;             /* the actnorm backwards' work buffer */
} fce_coupling_net_head;

int fce_coupling_net_has_head(const fce_coupling_net *net);
/* xa → raw (fce_convnet_forward_raw); init as fce_coupling_net_forward. */
fce_status fce_coupling_net_forward_raw(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                        fce_ctx *ctx, const float *xa, int N, int init);
fce_coupling_net_head fce_coupling_net_head_of(const fce_coupling_net *net,
                                               fce_coupling_net_tape *tp);
/* head.raw (∂L/∂raw, filled by the caller) → dxa (overwritten); parameter gradients accumulate. */
fce_status fce_coupling_net_backward_from_raw(const fce_coupling_net *net, fce_coupling_net_tape *tp,
                                              fce_ctx *ctx, float *dxa, int N);

#endif
