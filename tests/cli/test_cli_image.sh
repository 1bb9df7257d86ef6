#!/usr/bin/env bash
# test_cli_image.sh: the image commands' contract, run against the built binary (argument 1).
#  - a missing --data-dir file exits 1 naming the file; an unknown --preset exits 2;
#  - a tiny CIFAR-format run on the CPU writes a checkpoint; eval prints JSON; sample writes a grid.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect missing_data 1 "$OUT/none/data_batch_1.bin" -- train --dataset cifar10 --data-dir "$OUT/none" --device cpu --out "$OUT/r0" --quiet
expect unknown_preset 2 "--preset: 'huge'" -- train --dataset cifar10 --data-dir "$OUT" --preset huge --device cpu --out "$OUT/r0"
expect unknown_image_flag 2 "unknown option '--flow-K'" -- train --dataset svhn --flow-K 3
expect bad_mode 2 "--mode: 'nce'" -- train --dataset cifar10 --data-dir "$OUT" --mode nce --device cpu --out "$OUT/r0"
expect eval_no_ckpt 1 "cannot open checkpoint $OUT/none.fce" -- eval --checkpoint "$OUT/none.fce" --data-dir "$OUT" --device cpu
expect sample_bad_n 2 "--n: 'x'" -- sample --n x
check image_help bash -c "'$BIN' train --dataset cifar10 --help | grep -q -- --warmup-steps"
check sample_help bash -c "'$BIN' sample --help | grep -q -- --temperature"

# 24 CIFAR records (1 label byte + 3072 pixel bytes each) of a simple pattern
cifar_file "$OUT/train.bin" 24
run="$OUT/run"
"$BIN" train --dataset cifar10 --mode mle --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 \
  --steps 3 --device cpu --out "$run" --quiet 2>"$OUT/err" || { echo "FAIL tiny_train: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check checkpoint test -s "$run/checkpoint.fce"
check metrics test "$(wc -l <"$run/metrics.jsonl")" -ge 1
check eval_json bash -c "'$BIN' eval --checkpoint '$run/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -q '\"bpd\"'"
expect sample_temperature_0 2 "--temperature must be > 0" -- sample --checkpoint "$run/checkpoint.fce" --n 4 --temperature 0 --grid "$OUT/t0.png" --device cpu
"$BIN" sample --checkpoint "$run/checkpoint.fce" --n 5 --temperature 0.7 --grid "$OUT/grid.png" --device cpu 2>"$OUT/err"
check sample_png bash -c "test -s '$OUT/grid.png' || test -s '$OUT/grid.ppm'"
# batched sampling: numbered 32x32 pictures, deterministic for a seed, and an uncompressed .npz
"$BIN" sample --checkpoint "$run/checkpoint.fce" --n 10 --batch 4 --seed 5 --out-dir "$OUT/s1" --npz "$OUT/s1.npz" --device cpu 2>"$OUT/err" \
  || { echo "FAIL sample_dir: $(cat "$OUT/err")"; fail=$((fail + 1)); }
"$BIN" sample --checkpoint "$run/checkpoint.fce" --n 10 --batch 4 --seed 5 --out-dir "$OUT/s2" --device cpu 2>/dev/null
check sample_dir_count test "$(ls "$OUT/s1" | grep -c '^0000[0-9][0-9]\.p[np][gm]$')" -eq 10
check sample_dir_last bash -c "test -s '$OUT/s1/000009.png' || test -s '$OUT/s1/000009.ppm'"
size_ok() { # every picture is 32x32 (PNG IHDR width/height, or the PPM header)
  local f
  for f in "$OUT"/s1/*; do
    case "$f" in
      *.png) [ "$(od -An -tx1 -j16 -N8 "$f" | tr -d ' \n')" = "0000002000000020" ] || return 1 ;;
      *.ppm) head -c 20 "$f" | tr '\n' ' ' | grep -q '^P6 32 32 255' || return 1 ;;
    esac
  done
}
check sample_dir_32x32 size_ok
check sample_dir_seeded bash -c "for f in '$OUT'/s1/*; do cmp -s \"\$f\" '$OUT'/s2/\$(basename \"\$f\") || exit 1; done"
check sample_progress grep -q "wrote 10 pictures.*img/s" "$OUT/err"
# npz, one entry arr_0.npy: 30 + 9 (local) + 128 (NPY header) + 10*3072 + 46 + 9 (central) + 22 (end)
check npz_size test "$(wc -c <"$OUT/s1.npz")" -eq $((39 + 128 + 30720 + 55 + 22))
check npz_zip_magic test "$(head -c 4 "$OUT/s1.npz" | od -An -tx1 | tr -d ' \n')" = "504b0304"
check npz_npy_header bash -c "head -c 167 '$OUT/s1.npz' | tail -c 128 | grep -a -q \"'descr': '|u1', 'fortran_order': False, 'shape': (10, 32, 32, 3)\""
if python3 -c 'import zipfile' 2>/dev/null; then
  check npz_crc python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); sys.exit(z.testzip() is not None or z.namelist() != ['arr_0.npy'])" "$OUT/s1.npz"
fi
if python3 -c 'import numpy' 2>/dev/null; then
  check npz_numpy python3 -c "import sys, numpy as np; a = np.load(sys.argv[1])['arr_0']; sys.exit(a.shape != (10, 32, 32, 3) or a.dtype != np.uint8)" "$OUT/s1.npz"
fi

# eval of a tiny FCE run also reports the EBM's bits/dim (ebm.fce next to checkpoint.fce)
frun="$OUT/frun"
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 --batch 8 \
  --steps 3 --ebm-width-scale 16 --device cpu --out "$frun" --quiet 2>"$OUT/err" || { echo "FAIL tiny_fce: $(cat "$OUT/err")"; fail=$((fail + 1)); }
"$BIN" eval --checkpoint "$frun/checkpoint.fce" --dataset cifar10 --data-dir "$OUT/train.bin" --device cpu >"$OUT/ev.json" 2>/dev/null
check eval_bpd_ebm grep -Eq '"bpd_ebm": -?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?,' "$OUT/ev.json"
# the EBM's log Z by importance sampling with the flow (--z-samples, default 1024): its error bar, ESS in
# [1, M], and bpd_ebm_z = bpd_ebm + log_z / (D ln 2) with D = 3072; --z-samples 0 leaves them out
check eval_log_z python3 -c "
import json, math, sys
e = json.load(open(sys.argv[1]))
assert e['log_z_samples'] == 1024 and 1 <= e['log_z_ess'] <= 1024 and e['log_z_se'] >= 0, e
assert abs(e['bpd_ebm_z'] - e['bpd_ebm'] - e['log_z'] / (3072 * math.log(2))) < 1e-6 * abs(e['bpd_ebm_z']), e" "$OUT/ev.json"
check eval_no_log_z bash -c "'$BIN' eval --checkpoint '$frun/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu --z-samples 0 2>/dev/null | grep -q bpd_ebm && ! '$BIN' eval --checkpoint '$frun/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu --z-samples 0 2>/dev/null | grep -q log_z"
expect eval_z_samples_bad 2 "z-samples must be" -- eval --checkpoint "$frun/checkpoint.fce" --dataset cifar10 --data-dir "$OUT/train.bin" --device cpu --z-samples 1
check eval_no_ebm_for_mle bash -c "'$BIN' eval --checkpoint '$run/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -q '\"bpd\"' && ! '$BIN' eval --checkpoint '$run/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -q bpd_ebm"
# --compare: two flows side by side from the same noise (Figures 3, 5, 6). A flow beside itself gives
# two equal panels, both equal to the plain grid of that seed; the FCE flow beside the MLE flow differs.
"$BIN" sample --checkpoint "$run/checkpoint.fce" --n 6 --seed 3 --grid "$OUT/one.png" --device cpu 2>/dev/null
"$BIN" sample --checkpoint "$run/checkpoint.fce" --compare "$run/checkpoint.fce" --n 6 --seed 3 --grid "$OUT/self.png" --device cpu 2>/dev/null
"$BIN" sample --checkpoint "$run/checkpoint.fce" --compare "$frun/checkpoint.fce" --n 6 --seed 3 --grid "$OUT/cmp.png" --device cpu 2>"$OUT/err"
check compare_log grep -q "from the same noise" "$OUT/err"
expect compare_out_dir 2 "--compare makes a grid" -- sample --checkpoint "$run/checkpoint.fce" --compare "$run/checkpoint.fce" --out-dir "$OUT/x" --device cpu
expect compare_missing 1 "$OUT/none.fce" -- sample --checkpoint "$run/checkpoint.fce" --compare "$OUT/none.fce" --grid "$OUT/y.png" --device cpu
if python3 -c 'import zlib' 2>/dev/null; then
  panels() { # panels GRID ONE MODE: decode (PNG or PPM), split at the 6-pixel gap, compare
    python3 - "$@" <<'PY2'
import sys, zlib, struct
def read(path):
    for p in (path, path[:-4] + ".ppm"):
        try: b = open(p, "rb").read()
        except OSError: continue
        if b[:2] == b"P6":
            parts = b.split(maxsplit=4); w, h = int(parts[1]), int(parts[2])
            return w, h, parts[4][: w * h * 3]
        pos, idat, w = 8, b"", 0
        while pos < len(b):
            n, t = struct.unpack(">I4s", b[pos:pos + 8]); d = b[pos + 8:pos + 8 + n]; pos += 12 + n
            if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", d[:10]); assert depth == 8 and ctype == 2
            elif t == b"IDAT": idat += d
        raw, out, prev, s = zlib.decompress(idat), bytearray(), bytearray(w * 3), w * 3
        for y in range(h):
            f, line = raw[y * (s + 1)], bytearray(raw[y * (s + 1) + 1:(y + 1) * (s + 1)])
            for i in range(s):
                a = line[i - 3] if i >= 3 else 0; up = prev[i]; c = prev[i - 3] if i >= 3 else 0
                if f == 1: line[i] = (line[i] + a) & 255
                elif f == 2: line[i] = (line[i] + up) & 255
                elif f == 3: line[i] = (line[i] + (a + up) // 2) & 255
                elif f == 4:
                    p = a + up - c; pa, pb, pc = abs(p - a), abs(p - up), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
            out += line; prev = line
        return w, h, bytes(out)
    sys.exit("cannot read " + path)
gw, gh, g = read(sys.argv[1]); ow, oh, o = read(sys.argv[2])
pw = (gw - 6) // 2
assert gw == 2 * ow + 6 and gh == oh, (gw, gh, ow, oh)
left = b"".join(g[(y * gw) * 3:(y * gw + pw) * 3] for y in range(gh))
right = b"".join(g[(y * gw + pw + 6) * 3:(y * gw + gw) * 3] for y in range(gh))
same = left == right
sys.exit(0 if left == o and same == (sys.argv[3] == "same") else 1)
PY2
  }
  check compare_self_equal panels "$OUT/self.png" "$OUT/one.png" same
  check compare_fce_differs panels "$OUT/cmp.png" "$OUT/one.png" differ
fi
# A non-finite value stops training (exit 1) with a message naming the checkpoint it kept; the files of
# the last good save stay byte-identical and still load. Resuming with an absurd learning rate diverges
# on the first step.
cp "$frun/checkpoint.fce" "$OUT/keep_flow.fce"; cp "$frun/ebm.fce" "$OUT/keep_ebm.fce"
expect fce_diverges 1 "diverged at step .* checkpoint (step 3) is kept unchanged" -- train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 --batch 8 \
  --steps 9 --ebm-width-scale 16 --lr-ebm 1e30 --lr-flow 1e30 --resume --device cpu --out "$frun" --quiet
check fce_diverge_kept bash -c "cmp -s '$OUT/keep_flow.fce' '$frun/checkpoint.fce' && cmp -s '$OUT/keep_ebm.fce' '$frun/ebm.fce'"
cp "$run/checkpoint.fce" "$OUT/keep_mle.fce"
expect mle_diverges 1 "not finite.*last good checkpoint is kept unchanged" -- train --dataset cifar10 --mode mle --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 \
  --steps 9 --lr 1e30 --resume --device cpu --out "$run" --quiet
check mle_diverge_kept cmp -s "$OUT/keep_mle.fce" "$run/checkpoint.fce"
check diverged_ckpt_loads bash -c "'$BIN' eval --checkpoint '$run/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -q '\"bpd\"'"
expect fce_diverges_fresh 1 "No checkpoint was written yet" -- train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 --batch 8 \
  --steps 9 --ebm-width-scale 16 --lr-ebm 1e30 --lr-flow 1e30 --device cpu --out "$OUT/fresh_nan" --quiet
# --time-limit stops cleanly (exit 0, checkpoint written) before --steps; --resume goes on from there.
"$BIN" train --dataset cifar10 --mode mle --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 \
  --steps 100000 --time-limit 0.5 --device cpu --out "$OUT/tl" 2>"$OUT/err"
check time_limit_stops bash -c "grep -q 'time-limit 0.5s reached at step' '$OUT/err' && test -s '$OUT/tl/checkpoint.fce'"
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 --batch 8 \
  --ebm-width-scale 16 --steps 100000 --time-limit 0.5 --device cpu --out "$OUT/tlf" 2>"$OUT/err"
check time_limit_fce bash -c "grep -q 'time-limit 0.5s reached at step' '$OUT/err' && test -s '$OUT/tlf/ebm.fce'"
expect time_limit_bad 2 "time-limit must be" -- train --dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --time-limit -1 --device cpu --out "$OUT/tl2"
# The default image mode is the paper's pipeline: MLE pretraining into <out>/mle, then FCE from it.
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 \
  --pretrain-steps 3 --steps 3 --ebm-width-scale 16 --device cpu --out "$OUT/pipe" 2>"$OUT/err"
check pipeline_stages bash -c "grep -q 'stage 1 of 2: MLE' '$OUT/err' && grep -q 'stage 2 of 2: FCE from' '$OUT/err'"
check pipeline_files bash -c "test -s '$OUT/pipe/mle/checkpoint.fce' && test -s '$OUT/pipe/checkpoint.fce' && test -s '$OUT/pipe/ebm.fce'"
check pipeline_fce_from_mle grep -q "initialised from $OUT/pipe/mle/checkpoint.fce (MLE step 3)" "$OUT/err"
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --preset tiny --width 8 --K 1 --batch 8 \
  --pretrain-steps 3 --steps 5 --ebm-width-scale 16 --device cpu --out "$OUT/pipe" --resume 2>"$OUT/err"
check pipeline_resume_skips_mle bash -c "! grep -q 'stage 1 of 2' '$OUT/err' && grep -q 'stage 2 of 2: FCE .*(resumed)' '$OUT/err'"
check pipeline_resume_steps grep -q '"step": 5,' "$OUT/pipe/metrics.jsonl"
# The FCE checkpoint pair is replaced together: if the flow's file cannot be written, the EBM's new
# file is not committed either, and the previous pair stays byte-identical.
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 \
  --batch 8 --steps 2 --ebm-width-scale 16 --device cpu --out "$OUT/pair" --quiet 2>/dev/null
cp "$OUT/pair/checkpoint.fce" "$OUT/pair_flow0"; cp "$OUT/pair/ebm.fce" "$OUT/pair_ebm0"
mkdir "$OUT/pair/checkpoint.fce.tmp" # makes the flow's temporary file unwritable
expect pair_write_fails 1 "cannot write checkpoint .*checkpoint.fce.tmp" -- train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 \
  --preset tiny --width 8 --K 1 --batch 8 --steps 4 --ebm-width-scale 16 --device cpu --out "$OUT/pair" --resume --quiet
check pair_kept bash -c "cmp -s '$OUT/pair_flow0' '$OUT/pair/checkpoint.fce' && cmp -s '$OUT/pair_ebm0' '$OUT/pair/ebm.fce' && ! test -e '$OUT/pair/ebm.fce.tmp'"
expect other_arch 1 "width is 8 but this run has 12" -- train --dataset cifar10 --mode mle --data-dir "$OUT/train.bin" --preset tiny --width 12 --K 1 --batch 8 --steps 4 --device cpu --out "$run" --resume --quiet
# --ebm-base flow: f = log q0 + g, q0 a frozen copy of the starting flow in <out>/ebm_base.fce, which
# eval, --resume and export read back; a foreign or missing base stops them (exit 1) naming the file.
expect ebm_base_bad 2 "--ebm-base: 'flows' is not one of none, flow" -- train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce \
  --pretrain-steps 0 --preset tiny --ebm-base flows --device cpu --out "$OUT/eb0"
brun="$OUT/brun"
bargs=(train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --init-flow "$run/checkpoint.fce" --batch 8 --ebm-width-scale 16 --device cpu --out "$brun" --quiet)
"$BIN" "${bargs[@]}" --steps 3 --ebm-base flow 2>"$OUT/err" || { echo "FAIL ebm_base_train: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check ebm_base_file bash -c "test -s '$brun/ebm_base.fce' && grep -q '\"ebm_base\": \"flow\"' '$brun/config.json'"
check ebm_base_eval bash -c "'$BIN' eval --checkpoint '$brun/checkpoint.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -Eq '\"bpd_ebm\": [0-9.]+,'"
check ebm_base_is_a_flow bash -c "'$BIN' eval --checkpoint '$brun/ebm_base.fce' --dataset cifar10 --data-dir '$OUT/train.bin' --device cpu 2>/dev/null | grep -q '\"bpd\"'"
"$BIN" export --checkpoint "$brun/checkpoint.fce" --format safetensors --out "$OUT/b.safetensors" 2>/dev/null
check ebm_base_export grep -aq '"ebm_base": "flow: f(x) = log q0(x) + g(x)' "$OUT/b.safetensors"
cp "$brun/ebm_base.fce" "$OUT/base_keep"
cp "$run/checkpoint.fce" "$brun/ebm_base.fce"
expect ebm_base_foreign 1 "ebm_base.fce is not the base .*ebm.fce was trained with" -- eval --checkpoint "$brun/checkpoint.fce" --dataset cifar10 --data-dir "$OUT/train.bin" --device cpu
rm "$brun/ebm_base.fce"
expect ebm_base_missing 1 "its base .*ebm_base.fce is missing" -- "${bargs[@]}" --steps 5 --ebm-base flow --resume
cp "$OUT/base_keep" "$brun/ebm_base.fce"
expect ebm_base_resume_other 1 "its EBM base (--ebm-base) differs" -- "${bargs[@]}" --steps 5 --resume
"$BIN" "${bargs[@]}" --steps 5 --ebm-base flow --resume 2>/dev/null
check ebm_base_resume grep -q '"step": 5,' "$brun/metrics.jsonl"
"$BIN" "${bargs[@]}" --steps 2 --force 2>/dev/null
check ebm_base_force_clears bash -c "test -s '$brun/ebm.fce' && ! test -e '$brun/ebm_base.fce'"

finish
