/* optim.cu: Adam and Adamax over one contiguous parameter range (t is the 1-based step count), the
 * CUDA twin of src/host/ref/optim_ref.c.
 *
 *   Adam (Kingma & Ba 2015, Alg. 1):
 *     m = b1·m + (1 − b1)·g;  v = b2·v + (1 − b2)·g²;  p −= lr·m̂/(√v̂ + eps),
 *     m̂ = m/(1 − b1^t), v̂ = v/(1 − b2^t)
 *   Adamax (Kingma & Ba 2015, Alg. 2, Keras form):
 *     m = b1·m + (1 − b1)·g;  u = max(b2·u, |g|);  p −= lr/(1 − b1^t)·m/(u + eps)
 * Per-element math in double, each state variable rounded to float once, as in the reference. The
 * bias corrections are computed once on the host in double (pow, fce/optim_sched.h), not per
 * thread; the _at launchers let the kernels read them from device memory (CUDA graphs).
 *
 * Kernels: adam_step_kernel, adamax_step_kernel, elementwise with grid-stride loops. */
#include <math.h>

#include "common.cuh"
#include "fce/optim_sched.h"
#include "fce_kernels.h"

/* sched (the _at ops): the per-step scalars read from device memory instead of lr, bc1, bc2. */
static __global__ void adam_step_kernel(float *p, const float *g, float *m, float *v, size_t n,
                                        double lr, double b1, double b2, double eps, double bc1,
                                        double bc2, const double *sched) {
    if (sched) lr = sched[0], bc1 = sched[1], bc2 = sched[2];
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        double gi = g[i];
        double mi = b1 * m[i] + (1.0 - b1) * gi;
        double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
        double m_hat = mi / bc1, v_hat = vi / bc2;
        p[i] = (float)((double)p[i] - lr * m_hat / (sqrt(v_hat) + eps));
        m[i] = (float)mi;
        v[i] = (float)vi;
    }
}

static __global__ void adamax_step_kernel(float *p, const float *g, float *m, float *u, size_t n,
                                          double step, double b1, double b2, double eps,
                                          const double *sched) {
    if (sched) step = sched[0];
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        double gi = g[i];
        double mi = b1 * m[i] + (1.0 - b1) * gi;
        double ui = fmax(b2 * u[i], fabs(gi));
        p[i] = (float)((double)p[i] - step * mi / (ui + eps));
        m[i] = (float)mi;
        u[i] = (float)ui;
    }
}

/* One launch of either rule, its per-step scalars from host_sc (the plain ops, computed here) or
 * read by the kernel from sched in device memory (the _at ops; then host_sc is NULL). */
static fce_status optim_launch(int adamax, float *p, const float *g, float *m, float *v, size_t n,
                               float b1, float b2, float eps, const double *host_sc,
                               const double *sched, cudaStream_t stream) {
    if (n == 0) return FCE_STATUS_OK;
    const size_t sched_bytes = sched ? (adamax ? FCE_ADAMAX_SCHED : FCE_ADAM_SCHED) * sizeof(double) : 0;
    FCE_TRAFFIC(4 * FCE_F4 * n + sched_bytes, 3 * FCE_F4 * n);
    const double lr_or_step = host_sc ? host_sc[0] : 0.0;
    if (adamax) {
        adamax_step_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
            p, g, m, v, n, lr_or_step, (double)b1, (double)b2, (double)eps, sched);
        FCE_LAUNCH_CHECK("adamax_step_kernel");
    } else {
        adam_step_kernel<<<fce_grid_1d(n, FCE_BLOCK_ELEMWISE), FCE_BLOCK_ELEMWISE, 0, stream>>>(
            p, g, m, v, n, lr_or_step, (double)b1, (double)b2, (double)eps, host_sc ? host_sc[1] : 1.0,
            host_sc ? host_sc[2] : 1.0, sched);
        FCE_LAUNCH_CHECK("adam_step_kernel");
    }
    return FCE_STATUS_OK;
}

extern "C" fce_status fce_cuda_adam_step(float *p, const float *g, float *m, float *v, size_t n,
                                         float lr, float b1, float b2, float eps, int t,
                                         cudaStream_t stream) {
    FCE_ASSERT(t >= 1, "adam_step: step count t = %d (1-based)", t);
    double sc[FCE_ADAM_SCHED];
    fce_adam_sched(sc, lr, b1, b2, t);
    return optim_launch(0, p, g, m, v, n, b1, b2, eps, sc, (const double *)NULL, stream);
}

extern "C" fce_status fce_cuda_adamax_step(float *p, const float *g, float *m, float *u, size_t n,
                                           float lr, float b1, float b2, float eps, int t,
                                           cudaStream_t stream) {
    FCE_ASSERT(t >= 1, "adamax_step: step count t = %d (1-based)", t);
    double sc[FCE_ADAMAX_SCHED];
    fce_adamax_sched(sc, lr, b1, t);
    return optim_launch(1, p, g, m, u, n, b1, b2, eps, sc, (const double *)NULL, stream);
}

extern "C" fce_status fce_cuda_adam_step_at(float *p, const float *g, float *m, float *v, size_t n,
                                            float b1, float b2, float eps, const double *sched,
                                            cudaStream_t stream) {
    FCE_ASSERT(n == 0 || sched != NULL, "adam_step_at: sched is NULL");
    return optim_launch(0, p, g, m, v, n, b1, b2, eps, (const double *)NULL, sched, stream);
}

extern "C" fce_status fce_cuda_adamax_step_at(float *p, const float *g, float *m, float *u, size_t n,
                                              float b1, float b2, float eps, const double *sched,
                                              cudaStream_t stream) {
    FCE_ASSERT(n == 0 || sched != NULL, "adamax_step_at: sched is NULL");
    return optim_launch(1, p, g, m, u, n, b1, b2, eps, (const double *)NULL, sched, stream);
}
