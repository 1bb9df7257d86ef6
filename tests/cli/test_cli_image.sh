#!/usr/bin/env bash
# test_cli_image.sh: the image commands' contract, run against the built binary (argument 1).
#  - a missing --data-dir file exits 1 naming the file; an unknown --preset exits 2;
#  - a tiny CIFAR-format run on the CPU writes a checkpoint; eval prints JSON; sample writes a grid.
set -u
BIN="$1"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
fail=0 passed=0

expect() { # expect NAME CODE PATTERN -- args...
  local name="$1" code="$2" pattern="$3"; shift 4
  local err rc
  err="$("$BIN" "$@" 2>&1 >/dev/null)"; rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pattern" <<<"$err"; then
    echo "FAIL $name: exit $rc (want $code), stderr: $err"; fail=$((fail + 1))
  else
    echo "ok   $name"; passed=$((passed + 1))
  fi
}
check() { # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}

expect missing_data 1 "$OUT/none/data_batch_1.bin" -- train --dataset cifar10 --data-dir "$OUT/none" --device cpu --out "$OUT/r0" --quiet
expect unknown_preset 2 "--preset: 'huge'" -- train --dataset cifar10 --data-dir "$OUT" --preset huge --device cpu --out "$OUT/r0"
expect unknown_image_flag 2 "unknown option '--flow-K'" -- train --dataset svhn --flow-K 3
expect bad_mode 2 "--mode: 'nce'" -- train --dataset cifar10 --data-dir "$OUT" --mode nce --device cpu --out "$OUT/r0"
expect eval_no_ckpt 1 "cannot open checkpoint $OUT/none.fce" -- eval --checkpoint "$OUT/none.fce" --data-dir "$OUT" --device cpu
expect sample_bad_n 2 "--n: 'x'" -- sample --n x
check image_help bash -c "'$BIN' train --dataset cifar10 --help | grep -q -- --warmup-steps"
check sample_help bash -c "'$BIN' sample --help | grep -q -- --temperature"

# 24 CIFAR records (1 label byte + 3072 pixel bytes each) of a simple pattern
python3 - "$OUT/train.bin" <<'PY' 2>/dev/null || head -c $((24 * 3073)) /dev/urandom >"$OUT/train.bin"
import sys
b = bytearray()
for k in range(24):
    b.append(k % 10)
    b += bytes(((x // 8 + y // 8 + k) % 2) * 160 + 40 for c in range(3) for y in range(32) for x in range(32))
open(sys.argv[1], "wb").write(b)
PY
run="$OUT/run"
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 \
  --steps 3 --device cpu --out "$run" --quiet 2>"$OUT/err" || { echo "FAIL tiny_train: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check checkpoint test -s "$run/checkpoint.fce"
check metrics test "$(wc -l <"$run/metrics.jsonl")" -ge 1
check eval_json bash -c "'$BIN' eval --checkpoint '$run/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -q '\"bpd\"'"
"$BIN" sample --checkpoint "$run/checkpoint.fce" --n 5 --temperature 0.7 --grid "$OUT/grid.png" --device cpu 2>"$OUT/err"
check sample_png bash -c "test -s '$OUT/grid.png' || test -s '$OUT/grid.ppm'"
expect other_arch 1 "width is 8 but this run has 12" -- train --dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --width 12 --K 1 --batch 8 --steps 4 --device cpu --out "$run" --resume --quiet

echo "$passed passed, $fail failed"
[ "$fail" -eq 0 ]
