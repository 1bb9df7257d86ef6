/* quality_metrics.c: KID and improved precision/recall on feature vectors (quality_metrics.h). */
#include "eval/quality_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

/* Rows of B per cache block of the dot products: 64 rows of d = 448 doubles are 229 KB. */
#define GRAM_BLOCK 64

/* out[i·ld + j] = A[i]ᵀB[j] for i < na, j < nb; with `upper`, only j >= i (A = B). Four dot
 * products at a time, each with its own accumulator (summed over d in order), so the adds of one
 * do not wait on another's. */
static void dot_block(double *out, size_t ld, const double *A, size_t na, const double *B, size_t nb,
                      int d, int upper) {
    for (size_t jb = 0; jb < nb; jb += GRAM_BLOCK) {
        size_t je = jb + GRAM_BLOCK < nb ? jb + GRAM_BLOCK : nb;
        for (size_t i = 0; i < na; i++) {
            const double *a = A + i * (size_t)d;
            size_t j = upper && i > jb ? i : jb;
            for (; j + 4 <= je; j += 4) {
                const double *b0 = B + j * (size_t)d, *b1 = b0 + d, *b2 = b1 + d, *b3 = b2 + d;
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (int t = 0; t < d; t++) {
                    s0 += a[t] * b0[t];
                    s1 += a[t] * b1[t];
                    s2 += a[t] * b2[t];
                    s3 += a[t] * b3[t];
                }
                out[i * ld + j] = s0, out[i * ld + j + 1] = s1;
                out[i * ld + j + 2] = s2, out[i * ld + j + 3] = s3;
            }
            for (; j < je; j++) {
                const double *b = B + j * (size_t)d;
                double s = 0;
                for (int t = 0; t < d; t++) s += a[t] * b[t];
                out[i * ld + j] = s;
            }
        }
    }
    if (upper)
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < i; j++) out[i * ld + j] = out[j * ld + i];
}

fce_status fce_quality_gram_init(fce_quality_gram *g, const double *X, size_t nx, const double *Y,
                                 size_t ny, int d) {
    memset(g, 0, sizeof *g);
    g->nx = nx, g->ny = ny, g->d = d;
    g->xx = malloc(nx * nx * sizeof *g->xx);
    g->yy = malloc(ny * ny * sizeof *g->yy);
    g->xy = malloc(nx * ny * sizeof *g->xy);
    if (!g->xx || !g->yy || !g->xy) {
        fce_log_error("quality: out of host memory for the dot products of %zu and %zu feature "
                      "vectors (%.0f MB; a smaller --n needs less)", nx, ny,
                      8e-6 * (double)(nx * nx + ny * ny + nx * ny));
        fce_quality_gram_free(g);
        return FCE_STATUS_ERR_NOMEM;
    }
    dot_block(g->xx, nx, X, nx, X, nx, d, 1);
    dot_block(g->yy, ny, Y, ny, Y, ny, d, 1);
    dot_block(g->xy, ny, X, nx, Y, ny, d, 0);
    return FCE_STATUS_OK;
}

void fce_quality_gram_free(fce_quality_gram *g) {
    if (!g) return;
    free(g->xx);
    free(g->yy);
    free(g->xy);
    memset(g, 0, sizeof *g);
}

/* ---- KID ---- */

static double cubic_kernel(double dot, double inv_d) {
    double t = dot * inv_d + 1.0;
    return t * t * t;
}

/* Σ_{i≠j} k over the subset idx[0..m) of a symmetric n-wide block (twice the upper triangle). */
static double kernel_sum_offdiag(const double *S, size_t n, const size_t *idx, size_t m, double inv_d) {
    double s = 0;
    for (size_t a = 0; a < m; a++) {
        const double *row = S + idx[a] * n;
        for (size_t b = a + 1; b < m; b++) s += cubic_kernel(row[idx[b]], inv_d);
    }
    return 2.0 * s;
}

double fce_quality_mmd2_subset(const fce_quality_gram *g, const size_t *ix, const size_t *iy, size_t m) {
    const double inv_d = 1.0 / g->d, mm1 = (double)m * (double)(m - 1);
    double kxx = kernel_sum_offdiag(g->xx, g->nx, ix, m, inv_d);
    double kyy = kernel_sum_offdiag(g->yy, g->ny, iy, m, inv_d);
    double kxy = 0;
    for (size_t a = 0; a < m; a++) {
        const double *row = g->xy + ix[a] * g->ny;
        for (size_t b = 0; b < m; b++) kxy += cubic_kernel(row[iy[b]], inv_d);
    }
    return kxx / mm1 + kyy / mm1 - 2.0 * kxy / ((double)m * (double)m);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* idx[0..m) = a uniformly random m-subset of 0..n−1 (partial Fisher-Yates on the identity, uniforms
 * Philox(seed, offset + i)), sorted so that the kernel sums walk each Gram row forwards. */
static void draw_subset(size_t *idx, size_t n, size_t m, uint64_t seed, uint64_t offset) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)(fce_philox_uniform(seed, offset + i) * (double)(n - i));
        if (j >= n) j = n - 1;
        size_t t = idx[i];
        idx[i] = idx[j], idx[j] = t;
    }
    qsort(idx, m, sizeof *idx, cmp_size);
}

fce_status fce_quality_kid(const fce_quality_gram *g, int subsets, size_t subset_size, uint64_t seed,
                           double *mean, double *sd) {
    size_t m = subset_size;
    if (m > g->nx) m = g->nx;
    if (m > g->ny) m = g->ny;
    size_t *ix = malloc(g->nx * sizeof *ix), *iy = malloc(g->ny * sizeof *iy);
    double *v = malloc((size_t)subsets * sizeof *v);
    if (!ix || !iy || !v) {
        free(ix), free(iy), free(v);
        fce_log_error("quality: out of host memory for the KID subsets");
        return FCE_STATUS_ERR_NOMEM;
    }
    double sum = 0;
    for (int s = 0; s < subsets; s++) {
        /* each subset its own stretch of the stream: 2 draws of at most max(nx, ny) uniforms */
        uint64_t off = (uint64_t)s * 2u * (uint64_t)(g->nx > g->ny ? g->nx : g->ny);
        draw_subset(ix, g->nx, m, seed, off);
        draw_subset(iy, g->ny, m, seed, off + g->nx);
        v[s] = fce_quality_mmd2_subset(g, ix, iy, m);
        sum += v[s];
    }
    *mean = sum / subsets;
    double ss = 0;
    for (int s = 0; s < subsets; s++) ss += (v[s] - *mean) * (v[s] - *mean);
    *sd = subsets > 1 ? sqrt(ss / (subsets - 1)) : NAN;
    free(ix), free(iy), free(v);
    return FCE_STATUS_OK;
}

/* ---- precision and recall ---- */

/* r2[i] = the squared distance from point i to its k-th nearest other point of the same set, and
 * norm2[i] = its squared length, from the set's symmetric n × n Gram block S; `best` is k doubles
 * of scratch (the k smallest so far, sorted). */
static void knn_radii2(const double *S, size_t n, int k, double *best, double *norm2, double *r2) {
    for (size_t i = 0; i < n; i++) norm2[i] = S[i * n + i];
    for (size_t i = 0; i < n; i++) {
        int have = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double d2 = norm2[i] + norm2[j] - 2.0 * S[i * n + j];
            if (d2 < 0) d2 = 0;
            if (have == k && d2 >= best[k - 1]) continue;
            int p = have < k ? have++ : k - 1; /* insertion: shift the larger ones up */
            while (p > 0 && best[p - 1] > d2) best[p] = best[p - 1], p--;
            best[p] = d2;
        }
        r2[i] = best[k - 1];
    }
}

fce_status fce_quality_precision_recall(const fce_quality_gram *g, int k, fce_quality_manifold *out) {
    const size_t nx = g->nx, ny = g->ny;
    double *rx = malloc(nx * sizeof *rx), *ry = malloc(ny * sizeof *ry), *best = malloc((size_t)k * sizeof *best);
    double *xnorm2 = malloc(nx * sizeof *xnorm2), *ynorm2 = malloc(ny * sizeof *ynorm2);
    unsigned char *y_in = calloc(ny, 1), *x_in = calloc(nx, 1), *x_covered = calloc(nx, 1);
    if (!rx || !ry || !best || !xnorm2 || !ynorm2 || !y_in || !x_in || !x_covered) {
        free(rx), free(ry), free(best), free(xnorm2), free(ynorm2), free(y_in), free(x_in), free(x_covered);
        fce_log_error("quality: out of host memory for precision and recall");
        return FCE_STATUS_ERR_NOMEM;
    }
    knn_radii2(g->xx, nx, k, best, xnorm2, rx);
    knn_radii2(g->yy, ny, k, best, ynorm2, ry);
    size_t balls_holding_fakes = 0; /* Σ over fakes of the real balls that hold it */
    for (size_t i = 0; i < nx; i++) {
        const double *row = g->xy + i * ny, xi = xnorm2[i];
        for (size_t j = 0; j < ny; j++) {
            double d2 = xi + ynorm2[j] - 2.0 * row[j];
            if (d2 < 0) d2 = 0;
            if (d2 <= rx[i]) y_in[j] = 1, x_covered[i] = 1, balls_holding_fakes++; /* fake j in real i's ball */
            if (d2 <= ry[j]) x_in[i] = 1; /* real i lies in fake j's ball */
        }
    }
    size_t py = 0, px = 0, pc = 0;
    for (size_t j = 0; j < ny; j++) py += y_in[j];
    for (size_t i = 0; i < nx; i++) px += x_in[i], pc += x_covered[i];
    out->precision = (double)py / (double)ny;
    out->recall = (double)px / (double)nx;
    out->density = (double)balls_holding_fakes / ((double)k * (double)ny);
    out->coverage = (double)pc / (double)nx;
    free(rx), free(ry), free(best), free(xnorm2), free(ynorm2), free(y_in), free(x_in), free(x_covered);
    return FCE_STATUS_OK;
}
