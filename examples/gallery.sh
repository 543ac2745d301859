#!/bin/bash
# A texture gallery: each texture synthesised at twice its width, from three
# seeds, with a report and loss plot for each.
#   examples/gallery.sh [WEIGHTS]
set -eu
cd "$(dirname "$0")/.."
weights=${1:+--weights $1}
mkdir -p out/gallery
for tex in examples/images/brick.png examples/images/gravel.png examples/images/grass.png; do
    name=$(basename "$tex" .png)
    for seed in 1 2 3; do
        build/stylize $weights --texture "$tex" --size 256 --width 512 --height 256 --seed "$seed" \
            --iterations 400 -o "out/gallery/$name-$seed.png" \
            --report "out/gallery/$name-$seed.json" --plot "out/gallery/$name-$seed.svg" --quiet
        echo "out/gallery/$name-$seed.png"
    done
done
