/* ref.h: the CPU reference ops: plain C, readable, unoptimised. They are the specification of every
 * op, the oracle of the GPU tests and the no-GPU backend (wired into the op table by backend_cpu.c).
 *
 * Each fce_ref_<op> takes the same arguments in the same order as the matching fce_backend_ops entry
 * (include/fce/backend.h, where every op's math is written out) minus the context, and as the CUDA
 * launcher fce_cuda_<op> minus the stream. Reductions accumulate in double.
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=); an op
 * that accumulates into an activation gradient ends in _acc. NULL gradient pointers are skipped. */
#ifndef FCE_REF_H
#define FCE_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void fce_ref_fill_normal(float *x, size_t n, uint64_t seed, uint64_t offset, float std);
void fce_ref_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t offset, float lo, float hi);

void fce_ref_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int in,
                            int out);
void fce_ref_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int N, int in, int out);

void fce_ref_leaky_relu_forward(float *y, const float *x, size_t n, float slope);
void fce_ref_leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n, float slope);

void fce_ref_scale(float *y, const float *x, size_t n, float alpha);

void fce_ref_channels_copy(float *dst, int dst_C, int dst_c0, const float *src, int src_C,
                           int src_c0, int count, size_t rows, int accumulate);

void fce_ref_actnorm_forward(float *y, float *logdet, const float *x, const float *bias,
                             const float *logs, int N, int HW, int C);
void fce_ref_actnorm_inverse(float *x, float *logdet, const float *y, const float *bias,
                             const float *logs, int N, int HW, int C);
void fce_ref_actnorm_backward(float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                              const float *dlogdet, const float *bias, const float *logs, int N,
                              int HW, int C);
void fce_ref_actnorm_inverse_backward(float *dy, float *dbias, float *dlogs, const float *dx,
                                      const float *x, const float *dlogdet, const float *bias,
                                      const float *logs, int N, int HW, int C);
void fce_ref_actnorm_init(float *bias, float *logs, const float *x, int N, int HW, int C);

void fce_ref_invconv_lu_weights(float *W, float *Winv, const float *perm, const float *sign,
                                const float *L, const float *U, const float *logs, int C);
void fce_ref_invconv_lu_backward(float *dL, float *dU, float *dlogs, const float *dW,
                                 const float *dWinv, const float *Winv, const float *perm,
                                 const float *sign, const float *L, const float *U,
                                 const float *logs, int C);
void fce_ref_invconv_logdet(float *logdet, const float *logs, int N, int HW, int C, float dir);
void fce_ref_invconv_logdet_backward(float *dlogs, const float *dlogdet, int N, int HW, int C,
                                     float dir);

void fce_ref_coupling_affine_forward(float *y, float *logdet, const float *x, const float *h, int N,
                                     int HW, int C);
void fce_ref_coupling_affine_inverse(float *x, float *logdet, const float *y, const float *h, int N,
                                     int HW, int C);
void fce_ref_coupling_affine_backward(float *dx, float *dh, const float *dy, const float *y,
                                      const float *h, const float *dlogdet, int N, int HW, int C);
void fce_ref_coupling_affine_inverse_backward(float *dy, float *dh, const float *dx, const float *x,
                                              const float *h, const float *dlogdet, int N, int HW,
                                              int C);

void fce_ref_squeeze_forward(float *y, const float *x, int N, int H, int W, int C);
void fce_ref_squeeze_inverse(float *x, const float *y, int N, int H, int W, int C);
void fce_ref_coupling_additive_forward(float *y, const float *x, const float *h, size_t rows, int C);
void fce_ref_coupling_additive_inverse(float *x, const float *y, const float *h, size_t rows, int C);
void fce_ref_coupling_additive_backward(float *din, float *dh, const float *dout, size_t rows, int C,
                                        float dir);
void fce_ref_gaussian_diag_logp(float *logp, const float *z, const float *mean, const float *logs,
                                int N, int D);
void fce_ref_gaussian_diag_logp_backward_acc(float *dz, float *dmean, float *dlogs, const float *z,
                                             const float *mean, const float *logs,
                                             const float *dlogp, int N, int D);

/* 2D convolution, NHWC, the oracle for cuDNN (not in the op table yet: issue 3 adds the cuDNN path).
 * x (N, H, W, Cin), w (Cout, KH, KW, Cin) (cuDNN's NHWC filter layout), b (Cout) or NULL,
 * y (N, Ho, Wo, Cout) with Ho = (H + 2·pad − KH)/stride + 1 (same for W), zero padding:
 *   y[n, i, j, o] = b[o] + Σ_{ky, kx, c} w[o, ky, kx, c]·x[n, i·stride + ky − pad, j·stride + kx − pad, c]
 * backward_data: dx = Σ over the same terms (overwrite); backward_filter: dw += (accumulate),
 * db += Σ_{n,i,j} dy (accumulate, NULL skips). */
void fce_ref_conv2d_forward(float *y, const float *x, const float *w, const float *b, int N, int H,
                            int W, int Cin, int Cout, int KH, int KW, int stride, int pad);
void fce_ref_conv2d_backward_data(float *dx, const float *dy, const float *w, int N, int H, int W,
                                  int Cin, int Cout, int KH, int KW, int stride, int pad);
void fce_ref_conv2d_backward_filter(float *dw, float *db, const float *dy, const float *x, int N,
                                    int H, int W, int Cin, int Cout, int KH, int KW, int stride,
                                    int pad);

void fce_ref_dequantize(float *x, const uint8_t *u8, size_t n, int n_bits, uint64_t seed,
                        uint64_t offset);
void fce_ref_postprocess(uint8_t *u8, const float *x, size_t n, int n_bits);

void fce_ref_gaussian_logp(float *logp, const float *z, int N, int D);
void fce_ref_gaussian_logp_backward_acc(float *dz, const float *z, const float *dlogp, int N, int D);

void fce_ref_nce_loss(float *stats, float *dfx, float *dfxt, float *dlq, float *dlqt, float *dc,
                      const float *fx, const float *fxt, const float *lq, const float *lqt,
                      const float *c, int n, float gscale);

void fce_ref_softmax_xent(float *stats, float *dlogits, const float *logits, const int32_t *labels,
                          int N, int K, float gscale);

void fce_ref_adam_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                       float b2, float eps, int t);
void fce_ref_adamax_step(float *p, const float *g, float *m, float *u, size_t n, float lr, float b1,
                         float b2, float eps, int t);

#ifdef __cplusplus
}
#endif
#endif
