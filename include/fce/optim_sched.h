/* optim_sched.h: the per-step scalars of Adam and Adamax, computed once on the host in double,
 * for the step-indexed optimizer ops (fce/ops.def adam_step_at, adamax_step_at) and by the plain
 * ones (adam_step, adamax_step compute the same values inside), so the two forms agree bit for bit.
 * t is the 1-based step count. */
#ifndef FCE_OPTIM_SCHED_H
#define FCE_OPTIM_SCHED_H

#include <math.h>

#define FCE_ADAM_SCHED 3   /* doubles: lr, 1 − b1^t, 1 − b2^t */
#define FCE_ADAMAX_SCHED 1 /* doubles: lr/(1 − b1^t) */

static inline void fce_adam_sched(double out[FCE_ADAM_SCHED], float lr, float b1, float b2, int t) {
    out[0] = (double)lr;
    out[1] = 1.0 - pow((double)b1, (double)t);
    out[2] = 1.0 - pow((double)b2, (double)t);
}

static inline void fce_adamax_sched(double out[FCE_ADAMAX_SCHED], float lr, float b1, int t) {
    out[0] = (double)lr / (1.0 - pow((double)b1, (double)t));
}

#endif
