#!/usr/bin/env python3
"""gpu_ratios.py OUT [BATCH]: ours / peer per training phase at batch BATCH (default 64), from OUT/fce_bench.json,
OUT/fce_bench_tf32.json and OUT/peer.json (scripts/gpu_check.sh writes them); writes
OUT/ratios.json and prints a table. A ratio below 1 means fce-gpu is faster. FP32 is compared with
the peer's eager FP32 run and TF32 with its eager TF32 run, both without the edge-bias channel
(our coupling network pads with plain zeros, so those runs have our shapes)."""
import json
import os
import sys

PHASES = {"mle_step": "glow_mle_step", "fce_ebm_step": "fce_ebm_step",
          "fce_flow_step": "fce_glow_step", "sample": "sample"}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ours_ms(doc, batch=64):
    out = {}
    for p in (doc or {}).get("phases", []):
        if p.get("ok") and p.get("batch") == batch:
            out[p["name"]] = p["ms"]["median"]
    return out


def main(out, batch):
    fp32 = ours_ms(load(os.path.join(out, "fce_bench.json")), batch)
    tf32 = ours_ms(load(os.path.join(out, "fce_bench_tf32.json")), batch)
    peer = load(os.path.join(out, "peer.json")) or {}
    peer_fp32 = (peer.get("eager_fp32_noedge") or {}).get("phases", {})
    peer_tf32 = (peer.get("eager_tf32_noedge") or {}).get("phases", {})
    rows = []
    for ph, pph in PHASES.items():
        r = {"phase": ph, "ours_fp32_ms": fp32.get(ph), "ours_tf32_ms": tf32.get(ph),
             "peer_fp32_ms": (peer_fp32.get(pph) or {}).get("ms_median"),
             "peer_tf32_ms": (peer_tf32.get(pph) or {}).get("ms_median")}
        for m in ("fp32", "tf32"):
            a, b = r[f"ours_{m}_ms"], r[f"peer_{m}_ms"]
            r[f"ratio_{m}"] = a / b if a and b else None
        rows.append(r)
    with open(os.path.join(out, "ratios.json"), "w") as f:
        json.dump({"note": __doc__.split("\n", 1)[1].replace("\n", " "), "rows": rows}, f, indent=1)

    def fmt(v, d=2):
        return "-" if v is None else f"{v:.{d}f}"
    print(f"{'phase':14s} {'ours fp32':>10s} {'peer fp32':>10s} {'ratio':>6s} {'ours tf32':>10s} "
          f"{'peer tf32':>10s} {'ratio':>6s}   (ms at batch {batch}; ratio < 1: fce-gpu faster)")
    for r in rows:
        print(f"{r['phase']:14s} {fmt(r['ours_fp32_ms']):>10s} {fmt(r['peer_fp32_ms']):>10s} "
              f"{fmt(r['ratio_fp32']):>6s} {fmt(r['ours_tf32_ms']):>10s} {fmt(r['peer_tf32_ms']):>10s} "
              f"{fmt(r['ratio_tf32']):>6s}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".", int(sys.argv[2]) if len(sys.argv) > 2 else 64)
