#!/usr/bin/env bash
# setup-deps.sh: checks (and where possible installs) what fce-gpu needs to build. Idempotent.
#   required: cmake, a C compiler, libpng-dev (PNG output; set FCE_WITH_PNG=OFF to skip it)
#             zlib1g-dev (inflates the compressed MAT-files of SVHN)
#   optional: nvcc (without it the build is CPU-only, which is fine); clang with libFuzzer
#             (tests/fuzz; without it test_fuzz is skipped); Open MPI (libopenmpi-dev, openmpi-bin:
#             `mpirun -np N fce-gpu train` and tests/mpi; without it those are skipped), installed
#             when root with apt-get unless FCE_MPI=OFF
# If zlib1g-dev or libpng-dev is missing and we are root with apt-get, it is installed; otherwise
# the script prints the command to run and exits 1. One line per check.
set -euo pipefail

say() { printf 'setup-deps: %-12s %s\n' "$1" "$2"; }
die() { say "$1" "$2"; exit 1; }

# ---- cmake ----
if command -v cmake >/dev/null 2>&1; then
  say cmake "ok ($(cmake --version | head -n1))"
else
  die cmake "MISSING: install it with: sudo apt-get install -y cmake"
fi

# ---- C compiler ----
cc_found=""
for c in "${CC:-}" cc gcc clang; do
  if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then cc_found="$c"; break; fi
done
if [ -n "$cc_found" ]; then
  say "C compiler" "ok ($cc_found: $("$cc_found" --version 2>/dev/null | head -n1))"
else
  die "C compiler" "MISSING: install one with: sudo apt-get install -y build-essential"
fi

# ---- zlib and libpng ----
# have_dev PC_NAME DEB_PACKAGE HEADER LIB_GLOB: prints how the library was found (pkg-config, the
# Debian package, or the header and shared library in the usual places); fails if it was not.
have_dev() {
  local pc=$1 deb=$2 header=$3 lib=$4
  if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$pc"; then
    echo "$pc $(pkg-config --modversion "$pc") via pkg-config"; return 0
  fi
  if command -v dpkg >/dev/null 2>&1 && dpkg -s "$deb" >/dev/null 2>&1; then
    echo "$deb package"; return 0
  fi
  if [ -f "/usr/include/$header" ] &&
     { compgen -G "/usr/lib/*/$lib" || compgen -G "/usr/lib*/$lib"; } >/dev/null; then
    echo "/usr/include/$header"; return 0
  fi
  return 1
}

# ensure_dev LABEL "APT PACKAGES" PC_NAME DEB_PACKAGE HEADER LIB_GLOB: one line saying the library
# is there; if it is not, installs the packages when root with apt-get, else exits 1 saying how.
ensure_dev() {
  local label=$1 packages=$2 deb=$4 info
  shift 2
  if info=$(have_dev "$@"); then
    say "$label" "ok ($info)"
  elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "$label" "missing: installing $packages with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # the package list is meant to split
    apt-get update -qq && apt-get install -y -qq $packages
    if info=$(have_dev "$@"); then
      say "$label" "ok ($info, just installed)"
    else
      die "$label" "still missing after apt-get install $deb"
    fi
  else
    die "$label" "MISSING: run: sudo apt-get install -y $packages"
  fi
}

ensure_dev zlib "zlib1g-dev" zlib zlib1g-dev zlib.h 'libz.so'
if [ "${FCE_WITH_PNG:-}" = "OFF" ] || [[ "${CMAKE_ARGS:-}" == *"FCE_WITH_PNG=OFF"* ]]; then
  say libpng "skipped (FCE_WITH_PNG=OFF: pictures will be written as PPM)"
else
  ensure_dev libpng "libpng-dev zlib1g-dev" libpng libpng-dev png.h 'libpng*.so'
fi

# ---- CUDA (optional) ----
nvcc_path=$(command -v nvcc 2>/dev/null || true)
if [ -z "$nvcc_path" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc_path=/usr/local/cuda/bin/nvcc; fi
if [ -n "$nvcc_path" ]; then
  say CUDA "ok ($nvcc_path: $("$nvcc_path" --version | tail -n1))"
else
  say CUDA "not found: building the CPU backend only (fine)"
fi

# ---- MPI (optional): multi-process training (src/host/dist) and its tests (tests/mpi) ----
mpi_ok() { command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; }
if [ "${FCE_MPI:-}" = "OFF" ] || [[ "${CMAKE_ARGS:-}" == *"FCE_MPI=OFF"* ]]; then
  say MPI "skipped (FCE_MPI=OFF: no multi-process training; tests/mpi skipped)"
elif mpi_ok; then
  say MPI "ok ($(mpirun --version 2>&1 | head -n1))"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 && {
       apt_mpi() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenmpi-dev openmpi-bin >/dev/null 2>&1; }
       apt_mpi || { apt-get update -qq >/dev/null 2>&1 && apt_mpi; }
     } && mpi_ok; then
  say MPI "ok (libopenmpi-dev and openmpi-bin just installed)"
else
  say MPI "not available: mpirun -np N train and tests/mpi are skipped (sudo apt-get install -y libopenmpi-dev openmpi-bin)"
fi

# ---- fuzzing (optional): clang with libFuzzer for tests/fuzz; test_fuzz is skipped without it ----
fuzz_links() {
  printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
    clang -x c - -fsanitize=fuzzer,address -o /dev/null >/dev/null 2>&1
}
if command -v clang >/dev/null 2>&1 && fuzz_links; then
  say fuzzing "ok (clang with libFuzzer: $(clang --version | head -n1))"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 &&
     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev llvm >/dev/null 2>&1 &&
     fuzz_links; then
  say fuzzing "ok (clang and libclang-rt-14-dev just installed)"
else
  say fuzzing "not available: test_fuzz will be skipped (sudo apt-get install -y clang libclang-rt-14-dev llvm)"
fi
