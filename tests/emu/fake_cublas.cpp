/* fake_cublas.cpp: the cuBLAS calls of tests/emu/include/cublas_v2.h for the emulated GPU backend,
 * written from the cuBLAS documentation (not from the project's reference code), so that the
 * row-major ↔ column-major mapping of src/host/cuda/linear_cublas.c is really checked.
 *
 * cublasSgemm: C = alpha·op(A)·op(B) + beta·C, all column-major; op(A) is m×k, op(B) k×n, C m×n;
 * A is stored as an lda-strided (transa == N ? m×k : k×m) matrix, B likewise with ldb, C with ldc.
 * Products are summed in double and rounded once. beta = 0 means C is not read (NaN in C is
 * ignored); alpha = 0 or k = 0 means A and B are not read. Checked as cuBLAS does: m, n, k >= 0,
 * lda >= max(1, rows of stored A), ldb likewise, ldc >= max(1, m) (else
 * CUBLAS_STATUS_INVALID_VALUE). Checked as a GPU would punish (a fault, fake_device.h): every
 * element read or written lies inside one device allocation, alpha/beta are host pointers (the
 * default host pointer mode), C does not overlap A or B, the handle's stream is alive. With
 * CUBLAS_TF32_TENSOR_OP_MATH the inputs are rounded to TF32 (10-bit mantissa, round to nearest)
 * before the multiply, the worst case that math mode allows. Every call is counted, with its math
 * mode (emu_counters.h: TF32 calls are counted apart, so a test can see which GEMMs ran in TF32).
 * A call is checked when issued and computed when its stream runs it (fake_device.h enqueue): at
 * once, or at each replay of a captured graph, with alpha, beta and the math mode it was issued
 * with (the host pointer mode bakes the coefficients into a captured GEMM). cublasSetWorkspace is
 * checked (device memory) and recorded; cublasSetStream resets it, as cuBLAS documents. */
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "cublas_v2.h"
#include "fake_device.h"

struct cublasContext {
    cudaStream_t stream;
    cublasMath_t math;
    void *workspace; /* cublasSetWorkspace's buffer; NULL: the library's default pool */
    size_t workspace_bytes;
};

namespace {

std::mutex mu;
std::set<const cublasContext *> handles;

bool handle_live(cublasHandle_t h) {
    std::lock_guard<std::mutex> lk(mu);
    return h && handles.count(h);
}

float to_tf32(float x) {
    if (!std::isfinite(x)) return x;
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u = (u + 0x1000u) & 0xFFFFE000u; /* keep 10 mantissa bits, round to nearest (ties away) */
    float y;
    std::memcpy(&y, &u, sizeof y);
    return y;
}

/* Bytes spanned by a column-major rows×cols matrix with leading dimension ld. */
size_t span_bytes(int rows, int cols, int ld) {
    return ((size_t)ld * (size_t)(cols - 1) + (size_t)rows) * sizeof(float);
}

/* One product C = alpha·op(A)·op(B) + beta·C, as checked when it is issued: everything it needs
 * by value (alpha and beta too: in the host pointer mode a captured GEMM keeps their values). */
struct gemm_call {
    bool ta, tb, tf32;
    int m, n, k, lda, ldb, ldc;
    float al, be;
    const float *A, *B;
    float *C;
    size_t a_bytes, b_bytes, c_bytes; /* a_bytes = b_bytes = 0: A and B are not read */
    double bytes;                     /* what it moves, for the counters */
};

/* cuBLAS's and the device's checks of one product (see the top); on success *g describes it
 * (g->bytes = 0: a quick return, nothing to run). */
cublasStatus_t sgemm_check(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                           int m, int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc,
                           gemm_call *g);
/* Computes a checked product (after checking again, at a graph replay, that its buffers live). */
void sgemm_run(const gemm_call &g);

/* Hands the checked products of one cuBLAS call to the handle's stream as ONE library call. */
cublasStatus_t sgemm_enqueue(cublasHandle_t handle, std::vector<gemm_call> calls) {
    double total = 0.0;
    for (const gemm_call &g : calls) total += g.bytes;
    if (total <= 0.0) return CUBLAS_STATUS_SUCCESS; /* nothing to run, not counted */
    const bool tf32 = handle->math == CUBLAS_TF32_TENSOR_OP_MATH;
    cudaError_t e = emu::gpu::enqueue(handle->stream, [calls = std::move(calls), total, tf32] {
        for (const gemm_call &g : calls)
            if (!emu::gpu::replay_ranges_ok("cublasSgemm", {{g.A, g.a_bytes}, {g.B, g.b_bytes},
                                                            {g.C, g.c_bytes}}))
                return;
        emu::gpu::count_library_call(emu::gpu::library::gemm, total, tf32);
        if (emu::gpu::count_only()) return;
        for (const gemm_call &g : calls) sgemm_run(g);
    });
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate(cublasHandle_t *handle) {
    if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
    auto *h = new cublasContext{nullptr, CUBLAS_DEFAULT_MATH, nullptr, 0};
    std::lock_guard<std::mutex> lk(mu);
    handles.insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    std::lock_guard<std::mutex> lk(mu);
    if (!handle || !handles.erase(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    /* not deleted: a destroyed handle stays detectably dead */
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (stream && !emu::gpu::stream_live(stream)) return CUBLAS_STATUS_INVALID_VALUE;
    handle->stream = stream;
    /* cuBLAS: setting the stream resets the workspace to the library's default pool, so a user
     * workspace must be set after the stream. */
    handle->workspace = nullptr;
    handle->workspace_bytes = 0;
    return CUBLAS_STATUS_SUCCESS;
}

/* The workspace must be device memory of at least the given size (NULL with 0: the default). The
 * fake's GEMMs need none; it is only recorded, so a test can see it was set. */
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void *workspace, size_t bytes) {
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (bytes && !emu::gpu::in_device(workspace, bytes)) {
        emu::gpu::fault("cublasSetWorkspace: %p (%zu bytes) is not inside one device allocation",
                        workspace, bytes);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    handle->workspace = bytes ? workspace : nullptr;
    handle->workspace_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode != CUBLAS_DEFAULT_MATH && mode != CUBLAS_TENSOR_OP_MATH &&
        mode != CUBLAS_PEDANTIC_MATH && mode != CUBLAS_TF32_TENSOR_OP_MATH)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->math = mode;
    return CUBLAS_STATUS_SUCCESS;
}

const char *cublasGetStatusString(cublasStatus_t status) {
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN (emulated)";
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float *alpha,
                           const float *A, int lda, const float *B, int ldb, const float *beta,
                           float *C, int ldc) {
    gemm_call g;
    cublasStatus_t st =
        sgemm_check(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, &g);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return sgemm_enqueue(handle, {g});
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         long long strideA, const float *B, int ldb,
                                         long long strideB, const float *beta, float *C, int ldc,
                                         long long strideC, int batchCount) {
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (batchCount < 0) return CUBLAS_STATUS_INVALID_VALUE;
    /* the outputs of different batches must not overlap: |strideC| covers one C */
    const long long c_span = m > 0 && n > 0 ? (long long)ldc * (n - 1) + m : 0;
    if (batchCount > 1 && c_span > 0 && (strideC < 0 ? -strideC : strideC) < c_span) {
        emu::gpu::fault("cublasSgemmStridedBatched: strideC %lld is smaller than one C (%lld "
                        "elements): the batches' outputs overlap", strideC, c_span);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    std::vector<gemm_call> calls((size_t)batchCount);
    for (int b = 0; b < batchCount; b++) {
        cublasStatus_t st = sgemm_check(handle, transa, transb, m, n, k, alpha, A + b * strideA,
                                        lda, B + b * strideB, ldb, beta, C + b * strideC, ldc,
                                        &calls[(size_t)b]);
        if (st != CUBLAS_STATUS_SUCCESS) return st;
    }
    return sgemm_enqueue(handle, std::move(calls)); /* one call on the stream */
}

}  // extern "C"

namespace {

cublasStatus_t sgemm_check(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                           int m, int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc,
                           gemm_call *g) {
    *g = gemm_call{};
    if (!handle_live(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
    auto op_ok = [](cublasOperation_t o) {
        return o == CUBLAS_OP_N || o == CUBLAS_OP_T || o == CUBLAS_OP_C;
    };
    if (!op_ok(transa) || !op_ok(transb)) return CUBLAS_STATUS_INVALID_VALUE;
    const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N; /* real: C == T */
    const int a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int b_rows = tb ? n : k, b_cols = tb ? k : n;
    if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
    if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) ||
        ldc < (m > 1 ? m : 1)) {
        std::fprintf(stderr, "emu: cublasSgemm(%c%c, m=%d n=%d k=%d, lda=%d ldb=%d ldc=%d): a leading "
                             "dimension is too small\n", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k,
                     lda, ldb, ldc);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!alpha || !beta) return CUBLAS_STATUS_INVALID_VALUE;
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS; /* quick return */
    if (!emu::gpu::stream_live(handle->stream)) {
        emu::gpu::fault("cublasSgemm on a handle whose stream %p is not a live stream",
                        (void *)handle->stream);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    if (emu::gpu::is_device(alpha) || emu::gpu::is_device(beta)) {
        emu::gpu::fault("cublasSgemm: alpha/beta are device pointers, but the pointer mode is host");
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    const float al = *alpha, be = *beta;
    const bool read_ab = k > 0 && al != 0.0f;
    const size_t a_bytes = read_ab ? span_bytes(a_rows, a_cols, lda) : 0;
    const size_t b_bytes = read_ab ? span_bytes(b_rows, b_cols, ldb) : 0;
    const size_t c_bytes = span_bytes(m, n, ldc);
    char what[160];
    std::snprintf(what, sizeof what, "cublasSgemm(%c%c, m=%d n=%d k=%d, lda=%d ldb=%d ldc=%d)",
                  ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, lda, ldb, ldc);
    if (!emu::gpu::in_device(C, c_bytes)) {
        emu::gpu::fault("%s: C (%p, %zu bytes) is not inside one device allocation", what,
                        (void *)C, c_bytes);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    if (read_ab && (!emu::gpu::in_device(A, a_bytes) || !emu::gpu::in_device(B, b_bytes))) {
        emu::gpu::fault("%s: A (%p, %zu bytes) or B (%p, %zu bytes) is not inside one device "
                        "allocation", what, (const void *)A, a_bytes, (const void *)B, b_bytes);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    if (read_ab && (emu::gpu::overlap(C, c_bytes, A, a_bytes) ||
                    emu::gpu::overlap(C, c_bytes, B, b_bytes))) {
        emu::gpu::fault("%s: C overlaps A or B", what);
        return CUBLAS_STATUS_EXECUTION_FAILED;
    }
    *g = gemm_call{ta, tb, handle->math == CUBLAS_TF32_TENSOR_OP_MATH, m, n, k, lda, ldb, ldc,
                   al, be, A, B, C, a_bytes, b_bytes, c_bytes,
                   (double)a_bytes + (double)b_bytes + (double)c_bytes * (be != 0.0f ? 2.0 : 1.0)};
    return CUBLAS_STATUS_SUCCESS;
}

void sgemm_run(const gemm_call &g) {
    const bool ta = g.ta, tb = g.tb, tf32 = g.tf32, read_ab = g.a_bytes > 0;
    const int m = g.m, n = g.n, k = g.k, lda = g.lda, ldb = g.ldb, ldc = g.ldc;
    const float al = g.al, be = g.be, *A = g.A, *B = g.B;
    float *C = g.C;
    /* op(A) as a dense row-major m×k copy and op(B) as a column-by-column n×k copy, so the inner
     * product runs over contiguous memory. */
    std::vector<float> opa, opb;
    if (read_ab) {
        opa.resize((size_t)m * k);
        opb.resize((size_t)n * k);
        for (int i = 0; i < m; i++)
            for (int l = 0; l < k; l++) {
                float v = ta ? A[l + (size_t)i * lda] : A[i + (size_t)l * lda];
                opa[(size_t)i * k + l] = tf32 ? to_tf32(v) : v;
            }
        for (int j = 0; j < n; j++)
            for (int l = 0; l < k; l++) {
                float v = tb ? B[j + (size_t)l * ldb] : B[l + (size_t)j * ldb];
                opb[(size_t)j * k + l] = tf32 ? to_tf32(v) : v;
            }
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double s = 0.0;
            if (read_ab) {
                const float *a = &opa[(size_t)i * k], *b = &opb[(size_t)j * k];
                for (int l = 0; l < k; l++) s += (double)a[l] * (double)b[l];
            }
            float &c = C[i + (size_t)j * ldc];
            double r = (double)al * s;
            if (be != 0.0f) r += (double)be * (double)c; /* beta = 0: C is not read */
            c = (float)r;
        }
}

}  // namespace
