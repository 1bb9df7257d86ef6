/* fce_kernels.h: C prototypes of every CUDA launcher (the ggml-style boundary).
 *
 * Each fce_cuda_<op> takes the arguments of fce_ref_<op> (src/host/ref/ref.h) in the same order,
 * plus the stream; it validates sizes, launches on `stream`, checks cudaGetLastError and returns a
 * status; it never synchronises, allocates or copies between host and device. All pointers are
 * device pointers. The only CUDA type here is cudaStream_t. Dense layers are not here: they are
 * cuBLAS calls in src/host/cuda/linear_cublas.c. */
#ifndef FCE_KERNELS_H
#define FCE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

fce_status fce_cuda_fill_normal(float *x, size_t n, uint64_t seed, uint64_t offset, float std,
                                cudaStream_t stream);
fce_status fce_cuda_fill_uniform(float *x, size_t n, uint64_t seed, uint64_t offset, float lo,
                                 float hi, cudaStream_t stream);

/* y = x·1ᵀ·b broadcast helper used by the cuBLAS linear layer: y[n, o] = b[o] (for the bias GEMM
 * epilogue-free path), and db[o] += Σ_n dy[n, o] in a fixed order. */
fce_status fce_cuda_bias_broadcast(float *y, const float *b, int N, int out, cudaStream_t stream);
fce_status fce_cuda_bias_backward(float *db, const float *dy, int N, int out, cudaStream_t stream);

fce_status fce_cuda_leaky_relu_forward(float *y, const float *x, size_t n, float slope,
                                       cudaStream_t stream);
fce_status fce_cuda_leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n,
                                        float slope, cudaStream_t stream);

fce_status fce_cuda_scale(float *y, const float *x, size_t n, float alpha, cudaStream_t stream);

fce_status fce_cuda_channels_copy(float *dst, int dst_C, int dst_c0, const float *src, int src_C,
                                  int src_c0, int count, size_t rows, int accumulate,
                                  cudaStream_t stream);

fce_status fce_cuda_actnorm_forward(float *y, float *logdet, const float *x, const float *bias,
                                    const float *logs, int N, int HW, int C, cudaStream_t stream);
fce_status fce_cuda_actnorm_inverse(float *x, float *logdet, const float *y, const float *bias,
                                    const float *logs, int N, int HW, int C, cudaStream_t stream);
fce_status fce_cuda_actnorm_backward(float *dx, float *dbias, float *dlogs, const float *dy,
                                     const float *y, const float *dlogdet, const float *bias,
                                     const float *logs, int N, int HW, int C, cudaStream_t stream);
fce_status fce_cuda_actnorm_inverse_backward(float *dy, float *dbias, float *dlogs, const float *dx,
                                             const float *x, const float *dlogdet,
                                             const float *bias, const float *logs, int N, int HW,
                                             int C, cudaStream_t stream);
fce_status fce_cuda_actnorm_init(float *bias, float *logs, const float *x, int N, int HW, int C,
                                 cudaStream_t stream);

fce_status fce_cuda_invconv_lu_weights(float *W, float *Winv, const float *perm, const float *sign,
                                       const float *L, const float *U, const float *logs, int C,
                                       cudaStream_t stream);
fce_status fce_cuda_invconv_lu_backward(float *dL, float *dU, float *dlogs, const float *dW,
                                        const float *dWinv, const float *Winv, const float *perm,
                                        const float *sign, const float *L, const float *U,
                                        const float *logs, int C, cudaStream_t stream);
fce_status fce_cuda_invconv_logdet(float *logdet, const float *logs, int N, int HW, int C,
                                   float dir, cudaStream_t stream);
fce_status fce_cuda_invconv_logdet_backward(float *dlogs, const float *dlogdet, int N, int HW,
                                            int C, float dir, cudaStream_t stream);

fce_status fce_cuda_coupling_affine_forward(float *y, float *logdet, const float *x, const float *h,
                                            int N, int HW, int C, cudaStream_t stream);
fce_status fce_cuda_coupling_affine_inverse(float *x, float *logdet, const float *y, const float *h,
                                            int N, int HW, int C, cudaStream_t stream);
fce_status fce_cuda_coupling_affine_backward(float *dx, float *dh, const float *dy, const float *y,
                                             const float *h, const float *dlogdet, int N, int HW,
                                             int C, cudaStream_t stream);
fce_status fce_cuda_coupling_affine_inverse_backward(float *dy, float *dh, const float *dx,
                                                     const float *x, const float *h,
                                                     const float *dlogdet, int N, int HW, int C,
                                                     cudaStream_t stream);

fce_status fce_cuda_squeeze_forward(float *y, const float *x, int N, int H, int W, int C,
                                    cudaStream_t stream);
fce_status fce_cuda_squeeze_inverse(float *x, const float *y, int N, int H, int W, int C,
                                    cudaStream_t stream);
fce_status fce_cuda_coupling_additive_forward(float *y, const float *x, const float *h, size_t rows,
                                              int C, cudaStream_t stream);
fce_status fce_cuda_coupling_additive_inverse(float *x, const float *y, const float *h, size_t rows,
                                              int C, cudaStream_t stream);
fce_status fce_cuda_coupling_additive_backward(float *din, float *dh, const float *dout, size_t rows,
                                               int C, float dir, cudaStream_t stream);
fce_status fce_cuda_gaussian_diag_logp(float *logp, const float *z, const float *mean,
                                       const float *logs, int N, int D, cudaStream_t stream);
fce_status fce_cuda_gaussian_diag_logp_backward_acc(float *dz, float *dmean, float *dlogs,
                                                    const float *z, const float *mean,
                                                    const float *logs, const float *dlogp, int N,
                                                    int D, cudaStream_t stream);

fce_status fce_cuda_dequantize(float *x, const uint8_t *u8, size_t n, int n_bits, uint64_t seed,
                               uint64_t offset, cudaStream_t stream);
fce_status fce_cuda_postprocess(uint8_t *u8, const float *x, size_t n, int n_bits,
                                cudaStream_t stream);

fce_status fce_cuda_gaussian_logp(float *logp, const float *z, int N, int D, cudaStream_t stream);
fce_status fce_cuda_gaussian_logp_backward_acc(float *dz, const float *z, const float *dlogp, int N,
                                               int D, cudaStream_t stream);

fce_status fce_cuda_nce_loss(float *stats, float *dfx, float *dfxt, float *dlq, float *dlqt,
                             float *dc, const float *fx, const float *fxt, const float *lq,
                             const float *lqt, const float *c, int n, float gscale,
                             cudaStream_t stream);

fce_status fce_cuda_softmax_xent(float *stats, float *dlogits, const float *logits,
                                 const int32_t *labels, int N, int K, float gscale,
                                 cudaStream_t stream);

fce_status fce_cuda_adam_step(float *p, const float *g, float *m, float *v, size_t n, float lr,
                              float b1, float b2, float eps, int t, cudaStream_t stream);
fce_status fce_cuda_adamax_step(float *p, const float *g, float *m, float *u, size_t n, float lr,
                                float b1, float b2, float eps, int t, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
