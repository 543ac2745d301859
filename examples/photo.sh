#!/bin/bash
# Photorealistic transfer: chelsea.png in the colours of coffee.png three
# ways, for comparison: plain Gatys, --photo (the two stages of Deep Photo
# Style Transfer) and --photo --smooth affine; each with a report whose
# "photorealism" section gives L_m per pixel and the edge SSIM.
#   examples/photo.sh [WEIGHTS] [SIZE]     (default: stylize's own lookup, 384)
set -eu
cd "$(dirname "$0")/.."
weights=${1:+--weights $1}
size=${2:-384}
mkdir -p out/photo
run=(build/stylize $weights --content examples/images/chelsea.png --style examples/images/coffee.png
     --size "$size" --iterations 200 --print-every 50)
"${run[@]}" -o out/photo/plain.png --report out/photo/plain.json
"${run[@]}" --photo -o out/photo/photo.png --report out/photo/photo.json
"${run[@]}" --photo --smooth affine -o out/photo/photo_affine.png --report out/photo/photo_affine.json
for r in plain photo photo_affine; do
    printf '%-13s ' "$r"
    /usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["photorealism"]; print("L_m per pixel %.3g, edge SSIM %.3f" % (p["matting_per_pixel"], p["edge_ssim"]))' "out/photo/$r.json"
done
