/* make_corpus.c: writes tests/fuzz's committed inputs: the seed corpus of every harness
 * (corpus/<harness>/) and the regression inputs (regress/<harness>/ must not crash,
 * regress/<harness>/reject/ must also be refused). Run by `tests/fuzz/run.sh --make-corpus`; the
 * output is deterministic (seeded models, fixed states), so a rerun changes files only when a
 * writer's format does. Usage: make_corpus <tests/fuzz folder> */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_bytes.h"
#include "gen_corpus.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus <tests/fuzz folder>\n");
        return 2;
    }
    char scratch[] = "/tmp/fce-make-corpus-XXXXXX";
    if (!mkdtemp(scratch)) {
        perror("make_corpus: mkdtemp");
        return 1;
    }
    const char *root = argv[1];
    gen_cifar10(root);
    gen_svhn(root);
    gen_images(root);
    gen_ckpt2d(root, scratch);
    gen_flow_image(root, scratch);
    gen_ebm_image(root, scratch);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) fprintf(stderr, "make_corpus: could not remove %s\n", scratch);
    printf("make_corpus: wrote %s/corpus and %s/regress\n", root, root);
    return 0;
}
