#!/usr/bin/env bash
# figure1.sh: paper Figure 1 for every built-in 2D dataset in one PNG: one FCE run per dataset
# (fce-gpu train --dataset D --out OUT/D), then their density.png rows (data | flow | EBM, with the
# dataset, step and MSEs in each row's caption) stacked by scripts/png_stack.py into OUT/figure1.png,
# and a table of the final figures (OUT/figure1.tsv) from each run's summary.json.
#
# usage: scripts/figure1.sh [--bin PATH] [--out DIR] [--datasets "gmm8 gmm25 ..."] [train options...]
#   e.g. scripts/figure1.sh --out runs/figure1 --seed 2          (default: every dataset, 2700 EBM updates)
#        scripts/figure1.sh --out /tmp/f1 --steps 50 --eval-points 500   (a quick look)
# Runs one dataset after another; an existing run folder is replaced (--force).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/fce_bin.sh"
fce_bin_default
out=runs/figure1
datasets="gmm8 gmm25 pinwheel spiral 2spirals rings checkerboard moons"
train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --datasets) datasets=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) train_args+=("$1"); shift ;;
  esac
done
fce_bin_check figure1.sh
mkdir -p "$out"
rows=()
printf 'dataset\tebm_updates\tflow_updates\tmse_ebm\tmse_flow\tseconds\n' > "$out/figure1.tsv.tmp"
for d in $datasets; do
  echo "figure1.sh: training $d -> $out/$d" >&2
  "$bin" train --dataset "$d" --out "$out/$d" --force --quiet ${train_args[@]+"${train_args[@]}"}
  rows+=("$out/$d/density.png")
  python3 - "$out/$d/summary.json" "$d" >> "$out/figure1.tsv.tmp" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
f = lambda k: "" if s.get(k) is None else (f"{s[k]:.4g}" if isinstance(s[k], float) else str(s[k]))
print("\t".join([sys.argv[2], f("ebm_updates"), f("flow_updates"), f("mse_ebm"), f("mse_flow"), f("seconds")]))
PY
done
mv "$out/figure1.tsv.tmp" "$out/figure1.tsv"
python3 "$here/png_stack.py" "$out/figure1.png" "${rows[@]}"
column -t -s $'\t' "$out/figure1.tsv" 2>/dev/null || cat "$out/figure1.tsv"
echo "figure1.sh: wrote $out/figure1.png and $out/figure1.tsv" >&2
