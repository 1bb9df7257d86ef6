/* fuzz_image.c: libFuzzer harness of the picture reader (fce_image_read_rgb, src/host/data/
 * image_io.c: PNG through libpng, binary PPM) and of the folder loader on top of it
 * (fce_folder_load, data_folder.c): the input is read as one file, then as a folder holding it
 * twice (a.png and b.ppm; the reader goes by the magic bytes, not the name), which also takes the
 * folder's same-size path. */
#include "fuzz_common.h"

#include <stdlib.h>

#include "fce/dataset.h"
#include "fce/image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_dir("dir");
    unsigned char *rgb = NULL;
    int w = 0, h = 0;
    fce_status st = fce_image_read_rgb(fuzz_write("dir/a.png", data, size), &rgb, &w, &h);
    fuzz_expect_reject(st, "fce_image_read_rgb");
    if (st == FCE_STATUS_OK && (w < 1 || h < 1 || !rgb)) abort(); /* OK must mean a picture */
    free(rgb);
    fuzz_write("dir/b.ppm", data, size);
    fce_image_set s;
    st = fce_folder_load(fuzz_path("dir"), &s);
    fuzz_expect_reject(st, "fce_folder_load");
    fce_image_set_free(&s);
    return 0;
}
