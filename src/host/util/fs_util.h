/* fs_util.h: small file-system and time helpers for the host code. */
#ifndef FCE_FS_UTIL_H
#define FCE_FS_UTIL_H

#include "fce/status.h"

/* mkdir -p; errors name the path. */
fce_status fce_mkdirs(const char *path);
int fce_file_exists(const char *path);
/* Seconds on a monotonic clock. */
double fce_now_seconds(void);
/* "1h02m", "3m07s", "12s" */
void fce_format_duration(double seconds, char *buf, unsigned len);

#endif
