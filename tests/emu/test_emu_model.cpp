/* test_emu_model.cpp: the emulation's execution model itself (emu_cuda.h), on small kernels written
 * here, so that a change to the fiber scheduler cannot silently change what the kernel tests mean:
 *  - a shared-memory tree reduction with __syncthreads between levels gives the exact sum for
 *    block sizes 1..1024 (powers of two and not), over several blocks;
 *  - a warp-shuffle reduction (__shfl_down_sync, __shfl_xor_sync) gives the exact sum per warp;
 *  - clean kernels report no violation;
 *  - threads that return before a barrier drop out of it (no hang, the others' data is right), and
 *    the uneven barrier counts are reported as a violation (the emulation's policy: formally
 *    undefined on the device);
 *  - a divergent __syncthreads and a shuffle with a partial mask are each reported as a violation. */
#include <cstdio>
#include <cstring>
#include <vector>

#include "emu_cuda.h"

static int failures = 0;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__);                                       \
            std::printf(__VA_ARGS__);                                                              \
            std::printf("\n");                                                                     \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

__global__ void tree_sum(const int *x, int *out, int n) {
    __shared__ int s[1024];
    unsigned t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    s[t] = i < (unsigned)n ? x[i] : 0;
    __syncthreads();
    for (unsigned half = 512; half > 0; half /= 2) { /* uniform loop: every thread takes it */
        if (t < half && t + half < blockDim.x) s[t] += s[t + half];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

__global__ void warp_sum(const int *x, int *out) {
    unsigned t = threadIdx.x;
    int v = x[t];
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    int w = x[t];
    for (int m = 16; m > 0; m /= 2) w += __shfl_xor_sync(0xffffffffu, w, m);
    if (t % 32 == 0) out[t / 32] = v;
    out[32 + t] = w; /* xor: every lane holds the warp's sum */
}

__global__ void early_return(int *out) {
    __shared__ int s[256];
    unsigned t = threadIdx.x;
    if (t >= 100) return; /* drops out of the barrier below */
    s[t] = (int)t;
    __syncthreads();
    out[t] = s[99 - t];
}

__global__ void divergent_barrier(int *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void partial_mask(int *out) {
    out[threadIdx.x] = __shfl_sync(0x0000ffffu, (int)threadIdx.x, 0);
}

int main() {
    for (unsigned bs : {1u, 2u, 31u, 32u, 33u, 100u, 256u, 1000u, 1024u}) {
        const int blocks = 3, n = (int)bs * blocks - 1;
        std::vector<int> x(n), out(blocks, -1);
        for (int i = 0; i < n; i++) x[i] = (i * 7919) % 1000 - 500;
        emu::launch("tree_sum", tree_sum, dim3(blocks), dim3(bs), 0, nullptr, x.data(), out.data(), n);
        for (int b = 0; b < blocks; b++) {
            long want = 0;
            for (int i = b * (int)bs; i < (b + 1) * (int)bs && i < n; i++) want += x[i];
            CHECK(out[b] == want, "tree_sum block size %u, block %d: %d, want %ld", bs, b, out[b], want);
        }
    }
    {
        std::vector<int> x(96), out(32 + 96, 0);
        for (int i = 0; i < 96; i++) x[i] = i * i - 40;
        emu::launch("warp_sum", warp_sum, dim3(1), dim3(96), 0, nullptr, x.data(), out.data());
        for (int w = 0; w < 3; w++) {
            int want = 0;
            for (int i = 32 * w; i < 32 * w + 32; i++) want += x[i];
            CHECK(out[w] == want, "shfl_down warp %d: %d, want %d", w, out[w], want);
            for (int l = 0; l < 32; l++)
                CHECK(out[32 + 32 * w + l] == want, "shfl_xor warp %d lane %d: %d, want %d", w, l,
                      out[32 + 32 * w + l], want);
        }
    }
    CHECK(emu::violations.load() == 0, "clean kernels reported %ld violations", emu::violations.load());
    std::printf("expected below: three violations (early return, divergent barrier, partial mask)\n");
    {
        std::vector<int> out(256, -1);
        emu::launch("early_return", early_return, dim3(1), dim3(256), 0, nullptr, out.data());
        for (int t = 0; t < 100; t++) CHECK(out[t] == 99 - t, "early_return %d: %d", t, out[t]);
        CHECK(out[100] == -1, "early_return wrote past the returned threads");
        CHECK(emu::violations.load() == 1, "early return: %ld violations, want 1", emu::violations.load());
    }
    std::vector<int> out(64, 0);
    emu::launch("divergent_barrier", divergent_barrier, dim3(1), dim3(64), 0, nullptr, out.data());
    CHECK(emu::violations.load() == 2, "divergent barrier: %ld violations, want 2", emu::violations.load());
    emu::launch("partial_mask", partial_mask, dim3(1), dim3(32), 0, nullptr, out.data());
    CHECK(emu::violations.load() >= 3, "partial mask: %ld violations, want >= 3", emu::violations.load());
    std::printf("%s (%d failure(s))\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
