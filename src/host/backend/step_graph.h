/* step_graph.h: one training step's device work recorded once as a CUDA graph and replayed on
 * every later step (issue 12 item 4), or run eagerly where graphs are not used.
 *
 * Why: a step of the cifar10 preset is 800–1,800 kernel launches plus ~1,000 cuBLAS/cuDNN calls;
 * at several µs of launch overhead each that is 5–15 ms of host time per step, above the step's
 * FLOP floor (README "Costs"). A graph launch submits them all at once.
 *
 * The contract of a body (the function that enqueues the step's work): it only enqueues ops on
 * ctx — no upload, download, sync or allocation (the CUDA backend refuses them while recording),
 * no host-side decision that differs from step to step, no host state it changes, and every value
 * that changes per step read from device memory (step_vars.h). The body runs on the host once, when
 * recorded; every later call only launches the graph. A step whose shape or control flow differs
 * (another player's turn) gets its own fce_step_graph.
 *
 * Graphs are used when the backend has them (CUDA), FCE_CUDA_GRAPHS is not 0, the context does
 * not synchronise after every op (--debug-sync) and it is not in an mpirun job (ctx->dist: the
 * NCCL all-reduce waits for the stream under its watchdog, even in a job of one rank). When recording fails, a warning names the step and
 * the reason and that step runs eagerly from then on: a run never stops because of a graph. */
#ifndef FCE_BACKEND_STEP_GRAPH_H
#define FCE_BACKEND_STEP_GRAPH_H

#include "fce/backend.h"

typedef fce_status (*fce_step_body)(void *arg);

typedef struct fce_step_graph {
    const char *name;  /* for messages: "mle step", "fce ebm step", ... (static) */
    fce_graph *graph;  /* recorded at the first call; NULL before */
    int eager;         /* 1: run the body eagerly (graphs off, or recording failed) */
    long launches;     /* graph launches so far (tests and fce-bench read it) */
} fce_step_graph;

/* Does ctx use graphs (see above)? */
int fce_step_graphs_enabled(const fce_ctx *ctx);
/* name: a static string. */
void fce_step_graph_init(fce_step_graph *g, const char *name);
/* Runs body(arg) once on ctx: the first call records it and launches the graph, later calls only
 * launch it; eagerly when graphs are not used. */
fce_status fce_step_graph_run(fce_ctx *ctx, fce_step_graph *g, fce_step_body body, void *arg);
/* Drops the recording (the next run records again); NULL-safe for a graph never recorded. */
void fce_step_graph_free(fce_ctx *ctx, fce_step_graph *g);

#endif
