/* emu_runner.h: the case runner of the emulated-kernel test (test_emu_kernels.cpp explains the
 * test): tolerances in float ulps, seeded random data, buffer descriptions, and run_case, which runs
 * one launcher against its CPU reference on guard-zoned copies of the same buffers and compares. */
#ifndef FCE_EMU_RUNNER_H
#define FCE_EMU_RUNNER_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fce/status.h"

namespace emu_test {

// ---------------------------------------------------------------- tolerances

struct Tol {
    int ulps;    /* allowed distance in float ulps */
    double abs;  /* or allowed absolute difference */
};
constexpr Tol EXACT{0, 0.0};
/* Reductions in a different (fixed tree vs index) order, both in double: see the header of
 * test_emu_kernels.cpp. */
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
/* The one generator of every case's data, in the order the cases run. */
extern Rng rng;

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

Buf in(const char *name, const std::vector<float> &v);
Buf out(const char *name, size_t n, Tol t = EXACT);
Buf inout(const char *name, const std::vector<float> &v, Tol t = EXACT);
Buf nul(const char *name);
Buf alias(const char *name, int of);
Buf in_i32(const char *name, const std::vector<int32_t> &v);
Buf u8buf(const char *name, Role r, const std::vector<uint8_t> &v);

// ---------------------------------------------------------------- the runner

using Ptrs = std::vector<void *>;
using CudaFn = std::function<fce_status(const Ptrs &)>;
using RefFn = std::function<void(const Ptrs &)>;

/* Runs one case: the launcher on one set of buffers, the reference on another, then compares.
 * `expect` is the launcher's expected status; when it is not OK the reference is not called and
 * every buffer must be unchanged. `may_launch` = false: the call must launch no kernel. */
void run_case(const std::string &label, std::vector<Buf> bufs, const CudaFn &cuda, const RefFn &ref,
              fce_status expect = FCE_STATUS_OK, bool may_launch = true);

std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* Counters and options, read and set by main. */
extern int g_failures, g_cases;
extern long g_inexact;        /* elements within a tolerance without being bit-identical */
extern int64_t g_inexact_max; /* their largest distance in float ulps */
extern bool g_verbose, g_break, g_broken_done;
extern const char *g_only;

/* Sizes of flat arrays: empty, one, partial warp, one warp + 1, a block −1/+1, more blocks than
 * the default test grid cap (3 × 256 = 768) so that grid-stride loops iterate. */
inline constexpr size_t FLAT_N[] = {0, 1, 31, 33, 255, 256, 257, 769, 2000};

// ---------------------------------------------------------------- the case groups

void test_rng();
void test_scale_act();
void test_channels_bias();
void test_actnorm();
void test_invconv();
void test_coupling();
void test_squeeze();
void test_gaussian();
void test_nce();
void test_softmax();
void test_optim();
void test_preprocess();

}  // namespace emu_test

/* Buffer i of a case as the launcher's and the reference's argument. */
#define F(i) static_cast<float *>(p[i])
#define CF(i) static_cast<const float *>(p[i])
/* The two run functions of run_case for one op on the same arguments: the launcher
 * fce_cuda_<op>(args..., stream 0) and the reference fce_ref_<op>(args...). */
#define KERNEL_AND_REF(op, ...)                                                                    \
    [&](const Ptrs &p) { return fce_cuda_##op(__VA_ARGS__, 0); },                                 \
        [&](const Ptrs &p) { fce_ref_##op(__VA_ARGS__); }

#endif
