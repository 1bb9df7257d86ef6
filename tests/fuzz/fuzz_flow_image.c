/* fuzz_flow_image.c: libFuzzer harness of the image flow's checkpoint reader (src/host/formats/
 * flow_image_file.c) on the paths a run takes with a file it did not write:
 *  - eval and sample: fce_flow_from_file (src/host/eval): fce_iglow_ckpt_peek, a flow built from
 *    the header's architecture, then its parameters loaded;
 *  - --resume: fce_iglow_ckpt_load with the Adamax moments into a flow built once with the seed
 *    corpus's architecture (fuzz_models.h; the one of the header's `affine`, when it is 0 or 1),
 *    so that valid headers reach the blobs and the refresh (W from the LU parameters). */
#include "fuzz_common.h"
#include "fuzz_models.h"

#include "eval/flow_from_file.h"
#include "formats/flow_image_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fce_iglow *resumed[2];
    fce_ctx *ctx = fuzz_cpu_ctx();
    for (int affine = 0; affine < 2; affine++) {
        if (resumed[affine]) continue;
        fce_iglow_config c = fuzz_iglow_config(affine);
        fuzz_check_setup(fce_iglow_init(&resumed[affine], ctx, &c, 1), "the image flow");
    }
    const char *path = fuzz_write_checkpoint("checkpoint.fce", data, size);

    int have_ctx = 1;
    fce_iglow *g = NULL;
    fce_iglow_ckpt_state s;
    fuzz_expect_reject(fce_flow_from_file(path, "cpu", ctx, &have_ctx, &g, &s),
                       "fce_flow_from_file (peek, build, load)");
    fce_iglow_free(g);

    fce_iglow_config peeked;
    fce_status st = fce_iglow_ckpt_peek(path, &peeked, &s); /* header only: not expect-reject */
    int which = st == FCE_STATUS_OK && peeked.affine == 1;
    fuzz_expect_reject(fce_iglow_ckpt_load(path, resumed[which], 1, &s), "fce_iglow_ckpt_load");
    return 0;
}
