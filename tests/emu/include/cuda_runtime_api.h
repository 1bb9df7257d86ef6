/* tests/emu/include/cuda_runtime_api.h: stand-in for CUDA's runtime API header, used ONLY by the
 * CPU emulation (tests/emu). Never seen by nvcc. It declares the runtime types and calls that
 * src/kernels (the launchers: cudaStream_t, cudaGetLastError, cudaGetErrorString) and the C host
 * glue of src/host/cuda (memory, streams, device queries, stream capture and graphs) use, and
 * nothing else. It is valid C and
 * C++: the glue is compiled as C against it.
 *
 * The calls are implemented in tests/emu/fake_cudart.cpp: device memory is host memory with a
 * registry (so kernels, cuBLAS and cuDNN can check that they get device pointers and stay inside
 * the allocation), streams are checked handles, and all work is synchronous. The sticky "last
 * error" is set by the emulated launch (emu_cuda.h) when a launch configuration is one the device
 * would reject. */
#ifndef FCE_EMU_CUDA_RUNTIME_API_H
#define FCE_EMU_CUDA_RUNTIME_API_H

#if defined(__CUDACC__)
#error "tests/emu/include is the CPU emulation of CUDA: never put it on nvcc's include path"
#endif

#include <stddef.h>

#ifdef __cplusplus
#include <atomic>
#define EMU_EXTERN_C extern "C"
#else
#define EMU_EXTERN_C
#endif

/* The values are CUDA's own. */
enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorIllegalState = 401,
    cudaErrorIllegalAddress = 700,
    cudaErrorStreamCaptureUnsupported = 900, /* an operation not permitted while capturing */
    cudaErrorStreamCaptureInvalidated = 901, /* the capture was invalidated by an earlier error */
    cudaErrorStreamCaptureUnmatched = 903,   /* end capture on a stream that is not capturing */
    cudaErrorStreamCaptureImplicit = 906,    /* the legacy stream used while a capture is active */
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01

/* Only the fields the project reads (name), plus a few for messages. */
struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    int major;
    int minor;
    int multiProcessorCount;
    int warpSize;
};

/* Streams are opaque handles. */
typedef struct CUstream_st *cudaStream_t;

/* Stream capture and graphs (CUDA 12+ signatures; values as in CUDA's driver_types.h). A capturing
 * stream records its work instead of running it; cudaStreamEndCapture returns the recording as a
 * graph, cudaGraphInstantiate makes it launchable, cudaGraphLaunch runs it (fake_cudart.cpp says
 * which calls are refused while capturing). Only global mode is emulated (the one the backend
 * uses); the other modes are refused with cudaErrorInvalidValue. */
typedef struct CUgraph_st *cudaGraph_t;
typedef struct CUgraphExec_st *cudaGraphExec_t;
enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
    cudaStreamCaptureStatusNone = 0,
    cudaStreamCaptureStatusActive = 1,
    cudaStreamCaptureStatusInvalidated = 2,
};

EMU_EXTERN_C cudaError_t cudaGetLastError(void);
EMU_EXTERN_C cudaError_t cudaPeekAtLastError(void);
EMU_EXTERN_C const char *cudaGetErrorString(cudaError_t e);
EMU_EXTERN_C const char *cudaGetErrorName(cudaError_t e);
EMU_EXTERN_C cudaError_t cudaGetDeviceCount(int *count);
EMU_EXTERN_C cudaError_t cudaGetDevice(int *device);
EMU_EXTERN_C cudaError_t cudaSetDevice(int device);
EMU_EXTERN_C cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device);
EMU_EXTERN_C cudaError_t cudaMalloc(void **p, size_t bytes);
EMU_EXTERN_C cudaError_t cudaFree(void *p);
EMU_EXTERN_C cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes,
                                         enum cudaMemcpyKind kind, cudaStream_t stream);
EMU_EXTERN_C cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream);
EMU_EXTERN_C cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags);
EMU_EXTERN_C cudaError_t cudaStreamDestroy(cudaStream_t stream);
EMU_EXTERN_C cudaError_t cudaStreamSynchronize(cudaStream_t stream);
EMU_EXTERN_C cudaError_t cudaDeviceSynchronize(void);
EMU_EXTERN_C cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
#define cudaHostAllocDefault 0x00
/* Page-locked host memory: ordinary host memory here (host, not device, for the checks). */
EMU_EXTERN_C cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned int flags);
EMU_EXTERN_C cudaError_t cudaFreeHost(void *p);
EMU_EXTERN_C cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode);
EMU_EXTERN_C cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
EMU_EXTERN_C cudaError_t cudaStreamIsCapturing(cudaStream_t stream,
                                               enum cudaStreamCaptureStatus *status);
EMU_EXTERN_C cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                              unsigned long long flags);
EMU_EXTERN_C cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
EMU_EXTERN_C cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
EMU_EXTERN_C cudaError_t cudaGraphDestroy(cudaGraph_t graph);

#ifdef __cplusplus
namespace emu {
/* The sticky error of the (single, emulated) device; cudaGetLastError reads and clears it. */
inline std::atomic<int> last_error{0};
}  // namespace emu
#endif

#endif
