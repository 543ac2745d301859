#!/usr/bin/env bash
# Downloads published VGG-19 weights and imports them into stylize's native
# format with `stylize-weights import`.
#
#   scripts/get-weights.sh [--source torchvision|caffe|gatys] [--out FILE.json]
#                          [--from FILE] [--tool PATH] [--keep | --delete-download]
#                          [--sha256 HASH] [--url URL] [--download-dir DIR]
#
# Sources:
#   torchvision  vgg19-dcbb9e9d.pth from download.pytorch.org (default; 548 MB).
#                torchvision input convention (RGB, ImageNet mean/std).
#   caffe        VGG_ILSVRC_19_layers.caffemodel, the VGG team's original
#                release (548 MB). Caffe input convention (BGR, 0..255, mean).
#   gatys        vgg_normalised.caffemodel, Gatys et al.'s rescaled VGG-19 used
#                in their style-transfer and texture papers (80 MB).
#
# Options:
#   --out FILE.json     where to write the manifest (blob: FILE.bin beside it);
#                       default weights/vgg19.json in this repository
#   --from FILE         import a local file instead of downloading (offline);
#                       its format is detected unless --source is given
#   --tool PATH         the stylize-weights executable; default build/stylize-weights
#                       in this repository, else stylize-weights on PATH
#   --keep              keep the download in weights/downloads/ (default), so
#                       that running again needs no network
#   --delete-download   remove the download after a successful import
#   --sha256 HASH       expected SHA-256 of the file (overrides the built-in check)
#   --url URL           download from URL instead of the source's published one
#   --download-dir DIR  where downloads are kept; default weights/downloads
#
# Checks: torchvision's file name embeds the first 8 hex digits of its
# SHA-256 (dcbb9e9d), which is verified. No published SHA-256 is known for
# the Caffe files: their hash is printed and marked unverified unless --sha256
# is given. Exit status: 0 ok, 1 download/verification/import failure,
# 2 usage error.
set -euo pipefail

prog=get-weights.sh
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "$prog: $*" >&2; exit 1; }
usage_die() { echo "$prog: $*" >&2; echo "usage: $prog [--source torchvision|caffe|gatys] [--out FILE.json] [--from FILE] [--tool PATH] [--keep|--delete-download] [--sha256 HASH] [--url URL] [--download-dir DIR]" >&2; exit 2; }

source_name=torchvision
source_given=0
out="$root/weights/vgg19.json"
from=""
tool=""
keep=1
want_sha=""
url=""
dl_dir="$root/weights/downloads"

while [ $# -gt 0 ]; do
    case "$1" in
        --source|--out|--from|--tool|--sha256|--url|--download-dir)
            [ $# -ge 2 ] || usage_die "$1 needs a value"
            case "$1" in
                --source) source_name=$2; source_given=1 ;;
                --out) out=$2 ;;
                --from) from=$2 ;;
                --tool) tool=$2 ;;
                --sha256) want_sha=$(printf '%s' "$2" | tr 'A-F' 'a-f') ;;
                --url) url=$2 ;;
                --download-dir) dl_dir=$2 ;;
            esac
            shift 2 ;;
        --keep) keep=1; shift ;;
        --delete-download) keep=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) usage_die "unknown argument '$1'" ;;
    esac
done

case "$source_name" in
    torchvision)
        file=vgg19-dcbb9e9d.pth
        default_url=https://download.pytorch.org/models/vgg19-dcbb9e9d.pth
        sha_prefix=dcbb9e9d
        format=torch ;;
    caffe)
        file=VGG_ILSVRC_19_layers.caffemodel
        default_url=http://www.robots.ox.ac.uk/~vgg/software/very_deep/caffe/VGG_ILSVRC_19_layers.caffemodel
        sha_prefix=""
        format=caffe ;;
    gatys)
        file=vgg_normalised.caffemodel
        default_url=https://bethgelab.org/media/uploads/deeptextures/vgg_normalised.caffemodel
        sha_prefix=""
        format=caffe ;;
    *) usage_die "--source must be torchvision, caffe or gatys, got '$source_name'" ;;
esac
[ -n "$url" ] || url=$default_url
host=${url#*://}
host=${host%%/*}
# A local file is imported in the format its content shows, unless --source says.
[ -z "$from" ] || [ "$source_given" = 1 ] || format=auto
case "$out" in
    *.json) ;;
    *) usage_die "--out must name a .json manifest, got '$out'" ;;
esac
if [ -n "$want_sha" ] && ! printf '%s' "$want_sha" | grep -Eq '^[0-9a-f]{64}$'; then
    usage_die "--sha256 must be 64 hex digits"
fi

# The stylize-weights executable.
if [ -z "$tool" ]; then
    if [ -x "$root/build/stylize-weights" ]; then
        tool="$root/build/stylize-weights"
    elif command -v stylize-weights > /dev/null 2>&1; then
        tool=$(command -v stylize-weights)
    else
        die "stylize-weights not found: build it (cmake -B build && cmake --build build) or pass --tool PATH"
    fi
fi
[ -x "$tool" ] || die "--tool $tool is not an executable"

sha256_of() {
    if command -v sha256sum > /dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum > /dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        echo ""
    fi
}

# Verifies $1 against --sha256 or the source's built-in check. Returns 1 on
# a mismatch; prints what was (not) verified.
verify() {
    local f=$1 sum
    sum=$(sha256_of "$f")
    if [ -z "$sum" ]; then
        echo "$prog: warning: no sha256sum or shasum: $f not verified" >&2
        return 0
    fi
    if [ -n "$want_sha" ]; then
        [ "$sum" = "$want_sha" ] || { echo "$prog: $f: SHA-256 $sum does not match --sha256 $want_sha" >&2; return 1; }
        echo "$prog: SHA-256 verified: $sum"
    elif [ -n "$sha_prefix" ]; then
        case "$sum" in
            "$sha_prefix"*) echo "$prog: SHA-256 verified (prefix $sha_prefix from the published file name): $sum" ;;
            *) echo "$prog: $f: SHA-256 $sum does not start with $sha_prefix (the published file name's hash): corrupt or wrong download" >&2; return 1 ;;
        esac
    else
        echo "$prog: SHA-256 $sum (not verified: no published hash known; pass --sha256 to check)"
    fi
}

if [ -n "$from" ]; then
    [ -f "$from" ] || die "--from $from: no such file"
    input=$from
    [ -z "$want_sha" ] || verify "$input" || exit 1
else
    mkdir -p "$dl_dir" || die "cannot create $dl_dir"
    input="$dl_dir/$file"
    if [ -f "$input" ] && verify "$input" > /dev/null 2>&1; then
        echo "$prog: using the earlier download $input"
    else
        part="$input.part"
        rm -f "$part"
        echo "$prog: downloading $url"
        rc=0
        if command -v curl > /dev/null 2>&1; then
            # A silent probe first, so that "no network" is one clear line
            # (the progress-bar download below would add curl's own).
            curl -sI -L --connect-timeout 30 -o /dev/null "$url" || rc=$?
            case $rc in
                6|7|28) die "cannot reach $host: no network? (curl exit $rc). Download $url elsewhere and run: $prog --source $source_name --from FILE" ;;
            esac
            rc=0
            curl -fL --retry 2 --connect-timeout 30 --progress-bar -o "$part" "$url" || rc=$?
            case $rc in
                0) ;;
                6|7|28) rm -f "$part"; die "cannot reach $host: no network? (curl exit $rc). Download $url elsewhere and run: $prog --source $source_name --from FILE" ;;
                *) rm -f "$part"; die "download of $url failed (curl exit $rc)" ;;
            esac
        elif command -v wget > /dev/null 2>&1; then
            wget -q --show-progress --tries=2 --timeout=30 -O "$part" "$url" || rc=$?
            case $rc in
                0) ;;
                4) rm -f "$part"; die "cannot reach $host: no network? (wget exit 4). Download $url elsewhere and run: $prog --source $source_name --from FILE" ;;
                *) rm -f "$part"; die "download of $url failed (wget exit $rc)" ;;
            esac
        else
            die "neither curl nor wget is installed; download $url yourself and run: $prog --from FILE"
        fi
        if ! verify "$part"; then
            rm -f "$part"
            exit 1
        fi
        mv -f "$part" "$input"
    fi
fi

mkdir -p "$(dirname "$out")" || die "cannot create the directory of $out"
echo "$prog: importing $input"
if ! "$tool" import "$input" --out "$out" --format "$format"; then
    die "import of $input failed (see the message above)"
fi
if [ -z "$from" ] && [ "$keep" = 0 ]; then
    rm -f "$input"
    echo "$prog: deleted the download $input"
fi
echo "$prog: wrote $out"
