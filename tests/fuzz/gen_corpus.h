/* gen_corpus.h: the parts of the seed generator (make_corpus.c), one per family of readers. Each
 * writes under root (tests/fuzz): corpus/<harness>/ seeds, regress/<harness>/ inputs that must
 * not crash, regress/<harness>/reject/ inputs that must also be refused (fuzz_common.h). */
#ifndef FCE_FUZZ_GEN_CORPUS_H
#define FCE_FUZZ_GEN_CORPUS_H

void gen_cifar10(const char *root);
void gen_svhn(const char *root);
void gen_images(const char *root);
void gen_ckpt2d(const char *root, const char *scratch);
void gen_flow_image(const char *root, const char *scratch);
void gen_ebm_image(const char *root, const char *scratch);

#endif
