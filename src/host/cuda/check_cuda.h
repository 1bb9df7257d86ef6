/* check_cuda.h: checks for CUDA runtime and cuBLAS calls in the C host glue (src/host/cuda/ only).
 *
 * FCE_CHECK_GEN(type, expr, ok, to_string, lib, status) evaluates expr once (as `type`); if the
 * result is not `ok`, it logs through fce_log_error
 *   "<lib> error: <msg> | device <id> | <func> <file>:<line> | <expr>"
 * and returns `status` from the enclosing function (STYLE 6.6). The instances:
 *   FCE_CUDA_CHECK(expr)    cudaError_t      → FCE_STATUS_ERR_CUDA    (cudaGetErrorString)
 *   FCE_CUBLAS_CHECK(expr)  cublasStatus_t   → FCE_STATUS_ERR_CUBLAS  (cublasGetStatusString)
 *   FCE_CUDNN_CHECK(expr)   cudnnStatus_t    → FCE_STATUS_ERR_CUDNN   (cudnnGetErrorString)
 * The _WARN forms log the same line and continue, for *_free paths that must release everything. */
#ifndef FCE_CHECK_CUDA_H
#define FCE_CHECK_CUDA_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "fce/log.h"
#include "fce/status.h"

/* The current device for the message, or −1 when the runtime cannot say (no driver). */
static inline int fce_cuda_check_device_(void) {
    int d = -1;
    if (cudaGetDevice(&d) != cudaSuccess) d = -1;
    return d;
}

#define FCE_CHECK_LOG_(lib, msg, expr_text)                                                        \
    fce_log_error("%s error: %s | device %d | %s %s:%d | %s", (lib), (msg),                       \
                  fce_cuda_check_device_(), __func__, __FILE__, __LINE__, (expr_text))

#define FCE_CHECK_GEN(type, expr, ok, to_string, lib, status)                                     \
    do {                                                                                           \
        type fce_ck_ = (expr);                                                                     \
        if (fce_ck_ != (ok)) {                                                                     \
            FCE_CHECK_LOG_((lib), to_string(fce_ck_), #expr);                                      \
            return (status);                                                                       \
        }                                                                                          \
    } while (0)

#define FCE_CHECK_GEN_WARN(type, expr, ok, to_string, lib)                                        \
    do {                                                                                           \
        type fce_ck_ = (expr);                                                                     \
        if (fce_ck_ != (ok)) FCE_CHECK_LOG_((lib), to_string(fce_ck_), #expr);                     \
    } while (0)

#define FCE_CUDA_CHECK(expr)                                                                       \
    FCE_CHECK_GEN(cudaError_t, expr, cudaSuccess, cudaGetErrorString, "CUDA", FCE_STATUS_ERR_CUDA)
#define FCE_CUBLAS_CHECK(expr)                                                                     \
    FCE_CHECK_GEN(cublasStatus_t, expr, CUBLAS_STATUS_SUCCESS, cublasGetStatusString, "cuBLAS",    \
                  FCE_STATUS_ERR_CUBLAS)
#define FCE_CUDNN_CHECK(expr)                                                                      \
    FCE_CHECK_GEN(cudnnStatus_t, expr, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, "cuDNN",         \
                  FCE_STATUS_ERR_CUDNN)
#define FCE_CUDA_CHECK_WARN(expr)                                                                  \
    FCE_CHECK_GEN_WARN(cudaError_t, expr, cudaSuccess, cudaGetErrorString, "CUDA")
#define FCE_CUBLAS_CHECK_WARN(expr)                                                                \
    FCE_CHECK_GEN_WARN(cublasStatus_t, expr, CUBLAS_STATUS_SUCCESS, cublasGetStatusString, "cuBLAS")
#define FCE_CUDNN_CHECK_WARN(expr)                                                                 \
    FCE_CHECK_GEN_WARN(cudnnStatus_t, expr, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, "cuDNN")

#endif
