/* bench_device.h: what fce-bench needs from the GPU beyond the op table. bench_device_cuda.c
 * implements it with the CUDA runtime, cuBLAS and cuDNN (built only with FCE_HAVE_CUDA);
 * bench_device_none.c is the stub of CPU-only builds; bench_device_emu.c serves fce-bench-emu, the
 * bench on the emulated GPU of tests/emu, whose only purpose is the cost counters. Every function here is called only for a
 * context of kind FCE_BACKEND_KIND_CUDA, except bench_dev_provenance. */
#ifndef FCE_BENCH_DEVICE_H
#define FCE_BENCH_DEVICE_H

#include <stddef.h>

#include "bench.h"

typedef struct bench_provenance {
    char gpu_name[272];
    char compute_capability[16];
    char driver_version[96];  /* kernel module version from /proc/driver/nvidia/version, else the
                                 CUDA driver API version */
    char cuda_driver_api[16]; /* cudaDriverGetVersion */
    char cuda_runtime[16];    /* cudaRuntimeGetVersion */
    char cudnn_version[32];   /* cudnnGetVersion (the library loaded at run time) */
    char cublas_version[32];  /* cublasGetProperty */
    size_t l2_bytes, mem_total_bytes;
    int sm_count;
} bench_provenance;

/* Every field "none" or 0 (bench_util.c): the provenance of the CPU backend. */
void bench_provenance_none(bench_provenance *p);
/* Fills p; on the CPU backend (or a build without CUDA) every version is "none". */
void bench_dev_provenance(const fce_ctx *ctx, bench_provenance *p);

/* The L2 flush buffer: max(256 MiB, 2·L2) bytes of device memory. */
fce_status bench_dev_flush_alloc(const fce_ctx *ctx, void **buf, size_t *bytes);
void bench_dev_flush_free(void *buf);
/* Enqueues a write of the whole buffer on ctx's stream (never inside a timed region). */
fce_status bench_dev_flush(fce_ctx *ctx, void *buf, size_t bytes, int rep);

/* The rep loop with cudaEvents recorded on ctx's stream around each call; the flush goes between
 * the previous stop event and the next start event. One synchronisation at the end. */
fce_status bench_dev_time(bench_env *env, fce_ctx *ctx, int warmup, int reps, bench_fn fn,
                          void *arg, double *ms);

/* Device-to-device cudaMemcpyAsync of 2 × 512 MiB on ctx's stream: read + write bytes per ms. */
fce_status bench_dev_peak_bandwidth(fce_ctx *ctx, double *gbs);
/* cuBLAS SGEMM n×n×n on ctx's stream with a handle of its own: tf32 = 0 exact FP32
 * (CUBLAS_DEFAULT_MATH), 1 CUBLAS_TF32_TENSOR_OP_MATH. Best of 5 reps, TFLOP/s. */
fce_status bench_dev_peak_gemm(fce_ctx *ctx, int n, int tf32, double *tflops);

/* Device memory in use (total − free, cudaMemGetInfo), after synchronising ctx. */
fce_status bench_dev_mem_used(fce_ctx *ctx, size_t *used);

/* Cost counters (bench_counts.c): only the emulated GPU has them (bench_device_emu.c, the
 * fce-bench-emu build); elsewhere available() is 0 and count-only mode is refused. */
int bench_dev_counters_available(void);
/* The process's counters so far (valid = 1), or valid = 0 without counters. */
void bench_dev_counters_read(bench_counts *c);
/* Count-only mode of the emulation (launches and library calls counted, not run); 0 on success,
 * −1 where there are no counters. Call before any context is made. */
int bench_dev_set_count_only(int on);

#endif
