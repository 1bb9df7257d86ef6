/* backend.c: choose the backend for a context (backend.h). "auto" takes GPU 0 when one is usable,
 * else the CPU reference with a one-line notice; "cpu" forces the reference; "N" demands GPU N. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_internal.h"
#include "fce/log.h"

int fce_gpu_usable(char *reason, size_t reason_len) {
#ifdef FCE_HAVE_CUDA
    return fce_cuda_gpu_usable(reason, reason_len);
#else
    if (reason && reason_len) snprintf(reason, reason_len, "built without CUDA");
    return 0;
#endif
}

fce_status fce_ctx_init_cpu(fce_ctx *ctx) {
    memset(ctx, 0, sizeof(*ctx));
    return fce_cpu_backend_init(ctx);
}

fce_status fce_ctx_init(fce_ctx *ctx, const char *device_spec) {
    memset(ctx, 0, sizeof(*ctx));
    if (!device_spec || strcmp(device_spec, "cpu") == 0) return fce_cpu_backend_init(ctx);
    char reason[256] = "";
    if (strcmp(device_spec, "auto") == 0) {
        if (!fce_gpu_usable(reason, sizeof reason)) {
            fce_log_info("no usable GPU (%s); using the CPU reference backend", reason);
            return fce_cpu_backend_init(ctx);
        }
#ifdef FCE_HAVE_CUDA
        return fce_cuda_backend_init(ctx, 0);
#endif
    }
    char *end = NULL;
    errno = 0;
    long ordinal = strtol(device_spec, &end, 10);
    if (errno || end == device_spec || *end != '\0' || ordinal < 0 || ordinal > 1023) {
        fce_log_error("--device '%s' is not auto, cpu or a GPU ordinal (0, 1, ...)", device_spec);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (!fce_gpu_usable(reason, sizeof reason)) {
        fce_log_error("--device %ld asks for a GPU but none is usable (%s); use --device cpu or auto",
                      ordinal, reason);
        return FCE_STATUS_ERR_CUDA;
    }
#ifdef FCE_HAVE_CUDA
    return fce_cuda_backend_init(ctx, (int)ordinal);
#else
    return FCE_STATUS_ERR_CUDA;
#endif
}

fce_status fce_ctx_set_tf32(fce_ctx *ctx, int on) {
    ctx->tf32 = on ? 1 : 0;
#ifdef FCE_HAVE_CUDA
    if (ctx->kind == FCE_BACKEND_KIND_CUDA) return fce_cuda_set_tf32(ctx, ctx->tf32);
#endif
    return FCE_STATUS_OK;
}

void fce_ctx_free(fce_ctx *ctx) {
    if (!ctx || !ctx->ops) return;
#ifdef FCE_HAVE_CUDA
    if (ctx->kind == FCE_BACKEND_KIND_CUDA) fce_cuda_backend_free(ctx);
    else
#endif
        fce_cpu_backend_free(ctx);
    memset(ctx, 0, sizeof(*ctx));
}
