/* fake_cudart.cpp: the CUDA runtime calls of tests/emu/include/cuda_runtime_api.h, for the CPU
 * emulation (tests/emu). One emulated device ("emulated GPU", ordinal 0); all work is synchronous.
 *
 * Device memory is host memory, registered: cudaMalloc returns a 256-byte aligned block filled
 * with 0xFF bytes (NaN floats: cudaMalloc does not zero), between two 256-byte guard zones that
 * cudaFree checks (an out-of-bounds write is a fault). cudaMemcpyAsync / cudaMemsetAsync check that
 * their ranges lie inside one allocation and that the copy direction matches the pointers. Streams
 * are checked handles: a destroyed or made-up stream is an error. With the first cudaMalloc the
 * fake also installs the launch hooks of emu_cuda.h, so every kernel launch checks its stream and
 * that each pointer argument is NULL or points into device memory.
 *
 * Cost counters (emu_counters.h): every memset, copy (by direction), host synchronisation and
 * allocation is counted here, kernel launches in emu_cuda.h, GEMMs and cuDNN calls in their fakes
 * (count_library_call), graph launches and captures here. In count-only mode new allocations are lazily mapped and left unfilled, and
 * memsets and device-to-device copies are checked and counted but not executed.
 *
 * Stream capture and graphs (CUDA 12 API, global capture mode only): every stream operation of the
 * fakes goes through emu::gpu::enqueue (fake_device.h), which runs it at once or, on a capturing
 * stream, records it; cudaStreamEndCapture returns the recording as a graph, cudaGraphLaunch runs
 * it in order on the launching stream (synchronously), as often as launched; recorded operations
 * are counted when they run. While any capture is active, cudaMalloc, cudaFree, cudaHostAlloc,
 * cudaFreeHost, cudaStreamSynchronize and cudaDeviceSynchronize return
 * cudaErrorStreamCaptureUnsupported and invalidate the capture (cudaStreamEndCapture then returns
 * cudaErrorStreamCaptureInvalidated and no graph); so does a host copy from or to memory that is
 * not cudaHostAlloc'ed, and work on the legacy (NULL) stream gives cudaErrorStreamCaptureImplicit.
 * At a replay, each operation checks again that its buffers are live device memory (a buffer freed
 * after the recording is a fault, as the illegal address it would be on a GPU).
 *
 * Faults (fake_device.h) make the device's error sticky (cudaErrorIllegalAddress from every later
 * call, as after a fault on a GPU) and make the process exit 1 at the end. Also linked into the
 * kernel test (test_emu_kernels), which only uses cudaGetLastError / cudaGetErrorString. */
#include "fake_device.h"

#include <sys/mman.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "emu_counters.h"
#include "emu_cuda.h"

/* Recorded stream work, in issue order (shared by a graph and its instantiations). */
using work_list = std::vector<std::function<void()>>;

struct CUstream_st {
    unsigned flags;
    /* Stream capture (guarded by mu): recording into `recorded`; `invalidated` after an operation
     * that cannot be captured (the capture then ends without a graph). */
    bool capturing = false, invalidated = false;
    work_list recorded;
};
struct CUgraph_st {
    std::shared_ptr<const work_list> work;
};
struct CUgraphExec_st {
    std::shared_ptr<const work_list> work;
};

namespace {

constexpr size_t GUARD = 256;
constexpr unsigned char GUARD_BYTE = 0xA5;

struct Alloc {
    unsigned char *raw;
    size_t bytes;
    bool mapped; /* count-only mode: mmap'ed, released with munmap */
};

/* The counters of emu_counters.h kept here (launches and kernel bytes live in emu_cuda.h). */
struct Counters {
    std::atomic<long long> gemms{0}, gemms_tf32{0}, dnn_calls{0}, memsets{0}, h2d{0}, d2h{0},
        d2d{0}, syncs{0}, allocs{0}, frees{0}, graph_launches{0}, captures{0};
    std::atomic<long long> gemm_bytes{0}, dnn_bytes{0}, memset_bytes{0}, copy_bytes{0};
};
Counters counters;

std::mutex mu;
std::map<uintptr_t, Alloc> allocs; /* keyed by the user pointer */
std::set<const CUstream_st *> streams;
std::set<const void *> graphs;        /* live cudaGraph_t and cudaGraphExec_t handles */
std::map<uintptr_t, size_t> pinned;   /* cudaHostAlloc blocks: start -> bytes */
int active_captures = 0;              /* streams capturing now (global mode: device-wide rules) */
std::atomic<int> fatal{0}; /* the sticky error after a fault */
int current_device = 0;
bool hooks_installed = false;
long n_mallocs = 0;

/* The allocation holding p, or allocs.end() (caller holds mu). */
std::map<uintptr_t, Alloc>::const_iterator find_alloc(const void *p) {
    uintptr_t u = reinterpret_cast<uintptr_t>(p);
    auto it = allocs.upper_bound(u);
    if (it == allocs.begin()) return allocs.end();
    --it;
    if (u >= it->first && u < it->first + it->second.bytes) return it;
    return allocs.end();
}

void at_exit_report() {
    size_t leaked = 0, n = 0;
    {
        std::lock_guard<std::mutex> lk(mu);
        for (auto &kv : allocs) leaked += kv.second.bytes, n++;
    }
    if (n)
        std::fprintf(stderr, "emu: note: %zu device allocation(s), %zu bytes, not freed at exit\n", n,
                     leaked);
    long v = emu::violations.load();
    if (v) {
        std::fprintf(stderr, "emu: FAIL: %ld CUDA/cuBLAS/cuDNN contract violation(s) in this run "
                             "(see the 'emu:' lines above)\n", v);
        std::fflush(stderr);
        std::_Exit(1);
    }
}

void launch_stream_check(const char *kernel, cudaStream_t s) {
    if (!emu::gpu::stream_live(s))
        emu::gpu::fault("kernel %s launched on %s stream %p", kernel,
                        s ? "a destroyed or unknown" : "the legacy default (NULL)", (void *)s);
}

void launch_pointer_check(const char *kernel, int arg, const void *p) {
    if (p && !emu::gpu::is_device(p))
        emu::gpu::fault("kernel %s: argument %d (%p) is not a device pointer", kernel, arg, p);
}

void install_hooks_locked() {
    if (hooks_installed) return;
    hooks_installed = true;
    /* Grid cap of the grid-stride kernels (FCE_GRID_MAX of common.cuh, made overridable by
     * cu2cpp.py): every CUDA thread is a fiber here (emu_cuda.h), and a GPU-sized grid of
     * thousands of blocks still costs minutes on the CPU. FCE_EMU_GRID_MAX=N caps grids at N blocks (0: the
     * kernels' own cap); the default 4 makes the grid-stride loops iterate, which the kernel
     * test (test_emu_kernels, grid cap 3) shows gives the same results. */
    if (emu::grid_max_override == 0) {
        const char *env = std::getenv("FCE_EMU_GRID_MAX");
        emu::grid_max_override = env ? (unsigned)std::strtoul(env, nullptr, 10) : 4u;
    }
    emu::launch_stream_hook = launch_stream_check;
    emu::launch_pointer_hook = launch_pointer_check;
    emu::launch_enqueue_hook = emu::gpu::enqueue;
    std::atexit(at_exit_report);
}

cudaError_t ret(cudaError_t e) {
    int f = fatal.load();
    if (f) return static_cast<cudaError_t>(f);
    return e;
}

/* Invalidates one capture (caller holds mu). */
void invalidate_locked(CUstream_st *s, const char *why) {
    if (!s->capturing || s->invalidated) return;
    s->invalidated = true;
    s->recorded.clear();
    std::fprintf(stderr, "emu: stream capture on stream %p invalidated: %s\n", (void *)s, why);
}

/* Global capture mode: while any stream is being captured, a call that may synchronise or
 * allocate (cudaMalloc, cudaFree, cudaHostAlloc, cudaFreeHost, a synchronisation) is refused with
 * cudaErrorStreamCaptureUnsupported and invalidates the captures (on a GPU only the calling
 * thread's; the emulation's backend captures one stream from one thread). cudaSuccess when no
 * capture is active. */
cudaError_t refuse_while_capturing(const char *call) {
    std::lock_guard<std::mutex> lk(mu);
    if (!active_captures) return cudaSuccess;
    for (const CUstream_st *c : streams) invalidate_locked(const_cast<CUstream_st *>(c), call);
    return cudaErrorStreamCaptureUnsupported;
}

/* Is [p, p + bytes) inside one cudaHostAlloc block? (caller holds mu) */
bool in_pinned_locked(const void *p, size_t bytes) {
    uintptr_t u = reinterpret_cast<uintptr_t>(p);
    auto it = pinned.upper_bound(u);
    if (it == pinned.begin()) return false;
    --it;
    return u >= it->first && u - it->first <= it->second && bytes <= it->second - (u - it->first);
}

}  // namespace

namespace emu::gpu {

bool in_device(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = find_alloc(p);
    if (it == allocs.end()) return false;
    uintptr_t u = reinterpret_cast<uintptr_t>(p);
    return bytes <= it->first + it->second.bytes - u;
}

bool is_device(const void *p) { return in_device(p, 0); }

bool count_only() { return emu::skip_compute.load(std::memory_order_relaxed); }

void count_library_call(library lib, double bytes, bool tf32) {
    if (!emu::replaying) emu::host_ops.fetch_add(1);
    if (lib == library::gemm) {
        counters.gemms.fetch_add(1);
        if (tf32) counters.gemms_tf32.fetch_add(1);
        counters.gemm_bytes.fetch_add((long long)bytes);
    } else {
        counters.dnn_calls.fetch_add(1);
        counters.dnn_bytes.fetch_add((long long)bytes);
    }
}

bool stream_live(cudaStream_t s) {
    std::lock_guard<std::mutex> lk(mu);
    return s && streams.count(s);
}

cudaError_t enqueue(cudaStream_t s, std::function<void()> work) {
    {
        std::lock_guard<std::mutex> lk(mu);
        if (s && streams.count(s) && s->capturing) {
            if (s->invalidated) return cudaErrorStreamCaptureInvalidated;
            s->recorded.push_back(std::move(work));
            return cudaSuccess;
        }
        if (!s && active_captures) {
            for (const CUstream_st *c : streams)
                invalidate_locked(const_cast<CUstream_st *>(c), "work on the legacy default stream");
            return cudaErrorStreamCaptureImplicit;
        }
    }
    work(); /* outside the lock: the work checks allocations, which takes it */
    return cudaSuccess;
}

bool capturing(cudaStream_t s) {
    std::lock_guard<std::mutex> lk(mu);
    return s && streams.count(s) && s->capturing;
}

void invalidate_capture(cudaStream_t s, const char *why) {
    std::lock_guard<std::mutex> lk(mu);
    if (s && streams.count(s)) invalidate_locked(s, why);
}

bool replaying() { return emu::replaying; }

bool replay_ranges_ok(const char *what, std::initializer_list<range> ranges) {
    if (!emu::replaying) return true;
    for (const range &r : ranges)
        if (r.p && !in_device(r.p, r.bytes)) {
            fault("graph replay: %s uses %p (%zu bytes), which is no longer inside a live device "
                  "allocation (freed after it was recorded?)", what, r.p, r.bytes);
            return false;
        }
    return true;
}

void fault(const char *fmt, ...) {
    emu::violations.fetch_add(1);
    fatal.store(cudaErrorIllegalAddress);
    std::fprintf(stderr, "emu: FAULT: ");
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "\n");
}

}  // namespace emu::gpu

extern "C" {

cudaError_t cudaGetLastError(void) {
    int f = fatal.load();
    if (f) return static_cast<cudaError_t>(f); /* sticky: never cleared */
    return static_cast<cudaError_t>(emu::last_error.exchange(0));
}

cudaError_t cudaPeekAtLastError(void) {
    int f = fatal.load();
    if (f) return static_cast<cudaError_t>(f);
    return static_cast<cudaError_t>(emu::last_error.load());
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulated)";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInsufficientDriver:
        return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered (emulated)";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorStreamCaptureUnsupported:
        return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
        return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureUnmatched: return "capture was not initiated in this stream";
    case cudaErrorStreamCaptureImplicit:
        return "operation would make the legacy stream depend on a capturing blocking stream";
    }
    return "unknown error (emulated)";
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    }
    return "cudaErrorUnknown";
}

/* FCE_EMU_DEVICE_COUNT=0 makes the emulated machine have no device (cudaErrorNoDevice, the count
 * left untouched), to exercise the no-GPU paths; default 1. */
cudaError_t cudaGetDeviceCount(int *count) {
    if (!count) return cudaErrorInvalidValue;
    const char *env = std::getenv("FCE_EMU_DEVICE_COUNT");
    if (env && std::strcmp(env, "0") == 0) return cudaErrorNoDevice;
    *count = 1;
    return ret(cudaSuccess);
}

cudaError_t cudaGetDevice(int *device) {
    if (!device) return cudaErrorInvalidValue;
    *device = current_device;
    return ret(cudaSuccess);
}

cudaError_t cudaSetDevice(int device) {
    if (device != 0) return cudaErrorInvalidDevice;
    current_device = device;
    return ret(cudaSuccess);
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device) {
    if (!prop) return cudaErrorInvalidValue;
    if (device != 0) return cudaErrorInvalidDevice;
    std::memset(prop, 0, sizeof *prop);
    std::snprintf(prop->name, sizeof prop->name, "emulated GPU");
    prop->totalGlobalMem = (size_t)16 << 30;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    prop->warpSize = 32;
    return ret(cudaSuccess);
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    if (!p) return cudaErrorInvalidValue;
    if (fatal.load()) return ret(cudaSuccess);
    *p = nullptr;
    if (cudaError_t e = refuse_while_capturing("cudaMalloc")) return e;
    if (bytes == 0) return cudaSuccess; /* CUDA: a NULL pointer and success */
    if (bytes > ((size_t)16 << 30)) return cudaErrorMemoryAllocation;
    size_t body = (bytes + GUARD - 1) / GUARD * GUARD;
    const bool mapped = emu::gpu::count_only();
    unsigned char *raw;
    if (mapped) { /* zero pages, touched only where written: the guards and what is uploaded */
        void *m = mmap(nullptr, body + 2 * GUARD, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return cudaErrorMemoryAllocation;
        raw = static_cast<unsigned char *>(m);
        std::memset(raw, GUARD_BYTE, GUARD);
        std::memset(raw + GUARD + bytes, GUARD_BYTE, body + GUARD - bytes);
    } else {
        raw = static_cast<unsigned char *>(std::aligned_alloc(GUARD, body + 2 * GUARD));
        if (!raw) return cudaErrorMemoryAllocation;
        std::memset(raw, GUARD_BYTE, body + 2 * GUARD);
        std::memset(raw + GUARD, 0xFF, bytes); /* NaN as floats: device memory starts as garbage */
    }
    std::lock_guard<std::mutex> lk(mu);
    install_hooks_locked();
    allocs[reinterpret_cast<uintptr_t>(raw + GUARD)] = Alloc{raw, bytes, mapped};
    n_mallocs++;
    counters.allocs.fetch_add(1);
    *p = raw + GUARD;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (!p) return ret(cudaSuccess);
    if (cudaError_t e = refuse_while_capturing("cudaFree")) return e;
    Alloc a;
    {
        std::lock_guard<std::mutex> lk(mu);
        auto it = allocs.find(reinterpret_cast<uintptr_t>(p));
        if (it == allocs.end()) {
            std::fprintf(stderr, "emu: cudaFree(%p): not the start of a live device allocation\n", p);
            return cudaErrorInvalidValue;
        }
        a = it->second;
        allocs.erase(it);
    }
    counters.frees.fetch_add(1);
    size_t body = (a.bytes + GUARD - 1) / GUARD * GUARD;
    for (size_t i = 0; i < body + 2 * GUARD; i++) {
        if (i == GUARD) i = GUARD + a.bytes; /* the guard bytes only: before and after the data */
        if (i >= body + 2 * GUARD) break;
        if (a.raw[i] != GUARD_BYTE) {
            emu::gpu::fault("cudaFree(%p): the guard zone of this %zu-byte allocation was written "
                            "(byte %td relative to its start): an out-of-bounds write",
                            p, a.bytes, (ptrdiff_t)i - (ptrdiff_t)GUARD);
            break;
        }
    }
    if (a.mapped) munmap(a.raw, body + 2 * GUARD);
    else std::free(a.raw);
    return ret(cudaSuccess);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            cudaStream_t stream) {
    if (stream && !emu::gpu::stream_live(stream)) return ret(cudaErrorInvalidResourceHandle);
    if (fatal.load()) return ret(cudaSuccess);
    if (bytes == 0) return cudaSuccess;
    if (!dst || !src) return cudaErrorInvalidValue;
    const bool dd = emu::gpu::is_device(dst), sd = emu::gpu::is_device(src);
    bool want_dd, want_sd;
    switch (kind) {
    case cudaMemcpyHostToHost: want_dd = false, want_sd = false; break;
    case cudaMemcpyHostToDevice: want_dd = true, want_sd = false; break;
    case cudaMemcpyDeviceToHost: want_dd = false, want_sd = true; break;
    case cudaMemcpyDeviceToDevice: want_dd = true, want_sd = true; break;
    case cudaMemcpyDefault: want_dd = dd, want_sd = sd; break;
    default: return cudaErrorInvalidMemcpyDirection;
    }
    if (dd != want_dd || sd != want_sd) {
        std::fprintf(stderr, "emu: cudaMemcpyAsync kind %d: dst %p is %s memory, src %p is %s memory\n",
                     (int)kind, dst, dd ? "device" : "host", src, sd ? "device" : "host");
        return cudaErrorInvalidValue;
    }
    if ((dd && !emu::gpu::in_device(dst, bytes)) || (sd && !emu::gpu::in_device(src, bytes))) {
        emu::gpu::fault("cudaMemcpyAsync of %zu bytes from %p to %p runs past a device allocation",
                        bytes, src, dst);
        return ret(cudaSuccess);
    }
    if (emu::gpu::overlap(dst, bytes, src, bytes)) {
        emu::gpu::fault("cudaMemcpyAsync of %zu bytes: source %p and destination %p overlap", bytes,
                        src, dst);
        return ret(cudaSuccess);
    }
    if ((!dd || !sd) && emu::gpu::capturing(stream)) {
        /* A captured copy to or from the host reads or writes that memory at each replay: CUDA
         * captures it only from page-locked memory (cudaHostAlloc). */
        std::lock_guard<std::mutex> lk(mu);
        const void *host = dd ? src : dst;
        if (!in_pinned_locked(host, bytes)) {
            invalidate_locked(stream, "cudaMemcpyAsync to or from pageable host memory");
            return cudaErrorStreamCaptureUnsupported;
        }
    }
    if (!dd && !sd) { /* a host-to-host "copy" is no stream operation of the device */
        std::memcpy(dst, src, bytes);
        return cudaSuccess;
    }
    return emu::gpu::enqueue(stream, [dst, src, bytes, dd, sd] {
        if (!emu::gpu::replay_ranges_ok("cudaMemcpyAsync", {{dd ? dst : nullptr, bytes},
                                                            {sd ? src : nullptr, bytes}}))
            return;
        (dd && sd ? counters.d2d : dd ? counters.h2d : counters.d2h).fetch_add(1);
        if (!emu::replaying) emu::host_ops.fetch_add(1);
        counters.copy_bytes.fetch_add((long long)bytes);
        if (dd && sd && emu::gpu::count_only()) return;
        std::memcpy(dst, src, bytes);
    });
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream) {
    if (stream && !emu::gpu::stream_live(stream)) return ret(cudaErrorInvalidResourceHandle);
    if (fatal.load()) return ret(cudaSuccess);
    if (bytes == 0) return cudaSuccess;
    if (!emu::gpu::is_device(p)) return cudaErrorInvalidValue;
    if (!emu::gpu::in_device(p, bytes)) {
        emu::gpu::fault("cudaMemsetAsync of %zu bytes at %p runs past its device allocation", bytes, p);
        return ret(cudaSuccess);
    }
    return emu::gpu::enqueue(stream, [p, value, bytes] {
        if (!emu::gpu::replay_ranges_ok("cudaMemsetAsync", {{p, bytes}})) return;
        counters.memsets.fetch_add(1);
        if (!emu::replaying) emu::host_ops.fetch_add(1);
        counters.memset_bytes.fetch_add((long long)bytes);
        if (emu::gpu::count_only()) return;
        std::memset(p, value, bytes);
    });
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags) {
    if (!stream) return cudaErrorInvalidValue;
    if (flags & ~(unsigned)cudaStreamNonBlocking) return cudaErrorInvalidValue;
    if (fatal.load()) return ret(cudaSuccess);
    auto *s = new CUstream_st();
    s->flags = flags;
    std::lock_guard<std::mutex> lk(mu);
    install_hooks_locked();
    streams.insert(s);
    *stream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    if (!stream) return cudaErrorInvalidResourceHandle;
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!streams.erase(stream)) return cudaErrorInvalidResourceHandle;
        if (stream->capturing) { /* the capture ends with the stream */
            stream->capturing = false;
            stream->recorded.clear();
            active_captures--;
        }
    }
    /* Not deleted: a later stream never gets the same address, so a destroyed handle stays
     * detectably dead (a few bytes per stream). */
    return ret(cudaSuccess);
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    if (stream && !emu::gpu::stream_live(stream)) return ret(cudaErrorInvalidResourceHandle);
    if (cudaError_t e = refuse_while_capturing("cudaStreamSynchronize")) return e;
    counters.syncs.fetch_add(1);
    return ret(cudaSuccess); /* all work is already done */
}

cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned int flags) {
    if (!p || flags != cudaHostAllocDefault) return cudaErrorInvalidValue;
    if (cudaError_t e = refuse_while_capturing("cudaHostAlloc")) return e;
    *p = std::malloc(bytes ? bytes : 1);
    if (!*p) return cudaErrorMemoryAllocation;
    {
        std::lock_guard<std::mutex> lk(mu);
        pinned[reinterpret_cast<uintptr_t>(*p)] = bytes;
    }
    counters.allocs.fetch_add(1);
    return ret(cudaSuccess);
}

cudaError_t cudaFreeHost(void *p) {
    if (!p) return ret(cudaSuccess);
    if (cudaError_t e = refuse_while_capturing("cudaFreeHost")) return e;
    {
        std::lock_guard<std::mutex> lk(mu);
        pinned.erase(reinterpret_cast<uintptr_t>(p));
    }
    counters.frees.fetch_add(1);
    std::free(p);
    return ret(cudaSuccess);
}

cudaError_t cudaDeviceSynchronize(void) {
    if (cudaError_t e = refuse_while_capturing("cudaDeviceSynchronize")) return e;
    counters.syncs.fetch_add(1);
    return ret(cudaSuccess);
}

/* Device memory in use: 16 GiB in all, free = total − the live allocations. */
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    if (!free_bytes || !total_bytes) return cudaErrorInvalidValue;
    size_t used = 0;
    {
        std::lock_guard<std::mutex> lk(mu);
        for (auto &kv : allocs) used += kv.second.bytes;
    }
    *total_bytes = (size_t)16 << 30;
    *free_bytes = used < *total_bytes ? *total_bytes - used : 0;
    return ret(cudaSuccess);
}

// ---- stream capture and graphs (global capture mode; see refuse_while_capturing) ----

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
    if (!stream) return cudaErrorStreamCaptureUnsupported; /* the legacy stream cannot capture */
    if (mode != cudaStreamCaptureModeGlobal) {
        std::fprintf(stderr, "emu: cudaStreamBeginCapture: only cudaStreamCaptureModeGlobal is "
                             "emulated (mode %d)\n", (int)mode);
        return cudaErrorInvalidValue;
    }
    if (fatal.load()) return ret(cudaSuccess);
    std::lock_guard<std::mutex> lk(mu);
    if (!streams.count(stream)) return cudaErrorInvalidResourceHandle;
    if (stream->capturing) return cudaErrorIllegalState;
    stream->capturing = true;
    stream->invalidated = false;
    stream->recorded.clear();
    active_captures++;
    counters.captures.fetch_add(1);
    return cudaSuccess;
}

/* Ends the capture whatever happened in it; an invalidated capture gives no graph. */
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    if (!graph) return cudaErrorInvalidValue;
    *graph = nullptr;
    std::lock_guard<std::mutex> lk(mu);
    if (!stream || !streams.count(stream)) return cudaErrorInvalidResourceHandle;
    if (!stream->capturing) return cudaErrorStreamCaptureUnmatched;
    stream->capturing = false;
    active_captures--;
    work_list work = std::move(stream->recorded);
    stream->recorded.clear();
    if (stream->invalidated) return cudaErrorStreamCaptureInvalidated;
    if (fatal.load()) return ret(cudaSuccess);
    auto *g = new CUgraph_st{std::make_shared<const work_list>(std::move(work))};
    graphs.insert(g);
    *graph = g;
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus *status) {
    if (!status) return cudaErrorInvalidValue;
    std::lock_guard<std::mutex> lk(mu);
    if (!stream) { /* the legacy stream: asking while a capture is active is itself an error */
        *status = cudaStreamCaptureStatusNone;
        return active_captures ? cudaErrorStreamCaptureImplicit : ret(cudaSuccess);
    }
    if (!streams.count(stream)) return cudaErrorInvalidResourceHandle;
    *status = !stream->capturing ? cudaStreamCaptureStatusNone
              : stream->invalidated ? cudaStreamCaptureStatusInvalidated
                                    : cudaStreamCaptureStatusActive;
    return ret(cudaSuccess);
}

/* flags: only 0 is emulated. The executable shares the graph's recorded work (immutable). */
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
    if (!exec) return cudaErrorInvalidValue;
    *exec = nullptr;
    if (flags != 0) return cudaErrorInvalidValue;
    if (fatal.load()) return ret(cudaSuccess);
    std::lock_guard<std::mutex> lk(mu);
    if (!graph || !graphs.count(graph)) return cudaErrorInvalidValue;
    auto *e = new CUgraphExec_st{graph->work};
    graphs.insert(e);
    *exec = e;
    return cudaSuccess;
}

/* Runs the recorded work in order on `stream` (synchronously, as all emulated work; or records
 * the whole replay when `stream` is itself being captured). Counted as one graph launch; the
 * operations it runs are counted as they run, as when they were issued eagerly. */
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    std::shared_ptr<const work_list> work;
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!exec || !graphs.count(exec)) return cudaErrorInvalidResourceHandle;
        if (stream && !streams.count(stream)) return cudaErrorInvalidResourceHandle;
        work = exec->work;
    }
    if (fatal.load()) return ret(cudaSuccess);
    return ret(emu::gpu::enqueue(stream, [work] {
        counters.graph_launches.fetch_add(1);
        const bool outer = emu::replaying;
        emu::replaying = true;
        for (const auto &op : *work) {
            if (fatal.load()) break; /* a faulted device runs nothing more */
            op();
        }
        emu::replaying = outer;
    }));
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!exec || !graphs.erase(exec)) return cudaErrorInvalidValue;
    }
    delete exec;
    return ret(cudaSuccess);
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    {
        std::lock_guard<std::mutex> lk(mu);
        if (!graph || !graphs.erase(graph)) return cudaErrorInvalidValue;
    }
    delete graph;
    return ret(cudaSuccess);
}

void fce_emu_counters_read(fce_emu_counters *o) {
    std::memset(o, 0, sizeof *o);
    o->launches = emu::launches.load();
    o->unaccounted_launches = emu::unaccounted_launches.load();
    o->kernel_bytes_read = (double)emu::kernel_bytes_read.load();
    o->kernel_bytes_written = (double)emu::kernel_bytes_written.load();
    o->gemms = counters.gemms.load();
    o->gemms_tf32 = counters.gemms_tf32.load();
    o->dnn_calls = counters.dnn_calls.load();
    o->memsets = counters.memsets.load();
    o->copies_h2d = counters.h2d.load();
    o->copies_d2h = counters.d2h.load();
    o->copies_d2d = counters.d2d.load();
    o->host_syncs = counters.syncs.load();
    o->allocs = counters.allocs.load();
    o->frees = counters.frees.load();
    o->gemm_bytes = (double)counters.gemm_bytes.load();
    o->dnn_bytes = (double)counters.dnn_bytes.load();
    o->memset_bytes = (double)counters.memset_bytes.load();
    o->copy_bytes = (double)counters.copy_bytes.load();
    o->graph_launches = counters.graph_launches.load();
    o->host_ops = emu::host_ops.load();
    o->captures = counters.captures.load();
}

long long fce_emu_stream_ops(const fce_emu_counters *c) {
    return c->launches + c->gemms + c->dnn_calls + c->memsets + c->copies_h2d + c->copies_d2h +
           c->copies_d2d;
}

void fce_emu_counters_diff(const fce_emu_counters *a, const fce_emu_counters *b, fce_emu_counters *o) {
#define EMU_DIFF(f) o->f = b->f - a->f;
    EMU_DIFF(launches) EMU_DIFF(unaccounted_launches) EMU_DIFF(gemms) EMU_DIFF(gemms_tf32)
    EMU_DIFF(dnn_calls) EMU_DIFF(memsets) EMU_DIFF(copies_h2d) EMU_DIFF(copies_d2h)
    EMU_DIFF(copies_d2d) EMU_DIFF(host_syncs) EMU_DIFF(allocs) EMU_DIFF(frees)
    EMU_DIFF(kernel_bytes_read) EMU_DIFF(kernel_bytes_written) EMU_DIFF(gemm_bytes)
    EMU_DIFF(dnn_bytes) EMU_DIFF(memset_bytes) EMU_DIFF(copy_bytes) EMU_DIFF(graph_launches) EMU_DIFF(host_ops)
    EMU_DIFF(captures)
#undef EMU_DIFF
}

void fce_emu_set_count_only(int on) { emu::skip_compute.store(on != 0); }
int fce_emu_count_only(void) { return emu::skip_compute.load() ? 1 : 0; }

}  // extern "C"
