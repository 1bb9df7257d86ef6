/* dist_watchdog.c: the deadline on the job's collectives (dist_watchdog.h). */
#define _POSIX_C_SOURCE 200809L
#include "dist/dist_watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fce/log.h"

struct fce_watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* stop */
    double timeout, armed_at; /* monotonic seconds; armed_at 0: not in a collective */
    const char *what;
    int rank, size, stop;
};

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

fce_status fce_watchdog_timeout(double *seconds) {
    *seconds = 300;
    const char *env = getenv("FCE_COLLECTIVE_TIMEOUT");
    if (!env || !*env) return FCE_STATUS_OK;
    char *end = NULL;
    errno = 0;
    double v = strtod(env, &end);
    if (errno || end == env || *end || !(v > 0 && v < 1e9)) {
        fce_log_error("FCE_COLLECTIVE_TIMEOUT='%s' is not a number of seconds > 0", env);
        return FCE_STATUS_ERR_CONFIG;
    }
    *seconds = v;
    return FCE_STATUS_OK;
}

/* Wakes every tick (a tenth of the timeout, at most a second) and checks the armed collective. */
static void *watch(void *arg) {
    fce_watchdog *w = arg;
    const double tick = w->timeout / 10 < 1 ? w->timeout / 10 : 1;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        double now = monotonic_seconds();
        if (w->armed_at > 0 && now - w->armed_at > w->timeout) {
            fce_log_error("rank %d of %d waited %.0f s in %s for the other ranks (FCE_COLLECTIVE_TIMEOUT): "
                          "one of them failed or hangs; exiting so that the launcher ends the job", w->rank,
                          w->size, now - w->armed_at, w->what);
            _exit(1);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        double t = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + tick;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->wake, &w->lock, &until);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

fce_status fce_watchdog_start(fce_watchdog **out, double timeout_s, int rank, int size) {
    *out = NULL;
    fce_watchdog *w = calloc(1, sizeof *w);
    if (!w) return FCE_STATUS_ERR_NOMEM;
    w->timeout = timeout_s, w->rank = rank, w->size = size;
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (!err) err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!err) err = pthread_cond_init(&w->wake, &attr);
    if (!err) err = pthread_mutex_init(&w->lock, NULL);
    if (!err) err = pthread_create(&w->thread, NULL, watch, w);
    if (err) {
        fce_log_error("cannot start the collective-timeout thread: %s", strerror(err));
        free(w);
        return FCE_STATUS_ERR_COMM;
    }
    *out = w;
    return FCE_STATUS_OK;
}

void fce_watchdog_arm(fce_watchdog *w, const char *what) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->armed_at = monotonic_seconds();
    w->what = what;
    pthread_mutex_unlock(&w->lock);
}

void fce_watchdog_disarm(fce_watchdog *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->armed_at = 0;
    pthread_mutex_unlock(&w->lock);
}

void fce_watchdog_stop(fce_watchdog *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
