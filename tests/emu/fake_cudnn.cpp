/* fake_cudnn.cpp: the cuDNN calls of tests/emu/include/cudnn.h for the emulated GPU backend,
 * written from the cuDNN documentation (not from the project's reference convolution), so that
 * the descriptors, layouts and alpha/beta use of src/host/cuda/conv_cudnn.c are really checked.
 *
 * Supported (anything else is CUDNN_STATUS_NOT_SUPPORTED or _BAD_PARAM, as documented): FLOAT
 * data; 4-D tensors in CUDNN_TENSOR_NHWC (element (n, c, h, w) at ((n·H + h)·W + w)·C + c);
 * filters in CUDNN_TENSOR_NHWC, i.e. KRSC (element (k, c, r, s) at ((k·R + r)·S + s)·C + c); 2-D
 * convolutions with any padding and stride, dilation 1, CUDNN_CROSS_CORRELATION (no flip) or
 * CUDNN_CONVOLUTION (flipped filter), FLOAT compute type.
 *
 * Definitions (cuDNN's): with ih = oh·u − pad_h + r, iw = ow·v − pad_w + s (taps outside the image
 * read 0), and Ho = 1 + (H + 2·pad_h − R) / u (likewise Wo):
 *   forward        y[n,k,oh,ow]   = alpha · Σ_{c,r,s} x[n,c,ih,iw] · w[k,c,r,s]        + beta · y
 *   backward data  dx[n,c,ih,iw]  = alpha · Σ_{k,r,s, taps landing on ih,iw} dy·w       + beta · dx
 *   backward filt. dw[k,c,r,s]    = alpha · Σ_{n,oh,ow} dy[n,k,oh,ow] · x[n,c,ih,iw]   + beta · dw
 *   backward bias  db[0,k,0,0]    = alpha · Σ_{n,oh,ow} dy[n,k,oh,ow]                  + beta · db
 *   cudnnAddTensor C              = alpha · A (broadcast over A's dimensions of size 1) + beta · C
 * summed in double, rounded once; beta = 0 means the output is not read (NaN there is ignored).
 * Checked as a GPU would punish (a fault, fake_device.h): every tensor and the workspace lie inside
 * device allocations, outputs do not overlap inputs or the workspace, alpha/beta are host
 * pointers, handles and descriptors are alive and set, the handle's stream is alive. The workspace
 * a call is given must be at least what the chosen algorithm reported; the fake scribbles over it
 * (as a real algorithm would use it).
 *
 * Every compute call is checked when it is issued and handed to its stream (submit): counted
 * (emu_counters.h) and computed when the stream runs it, at once or at each replay of a captured
 * graph (descriptors, alpha and beta kept by value, as a captured node keeps them); in count-only
 * mode it is checked and counted, not computed.
 *
 * Algorithm queries: one candidate per direction (status success, deterministic, CUDNN_FMA_MATH),
 * with a small nonzero workspace for the backward ones, so that the workspace plumbing is used. */
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <vector>

#include "cudnn.h"
#include "fake_device.h"

struct cudnnContext {
    cudaStream_t stream;
};
struct cudnnTensorStruct {
    bool set;
    cudnnTensorFormat_t format;
    int n, c, h, w;
};
struct cudnnFilterStruct {
    bool set;
    cudnnTensorFormat_t format;
    int k, c, r, s;
};
struct cudnnConvolutionStruct {
    bool set;
    int pad_h, pad_w, u, v, dil_h, dil_w;
    cudnnConvolutionMode_t mode;
    cudnnMathType_t math;
};

namespace {

constexpr cudnnConvolutionFwdAlgo_t FWD_ALGO = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
constexpr cudnnConvolutionBwdDataAlgo_t BWD_DATA_ALGO = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
constexpr cudnnConvolutionBwdFilterAlgo_t BWD_FILTER_ALGO = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
/* Workspace the candidates report (bytes). */
constexpr size_t FWD_WS = 0, BWD_DATA_WS = 4096, BWD_FILTER_WS = 8192;

std::mutex mu;
std::set<const void *> live; /* handles and descriptors */

template <typename T>
bool alive(T *p) {
    std::lock_guard<std::mutex> lk(mu);
    return p && live.count(p);
}
template <typename T>
cudnnStatus_t make(T **out) {
    if (!out) return CUDNN_STATUS_BAD_PARAM;
    T *p = new T{};
    std::lock_guard<std::mutex> lk(mu);
    live.insert(p);
    *out = p;
    return CUDNN_STATUS_SUCCESS;
}
template <typename T>
cudnnStatus_t destroy(T *p) {
    if (!p) return CUDNN_STATUS_SUCCESS; /* cuDNN: destroying NULL is a no-op */
    std::lock_guard<std::mutex> lk(mu);
    if (!live.erase(p)) return CUDNN_STATUS_BAD_PARAM;
    /* not deleted: a destroyed descriptor stays detectably dead */
    return CUDNN_STATUS_SUCCESS;
}

bool tensor_ok(cudnnTensorDescriptor_t t) { return alive(t) && t->set; }
bool filter_ok(cudnnFilterDescriptor_t f) { return alive(f) && f->set; }
bool conv_ok(cudnnConvolutionDescriptor_t c) { return alive(c) && c->set; }

/* Tensor and filter descriptors are set alike: four sizes >= 1, and only the format and data type
 * the emulation implements (NHWC, FLOAT). */
template <typename T>
cudnnStatus_t set_4d(T *d, cudnnTensorFormat_t format, cudnnDataType_t type, int a, int b, int c,
                     int e) {
    if (!alive(d)) return CUDNN_STATUS_BAD_PARAM;
    if (a < 1 || b < 1 || c < 1 || e < 1) return CUDNN_STATUS_BAD_PARAM;
    if (format != CUDNN_TENSOR_NHWC || type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    *d = T{true, format, a, b, c, e};
    return CUDNN_STATUS_SUCCESS;
}

bool math_type_known(cudnnMathType_t m) {
    return m == CUDNN_DEFAULT_MATH || m == CUDNN_TENSOR_OP_MATH ||
           m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION || m == CUDNN_FMA_MATH;
}

size_t tensor_count(cudnnTensorDescriptor_t t) { return (size_t)t->n * t->c * t->h * t->w; }
size_t filter_count(cudnnFilterDescriptor_t f) { return (size_t)f->k * f->c * f->r * f->s; }
/* NHWC offset of (n, c, h, w). */
size_t at(cudnnTensorDescriptor_t t, int n, int c, int h, int w) {
    return (((size_t)n * t->h + h) * t->w + w) * t->c + c;
}

int out_dim(int in, int pad, int f, int dil, int stride) {
    int span = (f - 1) * dil + 1;
    int num = in + 2 * pad - span;
    return num < 0 ? 0 : 1 + num / stride;
}

/* The x / w / y descriptors describe one convolution (BAD_PARAM otherwise). */
cudnnStatus_t check_shapes(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                           cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t y) {
    if (!tensor_ok(x) || !filter_ok(w) || !conv_ok(cv) || !tensor_ok(y))
        return CUDNN_STATUS_BAD_PARAM;
    if (x->c != w->c) return CUDNN_STATUS_BAD_PARAM;
    int ho = out_dim(x->h, cv->pad_h, w->r, cv->dil_h, cv->u);
    int wo = out_dim(x->w, cv->pad_w, w->s, cv->dil_w, cv->v);
    if (ho < 1 || wo < 1) return CUDNN_STATUS_BAD_PARAM;
    if (y->n != x->n || y->c != w->k || y->h != ho || y->w != wo) {
        std::fprintf(stderr, "emu: cuDNN: y is %dx%dx%dx%d (NCHW dims), the convolution gives "
                             "%dx%dx%dx%d\n", y->n, y->c, y->h, y->w, x->n, w->k, ho, wo);
        return CUDNN_STATUS_BAD_PARAM;
    }
    if (cv->dil_h != 1 || cv->dil_w != 1) return CUDNN_STATUS_NOT_SUPPORTED; /* not emulated */
    return CUDNN_STATUS_SUCCESS;
}

bool handle_ok(cudnnHandle_t h, const char *what) {
    if (!alive(h)) return false;
    if (!emu::gpu::stream_live(h->stream)) {
        emu::gpu::fault("%s on a cuDNN handle whose stream %p is not a live stream", what,
                        (void *)h->stream);
        return false;
    }
    return true;
}

struct Buf {
    const void *p;
    size_t bytes;
    const char *name;
};

/* Inputs and outputs inside device memory, outputs overlapping nothing else, alpha/beta on the
 * host; the workspace large enough for the algorithm, inside device memory. */
bool check_memory(const char *what, const void *alpha, const void *beta, std::vector<Buf> in,
                  Buf out, void *ws, size_t ws_size, size_t ws_need) {
    if (emu::gpu::is_device(alpha) || emu::gpu::is_device(beta)) {
        emu::gpu::fault("%s: alpha/beta must be host pointers", what);
        return false;
    }
    in.push_back(out);
    for (const Buf &b : in)
        if (!emu::gpu::in_device(b.p, b.bytes)) {
            emu::gpu::fault("%s: %s (%p, %zu bytes) is not inside one device allocation", what,
                            b.name, b.p, b.bytes);
            return false;
        }
    in.pop_back();
    for (const Buf &b : in)
        if (emu::gpu::overlap(out.p, out.bytes, b.p, b.bytes)) {
            emu::gpu::fault("%s: the output %s overlaps the input %s", what, out.name, b.name);
            return false;
        }
    if (ws_need) {
        if (!emu::gpu::in_device(ws, ws_need)) {
            emu::gpu::fault("%s: workspace %p of %zu bytes (need %zu) is not inside one device "
                            "allocation", what, ws, ws_size, ws_need);
            return false;
        }
        in.push_back(out);
        for (const Buf &b : in)
            if (emu::gpu::overlap(ws, ws_need, b.p, b.bytes)) {
                emu::gpu::fault("%s: the workspace overlaps %s", what, b.name);
                return false;
            }
    }
    return true;
}

/* A checked compute call, handed to the handle's stream (fake_device.h enqueue). Now: the memory
 * checks (check_memory; a fault returns CUDNN_STATUS_EXECUTION_FAILED) and alpha, beta read from
 * the host. When it runs (at once, or at each replay of a captured graph) it checks at a replay
 * that its buffers still live, is counted once (inputs read, the output read when beta != 0 and
 * written), scribbles on the workspace (as a real algorithm uses it) and, unless count-only,
 * computes: compute(alpha, beta), with the descriptors held by value in `compute`. */
cudnnStatus_t submit(cudnnHandle_t h, const char *what, const void *alpha, const void *beta,
                     std::vector<Buf> in, Buf out, void *ws, size_t ws_size, size_t ws_need,
                     std::function<void(float, float)> compute) {
    if (!check_memory(what, alpha, beta, in, out, ws, ws_size, ws_need))
        return CUDNN_STATUS_EXECUTION_FAILED;
    const float al = *static_cast<const float *>(alpha), be = *static_cast<const float *>(beta);
    double bytes = (double)out.bytes * (be != 0.0f ? 2.0 : 1.0);
    for (const Buf &b : in) bytes += (double)b.bytes;
    in.push_back(out);
    cudaError_t e = emu::gpu::enqueue(h->stream, [what, in = std::move(in), ws, ws_need, bytes, al,
                                                  be, compute = std::move(compute)] {
        for (const Buf &b : in)
            if (!emu::gpu::replay_ranges_ok(what, {{b.p, b.bytes}})) return;
        if (!emu::gpu::replay_ranges_ok(what, {{ws, ws_need}})) return;
        emu::gpu::count_library_call(emu::gpu::library::dnn, bytes, false);
        if (emu::gpu::count_only()) return;
        if (ws_need) std::memset(ws, 0xFF, ws_need);
        compute(al, be);
    });
    return e == cudaSuccess ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

/* out = alpha·acc + beta·out (beta = 0: out not read); out is FLOAT data. */
void blend(void *out_data, const std::vector<double> &acc, float alpha, float beta) {
    float *out = static_cast<float *>(out_data);
    for (size_t i = 0; i < acc.size(); i++) {
        double r = (double)alpha * acc[i];
        if (beta != 0.0f) r += (double)beta * (double)out[i];
        out[i] = (float)r;
    }
}

/* Filter tap index: cross-correlation uses (r, s), convolution the flipped (R−1−r, S−1−s). */
size_t w_at(cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t cv, int k, int r, int s) {
    if (cv->mode == CUDNN_CONVOLUTION) r = w->r - 1 - r, s = w->s - 1 - s;
    return (((size_t)k * w->r + r) * w->s + s) * w->c;
}

/* Calls f(n, oh, ow, r, s, ih, iw) for every filter tap that lands inside the image. */
template <typename F>
void for_taps(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
              cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t y, F f) {
    for (int n = 0; n < y->n; n++)
        for (int oh = 0; oh < y->h; oh++)
            for (int ow = 0; ow < y->w; ow++)
                for (int r = 0; r < w->r; r++) {
                    int ih = oh * cv->u - cv->pad_h + r * cv->dil_h;
                    if (ih < 0 || ih >= x->h) continue;
                    for (int s = 0; s < w->s; s++) {
                        int iw = ow * cv->v - cv->pad_w + s * cv->dil_w;
                        if (iw < 0 || iw >= x->w) continue;
                        f(n, oh, ow, r, s, ih, iw);
                    }
                }
}

/* The three convolution sums share one loop: for every tap inside the image and every output
 * channel k, f(xi, yi, wi) gets the offsets of the tap's input pixel (its C channels), of output
 * element k, and of w[k, ·, r, s] (its C channels). */
template <typename F>
void for_tap_channels(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                      cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t y, F f) {
    for_taps(x, w, cv, y, [&](int n, int oh, int ow, int r, int s, int ih, int iw) {
        const size_t xi = at(x, n, 0, ih, iw), yi = at(y, n, 0, oh, ow);
        for (int k = 0; k < w->k; k++) f(xi, yi + k, w_at(w, cv, k, r, s));
    });
}

/* The ...MaxCount queries: every algorithm of the direction may be asked for. */
cudnnStatus_t algo_max_count(cudnnHandle_t h, int *count, int n) {
    if (!alive(h) || !count) return CUDNN_STATUS_BAD_PARAM;
    *count = n;
    return CUDNN_STATUS_SUCCESS;
}

/* The *_v7 queries: after cuDNN's checks, the one candidate of the direction (see the top).
 * x, w, cv, y are the query's descriptors in check_shapes' roles. */
template <typename Perf, typename Algo>
cudnnStatus_t one_candidate(cudnnHandle_t h, int requested, int *returned, Perf *perf,
                            cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                            cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t y,
                            Algo algo, size_t workspace) {
    if (!alive(h) || !returned || !perf || requested < 1) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_shapes(x, w, cv, y);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    std::memset(perf, 0, sizeof *perf);
    perf->algo = algo;
    perf->status = CUDNN_STATUS_SUCCESS;
    perf->time = -1.0f;
    perf->memory = workspace;
    perf->determinism = CUDNN_DETERMINISTIC;
    perf->mathType = CUDNN_FMA_MATH;
    *returned = 1;
    return CUDNN_STATUS_SUCCESS;
}

/* What a convolution call checks before its memory (check_memory) and its sums, in this order: a
 * live handle and stream, the pointers set, descriptors of one convolution (x, w, cv, y in
 * check_shapes' roles), an algorithm of the direction (0 <= algo < n_algos) and at least the
 * workspace it reported (need). */
cudnnStatus_t conv_call_ok(const char *what, cudnnHandle_t h, bool pointers_set,
                           cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                           cudnnConvolutionDescriptor_t cv, cudnnTensorDescriptor_t y, int algo,
                           int n_algos, size_t ws_size, size_t need) {
    if (!handle_ok(h, what) || !pointers_set) return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t st = check_shapes(x, w, cv, y);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    if (algo < 0 || algo >= n_algos || ws_size < need) return CUDNN_STATUS_BAD_PARAM;
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

const char *cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
    case CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER: return "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    }
    return "CUDNN_STATUS_UNKNOWN (emulated)";
}

size_t cudnnGetVersion(void) { return 90000; }

cudnnStatus_t cudnnCreate(cudnnHandle_t *handle) { return make(handle); }
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
    if (!handle) return CUDNN_STATUS_BAD_PARAM;
    return destroy(handle);
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
    if (!alive(handle)) return CUDNN_STATUS_BAD_PARAM;
    if (stream && !emu::gpu::stream_live(stream)) return CUDNN_STATUS_BAD_PARAM;
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { return make(d); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w) {
    return set_4d(d, format, dataType, n, c, h, w);
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { return make(d); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
    return set_4d(d, format, dataType, k, c, h, w);
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) {
    cudnnStatus_t st = make(d);
    if (st == CUDNN_STATUS_SUCCESS) (*d)->math = CUDNN_DEFAULT_MATH;
    return st;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w,
                                              int u, int v, int dilation_h, int dilation_w,
                                              cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
    if (!alive(d)) return CUDNN_STATUS_BAD_PARAM;
    if (pad_h < 0 || pad_w < 0 || u < 1 || v < 1 || dilation_h < 1 || dilation_w < 1)
        return CUDNN_STATUS_BAD_PARAM;
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) return CUDNN_STATUS_BAD_PARAM;
    if (computeType != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
    cudnnMathType_t math = d->math;
    *d = cudnnConvolutionStruct{true, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, math};
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m) {
    if (!alive(d) || !math_type_known(m)) return CUDNN_STATUS_BAD_PARAM;
    d->math = m;
    return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t *m) {
    if (!alive(d) || !m) return CUDNN_STATUS_BAD_PARAM;
    *m = d->math;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t cv,
                                                    const cudnnTensorDescriptor_t x,
                                                    const cudnnFilterDescriptor_t w, int *n,
                                                    int *c, int *h, int *wo) {
    if (!conv_ok(cv) || !tensor_ok(x) || !filter_ok(w) || !n || !c || !h || !wo)
        return CUDNN_STATUS_BAD_PARAM;
    if (x->c != w->c) return CUDNN_STATUS_BAD_PARAM;
    int oh = out_dim(x->h, cv->pad_h, w->r, cv->dil_h, cv->u);
    int ow = out_dim(x->w, cv->pad_w, w->s, cv->dil_w, cv->v);
    if (oh < 1 || ow < 1) return CUDNN_STATUS_BAD_PARAM;
    *n = x->n, *c = w->k, *h = oh, *wo = ow;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t h, int *count) {
    return algo_max_count(h, count, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnnHandle_t h, int *count) {
    return algo_max_count(h, count, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnnHandle_t h, int *count) {
    return algo_max_count(h, count, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t h, const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
    const cudnnConvolutionDescriptor_t cv, const cudnnTensorDescriptor_t y, const int requested,
    int *returned, cudnnConvolutionFwdAlgoPerf_t *perf) {
    return one_candidate(h, requested, returned, perf, x, w, cv, y, FWD_ALGO, FWD_WS);
}
cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(
    cudnnHandle_t h, const cudnnFilterDescriptor_t w, const cudnnTensorDescriptor_t dy,
    const cudnnConvolutionDescriptor_t cv, const cudnnTensorDescriptor_t dx, const int requested,
    int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf) {
    return one_candidate(h, requested, returned, perf, dx, w, cv, dy, BWD_DATA_ALGO, BWD_DATA_WS);
}
cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(
    cudnnHandle_t h, const cudnnTensorDescriptor_t x, const cudnnTensorDescriptor_t dy,
    const cudnnConvolutionDescriptor_t cv, const cudnnFilterDescriptor_t dw, const int requested,
    int *returned, cudnnConvolutionBwdFilterAlgoPerf_t *perf) {
    return one_candidate(h, requested, returned, perf, x, dw, cv, dy, BWD_FILTER_ALGO, BWD_FILTER_WS);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha,
                                      const cudnnTensorDescriptor_t xd, const void *x,
                                      const cudnnFilterDescriptor_t wd, const void *w,
                                      const cudnnConvolutionDescriptor_t cv,
                                      cudnnConvolutionFwdAlgo_t algo, void *ws, size_t ws_size,
                                      const void *beta, const cudnnTensorDescriptor_t yd, void *y) {
    const size_t need = algo == FWD_ALGO ? FWD_WS : 0;
    cudnnStatus_t st = conv_call_ok("cudnnConvolutionForward", h, alpha && beta && x && w && y,
                                    xd, wd, cv, yd, (int)algo, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                    ws_size, need);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const std::vector<Buf> in = {{x, tensor_count(xd) * 4, "x"}, {w, filter_count(wd) * 4, "w"}};
    const Buf out = {y, tensor_count(yd) * 4, "y"};
    return submit(h, "cudnnConvolutionForward", alpha, beta, in, out, ws, ws_size, need,
                  [xs = *xd, ws_ = *wd, cs = *cv, ys = *yd, x, w, y](float al, float be) mutable {
        const float *X = static_cast<const float *>(x), *W = static_cast<const float *>(w);
        const int C = xs.c;
        std::vector<double> acc(tensor_count(&ys), 0.0);
        for_tap_channels(&xs, &ws_, &cs, &ys, [&](size_t xi, size_t yi, size_t wi) {
            double t = 0.0;
            for (int c = 0; c < C; c++) t += (double)X[xi + c] * (double)W[wi + c];
            acc[yi] += t;
        });
        blend(y, acc, al, be);
    });
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha,
                                           const cudnnFilterDescriptor_t wd, const void *w,
                                           const cudnnTensorDescriptor_t dyd, const void *dy,
                                           const cudnnConvolutionDescriptor_t cv,
                                           cudnnConvolutionBwdDataAlgo_t algo, void *ws,
                                           size_t ws_size, const void *beta,
                                           const cudnnTensorDescriptor_t dxd, void *dx) {
    const size_t need = algo == BWD_DATA_ALGO ? BWD_DATA_WS : 0;
    cudnnStatus_t st = conv_call_ok("cudnnConvolutionBackwardData", h,
                                    alpha && beta && w && dy && dx, dxd, wd, cv, dyd, (int)algo,
                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, ws_size, need);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const std::vector<Buf> in = {{w, filter_count(wd) * 4, "w"}, {dy, tensor_count(dyd) * 4, "dy"}};
    const Buf out = {dx, tensor_count(dxd) * 4, "dx"};
    return submit(h, "cudnnConvolutionBackwardData", alpha, beta, in, out, ws, ws_size, need,
                  [dxs = *dxd, ws_ = *wd, cs = *cv, dys = *dyd, w, dy, dx](float al,
                                                                          float be) mutable {
        const float *W = static_cast<const float *>(w), *DY = static_cast<const float *>(dy);
        const int C = dxs.c;
        std::vector<double> acc(tensor_count(&dxs), 0.0);
        for_tap_channels(&dxs, &ws_, &cs, &dys, [&](size_t xi, size_t yi, size_t wi) {
            const double g = DY[yi];
            for (int c = 0; c < C; c++) acc[xi + c] += g * (double)W[wi + c];
        });
        blend(dx, acc, al, be);
    });
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha,
                                             const cudnnTensorDescriptor_t xd, const void *x,
                                             const cudnnTensorDescriptor_t dyd, const void *dy,
                                             const cudnnConvolutionDescriptor_t cv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void *ws,
                                             size_t ws_size, const void *beta,
                                             const cudnnFilterDescriptor_t dwd, void *dw) {
    const size_t need = algo == BWD_FILTER_ALGO ? BWD_FILTER_WS : 0;
    cudnnStatus_t st = conv_call_ok("cudnnConvolutionBackwardFilter", h,
                                    alpha && beta && x && dy && dw, xd, dwd, cv, dyd, (int)algo,
                                    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, ws_size, need);
    if (st != CUDNN_STATUS_SUCCESS) return st;
    const std::vector<Buf> in = {{x, tensor_count(xd) * 4, "x"}, {dy, tensor_count(dyd) * 4, "dy"}};
    const Buf out = {dw, filter_count(dwd) * 4, "dw"};
    return submit(h, "cudnnConvolutionBackwardFilter", alpha, beta, in, out, ws, ws_size, need,
                  [xs = *xd, dws = *dwd, cs = *cv, dys = *dyd, x, dy, dw](float al,
                                                                          float be) mutable {
        const float *X = static_cast<const float *>(x), *DY = static_cast<const float *>(dy);
        const int C = xs.c;
        std::vector<double> acc(filter_count(&dws), 0.0);
        for_tap_channels(&xs, &dws, &cs, &dys, [&](size_t xi, size_t yi, size_t wi) {
            const double g = DY[yi];
            for (int c = 0; c < C; c++) acc[wi + c] += g * (double)X[xi + c];
        });
        blend(dw, acc, al, be);
    });
}

cudnnStatus_t cudnnConvolutionBackwardBias(cudnnHandle_t h, const void *alpha,
                                           const cudnnTensorDescriptor_t dyd, const void *dy,
                                           const void *beta, const cudnnTensorDescriptor_t dbd,
                                           void *db) {
    if (!handle_ok(h, "cudnnConvolutionBackwardBias")) return CUDNN_STATUS_BAD_PARAM;
    if (!alpha || !beta || !dy || !db || !tensor_ok(dyd) || !tensor_ok(dbd))
        return CUDNN_STATUS_BAD_PARAM;
    if (dbd->n != 1 || dbd->h != 1 || dbd->w != 1 || dbd->c != dyd->c) return CUDNN_STATUS_BAD_PARAM;
    const std::vector<Buf> in = {{dy, tensor_count(dyd) * 4, "dy"}};
    const Buf out = {db, tensor_count(dbd) * 4, "db"};
    return submit(h, "cudnnConvolutionBackwardBias", alpha, beta, in, out, nullptr, 0, 0,
                  [dys = *dyd, dy, db](float al, float be) mutable {
        const float *DY = static_cast<const float *>(dy);
        std::vector<double> acc((size_t)dys.c, 0.0);
        const size_t rows = (size_t)dys.n * dys.h * dys.w;
        for (size_t i = 0; i < rows; i++)
            for (int c = 0; c < dys.c; c++) acc[(size_t)c] += (double)DY[i * dys.c + c];
        blend(db, acc, al, be);
    });
}

cudnnStatus_t cudnnAddTensor(cudnnHandle_t h, const void *alpha,
                             const cudnnTensorDescriptor_t ad, const void *A, const void *beta,
                             const cudnnTensorDescriptor_t cd, void *C) {
    if (!handle_ok(h, "cudnnAddTensor")) return CUDNN_STATUS_BAD_PARAM;
    if (!alpha || !beta || !A || !C || !tensor_ok(ad) || !tensor_ok(cd)) return CUDNN_STATUS_BAD_PARAM;
    /* Each dimension of A equals C's or is 1 (broadcast). */
    if ((ad->n != cd->n && ad->n != 1) || (ad->c != cd->c && ad->c != 1) ||
        (ad->h != cd->h && ad->h != 1) || (ad->w != cd->w && ad->w != 1))
        return CUDNN_STATUS_BAD_PARAM;
    const std::vector<Buf> in = {{A, tensor_count(ad) * 4, "A"}};
    const Buf out = {C, tensor_count(cd) * 4, "C"};
    return submit(h, "cudnnAddTensor", alpha, beta, in, out, nullptr, 0, 0,
                  [as = *ad, cs = *cd, A, C](float al, float be) mutable {
        const float *AP = static_cast<const float *>(A);
        float *CP = static_cast<float *>(C);
        for (int n = 0; n < cs.n; n++)
            for (int hh = 0; hh < cs.h; hh++)
                for (int ww = 0; ww < cs.w; ww++)
                    for (int c = 0; c < cs.c; c++) {
                        const float a = AP[at(&as, as.n == 1 ? 0 : n, as.c == 1 ? 0 : c,
                                              as.h == 1 ? 0 : hh, as.w == 1 ? 0 : ww)];
                        float &o = CP[at(&cs, n, c, hh, ww)];
                        double r = al * (double)a;
                        if (be != 0.0f) r += (double)be * (double)o;
                        o = (float)r;
                    }
    });
}

}  // extern "C"
