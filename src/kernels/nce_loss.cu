/* nce_loss.cu: the logistic NCE value function of FCE (SPEC b; Gao et al. 2020, eq. 4), fused
 * into one pass; the CUDA twin of src/host/ref/nce_ref.c.
 *
 *   a_i = fx_i − c − lq_i (data), b_i = fxt_i − c − lqt_i (flow samples), i < n each.
 *   V   = −(1/n)·[Σ softplus(−a_i) + Σ softplus(b_i)],  softplus(u) = max(u, 0) + log1p(e^{−|u|})
 *   acc = (#{a_i > 0} + #{b_i < 0}) / (2n)
 *   L   = gscale·(−V):  dfx = −gscale·(1 − σ(a))/n, dfxt = +gscale·σ(b)/n, dlq = −dfx,
 *         dlqt = −dfxt (activation gradients: overwrite; any may be NULL),
 *         dc += gscale·(Σ(1 − σ(a)) − Σ σ(b))/n (parameter gradient: accumulates).
 *   stats[0] = V, stats[1] = acc (overwritten). c is a one-float device scalar.
 * Element math in double; σ without overflow (1 − σ(a) is σ(−a)).
 *
 * Kernel: nce_loss_kernel, ONE block of FCE_NCE_BLOCK threads (n is a batch size): thread t takes
 * i = t, t + BLOCK, …, writes the per-element gradients and keeps double partial sums; four
 * fce_block_sum calls (fixed order) give Σ softplus, Σ(1 − σ(a)), Σ σ(b) and the correct count;
 * thread 0 writes stats and dc. Deterministic, no atomics. */
#include "common.cuh"
#include "fce_kernels.h"

#define FCE_NCE_BLOCK 256

static __global__ void nce_loss_kernel(float *stats, float *dfx, float *dfxt, float *dlq,
                                       float *dlqt, float *dc, const float *fx, const float *fxt,
                                       const float *lq, const float *lqt, const float *c, int n,
                                       double g) {
    __shared__ double sh[FCE_NCE_BLOCK];
    const double cv = c[0], inv_n = 1.0 / (double)n;
    double loss = 0.0, sum_1ms_a = 0.0, sum_s_b = 0.0, correct = 0.0;
    for (int i = threadIdx.x; i < n; i += FCE_NCE_BLOCK) {
        double a = (double)fx[i] - cv - (double)lq[i];
        double one_minus_sig_a = fce_sigmoid_d(-a);
        loss += fce_softplus_d(-a);
        sum_1ms_a += one_minus_sig_a;
        if (a > 0.0) correct += 1.0;
        double grad = -g * one_minus_sig_a * inv_n;
        if (dfx) dfx[i] = (float)grad;
        if (dlq) dlq[i] = (float)(-grad);

        double b = (double)fxt[i] - cv - (double)lqt[i];
        double sig_b = fce_sigmoid_d(b);
        loss += fce_softplus_d(b);
        sum_s_b += sig_b;
        if (b < 0.0) correct += 1.0;
        grad = g * sig_b * inv_n;
        if (dfxt) dfxt[i] = (float)grad;
        if (dlqt) dlqt[i] = (float)(-grad);
    }
    loss = fce_block_sum<FCE_NCE_BLOCK>(loss, sh);
    sum_1ms_a = fce_block_sum<FCE_NCE_BLOCK>(sum_1ms_a, sh);
    sum_s_b = fce_block_sum<FCE_NCE_BLOCK>(sum_s_b, sh);
    correct = fce_block_sum<FCE_NCE_BLOCK>(correct, sh);
    if (threadIdx.x == 0) {
        stats[0] = (float)(-loss * inv_n);
        stats[1] = (float)(correct / (2.0 * (double)n));
        if (dc) dc[0] = (float)((double)dc[0] + g * (sum_1ms_a - sum_s_b) * inv_n);
    }
}

extern "C" fce_status fce_cuda_nce_loss(float *stats, float *dfx, float *dfxt, float *dlq,
                                        float *dlqt, float *dc, const float *fx, const float *fxt,
                                        const float *lq, const float *lqt, const float *c, int n,
                                        float gscale, cudaStream_t stream) {
    FCE_ASSERT(n > 0, "nce_loss: n = %d samples of each kind (must be > 0)", n);
    FCE_ASSERT(stats && fx && fxt && lq && lqt && c, "nce_loss: a required input is NULL");
    FCE_TRAFFIC(FCE_F4 * (4 * (size_t)n + 1 + (dc ? 1 : 0)), FCE_F4 * (2 + (dfx ? n : 0) + (dfxt ? n : 0) + (dlq ? n : 0) + (dlqt ? n : 0) + (dc ? 1 : 0)));
    nce_loss_kernel<<<1, FCE_NCE_BLOCK, 0, stream>>>(stats, dfx, dfxt, dlq, dlqt, dc, fx, fxt, lq,
                                                     lqt, c, n, (double)gscale);
    FCE_LAUNCH_CHECK("nce_loss_kernel");
    return FCE_STATUS_OK;
}
