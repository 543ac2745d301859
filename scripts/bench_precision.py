"""Driver of scripts/bench-precision.sh: the same training run and the same
L-BFGS run in fp32 and bf16, their losses and times side by side."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import bench_run
from bench_run import ROOT


def run(cmd):
    """bench_run.run, stopping the measurement when a command fails (it says why)."""
    if bench_run.run(cmd)[0] != 0:
        sys.exit(1)


def per(h, key):
    """Median seconds per step / evaluation from a report's history (None without two entries)."""
    return bench_run.rate(h, key)[0]


def sample_loss(stylize, model, tex, tsize, threads, tmp, tag):
    """The model's texture quality judged in fp32: 4 samples (seeds 0..3) at
    the training size, each one's style loss against the texture by a
    float32 evaluation (--iterations 0 from the sample), averaged."""
    odir = os.path.join(tmp, "samples-" + tag)
    os.mkdir(odir)
    run([stylize, "apply", "--model", model, "--count", "4", "--width", str(tsize), "--height", str(tsize),
         "--precision", "fp32", "--output-dir", odir, "--threads", str(threads), "-q"])
    losses = []
    for n in sorted(os.listdir(odir)):
        rep = os.path.join(tmp, "eval-%s-%s.json" % (tag, n))
        run([stylize, "--texture", tex, "--init", os.path.join(odir, n), "--iterations", "0", "--weights", "random",
             "--size", str(tsize), "--style-layers", "relu1_1,relu2_1,relu3_1,relu4_1,relu5_1",
             "--precision", "fp32", "--threads", str(threads), "--report", rep, "-q",
             "-o", os.path.join(tmp, "eval-%s.png" % tag)])
        losses.append(json.load(open(rep))["loss_final"])
    return statistics.mean(losses)


def secs(v, unit):
    return "%.3f %s" % (v, unit) if v is not None else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--command", default="")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--evaluations", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default="bench-precision.json")
    a = ap.parse_args()
    stylize = os.path.join(a.build, "stylize")
    steps = a.steps or (20 if a.quick else 200)
    evals = a.evaluations or (20 if a.quick else 100)
    size = a.size or (128 if a.quick else 512)
    tsize = 64 if a.quick else 256
    if "avx512_bf16" not in open("/proc/cpuinfo").read():
        print("this CPU has no AVX512-BF16: nothing to compare")
        sys.exit(77)
    imgs = os.path.join(ROOT, "examples/images")
    res = {"train": {}, "gatys": {}}
    with tempfile.TemporaryDirectory(prefix="stylize-bench-precision-") as tmp:
        for p in ("fp32", "bf16"):
            rep = os.path.join(tmp, "train-%s.json" % p)
            run([stylize, "train", "--texture", os.path.join(imgs, "brick.png"), "--arch", "pyramid",
                 "--size", str(tsize), "--batch", "4", "--iterations", str(steps), "--weights", "random",
                 "--seed", "0", "--threads", str(a.threads), "--precision", p, "--print-every", "1",
                 "--report", rep, "-q", "-o", os.path.join(tmp, "m-%s.tnet" % p)])
            r = json.load(open(rep))
            res["train"][p] = {"loss_final": r["loss_final"], "loss_first": r["loss_first"],
                               "seconds_per_step": per(r["history"], "step"),
                               "precision": r["training"]["precision"],
                               "sample_loss_fp32": sample_loss(stylize, os.path.join(tmp, "m-%s.tnet" % p),
                                                               os.path.join(imgs, "brick.png"), tsize,
                                                               a.threads, tmp, p)}
            print(json.dumps({"train": p, **res["train"][p]}), file=sys.stderr)
        for p in ("fp32", "bf16"):
            rep = os.path.join(tmp, "gatys-%s.json" % p)
            run([stylize, "--content", os.path.join(imgs, "chelsea.png"), "--style",
                 os.path.join(imgs, "brick.png"), "--weights", "random", "--size", str(size),
                 "--iterations", "100000", "--max-evals", str(evals), "--tolerance", "0",
                 "--threads", str(a.threads), "--precision", p, "--print-every", "1", "--report", rep,
                 "-q", "-o", os.path.join(tmp, "g-%s.png" % p)])
            r = json.load(open(rep))
            res["gatys"][p] = {"loss_final": r["loss_final"], "evaluations": r["evaluations"],
                               "seconds_per_eval": per(r["history"], "evaluations"),
                               "size": "%dx%d" % (r["width"], r["height"]), "precision": r["precision"]}
            print(json.dumps({"gatys": p, **res["gatys"][p]}), file=sys.stderr)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout.strip() or "?"
    res.update({"cpu": cpu, "threads": a.threads, "command": a.command, "date": time.strftime("%Y-%m-%d %H:%M"),
                "commit": commit,
                "steps": steps, "evaluations": evals})
    json.dump(res, open(a.json, "w"), indent=1)
    t, g = res["train"], res["gatys"]
    tr = t["bf16"]["loss_final"] / t["fp32"]["loss_final"]
    gr = g["bf16"]["loss_final"] / g["fp32"]["loss_final"]
    sr = t["bf16"]["sample_loss_fp32"] / t["fp32"]["sample_loss_fp32"]
    print("machine: %s, %d threads; command: %s; commit %s" % (cpu, a.threads, a.command, commit))
    print()
    print("| work | fp32 loss | bf16 loss | bf16 / fp32 | allowed | fp32 time | bf16 time |")
    print("|---|---|---|---|---|---|---|")
    print("| train: pyramid texture, %d px, batch 4, %d steps (mean of the last 50) | %.5g | %.5g | %.4f | 1.02 | %s | %s |"
          % (tsize, steps, t["fp32"]["loss_final"], t["bf16"]["loss_final"], tr,
             secs(t["fp32"]["seconds_per_step"], "s/step"), secs(t["bf16"]["seconds_per_step"], "s/step")))
    print("| the trained models' samples (4 seeds) judged by a float32 evaluation | %.5g | %.5g | %.4f | 1.02 | | |"
          % (t["fp32"]["sample_loss_fp32"], t["bf16"]["sample_loss_fp32"], sr))
    print("| Gatys, L-BFGS: %s, %d evaluations (done: fp32 %d, bf16 %d) | %.5g | %.5g | %.4f | 1.01 | %s | %s |"
          % (g["fp32"]["size"], evals, g["fp32"]["evaluations"], g["bf16"]["evaluations"], g["fp32"]["loss_final"],
             g["bf16"]["loss_final"], gr, secs(g["fp32"]["seconds_per_eval"], "s/eval"),
             secs(g["bf16"]["seconds_per_eval"], "s/eval")))
    print()
    print("training in bf16: %s (its own loss), %s (samples judged in fp32); L-BFGS in bf16: %s"
          % ("holds" if tr <= 1.02 else "does not hold", "holds" if sr <= 1.02 else "does not hold",
             "holds" if gr <= 1.01 else "does not hold"))


if __name__ == "__main__":
    main()
