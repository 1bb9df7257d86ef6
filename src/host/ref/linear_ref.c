/* linear_ref.c: the dense layer (the oracle for the cuBLAS path, and the CPU backend's hot loop).
 *
 *   forward:  y[n, o] = Σ_i x[n, i] · W[o, i] + b[o]    x (N, in), W (out, in), b (out) or NULL
 *   backward: dx[n, i] = Σ_o dy[n, o] · W[o, i]               (overwrite)
 *             dW[o, i] += Σ_n dy[n, o] · x[n, i]              (accumulate)
 *             db[o]    += Σ_n dy[n, o]                        (accumulate)
 *
 * Row-major; every output accumulates in double, in index order of the summed variable, and is
 * rounded to float once. The backward loops keep a row of double accumulators so the innermost
 * loop walks contiguous memory (the naive order strides by `in` or `out` floats: 100 MLE steps of
 * the 2D flow took 34.7 s with it, 6.7 s without); the summation order per output is the naive one, so the results are the
 * same bits. Any output gradient pointer may be NULL (that work is skipped). y must not alias x. */
#include "ref/ref.h"

#include <stdlib.h>

#include "fce/log.h"

#define LINEAR_ROW_BLOCK 8

void fce_ref_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int in,
                            int out) {
    /* Speed without changing a bit: W is widened to double once per call and LINEAR_ROW_BLOCK rows
     * of x are widened and transposed, so the innermost loop is LINEAR_ROW_BLOCK independent
     * contiguous multiply-adds (vectorisable) instead of one serial chain with a conversion per
     * term (74% of a 2D CPU run's time before). Each output still sums over i in order. */
    double *Wd = malloc(((size_t)out * in + (size_t)LINEAR_ROW_BLOCK * in) * sizeof *Wd);
    FCE_ASSERT(Wd, "out of host memory in linear forward (%d x %d)", out, in);
    double *xt = Wd + (size_t)out * in;
    for (size_t k = 0; k < (size_t)out * in; k++) Wd[k] = W[k];
    for (int n0 = 0; n0 < N; n0 += LINEAR_ROW_BLOCK) {
        int rows = N - n0 < LINEAR_ROW_BLOCK ? N - n0 : LINEAR_ROW_BLOCK;
        for (int i = 0; i < in; i++)
            for (int r = 0; r < LINEAR_ROW_BLOCK; r++)
                xt[(size_t)i * LINEAR_ROW_BLOCK + r] = r < rows ? (double)x[(size_t)(n0 + r) * in + i] : 0.0;
        for (int o = 0; o < out; o++) {
            const double *wr = Wd + (size_t)o * in;
            double acc[LINEAR_ROW_BLOCK];
            for (int r = 0; r < LINEAR_ROW_BLOCK; r++) acc[r] = b ? (double)b[o] : 0.0;
            for (int i = 0; i < in; i++) {
                const double *xi = xt + (size_t)i * LINEAR_ROW_BLOCK;
                for (int r = 0; r < LINEAR_ROW_BLOCK; r++) acc[r] += xi[r] * wr[i];
            }
            for (int r = 0; r < rows; r++) y[(size_t)(n0 + r) * out + o] = (float)acc[r];
        }
    }
    free(Wd);
}

void fce_ref_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                             const float *W, int N, int in, int out) {
    int wide = in > out ? in : out;
    double *acc = malloc((size_t)wide * sizeof *acc);
    FCE_ASSERT(acc, "out of host memory in linear backward (%d doubles)", wide);
    if (dx) {
        for (int n = 0; n < N; n++) {
            const float *dyr = dy + (size_t)n * out;
            for (int i = 0; i < in; i++) acc[i] = 0.0;
            for (int o = 0; o < out; o++) {
                const float *wr = W + (size_t)o * in;
                double g = dyr[o];
                for (int i = 0; i < in; i++) acc[i] += g * wr[i];
            }
            for (int i = 0; i < in; i++) dx[(size_t)n * in + i] = (float)acc[i];
        }
    }
    if (dW) {
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) acc[i] = 0.0;
            for (int n = 0; n < N; n++) {
                double g = dy[(size_t)n * out + o];
                if (g == 0.0) continue; /* dead ReLU rows: skipping them can only flip the sign of a zero */
                const float *xr = x + (size_t)n * in;
                for (int i = 0; i < in; i++) acc[i] += g * xr[i];
            }
            float *dwr = dW + (size_t)o * in;
            for (int i = 0; i < in; i++) dwr[i] = (float)((double)dwr[i] + acc[i]);
        }
    }
    if (db) {
        for (int o = 0; o < out; o++) {
            double s = 0.0;
            for (int n = 0; n < N; n++) s += dy[(size_t)n * out + o];
            db[o] = (float)((double)db[o] + s);
        }
    }
    free(acc);
}
