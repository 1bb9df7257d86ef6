#!/usr/bin/env bash
# test_figure1.sh BIN: scripts/figure1.sh trains two 2D datasets for a few steps and stacks their
# density.png rows into one figure1.png: its height is the two rows plus the 4-pixel gap, its width
# the rows' width, and figure1.tsv has one line per dataset with the MSEs where p_true is known
# (gmm25) and empty where it is not (moons). png_stack.py also round-trips a picture exactly.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v python3 >/dev/null || { echo "skipped: needs python3"; exit 77; }
size() { python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(*struct.unpack(">II", d[16:24]))' "$1"; }

bash "$root/scripts/figure1.sh" --bin "$BIN" --out "$OUT/f1" --datasets "gmm25 moons" \
  --steps 4 --log-every 2 --eval-points 200 --init-batch 200 --image-res 48 >"$OUT/log" 2>&1
check "figure1.sh exits 0" test $? -eq 0
read -r w1 h1 <<<"$(size "$OUT/f1/gmm25/density.png")"
read -r w h <<<"$(size "$OUT/f1/figure1.png")"
check "figure1.png is the two rows stacked ($w x $h from $w1 x $h1)" test "$w" -eq "$w1" -a "$h" -eq $((2 * h1 + 4))
check "figure1.tsv: header + 2 datasets" test "$(wc -l <"$OUT/f1/figure1.tsv")" -eq 3
check "gmm25 row has an EBM MSE" grep -qE '^gmm25	4	[0-9]+	[0-9.e+-]+	' "$OUT/f1/figure1.tsv"
check "moons row has no MSE" grep -qE '^moons	4	[0-9]+			' "$OUT/f1/figure1.tsv"
python3 "$root/scripts/png_stack.py" "$OUT/one.png" "$OUT/f1/moons/density.png"
check "png_stack of one picture reproduces its pixels" python3 - "$root/scripts" "$OUT/one.png" "$OUT/f1/moons/density.png" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import png_stack
sys.exit(0 if png_stack.read_png(sys.argv[2]) == png_stack.read_png(sys.argv[3]) else 1)
PY
finish
