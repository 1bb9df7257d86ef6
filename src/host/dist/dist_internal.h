/* dist_internal.h: the job's state (dist.c) as its actnorm op (dist_actnorm.c) sees it. */
#ifndef FCE_DIST_INTERNAL_H
#define FCE_DIST_INTERNAL_H

#include "dist/dist.h"
#include "dist/dist_watchdog.h"

struct fce_nccl;

struct fce_dist {
    int rank, size, local_rank;
    int mpi;                  /* joined through MPI (fce_dist_init): finalize leaves it */
    fce_watchdog *watchdog;   /* jobs of several ranks */
    struct fce_nccl *nccl;    /* made at the first bind of a CUDA context (builds with NCCL) */
    fce_backend_ops ops[2];   /* per backend kind: the bound contexts' table (dist.c) */
};

/* The actnorm_init op of a context bound to a job of several ranks (fce/ops.def's contract over the
 * global batch): the per-channel sums of x, then of the centred squares, summed over the ranks in
 * double on the host; the same formulas as fce_ref_actnorm_init. Runs once, at a fresh start. */
fce_status fce_dist_actnorm_init(fce_ctx *ctx, float *bias, float *logs, const float *x, int N, int HW, int C);

#endif
