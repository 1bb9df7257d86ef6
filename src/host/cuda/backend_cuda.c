/* backend_cuda.c: the CUDA backend: context setup/teardown and the fce_backend_ops table
 * (include/fce/backend.h). Its compute entries are generated from include/fce/ops.def as thin
 * wrappers over the kernel launchers (fce_kernels.h) and the cuBLAS dense layer (linear_cublas.h);
 * memory and the cuDNN convolution (conv_cudnn.h) are written out.
 *
 * One non-blocking stream per context (never the legacy default stream); two cuBLAS handles are
 * bound to it, both in exact FP32 (CUBLAS_DEFAULT_MATH: no TF32, STYLE 6.10) unless TF32 is asked
 * for: then the first (dense layers) switches to TF32 tensor-op math and the second, used only by
 * the invertible 1×1 maps (ops.def FCE_OP_CUBLAS_FP32), stays FP32 (README "TF32"). Every op enqueues on
 * that stream and returns without synchronising, except download() and sync(); upload() copies a
 * small source into a pinned staging ring first (so the source may be reused at once without
 * waiting for the device) and waits only for a large one. With ctx->debug_sync (CLI
 * --debug-sync, or FCE_DEBUG_SYNC=1 at init) every op synchronises and checks afterwards, so an
 * asynchronous fault is reported at the op that caused it (not while a graph is being recorded:
 * a capturing stream cannot be synchronised).
 *
 * CUDA graphs (backend.h graph_begin/end/launch/free): graph_begin starts a stream capture of the
 * context's stream; until graph_end, every op is recorded, not run, and upload, download, sync,
 * alloc, release and conv_plan_init are refused (FCE_STATUS_ERR_UNSUPPORTED, logged "<op> inside
 * a captured step"), which also makes graph_end fail (no graph; the context then works eagerly
 * again). Both cuBLAS handles get a workspace of their own at setup (cuda_cublas_workspaces), so a
 * captured GEMM uses memory this backend owns instead of one cuBLAS would allocate per capture.
 *
 * defines: fce_cuda_backend_init, fce_cuda_backend_free (backend_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "check_cuda.h"
#include "conv_cudnn.h"
#include "cuda_bench_hooks.h"
#include "fce/log.h"
#include "fce_kernels.h"
#include "linear_cublas.h"

/* Uploads up to this size go through the pinned staging ring (see cuda_upload). */
#define FCE_CUDA_STAGE_BYTES ((size_t)16 << 20)

typedef struct fce_cuda_impl {
    cudaStream_t stream;   /* the context's stream; all work goes here */
    cublasHandle_t cublas; /* bound to `stream`; TF32 tensor-op math when ctx->tf32 */
    cublasHandle_t cublas_fp32; /* bound to `stream`, always exact FP32: the invertible maps
                                   (ops.def FCE_OP_CUBLAS_FP32), whose inverse must stay exact */
    fce_cudnn_state cudnn; /* cuDNN handle bound to `stream` + the shared conv workspace */
    /* Pinned host staging for uploads: filled front to back; a region may be reused only once
     * the stream has been synchronised past the copy that reads it, so `stage_used` goes back to
     * 0 at every full synchronisation (download, sync, or a full ring). */
    unsigned char *stage;
    size_t stage_used;
    void *cublas_ws[2];     /* cublasSetWorkspace buffers of `cublas` and `cublas_fp32` */
    /* Graph recording (graph_begin .. graph_end): the first failure of an op while recording
     * (capture_status; a refused op is FCE_STATUS_ERR_UNSUPPORTED), and the buffers released
     * while recording, freed once the capture has ended (cudaFree cannot be captured). */
    int capturing;
    fce_status capture_status;
    void **deferred_free;
    int n_deferred, cap_deferred;
} fce_cuda_impl;

/* A recorded step, instantiated (backend.h fce_graph). */
struct fce_graph {
    cudaGraphExec_t exec;
};

static fce_cuda_impl *cuda_impl(fce_ctx *ctx) { return (fce_cuda_impl *)ctx->impl; }
static cudaStream_t cuda_stream(fce_ctx *ctx) { return cuda_impl(ctx)->stream; }

/* Ends every op: a failure while recording makes the recording fail (graph_end); with debug_sync
 * (and not recording), wait for the stream and report a fault against `op`. */
static fce_status cuda_done(fce_ctx *ctx, fce_status st, const char *op) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (st != FCE_STATUS_OK && impl->capturing && impl->capture_status == FCE_STATUS_OK)
        impl->capture_status = st;
    if (st != FCE_STATUS_OK || !ctx->debug_sync || impl->capturing) return st;
    cudaError_t err = cudaStreamSynchronize(cuda_stream(ctx));
    if (err != cudaSuccess) {
        fce_log_error("CUDA error: %s | device %d | debug sync after op %s",
                      cudaGetErrorString(err), ctx->device, op);
        return FCE_STATUS_ERR_CUDA;
    }
    return FCE_STATUS_OK;
}

/* Refuses `op` while a graph is recorded: a recorded step can hold no host transfer, no
 * synchronisation and no allocation (cudaStreamCaptureModeGlobal would reject them and
 * invalidate the capture; refusing before calling CUDA names the op). The recording fails. */
static fce_status cuda_refuse_in_capture(fce_ctx *ctx, const char *op) {
    fce_log_error("%s inside a captured step (device %d): a CUDA graph cannot record host transfers, "
                  "synchronisations or allocations; the op is refused and the graph will not be made",
                  op, ctx->device);
    return cuda_done(ctx, FCE_STATUS_ERR_UNSUPPORTED, op);
}

/* A CUDA call enqueued by op `op`: OK, or its error logged. */
static fce_status cuda_call_status(fce_ctx *ctx, cudaError_t err, const char *op) {
    if (err == cudaSuccess) return FCE_STATUS_OK;
    fce_log_error("CUDA error: %s | device %d | op %s", cudaGetErrorString(err), ctx->device, op);
    return FCE_STATUS_ERR_CUDA;
}

// ---- memory ----

static fce_status cuda_alloc(fce_ctx *ctx, void **p, size_t bytes) {
    *p = NULL;
    if (cuda_impl(ctx)->capturing) return cuda_refuse_in_capture(ctx, "alloc");
    if (bytes == 0) return FCE_STATUS_OK;
    cudaError_t err = cudaMalloc(p, bytes);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky; do not leak it */
        *p = NULL;
        fce_log_error("CUDA error: %s | device %d | cudaMalloc of %zu bytes (%.1f MiB) failed",
                      cudaGetErrorString(err), ctx->device, bytes, (double)bytes / 1048576.0);
        return FCE_STATUS_ERR_CUDA;
    }
    fce_status st = FCE_STATUS_OK;
    err = cudaMemsetAsync(*p, 0, bytes, cuda_stream(ctx));
    if (err == cudaSuccess) err = cudaStreamSynchronize(cuda_stream(ctx));
    if (err != cudaSuccess) {
        fce_log_error("CUDA error: %s | device %d | zero-filling a new buffer of %zu bytes",
                      cudaGetErrorString(err), ctx->device, bytes);
        FCE_CUDA_CHECK_WARN(cudaFree(*p));
        *p = NULL;
        st = FCE_STATUS_ERR_CUDA;
    }
    return st;
}

/* While recording, the free waits for graph_end (and the recording fails: a step that frees
 * memory cannot be replayed). */
static void cuda_release(fce_ctx *ctx, void *p) {
    if (!p) return;
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (!impl->capturing) {
        FCE_CUDA_CHECK_WARN(cudaFree(p));
        return;
    }
    (void)cuda_refuse_in_capture(ctx, "release");
    if (impl->n_deferred == impl->cap_deferred) {
        int cap = impl->cap_deferred ? 2 * impl->cap_deferred : 16;
        void **grown = realloc(impl->deferred_free, (size_t)cap * sizeof *grown);
        if (!grown) {
            fce_log_error("out of host memory deferring a device free; %p is leaked", p);
            return;
        }
        impl->deferred_free = grown;
        impl->cap_deferred = cap;
    }
    impl->deferred_free[impl->n_deferred++] = p;
}

/* The frees deferred while recording (after the capture has ended). */
static void cuda_free_deferred(fce_cuda_impl *impl) {
    for (int i = 0; i < impl->n_deferred; i++) FCE_CUDA_CHECK_WARN(cudaFree(impl->deferred_free[i]));
    impl->n_deferred = 0;
}

/* Waits for the stream; every staged upload has then been read, so the ring starts over. */
static fce_status cuda_stream_wait(fce_ctx *ctx) {
    FCE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(ctx)));
    cuda_impl(ctx)->stage_used = 0;
    return FCE_STATUS_OK;
}

/* The source may be reused as soon as this returns. A small upload (a training batch, a few
 * scalars) is copied into the pinned staging ring and enqueued without waiting for the device, so
 * a training step synchronises only where it reads a result back; a large one (parameters at
 * setup) is copied straight from the caller's memory and waited for. The ring is allocated with
 * the first small upload (setup), never inside a steady-state step; when a step's uploads fill it,
 * it waits for the stream once (counted by the emulation's cost counters like any sync). */
static fce_status cuda_upload(fce_ctx *ctx, void *dst, const void *src_host, size_t bytes) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (impl->capturing) return cuda_refuse_in_capture(ctx, "upload");
    if (bytes == 0) return FCE_STATUS_OK;
    if (bytes > FCE_CUDA_STAGE_BYTES) {
        FCE_CUDA_CHECK(cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, impl->stream));
        return cuda_stream_wait(ctx);
    }
    if (!impl->stage) {
        FCE_CUDA_CHECK(cudaHostAlloc((void **)&impl->stage, FCE_CUDA_STAGE_BYTES, cudaHostAllocDefault));
        impl->stage_used = 0;
    }
    const size_t at = (impl->stage_used + 255) / 256 * 256; /* each copy 256-byte aligned */
    if (at + bytes > FCE_CUDA_STAGE_BYTES) FCE_TRY(cuda_stream_wait(ctx));
    const size_t off = impl->stage_used ? at : 0;
    memcpy(impl->stage + off, src_host, bytes);
    FCE_CUDA_CHECK(cudaMemcpyAsync(dst, impl->stage + off, bytes, cudaMemcpyHostToDevice, impl->stream));
    impl->stage_used = off + bytes;
    return cuda_done(ctx, FCE_STATUS_OK, "upload");
}

static fce_status cuda_download(fce_ctx *ctx, void *dst_host, const void *src, size_t bytes) {
    if (cuda_impl(ctx)->capturing) return cuda_refuse_in_capture(ctx, "download");
    if (bytes == 0) return FCE_STATUS_OK;
    FCE_CUDA_CHECK(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(ctx)));
    return cuda_stream_wait(ctx);
}

static fce_status cuda_copy(fce_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return FCE_STATUS_OK;
    cudaError_t err = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(ctx));
    return cuda_done(ctx, cuda_call_status(ctx, err, "copy"), "copy");
}

static fce_status cuda_zero(fce_ctx *ctx, void *p, size_t bytes) {
    if (bytes == 0) return FCE_STATUS_OK;
    cudaError_t err = cudaMemsetAsync(p, 0, bytes, cuda_stream(ctx));
    return cuda_done(ctx, cuda_call_status(ctx, err, "zero"), "zero");
}

static fce_status cuda_sync(fce_ctx *ctx) {
    if (cuda_impl(ctx)->capturing) return cuda_refuse_in_capture(ctx, "sync");
    return cuda_stream_wait(ctx);
}

// ---- the compute ops of fce/ops.def ----

/* cuda_<op>(ctx, params): the launcher fce_cuda_<op>(args, stream) (fce_kernels.h), or for the
 * dense layer fce_cuda_<op>(args, cublas, stream) (linear_cublas.h), then cuda_done. */
#define CUDA_KERNEL_ARGS(...) (__VA_ARGS__, cuda_stream(ctx))
#define CUDA_CUBLAS_ARGS(...) (__VA_ARGS__, cuda_impl(ctx)->cublas, cuda_stream(ctx))
#define CUDA_CUBLAS_FP32_ARGS(...) (__VA_ARGS__, cuda_impl(ctx)->cublas_fp32, cuda_stream(ctx))
#define FCE_OP(name, params, args)                                                                 \
    static fce_status cuda_##name FCE_OP_CTX_PARAMS params {                                       \
        return cuda_done(ctx, fce_cuda_##name CUDA_KERNEL_ARGS args, #name);                       \
    }
#define FCE_OP_CUBLAS(name, params, args)                                                          \
    static fce_status cuda_##name FCE_OP_CTX_PARAMS params {                                       \
        return cuda_done(ctx, fce_cuda_##name CUDA_CUBLAS_ARGS args, #name);                       \
    }
#define FCE_OP_CUBLAS_FP32(name, params, args)                                                     \
    static fce_status cuda_##name FCE_OP_CTX_PARAMS params {                                       \
        return cuda_done(ctx, fce_cuda_##name CUDA_CUBLAS_FP32_ARGS args, #name);                  \
    }
#include "fce/ops.def"
#undef CUDA_KERNEL_ARGS
#undef CUDA_CUBLAS_ARGS
#undef CUDA_CUBLAS_FP32_ARGS

// ---- 2D convolution (cuDNN, conv_cudnn.c) ----

static fce_status cuda_conv_plan_init(fce_ctx *ctx, fce_conv_plan **plan,
                                      const fce_conv_shape *shape) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (impl->capturing) { /* it may grow the workspace: a synchronisation and an allocation */
        *plan = NULL;
        return cuda_refuse_in_capture(ctx, "conv_plan_init");
    }
    return fce_cudnn_conv_plan_init(&impl->cudnn, impl->stream, ctx->deterministic, ctx->tf32, plan,
                                    shape);
}

static void cuda_conv_plan_free(fce_ctx *ctx, fce_conv_plan *plan) {
    (void)ctx;
    fce_cudnn_conv_plan_free(plan);
}

static fce_status cuda_conv2d_forward(fce_ctx *ctx, const fce_conv_plan *plan, float *y,
                                      const float *x, const float *w, const float *b) {
    return cuda_done(ctx, fce_cudnn_conv2d_forward(&cuda_impl(ctx)->cudnn, plan, y, x, w, b),
                     "conv2d_forward");
}

static fce_status cuda_conv2d_backward_data(fce_ctx *ctx, const fce_conv_plan *plan, float *dx,
                                            const float *dy, const float *w) {
    return cuda_done(ctx, fce_cudnn_conv2d_backward_data(&cuda_impl(ctx)->cudnn, plan, dx, dy, w),
                     "conv2d_backward_data");
}

static fce_status cuda_conv2d_backward_filter(fce_ctx *ctx, const fce_conv_plan *plan, float *dw,
                                              float *db, const float *dy, const float *x) {
    return cuda_done(
        ctx, fce_cudnn_conv2d_backward_filter(&cuda_impl(ctx)->cudnn, plan, dw, db, dy, x),
        "conv2d_backward_filter");
}

// ---- CUDA graphs (backend.h) ----

/* Global capture mode: while the step is recorded, any potentially unsafe CUDA call of ANY thread
 * of the process (cudaMalloc, a synchronisation, ...) fails and invalidates the capture instead of
 * running eagerly outside the graph. The trainer issues all CUDA work from one thread, so this is
 * the strictest check at no cost, and it is the mode NCCL's documentation names as compatible
 * with capturing its collectives in single-threaded use. */
static fce_status cuda_graph_begin(fce_ctx *ctx) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (impl->capturing) {
        fce_log_error("graph_begin on device %d while a step is already being recorded (graphs do "
                      "not nest)", ctx->device);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    FCE_CUDA_CHECK(cudaStreamBeginCapture(impl->stream, cudaStreamCaptureModeGlobal));
    impl->capturing = 1;
    impl->capture_status = FCE_STATUS_OK;
    return FCE_STATUS_OK;
}

/* Ends the capture in every case (the stream never stays in capture mode), then instantiates the
 * graph unless an op failed or was refused while recording. */
static fce_status cuda_graph_end(fce_ctx *ctx, fce_graph **graph) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    *graph = NULL;
    if (!impl->capturing) {
        fce_log_error("graph_end on device %d without graph_begin", ctx->device);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    cudaGraph_t g = NULL;
    cudaError_t err = cudaStreamEndCapture(impl->stream, &g);
    impl->capturing = 0;
    const fce_status recorded = impl->capture_status;
    impl->capture_status = FCE_STATUS_OK;
    cuda_free_deferred(impl);
    if (err != cudaSuccess || recorded != FCE_STATUS_OK) {
        if (err != cudaSuccess)
            fce_log_error("CUDA error: %s | device %d | ending the capture of a step: no graph (a "
                          "call in the step could not be captured)", cudaGetErrorString(err),
                          ctx->device);
        else
            fce_log_error("device %d: an op of the recorded step failed or was refused (see "
                          "above): no graph", ctx->device);
        (void)cudaGetLastError(); /* a refused launch's error is not sticky: do not leak it */
        if (g) FCE_CUDA_CHECK_WARN(cudaGraphDestroy(g));
        return recorded != FCE_STATUS_OK ? recorded : FCE_STATUS_ERR_CUDA;
    }
    cudaGraphExec_t exec = NULL;
    err = cudaGraphInstantiate(&exec, g, 0ULL);
    FCE_CUDA_CHECK_WARN(cudaGraphDestroy(g)); /* the executable does not need it */
    if (err != cudaSuccess) {
        fce_log_error("CUDA error: %s | device %d | instantiating the recorded step",
                      cudaGetErrorString(err), ctx->device);
        (void)cudaGetLastError();
        return FCE_STATUS_ERR_CUDA;
    }
    fce_graph *out = malloc(sizeof *out);
    if (!out) {
        FCE_CUDA_CHECK_WARN(cudaGraphExecDestroy(exec));
        fce_log_error("out of host memory for a CUDA graph (%zu bytes)", sizeof *out);
        return FCE_STATUS_ERR_NOMEM;
    }
    out->exec = exec;
    *graph = out;
    return FCE_STATUS_OK;
}

static fce_status cuda_graph_launch(fce_ctx *ctx, fce_graph *graph) {
    if (!graph) {
        fce_log_error("graph_launch on device %d without a graph", ctx->device);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    FCE_CUDA_CHECK(cudaGraphLaunch(graph->exec, cuda_stream(ctx)));
    return cuda_done(ctx, FCE_STATUS_OK, "graph_launch");
}

/* No synchronisation needed: CUDA frees an executable graph that is still running once it ends. */
static void cuda_graph_free(fce_ctx *ctx, fce_graph *graph) {
    (void)ctx;
    if (!graph) return;
    FCE_CUDA_CHECK_WARN(cudaGraphExecDestroy(graph->exec));
    free(graph);
}

static const fce_backend_ops fce_cuda_ops = {
#define CUDA_ENTRY(name) .name = cuda_##name,
    FCE_BACKEND_WRITTEN_OUT_OPS(CUDA_ENTRY)
    CUDA_ENTRY(graph_begin) CUDA_ENTRY(graph_end) CUDA_ENTRY(graph_launch) CUDA_ENTRY(graph_free)
#define FCE_OP(name, params, args) CUDA_ENTRY(name)
#include "fce/ops.def"
#undef CUDA_ENTRY
};

// ---- context ----

/* cuBLAS workspace per handle (cublasSetWorkspace): NVIDIA's cuBLAS documentation
 * (cublasSetWorkspace) recommends 32 MiB on Hopper and 4 MiB on earlier architectures. Set by us,
 * a captured GEMM uses this buffer; left to cuBLAS, it allocates one itself, per graph capture
 * with CUDA < 12.2 (PyTorch issue #83461: memory grew with every capture) and stream-ordered
 * from its pool since. Owned buffers keep a recorded step free of library allocations whatever
 * the version. Set AFTER cublasSetStream, which resets the workspace to cuBLAS's default. */
static fce_status cuda_cublas_workspaces(fce_cuda_impl *impl, const struct cudaDeviceProp *prop) {
    const size_t bytes = (size_t)(prop->major >= 9 ? 32 : 4) << 20;
    cublasHandle_t handles[2] = {impl->cublas, impl->cublas_fp32};
    for (int i = 0; i < 2; i++) {
        FCE_CUDA_CHECK(cudaMalloc(&impl->cublas_ws[i], bytes));
        FCE_CUBLAS_CHECK(cublasSetWorkspace(handles[i], impl->cublas_ws[i], bytes));
    }
    return FCE_STATUS_OK;
}

/* Device, stream and cuBLAS handle; on failure the caller frees what was made. */
static fce_status cuda_impl_setup(fce_ctx *ctx, fce_cuda_impl *impl, int ordinal) {
    int count = 0;
    FCE_CUDA_CHECK(cudaGetDeviceCount(&count));
    if (ordinal < 0 || ordinal >= count) {
        fce_log_error("--device %d: there is no such GPU (%d CUDA device(s), ordinals 0..%d)",
                      ordinal, count, count - 1);
        return FCE_STATUS_ERR_CUDA;
    }
    FCE_CUDA_CHECK(cudaSetDevice(ordinal));
    struct cudaDeviceProp prop;
    FCE_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
    size_t len = 0; /* copy the name, truncated to the context's buffer */
    while (len + 1 < sizeof ctx->device_name && len < sizeof prop.name && prop.name[len]) len++;
    memcpy(ctx->device_name, prop.name, len);
    ctx->device_name[len] = '\0';

    FCE_CUDA_CHECK(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
    FCE_CUBLAS_CHECK(cublasCreate(&impl->cublas));
    FCE_CUBLAS_CHECK(cublasSetStream(impl->cublas, impl->stream));
    /* Exact FP32 GEMMs (no TF32), so the GPU matches the CPU reference within FMA tolerance. */
    FCE_CUBLAS_CHECK(cublasSetMathMode(impl->cublas, CUBLAS_DEFAULT_MATH));
    /* The second handle never leaves FP32 (fce_cuda_set_tf32 switches only the first). */
    FCE_CUBLAS_CHECK(cublasCreate(&impl->cublas_fp32));
    FCE_CUBLAS_CHECK(cublasSetStream(impl->cublas_fp32, impl->stream));
    FCE_CUBLAS_CHECK(cublasSetMathMode(impl->cublas_fp32, CUBLAS_DEFAULT_MATH));
    FCE_TRY(cuda_cublas_workspaces(impl, &prop));
    /* cuDNN handle on the same stream; convs run in FMA math (conv_cudnn.c). */
    FCE_TRY(fce_cudnn_init(&impl->cudnn, impl->stream));
    return FCE_STATUS_OK;
}

fce_status fce_cuda_backend_init(fce_ctx *ctx, int ordinal) {
    fce_cuda_impl *impl = calloc(1, sizeof *impl);
    if (!impl) {
        fce_log_error("out of host memory for the CUDA backend state (%zu bytes)", sizeof *impl);
        return FCE_STATUS_ERR_NOMEM;
    }
    ctx->impl = impl;
    ctx->kind = FCE_BACKEND_KIND_CUDA;
    ctx->device = ordinal;
    fce_status st = cuda_impl_setup(ctx, impl, ordinal);
    if (st != FCE_STATUS_OK) {
        fce_cuda_backend_free(ctx);
        ctx->ops = NULL;
        return st;
    }
    const char *env = getenv("FCE_DEBUG_SYNC");
    if (env && strcmp(env, "1") == 0) ctx->debug_sync = 1;
    /* FCE_DETERMINISTIC=1: only deterministic cuDNN algorithms in every conv plan of this context
     * (bitwise reproducible runs, e.g. test_gpu_graph's eager-against-replay comparison) */
    env = getenv("FCE_DETERMINISTIC");
    if (env && strcmp(env, "1") == 0) ctx->deterministic = 1;
    ctx->ops = &fce_cuda_ops;
    env = getenv("FCE_TF32");
    if (env && strcmp(env, "1") == 0) {
        st = fce_cuda_set_tf32(ctx, 1);
        if (st != FCE_STATUS_OK) {
            fce_cuda_backend_free(ctx);
            ctx->ops = NULL;
            return st;
        }
        ctx->tf32 = 1;
        fce_log_info("FCE_TF32=1: TF32 tensor cores for convolutions and dense-layer GEMMs on %s "
                     "(the invertible 1x1 maps stay FP32)", ctx->device_name);
    }
    return FCE_STATUS_OK;
}

fce_status fce_cuda_set_tf32(fce_ctx *ctx, int on) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    /* Exact FP32 (the default) or TF32 tensor cores for the cuBLAS GEMMs of this context that may
     * use them (the dense layers); the invertible maps keep their own FP32 handle. */
    FCE_CUBLAS_CHECK(cublasSetMathMode(impl->cublas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return FCE_STATUS_OK;
}

void fce_cuda_backend_free(fce_ctx *ctx) {
    if (!ctx || !ctx->impl) return;
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (impl->capturing) { /* freed in the middle of a recording: end it, keep nothing */
        cudaGraph_t g = NULL;
        (void)cudaStreamEndCapture(impl->stream, &g);
        if (g) FCE_CUDA_CHECK_WARN(cudaGraphDestroy(g));
        (void)cudaGetLastError();
        impl->capturing = 0;
    }
    cuda_free_deferred(impl);
    free(impl->deferred_free);
    if (impl->stream) FCE_CUDA_CHECK_WARN(cudaStreamSynchronize(impl->stream));
    if (impl->stage) FCE_CUDA_CHECK_WARN(cudaFreeHost(impl->stage));
    fce_cudnn_free(&impl->cudnn);
    if (impl->cublas) FCE_CUBLAS_CHECK_WARN(cublasDestroy(impl->cublas));
    if (impl->cublas_fp32) FCE_CUBLAS_CHECK_WARN(cublasDestroy(impl->cublas_fp32));
    for (int i = 0; i < 2; i++) /* after the handles that use them */
        if (impl->cublas_ws[i]) FCE_CUDA_CHECK_WARN(cudaFree(impl->cublas_ws[i]));
    if (impl->stream) FCE_CUDA_CHECK_WARN(cudaStreamDestroy(impl->stream));
    free(impl);
    ctx->impl = NULL;
}

/* fce-bench (cuda_bench_hooks.h): the context's stream for its events and L2 flushes. */
cudaStream_t fce_cuda_ctx_stream(const fce_ctx *ctx) {
    if (!ctx || ctx->kind != FCE_BACKEND_KIND_CUDA || !ctx->impl) return NULL;
    return ((const fce_cuda_impl *)ctx->impl)->stream;
}
