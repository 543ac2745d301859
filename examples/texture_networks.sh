#!/bin/bash
# Texture Networks, end to end: a texture model trained on the bundled
# brick.png and a style model (gravel.png's style) trained on the 12 nature
# photos of Debian's mate-backgrounds (scripts/deps.sh --test installs them;
# GPL-2+, read in place, never copied into the repository), then both
# applied: textures at several sizes and seeds, and the bundled photos
# painted in one pass each. With --weights random (the default here) this
# takes a few minutes on 2 cores; pass a real VGG-19 manifest for quality:
#   examples/texture_networks.sh [WEIGHTS] [STEPS]
set -eu
cd "$(dirname "$0")/.."
weights=${1:-random}
steps=${2:-200}
photos=/usr/share/backgrounds/mate/nature
out=out/texture_networks
if [ ! -d "$photos" ]; then
    echo "texture_networks.sh: $photos is missing: run scripts/deps.sh --test (package mate-backgrounds)" >&2
    exit 2
fi
mkdir -p "$out/textures" "$out/painted"

build/stylize train --texture examples/images/brick.png -o "$out/brick.tnet" --weights "$weights" \
    --size 128 --batch 4 --iterations "$steps" --report "$out/brick.json" --plot "$out/brick.svg"
for seed in 1 2 3; do
    build/stylize apply --model "$out/brick.tnet" --width 512 --height 256 --seed "$seed" \
        -o "$out/textures/brick-$seed.png"
done

build/stylize train --style examples/images/gravel.png --content-dir "$photos" -o "$out/gravel.tnet" \
    --weights "$weights" --arch residual --width-mult 0.5 --size 128 --batch 4 --iterations "$steps" \
    --report "$out/gravel.json" --plot "$out/gravel.svg"
build/stylize apply --model "$out/gravel.tnet" --content examples/images/*.png --size 512 \
    --output-dir "$out/painted"
build/stylize info "$out/gravel.tnet"
