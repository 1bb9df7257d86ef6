#!/usr/bin/env bash
# claims_2d.sh: the 2D part of the README's results table: FCE against the NCE-Gaussian baseline on
# gmm8 and gmm25, seeds 1..3, default settings plus any train options given, two runs at a time.
# Prints one row per run and the mean over seeds of mse_ebm per dataset and mode, and writes them to
# OUT/claims_2d.tsv (OUT/<dataset>-<mode>-s<seed>/ holds each run's folder).
#
# usage: scripts/claims_2d.sh [--bin PATH] [--out DIR] [--datasets "gmm8 gmm25"] [--seeds "1 2 3"]
#                             [--modes "fce nce"] [--jobs 2] [train options...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/fce_bin.sh"
fce_bin_default
out=runs/claims_2d datasets="gmm8 gmm25" seeds="1 2 3" modes="fce nce" jobs=2
train_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --datasets) datasets=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) train_args+=("$1"); shift ;;
  esac
done
fce_bin_check claims_2d.sh
mkdir -p "$out"
runs=()
for d in $datasets; do for m in $modes; do for s in $seeds; do runs+=("$d $m $s"); done; done; done
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -L 1 bash -c '
  d=$0 m=$1 s=$2 dir="'"$out"'/$0-$1-s$2"
  echo "claims_2d.sh: $d $m seed $s -> $dir" >&2
  "'"$bin"'" train --dataset "$d" --mode "$m" --seed "$s" --out "$dir" --force --quiet '"${train_args[*]+${train_args[*]}}"' \
    || echo "claims_2d.sh: FAILED $d $m seed $s (see $dir)" >&2'
python3 - "$out" $datasets -- $modes -- $seeds <<'PY'
import json, os, statistics, sys
out, rest = sys.argv[1], sys.argv[2:]
i = rest.index("--"); datasets = rest[:i]; rest = rest[i + 1:]
i = rest.index("--"); modes = rest[:i]; seeds = rest[i + 1:]
lines = ["dataset\tmode\tseed\tebm_updates\tflow_updates\tmse_ebm\tmse_flow\tseconds"]
means = []
for d in datasets:
    for m in modes:
        vals = []
        for s in seeds:
            p = os.path.join(out, f"{d}-{m}-s{s}", "summary.json")
            if not os.path.exists(p):
                lines.append(f"{d}\t{m}\t{s}\tmissing"); continue
            j = json.load(open(p))
            g = lambda k: "" if j.get(k) is None else (f"{j[k]:.4g}" if isinstance(j[k], float) else str(j[k]))
            lines.append("\t".join([d, m, s, g("ebm_updates"), g("flow_updates"), g("mse_ebm"), g("mse_flow"), g("seconds")]))
            if j.get("mse_ebm") is not None: vals.append(j["mse_ebm"])
        if vals:
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            means.append(f"{d}\t{m}\tmean of {len(vals)}\t\t\t{statistics.mean(vals):.4g} (sd {sd:.2g})")
text = "\n".join(lines + means) + "\n"
open(os.path.join(out, "claims_2d.tsv.tmp"), "w").write(text)
os.replace(os.path.join(out, "claims_2d.tsv.tmp"), os.path.join(out, "claims_2d.tsv"))
print(text, end="")
PY
