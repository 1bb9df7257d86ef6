#!/usr/bin/env python3
"""mpi_compare.py ONE.jsonl MANY.jsonl ONE.safetensors MANY.safetensors RTOL ATOL WTOL

Compares a run of one process with the same run on several ranks (tests/mpi/test_mpi_train.sh):
  - metrics.jsonl: the same rows, and in each the same integers (step, the EBM's and the flow's
    update counts, the next turn: the sequence of turns); every other number equal to within
    |a - b| <= ATOL + RTOL * |a| (timing fields excepted), except the game's health figures of
    spread (train/fce_diag.h: means and sds of f, log q and the logits, corr(f, log q)), within
    100·ATOL + RTOL·|a|: they are formed from values far larger than themselves (|log q| of a
    picture is hundreds of nats, known to ~1e-5 nats in FP32), so their absolute error is set by
    those values, not by their own size;
  - the weights (fce-gpu export, safetensors): the same tensors, and all of them together within
    ||a - b||_2 <= WTOL * ||a||_2. (Not element by element: Adam and Adamax divide each gradient by
    its own running size, so a weight whose gradient is a near-cancelling sum, where the order of
    the additions decides the last bits, can move by a fraction of a learning rate either way.)
Prints the largest differences seen; exit 0 when everything holds, 1 otherwise. Needs only the
standard library (the safetensors format: 8-byte header length, a JSON header, raw F32 data)."""
import json
import math
import struct
import sys
from array import array

TIMING = {"seconds", "steps_per_second", "img_per_s"}
EXACT = {"step", "ebm_updates", "flow_updates", "next_turn", "mode"}
SPREAD = {"logit_data_mean", "logit_data_sd", "logit_samples_mean", "logit_samples_sd", "f_data_sd",
          "f_samples_sd", "logq_data_sd", "logq_samples_sd", "corr_f_logq_data"}


def rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", f"{name}: dtype {t['dtype']}"
        lo, hi = t["data_offsets"]
        a = array("f")
        a.frombytes(blob[8 + n + lo:8 + n + hi])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = a
    return out


class Verdict:
    def __init__(self, rtol, atol):
        self.rtol, self.atol, self.fails, self.worst = rtol, atol, [], {}

    def close(self, kind, what, a, b, atol_scale=1.0):
        if a is None or b is None:
            if a is not b:
                self.fails.append(f"{what}: {a} vs {b}")
            return
        d = abs(a - b)
        rel = d / (abs(a) + 1e-30)
        if d > self.worst.get(kind, (0, 0))[0]:
            self.worst[kind] = (d, rel)
        if not d <= atol_scale * self.atol + self.rtol * abs(a):
            self.fails.append(f"{what}: {a!r} vs {b!r} (|diff| {d:.3g})")


def main(one_m, many_m, one_w, many_w, rtol, atol, wtol):
    v = Verdict(float(rtol), float(atol))
    r1, r2 = rows(one_m), rows(many_m)
    if len(r1) != len(r2):
        v.fails.append(f"metrics: {len(r1)} rows vs {len(r2)}")
    for i, (a, b) in enumerate(zip(r1, r2)):
        if set(a) != set(b):
            v.fails.append(f"metrics row {i}: fields {sorted(set(a) ^ set(b))} differ")
        for k in sorted(set(a) & set(b) - TIMING):
            if k in EXACT or isinstance(a[k], str):
                if a[k] != b[k]:
                    v.fails.append(f"metrics row {i} ({a.get('step')}): {k} {a[k]} vs {b[k]}")
            else:
                v.close(f"metric {k}", f"metric {k} row {i}", a[k], b[k], 100.0 if k in SPREAD else 1.0)
    w1, w2 = tensors(one_w), tensors(many_w)
    if sorted(w1) != sorted(w2):
        v.fails.append("weights: the tensor names differ")
    n, diff2, norm2, worst = 0, 0.0, 0.0, (0.0, "")
    for name in sorted(set(w1) & set(w2)):
        if len(w1[name]) != len(w2[name]):
            v.fails.append(f"{name}: {len(w1[name])} vs {len(w2[name])} elements")
            continue
        for a, b in zip(w1[name], w2[name]):
            diff2 += (a - b) ** 2
            norm2 += a * a
            worst = max(worst, (abs(a - b), name))
        n += len(w1[name])
    rel_l2 = math.sqrt(diff2 / norm2) if norm2 > 0 else math.sqrt(diff2)
    if not rel_l2 <= float(wtol):
        v.fails.append(f"weights: ||a - b|| / ||a|| = {rel_l2:.3g} > {wtol}")
    print(f"compared {len(r1)} metrics rows (integers, the turns among them, exactly; other numbers within "
          f"{atol} + {rtol}*|a|) and {n} weights (within {wtol} in relative L2)")
    for kind, (d, rel) in sorted(v.worst.items()):
        print(f"  largest |diff| of {kind}: {d:.3g} (relative {rel:.3g})")
    print(f"  weights: relative L2 difference {rel_l2:.3g}; largest |diff| {worst[0]:.3g} ({worst[1]})")
    for f in v.fails[:20]:
        print("  DIFFERS " + f)
    if len(v.fails) > 20:
        print(f"  ... {len(v.fails) - 20} more")
    return 1 if v.fails else 0


if __name__ == "__main__":
    if len(sys.argv) != 8:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
