/* status.c: names of the status codes (status.h). */
#include "fce/status.h"

const char *fce_status_str(fce_status s) {
    switch (s) {
    case FCE_STATUS_OK: return "ok";
    case FCE_STATUS_ERR_NOMEM: return "out of memory";
    case FCE_STATUS_ERR_IO: return "I/O error";
    case FCE_STATUS_ERR_FORMAT: return "malformed input";
    case FCE_STATUS_ERR_CONFIG: return "invalid configuration";
    case FCE_STATUS_ERR_CUDA: return "CUDA error";
    case FCE_STATUS_ERR_CUBLAS: return "cuBLAS error";
    case FCE_STATUS_ERR_CUDNN: return "cuDNN error";
    case FCE_STATUS_ERR_PNG: return "PNG error";
    case FCE_STATUS_ERR_NUMERIC: return "non-finite value";
    case FCE_STATUS_ERR_UNSUPPORTED: return "unsupported";
    case FCE_STATUS_ERR_COMM: return "communication error";
    }
    return "unknown status";
}
