#!/bin/bash
# A style x content grid: every content photo in the style of every painting.
# Batch mode computes each style's targets once per content list.
#   examples/grid.sh [WEIGHTS]         (default: stylize's own lookup)
set -eu
cd "$(dirname "$0")/.."
weights=${1:+--weights $1}
scripts/get-paintings.sh --quiet examples/paintings || true
mkdir -p out/grid
for style in examples/paintings/*.jpg; do
    name=$(basename "$style" .jpg)
    mkdir -p "out/grid/$name"
    build/stylize $weights --style "$style" \
        --content examples/images/chelsea.png examples/images/astronaut.png examples/images/coffee.png \
        --output-dir "out/grid/$name" --size 384 --iterations 300 --print-every 50 || true
done
