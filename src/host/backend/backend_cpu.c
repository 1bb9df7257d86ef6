/* backend_cpu.c: the CPU reference backend: fce_backend_ops filled with the fce_ref_* functions.
 *
 * Every compute entry of include/fce/ops.def is generated from that list: cpu_<op> drops the
 * context, calls fce_ref_<op> with the same arguments and returns FCE_STATUS_OK (the reference ops
 * cannot fail). Written out here: memory, which is ordinary host memory (alloc is calloc,
 * zero-filled as the table promises; release is free; upload/download/copy are memcpy; zero is
 * memset; sync does nothing because every op has finished when it returns), and the convolution,
 * whose plan is the validated shape. */
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

// ---- the compute ops of fce/ops.def: cpu_<op>(ctx, params) calls fce_ref_<op>(args) ----

#define FCE_OP(name, params, args)                                                                 \
    static fce_status cpu_##name FCE_OP_CTX_PARAMS params {                                        \
        (void)ctx;                                                                                 \
        fce_ref_##name args;                                                                       \
        return FCE_STATUS_OK;                                                                      \
    }
#include "fce/ops.def"

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

static const fce_backend_ops fce_cpu_ops = {
#define CPU_ENTRY(name) .name = cpu_##name,
    FCE_BACKEND_WRITTEN_OUT_OPS(CPU_ENTRY)
#define FCE_OP(name, params, args) CPU_ENTRY(name)
#include "fce/ops.def"
#undef CPU_ENTRY
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
