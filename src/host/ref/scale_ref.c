/* scale_ref.c: y = alpha·x elementwise (y may alias x). Used to turn the inverse pass's
 * accumulated log|det ∂x/∂ε| into log q(x̃) = log N(ε) − log|det ∂x/∂ε|, and its gradient. */
#include "ref/ref.h"

void fce_ref_scale(float *y, const float *x, size_t n, float alpha) {
    for (size_t i = 0; i < n; i++) y[i] = alpha * x[i];
}
