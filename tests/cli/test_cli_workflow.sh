#!/usr/bin/env bash
# test_cli_workflow.sh: the researcher's workflow around `train` (issue 11), run against the built
# binary (argument 1) on the CPU backend with tiny models, a few seconds in all:
#  - a folder that holds a run is refused without --resume (exit 2, nothing changed; the message
#    names --resume and --force) for 2D runs, image MLE and FCE runs and the image pipeline (its
#    <out>/mle); --force starts over; --force with --resume is a usage error;
#  - SIGINT and SIGTERM write a checkpoint and exit 0 naming the step; --resume goes on to the end;
#  - --resume cuts metrics.jsonl back to the checkpoint's step (no row twice); --resume of a run
#    that never wrote a checkpoint says so (exit 1);
#  - an --out that cannot be a writable folder fails at once naming it (exit 1);
#  - a 2D divergence before the first checkpoint names none, after it names its step;
#  - config.json at the start, summary.json at the end (2D, image MLE, image FCE); the health figures
#    on every metrics row of the EBM's runs, log Z in the 2D summary;
#  - curves.png, density.png with axes, samples_<step>.png every --sample-every steps, which leave
#    the training itself unchanged;
#  - the default image warm-up is at most a tenth of --steps and a resumed run keeps its own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pic() { [ -s "$1.png" ] || [ -s "$1.ppm" ]; }                 # pic PATH_WITHOUT_EXTENSION
rows() { wc -l <"$1/metrics.jsonl"; }
steps_unique() { [ -z "$(grep -o '"step": [0-9]*' "$1/metrics.jsonl" | sort | uniq -d)" ]; }
json_num() { grep -o "\"$2\": [-0-9.e+]*" "$1" | head -1 | sed 's/.*: //'; } # json_num FILE KEY
# The width and height of a picture (PNG IHDR, or the PPM header).
size_of() {
  if [ -s "$1.png" ]; then od -An -tu1 -j16 -N8 "$1.png" | awk '{print $3*256+$4 "x" $7*256+$8}'
  else head -c 20 "$1.ppm" | tr '\n' ' ' | awk '{print $2 "x" $3}'; fi
}
# Runs "$BIN" ARGS in the background, waits until DIR/metrics.jsonl has a row, sends SIGNAL; the
# exit code is left in $rc and stderr in $OUT/err.
interrupt() { # interrupt SIGNAL DIR ARGS...
  local sig="$1" dir="$2" i; shift 2
  "$BIN" "$@" 2>"$OUT/err" &
  local pid=$!
  for i in $(seq 600); do [ -s "$dir/metrics.jsonl" ] && break; sleep 0.05; done
  kill "-$sig" "$pid"; wait "$pid"; rc=$?
}

small=(--device cpu --batch 32 --flow-K 2 --flow-width 16 --ebm-width 16 --eval-points 200 --image-res 32 --quiet)
# 24 CIFAR records (a label byte, then 3072 pixel bytes) of seeded noise; all 1s without python3
python3 -c 'import random, sys; r = random.Random(11); open(sys.argv[1], "wb").write(bytes(v for k in range(24) for v in [k % 10] + [r.randrange(40, 200) for _ in range(3072)]))' \
  "$OUT/train.bin" 2>/dev/null || head -c $((24 * 3073)) /dev/zero | tr '\0' '\1' >"$OUT/train.bin"
img=(--dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 --ebm-width-scale 16 --device cpu --quiet)

# ---- 1. a run in the way ----
r="$OUT/r2d"
"$BIN" train "${small[@]}" --steps 4 --log-every 2 --out "$r" 2>/dev/null
cp "$r/checkpoint.fce" "$OUT/keep.fce"; cp "$r/metrics.jsonl" "$OUT/keep.jsonl"
expect refuse_2d 2 "$r already holds a run (checkpoint.fce, metrics.jsonl); nothing was changed. Continue it with --resume, start over with --force" -- \
  train "${small[@]}" --steps 4 --out "$r"
check refuse_2d_untouched bash -c "cmp -s '$OUT/keep.fce' '$r/checkpoint.fce' && cmp -s '$OUT/keep.jsonl' '$r/metrics.jsonl'"
expect force_and_resume 2 "give one of them" -- train "${small[@]}" --steps 4 --out "$r" --force --resume
"$BIN" train "${small[@]}" --steps 2 --log-every 1 --out "$r" --force 2>/dev/null
check force_starts_over bash -c "[ \$(wc -l <'$r/metrics.jsonl') -eq 2 ] && grep -q '\"steps\": [0-9]' '$r/summary.json' && ! cmp -s '$OUT/keep.fce' '$r/checkpoint.fce'"
expect force_keeps_init_flow 2 "--init-flow $r/checkpoint.fce is in $r, whose run --force would delete" -- \
  train "${small[@]}" --steps 2 --out "$r" --force --init-flow "$r/checkpoint.fce"
m="$OUT/mle"
"$BIN" train "${img[@]}" --mode mle --steps 2 --out "$m" 2>/dev/null
expect refuse_image_mle 2 "$m already holds a run.*--resume.*--force" -- train "${img[@]}" --mode mle --steps 2 --out "$m"
f="$OUT/fce"
"$BIN" train "${img[@]}" --mode fce --pretrain-steps 0 --steps 2 --out "$f" 2>/dev/null
expect refuse_image_fce 2 "$f already holds a run (checkpoint.fce, ebm.fce, metrics.jsonl)" -- train "${img[@]}" --mode fce --pretrain-steps 0 --steps 2 --out "$f"
p="$OUT/pipe"
"$BIN" train "${img[@]}" --pretrain-steps 2 --steps 2 --log-every 1 --out "$p" 2>/dev/null
rm "$p/checkpoint.fce" "$p/ebm.fce" "$p/metrics.jsonl" # only <out>/mle holds a run now
expect refuse_pipeline_mle 2 "$p/mle already holds a run" -- train "${img[@]}" --pretrain-steps 2 --steps 2 --out "$p"
"$BIN" train "${img[@]}" --pretrain-steps 3 --steps 2 --log-every 1 --out "$p" --force 2>/dev/null
check pipeline_force bash -c "grep -q '\"step\": 3' '$p/mle/metrics.jsonl' && [ \$(grep -c '\"step\": 1,' '$p/mle/metrics.jsonl') -eq 1 ] && test -s '$p/ebm.fce'"
rm "$p/checkpoint.fce" "$p/ebm.fce" # the FCE stage as if killed before its first checkpoint
"$BIN" train "${img[@]}" --pretrain-steps 3 --steps 2 --log-every 1 --out "$p" --resume 2>"$OUT/err"; rc=$?
check pipeline_fce_starts_over bash -c "[ $rc -eq 0 ] && [ \$(wc -l <'$p/metrics.jsonl') -eq 2 ] && test -s '$p/ebm.fce'"

# ---- 2. SIGINT and SIGTERM ----
s="$OUT/sig2d"
interrupt INT "$s" train "${small[@]}" --steps 100000 --log-every 5 --out "$s"
check sigint_2d_exit0 test "$rc" -eq 0
check sigint_2d_message grep -q "stopped by SIGINT (Ctrl-C) at step [0-9]* .*wrote the checkpoint $s/checkpoint.fce; --resume continues" "$OUT/err"
check sigint_2d_summary grep -q '"stopped": "SIGINT"' "$s/summary.json"
u=$(json_num "$s/summary.json" ebm_updates)
"$BIN" train "${small[@]}" --steps $((u + 3)) --log-every 5 --out "$s" --resume 2>"$OUT/err"
check sigint_2d_resumes bash -c "grep -q '\"stopped\": \"completed\"' '$s/summary.json' && grep -q '\"ebm_updates\": $((u + 3)),' '$s/summary.json'"
s="$OUT/sigmle"
interrupt TERM "$s" train "${img[@]}" --mode mle --steps 100000 --log-every 1 --out "$s"
check sigterm_mle_exit0 test "$rc" -eq 0
check sigterm_mle_message grep -q "stopped by SIGTERM at step [0-9]* of 100000; wrote the checkpoint" "$OUT/err"
k=$(json_num "$s/summary.json" steps)
"$BIN" train "${img[@]}" --mode mle --steps $((k + 2)) --log-every 1 --out "$s" --resume 2>/dev/null
check sigterm_mle_resumes bash -c "grep -q '\"steps\": $((k + 2)),' '$s/summary.json' && grep -q '\"stopped\": \"completed\"' '$s/summary.json'"
s="$OUT/sigfce"
interrupt INT "$s" train "${img[@]}" --mode fce --pretrain-steps 0 --steps 100000 --log-every 1 --out "$s"
check sigint_fce_exit0 test "$rc" -eq 0
k=$(json_num "$s/summary.json" steps)
"$BIN" train "${img[@]}" --mode fce --pretrain-steps 0 --steps $((k + 2)) --log-every 1 --out "$s" --resume 2>/dev/null
check sigint_fce_resumes bash -c "grep -q '\"steps\": $((k + 2)),' '$s/summary.json' && grep -q '\"stopped\": \"completed\"' '$s/summary.json'"

# ---- 3. --resume and metrics.jsonl ----
r="$OUT/cut2d"
"$BIN" train "${small[@]}" --steps 4 --log-every 1 --out "$r" 2>/dev/null
cp "$r/checkpoint.fce" "$OUT/old.fce"
"$BIN" train "${small[@]}" --steps 6 --log-every 1 --out "$r" --resume 2>/dev/null
cp "$OUT/old.fce" "$r/checkpoint.fce" # as if the run had stopped before its last checkpoint
"$BIN" train "${small[@]}" --steps 6 --log-every 1 --out "$r" --resume 2>"$OUT/err"
check cut_2d_message grep -q "dropped 2 rows of metrics.jsonl logged after the checkpoint's step" "$OUT/err"
check cut_2d_rows bash -c "[ \$(wc -l <'$r/metrics.jsonl') -eq 6 ]"
check cut_2d_unique steps_unique "$r"
r="$OUT/cutmle"
"$BIN" train "${img[@]}" --mode mle --steps 3 --log-every 1 --out "$r" 2>/dev/null
cp "$r/checkpoint.fce" "$OUT/old.fce"
"$BIN" train "${img[@]}" --mode mle --steps 5 --log-every 1 --out "$r" --resume 2>/dev/null
cp "$OUT/old.fce" "$r/checkpoint.fce"
printf '{"step": 9, "bpd": 1' >>"$r/metrics.jsonl" # and a row cut short
"$BIN" train "${img[@]}" --mode mle --steps 5 --log-every 1 --out "$r" --resume 2>/dev/null
check cut_mle_rows bash -c "[ \$(wc -l <'$r/metrics.jsonl') -eq 5 ] && [ \$(grep -c . '$r/metrics.jsonl') -eq 5 ]"
check cut_mle_unique steps_unique "$r"
r="$OUT/nockpt"
"$BIN" train "${small[@]}" --steps 4 --lr-ebm 1e30 --lr-flow 1e30 --out "$r" 2>/dev/null
expect resume_before_first_ckpt 1 "the run in $r stopped before it wrote its first checkpoint, so there is nothing to continue.*--force" -- \
  train "${small[@]}" --steps 4 --out "$r" --resume
expect resume_nothing 1 "no checkpoint at $OUT/none/checkpoint.fce" -- train "${small[@]}" --steps 4 --out "$OUT/none" --resume
expect resume_nothing_image 1 "no checkpoint at $OUT/none/checkpoint.fce" -- train "${img[@]}" --mode mle --steps 4 --out "$OUT/none" --resume

# ---- 4. the output folder is writable before the work starts ----
touch "$OUT/afile"
expect out_under_file 1 "cannot create folder $OUT/afile/run" -- train "${small[@]}" --steps 4 --out "$OUT/afile/run"
expect out_is_file 1 "$OUT/afile exists and is not a folder" -- train "${small[@]}" --steps 4 --out "$OUT/afile"
expect out_image_before_data 1 "cannot create folder $OUT/afile/run" -- train "${img[@]}" --data-dir "$OUT/nodata" --mode mle --steps 4 --out "$OUT/afile/run"
if [ "$(id -u)" -ne 0 ]; then # root writes into read-only folders
  mkdir "$OUT/ro"; chmod 555 "$OUT/ro"
  expect out_read_only 1 "$OUT/ro" -- train "${small[@]}" --steps 4 --out "$OUT/ro/run"
  chmod 755 "$OUT/ro"
fi

# ---- 5. a 2D divergence names only a checkpoint that exists ----
expect diverge_fresh_2d 1 "diverged at step 1: .*No checkpoint was written yet" -- \
  train "${small[@]}" --steps 4 --lr-ebm 1e30 --lr-flow 1e30 --out "$OUT/nan2d"
r="$OUT/nan2d_late"
"$BIN" train "${small[@]}" --steps 4 --out "$r" 2>/dev/null
expect diverge_resumed_2d 1 "The last good checkpoint (step [0-9]*) is kept unchanged: $r/checkpoint.fce" -- \
  train "${small[@]}" --steps 8 --lr-ebm 1e30 --lr-flow 1e30 --out "$r" --resume

# ---- 6. config.json and summary.json ----
if python3 -c 'import json' 2>/dev/null; then
  records() { # records RUN KIND: the fields both files must have
    python3 - "$@" <<'PY'
import json, sys
run, kind = sys.argv[1], sys.argv[2]
c, s = json.load(open(run + "/config.json")), json.load(open(run + "/summary.json"))
for r in (c, s):
    assert r["backend"] == "cpu" and r["device"] and r["build"]["git"], r
    assert r["build"]["cuda"] in ("on", "off") and r["build"]["png"] in ("on", "off"), r
assert c["command"] == "train" and c["steps"] > 0 and c["batch"] > 0 and c["seed"] == 1, c
assert c["flow"]["params"] > 0, c
if kind != "mle": assert c["ebm"]["params"] > 0, c
if kind == "2d": assert c["lr_ebm"] == 0.001 and c["flow"]["K"] == 2 and c["ebm"]["width"] == 16, c
if kind == "mle": assert c["flow"]["L"] == 2 and c["flow"]["width"] == 8 and "warmup_steps" in c, c
if kind == "fce": assert c["ebm"]["widths"] == [4, 8, 16] and c["lr_flow"] == 1e-05, c
assert s["stopped"] == "completed", s
# the game's health (train/fce_diag.h) on every metrics row of the EBM's runs, log Z in the 2D summary
words = ("saturated", "c-off", "ebm-wins", "flow-wins", "informative")
rows = [json.loads(l) for l in open(run + "/metrics.jsonl")]
diag = ("acc_data", "acc_samples", "logit_data_mean", "logit_data_sd", "logit_samples_mean", "logit_samples_sd",
        "frac_saturated", "f_data_sd", "f_samples_sd", "logq_data_sd", "logq_samples_sd", "corr_f_logq_data")
for r in rows:
    if kind == "mle": assert "health" not in r and "acc_data" not in r, r
    else: assert all(k in r for k in diag) and r["health"] in words and 0 <= r["frac_saturated"] <= 1, r
if kind == "fce": assert s["health"] in words, s
if kind == "2d": assert s["log_z_samples"] == 20000 and s["log_z_se"] >= 0 and "log_z" in s and "log_z_grid" in s, s
PY
  }
  check records_2d records "$OUT/r2d" 2d
  check records_mle records "$OUT/mle" mle
  check records_fce records "$OUT/fce" fce
else
  check records_2d grep -q '"git": ' "$OUT/r2d/config.json"
fi

# ---- 7. pictures ----
check curves_2d pic "$OUT/r2d/curves"
check curves_mle pic "$OUT/mle/curves"
check curves_fce pic "$OUT/fce/curves"
check curves_size test "$(size_of "$OUT/fce/curves")" = "808x772" # 8 panels in 4 rows
check density_axes test "$(size_of "$OUT/r2d/density")" = "$((4 + 11 + 2 + 3 + 3 * 32 + 2 * 4 + 4))x$((4 + 7 + 4 + 7 + 4 + 32 + 3 + 2 + 7 + 4))"
r="$OUT/samples"
"$BIN" train "${img[@]}" --mode mle --steps 5 --log-every 1 --sample-every 2 --out "$r" 2>/dev/null
check samples_every_2 bash -c "ls '$r' | grep '^samples_' | sort | tr '\n' ' ' | grep -qx 'samples_2.p[np]g samples_4.p[np]g '"
check samples_grid_size test "$(size_of "$r/samples_4")" = "263x263"
"$BIN" train "${img[@]}" --mode mle --steps 5 --log-every 1 --out "$OUT/nosamples" 2>/dev/null
check samples_change_nothing bash -c "diff <(grep -o '\"bpd\": [^,]*' '$r/metrics.jsonl') <(grep -o '\"bpd\": [^,]*' '$OUT/nosamples/metrics.jsonl') >/dev/null"
expect samples_bad 2 "--sample-every must be >= 0" -- train "${img[@]}" --mode mle --steps 5 --sample-every -1 --out "$OUT/x"

# ---- 8. the image warm-up scales with short runs ----
r="$OUT/warm"
"$BIN" train "${img[@]}" --mode mle --steps 40 --log-every 10 --out "$r" 2>/dev/null
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 --device cpu \
  --mode mle --steps 40 --out "$OUT/warm_loud" 2>"$OUT/err"
check warmup_tenth grep -q '"warmup_steps": 4,' "$r/config.json"
check warmup_notice grep -q "warm-up: 4 steps, a tenth of --steps (10 epochs would be 30)" "$OUT/err"
"$BIN" train "${img[@]}" --mode mle --steps 60 --log-every 10 --out "$r" --resume 2>/dev/null
check warmup_kept_on_resume grep -q '"warmup_steps": 4,' "$r/config.json"
check warmup_long_run bash -c "'$BIN' train ${img[*]} --mode mle --steps 400 --checkpoint-every 0 --time-limit 0.01 --out '$OUT/warm2' 2>/dev/null && grep -q '\"warmup_steps\": 30,' '$OUT/warm2/config.json'"

finish
