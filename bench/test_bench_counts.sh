#!/usr/bin/env bash
# test_bench_counts.sh: the cost of one training step, counted on the emulated GPU (ctest
# test_bench_counts, labels emu and cpu). $1 = fce-bench-emu.
#  - the four phases of the cifar10 preset at batch 64, counted without running kernels
#    (--count-only), stay within their budgets (bench_counts.c, README "Cost per step"): stream
#    operations, launches, host syncs, no allocation, kernel bytes;
#  - the check can fail: the same counts against budgets scaled by 0.5 exit 1;
#  - count-only counts what a real run does: the tiny preset at batch 2 counted both ways (kernels
#    run, and not run) gives the same counts, bytes included.
set -u
BENCH="$1" fail=0
TMPDIR="$(mktemp -d)" && export TMPDIR && OUT="$TMPDIR" # the FCE phase's data file goes there too
trap 'rm -rf "$OUT"' EXIT
step() { echo "== $*"; }
bad() { fail=$((fail + 1)) && echo "FAIL: $*"; }

step "cifar10 preset, batch 64, count-only, budgets"
"$BENCH" --count-only --preset cifar10 --batch 64 --check-budgets --json "$OUT/c.json" \
  >"$OUT/c.txt" 2>"$OUT/c.err"
rc=$?
sed -n '/^cost of one/,$p' "$OUT/c.txt"
[ "$rc" -eq 0 ] || { bad "exit $rc (want 0)"; tail -20 "$OUT/c.err"; }

step "budgets scaled by 0.5 must be exceeded"
"$BENCH" --count-only --preset cifar10 --batch 64 --phases sample --check-budgets \
  --budget-scale 0.5 >"$OUT/s.txt" 2>"$OUT/s.err"
rc=$?
[ "$rc" -eq 1 ] || bad "exit $rc with budgets halved (want 1)"
grep -q "BUDGET EXCEEDED" "$OUT/s.txt" || bad "no 'BUDGET EXCEEDED' line with budgets halved"

step "count-only equals a real run (tiny preset, batch 2)"
"$BENCH" --preset tiny --batch 2 --ops none --phase-reps 1 --phase-warmup 1 --json "$OUT/r.json" \
  >"$OUT/r.txt" 2>"$OUT/r.err" || { bad "real run failed"; tail -20 "$OUT/r.err"; }
"$BENCH" --count-only --preset tiny --batch 2 --json "$OUT/k.json" >"$OUT/k.txt" 2>"$OUT/k.err" ||
  { bad "count-only run failed"; tail -20 "$OUT/k.err"; }
python3 - "$OUT/r.json" "$OUT/k.json" <<'EOF' || bad "counts differ"
import json, sys
real, counted = (json.load(open(p)) for p in sys.argv[1:3])
ok = True
for a, b in zip(real["phases"], counted["phases"]):
    if a["counts"] is None or a["counts"] != b["counts"]:
        print("%s: real %s\n  count-only %s" % (a["name"], a["counts"], b["counts"]))
        ok = False
if len(real["phases"]) != 4 or len(counted["phases"]) != 4:
    print("want 4 phases each"); ok = False
print("counts equal" if ok else "counts differ")
sys.exit(0 if ok else 1)
EOF

echo "test_bench_counts: $fail failure(s)"
[ "$fail" -eq 0 ]
