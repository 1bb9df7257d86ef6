/* conv_cpu.h: the fast CPU backend's 2D convolution, NHWC, as products of gemm_cpu.h. The math
 * is the reference's (ref/ref.h: fce_ref_conv2d_*); only the rounding differs, as gemm_cpu.h
 * states:
 *   y, dx, dw: float sums in blocks of GEMM_KC (the reference sums in double, rounds once);
 *   conv dx: the im2col columns are summed back into each input pixel in float, in the order of
 *            the output pixels, then of the taps (col2im), up to ⌈KH/s⌉·⌈KW/s⌉ terms;
 *   db: summed in double in row order and added once, exactly as the reference: bit-identical. */
#ifndef FCE_CONV_CPU_H
#define FCE_CONV_CPU_H

#include "cpu/gemm_cpu.h"
#include "fce/backend.h"

/* Scratch floats per thread that conv_cpu_backward_data needs for shape s (its column chunk and
 * the GEMM's panels): reserve it with cpu_pool_reserve when the plan is made. */
size_t conv_cpu_scratch_floats(const fce_conv_shape *s);

/* y = conv(x, w) + b (b may be NULL). */
void conv_cpu_forward(const cpu_exec *ex, const fce_conv_shape *s, float *y, const float *x,
                      const float *w, const float *b);
/* dx = (overwrite); needs conv_cpu_scratch_floats(s) reserved. */
void conv_cpu_backward_data(const cpu_exec *ex, const fce_conv_shape *s, float *dx, const float *dy,
                            const float *w);
/* dw += , db += (either may be NULL). */
void conv_cpu_backward_filter(const cpu_exec *ex, const fce_conv_shape *s, float *dw, float *db,
                              const float *dy, const float *x);

#endif
