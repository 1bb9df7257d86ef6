/* flow_from_file.c: an image flow from its checkpoint file (flow_from_file.h). */
#include "eval/flow_from_file.h"

#include <stdio.h>
#include <string.h>

#include "fce/log.h"
#include "util/fs_util.h"

void fce_ebm_path_for(const char *checkpoint, const char *ebm, char *out, size_t n) {
    if (ebm[0]) {
        snprintf(out, n, "%s", ebm);
        return;
    }
    const char *slash = strrchr(checkpoint, '/');
    int dir_len = slash ? (int)(slash - checkpoint) : 0;
    snprintf(out, n, "%.*s%sebm.fce", dir_len, checkpoint, slash ? "/" : "");
    if (!fce_file_exists(out)) out[0] = 0;
}

fce_status fce_flow_from_file(const char *path, const char *device, fce_ctx *ctx, int *have_ctx,
                              fce_iglow **g, fce_iglow_ckpt_state *s) {
    if (!path[0]) return fce_config_error("--checkpoint is required");
    fce_iglow_config gc;
    FCE_TRY(fce_iglow_ckpt_peek(path, &gc, s));
    if (!*have_ctx) { /* a second model (sample --compare) shares the context */
        FCE_TRY(fce_ctx_init(ctx, device));
        *have_ctx = 1;
    }
    FCE_TRY(fce_iglow_init(g, ctx, &gc, 1));
    return fce_iglow_ckpt_load(path, *g, 0, s);
}
