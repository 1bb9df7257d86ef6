#!/usr/bin/env bash
# test_cli.sh: the command line's contract, run against the built binary (argument 1).
#  - usage errors (unknown flag, malformed number, unknown dataset/mode, missing value) exit 2 and
#    name the offending argument; --help exits 0;
#  - a tiny training run on the CPU backend writes metrics.jsonl, summary.json, density.png and a
#    checkpoint; --resume continues it; a missing --init-flow checkpoint fails with exit 1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

expect unknown_flag 2 "unknown option '--bogus'" -- train --bogus 1
expect malformed_int 2 "--steps: '12x' is not a valid integer" -- train --steps 12x
expect malformed_float 2 "--lr-ebm: 'fast' is not a valid number" -- train --lr-ebm fast
expect negative_seed 2 "--seed: '-3'" -- train --seed -3
expect unknown_dataset 2 "unknown dataset 'cifar11'" -- train --dataset cifar11 --device cpu --out "$OUT/x"
expect unknown_mode 2 "--mode: 'gan'" -- train --mode gan
expect missing_value 2 "--out needs a value" -- train --out
expect unknown_command 2 "unknown command 'trian'" -- trian
expect bad_device 2 "--device 'gpu0'" -- train --device gpu0 --out "$OUT/x"
expect zero_steps 2 "--steps must be >= 1" -- train --steps 0 --device cpu --out "$OUT/x"
expect missing_init_flow 1 "cannot open checkpoint $OUT/none.fce" -- train --device cpu --steps 2 --out "$OUT/y" --init-flow "$OUT/none.fce" --quiet

help_lists_max_mode_steps() { "$BIN" train --help | grep -q -- "--max-mode-steps"; }
check help help_lists_max_mode_steps

run="$OUT/run"
small=(--device cpu --steps 6 --log-every 3 --batch 32 --flow-K 2 --flow-width 16 --ebm-width 16 \
       --eval-points 200 --image-res 32 --quiet --out "$run")
tiny_run() {
  "$BIN" train "${small[@]}" && [ "$(wc -l <"$run/metrics.jsonl")" -eq 2 ] && [ -s "$run/summary.json" ] \
    && [ -s "$run/checkpoint.fce" ] && { [ -s "$run/density.png" ] || [ -s "$run/density.ppm" ]; } \
    && grep -q '"mse_ebm": [0-9]' "$run/summary.json" && ! ls "$run"/*.tmp >/dev/null 2>&1
}
check tiny_run_outputs tiny_run

resume_run() {
  "$BIN" train "${small[@]}" --steps 9 --resume && [ "$(wc -l <"$run/metrics.jsonl")" -eq 3 ] \
    && grep -q '"ebm_updates": 9' "$run/summary.json"
}
check resume_appends resume_run

expect resume_other_arch 1 "flow_K is 2 but this run has 3" -- train "${small[@]}" --flow-K 3 --resume

finish
