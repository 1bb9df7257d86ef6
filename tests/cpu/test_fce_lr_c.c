/* test_fce_lr_c.c: image FCE's --lr-c (c's own Adam rate, SPEC c.3). Three trainers from the same
 * fresh start take one EBM step: --lr-c 0 (c at --lr-ebm, the paper's), --lr-c equal to --lr-ebm,
 * and --lr-c 0.05. Adam is elementwise, so every EBM parameter other than c must come out
 * bit-identical in all three (the split update touches each element exactly once), the first two
 * must agree on c bit for bit, and on the first Adam step a parameter moves by exactly its rate
 * (m̂/√v̂ = ±1), so c must move 1e-3 in the first two and 0.05 in the third. (After one step the
 * runs differ everywhere, since c enters every later gradient.) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fce/train_image.h"
#include "fce_test.h"
#include "train/train_image_fce.h"

#define STEPS 1

static int write_pattern_cifar(const char *path, int n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    for (int k = 0; k < n; k++) {
        unsigned char rec[3073];
        rec[0] = (unsigned char)(k % 10);
        for (int i = 0; i < 3072; i++) {
            int x = i % 32, y = (i / 32) % 32;
            rec[1 + i] = (unsigned char)(((x / 8 + y / 8 + k) % 2) * 150 + 50 + (i * 7 + k) % 13);
        }
        if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) {
            fclose(f);
            return 0;
        }
    }
    return fclose(f) == 0;
}

/* EBM parameters after STEPS forced EBM turns; *c0 receives c after the fresh start. */
static float *ebm_after_steps(const char *data, const char *out, float lr_c, size_t *n, float *c0,
                              size_t *ic) {
    fce_image_train_config c;
    fce_image_train_config_defaults(&c);
    snprintf(c.mode, sizeof c.mode, "fce");
    snprintf(c.data_dir, sizeof c.data_dir, "%s", data);
    snprintf(c.preset, sizeof c.preset, "tiny");
    snprintf(c.device, sizeof c.device, "cpu");
    snprintf(c.out_dir, sizeof c.out_dir, "%s", out);
    c.width = 8, c.K = 1, c.batch = 8, c.steps = STEPS, c.quiet = 1, c.ebm_width_scale = 16;
    c.lr_ebm = 1e-3f, c.lr_c = lr_c;
    fce_ifce *t = NULL;
    if (fce_ifce_create(&t, &c) != FCE_STATUS_OK) return NULL;
    *c0 = *fce_ebm_image_c(fce_ifce_ebm(t)); /* CPU backend: host memory */
    for (int s = 0; s < STEPS; s++) {
        fce_ifce_set_turn(t, 0);
        if (fce_ifce_step(t, NULL) != FCE_STATUS_OK) {
            fce_ifce_free(t);
            return NULL;
        }
    }
    fce_param_arena *a = fce_ebm_image_arena(fce_ifce_ebm(t));
    *n = a->n_trainable;
    *ic = (size_t)(fce_ebm_image_c(fce_ifce_ebm(t)) - a->params); /* the arena may pad after c */
    float *p = malloc(*n * sizeof *p);
    if (p) memcpy(p, a->params, *n * sizeof *p);
    fce_ifce_free(t);
    return p;
}

TEST(lr_c_moves_only_c) {
    char dir[] = "/tmp/fce_lr_c_XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char data[300], o1[300], o2[300], o3[300];
    snprintf(data, sizeof data, "%s/train.bin", dir);
    snprintf(o1, sizeof o1, "%s/a", dir), snprintf(o2, sizeof o2, "%s/b", dir);
    snprintf(o3, sizeof o3, "%s/c", dir);
    ASSERT_TRUE(write_pattern_cifar(data, 16));
    size_t n1 = 0, n2 = 0, n3 = 0;
    float c01, c02, c03;
    size_t ic, ic2, ic3;
    float *p1 = ebm_after_steps(data, o1, 0.0f, &n1, &c01, &ic);
    float *p2 = ebm_after_steps(data, o2, 1e-3f, &n2, &c02, &ic2);
    float *p3 = ebm_after_steps(data, o3, 0.05f, &n3, &c03, &ic3);
    ASSERT_TRUE(p1 && p2 && p3 && n1 == n2 && n1 == n3 && ic == ic2 && ic == ic3 && ic < n1);
    ASSERT_TRUE(c01 == c02 && c01 == c03); /* same fresh start */
    ASSERT_TRUE(memcmp(p1, p2, n1 * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(p1, p3, ic * sizeof(float)) == 0);
    ASSERT_TRUE(memcmp(p1 + ic + 1, p3 + ic + 1, (n1 - ic - 1) * sizeof(float)) == 0);
    double d1 = fabs((double)p1[ic] - c01), d3 = fabs((double)p3[ic] - c03);
    fprintf(stderr, "  c0 = %g: c moved %.4g at lr 1e-3 and %.4g at --lr-c 0.05 in %d EBM step\n",
            (double)c01, d1, d3, STEPS);
    /* c is a float of size |c0| (log Z of images is large): its ulp quantises the move */
    const double ulp = (double)nextafterf(fabsf(c01), INFINITY) - fabsf(c01);
    ASSERT_NEAR(d1, 1e-3, 1e-6 + ulp);
    ASSERT_NEAR(d3, 0.05, 1e-6 + ulp);
    free(p1), free(p2), free(p3);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ASSERT_TRUE(system(cmd) == 0);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(lr_c_moves_only_c);
FCE_TEST_MAIN_END
