/* fuzz_dataset_file.c: libFuzzer harness of a one-file dataset reader (dataset.h), built twice by
 * CMakeLists.txt: fuzz_cifar10 with FUZZ_LOADER=fce_cifar10_load_file (data_cifar10.c, a CIFAR-10
 * binary batch file) and fuzz_svhn with FUZZ_LOADER=fce_svhn_load_file (data_svhn.c, an SVHN
 * MATLAB level-5 MAT-file, compressed elements through zlib). */
#include "fuzz_common.h"

#include "fce/dataset.h"

#ifndef FUZZ_LOADER
#error "build with -DFUZZ_LOADER=<one of dataset.h's fce_*_load_file>"
#endif
#define FUZZ_NAME_(x) #x
#define FUZZ_NAME(x) FUZZ_NAME_(x)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fce_image_set s;
    fce_status st = FUZZ_LOADER(fuzz_write("dataset_file", data, size), &s);
    fuzz_expect_reject(st, FUZZ_NAME(FUZZ_LOADER));
    fce_image_set_free(&s);
    return 0;
}
