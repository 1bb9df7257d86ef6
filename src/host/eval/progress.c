/* progress.c: eval's and sample's progress lines (progress.h): rate and ETA from the wall time
 * since the start. */
#include "eval/progress.h"

#include <stdio.h>

#include "util/fs_util.h"

void fce_progress_begin(fce_progress *p, const char *what, size_t total, double every, int quiet) {
    p->what = what;
    p->total = total;
    p->every = every;
    p->quiet = quiet;
    p->t0 = p->t_last = fce_now_seconds();
}

void fce_progress_update(fce_progress *p, size_t done) {
    double now = fce_now_seconds();
    if (p->quiet || done >= p->total || now - p->t_last < p->every) return;
    double dt = now - p->t0, rate = (double)done / (dt > 1e-9 ? dt : 1e-9);
    char eta[32];
    fce_format_duration((double)(p->total - done) / (rate > 0 ? rate : 1e-9), eta, sizeof eta);
    fprintf(stderr, "%s: %zu/%zu pictures | %.1f img/s | ETA %s\n", p->what, done, p->total, rate, eta);
    p->t_last = now;
}

double fce_progress_seconds(const fce_progress *p) { return fce_now_seconds() - p->t0; }
