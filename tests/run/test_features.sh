#!/bin/bash
# The neural-style knobs, each with a check that fails without it: style
# blend, style scale, colour modes, normalised gradients, Adam, init modes,
# coarse-to-fine scales, snapshots, per-scale report, SVG plot, batch with a
# bad input, progress output, SIGINT/SIGTERM leaving a valid image and report.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
IMG="$STYLIZE_SRC/examples/images"
W="$T/w.json"
"$STYLIZE_WEIGHTS_TOOL" random --out "$W" --seed 2 --width-divisor 16 >/dev/null || exit 1
run() { "$STYLIZE" --weights "$W" --quiet "$@"; }
C=(--content "$IMG/chelsea.png")

# --- style blend: the blended target differs from each single style, and a
# blend of 1,0 equals the first style alone (same loss at iteration 0).
run "${C[@]}" --style "$IMG/coffee.png" --size 48 -n 0 -o "$T/a.png" --report "$T/a.json"
run "${C[@]}" --style "$IMG/coffee.png,$IMG/brick.png" --style-blend 1,0 --size 48 -n 0 -o "$T/b.png" --report "$T/b.json"
run "${C[@]}" --style "$IMG/coffee.png,$IMG/brick.png" --style-blend 1,1 --size 48 -n 0 -o "$T/c.png" --report "$T/c.json"
run "${C[@]}" --style "$IMG/coffee.png,$IMG/brick.png" --style-blend 3,1 --size 48 -n 0 -o "$T/d.png" --report "$T/d.json"
la=$(json_get "$T/a.json" 'r["loss_initial"]'); lb=$(json_get "$T/b.json" 'r["loss_initial"]')
lc=$(json_get "$T/c.json" 'r["loss_initial"]'); ld=$(json_get "$T/d.json" 'r["loss_initial"]')
check "blend 1,0 equals the first style ($la vs $lb)" $PY -c "exit(0 if abs($la-$lb) <= 1e-9*abs($la) else 1)"
check "blend 1,1 differs ($la vs $lc)" $PY -c "exit(0 if abs($la-$lc) > 1e-3*abs($la) else 1)"
check "blend 3,1 lies between ($lc, $ld, $la)" $PY -c "exit(0 if min($la,$lc) < $ld < max($la,$lc) else 1)"
check "report records the blend" [ "$(json_get "$T/d.json" 'r["settings"]["style_blend"]')" = "[3, 1]" ]

# --- spatial tiling: strips give the whole image's loss (iteration 0) and,
# after a few iterations, nearly the same loss (with Adam, whose path follows
# the gradient smoothly: L-BFGS's line search may take one evaluation more or
# less on rounding noise, and its paths then part); --max-memory too small
# for the whole image makes the run tile by itself.
run "${C[@]}" --style "$IMG/coffee.png" --size 200 -n 0 --tile-rows 0 -o "$T/t0.png" --report "$T/t0.json"
run "${C[@]}" --style "$IMG/coffee.png" --size 200 -n 0 --tile-rows 16 -o "$T/t1.png" --report "$T/t1.json"
t0=$(json_get "$T/t0.json" 'r["loss_initial"]'); t1=$(json_get "$T/t1.json" 'r["loss_initial"]')
check "report records the strips" test "$(json_get "$T/t1.json" 'r["settings"]["tile_rows"]')" = 16 -a "$(json_get "$T/t0.json" 'r["settings"]["tile_rows"]')" = 0
check "tiled loss equals the whole image's ($t1 vs $t0)" $PY -c "exit(0 if abs($t0-$t1) <= 1e-5*abs($t0) and $t0 > 0 else 1)"
run "${C[@]}" --style "$IMG/coffee.png" --size 200 -n 5 --optimizer adam --learning-rate 0.05 --tile-rows 0 -o "$T/t2.png" --report "$T/t2.json"
run "${C[@]}" --style "$IMG/coffee.png" --size 200 -n 5 --optimizer adam --learning-rate 0.05 --tile-rows 32 -o "$T/t3.png" --report "$T/t3.json"
t2=$(json_get "$T/t2.json" 'r["loss_final"]'); t3=$(json_get "$T/t3.json" 'r["loss_final"]')
check "tiled optimisation follows the whole image's ($t3 vs $t2)" $PY -c "exit(0 if abs($t2-$t3) <= 1e-5*abs($t2) and $t2 < 0.9*$t0 else 1)"
mib() { "$STYLIZE" --weights "$W" "${C[@]}" --style "$IMG/coffee.png" --size 1200 -n 0 --max-memory 1M -o "$T/t4.png" "$@" 2>&1 | sed -n 's/.*needs about \([0-9]*\) MiB.*/\1/p'; }
whole=$(mib --tile-rows 0); strips=$(mib --tile-rows 64)
lim=$(( (whole + strips) / 2 ))
"$STYLIZE" --weights "$W" "${C[@]}" --style "$IMG/coffee.png" --size 1200 -n 0 --max-memory ${lim}M -o "$T/t4.png" 2>"$T/t4.err"
check "auto tiling under --max-memory ${lim}M (whole image $whole MiB, 64-row strips $strips MiB)" grep -q "tiling: strips of" "$T/t4.err"

# --- style scale changes the style target.
run "${C[@]}" --style "$IMG/brick.png" --size 48 -n 0 -o "$T/s1.png" --report "$T/s1.json"
run "${C[@]}" --style "$IMG/brick.png" --size 48 --style-scale 2 -n 0 -o "$T/s2.png" --report "$T/s2.json"
check "style scale changes the loss" json_get "$T/s1.json" "exit(0 if abs(r['loss_initial'] - $(json_get "$T/s2.json" 'r["loss_initial"]')) > 1e-6 * r['loss_initial'] else 1)"

# --- colour modes.
run "${C[@]}" --style "$IMG/rocket.jpg" --size 48 -n 20 --preserve-colors luminance -o "$T/lum.png"
run "${C[@]}" --style "$IMG/rocket.jpg" --size 48 -n 20 -o "$T/plain.png"
run "${C[@]}" --style "$IMG/rocket.jpg" --size 48 -n 0 --preserve-colors histogram -o "$T/hist.png" --report "$T/hist.json"
run "${C[@]}" --style "$IMG/rocket.jpg" --size 48 -n 0 -o "$T/nohist.png" --report "$T/nohist.json"
check "histogram mode changes the style target" json_get "$T/hist.json" "exit(0 if r['loss_initial'] != $(json_get "$T/nohist.json" 'r["loss_initial"]') else 1)"
# Luminance mode keeps the content's chroma: compare YIQ I/Q of output vs content (resized).
check "luminance mode keeps the content's colours" $PY - "$T/lum.png" "$T/plain.png" "$IMG/chelsea.png" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
lum, plain, content = (np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) / 255 for p in sys.argv[1:4])
content = np.asarray(Image.open(sys.argv[3]).convert("RGB").resize(lum.shape[1::-1], Image.BILINEAR), dtype=np.float64) / 255
def iq(a):
    return np.stack([0.596 * a[..., 0] - 0.274 * a[..., 1] - 0.322 * a[..., 2],
                     0.211 * a[..., 0] - 0.523 * a[..., 1] + 0.312 * a[..., 2]])
e_lum = np.abs(iq(lum) - iq(content)).mean()
e_plain = np.abs(iq(plain) - iq(content)).mean()
print("chroma error luminance mode %.4f, plain %.4f" % (e_lum, e_plain))
sys.exit(0 if e_lum < 0.03 and e_lum < 0.5 * e_plain else 1)
PYEOF

# --- spatial control: masks. Swapping styles together with their masks gives
# the same image; swapping only the masks gives another; --iterations 0 with a
# full and an empty mask gives the single-style loss.
$PY - "$T" <<'PYEOF'
import sys
import numpy as np
from PIL import Image
d = sys.argv[1]
w, h = 451, 300
left = np.zeros((h, w), np.uint8); left[:, : w // 2] = 255
Image.fromarray(left).save(d + "/left.png")
Image.fromarray(255 - left).save(d + "/right.png")
Image.fromarray(np.full((h, w), 255, np.uint8)).save(d + "/full.png")
Image.fromarray(np.zeros((h, w), np.uint8)).save(d + "/none.png")
PYEOF
SA="$IMG/coffee.png" SB="$IMG/brick.png"
run "${C[@]}" --style "$SA,$SB" --content-mask "$T/left.png,$T/right.png" --size 48 -n 15 -o "$T/m1.png"
run "${C[@]}" --style "$SB,$SA" --content-mask "$T/right.png,$T/left.png" --size 48 -n 15 -o "$T/m2.png"
run "${C[@]}" --style "$SA,$SB" --content-mask "$T/right.png,$T/left.png" --size 48 -n 15 -o "$T/m3.png"
# (The same up to float summation order, which L-BFGS amplifies a little.)
check "masks: swapping styles with their masks gives the same image, swapping only the masks another" $PY -c "
import sys, numpy as np; from PIL import Image
a, b, c = (np.asarray(Image.open(p), dtype=float) for p in sys.argv[1:4])
same, other = np.abs(a - b).mean(), np.abs(a - c).mean()
print('mean abs difference: styles and masks swapped %.2f, masks only %.2f' % (same, other))
sys.exit(0 if same < 3 and other > 10 * same else 1)" "$T/m1.png" "$T/m2.png" "$T/m3.png"
run "${C[@]}" --style "$SA,$SB" --content-mask "$T/full.png,$T/none.png" --size 48 -n 0 -o "$T/m4.png" --report "$T/m4.json"
run "${C[@]}" --style "$SA" --size 48 -n 0 -o "$T/m5.png" --report "$T/m5.json"
check "masks: full + empty mask equals the single style" json_get "$T/m4.json" "exit(0 if abs(r['loss_initial'] - $(json_get "$T/m5.json" 'r["loss_initial"]')) <= 1e-4 * r['loss_initial'] else 1)"
run "${C[@]}" --style "$SA,$SB" --content-mask "$T/left.png,$T/right.png" --style-mask "$T/left.png,$T/full.png" --size 48 -n 0 -o "$T/m6.png" --report "$T/m6.json"
run "${C[@]}" --style "$SA,$SB" --content-mask "$T/left.png,$T/right.png" --size 48 -n 0 -o "$T/m7.png" --report "$T/m7.json"
check "style mask changes the target" json_get "$T/m6.json" "exit(0 if r['loss_initial'] != $(json_get "$T/m7.json" 'r["loss_initial"]') else 1)"

# --- normalised gradients and Adam change the optimisation.
run "${C[@]}" --style "$IMG/coffee.png" --size 48 -n 10 --normalize-gradients -o "$T/ng.png" --report "$T/ng.json"
run "${C[@]}" --style "$IMG/coffee.png" --size 48 -n 10 -o "$T/nng.png" --report "$T/nng.json"
check "normalize-gradients changes the result" bash -c "! cmp -s '$T/ng.png' '$T/nng.png'"
check "normalize-gradients recorded" [ "$(json_get "$T/ng.json" 'r["settings"]["normalize_gradients"]')" = "True" ]
run "${C[@]}" --style "$IMG/coffee.png" --size 48 -n 30 --optimizer adam --learning-rate 0.05 --init noise -o "$T/adam.png" --report "$T/adam.json"
check "adam: 30 iterations, loss falls" json_get "$T/adam.json" 'exit(0 if r["iterations"] == 30 and r["loss_final"] < 0.5 * r["loss_initial"] and r["settings"]["optimizer"] == "adam" else 1)'

# --- an evaluation budget stops L-BFGS inside the iteration budget.
run "${C[@]}" --style "$IMG/coffee.png" --size 32 -n 100 --max-evals 7 -o "$T/me.png" --report "$T/me.json"
check "max-evals caps evaluations" json_get "$T/me.json" 'exit(0 if r["evaluations"] <= 7 and r["iterations"] < 7 else 1)'

# --- init modes: style init starts at the style (zero style loss for one style).
run "${C[@]}" --style "$IMG/coffee.png" --size 48 -n 0 --init style -o "$T/is.png" --report "$T/is.json"
check "init style has zero style loss" json_get "$T/is.json" 'exit(0 if r["history"][0]["style_loss"] < 1e-6 * r["history"][0]["content_loss"] else 1)'
run "${C[@]}" --style "$IMG/coffee.png" --size 48 -n 0 --init "$IMG/rocket.jpg" -o "$T/if.png" --report "$T/if.json"
check "init file differs from init content" json_get "$T/if.json" 'exit(0 if r["history"][0]["content_loss"] > 0 else 1)'

# --- coarse to fine: two scales, per-scale sections, per-scale budgets, output at the last size.
run "${C[@]}" --style "$IMG/coffee.png" --scales 32:7,64:4 -o "$T/sc.png" --report "$T/sc.json"
check "scales: output at the last scale" [ "$(png_size "$T/sc.png")" = "64 43" ]
check "scales: two sections with their sizes and budgets" json_get "$T/sc.json" 'exit(0 if [(s["width"], s["iterations"]) for s in r["scales"]] == [(32, 7), (64, 4)] else 1)'
run "${C[@]}" --style "$IMG/coffee.png" --size 128 --scales 3 -n 2 -o "$T/oct.png" --report "$T/oct.json"
check "scales N: octaves up to --size" json_get "$T/oct.json" 'exit(0 if [s["width"] for s in r["scales"]] == [32, 64, 128] else 1)'

# --- snapshots.
run "${C[@]}" --style "$IMG/coffee.png" --size 32 -n 6 --save-every 2 -o "$T/snap.png"
check "snapshots every 2 iterations" [ -s "$T/snap_0002.png" -a -s "$T/snap_0004.png" -a -s "$T/snap_0006.png" ]
check "no snapshot off-cycle" [ ! -e "$T/snap_0003.png" ]

# --- SVG plot: parses as XML, one path per curve (total + 5 style + 1 content).
run "${C[@]}" --style "$IMG/coffee.png" --size 32 -n 5 --print-every 1 -o "$T/p.png" --plot "$T/p.svg"
check "plot is XML with 7 paths" $PY -c "
import sys, xml.dom.minidom as m
d = m.parse('$T/p.svg')
sys.exit(0 if len(d.getElementsByTagName('path')) == 7 else 1)"

# --- batch: a bad content does not stop the others; summary and exit 8.
mkdir -p "$T/batch"
printf 'garbage' >"$T/bad.png"
"$STYLIZE" --weights "$W" --style "$IMG/coffee.png" --content "$IMG/chelsea.png" "$T/bad.png" "$IMG/astronaut.png" \
    --output-dir "$T/batch" --size 32 -n 2 --quiet 2>"$T/batch.err"
rc=$?
check "batch exit 8 ($rc)" [ $rc -eq 8 ]
check "batch wrote the good ones" [ -s "$T/batch/chelsea.png" -a -s "$T/batch/astronaut.png" ]
check "batch names the bad input" grep -q "bad.png" "$T/batch.err"
check "batch summary" grep -q "1 of 3 contents failed" "$T/batch.err"
# The style's targets are computed once for the whole batch, and a batch
# output is the same image as a run on that content alone.
"$STYLIZE" --weights "$W" --style "$IMG/coffee.png" --content "$IMG/chelsea.png" "$IMG/astronaut.png" "$IMG/rocket.jpg" \
    --output-dir "$T/batch" --size 32 -n 3 --print-every 100 2>"$T/batch3.err"
check "batch reuses the style targets for every content after the first" [ "$(grep -c 'targets at .* reused' "$T/batch3.err")" -eq 2 ]
"$STYLIZE" --weights "$W" --style "$IMG/coffee.png" --content "$IMG/rocket.jpg" --size 32 -n 3 -o "$T/single.png" --quiet
check "batch output equals a single run" cmp -s "$T/batch/rocket.png" "$T/single.png"
mkdir -p "$T/batchm"
"$STYLIZE" --weights "$W" --style "$IMG/coffee.png,$IMG/brick.png" --content-mask "$T/left.png,$T/right.png" \
    --content "$IMG/chelsea.png" "$IMG/rocket.jpg" --output-dir "$T/batchm" --size 32 -n 2 --print-every 100 2>"$T/batchm.err"
check "masked batch reuses both styles' targets" [ "$(grep -c 'targets at .* reused' "$T/batchm.err")" -eq 2 ]
"$STYLIZE" --weights "$W" --style "$IMG/coffee.png,$IMG/brick.png" --content-mask "$T/left.png,$T/right.png" \
    --content "$IMG/rocket.jpg" --size 32 -n 2 -o "$T/singlem.png" --quiet
check "masked batch output equals a single run" cmp -s "$T/batchm/rocket.png" "$T/singlem.png"
# With colour control each style is matched to its content: no reuse, and
# every batch output still equals its single run.
for mode in histogram luminance; do
    mkdir -p "$T/batchc_$mode"
    "$STYLIZE" --weights "$W" --style "$IMG/coffee.png" --content "$IMG/chelsea.png" "$IMG/rocket.jpg" \
        --preserve-colors $mode --output-dir "$T/batchc_$mode" --size 32 -n 2 --quiet
    "$STYLIZE" --weights "$W" --style "$IMG/coffee.png" --content "$IMG/rocket.jpg" --preserve-colors $mode \
        --size 32 -n 2 -o "$T/singlec_$mode.png" --quiet
    check "$mode batch output equals a single run" cmp -s "$T/batchc_$mode/rocket.png" "$T/singlec_$mode.png"
done
# A directory and a list file as content.
mkdir -p "$T/in" "$T/batch2" && cp "$IMG/chelsea.png" "$IMG/coffee.png" "$T/in/"
run --style "$IMG/brick.png" --content "$T/in" --output-dir "$T/batch2" --size 32 -n 1
check "batch from a directory" [ -s "$T/batch2/chelsea.png" -a -s "$T/batch2/coffee.png" ]
printf '%s\n' "$IMG/grass.png" "$IMG/gravel.png" >"$T/list.txt"
run --style "$IMG/brick.png" --content "@$T/list.txt" --output-dir "$T/batch2" --size 32 -n 1
check "batch from a list file" [ -s "$T/batch2/grass.png" -a -s "$T/batch2/gravel.png" ]

# --- progress: plain lines in a pipe, a progress bar on a terminal, nothing with --quiet.
"$STYLIZE" --weights "$W" "${C[@]}" --style "$IMG/coffee.png" --size 32 -n 4 --print-every 2 -o "$T/pr.png" 2>"$T/pr.err"
check "pipe: plain progress lines" [ "$(grep -c '^scale 1/1 .* iteration [024]/4' "$T/pr.err")" -eq 3 ]
check "pipe: no carriage returns" bash -c "! grep -q $'\r' '$T/pr.err'"
if command -v script >/dev/null; then
    script -qec "'$STYLIZE' --weights '$W' --content '$IMG/chelsea.png' --style '$IMG/coffee.png' --size 32 -n 4 -o '$T/tty.png'" /dev/null >"$T/tty.out" 2>&1
    check "terminal: progress bar redrawn with carriage returns" grep -q $'\r\\[#' "$T/tty.out"
fi
"$STYLIZE" --weights "$W" "${C[@]}" --style "$IMG/coffee.png" --size 32 -n 2 --quiet -o "$T/q.png" 2>"$T/q.err"
check "quiet: nothing on stderr" [ ! -s "$T/q.err" ]

# --- interrupts: SIGINT and SIGTERM stop after the current evaluation, write the
# best image and report, exit 130 / 143.
for sig in INT TERM; do
    rm -f "$T/int.png" "$T/int.json"
    "$STYLIZE" --weights "$W" "${C[@]}" --style "$IMG/coffee.png" --size 96 -n 100000 --tolerance 0 \
        -o "$T/int.png" --report "$T/int.json" --quiet 2>"$T/int.err" &
    pid=$!
    for i in $(seq 1 50); do sleep 0.1; done
    kill -$sig $pid
    wait $pid
    rc=$?
    want=130; [ $sig = TERM ] && want=143
    check "SIG$sig: exit $want ($rc)" [ $rc -eq $want ]
    check "SIG$sig: image written" [ "$(png_size "$T/int.png" 2>/dev/null)" = "96 64" ]
    check "SIG$sig: report says interrupted" json_get "$T/int.json" 'exit(0 if r["status"] == "interrupted" and r["iterations"] > 0 else 1)'
    check "SIG$sig: one line on stderr" [ "$(wc -l <"$T/int.err")" -eq 1 ]
    check "SIG$sig: no temporary file left" bash -c "! ls -a '$T' | grep -q '\.tmp\.'"
done
finish
