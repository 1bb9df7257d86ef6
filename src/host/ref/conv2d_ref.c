/* conv2d_ref.c: 2D convolution, NHWC, zero padding: the oracle for the cuDNN path (SPEC a.6).
 *
 * x (N, H, W, Cin), w (Cout, KH, KW, Cin), b (Cout) or NULL, y (N, Ho, Wo, Cout),
 * Ho = (H + 2·pad − KH)/stride + 1, Wo = (W + 2·pad − KW)/stride + 1:
 *   y[n, i, j, o] = b[o] + Σ_{ky, kx, c} w[o, ky, kx, c]·x[n, i·s + ky − pad, j·s + kx − pad, c]
 * (terms whose x index falls outside [0, H) × [0, W) are zero). Backward of L with dy = ∂L/∂y:
 *   dx[n, p, q, c]       = Σ_{o, ky, kx : p = i·s + ky − pad, q = j·s + kx − pad} w[o,ky,kx,c]·dy[n,i,j,o]
 *                                                                   (overwrite)
 *   dw[o, ky, kx, c]    += Σ_{n, i, j} dy[n, i, j, o]·x[n, i·s + ky − pad, j·s + kx − pad, c]
 *   db[o]               += Σ_{n, i, j} dy[n, i, j, o]               (accumulate; NULL skips)
 * Every output value is a gather: its sum accumulates in double and is rounded once. Outputs must
 * not alias inputs. */
#include "ref/ref.h"

#include <stddef.h>

static size_t conv_index(int n, int h, int w, int c, int H, int W, int C) {
    return (((size_t)n * H + h) * W + w) * C + c;
}

void fce_ref_conv2d_forward(float *y, const float *x, const float *w, const float *b, int N, int H,
                            int W, int Cin, int Cout, int KH, int KW, int stride, int pad) {
    int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++)
                for (int o = 0; o < Cout; o++) {
                    double acc = b ? (double)b[o] : 0.0;
                    for (int ky = 0; ky < KH; ky++) {
                        int p = i * stride + ky - pad;
                        if (p < 0 || p >= H) continue;
                        for (int kx = 0; kx < KW; kx++) {
                            int q = j * stride + kx - pad;
                            if (q < 0 || q >= W) continue;
                            const float *xp = x + conv_index(n, p, q, 0, H, W, Cin);
                            const float *wp = w + conv_index(o, ky, kx, 0, KH, KW, Cin);
                            for (int c = 0; c < Cin; c++) acc += (double)wp[c] * xp[c];
                        }
                    }
                    y[conv_index(n, i, j, o, Ho, Wo, Cout)] = (float)acc;
                }
}

void fce_ref_conv2d_backward_data(float *dx, const float *dy, const float *w, int N, int H, int W,
                                  int Cin, int Cout, int KH, int KW, int stride, int pad) {
    int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
    for (int n = 0; n < N; n++)
        for (int p = 0; p < H; p++)
            for (int q = 0; q < W; q++)
                for (int c = 0; c < Cin; c++) {
                    double acc = 0.0;
                    for (int ky = 0; ky < KH; ky++) {
                        int ti = p + pad - ky; /* = i·stride */
                        if (ti < 0 || ti % stride != 0 || ti / stride >= Ho) continue;
                        int i = ti / stride;
                        for (int kx = 0; kx < KW; kx++) {
                            int tj = q + pad - kx;
                            if (tj < 0 || tj % stride != 0 || tj / stride >= Wo) continue;
                            int j = tj / stride;
                            const float *dyp = dy + conv_index(n, i, j, 0, Ho, Wo, Cout);
                            for (int o = 0; o < Cout; o++)
                                acc += (double)w[conv_index(o, ky, kx, c, KH, KW, Cin)] * dyp[o];
                        }
                    }
                    dx[conv_index(n, p, q, c, H, W, Cin)] = (float)acc;
                }
}

void fce_ref_conv2d_backward_filter(float *dw, float *db, const float *dy, const float *x, int N,
                                    int H, int W, int Cin, int Cout, int KH, int KW, int stride,
                                    int pad) {
    int Ho = (H + 2 * pad - KH) / stride + 1, Wo = (W + 2 * pad - KW) / stride + 1;
    if (dw)
        for (int o = 0; o < Cout; o++)
            for (int ky = 0; ky < KH; ky++)
                for (int kx = 0; kx < KW; kx++)
                    for (int c = 0; c < Cin; c++) {
                        double acc = 0.0;
                        for (int n = 0; n < N; n++)
                            for (int i = 0; i < Ho; i++) {
                                int p = i * stride + ky - pad;
                                if (p < 0 || p >= H) continue;
                                for (int j = 0; j < Wo; j++) {
                                    int q = j * stride + kx - pad;
                                    if (q < 0 || q >= W) continue;
                                    acc += (double)dy[conv_index(n, i, j, o, Ho, Wo, Cout)] *
                                           x[conv_index(n, p, q, c, H, W, Cin)];
                                }
                            }
                        size_t k = conv_index(o, ky, kx, c, KH, KW, Cin);
                        dw[k] = (float)((double)dw[k] + acc);
                    }
    if (db)
        for (int o = 0; o < Cout; o++) {
            double acc = 0.0;
            for (size_t r = 0; r < (size_t)N * Ho * Wo; r++) acc += dy[r * Cout + o];
            db[o] = (float)((double)db[o] + acc);
        }
}
