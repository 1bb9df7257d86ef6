/* run_folder.h: the output folder of a training run, made safe before any long work starts.
 *
 * A folder "holds a run" when it has a checkpoint.fce, an ebm.fce or a metrics.jsonl. Then:
 *  - without --resume or --force, `train` stops (FCE_STATUS_ERR_CONFIG: exit 2) before touching
 *    anything and says how to continue (--resume) or start over (--force);
 *  - --force starts over: the run's files (checkpoints, metrics, config.json, summary.json and
 *    the pictures: curves, density, samples_<step>) are deleted, nothing else is;
 *  - --resume needs its checkpoint.fce; when the folder holds a run that stopped before writing
 *    one, it says so (FCE_STATUS_ERR_IO: exit 1, like any missing checkpoint).
 * The folder is created when missing and proved writable by creating and removing a file in it,
 * so a read-only or impossible --out fails at once with a message naming it. */
#ifndef FCE_TRAIN_RUN_FOLDER_H
#define FCE_TRAIN_RUN_FOLDER_H

#include "fce/status.h"

/* Does dir hold a run? */
int fce_run_folder_holds_run(const char *dir);

/* The checks above that change nothing: --resume with --force, a run in the way, a missing
 * checkpoint to resume. */
fce_status fce_run_folder_check(const char *dir, int resume, int force);

/* With force: FCE_STATUS_ERR_CONFIG (logged, naming flag) when `path` (e.g. --init-flow) is one of
 * the files --force would delete in dir. OK otherwise, or when path is empty. */
fce_status fce_run_folder_check_kept(const char *dir, int force, const char *path, const char *flag);

/* Creates dir (mkdir -p), proves it writable and, with force (and not resume), deletes the old
 * run's files. */
fce_status fce_run_folder_make(const char *dir, int resume, int force);

/* Both, in that order. */
fce_status fce_run_folder_prepare(const char *dir, int resume, int force);

/* In a job of several ranks (dist/dist.h; NULL: alone, as above): every rank checks, rank 0 alone
 * makes the folder, and the others wait for it. */
struct fce_dist;
fce_status fce_run_folder_make_job(struct fce_dist *d, const char *dir, int resume, int force);
fce_status fce_run_folder_prepare_job(struct fce_dist *d, const char *dir, int resume, int force);

#endif
