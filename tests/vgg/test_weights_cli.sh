#!/bin/bash
# stylize-weights: random, info, normalise; their errors and exit codes; and
# how stylize finds weights (--weights, $STYLIZE_WEIGHTS, ./weights/).
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
setup_tmp
SW="$STYLIZE_WEIGHTS_TOOL"
IMG="$STYLIZE_SRC/examples/images"
"$SW" random --out "$T/w.json" --seed 4 --width-divisor 16
check "random exit 0" [ $? -eq 0 ]
check "random writes the blob" [ -s "$T/w.bin" ]
"$SW" info "$T/w.json" >"$T/info.txt"
check "info exit 0" [ $? -eq 0 ]
check "info lists conv5_4 with its shape" grep -q "^conv5_4 *32x32x3x3" "$T/info.txt"
check "info shows the convention" grep -q "channel order RGB" "$T/info.txt"
"$SW" random --out "$T/w2.json" --seed 4 --width-divisor 16
check "random is deterministic" cmp -s "$T/w.bin" "$T/w2.bin"
"$SW" random --out "$T/w3.json" --seed 5 --width-divisor 16
check "another seed differs" bash -c "! cmp -s '$T/w.bin' '$T/w3.bin'"

# normalise: the output is valid, marked, and differs from the input.
mkdir -p "$T/imgs" && cp "$IMG/chelsea.png" "$IMG/coffee.png" "$T/imgs/"
"$SW" normalise "$T/w.json" "$T/wn.json" --images "$T/imgs" --size 48
check "normalise exit 0" [ $? -eq 0 ]
check "normalised source noted" grep -q "normalised" "$T/wn.json"
check "normalised blob differs" bash -c "! cmp -s '$T/w.bin' '$T/wn.bin'"
"$STYLIZE" --texture "$IMG/brick.png" --weights "$T/wn.json" --size 32 -n 3 -o "$T/tn.png" --quiet
check "stylize runs on normalised weights" [ $? -eq 0 ]

# errors
code() { "$@" >/dev/null 2>"$T/err"; echo $?; }
check "no command: 2" [ "$(code "$SW")" = 2 ]
check "unknown command: 2" [ "$(code "$SW" frobnicate)" = 2 ]
check "random without --out: 2" [ "$(code "$SW" random)" = 2 ]
check "bad divisor: 2" [ "$(code "$SW" random --out "$T/x.json" --width-divisor 3)" = 2 ]
check "bad seed: 2" [ "$(code "$SW" random --out "$T/x.json" --seed -1)" = 2 ]
check "info of a missing file: 4" [ "$(code "$SW" info "$T/missing.json")" = 4 ]
check "one line naming the file" bash -c "[ \$(wc -l <'$T/err') -eq 1 ] && grep -q missing.json '$T/err'"
check "import of garbage: 4" [ "$(printf 'garbage' >"$T/g.pth"; code "$SW" import "$T/g.pth" --out "$T/gi.json")" = 4 ]
check "no output after a failed import" [ ! -e "$T/gi.json" ]
check "random into a missing directory: 5" [ "$(code "$SW" random --out "$T/nodir/x.json")" = 5 ]
check "normalise without --images: 2" [ "$(code "$SW" normalise "$T/w.json" "$T/x.json")" = 2 ]
check "normalise from an empty directory: 3" [ "$(mkdir -p "$T/empty"; code "$SW" normalise "$T/w.json" "$T/x.json" --images "$T/empty")" = 3 ]
check "no normalised output after failure" [ ! -e "$T/x.json" ]

# weights lookup: $STYLIZE_WEIGHTS, then ./weights/vgg19.json
run_here() { (cd "$1" && shift && "$@"); }
STYLIZE_WEIGHTS="$T/w.json" "$STYLIZE" --texture "$IMG/brick.png" --size 32 -n 1 -o "$T/e.png" --quiet
check "\$STYLIZE_WEIGHTS is used" [ -s "$T/e.png" ]
mkdir -p "$T/proj/weights" && cp "$T/w.json" "$T/proj/weights/vgg19.json" && cp "$T/w.bin" "$T/proj/weights/"
sed -i 's/"blob":[^,]*/"blob": "w.bin"/' "$T/proj/weights/vgg19.json"
(cd "$T/proj" && env -u STYLIZE_WEIGHTS "$STYLIZE" --texture "$IMG/brick.png" --size 32 -n 1 -o out.png --quiet)
check "./weights/vgg19.json is used" [ -s "$T/proj/out.png" ]
finish
