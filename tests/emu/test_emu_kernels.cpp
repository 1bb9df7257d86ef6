/* test_emu_kernels.cpp: every CUDA launcher of src/kernels/fce_kernels.h, run on the CPU through an
 * emulation of CUDA, against its CPU reference fce_ref_* (src/host/ref/ref.h). Label `emu` and
 * `cpu`: it needs no GPU and no CUDA headers, so CI checks the kernels' logic on every run.
 *
 * How: tests/emu/cu2cpp.py rewrites each src/kernels/<op>.cu at build time (into the build folder)
 * so that kernel launches call emu::launch, and the result is compiled as C++20 against the
 * stand-in headers of tests/emu/include (cuda_runtime.h, cuda_runtime_api.h, emu_cuda.h). The
 * launchers themselves are compiled unchanged: their argument checks, early returns (n = 0, NULL
 * outputs), grid sizes and FCE_LAUNCH_CHECK all run.
 *
 * What the emulation covers (details in include/emu_cuda.h):
 *   - threadIdx / blockIdx / blockDim / gridDim for 1-D launches, every CUDA thread a std::thread;
 *   - __syncthreads (std::barrier), with divergent barriers reported as violations;
 *   - __shfl_sync / __shfl_down_sync / __shfl_xor_sync (full-warp, width 32) through per-warp
 *     barriers, with partial masks and divergent shuffles reported as violations;
 *   - __shared__ (one static copy per kernel, used by one block at a time);
 *   - __fadd_rn / __fmul_rn / __float2int_rn and the other _rn intrinsics, never contracted;
 *   - invalid launch configurations (grid or block 0, block > 1024) as the sticky launch error.
 * What it does NOT cover: the device memory model (there is one coherent host memory; races,
 * missing __threadfence, reads of uninitialised shared memory are not detected), concurrency
 * between blocks (blocks run one after another), streams (all work is synchronous), warp-level
 * lockstep assumptions beyond the shuffles, CUDA's device libm (the host libm is used, so exp/log
 * agree bit for bit here but may differ by an ulp on a GPU: test_gpu_ops covers that), occupancy,
 * register or shared-memory limits, performance, cuBLAS/cuDNN (src/host/cuda is not built here).
 *
 * Checks per case: the launcher returns the expected status; no emulation violation; no sticky
 * error left; every output equal to the reference within its tolerance (below); inputs unchanged;
 * 64-byte guard zones before and after every buffer untouched (out-of-bounds writes); n = 0 and
 * all-NULL-output calls launch nothing.
 *
 * Tolerances. The emulated kernel executes the device code's own float/double operations on the
 * host, so where the kernel and the reference do the same operations in the same order the result
 * is bit-identical, and the comparison is EXACT (bitwise; NaN equals NaN). They differ only where
 * the summation order differs: the kernels reduce in fixed trees (fce_block_sum, fce_warp_sum,
 * grid-stride partial sums) while the reference sums in index order, both in double. The double
 * sums then differ by a few double ulps (2^-52 relative to the sum of |terms|); after the single
 * rounding to float that is almost always 0, occasionally 1 float ulp (a value near a float
 * rounding boundary), so reductions use tol_red = 1 float ulp, plus an absolute floor of 1e-12 for
 * results that cancel to near 0 (where the double error, ~1e-15·Σ|terms| with Σ|terms| < 1e3 here,
 * can be many float ulps of a tiny result). See tol_red below.
 *
 * FMA build (test_emu_kernels_fma): the same kernels compiled with -ffp-contract=fast (and -mfma
 * on x86), as nvcc contracts a·b + c into an FMA by default. The reference stays uncontracted
 * (-ffp-contract=off). Contraction changes double intermediates by about one double ulp, which
 * survives the final rounding to float only rarely; elementwise double-then-round outputs get
 * tol_elem = 1 float ulp in that build (EXACT in the strict build). Measured so far: no element
 * needed either allowance (the run prints the count of in-tolerance, non-identical elements: 0). Pure float kernels with a
 * single operation per element (scale, leaky ReLU, copies) and the __fmul_rn/__fadd_rn paths
 * (Philox fills, dequantize, postprocess) must stay bit-exact in both builds.
 *
 * Usage: test_emu_kernels [--only SUBSTRING] [--grid-max N] [--self-test-broken] [-v]
 *   --grid-max N   cap grids at N blocks (default 3, so grid-stride loops iterate on small shapes;
 *                  0 keeps the kernels' own FCE_GRID_MAX).
 *   --self-test-broken  corrupt one element of the first `scale` result before the comparison:
 *                  the run must then FAIL (ctest test_emu_kernels_selftest checks that).
 * Exit: 0 all passed, 1 a failure, 77 skipped (FMA build on a CPU without FMA). */
#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "emu_cuda.h"
#include "fce/philox.h"
#include "fce_kernels.h"
#include "ref/ref.h"

namespace {

// ---------------------------------------------------------------- tolerances

struct Tol {
    int ulps;    /* allowed distance in float ulps */
    double abs;  /* or allowed absolute difference */
};
constexpr Tol EXACT{0, 0.0};
/* Reductions in a different (fixed tree vs index) order, both in double: see the header. */
constexpr Tol tol_red{1, 1e-12};
#if defined(EMU_FMA)
/* Elementwise math done in double and rounded once: FMA contraction of the kernel moves the
 * double value by ~1 double ulp, which can flip the float rounding (see the header). */
constexpr Tol tol_elem{1, 0.0};
/* Reductions under contraction: as tol_red; the contracted partial products add ~1 double ulp
 * per term, the same order as the reordering error already allowed for. */
constexpr Tol tol_red_fma{1, 1e-12};
#else
constexpr Tol tol_elem = EXACT;
constexpr Tol tol_red_fma = tol_red;
#endif

// ---------------------------------------------------------------- random data

struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    float uni(float lo, float hi) { return lo + (hi - lo) * (float)((next() >> 40) * 0x1p-24); }
    std::vector<float> vec(size_t n, float lo, float hi) {
        std::vector<float> v(n);
        for (auto &x : v) x = uni(lo, hi);
        return v;
    }
};
Rng rng{20240601};

// ---------------------------------------------------------------- buffers

enum class Ty { F32, I32, U8 };
enum class Role {
    IN,     /* read only: must be unchanged */
    OUT,    /* pre-filled with the same garbage on both sides, compared */
    INOUT,  /* given the same initial values on both sides (accumulators, in-place), compared */
    NUL,    /* passed as NULL to both */
    ALIAS,  /* the same pointer as buffer `of` (in-place calls) */
};

struct Buf {
    std::string name;
    Ty ty = Ty::F32;
    Role role = Role::IN;
    Tol tol = EXACT;
    std::vector<unsigned char> init;
    size_t n = 0;
    int of = -1;
};

size_t esize(Ty t) { return t == Ty::U8 ? 1 : 4; }

Buf fbuf(const char *name, Role r, const std::vector<float> &v, Tol t) {
    Buf b;
    b.name = name;
    b.role = r;
    b.tol = t;
    b.n = v.size();
    b.init.resize(v.size() * 4);
    if (!v.empty()) std::memcpy(b.init.data(), v.data(), b.init.size());
    return b;
}
Buf in(const char *name, const std::vector<float> &v) { return fbuf(name, Role::IN, v, EXACT); }
Buf out(const char *name, size_t n, Tol t = EXACT) {
    return fbuf(name, Role::OUT, std::vector<float>(n, -777.25f), t);
}
Buf inout(const char *name, const std::vector<float> &v, Tol t = EXACT) {
    return fbuf(name, Role::INOUT, v, t);
}
Buf nul(const char *name) {
    Buf b;
    b.name = name;
    b.role = Role::NUL;
    return b;
}
Buf alias(const char *name, int of) {
    Buf b;
    b.name = name;
    b.role = Role::ALIAS;
    b.of = of;
    return b;
}
Buf in_i32(const char *name, const std::vector<int32_t> &v) {
    Buf b;
    b.name = name;
    b.ty = Ty::I32;
    b.n = v.size();
    b.init.resize(v.size() * 4);
    if (!v.empty()) std::memcpy(b.init.data(), v.data(), b.init.size());
    return b;
}
Buf u8buf(const char *name, Role r, const std::vector<uint8_t> &v) {
    Buf b;
    b.name = name;
    b.ty = Ty::U8;
    b.role = r;
    b.n = v.size();
    b.init.assign(v.begin(), v.end());
    return b;
}

/* Host memory with guard zones on both sides. */
constexpr size_t GUARD = 64;
constexpr unsigned char GUARD_BYTE = 0xA5;
struct Mem {
    std::vector<unsigned char> raw;
    size_t bytes = 0;
    explicit Mem(const std::vector<unsigned char> &init) : raw(init.size() + 2 * GUARD, GUARD_BYTE),
                                                           bytes(init.size()) {
        if (!init.empty()) std::memcpy(raw.data() + GUARD, init.data(), init.size());
    }
    unsigned char *p() { return raw.data() + GUARD; }
    bool guards_ok() const {
        for (size_t i = 0; i < GUARD; i++)
            if (raw[i] != GUARD_BYTE || raw[GUARD + bytes + i] != GUARD_BYTE) return false;
        return true;
    }
};

// ---------------------------------------------------------------- comparison

int64_t ordered(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}
bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }
bool close(float got, float ref, Tol t) {
    if (same_bits(got, ref) || (std::isnan(got) && std::isnan(ref))) return true;
    if (std::isnan(got) || std::isnan(ref) || std::isinf(got) || std::isinf(ref)) return false;
    if (std::fabs((double)got - (double)ref) <= t.abs) return true;
    int64_t d = ordered(got) - ordered(ref);
    return (d < 0 ? -d : d) <= t.ulps;
}

// ---------------------------------------------------------------- the runner

int g_failures = 0, g_cases = 0;
long g_inexact = 0;     /* elements that passed within a tolerance without being bit-identical */
int64_t g_inexact_max = 0;  /* their largest distance in float ulps */
bool g_verbose = false, g_break = false, g_broken_done = false;
const char *g_only = nullptr;
std::string g_op; /* current op family, for --only */

using Ptrs = std::vector<void *>;
using CudaFn = std::function<fce_status(const Ptrs &)>;
using RefFn = std::function<void(const Ptrs &)>;

void fail(const std::string &label, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(const std::string &label, const char *fmt, ...) {
    std::printf("FAIL %s: ", label.c_str());
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::printf("\n");
}

/* Runs one case: the launcher on one set of buffers, the reference on another, then compares.
 * `expect` is the launcher's expected status; when it is not OK the reference is not called and
 * every buffer must be unchanged. `may_launch` = false: the call must launch no kernel. */
void run_case(const std::string &label, std::vector<Buf> bufs, const CudaFn &cuda, const RefFn &ref,
              fce_status expect = FCE_STATUS_OK, bool may_launch = true) {
    if (g_only && label.find(g_only) == std::string::npos) return;
    g_cases++;
    int bad = 0;
    std::vector<Mem> mg, mr;
    mg.reserve(bufs.size());
    mr.reserve(bufs.size());
    for (auto &b : bufs) {
        mg.emplace_back(b.init);
        mr.emplace_back(b.init);
    }
    Ptrs pg(bufs.size(), nullptr), pr(bufs.size(), nullptr);
    for (size_t i = 0; i < bufs.size(); i++) {
        if (bufs[i].role == Role::NUL) continue;
        if (bufs[i].role == Role::ALIAS) {
            pg[i] = pg[bufs[i].of];
            pr[i] = pr[bufs[i].of];
            continue;
        }
        pg[i] = mg[i].p();
        pr[i] = mr[i].p();
    }
    const long l0 = emu::launches.load(), v0 = emu::violations.load();
    fce_status st = cuda(pg);
    const long nl = emu::launches.load() - l0;
    if (st != expect) {
        fail(label, "launcher returned status %d, expected %d", (int)st, (int)expect);
        bad++;
    }
    if (emu::violations.load() != v0) {
        fail(label, "%ld CUDA programming-model violation(s) (see stderr)", emu::violations.load() - v0);
        bad++;
    }
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
        fail(label, "sticky CUDA error left after the launcher: %s", cudaGetErrorString(e));
        bad++;
    }
    if (!may_launch && nl != 0) {
        fail(label, "%ld kernel launch(es) where none was expected", nl);
        bad++;
    }
    if (g_break && !g_broken_done && label.rfind("scale", 0) == 0) {
        for (size_t i = 0; i < bufs.size(); i++)
            if ((bufs[i].role == Role::OUT || bufs[i].role == Role::INOUT) && bufs[i].n > 0) {
                float *y = static_cast<float *>(pg[i]);
                y[bufs[i].n / 2] = -y[bufs[i].n / 2] + 1.0f;
                std::printf("self-test: corrupted %s[%zu] of %s; this case must FAIL\n",
                            bufs[i].name.c_str(), bufs[i].n / 2, label.c_str());
                g_broken_done = true;
                break;
            }
    }
    if (expect == FCE_STATUS_OK) ref(pr);
    for (size_t i = 0; i < bufs.size(); i++) {
        const Buf &b = bufs[i];
        if (b.role == Role::NUL || b.role == Role::ALIAS) continue;
        if (!mg[i].guards_ok()) {
            fail(label, "out-of-bounds write next to %s (kernel side)", b.name.c_str());
            bad++;
        }
        if (!mr[i].guards_ok()) {
            fail(label, "out-of-bounds write next to %s (reference side)", b.name.c_str());
            bad++;
        }
        const unsigned char *g = mg[i].p(), *r = mr[i].p();
        if (b.role == Role::IN || expect != FCE_STATUS_OK) {
            if (std::memcmp(g, b.init.data(), b.init.size()) != 0) {
                fail(label, "%s was modified by the kernel", b.name.c_str());
                bad++;
            }
            continue;
        }
        size_t nbad = 0, worst = 0;
        double worst_d = -1;
        for (size_t k = 0; k < b.n; k++) {
            bool ok;
            double d;
            if (b.ty == Ty::F32) {
                float x, y;
                std::memcpy(&x, g + 4 * k, 4);
                std::memcpy(&y, r + 4 * k, 4);
                ok = close(x, y, b.tol);
                if (ok && !same_bits(x, y) && !(std::isnan(x) && std::isnan(y))) {
                    int64_t u = ordered(x) - ordered(y);
                    g_inexact++;
                    g_inexact_max = std::max(g_inexact_max, u < 0 ? -u : u);
                }
                d = std::isnan(x) != std::isnan(y) ? INFINITY : std::fabs((double)x - (double)y);
            } else {
                ok = std::memcmp(g + esize(b.ty) * k, r + esize(b.ty) * k, esize(b.ty)) == 0;
                d = ok ? 0 : 1;
            }
            if (!ok) {
                nbad++;
                if (d > worst_d || std::isnan(d)) worst_d = d, worst = k;
            }
        }
        if (nbad) {
            bad++;
            if (b.ty == Ty::F32) {
                float x, y;
                std::memcpy(&x, g + 4 * worst, 4);
                std::memcpy(&y, r + 4 * worst, 4);
                fail(label, "%s: %zu of %zu differ; worst [%zu] kernel %.9g ref %.9g (%" PRId64
                     " ulp; tol %d ulp / %g)", b.name.c_str(), nbad, b.n, worst, (double)x,
                     (double)y, ordered(x) - ordered(y), b.tol.ulps, b.tol.abs);
            } else if (b.ty == Ty::U8) {
                fail(label, "%s: %zu of %zu differ; first [%zu] kernel %u ref %u", b.name.c_str(),
                     nbad, b.n, worst, g[worst], r[worst]);
            } else {
                fail(label, "%s: %zu of %zu differ", b.name.c_str(), nbad, b.n);
            }
        }
    }
    if (bad) g_failures++;
    else if (g_verbose) std::printf("ok   %s (%ld launches)\n", label.c_str(), nl);
}

std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char *f, ...) {
    char b[256];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    return b;
}

#define F(i) static_cast<float *>(p[i])
#define CF(i) static_cast<const float *>(p[i])

/* Sizes of flat arrays: empty, one, partial warp, one warp + 1, a block −1/+1, more blocks than
 * the default test grid cap (3 × 256 = 768) so that grid-stride loops iterate. */
const size_t FLAT_N[] = {0, 1, 31, 33, 255, 256, 257, 769, 2000};

// ---------------------------------------------------------------- ops

void test_rng() {
    const uint64_t seeds[] = {0, 0x0123456789abcdefull};
    const uint64_t offs[] = {0, 5, 0xffffffffull - 300}; /* the last crosses the counter's hi word */
    for (size_t n : {(size_t)0, (size_t)1, (size_t)257, (size_t)1000})
        for (uint64_t seed : seeds)
            for (uint64_t off : offs) {
                std::string s = fmt("n=%zu seed=%" PRIx64 " off=%" PRIu64, n, seed, off);
                float sd = 0.75f, lo = -1.5f, hi = 2.25f;
                bool ml = n > 0;
                /* Bit-exact against the reference... */
                run_case("rng fill_normal vs ref " + s, {out("x", n)},
                         [&](const Ptrs &p) { return fce_cuda_fill_normal(F(0), n, seed, off, sd, 0); },
                         [&](const Ptrs &p) { fce_ref_fill_normal(F(0), n, seed, off, sd); },
                         FCE_STATUS_OK, ml);
                run_case("rng fill_uniform vs ref " + s, {out("x", n)},
                         [&](const Ptrs &p) {
                             return fce_cuda_fill_uniform(F(0), n, seed, off, lo, hi, 0);
                         },
                         [&](const Ptrs &p) { fce_ref_fill_uniform(F(0), n, seed, off, lo, hi); },
                         FCE_STATUS_OK, ml);
                /* ...and against include/fce/philox.h directly (x = std·normal; x = lo + range·u,
                 * range = hi − lo, each operation rounded once). */
                run_case("rng fill_normal vs philox.h " + s, {out("x", n)},
                         [&](const Ptrs &p) { return fce_cuda_fill_normal(F(0), n, seed, off, sd, 0); },
                         [&](const Ptrs &p) {
                             for (size_t i = 0; i < n; i++)
                                 F(0)[i] = emu::opaque(sd * fce_philox_normal(seed, off + i));
                         },
                         FCE_STATUS_OK, ml);
                run_case("rng fill_uniform vs philox.h " + s, {out("x", n)},
                         [&](const Ptrs &p) {
                             return fce_cuda_fill_uniform(F(0), n, seed, off, lo, hi, 0);
                         },
                         [&](const Ptrs &p) {
                             const float range = emu::opaque(hi - lo);
                             for (size_t i = 0; i < n; i++)
                                 F(0)[i] = lo + emu::opaque(range * fce_philox_uniform(seed, off + i));
                         },
                         FCE_STATUS_OK, ml);
            }
}

void test_scale_act() {
    for (size_t n : FLAT_N) {
        auto x = rng.vec(n, -3, 3);
        if (n > 4) x[0] = 0.0f, x[1] = -0.0f, x[2] = NAN, x[3] = -INFINITY, x[4] = 1e-40f;
        auto dy = rng.vec(n, -2, 2);
        bool ml = n > 0;
        for (float a : {-1.0f, 0.3712f}) {
            run_case(fmt("scale n=%zu alpha=%g", n, (double)a), {in("x", x), out("y", n)},
                     [&](const Ptrs &p) { return fce_cuda_scale(F(1), CF(0), n, a, 0); },
                     [&](const Ptrs &p) { fce_ref_scale(F(1), CF(0), n, a); }, FCE_STATUS_OK, ml);
            run_case(fmt("scale in-place n=%zu alpha=%g", n, (double)a), {inout("x", x), alias("y", 0)},
                     [&](const Ptrs &p) { return fce_cuda_scale(F(1), CF(0), n, a, 0); },
                     [&](const Ptrs &p) { fce_ref_scale(F(1), CF(0), n, a); }, FCE_STATUS_OK, ml);
        }
        for (float slope : {0.0f, 0.2f}) {
            run_case(fmt("leaky_relu_forward n=%zu slope=%g", n, (double)slope),
                     {in("x", x), out("y", n)},
                     [&](const Ptrs &p) { return fce_cuda_leaky_relu_forward(F(1), CF(0), n, slope, 0); },
                     [&](const Ptrs &p) { fce_ref_leaky_relu_forward(F(1), CF(0), n, slope); },
                     FCE_STATUS_OK, ml);
            run_case(fmt("leaky_relu_backward n=%zu slope=%g", n, (double)slope),
                     {in("dy", dy), in("x", x), out("dx", n)},
                     [&](const Ptrs &p) {
                         return fce_cuda_leaky_relu_backward(F(2), CF(0), CF(1), n, slope, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_leaky_relu_backward(F(2), CF(0), CF(1), n, slope); },
                     FCE_STATUS_OK, ml);
            run_case(fmt("leaky_relu_backward in-place n=%zu slope=%g", n, (double)slope),
                     {inout("dy", dy), in("x", x), alias("dx", 0)},
                     [&](const Ptrs &p) {
                         return fce_cuda_leaky_relu_backward(F(2), CF(0), CF(1), n, slope, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_leaky_relu_backward(F(2), CF(0), CF(1), n, slope); },
                     FCE_STATUS_OK, ml);
        }
        run_case(fmt("leaky_relu_backward dx=NULL n=%zu", n), {in("dy", dy), in("x", x), nul("dx")},
                 [&](const Ptrs &p) { return fce_cuda_leaky_relu_backward(F(2), CF(0), CF(1), n, 0.2f, 0); },
                 [&](const Ptrs &) {}, FCE_STATUS_OK, false);
    }
}

void test_channels_bias() {
    struct S { int dC, d0, sC, s0, cnt; size_t rows; };
    const S shapes[] = {{6, 3, 4, 1, 3, 257}, {6, 0, 6, 0, 6, 100}, {2, 1, 3, 2, 1, 1000},
                        {5, 2, 5, 0, 0, 10},  {4, 0, 4, 2, 2, 0},   {8, 4, 8, 0, 4, 97}};
    for (const S &s : shapes)
        for (int acc : {0, 1}) {
            auto dst = rng.vec(s.rows * s.dC, -1, 1), src = rng.vec(s.rows * s.sC, -1, 1);
            run_case(fmt("channels_copy dst %d@%d src %d@%d count %d rows %zu acc %d", s.dC, s.d0,
                         s.sC, s.s0, s.cnt, s.rows, acc),
                     {inout("dst", dst), in("src", src)},
                     [&](const Ptrs &p) {
                         return fce_cuda_channels_copy(F(0), s.dC, s.d0, CF(1), s.sC, s.s0, s.cnt,
                                                       s.rows, acc, 0);
                     },
                     [&](const Ptrs &p) {
                         fce_ref_channels_copy(F(0), s.dC, s.d0, CF(1), s.sC, s.s0, s.cnt, s.rows, acc);
                     },
                     FCE_STATUS_OK, s.rows * s.cnt > 0);
        }
    const int bshapes[][2] = {{0, 5}, {1, 1}, {3, 7}, {300, 5}, {513, 2}, {2, 11}, {4, 0}};
    for (auto &sh : bshapes) {
        int N = sh[0], O = sh[1];
        auto b = rng.vec(O, -2, 2), dy = rng.vec((size_t)N * O, -1, 1), db = rng.vec(O, -1, 1);
        bool ml = N > 0 && O > 0;
        /* y[n, o] = b[o]: a copy, so the hand reference is exact. */
        run_case(fmt("bias_broadcast N=%d out=%d", N, O), {in("b", b), out("y", (size_t)N * O)},
                 [&](const Ptrs &p) { return fce_cuda_bias_broadcast(F(1), CF(0), N, O, 0); },
                 [&](const Ptrs &p) {
                     for (int n = 0; n < N; n++)
                         for (int o = 0; o < O; o++) F(1)[(size_t)n * O + o] = CF(0)[o];
                 },
                 FCE_STATUS_OK, ml);
        /* db += Σ_n dy: block tree vs index order, both in double (tol_red). The reference is the
         * dense layer's backward with dx = dW = NULL. */
        run_case(fmt("bias_backward N=%d out=%d", N, O), {inout("db", db, tol_red), in("dy", dy)},
                 [&](const Ptrs &p) { return fce_cuda_bias_backward(F(0), CF(1), N, O, 0); },
                 [&](const Ptrs &p) {
                     fce_ref_linear_backward(nullptr, nullptr, F(0), CF(1), nullptr, nullptr, N, 1, O);
                 },
                 FCE_STATUS_OK, ml);
    }
    run_case("bias_backward db=NULL", {nul("db"), in("dy", rng.vec(30, -1, 1))},
             [&](const Ptrs &p) { return fce_cuda_bias_backward(F(0), CF(1), 10, 3, 0); },
             [&](const Ptrs &) {}, FCE_STATUS_OK, false);
}

void test_actnorm() {
    const int shapes[][3] = {{0, 3, 2}, {1, 1, 1}, {3, 5, 6}, {2, 7, 48}, {33, 1, 3}, {5, 64, 3}, {2, 3, 7}};
    for (auto &sh : shapes) {
        const int N = sh[0], HW = sh[1], C = sh[2];
        const size_t n = (size_t)N * HW * C;
        auto x = rng.vec(n, -2, 2), bias = rng.vec(C, -1, 1), logs = rng.vec(C, -0.3f, 0.3f);
        auto dy = rng.vec(n, -1, 1), dl = rng.vec(N, -1, 1), ld = rng.vec(N, -5, 5);
        auto db = rng.vec(C, -1, 1), ds = rng.vec(C, -1, 1);
        const std::string s = fmt("N=%d HW=%d C=%d", N, HW, C);
        for (int dir = 0; dir < 2; dir++) {
            auto fwd = dir ? fce_cuda_actnorm_inverse : fce_cuda_actnorm_forward;
            auto rfw = dir ? fce_ref_actnorm_inverse : fce_ref_actnorm_forward;
            const char *nm = dir ? "actnorm_inverse" : "actnorm_forward";
            /* y: the same double expression, rounded once (tol_elem). logdet: HW·Σ_c 3·logs_c,
             * a block tree sum vs index order (tol_red). */
            for (int with_ld = 0; with_ld < 2; with_ld++)
                run_case(fmt("%s %s logdet=%s", nm, s.c_str(), with_ld ? "yes" : "NULL"),
                         {out("y", n, tol_elem), with_ld ? inout("logdet", ld, tol_red_fma) : nul("logdet"),
                          in("x", x), in("bias", bias), in("logs", logs)},
                         [&](const Ptrs &p) { return fwd(F(0), F(1), CF(2), CF(3), CF(4), N, HW, C, 0); },
                         [&](const Ptrs &p) { rfw(F(0), F(1), CF(2), CF(3), CF(4), N, HW, C); });
            auto bwd = dir ? fce_cuda_actnorm_inverse_backward : fce_cuda_actnorm_backward;
            auto rbw = dir ? fce_ref_actnorm_inverse_backward : fce_ref_actnorm_backward;
            const char *bn = dir ? "actnorm_inverse_backward" : "actnorm_backward";
            /* mask bits: 1 dact, 2 dbias, 4 dlogs, 8 dlogdet given */
            for (int mask : {15, 7, 14, 13, 11, 1, 0, 8}) {
                std::vector<Buf> b = {
                    mask & 1 ? out("dact", n, tol_elem) : nul("dact"),
                    mask & 2 ? inout("dbias", db, tol_red_fma) : nul("dbias"),
                    mask & 4 ? inout("dlogs", ds, tol_red_fma) : nul("dlogs"),
                    in("g", dy), in("v", x),
                    mask & 8 ? in("dlogdet", dl) : nul("dlogdet"),
                    in("bias", bias), in("logs", logs)};
                run_case(fmt("%s %s mask=%d", bn, s.c_str(), mask), b,
                         [&](const Ptrs &p) {
                             return bwd(F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6), CF(7), N, HW, C, 0);
                         },
                         [&](const Ptrs &p) {
                             rbw(F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6), CF(7), N, HW, C);
                         },
                         FCE_STATUS_OK, (mask & 7) != 0);
            }
        }
        /* init: mean and centred second moment (tree vs index order, tol_red); N = 0 leaves the
         * parameters unchanged on both sides. */
        run_case("actnorm_init " + s,
                 {inout("bias", bias, tol_red_fma), inout("logs", logs, tol_red_fma), in("x", x)},
                 [&](const Ptrs &p) { return fce_cuda_actnorm_init(F(0), F(1), CF(2), N, HW, C, 0); },
                 [&](const Ptrs &p) { fce_ref_actnorm_init(F(0), F(1), CF(2), N, HW, C); },
                 FCE_STATUS_OK, N * HW > 0);
    }
}

std::vector<float> perm_of(int C) {
    std::vector<float> p(C);
    std::iota(p.begin(), p.end(), 0.0f);
    for (int i = C - 1; i > 0; i--) std::swap(p[i], p[rng.next() % (uint64_t)(i + 1)]);
    return p;
}

void test_invconv() {
    for (int C : {1, 2, 3, 12, 48, 64}) {
        auto perm = perm_of(C), sign = rng.vec(C, -1, 1), L = rng.vec((size_t)C * C, -0.3f, 0.3f),
             U = rng.vec((size_t)C * C, -0.3f, 0.3f), logs = rng.vec(C, -0.3f, 0.3f);
        for (auto &v : sign) v = v < 0 ? -1.0f : 1.0f;
        const size_t CC = (size_t)C * C;
        /* W: a dot product over the band in the reference's order; W⁻¹: the same triangular
         * solves in the same order: both bit-exact in the strict build. */
        for (int m : {3, 1, 2})
            run_case(fmt("invconv_lu_weights C=%d W=%s Winv=%s", C, m & 1 ? "yes" : "NULL",
                         m & 2 ? "yes" : "NULL"),
                     {m & 1 ? out("W", CC, tol_elem) : nul("W"), m & 2 ? out("Winv", CC, tol_elem) : nul("Winv"),
                      in("perm", perm), in("sign", sign), in("L", L), in("U", U), in("logs", logs)},
                     [&](const Ptrs &p) {
                         return fce_cuda_invconv_lu_weights(F(0), F(1), CF(2), CF(3), CF(4), CF(5), CF(6), C, 0);
                     },
                     [&](const Ptrs &p) { /* the reference needs both outputs */
                         std::vector<float> sW(CC), sV(CC);
                         fce_ref_invconv_lu_weights(F(0) ? F(0) : sW.data(), F(1) ? F(1) : sV.data(),
                                                    CF(2), CF(3), CF(4), CF(5), CF(6), C);
                     });
        std::vector<float> W(CC), Winv(CC);
        fce_ref_invconv_lu_weights(W.data(), Winv.data(), perm.data(), sign.data(), L.data(), U.data(),
                                   logs.data(), C);
        auto dW = rng.vec(CC, -1, 1), dWinv = rng.vec(CC, -1, 1);
        auto dL = rng.vec(CC, -1, 1), dU = rng.vec(CC, -1, 1), ds = rng.vec(C, -1, 1);
        /* mode: which of dW / dWinv is given; outputs: which of dL / dU / dlogs. The matrix
         * products are double dot products; the kernel's order matches the reference's where it
         * can, but G = dW − T·W⁻ᵀ cancels, so allow tol_red. */
        for (int mode = 1; mode <= 3; mode++)
            for (int outs : {7, 1, 2, 4}) {
                run_case(fmt("invconv_lu_backward C=%d dW=%s dWinv=%s outs=%d", C,
                             mode & 1 ? "yes" : "NULL", mode & 2 ? "yes" : "NULL", outs),
                         {outs & 1 ? inout("dL", dL, tol_red_fma) : nul("dL"),
                          outs & 2 ? inout("dU", dU, tol_red_fma) : nul("dU"),
                          outs & 4 ? inout("dlogs", ds, tol_red_fma) : nul("dlogs"),
                          mode & 1 ? in("dW", dW) : nul("dW"), mode & 2 ? in("dWinv", dWinv) : nul("dWinv"),
                          in("Winv", Winv), in("perm", perm), in("sign", sign), in("L", L), in("U", U),
                          in("logs", logs)},
                         [&](const Ptrs &p) {
                             return fce_cuda_invconv_lu_backward(F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6),
                                                                 CF(7), CF(8), CF(9), CF(10), C, 0);
                         },
                         [&](const Ptrs &p) {
                             fce_ref_invconv_lu_backward(F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6), CF(7),
                                                         CF(8), CF(9), CF(10), C);
                         });
            }
    }
    /* C above the kernel's limit: FCE_STATUS_ERR_UNSUPPORTED, nothing launched or written. */
    {
        const int C = 65;
        std::vector<float> z((size_t)C * C, 0.5f), zc(C, 0.5f);
        run_case("invconv_lu_weights C=65 unsupported", {out("W", (size_t)C * C), out("Winv", (size_t)C * C),
                  in("perm", zc), in("sign", zc), in("L", z), in("U", z), in("logs", zc)},
                 [&](const Ptrs &p) {
                     return fce_cuda_invconv_lu_weights(F(0), F(1), CF(2), CF(3), CF(4), CF(5), CF(6), C, 0);
                 },
                 [&](const Ptrs &) {}, FCE_STATUS_ERR_UNSUPPORTED, false);
    }
    const int ld_shapes[][3] = {{0, 4, 3}, {1, 1, 1}, {7, 16, 12}, {300, 4, 48}, {3, 2, 0}};
    for (auto &sh : ld_shapes)
        for (float dir : {1.0f, -1.0f}) {
            const int N = sh[0], HW = sh[1], C = sh[2];
            auto logs = rng.vec(C, -0.5f, 0.5f), ld = rng.vec(N, -5, 5), dl = rng.vec(N, -1, 1),
                 ds = rng.vec(C, -1, 1);
            const std::string s = fmt("N=%d HW=%d C=%d dir=%g", N, HW, C, (double)dir);
            run_case("invconv_logdet " + s, {inout("logdet", ld, tol_red), in("logs", logs)},
                     [&](const Ptrs &p) { return fce_cuda_invconv_logdet(F(0), CF(1), N, HW, C, dir, 0); },
                     [&](const Ptrs &p) { fce_ref_invconv_logdet(F(0), CF(1), N, HW, C, dir); },
                     FCE_STATUS_OK, N > 0);
            run_case("invconv_logdet_backward " + s, {inout("dlogs", ds, tol_red), in("dlogdet", dl)},
                     [&](const Ptrs &p) {
                         return fce_cuda_invconv_logdet_backward(F(0), CF(1), N, HW, C, dir, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_invconv_logdet_backward(F(0), CF(1), N, HW, C, dir); },
                     FCE_STATUS_OK, C > 0);
        }
}

void test_coupling() {
    const int shapes[][3] = {{0, 2, 2}, {1, 1, 2}, {3, 5, 6}, {9, 3, 12}, {50, 1, 2}, {17, 20, 4}, {2, 40, 2}};
    for (auto &sh : shapes) {
        const int N = sh[0], HW = sh[1], C = sh[2];
        const size_t n = (size_t)N * HW * C;
        auto x = rng.vec(n, -2, 2), h = rng.vec(n, -4, 4), dy = rng.vec(n, -1, 1), dl = rng.vec(N, -1, 1),
             ld = rng.vec(N, -5, 5);
        const std::string s = fmt("N=%d HW=%d C=%d", N, HW, C);
        for (int dir = 0; dir < 2; dir++) {
            auto fwd = dir ? fce_cuda_coupling_affine_inverse : fce_cuda_coupling_affine_forward;
            auto rfw = dir ? fce_ref_coupling_affine_inverse : fce_ref_coupling_affine_forward;
            const char *nm = dir ? "coupling_affine_inverse" : "coupling_affine_forward";
            /* logdet: one warp per sample, shuffle tree vs index order (tol_red). */
            for (int with_ld = 0; with_ld < 2; with_ld++)
                run_case(fmt("%s %s logdet=%s", nm, s.c_str(), with_ld ? "yes" : "NULL"),
                         {out("y", n, tol_elem), with_ld ? inout("logdet", ld, tol_red_fma) : nul("logdet"),
                          in("x", x), in("h", h)},
                         [&](const Ptrs &p) { return fwd(F(0), F(1), CF(2), CF(3), N, HW, C, 0); },
                         [&](const Ptrs &p) { rfw(F(0), F(1), CF(2), CF(3), N, HW, C); });
            auto bwd = dir ? fce_cuda_coupling_affine_inverse_backward : fce_cuda_coupling_affine_backward;
            auto rbw = dir ? fce_ref_coupling_affine_inverse_backward : fce_ref_coupling_affine_backward;
            const char *bn = dir ? "coupling_affine_inverse_backward" : "coupling_affine_backward";
            for (int mask : {7, 3, 5, 6, 4}) { /* 1 dout, 2 dh, 4 dlogdet */
                run_case(fmt("%s %s mask=%d", bn, s.c_str(), mask),
                         {mask & 1 ? out("dout", n, tol_elem) : nul("dout"),
                          mask & 2 ? out("dh", n, tol_elem) : nul("dh"), in("g", dy), in("v", x), in("h", h),
                          mask & 4 ? in("dlogdet", dl) : nul("dlogdet")},
                         [&](const Ptrs &p) {
                             return bwd(F(0), F(1), CF(2), CF(3), CF(4), CF(5), N, HW, C, 0);
                         },
                         [&](const Ptrs &p) { rbw(F(0), F(1), CF(2), CF(3), CF(4), CF(5), N, HW, C); },
                         FCE_STATUS_OK, n > 0 && (mask & 3));
            }
        }
    }
    /* additive coupling: sums of two floats in double rounded once: exact (also with FMA: no
     * product to contract). */
    const int ashapes[][2] = {{0, 2}, {1, 2}, {7, 6}, {300, 4}, {257, 8}};
    for (auto &sh : ashapes) {
        const size_t rows = (size_t)sh[0];
        const int C = sh[1];
        const size_t n = rows * C, nh = rows * (C / 2);
        auto x = rng.vec(n, -2, 2), h = rng.vec(nh, -2, 2), g = rng.vec(n, -1, 1);
        const std::string s = fmt("rows=%zu C=%d", rows, C);
        const bool ml = n > 0;
        run_case("coupling_additive_forward " + s, {out("y", n), in("x", x), in("h", h)},
                 [&](const Ptrs &p) { return fce_cuda_coupling_additive_forward(F(0), CF(1), CF(2), rows, C, 0); },
                 [&](const Ptrs &p) { fce_ref_coupling_additive_forward(F(0), CF(1), CF(2), rows, C); },
                 FCE_STATUS_OK, ml);
        run_case("coupling_additive_inverse " + s, {out("x", n), in("y", x), in("h", h)},
                 [&](const Ptrs &p) { return fce_cuda_coupling_additive_inverse(F(0), CF(1), CF(2), rows, C, 0); },
                 [&](const Ptrs &p) { fce_ref_coupling_additive_inverse(F(0), CF(1), CF(2), rows, C); },
                 FCE_STATUS_OK, ml);
        run_case("coupling_additive_forward in-place " + s, {inout("y", x), alias("x", 0), in("h", h)},
                 [&](const Ptrs &p) { return fce_cuda_coupling_additive_forward(F(0), CF(1), CF(2), rows, C, 0); },
                 [&](const Ptrs &p) { fce_ref_coupling_additive_forward(F(0), CF(1), CF(2), rows, C); },
                 FCE_STATUS_OK, ml);
        for (float dir : {1.0f, -1.0f}) {
            const std::string sd = s + fmt(" dir=%g", (double)dir);
            run_case("coupling_additive_backward " + sd, {out("din", n), out("dh", nh), in("dout", g)},
                     [&](const Ptrs &p) {
                         return fce_cuda_coupling_additive_backward(F(0), F(1), CF(2), rows, C, dir, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_coupling_additive_backward(F(0), F(1), CF(2), rows, C, dir); },
                     FCE_STATUS_OK, ml);
            run_case("coupling_additive_backward din=NULL " + sd, {nul("din"), out("dh", nh), in("dout", g)},
                     [&](const Ptrs &p) {
                         return fce_cuda_coupling_additive_backward(F(0), F(1), CF(2), rows, C, dir, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_coupling_additive_backward(F(0), F(1), CF(2), rows, C, dir); },
                     FCE_STATUS_OK, ml);
            run_case("coupling_additive_backward dh=NULL " + sd, {out("din", n), nul("dh"), in("dout", g)},
                     [&](const Ptrs &p) {
                         return fce_cuda_coupling_additive_backward(F(0), F(1), CF(2), rows, C, dir, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_coupling_additive_backward(F(0), F(1), CF(2), rows, C, dir); },
                     FCE_STATUS_OK, ml);
            /* din = dout (in place): the launcher skips the copy. */
            run_case("coupling_additive_backward in-place " + sd, {inout("dout", g), out("dh", nh), alias("din", 0)},
                     [&](const Ptrs &p) {
                         return fce_cuda_coupling_additive_backward(F(2), F(1), CF(0), rows, C, dir, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_coupling_additive_backward(F(2), F(1), CF(0), rows, C, dir); },
                     FCE_STATUS_OK, ml);
        }
    }
}

void test_squeeze() {
    const int shapes[][4] = {{0, 2, 2, 1}, {1, 2, 2, 1}, {3, 2, 8, 3}, {2, 8, 4, 5}, {4, 8, 8, 3}, {2, 16, 16, 2}};
    for (auto &sh : shapes) {
        const int N = sh[0], H = sh[1], W = sh[2], C = sh[3];
        const size_t n = (size_t)N * H * W * C;
        auto x = rng.vec(n, -3, 3);
        const std::string s = fmt("N=%d H=%d W=%d C=%d", N, H, W, C);
        run_case("squeeze_forward " + s, {out("y", n), in("x", x)},
                 [&](const Ptrs &p) { return fce_cuda_squeeze_forward(F(0), CF(1), N, H, W, C, 0); },
                 [&](const Ptrs &p) { fce_ref_squeeze_forward(F(0), CF(1), N, H, W, C); }, FCE_STATUS_OK, n > 0);
        run_case("squeeze_inverse " + s, {out("x", n), in("y", x)},
                 [&](const Ptrs &p) { return fce_cuda_squeeze_inverse(F(0), CF(1), N, H, W, C, 0); },
                 [&](const Ptrs &p) { fce_ref_squeeze_inverse(F(0), CF(1), N, H, W, C); }, FCE_STATUS_OK, n > 0);
    }
}

void test_gaussian() {
    /* D up to 1024: one warp per sample (N > 8·3 samples makes the warps stride); D > 1024: one
     * block per sample. */
    const int shapes[][2] = {{0, 4}, {4, 0}, {1, 1}, {9, 7}, {3, 33}, {30, 5}, {2, 1024}, {3, 1025}, {2, 1500}};
    for (auto &sh : shapes) {
        const int N = sh[0], D = sh[1];
        const size_t n = (size_t)N * D;
        auto z = rng.vec(n, -3, 3), m = rng.vec(n, -1, 1), ls = rng.vec(n, -1, 1), dl = rng.vec(N, -1, 1),
             lp = rng.vec(N, -5, 5), dz = rng.vec(n, -1, 1);
        const std::string s = fmt("N=%d D=%d", N, D);
        run_case("gaussian_logp " + s, {inout("logp", lp, tol_red_fma), in("z", z)},
                 [&](const Ptrs &p) { return fce_cuda_gaussian_logp(F(0), CF(1), N, D, 0); },
                 [&](const Ptrs &p) { fce_ref_gaussian_logp(F(0), CF(1), N, D); }, FCE_STATUS_OK, N > 0);
        run_case("gaussian_logp_backward_acc " + s, {inout("dz", dz, tol_elem), in("z", z), in("dlogp", dl)},
                 [&](const Ptrs &p) { return fce_cuda_gaussian_logp_backward_acc(F(0), CF(1), CF(2), N, D, 0); },
                 [&](const Ptrs &p) { fce_ref_gaussian_logp_backward_acc(F(0), CF(1), CF(2), N, D); },
                 FCE_STATUS_OK, n > 0);
        run_case("gaussian_diag_logp " + s, {inout("logp", lp, tol_red_fma), in("z", z), in("mean", m), in("logs", ls)},
                 [&](const Ptrs &p) { return fce_cuda_gaussian_diag_logp(F(0), CF(1), CF(2), CF(3), N, D, 0); },
                 [&](const Ptrs &p) { fce_ref_gaussian_diag_logp(F(0), CF(1), CF(2), CF(3), N, D); },
                 FCE_STATUS_OK, n > 0);
        for (int mask : {7, 1, 2, 4, 0}) { /* 1 dz, 2 dmean, 4 dlogs */
            run_case(fmt("gaussian_diag_logp_backward_acc %s mask=%d", s.c_str(), mask),
                     {mask & 1 ? inout("dz", dz, tol_elem) : nul("dz"), mask & 2 ? out("dmean", n, tol_elem) : nul("dmean"),
                      mask & 4 ? out("dlogs", n, tol_elem) : nul("dlogs"), in("z", z), in("mean", m),
                      in("logs", ls), in("dlogp", dl)},
                     [&](const Ptrs &p) {
                         return fce_cuda_gaussian_diag_logp_backward_acc(F(0), F(1), F(2), CF(3), CF(4), CF(5),
                                                                         CF(6), N, D, 0);
                     },
                     [&](const Ptrs &p) {
                         fce_ref_gaussian_diag_logp_backward_acc(F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6), N, D);
                     },
                     FCE_STATUS_OK, n > 0 && mask);
        }
    }
}

void test_nce() {
    for (int n : {1, 7, 255, 256, 257, 600})
        for (float gs : {1.0f, -0.5f}) {
            auto fx = rng.vec(n, -3, 3), fxt = rng.vec(n, -3, 3), lq = rng.vec(n, -3, 3), lqt = rng.vec(n, -3, 3);
            if (n > 3) fx[0] = 60, fxt[1] = -60, lq[2] = 40, lqt[3] = -40; /* saturated sigmoids */
            std::vector<float> c = {0.3f}, dc = {0.5f};
            for (int mask : {31, 0, 16, 5, 10}) { /* 1 dfx, 2 dfxt, 4 dlq, 8 dlqt, 16 dc */
                /* stats and dc are block-tree sums (tol_red); the per-element gradients are the
                 * same double expression rounded once (tol_elem). */
                run_case(fmt("nce_loss n=%d gscale=%g mask=%d", n, (double)gs, mask),
                         {out("stats", 2, tol_red_fma), mask & 1 ? out("dfx", n, tol_elem) : nul("dfx"),
                          mask & 2 ? out("dfxt", n, tol_elem) : nul("dfxt"), mask & 4 ? out("dlq", n, tol_elem) : nul("dlq"),
                          mask & 8 ? out("dlqt", n, tol_elem) : nul("dlqt"), mask & 16 ? inout("dc", dc, tol_red_fma) : nul("dc"),
                          in("fx", fx), in("fxt", fxt), in("lq", lq), in("lqt", lqt), in("c", c)},
                         [&](const Ptrs &p) {
                             return fce_cuda_nce_loss(F(0), F(1), F(2), F(3), F(4), F(5), CF(6), CF(7), CF(8),
                                                      CF(9), CF(10), n, gs, 0);
                         },
                         [&](const Ptrs &p) {
                             fce_ref_nce_loss(F(0), F(1), F(2), F(3), F(4), F(5), CF(6), CF(7), CF(8), CF(9),
                                              CF(10), n, gs);
                         });
            }
        }
}

void test_softmax() {
    const int shapes[][2] = {{1, 1}, {1, 10}, {37, 10}, {40, 33}, {3, 70}, {17, 5}, {100, 3}};
    for (auto &sh : shapes) {
        const int N = sh[0], K = sh[1];
        auto z = rng.vec((size_t)N * K, -4, 4);
        std::vector<int32_t> y(N);
        for (auto &v : y) v = (int32_t)(rng.next() % (uint64_t)K);
        if (N > 3) y[1] = -1, y[2] = K;                              /* invalid labels: NaN loss */
        if (N > 5) for (int k = 0; k < K; k++) z[5 * (size_t)K + k] = 1.0f; /* all tied */
        if (N > 6 && K > 3) z[6 * (size_t)K + 3] = 10, z[6 * (size_t)K + 1] = 10, y[6] = 1; /* tie → lower k */
        std::vector<float> st = {1.0f, 2.0f};
        for (float gs : {1.0f, 0.25f})
            for (int mask : {3, 1, 2}) { /* 1 stats, 2 dlogits */
                run_case(fmt("softmax_xent N=%d K=%d gscale=%g mask=%d", N, K, (double)gs, mask),
                         {mask & 1 ? inout("stats", st, tol_red_fma) : nul("stats"),
                          mask & 2 ? out("dlogits", (size_t)N * K, tol_elem) : nul("dlogits"), in("logits", z),
                          in_i32("labels", y)},
                         [&](const Ptrs &p) {
                             return fce_cuda_softmax_xent(F(0), F(1), CF(2), static_cast<const int32_t *>(p[3]),
                                                          N, K, gs, 0);
                         },
                         [&](const Ptrs &p) {
                             fce_ref_softmax_xent(F(0), F(1), CF(2), static_cast<const int32_t *>(p[3]), N, K, gs);
                         });
            }
    }
}

void test_optim() {
    for (size_t n : {(size_t)0, (size_t)1, (size_t)255, (size_t)257, (size_t)1000})
        for (int t : {1, 10}) {
            auto pp = rng.vec(n, -1, 1), g = rng.vec(n, -2, 2), m = rng.vec(n, -0.5f, 0.5f), v = rng.vec(n, 0, 0.5f);
            if (n > 2) g[0] = 0.0f, v[1] = 0.0f, g[2] = -3.0f;
            const std::string s = fmt("n=%zu t=%d", n, t);
            /* Per element: the same double expressions as the reference, rounded once. */
            run_case("adam_step " + s, {inout("p", pp, tol_elem), in("g", g), inout("m", m, tol_elem), inout("v", v, tol_elem)},
                     [&](const Ptrs &p) {
                         return fce_cuda_adam_step(F(0), CF(1), F(2), F(3), n, 1e-3f, 0.9f, 0.999f, 1e-7f, t, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_adam_step(F(0), CF(1), F(2), F(3), n, 1e-3f, 0.9f, 0.999f, 1e-7f, t); },
                     FCE_STATUS_OK, n > 0);
            run_case("adamax_step " + s, {inout("p", pp, tol_elem), in("g", g), inout("m", m, tol_elem), inout("u", v, tol_elem)},
                     [&](const Ptrs &p) {
                         return fce_cuda_adamax_step(F(0), CF(1), F(2), F(3), n, 2e-3f, 0.9f, 0.999f, 1e-7f, t, 0);
                     },
                     [&](const Ptrs &p) { fce_ref_adamax_step(F(0), CF(1), F(2), F(3), n, 2e-3f, 0.9f, 0.999f, 1e-7f, t); },
                     FCE_STATUS_OK, n > 0);
        }
}

void test_preprocess() {
    /* Bit-exact in both builds: every float step is an exact product or a single rounding pinned
     * by __fmul_rn / __fadd_rn (preprocess.cu). */
    for (size_t n : {(size_t)0, (size_t)1, (size_t)256, (size_t)1000})
        for (int bits : {1, 5, 8})
            for (uint64_t off : {(uint64_t)0, (uint64_t)0xffffffffull - 500}) {
                std::vector<uint8_t> u8(n);
                for (size_t i = 0; i < n; i++) u8[i] = i < 256 && n >= 256 ? (uint8_t)i : (uint8_t)rng.next();
                run_case(fmt("dequantize n=%zu bits=%d off=%" PRIu64, n, bits, off),
                         {out("x", n), u8buf("u8", Role::IN, u8)},
                         [&](const Ptrs &p) {
                             return fce_cuda_dequantize(F(0), static_cast<const uint8_t *>(p[1]), n, bits, 77, off, 0);
                         },
                         [&](const Ptrs &p) { fce_ref_dequantize(F(0), static_cast<const uint8_t *>(p[1]), n, bits, 77, off); },
                         FCE_STATUS_OK, n > 0);
            }
    for (int bits : {1, 3, 5, 8}) {
        const float nb = (float)(1 << bits);
        std::vector<float> x = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 0.5f, -0.5f, 1e30f, -1e30f, 1e-40f, -1e-40f,
                                std::nextafter(0.5f, 0.0f), std::nextafter(-0.5f, 0.0f), std::nextafter(-0.5f, -1.0f)};
        for (int k = -(1 << bits) / 2 - 1; k <= (1 << bits) / 2 + 1; k++) { /* bin edges and neighbours */
            float e = (float)k / nb;
            x.push_back(e);
            x.push_back(std::nextafter(e, -2.0f));
            x.push_back(std::nextafter(e, 2.0f));
        }
        auto r = rng.vec(700, -0.6f, 0.6f);
        x.insert(x.end(), r.begin(), r.end());
        const size_t n = x.size();
        run_case(fmt("postprocess n=%zu bits=%d", n, bits),
                 {u8buf("u8", Role::OUT, std::vector<uint8_t>(n, 0xCD)), in("x", x)},
                 [&](const Ptrs &p) { return fce_cuda_postprocess(static_cast<uint8_t *>(p[0]), CF(1), n, bits, 0); },
                 [&](const Ptrs &p) { fce_ref_postprocess(static_cast<uint8_t *>(p[0]), CF(1), n, bits); });
    }
    run_case("postprocess n=0", {u8buf("u8", Role::OUT, {}), in("x", {})},
             [&](const Ptrs &p) { return fce_cuda_postprocess(static_cast<uint8_t *>(p[0]), CF(1), 0, 8, 0); },
             [&](const Ptrs &) {}, FCE_STATUS_OK, false);
}

int usage() {
    std::fprintf(stderr, "usage: test_emu_kernels [--only SUBSTRING] [--grid-max N] [--self-test-broken] [-v]\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv) {
#if defined(EMU_FMA_X86)
    /* The kernels of this build use FMA instructions; this file is compiled without them. */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("fma")) {
        std::printf("skipped: this CPU has no FMA instructions\n");
        return 77;
    }
#endif
    emu::grid_max_override = 3;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--only" && i + 1 < argc) g_only = argv[++i];
        else if (a == "--grid-max" && i + 1 < argc) emu::grid_max_override = (unsigned)std::strtoul(argv[++i], nullptr, 10);
        else if (a == "--self-test-broken") g_break = true;
        else if (a == "-v") g_verbose = true;
        else return usage();
    }
#if defined(EMU_FMA)
    const char *build = "FMA contraction ON (-ffp-contract=fast)";
#else
    const char *build = "no FMA contraction (-ffp-contract=off)";
#endif
    std::printf("emulated CUDA kernels vs CPU reference: %s, grid cap %s\n", build,
                emu::grid_max_override ? std::to_string(emu::grid_max_override).c_str() : "FCE_GRID_MAX");
    struct { const char *name; void (*fn)(); } groups[] = {
        {"rng", test_rng},           {"scale/activations", test_scale_act},
        {"channels/bias", test_channels_bias}, {"actnorm", test_actnorm},
        {"invconv", test_invconv},   {"coupling", test_coupling},
        {"squeeze", test_squeeze},   {"gaussian", test_gaussian},
        {"nce_loss", test_nce},      {"softmax_xent", test_softmax},
        {"optim", test_optim},       {"preprocess", test_preprocess},
    };
    for (auto &g : groups) {
        const int f0 = g_failures, c0 = g_cases;
        const long l0 = emu::launches.load();
        g.fn();
        if (g_cases > c0)
            std::printf("[%s] %-18s %4d cases, %5ld launches\n", g_failures > f0 ? "FAIL" : " ok ", g.name,
                        g_cases - c0, emu::launches.load() - l0);
    }
    if (g_break && !g_broken_done) {
        std::printf("FAIL self-test: no scale case ran, nothing was corrupted\n");
        g_failures++;
    }
    if (g_cases == 0) {
        std::printf("FAIL: no case selected\n");
        return 1;
    }
    std::printf("%ld compared elements were within tolerance but not bit-identical (max %" PRId64
                " ulp)\n", g_inexact, g_inexact_max);
    std::printf("%d cases, %d failed, %ld emulated launches, %ld violations\n", g_cases, g_failures,
                emu::launches.load(), emu::violations.load());
    return g_failures || emu::violations.load() ? 1 : 0;
}
