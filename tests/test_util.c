/* test_util.c: helpers shared by the tests (see test_util.h). */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/philox.h"
#include "fce_test.h"

int fce_test_close(const char *name, const float *got, const float *ref, size_t n, double atol,
                   double rtol) {
    double max_abs = 0.0, max_rel = 0.0, worst_budget = 0.0, se = 0.0, sr = 0.0;
    size_t worst = 0, n_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], d = fabs(g - r);
        double budget = atol + rtol * fabs(r);
        if (!(d <= budget)) { /* also catches NaN */
            if (n_bad < 5)
                fprintf(stderr, "    %s[%zu]: got %.9g ref %.9g (|diff| %.3g > %.3g)\n", name, i, g,
                        r, d, budget);
            n_bad++;
        }
        if (d > max_abs) max_abs = d;
        if (fabs(r) > 0 && d / fabs(r) > max_rel) max_rel = d / fabs(r);
        if (d / budget > worst_budget || isnan(d)) {
            worst_budget = isnan(d) ? INFINITY : d / budget;
            worst = i;
        }
        se += d * d;
        sr += r * r;
    }
    fprintf(stderr, "    %-28s n=%-7zu max_abs %.3g max_rel %.3g worst [%zu] %.1f%% of budget nmse %.3g\n",
            name, n, max_abs, max_rel, worst, 100.0 * worst_budget, sr > 0 ? se / sr : se);
    return n_bad == 0;
}

void fce_test_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * fce_philox_uniform(seed, i);
}

void fce_test_fill_normal(float *x, size_t n, uint64_t seed, float std) {
    for (size_t i = 0; i < n; i++) x[i] = std * fce_philox_normal(seed, i);
}

float *fce_test_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "test: out of host memory\n");
        abort();
    }
    return p;
}

float *fce_test_dev_from_host(fce_ctx *ctx, const float *h, size_t n) {
    void *d = NULL;
    if (ctx->ops->alloc(ctx, &d, (n ? n : 1) * sizeof(float)) != FCE_STATUS_OK ||
        (n && ctx->ops->upload(ctx, d, h, n * sizeof(float)) != FCE_STATUS_OK)) {
        fprintf(stderr, "test: backend alloc/upload failed\n");
        abort();
    }
    return (float *)d;
}

float *fce_test_host_from_dev(fce_ctx *ctx, const float *d, size_t n) {
    float *h = fce_test_alloc(n);
    if (n && ctx->ops->download(ctx, h, d, n * sizeof(float)) != FCE_STATUS_OK) {
        fprintf(stderr, "test: backend download failed\n");
        abort();
    }
    return h;
}
