#!/usr/bin/env bash
# tests/fuzz/run.sh: builds the libFuzzer harnesses of tests/fuzz with clang, AddressSanitizer and
# UBSan in a build folder of their own, then for each harness
#   1. runs every regression input under regress/<harness>/ (each must not crash) and under
#      regress/<harness>/reject/ (each must not crash AND must be refused: FCE_FUZZ_EXPECT_REJECT=1);
#   2. fuzzes for a few seconds from the committed seed corpus (corpus/<harness>/), printing
#      libFuzzer's final figures: executions, executions per second, coverage (cov: edges, ft:
#      features) and corpus size.
# Any crash, leak, timeout, out-of-memory or accepted reject input is a FAIL with the input, the
# sanitizer's summary line and the top frames; the exit status is then 1.
#
#   tests/fuzz/run.sh                 the CI run (same as --ci): 5 s of fuzzing per harness
#   tests/fuzz/run.sh --long 600      the by-hand run: 600 s per harness, in libFuzzer's fork mode
#                                     (it goes on after a crash; the crashing inputs are then
#                                     grouped by verdict and first frame, one example each)
#   tests/fuzz/run.sh --only ckpt2d   one harness (repeatable)
#   tests/fuzz/run.sh --make-corpus   rewrites corpus/ and regress/ with the project's writers
# Options: --seconds N (fuzzing time per harness), --build-dir DIR (default build-fuzz/ at the
# repository root), --jobs N (build parallelism, default 2). Environment: FCE_FUZZ_CC (default
# clang). Exit 77 (ctest: skipped) when clang cannot link -fsanitize=fuzzer.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=5
long=0
build="$root/build-fuzz"
jobs=2
make_corpus=0
only=()
all=(cifar10 svhn image ckpt2d flow_image ebm_image)

usage() { sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) seconds=5 ;;
    --long) seconds=${2:?--long needs seconds}; long=1; shift ;;
    --seconds) seconds=${2:?--seconds needs a number}; shift ;;
    --build-dir) build=${2:?--build-dir needs a folder}; shift ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift ;;
    --only) only+=("${2:?--only needs a harness: ${all[*]}}"); shift ;;
    --make-corpus) make_corpus=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[ ${#only[@]} -gt 0 ] && harnesses=("${only[@]}") || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  case " ${all[*]} " in *" $h "*) ;; *) echo "run.sh: no harness $h (have: ${all[*]})" >&2; exit 2 ;; esac
done

# ---- can this machine fuzz? ----
cc=${FCE_FUZZ_CC:-clang}
probe=$(mktemp -d "${TMPDIR:-/tmp}/fce-fuzz-probe-XXXXXX")
# The harnesses' scratch files (fuzz_common.c), in memory when /dev/shm is there.
FCE_FUZZ_SCRATCH=$(mktemp -d /dev/shm/fce-fuzz-run-XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/fce-fuzz-run-XXXXXX")
export FCE_FUZZ_SCRATCH
trap 'rm -rf "$probe" "$FCE_FUZZ_SCRATCH"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return n > 0 && d[0] == 1; }\n' >"$probe/p.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
  echo "SKIP: no clang that links -fsanitize=fuzzer,address,undefined (FCE_FUZZ_CC=$cc)."
  echo "      Debian/Ubuntu: apt-get install clang libclang-rt-14-dev llvm (or the version's)"
  tail -n 3 "$probe/log" 2>/dev/null
  exit 77
fi
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ]; then
  for s in llvm-symbolizer "llvm-symbolizer-$("$cc" -dumpversion | cut -d. -f1)"; do
    command -v "$s" >/dev/null 2>&1 && { export ASAN_SYMBOLIZER_PATH=$(command -v "$s"); break; }
  done
fi

# ---- build ----
t0=$SECONDS
flags="-g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
if [ ! -f "$build/CMakeCache.txt" ]; then
  # FCE_BUILD_TESTS stays ON: the harnesses' CMake lives under tests/; only fuzz targets are built.
  cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DFCE_FUZZ=ON -DFCE_CUDA=OFF -DFCE_BUILD_BENCH=OFF -DFCE_BUILD_TESTS=ON >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; echo "FAIL: configuring the fuzz build (log above)"; exit 1; }
fi
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "fuzz_$h"); done
[ $make_corpus = 1 ] && targets=(--target fuzz_make_corpus)
if ! cmake --build "$build" -j"$jobs" "${targets[@]}" >"$build/build.log" 2>&1; then
  tail -n 40 "$build/build.log"
  echo "FAIL: building the fuzz harnesses (log: $build/build.log)"
  exit 1
fi
bin="$build/tests/fuzz"
echo "fuzz: built ${targets[*]//--target /} with $cc (ASan, UBSan, libFuzzer) in $((SECONDS - t0)) s"

if [ $make_corpus = 1 ]; then
  ASAN_OPTIONS=detect_leaks=1 "$bin/fuzz_make_corpus" "$here" || { echo "FAIL: make_corpus"; exit 1; }
  du -sh "$here/corpus" "$here/regress"
  exit 0
fi

# ---- run ----
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limits=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10)
failures=0
report=()
logs="$build/fuzz-logs"
rm -rf "$logs"
mkdir -p "$logs"

# The verdict (sanitizer error, libFuzzer error, failed assert or accepted reject input) of a log.
crash_reason() {
  grep -m1 -E 'runtime error:|==ERROR: |ERROR: libFuzzer: |fuzz: .*ACCEPTED|internal error: assertion' "$1" |
    sed -E 's#'"$root"'/##g; s/^==[0-9]+== ?//; s/ \(pc 0x[0-9a-f]+ .*//; s/ at pc 0x[0-9a-f]+ .*//'
}
# The top frames of project code (src/, tests/fuzz/) in a log.
crash_frames() {
  grep -E '^ +#[0-9]+ 0x[0-9a-f]+ in .*'"$root"'/(src|tests/fuzz)/' "$1" | head -n "${2:-4}" |
    sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in /        at /; s#'"$root"'/##'
}

# run_regress HARNESS FILE REJECT: one input, once; on failure prints it, its reason and frames.
run_regress() {
  local h=$1 f=$2 reject=$3 rel=${2#"$here"/}
  local log="$logs/regress-$h-$(basename "$f").log"
  FCE_FUZZ_EXPECT_REJECT=$reject "$bin/fuzz_$h" "${limits[@]}" "$f" >"$log" 2>&1 && return 0
  failures=$((failures + 1))
  local reason
  reason=$(crash_reason "$log")
  echo "  FAIL $rel$([ "$reject" = 1 ] && echo ' (must be refused)')"
  echo "      ${reason:-exit status $? (log: $log)}"
  crash_frames "$log"
  report+=("$rel: ${reason:-see $log}")
  return 1
}

# fuzz_stats LOG: "N executions (R/s), cov C edges, ft F, corpus K" from libFuzzer's output
# (the final stat:: lines in the plain mode, the last progress line in the fork mode).
fuzz_stats() {
  local log=$1 line execs rate
  line=$(grep -E '^#[0-9]+:?[[:space:]]+(DONE|INITED|pulse|NEW|REDUCE|cov:)' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  [ -z "$execs" ] && execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$line")
  [ -z "$rate" ] && rate=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$line")
  [ -z "$rate" ] && [ -n "$execs" ] && rate=$((execs / seconds)) # the fork mode's line has none
  printf '%s executions (%s/s), %s' "${execs:-?}" "${rate:-?}" \
    "$(sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)[/ ].*/cov \1 edges, ft \2, corpus \3/p' <<<"$line")"
}

# Groups the artifacts of a run by their verdict and first project frame, one example each.
triage_artifacts() {
  local h=$1 art=$2 f log sig
  declare -A seen=()
  for f in "$art"/*; do
    [ -f "$f" ] || continue
    log="$logs/triage-$h-$(basename "$f").log"
    "$bin/fuzz_$h" "${limits[@]}" "$f" >"$log" 2>&1 && continue
    sig="$(crash_reason "$log" | sed -E 's/0x[0-9a-f]+/0x./g; s/[0-9]{4,}/N/g') @ $(crash_frames "$log" 1 | sed 's/^ *at //')"
    if [ -z "${seen[$sig]:-}" ]; then
      seen[$sig]=1
      echo "    distinct: $sig"
      echo "      input: $f"
    fi
  done
}

for h in "${harnesses[@]}"; do
  echo "== fuzz_$h"
  n=0 bad=0
  for dir_reject in "regress/$h:0" "regress/$h/reject:1"; do
    d="$here/${dir_reject%:*}" reject=${dir_reject##*:}
    [ -d "$d" ] || continue
    for f in "$d"/*; do
      [ -f "$f" ] || continue
      n=$((n + 1))
      run_regress "$h" "$f" "$reject" || bad=$((bad + 1))
    done
  done
  echo "  regression inputs: $n run, $((n - bad)) passed, $bad failed"
  # New inputs go to a work corpus in the build folder, never into the committed one. The long
  # run forks a worker that goes on after a crash (each saved in the artifacts folder).
  work="$build/fuzz-corpus/$h" art="$build/fuzz-artifacts/$h" log="$logs/fuzz-$h.log"
  rm -rf "$art"
  mkdir -p "$work" "$art"
  mode=()
  [ "$long" = 1 ] && mode=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  "$bin/fuzz_$h" "${limits[@]}" "${mode[@]}" -max_total_time="$seconds" -print_final_stats=1 \
    -close_fd_mask=2 -artifact_prefix="$art/" "$work" "$here/corpus/$h" >"$log" 2>&1
  rc=$?
  stats=$(fuzz_stats "$log")
  found=$(find "$art" -type f | wc -l)
  if [ $rc -eq 0 ] && [ "$found" -eq 0 ]; then
    echo "  fuzzing ${seconds} s: $stats"
    continue
  fi
  failures=$((failures + 1))
  echo "  FAIL fuzzing ${seconds} s: $found crashing input(s) in $art (log: $log); $stats"
  if [ "$long" = 1 ]; then
    triage_artifacts "$h" "$art"
  else
    crash=$(ls -t "$art" | head -n 1)
    echo "      $(crash_reason "$log")"
    crash_frames "$log"
    echo "      reproduce: $bin/fuzz_$h $art/$crash"
  fi
  report+=("fuzz_$h: $found crashing input(s) in $art")
done

echo
if [ $failures -eq 0 ]; then
  echo "fuzz: PASS: ${#harnesses[@]} harnesses, every regression input passed, fuzzing found nothing ($((SECONDS - t0)) s in all)"
  exit 0
fi
echo "fuzz: FAIL: $failures failure(s) ($((SECONDS - t0)) s in all):"
printf '  %s\n' "${report[@]}"
exit 1
