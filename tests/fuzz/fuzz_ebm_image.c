/* fuzz_ebm_image.c: libFuzzer harness of the image EBM's file reader (src/host/formats/
 * ebm_image_file.c) on its three entry points: fce_ebm_image_file_n_bits (the header only),
 * fce_ebm_image_load_file (eval, probe: an EBM built from the header's shape, then its parameters)
 * and fce_ebm_image_file_read (--resume: parameters, moments and state into an EBM built once with
 * the seed corpus's architecture, fuzz_models.h). */
#include "fuzz_common.h"
#include "fuzz_models.h"

#include "formats/ebm_image_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fce_ebm_image *resumed;
    fce_ctx *ctx = fuzz_cpu_ctx();
    if (!resumed) {
        fce_ebm_image_config c = fuzz_ebm_image_config();
        fuzz_check_setup(fce_ebm_image_init(&resumed, ctx, &c, 1), "the image EBM");
    }
    const char *path = fuzz_write_checkpoint("ebm.fce", data, size);

    int n_bits = 0; /* a header peek: a file that is cut short may pass it, even hardened */
    (void)fce_ebm_image_file_n_bits(path, &n_bits);
    fce_ebm_image *e = NULL;
    fuzz_expect_reject(fce_ebm_image_load_file(path, ctx, &e), "fce_ebm_image_load_file");
    fce_ebm_image_free(e);
    fce_image_fce_state s;
    fuzz_expect_reject(fce_ebm_image_file_read(path, ctx, resumed, &s), "fce_ebm_image_file_read");
    return 0;
}
