/* progress.h: the progress line of eval's and sample's batched work on stderr, in the trainers'
 * form: "eval flow: 640/10000 pictures | 123.4 img/s | ETA 1m16s", at most one per `every` seconds
 * (0: after every batch), none after the last batch, none when quiet. */
#ifndef FCE_EVAL_PROGRESS_H
#define FCE_EVAL_PROGRESS_H

#include <stddef.h>

typedef struct fce_progress {
    const char *what; /* the line's prefix, e.g. "eval flow" */
    size_t total;     /* pictures in all */
    double every;     /* seconds between lines */
    int quiet;
    double t0, t_last;
} fce_progress;

/* Starts the clock. */
void fce_progress_begin(fce_progress *p, const char *what, size_t total, double every, int quiet);
/* Reports `done` pictures finished: prints a line when one is due and work remains. */
void fce_progress_update(fce_progress *p, size_t done);
/* Seconds since fce_progress_begin. */
double fce_progress_seconds(const fce_progress *p);

#endif
