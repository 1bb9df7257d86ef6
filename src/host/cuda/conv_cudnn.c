/* conv_cudnn.c: 2D convolution with cuDNN's legacy C API, the one file that calls cuDNN
 * (STYLE 6.10).
 *
 * Layouts (backend.h): x (N, H, W, Cin), y (N, Ho, Wo, Cout) are NHWC tensors, described with
 * cudnnSetTensor4dDescriptor(CUDNN_TENSOR_NHWC, n, c, h, w); w (Cout, KH, KW, Cin) is cuDNN's
 * KRSC filter layout, cudnnSetFilter4dDescriptor(CUDNN_TENSOR_NHWC, k = Cout, c = Cin, KH, KW);
 * the bias is a 1×Cout×1×1 NHWC tensor broadcast by cudnnAddTensor. The convolution is
 * CUDNN_CROSS_CORRELATION (no kernel flip), as fce_ref_conv2d_* (ref.h), in FP32 with
 * CUDNN_FMA_MATH: no TF32 or other tensor-op conversion, so results are exact FP32 sums.
 * TF32 (opt-in, ctx->tf32 when the plan is made): the descriptor gets CUDNN_DEFAULT_MATH, which
 * lets cuDNN use TF32 tensor cores for FP32 data on Ampere and later; candidates reported with
 * CUDNN_TENSOR_OP_MATH qualify too, but never CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (FP16/BF16
 * down-conversion). Each direction's chosen math type is set on the descriptor right before its
 * call, as cuDNN asks for algorithms found with a math type.
 *
 * Plans: one per conv shape, made at setup: the four descriptors, the three chosen algorithms
 * and their workspace needs. Algorithm choice: cudnnGet*Algorithm_v7 ranks the candidates; the
 * first one whose status is success, whose memory fits FCE_CUDNN_WORKSPACE_CAP, whose math type
 * is not a tensor-op one and, when the context is deterministic, whose determinism is
 * CUDNN_DETERMINISTIC, is kept. None qualifying is FCE_STATUS_ERR_CUDNN with the shape named.
 * The chosen algorithms are logged once per distinct shape.
 *
 * Workspace: ONE buffer in fce_cudnn_state, shared by every plan (ops on one stream run one at a
 * time). Plan init grows it (synchronise, cudaFree, cudaMalloc) to the largest need seen; ops
 * only read it, so a training step never allocates.
 *
 * Gradient rule: backward data overwrites dx (beta = 0); backward filter and bias accumulate
 * (beta = 1: dw += , db += ). */
#include "conv_cudnn.h"

#include <stdlib.h>
#include <string.h>

#include "check_cuda.h"
#include "fce/log.h"

struct fce_conv_plan {
    fce_conv_shape shape;
    int Ho, Wo;
    cudnnTensorDescriptor_t x_desc, y_desc, b_desc;
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv_desc;
    cudnnConvolutionFwdAlgo_t fwd_algo;
    cudnnConvolutionBwdDataAlgo_t bwd_data_algo;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo;
    size_t fwd_bytes, bwd_data_bytes, bwd_filter_bytes; /* workspace needs */
    int tf32;                                            /* TF32 tensor cores allowed */
    cudnnMathType_t fwd_math, bwd_data_math, bwd_filter_math; /* of the chosen algorithms */
};

/* The shape, for messages. */
#define SHAPE_FMT "conv N=%d H=%d W=%d Cin=%d Cout=%d K=%dx%d stride=%d pad=%d"
#define SHAPE_ARGS(s) (s)->N, (s)->H, (s)->W, (s)->Cin, (s)->Cout, (s)->KH, (s)->KW, (s)->stride, (s)->pad

// ---- handle and shared workspace ----

fce_status fce_cudnn_init(fce_cudnn_state *st, cudaStream_t stream) {
    memset(st, 0, sizeof *st);
    FCE_CUDNN_CHECK(cudnnCreate(&st->handle));
    FCE_CUDNN_CHECK(cudnnSetStream(st->handle, stream));
    return FCE_STATUS_OK;
}

void fce_cudnn_free(fce_cudnn_state *st) {
    if (!st) return;
    if (st->workspace) FCE_CUDA_CHECK_WARN(cudaFree(st->workspace));
    st->workspace = NULL;
    st->workspace_bytes = 0;
    if (st->handle) FCE_CUDNN_CHECK_WARN(cudnnDestroy(st->handle));
    st->handle = NULL;
}

/* Grows the shared workspace to at least `need` bytes (setup only). */
static fce_status workspace_reserve(fce_cudnn_state *st, cudaStream_t stream, size_t need,
                                    const fce_conv_shape *s) {
    if (need <= st->workspace_bytes) return FCE_STATUS_OK;
    /* Work already enqueued may still use the old buffer. */
    FCE_CUDA_CHECK(cudaStreamSynchronize(stream));
    void *old = st->workspace;
    st->workspace = NULL;
    st->workspace_bytes = 0;
    if (old) FCE_CUDA_CHECK(cudaFree(old));
    cudaError_t err = cudaMalloc(&st->workspace, need);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky */
        st->workspace = NULL;
        fce_log_error("CUDA error: %s | cuDNN workspace of %zu bytes (%.1f MiB) for " SHAPE_FMT,
                      cudaGetErrorString(err), need, (double)need / 1048576.0, SHAPE_ARGS(s));
        return FCE_STATUS_ERR_CUDA;
    }
    st->workspace_bytes = need;
    return FCE_STATUS_OK;
}

// ---- algorithm choice ----

static const char *fwd_algo_name(cudnnConvolutionFwdAlgo_t a) {
    static const char *names[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                  "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    return ((int)a >= 0 && (size_t)a < sizeof names / sizeof names[0]) ? names[a] : "?";
}

static const char *bwd_data_algo_name(cudnnConvolutionBwdDataAlgo_t a) {
    static const char *names[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
                                  "WINOGRAD_NONFUSED"};
    return ((int)a >= 0 && (size_t)a < sizeof names / sizeof names[0]) ? names[a] : "?";
}

static const char *bwd_filter_algo_name(cudnnConvolutionBwdFilterAlgo_t a) {
    static const char *names[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD",
                                  "WINOGRAD_NONFUSED", "FFT_TILING"};
    return ((int)a >= 0 && (size_t)a < sizeof names / sizeof names[0]) ? names[a] : "?";
}

/* Does a candidate qualify? In FP32 mode the descriptor is pinned to CUDNN_FMA_MATH, and a
 * candidate reported with a tensor-op math type is refused as well (it would not be exact FP32).
 * In TF32 mode tensor-op candidates qualify, except those that down-convert to FP16/BF16. */
static int candidate_ok(cudnnStatus_t status, size_t memory, cudnnDeterminism_t determinism,
                        cudnnMathType_t math, int deterministic, int tf32) {
    if (status != CUDNN_STATUS_SUCCESS) return 0;
    if (memory > FCE_CUDNN_WORKSPACE_CAP) return 0;
    if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0;
    if (!tf32 && math == CUDNN_TENSOR_OP_MATH) return 0;
    if (deterministic && determinism != CUDNN_DETERMINISTIC) return 0;
    return 1;
}

#define MAX_CANDIDATES 16

static fce_status no_algorithm(const char *which, const fce_conv_plan *p, int returned,
                               int deterministic) {
    const fce_conv_shape *s = &p->shape;
    fce_log_error("cuDNN: no %s algorithm qualifies for " SHAPE_FMT
                  " (%d candidate(s); need status success, workspace <= %zu MiB, %s%s)",
                  which, SHAPE_ARGS(s), returned, FCE_CUDNN_WORKSPACE_CAP >> 20,
                  p->tf32 ? "FMA or TF32 math" : "FMA math", deterministic ? ", deterministic" : "");
    return FCE_STATUS_ERR_CUDNN;
}

/* choose_fwd, choose_bwd_data, choose_bwd_filter: each direction has its own query functions
 * and its own perf struct type, but the structs share the fields read here (algo, status, memory,
 * determinism, mathType), so one body, written once, serves all three. The first qualifying
 * candidate goes into the plan's algo_field, bytes_field and math_field; the trailing arguments
 * are the query's four descriptors, in the order that direction's query takes them. */
#define DEFINE_ALGO_CHOOSER(name, which, perf_type, max_count_fn, query_fn, algo_field,             \
                            bytes_field, math_field, ...)                                            \
    static fce_status name(fce_cudnn_state *st, fce_conv_plan *p, int deterministic) {              \
        perf_type perf[MAX_CANDIDATES];                                                              \
        int max_count = 0, returned = 0;                                                             \
        FCE_CUDNN_CHECK(max_count_fn(st->handle, &max_count));                                       \
        if (max_count > MAX_CANDIDATES || max_count < 1) max_count = MAX_CANDIDATES;                 \
        FCE_CUDNN_CHECK(query_fn(st->handle, __VA_ARGS__, max_count, &returned, perf));              \
        for (int i = 0; i < returned; i++)                                                           \
            if (candidate_ok(perf[i].status, perf[i].memory, perf[i].determinism, perf[i].mathType,  \
                             deterministic, p->tf32)) {                                              \
                p->algo_field = perf[i].algo;                                                        \
                p->bytes_field = perf[i].memory;                                                     \
                p->math_field = p->tf32 ? perf[i].mathType : CUDNN_FMA_MATH;                         \
                return FCE_STATUS_OK;                                                                \
            }                                                                                        \
        return no_algorithm(which, p, returned, deterministic);                                      \
    }

DEFINE_ALGO_CHOOSER(choose_fwd, "forward", cudnnConvolutionFwdAlgoPerf_t,
                    cudnnGetConvolutionForwardAlgorithmMaxCount,
                    cudnnGetConvolutionForwardAlgorithm_v7, fwd_algo, fwd_bytes, fwd_math,
                    p->x_desc, p->w_desc, p->conv_desc, p->y_desc)
DEFINE_ALGO_CHOOSER(choose_bwd_data, "backward-data", cudnnConvolutionBwdDataAlgoPerf_t,
                    cudnnGetConvolutionBackwardDataAlgorithmMaxCount,
                    cudnnGetConvolutionBackwardDataAlgorithm_v7, bwd_data_algo, bwd_data_bytes,
                    bwd_data_math, p->w_desc, p->y_desc, p->conv_desc, p->x_desc)
DEFINE_ALGO_CHOOSER(choose_bwd_filter, "backward-filter", cudnnConvolutionBwdFilterAlgoPerf_t,
                    cudnnGetConvolutionBackwardFilterAlgorithmMaxCount,
                    cudnnGetConvolutionBackwardFilterAlgorithm_v7, bwd_filter_algo,
                    bwd_filter_bytes, bwd_filter_math, p->x_desc, p->y_desc, p->conv_desc, p->w_desc)
#undef DEFINE_ALGO_CHOOSER

/* Logs the plan's algorithms the first time its shape is seen. */
static void log_plan_once(fce_cudnn_state *st, const fce_conv_plan *p, int deterministic) {
    for (int i = 0; i < st->n_logged; i++)
        if (memcmp(&st->logged[i], &p->shape, sizeof p->shape) == 0) return;
    if (st->n_logged < FCE_CUDNN_LOGGED_MAX) st->logged[st->n_logged++] = p->shape;
    fce_log_info("cuDNN " SHAPE_FMT "%s%s: fwd %s (%zu B), bwd data %s (%zu B), bwd filter %s (%zu B)",
                 SHAPE_ARGS(&p->shape), deterministic ? " [deterministic]" : "", p->tf32 ? " [tf32]" : "",
                 fwd_algo_name(p->fwd_algo), p->fwd_bytes, bwd_data_algo_name(p->bwd_data_algo),
                 p->bwd_data_bytes, bwd_filter_algo_name(p->bwd_filter_algo), p->bwd_filter_bytes);
}

// ---- plans ----

void fce_cudnn_conv_plan_free(fce_conv_plan *p) {
    if (!p) return;
    if (p->x_desc) FCE_CUDNN_CHECK_WARN(cudnnDestroyTensorDescriptor(p->x_desc));
    if (p->y_desc) FCE_CUDNN_CHECK_WARN(cudnnDestroyTensorDescriptor(p->y_desc));
    if (p->b_desc) FCE_CUDNN_CHECK_WARN(cudnnDestroyTensorDescriptor(p->b_desc));
    if (p->w_desc) FCE_CUDNN_CHECK_WARN(cudnnDestroyFilterDescriptor(p->w_desc));
    if (p->conv_desc) FCE_CUDNN_CHECK_WARN(cudnnDestroyConvolutionDescriptor(p->conv_desc));
    free(p);
}

/* Descriptors and algorithms into a zeroed plan; on failure the caller frees it. */
static fce_status plan_setup(fce_cudnn_state *st, fce_conv_plan *p, int deterministic) {
    const fce_conv_shape *s = &p->shape;
    FCE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x_desc));
    FCE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y_desc));
    FCE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->b_desc));
    FCE_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w_desc));
    FCE_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv_desc));

    /* x (N, H, W, Cin) NHWC; w (Cout, KH, KW, Cin) = KRSC; y (N, Ho, Wo, Cout); b 1×Cout×1×1. */
    FCE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                               s->N, s->Cin, s->H, s->W));
    FCE_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC,
                                               s->Cout, s->Cin, s->KH, s->KW));
    FCE_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv_desc, s->pad, s->pad, s->stride,
                                                    s->stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                    CUDNN_DATA_FLOAT));
    FCE_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv_desc, p->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));

    int on = 0, oc = 0, oh = 0, ow = 0;
    FCE_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv_desc, p->x_desc, p->w_desc, &on,
                                                          &oc, &oh, &ow));
    if (on != s->N || oc != s->Cout || oh != p->Ho || ow != p->Wo) {
        fce_log_error("cuDNN: output of " SHAPE_FMT " is %dx%dx%dx%d, expected %dx%dx%dx%d",
                      SHAPE_ARGS(s), on, oh, ow, oc, s->N, p->Ho, p->Wo, s->Cout);
        return FCE_STATUS_ERR_CUDNN;
    }
    FCE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT,
                                               s->N, s->Cout, p->Ho, p->Wo));
    FCE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->b_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1,
                                               s->Cout, 1, 1));

    FCE_TRY(choose_fwd(st, p, deterministic));
    FCE_TRY(choose_bwd_data(st, p, deterministic));
    FCE_TRY(choose_bwd_filter(st, p, deterministic));
    return FCE_STATUS_OK;
}

fce_status fce_cudnn_conv_plan_init(fce_cudnn_state *st, cudaStream_t stream, int deterministic,
                                    int tf32, fce_conv_plan **plan, const fce_conv_shape *shape) {
    *plan = NULL;
    const fce_conv_shape *s = shape;
    if (s->N < 1 || s->H < 1 || s->W < 1 || s->Cin < 1 || s->Cout < 1 || s->KH < 1 ||
        s->KW < 1 || s->stride < 1 || s->pad < 0 || s->H + 2 * s->pad < s->KH ||
        s->W + 2 * s->pad < s->KW) {
        fce_log_error("conv plan: invalid shape " SHAPE_FMT
                      " (need sizes >= 1, stride >= 1, pad >= 0, H + 2*pad >= KH, W + 2*pad >= KW)",
                      SHAPE_ARGS(s));
        return FCE_STATUS_ERR_CONFIG;
    }
    fce_conv_plan *p = calloc(1, sizeof *p);
    if (!p) {
        fce_log_error("out of host memory for a conv plan (%zu bytes)", sizeof *p);
        return FCE_STATUS_ERR_NOMEM;
    }
    p->shape = *s;
    p->tf32 = tf32;
    p->Ho = (s->H + 2 * s->pad - s->KH) / s->stride + 1;
    p->Wo = (s->W + 2 * s->pad - s->KW) / s->stride + 1;
    fce_status rc = plan_setup(st, p, deterministic);
    if (rc == FCE_STATUS_OK) {
        size_t need = p->fwd_bytes;
        if (p->bwd_data_bytes > need) need = p->bwd_data_bytes;
        if (p->bwd_filter_bytes > need) need = p->bwd_filter_bytes;
        rc = workspace_reserve(st, stream, need, s);
    }
    if (rc != FCE_STATUS_OK) {
        fce_cudnn_conv_plan_free(p);
        return rc;
    }
    log_plan_once(st, p, deterministic);
    *plan = p;
    return FCE_STATUS_OK;
}

// ---- ops ----

fce_status fce_cudnn_conv2d_forward(fce_cudnn_state *st, const fce_conv_plan *p, float *y,
                                    const float *x, const float *w, const float *b) {
    FCE_ASSERT(p != NULL, "conv2d_forward: NULL plan");
    FCE_ASSERT(p->fwd_bytes <= st->workspace_bytes, "conv2d_forward: workspace too small");
    const float one = 1.0f, zero = 0.0f;
    /* y = conv(x, w) (beta = 0, overwrite) */
    if (p->tf32) FCE_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv_desc, p->fwd_math));
    FCE_CUDNN_CHECK(cudnnConvolutionForward(st->handle, &one, p->x_desc, x, p->w_desc, w,
                                            p->conv_desc, p->fwd_algo, st->workspace,
                                            st->workspace_bytes, &zero, p->y_desc, y));
    /* y += b, broadcast over (N, Ho, Wo) */
    if (b) FCE_CUDNN_CHECK(cudnnAddTensor(st->handle, &one, p->b_desc, b, &one, p->y_desc, y));
    return FCE_STATUS_OK;
}

fce_status fce_cudnn_conv2d_backward_data(fce_cudnn_state *st, const fce_conv_plan *p, float *dx,
                                          const float *dy, const float *w) {
    FCE_ASSERT(p != NULL, "conv2d_backward_data: NULL plan");
    FCE_ASSERT(p->bwd_data_bytes <= st->workspace_bytes, "conv2d_backward_data: workspace too small");
    if (!dx) return FCE_STATUS_OK;
    const float one = 1.0f, zero = 0.0f;
    /* dx = convᵀ(dy, w) (beta = 0, overwrite) */
    if (p->tf32) FCE_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv_desc, p->bwd_data_math));
    FCE_CUDNN_CHECK(cudnnConvolutionBackwardData(st->handle, &one, p->w_desc, w, p->y_desc, dy,
                                                 p->conv_desc, p->bwd_data_algo, st->workspace,
                                                 st->workspace_bytes, &zero, p->x_desc, dx));
    return FCE_STATUS_OK;
}

fce_status fce_cudnn_conv2d_backward_filter(fce_cudnn_state *st, const fce_conv_plan *p,
                                            float *dw, float *db, const float *dy,
                                            const float *x) {
    FCE_ASSERT(p != NULL, "conv2d_backward_filter: NULL plan");
    FCE_ASSERT(p->bwd_filter_bytes <= st->workspace_bytes,
               "conv2d_backward_filter: workspace too small");
    const float one = 1.0f;
    /* dw += Σ_{n,i,j} dy ⊗ x-patch (beta = 1, accumulate) */
    if (dw && p->tf32) FCE_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv_desc, p->bwd_filter_math));
    if (dw)
        FCE_CUDNN_CHECK(cudnnConvolutionBackwardFilter(st->handle, &one, p->x_desc, x, p->y_desc,
                                                       dy, p->conv_desc, p->bwd_filter_algo,
                                                       st->workspace, st->workspace_bytes, &one,
                                                       p->w_desc, dw));
    /* db += Σ_{n,i,j} dy (beta = 1, accumulate) */
    if (db)
        FCE_CUDNN_CHECK(
            cudnnConvolutionBackwardBias(st->handle, &one, p->y_desc, dy, &one, p->b_desc, db));
    return FCE_STATUS_OK;
}
