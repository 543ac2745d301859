#!/bin/bash
# The benchmark (not a test; CI does not run it): builds a Release build in
# build-bench, then times full-width VGG-19 style transfer at 256, 512 and
# 1024 px (median seconds per evaluation, peak RSS of a whole run, achieved
# GFLOP/s, and this machine's sgemm in the same run). With --torch it runs the
# same recipe in Debian's python3-torch and prints our/PyTorch ratios, plus
# the loss of both L-BFGS implementations after 100 evaluations.
#   scripts/bench.sh [--torch] [--sizes 256,512,1024] [--threads N] [--json FILE]
# The table goes to stdout, the numbers to FILE (default bench.json).
# scripts/bench-conv.sh times each convolution algorithm layer by layer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/scripts/bench_run.py" --build "$build" "$@"
