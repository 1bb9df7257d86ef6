/* cli_suggest.h: "did you mean" for the command line: the known word closest to a misspelt one
 * (a command, an option or a dataset), by edit distance. */
#ifndef FCE_CLI_SUGGEST_H
#define FCE_CLI_SUGGEST_H

#include <stddef.h>

/* The edit distance between a[0..na) and b[0..nb): insertions, deletions, substitutions and
 * swaps of two neighbouring characters (so "trian" is 1 from "train"), case-insensitive. */
int fce_cli_edit_distance(const char *a, size_t na, const char *b, size_t nb);

/* Collects candidates one by one and keeps the closest to `typed` that is close enough to be a
 * plausible misspelling: at most 1 edit for a word of up to 3 characters, 2 for a longer one,
 * or `typed` (3+ characters) the start of the candidate. */
typedef struct fce_cli_suggest {
    const char *typed;
    size_t typed_len;
    const char *best; /* NULL while nothing is close enough */
    int best_distance;
} fce_cli_suggest;

void fce_cli_suggest_begin(fce_cli_suggest *s, const char *typed, size_t typed_len);
void fce_cli_suggest_add(fce_cli_suggest *s, const char *candidate);

#endif
