/* test_batch_source.c: the trainers' batch source with one step of look-ahead (image_common.h).
 * Whatever the pattern of get and prefetch calls (in order with prefetch, a prefetch that is never
 * used, a step asked for twice, a jump back as on --resume, epochs that end mid-batch), get(step)
 * must return exactly the pictures fce_image_gather_batch gives for that step, and a prefetch
 * must never overwrite the buffer the last get returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fce_test.h"
#include "data/image_common.h"

enum { N_PICS = 7, H = 2, W = 2, C = 3, BATCH = 3 }; /* 7 pictures, batches of 3: epochs end mid-batch */

static int same_as_direct(const fce_image_set *set, const uint8_t *got, int64_t step) {
    const size_t ND = (size_t)BATCH * H * W * C;
    uint8_t want[BATCH * H * W * C];
    size_t order[N_PICS];
    uint64_t epoch = 0;
    int have = 0;
    fce_image_gather_batch(set, order, &epoch, &have, 99, step, BATCH, want);
    return memcmp(got, want, ND) == 0;
}

TEST(get_equals_direct_gather) {
    fce_image_set set;
    ASSERT_OK(fce_image_set_alloc(&set, N_PICS, H, W, C, 0, "test pictures"));
    for (size_t i = 0; i < set.n * H * W * C; i++) set.pixels[i] = (uint8_t)(i * 37 + 11);
    fce_batch_source b;
    ASSERT_OK(fce_batch_source_init(&b, &set, BATCH, 99));
    const size_t ND = (size_t)BATCH * H * W * C;
    uint8_t keep[BATCH * H * W * C];
    /* in order, each step prefetching the next (the trainers' pattern), over several epochs */
    for (int64_t s = 0; s < 12; s++) {
        const uint8_t *p = fce_batch_source_get(&b, s);
        ASSERT_TRUE(same_as_direct(&set, p, s));
        memcpy(keep, p, ND);
        fce_batch_source_prefetch(&b, s + 1);
        ASSERT_TRUE(memcmp(p, keep, ND) == 0); /* the prefetch left the current batch alone */
    }
    /* a step asked for twice, a prefetch never used, a jump back (resume), a repeated prefetch */
    ASSERT_TRUE(same_as_direct(&set, fce_batch_source_get(&b, 12), 12));
    ASSERT_TRUE(same_as_direct(&set, fce_batch_source_get(&b, 12), 12));
    fce_batch_source_prefetch(&b, 40);
    ASSERT_TRUE(same_as_direct(&set, fce_batch_source_get(&b, 3), 3));
    fce_batch_source_prefetch(&b, 4);
    fce_batch_source_prefetch(&b, 4);
    ASSERT_TRUE(same_as_direct(&set, fce_batch_source_get(&b, 4), 4));
    ASSERT_TRUE(same_as_direct(&set, fce_batch_source_get(&b, 40), 40));
    fce_batch_source_free(&b);
    fce_batch_source_free(&b); /* idempotent */
    fce_image_set_free(&set);
    return 0;
}

FCE_TEST_MAIN_BEGIN
RUN_TEST(get_equals_direct_gather);
FCE_TEST_MAIN_END
