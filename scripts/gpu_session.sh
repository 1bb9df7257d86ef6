#!/usr/bin/env bash
# gpu_session.sh STAGE: everything a session with a GPU machine must check, in three calls of under
# ten minutes each (one device call = one stage; the build folder survives between calls on a warm
# machine and is rebuilt if it is missing). Run from the repository root:
#
#   OUT=dir PEER=.peer/torch_fce.py bash scripts/gpu_session.sh verify   # build, GPU tests, 2D speed
#   OUT=dir PEER=.peer/torch_fce.py bash scripts/gpu_session.sh bench    # fce-bench + PyTorch peer
#   OUT=dir bash scripts/gpu_session.sh run                              # real-data FCE run, 50k samples
#
# verify: Release build for sm_90 with -Werror; the gpu-labelled tests with FCE_REQUIRE_GPU=1 (every
#         kernel against the CPU reference, one whole training step per mode, the cifar10-preset
#         inverse error at init and after 200 steps); the cpu tests; bench/compare_2d.sh (the 2D
#         default run on the GPU, the CPU backend and the peer).
# bench:  bench/run_device.sh (fce-bench on the cifar10 preset at batch 64 and 128, the peer's
#         phases, the ratios).
# run:    the sklearn digits as a CIFAR-format file (scripts/make_digits_cifar.py: real pictures, the
#         only ones on that machine), cifar10-preset MLE pretraining, then FCE from it for a few
#         minutes (accuracy, c, both models' bits/dim in metrics.jsonl), eval, the linear probe, an
#         MLE-vs-FCE sample grid, and 50,000 samples for FID with their time.
# One device call may last 10 minutes: the run stage's time limits add up to about 9 minutes at
# most (typically 6 to 7 with a warm build), so it fits with the build cached from `verify`.
# Every stage's logs and small outputs go to one tarball $OUT/STAGE.tgz (the device tool returns at
# most 8 files) and a summary on stdout. Each step has its own timeout so one hang loses nothing else.
set -uo pipefail
STAGE="${1:?usage: gpu_session.sh verify|bench|run}"
OUT="${OUT:-gpu-out}"
PEER="${PEER:-.peer/torch_fce.py}"
JOBS="${JOBS:-$(nproc)}"
# Overrides for a dry run of the script's flags on a machine without a GPU (run stage only):
# DEVICE=cpu PRESET=tiny MLE_STEPS=4 FCE_STEPS=4 FID_N=20 PROBE_LABELS=10,60 DIGITS_DIR=<folder with the
# two .bin files>
DEVICE="${DEVICE:-0}"
PRESET="${PRESET:-cifar10}"
W="/tmp/fce-gpu-session/$STAGE"
rm -rf "$W" && mkdir -p "$W" "$OUT"
BUILD="${BUILD:-build-gpu}"
BIN="$BUILD/fce-gpu"

log() { echo "== $(date +%T) $*" | tee -a "$W/summary.txt"; }
stage_step() { # stage_step NAME SECONDS cmd...: runs with a timeout, output to $W/NAME.log
  local name="$1" secs="$2"; shift 2
  local t0=$SECONDS rc
  timeout --kill-after=10 "$secs" "$@" >"$W/$name.log" 2>&1
  rc=$?
  log "$name: exit $rc in $((SECONDS - t0)) s"
  return $rc
}
finish() {
  rm -rf /tmp/fce-fid /tmp/fce-fid.npz
  tar czf "$OUT/$STAGE.tgz" -C "$(dirname "$W")" "$STAGE" 2>/dev/null
  cp "$W/summary.txt" "$OUT/${STAGE}_summary.txt" 2>/dev/null
}
trap finish EXIT

build() {
  if [ ! -x "$BIN" ]; then
    stage_step configure 120 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFCE_CUDA=ON \
      -DFCE_CUDA_ARCHS=90 -DFCE_WERROR=ON || return 1
  fi
  stage_step build 400 cmake --build "$BUILD" -j "$JOBS"
  local rc=$?
  [ $rc -ne 0 ] && tail -40 "$W/build.log"
  return $rc
}

nvidia-smi >"$W/nvidia-smi.txt" 2>&1
log "stage $STAGE on $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null)"
build || exit 1

case "$STAGE" in
verify)
  # -V prints each test's own lines (the measured errors), not only its verdict.
  (cd "$BUILD" && export FCE_REQUIRE_GPU=1 && stage_step gpu_tests 300 ctest -L gpu -V --timeout 280)
  grep -E "^\s*[0-9]+/[0-9]+ Test|tests passed|max\||inverse|FAIL|skip" "$W/gpu_tests.log" | tail -40
  (cd "$BUILD" && stage_step cpu_tests 240 ctest -L cpu -j "$JOBS" --output-on-failure)
  tail -3 "$W/cpu_tests.log"
  PEER="$PEER" OUT="$W/compare2d" stage_step compare_2d 240 bash bench/compare_2d.sh
  tail -8 "$W/compare_2d.log"
  rm -f "$W"/compare2d/*/checkpoint.fce
  ;;
bench)
  if [ -f bench/run_device.sh ]; then
    # fce-bench is already built in $BUILD (FCE_BUILD_BENCH is on by default): reuse it.
    [ -e build-bench ] || ln -s "$BUILD" build-bench
    PEER="$PEER" OUT="$W/bench" SKIP_BUILD=1 BUDGET_S=480 stage_step run_device 520 bash bench/run_device.sh
    tail -40 "$W/run_device.log"
  else
    log "bench/run_device.sh is missing"
  fi
  ;;
run)
  DATA="$W/data"
  if [ -n "${DIGITS_DIR:-}" ]; then DATA="$DIGITS_DIR"; else
    stage_step digits 60 python3 scripts/make_digits_cifar.py "$DATA" || exit 1
  fi
  P="--dataset cifar10 --data-dir $DATA/digits_train.bin --device $DEVICE"
  # MLE pretraining: cifar10 preset, batch 64, a short warm-up (the data set is 1500 pictures).
  # Steps are upper bounds; --time-limit ends each run cleanly (checkpoint written) if the GPU is slower.
  stage_step mle 130 "$BIN" train $P --mode mle --preset $PRESET --batch 64 --steps "${MLE_STEPS:-3000}" \
    --warmup-steps 100 --lr 1e-3 --log-every 50 --time-limit 90 --out "$W/mle"
  tail -3 "$W/mle.log"
  stage_step fce 190 "$BIN" train $P --mode fce --batch 64 --steps "${FCE_STEPS:-20000}" \
    --init-flow "$W/mle/checkpoint.fce" --log-every 50 --checkpoint-every 1000 --time-limit 150 --out "$W/fce"
  tail -12 "$W/fce.log"
  for m in mle fce; do
    stage_step "eval_$m" 60 "$BIN" eval --checkpoint "$W/$m/checkpoint.fce" --dataset cifar10 \
      --data-dir "$DATA/digits_test.bin" --device $DEVICE --out "$W/eval_$m"
    cat "$W/eval_$m.log" | tail -2
  done
  stage_step probe 90 "$BIN" probe --checkpoint "$W/fce" --dataset cifar10 --data-dir "$DATA/digits_train.bin" \
    --test-data "$DATA/digits_test.bin" --labels "${PROBE_LABELS:-50,200,1500}" --device $DEVICE --out "$W/probe"
  tail -4 "$W/probe.log"
  stage_step grid 60 "$BIN" sample --checkpoint "$W/mle/checkpoint.fce" --compare "$W/fce/checkpoint.fce" \
    --n 64 --seed 7 --grid "$W/mle_vs_fce.png" --device $DEVICE
  stage_step fid_samples 150 "$BIN" sample --checkpoint "$W/fce/checkpoint.fce" --n "${FID_N:-50000}" \
    --batch 1000 --out-dir /tmp/fce-fid --npz /tmp/fce-fid.npz --device $DEVICE
  tail -3 "$W/fid_samples.log"
  ls /tmp/fce-fid | wc -l >>"$W/summary.txt"
  rm -f "$W"/*/checkpoint.fce "$W"/*/ebm.fce "$W"/data/*.bin
  ;;
*)
  echo "unknown stage '$STAGE' (verify, bench or run)" >&2
  exit 2
  ;;
esac
cat "$W/summary.txt"
