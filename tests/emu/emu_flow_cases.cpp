/* emu_flow_cases.cpp: the emulated-kernel test's cases of the flow layers (test_emu_kernels.cpp
 * explains the test): actnorm, the LU-parameterised invertible map, affine and additive coupling,
 * squeeze, and the Gaussian priors. */
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "emu_cuda.h"
#include "emu_runner.h"
#include "fce_kernels.h"
#include "ref/ref.h"

namespace emu_test {

/* A flow layer's forward or inverse (label: the op and shape), with and without its log-det
 * output: y (buffer 0) elementwise (tol_elem), logdet (buffer 1) a reduction (tol_red); `ins`
 * are the buffers after them. */
static void layer_cases(const std::string &label, size_t n, const std::vector<float> &ld,
                        const std::vector<Buf> &ins, const CudaFn &cuda, const RefFn &ref) {
    for (int with_ld = 0; with_ld < 2; with_ld++) {
        std::vector<Buf> b = {out("y", n, tol_elem),
                              with_ld ? inout("logdet", ld, tol_red_fma) : nul("logdet")};
        b.insert(b.end(), ins.begin(), ins.end());
        run_case(fmt("%s logdet=%s", label.c_str(), with_ld ? "yes" : "NULL"), b, cuda, ref);
    }
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
            layer_cases(fmt("%s %s", nm, s.c_str()), n, ld, {in("x", x), in("bias", bias), in("logs", logs)},
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
                 KERNEL_AND_REF(actnorm_init, F(0), F(1), CF(2), N, HW, C),
                 FCE_STATUS_OK, N * HW > 0);
    }
}

static std::vector<float> perm_of(int C) {
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
                         KERNEL_AND_REF(invconv_lu_backward, F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6), CF(7), CF(8), CF(9), CF(10), C));
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
                     KERNEL_AND_REF(invconv_logdet, F(0), CF(1), N, HW, C, dir),
                     FCE_STATUS_OK, N > 0);
            run_case("invconv_logdet_backward " + s, {inout("dlogs", ds, tol_red), in("dlogdet", dl)},
                     KERNEL_AND_REF(invconv_logdet_backward, F(0), CF(1), N, HW, C, dir),
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
            layer_cases(fmt("%s %s", nm, s.c_str()), n, ld, {in("x", x), in("h", h)},
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
                 KERNEL_AND_REF(coupling_additive_forward, F(0), CF(1), CF(2), rows, C),
                 FCE_STATUS_OK, ml);
        run_case("coupling_additive_inverse " + s, {out("x", n), in("y", x), in("h", h)},
                 KERNEL_AND_REF(coupling_additive_inverse, F(0), CF(1), CF(2), rows, C),
                 FCE_STATUS_OK, ml);
        run_case("coupling_additive_forward in-place " + s, {inout("y", x), alias("x", 0), in("h", h)},
                 KERNEL_AND_REF(coupling_additive_forward, F(0), CF(1), CF(2), rows, C),
                 FCE_STATUS_OK, ml);
        for (float dir : {1.0f, -1.0f}) {
            const std::string sd = s + fmt(" dir=%g", (double)dir);
            run_case("coupling_additive_backward " + sd, {out("din", n), out("dh", nh), in("dout", g)},
                     KERNEL_AND_REF(coupling_additive_backward, F(0), F(1), CF(2), rows, C, dir),
                     FCE_STATUS_OK, ml);
            run_case("coupling_additive_backward din=NULL " + sd, {nul("din"), out("dh", nh), in("dout", g)},
                     KERNEL_AND_REF(coupling_additive_backward, F(0), F(1), CF(2), rows, C, dir),
                     FCE_STATUS_OK, ml);
            run_case("coupling_additive_backward dh=NULL " + sd, {out("din", n), nul("dh"), in("dout", g)},
                     KERNEL_AND_REF(coupling_additive_backward, F(0), F(1), CF(2), rows, C, dir),
                     FCE_STATUS_OK, ml);
            /* din = dout (in place): the launcher skips the copy. */
            run_case("coupling_additive_backward in-place " + sd, {inout("dout", g), out("dh", nh), alias("din", 0)},
                     KERNEL_AND_REF(coupling_additive_backward, F(2), F(1), CF(0), rows, C, dir),
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
                 KERNEL_AND_REF(squeeze_forward, F(0), CF(1), N, H, W, C), FCE_STATUS_OK, n > 0);
        run_case("squeeze_inverse " + s, {out("x", n), in("y", x)},
                 KERNEL_AND_REF(squeeze_inverse, F(0), CF(1), N, H, W, C), FCE_STATUS_OK, n > 0);
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
                 KERNEL_AND_REF(gaussian_logp, F(0), CF(1), N, D), FCE_STATUS_OK, N > 0);
        run_case("gaussian_logp_backward_acc " + s, {inout("dz", dz, tol_elem), in("z", z), in("dlogp", dl)},
                 KERNEL_AND_REF(gaussian_logp_backward_acc, F(0), CF(1), CF(2), N, D),
                 FCE_STATUS_OK, n > 0);
        run_case("gaussian_diag_logp " + s, {inout("logp", lp, tol_red_fma), in("z", z), in("mean", m), in("logs", ls)},
                 KERNEL_AND_REF(gaussian_diag_logp, F(0), CF(1), CF(2), CF(3), N, D),
                 FCE_STATUS_OK, n > 0);
        for (int mask : {7, 1, 2, 4, 0}) { /* 1 dz, 2 dmean, 4 dlogs */
            run_case(fmt("gaussian_diag_logp_backward_acc %s mask=%d", s.c_str(), mask),
                     {mask & 1 ? inout("dz", dz, tol_elem) : nul("dz"), mask & 2 ? out("dmean", n, tol_elem) : nul("dmean"),
                      mask & 4 ? out("dlogs", n, tol_elem) : nul("dlogs"), in("z", z), in("mean", m),
                      in("logs", ls), in("dlogp", dl)},
                     KERNEL_AND_REF(gaussian_diag_logp_backward_acc, F(0), F(1), F(2), CF(3), CF(4), CF(5), CF(6), N, D),
                     FCE_STATUS_OK, n > 0 && mask);
        }
    }
}

}  // namespace emu_test
