#!/bin/bash
# Cross-check against PyTorch (Debian's python3-torch, computed in float64):
# each layer's content and style loss and the total from
# `stylize --iterations 0 --report` agree to 1e-4 relative, and our image
# gradient has cosine similarity > 0.99999 with autograd's. Skipped (exit 77,
# visibly) only where /usr/bin/python3 has no torch.
set -u
. "$STYLIZE_SRC/tests/clitest.sh"
PY=/usr/bin/python3
require_torch
T="$STYLIZE_TEST_TMP"
rm -rf "$T" && mkdir -p "$T" || exit 1
fail=0
"$STYLIZE_WEIGHTS_TOOL" random --out "$T/w.json" --seed 5 --width-divisor 8 || exit 1
# Three 64x48 test images with structure (no resizing happens at --size 64).
$PY - "$T" <<'PYEOF' || exit 1
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(3)
yy, xx = np.mgrid[0:48, 0:64]
for name, k in [("content", 1), ("style", 2), ("init", 3)]:
    base = np.stack([np.sin(xx / (3.0 + k)) , np.cos(yy / (2.0 + k)), np.sin((xx + yy) / (5.0 + k))], -1)
    img = 0.5 + 0.35 * base + 0.15 * rng.standard_normal((48, 64, 3))
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save("%s/%s.png" % (d, name))
PYEOF

for pool in avg max; do
    for tv in 0 0.5; do
        "$STYLIZE" --content "$T/content.png" --style "$T/style.png" --init "$T/init.png" \
            --weights "$T/w.json" --size 64 --pool $pool --alpha 1 --beta 1000 --tv $tv \
            --iterations 0 --report "$T/r_$pool.json" -o "$T/o_$pool.png" --quiet || { echo "FAIL: stylize ($pool)"; fail=1; continue; }
        "$STYLIZE_DUMP_GRAD" "$T/w.json" "$T/content.png" "$T/style.png" "$T/init.png" $pool 1 1000 $tv "$T/g_$pool.bin" > "$T/d_$pool.txt" || { echo "FAIL: dump_grad ($pool)"; fail=1; continue; }
        $PY "$STYLIZE_SRC/tests/vgg/torch_crosscheck.py" "$T/w.json" "$T/content.png" "$T/style.png" "$T/init.png" \
            $pool 1 1000 $tv "$T/t_$pool.json" "$T/tg_$pool.bin" || { echo "FAIL: torch ($pool)"; fail=1; continue; }
        $PY - "$T" $pool $tv <<'PYEOF' || fail=1
import json, sys, numpy as np
d, pool, tv = sys.argv[1], sys.argv[2], sys.argv[3]
ours = json.load(open("%s/r_%s.json" % (d, pool)))
ref = json.load(open("%s/t_%s.json" % (d, pool)))
h = ours["history"][0]
bad = 0
def close(name, a, b, tol=1e-4):
    global bad
    rel = abs(a - b) / max(abs(b), 1e-30)
    ok = rel <= tol
    print("%-4s tv=%-3s %-16s stylize %.8e torch %.8e rel %.2e %s" % (pool, tv, name, a, b, rel, "ok" if ok else "FAIL"))
    if not ok:
        bad += 1
for layer, v in ref["content"].items():
    close("content " + layer, h["content"][layer], v)
for layer, v in ref["style"].items():
    close("style " + layer, h["style"][layer], v)
close("total", ours["loss_initial"], ref["total"])
close("history loss", h["loss"], ref["total"])
g = np.fromfile("%s/g_%s.bin" % (d, pool), dtype="<f4").astype(np.float64)
t = np.fromfile("%s/tg_%s.bin" % (d, pool), dtype="<f4").astype(np.float64)
cos = g.dot(t) / (np.linalg.norm(g) * np.linalg.norm(t))
print("%-4s tv=%-3s gradient cosine similarity %.8f %s" % (pool, tv, cos, "ok" if cos > 0.99999 else "FAIL"))
if not cos > 0.99999:
    bad += 1
# the dump tool reports the same total as the CLI
dump = dict((l.split()[0] + " " + " ".join(l.split()[1:-1]), float(l.split()[-1])) for l in open("%s/d_%s.txt" % (d, pool)))
close("dump total", dump["total "], ref["total"])
sys.exit(1 if bad else 0)
PYEOF
    done
done
if [ $fail -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
