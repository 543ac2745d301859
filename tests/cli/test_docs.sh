#!/bin/bash
# Documentation stays in step with the programs: every long flag that
# `stylize --help` and `stylize-weights --help` list appears in the README and
# in the generated man pages, and the man pages render without warnings;
# every flag of `stylize train --help` and `stylize apply --help` is in the README.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
BUILD="$(dirname "$STYLIZE")"
for pair in "$STYLIZE:stylize" "$STYLIZE_WEIGHTS_TOOL:stylize-weights"; do
    bin="${pair%%:*}" name="${pair##*:}"
    man1="$BUILD/$name.1"
    check "$name.1 generated" [ -s "$man1" ]
    for flag in $("$bin" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        check "README documents $name $flag" grep -qF -- "$flag" "$STYLIZE_SRC/README.md"
        check "$name.1 documents $flag" grep -qF -- "${flag//-/\\-}" "$man1"
    done
    if command -v groff >/dev/null; then
        warn=$(groff -man -Tutf8 -ww "$man1" 2>&1 >/dev/null)
        check "$name.1 renders without warnings: $warn" [ -z "$warn" ]
    fi
done
# The subcommands' flags: in the README (their --help is their manual).
for sub in train apply; do
    for flag in $("$STYLIZE" $sub --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        check "README documents stylize $sub $flag" grep -qF -- "$flag" "$STYLIZE_SRC/README.md"
    done
done
finish
