/* dist.h: data-parallel training across processes (issue 13): the job a process belongs to, and
 * the collectives the trainers call at a few fixed points.
 *
 * One process per device, started by the standard launcher: `mpirun -np N fce-gpu train ...`.
 * fce_dist_init joins the job when an MPI launcher started the process, and gives NULL otherwise.
 * Every function here takes NULL as "one process alone" and then does nothing (no MPI call, no
 * change of rounding), so a run without mpirun is exactly the single-process program.
 *
 * What is made global, and where:
 *   data        rank r takes rows [r·B/N, (r+1)·B/N) of every global batch of B rows (--batch is
 *               global; N must divide it), and the data order and every Philox stream are indexed
 *               by global row (fce_dist_shard): the ranks together see exactly the single process's
 *               examples and noise;
 *   gradients   each rank's loss is scaled by 1/N (fce_dist_grad_scale; the local means then carry
 *               the global batch's 1/B) and fce_dist_allreduce_grads sums a model arena's gradients
 *               over the ranks, one call per arena before its optimizer step: MPI_Allreduce on the
 *               CPU backend's host memory, ncclAllReduce on a CUDA context's stream;
 *   statistics  fce_dist_sum / _mean / _max_ints on a few host values (MPI): the game's value and
 *               accuracy (so every rank takes the same turn), c₀, the metrics, the stop requests;
 *   actnorm     the data-dependent init runs over the global batch: fce_dist_ctx_init gives a
 *               context of a job of several ranks an op table whose actnorm_init reduces its sums;
 *   files       rank 0 writes every file (fce_dist_is_root); all ranks read checkpoints.
 * The ranks then compute what one process with batch B computes, up to the order of the sums.
 *
 * Failure: a rank whose command fails aborts the job (fce_dist_finalize: MPI_Abort with its exit
 * code, which mpirun returns), and every collective runs under a deadline (environment variable
 * FCE_COLLECTIVE_TIMEOUT, seconds, default 300; dist_watchdog.h): a rank that waits longer (a peer
 * hangs) says so, naming itself, and exits 1, and the launcher ends the others. A peer that dies is
 * noticed by the launcher, which ends the job. */
#ifndef FCE_DIST_H
#define FCE_DIST_H

#include <stddef.h>

#include "fce/backend.h"

typedef struct fce_dist fce_dist;

/* Joins the job of the MPI launcher that started this process (MPI_Init and a collective-timeout
 * watchdog), or sets *out NULL when no launcher did. A build without MPI started as one of several
 * processes refuses (FCE_STATUS_ERR_UNSUPPORTED): the processes would overwrite each other's run. */
fce_status fce_dist_init(fce_dist **out);
/* A job of one rank without a launcher: the collectives run (NCCL on a CUDA context) but have no
 * peers. For tests of the collectives' glue. */
fce_status fce_dist_init_single(fce_dist **out);
/* Leaves the job at the end of the command and returns exit_code. When exit_code is not 0 in a job
 * of several ranks it aborts the job instead (the others would wait for this rank) and does not
 * return. NULL-safe. */
int fce_dist_finalize(fce_dist *d, int exit_code);

int fce_dist_rank(const fce_dist *d); /* 0 for NULL */
int fce_dist_size(const fce_dist *d); /* 1 for NULL */
int fce_dist_is_root(const fce_dist *d);
/* Was the build made with MPI (launcher support) / NCCL (the GPUs' all-reduce)? */
int fce_dist_have_mpi(void);
int fce_dist_have_nccl(void);

/* The rows of a global batch this rank takes: [row0, row0 + rows) of `global`. */
typedef struct fce_dist_shard {
    int rows, row0, global;
} fce_dist_shard;
/* Even shards; a usage error (naming `what`, e.g. "--batch") when the size does not divide global. */
fce_status fce_dist_shard_of(const fce_dist *d, int global, const char *what, fce_dist_shard *s);

/* fce_ctx_init for a rank of the job: "auto" takes GPU <local rank> (one process per GPU) when a GPU
 * is usable; then the context is bound to the job (ctx->dist; on CUDA the NCCL communicator is made
 * on the first bind, a collective call). d NULL: fce_ctx_init alone. */
fce_status fce_dist_ctx_init(fce_dist *d, fce_ctx *ctx, const char *device_spec);

/* 1/size: the factor of each rank's loss, so that the sum over ranks is the global mean. */
float fce_dist_grad_scale(const fce_ctx *ctx);
/* In place, n floats of ctx's memory: the sum over the ranks of ctx->dist (nothing alone). */
fce_status fce_dist_allreduce_grads(fce_ctx *ctx, float *grads, size_t n);

/* In place over the ranks, host values: sums, means (sum / size), maxima. Nothing alone. */
fce_status fce_dist_sum(fce_dist *d, double *v, int n);
fce_status fce_dist_sum_floats(fce_dist *d, float *v, size_t n);
fce_status fce_dist_mean(fce_dist *d, double *v, int n);
fce_status fce_dist_max_ints(fce_dist *d, int *v, int n);
/* rank 0's bytes to every rank. */
fce_status fce_dist_broadcast(fce_dist *d, void *buf, size_t bytes);
fce_status fce_dist_barrier(fce_dist *d);

#endif
