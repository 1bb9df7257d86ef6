#!/usr/bin/env bash
# test_photo_patches.sh: scripts/make-photo-patches.sh, against the built binary (argument 1). Needs
# python3 with numpy, scikit-learn and pillow; without them it is skipped (exit 77), and it never
# installs anything (FCE_NO_PIP=1):
#  - the script writes OUT/train and OUT/test with the counts its manifest.json states, every file a
#    16x16 RGB PNG, each split's names numbered from 000000, and a labels.txt giving each patch its
#    photograph (0 or 1, both present);
#  - a second run into the same OUT is refused (exit 2) before any work and leaves the pictures;
#    --force replaces them: a smaller set (--stride 16) leaves exactly its manifest's files;
#  - the folder loader reads both splits: a 2-step tiny MLE run on train, and eval on test over
#    every test patch.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python3 -c "import numpy, sklearn, PIL" 2>/dev/null \
  || { echo "skip: python3 with numpy, scikit-learn and pillow is needed (pip install scikit-learn pillow)"; exit 77; }
SCRIPT="$(dirname "${BASH_SOURCE[0]}")/../../scripts/make-photo-patches.sh"
export FCE_NO_PIP=1

layout() { # layout OUT MIN_TRAIN MIN_TEST: the folders hold what the manifest says
  python3 - "$@" <<'PY'
import json, os, sys
from PIL import Image
d, min_train, min_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = json.load(open(os.path.join(d, "manifest.json")))
for split in ("train", "test"):
    names = sorted(f for f in os.listdir(os.path.join(d, split)) if f != "labels.txt")
    assert len(names) == m["n_" + split], (split, len(names), m["n_" + split])
    labels = dict(line.split() for line in open(os.path.join(d, split, "labels.txt")))
    assert sorted(labels) == names and set(labels.values()) == {"0", "1"}, split
    assert names[0] == "000000.png" and names[-1] == "%06d.png" % (len(names) - 1), names[-1]
    for name in names[::97]:
        im = Image.open(os.path.join(d, split, name))
        assert im.size == (16, 16) and im.mode == "RGB", (name, im.size, im.mode)
assert m["n_train"] > min_train and m["n_test"] > min_test, m
print("train %d, test %d patches" % (m["n_train"], m["n_test"]))
PY
}
bash "$SCRIPT" "$OUT/p" >"$OUT/log" 2>&1 || { echo "FAIL make_patches: $(cat "$OUT/log")"; fail=$((fail + 1)); }
check layout layout "$OUT/p" 3000 1000
n_test=$(python3 -c "import json; print(json.load(open('$OUT/p/manifest.json'))['n_test'])")
bash "$SCRIPT" "$OUT/p" >"$OUT/log" 2>&1; rc=$?
check refuse_existing bash -c "[ $rc -eq 2 ] && grep -q 'add --force' '$OUT/log'"
check refused_untouched test -e "$OUT/p/train/003000.png"

"$BIN" train --dataset folder --data-dir "$OUT/p/train" --preset tiny --mode mle --steps 2 --batch 16 \
  --device cpu --out "$OUT/run" --quiet 2>"$OUT/err" || { echo "FAIL train: $(cat "$OUT/err")"; fail=$((fail + 1)); }
expect eval_test 0 "test bits/dim .* on $n_test images (folder" -- eval --dataset folder --data-dir "$OUT/p/test" --checkpoint "$OUT/run/checkpoint.fce" --device cpu --quiet
bash "$SCRIPT" "$OUT/p" --force --stride 16 >"$OUT/log" 2>&1 || { echo "FAIL force: $(cat "$OUT/log")"; fail=$((fail + 1)); }
check force_replaces layout "$OUT/p" 1000 1000
finish
