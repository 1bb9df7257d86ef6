#!/usr/bin/env bash
# run_device.sh: fce-bench on the GPU and the PyTorch peer's phase timings next to it, in one call
# on the GPU machine (issue 5). Run from the repository root:
#   OUT=bench-out PEER=path/to/torch_fce.py bash bench/run_device.sh
# Variables:
#   OUT           results folder (default bench-out); every log is tee'd there
#   PEER          the peer's torch_fce.py (default ../shared/peers/torch_fce.py); skipped if absent
#   BUDGET_S      wall-clock budget of the whole script in seconds (default 500: under 9 minutes)
#   PEER_COMPILE  1: also the peer compiled (torch.compile, TF32), one phase per process, while
#                 the budget lasts (compiling the cifar10 flow takes minutes per phase)
#   SKIP_BUILD    1: reuse build-bench as it is
#   BENCH_ARGS    extra fce-bench arguments (e.g. "--reps 20")
#   OURS_MAX_S    time limit of the fce-bench run (default 240 s)
# Writes: $OUT/fce_bench.json and .txt (ours, batches 64 and 128), $OUT/peer_*.json and .log (the
# peer's last stdout JSON line and its stderr), $OUT/ratios.json (per phase: ours vs peer at batch
# 64 and the ratio ours/peer; < 1 means fce-gpu is faster), and prints the comparison table.
# Our Glow's coupling network has plain zero padding (no openai/glow edge channel), so the peer's
# --no-edge-bias run has the same shapes; its default (edge bias) run is shown too. fce-gpu's math
# is exact FP32 (no TF32), so the like-for-like peer run is eager --no-tf32.
set -uo pipefail
OUT="${OUT:-bench-out}"
PEER="${PEER:-../shared/peers/torch_fce.py}"
BUDGET_S="${BUDGET_S:-500}"
PEER_COMPILE="${PEER_COMPILE:-0}"
BENCH_ARGS="${BENCH_ARGS:-}"
OURS_MAX_S="${OURS_MAX_S:-240}"
mkdir -p "$OUT"
LOG="$OUT/run_device.log"
: >"$LOG"
say() { echo "[run_device $(date +%H:%M:%S) +${SECONDS}s] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET_S - SECONDS)); }

# ---- build: Release, sm_90 only, no tests (faster) ----
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "configure + build (Release, sm_90) in build-bench"
  if ! { cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFCE_CUDA=ON -DFCE_CUDA_ARCHS=90 \
           -DFCE_BUILD_TESTS=OFF -DFCE_BUILD_BENCH=ON &&
         cmake --build build-bench -j "$(nproc)" --target fce-bench; } >"$OUT/build.log" 2>&1; then
    say "BUILD FAILED; the end of $OUT/build.log:"
    tail -40 "$OUT/build.log" | tee -a "$LOG"
    exit 1
  fi
fi
BIN=build-bench/bench/fce-bench
[ -x "$BIN" ] || { say "no $BIN"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$OUT/nvidia-smi.txt" 2>&1 || true

# ---- ours ----
say "fce-bench --preset cifar10 --device 0 (batches 64, 128)"
t_ours=$(( $(left) - 60 < OURS_MAX_S ? $(left) - 60 : OURS_MAX_S ))
timeout $(( t_ours > 30 ? t_ours : 30 )) "$BIN" --device 0 --require-gpu --preset cifar10 \
  --batch 64,128 --json "$OUT/fce_bench.json" $BENCH_ARGS 2>"$OUT/fce_bench.err" | tee "$OUT/fce_bench.txt"
ours_rc=${PIPESTATUS[0]}
say "fce-bench exit $ours_rc (0 = every entry validated and every phase ran)"
[ "$ours_rc" -eq 0 ] || tail -20 "$OUT/fce_bench.err" | tee -a "$LOG"

# ---- ours in TF32 (FCE_TF32=1: every context of the run; phases only, since the op entries'
# validation uses the FP32 tolerances) ----
if [ "$(left)" -gt 200 ]; then
  say "FCE_TF32=1 fce-bench --ops none (phases, batch 64)"
  FCE_TF32=1 timeout $(( $(left) > 300 ? 120 : 60 )) "$BIN" --device 0 --require-gpu --preset cifar10 \
    --batch 64 --ops none --json "$OUT/fce_bench_tf32.json" $BENCH_ARGS 2>"$OUT/fce_bench_tf32.err" \
    | tee "$OUT/fce_bench_tf32.txt"
  say "fce-bench tf32 exit ${PIPESTATUS[0]}"
fi

# ---- the peer ----
PHASES=glow_mle_step,fce_ebm_step,fce_glow_step,sample
peer_run() { # name, timeout, args...
  local name="$1" t="$2"; shift 2
  if [ "$t" -lt 30 ]; then say "skip peer $name: budget spent"; return; fi
  say "peer $name: python3 $PEER bench $*"
  timeout "$t" python3 "$PEER" bench "$@" >"$OUT/peer_$name.out" 2>"$OUT/peer_$name.log"
  local rc=$?
  grep '^{' "$OUT/peer_$name.out" | tail -1 >"$OUT/peer_$name.json" || true
  say "peer $name exit $rc"
}
if [ -f "$PEER" ] && python3 -c "import torch" 2>/dev/null; then
  COMMON=(--config cifar10 --batch 64 --device cuda --steps 20 --phases "$PHASES")
  peer_run eager_fp32_noedge $(( $(left) > 150 ? 150 : $(left) - 20 )) "${COMMON[@]}" --no-tf32 --no-edge-bias
  peer_run eager_fp32_edge $(( $(left) > 150 ? 150 : $(left) - 20 )) "${COMMON[@]}" --no-tf32
  peer_run eager_tf32_noedge $(( $(left) > 150 ? 150 : $(left) - 20 )) "${COMMON[@]}" --tf32 --no-edge-bias
  if [ "$PEER_COMPILE" = 1 ]; then
    for ph in glow_mle_step fce_ebm_step sample fce_glow_step; do
      peer_run "compiled_tf32_noedge_$ph" $(( $(left) - 20 )) --config cifar10 --batch 64 --device cuda \
        --steps 20 --tf32 --compile --no-edge-bias --phases "$ph"
    done
  fi
else
  say "peer skipped: $PEER missing or torch not importable"
fi

# ---- ratios ----
python3 - "$OUT" <<'PY' | tee -a "$LOG"
import glob, json, os, sys
out = sys.argv[1]
names = {"mle_step": "glow_mle_step", "fce_ebm_step": "fce_ebm_step",
         "fce_flow_step": "fce_glow_step", "sample": "sample"}
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return None
ours = load(os.path.join(out, "fce_bench.json")) or {}
ours_ms, ours_mem = {}, {}
for p in ours.get("phases", []):
    if p.get("ok"):
        ours_ms[(p["name"], p["batch"])] = p["ms"]["median"]
        ours_mem[(p["name"], p["batch"])] = (p.get("mem_bytes") or 0) / 2**20
ours_tf32 = {}
for p in (load(os.path.join(out, "fce_bench_tf32.json")) or {}).get("phases", []):
    if p.get("ok"):
        ours_tf32[(p["name"], p["batch"])] = p["ms"]["median"]
peers, peer_mem = {}, {}
for run in ("eager_fp32_noedge", "eager_fp32_edge", "eager_tf32_noedge"):
    d = load(os.path.join(out, f"peer_{run}.json"))
    if d and "phases" in d:
        peers[run] = {k: v.get("ms_median") for k, v in d["phases"].items()}
        peer_mem[run] = {k: v.get("peak_mem_mib") for k, v in d["phases"].items()}
comp, comp_mem = {}, {}
for path in sorted(glob.glob(os.path.join(out, "peer_compiled_tf32_noedge_*.json"))):
    d = load(path)
    if d and "phases" in d:
        comp.update({k: v.get("ms_median") for k, v in d["phases"].items()})
        comp_mem.update({k: v.get("peak_mem_mib") for k, v in d["phases"].items()})
if comp:
    peers["compiled_tf32_noedge"] = comp
    peer_mem["compiled_tf32_noedge"] = comp_mem
rows = []
for ph, pph in names.items():
    r = {"phase": ph, "peer_phase": pph, "ours_ms_b64": ours_ms.get((ph, 64)),
         "ours_ms_b128": ours_ms.get((ph, 128)), "ours_mem_mib_b64": ours_mem.get((ph, 64))}
    r["ours_tf32_ms_b64"] = ours_tf32.get((ph, 64))
    for run, d in peers.items():
        pm = d.get(pph)
        mine = r["ours_tf32_ms_b64"] if "tf32" in run else r["ours_ms_b64"]
        r[f"peer_{run}_ms"] = pm
        r[f"peer_{run}_peak_mem_mib"] = peer_mem.get(run, {}).get(pph)
        r[f"ratio_{run}"] = (mine / pm) if (pm and mine) else None
    rows.append(r)
prov = ours.get("provenance", {})
res = {"note": "ratio = ours / peer at batch 64 (< 1: fce-gpu faster). Memory: ours is the "
               "cudaMemGetInfo delta of the phase's setup (see fce_bench.json), the peer's is "
               "torch.cuda.max_memory_allocated. fce-gpu runs exact FP32 by default "
               "and TF32 under FCE_TF32=1 (ours_tf32_*, compared with the peer's tf32 runs), with "
               "plain zero padding in the coupling network (no edge channel): the like-for-like "
               "peer runs are the *_noedge ones.",
       "ours_git": prov.get("git_commit"), "gpu": prov.get("gpu_name"),
       "peer_runs": sorted(peers), "rows": rows}
with open(os.path.join(out, "ratios.json"), "w") as f:
    json.dump(res, f, indent=1)
def fmt(v, d=1):
    return "-" if v is None else f"{v:.{d}f}"
cols = [("eager_fp32_noedge", "peer fp32 no-edge"), ("eager_fp32_edge", "peer fp32 edge"),
        ("eager_tf32_noedge", "peer tf32 no-edge"), ("compiled_tf32_noedge", "peer compiled tf32 no-edge")]
print()
print(f"{'phase':14s} {'ours b64 ms':>11s} {'ours b128 ms':>12s} {'ours tf32 b64':>13s}" +
      "".join(f" {t:>27s} {'ratio':>6s}" for _, t in cols))
for r in rows:
    line = (f"{r['phase']:14s} {fmt(r['ours_ms_b64']):>11s} {fmt(r['ours_ms_b128']):>12s}"
            f" {fmt(r['ours_tf32_ms_b64']):>13s}")
    for k, _ in cols:
        line += f" {fmt(r.get(f'peer_{k}_ms')):>27s} {fmt(r.get(f'ratio_{k}'), 2):>6s}"
    print(line)
print("ratio = ours / peer at batch 64; < 1 means fce-gpu is faster. FP32 peer columns compare with "
      "ours in FP32, TF32 columns with ours under FCE_TF32=1. Like for like: the no-edge runs (our "
      "coupling NN has plain zero padding, no edge channel).")
PY
say "done in ${SECONDS}s; results in $OUT"
exit "$ours_rc"
