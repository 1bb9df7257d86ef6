/* fake_nccl.cpp: the NCCL calls of tests/emu/include/nccl.h for the emulated GPU, a job of one rank
 * (see that header for what is checked). Violations of what a GPU would punish (a buffer outside
 * device memory, a dead stream or communicator) are faults (fake_device.h): the run then exits 1;
 * misuse that NCCL itself reports (a made-up id, several ranks, an unknown type or op) returns its
 * error code. */
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include "fake_device.h"
#include "nccl.h"

struct ncclComm {
    int device;
};

namespace {

constexpr char ID_MAGIC[] = "fce-emu-nccl-unique-id";

std::mutex mu;
std::set<const ncclComm *> comms;
std::atomic<long> n_calls{0};
std::atomic<size_t> n_elements{0};

size_t type_size(ncclDataType_t t) {
    switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    }
    return 0;
}

bool comm_live(const ncclComm *c) {
    std::lock_guard<std::mutex> lk(mu);
    return c && comms.count(c);
}

}  // namespace

extern "C" {

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
    if (!id) return ncclInvalidArgument;
    std::memset(id, 0, sizeof *id);
    std::memcpy(id->internal, ID_MAGIC, sizeof ID_MAGIC);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    if (!comm || std::memcmp(id.internal, ID_MAGIC, sizeof ID_MAGIC) != 0) {
        std::fprintf(stderr, "emu: ncclCommInitRank: an id that ncclGetUniqueId did not make (the "
                             "bootstrap did not deliver rank 0's id)\n");
        return ncclInvalidArgument;
    }
    if (nranks != 1 || rank != 0) {
        std::fprintf(stderr, "emu: ncclCommInitRank: rank %d of %d; the emulation is a job of one rank\n",
                     rank, nranks);
        return ncclInvalidUsage;
    }
    int device = -1;
    if (cudaGetDevice(&device) != cudaSuccess) return ncclUnhandledCudaError;
    ncclComm *c = new ncclComm{device};
    std::lock_guard<std::mutex> lk(mu);
    comms.insert(c);
    *comm = c;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!comms.erase(comm)) {
            emu::gpu::fault("ncclCommDestroy of a destroyed or unknown communicator %p", (void *)comm);
            return ncclInvalidArgument;
        }
    }
    delete comm;
    return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream) {
    const size_t size = type_size(datatype);
    if (!size || static_cast<int>(op) < 0 || static_cast<int>(op) > ncclAvg) return ncclInvalidArgument;
    if (!comm_live(comm)) {
        emu::gpu::fault("ncclAllReduce on a destroyed or unknown communicator %p", (void *)comm);
        return ncclInvalidArgument;
    }
    if (!emu::gpu::stream_live(stream)) {
        emu::gpu::fault("ncclAllReduce on %s stream %p", stream ? "a destroyed or unknown" : "the legacy default (NULL)",
                        (void *)stream);
        return ncclUnhandledCudaError;
    }
    const size_t bytes = count * size;
    if (!emu::gpu::in_device(send, bytes) || !emu::gpu::in_device(recv, bytes)) {
        emu::gpu::fault("ncclAllReduce: sendbuff %p or recvbuff %p does not hold %zu elements of %zu bytes "
                        "inside one device allocation", send, recv, count, size);
        return ncclInvalidArgument;
    }
    /* Run by the stream: at once, or at each replay of a captured graph (NCCL 2.9+ captures
     * collectives). */
    cudaError_t e = emu::gpu::enqueue(stream, [send, recv, bytes, count] {
        if (!emu::gpu::replay_ranges_ok("ncclAllReduce", {{send, bytes}, {recv, bytes}})) return;
        n_calls.fetch_add(1);
        n_elements.fetch_add(count);
        if (send != recv) std::memmove(recv, send, bytes); /* the sum over one rank */
    });
    return e == cudaSuccess ? ncclSuccess : ncclUnhandledCudaError;
}

const char *ncclGetErrorString(ncclResult_t r) {
    static const char *const text[] = {"no error", "unhandled cuda error", "unhandled system error",
                                       "internal error", "invalid argument", "invalid usage",
                                       "remote process exited or there was a network error",
                                       "NCCL operation in progress"};
    const int i = static_cast<int>(r);
    return i >= 0 && i < static_cast<int>(sizeof text / sizeof text[0]) ? text[i] : "unknown result code";
}

long fce_emu_nccl_allreduce_calls(void) { return n_calls.load(); }
size_t fce_emu_nccl_allreduce_elements(void) { return n_elements.load(); }

}  // extern "C"
