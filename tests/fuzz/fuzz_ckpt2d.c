/* fuzz_ckpt2d.c: libFuzzer harness of the 2D checkpoint reader (checkpoint.h, src/host/formats/
 * checkpoint2d.c) on both of its paths: fce_checkpoint_load into a flow and an EBM (--resume) and
 * fce_checkpoint_load_flow into a flow alone (--init-flow). The models are built once, with the
 * architecture of the seed corpus (make_corpus.c: FUZZ_2D_*), so that valid headers get past the
 * architecture checks to the parameter blobs and the flow's refresh (W from its LU parameters and
 * permutation), as a real run would. */
#include "fuzz_common.h"
#include "fuzz_models.h"

#include "fce/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fce_glow *g;
    static fce_ebm *e;
    if (!g) fuzz_check_setup(fuzz_models_2d(fuzz_cpu_ctx(), &g, &e), "the 2D models");
    const char *path = fuzz_write_checkpoint("run.ckpt", data, size);
    fce_train_state s;
    fuzz_expect_reject(fce_checkpoint_load(path, g, e, &s), "fce_checkpoint_load");
    fuzz_expect_reject(fce_checkpoint_load_flow(path, g), "fce_checkpoint_load_flow");
    return 0;
}
