/* actnorm_cpu.h: the fast CPU backend's actnorm (fce/ops.def's actnorm_forward, _inverse,
 * _backward and _inverse_backward), bit-identical to fce_ref_actnorm_*: the same double formula
 * per element and the same per-channel sums in row order, but the loops run row-outer over
 * contiguous memory (the reference walks each channel with a stride of C: 11% of an image MLE
 * step after the convolutions were made fast). */
#ifndef FCE_ACTNORM_CPU_H
#define FCE_ACTNORM_CPU_H

void actnorm_forward_cpu(float *y, float *logdet, const float *x, const float *bias,
                         const float *logs, int N, int HW, int C);
void actnorm_inverse_cpu(float *x, float *logdet, const float *y, const float *bias,
                         const float *logs, int N, int HW, int C);
void actnorm_backward_cpu(float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                          const float *dlogdet, const float *bias, const float *logs, int N,
                          int HW, int C);
void actnorm_inverse_backward_cpu(float *dy, float *dbias, float *dlogs, const float *dx,
                                  const float *x, const float *dlogdet, const float *bias,
                                  const float *logs, int N, int HW, int C);

/* The ReLU-masked backward of actnorm → ReLU from the ReLU's output y (fce/ops.def
 * actnorm_relu_backward), bit-identical to its reference. */
void actnorm_relu_backward_cpu(float *dx, float *dbias, float *dlogs, const float *dy, const float *y,
                               const float *bias, const float *logs, int N, int HW, int C);

#endif
