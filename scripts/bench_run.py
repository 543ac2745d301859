#!/usr/bin/python3
"""stylize benchmark (driven by scripts/bench.sh; not a test, CI does not run it).

Full-width VGG-19 with random weights, the paper's recipe (content relu4_2,
style relu1_1..relu5_1, to relu5_1): for each size, the median time of one
evaluation (forward + backward) from a real `stylize` run's report, the peak
resident memory of that whole run, the achieved GFLOP/s (direct-convolution
FLOPs / time), and the machine's sgemm throughput in the same run. With
--torch, the same recipe in Debian's python3-torch (same threads, sizes,
weights and images) and the ratios, plus the loss after N evaluations of both
L-BFGS implementations on the same problem.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTHS = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512]  # conv1_1 .. conv5_1


def run(cmd, env=None, expected=(0,)):
    """Runs cmd; returns (exit code, peak RSS in bytes, stdout); codes not in expected are reported."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in expected:
        sys.stderr.write("bench: %s failed (%d): %s\n" % (cmd[0], code, err.decode(errors="replace")[-500:]))
    return code, ru.ru_maxrss * 1024, out.decode()


def rate(h, key):
    """(median seconds per step or evaluation, intervals) between a report's history entries; the first
    entry (the warm-up step, after the planning) is left out."""
    per = [(h[i]["seconds"] - h[i - 1]["seconds"]) / (h[i][key] - h[i - 1][key])
           for i in range(1, len(h)) if h[i][key] > h[i - 1][key]]
    return (statistics.median(per) if per else None), len(per)


def per_eval(report):
    """Median seconds per evaluation between the history entries of a stylize report (an error if none)."""
    t, n = rate(json.load(open(report))["history"], "evaluations")
    if t is None:
        raise statistics.StatisticsError("%s: no two history entries to time" % report)
    return t, n


def vgg_flops(w, h):
    """Direct-convolution FLOPs of forward + input-gradient backward to relu5_1."""
    flops, cin, pools = 0, 3, 0
    blocks = [2, 2, 4, 4, 1]
    k = 0
    for b, n in enumerate(blocks):
        for _ in range(n):
            cout = WIDTHS[k]
            flops += 2 * 9 * cin * cout * w * h
            cin = cout
            k += 1
        if b < 4:
            w, h = w // 2, h // 2
    return 2 * flops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--evals", type=int, default=6, help="timed evaluations per size (median)")
    ap.add_argument("--torch", action="store_true")
    ap.add_argument("--loss-evals", type=int, default=100)
    ap.add_argument("--loss-size", type=int, default=256)
    ap.add_argument("--json", default="bench.json")
    a = ap.parse_args()
    stylize = os.path.join(a.build, "stylize")
    tool = os.path.join(a.build, "stylize-weights")
    sizes = [int(s) for s in a.sizes.split(",")]
    tmp = tempfile.mkdtemp(prefix="stylize-bench-")
    weights = os.path.join(tmp, "vgg19-random.json")
    if run([tool, "random", "--out", weights, "--seed", "1"])[0] != 0:
        sys.exit(1)
    from PIL import Image  # the benchmark resizes the images itself so both sides see the same pixels

    def images(size):
        c = Image.open(os.path.join(ROOT, "examples/images/chelsea.png")).convert("RGB")
        s = Image.open(os.path.join(ROOT, "examples/images/rocket.jpg")).convert("RGB")
        cw, ch = size, max(1, round(c.height * size / c.width))
        sw, sh = size, max(1, round(s.height * size / s.width))
        cp, sp = os.path.join(tmp, "c%d.png" % size), os.path.join(tmp, "s%d.png" % size)
        c.resize((cw, ch), Image.BICUBIC).save(cp)
        s.resize((sw, sh), Image.BICUBIC).save(sp)
        return cp, sp, cw, ch

    # sgemm throughput of this machine, now, through the same OpenBLAS.
    sgemm_tool = os.path.join(a.build, "tests", "stylize-sgemm-bench")
    sgemm = None
    core = None
    if os.path.exists(sgemm_tool):
        env = dict(os.environ)
        code, _, out = run([stylize, "--version"])
        if code == 0 and "OpenBLAS core" in out:
            core = out.split("OpenBLAS core")[1].strip(" )\n")
            env.setdefault("OPENBLAS_CORETYPE", core)
        code, _, out = run([sgemm_tool, str(a.threads)], env=env)
        if code == 0:
            sgemm = float(out.split()[0])

    rows = []
    for size in sizes:
        cp, sp, cw, ch = images(size)
        report = os.path.join(tmp, "r%d.json" % size)
        cmd = [stylize, "--content", cp, "--style", sp, "--weights", weights, "--size", str(size),
               "--iterations", str(a.evals), "--tolerance", "0", "--print-every", "1",
               "--threads", str(a.threads), "--report", report, "-o", os.path.join(tmp, "o%d.png" % size), "-q"]
        code, rss, _ = run(cmd)
        row = {"size": size, "width": cw, "height": ch}
        if code == 0:
            t, timed = per_eval(report)
            row.update({"seconds_per_eval": t, "peak_rss_bytes": rss,
                        "gflops": vgg_flops(cw, ch) / t / 1e9, "evaluations_timed": timed})
        if a.torch:
            code, trss, out = run(["/usr/bin/python3", os.path.join(ROOT, "scripts/bench_torch.py"), "time",
                                   weights, cp, sp, str(a.threads), str(max(3, a.evals // 2))])
            if code == 0:
                tt = json.loads(out)["seconds_per_eval"]
                row.update({"torch_seconds_per_eval": tt, "torch_peak_rss_bytes": trss})
                if "seconds_per_eval" in row:
                    row["time_ratio"] = row["seconds_per_eval"] / tt
                    row["memory_ratio"] = row["peak_rss_bytes"] / trss
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)

    result = {"machine": {"cpus": os.cpu_count(), "threads": a.threads, "openblas_core": core,
                          "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")},
              "sgemm_gflops": sgemm, "sizes": rows, "date": time.strftime("%Y-%m-%d")}
    if a.torch:
        # the default style weight for this convention (stylize_default_beta)
        conv = json.load(open(weights))["input"]
        scale = conv["pixel_scale"] / (sum(conv["std"]) / 3.0)
        beta = 1e3 * (255.0 / scale) ** 2
        cp, sp, cw, ch = images(a.loss_size)
        report = os.path.join(tmp, "loss.json")
        cmd = [stylize, "--content", cp, "--style", sp, "--weights", weights, "--size", str(a.loss_size),
               "--iterations", str(a.loss_evals), "--max-evals", str(a.loss_evals), "--tolerance", "0",
               "--alpha", "1", "--beta", repr(beta), "--lbfgs-history", "10", "--threads", str(a.threads),
               "--report", report, "-o", os.path.join(tmp, "loss.png"), "-q"]
        if run(cmd)[0] == 0:
            r = json.load(open(report))
            code, _, out = run(["/usr/bin/python3", os.path.join(ROOT, "scripts/bench_torch.py"), "lbfgs",
                                weights, cp, sp, str(a.threads), str(a.loss_evals), "1", repr(beta)])
            if code == 0:
                t = json.loads(out)
                result["loss"] = {"size": a.loss_size, "beta": beta, "evaluations": r["evaluations"], "stylize": r["loss_final"],
                                  "torch_evaluations": t["evaluations"], "torch": t["loss_best"],
                                  "ratio": r["loss_final"] / t["loss_best"]}
    json.dump(result, open(a.json, "w"), indent=1)

    print("machine: %s, %d cpus, %d threads, OpenBLAS core %s; sgemm %s GFLOP/s" % (
        result["machine"]["cpu"], result["machine"]["cpus"], a.threads, core or "?", "%.0f" % sgemm if sgemm else "n/a"))
    hdr = "| size | s/eval | GFLOP/s | peak RSS |"
    if a.torch:
        hdr += " torch s/eval | torch RSS | time ratio | memory ratio |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for row in rows:
        if "seconds_per_eval" not in row:
            print("| %dx%d | failed |" % (row["width"], row["height"]))
            continue
        line = "| %dx%d | %.3f | %.0f | %.0f MiB |" % (row["width"], row["height"], row["seconds_per_eval"],
                                                      row["gflops"], row["peak_rss_bytes"] / 2 ** 20)
        if a.torch and "torch_seconds_per_eval" in row:
            line += " %.3f | %.0f MiB | %.2f | %.2f |" % (row["torch_seconds_per_eval"], row["torch_peak_rss_bytes"] / 2 ** 20,
                                                         row["time_ratio"], row["memory_ratio"])
        print(line)
    if "loss" in result:
        l = result["loss"]
        print("loss after %d evaluations at %d px (alpha 1, beta %.3g, from the content): stylize %.6g, "
              "PyTorch L-BFGS %.6g (%d evaluations), ratio %.3f"
              % (l["evaluations"], l["size"], l["beta"], l["stylize"], l["torch"], l["torch_evaluations"], l["ratio"]))
    print("JSON: %s" % a.json)


if __name__ == "__main__":
    main()
