#!/bin/bash
# Photorealistic transfer through the CLI (--photo, --photorealism,
# --content-seg/--style-seg, --smooth), on random weights at 64 px (every
# layer 8 times narrower: --weights random:3:8):
# - stage 2 lowers the Matting Laplacian figure (L_m per pixel) well below
#   stage 1's and the plain Gatys result's (10x), while the style loss stays
#   within 2x of the plain run's; its edge SSIM is higher;
# - both smoothing filters lower L_m of the plain result and of stage 1;
# - the preset's translated weights are in the report (alpha = beta = 1,
#   tv 5e-4 r^2, lambda 1e4, style layer weights 400 r^4 / N^2);
# - --photo with --scales and with row strips (--tile-rows) runs, its
#   stage 2 listed as a last scale at the output size; the memory estimate
#   equals the run's own peak with the Laplacian and the smoothing counted;
# - segmentations: anti-aliased edges and another size (resized) work; a
#   content label missing from the style is dropped with one warning line;
#   a photograph given as a segmentation, a missing --style-seg, and
#   --content-seg with --content-mask fail with one line and no output.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
IMG="$STYLIZE_SRC/examples/images"
W="$T/w.json"
"$STYLIZE_WEIGHTS_TOOL" random --out "$W" --seed 2 --width-divisor 8 >/dev/null || exit 1
C=(--content "$IMG/chelsea.png" --style "$IMG/coffee.png" --size 64 --iterations 40 -q)

lm() { json_get "$1" 'r["photorealism"]["matting_per_pixel"]'; }
ssim() { json_get "$1" 'r["photorealism"]["edge_ssim"]'; }
style_final() { json_get "$1" 'r["history"][-1]["style_loss"]'; }
lt() { "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) * float(sys.argv[3]) else 1)" "$@"; }

# --- stage 2 against stage 1 and plain Gatys (random features) -------------
R=(--weights random:3:8)
"$STYLIZE" "${C[@]}" "${R[@]}" -o "$T/plain.png" --report "$T/plain.json"
check "plain run" [ $? -eq 0 ]
"$STYLIZE" "${C[@]}" "${R[@]}" --photo --photorealism 0 --photo-iterations 0 -o "$T/s1.png" --report "$T/s1.json"
check "stage 1 alone" [ $? -eq 0 ]
"$STYLIZE" "${C[@]}" "${R[@]}" --photo -o "$T/photo.png" --report "$T/photo.json" --plot "$T/photo.svg"
check "--photo run" [ $? -eq 0 ]
P=$(lm "$T/plain.json"); S1=$(lm "$T/s1.json"); PH=$(lm "$T/photo.json")
echo "L_m per pixel: plain $P, stage 1 $S1, stage 2 $PH"
check "stage 2 L_m $PH < stage 1's $S1 / 10" lt "$PH" "$S1" 0.1
check "stage 2 L_m $PH < plain's $P / 10" lt "$PH" "$P" 0.1
check "stage 2 keeps the style: $(style_final "$T/photo.json") < 2 x $(style_final "$T/plain.json")" \
    lt "$(style_final "$T/photo.json")" "$(style_final "$T/plain.json")" 2
check "edge SSIM plain $(ssim "$T/plain.json") < stage 2 $(ssim "$T/photo.json")" lt "$(ssim "$T/plain.json")" "$(ssim "$T/photo.json")" 1
check "two passes, the second with the term" json_get "$T/photo.json" \
    'exit(0 if len(r["scales"]) == 2 and r["scales"][1]["history"][-1]["photo_loss"] > 0 and r["scales"][0]["history"][-1]["photo_loss"] == 0 else 1)'
check "random features: lambda 1, stage 2 iterations = --iterations" json_get "$T/photo.json" \
    'exit(0 if r["settings"]["photorealism"] == 1 and r["settings"]["photo_iterations"] == 40 else 1)'
for k in affine guided; do
    "$STYLIZE" "${C[@]}" "${R[@]}" -o "$T/plain_$k.png" --report "$T/plain_$k.json" --smooth "$k"
    check "plain + $k: L_m $(lm "$T/plain_$k.json") < plain's $P / 2" lt "$(lm "$T/plain_$k.json")" "$P" 0.5
    "$STYLIZE" "${C[@]}" "${R[@]}" --photo --photorealism 0 --photo-iterations 0 --smooth "$k" -o "$T/s1_$k.png" --report "$T/s1_$k.json"
    check "stage 1 + $k: L_m $(lm "$T/s1_$k.json") < stage 1's $S1 / 2" lt "$(lm "$T/s1_$k.json")" "$S1" 0.5
done

# --- the preset's weights (a weights file: the translation applies) --------
"$STYLIZE" "${C[@]}" --weights "$W" --iterations 3 --photo -o "$T/tr.png" --report "$T/tr.json"
check "--photo with weights" [ $? -eq 0 ]
check "translated weights" json_get "$T/tr.json" '
exit(0 if (lambda s: s["alpha"] == 1 and s["beta"] == 1 and s["photorealism"] == 1e4
     and abs(s["tv"] - 5e-4 * (256 * 0.226) ** 2) < 1e-3 * s["tv"]
     and abs(s["style_layers"][0]["weight"] - 400 * (256 * 0.226) ** 4 / 8 ** 2) < 1e-2 * s["style_layers"][0]["weight"]
     and len(s["style_layers"]) == 5)(r["settings"]) else 1)'
"$STYLIZE" "${C[@]}" --weights "$W" --iterations 3 --photo --beta 7 --tv 0 --photorealism 50 -o "$T/tr2.png" --report "$T/tr2.json"
check "flags override the preset" json_get "$T/tr2.json" \
    'exit(0 if r["settings"]["beta"] == 7 and r["settings"]["tv"] == 0 and r["settings"]["photorealism"] == 50 and r["settings"]["style_layers"][0]["weight"] == 1 else 1)'

# --- scales, strips, memory ------------------------------------------------
"$STYLIZE" "${C[@]}" "${R[@]}" --iterations 4 --photo --scales 32,64 --smooth affine -o "$T/sc.png" --report "$T/sc.json"
check "--photo --scales: three passes, the last at 64 px" json_get "$T/sc.json" \
    'exit(0 if [max(s["width"], s["height"]) for s in r["scales"]] == [32, 64, 64] else 1)'
check "estimate == peak with the Laplacian and smoothing" json_get "$T/sc.json" \
    'exit(0 if r["memory_estimate"] == r["memory_peak"] and r["memory_peak"] > 0 else 1)'
"$STYLIZE" "${C[@]}" "${R[@]}" --iterations 4 --photo --scales 32,64 --smooth affine --dry-run -o "$T/dry.png" >"$T/dry.out" 2>"$T/dry.err"
check "--dry-run: exit 0, no output image" [ $? -eq 0 -a ! -e "$T/dry.png" ]
check "--dry-run prints the run's estimate" [ "$(cat "$T/dry.out")" = "64x43: estimated peak $(json_get "$T/sc.json" 'r["memory_estimate"] >> 20') MiB, the whole image at once" ]
"$STYLIZE" "${C[@]}" "${R[@]}" --photo --dry-run --max-memory 1M -o "$T/dry.png" >"$T/dry.out" 2>"$T/dry.err"
check "--dry-run over --max-memory: exit 6, one line" [ $? -eq 6 -a "$(wc -l <"$T/dry.err")" -eq 1 ]
"$STYLIZE" "${C[@]}" "${R[@]}" --photo-iterations 3 --dry-run -o "$T/dry.png" >"$T/dry.out" 2>"$T/dry.err"
check "--dry-run of a configuration the run refuses: exit 2, its one line" [ $? -eq 2 -a "$(cat "$T/dry.err")" = "stylize: a second stage needs a photorealism weight > 0" -a ! -s "$T/dry.out" ]
"$STYLIZE" --texture "$IMG/brick.png" "${R[@]}" --size 48 --dry-run -q >"$T/dry.out"
check "--dry-run of a texture: its size" grep -q "^48x48: estimated peak" "$T/dry.out"
# stage 1 of 0 iterations: stage 2 starts from the content in both runs
"$STYLIZE" "${C[@]}" "${R[@]}" --iterations 0 --photo-iterations 3 --photo --tile-rows 16 -o "$T/tile.png" --report "$T/tile.json"
"$STYLIZE" "${C[@]}" "${R[@]}" --iterations 0 --photo-iterations 3 --photo -o "$T/whole.png" --report "$T/whole.json"
check "strips: first stage-2 loss as the whole image's" "$PY" -c '
import json, sys
a, b = (json.load(open(f))["scales"][1]["history"][0]["loss"] for f in sys.argv[1:])
sys.exit(0 if abs(a - b) <= 1e-4 * abs(b) else 1)' "$T/tile.json" "$T/whole.json"

# --- segmentations -----------------------------------------------------------
"$PY" - "$T" <<'PYEOF' || exit 1
import sys
import numpy as np
from PIL import Image, ImageFilter
d = sys.argv[1]
def save(a, name, blur=False):
    im = Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(1.2))  # anti-aliased edges
    im.save(f"{d}/{name}")
h, w = 300, 451  # chelsea's size
c = np.zeros((h, w, 3)); c[:, : w // 2] = (0, 0, 1); c[:, w // 2 :] = (0, 1, 0)
save(c, "cseg.png", blur=True)
c2 = c.copy(); c2[: h // 4, : w // 4] = (1, 0, 0)  # red: not in the style
save(c2, "cseg_red.png")
s = np.zeros((200, 150, 3)); s[:100] = (0, 0, 1); s[100:] = (0, 1, 0)  # another size and aspect
save(s, "sseg.png", blur=True)
PYEOF
SEG=(--content-seg "$T/cseg.png" --style-seg "$T/sseg.png")
"$STYLIZE" "${C[@]}" "${R[@]}" --iterations 4 --photo "${SEG[@]}" -o "$T/seg.png" --report "$T/seg.json" 2>"$T/seg.err"
check "segmented --photo (blurred edges, resized)" [ $? -eq 0 -a -s "$T/seg.png" ]
check "two regions" json_get "$T/seg.json" 'exit(0 if r["settings"]["n_styles"] == 2 else 1)'
"$STYLIZE" "${C[@]}" "${R[@]}" --iterations 2 --content-seg "$T/cseg_red.png" --style-seg "$T/sseg.png" -o "$T/red.png" 2>"$T/red.err"
rc=$?
check "missing label with -q: silent" [ ! -s "$T/red.err" ]
"$STYLIZE" "${C[@]:0:8}" "${R[@]}" --iterations 2 --content-seg "$T/cseg_red.png" --style-seg "$T/sseg.png" -o "$T/red.png" 2>"$T/red.err"
rc=$?
check "missing label: runs" [ $rc -eq 0 -a -s "$T/red.png" ]
check "missing label: one warning line naming it" [ "$(grep -c 'warning: --content-seg: label(s) red not in --style-seg' "$T/red.err")" -eq 1 ]
# expect CODE NEEDLE ARGS...: exit code, one stderr line with NEEDLE, no output
expect() {
    local code="$1" needle="$2"; shift 2
    rm -f "$T/bad.png"
    expect_error "$code" "$needle" "$T/bad.png $T/.bad.png*" "${C[@]}" "${R[@]}" --iterations 1 -o "$T/bad.png" "$@"
}
expect 3 "--content-seg: '$IMG/chelsea.png' is not a colour-coded segmentation" --content-seg "$IMG/chelsea.png" --style-seg "$T/sseg.png"
expect 3 "--style-seg" --content-seg "$T/cseg.png" --style-seg "$IMG/coffee.png"
expect 2 "give both --content-seg and --style-seg" --content-seg "$T/cseg.png"
expect 2 "--content-seg: needs one content, one style image and no --content-mask" "${SEG[@]}" --content-mask "$T/cseg.png"
expect 2 "--smooth" --smooth box
expect 2 "second stage needs a photorealism weight" --photo-iterations 5
finish
