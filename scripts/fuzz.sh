#!/bin/bash
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, writes
# seed corpora, and runs each target for a while:
#
#     scripts/fuzz.sh [SECONDS] [TARGET...]
#     scripts/fuzz.sh --build-only
#
# SECONDS per target (default 30); TARGETs are image, manifest, blob, torch,
# caffe, flags, tnet (default: all, one after the other). Prints one line per
# target, "fuzz TARGET: N execs, K crashes", then "N passed, N failed", and
# exits non-zero if any target crashed, leaked, hit a sanitizer report, ran
# out of its memory limits or timed out.
#
# Every target runs with -rss_limit_mb=2048 -malloc_limit_mb=1024: the
# library's own limits must keep memory bounded whatever the input.
#
# Layout (all ignored by git):
#   build-fuzz/                 objects, harness binaries, logs ($FUZZ_BUILD)
#   tests/fuzz/corpus/seeds/T   seeds from tests/fuzz/make_corpus.sh
#                               (written once; FUZZ_RESEED=1 rewrites them)
#   tests/fuzz/corpus/T         the corpus libFuzzer grows, kept across runs
#   tests/fuzz/findings/        crash-*, leak-*, oom-*, timeout-* reproducers
#
# Environment: CC (default clang; needs -fsanitize=fuzzer, e.g. Debian's
# clang 14 with libclang-rt-14-dev), FUZZ_BUILD, FUZZ_TIMEOUT (seconds per
# input, default 60), FUZZ_MAX_RUNS (stop a target after this many
# executions too), FUZZ_ARGS (extra libFuzzer flags), PYTHON (for seeds).
#
# Replaying a finding: build-fuzz/fuzz_TARGET tests/fuzz/findings/FILE
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_targets="image manifest blob torch caffe flags tnet"
seconds=30
build_only=0
targets=()
for a in "$@"; do
    case "$a" in
    --build-only) build_only=1 ;;
    -h|--help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *[!0-9]*)
        case " $all_targets " in
        *" $a "*) targets+=("$a") ;;
        *) echo "scripts/fuzz.sh: unknown target '$a' (targets: $all_targets)" >&2; exit 2 ;;
        esac ;;
    *) seconds=$a ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<< "$all_targets"

CC=${CC:-clang}
build=${FUZZ_BUILD:-$root/build-fuzz}
timeout=${FUZZ_TIMEOUT:-60}
corpus=$root/tests/fuzz/corpus
findings=$root/tests/fuzz/findings
mkdir -p "$build/obj" "$build/logs" "$corpus/seeds" "$findings"

if ! echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; return (int)n * 0; }' |
    "$CC" -x c -fsanitize=fuzzer -o "$build/probe" - 2>/dev/null; then
    echo "scripts/fuzz.sh: $CC cannot build libFuzzer targets (install clang and libclang-rt-dev)" >&2
    exit 2
fi
rm -f "$build/probe"

# ---- build -------------------------------------------------------------------
pkgs="openblas libcjson stb zlib"
read -r -a pkg_cflags <<< "$(pkg-config --cflags $pkgs)"
read -r -a pkg_libs <<< "$(pkg-config --libs $pkgs)"
common=(-std=c11 -g -O1 -fno-omit-frame-pointer -D_POSIX_C_SOURCE=200809L
        -Wall -Wextra -Wshadow -Wstrict-prototypes -Wpointer-arith
        -I"$root/include" -I"$root/src" -I"$root/src/cli" "${pkg_cflags[@]}")
san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)

# Newest header: any object older than it is rebuilt.
newest_header=$(ls -t "$root"/include/stylize/*.h "$root"/include/stylize/*/*.h \
    $(find "$root/src" -name '*.h') "$root"/tests/fuzz/*.h | head -n 1)

compile() { # SRC OBJ FLAGS...
    local src=$1 obj=$2
    shift 2
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_header" -nt "$obj" ]; then
        "$CC" "${common[@]}" "$@" -c "$src" -o "$obj"
    fi
}

lib_objs=()
# The library's sources: src/<stage>/... except the front ends in src/cli/.
mapfile -t lib_srcs < <(find "$root/src" -name '*.c' -not -path "$root/src/cli/*" | sort)
for src in "${lib_srcs[@]}"; do
    obj=$build/obj/$(basename "$src" .c).o
    if [ "$(basename "$src")" = stb_image_impl.c ] || [ "$(basename "$src")" = stb_write_impl.c ]; then
        # stb_image's decoders and encoders (Debian's header): coverage and
        # AddressSanitizer, but not UBSan, whose reports there are about
        # third-party code.
        compile "$src" "$obj" -fsanitize=address,fuzzer-no-link -w
    else
        compile "$src" "$obj" "${san[@]}" -fsanitize=fuzzer-no-link
    fi
    lib_objs+=("$obj")
done
# Any object left from a source file that no longer exists is ignored.
compile "$root/src/cli/cli_common.c" "$build/obj/cli_common.o" "${san[@]}" -fsanitize=fuzzer-no-link
# stb's decoders: coverage and AddressSanitizer, but not UBSan (its
# undefined-behaviour reports are about Debian's third-party code, and
# halting on them would hide everything behind them).
compile "$root/tests/fuzz/stb_impl.c" "$build/obj/stb_impl.o" -fsanitize=address,fuzzer-no-link \
    -Wno-unused-function -Wno-shadow -Wno-sign-compare -Wno-unused-parameter

link_libs=("${pkg_libs[@]}" -lm -lpthread)
for t in $all_targets; do
    src=$root/tests/fuzz/fuzz_$t.c
    bin=$build/fuzz_$t
    extra=()
    [ "$t" = flags ] && extra=("$build/obj/cli_common.o")
    rebuild=0
    [ -f "$bin" ] || rebuild=1
    for dep in "$src" "$newest_header" "${lib_objs[@]}" "$build/obj/stb_impl.o" "${extra[@]}"; do
        [ "$dep" -nt "$bin" ] && rebuild=1
    done
    if [ $rebuild = 1 ]; then
        "$CC" "${common[@]}" "${san[@]}" -fsanitize=fuzzer "$src" "${lib_objs[@]}" \
            "$build/obj/stb_impl.o" "${extra[@]}" "${link_libs[@]}" -o "$bin"
    fi
done
if [ ! -x "$build/make_seeds" ] || [ "$root/tests/fuzz/make_seeds.c" -nt "$build/make_seeds" ]; then
    "$CC" "${common[@]}" "${san[@]}" -fsanitize=fuzzer-no-link "$root/tests/fuzz/make_seeds.c" \
        "${lib_objs[@]}" "$build/obj/stb_impl.o" "${link_libs[@]}" -o "$build/make_seeds"
fi
echo "fuzz: harnesses built in $build"
[ $build_only = 1 ] && exit 0

# ---- seeds -------------------------------------------------------------------
# (rewritten too when a target has no seeds yet: one added since they were)
reseed=${FUZZ_RESEED:-0}
[ -f "$corpus/seeds/.done" ] || reseed=1
for t in $all_targets; do
    [ -d "$corpus/seeds/$t" ] || reseed=1
done
if [ "$reseed" = 1 ]; then
    rm -rf "$corpus/seeds"
    ASAN_OPTIONS=detect_leaks=0 tests/fuzz/make_corpus.sh "$corpus/seeds" "$build/make_seeds"
    touch "$corpus/seeds/.done"
fi

# ---- run ---------------------------------------------------------------------
export OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/stylize-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export STYLIZE_FUZZ_TMP=$scratch
read -r -a user_args <<< "${FUZZ_ARGS:-}"
runs=()
[ -n "${FUZZ_MAX_RUNS:-}" ] && runs=(-runs="$FUZZ_MAX_RUNS")

passed=0
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t" "$corpus/seeds/$t"
    log=$build/logs/$t.log
    marker=$build/logs/$t.start
    touch "$marker"
    rc=0
    "$build/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -timeout="$timeout" -print_final_stats=1 -artifact_prefix="$findings/$t-" \
        "${runs[@]}" "${user_args[@]}" "$corpus/$t" "$corpus/seeds/$t" > "$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then # stats are not printed after a crash: use the last status line
        execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    fi
    # crash-, leak-, oom-, timeout- files (slow-unit- ones are only notes)
    new=$(find "$findings" -maxdepth 1 -type f -name "$t-*" ! -name "$t-slow-unit-*" \
        -newer "$marker" | wc -l)
    reports=$(grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz invariant violated' "$log" || true)
    crashes=$new
    [ "$crashes" -eq 0 ] && [ $rc -ne 0 ] && crashes=1
    [ "$crashes" -eq 0 ] && [ "$reports" -gt 0 ] && crashes=$reports
    echo "fuzz $t: ${execs:-0} execs, $crashes crashes"
    if [ "$crashes" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "  log: $log" >&2
        find "$findings" -maxdepth 1 -type f -name "$t-*" ! -name "$t-slow-unit-*" -newer "$marker" |
            sed 's/^/  finding: /' >&2
        grep -m 5 -E 'ERROR:|runtime error:|fuzz invariant violated|SUMMARY' "$log" | sed 's/^/  /' >&2 || true
    fi
    rm -f "$marker"
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
