/* context_cuda.c: "is a CUDA GPU usable?" (backend_internal.h), asked by fce_gpu_usable() before
 * any context is made.
 *
 * n = 0; cudaGetDeviceCount(&n): ANY error, or n == 0, means no. On a build machine with the CUDA
 * runtime but no driver the call returns cudaErrorInsufficientDriver (35) and leaves n untouched
 * (STYLE §7), so the probe must not test for cudaErrorNoDevice only. The reason string is filled
 * with the runtime's message so a skipped GPU test or `--device auto` can say why. */
#include <stdio.h>

#include <cuda_runtime_api.h>

#include "backend/backend_internal.h"

int fce_cuda_gpu_usable(char *reason, size_t reason_len) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* clear it, so it is not reported by a later launch check */
        if (reason && reason_len)
            snprintf(reason, reason_len, "cudaGetDeviceCount failed: %s (%s, %d)",
                     cudaGetErrorString(err), cudaGetErrorName(err), (int)err);
        return 0;
    }
    if (n <= 0) {
        if (reason && reason_len) snprintf(reason, reason_len, "no CUDA device found");
        return 0;
    }
    if (reason && reason_len) snprintf(reason, reason_len, "%d CUDA device(s)", n);
    return 1;
}
