#!/usr/bin/python3
"""Photorealistic transfer benchmark (driven by scripts/bench-photo.sh; not a test).

Full-width VGG-19 with random weights (the timing does not depend on the
values), content chelsea.png and style rocket.jpg resized to each size.
For each size: median seconds per evaluation of `stylize` runs with the
photorealism term (--photorealism 1e4) and without it, alternating, round
by round; the term's own time (bench_photo: M_I V for three channels,
value and gradient); the peak RSS of a whole two-stage --photo run with
--smooth affine; then the largest --photo size that fits in 4 GiB, whole
and in strips, from --dry-run.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from bench_run import ROOT, per_eval, run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--sizes", default="512,1024")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", default="bench-photo.json")
    a = ap.parse_args()
    stylize = os.path.join(a.build, "stylize")
    tmp = tempfile.mkdtemp(prefix="stylize-bench-photo-")
    weights = os.path.join(tmp, "vgg19-random.json")
    if run([os.path.join(a.build, "stylize-weights"), "random", "--out", weights, "--seed", "1"])[0] != 0:
        sys.exit(1)
    from PIL import Image

    def images(size):
        c = Image.open(os.path.join(ROOT, "examples/images/chelsea.png")).convert("RGB")
        s = Image.open(os.path.join(ROOT, "examples/images/rocket.jpg")).convert("RGB")
        cp, sp = os.path.join(tmp, "c%d.png" % size), os.path.join(tmp, "s%d.png" % size)
        c.resize((size, round(c.height * size / c.width)), Image.BICUBIC).save(cp)
        s.resize((size, round(s.height * size / s.width)), Image.BICUBIC).save(sp)
        return cp, sp

    rows = []
    for size in [int(s) for s in a.sizes.split(",")]:
        cp, sp = images(size)
        base = [stylize, "--content", cp, "--style", sp, "--weights", weights, "--size", str(size),
                "--iterations", str(a.iterations), "--tolerance", "0", "--print-every", "1",
                "--threads", str(a.threads), "-q", "-o", os.path.join(tmp, "o.png")]
        with_t, without = [], []
        for r in range(a.rounds):
            for lam, acc in ((1e4, with_t), (0, without)) if r % 2 == 0 else ((0, without), (1e4, with_t)):
                rep = os.path.join(tmp, "r.json")
                if run(base + ["--photorealism", repr(lam), "--report", rep])[0] == 0:
                    acc.append(per_eval(rep)[0])
        code, _, out = run([os.path.join(a.build, "tests", "bench", "bench_photo"), "-s", str(size), "-r", "5",
                            "-t", str(a.threads)])
        micro = dict(zip(out.split()[3::2], map(float, out.split()[4::2]))) if code == 0 else {}
        rep = os.path.join(tmp, "photo.json")
        code, rss, _ = run(base + ["--photo", "--smooth", "affine", "--report", rep])
        row = {"size": size, "seconds_per_eval_with_term": statistics.median(with_t),
               "seconds_per_eval_without": statistics.median(without), "rounds": a.rounds,
               "term_seconds": micro.get("term"), "precompute_seconds": micro.get("precompute"),
               "affine_seconds": micro.get("affine"), "guided_seconds": micro.get("guided"),
               "figures_seconds": micro.get("figures"), "photo_peak_rss_bytes": rss if code == 0 else None}
        if code == 0:
            r = json.load(open(rep))
            row.update({"width": r["width"], "height": r["height"], "photo_memory_estimate": r["memory_estimate"]})
        row["term_share_measured"] = row["seconds_per_eval_with_term"] / row["seconds_per_eval_without"] - 1
        if row["term_seconds"]:
            row["term_share"] = row["term_seconds"] / row["seconds_per_eval_without"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)

    # the largest --photo size in 4 GiB: the run's own estimate (--dry-run)
    cp, sp = images(512)
    def fits(size, tile):
        cmd = [stylize, "--content", cp, "--style", sp, "--weights", weights, "--size", str(size), "--photo",
               "--smooth", "affine", "--max-memory", "4G", "--dry-run", "-q", "--tile-rows", tile]
        return run(cmd, expected=(0, 6))[0] == 0  # 6: over --max-memory
    largest = {}
    for tile in ("0", "auto"):
        lo, hi = 256, 16384
        while hi - lo > 16:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid, tile) else (lo, mid)
        largest["whole" if tile == "0" else "strips"] = lo
    result = {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
              "threads": a.threads, "date": time.strftime("%Y-%m-%d"), "sizes": rows, "largest_in_4GiB": largest}
    json.dump(result, open(a.json, "w"), indent=1)
    print("| size | s/eval with the term | without | term alone | term share | --photo peak RSS |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %dx%d | %.3f | %.3f | %.4f s | %.1f%% | %d MiB |" % (
            r.get("width", r["size"]), r.get("height", 0), r["seconds_per_eval_with_term"],
            r["seconds_per_eval_without"], r["term_seconds"] or 0, 100 * r.get("term_share", 0),
            (r["photo_peak_rss_bytes"] or 0) >> 20))
    print("largest --photo in 4 GiB: %d px whole, %d px in strips" % (largest["whole"], largest["strips"]))


if __name__ == "__main__":
    main()
