/* conv_cudnn.h: 2D convolution on the GPU through cuDNN's legacy C API (STYLE 6.10).
 *
 * The CUDA backend keeps one fce_cudnn_state in its private state: the cuDNN handle (bound to the
 * context's stream) and the ONE workspace shared by every conv plan. conv plans (struct
 * fce_conv_plan, defined in conv_cudnn.c) are made at setup by fce_cudnn_conv_plan_init, which picks
 * the algorithms and grows the shared workspace to the largest need seen; the ops never allocate.
 * Same math and gradient rule as fce_ref_conv2d_* (ref.h): y = conv(x, w) + b; dx = (overwrite);
 * dw += , db += . Enqueue only; never synchronise. */
#ifndef FCE_CONV_CUDNN_H
#define FCE_CONV_CUDNN_H

#include <stddef.h>

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "fce/backend.h"
#include "fce/status.h"

/* Largest workspace any one chosen algorithm may ask for (STYLE 6.10: 256 MiB). */
#define FCE_CUDNN_WORKSPACE_CAP ((size_t)256 << 20)
/* Distinct shapes whose chosen algorithms are logged (once each); later new shapes log too. */
#define FCE_CUDNN_LOGGED_MAX 64

typedef struct fce_cudnn_state {
    cudnnHandle_t handle;   /* bound to the context's stream */
    void *workspace;        /* shared by all plans; grown only in plan init */
    size_t workspace_bytes;
    fce_conv_shape logged[FCE_CUDNN_LOGGED_MAX]; /* shapes whose algorithms were logged */
    int n_logged;
} fce_cudnn_state;

/* Creates the handle and binds it to `stream`; on failure the caller runs fce_cudnn_free. */
fce_status fce_cudnn_init(fce_cudnn_state *st, cudaStream_t stream);
/* Releases the workspace and the handle (the caller has synchronised the stream). NULL-safe. */
void fce_cudnn_free(fce_cudnn_state *st);

/* Validates the shape, builds the descriptors (NHWC; FMA math, or TF32 tensor cores allowed when
 * `tf32`), picks the three algorithms (deterministic ones only when `deterministic`), grows the
 * shared workspace. Setup only. */
fce_status fce_cudnn_conv_plan_init(fce_cudnn_state *st, cudaStream_t stream, int deterministic,
                                    int tf32, fce_conv_plan **plan, const fce_conv_shape *shape);
void fce_cudnn_conv_plan_free(fce_conv_plan *plan); /* NULL-safe */

fce_status fce_cudnn_conv2d_forward(fce_cudnn_state *st, const fce_conv_plan *plan, float *y,
                                    const float *x, const float *w, const float *b);
fce_status fce_cudnn_conv2d_backward_data(fce_cudnn_state *st, const fce_conv_plan *plan,
                                          float *dx, const float *dy, const float *w);
fce_status fce_cudnn_conv2d_backward_filter(fce_cudnn_state *st, const fce_conv_plan *plan,
                                            float *dw, float *db, const float *dy,
                                            const float *x);

#endif
