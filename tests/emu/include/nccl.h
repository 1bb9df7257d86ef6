/* tests/emu/include/nccl.h: stand-in for NCCL's header, used ONLY by the CPU emulation (tests/emu),
 * for the NCCL glue of src/host/cuda/nccl_comm.c. It declares the types and calls that file uses,
 * with NCCL's own values, and nothing else; valid C and C++.
 *
 * The calls are implemented in tests/emu/fake_nccl.cpp for a job of ONE rank (the emulation is one
 * process): a communicator comes only from an id that ncclGetUniqueId made (so a lost bootstrap
 * broadcast shows), and ncclAllReduce checks, as a GPU would punish, that both buffers lie inside
 * one device allocation for `count` elements of `datatype`, that the stream is a live one and the
 * communicator is alive; the sum over one rank is the identity (a copy when out of place). */
#ifndef FCE_EMU_NCCL_H
#define FCE_EMU_NCCL_H

#include <stddef.h>

#include "cuda_runtime_api.h"

typedef struct ncclComm *ncclComm_t;

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
    char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7
} ncclResult_t;

typedef enum {
    ncclInt8 = 0, ncclChar = 0, ncclUint8 = 1, ncclInt32 = 2, ncclInt = 2, ncclUint32 = 3,
    ncclInt64 = 4, ncclUint64 = 5, ncclFloat16 = 6, ncclHalf = 6, ncclFloat32 = 7, ncclFloat = 7,
    ncclFloat64 = 8, ncclDouble = 8
} ncclDataType_t;

typedef enum { ncclSum = 0, ncclProd = 1, ncclMax = 2, ncclMin = 3, ncclAvg = 4 } ncclRedOp_t;

EMU_EXTERN_C ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
EMU_EXTERN_C ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
EMU_EXTERN_C ncclResult_t ncclCommDestroy(ncclComm_t comm);
EMU_EXTERN_C ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count,
                                        ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                                        cudaStream_t stream);
EMU_EXTERN_C const char *ncclGetErrorString(ncclResult_t result);

/* The emulation's record, for the tests: calls of ncclAllReduce and the elements they summed. */
EMU_EXTERN_C long fce_emu_nccl_allreduce_calls(void);
EMU_EXTERN_C size_t fce_emu_nccl_allreduce_elements(void);

#endif
