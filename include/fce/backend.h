/* backend.h: the execution context and the one backend op table.
 *
 * glow.c, ebm.c, mlp.c and the training loop call only ctx->ops->xxx(ctx, ...); they never name a
 * backend. The table is filled once, at fce_ctx_init, by the CPU reference
 * (src/host/backend/backend_cpu.c, plain C, the test oracle), by the fast CPU backend (the same
 * table with the dense layer and convolutions as threaded blocked GEMMs, src/host/cpu/), or by
 * the CUDA backend
 * (src/host/cuda/backend_cuda.c, custom kernels, cuBLAS and cuDNN). Every float pointer an op takes
 * lives in that backend's memory (host memory for CPU, device memory for CUDA); only
 * alloc/upload/download cross the boundary.
 *
 * The compute ops are declared once, with their math, in fce/ops.def (an X-macro list); this file
 * writes out only the memory and convolution entries. The layout (row-major, NHWC images with
 * rows = N*H*W) and the gradient rule (parameter gradients +=, activation gradients =, _acc ops +=,
 * NULL skips) are stated there too.
 *
 * Ops enqueue on the context's stream and do not synchronise, except download() and sync().
 * Each returns FCE_STATUS_OK or the error of the library call that failed (already logged). */
#ifndef FCE_BACKEND_H
#define FCE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest channel count of the LU-parameterised invertible map (the image Glow needs 48). */
#define FCE_INVCONV_MAX_C 64

/* Actnorm's effective log-scale is FACTOR * stored value (openai/glow logscale_factor = 3). */
#define FCE_ACTNORM_LOGSCALE_FACTOR 3.0f

/* The work buffer of the fused actnorm backward ops (fce/ops.def) for C channels, in floats:
 * FCE_ACTNORM_WORK_COUNTERS completion counters (one per group of 32 channels), then
 * FCE_ACTNORM_SPLITS partial sums (Σg, Σg·v) in double per channel. Zero when allocated; every
 * call leaves it zero. C may be at most 32·FCE_ACTNORM_WORK_COUNTERS. */
#define FCE_ACTNORM_SPLITS 64
#define FCE_ACTNORM_WORK_COUNTERS 256
static inline size_t fce_actnorm_work_floats(int C) {
    return (size_t)FCE_ACTNORM_WORK_COUNTERS + 4 * (size_t)FCE_ACTNORM_SPLITS * (size_t)(C > 0 ? C : 1);
}

typedef enum fce_backend_kind { FCE_BACKEND_KIND_CPU = 0, FCE_BACKEND_KIND_CUDA = 1 } fce_backend_kind;

typedef struct fce_ctx fce_ctx;
struct fce_dist;

/* A 2D convolution's shape, NHWC: x (N, H, W, Cin), w (Cout, KH, KW, Cin), y (N, Ho, Wo, Cout),
 * Ho = (H + 2·pad − KH)/stride + 1, Wo likewise; zero padding. */
typedef struct fce_conv_shape {
    int N, H, W, Cin, Cout, KH, KW, stride, pad;
} fce_conv_shape;
/* A backend's plan for one conv shape: descriptors, chosen algorithms, workspace needs. Made at
 * setup (conv_plan_init), never inside a training step; owned by the backend. */
typedef struct fce_conv_plan fce_conv_plan;
/* A recorded, instantiated sequence of ops (a CUDA graph exec on the CUDA backend). */
typedef struct fce_graph fce_graph;

/* The parameter list of a table entry: the context, then the op's own parameters (fce/ops.def). */
#define FCE_OP_CTX_PARAMS(...) (fce_ctx *ctx, __VA_ARGS__)

typedef struct fce_backend_ops {
    /* ---- memory ---- */
    fce_status (*alloc)(fce_ctx *ctx, void **p, size_t bytes);       /* zero-filled */
    void (*release)(fce_ctx *ctx, void *p);                          /* NULL-safe */
    /* src_host may be reused when upload returns; it does not wait for the device (CUDA: small
     * uploads go through a pinned staging ring, large ones are waited for) */
    fce_status (*upload)(fce_ctx *ctx, void *dst, const void *src_host, size_t bytes);
    fce_status (*download)(fce_ctx *ctx, void *dst_host, const void *src, size_t bytes); /* syncs */
    fce_status (*copy)(fce_ctx *ctx, void *dst, const void *src, size_t bytes);          /* dev→dev */
    fce_status (*zero)(fce_ctx *ctx, void *p, size_t bytes);
    fce_status (*sync)(fce_ctx *ctx);

    /* ---- 2D convolution, NHWC (cuDNN on the GPU; fce_ref_conv2d_* on the CPU) ----
     * conv_plan_init validates the shape, picks algorithms (deterministic ones when ctx->deterministic)
     * and reserves the backend's shared workspace for them: call it at setup only.
     * forward: y = conv(x, w) + b (b may be NULL); backward_data: dx = (overwrite);
     * backward_filter: dw += , db += (db may be NULL). Math: fce_ref_conv2d_* in ref.h. */
    fce_status (*conv_plan_init)(fce_ctx *ctx, fce_conv_plan **plan, const fce_conv_shape *shape);
    void (*conv_plan_free)(fce_ctx *ctx, fce_conv_plan *plan); /* NULL-safe */
    fce_status (*conv2d_forward)(fce_ctx *ctx, const fce_conv_plan *plan, float *y, const float *x,
                                 const float *w, const float *b);
    fce_status (*conv2d_backward_data)(fce_ctx *ctx, const fce_conv_plan *plan, float *dx,
                                       const float *dy, const float *w);
    fce_status (*conv2d_backward_filter)(fce_ctx *ctx, const fce_conv_plan *plan, float *dw,
                                         float *db, const float *dy, const float *x);

    /* ---- CUDA graphs (train/step_graph.h uses them; NULL on the CPU backends) ----
     * graph_begin: from now on the ops of this context are recorded into a graph, not run
     * (stream capture); upload, download, sync and alloc are refused while recording
     * (FCE_STATUS_ERR_UNSUPPORTED, logged), so a recorded step can hold no host transfer, no
     * synchronisation and no allocation. graph_end: stops recording and instantiates; on any
     * failure of the recording (an op refused, a library call that cannot be captured) it returns
     * the error, *graph = NULL, and the context is usable again for eager work (nothing recorded
     * ran). graph_launch: runs the recorded ops once more, in order, on the context's stream,
     * with the arguments they were recorded with (values that change from step to step must be
     * read from device memory). graph_free: NULL-safe. */
    fce_status (*graph_begin)(fce_ctx *ctx);
    fce_status (*graph_end)(fce_ctx *ctx, struct fce_graph **graph);
    fce_status (*graph_launch)(fce_ctx *ctx, struct fce_graph *graph);
    void (*graph_free)(fce_ctx *ctx, struct fce_graph *graph);

    /* ---- every compute op: fce_status (*name)(fce_ctx *ctx, params), declared and explained
     * once in fce/ops.def ---- */
#define FCE_OP(name, params, args) fce_status(*name) FCE_OP_CTX_PARAMS params;
#include "fce/ops.def"
} fce_backend_ops;

struct fce_ctx {
    const fce_backend_ops *ops;
    fce_backend_kind kind;
    int device;              /* CUDA ordinal, −1 for CPU */
    char device_name[128];   /* "cpu (reference backend)", "cpu (fast backend, 2 threads)" or the
                                GPU name */
    int debug_sync;          /* CUDA: synchronise after every launch to pin async faults */
    int deterministic;       /* CUDA: only deterministic cuDNN algorithms (FCE_DETERMINISTIC=1) */
    int tf32;                /* CUDA: TF32 tensor cores for GEMMs and convs (opt-in; see below) */
    void *impl;              /* backend-private state (stream, handles) */
    struct fce_dist *dist;   /* the multi-process job it trains in (dist/dist.h); NULL: alone */
};

/* device_spec: "auto" (GPU 0 if usable, else CPU with a one-line notice), "cpu" (the fast CPU
 * backend; the reference when the environment has FCE_CPU_REF=1), "cpu-ref" (the plain reference),
 * or an ordinal "N". A GPU that was asked for by ordinal but is not usable is an error
 * (FCE_STATUS_ERR_CUDA). The fast CPU backend runs FCE_CPU_THREADS threads (default min(2, online
 * CPUs)); a malformed FCE_CPU_THREADS is FCE_STATUS_ERR_CONFIG. */
fce_status fce_ctx_init(fce_ctx *ctx, const char *device_spec);
void fce_ctx_free(fce_ctx *ctx);

/* TF32 tensor cores (issue 5's first lever), off by default. On: the dense layers' cuBLAS GEMMs
 * (linear_forward/backward: the 2D coupling networks and EBM, the top prior's batch sum) run in
 * CUBLAS_TF32_TENSOR_OP_MATH at once, while the invertible 1×1 maps (invconv_forward[_halves],
 * invconv_backward) and every log-det stay exact FP32, so a flow's inverse stays within 1e-4 of
 * the data (issue 12); conv plans made AFTER this call may pick TF32 cuDNN
 * algorithms (plans made before keep FP32), so call it right after fce_ctx_init, before any model
 * or tape is built. Inputs of each product keep 10 mantissa bits: a GEMM or conv output is then
 * within 5·2⁻¹¹·Σ|a·b| of the exact result (tests/gpu/test_gpu_conv.c checks exactly that bound),
 * not within the FP32 tests' tolerances. The environment variable FCE_TF32=1 turns it
 * on for every CUDA context at creation (e.g. `FCE_TF32=1 fce-gpu train ...`). The CPU backend
 * ignores it (its flag is recorded, its math stays FP32/FP64). */
fce_status fce_ctx_set_tf32(fce_ctx *ctx, int on);

/* The CPU reference backend (fce_ref_*), whatever the environment says: the tests' oracle. */
fce_status fce_ctx_init_cpu(fce_ctx *ctx);

/* Is a CUDA GPU usable? 1 yes; 0 no, with the reason in `reason`. Builds without CUDA say so. */
int fce_gpu_usable(char *reason, size_t reason_len);

#ifdef __cplusplus
}
#endif
#endif
