/* metrics_log.h: metrics.jsonl read back as data: a number field of a row, the columns of a run's
 * rows for the training-curve plot (curves_png.h), and the cut back to a checkpoint's step that
 * `train --resume` makes, so no row is logged twice.
 *
 * A row is one JSON object on one line, as util/json writes them: "key": value pairs with no nesting
 * in the fields read here, a number or null (a non-finite value). Every row of a training run has a
 * "step" (the run's step counter, the same one the checkpoint stores), increasing down the file. */
#ifndef FCE_METRICS_LOG_H
#define FCE_METRICS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "fce/status.h"

/* The number of field `key` in row (or in any one-line JSON object): 1 with *v set (NaN for null),
 * 0 when the row has no such field or its value is not a number. */
int fce_metrics_field(const char *row, const char *key, double *v);

/* Columns of the rows that have a "step": step[i] and, for key k, value[k][i] (NaN where the row
 * lacks it or holds null). */
typedef struct fce_metrics_columns {
    size_t n;
    int n_keys;
    double *step;
    double **value; /* n_keys columns of n */
} fce_metrics_columns;

/* Reads path; FCE_STATUS_ERR_IO (logged) when it cannot be opened. */
fce_status fce_metrics_read(const char *path, const char *const *keys, int n_keys, fce_metrics_columns *out);
void fce_metrics_columns_free(fce_metrics_columns *m);

/* Cuts path after its last row with step <= step: the rows logged after the checkpoint, and a last
 * line without its newline (a write cut short), go. *dropped receives the number of lines removed.
 * A missing file is no error (nothing to cut). */
fce_status fce_metrics_truncate(const char *path, int64_t step, long *dropped);

#endif
