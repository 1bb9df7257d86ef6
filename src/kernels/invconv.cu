/* invconv.cu: LU-parameterised invertible C×C map (SPEC a.5; Glow §3.2), the CUDA twin of
 * src/host/ref/invconv_ref.c. Applying W per pixel is a GEMM (linear_cublas.c); here are the
 * small pieces: building W and W⁻¹ from the LU parameters, their backward, and the log-det.
 *
 *   L̄ = strict-lower(L) + I,  Ū = strict-upper(U) + diag(sign·e^logs),  M = L̄·Ū,
 *   W[i][j] = M[perm[i]][j]  (P[i][k] = 1 iff k = perm[i]; perm stored as float, rounded),
 *   W⁻¹ = Ū⁻¹·L̄⁻¹·Pᵀ: column j of W⁻¹ is M⁻¹·e_{perm[j]} (unit-lower then upper solve).
 *   backward: G = dW − W⁻ᵀ·dWinv·W⁻ᵀ; (PᵀG)[perm[i]] = G[i];  dL += (PᵀG·Ūᵀ) ⊙ strict-lower,
 *             dU += (L̄ᵀ·PᵀG) ⊙ strict-upper,  dlogs_c += (L̄ᵀ·PᵀG)[c][c]·sign_c·e^logs_c.
 *   logdet[n] += dir·HW·Σ_c logs_c;  dlogs_c += dir·HW·Σ_n dlogdet_n.
 * All matrix arithmetic is in double with the reference's summation order, so W and W⁻¹ usually
 * match it bit for bit. C ≤ FCE_INVCONV_MAX_C (SPEC: 12, 24, 48; 2 in the 2D model).
 *
 * Kernels (all single-block, FCE_INVCONV_BLOCK threads: C is tiny, launch latency dominates):
 *   invconv_lu_weights_kernel   threads stride over the C² entries of W (dot products over the
 *                               nonzero band), then over the C columns of W⁻¹ (one triangular solve
 *                               pair per thread, in a local vector).
 *   invconv_lu_backward_kernel  G in shared memory (double, C²): T = W⁻ᵀ·dWinv, then each thread
 *                               owns one row of G and finishes it in place; outputs one entry per
 *                               thread (strided).
 *   invconv_logdet_kernel, invconv_logdet_backward_kernel: fce_block_sum then a broadcast add.
 * The *_batch launchers run a block of K flow steps in one launch, one CUDA block per step (the
 * per-step kernels take the step from blockIdx.x); the weights kernel also writes each step's two
 * data-independent log-dets (actnorm's and the map's), so a pass adds them without a launch per
 * step (logdet_consts.cu). */
#include "common.cuh"
#include "fce/backend.h"
#include "fce_kernels.h"

#define FCE_INVCONV_MAX_C 64
#define FCE_INVCONV_BLOCK 256

static __device__ __forceinline__ int invconv_perm(const float *perm, int i) {
    return __float2int_rn(perm[i]);
}

/* L̄[i][k] and Ū[k][j] in double, from the stored full arrays. */
static __device__ __forceinline__ double invconv_lbar(const float *L, int C, int i, int k) {
    return i > k ? (double)L[(size_t)i * C + k] : (i == k ? 1.0 : 0.0);
}
static __device__ __forceinline__ double invconv_ubar(const float *U, const float *sign,
                                                      const float *logs, int C, int k, int j) {
    return k < j ? (double)U[(size_t)k * C + j]
                 : (k == j ? (double)sign[k] * exp((double)logs[k]) : 0.0);
}

/* Block k: step k of a batch (parameters at k·stride, matrices at k·C²); consts (optional): the
 * step's two log-dets per sample, HW·Σ 3·an_logs (actnorm) and HW·Σ logs (the map). */
static __global__ void invconv_lu_weights_kernel(float *W, float *Winv, double *consts,
                                                 const float *perm, const float *sign,
                                                 const float *L, const float *U, const float *logs,
                                                 const float *an_logs, size_t stride,
                                                 size_t fstride, int C, int HW) {
    const int kb = (int)blockIdx.x;
    const size_t po = (size_t)kb * stride, fo = (size_t)kb * fstride;
    const size_t mo = (size_t)kb * (size_t)C * (size_t)C;
    perm += fo, sign += fo, L += po, U += po, logs += po;
    if (W) W += mo;
    if (Winv) Winv += mo;
    if (consts) {
        __shared__ double sh[FCE_INVCONV_BLOCK];
        double a = 0.0, b = 0.0;
        for (int c = threadIdx.x; c < C; c += FCE_INVCONV_BLOCK) {
            a += (double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)an_logs[po + c];
            b += (double)logs[c];
        }
        const double sa = fce_block_sum<FCE_INVCONV_BLOCK>(a, sh);
        const double sb = fce_block_sum<FCE_INVCONV_BLOCK>(b, sh);
        if (threadIdx.x == 0) consts[2 * kb] = (double)HW * sa, consts[2 * kb + 1] = (double)HW * sb;
    }
    if (W) {
        for (int e = threadIdx.x; e < C * C; e += blockDim.x) {
            int i = e / C, j = e % C, p = invconv_perm(perm, i);
            double acc = 0.0;
            if (p >= 0 && p < C) {
                /* M[p][j] = Σ_k L̄[p][k]·Ū[k][j]; the terms outside k ≤ min(p, j) are zero. */
                int kmax = p < j ? p : j;
                for (int k = 0; k <= kmax; k++)
                    acc += invconv_lbar(L, C, p, k) * invconv_ubar(U, sign, logs, C, k, j);
            } else {
                acc = nan("");
            }
            W[e] = (float)acc;
        }
    }
    if (Winv) {
        for (int j = threadIdx.x; j < C; j += blockDim.x) {
            int col = invconv_perm(perm, j);
            double m[FCE_INVCONV_MAX_C];
            /* L̄·y = e_col (unit lower, forward substitution). */
            for (int i = 0; i < C; i++) {
                double acc = i == col ? 1.0 : 0.0;
                for (int k = 0; k < i; k++) acc -= (double)L[(size_t)i * C + k] * m[k];
                m[i] = acc;
            }
            /* Ū·x = y (upper, back substitution), in place. */
            for (int i = C - 1; i >= 0; i--) {
                double acc = m[i];
                for (int k = i + 1; k < C; k++) acc -= (double)U[(size_t)i * C + k] * m[k];
                m[i] = acc / invconv_ubar(U, sign, logs, C, i, i);
            }
            bool ok = col >= 0 && col < C;
            for (int i = 0; i < C; i++) Winv[(size_t)i * C + j] = ok ? (float)m[i] : nanf("");
        }
    }
}

/* Block k: step k of a batch (as invconv_lu_weights_kernel). */
static __global__ void invconv_lu_backward_kernel(float *dL, float *dU, float *dlogs,
                                                  const float *dW, const float *dWinv,
                                                  const float *Winv, const float *perm,
                                                  const float *sign, const float *L, const float *U,
                                                  const float *logs, size_t stride, size_t fstride,
                                                  int C) {
    __shared__ double G[FCE_INVCONV_MAX_C * FCE_INVCONV_MAX_C];
    __shared__ int iperm[FCE_INVCONV_MAX_C];
    const int CC = C * C;
    const size_t po = (size_t)blockIdx.x * stride, fo = (size_t)blockIdx.x * fstride;
    const size_t mo = (size_t)blockIdx.x * (size_t)CC;
    perm += fo, sign += fo, L += po, U += po, logs += po, Winv += mo;
    if (dL) dL += po;
    if (dU) dU += po;
    if (dlogs) dlogs += po;
    if (dW) dW += mo;
    if (dWinv) dWinv += mo;

    if (dWinv) {
        /* G ← T = W⁻ᵀ·dWinv: T[i][j] = Σ_k Winv[k][i]·dWinv[k][j]. */
        for (int e = threadIdx.x; e < CC; e += blockDim.x) {
            int i = e / C, j = e % C;
            double acc = 0.0;
            for (int k = 0; k < C; k++)
                acc += (double)Winv[(size_t)k * C + i] * (double)dWinv[(size_t)k * C + j];
            G[e] = acc;
        }
        __syncthreads();
        /* Row i of G = dW[i] − T[i]·W⁻ᵀ reads only row i of T: the thread owning row i finishes
         * it into a local vector and writes it back in place. */
        for (int i = threadIdx.x; i < C; i += blockDim.x) {
            double row[FCE_INVCONV_MAX_C];
            for (int j = 0; j < C; j++) {
                double acc = 0.0;
                for (int k = 0; k < C; k++) acc += G[i * C + k] * (double)Winv[(size_t)j * C + k];
                row[j] = (dW ? (double)dW[(size_t)i * C + j] : 0.0) - acc;
            }
            for (int j = 0; j < C; j++) G[i * C + j] = row[j];
        }
    } else {
        for (int e = threadIdx.x; e < CC; e += blockDim.x) G[e] = dW ? (double)dW[e] : 0.0;
    }
    /* iperm[perm[i]] = i; entries a malformed perm leaves unset stay 0 (in bounds). */
    for (int i = threadIdx.x; i < C; i += blockDim.x) iperm[i] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
        int p = invconv_perm(perm, i);
        if (p >= 0 && p < C) iperm[p] = i;
    }
    __syncthreads();

    /* (PᵀG)[a][k] = G[iperm[a]][k]. */
    for (int e = threadIdx.x; e < CC; e += blockDim.x) {
        int i = e / C, j = e % C;
        if (i > j && dL) { /* gL̄[i][j] = Σ_k (PᵀG)[i][k]·Ū[j][k], nonzero for k ≥ j */
            const double *pg = &G[iperm[i] * C];
            double acc = 0.0;
            for (int k = j; k < C; k++) acc += pg[k] * invconv_ubar(U, sign, logs, C, j, k);
            dL[e] = (float)((double)dL[e] + acc);
        }
        if (i <= j && (dU || dlogs)) { /* gŪ[i][j] = Σ_k L̄[k][i]·(PᵀG)[k][j], nonzero for k ≥ i */
            double acc = 0.0;
            for (int k = i; k < C; k++) acc += invconv_lbar(L, C, k, i) * G[iperm[k] * C + j];
            if (i < j && dU) dU[e] = (float)((double)dU[e] + acc);
            if (i == j && dlogs)
                dlogs[i] = (float)((double)dlogs[i] + acc * (double)sign[i] * exp((double)logs[i]));
        }
    }
}

static __global__ void invconv_logdet_kernel(float *logdet, const float *logs, int N, int HW, int C,
                                             double dir) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    double acc = 0.0;
    for (int c = threadIdx.x; c < C; c += FCE_BLOCK_REDUCE) acc += logs[c];
    double ld = dir * (double)HW * fce_block_sum<FCE_BLOCK_REDUCE>(acc, sh);
    for (int n = threadIdx.x; n < N; n += FCE_BLOCK_REDUCE)
        logdet[n] = (float)((double)logdet[n] + ld);
}

/* Block k: dlogs of step k at k·stride (every block sums dlogdet itself). */
static __global__ void invconv_logdet_backward_kernel(float *dlogs, const float *dlogdet, int N,
                                                      int HW, int C, double dir, size_t stride) {
    __shared__ double sh[FCE_BLOCK_REDUCE];
    dlogs += (size_t)blockIdx.x * stride;
    double acc = 0.0;
    for (int n = threadIdx.x; n < N; n += FCE_BLOCK_REDUCE) acc += dlogdet[n];
    double g = dir * (double)HW * fce_block_sum<FCE_BLOCK_REDUCE>(acc, sh);
    for (int c = threadIdx.x; c < C; c += FCE_BLOCK_REDUCE)
        dlogs[c] = (float)((double)dlogs[c] + g);
}

static fce_status invconv_check_c(int C, const char *what) {
    if (C < 1 || C > FCE_INVCONV_MAX_C) {
        fce_log_error("%s: C = %d channels is outside the CUDA kernel's range 1..%d "
                      "(raise FCE_INVCONV_MAX_C in src/kernels/invconv.cu)",
                      what, C, FCE_INVCONV_MAX_C);
        return FCE_STATUS_ERR_UNSUPPORTED;
    }
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_invconv_lu_weights(float *W, float *Winv, const float *perm,
                                                  const float *sign, const float *L, const float *U,
                                                  const float *logs, int C, cudaStream_t stream) {
    FCE_TRY(invconv_check_c(C, "invconv_lu_weights"));
    if (!W && !Winv) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (2 * (size_t)C * C + 3 * (size_t)C), FCE_F4 * ((W ? (size_t)C * C : 0) + (Winv ? (size_t)C * C : 0)));
    invconv_lu_weights_kernel<<<1, FCE_INVCONV_BLOCK, 0, stream>>>(W, Winv, nullptr, perm, sign, L,
                                                                   U, logs, nullptr, 0, 0, C, 0);
    FCE_LAUNCH_CHECK("invconv_lu_weights_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_invconv_lu_backward(float *dL, float *dU, float *dlogs,
                                                   const float *dW, const float *dWinv,
                                                   const float *Winv, const float *perm,
                                                   const float *sign, const float *L,
                                                   const float *U, const float *logs, int C,
                                                   cudaStream_t stream) {
    FCE_TRY(invconv_check_c(C, "invconv_lu_backward"));
    if (!dL && !dU && !dlogs) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * ((2 + (dW ? 1 : 0) + (dWinv ? 1 : 0) + 1) * (size_t)C * C + 3 * (size_t)C + (dL ? (size_t)C * C : 0) + (dU ? (size_t)C * C : 0) + (dlogs ? C : 0)), FCE_F4 * ((dL ? (size_t)C * C : 0) + (dU ? (size_t)C * C : 0) + (dlogs ? C : 0)));
    invconv_lu_backward_kernel<<<1, FCE_INVCONV_BLOCK, 0, stream>>>(dL, dU, dlogs, dW, dWinv, Winv,
                                                                    perm, sign, L, U, logs, 0, 0,
                                                                    C);
    FCE_LAUNCH_CHECK("invconv_lu_backward_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_invconv_logdet(float *logdet, const float *logs, int N, int HW,
                                              int C, float dir, cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C >= 0, "invconv_logdet: bad shape N = %d, HW = %d, C = %d", N,
               HW, C);
    if (!logdet || N == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * ((size_t)C + N), FCE_F4 * N);
    invconv_logdet_kernel<<<1, FCE_BLOCK_REDUCE, 0, stream>>>(logdet, logs, N, HW, C, (double)dir);
    FCE_LAUNCH_CHECK("invconv_logdet_kernel");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_invconv_logdet_backward(float *dlogs, const float *dlogdet, int N,
                                                       int HW, int C, float dir,
                                                       cudaStream_t stream) {
    FCE_ASSERT(N >= 0 && HW >= 0 && C >= 0,
               "invconv_logdet_backward: bad shape N = %d, HW = %d, C = %d", N, HW, C);
    if (!dlogs || !dlogdet || C == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * ((size_t)N + C), FCE_F4 * C);
    invconv_logdet_backward_kernel<<<1, FCE_BLOCK_REDUCE, 0, stream>>>(dlogs, dlogdet, N, HW, C,
                                                                       (double)dir, 0);
    FCE_LAUNCH_CHECK("invconv_logdet_backward_kernel");
    return FCE_STATUS_OK;
}

// ---- a block of K flow steps in one launch (one CUDA block per step) ----

extern "C" fce_status fce_cuda_invconv_lu_weights_batch(float *W, float *Winv, double *consts,
                                                        const float *perm, const float *sign,
                                                        const float *L, const float *U,
                                                        const float *logs, const float *an_logs,
                                                        int K, size_t stride, size_t fstride, int C,
                                                        int HW, cudaStream_t stream) {
    FCE_TRY(invconv_check_c(C, "invconv_lu_weights_batch"));
    FCE_ASSERT(K >= 0 && HW >= 0 && (!consts || an_logs),
               "invconv_lu_weights_batch: K = %d, HW = %d, consts without actnorm log-scales", K, HW);
    if (K == 0 || (!W && !Winv && !consts)) return FCE_STATUS_OK;
    const size_t cc = (size_t)C * (size_t)C;
    FCE_TRAFFIC(FCE_F4 * K * (2 * cc + 4 * (size_t)C),
                FCE_F4 * K * ((W ? cc : 0) + (Winv ? cc : 0)) + (consts ? 16ull * K : 0));
    invconv_lu_weights_kernel<<<(unsigned)K, FCE_INVCONV_BLOCK, 0, stream>>>(
        W, Winv, consts, perm, sign, L, U, logs, an_logs, stride, fstride, C, HW);
    FCE_LAUNCH_CHECK("invconv_lu_weights_kernel (batch)");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_invconv_lu_backward_batch(float *dL, float *dU, float *dlogs,
                                                         const float *dW, const float *dWinv,
                                                         const float *Winv, const float *perm,
                                                         const float *sign, const float *L,
                                                         const float *U, const float *logs, int K,
                                                         size_t stride, size_t fstride, int C,
                                                         cudaStream_t stream) {
    FCE_TRY(invconv_check_c(C, "invconv_lu_backward_batch"));
    FCE_ASSERT(K >= 0, "invconv_lu_backward_batch: K = %d", K);
    if (K == 0 || (!dL && !dU && !dlogs)) return FCE_STATUS_OK;
    const size_t cc = (size_t)C * (size_t)C;
    FCE_TRAFFIC(FCE_F4 * K * ((3 + (dW ? 1 : 0) + (dWinv ? 1 : 0) + (dL ? 1 : 0) + (dU ? 1 : 0)) * cc +
                              4 * (size_t)C),
                FCE_F4 * K * ((dL ? cc : 0) + (dU ? cc : 0) + (dlogs ? (size_t)C : 0)));
    invconv_lu_backward_kernel<<<(unsigned)K, FCE_INVCONV_BLOCK, 0, stream>>>(
        dL, dU, dlogs, dW, dWinv, Winv, perm, sign, L, U, logs, stride, fstride, C);
    FCE_LAUNCH_CHECK("invconv_lu_backward_kernel (batch)");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_invconv_logdet_backward_batch(float *dlogs, const float *dlogdet,
                                                             int K, size_t stride, int N, int HW,
                                                             int C, float dir,
                                                             cudaStream_t stream) {
    FCE_ASSERT(K >= 0 && N >= 0 && HW >= 0 && C >= 0,
               "invconv_logdet_backward_batch: bad shape K = %d, N = %d, HW = %d, C = %d", K, N, HW,
               C);
    if (!dlogs || !dlogdet || C == 0 || K == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * K * ((size_t)N + C), FCE_F4 * K * C);
    invconv_logdet_backward_kernel<<<(unsigned)K, FCE_BLOCK_REDUCE, 0, stream>>>(
        dlogs, dlogdet, N, HW, C, (double)dir, stride);
    FCE_LAUNCH_CHECK("invconv_logdet_backward_kernel (batch)");
    return FCE_STATUS_OK;
}
