/* lu_init.h: host-side init of an LU-parameterised invertible D×D map (SPEC a.4/a.5): a random
 * orthogonal W0 (modified Gram-Schmidt on a seeded Gaussian matrix) factorised W0 = P·L0·U0 with
 * partial pivoting. Used by the flow step (flow/flow_step.c) of both flows. Writes perm (D),
 * sign (D), L (D×D strictly lower), U (D×D strictly upper), logs (D). */
#ifndef FCE_LU_INIT_H
#define FCE_LU_INIT_H

#include <stdint.h>

void fce_lu_init_orthogonal_host(float *perm, float *sign, float *L, float *U, float *logs, int D,
                                 uint64_t seed);

#endif
