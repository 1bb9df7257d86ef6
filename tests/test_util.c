/* test_util.c: helpers shared by the tests (see test_util.h). */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fce/philox.h"
#include "fce_test.h"

int fce_test_close(const char *name, const float *got, const float *ref, size_t n, double atol,
                   double rtol) {
    double max_abs = 0.0, max_rel = 0.0, worst_budget = 0.0, se = 0.0, sr = 0.0;
    size_t worst = 0, n_bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i], d = fabs(g - r);
        double budget = atol + rtol * fabs(r);
        if (!(d <= budget)) { /* also catches NaN */
            if (n_bad < 5)
                fprintf(stderr, "    %s[%zu]: got %.9g ref %.9g (|diff| %.3g > %.3g)\n", name, i, g,
                        r, d, budget);
            n_bad++;
        }
        if (d > max_abs) max_abs = d;
        if (fabs(r) > 0 && d / fabs(r) > max_rel) max_rel = d / fabs(r);
        if (d / budget > worst_budget || isnan(d)) {
            worst_budget = isnan(d) ? INFINITY : d / budget;
            worst = i;
        }
        se += d * d;
        sr += r * r;
    }
    fprintf(stderr, "    %-28s n=%-7zu max_abs %.3g max_rel %.3g worst [%zu] %.1f%% of budget nmse %.3g\n",
            name, n, max_abs, max_rel, worst, 100.0 * worst_budget, sr > 0 ? se / sr : se);
    return n_bad == 0;
}

void fce_test_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * fce_philox_uniform(seed, i);
}

void fce_test_fill_normal(float *x, size_t n, uint64_t seed, float std) {
    for (size_t i = 0; i < n; i++) x[i] = std * fce_philox_normal(seed, i);
}

float *fce_test_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "test: out of host memory\n");
        abort();
    }
    return p;
}

float *fce_test_dev_from_host(fce_ctx *ctx, const float *h, size_t n) {
    void *d = NULL;
    if (ctx->ops->alloc(ctx, &d, (n ? n : 1) * sizeof(float)) != FCE_STATUS_OK ||
        (n && ctx->ops->upload(ctx, d, h, n * sizeof(float)) != FCE_STATUS_OK)) {
        fprintf(stderr, "test: backend alloc/upload failed\n");
        abort();
    }
    return (float *)d;
}

float *fce_test_host_from_dev(fce_ctx *ctx, const float *d, size_t n) {
    float *h = fce_test_alloc(n);
    if (n && ctx->ops->download(ctx, h, d, n * sizeof(float)) != FCE_STATUS_OK) {
        fprintf(stderr, "test: backend download failed\n");
        abort();
    }
    return h;
}

void fce_test_fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

void fce_test_sub_const(float *a, size_t n, float v) {
    for (size_t i = 0; i < n; i++) a[i] -= v;
}

double fce_test_dot(const float *a, const float *b, size_t n) {
    double acc = 0.0;
    for (size_t i = 0; i < n; i++) acc += (double)a[i] * b[i];
    return acc;
}

// ---- scratch folder and files ----

static char g_tmpdir[256];

const char *fce_test_tmpdir(const char *tmpl) {
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s", tmpl);
    return mkdtemp(g_tmpdir);
}

const char *fce_test_path(const char *name) {
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_tmpdir, name);
    return buf[k];
}

int fce_test_rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                fce_test_rm_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    struct stat st;
    return lstat(dir, &st) != 0;
}

int fce_test_write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(b, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

unsigned char fce_test_checker_value(const fce_test_checker *p, int k, int x, int y, int c,
                                     uint32_t *lcg) {
    *lcg = *lcg * 1664525u + 1013904223u;
    int sq = ((x / p->square + y / p->square + k) % 2) * 2 - 1;
    int v = 128 + sq * (c == k % 3 ? p->hi : p->lo) +
            (int)((*lcg >> 24) % (uint32_t)(2 * p->jitter + 1)) - p->jitter;
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

int fce_test_write_cifar_checker(const char *path, int n, uint32_t seed) {
    const fce_test_checker pattern = {.square = 8, .hi = 100, .lo = 50, .jitter = 8};
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    uint32_t h = seed;
    for (int k = 0; k < n; k++) {
        unsigned char rec[3073];
        rec[0] = (unsigned char)(k % 10);
        for (int c = 0; c < 3; c++) /* planar: all of red, then green, then blue */
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    rec[1 + c * 1024 + y * 32 + x] = fce_test_checker_value(&pattern, k, x, y, c, &h);
        if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) {
            fclose(f);
            return 0;
        }
    }
    return fclose(f) == 0;
}

void fce_test_tiny_2d_cfg(fce_train_config *c, const char *device, const char *out_dir) {
    fce_train_config_defaults(c);
    snprintf(c->device, sizeof c->device, "%s", device);
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out_dir);
    c->batch = 16;
    c->flow_K = 2;
    c->flow_width = 8;
    c->ebm_width = 8;
    c->init_batch = 32;
    c->eval_points = 100;
    c->image_res = 16;
    c->quiet = 1;
}

void fce_test_image_cfg(fce_image_train_config *c, const char *data_dir, const char *out_dir,
                        int batch, long steps) {
    fce_image_train_config_defaults(c);
    snprintf(c->mode, sizeof c->mode, "mle"); /* callers that want fce set it */
    snprintf(c->data_dir, sizeof c->data_dir, "%s", data_dir);
    snprintf(c->preset, sizeof c->preset, "tiny");
    snprintf(c->device, sizeof c->device, "cpu");
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out_dir);
    c->width = 8;
    c->K = 1;
    c->batch = batch;
    c->steps = steps;
    c->lr = 3e-3f;
    c->warmup_steps = 0;
    c->checkpoint_every = 0;
    c->quiet = 1;
}

// ---- finite differences ----

#define FD_MAX_COORDS 200

double fce_test_fd_derivative(fce_test_loss_fn f, void *st, float *p, int stencil, double h) {
    float p0 = *p;
    float pp = (float)(p0 + h), pm = (float)(p0 - h);
    *p = pp;
    double fp1 = f(st);
    *p = pm;
    double fm1 = f(st);
    double d;
    if (stencil == FCE_TEST_FD4) {
        *p = (float)(p0 + 2.0 * h);
        double fp2 = f(st);
        *p = (float)(p0 - 2.0 * h);
        double fm2 = f(st);
        d = (-fp2 + 8.0 * fp1 - 8.0 * fm1 + fm2) / (12.0 * h);
    } else if (stencil == FCE_TEST_FD2_APPLIED) {
        d = (fp1 - fm1) / ((double)pp - (double)pm);
    } else {
        d = (fp1 - fm1) / (2.0 * h);
    }
    *p = p0;
    return d;
}

int fce_test_close_params(const fce_param_table *t, const float *ana, const float *num,
                          double atol, double rtol) {
    int ok = 1;
    for (int s = 0; s < t->n; s++) {
        const fce_param_spec *sp = &t->specs[s];
        if (sp->flags & FCE_PARAM_FLAG_FROZEN) continue;
        ok &= fce_test_close(sp->name, ana + sp->offset, num + sp->offset, sp->numel, atol, rtol);
    }
    return ok;
}

int fce_test_check_grad(const char *name, fce_test_loss_fn f, void *st, float *param, size_t n,
                        const float *analytic, int stencil, double h, double atol, double rtol) {
    size_t count = n < FD_MAX_COORDS ? n : FD_MAX_COORDS;
    float *num = fce_test_alloc(count), *ana = fce_test_alloc(count);
    for (size_t k = 0; k < count; k++) {
        size_t i = n <= FD_MAX_COORDS ? k : (k * n) / count;
        num[k] = (float)fce_test_fd_derivative(f, st, &param[i], stencil, h);
        ana[k] = analytic[i];
    }
    int ok = fce_test_close(name, ana, num, count, atol, rtol);
    free(num);
    free(ana);
    return ok;
}

size_t fce_test_fd_sweep(fce_test_loss_xw_fn f, void *fixture, const float *w, float *params,
                         size_t np, float *x, size_t nx, const float *ana, float *num, double h,
                         double atol, double rtol, double *max_err) {
    size_t kinks = 0;
    *max_err = 0;
    for (size_t i = 0; i < np + nx; i++) {
        float *p = i < np ? &params[i] : &x[i - np];
        double r[2];
        for (int k = 0; k < 2; k++) {
            double hk = k ? h / 2 : h;
            float keep = *p;
            *p = keep + (float)hk;
            double lp = f(fixture, x, w);
            *p = keep - (float)hk;
            double lm = f(fixture, x, w);
            *p = keep;
            r[k] = (lp - lm) / (2 * hk);
        }
        if (fabs(r[0] - r[1]) <= atol + 0.25 * rtol * fabs(r[1])) {
            num[i] = (float)r[1];
            *max_err = fmax(*max_err, fabs(r[1] - ana[i]));
        } else {
            num[i] = ana[i];
            kinks++;
        }
    }
    return kinks;
}

void fce_test_fd_richardson(fce_test_loss_fn f, void *st, float *params, size_t nt, double h,
                            const double *l0, float *num, double *kd) {
    for (size_t i = 0; i < nt; i++) {
        double lp[2], lm[2]; /* at ±h, ±h/2 */
        const float keep = params[i];
        for (int r = 0; r < 2; r++) {
            const double hr = h / (double)(1 << r);
            params[i] = keep + (float)hr;
            lp[r] = f(st);
            params[i] = keep - (float)hr;
            lm[r] = f(st);
        }
        params[i] = keep;
        const double c0 = l0 ? *l0 : f(st);
        const double fd[2] = {(lp[0] - lm[0]) / (2 * h), (lp[1] - lm[1]) / h};
        /* Richardson: (4·fd(h/2) − fd(h))/3 cancels the O(h²) truncation error */
        num[i] = (float)((4.0 * fd[1] - fd[0]) / 3.0);
        kd[4 * i + 0] = fd[0];
        kd[4 * i + 1] = fd[1];
        kd[4 * i + 2] = lp[0] - 2 * c0 + lm[0];
        kd[4 * i + 3] = lp[1] - 2 * c0 + lm[1];
    }
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t fce_test_kink_screen(const double *kd, size_t nt, const float *ana, float *num, double h,
                            double atol, double rtol, double screen, size_t *n_a, size_t *n_b,
                            double *floor_b) {
    double *dev = malloc((nt ? nt : 1) * sizeof *dev);
    if (!dev) {
        fprintf(stderr, "test: out of host memory\n");
        abort();
    }
    for (size_t i = 0; i < nt; i++) dev[i] = fabs(kd[4 * i + 2] - 4 * kd[4 * i + 3]);
    qsort(dev, nt, sizeof *dev, cmp_double);
    const double fl = fmax(2 * dev[nt * 9 / 10], 0.25 * h * atol);
    free(dev);
    size_t kinks = 0, na = 0, nb = 0;
    for (size_t i = 0; i < nt; i++) {
        const double *fd = kd + 4 * i, k1 = kd[4 * i + 2], k2 = kd[4 * i + 3];
        const double d = fabs(k1 - 4 * k2);
        const int kink_a = fabs(fd[0] - fd[1]) > atol + screen * rtol * fabs(fd[1]);
        const int kink_b = d > 0.25 * fabs(k1) && d > fl;
        if (getenv("FCE_TEST_VERBOSE") ||
            (getenv("FCE_TEST_DBG") && fabs(ana[i] - num[i]) > atol + rtol * fabs(num[i])))
            fprintf(stderr, "      [%zu] ana %.6f fd(h) %.6f fd(h/2) %.6f k1 %.3g k2 %.3g kink %d%d\n", i,
                    ana[i], fd[0], fd[1], k1, k2, kink_a, kink_b);
        na += kink_a;
        nb += kink_b && !kink_a;
        if (kink_a || kink_b) {
            num[i] = ana[i];
            kinks++;
        }
    }
    if (n_a) *n_a = na;
    if (n_b) *n_b = nb;
    if (floor_b) *floor_b = fl;
    return kinks;
}

int fce_test_models_init(fce_test_models *m) {
    memset(m, 0, sizeof *m);
    const fce_glow_config gc = {2, 2, 8, 0};
    const fce_ebm_config ec = {2, 8, 2};
    const fce_iglow_config igc = fce_iglow_config_tiny(1);
    const fce_ebm_image_config iec = {8, 8, 3, 16, 0};
    fce_status st = fce_ctx_init_cpu(&m->ctx);
    if (st == FCE_STATUS_OK) st = fce_glow_init(&m->glow, &m->ctx, &gc, 1);
    if (st == FCE_STATUS_OK) st = fce_ebm_init(&m->ebm, &m->ctx, &ec, 2);
    if (st == FCE_STATUS_OK) st = fce_iglow_init(&m->iglow, &m->ctx, &igc, 1);
    if (st == FCE_STATUS_OK) st = fce_ebm_image_init(&m->ebm_image, &m->ctx, &iec, 1);
    if (st != FCE_STATUS_OK) fprintf(stderr, "fce_test_models_init: %s\n", fce_status_str(st));
    return st == FCE_STATUS_OK;
}

void fce_test_models_free(fce_test_models *m) {
    fce_glow_free(m->glow);
    fce_ebm_free(m->ebm);
    fce_iglow_free(m->iglow);
    fce_ebm_image_free(m->ebm_image);
    fce_ctx_free(&m->ctx);
}

void fce_test_config_2d(fce_train_config *c, const char *out, int batch, int width) {
    fce_train_config_defaults(c);
    snprintf(c->device, sizeof c->device, "cpu");
    snprintf(c->out_dir, sizeof c->out_dir, "%s", out);
    c->batch = batch;
    c->flow_K = 2;
    c->flow_width = c->ebm_width = width;
    c->init_batch = 4 * batch;
    c->eval_points = 100;
    c->image_res = 16;
    c->quiet = 1;
}
