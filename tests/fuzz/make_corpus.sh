#!/bin/bash
# Writes small seed corpora for the fuzz harnesses (tests/fuzz/fuzz_*.c):
#
#     tests/fuzz/make_corpus.sh OUTDIR [MAKE_SEEDS]
#
# OUTDIR receives one directory per harness: image/, manifest/, blob/,
# torch/, caffe/, flags/, tnet/. MAKE_SEEDS is a built tests/fuzz/make_seeds.c
# (scripts/fuzz.sh passes its own); without it one is compiled here with cc.
# Python seeds use $PYTHON (default /usr/bin/python3, Debian's, which has
# PIL, torch and protobuf); those that need a missing module are skipped
# with a note. Everything is deterministic. The corpora are not committed
# (.gitignore: /tests/fuzz/corpus/).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUTDIR [MAKE_SEEDS]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
seeds_bin=${2:-}
PYTHON=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"/{image,manifest,blob,torch,caffe,flags,tnet}
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/stylize-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

note() { echo "make_corpus: $*" >&2; }

# ---- seeds written by the library itself (manifest, blob, PNG, JPEG, tnet) -
if [ -z "$seeds_bin" ]; then
    seeds_bin=$work/make_seeds
    # shellcheck disable=SC2046
    cc -std=c11 -O1 -D_POSIX_C_SOURCE=200809L -I"$root/include" -I"$root/src" \
        $(pkg-config --cflags openblas libcjson stb) \
        $(find "$root/src" -name '*.c' -not -path "$root/src/cli/*") "$root/tests/fuzz/make_seeds.c" -o "$seeds_bin" \
        $(pkg-config --libs openblas libcjson stb) -lm -lpthread
fi
"$seeds_bin" "$work"
cp "$work/w.json" "$out/manifest/valid.json"
cp "$work/w.bin" "$out/blob/valid.bin"
cp "$work/stylize.png" "$work/stylize.jpg" "$out/image/"

# Manifest variants: the same network with other (valid) conventions and
# without the optional source field.
if "$PYTHON" -c 'import json' 2>/dev/null; then
    "$PYTHON" - "$work/w.json" "$out/manifest" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
d = sys.argv[2]
c = dict(m)
c["input"] = {"channel_order": "BGR", "pixel_scale": 255,
              "mean": [103.939, 116.779, 123.68], "std": [1, 1, 1]}
json.dump(c, open(d + "/caffe_convention.json", "w"), indent=1)
c = dict(m)
c.pop("source", None)
json.dump(c, open(d + "/no_source.json", "w"), separators=(",", ":"))
EOF
fi
# A blob that is valid apart from one non-finite value, and a truncated one.
cp "$work/w.bin" "$out/blob/nan.bin"
printf '\x00\x00\xc0\x7f' | dd of="$out/blob/nan.bin" bs=1 seek=400 conv=notrunc status=none
head -c 19996 "$work/w.bin" > "$out/blob/truncated.bin"

# Model files (.tnet): the tiny generators make_seeds saved (pyramid and
# residual, texture and style, model and checkpoint), one cut short in its
# blob, one cut inside its header, and a bare prefix (magic, version 1,
# header length 2) with the smallest header.
cp "$work"/tnet-*.tnet "$out/tnet/"
tnet=$work/tnet-pyramid-texture-model.tnet
head -c "$(($(wc -c < "$tnet") - 6))" "$tnet" > "$out/tnet/truncated_blob.tnet"
head -c 200 "$tnet" > "$out/tnet/truncated_header.tnet"
printf 'STYLTNET\x01\x00\x00\x00\x02\x00\x00\x00{}' > "$out/tnet/empty_header.tnet"

# ---- images (PIL, plus hand-made PNG 16-bit, PGM 16-bit, PSD, HDR) ----------
if "$PYTHON" -c 'import PIL' 2>/dev/null; then
    "$PYTHON" - "$out/image" <<'EOF'
import struct, sys, zlib
from PIL import Image

d = sys.argv[1]
W, H = 13, 7

def rgb():
    im = Image.new("RGB", (W, H))
    im.putdata([((x * 19) % 256, (y * 37) % 256, ((x ^ y) * 23) % 256)
                for y in range(H) for x in range(W)])
    return im

im = rgb()
im.save(d + "/rgb.png")
im.convert("RGBA").save(d + "/rgba.png")
im.convert("L").save(d + "/grey.png")
im.convert("LA").save(d + "/grey_alpha.png")
im.convert("P", palette=Image.ADAPTIVE, colors=16).save(d + "/palette.png")
im.convert("1").save(d + "/mono.png")
im.save(d + "/baseline.jpg", quality=80)
im.save(d + "/progressive.jpg", quality=80, progressive=True)
im.save(d + "/subsampled.jpg", quality=60, subsampling=2)
im.convert("L").save(d + "/grey.jpg", quality=80)
im.save(d + "/rgb.bmp")
im.convert("P", palette=Image.ADAPTIVE, colors=16).save(d + "/palette.bmp")
im.convert("1").save(d + "/mono.bmp")
im.convert("RGBA").save(d + "/rgba.bmp")
im.convert("P", palette=Image.ADAPTIVE, colors=16).save(d + "/image.gif")
im.save(d + "/rgb.tga")
im.save(d + "/rle.tga", compression="tga_rle")
im.convert("L").save(d + "/grey.tga")
im.save(d + "/image.ppm")
im.convert("L").save(d + "/image.pgm")
frames = [rgb().convert("P", palette=Image.ADAPTIVE, colors=8),
          rgb().transpose(Image.FLIP_LEFT_RIGHT).convert("P", palette=Image.ADAPTIVE, colors=8)]
frames[0].save(d + "/animated.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)

def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))

def png(path, w, h, depth, ctype, rows):
    raw = b"".join(b"\x00" + r for r in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))

# 16-bit RGB and 16-bit grey PNG
png(d + "/rgb16.png", 5, 4, 16, 2,
    [b"".join(struct.pack(">HHH", x * 9000, y * 13000, (x + y) * 5000) for x in range(5))
     for y in range(4)])
png(d + "/grey16.png", 5, 4, 16, 0,
    [b"".join(struct.pack(">H", (x * y * 3001) % 65536) for x in range(5)) for y in range(4)])

# Regression seeds for findings of fuzz_image (see src/image.c): an IDAT
# chunk declaring far more data than the file holds.
with open(d + "/idat_overrun.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 13, 7, 8, 6, 0, 0, 0)))
    f.write(struct.pack(">I", 0x5b000048) + b"IDAT" + zlib.compress(b"\x00" * 60))

# 16-bit PGM (grey16.pgm is also the regression seed for stb 2.27 converting
# 16-bit PNM data with its 8-bit routine)
with open(d + "/grey16.pgm", "wb") as f:
    f.write(b"P5\n4 3\n65535\n" + b"".join(struct.pack(">H", i * 5000) for i in range(12)))

# PSD: 3 channels, 8 bits, RGB mode, raw and RLE (PackBits) image data
def psd(path, w, h, rle):
    planes = [bytes(((x * (c + 3) + y * 11) % 256) for y in range(h) for x in range(w))
              for c in range(3)]
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    body = struct.pack(">III", 0, 0, 0)
    if not rle:
        body += struct.pack(">H", 0) + b"".join(planes)
    else:
        rows = []
        for p in planes:
            for y in range(h):
                row = p[y * w:(y + 1) * w]
                rows.append(bytes([w - 1]) + row)  # one literal run per row
        body += struct.pack(">H", 1) + b"".join(struct.pack(">H", len(r)) for r in rows)
        body += b"".join(rows)
    with open(path, "wb") as f:
        f.write(head + body)

psd(d + "/raw.psd", 6, 4, False)
psd(d + "/rle.psd", 6, 4, True)

# Radiance HDR, flat (uncompressed) RGBE scanlines
with open(d + "/image.hdr", "wb") as f:
    f.write(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 3 +X 4\n")
    f.write(b"".join(bytes([(i * 40) % 256, (i * 70) % 256, (i * 90) % 256, 128 + i % 4])
                     for i in range(12)))
EOF
else
    note "no PIL for $PYTHON: only the library's own PNG and JPEG image seeds"
fi

# ---- torch checkpoints (prefixed with the selector byte 0x00 = AUTO) ---------
if "$PYTHON" -c 'import torch' 2>/dev/null; then
    "$PYTHON" - "$work/torch" <<'EOF'
import collections, os, sys
import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
       512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
DIV = 64
torch.manual_seed(7)
sd = collections.OrderedDict()
cin, idx = 3, 0
for v in CFG:
    if v == "M":
        idx += 1
        continue
    v //= DIV
    sd["features.%d.weight" % idx] = torch.randn(v, cin, 3, 3) * 0.1
    sd["features.%d.bias" % idx] = torch.randn(v) * 0.1
    cin = v
    idx += 2  # conv, relu
sd["classifier.0.weight"] = torch.randn(4, cin * 4)
sd["classifier.0.bias"] = torch.randn(4)

def save(obj, name, legacy, protocol=2):
    kw = {"_use_new_zipfile_serialization": False} if legacy else {}
    torch.save(obj, os.path.join(out, name), pickle_protocol=protocol, **kw)

save(sd, "zip.pth", False)
save(sd, "legacy.pth", True)
save(sd, "p4_zip.pth", False, 4)
save(sd, "p4_legacy.pth", True, 4)
# views: every tensor a slice of one shared storage, one transposed
big = torch.cat([t.reshape(-1) for t in sd.values()])
views, off = collections.OrderedDict(), 0
for k, t in sd.items():
    n = t.numel()
    views[k] = big[off:off + n].view(t.shape)
    off += n
w = views["features.2.weight"]
views["features.2.weight"] = w.transpose(2, 3).contiguous().transpose(2, 3)
save(views, "views_zip.pth", False)
save(views, "views_legacy.pth", True)
wrapped = {"epoch": 1, "state_dict": collections.OrderedDict(
    ("module." + k, torch.nn.Parameter(v.clone(), requires_grad=False)) for k, v in sd.items())}
save(wrapped, "wrapped_zip.pth", False)
save(wrapped, "wrapped_legacy.pth", True)
EOF
    for f in "$work"/torch/*.pth; do
        { printf '\x00'; cat "$f"; } > "$out/torch/$(basename "$f")"
    done
else
    note "no torch for $PYTHON: skipping torch checkpoint seeds"
fi
# Format-detection edge cases (selector byte first).
printf '\x00PK\x05\x06' > "$out/torch/empty_zip"
printf '\x02\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19' > "$out/torch/legacy_magic"
printf '\x00\x80\x02}q\x00.' > "$out/torch/empty_dict_pickle"

# ---- caffemodels (tests/fixtures/make_fixtures.py, needs torch + protobuf) ---
fixtures=$root/tests/fixtures/make_fixtures.py
if [ -f "$fixtures" ] && "$PYTHON" -c 'import torch, google.protobuf' 2>/dev/null; then
    # Preferred: its writers on a network with widths divided by 64 (small
    # seeds). If its internals have changed, run it as documented instead.
    if ! "$PYTHON" - "$root/tests/fixtures" "$out/caffe" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import make_fixtures as mf
import torch
torch.manual_seed(11)
model = mf.VGG(divisor=64)
model.eval()
mf.write_caffe_v1(model, sys.argv[2] + "/v1.caffemodel")
mf.write_caffe_layer(model, sys.argv[2] + "/layer.caffemodel")
EOF
    then
        note "make_fixtures.py internals changed: running it whole"
        if "$PYTHON" "$fixtures" "$work/fixtures" >/dev/null; then
            cp "$work"/fixtures/*.caffemodel "$out/caffe/" 2>/dev/null || true
        else
            note "make_fixtures.py failed: no caffemodel seeds"
        fi
    fi
else
    note "no make_fixtures.py or no torch/protobuf for $PYTHON: skipping caffemodel seeds"
fi
# Hand-written protobuf: a named net with one empty V1 layer and one empty layer.
printf '\x0a\x03vgg\x12\x09\x22\x07conv1_1\xa2\x06\x09\x0a\x07conv1_1' > "$out/caffe/tiny"

# ---- numeric strings and layer lists -----------------------------------------
i=0
while IFS= read -r line; do
    i=$((i + 1))
    printf '%s' "$line" > "$out/flags/$(printf '%03d' $i)"
done <<'EOF'
0
1
-1
+1
42
16384
1000000
2147483647
-2147483648
9223372036854775807
18446744073709551615
18446744073709551616
0.5
1e-7
1e30
1.5e308
1e-320
0x1p-3
-0
inf
nan
 7
7 
 -1
 +3
12abc
relu1_1
relu1_1:0.2,relu2_1,relu3_1:1e3,relu4_1,relu5_1
conv4_2
pool1:1e-3,pool5
relu1_1,
relu1_1:-1
relu1_1:nan
EOF
: > "$out/flags/empty"
echo "make_corpus: seeds in $out: $(find "$out" -type f | wc -l) files"
