/* log.h: messages to stderr and the programmer-error assert.
 *
 * fce_log_error() is how an error is reported where it is detected: it names what failed and, for
 * user-facing errors, the fix. FCE_ASSERT stays on in release builds and is for bugs only (shape
 * mismatches between internal calls); anything read from disk or from the user is checked with real
 * code that returns a status. */
#ifndef FCE_LOG_H
#define FCE_LOG_H

#include <stdio.h>
#include <stdlib.h>

#include "fce/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FCE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FCE_PRINTF(a, b)
#endif

void fce_log_error(const char *fmt, ...) FCE_PRINTF(1, 2);
void fce_log_warn(const char *fmt, ...) FCE_PRINTF(1, 2);
void fce_log_info(const char *fmt, ...) FCE_PRINTF(1, 2);
/* In a job of several ranks (dist/dist.h): messages name this process's rank ("fce-gpu[1]: error:
 * ..."), and ranks other than 0 print errors only (rank 0 speaks for the job). Set once, at start. */
void fce_log_set_rank(int rank);
/* A usage error found while checking a command's configuration: logs msg and returns
 * FCE_STATUS_ERR_CONFIG (exit 2). */
fce_status fce_config_error(const char *msg);
/* 0 = errors only, 1 = warnings too, 2 = info too (default). Not a global: passed where needed. */

#define FCE_ASSERT(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fce: internal error: assertion `%s` failed at %s:%d (%s): ", #cond,   \
                    __FILE__, __LINE__, __func__);                                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
