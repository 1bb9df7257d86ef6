/* test_bench_json.c: checks an fce-bench --json file (used by test_bench.sh; no Python needed).
 *
 *   test_bench_json FILE [--phases K] [--expect-failed NAME:VARIANT]
 *
 * The file must parse as JSON and hold: the provenance fields (gpu_name, driver_version,
 * cuda_runtime, cudnn_version, cublas_version, git_commit, build_type, build_flags, preset, batch,
 * date) as non-empty values; positive peaks; registry_size entries, each with validation "ok" and a
 * timed median ≥ 0 — except NAME:VARIANT when given, which must be "FAILED" and untimed, with
 * n_failed = 1; with --phases K, K phases, each ok with positive ms, img/s, FLOPs and floor.
 * Exit 0 when everything holds, 1 otherwise (each problem on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype t;
    double num;
    int b;
    char *str;
    struct jval *items; /* array elements or object values */
    char **keys;        /* object keys */
    int n;
} jval;

typedef struct jparser {
    const char *p;
    int err;
} jparser;

static void ws(jparser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static char *parse_string(jparser *ps) {
    if (*ps->p != '"') {
        ps->err = 1;
        return NULL;
    }
    ps->p++;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (s && *ps->p && *ps->p != '"') {
        char c = *ps->p++;
        if (c == '\\') {
            char e = *ps->p++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                for (int k = 0; k < 4; k++)
                    if (!*ps->p++) ps->err = 1;
                c = '?';
                break;
            default: ps->err = 1; c = '?';
            }
        } else if ((unsigned char)c < 0x20) {
            ps->err = 1;
        }
        if (n + 2 > cap) {
            char *ns = realloc(s, cap *= 2);
            if (!ns) {
                free(s);
                s = NULL;
                break;
            }
            s = ns;
        }
        if (s) s[n++] = c;
    }
    if (!s || *ps->p != '"') {
        ps->err = 1;
        free(s);
        return NULL;
    }
    ps->p++;
    s[n] = '\0';
    return s;
}

static void parse_value(jparser *ps, jval *v);

static void push(jparser *ps, jval *v, char *key, int *cap) {
    if (v->n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        jval *ni = realloc(v->items, (size_t)*cap * sizeof *ni);
        char **nk = realloc(v->keys, (size_t)*cap * sizeof *nk);
        if (ni) v->items = ni;
        if (nk) v->keys = nk;
        if (!ni || !nk) {
            ps->err = 1;
            free(key);
            return;
        }
    }
    memset(&v->items[v->n], 0, sizeof v->items[v->n]);
    v->keys[v->n] = key;
    parse_value(ps, &v->items[v->n]);
    v->n++;
}

static void parse_value(jparser *ps, jval *v) {
    ws(ps);
    memset(v, 0, sizeof *v);
    if (ps->err) return;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        int obj = c == '{', cap = 0;
        v->t = obj ? J_OBJ : J_ARR;
        ps->p++;
        ws(ps);
        if (*ps->p == (obj ? '}' : ']')) {
            ps->p++;
            return;
        }
        for (;;) {
            ws(ps);
            char *key = NULL;
            if (obj) {
                key = parse_string(ps);
                ws(ps);
                if (ps->err || *ps->p != ':') {
                    ps->err = 1;
                    free(key);
                    return;
                }
                ps->p++;
            }
            push(ps, v, key, &cap);
            if (ps->err) return;
            ws(ps);
            if (*ps->p == ',') {
                ps->p++;
                continue;
            }
            if (*ps->p == (obj ? '}' : ']')) {
                ps->p++;
                return;
            }
            ps->err = 1;
            return;
        }
    } else if (c == '"') {
        v->t = J_STR;
        v->str = parse_string(ps);
    } else if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
        v->t = J_BOOL;
        v->b = c == 't';
        ps->p += v->b ? 4 : 5;
    } else if (!strncmp(ps->p, "null", 4)) {
        v->t = J_NULL;
        ps->p += 4;
    } else {
        char *end = NULL;
        v->t = J_NUM;
        v->num = strtod(ps->p, &end);
        if (end == ps->p) ps->err = 1;
        else ps->p = end;
    }
}

static void jfree(jval *v) {
    for (int i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

static const jval *get(const jval *o, const char *key) {
    if (!o || o->t != J_OBJ) return NULL;
    for (int i = 0; i < o->n; i++)
        if (o->keys[i] && !strcmp(o->keys[i], key)) return &o->items[i];
    return NULL;
}

static int fails;

static void problem(const char *what, const char *detail) {
    fprintf(stderr, "test_bench_json: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    fails++;
}

static double num(const jval *o, const char *key, const char *ctx) {
    const jval *v = get(o, key);
    if (!v || v->t != J_NUM) {
        char m[160];
        snprintf(m, sizeof m, "%s: \"%s\" missing or not a number", ctx, key);
        problem(m, NULL);
        return -1;
    }
    return v->num;
}

static const char *str(const jval *o, const char *key, const char *ctx) {
    const jval *v = get(o, key);
    if (!v || v->t != J_STR || !v->str[0]) {
        char m[160];
        snprintf(m, sizeof m, "%s: \"%s\" missing or not a non-empty string", ctx, key);
        problem(m, NULL);
        return "";
    }
    return v->str;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_bench_json FILE [--phases K] [--expect-failed NAME:VARIANT]\n");
        return 2;
    }
    int want_phases = -1;
    char bad_name[64] = "", bad_variant[64] = "";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--phases")) want_phases = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--expect-failed")) {
            const char *colon = strchr(argv[i + 1], ':');
            if (!colon) return 2;
            snprintf(bad_name, sizeof bad_name, "%.*s", (int)(colon - argv[i + 1]), argv[i + 1]);
            snprintf(bad_variant, sizeof bad_variant, "%s", colon + 1);
        } else return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        problem("cannot open", argv[1]);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        problem("cannot read", argv[1]);
        return 1;
    }
    fclose(f);
    text[size] = '\0';
    jparser ps = {text, 0};
    jval root;
    parse_value(&ps, &root);
    ws(&ps);
    if (ps.err || *ps.p) {
        char m[64];
        snprintf(m, sizeof m, "offset %ld", (long)(ps.p - text));
        problem("not valid JSON", m);
        jfree(&root);
        free(text);
        return 1;
    }

    const jval *pv = get(&root, "provenance");
    if (!pv) problem("no \"provenance\" object", NULL);
    static const char *const prov[] = {"gpu_name", "driver_version", "cuda_runtime", "cudnn_version",
                                       "cublas_version", "git_commit", "build_type", "build_flags",
                                       "preset", "date"};
    for (size_t i = 0; pv && i < sizeof prov / sizeof prov[0]; i++) str(pv, prov[i], "provenance");
    const jval *batch = get(pv, "batch");
    if (!batch || batch->t != J_ARR || batch->n < 1) problem("provenance: \"batch\" is not a non-empty array", NULL);

    const jval *peaks = get(&root, "peaks");
    if (!(num(peaks, "gbs", "peaks") > 0)) problem("peaks: gbs is not positive", NULL);
    if (!(num(peaks, "tflops_fp32", "peaks") > 0)) problem("peaks: tflops_fp32 is not positive", NULL);

    int reg = (int)num(&root, "registry_size", "root");
    const jval *entries = get(&root, "entries");
    if (!entries || entries->t != J_ARR) {
        problem("no \"entries\" array", NULL);
    } else {
        if (entries->n != reg) {
            char m[96];
            snprintf(m, sizeof m, "%d entries, registry_size %d", entries->n, reg);
            problem("not every registry entry is in the file", m);
        }
        int found_bad = 0;
        for (int i = 0; i < entries->n; i++) {
            const jval *e = &entries->items[i];
            char ctx[160];
            const char *name = str(e, "name", "entry"), *variant = str(e, "variant", "entry");
            snprintf(ctx, sizeof ctx, "entry %s/%s (%s)", name, variant, get(e, "tag") && get(e, "tag")->str ? get(e, "tag")->str : "?");
            str(e, "shape", ctx);
            const char *val = str(e, "validation", ctx);
            const jval *timed = get(e, "timed");
            int is_bad = bad_name[0] && !strcmp(name, bad_name) && !strcmp(variant, bad_variant);
            if (is_bad) {
                found_bad = 1;
                if (strcmp(val, "FAILED")) problem(ctx, "the broken variant passed validation");
                if (!timed || timed->t != J_BOOL || timed->b) problem(ctx, "a FAILED entry was timed");
            } else {
                if (strcmp(val, "ok")) problem(ctx, "validation is not ok");
                if (!timed || timed->t != J_BOOL || !timed->b) problem(ctx, "not timed");
                else if (!(num(get(e, "ms"), "median", ctx) >= 0)) problem(ctx, "negative median");
                if (!(num(e, "err_ratio", ctx) <= 1)) problem(ctx, "err_ratio > 1 on a passing entry");
            }
        }
        if (bad_name[0] && !found_bad) problem("the broken variant is not in the file", bad_name);
    }
    int n_failed = (int)num(&root, "n_failed", "root");
    if (n_failed != (bad_name[0] ? 1 : 0)) {
        char m[64];
        snprintf(m, sizeof m, "n_failed = %d", n_failed);
        problem("unexpected failure count", m);
    }
    const jval *phases = get(&root, "phases");
    if (!phases || phases->t != J_ARR) {
        problem("no \"phases\" array", NULL);
    } else if (want_phases >= 0) {
        if (phases->n != want_phases) {
            char m[64];
            snprintf(m, sizeof m, "%d phases, want %d", phases->n, want_phases);
            problem("phase count", m);
        }
        for (int i = 0; i < phases->n; i++) {
            const jval *p = &phases->items[i];
            char ctx[96];
            snprintf(ctx, sizeof ctx, "phase %s batch %g", str(p, "name", "phase"), num(p, "batch", "phase"));
            const jval *ok = get(p, "ok");
            if (!ok || ok->t != J_BOOL || !ok->b) problem(ctx, "not ok");
            if (!(num(get(p, "ms"), "median", ctx) > 0)) problem(ctx, "median not positive");
            if (!(num(p, "img_per_s", ctx) > 0)) problem(ctx, "img/s not positive");
            if (!(num(p, "flops", ctx) > 0)) problem(ctx, "FLOPs not positive");
            if (!(num(p, "floor_ms_fp32", ctx) > 0)) problem(ctx, "floor not positive");
            str(p, "mem_method", ctx);
        }
    }
    jfree(&root);
    free(text);
    if (fails) fprintf(stderr, "test_bench_json: %d problem(s) in %s\n", fails, argv[1]);
    else fprintf(stderr, "test_bench_json: %s ok\n", argv[1]);
    return fails ? 1 : 0;
}
