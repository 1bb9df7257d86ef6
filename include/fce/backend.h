/* backend.h: the execution context and the one backend op table.
 *
 * glow.c, ebm.c, mlp.c and the training loop call only ctx->ops->xxx(ctx, ...); they never name a
 * backend. The table is filled once, at fce_ctx_init, by the CPU reference (src/host/ref/backend_cpu.c,
 * plain C, the test oracle) or by the CUDA backend (src/host/cuda/backend_cuda.c, custom kernels and
 * cuBLAS). Every float pointer an op takes lives in that backend's memory (host memory for CPU,
 * device memory for CUDA); only alloc/upload/download cross the boundary.
 *
 * Layout: row-major. A batch of N points of dimension C is x[n*C + c]. Image tensors (later issues)
 * are NHWC and use the same ops with rows = N*H*W pixels, so the 2D case is HW = 1.
 *
 * Gradient rule (project-wide, also in ref.h, common.cuh and README.md): parameter gradients
 * accumulate (+=); activation gradients overwrite (=); an op that accumulates into an activation
 * gradient ends in _acc. A NULL gradient pointer means "not needed" and skips that work.
 *
 * Ops enqueue on the context's stream and do not synchronise, except download() and sync().
 * Each returns FCE_STATUS_OK or the error of the library call that failed (already logged). */
#ifndef FCE_BACKEND_H
#define FCE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest channel count of the LU-parameterised invertible map (the image Glow needs 48). */
#define FCE_INVCONV_MAX_C 64

/* Actnorm's effective log-scale is FACTOR * stored value (openai/glow logscale_factor = 3). */
#define FCE_ACTNORM_LOGSCALE_FACTOR 3.0f

typedef enum fce_backend_kind { FCE_BACKEND_KIND_CPU = 0, FCE_BACKEND_KIND_CUDA = 1 } fce_backend_kind;

typedef struct fce_ctx fce_ctx;

/* A 2D convolution's shape, NHWC: x (N, H, W, Cin), w (Cout, KH, KW, Cin), y (N, Ho, Wo, Cout),
 * Ho = (H + 2·pad − KH)/stride + 1, Wo likewise; zero padding. */
typedef struct fce_conv_shape {
    int N, H, W, Cin, Cout, KH, KW, stride, pad;
} fce_conv_shape;
/* A backend's plan for one conv shape: descriptors, chosen algorithms, workspace needs. Made at
 * setup (conv_plan_init), never inside a training step; owned by the backend. */
typedef struct fce_conv_plan fce_conv_plan;

typedef struct fce_backend_ops {
    /* ---- memory ---- */
    fce_status (*alloc)(fce_ctx *ctx, void **p, size_t bytes);       /* zero-filled */
    void (*release)(fce_ctx *ctx, void *p);                          /* NULL-safe */
    fce_status (*upload)(fce_ctx *ctx, void *dst, const void *src_host, size_t bytes);
    fce_status (*download)(fce_ctx *ctx, void *dst_host, const void *src, size_t bytes); /* syncs */
    fce_status (*copy)(fce_ctx *ctx, void *dst, const void *src, size_t bytes);          /* dev→dev */
    fce_status (*zero)(fce_ctx *ctx, void *p, size_t bytes);
    fce_status (*sync)(fce_ctx *ctx);

    /* ---- random numbers (philox.h): x[i] = philox(seed, offset + i) ---- */
    fce_status (*fill_normal)(fce_ctx *ctx, float *x, size_t n, uint64_t seed, uint64_t offset,
                              float std);
    fce_status (*fill_uniform)(fce_ctx *ctx, float *x, size_t n, uint64_t seed, uint64_t offset,
                               float lo, float hi);

    /* ---- dense layer (cuBLAS on the GPU) ----
     * y(N,out) = x(N,in) · W(out,in)ᵀ + b(out); b may be NULL. y must not alias x. */
    fce_status (*linear_forward)(fce_ctx *ctx, float *y, const float *x, const float *W,
                                 const float *b, int N, int in, int out);
    /* dx(N,in) = dy·W (overwrite), dW(out,in) += dyᵀ·x, db(out) += Σ_n dy. Each output may be NULL. */
    fce_status (*linear_backward)(fce_ctx *ctx, float *dx, float *dW, float *db, const float *dy,
                                  const float *x, const float *W, int N, int in, int out);

    /* ---- activations: y = x > 0 ? x : slope·x (slope 0 is ReLU) ---- */
    fce_status (*leaky_relu_forward)(fce_ctx *ctx, float *y, const float *x, size_t n, float slope);
    /* dx = dy · (x > 0 ? 1 : slope); dx may alias dy. */
    fce_status (*leaky_relu_backward)(fce_ctx *ctx, float *dx, const float *dy, const float *x,
                                      size_t n, float slope);

    /* ---- y = alpha·x (y may alias x); negates log-det accumulators and their gradients ---- */
    fce_status (*scale)(fce_ctx *ctx, float *y, const float *x, size_t n, float alpha);

    /* ---- channel slices: dst[r, dst_c0 + k] (=, or += if accumulate) src[r, src_c0 + k],
     * k < count, r < rows; row strides dst_C and src_C. Used to split/merge coupling halves. */
    fce_status (*channels_copy)(fce_ctx *ctx, float *dst, int dst_C, int dst_c0, const float *src,
                                int src_C, int src_c0, int count, size_t rows, int accumulate);

    /* ---- actnorm (SPEC a.2), rows = N·HW pixels, C channels, s_c = 3·logs_c ----
     * forward:  y = (x + bias)·e^s, logdet[n] += HW·Σ_c s_c   (logdet may be NULL)
     * inverse:  x = y·e^{−s} − bias, logdet[n] −= HW·Σ_c s_c */
    fce_status (*actnorm_forward)(fce_ctx *ctx, float *y, float *logdet, const float *x,
                                  const float *bias, const float *logs, int N, int HW, int C);
    fce_status (*actnorm_inverse)(fce_ctx *ctx, float *x, float *logdet, const float *y,
                                  const float *bias, const float *logs, int N, int HW, int C);
    /* backward of forward: dx = dy·e^s; dbias += Σ dy·e^s; dlogs += 3·(Σ dy·y + HW·Σ_n dlogdet_n).
     * dlogdet (N) may be NULL (no log-det gradient). */
    fce_status (*actnorm_backward)(fce_ctx *ctx, float *dx, float *dbias, float *dlogs,
                                   const float *dy, const float *y, const float *dlogdet,
                                   const float *bias, const float *logs, int N, int HW, int C);
    /* backward of inverse (input y, output x): dy = dx·e^{−s}; dbias += −Σ dx;
     * dlogs += 3·(−Σ dx·(x + bias) − HW·Σ_n dlogdet_n). */
    fce_status (*actnorm_inverse_backward)(fce_ctx *ctx, float *dy, float *dbias, float *dlogs,
                                           const float *dx, const float *x, const float *dlogdet,
                                           const float *bias, const float *logs, int N, int HW,
                                           int C);
    /* data-dependent init: bias = −mean(x), logs = log(1/(√var + 1e−6))/3 over all rows. */
    fce_status (*actnorm_init)(fce_ctx *ctx, float *bias, float *logs, const float *x, int N, int HW,
                               int C);

    /* ---- LU-parameterised invertible C×C map (SPEC a.5) ----
     * W = P·(L⊙M_l + I)·(U⊙M_u + diag(sign·e^logs)), Winv = W⁻¹ (computed in double).
     * perm (C, stored as float): row i of W is row perm[i] of L̄Ū (P[i][perm[i]] = 1).
     * L, U are full C×C arrays whose masked-out entries are ignored. Applying W per row is
     * linear_forward(y, x, W, NULL, rows, C, C). */
    fce_status (*invconv_lu_weights)(fce_ctx *ctx, float *W, float *Winv, const float *perm,
                                     const float *sign, const float *L, const float *U,
                                     const float *logs, int C);
    /* Given dW (grad w.r.t. W from the forward direction) and/or dWinv (w.r.t. Winv from the inverse
     * direction; either may be NULL): G = dW − Winvᵀ·dWinv·Winvᵀ; dL += (Pᵀ G Ūᵀ)⊙M_l;
     * dU += (L̄ᵀ Pᵀ G)⊙M_u; dlogs += diag(L̄ᵀ Pᵀ G)·sign·e^logs. */
    fce_status (*invconv_lu_backward)(fce_ctx *ctx, float *dL, float *dU, float *dlogs,
                                      const float *dW, const float *dWinv, const float *Winv,
                                      const float *perm, const float *sign, const float *L,
                                      const float *U, const float *logs, int C);
    /* logdet[n] += dir·HW·Σ_c logs_c (dir = +1 forward, −1 inverse). */
    fce_status (*invconv_logdet)(fce_ctx *ctx, float *logdet, const float *logs, int N, int HW,
                                 int C, float dir);
    /* dlogs[c] += dir·HW·Σ_n dlogdet[n]. */
    fce_status (*invconv_logdet_backward)(fce_ctx *ctx, float *dlogs, const float *dlogdet, int N,
                                          int HW, int C, float dir);

    /* ---- affine coupling (SPEC a.8), rows = N·HW, C channels (even) ----
     * xa = channels [0, C/2), xb = [C/2, C). h (rows, C) is NN(xa): t_k = h[2k], r_k = h[2k+1],
     * s_k = sigmoid(r_k + 2).
     * forward: ya = xa, yb = (xb + t)·s, logdet[n] += Σ_{pix,k} log s.    (y must not alias x)
     * inverse: xa = ya, xb = yb/s − t, logdet[n] −= Σ log s. */
    fce_status (*coupling_affine_forward)(fce_ctx *ctx, float *y, float *logdet, const float *x,
                                          const float *h, int N, int HW, int C);
    fce_status (*coupling_affine_inverse)(fce_ctx *ctx, float *x, float *logdet, const float *y,
                                          const float *h, int N, int HW, int C);
    /* backward of forward (y is the forward output): dxa = dya; dxb = dyb·s;
     * dh: dt = dyb·s, dr = (1−s)·(dyb·yb + dlogdet_n). dx and dh overwritten; dlogdet may be NULL. */
    fce_status (*coupling_affine_backward)(fce_ctx *ctx, float *dx, float *dh, const float *dy,
                                           const float *y, const float *h, const float *dlogdet,
                                           int N, int HW, int C);
    /* backward of inverse (x is the inverse output): dya = dxa; dyb = dxb/s;
     * dh: dt = −dxb, dr = −(1−s)·(dxb·(xb + t) + dlogdet_n). */
    fce_status (*coupling_affine_inverse_backward)(fce_ctx *ctx, float *dy, float *dh,
                                                   const float *dx, const float *x, const float *h,
                                                   const float *dlogdet, int N, int HW, int C);

    /* ---- image Glow layers (SPEC a.1, a.7, a.9, a.10), NHWC ----
     * squeeze (factor 2): x (N, H, W, C) → y (N, H/2, W/2, 4C) with
     *   y[n, i, j, 4c + 2dy + dx] = x[n, 2i + dy, 2j + dx, c]; H and W even. inverse undoes it.
     * In both, (H, W, C) is the shape of x, the unsqueezed side. Both are permutations: the
     * backward of one is the other applied to the gradients. */
    fce_status (*squeeze_forward)(fce_ctx *ctx, float *y, const float *x, int N, int H, int W, int C);
    fce_status (*squeeze_inverse)(fce_ctx *ctx, float *x, const float *y, int N, int H, int W, int C);
    /* additive coupling, rows = N·HW, C even, h (rows, C/2) = NN(xa):
     * forward: ya = xa, yb = xb + h;  inverse: xa = ya, xb = yb − h;  log-det 0.
     * backward (dir = +1, of the forward; dir = −1, of the inverse), from dout (rows, C), the
     * gradient w.r.t. the op's output: din = dout (whole tensor, overwrite), dh = dir·dout_b
     * (overwrite). din may alias dout; forward/inverse may run in place; dh may be NULL. */
    fce_status (*coupling_additive_forward)(fce_ctx *ctx, float *y, const float *x, const float *h,
                                            size_t rows, int C);
    fce_status (*coupling_additive_inverse)(fce_ctx *ctx, float *x, const float *y, const float *h,
                                            size_t rows, int C);
    fce_status (*coupling_additive_backward)(fce_ctx *ctx, float *din, float *dh, const float *dout,
                                             size_t rows, int C, float dir);
    /* diagonal Gaussian with per-element mean and log-std (the learned split and top priors):
     * logp[n] += Σ_d −½·((z − mean)·e^{−logs})² − logs − ½·log 2π over the D values of sample n.
     * backward, with u = (z − mean)·e^{−logs} and g = dlogp[n]:
     *   dz += −u·e^{−logs}·g (accumulate: z also feeds the rest of the flow),
     *   dmean = u·e^{−logs}·g, dlogs = (u² − 1)·g (overwrite; either may be NULL). */
    fce_status (*gaussian_diag_logp)(fce_ctx *ctx, float *logp, const float *z, const float *mean,
                                     const float *logs, int N, int D);
    fce_status (*gaussian_diag_logp_backward_acc)(fce_ctx *ctx, float *dz, float *dmean, float *dlogs,
                                                  const float *z, const float *mean,
                                                  const float *logs, const float *dlogp, int N, int D);

    /* ---- 2D convolution, NHWC (cuDNN on the GPU; fce_ref_conv2d_* on the CPU) ----
     * conv_plan_init validates the shape, picks algorithms (deterministic ones when ctx->deterministic)
     * and reserves the backend's shared workspace for them: call it at setup only.
     * forward: y = conv(x, w) + b (b may be NULL); backward_data: dx = (overwrite);
     * backward_filter: dw += , db += (db may be NULL). Math: fce_ref_conv2d_* in ref.h. */
    fce_status (*conv_plan_init)(fce_ctx *ctx, fce_conv_plan **plan, const fce_conv_shape *shape);
    void (*conv_plan_free)(fce_ctx *ctx, fce_conv_plan *plan); /* NULL-safe */
    fce_status (*conv2d_forward)(fce_ctx *ctx, const fce_conv_plan *plan, float *y, const float *x,
                                 const float *w, const float *b);
    fce_status (*conv2d_backward_data)(fce_ctx *ctx, const fce_conv_plan *plan, float *dx,
                                       const float *dy, const float *w);
    fce_status (*conv2d_backward_filter)(fce_ctx *ctx, const fce_conv_plan *plan, float *dw,
                                         float *db, const float *dy, const float *x);

    /* ---- image pre/post-processing (SPEC §1), n_bins = 2^n_bits, n_bits in 1..8 ----
     * dequantize: x[i] = floor(u8[i] / 2^(8−n_bits)) / n_bins − ½ + u/n_bins,
     *             u = fce_philox_uniform(seed, offset + i) (fresh noise each use of a datum);
     * postprocess: u8[i] = clip(floor((x[i] + ½)·n_bins)·(256/n_bins), 0, 255).
     * u8 is backend memory of n bytes. */
    fce_status (*dequantize)(fce_ctx *ctx, float *x, const uint8_t *u8, size_t n, int n_bits,
                             uint64_t seed, uint64_t offset);
    fce_status (*postprocess)(fce_ctx *ctx, uint8_t *u8, const float *x, size_t n, int n_bits);

    /* ---- standard normal prior over D dims per sample ----
     * logp[n] += −½Σ z² − (D/2)·log 2π;  backward: dz[n,d] += −z·dlogp[n]. */
    fce_status (*gaussian_logp)(fce_ctx *ctx, float *logp, const float *z, int N, int D);
    fce_status (*gaussian_logp_backward_acc)(fce_ctx *ctx, float *dz, const float *z,
                                             const float *dlogp, int N, int D);

    /* ---- logistic NCE value function (SPEC b), one pass ----
     * a_i = fx_i − c − lq_i (data), b_i = fxt_i − c − lqt_i (samples), n of each.
     * stats[0] = V = −(1/n)[Σ softplus(−a) + Σ softplus(b)], stats[1] = acc =
     * (#{a > 0} + #{b < 0})/(2n) (overwritten). Gradients of L = gscale·(−V) (gscale = +1: the EBM's
     * loss; −1: the flow's loss V):
     *   dfx = −gscale(1−σ(a))/n, dfxt = +gscale·σ(b)/n, dlq = −dfx, dlqt = −dfxt  (overwritten),
     *   dc += gscale·(Σ(1−σ(a)) − Σσ(b))/n. Any gradient pointer may be NULL.
     * Reductions in a fixed order (deterministic). c is a pointer to the backend scalar. */
    fce_status (*nce_loss)(fce_ctx *ctx, float *stats, float *dfx, float *dfxt, float *dlq,
                           float *dlqt, float *dc, const float *fx, const float *fxt,
                           const float *lq, const float *lqt, const float *c, int n, float gscale);

    /* ---- softmax cross-entropy of a K-class classifier (the linear probe, probe.h) ----
     * logits z (N, K) row-major; labels y (N) int32 in [0, K), in backend memory. Per row n, with
     * m = max_k z_k (the stable form): lse = m + log Σ_k e^{z_k − m}, loss_n = lse − z_{y_n},
     * p_k = e^{z_k − lse}. Gradient of L = gscale·Σ_n loss_n (gscale = 1/N: the batch mean):
     *   dlogits[n, k] = gscale·(p_k − [k = y_n])   (overwrite; NULL skips).
     * stats (2 floats) ACCUMULATE: stats[0] += Σ_n loss_n, stats[1] += #{n : argmax_k z_k = y_n}
     * (ties: the lowest k), so a pass over many batches is read back once (zero them first); NULL
     * skips. Element math and sums in double, sums in a fixed order (deterministic). A label outside
     * [0, K) is a caller bug: its row adds NaN to stats[0], is not counted correct, and gets
     * dlogits = gscale·p. */
    fce_status (*softmax_xent)(fce_ctx *ctx, float *stats, float *dlogits, const float *logits,
                               const int32_t *labels, int N, int K, float gscale);

    /* ---- optimizers over one contiguous range; t is the 1-based step count ----
     * Adam:   m = b1 m + (1−b1) g; v = b2 v + (1−b2) g²; p −= lr·m̂/(√v̂ + eps) (bias-corrected)
     * Adamax: m = b1 m + (1−b1) g; u = max(b2 u, |g|); p −= lr/(1−b1^t)·m/(u + eps)  (Keras form) */
    fce_status (*adam_step)(fce_ctx *ctx, float *p, const float *g, float *m, float *v, size_t n,
                            float lr, float b1, float b2, float eps, int t);
    fce_status (*adamax_step)(fce_ctx *ctx, float *p, const float *g, float *m, float *u, size_t n,
                              float lr, float b1, float b2, float eps, int t);
} fce_backend_ops;

struct fce_ctx {
    const fce_backend_ops *ops;
    fce_backend_kind kind;
    int device;              /* CUDA ordinal, −1 for CPU */
    char device_name[128];   /* "cpu (reference backend)" or the GPU name */
    int debug_sync;          /* CUDA: synchronise after every launch to pin async faults */
    int deterministic;       /* CUDA: only deterministic cuDNN algorithms (tests, --deterministic) */
    int tf32;                /* CUDA: TF32 tensor cores for GEMMs and convs (opt-in; see below) */
    void *impl;              /* backend-private state (stream, handles) */
};

/* device_spec: "auto" (GPU 0 if usable, else CPU with a one-line notice), "cpu", or an ordinal "N".
 * A GPU that was asked for by ordinal but is not usable is an error (FCE_STATUS_ERR_CUDA). */
fce_status fce_ctx_init(fce_ctx *ctx, const char *device_spec);
void fce_ctx_free(fce_ctx *ctx);

/* TF32 tensor cores (issue 5's first lever), off by default. On: cuBLAS GEMMs run in
 * CUBLAS_TF32_TENSOR_OP_MATH at once, and conv plans made AFTER this call may pick TF32 cuDNN
 * algorithms (plans made before keep FP32), so call it right after fce_ctx_init, before any model
 * or tape is built. Inputs of each product keep 10 mantissa bits: a GEMM or conv output is then
 * within 5·2⁻¹¹·Σ|a·b| of the exact result (tests/gpu/test_gpu_conv.c checks exactly that bound),
 * not within the FP32 tests' tolerances. The environment variable FCE_TF32=1 turns it
 * on for every CUDA context at creation (e.g. `FCE_TF32=1 fce-gpu train ...`). The CPU backend
 * ignores it (its flag is recorded, its math stays FP32/FP64). */
fce_status fce_ctx_set_tf32(fce_ctx *ctx, int on);

/* CPU backend alone (tests). */
fce_status fce_ctx_init_cpu(fce_ctx *ctx);

/* Is a CUDA GPU usable? 1 yes; 0 no, with the reason in `reason`. Builds without CUDA say so. */
int fce_gpu_usable(char *reason, size_t reason_len);

#ifdef __cplusplus
}
#endif
#endif
