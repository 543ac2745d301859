#!/bin/sh
# Our convolutions against Debian's oneDNN (libdnnl-dev, 2.x) on the layer
# shapes stylize runs: the 13 VGG-19 convolutions conv1_1..conv5_1 (3x3, pad
# 1, stride 1, batch 1) at SIZE x SIZE input, the spatial size halving at
# each pool. Per layer, median wall-clock seconds (REPS runs after a warm-up,
# 2 threads) of the forward and of the backward-data (input gradient) pass:
#   stylize fp32          bench_conv -a winograd       (F(4x4,3x3), OpenBLAS sgemm)
#   stylize bf16          bench_conv -a winograd-bf16  (vdpbf16ps GEMMs; layers
#                         narrower than 64 channels, i.e. conv1_1, stay fp32)
#   oneDNN f32 direct     convolution_direct, f32
#   oneDNN f32 winograd   convolution_winograd, f32 ("unsupported" where oneDNN
#                         refuses it; the total then counts f32 direct there)
#   oneDNN bf16 direct    convolution_direct, src/weights/dst bf16
# oneDNN picks its own layouts (format_tag any); reorders are not timed.
# Totals and GFLOP/s count 2*9*cin*cout*h*w per convolution and direction.
#
#   scripts/bench-dnnl.sh [SIZE [REPS]]        default 512 5; about a minute once built
#
# Installs libdnnl-dev with apt-get when missing (as root), compiles
# scripts/bench_dnnl.c with gcc -O2 -ldnnl, builds the Release benchmark
# build ($STYLIZE_BENCH_BUILD, default build-bench) and prints one markdown
# table, then the oneDNN implementation chosen per layer. The raw outputs of
# both benchmarks are kept in BUILD/bench-dnnl/. Run it on an idle machine:
# both sides use 2 threads.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${STYLIZE_BENCH_BUILD:-$src/build-bench}
size=${1:-512}
reps=${2:-5}
out=$build/bench-dnnl

if ! dpkg -s libdnnl-dev >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench-dnnl: libdnnl-dev is not installed (apt-get install libdnnl-dev as root)" >&2
        exit 1
    fi
    apt-get install -y libdnnl-dev >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y libdnnl-dev >/dev/null; }
fi
header=$(dpkg -L libdnnl-dev | grep '/dnnl\.h$' | head -n 1)
solib=$(dpkg -L libdnnl-dev | grep '/libdnnl\.so$' | head -n 1)
if [ -z "$header" ] || [ -z "$solib" ]; then
    echo "bench-dnnl: dnnl.h or libdnnl.so not found in libdnnl-dev" >&2
    exit 1
fi
dnnl_version=$(dpkg-query -W -f '${Version}' libdnnl-dev)

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSTYLIZE_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j2 >/dev/null
mkdir -p "$out"
gcc -O2 -std=c11 -Wall -Wextra -I"$(dirname "$header")" "$src/scripts/bench_dnnl.c" \
    -o "$out/bench_dnnl" -L"$(dirname "$solib")" -ldnnl

bench=$build/tests/bench/bench_conv
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    hint=$("$bench" -H)
    if [ -n "$hint" ]; then
        OPENBLAS_CORETYPE=$hint
        export OPENBLAS_CORETYPE
    fi
fi
"$bench" -s "$size" -r "$reps" -t 2 -q -l -a winograd -a winograd-bf16 >"$out/stylize.txt"
OMP_NUM_THREADS=2 "$out/bench_dnnl" -s "$size" -r "$reps" >"$out/dnnl.txt"

echo "stylize: $(grep '^# threads' "$out/stylize.txt" | sed 's/^# //')${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}"
echo "oneDNN: package libdnnl-dev $dnnl_version; $(grep '^# oneDNN' "$out/dnnl.txt" | sed 's/^# oneDNN //')"
echo "shapes: ${size}x${size} input, batch 1; median of $reps runs; seconds"
echo

# stylize.txt per-layer lines:  SIZE ALGO NAME CIN->COUT HW fwd F s bwd B s ...
# dnnl.txt per-layer lines:     layer CONFIG NAME CIN COUT H W F B FIMPL BIMPL
awk -v cols="winograd winograd-bf16 f32-direct f32-winograd bf16-direct" '
function cell(v) { return v == "unsupported" ? "unsupported" : sprintf("%.4f", v) }
function gf(flop, t) { return t > 0 ? sprintf("%.1f", flop / t) : "-" }
NR == FNR {
    if ($3 ~ /^conv/ && $6 == "fwd") { t[$2, $3, "f"] = $7; t[$2, $3, "b"] = $10 }
    next
}
$1 == "layer" {
    if (!($3 in seen)) {  # one row per layer, whichever config lists it first
        seen[$3] = 1; name[++n] = $3; shape[n] = $4 "→" $5; hw[n] = $6 "×" $7
        flop[n] = 2 * 9 * $4 * $5 * $6 * $7 * 1e-9
    }
    t[$2, $3, "f"] = $8; t[$2, $3, "b"] = $9; impl[$2, $3] = $10 " / " $11
}
END {
    nc = split(cols, col, " ")
    print "| layer | cin→cout | h×w | stylize fp32 fwd | stylize fp32 bwd | stylize bf16 fwd | stylize bf16 bwd | oneDNN f32 direct fwd | oneDNN f32 direct bwd | oneDNN f32 winograd fwd | oneDNN f32 winograd bwd | oneDNN bf16 direct fwd | oneDNN bf16 direct bwd |"
    print "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
        row = "| " name[i] " | " shape[i] " | " hw[i] " |"
        for (c = 1; c <= nc; c++)
            for (d = 0; d < 2; d++) {
                k = d ? "b" : "f"
                v = t[col[c], name[i], k]
                row = row " " (v == "" ? "-" : cell(v)) " |"
                if (v == "unsupported") {  # the total counts f32 direct there
                    v = t["f32-direct", name[i], k]; fallback[c] = 1
                }
                sum[c, k] += v
            }
        total_flop += flop[i]
        print row
    }
    row = "| **total** | | |"; rate = "| GFLOP/s | | |"
    for (c = 1; c <= nc; c++)
        for (d = 0; d < 2; d++) {
            k = d ? "b" : "f"
            row = row " **" sprintf("%.3f", sum[c, k]) "**" (fallback[c] ? "†" : "") " |"
            rate = rate " " gf(total_flop, sum[c, k]) (fallback[c] ? "†" : "") " |"
        }
    print row; print rate
    print ""
    printf "GFLOP per direction: %.1f.\n", total_flop
    for (c = 1; c <= nc; c++)
        if (fallback[c])
            print "† " col[c] ": the layers oneDNN refused are counted with f32 direct."
    print "stylize bf16: conv1_1 (3 input channels) runs the fp32 Winograd path."
    print ""
    print "oneDNN implementations (forward / backward-data):"
    for (c = 3; c <= nc; c++) {  # per config, the layers of each implementation
        line = "- " col[c] ":"; ng = 0
        for (i = 1; i <= n; i++) {
            im = impl[col[c], name[i]]
            for (g = 1; g <= ng && group[g] != im; g++) ;
            if (g > ng) { group[++ng] = im; members[g] = "" }
            members[g] = members[g] (members[g] == "" ? "" : ",") name[i]
        }
        for (g = 1; g <= ng; g++)
            line = line " " group[g] " (" (ng == 1 ? "all layers" : members[g]) ")" (g < ng ? ";" : "")
        print line
    }
}' "$out/stylize.txt" "$out/dnnl.txt"
