#!/usr/bin/python3
"""The benchmark's PyTorch side (Debian's python3-torch): the same recipe as
stylize on the same weights and images, for scripts/bench.sh --torch.

  bench_torch.py time WEIGHTS.json CONTENT.png STYLE.png THREADS REPEATS [--bf16]
      median seconds of one evaluation (VGG-19 forward to relu5_1, content
      relu4_2, style relu1_1..relu5_1, backward to the image), as JSON.
  bench_torch.py lbfgs WEIGHTS.json CONTENT.png STYLE.png THREADS EVALS ALPHA BETA [--bf16]
      torch.optim.LBFGS (history 10, strong Wolfe) from the content image for
      EVALS evaluations; the loss at the best point, as JSON.
--bf16: the evaluation's VGG-19 forward under torch.autocast("cpu",
bfloat16) (its backward follows the forward's dtypes); the features are cast
back to float32 before the losses and Gram matrices, which autocast leaves
alone as they are computed outside it. The targets (content features, style
Grams) are float32 either way.
Peak memory is measured by the caller (wait4 of this process).
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image

LAYERS = []
for block, n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]:
    for i in range(1, n + 1):
        LAYERS += ["conv%d_%d" % (block, i), "relu%d_%d" % (block, i)]
    LAYERS.append("pool%d" % block)
CONTENT = {"relu4_2": 1.0}
STYLE = {"relu1_1": 0.2, "relu2_1": 0.2, "relu3_1": 0.2, "relu4_1": 0.2, "relu5_1": 0.2}


def load(path):
    m = json.load(open(path))
    blob = np.fromfile(os.path.join(os.path.dirname(path), m["blob"]), dtype="<f4")
    mods, k = [], 0
    depth = LAYERS.index("relu5_1")
    for name in LAYERS[: depth + 1]:
        if name.startswith("conv"):
            layer = m["layers"][k]
            k += 1
            o, i = layer["shape"][:2]
            c = torch.nn.Conv2d(i, o, 3, padding=1)
            w0, b0 = layer["weight_offset"] // 4, layer["bias_offset"] // 4
            c.weight.data.copy_(torch.from_numpy(blob[w0: w0 + o * i * 9].reshape(o, i, 3, 3).copy()))
            c.bias.data.copy_(torch.from_numpy(blob[b0: b0 + o].copy()))
            mods.append(c)
        elif name.startswith("relu"):
            mods.append(torch.nn.ReLU(inplace=True))
        else:
            mods.append(torch.nn.AvgPool2d(2, 2))
    net = torch.nn.Sequential(*mods)
    for p in net.parameters():
        p.requires_grad_(False)
    return m, net


def image(path, conv):
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    x = a.transpose(2, 0, 1)
    if conv["channel_order"] == "BGR":
        x = x[::-1]
    x = (x * conv["pixel_scale"] - np.array(conv["mean"], np.float32).reshape(3, 1, 1)) / np.array(
        conv["std"], np.float32).reshape(3, 1, 1)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).unsqueeze(0)


def feats(net, x):
    out = {}
    for i, mod in enumerate(net):
        x = mod(x)
        if LAYERS[i] in CONTENT or LAYERS[i] in STYLE:
            out[LAYERS[i]] = x
    return out


def gram(f):
    F = f.reshape(f.shape[1], -1)
    return F @ F.t(), F.shape[0], F.shape[1]


def problem(wpath, cpath, spath):
    m, net = load(wpath)
    xc, xs = image(cpath, m["input"]), image(spath, m["input"])
    with torch.no_grad():
        P = {k: v.clone() for k, v in feats(net, xc).items() if k in CONTENT}
        S = feats(net, xs)
        A = {k: gram(S[k])[0] * (xc.shape[2] * xc.shape[3]) / (xs.shape[2] * xs.shape[3]) for k in STYLE}
    return net, xc, P, A


def loss_fn(net, x, P, A, alpha, beta, bf16=False):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        F = feats(net, x)
    F = {k: v.float() for k, v in F.items()}
    total = 0
    for k, w in CONTENT.items():
        total = total + alpha * w * 0.5 * ((F[k] - P[k]) ** 2).sum()
    for k, w in STYLE.items():
        g, n, mm = gram(F[k])
        total = total + beta * w * ((g - A[k]) ** 2).sum() / (4.0 * n * n * mm * mm)
    return total


def main():
    argv = [v for v in sys.argv if v != "--bf16"]
    bf16 = len(argv) < len(sys.argv)
    mode = argv[1]
    wpath, cpath, spath, threads = argv[2], argv[3], argv[4], int(argv[5])
    torch.set_num_threads(threads)
    net, xc, P, A = problem(wpath, cpath, spath)
    if mode == "time":
        repeats = int(argv[6])
        x = xc.clone().requires_grad_(True)
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            if x.grad is not None:
                x.grad = None
            loss = loss_fn(net, x, P, A, 1.0, 1.0, bf16)
            loss.backward()
            times.append(time.perf_counter() - t0)
        print(json.dumps({"seconds_per_eval": statistics.median(times[1:]), "threads": threads,
                          "precision": "bf16-autocast" if bf16 else "fp32", "torch": torch.__version__}))
    else:
        evals, alpha, beta = int(argv[6]), float(argv[7]), float(argv[8])
        x = xc.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([x], lr=1, max_iter=evals, max_eval=evals, history_size=10,
                                tolerance_grad=0, tolerance_change=0, line_search_fn="strong_wolfe")
        count = [0]
        best = [float("inf")]

        def closure():
            opt.zero_grad()
            loss = loss_fn(net, x, P, A, alpha, beta, bf16)
            loss.backward()
            count[0] += 1
            best[0] = min(best[0], loss.item())
            return loss

        t0 = time.perf_counter()
        opt.step(closure)
        print(json.dumps({"evaluations": count[0], "loss_best": best[0],
                          "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
