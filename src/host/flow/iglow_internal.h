/* iglow_internal.h: the image Glow's private structures (levels, their priors, the tape and its
 * scratch), shared by iglow.c (construction, tapes, passes) and iglow_prior.c (split / top priors
 * and sampling). Not part of the public API (fce/iglow.h). The flow steps are flow_step.h's. */
#ifndef FCE_IGLOW_INTERNAL_H
#define FCE_IGLOW_INTERNAL_H

#include "fce/iglow.h"
#include "flow/flow_step.h"
#include "nn/model_params.h"

/* The conditional prior of a split (levels l < L−1, SPEC a.9): (mean | logs) = (Conv3x3(z1) + bias)·
 * e^{3·logs}, a zero-initialised 3×3 conv c/2 → c (weight (c, 9·c/2)) followed by a bias and a
 * log-scale per output channel (c each; the actnorm op without log-det). */
typedef struct iglow_split_prior {
    fce_param_view conv_w, bias, logs;
} iglow_split_prior;

/* The learned top prior (level L−1, SPEC a.10 learntop): mean and log-std per latent value
 * (h·w·c each), shared by every sample of the batch, zero at init (standard normal). */
typedef struct iglow_top_prior {
    fce_param_view mean, logs;
} iglow_top_prior;

typedef struct iglow_level {
    int Hin, Win, Cin;      /* level input (before the squeeze) */
    int h, w, c, hw;        /* after the squeeze */
    int n_z;                /* latent values per sample: h·w·c/2 at a split, h·w·c at the top */
    fce_flow_steps steps;   /* K flow steps on c channels */
    iglow_split_prior split; /* l < L−1 only */
    iglow_top_prior top;     /* l = L−1 only */
} iglow_level;

struct fce_iglow {
    fce_model_params params; /* context, table, arena */
    fce_iglow_config cfg;
    iglow_level *levels;
    int actnorm_initialized;
};

typedef struct iglow_level_tape {
    float *xin;                /* (N, Hin, Win, Cin): the level's input */
    fce_flow_steps_tape steps; /* x[0] = squeeze(xin); x[K] = (z1 | z2) at a split, z_top at top */
    float *z2;                 /* split: (N, n_z) = second half of x[K]; NULL at the top */
    float *mean, *logs;        /* prior of the level's latent, (N, n_z) */
    float *u;                  /* inverse pass: T·e^{logs}·ε, (N, n_z) */
    float *prior_out;          /* split: the prior's output (N, h, w, c) = [mean | logs] */
    fce_conv_plan *prior_plan; /* split: the prior's conv 3×3, c/2 → c */
} iglow_level_tape;

struct fce_iglow_tape {
    fce_iglow *g;
    int N;
    /* 1: made by fce_iglow_tape_init_inference: the K coupling-network tapes of a level are one
     * tape, so no backward is possible */
    int inference;
    float *net_scratch0, *net_scratch1; /* scratch shared by every coupling-network tape */
    float *an_work; /* the actnorm backwards' work buffer (backend.h), shared by every level */
    iglow_level_tape *level;
    float *logq;      /* (N) log q of the last pass */
    float *log_prior; /* (N) inverse pass: Σ log-prior terms at the sampled latents */
    float *dld;       /* (N) ∂L/∂(the inverse pass's log-det accumulator) */
    float *batch_ones; /* (N) of 1: the top prior's batch sum in its backward (iglow_prior.c) */
    float *log_T;      /* (1): log T of the last inverse */
    float log_T_host;
    /* Scratch, S = N·H·W·C floats each (the largest tensor of any level). */
    fce_flow_grad_bufs grad;       /* gradient ping-pong and the coupling networks' gradients */
    float *d_z1, *d_z2;            /* ∂L/∂ the split's halves z1 (= level l+1's input) and z2 */
    float *d_prior_mean, *d_prior_logs; /* ∂L/∂ a level's prior mean and log-std */
    float *d_prior_out;            /* ∂L/∂ the split prior's output [mean | logs] */
    float *d_addend;               /* a gradient term staged before it is added to its target */
    float *conv_scratch;  /* the split prior's conv output before its bias/scale (forward), the
                           * gradient w.r.t. it (backward); the discarded input gradient of
                           * iglow_sample_backward */
    float *zeros;         /* never written */
    float *logs_over_3;   /* ρ/3: the actnorm log-scale that multiplies by e^{ρ} (scale e^{3·s}) */
    float *scaled_eps;    /* T·ε */
};

/* iglow_prior.c */
fce_status iglow_split_prior_forward(fce_iglow *g, fce_iglow_tape *tp, int l);
fce_status iglow_split_prior_backward(fce_iglow *g, fce_iglow_tape *tp, int l, const float *d_mean,
                                      const float *d_logs, float *d_z1);
fce_status iglow_top_prior_forward(fce_iglow *g, fce_iglow_tape *tp);
fce_status iglow_top_prior_backward(fce_iglow *g, fce_iglow_tape *tp, const float *d_mean,
                                    const float *d_logs);
fce_status iglow_set_temperature(fce_iglow *g, fce_iglow_tape *tp, float T);
fce_status iglow_sample(fce_iglow *g, fce_iglow_tape *tp, int l, const float *eps, float T,
                        float *z, float *ld);
fce_status iglow_sample_backward(fce_iglow *g, fce_iglow_tape *tp, int l, float *dz,
                                 const float *dlogq, float *d_mean, float *d_logs);

#endif
