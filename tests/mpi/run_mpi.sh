#!/usr/bin/env bash
# run_mpi.sh N PROGRAM [ARGS]: runs PROGRAM on N ranks with mpirun (ctest's launcher for the MPI
# test programs of tests/mpi); exit 77 (skipped) when there is no mpirun.
source "$(dirname "${BASH_SOURCE[0]}")/mpi_lib.sh"
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: no mpirun on PATH"; exit 77; }
n=$1; shift
exec "${MPIRUN[@]}" -np "$n" "$@"
