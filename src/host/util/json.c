/* json.c: the one JSON writer (json.h): one-line objects with nesting, non-finite numbers as null,
 * escaped strings. */
#include "util/json.h"

#include <math.h>

#include "fce/log.h"

static void open_level(fce_json *j, char opener, char closer) {
    FCE_ASSERT(j->depth < FCE_JSON_MAX_DEPTH, "JSON nesting deeper than %d", FCE_JSON_MAX_DEPTH);
    fputc(opener, j->f);
    j->fields[j->depth] = 0;
    j->closer[j->depth] = closer;
    j->depth++;
}

void fce_json_begin(fce_json *j, FILE *f) {
    j->f = f;
    j->depth = 0;
    open_level(j, '{', '}');
}

static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* The separator and, inside an object, the key. */
static void put_key(fce_json *j, const char *key) {
    if (j->fields[j->depth - 1]++) fputs(", ", j->f);
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

void fce_json_num(fce_json *j, const char *key, double v, int digits) {
    put_key(j, key);
    if (!isfinite(v)) fputs("null", j->f);
    else if (digits > 0) fprintf(j->f, "%.*g", digits, v);
    else fprintf(j->f, "%g", v);
}

void fce_json_int(fce_json *j, const char *key, long long v) {
    put_key(j, key);
    fprintf(j->f, "%lld", v);
}

void fce_json_uint(fce_json *j, const char *key, unsigned long long v) {
    put_key(j, key);
    fprintf(j->f, "%llu", v);
}

void fce_json_str(fce_json *j, const char *key, const char *s) {
    put_key(j, key);
    if (s) put_string(j->f, s);
    else fputs("null", j->f);
}

void fce_json_object(fce_json *j, const char *key) {
    put_key(j, key);
    open_level(j, '{', '}');
}

void fce_json_array(fce_json *j, const char *key) {
    put_key(j, key);
    open_level(j, '[', ']');
}

void fce_json_close(fce_json *j) {
    if (j->depth > 0) fputc(j->closer[--j->depth], j->f);
}

void fce_json_end(fce_json *j, int newline) {
    while (j->depth > 0) fce_json_close(j);
    if (newline) fputc('\n', j->f);
}
