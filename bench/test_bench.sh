#!/usr/bin/env bash
# test_bench.sh: fce-bench on the CPU backend (ctest test_bench, label cpu).
#   $1 = fce-bench, $2 = test_bench_json (the JSON checker).
#  - the whole harness (every registry entry validated and timed, the four phases at two batches)
#    on the tiny preset exits 0 and writes a JSON file with its provenance and every entry "ok";
#  - a deliberately broken test-only variant is reported FAILED, is not timed, and the exit is 1;
#  - the FLOP model reproduces SPEC f; usage errors exit 2.
set -u
BENCH="$1"
CHECK="$2"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
export TMPDIR="$OUT"
fail=0

step() { echo "== $*"; }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

step "full harness, CPU backend, tiny preset"
"$BENCH" --device cpu --preset tiny --reps 2 --warmup 1 --json "$OUT/a.json" >"$OUT/a.txt" 2>"$OUT/a.err"
rc=$?
cat "$OUT/a.txt"
[ "$rc" -eq 0 ] || { bad "exit $rc (want 0)"; cat "$OUT/a.err"; }
"$CHECK" "$OUT/a.json" --phases 8 || bad "JSON check"
grep -q "GPU benchmarks skipped" "$OUT/a.txt" || bad "no 'GPU benchmarks skipped' line"

step "a broken variant must fail validation"
"$BENCH" --device cpu --preset tiny --reps 2 --warmup 1 --phases none --inject-bad-variant \
  --json "$OUT/b.json" >"$OUT/b.txt" 2>"$OUT/b.err"
rc=$?
grep -E "actnorm_forward +test_bad_scale .*FAILED" "$OUT/b.txt" || bad "the broken variant is not reported FAILED"
[ "$rc" -eq 1 ] || bad "exit $rc with a FAILED entry (want 1)"
"$CHECK" "$OUT/b.json" --phases 0 --expect-failed actnorm_forward:test_bad_scale || bad "JSON check (bad variant)"

step "FLOP model against SPEC f"
"$BENCH" --flops-check || bad "--flops-check"

step "usage errors"
"$BENCH" --bogus >/dev/null 2>"$OUT/u.err"; rc=$?
{ [ "$rc" -eq 2 ] && grep -q -- "--bogus" "$OUT/u.err"; } || bad "unknown option: exit $rc"
"$BENCH" --phases nope >/dev/null 2>"$OUT/u.err"; rc=$?
{ [ "$rc" -eq 2 ] && grep -q "nope" "$OUT/u.err"; } || bad "unknown phase: exit $rc"
"$BENCH" --ops nosuchop --phases none >/dev/null 2>"$OUT/u.err"; rc=$?
{ [ "$rc" -eq 2 ] && grep -q "nosuchop' matches no op entry" "$OUT/u.err"; } || bad "--ops naming nothing: exit $rc"
"$BENCH" --device cpu --list --preset tiny >"$OUT/list.txt" || bad "--list"
n_list=$(wc -l <"$OUT/list.txt")
[ "$n_list" -gt 30 ] || bad "--list printed $n_list entries"

[ "$fail" -eq 0 ] && echo "test_bench: all passed" || echo "test_bench: $fail failure(s)"
[ "$fail" -eq 0 ]
