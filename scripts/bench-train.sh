#!/bin/bash
# The training benchmark (not a test; CI does not run it): builds a Release
# build in build-bench (as scripts/bench.sh), then measures side by side, with
# the same thread count, stylize's feed-forward generators and the same
# generators in Debian's python3-torch (scripts/bench_train_torch.py), each
# measurement in both precisions on both sides: stylize --precision fp32 and
# bf16 (bf16 only where the CPU has AVX512-BF16), PyTorch float32 and bfloat16
# autocast (the forward passes, VGG-19's included, under
# torch.autocast("cpu", bfloat16); losses and Gram matrices in float32):
#   (a) seconds per training step: the pyramid (texture model by default),
#       256 px, batch 4, full-width random VGG-19 to relu5_1, Gram losses on
#       relu1_1..relu5_1, Adam; median after one warm-up step; peak RSS of
#       each side's whole process (wait4);
#   (b) seconds to apply a style model (pyramid and residual) to a 512 px
#       content (chelsea.png, 512x341): the median of warm runs after a cold
#       one (stylize apply over copies of the image; PyTorch: the forward
#       under torch.no_grad()), peak RSS;
#   (c) seconds per Gatys evaluation (VGG-19 forward to relu5_1 and backward
#       to the image) of the same image: stylize's median from a 5-iteration
#       `stylize --weights random` run, PyTorch's from scripts/bench_torch.py
#       time (--bf16 for autocast); and apply vs a default 500-iteration
#       Gatys run, estimated from stylize's fp32 run (its s/evaluation x the
#       evaluations 500 iterations take at the rate observed);
# and prints a markdown table (one row per measurement; stylize fp32 and
# bf16, PyTorch fp32 and bf16; the time ratios of stylize's faster precision
# to each PyTorch column; peak RSS), the CPU (family, model, AVX512-BF16 and
# AMX-BF16 flags), the OpenBLAS kernel stylize ran with, the threads, the
# command and the targets (met / not met): a training step at most 0.2x
# PyTorch float32's and 0.5x PyTorch bf16's, apply at 512 px at most 0.1
# s, a Gatys evaluation at 512 px in fp32 at most 0.3x PyTorch float32's
# (set for an Intel AMX machine; the notes say so when the CPU has no
# amx_bf16). It also checks, in fp32, that
# the PyTorch side is the same computation: the PyTorch generator with a
# .tnet's parameters and stylize's noise reproduces stylize apply's image,
# and the first training step's loss from the same initial parameters
# matches; the bf16 images and first losses of both sides are printed as
# information, against the fp32 ones.
#   scripts/bench-train.sh [--threads N (default 2)] [--steps N] [--repeats N]
#       [--size 256] [--batch 4] [--apply-size 512] [--gatys-size N]
#       [--gatys-iterations 5] [--train-modes texture,style]
#       [--precisions fp32,bf16] [--no-torch] [--quick] [--json FILE]
# --precisions: the precisions to run on both sides (default fp32,bf16 where
# the CPU has AVX512-BF16, else fp32). --quick: tiny sizes, a smoke run of
# a minute or two. The numbers go to FILE (default bench-train.json).
# STYLIZE_BENCH_BUILD overrides the build dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec /usr/bin/python3 "$root/scripts/bench_train_torch.py" run --build "$build" \
    --command "scripts/bench-train.sh${*:+ $*}" "$@"
