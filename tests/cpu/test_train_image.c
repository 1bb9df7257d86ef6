/* test_train_image.c: the image MLE trainer on the CPU backend: bits/dim goes down on a learnable
 * pattern, eval gives a finite bits/dim, resume is bit-exact (2 + 2 steps = 4 steps), a checkpoint
 * of another architecture is refused, sample writes a grid. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/eval_image.h"
#include "fce/train_image.h"
#include "fce_test.h"
#include "formats/ckpt_io.h"
#include "formats/flow_image_file.h"
#include "test_util.h"

static void base_cfg(fce_image_train_config *c, const char *out, long steps) {
    fce_test_image_cfg(c, fce_test_path("train.bin"), out, 16, steps);
    snprintf(c->dataset, sizeof c->dataset, "cifar10");
    c->log_every = 1;
}

/* bpd of each metrics.jsonl row, up to max; returns the count. */
static int read_bpd(const char *path, double *bpd, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"bpd\": ");
        if (p) bpd[n++] = strtod(p + 7, NULL);
    }
    fclose(f);
    return n;
}

static unsigned char *read_all(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len + 1);
    if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

TEST(bpd_goes_down_and_eval) {
    fce_image_train_config c;
    base_cfg(&c, fce_test_path("run"), 40);
    ASSERT_OK(fce_image_train_run(&c));
    double bpd[64];
    char mp[600];
    snprintf(mp, sizeof mp, "%s/metrics.jsonl", fce_test_path("run"));
    int n = read_bpd(mp, bpd, 64);
    ASSERT_EQ_INT(n, 40);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) first += bpd[i] / 5, last += bpd[n - 5 + i] / 5;
    fprintf(stderr, "  bpd first 5 steps %.4f, last 5 steps %.4f\n", first, last);
    ASSERT_TRUE(isfinite(first) && isfinite(last));
    ASSERT_TRUE(last < first - 0.5);

    fce_image_eval_config e;
    fce_image_eval_config_defaults(&e);
    snprintf(e.checkpoint, sizeof e.checkpoint, "%s/checkpoint.fce", fce_test_path("run"));
    snprintf(e.data_dir, sizeof e.data_dir, "%s", fce_test_path("test.bin"));
    snprintf(e.device, sizeof e.device, "cpu");
    snprintf(e.out_dir, sizeof e.out_dir, "%s", fce_test_path("run"));
    e.batch = 12; /* 32 test pictures: the last pass is partial */
    double ebpd = NAN;
    ASSERT_OK(fce_image_eval_run(&e, &ebpd));
    fprintf(stderr, "  eval bpd %.4f\n", ebpd);
    ASSERT_TRUE(isfinite(ebpd) && ebpd > 0 && ebpd < first);

    fce_image_sample_config s;
    fce_image_sample_config_defaults(&s);
    snprintf(s.checkpoint, sizeof s.checkpoint, "%s", e.checkpoint);
    snprintf(s.grid, sizeof s.grid, "%s", fce_test_path("grid.png"));
    snprintf(s.device, sizeof s.device, "cpu");
    s.n = 5;
    s.temperature = 0.7f;
    ASSERT_OK(fce_image_sample_run(&s));
    ASSERT_TRUE(access(fce_test_path("grid.png"), F_OK) == 0 || access(fce_test_path("grid.ppm"), F_OK) == 0);
    return 0;
}

TEST(resume_bit_exact_and_arch_refused) {
    fce_image_train_config c;
    base_cfg(&c, fce_test_path("a"), 2);
    c.batch = 48; /* 128 pictures: step 2 crosses into the second epoch */
    ASSERT_OK(fce_image_train_run(&c));
    c.steps = 4;
    c.resume = 1;
    ASSERT_OK(fce_image_train_run(&c));
    fce_image_train_config d;
    base_cfg(&d, fce_test_path("b"), 4);
    d.batch = 48;
    ASSERT_OK(fce_image_train_run(&d));
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/checkpoint.fce", fce_test_path("a"));
    snprintf(pb, sizeof pb, "%s/checkpoint.fce", fce_test_path("b"));
    long la = 0, lb = 0;
    unsigned char *a = read_all(pa, &la), *b = read_all(pb, &lb);
    ASSERT_TRUE(a && b);
    size_t hs = fce_iglow_ckpt_header_size();
    ASSERT_EQ_INT(la, lb);
    ASSERT_TRUE((size_t)la > hs);
    /* params, m, v: between the header (wall time) and the integrity trailer (its CRC covers the
     * header, so it differs too) */
    int same = memcmp(a + hs, b + hs, (size_t)la - hs - FCE_CKPT_TRAILER_BYTES) == 0;
    fce_iglow_config gc;
    fce_iglow_ckpt_state st;
    ASSERT_OK(fce_iglow_ckpt_peek(pa, &gc, &st));
    free(a);
    free(b);
    ASSERT_TRUE(same);
    ASSERT_EQ_INT(st.step, 4);

    /* another architecture: resume with another width */
    c.width = 12;
    c.steps = 6;
    fce_status s = fce_image_train_run(&c);
    ASSERT_EQ_INT(s, FCE_STATUS_ERR_FORMAT);
    return 0;
}

TEST(config_errors) {
    fce_image_train_config c;
    base_cfg(&c, fce_test_path("bad"), 2);
    snprintf(c.preset, sizeof c.preset, "huge");
    ASSERT_EQ_INT(fce_image_train_run(&c), FCE_STATUS_ERR_CONFIG);
    base_cfg(&c, fce_test_path("bad"), 2);
    snprintf(c.data_dir, sizeof c.data_dir, "%s", fce_test_path("nodir"));
    ASSERT_EQ_INT(fce_image_train_run(&c), FCE_STATUS_ERR_IO);
    return 0;
}

FCE_TEST_MAIN_BEGIN
const char *dir = fce_test_tmpdir("/tmp/fce_test_train_image_XXXXXX");
if (!dir) return 1;
if (!fce_test_write_cifar_checker(fce_test_path("train.bin"), 128, 12345u) ||
    !fce_test_write_cifar_checker(fce_test_path("test.bin"), 32, 12345u + 7))
    return 1;
RUN_TEST(bpd_goes_down_and_eval);
RUN_TEST(resume_bit_exact_and_arch_refused);
RUN_TEST(config_errors);
if (!fce_test_rm_tree(dir)) fprintf(stderr, "could not remove %s\n", dir);
FCE_TEST_MAIN_END
