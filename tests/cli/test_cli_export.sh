#!/usr/bin/env bash
# test_cli_export.sh: `fce-gpu export --format safetensors`, run against the built binary (argument 1),
# on the CPU backend in a few seconds:
#  - a tiny 2D run (both models in checkpoint.fce) and a tiny image FCE run (checkpoint.fce with its
#    ebm.fce beside it, --ebm naming it, and an ebm.fce alone) export with exit 0;
#  - when python3 can import safetensors and numpy, safetensors.numpy.load_file reads each file and
#    the tensor names, shapes, dtype and the metadata are checked (otherwise that part is skipped with
#    a message; tests/cpu/test_export.c reads the files with its own reader either way);
#  - errors: a missing --checkpoint, --out or an unknown --format exit 2 naming the option; a missing
#    or foreign checkpoint file exits 1 naming the file and writes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check export_help bash -c "'$BIN' export --help | grep -q -- '--format X'"
check export_in_usage bash -c "'$BIN' help | grep -q '^  export'"
expect no_checkpoint 2 "--checkpoint is required" -- export --out "$OUT/x.safetensors"
expect no_out 2 "--out is required" -- export --checkpoint "$OUT/none.fce"
expect bad_format 2 "--format: only safetensors" -- export --checkpoint "$OUT/none.fce" --format onnx --out "$OUT/x.onnx"
expect misspelt_option 2 "did you mean --format" -- export --fromat safetensors
expect missing_file 1 "$OUT/none.fce" -- export --checkpoint "$OUT/none.fce" --format safetensors --out "$OUT/x.safetensors"
printf 'not a checkpoint at all' >"$OUT/foreign.fce"
expect foreign_file 1 "$OUT/foreign.fce: not an fce-gpu checkpoint" -- export --checkpoint "$OUT/foreign.fce" --format safetensors --out "$OUT/x.safetensors"
check nothing_written bash -c "! test -e '$OUT/x.safetensors'"

# A tiny 2D run: flow K 1 width 8, EBM width 8 (3 hidden layers).
"$BIN" train --device cpu --steps 2 --batch 16 --flow-K 1 --flow-width 8 --ebm-width 8 --eval-points 100 \
  --image-res 16 --quiet --out "$OUT/r2d" 2>"$OUT/err" || { echo "FAIL tiny_2d: $(cat "$OUT/err")"; fail=$((fail + 1)); }
expect export_2d 0 "exported 22 tensors of 2 model(s)" -- export --checkpoint "$OUT/r2d/checkpoint.fce" --format safetensors --out "$OUT/2d.safetensors"

# A tiny image FCE run: flow L 2, K 1, width 8 on 32x32x3; EBM widths 4, 8, 16 (--ebm-width-scale 16).
cifar_file "$OUT/train.bin" 16
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 \
  --batch 8 --steps 2 --ebm-width-scale 16 --device cpu --out "$OUT/img" --quiet 2>"$OUT/err" \
  || { echo "FAIL tiny_image: $(cat "$OUT/err")"; fail=$((fail + 1)); }
expect export_image 0 "exported 46 tensors of 2 model(s)" -- export --checkpoint "$OUT/img/checkpoint.fce" --format safetensors --out "$OUT/img.safetensors"
cp "$OUT/img/checkpoint.fce" "$OUT/flow_alone.fce"
expect export_image_ebm_flag 0 "exported 46 tensors of 2 model(s)" -- export --checkpoint "$OUT/flow_alone.fce" --ebm "$OUT/img/ebm.fce" --format safetensors --out "$OUT/img2.safetensors"
expect export_flow_alone 0 "exported 37 tensors of 1 model(s)" -- export --checkpoint "$OUT/flow_alone.fce" --format safetensors --out "$OUT/flow.safetensors"
expect export_2d_with_ebm 2 "--ebm: a 2D checkpoint holds both models" -- export --checkpoint "$OUT/r2d/checkpoint.fce" --ebm "$OUT/img/ebm.fce" --format safetensors --out "$OUT/x.safetensors"
expect export_ebm_alone 0 "exported 9 tensors of 1 model(s)" -- export --checkpoint "$OUT/img/ebm.fce" --format safetensors --out "$OUT/ebm.safetensors"

if ! python3 -c 'import safetensors.numpy, numpy' 2>/dev/null; then
  echo "skipped: the Python check (python3 cannot import safetensors and numpy; pip install safetensors numpy)"
  finish
  exit $?
fi
# load FILE KIND N_TENSORS NAME=SHAPE...: every tensor float32 and 1-D or 2-D, its name a model's,
# the count and the named shapes as given, and the metadata (format, kind, architecture, step, source).
load() {
  python3 - "$@" <<'PY'
import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
path, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = load_file(path)
with safe_open(path, framework="np") as f:
    meta = f.metadata()
bad = []
if len(t) != n: bad.append(f"{len(t)} tensors, want {n}")
for name, a in t.items():
    if a.dtype != np.float32 or a.ndim not in (1, 2): bad.append(f"{name}: {a.dtype} {a.shape}")
    if not name.startswith(("glow.", "iglow.", "ebm.")): bad.append(f"{name}: not a model's name")
for spec in sys.argv[4:]:
    name, shape = spec.split("=")
    want = tuple(int(x) for x in shape.split("x"))
    if name not in t: bad.append(f"{name}: missing")
    elif t[name].shape != want: bad.append(f"{name}: shape {t[name].shape}, want {want}")
for key in ("format", "kind", "architecture", "step", "source"):
    if key not in meta: bad.append(f"metadata without {key}")
if meta.get("format") != "fce-gpu" or meta.get("kind") != kind: bad.append(f"metadata {meta}")
if bad: sys.exit("; ".join(bad))
PY
}
check py_2d load "$OUT/2d.safetensors" 2d 22 glow.k0.actnorm.bias=2 glow.k0.invconv.L=2x2 \
  glow.k0.coupling.fc0.w=8x1 glow.k0.coupling.fc2.w=2x8 ebm.fc0.w=8x2 ebm.fc1.w=8x8 ebm.fc3.b=1 ebm.c=1
check py_image load "$OUT/img.safetensors" image 46 iglow.l0.k0.invconv.L=12x12 iglow.l0.k0.nn.conv0.w=8x54 \
  iglow.l1.k0.actnorm.bias=24 iglow.l1.top.mean=1536x1 ebm.conv0.w=4x48 ebm.conv2.w=16x128 ebm.c=1
check py_image_ebm_flag load "$OUT/img2.safetensors" image 46 ebm.c=1
check py_flow_alone load "$OUT/flow.safetensors" image 37 iglow.l0.prior.w=12x54
check py_ebm_alone load "$OUT/ebm.safetensors" image-ebm 9 ebm.conv1.w=8x64 ebm.c=1
# The values: finite, trained weights not all zero, and --ebm gives the same tensors as the ebm.fce
# found beside the checkpoint.
check py_values python3 -c "
import sys, numpy as np
from safetensors.numpy import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
ok = all(np.isfinite(x).all() for x in a.values()) and bool(np.any(a['ebm.conv0.w'] != 0))
ok = ok and a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
sys.exit(0 if ok else 1)" "$OUT/img.safetensors" "$OUT/img2.safetensors"

finish
