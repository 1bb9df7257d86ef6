/* fused_ref.c: the references of the fused ops of the additive image flow (fce/ops.def, "fused
 * ops"): each is the composition of the unfused reference ops its comment in ops.def names, in
 * the same arithmetic, so the CPU backend computes bit for bit what the unfused sequence computed
 * (tests/cpu/test_ref_fused.c checks it). The work buffers of the backward ops serve the GPU's
 * two-stage reductions and are not used here. */
#include "ref/ref.h"

#include <math.h>

#include "fce/backend.h"
#include "fce/log.h"

/* (x + b)·e^{3·logs} in double, rounded once: actnorm_forward's element (actnorm_ref.c). */
static float actnorm_elem(float x, float bias, float logs) {
    return (float)(((double)x + bias) * exp((double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs));
}

void fce_ref_actnorm_relu_forward(float *y, const float *x, const float *bias, const float *logs,
                                  int N, int HW, int C) {
    const size_t rows = (size_t)N * (size_t)HW;
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            const float n = actnorm_elem(x[r * C + c], bias[c], logs[c]);
            y[r * C + c] = n > 0.0f ? n : 0.0f * n; /* leaky_relu_forward, slope 0 */
        }
}

/* Σ over rows of the masked gradient and of its product with y, per channel: actnorm_backward's
 * loop with dy replaced by dn = (y > 0 ? dy : 0·dy). */
void fce_ref_actnorm_relu_backward(float *dx, float *dbias, float *dlogs, const float *dy,
                                   const float *y, const float *bias, const float *logs, int N,
                                   int HW, int C, float *work) {
    (void)work;
    const size_t rows = (size_t)N * (size_t)HW;
    for (int c = 0; c < C; c++) {
        const double scale = exp((double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs[c]);
        double sum_dy = 0.0, sum_dy_y = 0.0;
        for (size_t r = 0; r < rows; r++) {
            const size_t i = r * C + c;
            const float dn = y[i] > 0.0f ? dy[i] : 0.0f * dy[i]; /* leaky_relu_backward, slope 0 */
            if (dx) dx[i] = (float)((double)dn * scale);
            sum_dy += dn;
            sum_dy_y += (double)dn * y[i];
        }
        if (dbias) dbias[c] = (float)((double)dbias[c] + sum_dy * scale);
        if (dlogs) /* + HW·Σ dlogdet with no log-det: + 0.0, kept for the sign of a zero sum */
            dlogs[c] = (float)((double)dlogs[c] +
                               (double)FCE_ACTNORM_LOGSCALE_FACTOR * (sum_dy_y + 0.0));
    }
    (void)bias;
}

void fce_ref_actnorm_backward_ws(float *dx, float *dbias, float *dlogs, const float *dy,
                                 const float *y, const float *dlogdet, const float *bias,
                                 const float *logs, int N, int HW, int C, float *work) {
    (void)work;
    fce_ref_actnorm_backward(dx, dbias, dlogs, dy, y, dlogdet, bias, logs, N, HW, C);
}

void fce_ref_actnorm_inverse_backward_ws(float *dy, float *dbias, float *dlogs, const float *dx,
                                         const float *x, const float *dlogdet, const float *bias,
                                         const float *logs, int N, int HW, int C, float *work) {
    (void)work;
    fce_ref_actnorm_inverse_backward(dy, dbias, dlogs, dx, x, dlogdet, bias, logs, N, HW, C);
}

void fce_ref_actnorm_inverse_split(float *x, float *xa, const float *y, const float *bias,
                                   const float *logs, int N, int HW, int C) {
    fce_ref_actnorm_inverse(x, NULL, y, bias, logs, N, HW, C);
    if (xa) fce_ref_channels_copy(xa, C / 2, 0, x, C, 0, C / 2, (size_t)N * (size_t)HW, 0);
}

/* e^{3·logs_c} of every channel, in double, as actnorm_ref.c forms each element's scale (the same
 * value whether formed per element or once per channel). The fused refs below use at most
 * FCE_INVCONV_MAX_C channels (a flow's c), so the scales live on the stack. */
static void scales_of(double *scale, const float *logs, int C) {
    FCE_ASSERT(C >= 0 && C <= FCE_INVCONV_MAX_C, "fused coupling ref: C = %d is outside 0..%d", C,
               FCE_INVCONV_MAX_C);
    for (int c = 0; c < C; c++) scale[c] = exp((double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs[c]);
}

void fce_ref_coupling_additive_forward_fused(float *x_next, float *y1_next, float *h, const float *y,
                                             const float *raw, const float *h_bias,
                                             const float *h_logs, const float *an_bias,
                                             const float *an_logs, size_t rows, int C) {
    const int half = C / 2;
    const float *ya = y, *yb = y + rows * (size_t)half;
    double hs[FCE_INVCONV_MAX_C], as[FCE_INVCONV_MAX_C];
    scales_of(hs, h_logs, half);
    if (an_bias) scales_of(as, an_logs, C);
    for (size_t r = 0; r < rows; r++) {
        for (int k = 0; k < half; k++) {
            const size_t i = r * half + k;
            h[i] = (float)(((double)raw[i] + h_bias[k]) * hs[k]);         /* the network's head */
            x_next[r * C + k] = ya[i];
            x_next[r * C + half + k] = (float)((double)yb[i] + h[i]); /* coupling_additive_forward */
        }
        if (an_bias) /* the next step's actnorm_forward */
            for (int c = 0; c < C; c++)
                y1_next[r * C + c] = (float)(((double)x_next[r * C + c] + an_bias[c]) * as[c]);
    }
}

void fce_ref_coupling_additive_inverse_fused(float *y, float *h, const float *x, const float *raw,
                                             const float *h_bias, const float *h_logs, size_t rows,
                                             int C) {
    const int half = C / 2;
    double hs[FCE_INVCONV_MAX_C];
    scales_of(hs, h_logs, half);
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < half; k++) {
            const size_t i = r * half + k;
            h[i] = (float)(((double)raw[i] + h_bias[k]) * hs[k]);
            y[r * C + k] = x[r * C + k];
            y[r * C + half + k] = (float)((double)x[r * C + half + k] - h[i]);
        }
}

/* actnorm_backward's per-channel sums in row order (rows outer, so memory is walked once). */
void fce_ref_coupling_additive_net_backward(float *draw, float *h_dbias, float *h_dlogs,
                                            const float *dout, const float *h, const float *h_bias,
                                            const float *h_logs, size_t rows, int C, float dir,
                                            float *work) {
    (void)work, (void)h_bias;
    const int half = C / 2;
    double scale[FCE_INVCONV_MAX_C], sum_dh[FCE_INVCONV_MAX_C], sum_dh_h[FCE_INVCONV_MAX_C];
    scales_of(scale, h_logs, half);
    for (int k = 0; k < half; k++) sum_dh[k] = sum_dh_h[k] = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < half; k++) {
            const float dh = (float)((double)dir * dout[r * C + half + k]); /* coupling backward */
            const size_t i = r * half + k;
            if (draw) draw[i] = (float)((double)dh * scale[k]);
            sum_dh[k] += dh;
            sum_dh_h[k] += (double)dh * h[i];
        }
    for (int k = 0; k < half; k++) {
        if (h_dbias) h_dbias[k] = (float)((double)h_dbias[k] + sum_dh[k] * scale[k]);
        if (h_dlogs)
            h_dlogs[k] = (float)((double)h_dlogs[k] +
                                 (double)FCE_ACTNORM_LOGSCALE_FACTOR * (sum_dh_h[k] + 0.0));
    }
}

void fce_ref_logdet_add_consts(float *logdet, const double *consts, int n_consts, int N, float dir) {
    for (int n = 0; n < N; n++) {
        float v = logdet[n];
        if (dir > 0)
            for (int j = 0; j < n_consts; j++) v = (float)((double)v + consts[j]);
        else
            for (int j = n_consts - 1; j >= 0; j--) v = (float)((double)v - consts[j]);
        logdet[n] = v;
    }
}
