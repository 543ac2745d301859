#!/bin/bash
# `cmake --install` puts both programs and both man pages in place, and the
# installed programs run.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
BUILD="$(dirname "$STYLIZE")"
cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" 2>&1
check "install exit 0" [ $? -eq 0 ]
for f in bin/stylize bin/stylize-weights share/man/man1/stylize.1 share/man/man1/stylize-weights.1 share/stylize/WEIGHTS.md; do
    check "installed $f" [ -s "$T/prefix/$f" ]
done
check "installed stylize runs" bash -c "'$T/prefix/bin/stylize' --version | grep -q '^stylize '"
check "installed stylize-weights runs" bash -c "'$T/prefix/bin/stylize-weights' --version | grep -q '^stylize-weights '"
finish
