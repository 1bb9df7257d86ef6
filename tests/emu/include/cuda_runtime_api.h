/* tests/emu/include/cuda_runtime_api.h: stand-in for CUDA's runtime API header, used ONLY by the
 * CPU emulation test (tests/emu). It declares the few runtime types and calls that
 * src/kernels/fce_kernels.h and the launchers use: cudaStream_t, cudaError_t, cudaGetLastError,
 * cudaGetErrorString. The sticky "last error" is set by the emulated launch (emu_cuda.h) when a
 * launch configuration is one the device would reject. Never seen by nvcc. */
#ifndef FCE_EMU_CUDA_RUNTIME_API_H
#define FCE_EMU_CUDA_RUNTIME_API_H

#if defined(__CUDACC__)
#error "tests/emu/include is the CPU emulation of CUDA: never put it on nvcc's include path"
#endif
#ifndef __cplusplus
#error "the CUDA emulation (tests/emu) is C++ only"
#endif

#include <atomic>

typedef struct CUstream_st *cudaStream_t;

/* The values are CUDA's own. */
enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorInvalidConfiguration = 9,
};
typedef enum cudaError cudaError_t;

namespace emu {
/* The sticky error of the (single, emulated) device; cudaGetLastError reads and clears it. */
inline std::atomic<int> last_error{0};
}  // namespace emu

inline cudaError_t cudaGetLastError(void) {
    return static_cast<cudaError_t>(emu::last_error.exchange(0));
}
inline cudaError_t cudaPeekAtLastError(void) {
    return static_cast<cudaError_t>(emu::last_error.load());
}
inline const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulated)";
    }
    return "unknown error (emulated)";
}

#endif
