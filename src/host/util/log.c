/* log.c: error/warning/info lines on stderr (log.h). */
#include "fce/log.h"

#include <stdarg.h>

static void fce_vlog(const char *prefix, const char *fmt, va_list ap) {
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void fce_log_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fce_vlog("fce-gpu: error: ", fmt, ap);
    va_end(ap);
}

void fce_log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fce_vlog("fce-gpu: warning: ", fmt, ap);
    va_end(ap);
}

void fce_log_info(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fce_vlog("fce-gpu: ", fmt, ap);
    va_end(ap);
}

fce_status fce_config_error(const char *msg) {
    fce_log_error("%s", msg);
    return FCE_STATUS_ERR_CONFIG;
}
