#!/bin/bash
# Benchmark of photorealistic transfer (not a test; CI does not run it):
# builds a Release build in build-bench, then for each size (default 512 and
# 1024) times evaluations of the full-width VGG-19 objective with and
# without the photorealism term in alternating runs (median seconds per
# evaluation), times the term alone (bench_photo), measures the peak RSS of
# a whole `stylize --photo --smooth affine` run, and finds the largest
# --photo size whose estimated peak fits in 4 GiB (--dry-run).
#   scripts/bench-photo.sh [--sizes 512,1024] [--rounds 3] [--threads N] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/scripts/bench_photo.py" --build "$build" "$@"
