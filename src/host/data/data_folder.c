/* data_folder.c: a folder of same-sized pictures as an image set (dataset.h), unlabelled unless the
 * folder holds a labels.txt (one "NAME LABEL" line per picture, LABEL in 0..9), which makes it
 * usable by the linear probe. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fce/dataset.h"
#include "fce/image_io.h"
#include "fce/log.h"

static int has_picture_ext(const char *name) {
    size_t n = strlen(name);
    if (n < 5) return 0; /* at least one character before ".png" */
    const char *e = name + n - 4;
    return e[0] == '.' && (((e[1] == 'p' || e[1] == 'P') && (e[2] == 'n' || e[2] == 'N') &&
                            (e[3] == 'g' || e[3] == 'G')) ||
                           ((e[1] == 'p' || e[1] == 'P') && (e[2] == 'p' || e[2] == 'P') &&
                            (e[3] == 'm' || e[3] == 'M')));
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Sorted malloc'd list of the picture file names in dir. */
static fce_status list_pictures(const char *dir, char ***names_out, size_t *n_out) {
    *names_out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) {
        fce_log_error("cannot open image folder %s: %s", dir, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    fce_status st = FCE_STATUS_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_picture_ext(e->d_name)) continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                st = FCE_STATUS_ERR_NOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        size_t len = strlen(e->d_name);
        names[n] = malloc(len + 1);
        if (!names[n]) {
            st = FCE_STATUS_ERR_NOMEM;
            break;
        }
        memcpy(names[n], e->d_name, len + 1);
        n++;
    }
    closedir(d);
    if (st != FCE_STATUS_OK) {
        fce_log_error("out of memory listing the image folder %s", dir);
        free_names(names, n);
        return st;
    }
    if (n == 0) {
        free(names);
        fce_log_error("image folder %s holds no *.png (or *.ppm) files: point it at a folder of "
                      "pictures of one size",
                      dir);
        return FCE_STATUS_ERR_FORMAT;
    }
    qsort(names, n, sizeof *names, cmp_names);
    *names_out = names;
    *n_out = n;
    return FCE_STATUS_OK;
}

/* names[i]'s label from dir/labels.txt, when that file exists: every line is "NAME LABEL" (blank
 * lines and lines starting with '#' are skipped), LABEL an integer in 0..9, and every picture of
 * the folder gets exactly one. Any other content is an error that names the file and line. */
static fce_status read_labels(const char *dir, char **names, size_t n, fce_image_set *out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/labels.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return FCE_STATUS_OK; /* an unlabelled folder */
        fce_log_error("cannot open %s: %s", path, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    out->labels = malloc(n);
    if (!out->labels) {
        fclose(f);
        fce_log_error("out of memory for the labels of %s", dir);
        return FCE_STATUS_ERR_NOMEM;
    }
    memset(out->labels, 0xff, n); /* 255: not given yet */
    fce_status st = FCE_STATUS_OK;
    char line[1024], name[512];
    for (long ln = 1; st == FCE_STATUS_OK && fgets(line, sizeof line, f); ln++) {
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        int label = -1, used = 0;
        char extra;
        if (sscanf(p, "%511s %d%n", name, &label, &used) != 2 || label < 0 || label > 9 ||
            sscanf(p + used, " %c", &extra) == 1) {
            fce_log_error("%s line %ld: expected \"NAME LABEL\" with LABEL in 0..9 (fix or remove the line)",
                          path, ln);
            st = FCE_STATUS_ERR_FORMAT;
            break;
        }
        const char *key = name;
        char **hit = bsearch(&key, names, n, sizeof *names, cmp_names);
        if (!hit) {
            fce_log_error("%s line %ld: %s is not a picture of %s", path, ln, name, dir);
            st = FCE_STATUS_ERR_FORMAT;
        } else if (out->labels[hit - names] != 0xff) {
            fce_log_error("%s line %ld: %s is labelled twice", path, ln, name);
            st = FCE_STATUS_ERR_FORMAT;
        } else {
            out->labels[hit - names] = (uint8_t)label;
        }
    }
    fclose(f);
    for (size_t i = 0; st == FCE_STATUS_OK && i < n; i++) {
        if (out->labels[i] == 0xff) {
            fce_log_error("%s: picture %s has no label (every picture needs one line)", path, names[i]);
            st = FCE_STATUS_ERR_FORMAT;
        }
    }
    if (st != FCE_STATUS_OK) {
        free(out->labels);
        out->labels = NULL;
    }
    return st;
}

fce_status fce_folder_load(const char *dir, fce_image_set *out) {
    memset(out, 0, sizeof *out);
    char **names = NULL;
    size_t n = 0;
    FCE_TRY(list_pictures(dir, &names, &n));

    fce_status st = FCE_STATUS_OK;
    size_t plen = strlen(dir) + 2;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(dir) + strlen(names[i]) + 2;
        if (l > plen) plen = l;
    }
    char *path = malloc(plen);
    unsigned char *rgb = NULL;
    if (!path) {
        fce_log_error("out of memory building a file name in %s", dir);
        st = FCE_STATUS_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(path, plen, "%s/%s", dir, names[i]);
        int w = 0, h = 0;
        FCE_TRY_GOTO(st, fce_image_read_rgb(path, &rgb, &w, &h));
        if (i == 0) {
            FCE_TRY_GOTO(st, fce_image_set_alloc(out, n, h, w, 3, 0, dir));
        } else if (w != out->W || h != out->H) {
            fce_log_error("%s is %dx%d pixels but %s/%s (the first picture) is %dx%d: every "
                          "picture of an image folder must have the same size (resize or remove "
                          "this one)",
                          path, w, h, dir, names[0], out->W, out->H);
            st = FCE_STATUS_ERR_FORMAT;
            goto cleanup;
        }
        size_t bytes = (size_t)w * (size_t)h * 3;
        memcpy(out->pixels + i * bytes, rgb, bytes);
        free(rgb);
        rgb = NULL;
    }
    st = read_labels(dir, names, n, out);
cleanup:
    free(rgb);
    free(path);
    free_names(names, n);
    if (st != FCE_STATUS_OK) fce_image_set_free(out);
    return st;
}
