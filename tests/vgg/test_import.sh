#!/usr/bin/env bash
# Importers end to end: tests/fixtures/make_fixtures.py writes small
# VGG-19-shaped torch checkpoints (zip and legacy, plain, with storage views,
# wrapped) and caffemodels (V1 and current) with torch; each is imported with
# `stylize-weights import` and every tensor is compared exactly with the
# expected values. Files that must be rejected, truncated files and
# scripts/get-weights.sh (offline --from, a download over loopback, no
# network) are checked too.
#
# Needs Debian's /usr/bin/python3 with python3-torch, python3-protobuf and
# python3-numpy; skips (exit 77) without them. The fixtures stay in
# $STYLIZE_TEST_TMP/fixtures, where tests/vgg/test_import_hostile.c also uses
# them.
set -u

PY=/usr/bin/python3
TOOL=${STYLIZE_WEIGHTS_TOOL:?STYLIZE_WEIGHTS_TOOL is not set}
SRC=${STYLIZE_SRC:?STYLIZE_SRC is not set}
TMP=${STYLIZE_TEST_TMP:?STYLIZE_TEST_TMP is not set}

if ! [ -x "$PY" ] || ! "$PY" -c 'import torch' > /dev/null 2>&1; then
    echo "SKIP: python3-torch not found (/usr/bin/python3 cannot import torch; apt-get install python3-torch)"
    exit 77
fi
for mod in numpy google.protobuf; do
    if ! "$PY" -c "import $mod" > /dev/null 2>&1; then
        echo "SKIP: /usr/bin/python3 cannot import $mod (apt-get install python3-numpy python3-protobuf)"
        exit 77
    fi
done

passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# Fresh scratch directories; the fixtures are written beside the old ones and
# swapped in, since test_import_hostile may be reading them concurrently.
mkdir -p "$TMP" || exit 1
for d in out bad trunc gw www fixtures.new fixtures.old; do rm -rf "${TMP:?}/$d"; done
mkdir -p "$TMP/out" "$TMP/bad" "$TMP/trunc" || exit 1
FX="$TMP/fixtures"
if ! "$PY" "$SRC/tests/fixtures/make_fixtures.py" "$TMP/fixtures.new"; then
    echo "FAIL: make_fixtures.py failed"
    exit 1
fi
[ -d "$FX" ] && mv "$FX" "$TMP/fixtures.old"
mv "$TMP/fixtures.new" "$FX" || exit 1
rm -rf "$TMP/fixtures.old"

# compare MANIFEST FIXTURE [SOURCE_NAME]: the imported manifest and blob hold
# exactly expected.bin's values, with the shapes and input convention of the
# fixture; the source names SOURCE_NAME (default: the fixture's file name).
compare() {
    "$PY" - "$1" "$FX" "$2" "${3:-$2}" <<'EOF'
import json, os, sys
manifest, fx, fixture, source_name = sys.argv[1:]
meta = json.load(open(os.path.join(fx, "fixtures.json")))
entry = next(g for g in meta["good"] if g["file"] == fixture)
m = json.load(open(manifest))
blob = open(os.path.join(os.path.dirname(manifest), m["blob"]), "rb").read()
expected = open(os.path.join(fx, meta["expected"]), "rb").read()
errors = []
if m.get("arch") != "vgg19":
    errors.append("arch %r" % m.get("arch"))
if source_name not in m.get("source", ""):
    errors.append("source %r does not name %s" % (m.get("source"), source_name))
order = "BGR" if entry["convention"] == "caffe" else "RGB"
if m["input"]["channel_order"] != order:
    errors.append("channel order %s, expected %s" % (m["input"]["channel_order"], order))
scale = 255 if entry["convention"] == "caffe" else 1
if abs(m["input"]["pixel_scale"] - scale) > 1e-6:
    errors.append("pixel_scale %s, expected %s" % (m["input"]["pixel_scale"], scale))
layers = m["layers"]
if [l["name"] for l in layers] != meta["conv_names"]:
    errors.append("layer names %s" % [l["name"] for l in layers])
off, cin = 0, 3
for l, width in zip(layers, meta["widths"]):
    if l["shape"] != [width, cin, 3, 3]:
        errors.append("%s shape %s, expected %s" % (l["name"], l["shape"], [width, cin, 3, 3]))
    nw, nb = width * cin * 9 * 4, width * 4
    if blob[l["weight_offset"]:l["weight_offset"] + nw] != expected[off:off + nw]:
        errors.append("%s weight differs" % l["name"])
    off += nw
    if blob[l["bias_offset"]:l["bias_offset"] + nb] != expected[off:off + nb]:
        errors.append("%s bias differs" % l["name"])
    off += nb
    cin = width
if off != len(expected):
    errors.append("expected.bin has %d bytes, the layers %d" % (len(expected), off))
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF
}

# The fixture lists, from fixtures.json.
mapfile -t GOOD < <("$PY" -c 'import json,sys; [print(g["file"]) for g in json.load(open(sys.argv[1]))["good"]]' "$FX/fixtures.json")
mapfile -t BAD < <("$PY" -c 'import json,sys; [print(b["file"] + "\t" + b["message"]) for b in json.load(open(sys.argv[1]))["bad"]]' "$FX/fixtures.json")
[ "${#GOOD[@]}" -ge 8 ] && ok || fail "fixtures.json lists ${#GOOD[@]} good fixtures"

# 1. Every good fixture imports, exactly.
for f in "${GOOD[@]}"; do
    name=${f%.*}
    if "$TOOL" import "$FX/$f" --out "$TMP/out/$name.json" 2> "$TMP/out/$name.err"; then
        if compare "$TMP/out/$name.json" "$f"; then ok; else fail "$f: imported values or metadata differ"; fi
    else
        fail "$f: import failed: $(cat "$TMP/out/$name.err")"
    fi
done

# 1b. The features of an image through each imported network equal what torch
# computed from the source file in its framework's convention (max pooling;
# relu1_1 .. relu5_1), to float32 rounding.
for f in "${GOOD[@]}"; do
    name=${f%.*}
    [ -s "$TMP/out/$name.json" ] || continue
    feat=$("$PY" -c 'import json,sys; print([g for g in json.load(open(sys.argv[1]))["good"] if g["file"] == sys.argv[2]][0]["features"])' "$FX/fixtures.json" "$f")
    if ! "$STYLIZE_DUMP_FEATURES" "$TMP/out/$name.json" "$FX/image.ppm" max "$TMP/out/$name.feat" \
        relu1_1 relu2_1 relu3_1 relu4_1 relu5_1 2> "$TMP/out/$name.ferr"; then
        fail "$f: features could not be computed: $(cat "$TMP/out/$name.ferr")"
        continue
    fi
    if "$PY" - "$FX" "$feat" "$TMP/out/$name.feat" <<'PYEOF'
import json, os, sys
import numpy as np
fx, feat, ours = sys.argv[1:4]
meta = json.load(open(os.path.join(fx, "fixtures.json")))["features"][feat]
ref = np.fromfile(os.path.join(fx, feat), dtype="<f4")
got = np.fromfile(ours, dtype="<f4")
off = 0
for layer in meta:
    n = int(np.prod(layer["shape"]))
    r = ref[layer["offset"] // 4: layer["offset"] // 4 + n].astype(np.float64)
    g = got[off: off + n].astype(np.float64)
    off += n
    err = np.abs(r - g).max() / max(np.abs(r).max(), 1e-12)
    if not err < 1e-4:
        print("%s %s: max relative error %g" % (feat, layer["name"], err))
        sys.exit(1)
sys.exit(0 if off == got.size else 1)
PYEOF
    then ok; else fail "$f: features differ from torch's"; fi
done

# Explicit formats: "torch" accepts either torch format; a mismatch fails.
"$TOOL" import "$FX/torch_legacy.pth" --out "$TMP/out/fmt1.json" --format torch 2> /dev/null && ok ||
    fail "--format torch on a legacy checkpoint"
"$TOOL" import "$FX/caffe_v1.caffemodel" --out "$TMP/out/fmt2.json" --format caffe 2> /dev/null && ok ||
    fail "--format caffe on a caffemodel"
if "$TOOL" import "$FX/torch_zip.pth" --out "$TMP/out/fmt3.json" --format caffe 2> /dev/null; then
    fail "--format caffe accepted a torch checkpoint"
else ok; fi
if "$TOOL" import "$FX/caffe_layer.caffemodel" --out "$TMP/out/fmt4.json" --format torch 2> /dev/null; then
    fail "--format torch accepted a caffemodel"
else ok; fi

# rejected: FILE OUT_BASE [WORD]: non-zero exit, exactly one stderr line that
# names FILE (and contains WORD), and no output files.
rejected() {
    local file=$1 out=$2 word=${3:-}
    rm -f "$out.json" "$out.bin" "$out.err"
    if "$TOOL" import "$file" --out "$out.json" 2> "$out.err"; then
        fail "$file: imported, should have been rejected"
        return
    fi
    local lines
    lines=$(wc -l < "$out.err")
    if [ "$lines" -ne 1 ]; then
        fail "$file: $lines stderr lines: $(cat "$out.err")"
    elif ! grep -qF "$file" "$out.err"; then
        fail "$file: message does not name the file: $(cat "$out.err")"
    elif [ -n "$word" ] && ! grep -qF -- "$word" "$out.err"; then
        fail "$file: message lacks '$word': $(cat "$out.err")"
    elif [ -e "$out.json" ] || [ -e "$out.bin" ] || ls "$(dirname "$out")" | grep -q '\.tmp'; then
        fail "$file: output written although rejected"
    else
        ok
    fi
}

# 2. Files that are not VGG-19 float32 state dicts.
for entry in "${BAD[@]}"; do
    f=${entry%%$'\t'*}
    word=${entry#*$'\t'}
    rejected "$FX/$f" "$TMP/bad/${f%.*}" "$word"
done
printf 'not a checkpoint\n' > "$TMP/bad/text.pth"
rejected "$TMP/bad/text.pth" "$TMP/bad/text"
: > "$TMP/bad/empty.pth"
rejected "$TMP/bad/empty.pth" "$TMP/bad/empty" "empty"
rejected "$TMP/bad/missing.pth" "$TMP/bad/missing"

# 3. Truncated copies of every good fixture.
for f in "${GOOD[@]}"; do
    size=$(stat -c %s "$FX/$f")
    for len in 1 100 $((size / 3)) $((size / 2)) $((size - 100)) $((size - 1)); do
        t="$TMP/trunc/${f%.*}-$len.${f##*.}"
        head -c "$len" "$FX/$f" > "$t"
        rejected "$t" "$TMP/trunc/out-${f%.*}-$len"
    done
done

# 4. scripts/get-weights.sh: offline import of a local file.
GW="$SRC/scripts/get-weights.sh"
if bash "$GW" --from "$FX/torch_legacy.pth" --out "$TMP/gw/vgg19.json" --tool "$TOOL" > "$TMP/gw.log" 2>&1 &&
    compare "$TMP/gw/vgg19.json" torch_legacy.pth; then
    ok
else
    fail "get-weights.sh --from: $(cat "$TMP/gw.log")"
fi
if bash "$GW" --from "$FX/caffe_layer.caffemodel" --out "$TMP/gw/caffe.json" --tool "$TOOL" > "$TMP/gw.log" 2>&1 &&
    compare "$TMP/gw/caffe.json" caffe_layer.caffemodel; then
    ok
else
    fail "get-weights.sh --from (caffe, detected): $(cat "$TMP/gw.log")"
fi
# Usage errors exit 2.
bash "$GW" --source nonesuch --tool "$TOOL" > /dev/null 2>&1
[ $? -eq 2 ] && ok || fail "get-weights.sh --source nonesuch does not exit 2"
# No network: one clear stderr line, non-zero exit, nothing written.
if command -v curl > /dev/null 2>&1 || command -v wget > /dev/null 2>&1; then
    if bash "$GW" --url http://127.0.0.1:9/vgg19-dcbb9e9d.pth --download-dir "$TMP/gw/dl" \
        --out "$TMP/gw/nonet.json" --tool "$TOOL" > /dev/null 2> "$TMP/gw.err"; then
        fail "get-weights.sh succeeded without a server"
    elif [ "$(wc -l < "$TMP/gw.err")" -eq 1 ] && grep -q "no network" "$TMP/gw.err" &&
        ! [ -e "$TMP/gw/nonet.json" ]; then
        ok
    else
        fail "get-weights.sh without network: $(cat "$TMP/gw.err")"
    fi
fi

# 5. get-weights.sh downloading over loopback from a local HTTP server: the
# torchvision file-name hash check rejects the fixture; --sha256 accepts it.
if command -v curl > /dev/null 2>&1; then
    mkdir -p "$TMP/www"
    cp "$FX/torch_zip.pth" "$TMP/www/vgg19-dcbb9e9d.pth"
    "$PY" -u -m http.server 0 --bind 127.0.0.1 --directory "$TMP/www" > "$TMP/www.log" 2>&1 &
    server=$!
    trap 'kill "$server" 2> /dev/null' EXIT
    port=""
    for _ in $(seq 50); do
        port=$(sed -n 's/.*port \([0-9][0-9]*\).*/\1/p' "$TMP/www.log" | head -1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        fail "local HTTP server did not start: $(cat "$TMP/www.log")"
    else
        url="http://127.0.0.1:$port/vgg19-dcbb9e9d.pth"
        if bash "$GW" --url "$url" --download-dir "$TMP/gw/dl" --out "$TMP/gw/bad.json" \
            --tool "$TOOL" > /dev/null 2> "$TMP/gw.err"; then
            fail "get-weights.sh accepted a file whose SHA-256 does not start with dcbb9e9d"
        elif grep -q dcbb9e9d "$TMP/gw.err" && ! [ -e "$TMP/gw/dl/vgg19-dcbb9e9d.pth" ] &&
            ! [ -e "$TMP/gw/bad.json" ]; then
            ok
        else
            fail "get-weights.sh hash mismatch: $(cat "$TMP/gw.err")"
        fi
        sum=$(sha256sum "$FX/torch_zip.pth" | cut -d' ' -f1)
        if bash "$GW" --url "$url" --download-dir "$TMP/gw/dl" --out "$TMP/gw/dl.json" --sha256 "$sum" \
            --tool "$TOOL" --delete-download > "$TMP/gw.log" 2>&1 &&
            compare "$TMP/gw/dl.json" torch_zip.pth vgg19-dcbb9e9d.pth && ! [ -e "$TMP/gw/dl/vgg19-dcbb9e9d.pth" ]; then
            ok
        else
            fail "get-weights.sh download with --sha256: $(cat "$TMP/gw.log")"
        fi
    fi
    kill "$server" 2> /dev/null
    wait "$server" 2> /dev/null
    trap - EXIT
fi

echo "import: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
