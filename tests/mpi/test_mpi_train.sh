#!/usr/bin/env bash
# test_mpi_train.sh BIN: `mpirun -np 2 fce-gpu train` on the CPU backend computes what one process
# with the same global --batch computes (issue 13), for:
#   - 2D FCE, 100 EBM updates (about 150 steps), batch 64, a metrics row after every EBM update;
#   - tiny-preset image MLE, 10 steps, batch 8;
#   - tiny-preset image FCE from that MLE checkpoint, 12 steps, with a threshold at which both
#     players get turns.
# Each pair must show the same sequence of turns (the integers of every metrics row are equal) and
# the same numbers to within float tolerance (tests/mpi/mpi_compare.py):
#   metrics |a - b| <= 1e-6 + 2e-6·|a|. Two ranks add the same FP32 terms in another order (each
#     rank's partial sums of the gradients, then the all-reduce; the game's value is a mean of two
#     partial means), which moves a result by a few ulps per step (measured: at most 2e-7 relative
#     over these runs, 10x below the bound); a rank that takes wrong rows of the batch moves them
#     by 7e-5 (image MLE bits/dim) to 0.3 (2D accuracy), measured by breaking the sharding. The
#     game's health figures of spread (sds and means of f, log q, the logits; corr(f, log q)) get
#     1e-4 + 2e-6·|a|: they come from values far larger than themselves (an image's log q is
#     hundreds of nats, resolved to ~1e-5 in FP32), so their error is set by those (measured 1.4e-5).
#   weights ||a - b|| <= 1e-4·||a|| over all of them (measured: at most 2e-6; wrong rows: 5e-4 to
#     4e-2). Element by element no small bound holds: Adam and Adamax step each weight by about the
#     learning rate whatever the size of its gradient, so a gradient that is a near-cancelling sum
#     (its last bits set by the order of the additions) can move a weight by a fraction of the rate.
# (A wrong gradient scale barely moves the Adam runs; tests/mpi/test_dist_grads.c checks the
# all-reduced gradients themselves.) Also: a --batch the ranks do not divide is a usage error (exit
# 2) on every rank; the image pipeline (MLE stage, then FCE reading the MLE checkpoint rank 0 wrote)
# completes on 2 ranks; config.json records the ranks and only rank 0 prints progress.
# Skipped (77) without MPI in the build, mpirun or python3. About 30 s on the 2-core machine.
# The runs use the CPU reference backend (FCE_CPU_REF=1): it sums every dot product in double and
# rounds once, so splitting the batch between ranks changes only the order of the gradient sums
# above. The fast CPU backend sums in float in blocks of 256 along K, and for the filter gradients
# K runs over the batch, so the split moves the block boundaries: measured there, the health figure
# corr(f, log q) of the image FCE run differs by 2e-4 between 1 and 2 ranks (the turns still agree).
export FCE_CPU_REF=1
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/mpi_lib.sh"
mpi_require
COMPARE="$(dirname "${BASH_SOURCE[0]}")/mpi_compare.py"

# same NAME ONE MANY: the runs in folders ONE and MANY agree (metrics and exported weights)
same() {
  local name=$1 one=$2 many=$3 r
  for r in "$one" "$many"; do
    "$BIN" export --checkpoint "$r/checkpoint.fce" --format safetensors --out "$r/w.safetensors" >/dev/null 2>&1 \
      || { echo "FAIL $name: export of $r"; fail=$((fail + 1)); return; }
  done
  if python3 "$COMPARE" "$one/metrics.jsonl" "$many/metrics.jsonl" "$one/w.safetensors" "$many/w.safetensors" \
       2e-6 1e-6 1e-4; then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name"; fail=$((fail + 1))
  fi
}

# run NAME -- ARGS: one process, then 2 ranks, into $OUT/NAME.1 and $OUT/NAME.2
run() {
  local name=$1; shift 2
  "$BIN" "$@" --out "$OUT/$name.1" 2>"$OUT/$name.1.err" || { echo "FAIL $name alone: $(cat "$OUT/$name.1.err")"; fail=$((fail + 1)); }
  "${MPIRUN[@]}" -np 2 "$BIN" "$@" --out "$OUT/$name.2" 2>"$OUT/$name.2.err" \
    || { echo "FAIL $name on 2 ranks: $(cat "$OUT/$name.2.err")"; fail=$((fail + 1)); }
}

run fce2d -- train --steps 100 --batch 64 --log-every 1 --checkpoint-every 0 --eval-points 100 --image-res 16 \
  --device cpu
same fce2d_same "$OUT/fce2d.1" "$OUT/fce2d.2"
check fce2d_both_players python3 -c "
import json, sys
last = [json.loads(l) for l in open('$OUT/fce2d.2/metrics.jsonl')][-1]
sys.exit(not (last['ebm_updates'] == 100 and last['flow_updates'] > 10))"
check ranks_in_config grep -q '"ranks": 2' "$OUT/fce2d.2/config.json"
check alone_no_ranks bash -c "! grep -q '\"ranks\"' '$OUT/fce2d.1/config.json'"
check rank0_speaks bash -c "grep -q '^fce-gpu\[0\]: a job of 2 ranks' '$OUT/fce2d.2.err' &&
  grep -q '^fce-gpu\[0\]: train fce on gmm8 .* batch 64 |' '$OUT/fce2d.2.err' &&
  ! grep -q '^fce-gpu\[1\]' '$OUT/fce2d.2.err'"

cifar_file "$OUT/train.bin" 24
IMG=(train --dataset cifar10 --data-dir "$OUT/train.bin" --batch 8 --log-every 1 --checkpoint-every 0 --device cpu)
run mle -- "${IMG[@]}" --mode mle --preset tiny --width 8 --K 1 --steps 10
same image_mle_same "$OUT/mle.1" "$OUT/mle.2"
run fce -- "${IMG[@]}" --mode fce --init-flow "$OUT/mle.1/checkpoint.fce" --steps 12 --ebm-width-scale 16 \
  --threshold 0.2 --lr-flow 1e-3
same image_fce_same "$OUT/fce.1" "$OUT/fce.2"
check image_fce_both_players python3 -c "
import json, sys
last = [json.loads(l) for l in open('$OUT/fce.2/metrics.jsonl')][-1]
sys.exit(not (last['ebm_updates'] > 0 and last['flow_updates'] > 0))"

"${MPIRUN[@]}" -np 2 "$BIN" "${IMG[@]}" --mode fce --preset tiny --width 8 --K 1 --pretrain-steps 2 --steps 2 \
  --ebm-width-scale 16 --out "$OUT/pipe" --quiet 2>"$OUT/pipe.err" \
  || { echo "FAIL pipeline on 2 ranks: $(cat "$OUT/pipe.err")"; fail=$((fail + 1)); }
check pipeline_files test -s "$OUT/pipe/mle/checkpoint.fce" -a -s "$OUT/pipe/ebm.fce" -a -s "$OUT/pipe/summary.json"

"${MPIRUN[@]}" -np 2 "$BIN" train --batch 63 --steps 2 --device cpu --out "$OUT/odd" 2>"$OUT/odd.err"
rc=$?
check indivisible_batch_exit2 test "$rc" -eq 2
check indivisible_batch_message grep -q -- '--batch 63 is the global batch: it must be divisible by the 2 ranks' "$OUT/odd.err"
finish
