/* dist_watchdog.h: the deadline on the job's collectives (dist.h). A rank that waits in a
 * collective longer than the timeout is waiting for a peer that failed without dying (a hang, a
 * stopped process, a lost node the launcher has not noticed): a thread of its own, asleep otherwise,
 * then prints an error naming the rank and the collective and ends the process with exit code 1;
 * the launcher sees a rank exit before MPI_Finalize and ends the others, so no rank hangs for good.
 * (A peer that dies is noticed by the launcher directly.) The thread makes no MPI call. */
#ifndef FCE_DIST_WATCHDOG_H
#define FCE_DIST_WATCHDOG_H

#include "fce/status.h"

typedef struct fce_watchdog fce_watchdog;

/* The timeout in seconds: the environment variable FCE_COLLECTIVE_TIMEOUT, default 300. A value that
 * is not a number > 0 is a usage error (logged). */
fce_status fce_watchdog_timeout(double *seconds);
/* Starts the thread for rank `rank` of `size`. */
fce_status fce_watchdog_start(fce_watchdog **out, double timeout_s, int rank, int size);
/* Around each collective, from the main thread: arm marks "waiting in `what` since now" (a static
 * string), disarm clears it. */
void fce_watchdog_arm(fce_watchdog *w, const char *what);
void fce_watchdog_disarm(fce_watchdog *w);
void fce_watchdog_stop(fce_watchdog *w); /* joins the thread and frees; NULL-safe */

#endif
