#!/usr/bin/env bash
# emu_under_load.sh: issue 12's load check. Runs every emulated test (ctest label "emu") while
# another CPU-bound process runs beside it, and reports each test's time against a third of its
# ctest timeout. A measurement to run by hand on the 2-core machine, not a CI test (CI must not
# depend on timing):
#
#   bash scripts/emu_under_load.sh [BUILD_DIR] [JOBS]      (defaults: build-cpu, 2 = as CI runs)
#
# The load is one single-threaded training job of fce-gpu (the default 2D run, FCE_CPU_THREADS=1,
# long enough to outlast the tests), started first and killed at the end. Exit status: 0 when
# every emulated test passed within a third of its timeout.
set -uo pipefail
BUILD="${1:-build-cpu}"
JOBS="${2:-2}"
BIN="$BUILD/fce-gpu"
[ -x "$BIN" ] || { echo "emu_under_load: $BIN not built (cmake --build $BUILD first)"; exit 1; }
W="$(mktemp -d /tmp/fce-emu-load.XXXXXX)"
FCE_CPU_THREADS=1 "$BIN" train --steps 100000000 --out "$W/load" --force --quiet --device cpu >/dev/null 2>&1 &
LOAD=$!
trap 'kill $LOAD 2>/dev/null; wait $LOAD 2>/dev/null' EXIT
sleep 2
kill -0 $LOAD 2>/dev/null || { echo "emu_under_load: the load job did not start"; exit 1; }
(cd "$BUILD" && ctest -L emu -j "$JOBS" >"$W/ctest.log" 2>&1)
rc=$?
# ctest's own per-test timeouts (from CTestTestfile.cmake) and the measured times
(cd "$BUILD" && ctest -L emu --show-only=json-v1) >"$W/tests.json"
python3 - "$W/ctest.log" "$W/tests.json" <<'PY'
import json, re, sys
log, meta = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
timeout = {}
for t in meta["tests"]:
    for p in t.get("properties", []):
        if p["name"] == "TIMEOUT":
            timeout[t["name"]] = float(p["value"])
bad = 0
print(f"{'test':32s} {'seconds':>8s} {'timeout':>8s} {'third':>7s}  verdict")
for m in re.finditer(r"Test\s+#\d+: (\S+) \.+\s*(\S+(?: \S+)?)\s+([\d.]+) sec", log):
    name, status, sec = m.group(1), m.group(2), float(m.group(3))
    t = timeout.get(name, 1500.0)
    ok = status == "Passed" and sec <= t / 3
    bad += not ok
    print(f"{name:32s} {sec:8.1f} {t:8.0f} {t / 3:7.1f}  {'ok' if ok else 'OVER' if status == 'Passed' else status}")
print("all within a third of their timeouts" if not bad else f"{bad} test(s) failed or over a third")
sys.exit(1 if bad else 0)
PY
prc=$?
[ $rc -ne 0 ] && echo "ctest exit $rc (see $W/ctest.log)"
exit $(( rc != 0 || prc != 0 ))
