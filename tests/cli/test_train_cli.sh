#!/bin/bash
# stylize train / apply / info from the command line, on a tiny random
# VGG-19 (widths / 16) and small crops: texture and style models train and
# apply (sizes, counts, seeds, batches, colour control); training data with
# greyscale, 16-bit, tiny and unreadable images, folders and @LIST; bad
# input gives one line, its exit code and no output file; SIGINT/SIGTERM
# leave a loadable checkpoint (exit 130/143) from which a resumed run ends
# bit for bit where an uninterrupted one does; SIGKILL at random moments
# never leaves a truncated model or checkpoint; EXIF orientation 6 turns
# inputs upright in apply and in the Gatys mode.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
IMG="$STYLIZE_SRC/examples/images"
W="$T/w.json"
"$STYLIZE_WEIGHTS_TOOL" random --out "$W" --seed 1 --width-divisor 16 >/dev/null || exit 1
differ() { ! cmp -s "$1" "$2"; }
TR=(--weights "$W" --size 32 --batch 2 --threads 1 --style-layers relu1_1,relu2_1,relu3_1 --content-layers relu2_1)

# --- a texture model -------------------------------------------------------
"$STYLIZE" train --texture "$IMG/brick.png" -o "$T/tex.tnet" "${TR[@]}" --iterations 12 --print-every 4 \
    --report "$T/tex.json" --plot "$T/tex.svg" 2>"$T/err" || bad "texture training failed: $(cat "$T/err")"
check "texture model written" test -s "$T/tex.tnet"
check "progress lines in a pipe" test "$(grep -c '^step ' "$T/err")" -eq 3
check "report: 12 steps" test "$(json_get "$T/tex.json" 'r["steps"]')" = 12
check "report: history" test "$(json_get "$T/tex.json" 'len(r["history"])')" -ge 3
check "report: status ok" test "$(json_get "$T/tex.json" 'r["status"]')" = ok
check "plot written" grep -q '<path' "$T/tex.svg"
"$STYLIZE" info "$T/tex.tnet" >"$T/info" || bad "info failed"
check "info: architecture" grep -q 'pyramid (texture model)' "$T/info"
check "info: provenance" grep -q 'style brick.png (sha256 [0-9a-f]\{64\})' "$T/info"
"$STYLIZE" apply --model "$T/tex.tnet" --width 50 --height 40 -o "$T/t1.png" --quiet || bad "apply texture"
check "texture of the asked size" test "$(png_size "$T/t1.png")" = "50 40"
"$STYLIZE" apply --model "$T/tex.tnet" --width 50 --height 40 -o "$T/t2.png" --quiet
check "same seed, same texture" cmp -s "$T/t1.png" "$T/t2.png"
"$STYLIZE" apply --model "$T/tex.tnet" --width 50 --height 40 --seed 4 -o "$T/t3.png" --quiet
check "another seed, another texture" differ "$T/t1.png" "$T/t3.png"
mkdir -p "$T/samples"
"$STYLIZE" apply --model "$T/tex.tnet" --count 3 --output-dir "$T/samples" --quiet
check "three samples" test "$(ls "$T/samples" | wc -l)" -eq 3
check "sample size defaults to the training size" test "$(png_size "$T/samples/texture_0001.png")" = "32 32"

# --- training data ---------------------------------------------------------
mkdir -p "$T/photos" "$T/badset"
cp "$IMG/chelsea.png" "$IMG/coffee.png" "$IMG/rocket.jpg" "$T/photos/"
"$PY" - "$T" <<'PYEOF' || exit 1
import sys
from PIL import Image
d = sys.argv[1]
Image.open(d + "/photos/chelsea.png").convert("L").save(d + "/photos/grey.png")
Image.open(d + "/photos/coffee.png").convert("L").point(lambda v: v * 256).convert("I;16").save(d + "/photos/deep16.png")
Image.open(d + "/photos/coffee.png").resize((10, 8)).save(d + "/photos/tiny.png")
im = Image.open(d + "/photos/chelsea.png").convert("RGB").resize((60, 40))
ex = im.getexif(); ex[0x0112] = 6
im.save(d + "/rot6.jpg", exif=ex.tobytes(), quality=95)
PYEOF
printf 'not an image\n' >"$T/photos/broken.jpg"
printf 'junk\n' >"$T/badset/a.jpg"
printf 'junk\n' >"$T/badset/b.png"
"$STYLIZE" train --style "$IMG/gravel.png" --content-dir "$T/photos" -o "$T/sty.tnet" "${TR[@]}" --iterations 6 \
    --arch residual --width-mult 0.25 --report "$T/sty.json" 2>"$T/err" || bad "style training failed: $(cat "$T/err")"
check "one warning for the broken file" test "$(grep -c 'skipping.*broken.jpg' "$T/err")" -eq 1
check "report counts the skipped file" test "$(json_get "$T/sty.json" 'r["skipped_files"]')" = 1
ls "$T/photos/"*.png >"$T/list.txt"
"$STYLIZE" train --style "$IMG/gravel.png" --content-dir "@$T/list.txt" -o "$T/sty2.tnet" "${TR[@]}" --iterations 2 \
    --quiet || bad "training from @LIST"
check "model from @LIST" test -s "$T/sty2.tnet"

# --- apply a style model ---------------------------------------------------
mkdir -p "$T/painted"
"$STYLIZE" apply --model "$T/sty.tnet" --content "$IMG/chelsea.png" "$IMG/coffee.png" --output-dir "$T/painted" --quiet
check "batch: one output per content" test "$(ls "$T/painted" | wc -l)" -eq 2
check "a style model keeps the content's size" test "$(png_size "$T/painted/chelsea.png")" = "$(png_size "$IMG/chelsea.png")"
"$STYLIZE" apply --model "$T/sty.tnet" --content "$IMG/chelsea.png" --size 70 --preserve-colors luminance -o "$T/p1.png" --quiet
check "--size sets the longest side" test "$(png_size "$T/p1.png" | cut -d' ' -f1)" = 70
"$STYLIZE" apply --model "$T/sty.tnet" --content "$T/photos" --output-dir "$T/painted" --quiet 2>/dev/null
check "batch with a failure exits 8" test $? -eq 8
"$STYLIZE" apply --model "$T/sty.tnet" --content "$T/rot6.jpg" -o "$T/rot.png" --quiet
check "EXIF orientation 6 honoured in apply" test "$(png_size "$T/rot.png")" = "40 60"
"$STYLIZE" --content "$T/rot6.jpg" --style "$IMG/gravel.png" --weights "$W" --size 60 --iterations 0 -o "$T/rotg.png" --quiet
check "EXIF orientation 6 honoured in the Gatys mode" test "$(png_size "$T/rotg.png")" = "40 60"

# --- bad input: one line, the documented code, no output -------------------
expect() { # expect CODE NEEDLE ARGS...
    local code="$1" needle="$2"; shift 2
    rm -f "$T/o.tnet" "$T/o.png"
    expect_error "$code" "$needle" "$T/o.tnet $T/o.png $T/.o.*" "$@"
}
expect 2 "either --texture" train -o "$T/o.tnet" "${TR[@]}"
expect 2 "either --texture" train --texture "$IMG/brick.png" --style "$IMG/brick.png" -o "$T/o.tnet" "${TR[@]}"
expect 2 "--content-dir" train --style "$IMG/brick.png" -o "$T/o.tnet" "${TR[@]}"
expect 2 "-o MODEL.tnet" train --texture "$IMG/brick.png" "${TR[@]}"
expect 2 "--arch" train --texture "$IMG/brick.png" -o "$T/o.tnet" "${TR[@]}" --arch unet
expect 2 "multiple of 32" train --texture "$IMG/brick.png" -o "$T/o.tnet" "${TR[@]}" --size 48
expect 2 "--batch" train --texture "$IMG/brick.png" -o "$T/o.tnet" "${TR[@]}" --batch 0
expect 2 "unknown option '--bogus'" train --texture "$IMG/brick.png" -o "$T/o.tnet" --bogus
expect 3 "missing.png" train --texture "$T/missing.png" -o "$T/o.tnet" "${TR[@]}"
expect 2 "no usable image among 2 files" train --style "$IMG/brick.png" --content-dir "$T/badset" -o "$T/o.tnet" "${TR[@]}"
expect 4 "--weights" train --texture "$IMG/brick.png" -o "$T/o.tnet" --weights "$T/nothere.json"
head -c 3000 "$T/tex.tnet" >"$T/trunc.tnet"
expect 3 "trunc.tnet" apply --model "$T/trunc.tnet" -o "$T/o.png"
expect 3 "trunc.tnet" info "$T/trunc.tnet"
expect 3 "not a stylize model file" apply --model "$IMG/brick.png" -o "$T/o.png"
expect 2 "takes no content" apply --model "$T/tex.tnet" --content "$IMG/chelsea.png" -o "$T/o.png"
expect 2 "--content IMAGE is required" apply --model "$T/sty.tnet" -o "$T/o.png"
expect 2 "only for texture models" apply --model "$T/sty.tnet" --content "$IMG/chelsea.png" --width 40 -o "$T/o.png"
expect 2 "need --output-dir" apply --model "$T/sty.tnet" --content "$IMG/chelsea.png" "$IMG/coffee.png" -o "$T/o.png"
expect 2 "either -o FILE or --output-dir" apply --model "$T/tex.tnet"
expect 2 "--preserve-colors" apply --model "$T/sty.tnet" --content "$IMG/chelsea.png" --preserve-colors sepia -o "$T/o.png"
cp "$IMG/chelsea.png" "$T/self.png"
expect 2 "overwrite its input" apply --model "$T/sty.tnet" --content "$T/self.png" --output-dir "$T"

# --- signals, checkpoints, resume ------------------------------------------
long=(train --texture "$IMG/brick.png" -o "$T/sig.tnet" "${TR[@]}" --iterations 100000 --quiet)
for sig in INT TERM; do
    rm -f "$T/sig.tnet" "$T/sig.tnet.ckpt"
    "$STYLIZE" "${long[@]}" 2>"$T/sigerr" &
    pid=$!
    for _ in $(seq 50); do sleep 0.1; done
    kill -s $sig $pid
    wait $pid
    rc=$?
    want=$([ $sig = INT ] && echo 130 || echo 143)
    check "SIG$sig exits $want (got $rc)" test $rc -eq "$want"
    check "SIG$sig leaves no model" test ! -e "$T/sig.tnet"
    check "SIG$sig leaves a loadable checkpoint" sh -c "\"$STYLIZE\" info \"$T/sig.tnet.ckpt\" | grep -q 'Adam step'"
done
steps=$("$STYLIZE" info "$T/sig.tnet.ckpt" | sed -n 's/.* \([0-9]*\) of [0-9]* steps.*/\1/p')
"$STYLIZE" train --texture "$IMG/brick.png" -o "$T/res.tnet" --resume "$T/sig.tnet.ckpt" --iterations $((steps + 3)) \
    --threads 1 --weights "$W" --quiet || bad "resume from the signal's checkpoint"
check "resumed run ends at its step count" sh -c "\"$STYLIZE\" info \"$T/res.tnet\" | grep -q ' $((steps + 3)) of $((steps + 3)) steps'"

# N steps straight against N/2, a checkpoint, and a resume: same parameters.
blob() { "$PY" -c 'import sys,struct; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<I",b[12:16])[0]; sys.stdout.buffer.write(b[16+n:])' "$1"; }
"$STYLIZE" train --style "$IMG/gravel.png" --content-dir "$T/photos" -o "$T/full.tnet" "${TR[@]}" --iterations 6 --quiet 2>/dev/null
"$STYLIZE" train --style "$IMG/gravel.png" --content-dir "$T/photos" -o "$T/half.tnet" "${TR[@]}" --iterations 3 \
    --checkpoint-every 3 --checkpoint "$T/half.ckpt" --quiet 2>/dev/null
"$STYLIZE" train --style "$IMG/gravel.png" --content-dir "$T/photos" -o "$T/back.tnet" --resume "$T/half.ckpt" \
    --iterations 6 --weights "$W" --threads 1 --quiet 2>/dev/null || bad "resume"
blob "$T/full.tnet" >"$T/full.bin"; blob "$T/back.tnet" >"$T/back.bin"; blob "$T/half.tnet" >"$T/half.bin"
check "resumed parameters equal the uninterrupted run's" cmp -s "$T/full.bin" "$T/back.bin"
check "and differ from the halfway ones" differ "$T/full.bin" "$T/half.bin"
expect 2 "comes from the checkpoint" train --texture "$IMG/brick.png" -o "$T/o.tnet" --resume "$T/half.ckpt" --arch residual
expect 3 "not a texture model's checkpoint" train --texture "$IMG/brick.png" -o "$T/o.tnet" --resume "$T/half.ckpt" "${TR[@]}"

# SIGKILL at random moments, checkpointing every step: whatever is there loads.
for i in 1 2 3 4 5; do
    rm -f "$T/k.tnet" "$T/k.tnet.ckpt"
    "$STYLIZE" train --texture "$IMG/brick.png" -o "$T/k.tnet" "${TR[@]}" --iterations $((20 + i * 7)) \
        --checkpoint-every 1 --quiet 2>/dev/null &
    pid=$!
    sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
    sleep $((i % 3))
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    for f in "$T/k.tnet" "$T/k.tnet.ckpt"; do
        if [ -e "$f" ]; then
            check "after SIGKILL $i: $(basename "$f") loads" sh -c "\"$STYLIZE\" info \"$f\" >/dev/null"
        fi
    done
done
finish
