/* tests/emu/include/cublas_v2.h: stand-in for cuBLAS's header, used ONLY by the emulated GPU
 * backend (tests/emu, fce_cuda_emu). Only what src/host/cuda uses: the handle, its stream and math
 * mode, cublasSgemm and cublasSgemmStridedBatched (column-major, host pointer mode) and the status strings. Implemented in
 * tests/emu/fake_cublas.cpp from the cuBLAS documentation. Valid C and C++. */
#ifndef FCE_EMU_CUBLAS_V2_H
#define FCE_EMU_CUBLAS_V2_H

#include "cuda_runtime_api.h"

/* The values are cuBLAS's own. */
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_ARCH_MISMATCH = 8,
    CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_INTERNAL_ERROR = 14,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;

typedef enum {
    CUBLAS_OP_N = 0,
    CUBLAS_OP_T = 1,
    CUBLAS_OP_C = 2,
} cublasOperation_t;

typedef enum {
    CUBLAS_DEFAULT_MATH = 0,
    CUBLAS_TENSOR_OP_MATH = 1,
    CUBLAS_PEDANTIC_MATH = 2,
    CUBLAS_TF32_TENSOR_OP_MATH = 3,
} cublasMath_t;

/* The handle (opaque) and the calls on it. */
typedef struct cublasContext *cublasHandle_t;

EMU_EXTERN_C cublasStatus_t cublasCreate(cublasHandle_t *handle);
EMU_EXTERN_C cublasStatus_t cublasDestroy(cublasHandle_t handle);
EMU_EXTERN_C cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
/* A user workspace for the handle's kernels (reset to the library's pool by cublasSetStream). */
EMU_EXTERN_C cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace,
                                               size_t workspaceSizeInBytes);
EMU_EXTERN_C cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
EMU_EXTERN_C const char *cublasGetStatusString(cublasStatus_t status);
EMU_EXTERN_C cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                                        cublasOperation_t transb, int m, int n, int k,
                                        const float *alpha, const float *A, int lda,
                                        const float *B, int ldb, const float *beta, float *C,
                                        int ldc);

/* C_b = alpha·op(A_b)·op(B_b) + beta·C_b for b < batchCount, X_b = X + b·strideX (a stride of 0
 * shares one matrix across the batch). */
EMU_EXTERN_C cublasStatus_t cublasSgemmStridedBatched(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
    const float *alpha, const float *A, int lda, long long strideA, const float *B, int ldb,
    long long strideB, const float *beta, float *C, int ldc, long long strideC, int batchCount);

#endif
