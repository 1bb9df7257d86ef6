/* bench_variants.c: candidate variants next to the production ops (STYLE 6.12, 6.4).
 *
 * A candidate is a kernel + launcher in bench/variants/<op>_v<N>_<idea>.cu (compiled only with
 * CUDA), a run function with the bench_run_fn signature (the op case's: the entry's buffers in
 * the case's order, its shape and conv plan) that calls its launcher on the context's stream
 * (cuda_bench_hooks.h), and one row in the table below: the op, a substring of the tags it
 * applies to (NULL: every entry of that op), its variant name and its run function. Every row is
 * added to each matching production entry by bench_registry_add_variant: it is validated against
 * the same CPU reference with the same tolerance and timed the same way, and a variant that fails
 * validation is reported FAILED and not timed. Today every op has only its production version, so
 * the table is empty (the sentinel row only); --inject-bad-variant exercises the mechanism. */
#include <string.h>

#include "bench.h"

typedef struct bench_variant_row {
    const char *op, *tag, *variant;
    bench_run_fn run;
} bench_variant_row;

static const bench_variant_row variant_rows[] = {
    {NULL, NULL, NULL, NULL}, /* sentinel */
};

fce_status bench_register_variants(bench_registry *r) {
    const int n_prod = r->n;
    for (const bench_variant_row *v = variant_rows; v->op; v++)
        for (int i = 0; i < n_prod; i++) {
            const bench_entry *e = &r->e[i];
            if (strcmp(e->name, v->op) || strcmp(e->variant, "prod")) continue;
            if (v->tag && !strstr(e->tag, v->tag)) continue;
            FCE_TRY(bench_registry_add_variant(r, i, v->variant, v->run));
        }
    return FCE_STATUS_OK;
}
