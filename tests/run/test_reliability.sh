#!/bin/bash
# Faults: a NaN during optimisation stops the run with a message naming the
# iteration and keeps the last good image; SIGKILL at any moment never leaves
# a truncated output or report (they are written to a temporary file and
# renamed into place).
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
IMG="$STYLIZE_SRC/examples/images"
W="$T/w.json"
"$STYLIZE_WEIGHTS_TOOL" random --out "$W" --seed 6 --width-divisor 16 >/dev/null || exit 1
C=(--content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights "$W" --size 48)

# NaN at the 12th evaluation: exit 7, one line naming the iteration, the best
# image so far written, the report says numerical_error.
STYLIZE_TEST_INJECT_NAN=12 "$STYLIZE" "${C[@]}" -n 50 -o "$T/nan.png" --report "$T/nan.json" --quiet 2>"$T/nan.err"
rc=$?
check "NaN: exit 7 ($rc)" [ $rc -eq 7 ]
check "NaN: one stderr line" [ "$(wc -l <"$T/nan.err")" -eq 1 ]
check "NaN: message names the iteration" grep -q "iteration [0-9]" "$T/nan.err"
check "NaN: last good image written" [ "$(png_size "$T/nan.png")" = "48 32" ]
check "NaN: report status" json_get "$T/nan.json" 'exit(0 if r["status"] == "numerical_error" and r["loss_final"] is not None else 1)'
# NaN at the very first evaluation: nothing good to keep, no output.
STYLIZE_TEST_INJECT_NAN=1 "$STYLIZE" "${C[@]}" -n 5 -o "$T/nan1.png" --quiet 2>"$T/nan1.err"
rc=$?
check "NaN at once: exit 7" [ $rc -eq 7 ]
check "NaN at once: no image" [ ! -e "$T/nan1.png" ]
# Weights whose activations overflow to Inf: exit 7 too.
$PY - "$W" "$T" <<'PYEOF'
import json, sys, numpy as np
w, d = sys.argv[1], sys.argv[2]
m = json.load(open(w))
blob = np.fromfile(w[:-5] + ".bin", dtype="<f4") * np.float32(1e6)
blob.astype("<f4").tofile(d + "/huge.bin")
m["blob"] = "huge.bin"
json.dump(m, open(d + "/huge.json", "w"))
PYEOF
"$STYLIZE" --content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights "$T/huge.json" --size 48 -n 3 -o "$T/inf.png" --quiet 2>"$T/inf.err"
rc=$?
check "overflowing weights: exit 7 ($rc)" [ $rc -eq 7 ]
check "overflowing weights: says not finite" grep -q "not finite" "$T/inf.err"

# SIGKILL while snapshots, output and report are being written, at many
# moments: every file present is complete (decodes, parses), and no temporary
# file is left behind that is not a dot-file of ours.
good=0 total=0
for delay in 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.7 0.9 1.2; do
    d="$T/kill_$delay"
    mkdir -p "$d"
    cp "$IMG/brick.png" "$d/old.png" # an old output that must stay whole
    "$STYLIZE" --texture "$IMG/brick.png" --weights "$W" --size 64 -n 400 --save-every 1 --print-every 1 \
        -o "$d/old.png" --report "$d/r.json" --quiet 2>/dev/null &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    total=$((total + 1))
    ok_here=1
    for f in "$d"/*.png; do
        $PY -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.load()" "$f" 2>/dev/null || { echo "truncated: $f"; ok_here=0; }
    done
    if [ -e "$d/r.json" ]; then json_get "$d/r.json" 'r["iterations"]' >/dev/null 2>&1 || { echo "truncated report"; ok_here=0; }; fi
    [ $ok_here -eq 1 ] && good=$((good + 1))
done
check "SIGKILL never leaves a truncated output ($good/$total)" [ $good -eq $total ]
finish
