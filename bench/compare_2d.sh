#!/usr/bin/env bash
# compare_2d.sh: the 2D experiment's speed, fce-gpu on the GPU and on the CPU backend, and the
# PyTorch peer on the same machine, in one call (issue 2's "what must hold"). Run on the GPU
# machine from the repository root:
#   PEER=path/to/torch_fce.py OUT=dir bash bench/compare_2d.sh
# Steps/s counts every update (EBM + flow); the peer reports EBM updates and Glow updates and its
# wall time, from which the same rate is computed. Writes $OUT/compare_2d.json and prints a table.
set -euo pipefail
PEER="${PEER:-../shared/peers/torch_fce.py}"
OUT="${OUT:-bench-out}"
STEPS="${STEPS:-6000}"
CPU_STEPS="${CPU_STEPS:-600}"
mkdir -p "$OUT"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFCE_CUDA_ARCHS=90 >/dev/null
cmake --build build-bench -j "$(nproc)" >/dev/null
BIN=build-bench/fce-gpu
rate() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['steps_per_second'])" "$1"; }
$BIN train --device 0 --steps "$STEPS" --out "$OUT/gpu" --log-every 1000 2>"$OUT/gpu.log"
$BIN train --device cpu --steps "$CPU_STEPS" --out "$OUT/cpu" --log-every 200 2>"$OUT/cpu.log"
gpu=$(rate "$OUT/gpu/summary.json"); cpu=$(rate "$OUT/cpu/summary.json")
peer_gpu=null; peer_cpu=null
if [ -f "$PEER" ] && python3 -c "import torch" 2>/dev/null; then
  for dev in cuda cpu; do
    iters=$([ $dev = cuda ] && echo 1000 || echo 100)
    python3 "$PEER" train2d --dataset gmm8 --methods fce --glow-lr 1e-3 --device $dev --iters $iters \
      >"$OUT/peer_$dev.json" 2>"$OUT/peer_$dev.log" || true
    r=$(python3 - "$OUT/peer_$dev.json" <<'PY'
import json, sys
try:
    line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
    m = json.loads(line)["methods"]["fce"]
    print((m["ebm_updates"] + m["glow_updates"]) / m["wall_s"])
except Exception:
    print("null")
PY
)
    [ $dev = cuda ] && peer_gpu=$r || peer_cpu=$r
  done
fi
python3 - "$OUT" "$gpu" "$cpu" "$peer_gpu" "$peer_cpu" <<'PY'
import json, sys
out, gpu, cpu, pg, pc = sys.argv[1], *[None if v == "null" else float(v) for v in sys.argv[2:]]
res = dict(fce_gpu_steps_per_s=gpu, fce_cpu_steps_per_s=cpu, peer_cuda_steps_per_s=pg,
           peer_cpu_steps_per_s=pc, gpu_over_peer_cuda=(gpu / pg if gpu and pg else None))
json.dump(res, open(out + "/compare_2d.json", "w"), indent=1)
for k, v in res.items():
    print(f"{k:28s} {v if v is None else round(v, 2)}")
PY
