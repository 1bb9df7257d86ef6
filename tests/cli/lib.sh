# lib.sh: the harness the CLI test scripts share; each sources it first, as
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It takes the binary from the script's argument 1 (BIN), makes a scratch folder removed on exit
# (OUT), and counts results:
#   expect NAME CODE PATTERN -- ARGS...  "$BIN" ARGS must exit CODE with PATTERN in its stderr
#   check NAME COMMAND...                COMMAND must succeed
#   finish                               prints the tally; its status is the verdict (last line)
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
