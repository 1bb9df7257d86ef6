/* coupling_fused.cu: the additive coupling fused with its network's last actnorm (and, forward,
 * with the next flow step's actnorm): coupling_additive_forward_fused and _inverse_fused of
 * fce/ops.def, the CUDA twins of src/host/ref/fused_ref.c. One thread per (pixel, channel of the
 * second half), grid-stride: it forms h = (raw + b)·e^{3·logs} of its element, writes h (the
 * backward reads it) and both halves of the coupling's output at its channel pair (k, C/2 + k),
 * and forward, the next actnorm of both. Three launches of the unfused path (the network's
 * actnorm, the coupling, the next actnorm) become one, and the (rows, C/2) h is written once and
 * never read back. Element maths in double, rounded once, as the reference. */
#include "common.cuh"
#include "fce/backend.h"
#include "fce_kernels.h"

static __device__ __forceinline__ float an_elem(float x, float b, float logs) {
    return (float)(((double)x + b) * exp((double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs));
}

/* forward (y1_next optional): x_next = [ya, yb + h], then the next actnorm; inverse (ya = x, yb
 * NULL): x_next = y = [x_a, x_b − h]. */
static __global__ void coupling_fused_kernel(float *x_next, float *y1_next, float *h, const float *ya,
                                             const float *yb, const float *raw, const float *h_bias,
                                             const float *h_logs, const float *an_bias,
                                             const float *an_logs, size_t total, int C) {
    const size_t half = (size_t)C / 2;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t r = i / half, k = i % half;
        const float hv = an_elem(raw[i], h_bias[k], h_logs[k]);
        h[i] = hv;
        float a, b;
        if (yb) { /* forward: the planar halves of W·y1 */
            a = ya[i], b = (float)((double)yb[i] + hv);
        } else { /* inverse: ya is the coupling's output x (rows, C) */
            a = ya[r * C + k], b = (float)((double)ya[r * C + half + k] - hv);
        }
        x_next[r * C + k] = a;
        x_next[r * C + half + k] = b;
        if (an_bias) {
            y1_next[r * C + k] = an_elem(a, an_bias[k], an_logs[k]);
            y1_next[r * C + half + k] = an_elem(b, an_bias[half + k], an_logs[half + k]);
        }
    }
}

extern "C" fce_status fce_cuda_coupling_additive_forward_fused(
    float *x_next, float *y1_next, float *h, const float *y, const float *raw, const float *h_bias,
    const float *h_logs, const float *an_bias, const float *an_logs, size_t rows, int C,
    cudaStream_t stream) {
    FCE_ASSERT(C >= 2 && C % 2 == 0 && (!an_bias || (y1_next && an_logs)),
               "coupling_additive_forward_fused: C = %d (even, >= 2), next actnorm incomplete", C);
    const size_t total = rows * (size_t)(C / 2);
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (3 * total + 2 * (size_t)C + (an_bias ? 2 * (size_t)C : 0)),
                FCE_F4 * (total + 2 * total + (an_bias ? 2 * total : 0)));
    coupling_fused_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        x_next, y1_next, h, y, y + total, raw, h_bias, h_logs, an_bias, an_logs, total, C);
    FCE_LAUNCH_CHECK("coupling_fused_kernel (forward)");
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_coupling_additive_inverse_fused(float *y, float *h, const float *x,
                                                               const float *raw,
                                                               const float *h_bias,
                                                               const float *h_logs, size_t rows,
                                                               int C, cudaStream_t stream) {
    FCE_ASSERT(C >= 2 && C % 2 == 0, "coupling_additive_inverse_fused: C = %d (even, >= 2)", C);
    const size_t total = rows * (size_t)(C / 2);
    if (total == 0) return FCE_STATUS_OK;
    FCE_TRAFFIC(FCE_F4 * (3 * total + (size_t)C), FCE_F4 * (total + 2 * total));
    coupling_fused_kernel<<<fce_grid_1d(total, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
        y, nullptr, h, x, nullptr, raw, h_bias, h_logs, nullptr, nullptr, total, C);
    FCE_LAUNCH_CHECK("coupling_fused_kernel (inverse)");
    return FCE_STATUS_OK;
}
