/* linear_cpu.h: the fast CPU backend's dense layer (fce/ops.def's linear_forward and
 * linear_backward) as products of gemm_cpu.h. The math is fce_ref_linear_*'s; the rounding
 * differs as gemm_cpu.h states (y, dx, dW: float sums in blocks of GEMM_KC; the reference sums in
 * double and rounds once), except db, summed in double as the reference: bit-identical. */
#ifndef FCE_LINEAR_CPU_H
#define FCE_LINEAR_CPU_H

#include "cpu/gemm_cpu.h"

void linear_cpu_forward(const cpu_exec *ex, float *y, const float *x, const float *W, const float *b,
                        int N, int in, int out);
void linear_cpu_backward(const cpu_exec *ex, float *dx, float *dW, float *db, const float *dy,
                         const float *x, const float *W, int N, int in, int out);

#endif
