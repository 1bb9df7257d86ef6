/* step_graph.c: record once, replay every step (step_graph.h). */
#define _POSIX_C_SOURCE 200809L
#include "backend/step_graph.h"

#include <stdlib.h>
#include <string.h>

#include "fce/log.h"

int fce_step_graphs_enabled(const fce_ctx *ctx) {
    if (!ctx->ops->graph_begin || ctx->debug_sync || ctx->dist) return 0;
    const char *env = getenv("FCE_CUDA_GRAPHS");
    return !(env && strcmp(env, "0") == 0);
}

void fce_step_graph_init(fce_step_graph *g, const char *name) {
    memset(g, 0, sizeof *g);
    g->name = name;
}

/* Records the body; on failure the step goes eager for good, with one warning. */
static fce_status record(fce_ctx *ctx, fce_step_graph *g, fce_step_body body, void *arg) {
    fce_status st = ctx->ops->graph_begin(ctx);
    if (st == FCE_STATUS_OK) {
        fce_status body_st = body(arg);
        st = ctx->ops->graph_end(ctx, &g->graph); /* always ends the recording */
        if (body_st != FCE_STATUS_OK && st == FCE_STATUS_OK) {
            ctx->ops->graph_free(ctx, g->graph);
            g->graph = NULL;
            st = body_st;
        }
    }
    if (st != FCE_STATUS_OK) {
        g->graph = NULL;
        g->eager = 1;
        fce_log_warn("%s: recording it as a CUDA graph failed (see above); it runs op by op from "
                     "now on (FCE_CUDA_GRAPHS=0 skips the attempt)", g->name);
    }
    return st;
}

fce_status fce_step_graph_run(fce_ctx *ctx, fce_step_graph *g, fce_step_body body, void *arg) {
    if (!g->graph && !g->eager) {
        if (!fce_step_graphs_enabled(ctx)) g->eager = 1;
        else if (record(ctx, g, body, arg) != FCE_STATUS_OK) return body(arg); /* nothing ran */
    }
    if (g->eager) return body(arg);
    FCE_TRY(ctx->ops->graph_launch(ctx, g->graph));
    g->launches++;
    return FCE_STATUS_OK;
}

void fce_step_graph_free(fce_ctx *ctx, fce_step_graph *g) {
    if (g->graph) ctx->ops->graph_free(ctx, g->graph);
    g->graph = NULL;
}
