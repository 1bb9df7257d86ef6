/* run_record.c: config.json and summary.json, their common fields and their atomic write
 * (run_record.h). */
#define _POSIX_C_SOURCE 200809L
#include "train/run_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dist/dist.h"
#include "eval/metrics_log.h"
#include "fce/log.h"

#ifndef FCE_GIT_HASH /* defined by the build for fce_core; a file compiled elsewhere still builds */
#define FCE_GIT_HASH "unknown"
#endif
#ifndef FCE_VERSION_STRING
#define FCE_VERSION_STRING "unknown"
#endif

static void build_fields(fce_json *j) {
    fce_json_object(j, "build");
    fce_json_str(j, "version", FCE_VERSION_STRING);
    fce_json_str(j, "git", FCE_GIT_HASH);
#ifdef FCE_HAVE_CUDA
    fce_json_str(j, "cuda", "on");
#else
    fce_json_str(j, "cuda", "off");
#endif
#ifdef FCE_HAVE_PNG
    fce_json_str(j, "png", "on");
#else
    fce_json_str(j, "png", "off");
#endif
    fce_json_close(j);
}

fce_status fce_run_record_open(fce_run_record *r, const char *dir, const char *name, const fce_ctx *ctx) {
    snprintf(r->path, sizeof r->path, "%.1000s/%s.json", dir, name);
    snprintf(r->tmp, sizeof r->tmp, "%s.tmp", r->path);
    r->f = fopen(r->tmp, "w");
    if (!r->f) {
        fce_log_error("cannot write %s: %s", r->tmp, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    char when[32];
    time_t now = time(NULL);
    struct tm utc;
    if (!gmtime_r(&now, &utc) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc)) when[0] = '\0';
    fce_json_begin(&r->j, r->f);
    fce_json_str(&r->j, "file", name);
    fce_json_str(&r->j, "written", when);
    fce_json_str(&r->j, "backend", ctx->kind == FCE_BACKEND_KIND_CUDA ? "cuda" : "cpu");
    fce_json_str(&r->j, "device", ctx->device_name);
    if (ctx->dist) fce_json_int(&r->j, "ranks", fce_dist_size(ctx->dist)); /* under mpirun (dist.h) */
    build_fields(&r->j);
    return FCE_STATUS_OK;
}

fce_status fce_run_record_open_config(fce_run_record *r, const char *dir, const fce_ctx *ctx,
                                      const fce_run_options *o) {
    FCE_TRY(fce_run_record_open(r, dir, "config", ctx));
    fce_json *j = &r->j;
    const char *const strs[][2] = {{"command", "train"}, {"kind", o->kind},          {"dataset", o->dataset},
                                   {"mode", o->mode},     {"device_option", o->device}, {"out", o->out}};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) fce_json_str(j, strs[i][0], strs[i][1]);
    const struct {
        const char *key;
        long long v;
    } ints[] = {{"resume", o->resume}, {"resumed_at_step", o->resumed_at_step}, {"force", o->force},
                {"steps", o->steps},   {"batch", o->batch},   {"log_every", o->log_every},
                {"checkpoint_every", o->checkpoint_every}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) fce_json_int(j, ints[i].key, ints[i].v);
    fce_json_uint(j, "seed", o->seed);
    fce_json_num(j, "beta1", o->beta1, 7);
    fce_json_num(j, "beta2", o->beta2, 7);
    fce_json_num(j, "adam_eps", o->adam_eps, 7);
    return FCE_STATUS_OK;
}

fce_status fce_run_record_close(fce_run_record *r) {
    fce_json_end(&r->j, 1);
    int bad = fflush(r->f) != 0 || ferror(r->f) || fsync(fileno(r->f)) != 0;
    bad |= fclose(r->f) != 0;
    r->f = NULL;
    if (bad || rename(r->tmp, r->path) != 0) {
        fce_log_error("cannot write %s: %s", r->path, strerror(errno));
        remove(r->tmp);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

size_t fce_run_record_trainable(const fce_param_table *t) {
    size_t n = 0;
    for (int i = 0; i < t->n; i++)
        if (!(t->specs[i].flags & FCE_PARAM_FLAG_FROZEN)) n += t->specs[i].numel;
    return n;
}

int fce_run_record_read_number(const char *dir, const char *name, const char *key, double *v) {
    char path[1100], buf[8192];
    snprintf(path, sizeof path, "%.1000s/%s.json", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return fce_metrics_field(buf, key, v);
}
