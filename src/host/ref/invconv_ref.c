/* invconv_ref.c: LU-parameterised invertible 1×1 convolution / C×C map (SPEC a.5; Glow §3.2).
 *
 *   L̄ = strict-lower(L) + I,  Ū = strict-upper(U) + diag(sign·e^logs),  M = L̄·Ū,
 *   W = P·M with W[i][j] = M[perm[i]][j]  (P[i][k] = 1 iff k = perm[i]),
 *   W⁻¹ = Ū⁻¹·L̄⁻¹·Pᵀ  (two triangular solves in double).
 *   logdet[n] += dir·HW·Σ_c logs_c  (det W = ±Π e^logs, so no determinant is ever computed).
 * Backward, from dW (forward direction) and/or dWinv (inverse direction):
 *   G = dW − W⁻ᵀ·dWinv·W⁻ᵀ,  gL̄ = Pᵀ G Ūᵀ,  gŪ = L̄ᵀ Pᵀ G   (row perm[i] of Pᵀ G = row i of G),
 *   dL += gL̄ ⊙ strict-lower,  dU += gŪ ⊙ strict-upper,  dlogs_c += gŪ[c][c]·sign_c·e^logs_c.
 * The log-det term reaches logs only through invconv_logdet_backward (dlogs_c += dir·HW·Σ_n gℓ_n).
 * All matrix work is in double; C ≤ FCE_INVCONV_MAX_C (backend.h), so the scratch matrices live
 * on the stack (packed C×C, zeroed per call): nothing is allocated per call. perm is stored as
 * float and rounded with lrintf. */
#include "ref/ref.h"

#include <math.h>
#include <stdlib.h>

#include "fce/backend.h"
#include "fce/log.h"

#define INVCONV_MAT (FCE_INVCONV_MAX_C * FCE_INVCONV_MAX_C)

/* Zeroes the packed C×C prefix of a stack matrix. */
static double *invconv_scratch(double *m, int C) {
    FCE_ASSERT(C >= 1 && C <= FCE_INVCONV_MAX_C, "invconv_ref: C = %d is outside 1..%d", C,
               FCE_INVCONV_MAX_C);
    for (int i = 0; i < C * C; i++) m[i] = 0.0;
    return m;
}

/* Lbar = strict-lower(L) + I and Ubar = strict-upper(U) + diag(sign·e^logs), both C×C in double. */
static void invconv_factors(double *Lbar, double *Ubar, const float *sign, const float *L,
                            const float *U, const float *logs, int C) {
    for (int i = 0; i < C; i++) {
        for (int j = 0; j < C; j++) {
            size_t ij = (size_t)i * C + j;
            Lbar[ij] = i > j ? (double)L[ij] : (i == j ? 1.0 : 0.0);
            if (i < j) Ubar[ij] = U[ij];
            else if (i == j) Ubar[ij] = (double)sign[i] * exp((double)logs[i]);
            else Ubar[ij] = 0.0;
        }
    }
}

static int invconv_perm(const float *perm, int i) { return (int)lrintf(perm[i]); }

void fce_ref_invconv_lu_weights(float *W, float *Winv, const float *perm, const float *sign,
                                const float *L, const float *U, const float *logs, int C) {
    double Lbar_buf[INVCONV_MAT], Ubar_buf[INVCONV_MAT];
    double *Lbar = invconv_scratch(Lbar_buf, C), *Ubar = invconv_scratch(Ubar_buf, C);
    double M_buf[INVCONV_MAT], Minv_buf[INVCONV_MAT];
    double *M = invconv_scratch(M_buf, C), *Minv = invconv_scratch(Minv_buf, C);
    invconv_factors(Lbar, Ubar, sign, L, U, logs, C);

    for (int i = 0; i < C; i++) {
        for (int j = 0; j < C; j++) {
            double acc = 0.0;
            for (int k = 0; k < C; k++) acc += Lbar[(size_t)i * C + k] * Ubar[(size_t)k * C + j];
            M[(size_t)i * C + j] = acc;
        }
    }
    for (int i = 0; i < C; i++) {
        int src = invconv_perm(perm, i);
        for (int j = 0; j < C; j++) W[(size_t)i * C + j] = (float)M[(size_t)src * C + j];
    }

    /* Minv = Ū⁻¹ L̄⁻¹, column by column: solve L̄ y = e_col (unit lower), then Ū m = y (upper). */
    for (int col = 0; col < C; col++) {
        for (int i = 0; i < C; i++) {
            double acc = i == col ? 1.0 : 0.0;
            for (int k = 0; k < i; k++) acc -= Lbar[(size_t)i * C + k] * Minv[(size_t)k * C + col];
            Minv[(size_t)i * C + col] = acc;
        }
        for (int i = C - 1; i >= 0; i--) {
            double acc = Minv[(size_t)i * C + col];
            for (int k = i + 1; k < C; k++)
                acc -= Ubar[(size_t)i * C + k] * Minv[(size_t)k * C + col];
            Minv[(size_t)i * C + col] = acc / Ubar[(size_t)i * C + i];
        }
    }
    /* W⁻¹ = M⁻¹·Pᵀ: (M⁻¹ Pᵀ)[i][j] = M⁻¹[i][perm[j]]. */
    for (int i = 0; i < C; i++)
        for (int j = 0; j < C; j++)
            Winv[(size_t)i * C + j] = (float)Minv[(size_t)i * C + invconv_perm(perm, j)];

}

void fce_ref_invconv_lu_backward(float *dL, float *dU, float *dlogs, const float *dW,
                                 const float *dWinv, const float *Winv, const float *perm,
                                 const float *sign, const float *L, const float *U,
                                 const float *logs, int C) {
    double Lbar_buf[INVCONV_MAT], Ubar_buf[INVCONV_MAT];
    double *Lbar = invconv_scratch(Lbar_buf, C), *Ubar = invconv_scratch(Ubar_buf, C);
    double G_buf[INVCONV_MAT], T_buf[INVCONV_MAT], PtG_buf[INVCONV_MAT];
    double *G = invconv_scratch(G_buf, C), *T = invconv_scratch(T_buf, C);
    double *PtG = invconv_scratch(PtG_buf, C);
    invconv_factors(Lbar, Ubar, sign, L, U, logs, C);

    /* G = dW − W⁻ᵀ dWinv W⁻ᵀ: T = W⁻ᵀ dWinv, then G −= T W⁻ᵀ. */
    for (size_t i = 0; i < (size_t)C * C; i++) G[i] = dW ? (double)dW[i] : 0.0;
    if (dWinv) {
        for (int i = 0; i < C; i++) {
            for (int j = 0; j < C; j++) {
                double acc = 0.0;
                for (int k = 0; k < C; k++)
                    acc += (double)Winv[(size_t)k * C + i] * dWinv[(size_t)k * C + j];
                T[(size_t)i * C + j] = acc;
            }
        }
        for (int i = 0; i < C; i++) {
            for (int j = 0; j < C; j++) {
                double acc = 0.0;
                for (int k = 0; k < C; k++) acc += T[(size_t)i * C + k] * Winv[(size_t)j * C + k];
                G[(size_t)i * C + j] -= acc;
            }
        }
    }

    /* Pᵀ G: row perm[i] of the result is row i of G. */
    for (int i = 0; i < C; i++) {
        int dst = invconv_perm(perm, i);
        for (int j = 0; j < C; j++) PtG[(size_t)dst * C + j] = G[(size_t)i * C + j];
    }

    for (int i = 0; i < C; i++) {
        for (int j = 0; j < C; j++) {
            size_t ij = (size_t)i * C + j;
            if (i > j && dL) { /* gL̄[i][j] = Σ_k (PᵀG)[i][k]·Ū[j][k] */
                double acc = 0.0;
                for (int k = 0; k < C; k++) acc += PtG[(size_t)i * C + k] * Ubar[(size_t)j * C + k];
                dL[ij] = (float)((double)dL[ij] + acc);
            }
            if (i <= j && (dU || dlogs)) { /* gŪ[i][j] = Σ_k L̄[k][i]·(PᵀG)[k][j] */
                double acc = 0.0;
                for (int k = 0; k < C; k++) acc += Lbar[(size_t)k * C + i] * PtG[(size_t)k * C + j];
                if (i < j && dU) dU[ij] = (float)((double)dU[ij] + acc);
                if (i == j && dlogs)
                    dlogs[i] = (float)((double)dlogs[i] +
                                       acc * (double)sign[i] * exp((double)logs[i]));
            }
        }
    }

}

void fce_ref_invconv_logdet(float *logdet, const float *logs, int N, int HW, int C, float dir) {
    double sum = 0.0;
    for (int c = 0; c < C; c++) sum += logs[c];
    double ld = (double)dir * (double)HW * sum;
    for (int n = 0; n < N; n++) logdet[n] = (float)((double)logdet[n] + ld);
}

void fce_ref_invconv_logdet_backward(float *dlogs, const float *dlogdet, int N, int HW, int C,
                                     float dir) {
    double sum = 0.0;
    for (int n = 0; n < N; n++) sum += dlogdet[n];
    double g = (double)dir * (double)HW * sum;
    for (int c = 0; c < C; c++) dlogs[c] = (float)((double)dlogs[c] + g);
}
