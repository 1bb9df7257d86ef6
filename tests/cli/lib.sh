# lib.sh: the harness the CLI test scripts share; each sources it first, as
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It takes the binary from the script's argument 1 (BIN), makes a scratch folder removed on exit
# (OUT), and counts results:
#   expect NAME CODE PATTERN -- ARGS...  "$BIN" ARGS must exit CODE with PATTERN in its stderr
#   check NAME COMMAND...                COMMAND must succeed
#   finish                               prints the tally; its status is the verdict (last line)
#   cifar_file PATH N                    writes N CIFAR-10-format records of a simple pattern
set -u
BIN="$1"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
fail=0 passed=0

expect() { # expect NAME CODE PATTERN -- args...
  local name="$1" code="$2" pattern="$3"; shift 4
  local err rc
  err="$("$BIN" "$@" 2>&1 >/dev/null)"; rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$pattern" <<<"$err"; then
    echo "FAIL $name: exit $rc (want $code), stderr: $err"; fail=$((fail + 1))
  else
    echo "ok   $name"; passed=$((passed + 1))
  fi
}
check() { # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}
finish() {
  echo "$passed passed, $fail failed"
  [ "$fail" -eq 0 ]
}
# N CIFAR-10 binary records (1 label byte + 3072 pixel bytes each): a checkerboard shifted per record
# (python3), or random bytes without python3.
cifar_file() { # cifar_file PATH N
  python3 - "$1" "$2" <<'PY' 2>/dev/null || head -c $(($2 * 3073)) /dev/urandom >"$1"
import sys
b = bytearray()
for k in range(int(sys.argv[2])):
    b.append(k % 10)
    b += bytes(((x // 8 + y // 8 + k) % 2) * 160 + 40 for c in range(3) for y in range(32) for x in range(32))
open(sys.argv[1], "wb").write(b)
PY
}
