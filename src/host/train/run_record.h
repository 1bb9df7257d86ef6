/* run_record.h: a run's record files, config.json (written at the start of every train
 * invocation: every hyper-parameter, model sizes and parameter counts, backend, device, git commit,
 * build options) and summary.json (written at the end, also after --time-limit or a signal), each a
 * one-line JSON object through util/json (non-finite numbers are null), written to "<file>.tmp",
 * fsynced and renamed, so a reader never sees half a file.
 *
 * Every record opens with the same fields: "file" (config | summary), "written" (UTC, ISO 8601),
 * "backend" (cpu | cuda), "device", "ranks" (only under mpirun: the job's processes, dist/dist.h)
 * and "build": {"version", "git", "cuda": on | off, "png": on | off}. The caller adds its own fields between open and close. */
#ifndef FCE_TRAIN_RUN_RECORD_H
#define FCE_TRAIN_RUN_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fce/backend.h"
#include "fce/params.h"
#include "util/json.h"

typedef struct fce_run_record {
    FILE *f;
    fce_json j; /* add fields with fce_json_* on &r->j */
    char path[1100], tmp[1110];
} fce_run_record;

/* Opens <dir>/<name>.json.tmp and writes the common fields. */
fce_status fce_run_record_open(fce_run_record *r, const char *dir, const char *name, const fce_ctx *ctx);

/* The options every training run has (2D and image), config.json's first fields after the common
 * ones: "command": "train", "kind", then these under their option names ("device_option" is --device
 * as given; "device" above is the device used). */
typedef struct fce_run_options {
    const char *kind, *dataset, *mode, *device, *out;
    int resume, force;
    int64_t resumed_at_step; /* 0 for a fresh run */
    long steps, batch, log_every, checkpoint_every;
    uint64_t seed;
    double beta1, beta2, adam_eps;
} fce_run_options;

/* Opens <dir>/config.json.tmp with the common fields and the options o. */
fce_status fce_run_record_open_config(fce_run_record *r, const char *dir, const fce_ctx *ctx,
                                      const fce_run_options *o);
/* Ends the object, flushes, fsyncs and renames into place; any write error is logged naming the
 * file (FCE_STATUS_ERR_IO) and the temporary file removed. */
fce_status fce_run_record_close(fce_run_record *r);

/* Parameters of a model: its trainable tensors' elements (alignment padding not counted). */
size_t fce_run_record_trainable(const fce_param_table *t);

/* Number field `key` of the one-line JSON file <dir>/<name>.json: 1 with *v set, 0 when the file or
 * the field is missing. */
int fce_run_record_read_number(const char *dir, const char *name, const char *key, double *v);

#endif
