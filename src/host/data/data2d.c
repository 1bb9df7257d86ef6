/* data2d.c: the built-in seeded 2D datasets and the exact mixture densities (data2d.h).
 *
 * Each generator draws its random numbers for point p from Philox indices p·8 + j, j = 0..7
 * (uniforms and normals never share an index), computes in double and rounds to float once.
 * The per-dataset formulas and their sources are in data2d.h. */
#include "fce/data2d.h"

#include <math.h>
#include <string.h>

#include "fce/log.h"
#include "fce/philox.h"

#define FCE_PI 3.14159265358979323846
#define FCE_SQRT2 1.41421356237309504880
#define FCE_DATA2D_DRAWS 8 /* Philox indices reserved per point */

static const char *const fce_data2d_names[FCE_DATA2D_COUNT] = {
    "gmm8", "gmm25", "pinwheel", "spiral", "2spirals", "rings", "checkerboard", "moons"};

/* gmm8: radius 2√2, variance 1/8 (std 1/(2√2)). */
#define FCE_GMM8_RADIUS (2.0 * FCE_SQRT2)
#define FCE_GMM8_VAR 0.125
/* gmm25: grid spacing 2, std 0.05, everything divided by 2.828 (WGAN-GP's literal, not 2√2). */
#define FCE_GMM25_SCALE 2.828
#define FCE_GMM25_STD 0.05

fce_status fce_data2d_from_name(const char *name, fce_data2d_kind *out) {
    if (name) {
        for (int k = 0; k < FCE_DATA2D_COUNT; k++) {
            if (strcmp(name, fce_data2d_names[k]) == 0) {
                *out = (fce_data2d_kind)k;
                return FCE_STATUS_OK;
            }
        }
    }
    fce_log_error("unknown 2D dataset '%s': valid names are gmm8, gmm25, pinwheel, spiral, "
                  "2spirals, rings, checkerboard, moons",
                  name ? name : "(null)");
    return FCE_STATUS_ERR_CONFIG;
}

const char *fce_data2d_name(fce_data2d_kind k) {
    if ((int)k < 0 || k >= FCE_DATA2D_COUNT) return "unknown";
    return fce_data2d_names[k];
}

// ---- sampling ----

/* Random numbers of one point: uniform in (0,1) and standard normal, j = 0..7. */
static double u01(uint64_t seed, uint64_t p, int j) {
    return (double)fce_philox_uniform(seed, p * FCE_DATA2D_DRAWS + (uint64_t)j);
}
static double nrm(uint64_t seed, uint64_t p, int j) {
    return (double)fce_philox_normal(seed, p * FCE_DATA2D_DRAWS + (uint64_t)j);
}

/* Index in 0..m−1 from a uniform in (0,1). */
static int pick(double u, int m) {
    int k = (int)(u * m);
    return k < 0 ? 0 : (k >= m ? m - 1 : k);
}

static void sample_gmm8(uint64_t seed, uint64_t p, double *x, double *y) {
    int k = pick(u01(seed, p, 0), 8);
    double a = k * (FCE_PI / 4.0), s = sqrt(FCE_GMM8_VAR);
    *x = FCE_GMM8_RADIUS * cos(a) + s * nrm(seed, p, 1);
    *y = FCE_GMM8_RADIUS * sin(a) + s * nrm(seed, p, 2);
}

static void sample_gmm25(uint64_t seed, uint64_t p, double *x, double *y) {
    int k = pick(u01(seed, p, 0), 25);
    double cx = 2.0 * (k / 5 - 2), cy = 2.0 * (k % 5 - 2);
    *x = (cx + FCE_GMM25_STD * nrm(seed, p, 1)) / FCE_GMM25_SCALE;
    *y = (cy + FCE_GMM25_STD * nrm(seed, p, 2)) / FCE_GMM25_SCALE;
}

static void sample_pinwheel(uint64_t seed, uint64_t p, double *x, double *y) {
    int k = pick(u01(seed, p, 0), 5);
    double f0 = 1.0 + 0.3 * nrm(seed, p, 1), f1 = 0.1 * nrm(seed, p, 2);
    double a = 2.0 * FCE_PI * k / 5.0 + 0.25 * exp(f0);
    double c = cos(a), s = sin(a);
    *x = 2.0 * (f0 * c + f1 * s);
    *y = 2.0 * (-f0 * s + f1 * c);
}

/* One arm of FFJORD's 2spirals; two_arms = 1 point-reflects half the points (before the noise). */
static void sample_spiral(uint64_t seed, uint64_t p, int two_arms, double *x, double *y) {
    double t = sqrt(u01(seed, p, 0)) * 540.0 * (2.0 * FCE_PI / 360.0);
    double ax = -cos(t) * t + 0.5 * u01(seed, p, 1);
    double ay = sin(t) * t + 0.5 * u01(seed, p, 2);
    if (two_arms && u01(seed, p, 3) < 0.5) {
        ax = -ax;
        ay = -ay;
    }
    *x = ax / 3.0 + 0.1 * nrm(seed, p, 4);
    *y = ay / 3.0 + 0.1 * nrm(seed, p, 5);
}

static void sample_rings(uint64_t seed, uint64_t p, double *x, double *y) {
    static const double radii[4] = {1.0, 0.75, 0.5, 0.25};
    double r = 3.0 * radii[pick(u01(seed, p, 0), 4)];
    double a = 2.0 * FCE_PI * u01(seed, p, 1);
    *x = r * cos(a) + 0.08 * nrm(seed, p, 2);
    *y = r * sin(a) + 0.08 * nrm(seed, p, 3);
}

static void sample_checkerboard(uint64_t seed, uint64_t p, double *x, double *y) {
    double x1 = 4.0 * u01(seed, p, 0) - 2.0;
    double x2 = u01(seed, p, 1) - (u01(seed, p, 2) < 0.5 ? 2.0 : 0.0);
    double m = floor(x1);
    x2 += m - 2.0 * floor(m / 2.0); /* Python's floor(x1) % 2, in {0, 1} */
    *x = 2.0 * x1;
    *y = 2.0 * x2;
}

static void sample_moons(uint64_t seed, uint64_t p, double *x, double *y) {
    double t = FCE_PI * u01(seed, p, 1), mx, my;
    if (u01(seed, p, 0) < 0.5) {
        mx = cos(t);
        my = sin(t);
    } else {
        mx = 1.0 - cos(t);
        my = 0.5 - sin(t);
    }
    mx += 0.1 * nrm(seed, p, 2);
    my += 0.1 * nrm(seed, p, 3);
    *x = 2.0 * mx - 1.0;
    *y = 2.0 * my - 0.2;
}

void fce_data2d_sample(fce_data2d_kind k, float *xy, size_t n, uint64_t seed, uint64_t offset) {
    FCE_ASSERT((int)k >= 0 && k < FCE_DATA2D_COUNT, "invalid 2D dataset kind %d", (int)k);
    FCE_ASSERT(xy || n == 0, "NULL output for %zu points", n);
    for (size_t i = 0; i < n; i++) {
        uint64_t p = offset + (uint64_t)i;
        double x = 0.0, y = 0.0;
        switch (k) {
        case FCE_DATA2D_GMM8: sample_gmm8(seed, p, &x, &y); break;
        case FCE_DATA2D_GMM25: sample_gmm25(seed, p, &x, &y); break;
        case FCE_DATA2D_PINWHEEL: sample_pinwheel(seed, p, &x, &y); break;
        case FCE_DATA2D_SPIRAL: sample_spiral(seed, p, 0, &x, &y); break;
        case FCE_DATA2D_2SPIRALS: sample_spiral(seed, p, 1, &x, &y); break;
        case FCE_DATA2D_RINGS: sample_rings(seed, p, &x, &y); break;
        case FCE_DATA2D_CHECKERBOARD: sample_checkerboard(seed, p, &x, &y); break;
        case FCE_DATA2D_MOONS: sample_moons(seed, p, &x, &y); break;
        case FCE_DATA2D_COUNT: break;
        }
        xy[2 * i] = (float)x;
        xy[2 * i + 1] = (float)y;
    }
}

// ---- exact densities ----

int fce_data2d_has_density(fce_data2d_kind k) {
    return k == FCE_DATA2D_GMM8 || k == FCE_DATA2D_GMM25;
}

/* log( (1/m) Σ_c N((x,y); (cx[c], cy[c]), var·I₂) ) by log-sum-exp. */
static double log_mixture(const double *cx, const double *cy, int m, double var, double x,
                          double y) {
    double e[25], emax = -INFINITY;
    for (int c = 0; c < m; c++) {
        double dx = x - cx[c], dy = y - cy[c];
        e[c] = -(dx * dx + dy * dy) / (2.0 * var);
        if (e[c] > emax) emax = e[c];
    }
    if (emax == -INFINITY) return isnan(x + y) ? NAN : -INFINITY; /* NaN or infinite input */
    double s = 0.0;
    for (int c = 0; c < m; c++) s += exp(e[c] - emax);
    return emax + log(s) - log((double)m) - log(2.0 * FCE_PI * var);
}

double fce_data2d_log_density(fce_data2d_kind k, double x, double y) {
    double cx[25], cy[25];
    if (k == FCE_DATA2D_GMM8) {
        for (int c = 0; c < 8; c++) {
            cx[c] = FCE_GMM8_RADIUS * cos(c * (FCE_PI / 4.0));
            cy[c] = FCE_GMM8_RADIUS * sin(c * (FCE_PI / 4.0));
        }
        return log_mixture(cx, cy, 8, FCE_GMM8_VAR, x, y);
    }
    if (k == FCE_DATA2D_GMM25) {
        for (int c = 0; c < 25; c++) {
            cx[c] = 2.0 * (c / 5 - 2) / FCE_GMM25_SCALE;
            cy[c] = 2.0 * (c % 5 - 2) / FCE_GMM25_SCALE;
        }
        double s = FCE_GMM25_STD / FCE_GMM25_SCALE;
        return log_mixture(cx, cy, 25, s * s, x, y);
    }
    return NAN;
}

// ---- moments ----

void fce_data2d_mean_cov(const float *xy, size_t n, double mean[2], double cov[4]) {
    FCE_ASSERT(n >= 1 && xy, "mean/covariance of %zu points", n);
    double mx = 0.0, my = 0.0;
    for (size_t i = 0; i < n; i++) {
        mx += xy[2 * i];
        my += xy[2 * i + 1];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxx = 0.0, sxy = 0.0, syy = 0.0;
    for (size_t i = 0; i < n; i++) {
        double dx = xy[2 * i] - mx, dy = xy[2 * i + 1] - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    mean[0] = mx;
    mean[1] = my;
    cov[0] = sxx / (double)n;
    cov[1] = cov[2] = sxy / (double)n;
    cov[3] = syy / (double)n;
}
