/* fuzz_models.c: the harnesses' and the seed generator's small models (fuzz_models.h). */
#include "fuzz_models.h"

fce_status fuzz_models_2d(fce_ctx *ctx, fce_glow **g, fce_ebm **e) {
    const fce_glow_config gc = {2, 1, 4, 0};
    const fce_ebm_config ec = {2, 4, 1};
    FCE_TRY(fce_glow_init(g, ctx, &gc, 1));
    return fce_ebm_init(e, ctx, &ec, 2);
}

fce_iglow_config fuzz_iglow_config(int affine) {
    const fce_iglow_config c = {4, 4, 3, affine ? 2 : 1, 1, 2, affine};
    return c;
}

fce_ebm_image_config fuzz_ebm_image_config(void) {
    const fce_ebm_image_config c = {8, 8, 3, 64, 0};
    return c;
}
