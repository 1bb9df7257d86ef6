#!/usr/bin/env bash
# test_cli_usage.sh: input the command line must not ignore or misreport, and eval's and sample's
# progress, run against the built binary (argument 1) on the CPU backend in a few seconds:
#  - --version, info --help, help COMMAND; "did you mean" for a misspelt command, option or dataset;
#    `train --dataset cifar --data-dir D` says the dataset is unknown (suggesting cifar10), not that
#    --data-dir is;
#  - options that need or exclude another exit 2 naming both: --npz without --out-dir, --grid with
#    --out-dir, --preset (or --L/--K/--width/--affine/--pretrain-steps) with --init-flow;
#  - sample --out-dir refuses a folder that holds pictures (exit 2, nothing touched) unless --force,
#    which replaces the numbered pictures of the earlier run and never removes other files;
#  - eval and sample print progress lines with img/s and ETA (--progress-every 0: every batch), none
#    with --quiet.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# stdout of a command that must exit 0
out_has() { # out_has PATTERN ARGS...
  local pattern="$1"; shift
  "$BIN" "$@" 2>/dev/null | grep -Eq -- "$pattern"
}
check version out_has '^fce-gpu [0-9]+\.[0-9]+\.[0-9]+ \(git ([0-9a-f]+(-dirty)?|unknown)\)$' --version
check info_help out_has '^usage: fce-gpu info' info --help
check help_command out_has '^usage: fce-gpu export' help export
check help_info out_has '^usage: fce-gpu info' help info
check help_image_train out_has '--data-dir X' train --dataset cifar10 --help
check help_despite_bad_dataset out_has '--steps X' train --dataset cifar --help
expect info_bad_option 2 "info takes no options: '--bogus'" -- info --bogus
expect help_unknown 2 "unknown command 'sampel' (did you mean sample?)" -- help sampel

# did you mean
expect command_typo 2 "unknown command 'trian' (did you mean train?)" -- trian
expect command_far 2 "unknown command 'xyzzy'$" -- xyzzy
expect option_typo 2 "unknown option '--stpes' (did you mean --steps?" -- train --stpes 3
expect option_case 2 "unknown option '--k' (did you mean --K?" -- train --dataset cifar10 --k 3
expect option_prefix 2 "did you mean --temperature?" -- sample --temp 0.5
expect option_of_image 2 "'--data-dir' for a 2D dataset: it is an option of image training" -- train --data-dir "$OUT"
expect dataset_typo 2 "unknown dataset 'cifar' (did you mean cifar10?)" -- train --dataset cifar --data-dir "$OUT"
check dataset_typo_not_data_dir bash -c "! '$BIN' train --dataset cifar --data-dir '$OUT' 2>&1 | grep -q 'unknown option'"
expect dataset_typo_eq 2 "unknown dataset 'gmm9' (did you mean gmm8?)" -- train --dataset=gmm9
expect dataset_typo_eval 2 "unknown dataset 'svnh' (did you mean svhn?); fce-gpu eval takes cifar10, svhn, folder" -- eval --dataset svnh
expect dataset_2d_for_eval 2 "unknown dataset 'gmm8'" -- eval --dataset gmm8 --checkpoint "$OUT/c.fce"
expect dataset_typo_probe 2 "unknown dataset 'cifar100' (did you mean cifar10?)" -- probe --dataset cifar100

# options that need or exclude another
expect npz_needs_out_dir 2 "--npz needs --out-dir" -- sample --checkpoint "$OUT/c.fce" --npz "$OUT/s.npz"
expect batch_needs_out_dir 2 "--batch needs --out-dir" -- sample --checkpoint "$OUT/c.fce" --batch 8
expect force_needs_out_dir 2 "--force needs --out-dir" -- sample --checkpoint "$OUT/c.fce" --force
expect grid_with_out_dir 2 "--grid and --out-dir do not go together" -- sample --checkpoint "$OUT/c.fce" --grid "$OUT/g.png" --out-dir "$OUT/d"
expect preset_with_init_flow 2 "--preset and --init-flow do not go together: the flow's architecture comes from the --init-flow file" \
  -- train --dataset cifar10 --data-dir "$OUT" --preset tiny --init-flow "$OUT/c.fce"
expect K_with_init_flow 2 "--K and --init-flow do not go together" -- train --dataset cifar10 --data-dir "$OUT" --K 2 --init-flow "$OUT/c.fce"
expect pretrain_with_init_flow 2 "--pretrain-steps and --init-flow do not go together" \
  -- train --dataset cifar10 --data-dir "$OUT" --pretrain-steps 5 --init-flow "$OUT/c.fce"
check nothing_made bash -c "! test -e '$OUT/d' && ! test -e '$OUT/s.npz'"

# A tiny image FCE run (flow and EBM) on 16 generated CIFAR-format pictures.
cifar_file "$OUT/train.bin" 16
run="$OUT/run"
"$BIN" train --dataset cifar10 --data-dir "$OUT/train.bin" --mode fce --pretrain-steps 0 --preset tiny --width 8 --K 1 \
  --batch 8 --steps 2 --ebm-width-scale 16 --device cpu --out "$run" --quiet 2>"$OUT/err" \
  || { echo "FAIL tiny_run: $(cat "$OUT/err")"; fail=$((fail + 1)); }
ck="$run/checkpoint.fce"

# sample --out-dir into a folder that holds pictures
pics() { ls "$1" | grep -Ec '\.(png|ppm)$'; }
"$BIN" sample --checkpoint "$ck" --n 3 --out-dir "$OUT/s" --device cpu 2>/dev/null
check first_set test "$(pics "$OUT/s")" -eq 3
cp -r "$OUT/s" "$OUT/s_before"
expect refuse_mixed_set 2 "already holds 3 numbered picture(s).*FID would score.*--force" \
  -- sample --checkpoint "$ck" --n 2 --seed 9 --out-dir "$OUT/s" --device cpu
check refused_untouched diff -r "$OUT/s" "$OUT/s_before"
expect force_replaces 0 "removed 3 earlier picture(s)" -- sample --checkpoint "$ck" --n 2 --seed 9 --out-dir "$OUT/s" --force --device cpu
check force_leaves_new_set test "$(pics "$OUT/s")" -eq 2
touch "$OUT/s/notes.txt" && cp "$OUT/s/000000."p?g "$OUT/s/mine.png"
expect refuse_foreign 2 "holds 1 picture(s) that sample did not write (e.g. mine.png)" \
  -- sample --checkpoint "$ck" --n 2 --out-dir "$OUT/s" --force --device cpu
check foreign_kept bash -c "test -e '$OUT/s/mine.png' && test -e '$OUT/s/notes.txt' && test \$(ls '$OUT/s' | wc -l) -eq 4"
mkdir "$OUT/other" && touch "$OUT/other/readme.txt"
expect no_pictures_ok 0 "wrote 2 pictures" -- sample --checkpoint "$ck" --n 2 --out-dir "$OUT/other" --device cpu

# progress lines
expect sample_progress 0 "^sample: 2/6 pictures | [0-9.]* img/s | ETA " \
  -- sample --checkpoint "$ck" --n 6 --batch 2 --out-dir "$OUT/p1" --progress-every 0 --device cpu
check sample_progress_lines bash -c "'$BIN' sample --checkpoint '$ck' --n 6 --batch 2 --out-dir '$OUT/p2' --progress-every 0 --device cpu 2>&1 | grep -c ' pictures | ' | grep -qx 2"
check sample_quiet bash -c "! '$BIN' sample --checkpoint '$ck' --n 6 --batch 2 --out-dir '$OUT/p3' --progress-every 0 --quiet --device cpu 2>&1 | grep -q ETA"
expect eval_progress_flow 0 "^eval flow: 4/16 pictures | [0-9.]* img/s | ETA " \
  -- eval --checkpoint "$ck" --dataset cifar10 --data-dir "$OUT/train.bin" --batch 4 --z-samples 16 --progress-every 0 --device cpu
expect eval_progress_ebm 0 "^eval ebm: 12/16 pictures | [0-9.]* img/s | ETA " \
  -- eval --checkpoint "$ck" --dataset cifar10 --data-dir "$OUT/train.bin" --batch 4 --z-samples 16 --progress-every 0 --device cpu
expect eval_progress_log_z 0 "^log Z: 12/16 pictures | [0-9.]* img/s | ETA " \
  -- eval --checkpoint "$ck" --dataset cifar10 --data-dir "$OUT/train.bin" --batch 4 --z-samples 16 --progress-every 0 --device cpu
check eval_quiet bash -c "! '$BIN' eval --checkpoint '$ck' --dataset cifar10 --data-dir '$OUT/train.bin' --batch 4 --z-samples 16 --progress-every 0 --quiet --device cpu 2>&1 | grep -q ETA"
check eval_default_quiet_when_fast bash -c "! '$BIN' eval --checkpoint '$ck' --dataset cifar10 --data-dir '$OUT/train.bin' --batch 4 --z-samples 16 --device cpu 2>&1 | grep -q ETA"
expect progress_negative 2 "--progress-every must be >= 0" \
  -- eval --checkpoint "$ck" --dataset cifar10 --data-dir "$OUT/train.bin" --progress-every -1 --device cpu

finish
