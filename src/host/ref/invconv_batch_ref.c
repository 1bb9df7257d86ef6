/* invconv_batch_ref.c: the invertible 1×1 maps of a whole block of K flow steps at once, and their
 * products (fce/ops.def: invconv_forward[_halves], invconv_backward, invconv_*_batch). Each is the
 * unbatched reference op (invconv_ref.c, linear_ref.c, actnorm_ref.c) applied step by step in the
 * same arithmetic, so the CPU results equal the unbatched sequence bit for bit; on the GPU one
 * launch (one block per step) or one cuBLAS call replaces K of them. Step k's trainable parameters
 * lie k·stride floats after step 0's, its frozen perm and sign k·fstride (the parameter arena's
 * layout), its C×C matrices k·C² floats. */
#include "ref/ref.h"

#include "fce/backend.h"

void fce_ref_invconv_forward(float *y, const float *x, const float *W, int rows, int C) {
    fce_ref_linear_forward(y, x, W, NULL, rows, C, C);
}

/* y_a = x·W[0:C/2]ᵀ, y_b = x·W[C/2:C]ᵀ: each output of the dense layer is its own sum over the
 * inputs, so the halves hold exactly the columns invconv_forward would write. */
void fce_ref_invconv_forward_halves(float *y, const float *x, const float *W, int rows, int C) {
    const int half = C / 2;
    fce_ref_linear_forward(y, x, W, NULL, rows, C, half);
    fce_ref_linear_forward(y + (size_t)rows * half, x, W + (size_t)half * C, NULL, rows, C, half);
}

void fce_ref_invconv_backward(float *dx, float *dW, const float *dy, const float *x, const float *W,
                              int rows, int C) {
    fce_ref_linear_backward(dx, dW, NULL, dy, x, W, rows, C, C);
}

void fce_ref_invconv_lu_weights_batch(float *W, float *Winv, double *consts, const float *perm,
                                      const float *sign, const float *L, const float *U,
                                      const float *logs, const float *an_logs, int K,
                                      size_t stride, size_t fstride, int C, int HW) {
    const size_t cc = (size_t)C * (size_t)C;
    for (int k = 0; k < K; k++) {
        const size_t o = (size_t)k * stride;
        const size_t f = (size_t)k * fstride;
        fce_ref_invconv_lu_weights(W + k * cc, Winv + k * cc, perm + f, sign + f, L + o, U + o,
                                   logs + o, C);
        /* actnorm_forward's log-det (actnorm_ref.c) and invconv_logdet's at dir +1 */
        double s_an = 0.0, s_lu = 0.0;
        for (int c = 0; c < C; c++) {
            s_an += (double)FCE_ACTNORM_LOGSCALE_FACTOR * (double)an_logs[o + c];
            s_lu += logs[o + c];
        }
        consts[2 * k] = (double)HW * s_an;
        consts[2 * k + 1] = (double)1.0f * (double)HW * s_lu;
    }
}

void fce_ref_invconv_lu_backward_batch(float *dL, float *dU, float *dlogs, const float *dW,
                                       const float *dWinv, const float *Winv, const float *perm,
                                       const float *sign, const float *L, const float *U,
                                       const float *logs, int K, size_t stride, size_t fstride,
                                       int C) {
    const size_t cc = (size_t)C * (size_t)C;
    for (int k = 0; k < K; k++) {
        const size_t o = (size_t)k * stride, f = (size_t)k * fstride;
        fce_ref_invconv_lu_backward(dL ? dL + o : NULL, dU ? dU + o : NULL,
                                    dlogs ? dlogs + o : NULL, dW ? dW + k * cc : NULL,
                                    dWinv ? dWinv + k * cc : NULL, Winv + k * cc, perm + f,
                                    sign + f, L + o, U + o, logs + o, C);
    }
}

void fce_ref_invconv_logdet_backward_batch(float *dlogs, const float *dlogdet, int K, size_t stride,
                                           int N, int HW, int C, float dir) {
    for (int k = 0; k < K; k++)
        fce_ref_invconv_logdet_backward(dlogs + (size_t)k * stride, dlogdet, N, HW, C, dir);
}
