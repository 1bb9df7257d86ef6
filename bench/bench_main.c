/* bench_main.c: fce-bench, the measurement harness (STYLE 6.12; issue 5).
 *
 *   fce-bench [--device auto|cpu|N] [--preset cifar10|svhn|tiny] [--batch 64,128] [--reps R]
 *             [--warmup W] [--phases LIST|all|none] [--ops LIST|all|none] [--json FILE] ...
 *
 * 1. Provenance: device, driver, CUDA runtime, cuDNN and cuBLAS versions (queried at run time),
 *    git commit, build type and flags, preset, batches, date.
 * 2. Peaks: bandwidth (D2D copy on the GPU, memcpy on the CPU) and the GEMM rate (cuBLAS SGEMM
 *    8192³ in FP32 and TF32 on the GPU; the reference dense layer on the CPU), or --peak-gbs /
 *    --peak-tflops. "% roof" is the roofline time max(bytes/GB/s, flops/FLOP/s) over the measured
 *    time, with the FP32 rate (the product's math is FP32 throughout).
 * 3. The op registry (bench_ops.c): each entry validated against the CPU reference, then timed
 *    (median and spread of --reps calls after --warmup, the L2 flushed between calls outside the
 *    timed region). FAILED entries are not timed and make the exit code 1.
 * 4. Phases (bench_phases.c) at each --batch: ms, img/s, FLOPs, floors, memory.
 * Output: a table on stdout, and with --json FILE the same with its provenance.
 * Exit codes: 0 all valid, 1 a FAILED entry, a failed phase or a runtime error, 2 usage error. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_device.h"
#include "fce/log.h"
#include "data/image_common.h"
#include "fce/train_image_config.h" /* fce_image_preset */

#ifndef FCE_BENCH_GIT
#define FCE_BENCH_GIT "unknown"
#endif
#ifndef FCE_BENCH_BUILD_TYPE
#define FCE_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef FCE_BENCH_C_FLAGS
#define FCE_BENCH_C_FLAGS ""
#endif
#ifndef FCE_BENCH_CUDA_FLAGS
#define FCE_BENCH_CUDA_FLAGS ""
#endif
#ifndef FCE_BENCH_CUDA_ARCHS
#define FCE_BENCH_CUDA_ARCHS "none"
#endif

#define EXIT_USAGE 2

static void usage(FILE *f) {
    fprintf(f,
            "usage: fce-bench [options]\n"
            "  --device auto|cpu|cpu-ref|N  backend (default auto: GPU 0 if usable, else the fast CPU\n"
            "                          backend; cpu-ref: the plain CPU reference)\n"
            "  --preset cifar10|svhn|tiny  model shapes (default cifar10 on a GPU, tiny on the CPU)\n"
            "  --batch LIST            phase batches, comma-separated (default 64,128; tiny 4,8)\n"
            "  --op-batch N            batch of the op entries (default: the first --batch)\n"
            "  --reps R --warmup W     timed and untimed calls per op entry (default 50, 10)\n"
            "  --phase-reps R --phase-warmup W  per phase (default 20, 3; or --reps/--warmup if given)\n"
            "  --phases LIST|all|none  mle_step,fce_ebm_step,fce_flow_step,sample (default all)\n"
            "  --count-only            fce-bench-emu: count each phase step's operations, syncs,\n"
            "                          allocations and bytes without running kernels (implies --ops\n"
            "                          none, 1 warm-up and 1 rep per phase)\n"
            "  --check-budgets         exit 1 when a phase step exceeds its budget (cifar10, batch 64)\n"
            "  --budget-scale X        multiply every budget by X (a test of the check)\n"
            "  --ops LIST|all|none     op entries whose name or tag contains one of the substrings\n"
            "  --variant NAME|all      only this variant (default all)\n"
            "  --json FILE             write the results with their provenance\n"
            "  --peak-gbs X --peak-tflops X  peaks for %% of roofline (default: measured)\n"
            "  --no-flush              do not flush the L2 between timed calls\n"
            "  --list                  print the registry and exit\n"
            "  --flops-check           print the FLOP model against SPEC f and exit (1 on mismatch)\n"
            "  --inject-bad-variant    register a test-only variant that must fail validation\n"
            "  --require-gpu           fail when no GPU is used\n");
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "fce-bench: %s: '%s' is not an integer in %d..%d\n", flag, v, lo, hi);
        return 0;
    }
    *out = (int)x;
    return 1;
}

static int parse_double(const char *flag, const char *v, double *out) {
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x > 0)) {
        fprintf(stderr, "fce-bench: %s: '%s' is not a positive number\n", flag, v);
        return 0;
    }
    *out = x;
    return 1;
}

static int parse_str(const char *flag, const char *v, char *dst, size_t len) {
    if (strlen(v) >= len) {
        fprintf(stderr, "fce-bench: %s: value too long\n", flag);
        return 0;
    }
    snprintf(dst, len, "%s", v);
    return 1;
}

static int parse_batches(const char *v, bench_opts *o) {
    char tmp[128];
    if (!parse_str("--batch", v, tmp, sizeof tmp)) return 0;
    o->n_batches = 0;
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_batches == BENCH_MAX_BATCHES) {
            fprintf(stderr, "fce-bench: --batch: at most %d batches\n", BENCH_MAX_BATCHES);
            return 0;
        }
        if (!parse_int("--batch", tok, 1, 4096, &o->batches[o->n_batches++])) return 0;
    }
    if (!o->n_batches) {
        fprintf(stderr, "fce-bench: --batch: empty list\n");
        return 0;
    }
    return 1;
}

/* 0 ok, EXIT_USAGE on a usage error, -1 for --help (exit 0). */
static int parse_args(int argc, char **argv, bench_opts *o, int *reps_given, int *warmup_given) {
    memset(o, 0, sizeof *o);
    snprintf(o->device, sizeof o->device, "auto");
    snprintf(o->phases, sizeof o->phases, "all");
    snprintf(o->filter, sizeof o->filter, "all");
    snprintf(o->variant, sizeof o->variant, "all");
    o->reps = 50, o->warmup = 10, o->phase_reps = -1, o->phase_warmup = -1;
    *reps_given = *warmup_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--list")) o->list = 1;
        else if (!strcmp(a, "--flops-check")) o->flops_check = 1;
        else if (!strcmp(a, "--inject-bad-variant")) o->inject_bad = 1;
        else if (!strcmp(a, "--require-gpu")) o->require_gpu = 1;
        else if (!strcmp(a, "--no-flush")) o->no_flush = 1;
        else if (!strcmp(a, "--count-only")) o->count_only = 1;
        else if (!strcmp(a, "--check-budgets")) o->check_budgets = 1;
        else if (!strcmp(a, "--device") || !strcmp(a, "--preset") || !strcmp(a, "--batch") ||
                 !strcmp(a, "--op-batch") || !strcmp(a, "--reps") || !strcmp(a, "--warmup") ||
                 !strcmp(a, "--phase-reps") || !strcmp(a, "--phase-warmup") ||
                 !strcmp(a, "--phases") || !strcmp(a, "--ops") || !strcmp(a, "--variant") ||
                 !strcmp(a, "--json") || !strcmp(a, "--peak-gbs") || !strcmp(a, "--peak-tflops") ||
                 !strcmp(a, "--budget-scale")) {
            if (!v) {
                fprintf(stderr, "fce-bench: %s needs a value\n", a);
                return EXIT_USAGE;
            }
            if (!strcmp(a, "--device")) ok = parse_str(a, v, o->device, sizeof o->device);
            else if (!strcmp(a, "--preset")) {
                ok = parse_str(a, v, o->preset, sizeof o->preset);
                if (ok && strcmp(v, "cifar10") && strcmp(v, "svhn") && strcmp(v, "tiny")) {
                    fprintf(stderr, "fce-bench: --preset: '%s' is not one of cifar10, svhn, tiny\n", v);
                    ok = 0;
                }
            } else if (!strcmp(a, "--batch")) ok = parse_batches(v, o);
            else if (!strcmp(a, "--op-batch")) ok = parse_int(a, v, 1, 4096, &o->op_batch);
            else if (!strcmp(a, "--reps")) ok = parse_int(a, v, 1, 100000, &o->reps), *reps_given = 1;
            else if (!strcmp(a, "--warmup")) ok = parse_int(a, v, 0, 100000, &o->warmup), *warmup_given = 1;
            else if (!strcmp(a, "--phase-reps")) ok = parse_int(a, v, 1, 100000, &o->phase_reps);
            else if (!strcmp(a, "--phase-warmup")) ok = parse_int(a, v, 0, 100000, &o->phase_warmup);
            else if (!strcmp(a, "--phases")) {
                ok = parse_str(a, v, o->phases, sizeof o->phases);
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%s", v);
                for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); ok && tok;
                     tok = strtok_r(NULL, ",", &save)) {
                    int known = !strcmp(tok, "all") || !strcmp(tok, "none");
                    for (int k = 0; k < BENCH_N_PHASES; k++) known |= !strcmp(tok, bench_phase_names[k]);
                    if (!known) {
                        fprintf(stderr, "fce-bench: --phases: unknown phase '%s' (mle_step, "
                                "fce_ebm_step, fce_flow_step, sample, all, none)\n", tok);
                        ok = 0;
                    }
                }
            } else if (!strcmp(a, "--ops")) ok = parse_str(a, v, o->filter, sizeof o->filter);
            else if (!strcmp(a, "--variant")) ok = parse_str(a, v, o->variant, sizeof o->variant);
            else if (!strcmp(a, "--json")) ok = parse_str(a, v, o->json, sizeof o->json);
            else if (!strcmp(a, "--peak-gbs")) ok = parse_double(a, v, &o->peak_gbs);
            else if (!strcmp(a, "--budget-scale")) ok = parse_double(a, v, &o->budget_scale);
            else ok = parse_double(a, v, &o->peak_tflops);
            i++;
        } else {
            fprintf(stderr, "fce-bench: unknown option '%s' (see --help)\n", a);
            return EXIT_USAGE;
        }
        if (!ok) return EXIT_USAGE;
    }
    return 0;
}

// ---- peaks ----

static void nominal_peaks(const char *name, bench_peaks *p) {
    /* dense (no sparsity) datasheet figures, SXM parts; SPEC f uses the H200's */
    if (strstr(name, "H200")) {
        p->nominal_tflops_fp32 = 67, p->nominal_tflops_tf32 = 495, p->nominal_gbs = 4800;
    } else if (strstr(name, "H100")) {
        int pcie = strstr(name, "PCIe") != NULL;
        p->nominal_tflops_fp32 = pcie ? 51 : 67, p->nominal_tflops_tf32 = pcie ? 378 : 495;
        p->nominal_gbs = pcie ? 2000 : 3350;
    } else if (strstr(name, "A100")) {
        p->nominal_tflops_fp32 = 19.5, p->nominal_tflops_tf32 = 156;
        p->nominal_gbs = strstr(name, "80GB") ? 2039 : 1555;
    }
}

static double cpu_bandwidth(void) {
    const size_t bytes = (size_t)64 << 20;
    char *a = malloc(bytes), *b = malloc(bytes);
    double best = 1e30;
    if (a && b) {
        memset(a, 1, bytes);
        memset(b, 2, bytes);
        for (int r = 0; r < 4; r++) {
            double t0 = bench_now_ms();
            memcpy(b, a, bytes);
            double t = bench_now_ms() - t0;
            if (r > 0 && t > 0 && t < best) best = t;
        }
    }
    volatile char sink = b ? b[bytes / 2] : 0; /* keep the copies */
    (void)sink;
    free(a);
    free(b);
    return best < 1e30 ? 2.0 * (double)bytes / (best * 1e-3) / 1e9 : NAN;
}

/* The active CPU backend's dense layer, 256 × 512 → 512 (the rate its GEMMs reach: the fast
 * backend's blocked GEMM, or the reference's loops with --device cpu-ref). */
static fce_status cpu_gemm(fce_ctx *cpu, double *tflops) {
    const int N = 256, K = 512, M = 512;
    float *x = NULL, *w = NULL, *y = NULL;
    fce_status st = FCE_STATUS_OK;
    double best = 1e30;
    float *hx = malloc((size_t)N * K * sizeof(float)), *hw = malloc((size_t)M * K * sizeof(float));
    if (!hx || !hw) {
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
    bench_fill_uniform(hx, (size_t)N * K, 1, -1, 1);
    bench_fill_uniform(hw, (size_t)M * K, 2, -1, 1);
    FCE_TRY_GOTO(st, cpu->ops->alloc(cpu, (void **)&x, (size_t)N * K * sizeof(float)));
    FCE_TRY_GOTO(st, cpu->ops->alloc(cpu, (void **)&w, (size_t)M * K * sizeof(float)));
    FCE_TRY_GOTO(st, cpu->ops->alloc(cpu, (void **)&y, (size_t)N * M * sizeof(float)));
    FCE_TRY_GOTO(st, cpu->ops->upload(cpu, x, hx, (size_t)N * K * sizeof(float)));
    FCE_TRY_GOTO(st, cpu->ops->upload(cpu, w, hw, (size_t)M * K * sizeof(float)));
    for (int r = 0; r < 3; r++) {
        double t0 = bench_now_ms();
        FCE_TRY_GOTO(st, cpu->ops->linear_forward(cpu, y, x, w, NULL, N, K, M));
        double t = bench_now_ms() - t0;
        if (t > 0 && t < best) best = t;
    }
    *tflops = 2.0 * N * K * M / (best * 1e-3) / 1e12;
cleanup:
    cpu->ops->release(cpu, x);
    cpu->ops->release(cpu, w);
    cpu->ops->release(cpu, y);
    free(hx);
    free(hw);
    return st;
}

static fce_status measure_peaks(bench_env *env, const bench_provenance *pv) {
    bench_peaks *p = &env->peaks;
    nominal_peaks(pv->gpu_name, p);
    if (env->opt.peak_gbs > 0) {
        p->gbs = env->opt.peak_gbs;
        snprintf(p->gbs_method, sizeof p->gbs_method, "--peak-gbs");
    } else if (env->is_cuda) {
        FCE_TRY(bench_dev_peak_bandwidth(&env->ctx, &p->gbs));
        snprintf(p->gbs_method, sizeof p->gbs_method, "%s",
                 p->gbs > 0 ? "cudaMemcpyAsync D2D 512 MiB, best of 10" : "not measured (emulated GPU)");
    } else {
        p->gbs = cpu_bandwidth();
        snprintf(p->gbs_method, sizeof p->gbs_method, "memcpy 64 MiB, best of 3");
    }
    if (env->is_cuda) { /* TF32 rate: the floors' reference (measured even with --peak-tflops) */
        FCE_TRY(bench_dev_peak_gemm(&env->ctx, 8192, 1, &p->tflops_tf32));
    }
    if (env->opt.peak_tflops > 0) {
        p->tflops = env->opt.peak_tflops;
        snprintf(p->tflops_method, sizeof p->tflops_method, "--peak-tflops");
    } else if (env->is_cuda) {
        FCE_TRY(bench_dev_peak_gemm(&env->ctx, 8192, 0, &p->tflops));
        snprintf(p->tflops_method, sizeof p->tflops_method, "%s",
                 p->tflops > 0 ? "cuBLAS SGEMM 8192^3 FP32 (CUBLAS_DEFAULT_MATH), best of 5"
                               : "not measured (emulated GPU)");
    } else {
        FCE_TRY(cpu_gemm(&env->ctx, &p->tflops));
        snprintf(p->tflops_method, sizeof p->tflops_method,
                 "CPU backend linear_forward 256x512x512, best of 3");
    }
    return FCE_STATUS_OK;
}

// ---- output ----

static double roof_pct(const bench_env *env, const bench_entry *e) {
    if (!e->timed || !(e->ms.median > 0)) return NAN;
    double t = 0;
    if (env->peaks.gbs > 0) t = e->bytes / (env->peaks.gbs * 1e9);
    if (env->peaks.tflops > 0 && e->flops > 0) {
        double tc = e->flops / (env->peaks.tflops * 1e12);
        if (tc > t) t = tc;
    }
    return 100.0 * t * 1e3 / e->ms.median;
}

static void print_entry_header(void) {
    printf("%-31s %-14s %-28s %-34s %5s %10s %21s %8s %8s %6s %9s  %s\n", "op", "variant", "tag",
           "shape", "n_val", "median ms", "min..max ms", "GB/s", "TFLOP/s", "%roof", "err/tol",
           "validation");
}

static void print_entry(const bench_env *env, const bench_entry *e) {
    char med[32] = "-", rng[48] = "-", gbs[24] = "-", tf[24] = "-", pct[16] = "-";
    if (e->timed) {
        snprintf(med, sizeof med, "%.4f", e->ms.median);
        snprintf(rng, sizeof rng, "%.4f..%.4f", e->ms.min, e->ms.max);
        snprintf(gbs, sizeof gbs, "%.1f", e->bytes / (e->ms.median * 1e-3) / 1e9);
        if (e->flops > 0) snprintf(tf, sizeof tf, "%.3f", e->flops / (e->ms.median * 1e-3) / 1e12);
        double p = roof_pct(env, e);
        if (isfinite(p)) snprintf(pct, sizeof pct, "%.1f", p);
    }
    printf("%-31s %-14s %-28s %-34s %5d %10s %21s %8s %8s %6s %9.3g  %s\n", e->name, e->variant,
           e->tag, e->shape, e->n_val, med, rng, gbs, tf, pct, e->err_ratio,
           e->validated_ok ? "ok" : "FAILED");
    if (!e->validated_ok && e->fail_reason[0]) printf("    FAILED: %s\n", e->fail_reason);
    fflush(stdout);
}

static void print_phases(const bench_phase_result *r, int n) {
    printf("\n%-14s %5s %10s %21s %9s %9s %10s %8s %10s %8s %9s\n", "phase", "batch", "median ms",
           "min..max ms", "img/s", "GFLOP", "floor fp32", "x floor", "floor tf32", "x floor",
           "mem MiB");
    for (int i = 0; i < n; i++) {
        const bench_phase_result *p = &r[i];
        if (!p->ok) {
            printf("%-14s %5d %10s   FAILED (see the log)\n", p->name, p->batch, "-");
            continue;
        }
        char rng[48], f32[24] = "-", x32[24] = "-", t32[24] = "-", xt32[24] = "-";
        snprintf(rng, sizeof rng, "%.3f..%.3f", p->ms.min, p->ms.max);
        if (p->floor_ms_fp32 > 0) {
            snprintf(f32, sizeof f32, "%.3f", p->floor_ms_fp32);
            snprintf(x32, sizeof x32, "%.1f", p->ms.median / p->floor_ms_fp32);
        }
        if (p->floor_ms_tf32 > 0) {
            snprintf(t32, sizeof t32, "%.3f", p->floor_ms_tf32);
            snprintf(xt32, sizeof xt32, "%.1f", p->ms.median / p->floor_ms_tf32);
        }
        printf("%-14s %5d %10.3f %21s %9.1f %9.2f %10s %8s %10s %8s %9.1f\n", p->name, p->batch,
               p->ms.median, rng, p->img_per_s, p->flops / 1e9, f32, x32, t32, xt32,
               p->mem_bytes / 1048576.0);
    }
    fflush(stdout);
}

static void json_kv_str(FILE *f, const char *k, const char *v, int comma) {
    fprintf(f, "    \"%s\": ", k);
    bench_json_str(f, v);
    fputs(comma ? ",\n" : "\n", f);
}

static void json_kv_num(FILE *f, const char *k, double v, int comma) {
    fprintf(f, "    \"%s\": ", k);
    bench_json_num(f, v);
    fputs(comma ? ",\n" : "\n", f);
}

/* "provenance": the device and its libraries, the build, the preset and batches, date, host. */
static void write_json_provenance(FILE *f, const bench_env *env, const bench_provenance *pv,
                                  const char *date) {
    const bench_opts *o = &env->opt;
    char host[256] = "unknown", batches[96] = "";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    fprintf(f, "  \"provenance\": {\n");
    json_kv_str(f, "gpu_name", pv->gpu_name, 1);
    json_kv_str(f, "compute_capability", pv->compute_capability, 1);
    json_kv_str(f, "driver_version", pv->driver_version, 1);
    json_kv_str(f, "cuda_driver_api", pv->cuda_driver_api, 1);
    json_kv_str(f, "cuda_runtime", pv->cuda_runtime, 1);
    json_kv_str(f, "cudnn_version", pv->cudnn_version, 1);
    json_kv_str(f, "cublas_version", pv->cublas_version, 1);
    json_kv_num(f, "sm_count", pv->sm_count, 1);
    json_kv_num(f, "l2_bytes", (double)pv->l2_bytes, 1);
    json_kv_num(f, "gpu_memory_bytes", (double)pv->mem_total_bytes, 1);
    json_kv_str(f, "backend", env->is_cuda ? "cuda" : "cpu", 1);
    json_kv_str(f, "device", env->ctx.device_name, 1);
    json_kv_str(f, "git_commit", FCE_BENCH_GIT, 1);
    json_kv_str(f, "build_type", FCE_BENCH_BUILD_TYPE, 1);
    json_kv_str(f, "build_flags", "C: " FCE_BENCH_C_FLAGS " | CUDA: " FCE_BENCH_CUDA_FLAGS, 1);
    json_kv_str(f, "cuda_archs", FCE_BENCH_CUDA_ARCHS, 1);
#if defined(__clang__)
    json_kv_str(f, "compiler", "clang " __clang_version__, 1);
#elif defined(__GNUC__)
    json_kv_str(f, "compiler", "gcc " __VERSION__, 1);
#endif
    json_kv_str(f, "preset", o->preset, 1);
    for (int i = 0; i < o->n_batches; i++)
        snprintf(batches + strlen(batches), sizeof batches - strlen(batches), "%s%d", i ? ", " : "",
                 o->batches[i]);
    fprintf(f, "    \"batch\": [%s],\n", batches);
    fprintf(f, "    \"op_batch\": %d,\n", o->op_batch);
    json_kv_str(f, "date", date, 1);
    json_kv_str(f, "host", host, 0);
    fprintf(f, "  },\n");
}

/* "settings", "peaks" and "flop_model". */
static void write_json_setup(FILE *f, const bench_env *env) {
    const bench_opts *o = &env->opt;
    const bench_peaks *pk = &env->peaks;
    fprintf(f, "  \"settings\": {\n");
    fprintf(f, "    \"reps\": %d, \"warmup\": %d, \"phase_reps\": %d, \"phase_warmup\": %d,\n",
            o->reps, o->warmup, o->phase_reps, o->phase_warmup);
    fprintf(f, "    \"l2_flush_bytes\": %zu,\n", env->flush_bytes);
    json_kv_str(f, "timer", env->is_cuda ? "cudaEvent on the context's stream" : "clock_gettime(CLOCK_MONOTONIC)", 1);
    json_kv_num(f, "ebm_width_scale", env->ebm_width_scale, 1);
    /* FCE_TF32=1 (backend.h: fce_ctx_set_tf32) puts every context of the run, the phases' too,
     * on TF32 tensor cores; the op entries' FP32 tolerances then do not apply (run --ops none). */
    json_kv_num(f, "tf32", env->ctx.tf32, 1);
    fprintf(f, "    \"glow\": {\"H\": %d, \"W\": %d, \"C\": %d, \"L\": %d, \"K\": %d, \"width\": %d, "
            "\"affine\": %d, \"edge_channel\": false}\n", env->gc.H, env->gc.W, env->gc.C, env->gc.L,
            env->gc.K, env->gc.width, env->gc.affine);
    fprintf(f, "  },\n  \"peaks\": {\n");
    json_kv_num(f, "gbs", pk->gbs, 1);
    json_kv_str(f, "gbs_method", pk->gbs_method, 1);
    json_kv_num(f, "tflops_fp32", pk->tflops, 1);
    json_kv_str(f, "tflops_fp32_method", pk->tflops_method, 1);
    json_kv_num(f, "tflops_tf32_measured", pk->tflops_tf32 > 0 ? pk->tflops_tf32 : NAN, 1);
    json_kv_num(f, "nominal_tflops_fp32", pk->nominal_tflops_fp32 > 0 ? pk->nominal_tflops_fp32 : NAN, 1);
    json_kv_num(f, "nominal_tflops_tf32", pk->nominal_tflops_tf32 > 0 ? pk->nominal_tflops_tf32 : NAN, 1);
    json_kv_num(f, "nominal_gbs", pk->nominal_gbs > 0 ? pk->nominal_gbs : NAN, 0);
    fprintf(f, "  },\n  \"flop_model\": {\n");
    const int H = env->gc.H, W = env->gc.W, C = env->gc.C, ws = env->ebm_width_scale;
    json_kv_num(f, "glow_forward_flops_per_image", bench_glow_forward_flops(&env->gc, 0), 1);
    json_kv_num(f, "glow_forward_flops_per_image_with_edge_channel", bench_glow_forward_flops(&env->gc, 1), 1);
    json_kv_num(f, "ebm_forward_flops_per_image", bench_ebm_forward_flops(H, W, C, ws), 1);
    json_kv_num(f, "glow_trainable_floats", (double)bench_glow_trainable(&env->gc), 1);
    json_kv_num(f, "ebm_trainable_floats", (double)bench_ebm_trainable(H, W, C, ws), 0);
    fprintf(f, "  },\n");
}

/* One op entry as a JSON object. */
static void write_json_entry(FILE *f, const bench_env *env, const bench_entry *e) {
    fputs("{\"name\": ", f);
    bench_json_str(f, e->name);
    bench_json_field_str(f, "variant", e->variant);
    bench_json_field_str(f, "tag", e->tag);
    bench_json_field_str(f, "shape", e->shape);
    fprintf(f, ", \"batch\": %d, \"n_val\": %d, \"validation\": \"%s\"", e->N, e->n_val,
            e->validated_ok ? "ok" : "FAILED");
    if (!e->validated_ok) bench_json_field_str(f, "fail_reason", e->fail_reason);
    bench_json_field_num(f, "max_abs_err", e->max_abs_err);
    bench_json_field_num(f, "err_ratio", e->err_ratio);
    bench_json_field_num(f, "atol", e->atol);
    bench_json_field_num(f, "rtol", e->rtol);
    bench_json_field_num(f, "flops", e->flops);
    bench_json_field_num(f, "bytes", e->bytes);
    fprintf(f, ", \"timed\": %s", e->timed ? "true" : "false");
    if (e->timed) {
        fputs(", \"ms\": ", f);
        bench_json_stats(f, &e->ms);
        bench_json_field_num(f, "gbs", e->bytes / (e->ms.median * 1e-3) / 1e9);
        bench_json_field_num(f, "tflops",
                             e->flops > 0 ? e->flops / (e->ms.median * 1e-3) / 1e12 : NAN);
        bench_json_field_num(f, "pct_roofline", roof_pct(env, e));
    }
    fputc('}', f);
}

/* One training phase as a JSON object. */
static void write_json_phase(FILE *f, const bench_phase_result *p) {
    fputs("{\"name\": ", f);
    bench_json_str(f, p->name);
    fprintf(f, ", \"batch\": %d, \"ok\": %s, \"ms\": ", p->batch, p->ok ? "true" : "false");
    bench_json_stats(f, &p->ms);
    bench_json_field_num(f, "img_per_s", p->img_per_s);
    bench_json_field_num(f, "flops", p->flops);
    bench_json_field_num(f, "floor_ms_fp32", p->floor_ms_fp32);
    bench_json_field_num(f, "x_floor_fp32", p->ok ? p->ms.median / p->floor_ms_fp32 : NAN);
    bench_json_field_num(f, "floor_ms_tf32", p->floor_ms_tf32);
    bench_json_field_str(f, "floor_tf32_basis", p->floor_tf32_basis);
    bench_json_field_num(f, "x_floor_tf32", p->ok ? p->ms.median / p->floor_ms_tf32 : NAN);
    bench_json_field_num(f, "mem_bytes", p->mem_bytes);
    bench_json_field_str(f, "mem_method", p->mem_method);
    bench_counts_json(f, &p->counts);
    fputc('}', f);
}

static fce_status write_json(const bench_env *env, const bench_provenance *pv,
                             const bench_registry *reg, const bench_phase_result *ph, int n_ph,
                             int n_failed, const char *date) {
    FILE *f = fopen(env->opt.json, "w");
    if (!f) {
        fce_log_error("fce-bench: cannot write %s", env->opt.json);
        return FCE_STATUS_ERR_IO;
    }
    fprintf(f, "{\n  \"tool\": \"fce-bench\",\n  \"schema\": 1,\n");
    write_json_provenance(f, env, pv, date);
    write_json_setup(f, env);
    int n_sel = 0;
    for (int i = 0; i < reg->n; i++) n_sel += bench_entry_selected(&env->opt, &reg->e[i]);
    fprintf(f, "  \"registry_size\": %d,\n  \"entries_selected\": %d,\n  \"entries\": [", reg->n,
            n_sel);
    int first = 1;
    for (int i = 0; i < reg->n; i++) {
        if (!bench_entry_selected(&env->opt, &reg->e[i])) continue;
        fputs(first ? "\n    " : ",\n    ", f);
        first = 0;
        write_json_entry(f, env, &reg->e[i]);
    }
    fprintf(f, "\n  ],\n  \"phases\": [");
    for (int i = 0; i < n_ph; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        write_json_phase(f, &ph[i]);
    }
    fprintf(f, "\n  ],\n  \"n_failed\": %d\n}\n", n_failed);
    if (fclose(f) != 0) {
        fce_log_error("fce-bench: cannot write %s", env->opt.json);
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

// ---- main ----

/* --count-only: the emulation's count-only mode (before any context), the phases alone, one
 * warm-up step and one timed step each (then the counted one). */
static int count_only_setup(bench_opts *o) {
    if (bench_dev_set_count_only(1) != 0) {
        fce_log_error("fce-bench: --count-only needs the emulated GPU (build/bench/fce-bench-emu)");
        return 1;
    }
    snprintf(o->filter, sizeof o->filter, "none");
    o->phase_reps = 1, o->phase_warmup = 1;
    return 0;
}

static int run(bench_env *env, int reps_given, int warmup_given) {
    bench_opts *o = &env->opt;
    bench_registry reg = {0};
    bench_phase_result *ph = NULL;
    int n_ph = 0, n_failed = 0, rc = 0;
    fce_status st = FCE_STATUS_OK;

    if (o->count_only && count_only_setup(o) != 0) return 1;
    if (fce_ctx_init(&env->ctx, o->device) != FCE_STATUS_OK) return 1;
    env->is_cuda = env->ctx.kind == FCE_BACKEND_KIND_CUDA;
    if (fce_ctx_init_cpu(&env->cpu) != FCE_STATUS_OK) {
        fce_ctx_free(&env->ctx);
        return 1;
    }
    if (!env->is_cuda) {
        char reason[256] = "";
        (void)fce_gpu_usable(reason, sizeof reason);
        const int asked_cpu = !strcmp(o->device, "cpu") || !strcmp(o->device, "cpu-ref");
        printf("GPU benchmarks skipped: %s%s\n", asked_cpu ? "--device " : "",
               asked_cpu ? o->device : reason);
        if (o->require_gpu) {
            fce_log_error("fce-bench: --require-gpu, but the backend is the CPU (%s)",
                          env->ctx.device_name);
            rc = 1;
            goto done;
        }
    }
    if (!o->preset[0]) {
        snprintf(o->preset, sizeof o->preset, "%s", env->is_cuda ? "cifar10" : "tiny");
        if (!env->is_cuda) printf("CPU backend: preset tiny by default (--preset cifar10 to force)\n");
    }
    {
        fce_image_train_config tc;
        fce_image_train_config_defaults(&tc);
        snprintf(tc.preset, sizeof tc.preset, "%s", o->preset);
        fce_image_set s;
        memset(&s, 0, sizeof s);
        s.H = 32, s.W = 32, s.C = 3;
        env->gc = fce_image_preset(&tc, &s);
        env->ebm_width_scale = strcmp(o->preset, "tiny") ? 0 : 8;
    }
    if (!o->n_batches) {
        int tiny = !strcmp(o->preset, "tiny");
        o->batches[0] = tiny ? 4 : 64, o->batches[1] = tiny ? 8 : 128, o->n_batches = 2;
    }
    if (!o->op_batch) o->op_batch = o->batches[0];
    if (o->phase_reps < 0) o->phase_reps = reps_given ? o->reps : 20;
    if (o->phase_warmup < 0) o->phase_warmup = warmup_given ? o->warmup : 3;

    st = bench_registry_build(&reg, env, o->op_batch);
    if (st == FCE_STATUS_OK) st = bench_register_variants(&reg);
    if (st == FCE_STATUS_OK && o->inject_bad) st = bench_registry_inject_bad(&reg);
    if (st != FCE_STATUS_OK) {
        rc = 1;
        goto done;
    }
    if (o->list) {
        for (int i = 0; i < reg.n; i++)
            printf("%-31s %-14s %-28s %-34s flops %.4g bytes %.4g\n", reg.e[i].name,
                   reg.e[i].variant, reg.e[i].tag, reg.e[i].shape, reg.e[i].flops, reg.e[i].bytes);
        goto done;
    }

    int n_match = 0; /* --ops naming nothing is a typo, not a request for the phases alone */
    for (int i = 0; i < reg.n; i++) n_match += bench_entry_selected(o, &reg.e[i]);
    if (!n_match && strcmp(o->filter, "none") != 0) {
        fce_log_error("fce-bench: --ops '%s'%s matches no op entry (fce-bench --list shows them; "
                      "--ops none runs the phases alone)", o->filter,
                      strcmp(o->variant, "all") ? " with --variant" : "");
        rc = 2;
        goto done;
    }

    bench_provenance pv;
    bench_dev_provenance(&env->ctx, &pv);
    time_t now = time(NULL);
    struct tm tmv;
    char date[64] = "unknown";
    if (gmtime_r(&now, &tmv)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    printf("fce-bench | %s | %s | driver %s | CUDA runtime %s | cuDNN %s | cuBLAS %s\n",
           env->ctx.device_name, env->is_cuda ? pv.compute_capability : "cpu", pv.driver_version,
           pv.cuda_runtime, pv.cudnn_version, pv.cublas_version);
    printf("git %s | %s | preset %s (L %d K %d width %d, EBM width scale %d) | op batch %d | "
           "reps %d warm-up %d | %s\n", FCE_BENCH_GIT, FCE_BENCH_BUILD_TYPE, o->preset, env->gc.L,
           env->gc.K, env->gc.width, env->ebm_width_scale ? env->ebm_width_scale : 1, o->op_batch,
           o->reps, o->warmup, date);
    if ((st = measure_peaks(env, &pv)) != FCE_STATUS_OK) {
        rc = 1;
        goto done;
    }
    printf("peaks: %.1f GB/s (%s); %.3f TFLOP/s FP32 (%s)", env->peaks.gbs, env->peaks.gbs_method,
           env->peaks.tflops, env->peaks.tflops_method);
    if (env->peaks.tflops_tf32 > 0) printf("; %.1f TFLOP/s TF32 (cuBLAS 8192^3)", env->peaks.tflops_tf32);
    if (env->peaks.nominal_tflops_tf32 > 0)
        printf("; nominal %.0f GB/s, %.1f FP32 / %.0f TF32 TFLOP/s", env->peaks.nominal_gbs,
               env->peaks.nominal_tflops_fp32, env->peaks.nominal_tflops_tf32);
    printf("\n\n");
    if ((st = bench_flush_init(env)) != FCE_STATUS_OK) {
        rc = 1;
        goto done;
    }

    int n_sel = 0;
    for (int i = 0; i < reg.n; i++) n_sel += bench_entry_selected(o, &reg.e[i]);
    if (n_sel) print_entry_header();
    for (int i = 0; i < reg.n; i++) {
        bench_entry *e = &reg.e[i];
        if (!bench_entry_selected(o, e)) continue;
        st = bench_entry_run(env, e);
        if (st != FCE_STATUS_OK) {
            fce_log_error("fce-bench: %s/%s (%s) failed to run: %s", e->name, e->variant, e->tag,
                          fce_status_str(st));
            e->validated_ok = 0;
            if (!e->fail_reason[0])
                snprintf(e->fail_reason, sizeof e->fail_reason, "runtime error: %s", fce_status_str(st));
        }
        if (!e->validated_ok) n_failed++;
        print_entry(env, e);
    }

    ph = calloc((size_t)o->n_batches * BENCH_N_PHASES, sizeof *ph);
    if (!ph) {
        rc = 1;
        goto done;
    }
    for (int b = 0; b < o->n_batches; b++) {
        int k = 0;
        if (bench_phases_run(env, o->batches[b], ph + n_ph, &k) != FCE_STATUS_OK) rc = 1;
        n_ph += k;
    }
    for (int i = 0; i < n_ph; i++) n_failed += !ph[i].ok;
    if (n_ph) {
        print_phases(ph, n_ph);
        printf("floor = FLOPs of the phase's convs and GEMMs (model shapes, no edge channel) / peak; "
               "fp32: %.3g TFLOP/s (%s); tf32: %s\n", env->peaks.tflops, env->peaks.tflops_method,
               ph[0].floor_tf32_basis);
        printf("memory: %s\n", ph[0].mem_method);
        bench_counts_print(ph, n_ph);
    }
    printf("\n%d of %d entries and phases failed\n", n_failed, n_sel + n_ph);
    if (o->json[0] && write_json(env, &pv, &reg, ph, n_ph, n_failed, date) != FCE_STATUS_OK) rc = 1;
    if ((n_failed > 0) | (o->check_budgets && bench_counts_check(env, ph, n_ph))) rc = 1; /* | : both run */
done:
    bench_flush_free(env);
    free(ph);
    bench_registry_free(&reg);
    fce_ctx_free(&env->cpu);
    fce_ctx_free(&env->ctx);
    return rc;
}

int main(int argc, char **argv) {
    bench_env *env = calloc(1, sizeof *env);
    if (!env) return 1;
    int reps_given = 0, warmup_given = 0;
    int pr = parse_args(argc, argv, &env->opt, &reps_given, &warmup_given);
    int rc;
    if (pr == -1) rc = 0;
    else if (pr) rc = pr;
    else if (env->opt.flops_check) rc = bench_flops_check(stdout) ? 1 : 0;
    else rc = run(env, reps_given, warmup_given);
    free(env);
    return rc;
}
