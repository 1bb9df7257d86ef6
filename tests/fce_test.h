/* fce_test.h: the minimal test harness (libuv task.h style). The exit code is the verdict:
 * 0 pass, 1 fail, 77 skip. A test binary holds TEST(name) functions and a main that runs them
 * with RUN_TEST; FCE_TEST_MAIN_END returns 1 if any failed. */
#ifndef FCE_TEST_H
#define FCE_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/status.h"

#define FCE_TEST_SKIP_CODE 77

#define TEST(name) static int test_##name(void)

#define ASSERT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long fa_ = (long long)(a), fb_ = (long long)(b);                                      \
        if (fa_ != fb_) {                                                                          \
            fprintf(stderr, "  FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, \
                    fa_, fb_);                                                                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define ASSERT_OK(expr)                                                                            \
    do {                                                                                           \
        fce_status fs_ = (expr);                                                                   \
        if (fs_ != FCE_STATUS_OK) {                                                                \
            fprintf(stderr, "  FAIL %s:%d: %s returned %s\n", __FILE__, __LINE__, #expr,           \
                    fce_status_str(fs_));                                                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double na_ = (double)(a), nb_ = (double)(b);                                               \
        if (!(fabs(na_ - nb_) <= (tol))) {                                                         \
            fprintf(stderr, "  FAIL %s:%d: |%s - %s| = |%.9g - %.9g| = %.3g > %.3g\n", __FILE__,   \
                    __LINE__, #a, #b, na_, nb_, fabs(na_ - nb_), (double)(tol));                   \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Elementwise |got − ref| ≤ atol + rtol·|ref|; prints a summary line always, mismatches on fail. */
#define EXPECT_CLOSE(name, got, ref, n, atol, rtol)                                                \
    do {                                                                                           \
        if (!fce_test_close((name), (got), (ref), (n), (atol), (rtol))) {                          \
            fprintf(stderr, "  FAIL %s:%d: %s not close\n", __FILE__, __LINE__, (name));           \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

#define RUN_TEST(name)                                                                             \
    do {                                                                                           \
        int r_ = test_##name();                                                                    \
        if (r_ == FCE_TEST_SKIP_CODE) {                                                            \
            fprintf(stderr, "[skip] %s\n", #name);                                                 \
            fce_test_skipped_++;                                                                   \
        } else if (r_) {                                                                           \
            fprintf(stderr, "[FAIL] %s\n", #name);                                                 \
            fce_test_failed_++;                                                                    \
        } else {                                                                                   \
            fprintf(stderr, "[ ok ] %s\n", #name);                                                 \
            fce_test_passed_++;                                                                    \
        }                                                                                          \
    } while (0)

#define FCE_TEST_MAIN_BEGIN                                                                        \
    int main(void) {                                                                               \
        int fce_test_failed_ = 0, fce_test_passed_ = 0, fce_test_skipped_ = 0;

#define FCE_TEST_MAIN_END                                                                          \
    fprintf(stderr, "%d passed, %d failed, %d skipped\n", fce_test_passed_, fce_test_failed_,      \
            fce_test_skipped_);                                                                    \
    if (fce_test_failed_) return 1;                                                                \
    if (fce_test_skipped_ && !fce_test_passed_) return FCE_TEST_SKIP_CODE;                         \
    return 0;                                                                                      \
    }

/* Prints the reason and returns 77 from the test function (skip), unless FCE_REQUIRE_GPU=1, in
 * which case a missing GPU is a failure. */
#define FCE_TEST_SKIP_NO_GPU(reason)                                                               \
    do {                                                                                           \
        const char *rq_ = getenv("FCE_REQUIRE_GPU");                                               \
        if (rq_ && strcmp(rq_, "1") == 0) {                                                        \
            fprintf(stderr, "  FAIL: FCE_REQUIRE_GPU=1 but no usable GPU: %s\n", (reason));        \
            return 1;                                                                              \
        }                                                                                          \
        fprintf(stderr, "  skipped: %s\n", (reason));                                              \
        return FCE_TEST_SKIP_CODE;                                                                 \
    } while (0)

int fce_test_close(const char *name, const float *got, const float *ref, size_t n, double atol,
                   double rtol);

#endif
