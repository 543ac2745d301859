#!/bin/bash
# Bad input matrix: every case checks the exit code, that stderr is exactly one
# line naming the culprit, and that no output file appeared.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
IMG="$STYLIZE_SRC/examples/images"
W="$T/w.json"
"$STYLIZE_WEIGHTS_TOOL" random --out "$W" --seed 1 --width-divisor 16 >/dev/null || exit 1
OUT="$T/out.png"

# expect CODE NEEDLE ARGS... : runs stylize, checks code, one stderr line containing NEEDLE, no $OUT.
expect() {
    local code="$1" needle="$2"; shift 2
    rm -f "$OUT"
    expect_error "$code" "$needle" "$T/out.png* $T/.out.png.tmp*" "$@"
}
# works ARGS... : runs stylize on a 1-iteration job, expects success and an output.
works() {
    rm -f "$OUT"
    if "$STYLIZE" "$@" --weights "$W" --size 32 --iterations 1 -o "$OUT" --quiet 2>"$T/stderr" && [ -s "$OUT" ]; then ok; else bad "should work: stylize $* :: $(cat "$T/stderr")"; fi
}
S=(--style "$IMG/coffee.png")
C=(--content "$IMG/chelsea.png")
base=("${C[@]}" "${S[@]}" --weights "$W" --size 32 --iterations 1 -o "$OUT")

# --- images ---------------------------------------------------------------
: >"$T/empty.png"
head -c 2000 "$IMG/chelsea.png" >"$T/trunc.png"
head -c 3000 "$IMG/rocket.jpg" >"$T/trunc.jpg"
{ head -c 400 "$IMG/rocket.jpg"; head -c 20000 /dev/urandom; } >"$T/corrupt.jpg"
printf 'not an image at all\n' >"$T/text.png"
mkdir -p "$T/dir.png"
# A PNG header claiming 100000 x 100000 pixels.
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00\x00\x00\x00\x00' >"$T/huge.png"
expect 3 "missing.png" --content "$T/missing.png" "${S[@]}" --weights "$W" -o "$OUT"
expect 3 "empty.png" --content "$T/empty.png" "${S[@]}" --weights "$W" -o "$OUT"
expect 3 "trunc.png" --content "$T/trunc.png" "${S[@]}" --weights "$W" -o "$OUT"
expect 3 "trunc.jpg" --content "$T/trunc.jpg" "${S[@]}" --weights "$W" -o "$OUT"
expect 3 "corrupt.jpg" "${C[@]}" --style "$T/corrupt.jpg" --weights "$W" -o "$OUT"
expect 3 "text.png" "${C[@]}" --style "$T/text.png" --weights "$W" -o "$OUT"
expect 3 "dir.png" "${C[@]}" --style "$T/dir.png" --weights "$W" -o "$OUT"
expect 3 "huge.png" "${C[@]}" --style "$T/huge.png" --weights "$W" -o "$OUT"
expect 3 "huge.png" --texture "$T/huge.png" --weights "$W" -o "$OUT"
expect 3 "missing-init.png" "${base[@]}" --init "$T/missing-init.png"
expect 3 "missing.png" --texture "$T/missing.png" --weights "$W" -o "$OUT"

# Grey, grey+alpha, RGBA, 16-bit and 1x1 PNGs work.
"$PY" - "$T" <<'PYEOF'
import struct, sys, zlib
d = sys.argv[1]
def png(path, w, h, colour, depth, rows):
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xffffffff)
    raw = b"".join(b"\x00" + r for r in rows)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
w, h = 40, 30
png(d + "/grey.png", w, h, 0, 8, [bytes((x * 6 + y) % 256 for x in range(w)) for y in range(h)])
png(d + "/greyalpha.png", w, h, 4, 8, [bytes(v for x in range(w) for v in ((x * 6) % 256, 200)) for y in range(h)])
png(d + "/rgba.png", w, h, 6, 8, [bytes(v for x in range(w) for v in (x * 6 % 256, y * 8 % 256, 100, 128)) for y in range(h)])
png(d + "/rgb16.png", w, h, 2, 16, [b"".join(struct.pack(">HHH", x * 1600, y * 2000, 30000) for x in range(w)) for y in range(h)])
png(d + "/one.png", 1, 1, 2, 8, [bytes((10, 200, 30))])
PYEOF
works --content "$T/grey.png" "${S[@]}"
works --content "$T/greyalpha.png" "${S[@]}"
works "${C[@]}" --style "$T/rgba.png"
works "${C[@]}" --style "$T/rgb16.png"
works --content "$T/one.png" "${S[@]}"
works --texture "$T/rgb16.png"

# --- weights --------------------------------------------------------------
printf '{ "format": "stylize-weights", ' >"$T/badjson.json"
sed 's/"conv1_2"/"conv1_9"/' "$W" >"$T/badname.json"
"$PY" - "$W" "$T" <<'PYEOF'
import json, sys, shutil, struct
w, d = sys.argv[1], sys.argv[2]
m = json.load(open(w))
blob = w[:-5] + ".bin"
shutil.copy(blob, d + "/w_ok.bin")
s = json.loads(json.dumps(m)); s["layers"][1]["shape"] = [5, 4, 3, 3]; s["blob"] = "w_ok.bin"; json.dump(s, open(d + "/wshape.json", "w"))
s = json.loads(json.dumps(m)); del s["input"]; s["blob"] = "w_ok.bin"; json.dump(s, open(d + "/wnoinput.json", "w"))
s = json.loads(json.dumps(m)); s["blob"] = "w_trunc.bin"; json.dump(s, open(d + "/wtrunc.json", "w"))
data = open(blob, "rb").read()
open(d + "/w_trunc.bin", "wb").write(data[: len(data) // 2])
s = json.loads(json.dumps(m)); s["blob"] = "w_nan.bin"; json.dump(s, open(d + "/wnan.json", "w"))
off = m["layers"][3]["weight_offset"]
open(d + "/w_nan.bin", "wb").write(data[:off] + struct.pack("<f", float("nan")) + data[off + 4:])
s = json.loads(json.dumps(m)); s["blob"] = "w_missing.bin"; json.dump(s, open(d + "/wmissing.json", "w"))
PYEOF
expect 4 "badjson.json" "${C[@]}" "${S[@]}" --weights "$T/badjson.json" -o "$OUT"
expect 4 "badname.json" "${C[@]}" "${S[@]}" --weights "$T/badname.json" -o "$OUT"
expect 4 "wshape.json" "${C[@]}" "${S[@]}" --weights "$T/wshape.json" -o "$OUT"
expect 4 "wnoinput.json" "${C[@]}" "${S[@]}" --weights "$T/wnoinput.json" -o "$OUT"
expect 4 "w_trunc.bin" "${C[@]}" "${S[@]}" --weights "$T/wtrunc.json" -o "$OUT"
expect 4 "conv2_2" "${C[@]}" "${S[@]}" --weights "$T/wnan.json" -o "$OUT"
expect 4 "w_missing.bin" "${C[@]}" "${S[@]}" --weights "$T/wmissing.json" -o "$OUT"
expect 4 "nothere.json" "${C[@]}" "${S[@]}" --weights "$T/nothere.json" -o "$OUT"
expect 4 "dir.png" "${C[@]}" "${S[@]}" --weights "$T/dir.png" -o "$OUT"
expect 2 "random" "${C[@]}" "${S[@]}" --weights random:xyz -o "$OUT"
expect 2 "width divisor" "${C[@]}" "${S[@]}" --weights random:1:0 -o "$OUT"
expect 2 "width divisor" "${C[@]}" "${S[@]}" --weights random:1:65 -o "$OUT"
expect 2 "width divisor" "${C[@]}" "${S[@]}" --weights random:1:4x -o "$OUT"
# No weights anywhere: the error names the command that gets them.
(cd "$T" && env -u STYLIZE_WEIGHTS "$STYLIZE" "${C[@]}" "${S[@]}" -o "$OUT" 2>"$T/stderr"); rc=$?
check "no weights: exit 4" [ $rc -eq 4 ]
check "no weights: names scripts/get-weights.sh" grep -q "scripts/get-weights.sh" "$T/stderr"

# --- flags ----------------------------------------------------------------
expect 2 "--frobnicate" "${base[@]}" --frobnicate
expect 2 "-Z" "${base[@]}" -Z
expect 2 "--alpha" "${base[@]}" --alpha
expect 2 "--alpha" "${base[@]}" --alpha -1
expect 2 "--alpha" "${base[@]}" --alpha nan
expect 2 "--alpha" "${base[@]}" --alpha 1e999
expect 2 "--beta" "${base[@]}" --beta abc
expect 2 "--tv" "${base[@]}" --tv -0.5
expect 2 "--size" "${base[@]}" --size 0
expect 2 "--size" "${base[@]}" --size -5
expect 2 "--size" "${base[@]}" --size 12x
expect 2 "--iterations" "${base[@]}" --iterations -1
expect 2 "--iterations" "${base[@]}" --iterations 3.5
expect 2 "--seed" "${base[@]}" --seed -3
expect 2 "--threads" "${base[@]}" --threads 0
expect 2 "--style-scale" "${base[@]}" --style-scale 0
expect 2 "--jpeg-quality" "${base[@]}" --jpeg-quality 101
expect 2 "--learning-rate" "${base[@]}" --learning-rate 0
expect 2 "--pool" "${base[@]}" --pool median
expect 2 "--optimizer" "${base[@]}" --optimizer sgd
expect 2 "--preserve-colors" "${base[@]}" --preserve-colors hue
expect 2 "--preserve-colours" "${base[@]}" --preserve-colours hue
expect 2 "--preserve-colours" "${base[@]}" --preserve-colours
expect 2 "--normalise-gradients=1" "${base[@]}" --normalise-gradients=1
expect 2 "tiling" "${base[@]}" --tile-rows 16 --normalise-gradients
expect 2 "relu9_1" "${base[@]}" --style-layers relu1_1,relu9_1
expect 2 "bogus" "${base[@]}" --content-layers bogus
expect 2 "relu1_1" "${base[@]}" --style-layers relu1_1:-2
expect 2 "--style-blend" "${base[@]}" --style-blend 1,2
expect 2 "--style-blend" "${C[@]}" --style "$IMG/coffee.png,$IMG/rocket.jpg" --style-blend 0,0 --weights "$W" -o "$OUT"
expect 2 "--scales" "${base[@]}" --scales 512,256
expect 2 "--texture" --texture "$IMG/brick.png" "${C[@]}" --weights "$W" -o "$OUT"
expect 2 "--content" "${C[@]}" --weights "$W" -o "$OUT"
expect 2 "--width" "${base[@]}" --width 64
expect 2 "--output" "${C[@]}" "${S[@]}" --weights "$W" -o "$T/out.gif"
expect 2 "unexpected argument" "${S[@]}" --weights "$W" -o "$OUT" stray.png --texture "$IMG/brick.png"

# --- memory limits: the estimate is checked before anything is allocated.
expect 6 "--max-memory" "${base[@]}" --max-memory 1M
expect 2 "--max-memory" "${base[@]}" --max-memory lots
expect 2 "--max-memory" "${base[@]}" --max-memory -5G
expect 2 "--tile-rows" "${base[@]}" --tile-rows -3
expect 2 "--tile-rows" "${base[@]}" --tile-rows lots
expect 2 "tiling" "${base[@]}" --tile-rows 16 --normalize-gradients
expect 6 "limit" --texture "$IMG/brick.png" --weights "$W" --size 16384 -o "$OUT" --max-memory 4G
expect 6 "--max-memory" --texture "$IMG/brick.png" --weights random --size 4096 -o "$OUT" --max-memory 2G -q

# --- outputs --------------------------------------------------------------
expect 5 "nodir" "${C[@]}" "${S[@]}" --weights "$W" -o "$T/nodir/out.png"
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
    expect 5 "ro" "${C[@]}" "${S[@]}" --weights "$W" -o "$T/ro/out.png"
fi
cp "$IMG/chelsea.png" "$T/in.png"
before=$(md5sum <"$T/in.png")
expect 2 "in.png" --content "$T/in.png" "${S[@]}" --weights "$W" -o "$T/in.png"
check "input not overwritten" [ "$(md5sum <"$T/in.png")" = "$before" ]
expect 5 "nodir" "${base[@]}" --report "$T/nodir/r.json"
expect 5 "notadir" "${S[@]}" "${C[@]}" "$IMG/coffee.png" --weights "$W" --output-dir "$T/notadir"

# --help goes to stdout with 0; usage errors to stderr with 2.
"$STYLIZE" --help >"$T/h" 2>"$T/e"; rc=$?
check "--help exit 0" [ $rc -eq 0 ]
check "--help on stdout" [ -s "$T/h" ]
check "--help nothing on stderr" [ ! -s "$T/e" ]
# A batch written into the folder it reads would overwrite its own inputs.
mkdir -p "$T/own"
cp "$IMG/chelsea.png" "$IMG/coffee.png" "$T/own/"
sum_before=$(cat "$T/own"/*.png | md5sum)
expect 2 "is one of the inputs" --content "$T/own" "${S[@]}" --output-dir "$T/own" --weights "$W" --size 32 --iterations 1
check "batch into its own folder: inputs untouched" [ "$(cat "$T/own"/*.png | md5sum)" = "$sum_before" ]
expect 2 "is one of the inputs" --texture "$T/own/coffee.png" --output-dir "$T/own" --weights "$W" --size 32 --iterations 1

finish
