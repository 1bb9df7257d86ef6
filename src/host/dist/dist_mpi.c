/* dist_mpi.c: the MPI calls of the job (dist_mpi.h). */
#include "dist/dist_mpi.h"

#include <limits.h>
#include <stdlib.h>

#include "fce/log.h"

int fce_mpi_launcher_size(void) {
    /* Open MPI's mpirun; MPICH's and Intel MPI's Hydra; PMIx launchers (Open MPI 5, srun --mpi=pmix) */
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const char *v = getenv(sizes[i]);
        if (v) return atoi(v) > 0 ? atoi(v) : -1;
    }
    return getenv("PMIX_RANK") ? -1 : 0;
}

#ifdef FCE_HAVE_MPI
#include <mpi.h>

int fce_mpi_built(void) { return 1; }

/* Logs a failed MPI call with MPI's own message. */
static fce_status mpi_failed(const char *call, int err) {
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(err, msg, &len);
    fce_log_error("MPI error: %s failed: %s", call, msg);
    return FCE_STATUS_ERR_COMM;
}

#define FCE_MPI_CHECK(call)                                                                        \
    do {                                                                                           \
        int fce_mpi_err_ = (call);                                                                 \
        if (fce_mpi_err_ != MPI_SUCCESS) return mpi_failed(#call, fce_mpi_err_);                   \
    } while (0)

fce_status fce_mpi_join(int *rank, int *size, int *local_rank) {
    int provided = 0;
    FCE_MPI_CHECK(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided));
    /* errors come back as codes (and are reported) instead of aborting inside MPI */
    FCE_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    FCE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, rank));
    FCE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, size));
    MPI_Comm node;
    FCE_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &node));
    FCE_MPI_CHECK(MPI_Comm_rank(node, local_rank));
    FCE_MPI_CHECK(MPI_Comm_free(&node));
    return FCE_STATUS_OK;
}

fce_status fce_mpi_allreduce(void *buf, size_t n, fce_mpi_type type, fce_mpi_op op) {
    const MPI_Datatype t = type == FCE_MPI_FLOAT ? MPI_FLOAT : type == FCE_MPI_DOUBLE ? MPI_DOUBLE : MPI_INT;
    const size_t size = type == FCE_MPI_DOUBLE ? sizeof(double) : 4;
    for (size_t done = 0; done < n;) {
        int count = n - done > INT_MAX ? INT_MAX : (int)(n - done);
        FCE_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + done * size, count, t,
                                    op == FCE_MPI_SUM ? MPI_SUM : MPI_MAX, MPI_COMM_WORLD));
        done += (size_t)count;
    }
    return FCE_STATUS_OK;
}

fce_status fce_mpi_bcast(void *buf, size_t bytes) {
    for (size_t done = 0; done < bytes;) {
        int count = bytes - done > INT_MAX ? INT_MAX : (int)(bytes - done);
        FCE_MPI_CHECK(MPI_Bcast((char *)buf + done, count, MPI_BYTE, 0, MPI_COMM_WORLD));
        done += (size_t)count;
    }
    return FCE_STATUS_OK;
}

fce_status fce_mpi_barrier(void) {
    FCE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
    return FCE_STATUS_OK;
}

void fce_mpi_finalize(void) { MPI_Finalize(); }

void fce_mpi_abort(int code) {
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code); /* MPI_Abort does not return; should it, the process still ends */
}

#else /* built without MPI: never launched, so nothing below is reached */

int fce_mpi_built(void) { return 0; }

static fce_status not_built(void) {
    fce_log_error("this fce-gpu was built without MPI (cmake -DFCE_MPI=ON with libopenmpi-dev)");
    return FCE_STATUS_ERR_UNSUPPORTED;
}

fce_status fce_mpi_join(int *rank, int *size, int *local_rank) {
    *rank = *local_rank = 0, *size = 1;
    return not_built();
}
fce_status fce_mpi_allreduce(void *buf, size_t n, fce_mpi_type type, fce_mpi_op op) {
    (void)buf, (void)n, (void)type, (void)op;
    return not_built();
}
fce_status fce_mpi_bcast(void *buf, size_t bytes) {
    (void)buf, (void)bytes;
    return not_built();
}
fce_status fce_mpi_barrier(void) { return not_built(); }
void fce_mpi_finalize(void) {}
void fce_mpi_abort(int code) { exit(code); }

#endif
