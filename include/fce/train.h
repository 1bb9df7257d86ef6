/* train.h: the 2D experiment's training run (`fce-gpu train`), paper §3.1.
 *
 * Modes: fce (the paper's joint training: EBM and flow alternate on one NCE value function, the
 * accuracy on the current batch deciding whose turn it is), mle (the flow alone by maximum
 * likelihood), nce (the EBM alone against a fixed Gaussian fitted to the data's mean and covariance).
 * Outputs in out_dir: metrics.jsonl, summary.json, density.png, checkpoint.fce. */
#ifndef FCE_TRAIN_H
#define FCE_TRAIN_H

#include <stdint.h>

#include "fce/status.h"
#include "fce/train_config.h" /* fce_train_config */

#ifdef __cplusplus
extern "C" {
#endif


/* Runs the whole job; errors are logged with the fix. FCE_STATUS_ERR_NUMERIC when training
 * diverged (the last good checkpoint is kept). */
fce_status fce_train_run(const fce_train_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
