#!/bin/bash
# The training benchmark (not a test; CI does not run it): builds a Release
# build in build-bench (as scripts/bench.sh), then measures side by side, with
# the same thread count, stylize's feed-forward generators and the same
# generators in Debian's python3-torch (float32; scripts/bench_train_torch.py):
#   (a) seconds per training step: the pyramid (texture model by default),
#       256 px, batch 4, full-width random VGG-19 to relu5_1, Gram losses on
#       relu1_1..relu5_1, Adam; median after one warm-up step; peak RSS of
#       each side's whole process (wait4);
#   (b) seconds to apply a style model (pyramid and residual) to a 512 px
#       content (chelsea.png, 512x341): the median of warm runs after a cold
#       one (stylize apply over copies of the image; PyTorch: the forward
#       under torch.no_grad()), peak RSS;
#   (c) apply vs a default 500-iteration Gatys run of the same image,
#       estimated from a 5-iteration `stylize --weights random` run (its
#       median s/evaluation x the evaluations 500 iterations take at the
#       rate observed);
# and prints a markdown table (time and memory ratios stylize/PyTorch), the
# CPU, the threads, the command and the targets (met / not met). It also
# checks that the PyTorch side is the same computation: the PyTorch generator
# with a .tnet's parameters and stylize's noise reproduces stylize apply's
# image, and the first training step's loss from the same initial
# parameters matches.
#   scripts/bench-train.sh [--threads N (default 2)] [--steps N] [--repeats N]
#       [--size 256] [--batch 4] [--apply-size 512] [--train-modes texture,style]
#       [--no-torch] [--quick] [--json FILE]
# --quick: tiny sizes, a smoke run of well under a minute. The numbers go to
# FILE (default bench-train.json). STYLIZE_BENCH_BUILD overrides the build dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/scripts/bench_train_torch.py" run --build "$build" \
    --command "scripts/bench-train.sh${*:+ $*}" "$@"
