/* fake_device.h: what the fake CUDA runtime (fake_cudart.cpp) offers the fake cuBLAS and cuDNN
 * (fake_cublas.cpp, fake_cudnn.cpp) of the emulated GPU backend: the device-allocation registry
 * and the fault report. Internal to tests/emu. */
#ifndef FCE_EMU_FAKE_DEVICE_H
#define FCE_EMU_FAKE_DEVICE_H

#include <cstddef>
#include <functional>
#include <initializer_list>

#include "cuda_runtime_api.h"

namespace emu::gpu {

/* Is [p, p + bytes) inside ONE live device allocation? (bytes = 0: is p inside one.) */
bool in_device(const void *p, size_t bytes);
/* Does p point into any live device allocation? */
bool is_device(const void *p);
/* Is s a live stream made by cudaStreamCreateWithFlags? */
bool stream_live(cudaStream_t s);
/* Records a violation of the CUDA / cuBLAS / cuDNN contract that a GPU would punish (illegal
 * address, use of a destroyed handle, ...): prints it, counts it in emu::violations (a run with
 * violations exits 1) and sets the device's sticky error cudaErrorIllegalAddress, as a fault on a
 * GPU does. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void fault(const char *fmt, ...);
/* Count-only mode (emu_counters.h): check and count library calls, do not compute them. */
bool count_only();
/* Counts one library compute call (cuBLAS or cuDNN) with the bytes it moves. */
enum class library { gemm, dnn };
void count_library_call(library lib, double bytes, bool tf32);
/* Stream capture (fake_cudart.cpp). Every stream operation of the fakes (copies, memsets, kernel
 * launches, GEMMs, cuDNN calls, NCCL collectives) is checked when it is issued and then handed to
 * enqueue as a closure that counts it (emu_counters.h) and computes it: run at once on a stream
 * that is not capturing, recorded on one that is (run at each cudaGraphLaunch of the graph). The
 * closure holds everything by value (scalars, alpha/beta, descriptors), as a captured node
 * does. Returns cudaSuccess; cudaErrorStreamCaptureInvalidated when the stream's capture was
 * already invalidated (nothing recorded); cudaErrorStreamCaptureImplicit for work on the legacy
 * (NULL) stream while a capture is active (which invalidates it). */
cudaError_t enqueue(cudaStream_t stream, std::function<void()> work);
/* Is `stream` being captured? */
bool capturing(cudaStream_t stream);
/* Invalidates the capture of `stream` (an operation it cannot record), saying why. */
void invalidate_capture(cudaStream_t stream, const char *why);
/* True while a graph's recorded work runs (cudaGraphLaunch). */
bool replaying();
/* At a replay, the buffers a recorded operation uses must still be live device memory (they were
 * checked when it was recorded; a buffer freed since is an illegal address on a GPU): faults and
 * returns false when one is not. Outside a replay: true. */
struct range {
    const void *p;
    size_t bytes;
};
bool replay_ranges_ok(const char *what, std::initializer_list<range> ranges);
/* Do the byte ranges [a, a + na) and [b, b + nb) overlap? */
inline bool overlap(const void *a, size_t na, const void *b, size_t nb) {
    const char *pa = static_cast<const char *>(a), *pb = static_cast<const char *>(b);
    return na && nb && pa < pb + nb && pb < pa + na;
}

}  // namespace emu::gpu

#endif
