/* linear_cublas.c: the dense layer with cuBLAS SGEMM (STYLE 6.10).
 *
 * Row-major ↔ column-major: cuBLAS is column-major, and a row-major (R×C) array with row stride C
 * IS a column-major (C×R) array with leading dimension C, i.e. its transpose. So every row-major
 * product A·B = Y is computed as the column-major product Bᵀ·Aᵀ = Yᵀ, and nothing is copied:
 *   forward   y(N,out) = x(N,in)·W(out,in)ᵀ   ⇔  yᵀ(out×N) = W(out×in)·xᵀ(in×N):
 *             W is column-major (in×out), ld = in → OP_T; x is column-major (in×N), ld = in → OP_N;
 *             cublasSgemm(h, OP_T, OP_N, m = out, n = N, k = in, 1, W, in, x, in, beta, y, out)
 *   dx        dx(N,in) = dy(N,out)·W(out,in)  ⇔  dxᵀ(in×N) = Wᵀ(in×out)·dyᵀ(out×N):
 *             cublasSgemm(h, OP_N, OP_N, in, N, out, 1, W, in, dy, out, 0, dx, in)
 *   dW        dW(out,in) += dy(N,out)ᵀ·x(N,in) ⇔ dWᵀ(in×out) += xᵀ(in×N)·dy(N×out):
 *             cublasSgemm(h, OP_N, OP_T, in, out, N, 1, x, in, dy, out, 1, dW, in)
 * The bias: forward writes y[n, o] = b[o] (fce_cuda_bias_broadcast) and then runs the GEMM with
 * beta = 1; db[o] += Σ_n dy[n, o] is fce_cuda_bias_backward (fixed-order, no atomics).
 * Gradient rule: dW and db accumulate (beta = 1, +=); dx overwrites (beta = 0).
 * Exact FP32: the handle is created with CUBLAS_DEFAULT_MATH (no TF32) in backend_cuda.c. */
#include "linear_cublas.h"

#include "check_cuda.h"
#include "fce/log.h"
#include "fce_kernels.h"

fce_status fce_cuda_linear_forward(float *y, const float *x, const float *W, const float *b, int N,
                                   int in, int out, cublasHandle_t handle, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && in >= 0 && out >= 0, "linear_forward: bad shape N = %d, in = %d, out = %d",
               N, in, out);
    FCE_ASSERT(y != x, "linear_forward: y must not alias x");
    if (N == 0 || out == 0) return FCE_STATUS_OK;
    const float one = 1.0f;
    float beta = 0.0f;
    if (b) {
        FCE_TRY(fce_cuda_bias_broadcast(y, b, N, out, stream));
        beta = 1.0f;
    }
    if (in == 0) { /* empty inner product: y = b (or 0) */
        if (!b)
            FCE_CUDA_CHECK(cudaMemsetAsync(y, 0, (size_t)N * (size_t)out * sizeof(float), stream));
        return FCE_STATUS_OK;
    }
    /* yᵀ(out×N) = W(out×in)·xᵀ(in×N) + beta·yᵀ */
    FCE_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, out, N, in, &one, W, in, x, in,
                                 &beta, y, out));
    return FCE_STATUS_OK;
}

fce_status fce_cuda_linear_backward(float *dx, float *dW, float *db, const float *dy,
                                    const float *x, const float *W, int N, int in, int out,
                                    cublasHandle_t handle, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && in >= 0 && out >= 0,
               "linear_backward: bad shape N = %d, in = %d, out = %d", N, in, out);
    const float one = 1.0f, zero = 0.0f;
    if (dx && N > 0 && in > 0) {
        if (out == 0) {
            FCE_CUDA_CHECK(cudaMemsetAsync(dx, 0, (size_t)N * (size_t)in * sizeof(float), stream));
        } else {
            /* dxᵀ(in×N) = Wᵀ(in×out)·dyᵀ(out×N), overwrite (beta = 0) */
            FCE_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, in, N, out, &one, W, in,
                                         dy, out, &zero, dx, in));
        }
    }
    if (dW && N > 0 && in > 0 && out > 0) {
        /* dWᵀ(in×out) += xᵀ(in×N)·dy(N×out), accumulate (beta = 1) */
        FCE_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_T, in, out, N, &one, x, in, dy,
                                     out, &one, dW, in));
    }
    if (db) FCE_TRY(fce_cuda_bias_backward(db, dy, N, out, stream));
    return FCE_STATUS_OK;
}

// ---- the invertible 1×1 maps (no bias): the dense layer's mapping with in = out = C ----

fce_status fce_cuda_invconv_forward(float *y, const float *x, const float *W, int rows, int C,
                                    cublasHandle_t handle, cudaStream_t stream) {
    return fce_cuda_linear_forward(y, x, W, NULL, rows, C, C, handle, stream);
}

fce_status fce_cuda_invconv_forward_halves(float *y, const float *x, const float *W, int rows, int C,
                                           cublasHandle_t handle, cudaStream_t stream) {
    (void)stream; /* the handle is bound to it */
    FCE_ASSERT(rows >= 0 && C >= 2 && C % 2 == 0, "invconv_forward_halves: rows = %d, C = %d", rows, C);
    FCE_ASSERT(y != x, "invconv_forward_halves: y must not alias x");
    if (rows == 0) return FCE_STATUS_OK;
    const int half = C / 2;
    const float one = 1.0f, zero = 0.0f;
    /* batch b: y_bᵀ(half×rows) = W_b(half×C)·xᵀ(C×rows), W_b = rows [b·half, (b+1)·half) of W
     * (column-major C×half, ld C, stride half·C), x shared (stride 0), y_b at b·rows·half. */
    FCE_CUBLAS_CHECK(cublasSgemmStridedBatched(handle, CUBLAS_OP_T, CUBLAS_OP_N, half, rows, C, &one,
                                               W, C, (long long)half * C, x, C, 0, &zero, y, half,
                                               (long long)rows * half, 2));
    return FCE_STATUS_OK;
}

fce_status fce_cuda_invconv_backward(float *dx, float *dW, const float *dy, const float *x,
                                     const float *W, int rows, int C, cublasHandle_t handle,
                                     cudaStream_t stream) {
    return fce_cuda_linear_backward(dx, dW, NULL, dy, x, W, rows, C, C, handle, stream);
}
