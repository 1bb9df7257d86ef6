/* json.h: the one JSON writer of the project: one-line objects ({"key": value, ...}) as
 * metrics.jsonl, summary.json, eval's output and probe.json use them, with nested objects and
 * arrays where a file needs them.
 *
 * Why one writer: JSON has no NaN or Infinity, and printf("%g") writes "nan", which no JSON parser
 * reads. Every number goes through fce_json_num, which writes a non-finite value as null (the field
 * stays present, so a reader sees that the quantity was undefined, not that it was forgotten).
 * Strings are escaped (quotes, backslashes, control characters). The writer never fails by
 * itself: the FILE's error flag tells the caller, who checks it when flushing or closing.
 *
 * Keys: inside an object every value takes a key; inside an array pass key = NULL. */
#ifndef FCE_UTIL_JSON_H
#define FCE_UTIL_JSON_H

#include <stdio.h>

#define FCE_JSON_MAX_DEPTH 8

typedef struct fce_json {
    FILE *f;
    int depth;                         /* open objects and arrays, the outermost included */
    int fields[FCE_JSON_MAX_DEPTH];    /* values written at each depth: a comma precedes the next */
    char closer[FCE_JSON_MAX_DEPTH];   /* '}' or ']' */
} fce_json;

/* Opens the outermost object: writes "{". */
void fce_json_begin(fce_json *j, FILE *f);
/* "key": v printed with %.<digits>g (digits 0: %g); null when v is NaN or ±Inf. */
void fce_json_num(fce_json *j, const char *key, double v, int digits);
void fce_json_int(fce_json *j, const char *key, long long v);
void fce_json_uint(fce_json *j, const char *key, unsigned long long v); /* seeds: all 64 bits */
void fce_json_str(fce_json *j, const char *key, const char *s); /* s NULL: null */
/* Opens a nested object / array as the value of key; fce_json_close closes the innermost one. */
void fce_json_object(fce_json *j, const char *key);
void fce_json_array(fce_json *j, const char *key);
void fce_json_close(fce_json *j);
/* Closes everything still open and, with newline, writes "\n" (a JSONL row). */
void fce_json_end(fce_json *j, int newline);

#endif
