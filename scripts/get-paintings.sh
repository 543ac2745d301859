#!/bin/bash
# Downloads a few public-domain paintings from Wikimedia Commons to use as
# styles (they are not part of the repository):
#   scripts/get-paintings.sh [--quiet] [DIR]        (default DIR: examples/paintings)
# Needs curl or wget and a network; fails with one clear line without them.
set -u
quiet=0
dir=examples/paintings
for a in "$@"; do
    case "$a" in
    --quiet) quiet=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    -*) echo "get-paintings.sh: unknown option '$a'" >&2; exit 2 ;;
    *) dir="$a" ;;
    esac
done
mkdir -p "$dir" || exit 1
# name|Commons file name|artist, title, year
paintings=(
"starry_night.jpg|Van_Gogh_-_Starry_Night_-_Google_Art_Project.jpg|Vincent van Gogh, The Starry Night, 1889"
"great_wave.jpg|Tsunami_by_hokusai_19th_century.jpg|Katsushika Hokusai, The Great Wave off Kanagawa, c. 1831"
"the_scream.jpg|Edvard_Munch,_1893,_The_Scream,_oil,_tempera_and_pastel_on_cardboard,_91_x_73_cm,_National_Gallery_of_Norway.jpg|Edvard Munch, The Scream, 1893"
"composition_vii.jpg|Vassily_Kandinsky,_1913_-_Composition_7.jpg|Wassily Kandinsky, Composition VII, 1913"
"impression_sunrise.jpg|Claude_Monet,_Impression,_soleil_levant.jpg|Claude Monet, Impression, Sunrise, 1872"
)
fetch() { # URL OUT
    if command -v curl >/dev/null; then
        curl -fsL --connect-timeout 10 -A "stylize-get-paintings/1" -o "$2.part" "$1" 2>/dev/null
    elif command -v wget >/dev/null; then
        wget -q --timeout=10 -U "stylize-get-paintings/1" -O "$2.part" "$1" 2>/dev/null
    else
        echo "get-paintings.sh: needs curl or wget" >&2; return 2
    fi
}
failed=0
credits="$dir/CREDITS.md"
printf '# Paintings (public domain), from Wikimedia Commons\n\n' >"$credits.part"
for p in "${paintings[@]}"; do
    IFS='|' read -r name file title <<<"$p"
    url="https://commons.wikimedia.org/wiki/Special:FilePath/$file?width=1024"
    if [ -s "$dir/$name" ] || { fetch "$url" "$dir/$name" && mv "$dir/$name.part" "$dir/$name"; }; then
        [ $quiet -eq 1 ] || echo "$dir/$name: $title"
        printf -- '- %s: %s (https://commons.wikimedia.org/wiki/File:%s)\n' "$name" "$title" "$file" >>"$credits.part"
    else
        rc=$?
        rm -f "$dir/$name.part"
        failed=$((failed + 1))
        # no name resolution or no connection: the others would fail the same way
        if [ $rc -eq 6 ] || [ $rc -eq 7 ] || [ $rc -eq 4 ]; then break; fi
    fi
done
if [ $failed -lt ${#paintings[@]} ] && grep -q '^- ' "$credits.part"; then
    mv "$credits.part" "$credits"
else
    rm -f "$credits.part"
fi
if ! ls "$dir"/*.jpg >/dev/null 2>&1; then
    echo "get-paintings.sh: could not download from Wikimedia Commons (no network?)" >&2
    exit 1
fi
exit 0
