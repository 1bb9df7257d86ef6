/* linear_cublas.h: the dense layer on the GPU (cuBLAS SGEMM + the bias kernels of bias.cu).
 * Same arguments and order as fce_ref_linear_forward/backward (ref.h), plus the cuBLAS handle
 * (already bound to `stream`) and the stream. Enqueue only; never synchronise. */
#ifndef FCE_LINEAR_CUBLAS_H
#define FCE_LINEAR_CUBLAS_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "fce/status.h"

/* y(N,out) = x(N,in)·W(out,in)ᵀ + b(out) (b may be NULL); y must not alias x. */
fce_status fce_cuda_linear_forward(float *y, const float *x, const float *W, const float *b, int N,
                                   int in, int out, cublasHandle_t handle, cudaStream_t stream);
/* dx(N,in) = dy·W (overwrite), dW(out,in) += dyᵀ·x, db(out) += Σ_n dy; each may be NULL. */
fce_status fce_cuda_linear_backward(float *dx, float *dW, float *db, const float *dy,
                                    const float *x, const float *W, int N, int in, int out,
                                    cublasHandle_t handle, cudaStream_t stream);

/* The invertible 1×1 maps' products (fce/ops.def, FCE_OP_CUBLAS_FP32), on `handle`, which the
 * backend keeps in exact FP32 math: y(rows, C) = x·Wᵀ; the same as planar halves y = [y_a; y_b]
 * (one strided-batched call); dx = dy·W (overwrite), dW += dyᵀ·x (either may be NULL). */
fce_status fce_cuda_invconv_forward(float *y, const float *x, const float *W, int rows, int C,
                                    cublasHandle_t handle, cudaStream_t stream);
fce_status fce_cuda_invconv_forward_halves(float *y, const float *x, const float *W, int rows, int C,
                                           cublasHandle_t handle, cudaStream_t stream);
fce_status fce_cuda_invconv_backward(float *dx, float *dW, const float *dy, const float *x,
                                     const float *W, int rows, int C, cublasHandle_t handle,
                                     cudaStream_t stream);

#endif
