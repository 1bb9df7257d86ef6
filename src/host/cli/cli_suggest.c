/* cli_suggest.c: the closest known word to a misspelt one (cli_suggest.h): the optimal-string-
 * alignment edit distance (Levenshtein plus neighbour swaps) and a threshold by word length. */
#include "cli/cli_suggest.h"

#include <ctype.h>
#include <string.h>

/* Words longer than this are never close to a known one (all of ours are far shorter). */
#define MAX_WORD 64

static int same_char(char x, char y) { return tolower((unsigned char)x) == tolower((unsigned char)y); }

static int min3(int x, int y, int z) { return x < y ? (x < z ? x : z) : (y < z ? y : z); }

int fce_cli_edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    if (na > MAX_WORD || nb > MAX_WORD) return MAX_WORD + 1;
    int d[MAX_WORD + 1][MAX_WORD + 1]; /* d[i][j]: distance of a[0..i) and b[0..j) */
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            int cost = same_char(a[i - 1], b[j - 1]) ? 0 : 1;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && same_char(a[i - 1], b[j - 2]) && same_char(a[i - 2], b[j - 1]) &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[na][nb];
}

void fce_cli_suggest_begin(fce_cli_suggest *s, const char *typed, size_t typed_len) {
    s->typed = typed;
    s->typed_len = typed_len;
    s->best = NULL;
    s->best_distance = MAX_WORD + 1;
}

void fce_cli_suggest_add(fce_cli_suggest *s, const char *candidate) {
    size_t n = strlen(candidate);
    int dist = fce_cli_edit_distance(s->typed, s->typed_len, candidate, n);
    int limit = s->typed_len <= 3 ? 1 : 2;
    int is_prefix = s->typed_len >= 3 && s->typed_len < n && !strncmp(candidate, s->typed, s->typed_len);
    if (n == s->typed_len && !strncmp(candidate, s->typed, n)) return; /* the word itself */
    if (dist > limit && !is_prefix) return;
    if (dist < s->best_distance) {
        s->best = candidate;
        s->best_distance = dist;
    }
}
