/* coupling_additive_ref.c: additive coupling (SPEC a.7; NICE / Glow "additive" flow_coupling).
 *
 * rows = N·HW pixels, C channels (even), row-major (rows, C). xa = channels [0, C/2),
 * xb = [C/2, C); h (rows, C/2) = NN(xa) is computed by the caller.
 *   forward: ya = xa, yb = xb + h          inverse: xa = ya, xb = yb − h          log-det 0
 *   backward (dir = +1 of the forward, −1 of the inverse), dout = gradient w.r.t. the output:
 *     din = dout (the whole (rows, C) tensor, overwrite), dh = dir·dout_b (overwrite)
 * The NN's own backward (which adds into din_a) is the caller's. din may alias dout (the copy is
 * then skipped); NULL din or dh skips that output. The forward/inverse may run in place (y = x).
 * Each value is one float addition, rounded once as float arithmetic is. */
#include "ref/ref.h"

void fce_ref_coupling_additive_forward(float *y, const float *x, const float *h, size_t rows,
                                       int C) {
    int half = C / 2;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * C, *hr = h + r * half;
        float *yr = y + r * C;
        for (int k = 0; k < half; k++) {
            yr[k] = xr[k];
            yr[half + k] = (float)((double)xr[half + k] + hr[k]);
        }
    }
}

void fce_ref_coupling_additive_inverse(float *x, const float *y, const float *h, size_t rows,
                                       int C) {
    int half = C / 2;
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * C, *hr = h + r * half;
        float *xr = x + r * C;
        for (int k = 0; k < half; k++) {
            xr[k] = yr[k];
            xr[half + k] = (float)((double)yr[half + k] - hr[k]);
        }
    }
}

void fce_ref_coupling_additive_backward(float *din, float *dh, const float *dout, size_t rows,
                                        int C, float dir) {
    int half = C / 2;
    /* dh first: it reads only dout, which din = dout leaves unchanged anyway. */
    if (dh)
        for (size_t r = 0; r < rows; r++)
            for (int k = 0; k < half; k++)
                dh[r * half + k] = (float)((double)dir * dout[r * C + half + k]);
    if (din && din != dout)
        for (size_t i = 0; i < rows * (size_t)C; i++) din[i] = dout[i];
}
