/* iglow_internal.h: the image Glow's private structures, shared by iglow.c (steps, passes) and
 * iglow_prior.c (split / top priors and sampling). Not part of the public API (fce/iglow.h). */
#ifndef FCE_IGLOW_INTERNAL_H
#define FCE_IGLOW_INTERNAL_H

#include "nn/convnet.h"
#include "fce/iglow.h"

typedef struct ig_step {
    int i_an_b, i_an_logs, i_perm, i_sign, i_L, i_U, i_logs;
    fce_convnet nn;
    float *an_b, *an_logs, *perm, *sign, *L, *U, *lu_logs;          /* params */
    float *d_an_b, *d_an_logs, *dL, *dU, *dlu_logs;                  /* grads */
    float *W, *Winv, *dW, *dWinv;                                    /* c×c scratch */
} ig_step;

typedef struct ig_level {
    int Hin, Win, Cin;  /* level input (before the squeeze) */
    int h, w, c, hw;    /* after the squeeze */
    int n_z;            /* latent values per sample: h·w·c/2 at a split, h·w·c at the top */
    ig_step *steps;
    /* split prior (l < L−1): conv w (c, 9·c/2), b (c), logs (c). Top (l = L−1): pw = top.mean,
     * ps = top.logs (n_z each), pb unused. */
    int i_pw, i_pb, i_ps;
    float *pw, *pb, *ps, *dpw, *dpb, *dps;
} ig_level;

struct fce_iglow {
    fce_ctx *ctx;
    fce_iglow_config cfg;
    fce_param_table table;
    fce_param_arena arena;
    ig_level *levels;
    float *lu_scratch; /* per step: W, W⁻¹, dW, dW⁻¹ */
    int actnorm_initialized;
};

typedef struct ig_level_tape {
    float *xin;                  /* (N, Hin, Win, Cin) */
    float **x, **y1, **y2, **xa; /* x has K+1 entries, (N, h, w, c); xa (N, h, w, c/2) */
    fce_convnet_tape *nn;        /* K coupling-network tapes */
    float *z2;                   /* split: (N, n_z) = second half of x[K]; NULL at the top */
    float *mean, *logs;          /* prior of the level's latent, (N, n_z) */
    float *u;                    /* inverse pass: T·e^{logs}·ε, (N, n_z) */
    float *hp;                   /* split: prior conv output (N, h, w, c) = [mean | logs] */
    fce_conv_plan *plan;         /* split: prior conv 3×3, c/2 → c */
} ig_level_tape;

struct fce_iglow_tape {
    fce_iglow *g;
    int N;
    /* 1: made by fce_iglow_tape_init_inference: the K coupling-network tapes of a level are one
     * tape (nn[k] are copies of nn[0]), so no backward is possible */
    int inference;
    float *nn_g0, *nn_g1;              /* scratch shared by every coupling-network tape */
    ig_level_tape *lv;
    float *logq, *lp, *dld;            /* (N) */
    float *ones;                       /* (N) of 1: the top prior's broadcast */
    float *logT;                       /* (1): log T of the last inverse */
    float logT_host;
    /* scratch of S = N·H·W·C floats (the largest tensor of any level) */
    float *gA, *gB, *gh, *gxa, *gz1, *gz2, *gm, *gs, *gt, *ghp, *gpre;
    float *zeros;                      /* never written */
    float *ls3, *eT;
};

/* iglow_prior.c */
fce_status ig_prior_forward(fce_iglow *g, fce_iglow_tape *tp, int l);
fce_status ig_prior_backward(fce_iglow *g, fce_iglow_tape *tp, int l, const float *dmean,
                             const float *dlogs, float *dz1);
fce_status ig_top_forward(fce_iglow *g, fce_iglow_tape *tp);
fce_status ig_top_backward(fce_iglow *g, fce_iglow_tape *tp, const float *dmean, const float *dlogs);
fce_status ig_set_temperature(fce_iglow *g, fce_iglow_tape *tp, float T);
fce_status ig_sample(fce_iglow *g, fce_iglow_tape *tp, int l, const float *eps, float T, float *z,
                     float *ld);
fce_status ig_sample_backward(fce_iglow *g, fce_iglow_tape *tp, int l, float *dz,
                              const float *dlogq, float *dmean, float *dlogs);

#endif
