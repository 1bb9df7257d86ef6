/* json.c: the one JSON writer (json.h): flat one-line objects, non-finite numbers as null, escaped
 * strings. */
#include "util/json.h"

#include <math.h>

void fce_json_begin(fce_json *j, FILE *f) {
    j->f = f;
    j->fields = 0;
    fputc('{', f);
}

static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void put_key(fce_json *j, const char *key) {
    if (j->fields++) fputs(", ", j->f);
    put_string(j->f, key);
    fputs(": ", j->f);
}

const char *fce_json_number_text(char *buf, size_t size, double v, int digits) {
    if (!isfinite(v)) snprintf(buf, size, "null");
    else if (digits > 0) snprintf(buf, size, "%.*g", digits, v);
    else snprintf(buf, size, "%g", v);
    return buf;
}

void fce_json_num(fce_json *j, const char *key, double v, int digits) {
    char buf[40];
    put_key(j, key);
    fputs(fce_json_number_text(buf, sizeof buf, v, digits), j->f);
}

void fce_json_int(fce_json *j, const char *key, long long v) {
    put_key(j, key);
    fprintf(j->f, "%lld", v);
}

void fce_json_str(fce_json *j, const char *key, const char *s) {
    put_key(j, key);
    if (s) put_string(j->f, s);
    else fputs("null", j->f);
}

void fce_json_null(fce_json *j, const char *key) {
    put_key(j, key);
    fputs("null", j->f);
}

void fce_json_raw(fce_json *j, const char *key, const char *raw) {
    put_key(j, key);
    fputs(raw, j->f);
}

void fce_json_end(fce_json *j, int newline) {
    fputc('}', j->f);
    if (newline) fputc('\n', j->f);
}
