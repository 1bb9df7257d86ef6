/* backend_internal.h: how backend.c reaches the two backends, and the table entries both write
 * out (not a public header). */
#ifndef FCE_BACKEND_INTERNAL_H
#define FCE_BACKEND_INTERNAL_H

#include <stddef.h>

#include "fce/backend.h"

/* The table entries each backend writes out itself (the compute ops are generated from
 * fce/ops.def): X(name) for each; backend_cpu.c defines cpu_<name>, backend_cuda.c cuda_<name>. */
#define FCE_BACKEND_WRITTEN_OUT_OPS(X)                                                             \
    X(alloc) X(release) X(upload) X(download) X(copy) X(zero) X(sync) X(conv_plan_init)            \
        X(conv_plan_free) X(conv2d_forward) X(conv2d_backward_data) X(conv2d_backward_filter)

/* backend/backend_cpu.c: fills ctx with the CPU reference table (reference != 0) or the fast CPU
 * table, whose thread pool it starts (FCE_CPU_THREADS threads, default min(2, online CPUs)). */
fce_status fce_cpu_backend_init(fce_ctx *ctx, int reference);
void fce_cpu_backend_free(fce_ctx *ctx);

#ifdef FCE_HAVE_CUDA
/* cuda/backend_cuda.c: selects GPU `ordinal`, creates the stream and the cuBLAS handle bound to it,
 * fills ctx with the CUDA table. */
fce_status fce_cuda_backend_init(fce_ctx *ctx, int ordinal);
void fce_cuda_backend_free(fce_ctx *ctx);
/* cuda/backend_cuda.c: cuBLAS math mode for fce_ctx_set_tf32 (conv plans read ctx->tf32). */
fce_status fce_cuda_set_tf32(fce_ctx *ctx, int on);
/* cuda/context_cuda.c: 1 if a GPU is usable; any runtime error or 0 devices means no (reason set). */
int fce_cuda_gpu_usable(char *reason, size_t reason_len);
#endif

#endif
