/* bench_device_cuda.c: the GPU half of fce-bench (bench_device.h): provenance (device, driver,
 * runtime, cuDNN and cuBLAS versions, queried at run time), the cudaEvent rep timer on the
 * context's stream, the L2 flush, the peak bandwidth (D2D cudaMemcpyAsync) and the peak GEMM rate
 * (cuBLAS SGEMM, FP32 and TF32). Built only with FCE_HAVE_CUDA. Plain C over the CUDA runtime
 * and library headers, like src/host/cuda/. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <library_types.h>

#include "bench_device.h"
#include "cuda/check_cuda.h"
#include "cuda/cuda_bench_hooks.h"
#include "fce/log.h"

/* Logs a failed runtime call and returns its status (for FCE_TRY_GOTO paths). */
static fce_status ck(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return FCE_STATUS_OK;
    fce_log_error("CUDA error: %s | fce-bench | %s", cudaGetErrorString(err), what);
    (void)cudaGetLastError();
    return FCE_STATUS_ERR_CUDA;
}

static fce_status ck_blas(cublasStatus_t s, const char *what) {
    if (s == CUBLAS_STATUS_SUCCESS) return FCE_STATUS_OK;
    fce_log_error("cuBLAS error: %s | fce-bench | %s", cublasGetStatusString(s), what);
    return FCE_STATUS_ERR_CUBLAS;
}

static void ver(char *buf, size_t len, int v) { /* 12040 → "12.4" */
    snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

/* "NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.124.06  ..." → "570.124.06". */
static int kernel_module_version(char *out, size_t len) {
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    if (!f) return 0;
    char line[512];
    int ok = 0;
    if (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "Kernel Module");
        if (p) {
            p += strlen("Kernel Module");
            while (*p == ' ' || *p == '\t') p++;
            size_t n = strcspn(p, " \t\n");
            if (n > 0 && n < len) {
                memcpy(out, p, n);
                out[n] = '\0';
                ok = 1;
            }
        }
    }
    fclose(f);
    return ok;
}

void bench_dev_provenance(const fce_ctx *ctx, bench_provenance *p) {
    bench_provenance_none(p);
    if (!ctx || ctx->kind != FCE_BACKEND_KIND_CUDA) return;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, ctx->device) == cudaSuccess) {
        snprintf(p->gpu_name, sizeof p->gpu_name, "%.*s", (int)sizeof prop.name, prop.name);
        snprintf(p->compute_capability, sizeof p->compute_capability, "%d.%d", prop.major,
                 prop.minor);
        p->l2_bytes = (size_t)prop.l2CacheSize;
        p->mem_total_bytes = prop.totalGlobalMem;
        p->sm_count = prop.multiProcessorCount;
    }
    int v = 0;
    if (cudaDriverGetVersion(&v) == cudaSuccess) ver(p->cuda_driver_api, sizeof p->cuda_driver_api, v);
    if (cudaRuntimeGetVersion(&v) == cudaSuccess) ver(p->cuda_runtime, sizeof p->cuda_runtime, v);
    (void)cudaGetLastError();
    if (!kernel_module_version(p->driver_version, sizeof p->driver_version))
        snprintf(p->driver_version, sizeof p->driver_version, "CUDA driver API %s",
                 p->cuda_driver_api);
    size_t cv = cudnnGetVersion(); /* cuDNN 9: M·10000 + m·100 + p; cuDNN 8: M·1000 + m·100 + p */
    if (cv >= 90000)
        snprintf(p->cudnn_version, sizeof p->cudnn_version, "%zu.%zu.%zu", cv / 10000,
                 (cv % 10000) / 100, cv % 100);
    else
        snprintf(p->cudnn_version, sizeof p->cudnn_version, "%zu.%zu.%zu", cv / 1000,
                 (cv % 1000) / 100, cv % 100);
    int ma = 0, mi = 0, pa = 0;
    if (cublasGetProperty(MAJOR_VERSION, &ma) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(MINOR_VERSION, &mi) == CUBLAS_STATUS_SUCCESS &&
        cublasGetProperty(PATCH_LEVEL, &pa) == CUBLAS_STATUS_SUCCESS)
        snprintf(p->cublas_version, sizeof p->cublas_version, "%d.%d.%d", ma, mi, pa);
}

/* ---- L2 flush ---- */

fce_status bench_dev_flush_alloc(const fce_ctx *ctx, void **buf, size_t *bytes) {
    int l2 = 0;
    FCE_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, ctx->device));
    size_t b = (size_t)256 << 20;
    if (2 * (size_t)l2 > b) b = 2 * (size_t)l2;
    *buf = NULL;
    FCE_CUDA_CHECK(cudaMalloc(buf, b));
    *bytes = b;
    return FCE_STATUS_OK;
}

void bench_dev_flush_free(void *buf) {
    if (buf) FCE_CUDA_CHECK_WARN(cudaFree(buf));
}

fce_status bench_dev_flush(fce_ctx *ctx, void *buf, size_t bytes, int rep) {
    FCE_CUDA_CHECK(cudaMemsetAsync(buf, rep & 0xff, bytes, fce_cuda_ctx_stream(ctx)));
    return FCE_STATUS_OK;
}

/* ---- the rep timer ---- */

fce_status bench_dev_time(bench_env *env, fce_ctx *ctx, int warmup, int reps, bench_fn fn,
                          void *arg, double *ms) {
    cudaStream_t s = fce_cuda_ctx_stream(ctx);
    fce_status st = FCE_STATUS_OK;
    int made = 0;
    cudaEvent_t *ev = calloc((size_t)(2 * reps + 1), sizeof *ev);
    if (!ev) return FCE_STATUS_ERR_NOMEM;
    for (int i = 0; i < 2 * reps; i++, made++)
        FCE_TRY_GOTO(st, ck(cudaEventCreate(&ev[i]), "cudaEventCreate"));
    for (int i = 0; i < warmup; i++) FCE_TRY_GOTO(st, fn(arg));
    for (int r = 0; r < reps; r++) {
        FCE_TRY_GOTO(st, bench_flush(env, ctx)); /* before the start event: not timed */
        FCE_TRY_GOTO(st, ck(cudaEventRecord(ev[2 * r], s), "cudaEventRecord (start)"));
        FCE_TRY_GOTO(st, fn(arg));
        FCE_TRY_GOTO(st, ck(cudaEventRecord(ev[2 * r + 1], s), "cudaEventRecord (stop)"));
    }
    FCE_TRY_GOTO(st, ck(cudaStreamSynchronize(s), "cudaStreamSynchronize after the timed reps"));
    for (int r = 0; r < reps; r++) {
        float t = 0;
        FCE_TRY_GOTO(st, ck(cudaEventElapsedTime(&t, ev[2 * r], ev[2 * r + 1]), "cudaEventElapsedTime"));
        ms[r] = (double)t;
    }
cleanup:
    if (st != FCE_STATUS_OK) (void)cudaStreamSynchronize(s);
    for (int i = 0; i < made; i++) FCE_CUDA_CHECK_WARN(cudaEventDestroy(ev[i]));
    free(ev);
    return st;
}

/* ---- peaks ---- */

/* The fastest of `reps` calls of fn(arg) on stream s, each timed between two events and waited
 * for; the first `warmup` calls do not count. */
typedef fce_status (*dev_call_fn)(void *arg, cudaStream_t s);
static fce_status best_time_ms(cudaStream_t s, int warmup, int reps, dev_call_fn fn, void *arg,
                               double *best) {
    cudaEvent_t e0 = NULL, e1 = NULL;
    fce_status st = FCE_STATUS_OK;
    *best = 1e30;
    FCE_TRY_GOTO(st, ck(cudaEventCreate(&e0), "cudaEventCreate"));
    FCE_TRY_GOTO(st, ck(cudaEventCreate(&e1), "cudaEventCreate"));
    for (int r = 0; r < warmup + reps; r++) {
        FCE_TRY_GOTO(st, ck(cudaEventRecord(e0, s), "cudaEventRecord"));
        FCE_TRY_GOTO(st, fn(arg, s));
        FCE_TRY_GOTO(st, ck(cudaEventRecord(e1, s), "cudaEventRecord"));
        FCE_TRY_GOTO(st, ck(cudaEventSynchronize(e1), "cudaEventSynchronize"));
        float t = 0;
        FCE_TRY_GOTO(st, ck(cudaEventElapsedTime(&t, e0, e1), "cudaEventElapsedTime"));
        if (r >= warmup && t > 0 && t < *best) *best = t;
    }
cleanup:
    (void)cudaStreamSynchronize(s);
    if (e0) FCE_CUDA_CHECK_WARN(cudaEventDestroy(e0));
    if (e1) FCE_CUDA_CHECK_WARN(cudaEventDestroy(e1));
    return st;
}

typedef struct copy_arg {
    void *dst;
    const void *src;
    size_t bytes;
} copy_arg;

static fce_status copy_d2d(void *arg, cudaStream_t s) {
    const copy_arg *c = arg;
    return ck(cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, s),
              "cudaMemcpyAsync D2D");
}

fce_status bench_dev_peak_bandwidth(fce_ctx *ctx, double *gbs) {
    const size_t bytes = (size_t)512 << 20;
    cudaStream_t s = fce_cuda_ctx_stream(ctx);
    void *buf[2] = {NULL, NULL}; /* source, destination */
    double best = 1e30;
    fce_status st = FCE_STATUS_OK;
    for (int i = 0; i < 2 && st == FCE_STATUS_OK; i++)
        st = ck(cudaMalloc(&buf[i], bytes), "cudaMalloc (bandwidth buffers)");
    if (st == FCE_STATUS_OK) st = ck(cudaMemsetAsync(buf[0], 1, bytes, s), "cudaMemsetAsync");
    copy_arg arg = {buf[1], buf[0], bytes};
    if (st == FCE_STATUS_OK) st = best_time_ms(s, 2, 10, copy_d2d, &arg, &best); /* 2 warm-ups */
    if (st == FCE_STATUS_OK) *gbs = 2.0 * (double)bytes / (best * 1e-3) / 1e9;
    (void)cudaStreamSynchronize(s);
    for (int i = 0; i < 2; i++)
        if (buf[i]) FCE_CUDA_CHECK_WARN(cudaFree(buf[i]));
    return st;
}

typedef struct gemm_arg {
    cublasHandle_t h;
    int n;
    const float *A, *B;
    float *C;
} gemm_arg;

static fce_status sgemm_nn(void *arg, cudaStream_t s) {
    const gemm_arg *g = arg;
    const float one = 1.0f, zero = 0.0f;
    (void)s; /* the handle is bound to the stream */
    return ck_blas(cublasSgemm(g->h, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->n, g->n, &one, g->A, g->n,
                               g->B, g->n, &zero, g->C, g->n),
                   "cublasSgemm");
}

fce_status bench_dev_peak_gemm(fce_ctx *ctx, int n, int tf32, double *tflops) {
    const size_t bytes = (size_t)n * (size_t)n * sizeof(float);
    cudaStream_t s = fce_cuda_ctx_stream(ctx);
    cublasHandle_t h = NULL;
    float *A = NULL, *B = NULL, *C = NULL;
    fce_status st = FCE_STATUS_OK;
    double best = 1e30;
    FCE_TRY_GOTO(st, ck_blas(cublasCreate(&h), "cublasCreate"));
    FCE_TRY_GOTO(st, ck_blas(cublasSetStream(h, s), "cublasSetStream"));
    FCE_TRY_GOTO(st, ck_blas(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                             "cublasSetMathMode"));
    FCE_TRY_GOTO(st, ck(cudaMalloc((void **)&A, bytes), "cudaMalloc (GEMM A)"));
    FCE_TRY_GOTO(st, ck(cudaMalloc((void **)&B, bytes), "cudaMalloc (GEMM B)"));
    FCE_TRY_GOTO(st, ck(cudaMalloc((void **)&C, bytes), "cudaMalloc (GEMM C)"));
    /* 0x3c3c3c3c = 0.0115f: normal floats, no overflow in a sum of 8192 products */
    FCE_TRY_GOTO(st, ck(cudaMemsetAsync(A, 0x3c, bytes, s), "cudaMemsetAsync"));
    FCE_TRY_GOTO(st, ck(cudaMemsetAsync(B, 0x3c, bytes, s), "cudaMemsetAsync"));
    gemm_arg arg = {h, n, A, B, C};
    FCE_TRY_GOTO(st, best_time_ms(s, 2, 5, sgemm_nn, &arg, &best)); /* 2 warm-up calls */
    *tflops = 2.0 * (double)n * (double)n * (double)n / (best * 1e-3) / 1e12;
cleanup:
    (void)cudaStreamSynchronize(s);
    if (h) FCE_CUBLAS_CHECK_WARN(cublasDestroy(h));
    if (A) FCE_CUDA_CHECK_WARN(cudaFree(A));
    if (B) FCE_CUDA_CHECK_WARN(cudaFree(B));
    if (C) FCE_CUDA_CHECK_WARN(cudaFree(C));
    return st;
}

fce_status bench_dev_mem_used(fce_ctx *ctx, size_t *used) {
    FCE_TRY(ctx->ops->sync(ctx));
    size_t free_b = 0, total_b = 0;
    FCE_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    *used = total_b - free_b;
    return FCE_STATUS_OK;
}

/* ---- cost counters: only on the emulated GPU (bench_device_emu.c) ---- */

int bench_dev_counters_available(void) { return 0; }

void bench_dev_counters_read(bench_counts *c) { memset(c, 0, sizeof *c); }

int bench_dev_set_count_only(int on) { return on ? -1 : 0; }
