/* flow_from_file.c: an image flow from its checkpoint file (flow_from_file.h). */
#include "eval/flow_from_file.h"

#include "fce/log.h"

fce_status fce_eval_usage_error(const char *msg) {
    fce_log_error("%s", msg);
    return FCE_STATUS_ERR_CONFIG;
}

fce_status fce_flow_from_file(const char *path, const char *device, fce_ctx *ctx, int *have_ctx,
                              fce_iglow **g, fce_iglow_ckpt_state *s) {
    if (!path[0]) return fce_eval_usage_error("--checkpoint is required");
    fce_iglow_config gc;
    FCE_TRY(fce_iglow_ckpt_peek(path, &gc, s));
    if (!*have_ctx) { /* a second model (sample --compare) shares the context */
        FCE_TRY(fce_ctx_init(ctx, device));
        *have_ctx = 1;
    }
    FCE_TRY(fce_iglow_init(g, ctx, &gc, 1));
    return fce_iglow_ckpt_load(path, *g, 0, s);
}
