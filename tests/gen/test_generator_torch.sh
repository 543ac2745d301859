#!/bin/bash
# Cross-check of the generators against PyTorch (Debian's python3-torch, in
# float64), through their model files: for both architectures (pyramid 3
# scales of 4 channels, residual w = 4 with 1 block) in both modes,
# tests/tools/dump_tnet.c saves a small model as .tnet, loads it back, runs
# it forward on a batch of 2 at 32x32 and through one training step's
# parameter gradients (src/train/step.c's: the objective on each converted
# output image, the batch's mean); tnet_crosscheck.py rebuilds the network
# in torch from the description and compares the output (1e-4), the loss
# (1e-4) and every parameter's gradient (1e-3, all max |ours - torch| /
# max |torch|). The runs cover circular (texture), replicate (pyramid
# style) and reflect (residual style) padding, stride 2, upsampling,
# concatenation, residual addition, affine norms, ReLU and leaky ReLU,
# average pooling by 2 and 4, a texture image whose fitted size differs
# from the output's (Gram targets rescaled) and the random-feature
# normalisation (style runs, as the CLI trains on random weights).
# Three deliberately wrong variants must fail, each for its planted reason:
# torch reading circular padding as zero, reflect as replicate, and one of
# our gradients scaled by 1.003.
# Skipped (exit 77, visibly) only where /usr/bin/python3 has no torch.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
PY=/usr/bin/python3
require_torch
T="$STYLIZE_TEST_TMP"
CHECK="$STYLIZE_SRC/tests/gen/tnet_crosscheck.py"
rm -rf "$T" && mkdir -p "$T" || exit 1
fail=0
"$STYLIZE_WEIGHTS_TOOL" random --out "$T/w.json" --seed 5 --width-divisor 16 || exit 1
# Content and style images of the output's size (32x32) and a 40x28
# texture (fitted to 32x22 for its Gram targets).
$PY - "$T" <<'PYEOF' || exit 1
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(3)
for name, k, h, w in [("content", 1, 32, 32), ("style", 2, 32, 32), ("texture", 3, 28, 40)]:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / (1.5 + k)), np.cos(yy / (1.0 + k)), np.sin((xx - yy) / (2.5 + k))], -1)
    img = 0.5 + 0.35 * base + 0.15 * rng.standard_normal((h, w, 3))
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save("%s/%s.png" % (d, name))
PYEOF

# name, then dump_tnet's arguments after OUTDIR
RUNS=(
    "pyramid_texture|--arch pyramid --mode texture"
    "pyramid_style|--arch pyramid --mode style --slope 0.01 --random-features"
    "residual_texture|--arch residual --mode texture"
    "residual_style|--arch residual --mode style --random-features"
)
for run in "${RUNS[@]}"; do
    name=${run%%|*}
    read -r -a args <<< "${run#*|}"
    style="$T/style.png"
    [[ $name == *texture ]] && style="$T/texture.png"
    mkdir -p "$T/$name"
    "$STYLIZE_DUMP_TNET" "$T/w.json" "$style" "$T/$name" "${args[@]}" --content "$T/content.png" \
        --seed 7 > "$T/$name.dump.txt" || { echo "FAIL: dump_tnet ($name)"; fail=1; continue; }
    echo "== $name"
    $PY "$CHECK" "$T/w.json" "$T/$name" || { echo "FAIL: torch cross-check ($name)"; fail=1; }
done

# Negative checks: each must fail, and for the planted reason.
negative() { # what, dir, grep pattern that must match, exact FAIL count or "", check args...
    local what=$1 dir=$2 pat=$3 count=$4
    shift 4
    [ -f "$T/$dir/graph.json" ] || return
    $PY "$CHECK" "$T/w.json" "$T/$dir" "$@" > "$T/neg.txt" 2>&1
    local rc=$? n
    n=$(grep -c 'FAIL$' "$T/neg.txt")
    if [ $rc -ne 1 ] || ! grep -q "$pat" "$T/neg.txt" || { [ -n "$count" ] && [ "$n" -ne "$count" ]; }; then
        echo "FAIL: the cross-check did not catch $what (exit $rc)"
        cat "$T/neg.txt"
        fail=1
    else
        echo "ok: $what caught ($n failing checks)"
    fi
}
negative "circular padding read as zero" pyramid_texture '^output .* FAIL$' "" --pad-as circular:zeros
negative "reflect padding read as replicate" residual_style '^output .* FAIL$' "" --pad-as reflect:replicate
negative "a gradient off by 3e-3" residual_style '^conv7.weight .* FAIL$' 1 --corrupt-grad conv7.weight:1.003

if [ $fail -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
