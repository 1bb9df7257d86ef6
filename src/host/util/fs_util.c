/* fs_util.c: mkdir -p, existence checks, monotonic time (fs_util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util/fs_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fce/log.h"

fce_status fce_mkdirs(const char *path) {
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        fce_log_error("output folder path '%s' is empty or too long", path);
        return FCE_STATUS_ERR_CONFIG;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                fce_log_error("cannot create folder %s: %s", buf, strerror(errno));
                return FCE_STATUS_ERR_IO;
            }
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fce_log_error("%s exists and is not a folder", path);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

int fce_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

double fce_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void fce_format_duration(double s, char *buf, unsigned len) {
    if (s < 0 || s != s) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%lds", t);
}
