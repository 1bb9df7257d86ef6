/* json.h: the one JSON writer of the project: flat objects on one line ({"key": value, ...}),
 * as metrics.jsonl, summary.json, eval's output and probe.json use them.
 *
 * Why one writer: JSON has no NaN or Infinity, and printf("%g") writes "nan", which no JSON parser
 * reads. Every number goes through fce_json_num, which writes a non-finite value as null (the field
 * stays present, so a reader sees that the quantity was undefined, not that it was forgotten).
 * Strings are escaped (quotes, backslashes, control characters). The writer never fails by
 * itself: the FILE's error flag tells the caller, who checks it once when closing (fs_util.h). */
#ifndef FCE_UTIL_JSON_H
#define FCE_UTIL_JSON_H

#include <stdio.h>

typedef struct fce_json {
    FILE *f;
    int fields; /* fields written into the open object: a comma goes before every later one */
} fce_json;

/* Opens an object: writes "{". */
void fce_json_begin(fce_json *j, FILE *f);
/* "key": v printed with %.<digits>g (digits 0: %g); null when v is NaN or ±Inf. */
void fce_json_num(fce_json *j, const char *key, double v, int digits);
void fce_json_int(fce_json *j, const char *key, long long v);
void fce_json_str(fce_json *j, const char *key, const char *s); /* s NULL: null */
void fce_json_null(fce_json *j, const char *key);
/* "key": <raw>, raw being JSON text the caller built (e.g. an array); never user data. */
void fce_json_raw(fce_json *j, const char *key, const char *raw);
/* Closes the object: writes "}" and, with newline, "\n" (a JSONL row). */
void fce_json_end(fce_json *j, int newline);

/* A number as JSON text into buf (size >= 32): %.<digits>g, or "null" when not finite. */
const char *fce_json_number_text(char *buf, size_t size, double v, int digits);

#endif
