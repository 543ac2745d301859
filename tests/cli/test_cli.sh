#!/bin/bash
# End to end through the CLI on a tiny generated network: style transfer and
# texture synthesis write images of the right size, the loss falls by at least
# 10x, --iterations 0 writes the initial image, the report has its fields.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
IMG="$STYLIZE_SRC/examples/images"
"$STYLIZE_WEIGHTS_TOOL" random --out "$T/w.json" --seed 3 --width-divisor 8 >/dev/null || exit 1

# Style transfer from noise: 96 px longest side of a 451x300 photo -> 96x64.
"$STYLIZE" --content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights "$T/w.json" \
    --size 96 --iterations 200 --init noise --seed 1 --alpha 0.1 -o "$T/st.png" --report "$T/st.json" --quiet
check "style transfer exit code" [ $? -eq 0 ]
check "style transfer output size" [ "$(png_size "$T/st.png")" = "96 64" ]
ratio=$(json_get "$T/st.json" 'r["loss_initial"] / r["loss_final"]')
check "style transfer loss falls 10x (ratio $ratio)" $PY -c "import sys; sys.exit(0 if $ratio >= 10 else 1)"
check "report fields" json_get "$T/st.json" 'exit(0 if all(k in r for k in ("iterations","evaluations","seconds","loss_initial","loss_final","history","settings")) else 1)'
check "report history per layer" json_get "$T/st.json" 'exit(0 if r["history"][0]["content"]["relu4_2"] > 0 and r["history"][-1]["style"]["relu5_1"] > 0 else 1)'
check "report iterations" [ "$(json_get "$T/st.json" 'r["iterations"]')" -le 200 ]
check "report settings alpha" [ "$(json_get "$T/st.json" 'r["settings"]["alpha"]')" = "0.1" ]

# Texture synthesis at another output size than the source.
"$STYLIZE" --texture "$IMG/brick.png" --weights "$T/w.json" --size 64 --width 80 --height 48 \
    --iterations 100 -o "$T/tex.png" --report "$T/tex.json" --quiet
check "texture exit code" [ $? -eq 0 ]
check "texture output size" [ "$(png_size "$T/tex.png")" = "80 48" ]
ratio=$(json_get "$T/tex.json" 'r["loss_initial"] / r["loss_final"]')
check "texture loss falls 10x (ratio $ratio)" $PY -c "import sys; sys.exit(0 if $ratio >= 10 else 1)"
check "texture report has no content loss" json_get "$T/tex.json" 'exit(1 if r["history"][0]["content"] else 0)'

# --iterations 0: one evaluation, the initial image written unchanged.
"$STYLIZE" --content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights "$T/w.json" \
    --size 96 --iterations 0 -o "$T/zero.png" --report "$T/zero.json" --quiet
check "iterations 0 exit code" [ $? -eq 0 ]
check "iterations 0 evaluations" [ "$(json_get "$T/zero.json" 'r["evaluations"]')" = "1" ]
check "iterations 0 content loss is 0 at the content" json_get "$T/zero.json" 'exit(0 if r["history"][0]["content"]["relu4_2"] == 0 else 1)'
check "iterations 0 loss_initial == loss_final" json_get "$T/zero.json" 'exit(0 if r["loss_initial"] == r["loss_final"] else 1)'

# JPEG output by extension.
"$STYLIZE" --content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights "$T/w.json" \
    --size 48 --iterations 3 -o "$T/o.jpg" --quiet
check "jpeg output" [ "$(od -An -tx1 -N3 "$T/o.jpg" | tr -d ' ')" = "ffd8ff" ]

# Deterministic: the same run twice gives the same bytes.
for i in 1 2; do
    "$STYLIZE" --texture "$IMG/grass.png" --weights "$T/w.json" --size 48 --iterations 10 --seed 9 -o "$T/d$i.png" --quiet
done
check "deterministic output" cmp -s "$T/d1.png" "$T/d2.png"

# Default beta follows the network's input scale: torchvision's convention
# (scale 1/0.226) gives 1000 * (255 * 0.226)^2; random features give 10.
check "default beta for torchvision's convention" json_get "$T/zero.json" 'exit(0 if abs(r["settings"]["beta"] / (1000 * (255 * (0.229 + 0.224 + 0.225) / 3) ** 2) - 1) < 1e-5 else 1)'
"$STYLIZE" --content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights random:4 \
    --size 32 --iterations 0 -o "$T/rnd.png" --report "$T/rnd.json" --quiet
check "random weights run" [ $? -eq 0 ]
check "random weights: beta 10 and random_features" json_get "$T/rnd.json" 'exit(0 if r["settings"]["beta"] == 10 and r["settings"]["random_features"] else 1)'

# British spellings of two flags are aliases: the same settings, the same image.
alias_run() { # alias_run NAME FLAGS...: a 2-iteration run writing $T/NAME.png and its report
    local name="$1"; shift
    "$STYLIZE" --content "$IMG/chelsea.png" --style "$IMG/coffee.png" --weights "$T/w.json" \
        --size 32 --iterations 2 "$@" -o "$T/$name.png" --report "$T/$name.json" --quiet
}
settings() { json_get "$1" 'json.dumps(r["settings"], sort_keys=True)'; }
alias_run ng_us --normalize-gradients
check "--normalize-gradients run" [ $? -eq 0 ]
alias_run ng_gb --normalise-gradients
check "--normalise-gradients accepted" [ $? -eq 0 ]
check "--normalise-gradients in the report" json_get "$T/ng_gb.json" 'exit(0 if r["settings"]["normalize_gradients"] is True else 1)'
check "--normalise-gradients same settings" [ "$(settings "$T/ng_gb.json")" = "$(settings "$T/ng_us.json")" ]
check "--normalise-gradients same image" cmp -s "$T/ng_gb.png" "$T/ng_us.png"
alias_run pc_us --preserve-colors luminance
check "--preserve-colors run" [ $? -eq 0 ]
alias_run pc_gb --preserve-colours luminance
check "--preserve-colours accepted" [ $? -eq 0 ]
check "--preserve-colours in the report" json_get "$T/pc_gb.json" 'exit(0 if r["settings"]["preserve_colors"] == "luminance" else 1)'
check "--preserve-colours same settings" [ "$(settings "$T/pc_gb.json")" = "$(settings "$T/pc_us.json")" ]
check "--preserve-colours same image" cmp -s "$T/pc_gb.png" "$T/pc_us.png"
check "--help names the aliases" bash -c "'$STYLIZE' --help | grep -q -- '--normalise-gradients' && '$STYLIZE' --help | grep -q -- '--preserve-colours'"

# A texture with --output-dir is written as DIR/<source name>.png.
mkdir -p "$T/texdir"
"$STYLIZE" --texture "$IMG/brick.png" --output-dir "$T/texdir" --weights "$T/w.json" --size 32 \
    --iterations 1 --quiet
check "texture --output-dir: exit 0 and DIR/brick.png" bash -c "[ \$? -eq 0 ] && [ -s '$T/texdir/brick.png' ]"

# --version and --help.
check "--version" bash -c "'$STYLIZE' --version | grep -q '^stylize [0-9]'"
check "--help lists defaults" bash -c "'$STYLIZE' --help | grep -q 'default relu4_2'"
finish
