/* gemm_kernel.c: the CPU GEMM's micro-kernels and their choice (gemm_kernel.h).
 *
 * sse2: 4 rows × 8 columns in eight 4-float vectors (GCC/Clang vector types; SSE2 is the x86-64
 * baseline, so no -march is needed, and other targets get their own 128-bit vectors).
 * avx2: 8 × 8 in eight 8-float vectors, compiled for AVX2 by a function attribute and chosen at
 * run time when the CPU has it: twice the lanes per instruction, about twice the throughput.
 * Both keep eight independent sums in flight, which hides the add latency. */
#include "cpu/gemm_kernel.h"

#include <stdlib.h>
#include <string.h>

#include "fce/log.h"

typedef float v4f __attribute__((vector_size(16)));

static void micro_sse2(int kc, const float *restrict a, const float *restrict b,
                       float *restrict tile) {
    v4f c[4][2] = {{{0}}};
    for (int k = 0; k < kc; k++) {
        v4f b0, b1;
        memcpy(&b0, b, 16);
        memcpy(&b1, b + 4, 16);
        for (int i = 0; i < 4; i++) {
            const v4f t = {a[i], a[i], a[i], a[i]};
            c[i][0] += t * b0;
            c[i][1] += t * b1;
        }
        a += 4;
        b += GEMM_KERNEL_NR;
    }
    memcpy(tile, c, sizeof c);
}

static const gemm_kernel kernel_sse2 = {"sse2", 4, micro_sse2};

#if defined(__x86_64__) || defined(__i386__)
#define GEMM_HAVE_AVX2_KERNEL 1
/* Every vector operation stays inside this one function: AVX values never cross a call. */
__attribute__((target("avx2"))) static void micro_avx2(int kc, const float *restrict a,
                                                        const float *restrict b,
                                                        float *restrict tile) {
    typedef float v8f __attribute__((vector_size(32)));
    v8f c[8] = {{0}};
    for (int k = 0; k < kc; k++) {
        v8f bv;
        memcpy(&bv, b, 32);
        for (int i = 0; i < 8; i++) {
            const float s = a[i];
            const v8f t = {s, s, s, s, s, s, s, s};
            c[i] += t * bv;
        }
        a += 8;
        b += GEMM_KERNEL_NR;
    }
    memcpy(tile, c, sizeof c);
}

static const gemm_kernel kernel_avx2 = {"avx2", 8, micro_avx2};

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#endif

const gemm_kernel *gemm_kernel_pick(void) {
    const char *want = getenv("FCE_CPU_ISA");
    const int forced = want && *want;
    if (forced && strcmp(want, "sse2") == 0) return &kernel_sse2;
#ifdef GEMM_HAVE_AVX2_KERNEL
    if (!forced || strcmp(want, "avx2") == 0) {
        if (cpu_has_avx2()) return &kernel_avx2;
        if (!forced) return &kernel_sse2;
        fce_log_error("FCE_CPU_ISA=avx2, but this CPU has no AVX2 (use sse2, or unset it)");
        return NULL;
    }
#endif
    if (!forced) return &kernel_sse2;
    fce_log_error("FCE_CPU_ISA='%s' is not sse2%s", want,
#ifdef GEMM_HAVE_AVX2_KERNEL
                  " or avx2"
#else
                  " (the only kernel of this build)"
#endif
    );
    return NULL;
}
