/* actnorm_cpu.c: actnorm row-outer, bit-identical to ref/actnorm_ref.c (actnorm_cpu.h). Channels
 * are taken in chunks of ACT_CHUNK so the per-channel scales and sums live on the stack; within a
 * chunk every row is one contiguous run. The log-det terms are the reference's own loops. */
#include "cpu/actnorm_cpu.h"

#include <math.h>
#include <stddef.h>

#include "cpu/act_cpu.h"
#include "fce/backend.h"

#define ACT_CHUNK 128

/* scale[c − c0] = e^{dir·3·logs_c} in double, as the reference forms it. */
static void channel_scales(double *scale, const float *logs, int c0, int len, double dir) {
    for (int c = 0; c < len; c++)
        scale[c] = exp(dir * ((double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs[c0 + c]));
}

/* logdet[n] += sign·HW·Σ_c 3·logs_c (the reference's sum, in channel order). */
static void add_logdet(float *logdet, const float *logs, int N, int HW, int C, double sign) {
    if (!logdet) return;
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += (double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)logs[c];
    const double ld = (double)HW * sum;
    for (int n = 0; n < N; n++) logdet[n] = (float)((double)logdet[n] + sign * ld);
}

/* The forward map y = (x + b)·e^s, or the inverse x = y·e^{−s} − b, and the log-det term. */
static void affine_pass(float *out, float *logdet, const float *in, const float *bias,
                        const float *logs, int N, int HW, int C, int inverse) {
    const size_t rows = (size_t)N * HW;
    double scale[ACT_CHUNK];
    for (int c0 = 0; c0 < C; c0 += ACT_CHUNK) {
        const int len = C - c0 < ACT_CHUNK ? C - c0 : ACT_CHUNK;
        const float *b = bias + c0;
        channel_scales(scale, logs, c0, len, inverse ? -1.0 : 1.0);
        for (size_t r = 0; r < rows; r++) {
            const float *ir = in + r * C + c0;
            float *orow = out + r * C + c0;
            if (inverse)
                for (int c = 0; c < len; c++) orow[c] = (float)((double)ir[c] * scale[c] - b[c]);
            else
                for (int c = 0; c < len; c++) orow[c] = (float)(((double)ir[c] + b[c]) * scale[c]);
        }
    }
    add_logdet(logdet, logs, N, HW, C, inverse ? -1.0 : 1.0);
}

void actnorm_forward_cpu(float *y, float *logdet, const float *x, const float *bias,
                         const float *logs, int N, int HW, int C) {
    affine_pass(y, logdet, x, bias, logs, N, HW, C, 0);
}

void actnorm_inverse_cpu(float *x, float *logdet, const float *y, const float *bias,
                         const float *logs, int N, int HW, int C) {
    affine_pass(x, logdet, y, bias, logs, N, HW, C, 1);
}

static double sum_dlogdet(const float *dlogdet, int N) {
    double sum = 0.0;
    if (dlogdet)
        for (int n = 0; n < N; n++) sum += dlogdet[n];
    return sum;
}

/* Both backward passes: dout = g·scale (g the incoming gradient, `in` the saved tensor), and per
 * channel, in row order, s1 = Σ g and s2 = Σ g·in (bias NULL) or Σ g·(in + bias). relu: g is first
 * masked by the ReLU whose output `in` is, g = (in > 0 ? g : 0·g) (actnorm_relu_backward). */
static void backward_sums(float *dout, double *s1, double *s2, const float *g, const float *in,
                          const float *bias, const double *scale, size_t rows, int C, int c0,
                          int len, int relu) {
    float gm[ACT_CHUNK];
    for (int c = 0; c < len; c++) s1[c] = s2[c] = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const float *gr = g + r * C + c0, *ir = in + r * C + c0;
        if (relu) { /* branch-free (act_cpu.c): a plain select becomes a branch */
            leaky_relu_backward_cpu(gm, gr, ir, (size_t)len, 0.0f);
            gr = gm;
        }
        if (dout)
            for (int c = 0; c < len; c++) dout[r * C + c0 + c] = (float)((double)gr[c] * scale[c]);
        for (int c = 0; c < len; c++) s1[c] += gr[c];
        if (bias)
            for (int c = 0; c < len; c++) s2[c] += (double)gr[c] * ((double)ir[c] + bias[c0 + c]);
        else
            for (int c = 0; c < len; c++) s2[c] += (double)gr[c] * ir[c];
    }
}

/* actnorm_backward, or with relu its ReLU-masked form (actnorm_relu_backward, no log-det: gl = 0
 * adds HW·0.0, as the reference's + 0.0). */
static void backward_impl(float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                          const float *dlogdet, const float *logs, int N, int HW, int C, int relu) {
    const size_t rows = (size_t)N * HW;
    const double gl = sum_dlogdet(dlogdet, N);
    double scale[ACT_CHUNK], s1[ACT_CHUNK], s2[ACT_CHUNK];
    for (int c0 = 0; c0 < C; c0 += ACT_CHUNK) {
        const int len = C - c0 < ACT_CHUNK ? C - c0 : ACT_CHUNK;
        channel_scales(scale, logs, c0, len, 1.0);
        backward_sums(dx, s1, s2, dy, y, NULL, scale, rows, C, c0, len, relu);
        for (int c = 0; c < len; c++) {
            if (dbias) dbias[c0 + c] = (float)((double)dbias[c0 + c] + s1[c] * scale[c]);
            if (dlogs)
                dlogs[c0 + c] = (float)((double)dlogs[c0 + c] +
                                        (double)FCE_ACTNORM_LOGSCALE_FACTOR *
                                            (s2[c] + (double)HW * gl));
        }
    }
}

void actnorm_backward_cpu(float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                          const float *dlogdet, const float *bias, const float *logs, int N,
                          int HW, int C) {
    (void)bias;
    backward_impl(dx, dbias, dlogs, dy, y, dlogdet, logs, N, HW, C, 0);
}

void actnorm_inverse_backward_cpu(float *dy, float *dbias, float *dlogs, const float *dx,
                                  const float *x, const float *dlogdet, const float *bias,
                                  const float *logs, int N, int HW, int C) {
    const size_t rows = (size_t)N * HW;
    const double gl = sum_dlogdet(dlogdet, N);
    double inv_scale[ACT_CHUNK], s1[ACT_CHUNK], s2[ACT_CHUNK];
    for (int c0 = 0; c0 < C; c0 += ACT_CHUNK) {
        const int len = C - c0 < ACT_CHUNK ? C - c0 : ACT_CHUNK;
        channel_scales(inv_scale, logs, c0, len, -1.0);
        backward_sums(dy, s1, s2, dx, x, bias, inv_scale, rows, C, c0, len, 0);
        for (int c = 0; c < len; c++) {
            if (dbias) dbias[c0 + c] = (float)((double)dbias[c0 + c] - s1[c]);
            if (dlogs)
                dlogs[c0 + c] = (float)((double)dlogs[c0 + c] +
                                        (double)FCE_ACTNORM_LOGSCALE_FACTOR *
                                            (-s2[c] - (double)HW * gl));
        }
    }
}

/* actnorm_relu_backward (fce/ops.def): actnorm_backward_cpu's sums of the ReLU-masked gradient,
 * with y the ReLU's output, as fce_ref_actnorm_relu_backward (ref/fused_ref.c) forms them. */
void actnorm_relu_backward_cpu(float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                               const float *bias, const float *logs, int N, int HW, int C) {
    (void)bias;
    backward_impl(dx, dbias, dlogs, dy, y, NULL, logs, N, HW, C, 1);
}
