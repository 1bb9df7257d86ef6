/* quality_metrics.h: the two sample-quality statistics of `fce-gpu quality`, on feature vectors, in
 * double precision on the host (no backend): KID and improved precision/recall.
 *
 * Both read the dot products of two feature sets X (nx × d, the real pictures) and Y (ny × d, the
 * fakes), computed once into an fce_quality_gram (3 blocks: XXᵀ, YYᵀ, XYᵀ; 8·(nx² + ny² + nx·ny)
 * bytes, e.g. 96 MB at nx = ny = 2000):
 *
 *  - KID (Bińkowski, Sutherland, Arbel, Gretton 2018, "Demystifying MMD GANs"): the unbiased MMD²
 *    with the cubic polynomial kernel k(x, y) = (xᵀy/d + 1)³,
 *      MMD²_u = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ)/m²,
 *    on `subsets` random subsets of m pictures of each set (each drawn without replacement by a
 *    partial Fisher-Yates shuffle from Philox(seed), independently per subset), reported as the mean
 *    and the standard deviation (n−1) over subsets, as in their code and in clean-fid. Unbiased, so
 *    it can be slightly negative when the two sets come from one distribution.
 *  - Improved precision and recall (Kynkäänniemi, Karras, Laine, Lehtinen, Aila 2019): each point's
 *    radius is the Euclidean distance to its k-th nearest neighbour within its own set (itself
 *    excluded); precision = the share of fakes within the radius of at least one real point
 *    (‖y − x‖ ≤ r(x)), recall = the share of real points within the radius of at least one fake.
 *  - Density and coverage (Naeem, Oh, Uh, Choi, Yoo 2020), from the real radii alone, because a few
 *    real outliers with large balls can make precision high for poor fakes: density = the mean
 *    number of real balls that hold a fake, divided by k (about 1 for fakes like the data; it can
 *    exceed 1); coverage = the share of real points whose ball holds at least one fake.
 *    Squared distances come from the Gram blocks, ‖x‖² + ‖y‖² − 2xᵀy, clamped at 0. */
#ifndef FCE_EVAL_QUALITY_METRICS_H
#define FCE_EVAL_QUALITY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

typedef struct fce_quality_gram {
    size_t nx, ny;
    int d;
    double *xx; /* nx × nx: xᵢᵀxⱼ */
    double *yy; /* ny × ny */
    double *xy; /* nx × ny: xᵢᵀyⱼ */
} fce_quality_gram;

/* The three blocks of X (nx × d) and Y (ny × d), row-major. ERR_NOMEM (logged) if they do not fit. */
fce_status fce_quality_gram_init(fce_quality_gram *g, const double *X, size_t nx, const double *Y,
                                 size_t ny, int d);
void fce_quality_gram_free(fce_quality_gram *g); /* NULL-safe, idempotent */

/* MMD²_u of the subsets X[ix[0..m)] and Y[iy[0..m)] (m >= 2, distinct indices in each list). */
double fce_quality_mmd2_subset(const fce_quality_gram *g, const size_t *ix, const size_t *iy, size_t m);

/* KID: the mean and sd of MMD²_u over `subsets` subsets of m = min(subset_size, nx, ny) pictures.
 * sd is NaN for a single subset. ERR_NOMEM (logged) for the index scratch. */
fce_status fce_quality_kid(const fce_quality_gram *g, int subsets, size_t subset_size, uint64_t seed,
                           double *mean, double *sd);

typedef struct fce_quality_manifold {
    double precision, recall, density, coverage;
} fce_quality_manifold;

/* The k-nearest-neighbour figures with k-th-neighbour radii (1 <= k < min(nx, ny)); X is the real
 * set. */
fce_status fce_quality_precision_recall(const fce_quality_gram *g, int k, fce_quality_manifold *out);

#endif
