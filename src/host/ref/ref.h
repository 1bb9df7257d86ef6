/* ref.h: the CPU reference ops: plain C, readable, unoptimised. They are the specification of every
 * op, the oracle of the GPU tests and the no-GPU backend (wired into the op table by
 * backend/backend_cpu.c).
 *
 * Every op of the table's compute list (include/fce/ops.def, where each op's math is written out)
 * has its reference here, declared from that list: void fce_ref_<op>(params), the table entry's
 * arguments in the same order minus the context, and the CUDA launcher fce_cuda_<op>'s minus the
 * stream. src/host/ref/<op>_ref.c defines it. Reductions accumulate in double.
 *
 * Gradient rule: parameter gradients accumulate (+=); activation gradients overwrite (=); an op
 * that accumulates into an activation gradient ends in _acc. NULL gradient pointers are skipped. */
#ifndef FCE_REF_H
#define FCE_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* fce_ref_fill_normal, fce_ref_linear_forward, ..., fce_ref_adamax_step (fce/ops.def). */
#define FCE_OP(name, params, args) void fce_ref_##name params;
#include "fce/ops.def"

/* 2D convolution, NHWC, the oracle for cuDNN (the table's conv entries take a plan instead of the
 * shape, so these are declared here and called by backend_cpu.c's conv entries).
 * x (N, H, W, Cin), w (Cout, KH, KW, Cin) (cuDNN's NHWC filter layout), b (Cout) or NULL,
 * y (N, Ho, Wo, Cout) with Ho = (H + 2·pad − KH)/stride + 1 (same for W), zero padding:
 *   y[n, i, j, o] = b[o] + Σ_{ky, kx, c} w[o, ky, kx, c]·x[n, i·stride + ky − pad, j·stride + kx − pad, c]
 * backward_data: dx = Σ over the same terms (overwrite); backward_filter: dw += (accumulate),
 * db += Σ_{n,i,j} dy (accumulate, NULL skips). */
void fce_ref_conv2d_forward(float *y, const float *x, const float *w, const float *b, int N, int H,
                            int W, int Cin, int Cout, int KH, int KW, int stride, int pad);
void fce_ref_conv2d_backward_data(float *dx, const float *dy, const float *w, int N, int H, int W,
                                  int Cin, int Cout, int KH, int KW, int stride, int pad);
void fce_ref_conv2d_backward_filter(float *dw, float *db, const float *dy, const float *x, int N,
                                    int H, int W, int Cin, int Cout, int KH, int KW, int stride,
                                    int pad);

#ifdef __cplusplus
}
#endif
#endif
