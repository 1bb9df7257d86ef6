/* coupling_ref.c: affine coupling (SPEC a.8; Glow §3.3, openai/glow's add-then-multiply order).
 *
 * rows = N·HW pixels, C channels (even), NHWC; sample n owns rows [n·HW, (n+1)·HW).
 * xa = channels [0, C/2), xb = [C/2, C). h (rows, C) = NN(xa), interleaved:
 *   t_k = h[row, 2k], r_k = h[row, 2k+1], s_k = sigmoid(r_k + 2), log s_k = −softplus(−(r_k + 2)).
 *   forward: ya = xa, yb = (xb + t)·s,  logdet[n] += Σ_{pix,k} log s
 *   inverse: xa = ya, xb = yb/s − t,    logdet[n] −= Σ_{pix,k} log s
 *   backward of forward (y = forward output): dxa = dya, dxb = dyb·s,
 *            dt = dyb·s, dr = (1 − s)·(dyb·yb + dlogdet_n)
 *   backward of inverse (x = inverse output): dya = dxa, dyb = dxb/s,
 *            dt = −dxb, dr = −(1 − s)·(dxb·(xb + t) + dlogdet_n)
 * Activation gradients (dx, dy, dh) are overwritten; NULL skips one; dlogdet NULL means 0.
 * Elementwise math in double, rounded once; 1 − s is taken as sigmoid(−(r + 2)) so it keeps its
 * digits when s is near 1; log-det sums accumulate in double. */
#include "ref/ref.h"

#include <math.h>

/* sigmoid(u) without overflow for either sign of u. */
static double coupling_sigmoid(double u) {
    if (u >= 0.0) return 1.0 / (1.0 + exp(-u));
    double e = exp(u);
    return e / (1.0 + e);
}

/* softplus(u) = log(1 + e^u) = max(u, 0) + log1p(e^{−|u|}). */
static double coupling_softplus(double u) { return fmax(u, 0.0) + log1p(exp(-fabs(u))); }

void fce_ref_coupling_affine_forward(float *y, float *logdet, const float *x, const float *h, int N,
                                     int HW, int C) {
    int half = C / 2;
    for (int n = 0; n < N; n++) {
        double sum_log_s = 0.0;
        for (size_t row = (size_t)n * HW; row < (size_t)(n + 1) * HW; row++) {
            const float *xr = x + row * C, *hr = h + row * C;
            float *yr = y + row * C;
            for (int k = 0; k < half; k++) {
                double u = (double)hr[2 * k + 1] + 2.0;
                double s = coupling_sigmoid(u);
                yr[k] = xr[k];
                yr[half + k] = (float)(((double)xr[half + k] + hr[2 * k]) * s);
                sum_log_s += -coupling_softplus(-u);
            }
        }
        if (logdet) logdet[n] = (float)((double)logdet[n] + sum_log_s);
    }
}

void fce_ref_coupling_affine_inverse(float *x, float *logdet, const float *y, const float *h, int N,
                                     int HW, int C) {
    int half = C / 2;
    for (int n = 0; n < N; n++) {
        double sum_log_s = 0.0;
        for (size_t row = (size_t)n * HW; row < (size_t)(n + 1) * HW; row++) {
            const float *yr = y + row * C, *hr = h + row * C;
            float *xr = x + row * C;
            for (int k = 0; k < half; k++) {
                double u = (double)hr[2 * k + 1] + 2.0;
                double s = coupling_sigmoid(u);
                xr[k] = yr[k];
                xr[half + k] = (float)((double)yr[half + k] / s - hr[2 * k]);
                sum_log_s += -coupling_softplus(-u);
            }
        }
        if (logdet) logdet[n] = (float)((double)logdet[n] - sum_log_s);
    }
}

void fce_ref_coupling_affine_backward(float *dx, float *dh, const float *dy, const float *y,
                                      const float *h, const float *dlogdet, int N, int HW, int C) {
    int half = C / 2;
    for (int n = 0; n < N; n++) {
        double gl = dlogdet ? (double)dlogdet[n] : 0.0;
        for (size_t row = (size_t)n * HW; row < (size_t)(n + 1) * HW; row++) {
            const float *dyr = dy + row * C, *yr = y + row * C, *hr = h + row * C;
            for (int k = 0; k < half; k++) {
                double u = (double)hr[2 * k + 1] + 2.0;
                double s = coupling_sigmoid(u), one_minus_s = coupling_sigmoid(-u);
                double dyb = dyr[half + k];
                if (dx) {
                    dx[row * C + k] = dyr[k];
                    dx[row * C + half + k] = (float)(dyb * s);
                }
                if (dh) {
                    dh[row * C + 2 * k] = (float)(dyb * s);
                    dh[row * C + 2 * k + 1] = (float)(one_minus_s * (dyb * yr[half + k] + gl));
                }
            }
        }
    }
}

void fce_ref_coupling_affine_inverse_backward(float *dy, float *dh, const float *dx, const float *x,
                                              const float *h, const float *dlogdet, int N, int HW,
                                              int C) {
    int half = C / 2;
    for (int n = 0; n < N; n++) {
        double gl = dlogdet ? (double)dlogdet[n] : 0.0;
        for (size_t row = (size_t)n * HW; row < (size_t)(n + 1) * HW; row++) {
            const float *dxr = dx + row * C, *xr = x + row * C, *hr = h + row * C;
            for (int k = 0; k < half; k++) {
                double t = hr[2 * k];
                double u = (double)hr[2 * k + 1] + 2.0;
                double s = coupling_sigmoid(u), one_minus_s = coupling_sigmoid(-u);
                double dxb = dxr[half + k];
                if (dy) {
                    dy[row * C + k] = dxr[k];
                    dy[row * C + half + k] = (float)(dxb / s);
                }
                if (dh) {
                    dh[row * C + 2 * k] = (float)(-dxb);
                    dh[row * C + 2 * k + 1] =
                        (float)(-one_minus_s * (dxb * ((double)xr[half + k] + t) + gl));
                }
            }
        }
    }
}
