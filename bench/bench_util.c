/* bench_util.c: host RNG fills, statistics, the rep timer and the L2 flush, the provenance of the
 * CPU backend, JSON helpers (bench.h). The CUDA halves of the timer and the flush are in
 * bench_device_cuda.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_device.h"
#include "fce/log.h"

/* ---- host RNG: splitmix64, fast enough for 4 × 38M floats ---- */

uint64_t bench_rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void bench_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed;
    const double span = (double)hi - (double)lo;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(bench_rng_next(&s) >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
        x[i] = (float)(lo + span * u);
    }
}

void bench_fill_u8(uint8_t *x, size_t n, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) x[i] = (uint8_t)(bench_rng_next(&s) >> 56);
}

double bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

size_t bench_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long pages_total = 0, pages_resident = 0;
    int ok = fscanf(f, "%lu %lu", &pages_total, &pages_resident) == 2;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (size_t)pages_resident * (size_t)page : 0;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (numpy's default). */
static double quantile(const double *sorted, int n, double q) {
    if (n <= 0) return NAN;
    double pos = q * (double)(n - 1);
    int i = (int)pos;
    if (i >= n - 1) return sorted[n - 1];
    double f = pos - (double)i;
    return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

void bench_stats_of(double *ms, int n, bench_stats *s) {
    memset(s, 0, sizeof *s);
    s->n = n;
    if (n <= 0) {
        s->median = s->mean = s->min = s->max = s->p10 = s->p25 = s->p75 = s->p90 = NAN;
        return;
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += ms[i];
    s->mean = sum / n;
    s->min = ms[0];
    s->max = ms[n - 1];
    s->median = quantile(ms, n, 0.5);
    s->p10 = quantile(ms, n, 0.10);
    s->p25 = quantile(ms, n, 0.25);
    s->p75 = quantile(ms, n, 0.75);
    s->p90 = quantile(ms, n, 0.90);
}

/* ---- L2 flush ---- */

#define BENCH_CPU_FLUSH_BYTES ((size_t)16 << 20)

fce_status bench_flush_init(bench_env *env) {
    env->flush_buf = NULL;
    env->flush_bytes = 0;
    if (env->opt.no_flush) return FCE_STATUS_OK;
    if (env->is_cuda) return bench_dev_flush_alloc(&env->ctx, &env->flush_buf, &env->flush_bytes);
    env->flush_buf = malloc(BENCH_CPU_FLUSH_BYTES);
    if (!env->flush_buf) {
        fce_log_error("fce-bench: out of host memory for the %zu-byte cache flush buffer",
                      BENCH_CPU_FLUSH_BYTES);
        return FCE_STATUS_ERR_NOMEM;
    }
    env->flush_bytes = BENCH_CPU_FLUSH_BYTES;
    return FCE_STATUS_OK;
}

void bench_flush_free(bench_env *env) {
    if (!env->flush_buf) return;
    if (env->is_cuda) bench_dev_flush_free(env->flush_buf);
    else free(env->flush_buf);
    env->flush_buf = NULL;
}

fce_status bench_flush(bench_env *env, fce_ctx *ctx) {
    if (!env->flush_buf) return FCE_STATUS_OK;
    int rep = (int)(++env->flush_count & 0xff);
    if (ctx->kind == FCE_BACKEND_KIND_CUDA)
        return bench_dev_flush(ctx, env->flush_buf, env->flush_bytes, rep);
    memset(env->flush_buf, rep, env->flush_bytes);
    return FCE_STATUS_OK;
}

/* ---- the rep timer ---- */

fce_status bench_time(bench_env *env, fce_ctx *ctx, int warmup, int reps, bench_fn fn, void *arg,
                      double *ms) {
    if (ctx->kind == FCE_BACKEND_KIND_CUDA)
        return bench_dev_time(env, ctx, warmup, reps, fn, arg, ms);
    for (int i = 0; i < warmup; i++) FCE_TRY(fn(arg));
    for (int r = 0; r < reps; r++) {
        FCE_TRY(bench_flush(env, ctx));
        double t0 = bench_now_ms();
        FCE_TRY(fn(arg));
        FCE_TRY(ctx->ops->sync(ctx));
        ms[r] = bench_now_ms() - t0;
    }
    return FCE_STATUS_OK;
}

/* ---- provenance without a GPU ---- */

void bench_provenance_none(bench_provenance *p) {
    memset(p, 0, sizeof *p);
    char *const fields[] = {p->gpu_name,        p->compute_capability, p->driver_version,
                            p->cuda_driver_api, p->cuda_runtime,       p->cudnn_version,
                            p->cublas_version};
    const size_t sizes[] = {sizeof p->gpu_name,        sizeof p->compute_capability,
                            sizeof p->driver_version,  sizeof p->cuda_driver_api,
                            sizeof p->cuda_runtime,    sizeof p->cudnn_version,
                            sizeof p->cublas_version};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) snprintf(fields[i], sizes[i], "none");
}

/* ---- JSON ---- */

void bench_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void bench_json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
}

void bench_json_field_num(FILE *f, const char *key, double v) {
    fprintf(f, ", \"%s\": ", key);
    bench_json_num(f, v);
}

void bench_json_field_str(FILE *f, const char *key, const char *s) {
    fprintf(f, ", \"%s\": ", key);
    bench_json_str(f, s);
}

void bench_json_stats(FILE *f, const bench_stats *s) {
    fputs("{\"median\": ", f);
    bench_json_num(f, s->median);
    const char *const keys[] = {"mean", "min", "max", "p10", "p25", "p75", "p90"};
    const double vals[] = {s->mean, s->min, s->max, s->p10, s->p25, s->p75, s->p90};
    for (int i = 0; i < 7; i++) bench_json_field_num(f, keys[i], vals[i]);
    fprintf(f, ", \"n\": %d}", s->n);
}
