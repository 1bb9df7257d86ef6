# mpi_lib.sh: what the multi-process tests (tests/mpi/test_mpi_*.sh) share, sourced after
# tests/cli/lib.sh (BIN, OUT, expect, check, finish).
#   mpi_require             exit 77 (skipped, never passed) unless the binary was built with MPI,
#                           mpirun is on PATH and python3 runs
#   "${MPIRUN[@]}" -np N …  mpirun with what a CI machine needs: Open MPI run as root, and more ranks
#                           than cores (2 ranks on a loaded 2-core machine)
#   rank_pid DIR R          the pid of rank R of the job whose --out is DIR (from /proc)
mpi_require() {
  if ! "$BIN" info | grep -q '^MPI (mpirun -np N train): yes'; then
    echo "SKIP: this fce-gpu was built without MPI"; exit 77
  fi
  if ! command -v mpirun >/dev/null 2>&1; then echo "SKIP: no mpirun on PATH"; exit 77; fi
  if ! python3 -c '' 2>/dev/null; then echo "SKIP: no python3"; exit 77; fi
}

MPIRUN=(mpirun)
if mpirun --version 2>&1 | grep -q 'Open MPI'; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  MPIRUN+=(--oversubscribe)
fi

rank_pid() { # rank_pid DIR R
  local p
  for p in $(pgrep -f -- "--out $1( |\$)"); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2\|PMI_RANK=$2\|PMIX_RANK=$2"; then
      echo "$p"; return 0
    fi
  done
  return 1
}
