/* status.h: the one error type of fce-gpu.
 *
 * Every host function that can fail for a reason outside the programmer's control (I/O, memory, the
 * device, user input, numerics) returns an fce_status. 0 is success, negative values are errors.
 * The message with the details (file, field, fix) is printed where the error is detected, through
 * fce_log_error(); callers only propagate the code with FCE_TRY. */
#ifndef FCE_STATUS_H
#define FCE_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fce_status {
    FCE_STATUS_OK = 0,
    FCE_STATUS_ERR_NOMEM = -1,
    FCE_STATUS_ERR_IO = -2,
    FCE_STATUS_ERR_FORMAT = -3,
    FCE_STATUS_ERR_CONFIG = -4,
    FCE_STATUS_ERR_CUDA = -5,
    FCE_STATUS_ERR_CUBLAS = -6,
    FCE_STATUS_ERR_CUDNN = -7,
    FCE_STATUS_ERR_PNG = -8,
    FCE_STATUS_ERR_NUMERIC = -9,
    FCE_STATUS_ERR_UNSUPPORTED = -10,
    FCE_STATUS_ERR_COMM = -11 /* MPI or NCCL (multi-process training, src/host/dist) */
} fce_status;

const char *fce_status_str(fce_status s);

/* Evaluate expr; if it fails, return its status from the enclosing function. */
#define FCE_TRY(expr)                                                                              \
    do {                                                                                           \
        fce_status fce_try_s_ = (expr);                                                            \
        if (fce_try_s_ != FCE_STATUS_OK) return fce_try_s_;                                        \
    } while (0)

/* Same, for functions with a single-exit cleanup label: sets `st` and jumps to `cleanup`. */
#define FCE_TRY_GOTO(st, expr)                                                                     \
    do {                                                                                           \
        (st) = (expr);                                                                             \
        if ((st) != FCE_STATUS_OK) goto cleanup;                                                   \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
