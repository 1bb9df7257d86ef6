/* quality_measure.c: the measurement of `fce-gpu quality` on pictures in memory (quality_internal.h):
 * which pictures are compared, and the features and metrics of every feature seed.
 *
 * Streams of opts->seed (fce_derive_seed): 1 the real pictures' shuffle (A = its first n, B = the
 * next n), 2 the fakes' shuffle (the first n), 3 the KID subsets. The same pictures and subsets
 * serve every feature seed, so the spread over seeds is the feature network's alone. */
#include <stdio.h>
#include <stdlib.h>

#include "eval/quality_features.h"
#include "eval/quality_internal.h"
#include "eval/quality_metrics.h"
#include "fce/log.h"
#include "fce/philox.h"
#include "util/fs_util.h"

enum { STREAM_REAL = 1, STREAM_FAKE = 2, STREAM_KID = 3 };

fce_status fce_quality_compare(const double *X, size_t nx, const double *Y, size_t ny, int d,
                               const fce_quality_opts *opts, fce_quality_scores *out) {
    fce_quality_gram g;
    FCE_TRY(fce_quality_gram_init(&g, X, nx, Y, ny, d));
    fce_status st = fce_quality_kid(&g, opts->subsets, opts->subset_size,
                                    fce_derive_seed(opts->seed, STREAM_KID), &out->kid, &out->kid_sd);
    fce_quality_manifold mf;
    if (st == FCE_STATUS_OK) st = fce_quality_precision_recall(&g, opts->k, &mf);
    if (st == FCE_STATUS_OK)
        out->precision = mf.precision, out->recall = mf.recall, out->density = mf.density,
        out->coverage = mf.coverage;
    fce_quality_gram_free(&g);
    return st;
}

typedef struct measure_buffers {
    size_t *real_order, *fake_order;
    double *fa, *fb, *ff; /* features of real A, real B, fakes: n × dims each */
} measure_buffers;

static void buffers_free(measure_buffers *b) {
    free(b->real_order), free(b->fake_order);
    free(b->fa), free(b->fb), free(b->ff);
}

/* The features of A, B (with the floor) and the fakes, then both comparisons, for one seed. */
static fce_status measure_seed(fce_quality_net *net, const fce_image_set *real, const fce_image_set *fake,
                               const fce_quality_opts *o, measure_buffers *b, int s,
                               fce_quality_report *rep) {
    const size_t n = o->n;
    double t0 = fce_now_seconds();
    FCE_TRY(fce_quality_net_set_seed(net, rep->feature_seed[s]));
    FCE_TRY(fce_quality_features(net, real, b->real_order, n, b->fa));
    if (o->floor) FCE_TRY(fce_quality_features(net, real, b->real_order + n, n, b->fb));
    FCE_TRY(fce_quality_features(net, fake, b->fake_order, n, b->ff));
    double t1 = fce_now_seconds();
    FCE_TRY(fce_quality_compare(b->fa, n, b->ff, n, rep->dims, o, &rep->fake[s]));
    if (o->floor) FCE_TRY(fce_quality_compare(b->fa, n, b->fb, n, rep->dims, o, &rep->floor[s]));
    double t2 = fce_now_seconds();
    rep->feature_seconds += t1 - t0;
    rep->metric_seconds += t2 - t1;
    if (!o->quiet) {
        const fce_quality_scores *f = &rep->fake[s], *fl = &rep->floor[s];
        char floor_txt[200] = "";
        if (o->floor)
            snprintf(floor_txt, sizeof floor_txt, " | floor KID %.5f, precision %.3f, recall %.3f, "
                     "density %.3f, coverage %.3f", fl->kid, fl->precision, fl->recall, fl->density,
                     fl->coverage);
        fce_log_info("quality: feature seed %llu: KID %.5f (sd %.5f over subsets), precision %.3f, "
                     "recall %.3f, density %.3f, coverage %.3f%s (%.1f s)",
                     (unsigned long long)rep->feature_seed[s], f->kid, f->kid_sd, f->precision,
                     f->recall, f->density, f->coverage, floor_txt, t2 - t0);
    }
    return FCE_STATUS_OK;
}

fce_status fce_quality_measure(fce_ctx *ctx, const fce_image_set *real, const fce_image_set *fake,
                               const fce_quality_opts *o, fce_quality_report *rep) {
    const size_t n = o->n;
    FCE_ASSERT(n <= fake->n && (o->floor ? 2 * n : n) <= real->n && o->feature_seeds >= 1 &&
                   o->feature_seeds <= FCE_QUALITY_MAX_SEEDS && o->k >= 1 && (size_t)o->k < n,
               "quality options out of range (checked by the command)");
    *rep = (fce_quality_report){.n = n, .n_seeds = o->feature_seeds};
    rep->subset_size = o->subset_size < n ? o->subset_size : n;
    for (int s = 0; s < o->feature_seeds; s++) rep->feature_seed[s] = o->seed + (uint64_t)s;
    fce_quality_net net;
    FCE_TRY(fce_quality_net_init(&net, ctx, o->batch, real->H, real->W));
    rep->dims = fce_quality_net_dims(&net);
    const size_t F = (size_t)rep->dims;
    measure_buffers b = {
        .real_order = malloc(real->n * sizeof(size_t)),
        .fake_order = malloc(fake->n * sizeof(size_t)),
        .fa = malloc(n * F * sizeof(double)),
        .fb = malloc(n * F * sizeof(double)),
        .ff = malloc(n * F * sizeof(double)),
    };
    fce_status st = FCE_STATUS_OK;
    if (!b.real_order || !b.fake_order || !b.fa || !b.fb || !b.ff) {
        fce_log_error("quality: out of host memory for %zu feature vectors of %zu values", 3 * n, F);
        st = FCE_STATUS_ERR_NOMEM;
    }
    if (st == FCE_STATUS_OK) {
        fce_image_set_shuffle_order(real->n, fce_derive_seed(o->seed, STREAM_REAL), 0, b.real_order);
        fce_image_set_shuffle_order(fake->n, fce_derive_seed(o->seed, STREAM_FAKE), 0, b.fake_order);
    }
    for (int s = 0; st == FCE_STATUS_OK && s < o->feature_seeds; s++)
        st = measure_seed(&net, real, fake, o, &b, s, rep);
    buffers_free(&b);
    fce_quality_net_free(&net);
    return st;
}
