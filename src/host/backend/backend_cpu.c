/* backend_cpu.c: the CPU reference backend: fce_backend_ops filled with the fce_ref_* functions.
 *
 * Every compute entry is a thin wrapper that drops the context and returns FCE_STATUS_OK (the
 * reference ops cannot fail). Memory is ordinary host memory: alloc is calloc (zero-filled, as the
 * table promises), release is free, upload/download/copy are memcpy, zero is memset and sync does
 * nothing because every op has finished when it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "fce/log.h"
#include "ref/ref.h"

// ---- memory ----

static fce_status cpu_alloc(fce_ctx *ctx, void **p, size_t bytes) {
    *p = calloc(1, bytes ? bytes : 1);
    if (!*p) {
        fce_log_error("cpu backend: out of host memory allocating %zu bytes", bytes);
        return FCE_STATUS_ERR_NOMEM;
    }
    return FCE_STATUS_OK;
}

static void cpu_release(fce_ctx *ctx, void *p) { free(p); }

static fce_status cpu_upload(fce_ctx *ctx, void *dst, const void *src_host, size_t bytes) {
    if (bytes) memcpy(dst, src_host, bytes);
    return FCE_STATUS_OK;
}

static fce_status cpu_download(fce_ctx *ctx, void *dst_host, const void *src, size_t bytes) {
    if (bytes) memcpy(dst_host, src, bytes);
    return FCE_STATUS_OK;
}

static fce_status cpu_copy(fce_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
    return FCE_STATUS_OK;
}

static fce_status cpu_zero(fce_ctx *ctx, void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
    return FCE_STATUS_OK;
}

static fce_status cpu_sync(fce_ctx *ctx) { return FCE_STATUS_OK; }

// ---- random numbers ----

static fce_status cpu_fill_normal(fce_ctx *ctx, float *x, size_t n, uint64_t seed, uint64_t offset,
                                  float std) {
    fce_ref_fill_normal(x, n, seed, offset, std);
    return FCE_STATUS_OK;
}

static fce_status cpu_fill_uniform(fce_ctx *ctx, float *x, size_t n, uint64_t seed,
                                   uint64_t offset, float lo, float hi) {
    fce_ref_fill_uniform(x, n, seed, offset, lo, hi);
    return FCE_STATUS_OK;
}

// ---- dense layer and activations ----

static fce_status cpu_linear_forward(fce_ctx *ctx, float *y, const float *x, const float *W,
                                     const float *b, int N, int in, int out) {
    fce_ref_linear_forward(y, x, W, b, N, in, out);
    return FCE_STATUS_OK;
}

static fce_status cpu_linear_backward(fce_ctx *ctx, float *dx, float *dW, float *db,
                                      const float *dy, const float *x, const float *W, int N,
                                      int in, int out) {
    fce_ref_linear_backward(dx, dW, db, dy, x, W, N, in, out);
    return FCE_STATUS_OK;
}

static fce_status cpu_leaky_relu_forward(fce_ctx *ctx, float *y, const float *x, size_t n,
                                         float slope) {
    fce_ref_leaky_relu_forward(y, x, n, slope);
    return FCE_STATUS_OK;
}

static fce_status cpu_leaky_relu_backward(fce_ctx *ctx, float *dx, const float *dy,
                                          const float *x, size_t n, float slope) {
    fce_ref_leaky_relu_backward(dx, dy, x, n, slope);
    return FCE_STATUS_OK;
}

static fce_status cpu_scale(fce_ctx *ctx, float *y, const float *x, size_t n, float alpha) {
    (void)ctx;
    fce_ref_scale(y, x, n, alpha);
    return FCE_STATUS_OK;
}

static fce_status cpu_channels_copy(fce_ctx *ctx, float *dst, int dst_C, int dst_c0,
                                    const float *src, int src_C, int src_c0, int count,
                                    size_t rows, int accumulate) {
    fce_ref_channels_copy(dst, dst_C, dst_c0, src, src_C, src_c0, count, rows, accumulate);
    return FCE_STATUS_OK;
}

// ---- actnorm ----

static fce_status cpu_actnorm_forward(fce_ctx *ctx, float *y, float *logdet, const float *x,
                                      const float *bias, const float *logs, int N, int HW, int C) {
    fce_ref_actnorm_forward(y, logdet, x, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_actnorm_inverse(fce_ctx *ctx, float *x, float *logdet, const float *y,
                                      const float *bias, const float *logs, int N, int HW, int C) {
    fce_ref_actnorm_inverse(x, logdet, y, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_actnorm_backward(fce_ctx *ctx, float *dx, float *dbias, float *dlogs,
                                       const float *dy, const float *y, const float *dlogdet,
                                       const float *bias, const float *logs, int N, int HW,
                                       int C) {
    fce_ref_actnorm_backward(dx, dbias, dlogs, dy, y, dlogdet, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_actnorm_inverse_backward(fce_ctx *ctx, float *dy, float *dbias,
                                               float *dlogs, const float *dx, const float *x,
                                               const float *dlogdet, const float *bias,
                                               const float *logs, int N, int HW, int C) {
    fce_ref_actnorm_inverse_backward(dy, dbias, dlogs, dx, x, dlogdet, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_actnorm_init(fce_ctx *ctx, float *bias, float *logs, const float *x, int N,
                                   int HW, int C) {
    fce_ref_actnorm_init(bias, logs, x, N, HW, C);
    return FCE_STATUS_OK;
}

// ---- invertible C×C map (LU) ----

static fce_status cpu_invconv_lu_weights(fce_ctx *ctx, float *W, float *Winv, const float *perm,
                                         const float *sign, const float *L, const float *U,
                                         const float *logs, int C) {
    fce_ref_invconv_lu_weights(W, Winv, perm, sign, L, U, logs, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_invconv_lu_backward(fce_ctx *ctx, float *dL, float *dU, float *dlogs,
                                          const float *dW, const float *dWinv, const float *Winv,
                                          const float *perm, const float *sign, const float *L,
                                          const float *U, const float *logs, int C) {
    fce_ref_invconv_lu_backward(dL, dU, dlogs, dW, dWinv, Winv, perm, sign, L, U, logs, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_invconv_logdet(fce_ctx *ctx, float *logdet, const float *logs, int N, int HW,
                                     int C, float dir) {
    fce_ref_invconv_logdet(logdet, logs, N, HW, C, dir);
    return FCE_STATUS_OK;
}

static fce_status cpu_invconv_logdet_backward(fce_ctx *ctx, float *dlogs, const float *dlogdet,
                                              int N, int HW, int C, float dir) {
    fce_ref_invconv_logdet_backward(dlogs, dlogdet, N, HW, C, dir);
    return FCE_STATUS_OK;
}

// ---- affine coupling ----

static fce_status cpu_coupling_affine_forward(fce_ctx *ctx, float *y, float *logdet,
                                              const float *x, const float *h, int N, int HW,
                                              int C) {
    fce_ref_coupling_affine_forward(y, logdet, x, h, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_coupling_affine_inverse(fce_ctx *ctx, float *x, float *logdet,
                                              const float *y, const float *h, int N, int HW,
                                              int C) {
    fce_ref_coupling_affine_inverse(x, logdet, y, h, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_coupling_affine_backward(fce_ctx *ctx, float *dx, float *dh,
                                               const float *dy, const float *y, const float *h,
                                               const float *dlogdet, int N, int HW, int C) {
    fce_ref_coupling_affine_backward(dx, dh, dy, y, h, dlogdet, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_coupling_affine_inverse_backward(fce_ctx *ctx, float *dy, float *dh,
                                                       const float *dx, const float *x,
                                                       const float *h, const float *dlogdet,
                                                       int N, int HW, int C) {
    fce_ref_coupling_affine_inverse_backward(dy, dh, dx, x, h, dlogdet, N, HW, C);
    return FCE_STATUS_OK;
}

// ---- image Glow layers: squeeze, additive coupling, diagonal Gaussian prior ----

static fce_status cpu_squeeze_forward(fce_ctx *ctx, float *y, const float *x, int N, int H, int W,
                                      int C) {
    fce_ref_squeeze_forward(y, x, N, H, W, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_squeeze_inverse(fce_ctx *ctx, float *x, const float *y, int N, int H, int W,
                                      int C) {
    fce_ref_squeeze_inverse(x, y, N, H, W, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_coupling_additive_forward(fce_ctx *ctx, float *y, const float *x,
                                                const float *h, size_t rows, int C) {
    fce_ref_coupling_additive_forward(y, x, h, rows, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_coupling_additive_inverse(fce_ctx *ctx, float *x, const float *y,
                                                const float *h, size_t rows, int C) {
    fce_ref_coupling_additive_inverse(x, y, h, rows, C);
    return FCE_STATUS_OK;
}

static fce_status cpu_coupling_additive_backward(fce_ctx *ctx, float *din, float *dh,
                                                 const float *dout, size_t rows, int C,
                                                 float dir) {
    fce_ref_coupling_additive_backward(din, dh, dout, rows, C, dir);
    return FCE_STATUS_OK;
}

static fce_status cpu_gaussian_diag_logp(fce_ctx *ctx, float *logp, const float *z,
                                         const float *mean, const float *logs, int N, int D) {
    fce_ref_gaussian_diag_logp(logp, z, mean, logs, N, D);
    return FCE_STATUS_OK;
}

static fce_status cpu_gaussian_diag_logp_backward_acc(fce_ctx *ctx, float *dz, float *dmean,
                                                      float *dlogs, const float *z,
                                                      const float *mean, const float *logs,
                                                      const float *dlogp, int N, int D) {
    fce_ref_gaussian_diag_logp_backward_acc(dz, dmean, dlogs, z, mean, logs, dlogp, N, D);
    return FCE_STATUS_OK;
}

// ---- image pre/post-processing ----

static fce_status cpu_dequantize(fce_ctx *ctx, float *x, const uint8_t *u8, size_t n, int n_bits,
                                 uint64_t seed, uint64_t offset) {
    fce_ref_dequantize(x, u8, n, n_bits, seed, offset);
    return FCE_STATUS_OK;
}

static fce_status cpu_postprocess(fce_ctx *ctx, uint8_t *u8, const float *x, size_t n,
                                  int n_bits) {
    fce_ref_postprocess(u8, x, n, n_bits);
    return FCE_STATUS_OK;
}

// ---- 2D convolution: the plan is the validated shape ----

struct fce_conv_plan {
    fce_conv_shape shape;
};

static fce_status cpu_conv_plan_init(fce_ctx *ctx, fce_conv_plan **plan,
                                     const fce_conv_shape *shape) {
    const fce_conv_shape *s = shape;
    *plan = NULL;
    if (s->N < 1 || s->H < 1 || s->W < 1 || s->Cin < 1 || s->Cout < 1 || s->KH < 1 ||
        s->KW < 1 || s->stride < 1 || s->pad < 0 || s->H + 2 * s->pad < s->KH ||
        s->W + 2 * s->pad < s->KW) {
        fce_log_error("conv plan: invalid shape conv N=%d H=%d W=%d Cin=%d Cout=%d K=%dx%d "
                      "stride=%d pad=%d (need sizes >= 1, stride >= 1, pad >= 0, "
                      "H + 2*pad >= KH, W + 2*pad >= KW)",
                      s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW, s->stride, s->pad);
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_conv_plan *p = malloc(sizeof *p);
    if (!p) {
        fce_log_error("cpu backend: out of host memory for a conv plan (%zu bytes)", sizeof *p);
        return FCE_STATUS_ERR_NOMEM;
    }
    p->shape = *s;
    *plan = p;
    return FCE_STATUS_OK;
}

static void cpu_conv_plan_free(fce_ctx *ctx, fce_conv_plan *plan) { free(plan); }

static fce_status cpu_conv2d_forward(fce_ctx *ctx, const fce_conv_plan *plan, float *y,
                                     const float *x, const float *w, const float *b) {
    const fce_conv_shape *s = &plan->shape;
    fce_ref_conv2d_forward(y, x, w, b, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW, s->stride,
                           s->pad);
    return FCE_STATUS_OK;
}

static fce_status cpu_conv2d_backward_data(fce_ctx *ctx, const fce_conv_plan *plan, float *dx,
                                           const float *dy, const float *w) {
    const fce_conv_shape *s = &plan->shape;
    if (dx)
        fce_ref_conv2d_backward_data(dx, dy, w, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW,
                                     s->stride, s->pad);
    return FCE_STATUS_OK;
}

static fce_status cpu_conv2d_backward_filter(fce_ctx *ctx, const fce_conv_plan *plan, float *dw,
                                             float *db, const float *dy, const float *x) {
    const fce_conv_shape *s = &plan->shape;
    fce_ref_conv2d_backward_filter(dw, db, dy, x, s->N, s->H, s->W, s->Cin, s->Cout, s->KH, s->KW,
                                   s->stride, s->pad);
    return FCE_STATUS_OK;
}

// ---- prior, NCE, optimizers ----

static fce_status cpu_gaussian_logp(fce_ctx *ctx, float *logp, const float *z, int N, int D) {
    fce_ref_gaussian_logp(logp, z, N, D);
    return FCE_STATUS_OK;
}

static fce_status cpu_gaussian_logp_backward_acc(fce_ctx *ctx, float *dz, const float *z,
                                                 const float *dlogp, int N, int D) {
    fce_ref_gaussian_logp_backward_acc(dz, z, dlogp, N, D);
    return FCE_STATUS_OK;
}

static fce_status cpu_nce_loss(fce_ctx *ctx, float *stats, float *dfx, float *dfxt, float *dlq,
                               float *dlqt, float *dc, const float *fx, const float *fxt,
                               const float *lq, const float *lqt, const float *c, int n,
                               float gscale) {
    fce_ref_nce_loss(stats, dfx, dfxt, dlq, dlqt, dc, fx, fxt, lq, lqt, c, n, gscale);
    return FCE_STATUS_OK;
}

static fce_status cpu_softmax_xent(fce_ctx *ctx, float *stats, float *dlogits, const float *logits,
                                   const int32_t *labels, int N, int K, float gscale) {
    fce_ref_softmax_xent(stats, dlogits, logits, labels, N, K, gscale);
    return FCE_STATUS_OK;
}

static fce_status cpu_adam_step(fce_ctx *ctx, float *p, const float *g, float *m, float *v,
                                size_t n, float lr, float b1, float b2, float eps, int t) {
    fce_ref_adam_step(p, g, m, v, n, lr, b1, b2, eps, t);
    return FCE_STATUS_OK;
}

static fce_status cpu_adamax_step(fce_ctx *ctx, float *p, const float *g, float *m, float *u,
                                  size_t n, float lr, float b1, float b2, float eps, int t) {
    fce_ref_adamax_step(p, g, m, u, n, lr, b1, b2, eps, t);
    return FCE_STATUS_OK;
}

static const fce_backend_ops fce_cpu_ops = {
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_upload,
    .download = cpu_download,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .sync = cpu_sync,
    .fill_normal = cpu_fill_normal,
    .fill_uniform = cpu_fill_uniform,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .leaky_relu_forward = cpu_leaky_relu_forward,
    .leaky_relu_backward = cpu_leaky_relu_backward,
    .scale = cpu_scale,
    .channels_copy = cpu_channels_copy,
    .actnorm_forward = cpu_actnorm_forward,
    .actnorm_inverse = cpu_actnorm_inverse,
    .actnorm_backward = cpu_actnorm_backward,
    .actnorm_inverse_backward = cpu_actnorm_inverse_backward,
    .actnorm_init = cpu_actnorm_init,
    .invconv_lu_weights = cpu_invconv_lu_weights,
    .invconv_lu_backward = cpu_invconv_lu_backward,
    .invconv_logdet = cpu_invconv_logdet,
    .invconv_logdet_backward = cpu_invconv_logdet_backward,
    .coupling_affine_forward = cpu_coupling_affine_forward,
    .coupling_affine_inverse = cpu_coupling_affine_inverse,
    .coupling_affine_backward = cpu_coupling_affine_backward,
    .coupling_affine_inverse_backward = cpu_coupling_affine_inverse_backward,
    .squeeze_forward = cpu_squeeze_forward,
    .squeeze_inverse = cpu_squeeze_inverse,
    .coupling_additive_forward = cpu_coupling_additive_forward,
    .coupling_additive_inverse = cpu_coupling_additive_inverse,
    .coupling_additive_backward = cpu_coupling_additive_backward,
    .gaussian_diag_logp = cpu_gaussian_diag_logp,
    .gaussian_diag_logp_backward_acc = cpu_gaussian_diag_logp_backward_acc,
    .conv_plan_init = cpu_conv_plan_init,
    .conv_plan_free = cpu_conv_plan_free,
    .conv2d_forward = cpu_conv2d_forward,
    .conv2d_backward_data = cpu_conv2d_backward_data,
    .conv2d_backward_filter = cpu_conv2d_backward_filter,
    .dequantize = cpu_dequantize,
    .postprocess = cpu_postprocess,
    .gaussian_logp = cpu_gaussian_logp,
    .gaussian_logp_backward_acc = cpu_gaussian_logp_backward_acc,
    .nce_loss = cpu_nce_loss,
    .softmax_xent = cpu_softmax_xent,
    .adam_step = cpu_adam_step,
    .adamax_step = cpu_adamax_step,
};

fce_status fce_cpu_backend_init(fce_ctx *ctx) {
    ctx->ops = &fce_cpu_ops;
    ctx->kind = FCE_BACKEND_KIND_CPU;
    ctx->device = -1;
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", "cpu (reference backend)");
    ctx->debug_sync = 0;
    ctx->impl = NULL;
    return FCE_STATUS_OK;
}

void fce_cpu_backend_free(fce_ctx *ctx) {
    /* The CPU backend owns no state: nothing to release. */
    (void)ctx;
}
