#!/usr/bin/python3
"""Cross-check of stylize's losses and image gradient against PyTorch.

Reads a native stylize weights manifest (+ blob), builds torchvision's
VGG-19 feature stack with those weights, computes the paper's losses on
given PNG images (no resizing) and writes JSON with each layer's content and
style loss, the total, and the autograd image gradient (as a path to a raw
float32 file).

usage: torch_crosscheck.py WEIGHTS.json CONTENT.png STYLE.png INIT.png avg|max
                           ALPHA BETA TV OUT.json GRAD_OUT.bin
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

CONV_NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
              "conv3_4", "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2",
              "conv5_3", "conv5_4"]
# torchvision's vgg19().features, by index: conv, relu and pool names.
LAYERS = []
for block, n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]:
    for i in range(1, n + 1):
        LAYERS += ["conv%d_%d" % (block, i), "relu%d_%d" % (block, i)]
    LAYERS.append("pool%d" % block)


def load_weights(path):
    with open(path) as f:
        m = json.load(f)
    blob = np.fromfile(os.path.join(os.path.dirname(path), m["blob"]), dtype="<f4")
    convs = []
    for layer in m["layers"]:
        o, i, kh, kw = layer["shape"]
        w0 = layer["weight_offset"] // 4
        b0 = layer["bias_offset"] // 4
        w = blob[w0:w0 + o * i * kh * kw].reshape(o, i, kh, kw)
        b = blob[b0:b0 + o]
        convs.append((torch.from_numpy(w.copy()), torch.from_numpy(b.copy())))
    return m, convs


def build(convs, pool):
    mods, k = [], 0
    for name in LAYERS:
        if name.startswith("conv"):
            w, b = convs[k]
            k += 1
            c = torch.nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
            c.weight.data.copy_(w)
            c.bias.data.copy_(b)
            mods.append(c)
        elif name.startswith("relu"):
            mods.append(torch.nn.ReLU(inplace=False))
        else:
            mods.append(torch.nn.AvgPool2d(2, 2) if pool == "avg" else torch.nn.MaxPool2d(2, 2))
    net = torch.nn.Sequential(*mods)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def to_input(path, conv):
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0  # H, W, 3
    x = img.transpose(2, 0, 1)  # 3, H, W RGB
    if conv["channel_order"] == "BGR":
        x = x[::-1]
    mean = np.array(conv["mean"]).reshape(3, 1, 1)
    std = np.array(conv["std"]).reshape(3, 1, 1)
    x = (x * conv["pixel_scale"] - mean) / std
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).unsqueeze(0)


def features(net, x, wanted):
    out = {}
    depth = max(LAYERS.index(n) for n in wanted)
    for i, mod in enumerate(net):
        if i > depth:
            break
        x = mod(x)
        if LAYERS[i] in wanted:
            out[LAYERS[i]] = x
    return out


def gram(f):
    n = f.shape[1]
    F = f.reshape(n, -1)
    return F @ F.t(), n, F.shape[1]


def main():
    (wpath, cpath, spath, ipath, pool, alpha, beta, tv, out_json, grad_out) = sys.argv[1:11]
    alpha, beta, tv = float(alpha), float(beta), float(tv)
    torch.set_num_threads(1)
    m, convs = load_weights(wpath)
    net = build(convs, pool).double()
    content_layers = {"relu4_2": 1.0}
    style_layers = {"relu1_1": 0.2, "relu2_1": 0.2, "relu3_1": 0.2, "relu4_1": 0.2, "relu5_1": 0.2}
    wanted = set(content_layers) | set(style_layers)
    conv = m["input"]
    xc = to_input(cpath, conv).double()
    xs = to_input(spath, conv).double()
    x = to_input(ipath, conv).double().requires_grad_(True)
    with torch.no_grad():
        P = features(net, xc, wanted)
        S = features(net, xs, wanted)
        A = {}
        for name in style_layers:
            g, n, ms = gram(S[name])
            A[name] = g
    F = features(net, x, wanted)
    res = {"content": {}, "style": {}}
    total = 0
    for name, wgt in content_layers.items():
        lc = 0.5 * ((F[name] - P[name]) ** 2).sum()
        res["content"][name] = lc.item()
        total = total + alpha * wgt * lc
    for name, wgt in style_layers.items():
        g, n, mm = gram(F[name])
        e = ((g - A[name]) ** 2).sum() / (4.0 * n * n * mm * mm)
        res["style"][name] = e.item()
        total = total + beta * wgt * e
    if tv > 0:
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        total = total + tv * ((dx ** 2).sum() + (dy ** 2).sum())
    total.backward()
    res["total"] = total.item()
    x.grad[0].numpy().astype("<f4").tofile(grad_out)
    with open(out_json, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
