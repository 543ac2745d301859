#!/bin/bash
# Cross-check of the layer-graph executor against PyTorch (Debian's
# python3-torch, in float64): a small multi-scale generator using every op
# and option (tests/tools/dump_generator.c) runs forward and backward from
# the VGG-19 style objective on a batch of 2; generator_crosscheck.py
# rebuilds it in torch and compares the output, the loss and every
# parameter's gradient (max |ours - torch| / max |torch| <= 1e-4) in two
# runs: "lean", only the output kept, with the input gradient and the
# default (Winograd) 3x3 algorithm; "all", every node kept, no input
# gradient, im2col. Two deliberately wrong variants must fail: torch reading
# replicate padding as reflect, and one of our gradients scaled by 1.001.
# Skipped (exit 77, visibly) only where /usr/bin/python3 has no torch.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
PY=/usr/bin/python3
require_torch
T="$STYLIZE_TEST_TMP"
CHECK="$STYLIZE_SRC/tests/nn/generator_crosscheck.py"
rm -rf "$T" && mkdir -p "$T/lean" "$T/all" || exit 1
fail=0
"$STYLIZE_WEIGHTS_TOOL" random --out "$T/w.json" --seed 5 --width-divisor 16 || exit 1
# Content and style images of the generator's output size, 24x32 (both
# sides multiples of 8: pooling by 4, then a stride-2 convolution).
$PY - "$T" <<'PYEOF' || exit 1
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(3)
yy, xx = np.mgrid[0:32, 0:24]
for name, k in [("content", 1), ("style", 2)]:
    base = np.stack([np.sin(xx / (1.5 + k)), np.cos(yy / (1.0 + k)), np.sin((xx + yy) / (2.5 + k))], -1)
    img = 0.5 + 0.35 * base + 0.15 * rng.standard_normal((32, 24, 3))
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save("%s/%s.png" % (d, name))
PYEOF
IMGS=("$T/w.json" "$T/content.png" "$T/style.png")

for plan in lean all; do
    flags=()
    [ $plan = all ] && flags=(--keep-all --algo im2col)
    "$STYLIZE_DUMP_GENERATOR" "${IMGS[@]}" "$T/$plan" --seed 7 "${flags[@]}" > "$T/$plan.txt" ||
        { echo "FAIL: dump_generator ($plan)"; fail=1; continue; }
    echo "== plan: $plan"
    $PY "$CHECK" "${IMGS[@]}" "$T/$plan" || { echo "FAIL: torch cross-check ($plan)"; fail=1; }
done

# Negative checks: each must fail, and for the planted reason only.
if [ -f "$T/lean/graph.json" ]; then
    $PY "$CHECK" "${IMGS[@]}" "$T/lean" --wrong-pad > "$T/neg_pad.txt" 2>&1
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q '^output .* FAIL$' "$T/neg_pad.txt"; then
        echo "FAIL: the cross-check did not catch replicate padding read as reflect (exit $rc)"
        cat "$T/neg_pad.txt"
        fail=1
    else
        echo "ok: wrong padding mode caught ($(grep -c 'FAIL' "$T/neg_pad.txt") failing checks)"
    fi
    $PY "$CHECK" "${IMGS[@]}" "$T/lean" --corrupt-grad q2.conv.weight > "$T/neg_grad.txt" 2>&1
    rc=$?
    if [ $rc -ne 1 ] || [ "$(grep -c 'FAIL' "$T/neg_grad.txt")" -ne 1 ] ||
        ! grep -q '^q2.conv.weight .* FAIL$' "$T/neg_grad.txt"; then
        echo "FAIL: the cross-check did not catch (only) a gradient off by 1e-3 (exit $rc)"
        cat "$T/neg_grad.txt"
        fail=1
    else
        echo "ok: gradient scaled by 1.001 caught: $(grep FAIL "$T/neg_grad.txt")"
    fi
fi
if [ $fail -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
