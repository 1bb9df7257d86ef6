/* log.c: error/warning/info lines on stderr (log.h). */
#include "fce/log.h"

#include <stdarg.h>

/* The process's rank in a job of several (fce_log_set_rank), −1 alone. A second exception to "no
 * globals" besides the stop signal (STYLE 6.1.4): every message of the process, wherever it comes
 * from (the collective-timeout thread too), must carry it. Written once, before any thread starts. */
static int log_rank = -1;

void fce_log_set_rank(int rank) { log_rank = rank; }

static void fce_vlog(const char *level, const char *fmt, va_list ap) {
    if (log_rank > 0 && level[0] != 'e') return; /* rank 0 speaks for the job */
    if (log_rank >= 0) fprintf(stderr, "fce-gpu[%d]: %s", log_rank, level);
    else fprintf(stderr, "fce-gpu: %s", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void fce_log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fce_vlog("error: ", fmt, ap);
    va_end(ap);
}

void fce_log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fce_vlog("warning: ", fmt, ap);
    va_end(ap);
}

void fce_log_info(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fce_vlog("", fmt, ap);
    va_end(ap);
}

fce_status fce_config_error(const char *msg) {
    fce_log_error("%s", msg);
    return FCE_STATUS_ERR_CONFIG;
}
