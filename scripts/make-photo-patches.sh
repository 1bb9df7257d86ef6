#!/usr/bin/env bash
# make-photo-patches.sh OUT [options]: 16x16 RGB patches of the two photographs scikit-learn ships
# (china.jpg, flower.jpg) as a PNG folder dataset: OUT/train and OUT/test, each a --data-dir for
# `fce-gpu train|eval --dataset folder`. Test patches come from held-out tiles of each photograph and
# share no pixel with the training ones. The work and every option are in make_photo_patches.py
# (`scripts/make-photo-patches.sh --help`). This wrapper checks python3 and installs scikit-learn and
# pillow with pip when they are missing (set FCE_NO_PIP=1 to fail instead, e.g. offline).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v python3 >/dev/null || { echo "make-photo-patches.sh: python3 is needed" >&2; exit 1; }
if ! python3 -c "import numpy, sklearn, PIL" 2>/dev/null; then
  if [ "${FCE_NO_PIP:-0}" = "1" ]; then
    echo "make-photo-patches.sh: numpy, scikit-learn and pillow are needed (python3 -m pip install scikit-learn pillow)" >&2
    exit 1
  fi
  echo "make-photo-patches.sh: scikit-learn or pillow is missing; installing them with pip (the photographs ship inside scikit-learn)" >&2
  python3 -m pip install --quiet scikit-learn pillow || {
    echo "make-photo-patches.sh: pip could not install scikit-learn and pillow; install them by hand: python3 -m pip install scikit-learn pillow" >&2
    exit 1
  }
fi
exec python3 "$here/make_photo_patches.py" "$@"
