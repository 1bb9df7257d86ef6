/* data2d.h: the built-in, seeded 2D toy datasets (paper Figure 1/2; SPEC §g "2D datasets").
 *
 * Nothing is downloaded: every point is generated on the fly and is a pure function of
 * (seed, offset + i). The j-th random number of point p uses Philox index p·8 + j
 * (fce_philox_uniform / fce_philox_normal, include/fce/philox.h), so batch t of a run is
 * sample(seed, offset = t·batch) and can be regenerated exactly after a resume.
 *
 * Exact parameters (FFJORD lib/toy_data.py, WGAN-GP gan_toy.py, lifeitech/fce-2d):
 *   gmm8        p = (1/8) Σ_k N(μ_k, (1/8) I₂), μ_k = 2√2·(cos kπ/4, sin kπ/4), k = 0..7
 *               (FFJORD "8gaussians": radius 4/1.414, std 0.5/1.414; SPEC g "Ground truth").
 *   gmm25       sample = (c_ij + 0.05·N(0, I₂)) / 2.828, c_ij = (2i, 2j), i, j ∈ {−2..2}; i.e.
 *               p = (1/25) Σ_ij N(c_ij / 2.828, (0.05/2.828)² I₂)   (WGAN-GP "25gaussians").
 *   pinwheel    5 classes; f = (1 + 0.3·N, 0.1·N); angle = 2πk/5 + 0.25·exp(f₀);
 *               point = 2·(f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a)   (FFJORD einsum convention).
 *   spiral      t = √U·3π; point = (−cos t·t + 0.5·U', sin t·t + 0.5·U'') / 3 + 0.1·N(0, I₂)
 *               (one arm of FFJORD "2spirals", as lifeitech uses).
 *   2spirals    the same arm, point-reflected (−x, −y, before the noise) with probability ½.
 *   rings       radius r ∈ {1, .75, .5, .25}·3 with probability ¼ each (FFJORD: equal counts),
 *               angle θ ~ U(0, 2π) (FFJORD: a linspace); point = r·(cos θ, sin θ) + 0.08·N(0, I₂).
 *   checkerboard x₁ ~ U(−2, 2); x₂ = U(0,1) − 2·Bernoulli(½) + (⌊x₁⌋ mod 2); point = 2·(x₁, x₂).
 *   moons       sklearn make_moons with noise 0.1, per point: moon ~ Bernoulli(½), t ~ U(0, π)
 *               (sklearn: a linspace); outer (cos t, sin t), inner (1 − cos t, 0.5 − sin t);
 *               + 0.1·N(0, I₂); then ×2 + (−1, −0.2).
 * All datasets lie in [−4.5, 4.5]² up to rare tails; the 2D plots use [−4, 4]². */
#ifndef FCE_DATA2D_H
#define FCE_DATA2D_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fce_data2d_kind {
    FCE_DATA2D_GMM8,
    FCE_DATA2D_GMM25,
    FCE_DATA2D_PINWHEEL,
    FCE_DATA2D_SPIRAL,
    FCE_DATA2D_2SPIRALS,
    FCE_DATA2D_RINGS,
    FCE_DATA2D_CHECKERBOARD,
    FCE_DATA2D_MOONS,
    FCE_DATA2D_COUNT
} fce_data2d_kind;

/* Parses a dataset name: gmm8, gmm25, pinwheel, spiral, 2spirals, rings, checkerboard, moons.
 * Returns FCE_STATUS_OK and sets *out, or logs an error listing the valid names and returns
 * FCE_STATUS_ERR_CONFIG (*out untouched). */
fce_status fce_data2d_from_name(const char *name, fce_data2d_kind *out);

/* The name accepted by fce_data2d_from_name ("unknown" for an out-of-range kind). */
const char *fce_data2d_name(fce_data2d_kind k);

/* Writes n points, xy[2i] = x, xy[2i+1] = y, for global point indices offset .. offset+n−1.
 * Point p depends only on (k, seed, p): sample(seed, o, n) equals the rows o.. of any longer call.
 * xy: (n, 2) row-major, caller-owned. k must be a valid kind (asserted). */
void fce_data2d_sample(fce_data2d_kind k, float *xy /* (n, 2) */, size_t n, uint64_t seed,
                       uint64_t offset);

/* 1 if fce_data2d_log_density is exact for k (gmm8, gmm25), else 0. */
int fce_data2d_has_density(fce_data2d_kind k);

/* Exact natural-log density of the dataset at (x, y), computed with log-sum-exp (finite everywhere
 * a double can represent the nearest component). NAN for datasets without a density. */
double fce_data2d_log_density(fce_data2d_kind k, double x, double y);

/* Sample mean and maximum-likelihood covariance (divides by n) of n ≥ 1 points, accumulated in
 * double in two passes: mean[2] = (E x, E y), cov[4] = row-major [[vxx, vxy], [vxy, vyy]].
 * Used for the Gaussian noise of the NCE baseline. */
void fce_data2d_mean_cov(const float *xy /* (n, 2) */, size_t n, double mean[2], double cov[4]);

#ifdef __cplusplus
}
#endif
#endif
