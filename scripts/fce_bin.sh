# fce_bin.sh: sourced by the experiment scripts (figure1.sh, claims_2d.sh, claims_images.sh) for
# the one rule of which fce-gpu they run: $FCE_BIN, else make run's build-run/, else build/; --bin
# overrides it. Call fce_bin_default before parsing options and fce_bin_check NAME after.
fce_bin_default() {
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  bin=${FCE_BIN:-$root/build-run/fce-gpu}
  [ -x "$bin" ] || bin=$root/build/fce-gpu
}
fce_bin_check() { # NAME: the calling script, for the message
  [ -x "$bin" ] || { echo "$1: no fce-gpu binary at $bin: build it (make run) or pass --bin PATH" >&2; exit 2; }
  bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") # absolute: the scripts change folders
}
