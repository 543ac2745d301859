#!/bin/bash
# Generates a man page (troff) from a program's --help and --version, so the
# page never drifts from the program: scripts/man.sh PROGRAM NAME [OUT.1]
# --help layout understood: "Usage:" lines, a description paragraph,
# "Section:" headers, "  -x, --flag ARG   text" items whose text may continue
# on more-indented lines, and plain paragraphs.
set -euo pipefail
prog="$1" name="$2"
if [ $# -ge 3 ]; then exec >"$3.tmp"; trap 'rm -f "$3.tmp"' ERR; fi
version=$("$prog" --version | head -1 | awk '{print $2}')
"$prog" --help | awk -v name="$name" -v version="$version" '
function esc(s) { gsub(/\\/, "\\e", s); gsub(/^\./, "\\\\\\&.", s); gsub(/-/, "\\-", s); return s }
BEGIN {
    printf ".TH %s 1 \"\" \"%s %s\" \"User Commands\"\n", toupper(name), name, version
    printf ".SH NAME\n%s \\- %s\n", name, (name == "stylize") ? "neural style transfer and texture synthesis with VGG-19" : "make, inspect and import VGG-19 weights for stylize"
    state = "synopsis"; print ".SH SYNOPSIS"; print ".nf"
}
state == "synopsis" {
    if ($0 ~ /^(Usage: )?[ ]*(stylize|stylize-weights) /) { line = $0; sub(/^Usage: */, "", line); sub(/^ +/, "", line); print esc(line); next }
    if ($0 == "") { print ".fi"; print ".SH DESCRIPTION"; state = "desc"; next }
    print ".fi"; print ".SH DESCRIPTION"; state = "desc"
}
/^[A-Z][A-Za-z ]*:$/ { sub(/:$/, ""); print ".SH " toupper(esc($0)); state = "sect"; next }
/^$/ { if (state != "synopsis") print ".PP"; next }
/^  [^ ]/ || /^  +-/ {
    line = $0; sub(/^ +/, "", line)
    if (match(line, /   +/)) { term = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH) }
    else { term = line; text = "" }
    print ".TP"; print "\\fB" esc(term) "\\fR"; if (text != "") print esc(text); next
}
/^   +/ { line = $0; sub(/^ +/, "", line); print esc(line); next }
{ print esc($0) }
END { print ".SH SEE ALSO"; print "The README.md of the stylize sources, and weights/README.md for the weights format." }
'
if [ $# -ge 3 ]; then mv "$3.tmp" "$3"; fi
