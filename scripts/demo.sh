#!/bin/bash
# The newcomer's command: installs the dependencies, builds stylize, gets
# VGG-19 weights if the network allows (else says so and uses the
# random-feature mode), and paints examples/images/chelsea.png in a style.
#   scripts/demo.sh [--no-deps] [--size N] [--iterations N]
set -euo pipefail
cd "$(dirname "$0")/.."
deps=1 size=256 iters=200
while [ $# -gt 0 ]; do
    case "$1" in
    --no-deps) deps=0 ;;
    --size) size="$2"; shift ;;
    --iterations) iters="$2"; shift ;;
    *) echo "demo.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
if [ $deps -eq 1 ]; then scripts/deps.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
weights=weights/vgg19.json
if [ ! -f "$weights" ]; then
    if ! scripts/get-weights.sh --tool build/stylize-weights --out "$weights" >&2; then
        echo "demo.sh: could not download VGG-19 weights (no network?): using random features (lower quality)" >&2
        weights=random
    fi
fi
style=examples/images/rocket.jpg
if scripts/get-paintings.sh --quiet examples/paintings >/dev/null 2>&1 && [ -f examples/paintings/starry_night.jpg ]; then
    style=examples/paintings/starry_night.jpg
fi
mkdir -p out
build/stylize --content examples/images/chelsea.png --style "$style" --weights "$weights" \
    --size "$size" --iterations "$iters" -o out/demo.png --report out/demo.json
build/stylize --texture examples/images/gravel.png --weights "$weights" --size "$size" \
    --iterations "$iters" -o out/demo-texture.png
echo "demo.sh: wrote out/demo.png and out/demo-texture.png"
