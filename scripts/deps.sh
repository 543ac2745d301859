#!/bin/bash
# Installs the Debian packages stylize needs to build (and, with --test, to
# run every test, including the PyTorch cross-check and the importer fixtures).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenblas-dev libstb-dev libcjson-dev zlib1g-dev)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(python3 python3-torch python3-numpy python3-pil python3-protobuf mate-backgrounds clang libclang-rt-14-dev valgrind groff-base bsdextrautils)
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${pkgs[@]}"
