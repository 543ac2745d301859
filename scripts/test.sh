#!/bin/bash
# Installs the dependencies, builds from scratch with warnings as errors, and
# runs every test with ctest. Options:
#   --sanitize   build in build-asan with AddressSanitizer + UndefinedBehaviorSanitizer
#   --no-deps    skip the apt-get step
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=OFF
deps=1
for a in "$@"; do
    case "$a" in
    --sanitize) sanitize=ON ;;
    --no-deps) deps=0 ;;
    *) echo "scripts/test.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done
if [ $deps -eq 1 ]; then scripts/deps.sh --test; fi
dir=build
build_type=Release
if [ $sanitize = ON ]; then dir=build-asan; build_type=Debug; fi
rm -rf "$dir"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=$build_type -DSTYLIZE_WERROR=ON -DSTYLIZE_SANITIZE=$sanitize
cmake --build "$dir" -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir "$dir" --output-on-failure -j2
