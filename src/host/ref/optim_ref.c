/* optim_ref.c: Adam and Adamax over one contiguous parameter range; t is the 1-based step count.
 *
 *   Adam (Kingma & Ba 2015, Alg. 1):
 *     m = b1·m + (1 − b1)·g;  v = b2·v + (1 − b2)·g²
 *     p −= lr · m̂ / (√v̂ + eps),  m̂ = m/(1 − b1^t),  v̂ = v/(1 − b2^t)
 *   Adamax (Kingma & Ba 2015, Alg. 2, in the Keras form of backend.h):
 *     m = b1·m + (1 − b1)·g;  u = max(b2·u, |g|)
 *     p −= lr/(1 − b1^t) · m/(u + eps)
 * Per-element math in double, rounded to float once per state variable. */
#include "ref/ref.h"

#include <math.h>

void fce_ref_adam_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                       float b2, float eps, int t) {
    double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        double mi = (double)b1 * m[i] + (1.0 - (double)b1) * gi;
        double vi = (double)b2 * v[i] + (1.0 - (double)b2) * gi * gi;
        double m_hat = mi / bc1, v_hat = vi / bc2;
        p[i] = (float)((double)p[i] - (double)lr * m_hat / (sqrt(v_hat) + (double)eps));
        m[i] = (float)mi;
        v[i] = (float)vi;
    }
}

void fce_ref_adamax_step(float *p, const float *g, float *m, float *u, size_t n, float lr, float b1,
                         float b2, float eps, int t) {
    double step = (double)lr / (1.0 - pow((double)b1, (double)t));
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        double mi = (double)b1 * m[i] + (1.0 - (double)b1) * gi;
        double ui = fmax((double)b2 * u[i], fabs(gi));
        p[i] = (float)((double)p[i] - step * mi / (ui + (double)eps));
        m[i] = (float)mi;
        u[i] = (float)ui;
    }
}
