/* stop_signal.c: the stop request of SIGINT / SIGTERM (stop_signal.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/stop_signal.h"

#include "dist/dist.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct fce_stop_guard {
    struct sigaction old_int, old_term;
    int installed; /* bit 0: SIGINT's, bit 1: SIGTERM's */
};

/* The one process-wide variable of the project, an exception to "no globals" (STYLE 6.1.4): a
 * signal handler receives nothing but the signal number, so what it records must live at file
 * scope, and a volatile sig_atomic_t is the only object it may write. Nothing else is stored
 * here; the trainers read it once per step through fce_stop_requested(). */
static volatile sig_atomic_t stop_signal_received = 0;

static void on_stop_signal(int sig) { stop_signal_received = sig; }

fce_stop_guard *fce_stop_guard_install(void) {
    fce_stop_guard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND; /* a second signal acts as if none was installed */
    stop_signal_received = 0;
    g->installed = sigaction(SIGINT, &sa, &g->old_int) == 0;
    g->installed |= (sigaction(SIGTERM, &sa, &g->old_term) == 0) << 1;
    return g;
}

void fce_stop_guard_remove(fce_stop_guard *g) {
    if (!g) return;
    if (g->installed & 1) sigaction(SIGINT, &g->old_int, NULL);
    if (g->installed & 2) sigaction(SIGTERM, &g->old_term, NULL);
    free(g);
}

int fce_stop_requested(void) { return (int)stop_signal_received; }

fce_status fce_stop_check(struct fce_dist *d, int *out_of_time, int *signal) {
    int v[2] = {(int)stop_signal_received, out_of_time ? *out_of_time : 0};
    FCE_TRY(fce_dist_max_ints(d, v, 2));
    *signal = v[0];
    if (out_of_time) *out_of_time = v[1];
    return FCE_STATUS_OK;
}

const char *fce_stop_signal_name(int sig) {
    return sig == SIGINT ? "SIGINT (Ctrl-C)" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

const char *fce_stop_reason(int out_of_time, int sig) {
    if (sig) return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
    return out_of_time ? "time-limit" : "completed";
}
