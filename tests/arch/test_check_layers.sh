#!/usr/bin/env bash
# test_check_layers.sh REPO: the layer and include-cycle rules hold on REPO (check_layers.py), and
# the checker itself fails on a small tree with a planted upward include and a planted cycle.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$1"
fail=0
python3 "$here/check_layers.py" "$repo" || fail=1

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/host/data" "$tmp/src/host/train" "$tmp/src/host/eval"
printf '#include "train/run.h"\n' >"$tmp/src/host/data/load.c"      # data reaching up to train
printf '#include "eval/report.h"\n' >"$tmp/src/host/train/run.c"     # run -> report
printf '#include "train/run.h"\n' >"$tmp/src/host/eval/report.c"     # report -> run: a cycle
out="$(python3 "$here/check_layers.py" "$tmp")"
if [ $? -ne 1 ] || ! grep -q 'data/load.c: includes train/run.h' <<<"$out" ||
   ! grep -q 'include cycle: .*train/run' <<<"$out"; then
  echo "FAIL: the checker missed a planted violation:"; echo "$out"; fail=1
else
  echo "ok   the checker reports a planted upward include and a planted cycle"
fi
exit $fail
