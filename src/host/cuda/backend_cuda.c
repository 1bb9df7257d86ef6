/* backend_cuda.c: the CUDA backend: context setup/teardown and the fce_backend_ops table
 * (include/fce/backend.h) filled with thin wrappers over the kernel launchers (fce_kernels.h) and
 * the cuBLAS dense layer (linear_cublas.h).
 *
 * One non-blocking stream per context (never the legacy default stream); the cuBLAS handle is bound
 * to it and kept in exact FP32 (CUBLAS_DEFAULT_MATH: no TF32, STYLE 6.10). Every op enqueues on
 * that stream and returns without synchronising, except download() and sync(), and upload(), which
 * waits so that a pageable source buffer may be reused at once. With ctx->debug_sync (CLI
 * --debug-sync, or FCE_DEBUG_SYNC=1 at init) every op synchronises and checks afterwards, so an
 * asynchronous fault is reported at the op that caused it.
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

typedef struct fce_cuda_impl {
    cudaStream_t stream;   /* the context's stream; all work goes here */
    cublasHandle_t cublas; /* bound to `stream` */
    fce_cudnn_state cudnn; /* cuDNN handle bound to `stream` + the shared conv workspace */
} fce_cuda_impl;

static fce_cuda_impl *cuda_impl(fce_ctx *ctx) { return (fce_cuda_impl *)ctx->impl; }
static cudaStream_t cuda_stream(fce_ctx *ctx) { return cuda_impl(ctx)->stream; }

/* Ends every op: with debug_sync, wait for the stream and report a fault against `op`. */
static fce_status cuda_done(fce_ctx *ctx, fce_status st, const char *op) {
    if (st != FCE_STATUS_OK || !ctx->debug_sync) return st;
    cudaError_t err = cudaStreamSynchronize(cuda_stream(ctx));
    if (err != cudaSuccess) {
        fce_log_error("CUDA error: %s | device %d | debug sync after op %s",
                      cudaGetErrorString(err), ctx->device, op);
        return FCE_STATUS_ERR_CUDA;
    }
    return FCE_STATUS_OK;
}

// ---- memory ----

static fce_status cuda_alloc(fce_ctx *ctx, void **p, size_t bytes) {
    *p = NULL;
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

static void cuda_release(fce_ctx *ctx, void *p) {
    (void)ctx;
    if (p) FCE_CUDA_CHECK_WARN(cudaFree(p));
}

static fce_status cuda_upload(fce_ctx *ctx, void *dst, const void *src_host, size_t bytes) {
    if (bytes == 0) return FCE_STATUS_OK;
    FCE_CUDA_CHECK(cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, cuda_stream(ctx)));
    FCE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(ctx)));
    return FCE_STATUS_OK;
}

static fce_status cuda_download(fce_ctx *ctx, void *dst_host, const void *src, size_t bytes) {
    if (bytes == 0) return FCE_STATUS_OK;
    FCE_CUDA_CHECK(cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(ctx)));
    FCE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(ctx)));
    return FCE_STATUS_OK;
}

static fce_status cuda_copy(fce_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return FCE_STATUS_OK;
    FCE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(ctx)));
    return cuda_done(ctx, FCE_STATUS_OK, "copy");
}

static fce_status cuda_zero(fce_ctx *ctx, void *p, size_t bytes) {
    if (bytes == 0) return FCE_STATUS_OK;
    FCE_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda_stream(ctx)));
    return cuda_done(ctx, FCE_STATUS_OK, "zero");
}

static fce_status cuda_sync(fce_ctx *ctx) {
    FCE_CUDA_CHECK(cudaStreamSynchronize(cuda_stream(ctx)));
    return FCE_STATUS_OK;
}

// ---- random numbers ----

static fce_status cuda_fill_normal(fce_ctx *ctx, float *x, size_t n, uint64_t seed, uint64_t offset,
                                   float std) {
    return cuda_done(ctx, fce_cuda_fill_normal(x, n, seed, offset, std, cuda_stream(ctx)),
                     "fill_normal");
}

static fce_status cuda_fill_uniform(fce_ctx *ctx, float *x, size_t n, uint64_t seed,
                                    uint64_t offset, float lo, float hi) {
    return cuda_done(ctx, fce_cuda_fill_uniform(x, n, seed, offset, lo, hi, cuda_stream(ctx)),
                     "fill_uniform");
}

// ---- dense layer ----

static fce_status cuda_linear_forward(fce_ctx *ctx, float *y, const float *x, const float *W,
                                      const float *b, int N, int in, int out) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    return cuda_done(ctx,
                     fce_cuda_linear_forward(y, x, W, b, N, in, out, impl->cublas, impl->stream),
                     "linear_forward");
}

static fce_status cuda_linear_backward(fce_ctx *ctx, float *dx, float *dW, float *db,
                                       const float *dy, const float *x, const float *W, int N,
                                       int in, int out) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    return cuda_done(
        ctx, fce_cuda_linear_backward(dx, dW, db, dy, x, W, N, in, out, impl->cublas, impl->stream),
        "linear_backward");
}

// ---- activations, scale, channel slices ----

static fce_status cuda_leaky_relu_forward(fce_ctx *ctx, float *y, const float *x, size_t n,
                                          float slope) {
    return cuda_done(ctx, fce_cuda_leaky_relu_forward(y, x, n, slope, cuda_stream(ctx)),
                     "leaky_relu_forward");
}

static fce_status cuda_leaky_relu_backward(fce_ctx *ctx, float *dx, const float *dy,
                                           const float *x, size_t n, float slope) {
    return cuda_done(ctx, fce_cuda_leaky_relu_backward(dx, dy, x, n, slope, cuda_stream(ctx)),
                     "leaky_relu_backward");
}

static fce_status cuda_scale(fce_ctx *ctx, float *y, const float *x, size_t n, float alpha) {
    return cuda_done(ctx, fce_cuda_scale(y, x, n, alpha, cuda_stream(ctx)), "scale");
}

static fce_status cuda_channels_copy(fce_ctx *ctx, float *dst, int dst_C, int dst_c0,
                                     const float *src, int src_C, int src_c0, int count,
                                     size_t rows, int accumulate) {
    return cuda_done(ctx,
                     fce_cuda_channels_copy(dst, dst_C, dst_c0, src, src_C, src_c0, count, rows,
                                            accumulate, cuda_stream(ctx)),
                     "channels_copy");
}

// ---- actnorm ----

static fce_status cuda_actnorm_forward(fce_ctx *ctx, float *y, float *logdet, const float *x,
                                       const float *bias, const float *logs, int N, int HW, int C) {
    return cuda_done(
        ctx, fce_cuda_actnorm_forward(y, logdet, x, bias, logs, N, HW, C, cuda_stream(ctx)),
        "actnorm_forward");
}

static fce_status cuda_actnorm_inverse(fce_ctx *ctx, float *x, float *logdet, const float *y,
                                       const float *bias, const float *logs, int N, int HW, int C) {
    return cuda_done(
        ctx, fce_cuda_actnorm_inverse(x, logdet, y, bias, logs, N, HW, C, cuda_stream(ctx)),
        "actnorm_inverse");
}

static fce_status cuda_actnorm_backward(fce_ctx *ctx, float *dx, float *dbias, float *dlogs,
                                        const float *dy, const float *y, const float *dlogdet,
                                        const float *bias, const float *logs, int N, int HW,
                                        int C) {
    return cuda_done(ctx,
                     fce_cuda_actnorm_backward(dx, dbias, dlogs, dy, y, dlogdet, bias, logs, N, HW,
                                               C, cuda_stream(ctx)),
                     "actnorm_backward");
}

static fce_status cuda_actnorm_inverse_backward(fce_ctx *ctx, float *dy, float *dbias, float *dlogs,
                                                const float *dx, const float *x,
                                                const float *dlogdet, const float *bias,
                                                const float *logs, int N, int HW, int C) {
    return cuda_done(ctx,
                     fce_cuda_actnorm_inverse_backward(dy, dbias, dlogs, dx, x, dlogdet, bias, logs,
                                                       N, HW, C, cuda_stream(ctx)),
                     "actnorm_inverse_backward");
}

static fce_status cuda_actnorm_init(fce_ctx *ctx, float *bias, float *logs, const float *x, int N,
                                    int HW, int C) {
    return cuda_done(ctx, fce_cuda_actnorm_init(bias, logs, x, N, HW, C, cuda_stream(ctx)),
                     "actnorm_init");
}

// ---- invertible C×C map (LU) ----

static fce_status cuda_invconv_lu_weights(fce_ctx *ctx, float *W, float *Winv, const float *perm,
                                          const float *sign, const float *L, const float *U,
                                          const float *logs, int C) {
    return cuda_done(
        ctx, fce_cuda_invconv_lu_weights(W, Winv, perm, sign, L, U, logs, C, cuda_stream(ctx)),
        "invconv_lu_weights");
}

static fce_status cuda_invconv_lu_backward(fce_ctx *ctx, float *dL, float *dU, float *dlogs,
                                           const float *dW, const float *dWinv, const float *Winv,
                                           const float *perm, const float *sign, const float *L,
                                           const float *U, const float *logs, int C) {
    return cuda_done(ctx,
                     fce_cuda_invconv_lu_backward(dL, dU, dlogs, dW, dWinv, Winv, perm, sign, L, U,
                                                  logs, C, cuda_stream(ctx)),
                     "invconv_lu_backward");
}

static fce_status cuda_invconv_logdet(fce_ctx *ctx, float *logdet, const float *logs, int N, int HW,
                                      int C, float dir) {
    return cuda_done(ctx, fce_cuda_invconv_logdet(logdet, logs, N, HW, C, dir, cuda_stream(ctx)),
                     "invconv_logdet");
}

static fce_status cuda_invconv_logdet_backward(fce_ctx *ctx, float *dlogs, const float *dlogdet,
                                               int N, int HW, int C, float dir) {
    return cuda_done(
        ctx, fce_cuda_invconv_logdet_backward(dlogs, dlogdet, N, HW, C, dir, cuda_stream(ctx)),
        "invconv_logdet_backward");
}

// ---- affine coupling ----

static fce_status cuda_coupling_affine_forward(fce_ctx *ctx, float *y, float *logdet,
                                               const float *x, const float *h, int N, int HW,
                                               int C) {
    return cuda_done(
        ctx, fce_cuda_coupling_affine_forward(y, logdet, x, h, N, HW, C, cuda_stream(ctx)),
        "coupling_affine_forward");
}

static fce_status cuda_coupling_affine_inverse(fce_ctx *ctx, float *x, float *logdet,
                                               const float *y, const float *h, int N, int HW,
                                               int C) {
    return cuda_done(
        ctx, fce_cuda_coupling_affine_inverse(x, logdet, y, h, N, HW, C, cuda_stream(ctx)),
        "coupling_affine_inverse");
}

static fce_status cuda_coupling_affine_backward(fce_ctx *ctx, float *dx, float *dh,
                                                const float *dy, const float *y, const float *h,
                                                const float *dlogdet, int N, int HW, int C) {
    return cuda_done(ctx,
                     fce_cuda_coupling_affine_backward(dx, dh, dy, y, h, dlogdet, N, HW, C,
                                                       cuda_stream(ctx)),
                     "coupling_affine_backward");
}

static fce_status cuda_coupling_affine_inverse_backward(fce_ctx *ctx, float *dy, float *dh,
                                                        const float *dx, const float *x,
                                                        const float *h, const float *dlogdet,
                                                        int N, int HW, int C) {
    return cuda_done(ctx,
                     fce_cuda_coupling_affine_inverse_backward(dy, dh, dx, x, h, dlogdet, N, HW, C,
                                                               cuda_stream(ctx)),
                     "coupling_affine_inverse_backward");
}

// ---- image Glow layers: squeeze, additive coupling, diagonal Gaussian ----

static fce_status cuda_squeeze_forward(fce_ctx *ctx, float *y, const float *x, int N, int H, int W,
                                       int C) {
    return cuda_done(ctx, fce_cuda_squeeze_forward(y, x, N, H, W, C, cuda_stream(ctx)),
                     "squeeze_forward");
}

static fce_status cuda_squeeze_inverse(fce_ctx *ctx, float *x, const float *y, int N, int H, int W,
                                       int C) {
    return cuda_done(ctx, fce_cuda_squeeze_inverse(x, y, N, H, W, C, cuda_stream(ctx)),
                     "squeeze_inverse");
}

static fce_status cuda_coupling_additive_forward(fce_ctx *ctx, float *y, const float *x,
                                                 const float *h, size_t rows, int C) {
    return cuda_done(ctx, fce_cuda_coupling_additive_forward(y, x, h, rows, C, cuda_stream(ctx)),
                     "coupling_additive_forward");
}

static fce_status cuda_coupling_additive_inverse(fce_ctx *ctx, float *x, const float *y,
                                                 const float *h, size_t rows, int C) {
    return cuda_done(ctx, fce_cuda_coupling_additive_inverse(x, y, h, rows, C, cuda_stream(ctx)),
                     "coupling_additive_inverse");
}

static fce_status cuda_coupling_additive_backward(fce_ctx *ctx, float *din, float *dh,
                                                  const float *dout, size_t rows, int C,
                                                  float dir) {
    return cuda_done(
        ctx, fce_cuda_coupling_additive_backward(din, dh, dout, rows, C, dir, cuda_stream(ctx)),
        "coupling_additive_backward");
}

static fce_status cuda_gaussian_diag_logp(fce_ctx *ctx, float *logp, const float *z,
                                          const float *mean, const float *logs, int N, int D) {
    return cuda_done(ctx, fce_cuda_gaussian_diag_logp(logp, z, mean, logs, N, D, cuda_stream(ctx)),
                     "gaussian_diag_logp");
}

static fce_status cuda_gaussian_diag_logp_backward_acc(fce_ctx *ctx, float *dz, float *dmean,
                                                       float *dlogs, const float *z,
                                                       const float *mean, const float *logs,
                                                       const float *dlogp, int N, int D) {
    return cuda_done(ctx,
                     fce_cuda_gaussian_diag_logp_backward_acc(dz, dmean, dlogs, z, mean, logs,
                                                              dlogp, N, D, cuda_stream(ctx)),
                     "gaussian_diag_logp_backward_acc");
}

// ---- image pre/post-processing ----

static fce_status cuda_dequantize(fce_ctx *ctx, float *x, const uint8_t *u8, size_t n, int n_bits,
                                  uint64_t seed, uint64_t offset) {
    return cuda_done(ctx, fce_cuda_dequantize(x, u8, n, n_bits, seed, offset, cuda_stream(ctx)),
                     "dequantize");
}

static fce_status cuda_postprocess(fce_ctx *ctx, uint8_t *u8, const float *x, size_t n,
                                   int n_bits) {
    return cuda_done(ctx, fce_cuda_postprocess(u8, x, n, n_bits, cuda_stream(ctx)), "postprocess");
}

// ---- 2D convolution (cuDNN, conv_cudnn.c) ----

static fce_status cuda_conv_plan_init(fce_ctx *ctx, fce_conv_plan **plan,
                                      const fce_conv_shape *shape) {
    fce_cuda_impl *impl = cuda_impl(ctx);
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

// ---- prior, loss, optimizers ----

static fce_status cuda_gaussian_logp(fce_ctx *ctx, float *logp, const float *z, int N, int D) {
    return cuda_done(ctx, fce_cuda_gaussian_logp(logp, z, N, D, cuda_stream(ctx)), "gaussian_logp");
}

static fce_status cuda_gaussian_logp_backward_acc(fce_ctx *ctx, float *dz, const float *z,
                                                  const float *dlogp, int N, int D) {
    return cuda_done(ctx, fce_cuda_gaussian_logp_backward_acc(dz, z, dlogp, N, D, cuda_stream(ctx)),
                     "gaussian_logp_backward_acc");
}

static fce_status cuda_nce_loss(fce_ctx *ctx, float *stats, float *dfx, float *dfxt, float *dlq,
                                float *dlqt, float *dc, const float *fx, const float *fxt,
                                const float *lq, const float *lqt, const float *c, int n,
                                float gscale) {
    return cuda_done(ctx,
                     fce_cuda_nce_loss(stats, dfx, dfxt, dlq, dlqt, dc, fx, fxt, lq, lqt, c, n,
                                       gscale, cuda_stream(ctx)),
                     "nce_loss");
}

static fce_status cuda_softmax_xent(fce_ctx *ctx, float *stats, float *dlogits, const float *logits,
                                    const int32_t *labels, int N, int K, float gscale) {
    return cuda_done(ctx,
                     fce_cuda_softmax_xent(stats, dlogits, logits, labels, N, K, gscale,
                                           cuda_stream(ctx)),
                     "softmax_xent");
}

static fce_status cuda_adam_step(fce_ctx *ctx, float *p, const float *g, float *m, float *v,
                                 size_t n, float lr, float b1, float b2, float eps, int t) {
    return cuda_done(
        ctx, fce_cuda_adam_step(p, g, m, v, n, lr, b1, b2, eps, t, cuda_stream(ctx)), "adam_step");
}

static fce_status cuda_adamax_step(fce_ctx *ctx, float *p, const float *g, float *m, float *u,
                                   size_t n, float lr, float b1, float b2, float eps, int t) {
    return cuda_done(ctx, fce_cuda_adamax_step(p, g, m, u, n, lr, b1, b2, eps, t, cuda_stream(ctx)),
                     "adamax_step");
}

static const fce_backend_ops fce_cuda_ops = {
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .zero = cuda_zero,
    .sync = cuda_sync,
    .fill_normal = cuda_fill_normal,
    .fill_uniform = cuda_fill_uniform,
    .linear_forward = cuda_linear_forward,
    .linear_backward = cuda_linear_backward,
    .leaky_relu_forward = cuda_leaky_relu_forward,
    .leaky_relu_backward = cuda_leaky_relu_backward,
    .scale = cuda_scale,
    .channels_copy = cuda_channels_copy,
    .actnorm_forward = cuda_actnorm_forward,
    .actnorm_inverse = cuda_actnorm_inverse,
    .actnorm_backward = cuda_actnorm_backward,
    .actnorm_inverse_backward = cuda_actnorm_inverse_backward,
    .actnorm_init = cuda_actnorm_init,
    .invconv_lu_weights = cuda_invconv_lu_weights,
    .invconv_lu_backward = cuda_invconv_lu_backward,
    .invconv_logdet = cuda_invconv_logdet,
    .invconv_logdet_backward = cuda_invconv_logdet_backward,
    .coupling_affine_forward = cuda_coupling_affine_forward,
    .coupling_affine_inverse = cuda_coupling_affine_inverse,
    .coupling_affine_backward = cuda_coupling_affine_backward,
    .coupling_affine_inverse_backward = cuda_coupling_affine_inverse_backward,
    .squeeze_forward = cuda_squeeze_forward,
    .squeeze_inverse = cuda_squeeze_inverse,
    .coupling_additive_forward = cuda_coupling_additive_forward,
    .coupling_additive_inverse = cuda_coupling_additive_inverse,
    .coupling_additive_backward = cuda_coupling_additive_backward,
    .gaussian_diag_logp = cuda_gaussian_diag_logp,
    .gaussian_diag_logp_backward_acc = cuda_gaussian_diag_logp_backward_acc,
    .conv_plan_init = cuda_conv_plan_init,
    .conv_plan_free = cuda_conv_plan_free,
    .conv2d_forward = cuda_conv2d_forward,
    .conv2d_backward_data = cuda_conv2d_backward_data,
    .conv2d_backward_filter = cuda_conv2d_backward_filter,
    .dequantize = cuda_dequantize,
    .postprocess = cuda_postprocess,
    .gaussian_logp = cuda_gaussian_logp,
    .gaussian_logp_backward_acc = cuda_gaussian_logp_backward_acc,
    .nce_loss = cuda_nce_loss,
    .softmax_xent = cuda_softmax_xent,
    .adam_step = cuda_adam_step,
    .adamax_step = cuda_adamax_step,
};

// ---- context ----

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
        fce_log_info("FCE_TF32=1: TF32 tensor cores for GEMMs and convolutions on %s", ctx->device_name);
    }
    return FCE_STATUS_OK;
}

fce_status fce_cuda_set_tf32(fce_ctx *ctx, int on) {
    fce_cuda_impl *impl = cuda_impl(ctx);
    /* Exact FP32 (the default) or TF32 tensor cores for every cuBLAS GEMM of this context. */
    FCE_CUBLAS_CHECK(cublasSetMathMode(impl->cublas, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    return FCE_STATUS_OK;
}

void fce_cuda_backend_free(fce_ctx *ctx) {
    if (!ctx || !ctx->impl) return;
    fce_cuda_impl *impl = cuda_impl(ctx);
    if (impl->stream) FCE_CUDA_CHECK_WARN(cudaStreamSynchronize(impl->stream));
    fce_cudnn_free(&impl->cudnn);
    if (impl->cublas) FCE_CUBLAS_CHECK_WARN(cublasDestroy(impl->cublas));
    if (impl->stream) FCE_CUDA_CHECK_WARN(cudaStreamDestroy(impl->stream));
    free(impl);
    ctx->impl = NULL;
}

/* fce-bench (cuda_bench_hooks.h): the context's stream for its events and L2 flushes. */
cudaStream_t fce_cuda_ctx_stream(const fce_ctx *ctx) {
    if (!ctx || ctx->kind != FCE_BACKEND_KIND_CUDA || !ctx->impl) return NULL;
    return ((const fce_cuda_impl *)ctx->impl)->stream;
}
