#!/bin/sh
# Builds and runs the convolution micro-benchmark (tests/bench/bench_conv.c):
# VGG-19 forward + backward to relu5_1 per image size and convolution
# algorithm, plus a reference sgemm.
#
#   scripts/bench-conv.sh [bench_conv options]     e.g. -s 512 -r 5 -t 2
#
# Build directory: $STYLIZE_BENCH_BUILD (default build-bench). When OpenBLAS
# picked a slow generic kernel for this CPU (see stylize_blas_coretype_hint)
# and OPENBLAS_CORETYPE is unset, the run sets it to the fast kernel.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$src/build-bench}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON \
    -DSTYLIZE_BUILD_TESTS=ON >/dev/null
cmake --build "$build" --target bench_conv -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
bench=$build/tests/bench/bench_conv
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    hint=$("$bench" -H)
    if [ -n "$hint" ]; then
        echo "# OpenBLAS picked a generic kernel; running with OPENBLAS_CORETYPE=$hint"
        OPENBLAS_CORETYPE=$hint
        export OPENBLAS_CORETYPE
    fi
fi
exec "$bench" "$@"
