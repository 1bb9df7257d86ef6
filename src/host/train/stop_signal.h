/* stop_signal.h: Ctrl-C (SIGINT) and SIGTERM during training stop it cleanly: the trainers check
 * fce_stop_requested() once per step and, when it is set, write a checkpoint, report the step and
 * exit 0 (as --time-limit does); --resume continues.
 *
 * The handler only records the signal (POSIX allows nothing more in a handler). It is installed with
 * SA_RESETHAND, so a second Ctrl-C while the checkpoint is being written kills the process as usual:
 * the previous checkpoint is intact (writes go to a temporary file, then rename). */
#ifndef FCE_TRAIN_STOP_SIGNAL_H
#define FCE_TRAIN_STOP_SIGNAL_H

/* The dispositions the guard replaced (opaque: struct sigaction needs POSIX headers). */
typedef struct fce_stop_guard fce_stop_guard;

/* Clears any earlier request and installs the handler for SIGINT and SIGTERM; returns what
 * fce_stop_guard_remove restores (NULL when out of memory: then nothing was installed). */
fce_stop_guard *fce_stop_guard_install(void);
void fce_stop_guard_remove(fce_stop_guard *g); /* NULL-safe; frees g */

#include "fce/status.h"

struct fce_dist;

/* The signal that asked to stop (SIGINT or SIGTERM), 0 if none. */
int fce_stop_requested(void);
/* The trainers' once-per-step check: *signal = fce_stop_requested(); in a job of several ranks
 * (dist/dist.h) the largest over the ranks of it and of *out_of_time (a --time-limit, on each rank's
 * clock; may be NULL), so that every rank stops after the same step. */
fce_status fce_stop_check(struct fce_dist *d, int *out_of_time, int *signal);
/* "SIGINT (Ctrl-C)", "SIGTERM" or "a signal", for messages. */
const char *fce_stop_signal_name(int sig);
/* Why a session ended, as summary.json's "stopped" says it: "SIGINT", "SIGTERM" (sig != 0),
 * "time-limit" or "completed". */
const char *fce_stop_reason(int out_of_time, int sig);

#endif
