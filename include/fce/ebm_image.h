/* ebm_image.h: the image energy-based model of the paper (Table 4, SPEC d): log p(x) = f(x) − c with,
 * for x (N, H, W, C) NHWC,
 *
 *   h1 = lReLU_0.2(conv4x4 stride 2 pad 1 (x))    C  → 64     H/2 × W/2
 *   h2 = lReLU_0.2(conv4x4 stride 2 pad 1 (h1))   64 → 128    H/4 × W/4
 *   h3 = lReLU_0.2(conv4x4 stride 2 pad 1 (h2))   128 → 256   H/8 × W/8
 *   f  = conv (H/8)×(W/8) stride 1 VALID (h3)     256 → 1     1 × 1, one scalar per image
 *
 * with a bias on every conv, and c a learned scalar (an estimate of log Z) in the same parameter
 * arena. At the paper's 32×32×3 the last kernel is 4×4 and the model has 662,978 parameters
 * including c. H and W must be multiples of 8 (e.g. 16 for tests: the last kernel is then 2×2).
 * Init: Glorot-uniform conv weights (fan_in = KH·KW·Cin, fan_out = KH·KW·Cout), zero biases (Keras
 * defaults, SPEC d); c starts at 0 and is set from data by the trainer (SPEC c.3).
 * Conv weights are stored (Cout, KH, KW, Cin) as rows = Cout, cols = KH·KW·Cin (the op table's
 * layout); parameter names "ebm.conv{0..3}.w", "ebm.conv{0..3}.b", "ebm.c".
 *
 * n_out > 1 gives the same network with n_out outputs per image instead of the scalar f (the last
 * conv is 256 → n_out): the supervised baseline of the linear-probe experiment (probe.h), a
 * classifier with n_out logits. c stays in the arena there, unused. n_out 0 or 1 is the EBM, with
 * exactly the parameters above. */
#ifndef FCE_EBM_IMAGE_H
#define FCE_EBM_IMAGE_H

#include "fce/backend.h"
#include "fce/params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fce_ebm_image_config {
    int H, W, C; /* input image shape; H and W multiples of 8 */
    /* Test-only width reduction: the conv widths are 64/s, 128/s, 256/s with s = width_scale
     * (0 or 1 = the paper's widths; otherwise a power of two ≤ 64). Lets the finite-difference
     * tests run in seconds; production code leaves it 0. */
    int width_scale;
    /* Outputs of the last conv: 0 or 1 = the EBM's scalar f; K > 1 = K logits (classifier). */
    int n_out;
} fce_ebm_image_config;

typedef struct fce_ebm_image fce_ebm_image;
typedef struct fce_ebm_image_tape fce_ebm_image_tape;

fce_status fce_ebm_image_init(fce_ebm_image **e, fce_ctx *ctx, const fce_ebm_image_config *cfg,
                              uint64_t seed);
/* The parameter count (the arena's n_total) of an EBM of this configuration, without allocating
 * it: file readers compare it with a file's before building a model from a header. */
fce_status fce_ebm_image_param_count(const fce_ebm_image_config *cfg, size_t *n_total);
void fce_ebm_image_free(fce_ebm_image *e); /* NULL-safe */
const fce_param_table *fce_ebm_image_params(const fce_ebm_image *e);
fce_ctx *fce_ebm_image_ctx(fce_ebm_image *e);
fce_param_arena *fce_ebm_image_arena(fce_ebm_image *e);
const fce_ebm_image_config *fce_ebm_image_cfg(const fce_ebm_image *e);
/* Conv width of hidden layer l in 0..2 (64, 128, 256 at width_scale 0). */
int fce_ebm_image_width(const fce_ebm_image *e, int l);
/* Outputs per image: 1 for the EBM, cfg.n_out for a classifier. */
int fce_ebm_image_n_out(const fce_ebm_image *e);
/* Zeroes the last conv's weights and bias, so that f ≡ 0 until it is trained: the start of an EBM
 * on a flow base (ebm/ebm_flow_base.h), f = log q₀ + g with g ≡ 0. Gradients still reach the last
 * layer (its input is not zero), and through it the others from the second update on. */
fce_status fce_ebm_image_zero_output_layer(fce_ebm_image *e);
/* Backend pointers to the scalar c and its gradient. */
float *fce_ebm_image_c(fce_ebm_image *e);
float *fce_ebm_image_dc(fce_ebm_image *e);

/* A tape for a fixed batch size N: it owns the four conv plans (made here through
 * ctx->ops->conv_plan_init, never in a training step) and the activations. Forward and backward
 * must be called with exactly this N. */
fce_status fce_ebm_image_tape_init(fce_ebm_image_tape **tp, fce_ebm_image *e, int N);
void fce_ebm_image_tape_free(fce_ebm_image_tape *tp); /* NULL-safe */

/* f(x) for x (N, H, W, C); *f (N × n_out, backend memory, row-major) stays valid until the next
 * forward on this tape. x is borrowed and must stay unchanged until the matching backward. */
fce_status fce_ebm_image_forward(fce_ebm_image *e, fce_ebm_image_tape *tp, const float *x, int N,
                                 const float **f);
/* The top-layer features of the last forward: the third lReLU's output, (N, H/8, W/8, width 2)
 * NHWC, i.e. N rows of fce_ebm_image_feature_dim values (backend memory, valid until the next
 * forward on this tape). The linear probe's features (SPEC d, Fig. 4). */
const float *fce_ebm_image_tape_features(const fce_ebm_image_tape *tp);
/* Values per image of those features: (H/8)·(W/8)·width(2) (4096 at 32×32, paper widths). */
int fce_ebm_image_feature_dim(const fce_ebm_image *e);

/* Backward of the last forward: df (N × n_out) = ∂L/∂f. dx (N, H, W, C) is overwritten if non-NULL (the input
 * gradient the flow's FCE update needs); parameter gradients accumulate if param_grads (else they are
 * untouched). The gradient of c is never touched (nce_loss writes it). */
fce_status fce_ebm_image_backward(fce_ebm_image *e, fce_ebm_image_tape *tp, const float *df,
                                  float *dx, int N, int param_grads);

#ifdef __cplusplus
}
#endif
#endif
