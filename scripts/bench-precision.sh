#!/bin/bash
# The precision measurement (not a test; CI does not run it) that --precision
# auto follows (README "Precision"): builds a Release build in build-bench,
# then runs the same work in fp32 and in bf16 side by side and compares the
# losses (and times):
#   (a) training: `stylize train` of a pyramid texture model, 256 px,
#       batch 4, full-width random VGG-19, seed 0, STEPS steps; the final
#       loss (mean over the last 50 steps), and the models' quality judged
#       in fp32 (4 samples each, their style loss by a float32 evaluation)
#       -- bf16 is the training default only within 2% of fp32's;
#   (b) Gatys with L-BFGS: chelsea.png in brick.png's style at 512 px,
#       random VGG-19, 100 evaluations; the loss then -- bf16 is the
#       default only within 1%.
#   scripts/bench-precision.sh [--threads N (2)] [--steps N (200)] [--evaluations N (100)]
#       [--size N (512)] [--quick] [--json FILE (bench-precision.json)]
# --quick: 20 steps at 64 px and 20 evaluations at 128 px (a smoke run).
# Exits 77 on a CPU without AVX512-BF16 (nothing to compare).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/scripts/bench_precision.py" --build "$build" \
    --command "scripts/bench-precision.sh${*:+ $*}" "$@"
