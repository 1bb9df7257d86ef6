/* act_ref.c: leaky ReLU (slope 0 is plain ReLU), elementwise.
 *
 *   forward:  y = x > 0 ? x : slope · x
 *   backward: dx = dy · (x > 0 ? 1 : slope)      (overwrite; dx may alias dy)
 *
 * The derivative at x = 0 is taken as `slope` (the x > 0 test fails there); the GPU kernels use
 * the same test so both backends agree bit for bit. */
#include "ref/ref.h"

void fce_ref_leaky_relu_forward(float *y, const float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}

void fce_ref_leaky_relu_backward(float *dx, const float *dy, const float *x, size_t n,
                                 float slope) {
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
}
