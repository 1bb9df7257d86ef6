/* cuda_bench_hooks.h: what fce-bench (bench/bench_device_cuda.c) needs from the CUDA backend's
 * private state: the context's stream, so that its cudaEvents and L2 flushes are ordered with the
 * ops. Defined in backend_cuda.c (the only file that knows fce_cuda_impl). Not for the product. */
#ifndef FCE_CUDA_BENCH_HOOKS_H
#define FCE_CUDA_BENCH_HOOKS_H

#include <cuda_runtime_api.h>

#include "fce/backend.h"

/* The stream every op of ctx enqueues on; NULL unless ctx is an initialised CUDA context. */
cudaStream_t fce_cuda_ctx_stream(const fce_ctx *ctx);

#endif
