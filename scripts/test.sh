#!/bin/bash
# Installs the dependencies, builds from scratch with warnings as errors, and
# runs every test with ctest. Options:
#   --sanitize   build in build-asan with AddressSanitizer + UndefinedBehaviorSanitizer
#   --amx-model  build in build-model with the AMX tiles modelled in software
#                (STYLIZE_AMX_MODEL) and run the bf16 tests there: the AMX paths
#                checked on CPUs without AMX (skipped without AVX512-BF16)
#   --no-deps    skip the apt-get step
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=OFF
model=OFF
deps=1
for a in "$@"; do
    case "$a" in
    --sanitize) sanitize=ON ;;
    --amx-model) model=ON ;;
    --no-deps) deps=0 ;;
    *) echo "scripts/test.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done
if [ $deps -eq 1 ]; then scripts/deps.sh --test; fi
dir=build
build_type=Release
if [ $sanitize = ON ]; then dir=build-asan; build_type=Debug; fi
if [ $model = ON ]; then dir=build-model; fi
rm -rf "$dir"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=$build_type -DSTYLIZE_WERROR=ON -DSTYLIZE_SANITIZE=$sanitize \
    -DSTYLIZE_AMX_MODEL=$model
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ $model = ON ]; then
    cmake --build "$dir" -j"$(nproc)" --target test_gemm_bf16 test_conv_bf16
    ctest --test-dir "$dir" --output-on-failure -j2 -R '^(gemm_bf16|conv_bf16)$'
    exit
fi
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j2
