/* image_ebm_base.c: the image FCE trainer's EBM base at a fresh start and on --resume
 * (image_ebm_base.h). */
#include "train/image_ebm_base.h"

#include <stdio.h>
#include <string.h>

#include "fce/log.h"
#include "formats/ebm_base_file.h"

int fce_image_ebm_base_kind(const char *name) {
    if (!name[0] || !strcmp(name, "none")) return FCE_EBM_BASE_NONE;
    if (!strcmp(name, "flow")) return FCE_EBM_BASE_FLOW;
    fce_log_error("--ebm-base: '%s' is not one of none, flow", name);
    return -1;
}

fce_status fce_image_ebm_base_start(fce_ebm_flow_base *b, fce_iglow *flow, fce_ebm_image *g,
                                    const char *out_dir, int write_file, int n, fce_image_fce_state *st) {
    FCE_TRY(fce_ebm_image_zero_output_layer(g));
    fce_iglow *q0 = NULL;
    FCE_TRY(fce_ebm_flow_base_copy_flow(&q0, flow));
    FCE_TRY(fce_ebm_flow_base_init(b, q0, n, n)); /* b owns q0 from here on */
    st->base_kind = FCE_EBM_BASE_FLOW;
    if (!write_file) return FCE_STATUS_OK;
    fce_iglow_ckpt_state fs;
    memset(&fs, 0, sizeof fs);
    fs.seed = st->seed, fs.n_bits = st->n_bits, fs.batch = st->batch;
    snprintf(fs.dataset, sizeof fs.dataset, "%s", st->dataset);
    char path[1200];
    snprintf(path, sizeof path, "%.1100s/%s", out_dir, FCE_EBM_BASE_NAME);
    uint32_t crc = 0;
    FCE_TRY(fce_ebm_base_file_write(path, q0, &fs, &crc));
    st->base_crc = crc;
    return FCE_STATUS_OK;
}

fce_status fce_image_ebm_base_resume(fce_ebm_flow_base *b, fce_ctx *ctx, const char *ebm_path,
                                     const fce_image_fce_state *s, int n) {
    fce_iglow *q0 = NULL;
    FCE_TRY(fce_ebm_base_file_load(ebm_path, s, ctx, &q0));
    return fce_ebm_flow_base_init(b, q0, n, n);
}
