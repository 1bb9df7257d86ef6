/* pipeline_image.c: `train` for images (fce_image_train_run, train_image.h): the --mode dispatch to
 * the MLE trainer (train_image.c) or the FCE trainer (train_image_fce.c), and the paper's pipeline
 * that runs the one and then the other (issue 4). The stop request of Ctrl-C / SIGTERM
 * (stop_signal.h) is armed here, around whichever runs. */
#include "fce/train_image.h"

#include <stdio.h>
#include <string.h>

#include "dist/dist.h"
#include "fce/iglow.h"
#include "fce/log.h"
#include "formats/flow_image_file.h"
#include "train/run_folder.h"
#include "train/stop_signal.h"
#include "util/fs_util.h"

/* The paper's image pipeline: MLE pretraining of the flow into <out>/mle, then FCE from that
 * checkpoint into <out>. Each stage is an ordinary run of its mode, so its checkpoints, metrics and
 * --resume behave as they do alone; --resume picks up the unfinished stage (an FCE stage that stopped
 * before its first checkpoint starts over from the MLE checkpoint). A --time-limit covers both stages
 * together. Without --resume, either folder holding a run stops the pipeline before it starts (unless
 * --force, which clears both at once: an old FCE run must not outlive the MLE stage that replaces
 * its flow). */
static fce_status pipeline_run(const fce_image_train_config *cfg) {
    if (cfg->pretrain_steps < 0) return fce_config_error("--pretrain-steps must be >= 0");
    if (!cfg->data_dir[0]) return fce_config_error("--data-dir is required");
    fce_image_train_config f = *cfg;
    if (!f.out_dir[0]) snprintf(f.out_dir, sizeof f.out_dir, "runs/%s-fce", cfg->dataset);
    fce_image_train_config m = f;
    snprintf(m.mode, sizeof m.mode, "mle");
    m.steps = cfg->pretrain_steps;
    snprintf(m.out_dir, sizeof m.out_dir, "%.1000s/mle", f.out_dir);
    char mle_ckpt[1100], fce_ckpt[1100];
    snprintf(mle_ckpt, sizeof mle_ckpt, "%s/checkpoint.fce", m.out_dir);
    snprintf(fce_ckpt, sizeof fce_ckpt, "%s/checkpoint.fce", f.out_dir);
    if (!cfg->resume) {
        FCE_TRY(fce_run_folder_check(f.out_dir, 0, cfg->force));
        FCE_TRY(fce_run_folder_check(m.out_dir, 0, cfg->force));
        FCE_TRY(fce_run_folder_make_job(cfg->dist, f.out_dir, 0, cfg->force));
        FCE_TRY(fce_run_folder_make_job(cfg->dist, m.out_dir, 0, cfg->force));
    }
    m.force = f.force = 0; /* cleared above when asked */
    double t0 = fce_now_seconds();
    int64_t mle_done = -1; /* steps in <out>/mle/checkpoint.fce, −1: none */
    fce_iglow_config gc;
    fce_iglow_ckpt_state s;
    if (cfg->resume && fce_file_exists(mle_ckpt) && fce_iglow_ckpt_peek(mle_ckpt, &gc, &s) == FCE_STATUS_OK)
        mle_done = s.step;
    if (mle_done < cfg->pretrain_steps) {
        m.resume = cfg->resume; /* without a checkpoint in <out>/mle its run folder says so */
        if (!cfg->quiet)
            fce_log_info("pipeline stage 1 of 2: MLE pretraining of the flow, %ld steps, into %s%s",
                         cfg->pretrain_steps, m.out_dir, m.resume ? " (resumed)" : "");
        FCE_TRY(fce_image_train_mle_run(&m));
        FCE_TRY(fce_dist_barrier(cfg->dist)); /* rank 0 has written the checkpoint every rank reads */
        FCE_TRY(fce_iglow_ckpt_peek(mle_ckpt, &gc, &s));
        if (s.step < cfg->pretrain_steps) { /* --time-limit or a signal ended it */
            fce_log_info("pipeline: pretraining stopped at step %lld of %ld; --resume goes on",
                         (long long)s.step, cfg->pretrain_steps);
            return FCE_STATUS_OK;
        }
    }
    const double left = cfg->time_limit - (fce_now_seconds() - t0);
    int sig, out_of_time = cfg->time_limit > 0 && left <= 0;
    FCE_TRY(fce_stop_check(cfg->dist, &out_of_time, &sig)); /* the ranks of a job decide together */
    if (sig) {
        fce_log_info("pipeline: stopped by %s after pretraining; --resume starts FCE", fce_stop_signal_name(sig));
        return FCE_STATUS_OK;
    }
    if (out_of_time) {
        fce_log_info("pipeline: --time-limit reached after pretraining; --resume starts FCE");
        return FCE_STATUS_OK;
    }
    if (cfg->time_limit > 0) f.time_limit = (float)left;
    f.resume = cfg->resume && fce_file_exists(fce_ckpt);
    f.force = cfg->resume && !f.resume; /* a stage that never wrote a checkpoint starts over */
    if (!f.resume) snprintf(f.init_flow, sizeof f.init_flow, "%.1000s/checkpoint.fce", m.out_dir);
    if (!cfg->quiet)
        fce_log_info("pipeline stage 2 of 2: FCE from %s into %s%s", mle_ckpt, f.out_dir,
                     f.resume ? " (resumed)" : f.force ? " (started over: it had written no checkpoint yet)" : "");
    return fce_image_train_fce_run(&f);
}

static fce_status dispatch(const fce_image_train_config *cfg) {
    if (!strcmp(cfg->mode, "fce")) {
        if (!cfg->init_flow[0] && cfg->pretrain_steps != 0) return pipeline_run(cfg);
        return fce_image_train_fce_run(cfg);
    }
    return fce_image_train_mle_run(cfg);
}

fce_status fce_image_train_run(const fce_image_train_config *cfg) {
    if (!(cfg->time_limit >= 0 && cfg->time_limit < 1e9))
        return fce_config_error("--time-limit must be a number of seconds >= 0 (0: none)");
    if (strcmp(cfg->mode, "fce") != 0 && strcmp(cfg->mode, "mle") != 0) {
        fce_log_error("--mode: '%s' is not supported for images (mle or fce)", cfg->mode);
        return FCE_STATUS_ERR_CONFIG;
    }
    if (cfg->resume && cfg->force)
        return fce_config_error("--resume continues a run and --force deletes it: give one of them");
    fce_stop_guard *guard = fce_stop_guard_install();
    fce_status st = dispatch(cfg);
    fce_stop_guard_remove(guard);
    return st;
}
