/* fce_kernels.h: C prototypes of every CUDA launcher (the ggml-style boundary).
 *
 * Each fce_cuda_<op> takes the arguments of fce_ref_<op> (src/host/ref/ref.h) in the same order,
 * plus the stream (both are declared from the one op list, include/fce/ops.def); it validates
 * sizes, launches on `stream`, checks cudaGetLastError and returns a status; it never
 * synchronises, allocates or copies between host and device. All pointers are device pointers.
 * The only CUDA type here is cudaStream_t. Dense layers are not here: they are cuBLAS calls in
 * src/host/cuda/linear_cublas.c. */
#ifndef FCE_KERNELS_H
#define FCE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fce_cuda_<op> for every FCE_OP entry of fce/ops.def (the FCE_OP_CUBLAS ones, the dense layer,
 * are in src/host/cuda/linear_cublas.h): the op's parameters, then the stream. Defined in
 * src/kernels/<op>.cu. */
#define FCE_KERNEL_PARAMS(...) (__VA_ARGS__, cudaStream_t stream)
#define FCE_OP(name, params, args) fce_status fce_cuda_##name FCE_KERNEL_PARAMS params;
#define FCE_OP_CUBLAS(name, params, args)
#include "fce/ops.def"
#undef FCE_KERNEL_PARAMS

/* Not table entries: y = x·1ᵀ·b broadcast helper used by the cuBLAS linear layer: y[n, o] = b[o]
 * (for the bias GEMM epilogue-free path), and db[o] += Σ_n dy[n, o] in a fixed order. */
fce_status fce_cuda_bias_broadcast(float *y, const float *b, int N, int out, cudaStream_t stream);
fce_status fce_cuda_bias_backward(float *db, const float *dy, int N, int out, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
