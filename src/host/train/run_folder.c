/* run_folder.c: the run folder's checks, creation, writability proof and --force clean-up
 * (run_folder.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "train/run_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dist/dist.h"
#include "fce/log.h"
#include "util/fs_util.h"

/* The files whose presence means "a run is here". */
static const char *const RUN_MARKS[] = {"checkpoint.fce", "ebm.fce", "metrics.jsonl"};
/* What --force deletes besides the samples_<step> pictures (a picture is .png, or .ppm in a build
 * without libpng). */
static const char *const RUN_FILES[] = {
    "checkpoint.fce", "ebm.fce", "metrics.jsonl", "config.json", "summary.json", "checkpoint.fce.tmp",
    "ebm.fce.tmp", "curves.png", "curves.ppm", "density.png", "density.ppm", "ebm_base.fce",
    "ebm_base.fce.tmp"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int exists_in(const char *dir, const char *name) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return fce_file_exists(p);
}

int fce_run_folder_holds_run(const char *dir) {
    for (size_t i = 0; i < COUNT(RUN_MARKS); i++)
        if (exists_in(dir, RUN_MARKS[i])) return 1;
    return 0;
}

/* "checkpoint.fce, metrics.jsonl" for the message. */
static void list_marks(const char *dir, char *buf, size_t n) {
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(RUN_MARKS); i++)
        if (exists_in(dir, RUN_MARKS[i]))
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? ", " : "", RUN_MARKS[i]);
}

fce_status fce_run_folder_check(const char *dir, int resume, int force) {
    if (resume && force) {
        fce_log_error("--resume continues the run in %s and --force deletes it: give one of them", dir);
        return FCE_STATUS_ERR_CONFIG;
    }
    const int holds = fce_run_folder_holds_run(dir);
    if (resume) {
        if (exists_in(dir, "checkpoint.fce")) return FCE_STATUS_OK;
        if (holds)
            fce_log_error("--resume: the run in %s stopped before it wrote its first checkpoint, so there is "
                          "nothing to continue (a checkpoint is written every --checkpoint-every steps, at "
                          "the end, at --time-limit and on Ctrl-C); start it again with --force", dir);
        else
            fce_log_error("--resume: no checkpoint at %s/checkpoint.fce (start without --resume, or point "
                          "--out at the run folder)", dir);
        return FCE_STATUS_ERR_IO;
    }
    if (holds && !force) {
        char marks[128];
        list_marks(dir, marks, sizeof marks);
        fce_log_error("%s already holds a run (%s); nothing was changed. Continue it with --resume, start "
                      "over with --force (deletes its checkpoints, metrics and pictures), or choose "
                      "another --out", dir, marks);
        return FCE_STATUS_ERR_CONFIG;
    }
    return FCE_STATUS_OK;
}

fce_status fce_run_folder_check_kept(const char *dir, int force, const char *path, const char *flag) {
    char want[PATH_MAX], have[PATH_MAX], in_dir[PATH_MAX + 64];
    if (!force || !path[0] || !realpath(path, want) || !realpath(dir, have)) return FCE_STATUS_OK;
    for (size_t i = 0; i < COUNT(RUN_FILES); i++) {
        snprintf(in_dir, sizeof in_dir, "%s/%s", have, RUN_FILES[i]);
        if (!strcmp(in_dir, want)) {
            fce_log_error("%s %s is in %s, whose run --force would delete first; copy it elsewhere or "
                          "choose another --out", flag, path, dir);
            return FCE_STATUS_ERR_CONFIG;
        }
    }
    return FCE_STATUS_OK;
}

/* Creates and removes a file in dir: the proof that the run can write there. */
static fce_status prove_writable(const char *dir) {
    char p[1200];
    snprintf(p, sizeof p, "%s/.fce-write-test-%ld", dir, (long)getpid());
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fce_log_error("cannot write into the output folder %s: %s (choose another --out)", dir, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    close(fd);
    unlink(p);
    return FCE_STATUS_OK;
}

static int is_sample_picture(const char *name) {
    size_t n = strlen(name);
    if (strncmp(name, "samples_", 8) != 0 || n < 13) return 0;
    if (strcmp(name + n - 4, ".png") != 0 && strcmp(name + n - 4, ".ppm") != 0) return 0;
    for (size_t i = 8; i < n - 4; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    return 1;
}

static fce_status remove_in(const char *dir, const char *name) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (remove(p) != 0 && errno != ENOENT) {
        fce_log_error("--force: cannot delete %s: %s", p, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    return FCE_STATUS_OK;
}

static fce_status delete_run(const char *dir) {
    for (size_t i = 0; i < COUNT(RUN_FILES); i++) FCE_TRY(remove_in(dir, RUN_FILES[i]));
    DIR *d = opendir(dir);
    if (!d) {
        fce_log_error("--force: cannot list %s: %s", dir, strerror(errno));
        return FCE_STATUS_ERR_IO;
    }
    fce_status st = FCE_STATUS_OK;
    struct dirent *e;
    while (st == FCE_STATUS_OK && (e = readdir(d)))
        if (is_sample_picture(e->d_name)) st = remove_in(dir, e->d_name);
    closedir(d);
    return st;
}

fce_status fce_run_folder_make(const char *dir, int resume, int force) {
    FCE_TRY(fce_mkdirs(dir));
    FCE_TRY(prove_writable(dir));
    if (force && !resume) {
        const int held = fce_run_folder_holds_run(dir);
        FCE_TRY(delete_run(dir));
        if (held) fce_log_info("starting over: deleted the previous run's files in %s", dir);
    }
    return FCE_STATUS_OK;
}

fce_status fce_run_folder_prepare(const char *dir, int resume, int force) {
    FCE_TRY(fce_run_folder_check(dir, resume, force));
    return fce_run_folder_make(dir, resume, force);
}

fce_status fce_run_folder_make_job(struct fce_dist *d, const char *dir, int resume, int force) {
    if (fce_dist_is_root(d)) FCE_TRY(fce_run_folder_make(dir, resume, force));
    return fce_dist_barrier(d); /* a failure on rank 0 ends the job (dist.h) */
}

fce_status fce_run_folder_prepare_job(struct fce_dist *d, const char *dir, int resume, int force) {
    FCE_TRY(fce_run_folder_check(dir, resume, force));
    return fce_run_folder_make_job(d, dir, resume, force);
}
