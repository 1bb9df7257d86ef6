/* backend.c: choose the backend for a context (backend.h). "auto" takes GPU 0 when one is usable,
 * else the CPU backend with a one-line notice; "cpu" forces the CPU backend, "cpu-ref" the plain
 * reference; "N" demands GPU N. The CPU backend is the fast one unless FCE_CPU_REF=1. */
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
    return fce_cpu_backend_init(ctx, 1);
}

/* FCE_CPU_REF=1 (any value but empty or "0") turns "cpu" and the CPU fallback into the
 * reference. */
static int cpu_reference_wanted(void) {
    const char *env = getenv("FCE_CPU_REF");
    return env && *env && strcmp(env, "0") != 0;
}

static fce_status cpu_init(fce_ctx *ctx, int reference) {
    fce_status st = fce_cpu_backend_init(ctx, reference || cpu_reference_wanted());
    if (st != FCE_STATUS_OK) memset(ctx, 0, sizeof(*ctx));
    return st;
}

fce_status fce_ctx_init(fce_ctx *ctx, const char *device_spec) {
    memset(ctx, 0, sizeof(*ctx));
    if (!device_spec || strcmp(device_spec, "cpu") == 0) return cpu_init(ctx, 0);
    if (strcmp(device_spec, "cpu-ref") == 0) return cpu_init(ctx, 1);
    char reason[256] = "";
    if (strcmp(device_spec, "auto") == 0) {
        if (!fce_gpu_usable(reason, sizeof reason)) {
            fce_status st = cpu_init(ctx, 0);
            if (st == FCE_STATUS_OK)
                fce_log_info("no usable GPU (%s); using the %s", reason, ctx->device_name);
            return st;
        }
#ifdef FCE_HAVE_CUDA
        return fce_cuda_backend_init(ctx, 0);
#endif
    }
    char *end = NULL;
    errno = 0;
    long ordinal = strtol(device_spec, &end, 10);
    if (errno || end == device_spec || *end != '\0' || ordinal < 0 || ordinal > 1023) {
        fce_log_error("--device '%s' is not auto, cpu, cpu-ref or a GPU ordinal (0, 1, ...)",
                      device_spec);
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
