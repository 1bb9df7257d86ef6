/* ckpt_io.c: checkpoint file handling shared by the formats (ckpt_io.h). */
#include "formats/ckpt_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fce/log.h"

fce_status fce_ckpt_write_tmp(const char *path, const void *header, size_t header_size, int n,
                              fce_param_arena *const arenas[], fce_ctx *const ctxs[]) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fce_log_error("cannot write checkpoint %s: %s", tmp, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    size_t n_max = 0;
    for (int i = 0; i < n; i++)
        if (arenas[i]->n_total > n_max) n_max = arenas[i]->n_total;
    fce_status st = FCE_STATUS_OK;
    float *host = malloc(n_max * sizeof(float) + 1);
    int ok = host && fwrite(header, header_size, 1, f) == 1;
    if (!host) st = FCE_STATUS_ERR_NOMEM;
    for (int i = 0; i < n && ok; i++) {
        fce_param_arena *a = arenas[i];
        fce_ctx *c = ctxs[i];
        float *bufs[3] = {a->params, a->m, a->v};
        for (int b = 0; b < 3 && ok; b++) {
            st = c->ops->download(c, host, bufs[b], a->n_total * sizeof(float));
            if (st != FCE_STATUS_OK) ok = 0;
            else ok = fwrite(host, sizeof(float), a->n_total, f) == a->n_total;
        }
    }
    free(host);
    if (fclose(f) != 0) ok = 0;
    if (!ok || st != FCE_STATUS_OK) {
        remove(tmp);
        if (st == FCE_STATUS_OK) {
            fce_log_error("writing checkpoint %s failed (disk full?); the previous checkpoint is kept",
                          tmp);
            st = FCE_STATUS_ERR_IO;
        }
        return st;
    }
    return FCE_STATUS_OK;
}

fce_status fce_ckpt_commit(const char *path) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (rename(tmp, path) != 0) {
        fce_log_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

void fce_ckpt_discard(const char *path) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(tmp);
}

fce_status fce_ckpt_write(const char *path, const void *header, size_t header_size, int n,
                          fce_param_arena *const arenas[], fce_ctx *const ctxs[]) {
    FCE_TRY(fce_ckpt_write_tmp(path, header, header_size, n, arenas, ctxs));
    return fce_ckpt_commit(path);
}

FILE *fce_ckpt_open(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fce_log_error("cannot open checkpoint %s: %s", path, strerror(errno));
    return f;
}

fce_status fce_ckpt_read_blob(const char *path, FILE *f, fce_ctx *ctx, float *dst, float *host,
                              size_t n) {
    if (fread(host, sizeof(float), n, f) != n) {
        fce_log_error("checkpoint %s: truncated (a parameter blob is short)", path);
        return FCE_STATUS_ERR_FORMAT;
    }
    return ctx->ops->upload(ctx, dst, host, n * sizeof(float));
}

fce_status fce_ckpt_check_field(const char *path, const char *field, int64_t file, int64_t have,
                                const char *flag) {
    if (file == have) return FCE_STATUS_OK;
    fce_log_error("checkpoint %s: %s is %lld but this run has %lld (set it with %s)", path, field,
                  (long long)file, (long long)have, flag);
    return FCE_STATUS_ERR_FORMAT;
}

fce_status fce_ckpt_check_table(const char *path, uint64_t file_hash, uint64_t have_hash,
                                int64_t file_n, int64_t have_n) {
    if (file_hash == have_hash && file_n == have_n) return FCE_STATUS_OK;
    fce_log_error("checkpoint %s: the flow's parameter table differs from this build's (another "
                  "architecture or version)", path);
    return FCE_STATUS_ERR_FORMAT;
}
