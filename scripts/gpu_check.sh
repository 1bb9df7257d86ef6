#!/usr/bin/env bash
# gpu_check.sh: the whole GPU check of fce-gpu in ONE device call of at most ~6 minutes on a bare
# H100/H200 (Ubuntu 24.04, CUDA 13, system cuDNN 9, 16 cores). From the repository root:
#
#   OUT=$OUT bash scripts/gpu_check.sh            (device tool; carry .peer for the PyTorch peer)
#   DRY_RUN=1 OUT=/tmp/gc bash scripts/gpu_check.sh   (this machine: CPU backend, same steps)
#
# Steps, each with its own timeout, all inside a global deadline (DEADLINE_S, default 360 s):
#   1 preflight   driver (nvidia-smi), nvcc, cmake, the cuDNN, zlib and libpng headers; names what is
#                 missing and stops; the GPU's compute capability picks the one CUDA architecture
#   2 build       only fce-gpu, fce-bench and the seven GPU tests, for that architecture (the
#                 configure line says whether MPI and NCCL were found)
#   3 gpu tests   test_gpu_ops, test_gpu_conv, test_gpu_step, test_gpu_iglow (the image flow's
#                 fused passes), test_gpu_inverse_cifar and again with FCE_TF32=1 (the TF32 policy
#                 keeps the 1x1 maps FP32), test_gpu_dist (the NCCL all-reduce of a one-rank job,
#                 no launcher needed), test_gpu_graph (each phase's step replayed from its CUDA
#                 graph equals the eager step bit for bit), each with FCE_REQUIRE_GPU=1 (a missing
#                 GPU fails instead of skipping)
#   4 bench       fce-bench's four phases on the cifar10 preset at batch 64, FP32 and FCE_TF32=1
#                 (CUDA graphs, the default), and FP32 with FCE_CUDA_GRAPHS=0 (op by op)
#   5 end to end  generated CIFAR-format pictures: MLE -> FCE from it -> eval -> a sample grid;
#                 then, when MPI was built and mpirun exists, the 1-GPU job path: a 2D run under
#                 `mpirun -np 1` (NCCL's all-reduce on every update when NCCL was built) against the
#                 same run alone (tests/mpi/mpi_compare.py)
#   6 peer        the PyTorch peer's phases (PEER, default .peer/torch_fce.py) when it and torch exist
#   7 ratios      ours / peer per phase (scripts/gpu_ratios.py)
# A step that fails or times out is recorded and the next one runs. Results, at most 8 files in
# $OUT: summary.txt (one line per step and the figures), fce_bench.json, fce_bench_tf32.json,
# fce_bench_eager.json, peer.json, ratios.json, samples.png, logs.tgz (every log). Exit status: 0
# when every step that ran passed.
# DRY_RUN=1 runs the same steps on the CPU backend (no nvcc needed; FCE_CUDA=OFF, the tiny preset,
# the GPU tests without FCE_REQUIRE_GPU, so they report "skipped"): it checks the script itself.
set -uo pipefail
OUT="${OUT:-gpu-check-out}"
PEER="${PEER:-.peer/torch_fce.py}"
DRY_RUN="${DRY_RUN:-0}"
DEADLINE_S="${DEADLINE_S:-360}"
BUILD="${BUILD:-build-gpucheck}"
JOBS="${JOBS:-$(nproc)}"
W="$(mktemp -d /tmp/fce-gpu-check.XXXXXX)"
mkdir -p "$OUT"
START=$SECONDS
fails=0

say() { echo "[gpu_check +$((SECONDS - START))s] $*" | tee -a "$W/summary.txt"; }
left() { echo $((DEADLINE_S - (SECONDS - START))); }
# step NAME MAX_SECONDS cmd...: runs cmd with min(MAX_SECONDS, time left - 5) as its timeout,
# output to $W/NAME.log; records the verdict.
step() {
  local name="$1" max="$2"; shift 2
  local t=$(( $(left) - 5 )); [ "$t" -gt "$max" ] && t=$max
  if [ "$t" -lt 5 ]; then say "$name: SKIPPED (global deadline)"; fails=$((fails + 1)); return 1; fi
  local t0=$SECONDS rc
  timeout --kill-after=5 "$t" "$@" >"$W/$name.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then say "$name: ok ($((SECONDS - t0)) s)"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then say "$name: TIMEOUT after $t s"; fails=$((fails + 1))
  else say "$name: FAILED (exit $rc, $((SECONDS - t0)) s); last lines:"; tail -8 "$W/$name.log" | sed 's/^/    /' | tee -a "$W/summary.txt"; fails=$((fails + 1)); fi
  return $rc
}
finish() {
  cp "$W/summary.txt" "$OUT/summary.txt" 2>/dev/null
  tar czf "$OUT/logs.tgz" -C "$W" --exclude='*.bin' --exclude='*.fce' . 2>/dev/null
  rm -rf "$W"
}
trap finish EXIT

# ---- 1 preflight ----
missing=()
if [ "$DRY_RUN" = 1 ]; then
  DEV=cpu; PRESET=tiny; ARCH=none; CUDA_FLAG=OFF; REQ=0; BATCH=4
  say "DRY RUN on the CPU backend (tiny preset; GPU tests will report skipped)"
else
  DEV=0; PRESET=cifar10; CUDA_FLAG=ON; REQ=1; BATCH=64
  command -v nvidia-smi >/dev/null && nvidia-smi >"$W/nvidia-smi.txt" 2>&1 || missing+=("NVIDIA driver (nvidia-smi)")
  command -v nvcc >/dev/null || missing+=("nvcc (CUDA toolkit on PATH)")
  cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')"
  ARCH="${FCE_CUDA_ARCHS:-${cap:-90}}"
  { ls /usr/include/cudnn*.h /usr/include/*/cudnn*.h /usr/local/cuda/include/cudnn*.h 2>/dev/null | grep -q .; } ||
    missing+=("cuDNN headers (cudnn.h: apt-get install libcudnn9-dev-cuda-13 or the like)")
  say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1); building for sm_$ARCH"
fi
command -v cmake >/dev/null || missing+=("cmake")
[ -f /usr/include/zlib.h ] || missing+=("zlib headers (apt-get install zlib1g-dev)")
[ -f /usr/include/png.h ] || [ -f /usr/include/libpng/png.h ] || missing+=("libpng headers (apt-get install libpng-dev)")
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do say "preflight: MISSING $m"; done
  exit 1
fi
say "preflight: ok"

# ---- 2 build ----
TARGETS=(fce-gpu fce-bench test_gpu_ops test_gpu_conv test_gpu_step test_gpu_iglow test_gpu_inverse_cifar
         test_gpu_dist test_gpu_graph)
step configure 60 cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFCE_CUDA="$CUDA_FLAG" \
  -DFCE_CUDA_ARCHS="${ARCH/none/90}" -DFCE_BUILD_TESTS=ON -DFCE_BUILD_BENCH=ON || exit 1
grep -h "fce-gpu: CUDA backend" "$W/configure.log" | sed 's/^-- /    /' | tee -a "$W/summary.txt"
step build 200 cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" || exit 1
BIN="$BUILD/fce-gpu"
BENCH="$BUILD/bench/fce-bench"

# ---- 3 gpu tests ----
# A GPU test binary with FCE_REQUIRE_GPU=$REQ; in a dry run its skip (exit 77) counts as done.
GPU_TEST='FCE_REQUIRE_GPU=$0 "$1"; rc=$?; if [ $rc -eq 77 ] && [ "$0" = 0 ]; then echo "skipped (dry run)"; exit 0; fi; exit $rc'
for t in test_gpu_ops test_gpu_conv test_gpu_step test_gpu_iglow test_gpu_dist test_gpu_graph; do step "$t" 90 bash -c "$GPU_TEST" "$REQ" "$BUILD/tests/$t"; done
INV=(); [ "$DRY_RUN" = 1 ] && INV=(FCE_INVERSE_PRESET=tiny FCE_INVERSE_STEPS=5)
step test_gpu_inverse_cifar 90 env "${INV[@]}" bash -c "$GPU_TEST" "$REQ" "$BUILD/tests/test_gpu_inverse_cifar"
# the TF32 policy: with FCE_TF32=1 the 1x1 maps stay FP32, so the inverse still meets 1e-4 (20 steps)
INVT=(FCE_TF32=1 FCE_INVERSE_STEPS=20); [ "$DRY_RUN" = 1 ] && INVT+=(FCE_INVERSE_PRESET=tiny FCE_INVERSE_STEPS=5)
step test_gpu_inverse_tf32 45 env "${INVT[@]}" bash -c "$GPU_TEST" "$REQ" "$BUILD/tests/test_gpu_inverse_cifar"

# ---- 4 bench: the four phases at batch 64, FP32 then TF32 ----
BARGS=(--device "$DEV" --preset "$PRESET" --batch "$BATCH" --ops none --phases all)
[ "$DRY_RUN" = 1 ] && BARGS+=(--phase-reps 2 --phase-warmup 1) || BARGS+=(--require-gpu)
step bench_fp32 60 "$BENCH" "${BARGS[@]}" --json "$OUT/fce_bench.json"
step bench_tf32 60 env FCE_TF32=1 "$BENCH" "${BARGS[@]}" --json "$OUT/fce_bench_tf32.json"
# the same FP32 phases op by op (no CUDA graphs): what the graphs save
step bench_eager 60 env FCE_CUDA_GRAPHS=0 "$BENCH" "${BARGS[@]}" --json "$OUT/fce_bench_eager.json"
grep -E "^(mle_step|fce_ebm_step|fce_flow_step|sample)" "$W/bench_fp32.log" | sed 's/^/    fp32 /' | tee -a "$W/summary.txt"

# ---- 5 end to end on generated pictures ----
python3 - "$W/pics.bin" <<'PY' || head -c $((512 * 3073)) /dev/urandom >"$W/pics.bin"
import random, sys
r = random.Random(7)
b = bytearray()
for k in range(512):
    b.append(k % 10)
    b += bytes(((x // 8 + y // 8 + k) % 2) * 160 + r.randrange(60) for c in range(3) for y in range(32) for x in range(32))
open(sys.argv[1], "wb").write(b)
PY
E=(--dataset cifar10 --data-dir "$W/pics.bin" --device "$DEV" --batch "$BATCH" --quiet)
FLOW_ARCH=(--preset "$PRESET") # the MLE run's; FCE takes the flow's architecture from --init-flow
[ "$DRY_RUN" = 1 ] && FLOW_ARCH+=(--width 8 --K 1) && FCEX=(--ebm-width-scale 16) || FCEX=()
step e2e_mle 60 "$BIN" train "${E[@]}" "${FLOW_ARCH[@]}" --mode mle --steps 30 --warmup-steps 10 --out "$W/mle"
step e2e_fce 60 "$BIN" train "${E[@]}" --mode fce "${FCEX[@]}" --steps 30 --init-flow "$W/mle/checkpoint.fce" --out "$W/fce"
step e2e_eval 30 "$BIN" eval --checkpoint "$W/fce/checkpoint.fce" --dataset cifar10 --data-dir "$W/pics.bin" --device "$DEV"
step e2e_sample 30 "$BIN" sample --checkpoint "$W/fce/checkpoint.fce" --n 64 --grid "$OUT/samples.png" --device "$DEV"
grep -h '"bpd"' "$W/e2e_eval.log" | sed 's/^/    eval /' | tee -a "$W/summary.txt"
if "$BIN" info | grep -q '^MPI (mpirun -np N train): yes' && command -v mpirun >/dev/null; then
  MPI1=(mpirun -np 1); mpirun --version 2>&1 | grep -q 'Open MPI' && [ "$(id -u)" -eq 0 ] && MPI1+=(--allow-run-as-root)
  say "mpi: the 1-GPU job path, $("$BIN" info | grep '^NCCL')"
  T2=(train --device "$DEV" --steps 100 --batch 256 --log-every 10 --checkpoint-every 0 --eval-points 1000 --quiet)
  [ "$DRY_RUN" = 1 ] && T2+=(--steps 20 --batch 32) # the CPU backend: the same path, smaller
  step mpi1_alone 60 "$BIN" "${T2[@]}" --out "$W/alone"
  step mpi1_job 60 "${MPI1[@]}" "$BIN" "${T2[@]}" --out "$W/job"
  for r in alone job; do "$BIN" export --checkpoint "$W/$r/checkpoint.fce" --format safetensors --out "$W/$r.safetensors" >/dev/null 2>&1; done
  step mpi1_same 30 python3 tests/mpi/mpi_compare.py "$W/alone/metrics.jsonl" "$W/job/metrics.jsonl" \
    "$W/alone.safetensors" "$W/job.safetensors" 2e-6 1e-6 1e-4
  tail -3 "$W/mpi1_same.log" | sed 's/^/    /' | tee -a "$W/summary.txt"
else
  say "mpi: skipped (this build has no MPI, or no mpirun: apt-get install libopenmpi-dev openmpi-bin)"
fi

# ---- 6 the peer ----
if [ "$DRY_RUN" != 1 ] && [ -f "$PEER" ] && python3 -c "import torch" 2>/dev/null; then
  step peer_fp32 80 python3 "$PEER" bench --config cifar10 --batch 64 --device cuda --steps 20 \
    --phases glow_mle_step,fce_ebm_step,fce_glow_step,sample --no-tf32 --no-edge-bias
  grep '^{' "$W/peer_fp32.log" | tail -1 >"$W/peer_fp32.json"
  step peer_tf32 80 python3 "$PEER" bench --config cifar10 --batch 64 --device cuda --steps 20 \
    --phases glow_mle_step,fce_ebm_step,fce_glow_step,sample --tf32 --no-edge-bias
  grep '^{' "$W/peer_tf32.log" | tail -1 >"$W/peer_tf32.json"
  python3 -c "import json,sys; print(json.dumps({'eager_fp32_noedge': json.load(open(sys.argv[1])), 'eager_tf32_noedge': json.load(open(sys.argv[2]))}))" \
    "$W/peer_fp32.json" "$W/peer_tf32.json" >"$OUT/peer.json" 2>/dev/null
else
  say "peer: skipped ($PEER missing, torch not importable, or dry run)"
fi

# ---- 7 ratios ----
python3 scripts/gpu_ratios.py "$OUT" "$BATCH" | tee -a "$W/summary.txt"
say "done in $((SECONDS - START)) s; $fails step(s) failed"
[ "$fails" -eq 0 ]
