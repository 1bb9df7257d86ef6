/* dist_mpi.h: the MPI calls of the job (dist.c), and nothing else: the one file that includes
 * mpi.h. Every call works on MPI_COMM_WORLD from the main thread. In a build without MPI
 * (FCE_HAVE_MPI unset) fce_mpi_built is 0 and the calls are never reached (they report an error). */
#ifndef FCE_DIST_MPI_H
#define FCE_DIST_MPI_H

#include <stddef.h>

#include "fce/status.h"

typedef enum fce_mpi_type { FCE_MPI_FLOAT, FCE_MPI_DOUBLE, FCE_MPI_INT } fce_mpi_type;
typedef enum fce_mpi_op { FCE_MPI_SUM, FCE_MPI_MAX } fce_mpi_op;

/* 1 when the build has MPI. */
int fce_mpi_built(void);
/* The job size an MPI launcher put in this process's environment: 0 when none started it, −1 when
 * one did without saying the size. Read with or without MPI in the build. */
int fce_mpi_launcher_size(void);
/* MPI_Init_thread (funneled: the watchdog thread makes no MPI call), then this process's rank, the
 * job's size and the rank among the processes of this node (which GPU it takes). */
fce_status fce_mpi_join(int *rank, int *size, int *local_rank);
/* In place over all ranks; n elements of `type` (any count: split into int-sized calls). */
fce_status fce_mpi_allreduce(void *buf, size_t n, fce_mpi_type type, fce_mpi_op op);
fce_status fce_mpi_bcast(void *buf, size_t bytes); /* from rank 0 */
fce_status fce_mpi_barrier(void);
void fce_mpi_finalize(void);
/* MPI_Abort(MPI_COMM_WORLD, code): ends every rank; mpirun exits with code. Does not return. */
void fce_mpi_abort(int code);

#endif
