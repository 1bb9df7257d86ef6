/* test_emu_graph.c: CUDA graph capture and replay on the emulated GPU, through the CUDA backend's
 * op table (graph_begin / graph_end / graph_launch / graph_free, backend.h) and the fake runtime.
 *
 * One short "step" touches every kind of stream operation: a kernel with a scalar argument
 * (scale, in place, so the state evolves from run to run), a GEMM (linear_forward: cuBLAS, plus its
 * bias kernel), a cuDNN convolution (conv2d_forward), a memset (zero) and a device copy (copy).
 * Checked:
 *   - recording runs nothing (state and cost counters unchanged until the first launch);
 *   - two replays equal the step run eagerly twice, bit for bit, and count exactly the same
 *     launches, GEMMs, cuDNN calls, memsets, copies and bytes (emu_counters.h), plus 2 graph
 *     launches; the same in count-only mode (counted, not computed);
 *   - a replay uses the arguments it was recorded with (a graph recorded with alpha = 0.5 replays
 *     0.5 after another was recorded with 2.0);
 *   - upload, download, sync, alloc, release and conv_plan_init are refused while recording, the
 *     recording then ends without a graph, and the context works eagerly afterwards;
 *   - the fake runtime's own rules: a copy from pageable host memory cannot be captured (the
 *     capture is invalidated, cudaStreamEndCapture gives no graph), one from cudaHostAlloc memory
 *     is, and reads that memory at each replay.
 * FCE_EMU_GRAPH_SELFTEST=broken compares two replays with ONE eager step instead of two, which must
 * fail (test_emu_graph_selftest). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "cuda/cuda_bench_hooks.h"
#include "emu_counters.h"
#include "fce/backend.h"
#include "fce_test.h"
#include "test_util.h"

/* linear: x (N×IN) · Wᵀ (OUT×IN) + b. conv: y reshaped as NHWC (N, 2, 2, 4) → (N, 2, 2, 3). */
enum { N = 2, IN = 8, OUT = 16, NA = N * IN, NY = N * OUT, CO = 3, NCW = CO * 3 * 3 * 4,
       NCY = N * 2 * 2 * CO, NZ = 2 * NCY };

typedef struct {
    fce_ctx ctx;
    fce_conv_plan *plan;
    float *a, *w, *b, *y, *cw, *cb, *cy, *z; /* device: the state is a, y, cy, z */
} fixture;

static const fce_conv_shape conv_shape = {.N = N, .H = 2, .W = 2, .Cin = 4, .Cout = CO, .KH = 3,
                                          .KW = 3, .stride = 1, .pad = 1};

/* The recorded / eager step. */
static fce_status step(fixture *f, float alpha) {
    fce_ctx *c = &f->ctx;
    FCE_TRY(c->ops->scale(c, f->a, f->a, NA, alpha));
    FCE_TRY(c->ops->linear_forward(c, f->y, f->a, f->w, f->b, N, IN, OUT));
    FCE_TRY(c->ops->conv2d_forward(c, f->plan, f->cy, f->y, f->cw, f->cb));
    FCE_TRY(c->ops->zero(c, f->z, NZ * sizeof(float)));
    return c->ops->copy(c, f->z, f->cy, NCY * sizeof(float));
}

/* Every state buffer set to its seeded start (z to garbage, so the memset shows). */
static int reset(fixture *f) {
    float h[IN * OUT]; /* the largest buffer */
    struct {
        float *d;
        size_t n;
        float lo, hi;
    } s[] = {{f->a, NA, -1, 1}, {f->w, IN * OUT, -0.3f, 0.3f}, {f->b, OUT, -1, 1},
             {f->y, NY, 5, 6}, {f->cw, NCW, -0.2f, 0.2f}, {f->cb, CO, -1, 1},
             {f->cy, NCY, 7, 8}, {f->z, NZ, 9, 10}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        fce_test_fill_uniform(h, s[i].n, 100 + i, s[i].lo, s[i].hi);
        if (f->ctx.ops->upload(&f->ctx, s[i].d, h, s[i].n * sizeof(float)) != FCE_STATUS_OK) return 0;
    }
    return f->ctx.ops->sync(&f->ctx) == FCE_STATUS_OK;
}

/* The state, downloaded into one host array (NA + NY + NCY + NZ floats). */
enum { NSTATE = NA + NY + NCY + NZ };
static int snapshot(fixture *f, float *out) {
    fce_ctx *c = &f->ctx;
    return c->ops->download(c, out, f->a, NA * 4) == FCE_STATUS_OK &&
           c->ops->download(c, out + NA, f->y, NY * 4) == FCE_STATUS_OK &&
           c->ops->download(c, out + NA + NY, f->cy, NCY * 4) == FCE_STATUS_OK &&
           c->ops->download(c, out + NA + NY + NCY, f->z, NZ * 4) == FCE_STATUS_OK;
}

static int same_bits(const char *what, const float *got, const float *want) {
    if (memcmp(got, want, NSTATE * sizeof(float)) == 0) return 1;
    for (int i = 0; i < NSTATE; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
            fprintf(stderr, "  FAIL: %s: state element %d differs: %.9g vs %.9g\n", what, i,
                    (double)got[i], (double)want[i]);
            break;
        }
    return 0;
}

static int fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    char reason[256] = "";
    if (!fce_gpu_usable(reason, sizeof reason)) {
        fprintf(stderr, "  FAIL: the emulated GPU is not usable: %s\n", reason);
        return 0;
    }
    if (fce_ctx_init(&f->ctx, "0") != FCE_STATUS_OK) return 0;
    f->ctx.deterministic = 1;
    fce_ctx *c = &f->ctx;
    float **bufs[] = {&f->a, &f->w, &f->b, &f->y, &f->cw, &f->cb, &f->cy, &f->z};
    const size_t n[] = {NA, IN * OUT, OUT, NY, NCW, CO, NCY, NZ};
    for (int i = 0; i < 8; i++)
        if (c->ops->alloc(c, (void **)bufs[i], n[i] * sizeof(float)) != FCE_STATUS_OK) return 0;
    return c->ops->conv_plan_init(c, &f->plan, &conv_shape) == FCE_STATUS_OK && reset(f);
}

static void fixture_close(fixture *f) {
    fce_ctx *c = &f->ctx;
    float *bufs[] = {f->a, f->w, f->b, f->y, f->cw, f->cb, f->cy, f->z};
    for (int i = 0; i < 8; i++) c->ops->release(c, bufs[i]);
    c->ops->conv_plan_free(c, f->plan);
    fce_ctx_free(c);
}

/* Records step(alpha) into *g; nothing may run while recording. */
static int record(fixture *f, float alpha, fce_graph **g) {
    fce_emu_counters a, z, d;
    fce_emu_counters_read(&a);
    if (f->ctx.ops->graph_begin(&f->ctx) != FCE_STATUS_OK || step(f, alpha) != FCE_STATUS_OK ||
        f->ctx.ops->graph_end(&f->ctx, g) != FCE_STATUS_OK || !*g)
        return 0;
    fce_emu_counters_read(&z);
    fce_emu_counters_diff(&a, &z, &d);
    if (fce_emu_stream_ops(&d) != 0 || d.kernel_bytes_read != 0 || d.host_syncs != 0 ||
        d.allocs != 0 || d.captures != 1) {
        fprintf(stderr, "  FAIL: recording ran or counted work: %lld stream ops, %lld syncs, %lld "
                        "allocs, %lld captures\n", fce_emu_stream_ops(&d), d.host_syncs, d.allocs,
                d.captures);
        return 0;
    }
    return 1;
}

/* Same counts of every device operation and byte (graph launches and captures aside). */
static int same_counts(const fce_emu_counters *r, const fce_emu_counters *e) {
    int ok = r->launches == e->launches && r->unaccounted_launches == e->unaccounted_launches &&
             r->gemms == e->gemms && r->dnn_calls == e->dnn_calls && r->memsets == e->memsets &&
             r->copies_d2d == e->copies_d2d && r->copies_h2d == e->copies_h2d &&
             r->copies_d2h == e->copies_d2h && r->host_syncs == e->host_syncs &&
             r->allocs == e->allocs && r->kernel_bytes_read == e->kernel_bytes_read &&
             r->kernel_bytes_written == e->kernel_bytes_written && r->gemm_bytes == e->gemm_bytes &&
             r->dnn_bytes == e->dnn_bytes && r->memset_bytes == e->memset_bytes &&
             r->copy_bytes == e->copy_bytes;
    fprintf(stderr, "    replay: %lld launches, %lld GEMMs, %lld cuDNN, %lld memsets, %lld D2D, "
                    "%.0f kernel bytes read; eager: %lld, %lld, %lld, %lld, %lld, %.0f\n",
            r->launches, r->gemms, r->dnn_calls, r->memsets, r->copies_d2d, r->kernel_bytes_read,
            e->launches, e->gemms, e->dnn_calls, e->memsets, e->copies_d2d, e->kernel_bytes_read);
    if (!ok) fprintf(stderr, "  FAIL: the replayed step does not count as the eager one\n");
    return ok;
}

/* Runs `times` eager steps (eager != 0) or launches of g, and returns the counter difference. */
static int run(fixture *f, fce_graph *g, int times, fce_emu_counters *d) {
    fce_emu_counters a, z;
    fce_emu_counters_read(&a);
    for (int i = 0; i < times; i++) {
        fce_status st = g ? f->ctx.ops->graph_launch(&f->ctx, g) : step(f, 0.5f);
        if (st != FCE_STATUS_OK) return 0;
    }
    fce_emu_counters_read(&z);
    fce_emu_counters_diff(&a, &z, d);
    return 1;
}

static int broken_self_test(void) {
    const char *e = getenv("FCE_EMU_GRAPH_SELFTEST");
    return e && strcmp(e, "broken") == 0;
}

TEST(replay_equals_eager_bit_for_bit_and_counts) {
    fixture f;
    static float start[NSTATE], eager1[NSTATE], eager2[NSTATE], got[NSTATE];
    fce_emu_counters ce, cr;
    ASSERT_TRUE(fixture_open(&f));
    ASSERT_TRUE(snapshot(&f, start));
    ASSERT_TRUE(run(&f, NULL, 1, &ce) && snapshot(&f, eager1));
    ASSERT_TRUE(run(&f, NULL, 1, &ce) && snapshot(&f, eager2));
    ASSERT_TRUE(reset(&f));
    ASSERT_TRUE(run(&f, NULL, 2, &ce));
    ASSERT_TRUE(reset(&f));
    fce_graph *g = NULL;
    ASSERT_TRUE(record(&f, 0.5f, &g));
    ASSERT_TRUE(snapshot(&f, got));
    ASSERT_TRUE(same_bits("state after recording (nothing may have run)", got, start));
    ASSERT_TRUE(run(&f, g, 1, &cr) && snapshot(&f, got));
    ASSERT_TRUE(same_bits("one replay vs one eager step", got, eager1));
    ASSERT_TRUE(reset(&f));
    ASSERT_TRUE(run(&f, g, 2, &cr) && snapshot(&f, got));
    fprintf(stderr, "    two replays vs two eager steps (%s)\n",
            broken_self_test() ? "self-test: compared with ONE eager step, must fail" : "bitwise");
    ASSERT_TRUE(same_bits("two replays", got, broken_self_test() ? eager1 : eager2));
    ASSERT_TRUE(same_counts(&cr, &ce));
    ASSERT_EQ_INT(cr.graph_launches, 2);
    ASSERT_EQ_INT(ce.graph_launches, 0);
    ASSERT_TRUE(ce.launches > 0 && ce.gemms > 0 && ce.dnn_calls > 0 && ce.memsets > 0 &&
                ce.copies_d2d > 0);
    ASSERT_EQ_INT(fce_emu_stream_ops(&cr), fce_emu_stream_ops(&ce));

    /* Count-only mode: recorded and replayed, counted the same, nothing computed. */
    ASSERT_TRUE(reset(&f) && snapshot(&f, start));
    fce_emu_set_count_only(1);
    fce_graph *gc = NULL;
    int ok = record(&f, 0.5f, &gc) && run(&f, gc, 2, &cr);
    fce_emu_set_count_only(0);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(same_counts(&cr, &ce));
    ASSERT_TRUE(snapshot(&f, got));
    ASSERT_TRUE(same_bits("count-only replays (nothing computed)", got, start));
    f.ctx.ops->graph_free(&f.ctx, gc);
    f.ctx.ops->graph_free(&f.ctx, g);
    f.ctx.ops->graph_free(&f.ctx, NULL);
    fixture_close(&f);
    return 0;
}

/* A graph keeps the scalars it was recorded with. */
TEST(replay_uses_the_recorded_arguments) {
    fixture f;
    static float half[NSTATE], twice[NSTATE], got[NSTATE];
    ASSERT_TRUE(fixture_open(&f));
    ASSERT_OK(step(&f, 0.5f));
    ASSERT_TRUE(snapshot(&f, half));
    ASSERT_TRUE(reset(&f));
    ASSERT_OK(step(&f, 2.0f));
    ASSERT_TRUE(snapshot(&f, twice));
    ASSERT_TRUE(reset(&f));
    fce_graph *g_half = NULL, *g_twice = NULL;
    ASSERT_TRUE(record(&f, 0.5f, &g_half));
    ASSERT_TRUE(record(&f, 2.0f, &g_twice));
    ASSERT_OK(f.ctx.ops->graph_launch(&f.ctx, g_half));
    ASSERT_TRUE(snapshot(&f, got));
    ASSERT_TRUE(same_bits("graph recorded with alpha 0.5, launched after one with 2.0", got, half));
    ASSERT_TRUE(reset(&f));
    ASSERT_OK(f.ctx.ops->graph_launch(&f.ctx, g_twice));
    ASSERT_TRUE(snapshot(&f, got));
    ASSERT_TRUE(same_bits("graph recorded with alpha 2.0", got, twice));
    ASSERT_TRUE(memcmp(half, twice, sizeof half) != 0);
    f.ctx.ops->graph_free(&f.ctx, g_half);
    f.ctx.ops->graph_free(&f.ctx, g_twice);
    fixture_close(&f);
    return 0;
}

/* Each refused op fails its op and the recording; afterwards the context runs eagerly as before. */
TEST(host_transfers_syncs_and_allocations_are_refused) {
    fixture f;
    static float want[NSTATE], got[NSTATE];
    ASSERT_TRUE(fixture_open(&f));
    ASSERT_OK(step(&f, 0.5f));
    ASSERT_TRUE(snapshot(&f, want));
    fce_ctx *c = &f.ctx;
    float h[4] = {1, 2, 3, 4};
    for (int op = 0; op < 6; op++) {
        static const char *const names[] = {"upload", "download", "sync", "alloc", "release",
                                            "conv_plan_init"};
        ASSERT_TRUE(reset(&f));
        void *extra = NULL;
        if (op == 4) ASSERT_OK(c->ops->alloc(c, &extra, 64));
        ASSERT_OK(c->ops->graph_begin(c));
        ASSERT_OK(step(&f, 0.5f));
        fce_status st = FCE_STATUS_OK;
        void *p = &st;
        fce_conv_plan *plan = (fce_conv_plan *)&st;
        switch (op) {
        case 0: st = c->ops->upload(c, f.a, h, sizeof h); break;
        case 1: st = c->ops->download(c, h, f.a, sizeof h); break;
        case 2: st = c->ops->sync(c); break;
        case 3: st = c->ops->alloc(c, &p, 64); break;
        case 4: c->ops->release(c, extra); st = FCE_STATUS_ERR_UNSUPPORTED; break;
        default: st = c->ops->conv_plan_init(c, &plan, &conv_shape); break;
        }
        fce_graph *g = (fce_graph *)&st;
        fce_status end = c->ops->graph_end(c, &g);
        fprintf(stderr, "    %-14s inside a recording: %s; graph_end: %s\n", names[op],
                fce_status_str(st), fce_status_str(end));
        ASSERT_EQ_INT(st, FCE_STATUS_ERR_UNSUPPORTED);
        ASSERT_TRUE(end != FCE_STATUS_OK && g == NULL);
        if (op == 3) ASSERT_TRUE(p == NULL);
        if (op == 5) ASSERT_TRUE(plan == NULL);
        ASSERT_TRUE(reset(&f)); /* eager work again: upload, sync, then the step */
        ASSERT_OK(step(&f, 0.5f));
        ASSERT_TRUE(snapshot(&f, got));
        ASSERT_TRUE(same_bits("eager step after a failed recording", got, want));
    }
    ASSERT_TRUE(c->ops->graph_end(c, &(fce_graph *){NULL}) != FCE_STATUS_OK); /* none begun */
    fixture_close(&f);
    return 0;
}

/* The fake runtime directly: host copies are captured only from page-locked memory. */
TEST(runtime_captures_copies_only_from_pinned_memory) {
    fixture f;
    ASSERT_TRUE(fixture_open(&f));
    cudaStream_t s = fce_cuda_ctx_stream(&f.ctx);
    ASSERT_TRUE(s != NULL);
    float pageable[4] = {1, 2, 3, 4}, back[4];
    cudaGraph_t g = NULL;
    enum cudaStreamCaptureStatus cs;
    ASSERT_EQ_INT(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    ASSERT_EQ_INT(cudaStreamIsCapturing(s, &cs), cudaSuccess);
    ASSERT_EQ_INT(cs, cudaStreamCaptureStatusActive);
    ASSERT_EQ_INT(cudaMemcpyAsync(f.a, pageable, sizeof pageable, cudaMemcpyHostToDevice, s),
                  cudaErrorStreamCaptureUnsupported);
    ASSERT_EQ_INT(cudaStreamIsCapturing(s, &cs), cudaSuccess);
    ASSERT_EQ_INT(cs, cudaStreamCaptureStatusInvalidated);
    ASSERT_EQ_INT(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
    ASSERT_TRUE(g == NULL);
    ASSERT_EQ_INT(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureUnmatched);

    float *pinned = NULL;
    ASSERT_EQ_INT(cudaHostAlloc((void **)&pinned, sizeof pageable, cudaHostAllocDefault), cudaSuccess);
    memcpy(pinned, pageable, sizeof pageable);
    ASSERT_EQ_INT(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    void *dev = NULL;
    ASSERT_EQ_INT(cudaMalloc(&dev, 16), cudaErrorStreamCaptureUnsupported);
    ASSERT_EQ_INT(cudaStreamEndCapture(s, &g), cudaErrorStreamCaptureInvalidated);
    ASSERT_EQ_INT(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
    ASSERT_EQ_INT(cudaMemcpyAsync(f.a, pinned, sizeof pageable, cudaMemcpyHostToDevice, s),
                  cudaSuccess);
    ASSERT_EQ_INT(cudaStreamEndCapture(s, &g), cudaSuccess);
    cudaGraphExec_t e = NULL;
    ASSERT_EQ_INT(cudaGraphInstantiate(&e, g, 0), cudaSuccess);
    ASSERT_EQ_INT(cudaGraphDestroy(g), cudaSuccess);
    pinned[0] = 42.0f; /* a replay reads the pinned memory as it is then */
    ASSERT_EQ_INT(cudaGraphLaunch(e, s), cudaSuccess);
    ASSERT_OK(f.ctx.ops->download(&f.ctx, back, f.a, sizeof back));
    ASSERT_TRUE(back[0] == 42.0f && back[3] == 4.0f);
    ASSERT_EQ_INT(cudaGraphExecDestroy(e), cudaSuccess);
    ASSERT_EQ_INT(cudaFreeHost(pinned), cudaSuccess);
    ASSERT_EQ_INT(cudaGetLastError(), cudaSuccess);
    fixture_close(&f);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(replay_equals_eager_bit_for_bit_and_counts);
RUN_TEST(replay_uses_the_recorded_arguments);
RUN_TEST(host_transfers_syncs_and_allocations_are_refused);
RUN_TEST(runtime_captures_copies_only_from_pinned_memory);
FCE_TEST_MAIN_END
