/* nccl_comm.h: the NCCL communicator of a CUDA rank of a multi-process job (dist/dist.c): made once
 * per process, on the device of the first CUDA context bound to the job, from the unique id that
 * rank 0 draws and the job sends to every rank (the bootstrap through MPI, passed in as `bcast`);
 * then the in-place float sum of a context's buffer, on that context's stream. Compiled only where
 * NCCL is found (and always in the CUDA emulation, on its fake NCCL: tests/emu/fake_nccl.cpp). */
#ifndef FCE_CUDA_NCCL_COMM_H
#define FCE_CUDA_NCCL_COMM_H

#include <stddef.h>

#include "fce/backend.h"

typedef struct fce_nccl fce_nccl;

/* Sends rank 0's `bytes` at buf to every rank of the job (MPI_Bcast). */
typedef fce_status (*fce_nccl_bcast_fn)(void *job, void *buf, size_t bytes);

/* ncclCommInitRank for rank `rank` of `size` on ctx's device (a CUDA context); collective: every
 * rank calls it. With size 1 no id is sent. */
fce_status fce_nccl_init(fce_nccl **out, const fce_ctx *ctx, int rank, int size, fce_nccl_bcast_fn bcast,
                         void *job);
/* The device the communicator was made on. */
int fce_nccl_device(const fce_nccl *c);
/* buf (n floats of ctx's device memory) ← the sum over the ranks, enqueued on ctx's stream, then
 * waited for (so that a peer that never joins is caught by the job's collective timeout instead of
 * hanging the next read-back; this one host synchronisation per update costs the launch latency
 * of the optimizer's kernels that would otherwise overlap it). */
fce_status fce_nccl_allreduce_sum(fce_nccl *c, fce_ctx *ctx, float *buf, size_t n);
void fce_nccl_free(fce_nccl *c); /* NULL-safe */

#endif
