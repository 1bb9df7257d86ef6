/* dist.c: the job of a multi-process run and its collectives (dist.h). The MPI calls are in
 * dist_mpi.c, NCCL's in cuda/nccl_comm.c, the collective timeout in dist_watchdog.c. */
#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "dist/dist_mpi.h"
#include "fce/log.h"
#ifdef FCE_HAVE_NCCL
#include "cuda/nccl_comm.h"
#define NCCL_BUILT 1
#else
#define NCCL_BUILT 0
#endif

static fce_status make_job(fce_dist **out, int mpi) {
    fce_dist *d = calloc(1, sizeof *d);
    if (!d) return FCE_STATUS_ERR_NOMEM;
    d->size = 1;
    d->mpi = mpi;
    *out = d;
    if (!mpi) return FCE_STATUS_OK;
    FCE_TRY(fce_mpi_join(&d->rank, &d->size, &d->local_rank));
    if (d->size == 1) return FCE_STATUS_OK; /* no peer to wait for, and messages as without mpirun */
    fce_log_set_rank(d->rank);
    double timeout;
    FCE_TRY(fce_watchdog_timeout(&timeout));
    return fce_watchdog_start(&d->watchdog, timeout, d->rank, d->size);
}

fce_status fce_dist_init(fce_dist **out) {
    *out = NULL;
    const int launched = fce_mpi_launcher_size();
    if (launched == 0) return FCE_STATUS_OK;
    if (fce_mpi_built()) return make_job(out, 1);
    if (launched == 1) return FCE_STATUS_OK; /* one process: alone, as without the launcher */
    fce_log_error("this fce-gpu was built without MPI, but a launcher started it as one of several "
                  "processes, which would each train alone into the same folder: rebuild with MPI "
                  "(libopenmpi-dev; cmake -DFCE_MPI=ON) or run it without mpirun");
    return FCE_STATUS_ERR_UNSUPPORTED;
}

fce_status fce_dist_init_single(fce_dist **out) {
    *out = NULL;
    return make_job(out, 0);
}

int fce_dist_finalize(fce_dist *d, int exit_code) {
    if (!d) return exit_code;
    if (exit_code != 0 && d->size > 1) {
        fce_log_error("rank %d of %d failed (exit code %d); ending every rank of the job", d->rank, d->size,
                      exit_code);
        fflush(stderr);
        fce_mpi_abort(exit_code);
    }
    fce_watchdog_stop(d->watchdog);
#ifdef FCE_HAVE_NCCL
    fce_nccl_free(d->nccl);
#endif
    if (d->mpi) fce_mpi_finalize();
    free(d);
    return exit_code;
}

int fce_dist_rank(const fce_dist *d) { return d ? d->rank : 0; }
int fce_dist_size(const fce_dist *d) { return d ? d->size : 1; }
int fce_dist_is_root(const fce_dist *d) { return fce_dist_rank(d) == 0; }

int fce_dist_have_mpi(void) { return fce_mpi_built(); }
int fce_dist_have_nccl(void) { return NCCL_BUILT; }

fce_status fce_dist_shard_of(const fce_dist *d, int global, const char *what, fce_dist_shard *s) {
    const int size = fce_dist_size(d);
    if (global % size) {
        fce_log_error("%s %d is the global batch: it must be divisible by the %d ranks of the job", what, global,
                      size);
        return FCE_STATUS_ERR_CONFIG;
    }
    s->global = global;
    s->rows = global / size;
    s->row0 = fce_dist_rank(d) * s->rows;
    return FCE_STATUS_OK;
}

/* ---- the collectives: each under the watchdog's deadline ---- */

static fce_status host_collective(fce_dist *d, void *buf, size_t n, fce_mpi_type type, fce_mpi_op op,
                                  const char *what) {
    if (!d || d->size == 1) return FCE_STATUS_OK;
    fce_watchdog_arm(d->watchdog, what);
    fce_status st = fce_mpi_allreduce(buf, n, type, op);
    fce_watchdog_disarm(d->watchdog);
    return st;
}

fce_status fce_dist_sum(fce_dist *d, double *v, int n) {
    return host_collective(d, v, (size_t)n, FCE_MPI_DOUBLE, FCE_MPI_SUM, "MPI_Allreduce (statistics)");
}

fce_status fce_dist_sum_floats(fce_dist *d, float *v, size_t n) {
    return host_collective(d, v, n, FCE_MPI_FLOAT, FCE_MPI_SUM, "MPI_Allreduce (a batch's figures)");
}

fce_status fce_dist_mean(fce_dist *d, double *v, int n) {
    FCE_TRY(fce_dist_sum(d, v, n));
    for (int i = 0; d && d->size > 1 && i < n; i++) v[i] /= d->size;
    return FCE_STATUS_OK;
}

fce_status fce_dist_max_ints(fce_dist *d, int *v, int n) {
    return host_collective(d, v, (size_t)n, FCE_MPI_INT, FCE_MPI_MAX, "MPI_Allreduce (stop requests)");
}

fce_status fce_dist_broadcast(fce_dist *d, void *buf, size_t bytes) {
    if (!d || d->size == 1) return FCE_STATUS_OK;
    fce_watchdog_arm(d->watchdog, "MPI_Bcast");
    fce_status st = fce_mpi_bcast(buf, bytes);
    fce_watchdog_disarm(d->watchdog);
    return st;
}

fce_status fce_dist_barrier(fce_dist *d) {
    if (!d || d->size == 1) return FCE_STATUS_OK;
    fce_watchdog_arm(d->watchdog, "MPI_Barrier");
    fce_status st = fce_mpi_barrier();
    fce_watchdog_disarm(d->watchdog);
    return st;
}

float fce_dist_grad_scale(const fce_ctx *ctx) { return 1.0f / (float)fce_dist_size(ctx->dist); }

fce_status fce_dist_allreduce_grads(fce_ctx *ctx, float *grads, size_t n) {
    fce_dist *d = ctx->dist;
    if (!d) return FCE_STATUS_OK;
#ifdef FCE_HAVE_NCCL
    if (d->nccl && ctx->kind == FCE_BACKEND_KIND_CUDA) { /* also alone: the 1-GPU check runs this path */
        fce_watchdog_arm(d->watchdog, "ncclAllReduce (gradients)");
        fce_status st = fce_nccl_allreduce_sum(d->nccl, ctx, grads, n);
        fce_watchdog_disarm(d->watchdog);
        return st;
    }
#endif
    if (d->size == 1) return FCE_STATUS_OK;
    FCE_ASSERT(ctx->kind == FCE_BACKEND_KIND_CPU, "a CUDA context of a job without NCCL (refused at bind)");
    return host_collective(d, grads, n, FCE_MPI_FLOAT, FCE_MPI_SUM, "MPI_Allreduce (gradients)");
}

/* ---- contexts ---- */

#ifdef FCE_HAVE_NCCL
static fce_status bcast_for_nccl(void *job, void *buf, size_t bytes) { return fce_dist_broadcast(job, buf, bytes); }
#endif

/* On CUDA: the job's NCCL communicator on the context's device, made by the first bind. */
static fce_status bind_cuda(fce_dist *d, const fce_ctx *ctx) {
#ifdef FCE_HAVE_NCCL
    if (!d->nccl) {
        fce_watchdog_arm(d->watchdog, "ncclCommInitRank");
        fce_status st = fce_nccl_init(&d->nccl, ctx, d->rank, d->size, bcast_for_nccl, d);
        fce_watchdog_disarm(d->watchdog);
        return st;
    }
    if (fce_nccl_device(d->nccl) != ctx->device) {
        fce_log_error("rank %d: a second CUDA context on GPU %d; the job's NCCL communicator is on GPU %d",
                      d->rank, ctx->device, fce_nccl_device(d->nccl));
        return FCE_STATUS_ERR_COMM;
    }
    return FCE_STATUS_OK;
#else
    if (d->size == 1) return FCE_STATUS_OK;
    fce_log_error("this fce-gpu was built without NCCL: a job of %d ranks cannot train on GPUs (use --device "
                  "cpu, or rebuild with NCCL: cmake -DFCE_NCCL=ON)", d->size);
    return FCE_STATUS_ERR_UNSUPPORTED;
#endif
}

fce_status fce_dist_ctx_init(fce_dist *d, fce_ctx *ctx, const char *device_spec) {
    if (!d) return fce_ctx_init(ctx, device_spec);
    char ordinal[16], reason[256];
    if (device_spec && !strcmp(device_spec, "auto") && fce_gpu_usable(reason, sizeof reason)) {
        snprintf(ordinal, sizeof ordinal, "%d", d->local_rank); /* one process per GPU */
        device_spec = ordinal;
    }
    FCE_TRY(fce_ctx_init(ctx, device_spec));
    ctx->dist = d;
    if (d->size > 1) { /* actnorm's data-dependent init over the global batch (dist_actnorm.c) */
        fce_backend_ops *ops = &d->ops[ctx->kind];
        *ops = *ctx->ops;
        ops->actnorm_init = fce_dist_actnorm_init;
        ctx->ops = ops;
    }
    if (ctx->kind == FCE_BACKEND_KIND_CUDA) return bind_cuda(d, ctx);
    return FCE_STATUS_OK;
}
