#!/usr/bin/env bash
# test_cli_quality.sh: `fce-gpu quality`, run against the built binary (argument 1), on the CPU
# backend in a few seconds, on 16x16 PPM folders of sinusoidal textures (written by python3; the test
# is skipped, exit 77, without it):
#  - a run writes the same JSON to stdout and --out with the documented fields: n, 448 features,
#    the KID subset size capped at n/2, per feature seed and mean/sd over seeds, fakes and floor;
#  - the same command gives the same figures (the report without its timings);
#  - fakes of the data's own family score near the floor; noisy fakes score a larger KID and a lower
#    coverage; --no-floor drops the floor and lets n use every real picture;
#  - n is capped by the fakes and by half the real pictures, with a message;
#  - errors: a missing --real/--fake, --k 0, --feature-seeds 17, an unknown --dataset or option
#    exit 2 naming it; a k that leaves no neighbours exits 2; pictures of two sizes and a missing
#    folder exit 1 naming them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v python3 >/dev/null || { echo "skip: python3 writes the test pictures"; exit 77; }

# pictures DIR N SEED NOISE [SIDE]: N PPM textures (base colour + one oriented sinusoid) + noise
pictures() {
  python3 - "$@" <<'PY'
import math, os, random, sys
d, n, seed, noise = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
side = int(sys.argv[5]) if len(sys.argv) > 5 else 16
os.makedirs(d, exist_ok=True)
r = random.Random(seed)
for i in range(n):
    base = [50 + 140 * r.random() for _ in range(3)]
    f, th, ph, a = 0.25 + 0.6 * r.random(), math.pi * r.random(), 2 * math.pi * r.random(), 20 + 50 * r.random()
    px = bytearray()
    for y in range(side):
        for x in range(side):
            s = math.sin(f * (x * math.cos(th) + y * math.sin(th)) + ph)
            for c in range(3):
                v = base[c] + a * (1 - 0.2 * c) * s + noise * r.gauss(0, 1)
                px.append(max(0, min(255, int(round(v)))))
    with open(os.path.join(d, "%06d.ppm" % i), "wb") as fh:
        fh.write(b"P6\n%d %d\n255\n" % (side, side) + bytes(px))
PY
}
pictures "$OUT/real" 240 1 0
pictures "$OUT/same" 120 2 0
pictures "$OUT/noisy" 120 3 40
pictures "$OUT/big" 20 4 0 32
pictures "$OUT/few" 5 5 0

Q=(quality --real "$OUT/real" --n 120 --feature-seeds 2 --subsets 20 --device cpu)
"$BIN" "${Q[@]}" --fake "$OUT/same" --out "$OUT/same.json" >"$OUT/same.stdout" 2>"$OUT/err" \
  || { echo "FAIL quality_same: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check stdout_is_file cmp -s "$OUT/same.stdout" "$OUT/same.json"
check summary_lines grep -q "floor (real vs real): kid" "$OUT/err"
"$BIN" "${Q[@]}" --fake "$OUT/same" --quiet >"$OUT/same2.stdout" 2>"$OUT/err" \
  || { echo "FAIL quality_again: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check quiet_is_quiet test ! -s "$OUT/err"
check same_figures bash -c "diff <(sed 's/, \"feature_seconds\".*//' '$OUT/same.json') <(sed 's/, \"feature_seconds\".*//' '$OUT/same2.stdout')"
"$BIN" "${Q[@]}" --fake "$OUT/noisy" --quiet >"$OUT/noisy.json" 2>"$OUT/err" \
  || { echo "FAIL quality_noisy: $(cat "$OUT/err")"; fail=$((fail + 1)); }
"$BIN" "${Q[@]}" --n 200 --fake "$OUT/same" --no-floor --quiet >"$OUT/nofloor.json" 2>"$OUT/err" \
  || { echo "FAIL quality_no_floor: $(cat "$OUT/err")"; fail=$((fail + 1)); }
check report_fields python3 - "$OUT/same.json" "$OUT/noisy.json" "$OUT/nofloor.json" <<'PY'
import json, sys
same, noisy, nofloor = (json.load(open(p)) for p in sys.argv[1:4])
assert same["n"] == 120 and same["real_available"] == 240 and same["fake_available"] == 120, same
assert same["feature_dims"] == 448 and same["kid_subset_size"] == 60 and same["k"] == 3
assert same["height"] == 16 and same["width"] == 16
assert [s["feature_seed"] for s in same["per_seed"]] == [1, 2]
figures = ("kid", "kid_sd_subsets", "precision", "recall", "density", "coverage")
for part in ("fake", "floor"):
    for f in figures:
        seeds = [s[part][f] for s in same["per_seed"]]
        assert abs(same[part][f]["mean"] - sum(seeds) / 2) < 1e-6, (part, f)
        assert same[part][f]["sd"] >= 0
sf, fl, nz = same["fake"], same["floor"], noisy["fake"]
print("same: kid %.5f cov %.3f | floor: kid %.5f cov %.3f | noisy: kid %.5f cov %.3f"
      % (sf["kid"]["mean"], sf["coverage"]["mean"], fl["kid"]["mean"], fl["coverage"]["mean"],
         nz["kid"]["mean"], nz["coverage"]["mean"]))
assert abs(sf["coverage"]["mean"] - fl["coverage"]["mean"]) < 0.15
assert nz["kid"]["mean"] > 10 * abs(sf["kid"]["mean"]) and nz["kid"]["mean"] > sf["kid"]["mean"] + 0.005
assert nz["coverage"]["mean"] < 0.5 * fl["coverage"]["mean"]
assert "floor" not in nofloor and "floor" not in nofloor["per_seed"][0]
assert nofloor["n"] == 120   # capped by the 120 fakes, not by half the real pictures
PY
expect n_capped 0 "using n = 120 pictures per set (240 real, half of them for the floor, 120 fake available)" -- "${Q[@]}" --n 500 --fake "$OUT/same"

check quality_help bash -c "'$BIN' quality --help | grep -q -- '--feature-seeds X'"
check quality_in_usage bash -c "'$BIN' help | grep -q '^  quality'"
expect no_real 2 "--real is required" -- quality --fake "$OUT/same"
expect no_fake 2 "--fake is required" -- quality --real "$OUT/real"
expect k_zero 2 "--k must be in 1..100" -- "${Q[@]}" --fake "$OUT/same" --k 0
expect too_many_seeds 2 "--feature-seeds must be in 1..16" -- "${Q[@]}" --fake "$OUT/same" --feature-seeds 17
expect bad_dataset 2 "unknown dataset 'cifar'" -- "${Q[@]}" --fake "$OUT/same" --dataset cifar
expect misspelt_option 2 "did you mean --no-floor" -- "${Q[@]}" --fake "$OUT/same" --nofloor
expect k_too_large 2 "give n = 5 per set" -- "${Q[@]}" --fake "$OUT/few" --k 5
expect size_mismatch 1 "are 16x16 but the fakes ($OUT/big) are 32x32" -- "${Q[@]}" --fake "$OUT/big"
expect missing_folder 1 "$OUT/none" -- "${Q[@]}" --fake "$OUT/none"
finish
