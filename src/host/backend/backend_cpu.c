/* backend_cpu.c: the two CPU backends: the reference (fce_backend_ops filled with the fce_ref_*
 * functions, the readable oracle) and the fast one (the same table with the dense layer and the
 * convolutions replaced by cache-blocked GEMMs on a pool of threads, src/host/cpu/).
 *
 * Every compute entry of include/fce/ops.def is generated from that list: cpu_<op> drops the
 * context, calls fce_ref_<op> with the same arguments and returns FCE_STATUS_OK (the reference ops
 * cannot fail). Written out here: memory, which is ordinary host memory (alloc is calloc,
 * zero-filled as the table promises; release is free; upload/download/copy are memcpy; zero is
 * memset; sync does nothing because every op has finished when it returns), and the convolution,
 * whose plan is the validated shape.
 *
 * The fast backend's context owns a cpu_state (ctx->impl): its op table, a copy of the reference
 * table with the fast entries set, the GEMM micro-kernel for this CPU (FCE_CPU_ISA overrides it),
 * and the thread pool with its scratch, which each conv plan grows at setup to what its
 * backward-data pass needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "cpu/act_cpu.h"
#include "cpu/actnorm_cpu.h"
#include "cpu/conv_cpu.h"
#include "cpu/cpu_pool.h"
#include "cpu/gemm_cpu.h"
#include "cpu/linear_cpu.h"
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

// ---- the fast backend: the entries that differ from the reference ----

typedef struct cpu_state {
    fce_backend_ops ops;
    cpu_exec ex; /* the thread pool and the GEMM micro-kernel */
} cpu_state;

static const cpu_exec *exec_of(fce_ctx *ctx) { return &((cpu_state *)ctx->impl)->ex; }

static fce_status fast_linear_forward(fce_ctx *ctx, float *y, const float *x, const float *W,
                                      const float *b, int N, int in, int out) {
    linear_cpu_forward(exec_of(ctx), y, x, W, b, N, in, out);
    return FCE_STATUS_OK;
}

static fce_status fast_linear_backward(fce_ctx *ctx, float *dx, float *dW, float *db,
                                       const float *dy, const float *x, const float *W, int N,
                                       int in, int out) {
    linear_cpu_backward(exec_of(ctx), dx, dW, db, dy, x, W, N, in, out);
    return FCE_STATUS_OK;
}

/* The ops whose fast kernel <op>_cpu takes the reference's arguments: the leaky ReLU and the four
 * actnorm passes of fce/ops.def, bit-identical to the reference (act_cpu.h, actnorm_cpu.h). */
#define FAST_SAME_ARGS(name, params, args)                                                         \
    static fce_status fast_##name FCE_OP_CTX_PARAMS params {                                       \
        name##_cpu args;                                                                           \
        return FCE_STATUS_OK;                                                                      \
    }
FAST_SAME_ARGS(leaky_relu_forward, (float *y, const float *x, size_t n, float slope),
               (y, x, n, slope))
FAST_SAME_ARGS(leaky_relu_backward,
               (float *dx, const float *dy, const float *x, size_t n, float slope),
               (dx, dy, x, n, slope))
FAST_SAME_ARGS(actnorm_forward,
               (float *y, float *logdet, const float *x, const float *bias, const float *logs,
                int N, int HW, int C),
               (y, logdet, x, bias, logs, N, HW, C))
FAST_SAME_ARGS(actnorm_inverse,
               (float *x, float *logdet, const float *y, const float *bias, const float *logs,
                int N, int HW, int C),
               (x, logdet, y, bias, logs, N, HW, C))
FAST_SAME_ARGS(actnorm_backward,
               (float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                const float *dlogdet, const float *bias, const float *logs, int N, int HW,
                int C),
               (dx, dbias, dlogs, dy, y, dlogdet, bias, logs, N, HW, C))
FAST_SAME_ARGS(actnorm_inverse_backward,
               (float *dy, float *dbias, float *dlogs, const float *dx, const float *x,
                const float *dlogdet, const float *bias, const float *logs, int N, int HW,
                int C),
               (dy, dbias, dlogs, dx, x, dlogdet, bias, logs, N, HW, C))

/* The invertible 1×1 maps' products (fce/ops.def invconv_*) on the dense layer's GEMM, as the
 * flow computed them before they had ops of their own; each output is its own sum over the C
 * inputs (gemm_cpu.h), so the planar halves hold exactly the columns of the full product. */
static fce_status fast_invconv_forward(fce_ctx *ctx, float *y, const float *x, const float *W,
                                       int rows, int C) {
    linear_cpu_forward(exec_of(ctx), y, x, W, NULL, rows, C, C);
    return FCE_STATUS_OK;
}

static fce_status fast_invconv_forward_halves(fce_ctx *ctx, float *y, const float *x,
                                              const float *W, int rows, int C) {
    const int half = C / 2;
    linear_cpu_forward(exec_of(ctx), y, x, W, NULL, rows, C, half);
    linear_cpu_forward(exec_of(ctx), y + (size_t)rows * half, x, W + (size_t)half * C, NULL, rows,
                       C, half);
    return FCE_STATUS_OK;
}

static fce_status fast_invconv_backward(fce_ctx *ctx, float *dx, float *dW, const float *dy,
                                        const float *x, const float *W, int rows, int C) {
    linear_cpu_backward(exec_of(ctx), dx, dW, NULL, dy, x, W, rows, C, C);
    return FCE_STATUS_OK;
}

/* The fused actnorm ops of the image flow (fce/ops.def) on the row-major actnorm and ReLU above,
 * bit-identical to their references (the work buffer is the GPU's). */
static fce_status fast_actnorm_relu_forward(fce_ctx *ctx, float *y, const float *x,
                                            const float *bias, const float *logs, int N, int HW,
                                            int C) {
    (void)ctx;
    actnorm_forward_cpu(y, NULL, x, bias, logs, N, HW, C);
    leaky_relu_forward_cpu(y, y, (size_t)N * (size_t)HW * (size_t)C, 0.0f);
    return FCE_STATUS_OK;
}

static fce_status fast_actnorm_relu_backward(fce_ctx *ctx, float *dx, float *dbias, float *dlogs,
                                             const float *dy, const float *y, const float *bias,
                                             const float *logs, int N, int HW, int C, float *work) {
    (void)ctx, (void)work;
    actnorm_relu_backward_cpu(dx, dbias, dlogs, dy, y, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status fast_actnorm_backward_ws(fce_ctx *ctx, float *dx, float *dbias, float *dlogs,
                                           const float *dy, const float *y, const float *dlogdet,
                                           const float *bias, const float *logs, int N, int HW,
                                           int C, float *work) {
    (void)ctx, (void)work;
    actnorm_backward_cpu(dx, dbias, dlogs, dy, y, dlogdet, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status fast_actnorm_inverse_backward_ws(fce_ctx *ctx, float *dy, float *dbias,
                                                   float *dlogs, const float *dx, const float *x,
                                                   const float *dlogdet, const float *bias,
                                                   const float *logs, int N, int HW, int C,
                                                   float *work) {
    (void)ctx, (void)work;
    actnorm_inverse_backward_cpu(dy, dbias, dlogs, dx, x, dlogdet, bias, logs, N, HW, C);
    return FCE_STATUS_OK;
}

static fce_status fast_actnorm_inverse_split(fce_ctx *ctx, float *x, float *xa, const float *y,
                                             const float *bias, const float *logs, int N, int HW,
                                             int C) {
    (void)ctx;
    actnorm_inverse_cpu(x, NULL, y, bias, logs, N, HW, C);
    if (xa) fce_ref_channels_copy(xa, C / 2, 0, x, C, 0, C / 2, (size_t)N * (size_t)HW, 0);
    return FCE_STATUS_OK;
}

static fce_status fast_conv_plan_init(fce_ctx *ctx, fce_conv_plan **plan,
                                      const fce_conv_shape *shape) {
    FCE_TRY(cpu_conv_plan_init(ctx, plan, shape));
    fce_status st = cpu_pool_reserve(exec_of(ctx)->pool, conv_cpu_scratch_floats(shape));
    if (st != FCE_STATUS_OK) {
        cpu_conv_plan_free(ctx, *plan);
        *plan = NULL;
    }
    return st;
}

static fce_status fast_conv2d_forward(fce_ctx *ctx, const fce_conv_plan *plan, float *y,
                                      const float *x, const float *w, const float *b) {
    conv_cpu_forward(exec_of(ctx), &plan->shape, y, x, w, b);
    return FCE_STATUS_OK;
}

static fce_status fast_conv2d_backward_data(fce_ctx *ctx, const fce_conv_plan *plan, float *dx,
                                            const float *dy, const float *w) {
    if (dx) conv_cpu_backward_data(exec_of(ctx), &plan->shape, dx, dy, w);
    return FCE_STATUS_OK;
}

static fce_status fast_conv2d_backward_filter(fce_ctx *ctx, const fce_conv_plan *plan, float *dw,
                                              float *db, const float *dy, const float *x) {
    conv_cpu_backward_filter(exec_of(ctx), &plan->shape, dw, db, dy, x);
    return FCE_STATUS_OK;
}

/* The entries of the fast table that differ from the reference's. */
#define FAST_OPS(X)                                                                                \
    X(linear_forward) X(linear_backward) X(leaky_relu_forward) X(leaky_relu_backward)              \
        X(actnorm_forward) X(actnorm_inverse) X(actnorm_backward) X(actnorm_inverse_backward)      \
            X(conv_plan_init) X(conv2d_forward) X(conv2d_backward_data) X(conv2d_backward_filter)  \
                X(invconv_forward) X(invconv_forward_halves) X(invconv_backward)                   \
                    X(actnorm_relu_forward) X(actnorm_relu_backward) X(actnorm_backward_ws)        \
                        X(actnorm_inverse_backward_ws) X(actnorm_inverse_split)

static fce_status cpu_fast_init(fce_ctx *ctx) {
    const int threads = cpu_pool_default_threads();
    const gemm_kernel *kernel = gemm_kernel_pick();
    if (threads < 1 || !kernel) return FCE_STATUS_ERR_CONFIG; /* FCE_CPU_THREADS/ISA (logged) */
    cpu_state *cs = calloc(1, sizeof *cs);
    if (!cs) {
        fce_log_error("cpu backend: out of host memory for its state (%zu bytes)", sizeof *cs);
        return FCE_STATUS_ERR_NOMEM;
    }
    cs->ex.kernel = kernel;
    fce_status st = cpu_pool_create(&cs->ex.pool, threads);
    if (st == FCE_STATUS_OK) st = cpu_pool_reserve(cs->ex.pool, GEMM_SCRATCH_FLOATS);
    if (st != FCE_STATUS_OK) {
        cpu_pool_free(cs->ex.pool);
        free(cs);
        return st;
    }
    cs->ops = fce_cpu_ops;
#define FAST_ENTRY(name) cs->ops.name = fast_##name;
    FAST_OPS(FAST_ENTRY)
#undef FAST_ENTRY
    ctx->ops = &cs->ops;
    ctx->impl = cs;
    snprintf(ctx->device_name, sizeof ctx->device_name, "cpu (fast backend, %d thread%s, %s)",
             threads, threads == 1 ? "" : "s", kernel->isa);
    return FCE_STATUS_OK;
}

fce_status fce_cpu_backend_init(fce_ctx *ctx, int reference) {
    ctx->ops = &fce_cpu_ops;
    ctx->kind = FCE_BACKEND_KIND_CPU;
    ctx->device = -1;
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s", "cpu (reference backend)");
    ctx->debug_sync = 0;
    ctx->impl = NULL;
    return reference ? FCE_STATUS_OK : cpu_fast_init(ctx);
}

void fce_cpu_backend_free(fce_ctx *ctx) {
    /* The reference backend owns no state; the fast one its pool and table. */
    cpu_state *cs = ctx->impl;
    if (!cs) return;
    cpu_pool_free(cs->ex.pool);
    free(cs);
    ctx->impl = NULL;
}
