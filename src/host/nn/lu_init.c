/* lu_init.c: the random orthogonal LU init of an invertible D×D map (lu_init.h), on the host. */
#include "nn/lu_init.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

void fce_lu_init_orthogonal_host(float *perm, float *sign, float *L, float *U, float *logs, int D,
                                 uint64_t seed) {
    double *Q = calloc((size_t)D * D, sizeof *Q), *M = calloc((size_t)D * D, sizeof *M);
    int *order = calloc((size_t)D, sizeof *order);
    if (!Q || !M || !order) {
        fce_log_error("out of host memory in LU init");
        abort();
    }
    for (int i = 0; i < D * D; i++) Q[i] = fce_philox_normal(seed, (uint64_t)i);
    for (int j = 0; j < D; j++) { /* columns j of Q orthonormalised */
        for (int p = 0; p < j; p++) {
            double dot = 0;
            for (int i = 0; i < D; i++) dot += Q[i * D + j] * Q[i * D + p];
            for (int i = 0; i < D; i++) Q[i * D + j] -= dot * Q[i * D + p];
        }
        double nrm = 0;
        for (int i = 0; i < D; i++) nrm += Q[i * D + j] * Q[i * D + j];
        nrm = sqrt(nrm);
        for (int i = 0; i < D; i++) Q[i * D + j] /= nrm;
    }
    /* Gaussian elimination with partial pivoting; order[i] = original row at position i. */
    memcpy(M, Q, (size_t)D * D * sizeof *M);
    for (int i = 0; i < D; i++) order[i] = i;
    for (int c = 0; c < D; c++) {
        int piv = c;
        for (int r = c + 1; r < D; r++)
            if (fabs(M[r * D + c]) > fabs(M[piv * D + c])) piv = r;
        if (piv != c) {
            for (int j = 0; j < D; j++) {
                double tmp = M[c * D + j];
                M[c * D + j] = M[piv * D + j];
                M[piv * D + j] = tmp;
            }
            int to = order[c];
            order[c] = order[piv];
            order[piv] = to;
        }
        for (int r = c + 1; r < D; r++) {
            double f = M[r * D + c] / M[c * D + c];
            M[r * D + c] = f; /* L0 stored below the diagonal */
            for (int j = c + 1; j < D; j++) M[r * D + j] -= f * M[c * D + j];
        }
    }
    /* Row i of L0·U0 is original row order[i]: W0[order[i]] = (L0 U0)[i], so perm[order[i]] = i. */
    for (int i = 0; i < D; i++) perm[order[i]] = (float)i;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            L[i * D + j] = i > j ? (float)M[i * D + j] : 0.0f;
            U[i * D + j] = i < j ? (float)M[i * D + j] : 0.0f;
        }
    for (int i = 0; i < D; i++) {
        double u = M[i * D + i];
        sign[i] = u < 0 ? -1.0f : 1.0f;
        logs[i] = (float)log(fabs(u));
    }
    free(Q);
    free(M);
    free(order);
}
