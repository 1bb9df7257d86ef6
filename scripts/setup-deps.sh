#!/usr/bin/env bash
# setup-deps.sh: checks (and where possible installs) what fce-gpu needs to build. Idempotent.
#   required: cmake, a C compiler, libpng-dev (PNG output; set FCE_WITH_PNG=OFF to skip it)
#             zlib1g-dev (inflates the compressed MAT-files of SVHN)
#   optional: nvcc (without it the build is CPU-only, which is fine)
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

# ---- zlib ----
have_zlib() {
  if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists zlib; then
    echo "zlib $(pkg-config --modversion zlib) via pkg-config"; return 0
  fi
  if command -v dpkg >/dev/null 2>&1 && dpkg -s zlib1g-dev >/dev/null 2>&1; then
    echo "zlib1g-dev package"; return 0
  fi
  if [ -f /usr/include/zlib.h ] &&
     { compgen -G '/usr/lib/*/libz.so' || compgen -G '/usr/lib*/libz.so'; } >/dev/null; then
    echo "/usr/include/zlib.h"; return 0
  fi
  return 1
}
if info=$(have_zlib); then
  say zlib "ok ($info)"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  say zlib "missing: installing zlib1g-dev with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq zlib1g-dev
  if info=$(have_zlib); then
    say zlib "ok ($info, just installed)"
  else
    die zlib "still missing after apt-get install zlib1g-dev"
  fi
else
  die zlib "MISSING: run: sudo apt-get install -y zlib1g-dev"
fi

# ---- libpng ----
have_libpng() {
  if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libpng; then
    echo "libpng $(pkg-config --modversion libpng) via pkg-config"; return 0
  fi
  if command -v dpkg >/dev/null 2>&1 && dpkg -s libpng-dev >/dev/null 2>&1; then
    echo "libpng-dev package"; return 0
  fi
  if [ -f /usr/include/png.h ] &&
     { compgen -G '/usr/lib/*/libpng*.so' || compgen -G '/usr/lib*/libpng*.so'; } >/dev/null; then
    echo "/usr/include/png.h"; return 0
  fi
  return 1
}
if [ "${FCE_WITH_PNG:-}" = "OFF" ] || [[ "${CMAKE_ARGS:-}" == *"FCE_WITH_PNG=OFF"* ]]; then
  say libpng "skipped (FCE_WITH_PNG=OFF: pictures will be written as PPM)"
elif info=$(have_libpng); then
  say libpng "ok ($info)"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  say libpng "missing: installing libpng-dev zlib1g-dev with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq libpng-dev zlib1g-dev
  if info=$(have_libpng); then
    say libpng "ok ($info, just installed)"
  else
    die libpng "still missing after apt-get install libpng-dev"
  fi
else
  die libpng "MISSING: run: sudo apt-get install -y libpng-dev zlib1g-dev"
fi

# ---- CUDA (optional) ----
nvcc_path=$(command -v nvcc 2>/dev/null || true)
if [ -z "$nvcc_path" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc_path=/usr/local/cuda/bin/nvcc; fi
if [ -n "$nvcc_path" ]; then
  say CUDA "ok ($nvcc_path: $("$nvcc_path" --version | tail -n1))"
else
  say CUDA "not found: building the CPU backend only (fine)"
fi
