#!/bin/bash
# Runs the fast tests and two short CLI runs under valgrind memcheck: any
# invalid access, use of uninitialised memory or leak fails.
#   scripts/valgrind.sh [BUILD_DIR]      (default build; needs a non-sanitizer build)
set -u
cd "$(dirname "$0")/.."
B="${1:-build}"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --track-origins=no)
export OPENBLAS_NUM_THREADS=1 STYLIZE_TEST_TMP="$B/tests/tmp/valgrind"
mkdir -p "$STYLIZE_TEST_TMP"
pass=0 fail=0
run() { # NAME [--fails] COMMAND...: --fails expects a non-zero exit that is not valgrind's
    local name="$1" want=0; shift
    if [ "$1" = --fails ]; then want=1; shift; fi
    "${VG[@]}" "$@" >"$STYLIZE_TEST_TMP/$name.log" 2>&1
    local rc=$?
    if { [ $want -eq 0 ] && [ $rc -eq 0 ]; } || { [ $want -eq 1 ] && [ $rc -ne 0 ] && [ $rc -ne 99 ]; }; then
        pass=$((pass + 1)); echo "valgrind $name: clean"
    else
        fail=$((fail + 1)); echo "valgrind $name: FAILED"; tail -30 "$STYLIZE_TEST_TMP/$name.log"
    fi
}
for t in activation pool losses optim weights image colour report normalise matting smooth; do
    [ -x "$B/tests/test_$t" ] && run "$t" "$B/tests/test_$t"
done
W="$STYLIZE_TEST_TMP/w.json"
"$B/stylize-weights" random --out "$W" --width-divisor 32 --seed 1 >/dev/null
run cli-style "$B/stylize" --content examples/images/chelsea.png --style examples/images/coffee.png \
    --weights "$W" --size 40 -n 3 -o "$STYLIZE_TEST_TMP/o.png" --report "$STYLIZE_TEST_TMP/o.json" --plot "$STYLIZE_TEST_TMP/o.svg" --quiet
run cli-texture "$B/stylize" --texture examples/images/brick.png --weights "$W" --size 32 --scales 16,32 -n 2 \
    --content-layers relu1_1 -o "$STYLIZE_TEST_TMP/t.png" --quiet
run cli-photo "$B/stylize" --photo --smooth affine --content examples/images/chelsea.png --style examples/images/coffee.png \
    --weights "$W" --size 40 -n 2 -o "$STYLIZE_TEST_TMP/p.png" --report "$STYLIZE_TEST_TMP/p.json" --quiet
run cli-error --fails "$B/stylize" --content missing.png --style examples/images/coffee.png --weights "$W" -o "$STYLIZE_TEST_TMP/e.png" --quiet
run cli-bad-weights --fails "$B/stylize" --texture examples/images/brick.png --weights examples/images/brick.png -o "$STYLIZE_TEST_TMP/e.png" --quiet
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
