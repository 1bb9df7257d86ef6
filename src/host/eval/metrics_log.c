/* metrics_log.c: metrics.jsonl as data (metrics_log.h): fields of a row, columns, and the cut back
 * to a step. Lines are read with getline, so a row of any length is read whole. */
#define _POSIX_C_SOURCE 200809L
#include "eval/metrics_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/log.h"

int fce_metrics_field(const char *row, const char *key, double *v) {
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(row, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (!strncmp(p, "null", 4)) {
        *v = NAN;
        return 1;
    }
    char *end;
    double x = strtod(p, &end);
    if (end == p) return 0;
    *v = x;
    return 1;
}

void fce_metrics_columns_free(fce_metrics_columns *m) {
    for (int k = 0; m->value && k < m->n_keys; k++) free(m->value[k]);
    free(m->value);
    free(m->step);
    memset(m, 0, sizeof *m);
}

/* Room for at least n rows in every column. */
static int grow(fce_metrics_columns *m, size_t *cap, size_t n) {
    if (n <= *cap) return 1;
    size_t c = *cap ? 2 * *cap : 256;
    double *s = realloc(m->step, c * sizeof *s);
    if (!s) return 0;
    m->step = s;
    for (int k = 0; k < m->n_keys; k++) {
        double *v = realloc(m->value[k], c * sizeof *v);
        if (!v) return 0;
        m->value[k] = v;
    }
    *cap = c;
    return 1;
}

fce_status fce_metrics_read(const char *path, const char *const *keys, int n_keys, fce_metrics_columns *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        fce_log_error("cannot read %s: %s", path, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    out->n_keys = n_keys;
    out->value = calloc((size_t)(n_keys > 0 ? n_keys : 1), sizeof *out->value);
    char *line = NULL;
    size_t line_cap = 0, cap = 0;
    fce_status st = out->value ? FCE_STATUS_OK : FCE_STATUS_ERR_NOMEM;
    while (st == FCE_STATUS_OK && getline(&line, &line_cap, f) > 0) {
        double step;
        if (!fce_metrics_field(line, "step", &step) || !isfinite(step)) continue;
        if (!grow(out, &cap, out->n + 1)) {
            st = FCE_STATUS_ERR_NOMEM;
            break;
        }
        out->step[out->n] = step;
        for (int k = 0; k < n_keys; k++)
            if (!fce_metrics_field(line, keys[k], &out->value[k][out->n])) out->value[k][out->n] = NAN;
        out->n++;
    }
    free(line);
    fclose(f);
    if (st != FCE_STATUS_OK) {
        fce_log_error("out of host memory reading %s", path);
        fce_metrics_columns_free(out);
    }
    return st;
}

fce_status fce_metrics_truncate(const char *path, int64_t step, long *dropped) {
    *dropped = 0;
    FILE *f = fopen(path, "r+");
    if (!f) {
        if (errno == ENOENT) return FCE_STATUS_OK;
        fce_log_error("cannot open %s to cut it back to step %lld: %s", path, (long long)step, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    char *line = NULL;
    size_t line_cap = 0;
    long keep = 0, pos = 0; /* bytes of the rows kept; of the rows read */
    ssize_t len;
    int cutting = 0;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        double s;
        int complete = line[len - 1] == '\n';
        if (!cutting && complete && (!fce_metrics_field(line, "step", &s) || s <= (double)step))
            keep = pos + len;
        else
            cutting = 1, (*dropped)++;
        pos += len;
    }
    free(line);
    fce_status st = FCE_STATUS_OK;
    if (keep < pos && ftruncate(fileno(f), (off_t)keep) != 0) {
        fce_log_error("cannot cut %s back to step %lld: %s", path, (long long)step, strerror(errno));
        st = FCE_STATUS_ERR_IO;
    }
    if (fclose(f) != 0 && st == FCE_STATUS_OK) st = FCE_STATUS_ERR_IO;
    return st;
}
