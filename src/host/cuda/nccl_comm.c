/* nccl_comm.c: the NCCL communicator of a CUDA rank (nccl_comm.h). */
#include "cuda/nccl_comm.h"

#include <nccl.h>
#include <stdlib.h>

#include "cuda/check_cuda.h"
#include "cuda/cuda_bench_hooks.h" /* fce_cuda_ctx_stream: the context's stream */

struct fce_nccl {
    ncclComm_t comm;
    int device;
};

#define FCE_NCCL_CHECK(expr)                                                                       \
    FCE_CHECK_GEN(ncclResult_t, expr, ncclSuccess, ncclGetErrorString, "NCCL", FCE_STATUS_ERR_COMM)

static fce_status comm_init(fce_nccl *c, int rank, int size, fce_nccl_bcast_fn bcast, void *job) {
    ncclUniqueId id;
    if (rank == 0) FCE_NCCL_CHECK(ncclGetUniqueId(&id));
    if (size > 1) FCE_TRY(bcast(job, &id, sizeof id));
    FCE_NCCL_CHECK(ncclCommInitRank(&c->comm, size, id, rank));
    return FCE_STATUS_OK;
}

fce_status fce_nccl_init(fce_nccl **out, const fce_ctx *ctx, int rank, int size, fce_nccl_bcast_fn bcast,
                         void *job) {
    *out = NULL;
    if (ctx->kind != FCE_BACKEND_KIND_CUDA) {
        fce_log_error("NCCL needs a CUDA context");
        return FCE_STATUS_ERR_COMM;
    }
    fce_nccl *c = calloc(1, sizeof *c);
    if (!c) return FCE_STATUS_ERR_NOMEM;
    c->device = ctx->device;
    fce_status st = FCE_STATUS_OK;
    cudaError_t err = cudaSetDevice(ctx->device); /* the communicator belongs to the current device */
    if (err != cudaSuccess) {
        fce_log_error("CUDA error: cudaSetDevice(%d) for NCCL: %s", ctx->device, cudaGetErrorString(err));
        st = FCE_STATUS_ERR_CUDA;
    }
    if (st == FCE_STATUS_OK) st = comm_init(c, rank, size, bcast, job);
    if (st != FCE_STATUS_OK) {
        free(c);
        return st;
    }
    *out = c;
    return FCE_STATUS_OK;
}

int fce_nccl_device(const fce_nccl *c) { return c->device; }

fce_status fce_nccl_allreduce_sum(fce_nccl *c, fce_ctx *ctx, float *buf, size_t n) {
    cudaStream_t stream = fce_cuda_ctx_stream(ctx);
    FCE_NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, c->comm, stream));
    FCE_CUDA_CHECK(cudaStreamSynchronize(stream));
    return FCE_STATUS_OK;
}

void fce_nccl_free(fce_nccl *c) {
    if (!c) return;
    if (c->comm) {
        ncclResult_t r = ncclCommDestroy(c->comm);
        if (r != ncclSuccess) fce_log_warn("NCCL: ncclCommDestroy: %s", ncclGetErrorString(r));
    }
    free(c);
}
