/* convnet.h: the image Glow's coupling network NN (SPEC a.6, conv version) on the backend op table,
 * NHWC, SAME zero padding:
 *
 *   h1  = ReLU(ActNorm(Conv3x3(x)))            Cin → Wd, conv without bias (the actnorm supplies it)
 *   h2  = ReLU(ActNorm(Conv1x1(h1)))           Wd → Wd, no bias
 *   out = (Conv3x3(h2) + b) · e^{3·logs}       Wd → Cout ("conv2d_zeros", logscale factor 3)
 *
 * The inner actnorms are SPEC a.3 (no log-det). The last step is run as the actnorm_forward op with
 * bias b and log-scale logs and no log-det, so its backward is actnorm_backward.
 * Inits (fce_convnet_init_host): inner conv weights N(0, 0.05²), actnorm parameters 0 until the
 * data-dependent init (fce_convnet_forward(..., init = 1)), last conv weights, b and logs all 0, so
 * the output is exactly zero at init (every coupling starts as the identity).
 *
 * OPEN ITEM: [G]'s edge padding (an extra input channel that is 1 on the zero-padded border, SPEC a.6
 * `edgepad`) is not implemented: the 3×3 convs see plain zero padding ([Y]'s variant, allowed by
 * SPEC a.6 [I]), so their input has Cin (resp. Wd) channels, not Cin + 1 (Wd + 1).
 *
 * Two passes, as in mlp.h: fce_convnet_declare adds the tensors to a parameter table; after the arena
 * is allocated, fce_convnet_bind resolves the views. A tape is made for one fixed shape (N, H, W):
 * it owns the three conv plans (made at tape init through ctx->ops->conv_plan_init, never in a
 * training step) and the activations, all allocated once. Forward and backward take exactly the
 * tape's N (asserted); the plans are shape-specific, so another batch size needs another tape.
 * Gradient rule: dx is overwritten, parameter gradients accumulate. */
#ifndef FCE_CONVNET_H
#define FCE_CONVNET_H

#include "fce/backend.h"
#include "fce/params.h"

typedef struct fce_convnet {
    int Cin, Wd, Cout;
    /* table indices: conv weights (Cout, KH, KW, Cin) stored as rows = Cout, cols = KH·KW·Cin */
    int iw[3], ian_b[2], ian_s[2], ib3, is3;
    float *w[3], *an_b[2], *an_s[2], *b3, *s3;       /* parameter views (backend memory) */
    float *dw[3], *dan_b[2], *dan_s[2], *db3, *ds3;  /* gradient views (same offsets in grads) */
} fce_convnet;

typedef struct fce_convnet_tape {
    int N, H, W;                 /* the fixed shape this tape (and its plans) were made for */
    fce_conv_plan *plan[3];      /* conv3x3 Cin→Wd, conv1x1 Wd→Wd, conv3x3 Wd→Cout */
    const float *input;          /* (N, H, W, Cin), borrowed: must outlive backward */
    float *a[2];                 /* ReLU outputs h1, h2 (N, H, W, Wd); the actnorm outputs under
                                    them are not kept: the fused backward needs only a (ops.def
                                    actnorm_relu_backward) */
    float *out;                  /* (N, H, W, Cout) */
    float *g0, *g1;              /* (N·H·W, max(Wd, Cout)): forward scratch (conv outputs; after
                                    fce_convnet_forward_raw g0 holds the zero conv's output) and
                                    the backward's gradient ping-pong buffers */
    float *work;                 /* the actnorm backwards' work buffer (backend.h), for
                                    max(Wd, Cout) channels */
    int owns_scratch;            /* 0: g0, g1, work are borrowed (shared by every tape of a flow) */
} fce_convnet_tape;

fce_status fce_convnet_declare(fce_convnet *net, fce_param_table *t, const char *prefix, int Cin,
                               int Wd, int Cout);
void fce_convnet_bind(fce_convnet *net, const fce_param_table *t, const fce_param_arena *a);
/* Host-side initial values into the arena image `host` (n_total floats): inner conv weights
 * 0.05·fce_philox_normal(seed, ...), everything else 0. */
void fce_convnet_init_host(const fce_convnet *net, const fce_param_table *t, float *host,
                           uint64_t seed);

fce_status fce_convnet_tape_init(fce_convnet_tape *tp, const fce_convnet *net, fce_ctx *ctx, int N,
                                 int H, int W);
/* The same, with g0 and g1 borrowed from the caller, each at least N·H·W·max(Wd, Cout) floats, and
 * work of fce_actnorm_work_floats(max(Wd, Cout)) floats or more: they are scratch within one
 * forward or backward call, so every tape of a flow can share them. */
fce_status fce_convnet_tape_init_shared(fce_convnet_tape *tp, const fce_convnet *net, fce_ctx *ctx,
                                        int N, int H, int W, float *g0, float *g1, float *work);
void fce_convnet_tape_free(fce_convnet_tape *tp, fce_ctx *ctx); /* NULL-safe, idempotent */

/* out = tape->out (N, H, W, Cout) from x (N, H, W, Cin); N must equal tp->N. init = 1 first sets each
 * inner actnorm from its own input on this batch (data-dependent init, in order). */
fce_status fce_convnet_forward(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                               const float *x, int N, int init);
/* The forward up to the zero conv's output, left in tp->g0 (the "raw" head): the last actnorm
 * (b3, s3) is then applied by the caller, fused with what follows (flow_step.c's fused path). */
fce_status fce_convnet_forward_raw(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                                   const float *x, int N, int init);
/* Backward of the last forward pass. dout (N, H, W, Cout); N must equal tp->N. dx (N, H, W, Cin) is
 * overwritten if non-NULL; parameter gradients accumulate if param_grads (else they are untouched). */
fce_status fce_convnet_backward(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                                const float *dout, float *dx, int N, int param_grads);
/* The same from tp->g0 = ∂L/∂(the zero conv's output), which the caller has filled (with the last
 * actnorm's backward and its parameter gradients fused into what produced it). */
fce_status fce_convnet_backward_from_raw(const fce_convnet *net, fce_convnet_tape *tp, fce_ctx *ctx,
                                         float *dx, int N, int param_grads);
static inline const float *fce_convnet_output(const fce_convnet_tape *tp) { return tp->out; }

#endif
