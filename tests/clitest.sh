# Shared helpers for the shell tests (sourced). Counts checks and prints the
# closing "N passed, N failed" line.
PASS=0
FAIL=0
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
    local d="$1"; shift
    if "$@"; then ok; else bad "$d"; fi
}
finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}
# png_size FILE -> "W H" from the IHDR chunk
png_size() {
    local hex
    hex=$(od -An -tx1 -j16 -N8 "$1" | tr -d ' \n')
    echo "$((16#${hex:0:8})) $((16#${hex:8:8}))"
}
# json_get FILE EXPR -> value of a Python expression over the parsed JSON `r`
json_get() {
    "$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}
# expect_error CODE NEEDLE "GLOB..." ARGS...: runs "$STYLIZE" ARGS... and
# counts one check: exit code CODE, stderr exactly one line containing
# NEEDLE, and no file matching any of the GLOBs (the outputs and their
# temporaries: a failed run leaves nothing behind).
expect_error() {
    local code="$1" needle="$2" globs="$3"; shift 3
    "$STYLIZE" "$@" >"$T/expect.stdout" 2>"$T/expect.stderr"
    local rc=$? lines g f
    lines=$(wc -l <"$T/expect.stderr")
    if [ $rc -ne "$code" ]; then bad "exit $rc, expected $code: stylize $* :: $(head -c 300 "$T/expect.stderr")"; return; fi
    if [ "$lines" -ne 1 ]; then bad "$lines stderr lines, expected 1: stylize $* :: $(head -c 300 "$T/expect.stderr")"; return; fi
    if ! grep -qF -- "$needle" "$T/expect.stderr"; then bad "stderr lacks '$needle': stylize $* :: $(cat "$T/expect.stderr")"; return; fi
    for g in $globs; do
        for f in $g; do
            if [ -e "$f" ]; then bad "output $f left behind: stylize $*"; return; fi
        done
    done
    ok
}
setup_tmp() {
    T="$STYLIZE_TEST_TMP"
    rm -rf "$T" && mkdir -p "$T" || exit 1
}
# require_torch: skips the test (exit 77, visibly) where /usr/bin/python3
# lacks torch, PIL or numpy.
require_torch() {
    if ! "$PY" -c 'import torch, PIL, numpy' 2>/dev/null; then
        echo "SKIP: $PY lacks torch, PIL or numpy (apt-get install python3-torch python3-pil)"
        exit 77
    fi
}
