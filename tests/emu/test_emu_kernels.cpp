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
 *   - threadIdx / blockIdx / blockDim / gridDim for 1-D launches, every CUDA thread a fiber;
 *   - __syncthreads (a barrier over the block's fibers), with divergent barriers reported as violations;
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
 * Files: emu_runner.h/.cpp (the buffers, the comparison, run_case), the cases of the flow layers
 * in emu_flow_cases.cpp, the others and main here.
 *
 * Usage: test_emu_kernels [--only SUBSTRING] [--grid-max N] [--self-test-broken] [-v]
 *   --grid-max N   cap grids at N blocks (default 3, so grid-stride loops iterate on small shapes;
 *                  0 keeps the kernels' own FCE_GRID_MAX).
 *   --self-test-broken  corrupt one element of the first `scale` result before the comparison:
 *                  the run must then FAIL (ctest test_emu_kernels_selftest checks that).
 * Exit: 0 all passed, 1 a failure, 77 skipped (FMA build on a CPU without FMA). */
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "emu_cuda.h"
#include "emu_runner.h"
#include "fce/optim_sched.h"
#include "fce/philox.h"
#include "fce_kernels.h"
#include "ref/ref.h"

namespace emu_test {

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
                         KERNEL_AND_REF(fill_normal, F(0), n, seed, off, sd),
                         FCE_STATUS_OK, ml);
                /* the step-indexed form: offset split into an argument and a value in memory */
                const uint64_t add = off / 3, base = off - add;
                run_case("rng fill_normal_at vs ref " + s, {out("x", n)},
                         KERNEL_AND_REF(fill_normal_at, F(0), n, seed, base, &add, sd),
                         FCE_STATUS_OK, ml);
                run_case("rng fill_uniform vs ref " + s, {out("x", n)},
                         KERNEL_AND_REF(fill_uniform, F(0), n, seed, off, lo, hi),
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
                     KERNEL_AND_REF(scale, F(1), CF(0), n, a), FCE_STATUS_OK, ml);
            run_case(fmt("scale in-place n=%zu alpha=%g", n, (double)a), {inout("x", x), alias("y", 0)},
                     KERNEL_AND_REF(scale, F(1), CF(0), n, a), FCE_STATUS_OK, ml);
        }
        for (float slope : {0.0f, 0.2f}) {
            run_case(fmt("leaky_relu_forward n=%zu slope=%g", n, (double)slope),
                     {in("x", x), out("y", n)},
                     KERNEL_AND_REF(leaky_relu_forward, F(1), CF(0), n, slope),
                     FCE_STATUS_OK, ml);
            run_case(fmt("leaky_relu_backward n=%zu slope=%g", n, (double)slope),
                     {in("dy", dy), in("x", x), out("dx", n)},
                     KERNEL_AND_REF(leaky_relu_backward, F(2), CF(0), CF(1), n, slope),
                     FCE_STATUS_OK, ml);
            run_case(fmt("leaky_relu_backward in-place n=%zu slope=%g", n, (double)slope),
                     {inout("dy", dy), in("x", x), alias("dx", 0)},
                     KERNEL_AND_REF(leaky_relu_backward, F(2), CF(0), CF(1), n, slope),
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
                     KERNEL_AND_REF(channels_copy, F(0), s.dC, s.d0, CF(1), s.sC, s.s0, s.cnt, s.rows, acc),
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
                         KERNEL_AND_REF(nce_loss, F(0), F(1), F(2), F(3), F(4), F(5), CF(6), CF(7), CF(8), CF(9), CF(10), n, gs));
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
                         KERNEL_AND_REF(softmax_xent, F(0), F(1), CF(2), static_cast<const int32_t *>(p[3]), N, K, gs));
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
                     KERNEL_AND_REF(adam_step, F(0), CF(1), F(2), F(3), n, 1e-3f, 0.9f, 0.999f, 1e-7f, t),
                     FCE_STATUS_OK, n > 0);
            run_case("adamax_step " + s, {inout("p", pp, tol_elem), in("g", g), inout("m", m, tol_elem), inout("u", v, tol_elem)},
                     KERNEL_AND_REF(adamax_step, F(0), CF(1), F(2), F(3), n, 2e-3f, 0.9f, 0.999f, 1e-7f, t),
                     FCE_STATUS_OK, n > 0);
            /* the step-indexed forms, their scalars in memory (fce/optim_sched.h) */
            double sa[FCE_ADAM_SCHED], sx[FCE_ADAMAX_SCHED];
            fce_adam_sched(sa, 1e-3f, 0.9f, 0.999f, t);
            fce_adamax_sched(sx, 2e-3f, 0.9f, t);
            run_case("adam_step_at " + s, {inout("p", pp, tol_elem), in("g", g), inout("m", m, tol_elem), inout("v", v, tol_elem)},
                     KERNEL_AND_REF(adam_step_at, F(0), CF(1), F(2), F(3), n, 0.9f, 0.999f, 1e-7f, sa),
                     FCE_STATUS_OK, n > 0);
            run_case("adamax_step_at " + s, {inout("p", pp, tol_elem), in("g", g), inout("m", m, tol_elem), inout("u", v, tol_elem)},
                     KERNEL_AND_REF(adamax_step_at, F(0), CF(1), F(2), F(3), n, 0.9f, 0.999f, 1e-7f, sx),
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
                         KERNEL_AND_REF(dequantize, F(0), static_cast<const uint8_t *>(p[1]), n, bits, 77, off),
                         FCE_STATUS_OK, n > 0);
                const uint64_t add = off / 2, base = off - add;
                run_case(fmt("dequantize_at n=%zu bits=%d off=%" PRIu64, n, bits, off),
                         {out("x", n), u8buf("u8", Role::IN, u8)},
                         KERNEL_AND_REF(dequantize_at, F(0), static_cast<const uint8_t *>(p[1]), n, bits, 77,
                                        base, &add),
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
                 KERNEL_AND_REF(postprocess, static_cast<uint8_t *>(p[0]), CF(1), n, bits));
    }
    run_case("postprocess n=0", {u8buf("u8", Role::OUT, {}), in("x", {})},
             [&](const Ptrs &p) { return fce_cuda_postprocess(static_cast<uint8_t *>(p[0]), CF(1), 0, 8, 0); },
             [&](const Ptrs &) {}, FCE_STATUS_OK, false);
}
int usage() {
    std::fprintf(stderr, "usage: test_emu_kernels [--only SUBSTRING] [--grid-max N] [--self-test-broken] [-v]\n");
    return 2;
}

}  // namespace emu_test

int main(int argc, char **argv) {
    using namespace emu_test;
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
    /* Every launcher states its bytes (FCE_TRAFFIC, common.cuh) for the cost counters. */
    const long unaccounted = emu::unaccounted_launches.load();
    if (unaccounted)
        std::printf("FAIL: %ld launches outside an FCE_TRAFFIC scope: give every launcher its "
                    "FCE_TRAFFIC(read, written) before it launches\n", unaccounted);
    return g_failures || emu::violations.load() || unaccounted ? 1 : 0;
}
