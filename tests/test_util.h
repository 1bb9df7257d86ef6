/* test_util.h: seeded random tensors, backend buffers and their cleanup, scratch folders and
 * files, and finite-difference gradient checks shared by the tests. */
#ifndef FCE_TEST_UTIL_H
#define FCE_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fce/backend.h"
#include "fce/ebm.h"
#include "fce/ebm_image.h"
#include "fce/glow.h"
#include "fce/iglow.h"
#include "fce/params.h"
#include "fce/train_config.h"
#include "fce/train_image.h"

/* x[i] = lo + (hi − lo)·uniform(seed, i), on the host. */
void fce_test_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi);
/* x[i] = std·normal(seed, i), on the host. */
void fce_test_fill_normal(float *x, size_t n, uint64_t seed, float std);
/* Host buffers (abort on OOM: tests only). */
float *fce_test_alloc(size_t n);

/* Backend buffer of n floats initialised from host data (tests only; aborts on failure). */
float *fce_test_dev_from_host(fce_ctx *ctx, const float *h, size_t n);
/* Download n floats into a fresh host buffer (tests only). */
float *fce_test_host_from_dev(fce_ctx *ctx, const float *d, size_t n);

/* x[i] = v for every i. */
void fce_test_fill_const(float *x, size_t n, float v);
/* a[i] −= v for every i (removes an accumulation pre-fill). */
void fce_test_sub_const(float *a, size_t n, float v);
/* Σ a[i]·b[i] in double. */
double fce_test_dot(const float *a, const float *b, size_t n);

/* The cleanup of many buffers in one line: releases the backend buffers of ctx, or frees the host
 * buffers, given as a list. */
#define FCE_TEST_RELEASE(ctx, ...)                                                                 \
    do {                                                                                           \
        void *const bufs_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof bufs_ / sizeof bufs_[0]; i_++)                             \
            (ctx)->ops->release((ctx), bufs_[i_]);                                                 \
    } while (0)
#define FCE_TEST_FREE(...)                                                                         \
    do {                                                                                           \
        void *const bufs_[] = {__VA_ARGS__};                                                       \
        for (size_t i_ = 0; i_ < sizeof bufs_ / sizeof bufs_[0]; i_++) free(bufs_[i_]);            \
    } while (0)

/* ---- scratch folder and files ---- */

/* Makes a fresh folder from a mkdtemp template ("…XXXXXX"); fce_test_path names files in it.
 * Returns the folder's path, or NULL when mkdtemp fails. */
const char *fce_test_tmpdir(const char *tmpl);
/* "<folder>/<name>" for the folder of fce_test_tmpdir, in one of four rotating static buffers. */
const char *fce_test_path(const char *name);
/* Removes dir and everything below it (as rm -rf); 1 when dir is gone afterwards. */
int fce_test_rm_tree(const char *dir);
/* Writes n bytes to path; 1 on success. */
int fce_test_write_file(const char *path, const void *b, size_t n);
/* The synthetic pictures' checkerboard: squares of `square` pixels, about 128, amplitude hi in the
 * picture's own colour and lo in the others, plus LCG jitter in [−jitter, jitter]. */
typedef struct fce_test_checker {
    int square, hi, lo, jitter;
} fce_test_checker;
/* Colour c at (x, y) of picture k: the squares' phase and the colour that gets hi (k % 3) depend on
 * k; *lcg advances once per call. Clamped to 0..255. */
unsigned char fce_test_checker_value(const fce_test_checker *p, int k, int x, int y, int c,
                                     uint32_t *lcg);
/* n CIFAR-10 binary records (label k % 10, then 3×32×32 planar bytes): a checkerboard of 8-pixel
 * squares, phase and colour depending on the record, plus a little LCG jitter started at seed. */
int fce_test_write_cifar_checker(const char *path, int n, uint32_t seed);

/* The tiny image run the trainer tests start from: defaults, then data_dir, out_dir, preset tiny on
 * the CPU, width 8, K 1, the batch and steps given, lr 3e-3 without warmup, no periodic
 * checkpoints, quiet. */
void fce_test_image_cfg(fce_image_train_config *c, const char *data_dir, const char *out_dir,
                        int batch, long steps);

/* The tiny 2D run the step tests start from: defaults on `device`, into out_dir, batch 16, flow K 2
 * width 8, EBM width 8, init batch 32, 100 evaluation points, 16-pixel pictures, quiet. */
void fce_test_tiny_2d_cfg(fce_train_config *c, const char *device, const char *out_dir);

/* ---- small models on one CPU context, for the file tests (checkpoints, export) ---- */

/* A 2D flow (D 2, K 2, width 8) and EBM (width 8, 2 hidden layers), the tiny image flow (affine)
 * and an 8×8×3 image EBM at width scale 16, all seeded. */
typedef struct fce_test_models {
    fce_ctx ctx;
    fce_glow *glow;
    fce_ebm *ebm;
    fce_iglow *iglow;
    fce_ebm_image *ebm_image;
} fce_test_models;
/* 1 when every model was built (a failure is printed). */
int fce_test_models_init(fce_test_models *m);
void fce_test_models_free(fce_test_models *m);

/* A 2D training config for tests that drive the trainer: gmm8 FCE on the CPU backend, quiet, into
 * out, batch points per step, flow K 2 and EBM of `width`, 100 evaluation points, 16² pictures. */
void fce_test_config_2d(fce_train_config *c, const char *out, int batch, int width);

/* ---- finite differences ---- */

/* fce_test_close on every trainable tensor of t (frozen ones have no gradient), under the tensor's
 * name: ana[offset, offset + numel) against num there. Each is checked and prints its summary
 * line; 1 when all are close. */
int fce_test_close_params(const fce_param_table *t, const float *ana, const float *num,
                          double atol, double rtol);

/* A scalar loss of whatever the perturbed coordinate belongs to. */
typedef double (*fce_test_loss_fn)(void *state);

/* Central-difference stencils of fce_test_fd_derivative. */
enum {
    FCE_TEST_FD2 = 0,         /* (L(p+h) − L(p−h)) / 2h */
    FCE_TEST_FD4 = 1,         /* (−L(p+2h) + 8L(p+h) − 8L(p−h) + L(p−2h)) / 12h */
    FCE_TEST_FD2_APPLIED = 2, /* as FD2, divided by the step applied: (float)(p+h) − (float)(p−h) */
};
/* dL/dp by central differences with step h; *p is restored afterwards. */
double fce_test_fd_derivative(fce_test_loss_fn f, void *st, float *p, int stencil, double h);
/* analytic[i] against fce_test_fd_derivative w.r.t. param[i] on at most 200 evenly spread
 * coordinates, |ana − fd| ≤ atol + rtol·|fd|. Returns 1 on pass (fce_test_close prints the
 * summary line). */
int fce_test_check_grad(const char *name, fce_test_loss_fn f, void *st, float *param, size_t n,
                        const float *analytic, int stencil, double h, double atol, double rtol);
#define FCE_TEST_CHECK_GRAD(name, f, st, param, n, analytic, stencil, h, atol, rtol)               \
    do {                                                                                           \
        if (!fce_test_check_grad((name), (f), (st), (param), (n), (analytic), (stencil), (h),      \
                                 (atol), (rtol))) {                                                \
            fprintf(stderr, "  FAIL %s:%d: gradient %s\n", __FILE__, __LINE__, (name));           \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

/* Central differences of f(fixture, x, w) w.r.t. every coordinate, params[0..np) then x[0..nx), at h and h/2
 * (each coordinate restored afterwards). Where the two agree within atol + 0.25·rtol·|fd(h/2)|,
 * num[i] = fd(h/2); otherwise (a ReLU kink inside the stencil) num[i] = ana[i] and the coordinate
 * is counted in the return value. *max_err = max |fd(h/2) − ana[i]| over the coordinates kept. */
typedef double (*fce_test_loss_xw_fn)(void *fixture, const float *x, const float *w);
size_t fce_test_fd_sweep(fce_test_loss_xw_fn f, void *fixture, const float *w, float *params,
                         size_t np, float *x, size_t nx, const float *ana, float *num, double h,
                         double atol, double rtol, double *max_err);

/* For every params[i], i < nt: f at ±h and ±h/2 (params[i] restored afterwards; f must see the
 * current parameters, refreshing whatever depends on them). kd[4i..4i+3] = fd(h), fd(h/2), k(h),
 * k(h/2) with k(s) = L(+s) − 2L(0) + L(−s), and num[i] = the Richardson value
 * (4·fd(h/2) − fd(h))/3. L(0) is *l0 when l0 is not NULL, else f after restoring params[i]. */
void fce_test_fd_richardson(fce_test_loss_fn f, void *st, float *params, size_t nt, double h,
                            const double *l0, float *num, double *kd);

/* Kink screens for Richardson-extrapolated differences; kd holds per coordinate fd(h), fd(h/2),
 * k(h), k(h/2) with k(s) = L(+s) − 2L(0) + L(−s). (a) |fd(h) − fd(h/2)| > atol +
 * screen·rtol·|fd(h/2)|; (b) d = |k(h) − 4·k(h/2)| > |k(h)|/4 and above its noise floor, 2× the
 * 90th percentile of d over all coordinates and at least h·atol/4. A coordinate either screen
 * flags gets num[i] = ana[i]. Returns how many; *n_a: by (a), *n_b: by (b) only, *floor_b: the
 * floor (each may be NULL). With FCE_TEST_VERBOSE set every coordinate is printed, with
 * FCE_TEST_DBG those whose ana and num disagree. */
size_t fce_test_kink_screen(const double *kd, size_t nt, const float *ana, float *num, double h,
                            double atol, double rtol, double screen, size_t *n_a, size_t *n_b,
                            double *floor_b);

#endif
