/* ebm_base_file.c: ebm_base.fce, the frozen flow base of an image EBM (ebm_base_file.h). */
#include "formats/ebm_base_file.h"

#include <stdio.h>
#include <string.h>

#include "fce/log.h"
#include "formats/ckpt_io.h"
#include "util/fs_util.h"

void fce_ebm_base_path(const char *ebm_path, char *out, size_t n) {
    const char *slash = strrchr(ebm_path, '/');
    const int dir_len = slash ? (int)(slash - ebm_path) : 0;
    snprintf(out, n, "%.*s%s%s", dir_len, ebm_path, slash ? "/" : "", FCE_EBM_BASE_NAME);
}

fce_status fce_ebm_base_file_write(const char *path, fce_iglow *base, const fce_iglow_ckpt_state *s,
                                   uint32_t *crc) {
    FCE_TRY(fce_iglow_ckpt_save(path, base, s));
    return fce_ckpt_crc(path, crc);
}

fce_status fce_ebm_base_file_load(const char *ebm_path, const fce_image_fce_state *s, fce_ctx *ctx,
                                  fce_iglow **base) {
    *base = NULL;
    char path[1200];
    fce_ebm_base_path(ebm_path, path, sizeof path);
    if (!fce_file_exists(path)) {
        fce_log_error("%s is an EBM on a flow base (train --ebm-base flow: f = log q0 + g), and its "
                      "base %s is missing: put the %s written by the same run beside it", ebm_path, path,
                      FCE_EBM_BASE_NAME);
        return FCE_STATUS_ERR_IO;
    }
    uint32_t crc = 0;
    FCE_TRY(fce_ckpt_crc(path, &crc));
    if ((uint64_t)crc != s->base_crc) {
        fce_log_error("%s is not the base %s was trained with (its CRC-32 is %08x, %s records %08llx): "
                      "put the %s written by the same run beside it", path, ebm_path, (unsigned)crc,
                      ebm_path, (unsigned long long)s->base_crc, FCE_EBM_BASE_NAME);
        return FCE_STATUS_ERR_FORMAT;
    }
    fce_iglow_config gc;
    fce_iglow_ckpt_state fs;
    FCE_TRY(fce_iglow_ckpt_peek(path, &gc, &fs));
    FCE_TRY(fce_iglow_init(base, ctx, &gc, 0));
    fce_status st = fce_iglow_ckpt_load(path, *base, 0, &fs);
    if (st != FCE_STATUS_OK) {
        fce_iglow_free(*base);
        *base = NULL;
    }
    return st;
}
