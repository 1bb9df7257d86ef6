#!/usr/bin/env bash
# claims_images.sh: the image part of the README's results table, at CPU scale: 16x16 patches of real
# photographs (scripts/make-photo-patches.sh), the tiny flow, per seed:
#   1. MLE pretraining      train --mode mle                              -> OUT/mle-s<seed>
#   2. FCE from that flow   train --mode fce --init-flow ... [FCE options] -> OUT/fce-s<seed>
#   3. test bits/dim        eval of the MLE flow, and of the FCE flow with its EBM (log Z checked)
#   4. sample quality       sample --out-dir from both flows with the same noise, quality vs test
#   5. linear probe         probe of the FCE EBM against a random EBM, labels = the photograph
# and a table of every figure in OUT/claims_images.tsv. Seeds run two at a time.
#
# usage: scripts/claims_images.sh [--bin PATH] [--out DIR] [--data DIR] [--seeds "1 2"]
#          [--mle-steps N] [--fce-steps N] [--jobs 2] [--skip-mle] [--post-only] [FCE train options...]
#   --skip-mle: reuse OUT/mle-s<seed> where it holds a checkpoint; --post-only: only steps 3-5 and
#   the table, on existing runs (e.g. with a newer binary)
#   e.g. scripts/claims_images.sh --out runs/claims_images --ebm-base flow
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/fce_bin.sh"
fce_bin_default
out=runs/claims_images data=data/photo-patches seeds="1 2" mle_steps=3000 fce_steps=1000 jobs=2 skip_mle=0 post_only=0
fce_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --mle-steps) mle_steps=$2; shift 2 ;;
    --fce-steps) fce_steps=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --skip-mle) skip_mle=1; shift ;;
    --post-only) post_only=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) fce_args+=("$1"); shift ;;
  esac
done
fce_bin_check claims_images.sh
[ -f "$data/train/labels.txt" ] || bash "$here/make-photo-patches.sh" "$data"
mkdir -p "$out"
n_test=$(find "$data/test" -name '*.png' | wc -l)
common=(--dataset folder --quiet)

one_seed() {
  local s=$1 m="$out/mle-s$1" f="$out/fce-s$1"
  if [ "$post_only" = 0 ]; then
    if [ "$skip_mle" = 0 ] || [ ! -f "$m/checkpoint.fce" ]; then
      "$bin" train "${common[@]}" --data-dir "$data/train" --preset tiny --mode mle --steps "$mle_steps" --seed "$s" --out "$m" --force
    fi
    "$bin" train "${common[@]}" --data-dir "$data/train" --mode fce --init-flow "$m/checkpoint.fce" \
      --steps "$fce_steps" --seed "$s" --out "$f" --force ${fce_args[@]+"${fce_args[@]}"}
  fi
  "$bin" eval --dataset folder --data-dir "$data/test" --checkpoint "$m/checkpoint.fce" --quiet --out "$m"
  "$bin" eval --dataset folder --data-dir "$data/test" --checkpoint "$f/checkpoint.fce" --ebm "$f/ebm.fce" --quiet --out "$f"
  for r in "$m" "$f"; do
    "$bin" sample --checkpoint "$r/checkpoint.fce" --n "$n_test" --seed 7 --out-dir "$r/samples" --force --quiet
    "$bin" quality --real "$data/test" --fake "$r/samples" --out "$r/quality.json" >/dev/null
  done
  "$bin" probe --dataset folder --data-dir "$data/train" --test-data "$data/test" --checkpoint "$f/ebm.fce" \
    --labels 10,40,160,640 --methods fce,random --seed "$s" --out "$f/probe" --quiet >/dev/null
}
for s in $seeds; do
  ( one_seed "$s" > "$out/seed$s.log" 2>&1 || echo "claims_images.sh: seed $s FAILED (see $out/seed$s.log)" >&2 ) &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
done
wait
python3 "$here/claims_images_table.py" "$out" $seeds
