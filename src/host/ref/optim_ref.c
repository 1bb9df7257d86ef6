/* optim_ref.c: Adam and Adamax over one contiguous parameter range; t is the 1-based step count.
 *
 *   Adam (Kingma & Ba 2015, Alg. 1):
 *     m = b1·m + (1 − b1)·g;  v = b2·v + (1 − b2)·g²
 *     p −= lr · m̂ / (√v̂ + eps),  m̂ = m/(1 − b1^t),  v̂ = v/(1 − b2^t)
 *   Adamax (Kingma & Ba 2015, Alg. 2, in the Keras form of backend.h):
 *     m = b1·m + (1 − b1)·g;  u = max(b2·u, |g|)
 *     p −= lr/(1 − b1^t) · m/(u + eps)
 * Per-element math in double, rounded to float once per state variable. The _at forms take the
 * per-step scalars (fce/optim_sched.h) from memory; the plain forms compute the same ones. */
#include "ref/ref.h"

#include <math.h>

#include "fce/optim_sched.h"

/* The element loops, with the per-step scalars of fce/optim_sched.h. */
static void adam_apply(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                       float eps, const double sched[FCE_ADAM_SCHED]) {
    const double lr = sched[0], bc1 = sched[1], bc2 = sched[2];
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        double mi = (double)b1 * m[i] + (1.0 - (double)b1) * gi;
        double vi = (double)b2 * v[i] + (1.0 - (double)b2) * gi * gi;
        double m_hat = mi / bc1, v_hat = vi / bc2;
        p[i] = (float)((double)p[i] - lr * m_hat / (sqrt(v_hat) + (double)eps));
        m[i] = (float)mi;
        v[i] = (float)vi;
    }
}

static void adamax_apply(float *p, const float *g, float *m, float *u, size_t n, float b1, float b2,
                         float eps, const double sched[FCE_ADAMAX_SCHED]) {
    const double step = sched[0];
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        double mi = (double)b1 * m[i] + (1.0 - (double)b1) * gi;
        double ui = fmax((double)b2 * u[i], fabs(gi));
        p[i] = (float)((double)p[i] - step * mi / (ui + (double)eps));
        m[i] = (float)mi;
        u[i] = (float)ui;
    }
}

void fce_ref_adam_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1,
                       float b2, float eps, int t) {
    double sched[FCE_ADAM_SCHED];
    fce_adam_sched(sched, lr, b1, b2, t);
    adam_apply(p, g, m, v, n, b1, b2, eps, sched);
}

void fce_ref_adamax_step(float *p, const float *g, float *m, float *u, size_t n, float lr, float b1,
                         float b2, float eps, int t) {
    double sched[FCE_ADAMAX_SCHED];
    fce_adamax_sched(sched, lr, b1, t);
    adamax_apply(p, g, m, u, n, b1, b2, eps, sched);
}

void fce_ref_adam_step_at(float *p, const float *g, float *m, float *v, size_t n, float b1,
                          float b2, float eps, const double *sched) {
    adam_apply(p, g, m, v, n, b1, b2, eps, sched);
}

void fce_ref_adamax_step_at(float *p, const float *g, float *m, float *u, size_t n, float b1,
                            float b2, float eps, const double *sched) {
    adamax_apply(p, g, m, u, n, b1, b2, eps, sched);
}
