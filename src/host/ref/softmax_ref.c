/* softmax_ref.c: softmax cross-entropy of a K-class classifier (backend.h softmax_xent), the
 * oracle of src/kernels/softmax_xent.cu.
 *
 *   logits z (N, K) row-major, labels y (N) int32 in [0, K). Per row n:
 *   m = max_k z_k,  lse = m + log Σ_k e^{z_k − m}  (max-subtracted: no overflow for any logits),
 *   loss_n = lse − z_{y_n},  p_k = e^{z_k − lse},
 *   dlogits[n, k] = gscale·(p_k − [k = y_n])                    (overwrite; NULL skips)
 *   stats[0] += Σ_n loss_n,  stats[1] += #{n : argmax_k z_k = y_n}  (accumulate; NULL skips;
 *                                                                   ties go to the lowest k)
 * Everything per element in double, the row sums in index order. A label outside [0, K) adds NaN
 * to stats[0], counts as wrong, and its row's dlogits are gscale·p (no one-hot term). */
#include "ref/ref.h"

#include <math.h>

void fce_ref_softmax_xent(float *stats, float *dlogits, const float *logits, const int32_t *labels,
                          int N, int K, float gscale) {
    double loss_sum = 0.0, correct = 0.0, g = gscale;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * (size_t)K;
        const int32_t y = labels[n];
        const int valid = y >= 0 && y < K;
        int arg = 0;
        double m = z[0];
        for (int k = 1; k < K; k++)
            if ((double)z[k] > m) m = z[k], arg = k;
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - m);
        const double lse = m + log(se);
        loss_sum += valid ? lse - (double)z[y] : NAN;
        if (valid && arg == y) correct += 1.0;
        if (dlogits) {
            float *d = dlogits + (size_t)n * (size_t)K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                d[k] = (float)(g * (p - (k == y ? 1.0 : 0.0)));
            }
        }
    }
    if (stats) {
        stats[0] = (float)((double)stats[0] + loss_sum);
        stats[1] = (float)((double)stats[1] + correct);
    }
}
