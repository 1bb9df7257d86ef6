/* nce_ref.c: the logistic NCE value function of FCE (SPEC b; Gao et al. 2020, eq. 4).
 *
 *   a_i = fx_i − c − lq_i (data), b_i = fxt_i − c − lqt_i (flow samples), i < n each.
 *   V   = −(1/n)·[Σ softplus(−a_i) + Σ softplus(b_i)],  softplus(u) = max(u, 0) + log1p(e^{−|u|})
 *   acc = (#{a_i > 0} + #{b_i < 0}) / (2n)                (a tie a = 0 or b = 0 counts as wrong)
 *   L   = gscale·(−V): gscale = +1 is the EBM's loss, −1 the flow's loss V.
 *   dfx = −gscale·(1 − σ(a))/n,  dfxt = +gscale·σ(b)/n,  dlq = −dfx,  dlqt = −dfxt  (overwrite)
 *   dc += gscale·(Σ(1 − σ(a)) − Σ σ(b))/n                                            (accumulate)
 * stats[0] = V, stats[1] = acc. Sums run in index order, in double; σ is evaluated without overflow
 * (1 − σ(a) is taken as σ(−a)), so logits of ±1e4 give finite values. */
#include "ref/ref.h"

#include <math.h>

static double nce_sigmoid(double u) {
    if (u >= 0.0) return 1.0 / (1.0 + exp(-u));
    double e = exp(u);
    return e / (1.0 + e);
}

static double nce_softplus(double u) { return fmax(u, 0.0) + log1p(exp(-fabs(u))); }

void fce_ref_nce_loss(float *stats, float *dfx, float *dfxt, float *dlq, float *dlqt, float *dc,
                      const float *fx, const float *fxt, const float *lq, const float *lqt,
                      const float *c, int n, float gscale) {
    double cv = c[0], g = gscale, inv_n = 1.0 / (double)n;
    double loss_sum = 0.0, sum_one_minus_sig_a = 0.0, sum_sig_b = 0.0;
    long correct = 0;
    for (int i = 0; i < n; i++) {
        double a = (double)fx[i] - cv - (double)lq[i];
        double one_minus_sig_a = nce_sigmoid(-a);
        loss_sum += nce_softplus(-a);
        sum_one_minus_sig_a += one_minus_sig_a;
        if (a > 0.0) correct++;
        double grad = -g * one_minus_sig_a * inv_n;
        if (dfx) dfx[i] = (float)grad;
        if (dlq) dlq[i] = (float)(-grad);
    }
    for (int i = 0; i < n; i++) {
        double b = (double)fxt[i] - cv - (double)lqt[i];
        double sig_b = nce_sigmoid(b);
        loss_sum += nce_softplus(b);
        sum_sig_b += sig_b;
        if (b < 0.0) correct++;
        double grad = g * sig_b * inv_n;
        if (dfxt) dfxt[i] = (float)grad;
        if (dlqt) dlqt[i] = (float)(-grad);
    }
    stats[0] = (float)(-loss_sum * inv_n);
    stats[1] = (float)((double)correct / (2.0 * (double)n));
    if (dc) dc[0] = (float)((double)dc[0] + g * (sum_one_minus_sig_a - sum_sig_b) * inv_n);
}
