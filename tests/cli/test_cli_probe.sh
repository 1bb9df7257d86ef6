#!/usr/bin/env bash
# test_cli_probe.sh: the `fce-gpu probe` contract, run against the built binary (argument 1), on the
# CPU backend in a few seconds:
#  - CIFAR-format training (300) and test (100) files whose pictures depend on the class (a bright
#    band in one colour channel at a class-dependent height, on noise), a tiny FCE run's ebm.fce;
#  - probe with budgets 20,50,100 writes probe.json (checked field by field), metrics.jsonl (one
#    line per method and budget), probe.png, and prints the same JSON on stdout; the linear probe on
#    the EBM's features beats chance (0.1) by far on this data; the same seed gives the same numbers;
#  - errors: a budget above the training split (exit 2, names --labels), a malformed --labels or
#    --methods (2), unlabelled folder data (1), a flow checkpoint instead of the EBM (1, names the
#    file), a missing checkpoint (1); --help lists every flag; `fce-gpu --help` lists probe.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! command -v python3 >/dev/null 2>&1; then
  echo "skipped: python3 is needed to write the labelled test data"
  exit 77
fi

python3 - "$OUT" <<'PY'
import random, sys
def write(path, n, seed):
    r = random.Random(seed)
    b = bytearray()
    for i in range(n):
        c = r.randrange(10)
        b.append(c)
        px = bytearray(r.randrange(30, 110) for _ in range(3072))
        ch, y0 = c % 3, 3 * c           # class c: a bright band of rows y0..y0+4 in channel c % 3
        for y in range(y0, y0 + 5):
            for x in range(32):
                px[ch * 1024 + y * 32 + x] = min(255, px[ch * 1024 + y * 32 + x] + 120)
        b += px
    open(path, "wb").write(b)
write(sys.argv[1] + "/train.bin", 300, 1)
write(sys.argv[1] + "/test.bin", 100, 2)
PY

frun="$OUT/frun"
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 --batch 8 \
  --steps 3 --ebm-width-scale 8 --device cpu --out "$frun" --quiet 2>"$OUT/err" \
  || { echo "FAIL tiny_fce: $(cat "$OUT/err")"; fail=$((fail + 1)); }

P=(probe --dataset cifar10 --data-dir "$OUT/train.bin" --test-data "$OUT/test.bin" --device cpu)
"$BIN" "${P[@]}" --checkpoint "$frun" --labels 100,20,50 --epochs 30 --sup-epochs 3 --out "$OUT/p" \
  >"$OUT/stdout" 2>"$OUT/err"
rc=$?
check probe_exit_0 test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "  stderr: $(cat "$OUT/err")"
check probe_json test -s "$OUT/p/probe.json"
check probe_stdout_is_json cmp -s "$OUT/stdout" "$OUT/p/probe.json"
check probe_png bash -c "test -s '$OUT/p/probe.png' || test -s '$OUT/p/probe.ppm'"
check probe_no_tmp bash -c "! ls '$OUT/p' | grep -q tmp"
check metrics_lines test "$(wc -l <"$OUT/p/metrics.jsonl")" -eq 9
check metrics_fields grep -q '"method": "supervised", "k": 100, "test_acc": ' "$OUT/p/metrics.jsonl"
check progress_eta grep -q 'linear epoch 30 | step 30/30 .*ETA' "$OUT/err"
check summary_line grep -q '^probe k=50: fce [0-9.]* random [0-9.]* supervised [0-9.]*' "$OUT/err"
check json_fields python3 - "$OUT/p/probe.json" "$frun/ebm.fce" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["checkpoint"] == sys.argv[2], j["checkpoint"]
assert j["dataset"] == "cifar10" and j["feature_layer"] == "lrelu3"
assert j["feature_dims"] == [4, 4, 32] and j["n_features"] == 512   # width scale 8: 256/8 channels
assert j["n_train"] == 300 and j["n_test"] == 100
assert j["methods"] == ["fce", "random", "supervised"]
assert [b["k"] for b in j["budgets"]] == [20, 50, 100]              # sorted
for b in j["budgets"]:
    for m in ("fce", "random", "supervised"):
        assert 0.0 <= b[m + "_acc"] <= 1.0, (m, b)
        assert b[m + "_steps"] >= 1 and b[m + "_seconds"] >= 0
    assert b["fce_steps"] == 30 * ((b["k"] + 127) // 128)           # 30 epochs of ceil(k/128) steps
    assert b["supervised_steps"] == 3 * (b["k"] // min(128, b["k"]))
    print("k=%d fce %.2f random %.2f supervised %.2f" % (b["k"], b["fce_acc"], b["random_acc"], b["supervised_acc"]))
assert j["budgets"][-1]["fce_acc"] >= 0.5, j["budgets"][-1]   # chance is 0.1
PY

# a run folder or its ebm.fce, one method; the same seed reproduces the numbers (CPU backend)
"$BIN" "${P[@]}" --checkpoint "$frun/ebm.fce" --labels 20,50,100 --epochs 30 --methods fce --out "$OUT/q" --quiet >/dev/null 2>"$OUT/err" \
  || { echo "FAIL probe_fce_only: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check same_seed_same_acc bash -c "diff <(grep '\"fce\"' '$OUT/p/metrics.jsonl' | sed 's/, \"seconds\".*//') <(sed 's/, \"seconds\".*//' '$OUT/q/metrics.jsonl')"
check fce_only_nulls grep -q '"random_acc": null' "$OUT/q/probe.json"

expect budget_too_large 2 "--labels: budget 500 is larger than the training split (300" -- "${P[@]}" --checkpoint "$frun" --labels 20,500 --out "$OUT/e"
expect labels_malformed 2 "--labels: '10,x'" -- "${P[@]}" --checkpoint "$frun" --labels 10,x --out "$OUT/e"
expect labels_duplicate 2 "--labels: budget 10 is given twice" -- "${P[@]}" --checkpoint "$frun" --labels 10,10 --out "$OUT/e"
expect methods_bad 2 "--methods: 'linear'" -- "${P[@]}" --checkpoint "$frun" --methods fce,linear --out "$OUT/e"
expect unknown_flag 2 "unknown option '--steps'" -- "${P[@]}" --checkpoint "$frun" --steps 3
expect epochs_zero 2 "--epochs must be >= 1" -- "${P[@]}" --checkpoint "$frun" --epochs 0
# a folder of 32x32 pictures: unlabelled without labels.txt; labelled by it ("NAME LABEL" lines)
mkdir -p "$OUT/pics"
python3 - "$OUT/pics" <<'PY'
import os, sys
for i in range(24):
    v = bytes((37 * i + 5 * j) % 256 for j in range(32 * 32 * 3))
    open(os.path.join(sys.argv[1], f"p{i:02d}.ppm"), "wb").write(b"P6\n32 32\n255\n" + v)
PY
PF=(probe --dataset folder --data-dir "$OUT/pics" --checkpoint "$frun" --device cpu --out "$OUT/e")
expect folder_unlabelled 1 "have no class labels" -- "${PF[@]}"
for i in $(seq -w 0 23); do echo "p$i.ppm $((10#$i % 2))"; done >"$OUT/pics/labels.txt"
"$BIN" "${PF[@]}" --labels 8 --epochs 2 --methods fce,random --test-n 16 --quiet >/dev/null 2>"$OUT/err" \
  || { echo "FAIL folder_labelled_probe: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check folder_labelled_probe_json grep -q '"fce_acc"' "$OUT/e/probe.json"
echo "p00.ppm 11" >"$OUT/pics/labels.txt"
expect folder_label_range 1 "labels.txt line 1: expected \"NAME LABEL\" with LABEL in 0..9" -- "${PF[@]}"
printf 'p00.ppm 1\nnope.ppm 0\n' >"$OUT/pics/labels.txt"
expect folder_label_unknown 1 "line 2: nope.ppm is not a picture" -- "${PF[@]}"
echo "p00.ppm 1" >"$OUT/pics/labels.txt"
expect folder_label_missing 1 "picture p01.ppm has no label" -- "${PF[@]}"
expect flow_ckpt 1 "$frun/checkpoint.fce: not an image EBM file" -- "${P[@]}" --checkpoint "$frun/checkpoint.fce" --out "$OUT/e"
expect missing_ckpt 1 "cannot open checkpoint $OUT/none.fce" -- "${P[@]}" --checkpoint "$OUT/none.fce" --out "$OUT/e"
expect missing_data 1 "$OUT/none.bin" -- probe --dataset cifar10 --data-dir "$OUT/none.bin" --checkpoint "$frun" --device cpu --out "$OUT/e"
expect no_checkpoint 2 "--checkpoint is required" -- probe --dataset cifar10 --data-dir "$OUT/train.bin"

help_lists_all() {
  local h flag
  h="$("$BIN" probe --help)" || return 1
  for flag in checkpoint dataset data-dir test-data labels methods out device seed batch epochs max-steps \
              lr wd sup-epochs sup-max-steps sup-lr test-n feature-batch quiet; do
    grep -q -- "--$flag " <<<"$h" || { echo "  --help lacks --$flag"; return 1; }
  done
}
check probe_help help_lists_all
check main_help_lists_probe bash -c "'$BIN' --help | grep -q '^  probe '"

finish
