#!/usr/bin/python3
"""Cross-check of the layer-graph executor (nn/graph.h) against PyTorch.

Reads what tests/tools/dump_generator.c wrote into DIR (graph.json: the
nodes, their hyper-parameters and the parameter layout; input.bin,
output.bin, params.bin, grad.bin and, when computed, input_grad.bin, all
little-endian float32), rebuilds the same network with torch.nn.functional
in float64, runs it on the same input and compares the output; then
computes the same VGG-19 loss (content and Gram losses of each batch image,
summed over the batch; weights from the stylize manifest, targets from the
PNGs) in torch, backpropagates, and compares the loss and every parameter
tensor's gradient (and the input gradient) with ours. One line per checked
quantity with its error and ok/FAIL; exit status 1 on any FAIL.

Error measure: max |ours - torch| / max |torch| over a tensor. Bound 1e-4
for everything (our float32 against torch's float64); the loss itself to
1e-4 relative. Measured (seed 7): at most 1.3e-5 with the default Winograd
F(4x4) 3x3 algorithm, whose rounding dominates (up to 3.7e-5 over seeds
1..13, on norm shifts, whose gradient is a sum that partly cancels), and
4e-6 with im2col. Exception: the gradient of a convolution's bias that
feeds only an instance norm is exactly zero (the norm removes it), so it
is measured against the same convolution's weight gradient.

usage: generator_crosscheck.py WEIGHTS.json CONTENT.png STYLE.png DIR
                               [--wrong-pad] [--corrupt-grad TENSOR]
  --wrong-pad          negative check: torch reads replicate padding as reflect
  --corrupt-grad NAME  negative check: our gradient of tensor NAME (e.g.
                       "q1.conv.weight") is scaled by 1.001 before comparing
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

TOL = 1e-4
TOL_LOSS = 1e-4

# torchvision's vgg19().features names, in order (as tests/vgg/torch_crosscheck.py).
VGG_LAYERS = []
for _block, _n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]:
    for _i in range(1, _n + 1):
        VGG_LAYERS += ["conv%d_%d" % (_block, _i), "relu%d_%d" % (_block, _i)]
    VGG_LAYERS.append("pool%d" % _block)


def read_f32(path, count=None):
    a = np.fromfile(path, dtype="<f4")
    if count is not None and a.size != count:
        raise SystemExit("%s: %d floats, expected %d" % (path, a.size, count))
    return a.astype(np.float64)


# ---- VGG-19 and the style objective (as tests/vgg/torch_crosscheck.py) ----

def load_vgg(path):
    with open(path) as f:
        m = json.load(f)
    blob = np.fromfile(os.path.join(os.path.dirname(path), m["blob"]), dtype="<f4")
    convs = {}
    for layer in m["layers"]:
        o, i, kh, kw = layer["shape"]
        w0 = layer["weight_offset"] // 4
        b0 = layer["bias_offset"] // 4
        w = blob[w0:w0 + o * i * kh * kw].reshape(o, i, kh, kw).astype(np.float64)
        b = blob[b0:b0 + o].astype(np.float64)
        convs[layer["name"]] = (torch.from_numpy(w), torch.from_numpy(b))
    return m, convs


def vgg_features(convs, pool, x, wanted):
    """Activations of the VGG layers in wanted for x (N, 3, H, W)."""
    out = {}
    depth = max(VGG_LAYERS.index(n) for n in wanted)
    for name in VGG_LAYERS[:depth + 1]:
        if name.startswith("conv"):
            w, b = convs[name]
            x = F.conv2d(x, w, b, padding=1)
        elif name.startswith("relu"):
            x = F.relu(x)
        else:
            x = F.avg_pool2d(x, 2) if pool == "avg" else F.max_pool2d(x, 2)
        if name in wanted:
            out[name] = x
    return out


def to_input(path, conv):
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0  # H, W, 3
    x = img.transpose(2, 0, 1)
    if conv["channel_order"] == "BGR":
        x = x[::-1]
    mean = np.array(conv["mean"]).reshape(3, 1, 1)
    std = np.array(conv["std"]).reshape(3, 1, 1)
    x = (x * conv["pixel_scale"] - mean) / std
    # our conversion is in float32
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).double().unsqueeze(0)


def parse_layers(s):
    out = {}
    for item in s.split(","):
        name, _, w = item.partition(":")
        out[name] = float(w) if w else 1.0
    return out


def gram(f):
    """Per image: F F^T of (N, C, H, W) -> (N, C, C), with C and M."""
    n, c = f.shape[0], f.shape[1]
    Fm = f.reshape(n, c, -1)
    return Fm @ Fm.transpose(1, 2), c, Fm.shape[2]


def style_objective(desc, vgg_path, content, style, y):
    """sum over the batch of alpha sum c_l L_content,l + beta sum w_l E_l."""
    m, convs = load_vgg(vgg_path)
    cl, sl = parse_layers(desc["content_layers"]), parse_layers(desc["style_layers"])
    wanted = set(cl) | set(sl)
    with torch.no_grad():
        P = vgg_features(convs, desc["pool"], to_input(content, m["input"]), wanted)
        S = vgg_features(convs, desc["pool"], to_input(style, m["input"]), wanted)
        A = {name: gram(S[name])[0] for name in sl}
    Fy = vgg_features(convs, desc["pool"], y, wanted)
    total = 0
    for name, wgt in cl.items():
        total = total + desc["alpha"] * wgt * 0.5 * ((Fy[name] - P[name]) ** 2).sum()
    for name, wgt in sl.items():
        g, n, mm = gram(Fy[name])
        e = ((g - A[name]) ** 2).sum() / (4.0 * n * n * mm * mm)  # summed over the batch
        total = total + desc["beta"] * wgt * e
    return total


# ---- the generator --------------------------------------------------------

def tensor_names(desc):
    """Name of each parameter tensor in desc["params"]."""
    nodes = desc["nodes"]
    names = []
    for p in desc["params"]:
        nd = nodes[p["node"]]
        kind = {"conv": ("weight", "bias")}.get(nd["op"], ("scale", "shift"))[p["which"]]
        names.append("%s.%s" % (nd["name"], kind))
    return names


def load_params(desc, blob):
    """Checks the layout against the nodes' shapes; returns {(node, which): tensor}."""
    nodes = desc["nodes"]
    expect = {}
    for nd in nodes:
        if nd["op"] == "conv":
            cin = nodes[nd["in"][0]]["channels"]
            expect[(nd["id"], 0)] = (nd["channels"], cin, nd["k"], nd["k"])
            if nd["bias"]:
                expect[(nd["id"], 1)] = (nd["channels"],)
        elif nd["op"] == "affine" or (nd["op"] == "inorm" and nd["affine"]):
            expect[(nd["id"], 0)] = (nd["channels"],)
            expect[(nd["id"], 1)] = (nd["channels"],)
    got = {(p["node"], p["which"]): p for p in desc["params"]}
    if set(got) != set(expect):
        raise SystemExit("parameter layout: tensors %s, expected %s" % (sorted(got), sorted(expect)))
    used = np.zeros(desc["param_floats"], dtype=np.int32)
    params = {}
    for key, shape in expect.items():
        p = got[key]
        if p["count"] != int(np.prod(shape)) or p["offset"] < 0 or \
                p["offset"] + p["count"] > desc["param_floats"]:
            raise SystemExit("parameter layout: node %d tensor %d: offset %d count %d, shape %s" %
                             (key[0], key[1], p["offset"], p["count"], shape))
        used[p["offset"]:p["offset"] + p["count"]] += 1
        t = torch.from_numpy(blob[p["offset"]:p["offset"] + p["count"]].reshape(shape).copy())
        params[key] = t.requires_grad_(True)
    if not (used == 1).all():
        raise SystemExit("parameter layout: tensors overlap or leave gaps in the blob")
    return params


def check_coverage(desc):
    """The network must keep using every op and option."""
    have = set()
    for nd in desc["nodes"]:
        op = nd["op"]
        have.add(op)
        if op == "conv":
            have |= {"pad " + nd["pad"], "k%d" % nd["k"], "stride %d" % nd["stride"],
                     "bias %d" % nd["bias"]}
        elif op == "inorm":
            have.add("inorm affine %d" % nd["affine"])
        elif op == "avgpool":
            have.add("avgpool 2^%d" % nd["levels"])
    want = {"input", "conv", "inorm", "lrelu", "relu", "maxpool", "avgpool", "upsample", "concat",
            "add", "affine", "pad zeros", "pad reflect", "pad replicate", "pad circular", "k1", "k3",
            "k9", "stride 1", "stride 2", "bias 0", "bias 1", "inorm affine 0", "inorm affine 1",
            "avgpool 2^1", "avgpool 2^2"}
    missing = sorted(want - have)
    if missing:
        raise SystemExit("the network no longer covers: " + ", ".join(missing))


def forward(desc, params, x, wrong_pad):
    """Every node's output in torch, float64."""
    vals = []
    for nd in desc["nodes"]:
        op = nd["op"]
        a = vals[nd["in"][0]] if nd["in"] else None
        if op == "input":
            y = x
        elif op == "conv":
            w = params[(nd["id"], 0)]
            b = params.get((nd["id"], 1))
            p = nd["k"] // 2
            mode = nd["pad"]
            if wrong_pad and mode == "replicate":
                mode = "reflect"
            if p > 0 and mode != "zeros":
                a = F.pad(a, (p, p, p, p), mode=mode)
                y = F.conv2d(a, w, b, stride=nd["stride"])
            else:
                y = F.conv2d(a, w, b, stride=nd["stride"], padding=p)
        elif op == "inorm":
            y = F.instance_norm(a, weight=params.get((nd["id"], 0)), bias=params.get((nd["id"], 1)),
                                eps=nd["eps"])
        elif op == "lrelu":
            y = F.leaky_relu(a, nd["slope"])
        elif op == "relu":
            y = F.relu(a)
        elif op == "maxpool":
            y = F.max_pool2d(a, 2, 2)
        elif op == "avgpool":
            y = F.avg_pool2d(a, 2 ** nd["levels"])
        elif op == "upsample":
            y = F.interpolate(a, scale_factor=2, mode="nearest")
        elif op == "concat":
            y = torch.cat([vals[i] for i in nd["in"]], dim=1)
        elif op == "add":
            y = vals[nd["in"][0]] + vals[nd["in"][1]]
        elif op == "affine":
            s, t = params[(nd["id"], 0)], params[(nd["id"], 1)]
            y = a * s.view(1, -1, 1, 1) + t.view(1, -1, 1, 1)
        else:
            raise SystemExit("unknown op %s" % op)
        if y.shape[1] != nd["channels"]:
            raise SystemExit("node %d (%s): %d channels in torch, %d in ours" %
                             (nd["id"], nd["name"], y.shape[1], nd["channels"]))
        vals.append(y)
    return vals


def only_consumer_is_inorm(desc, node):
    users = [nd for nd in desc["nodes"] if node in nd["in"]]
    return len(users) == 1 and users[0]["op"] == "inorm"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("content")
    ap.add_argument("style")
    ap.add_argument("dir")
    ap.add_argument("--wrong-pad", action="store_true")
    ap.add_argument("--corrupt-grad", metavar="TENSOR")
    args = ap.parse_args()
    torch.set_num_threads(1)
    d = args.dir
    with open(os.path.join(d, "graph.json")) as f:
        desc = json.load(f)
    check_coverage(desc)
    N, H, W, C = desc["batch"], desc["height"], desc["width"], desc["in_channels"]
    nx, ny = N * C * H * W, N * 3 * H * W
    x = torch.from_numpy(read_f32(os.path.join(d, "input.bin"), nx).reshape(N, C, H, W))
    ours_y = read_f32(os.path.join(d, "output.bin"), ny).reshape(N, 3, H, W)
    blob = read_f32(os.path.join(d, "params.bin"), desc["param_floats"])
    ours_g = read_f32(os.path.join(d, "grad.bin"), desc["param_floats"])
    params = load_params(desc, blob)
    if desc["input_grad"]:
        x.requires_grad_(True)

    bad = 0

    def report(name, count, err, tol, note=""):
        nonlocal bad
        ok = err <= tol
        bad += not ok
        print("%-26s %6d  err %.2e  %s%s" % (name, count, err, "ok" if ok else "FAIL", note))

    def rel(ours, ref):
        return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-300))

    vals = forward(desc, params, x, args.wrong_pad)
    y = vals[desc["output"]]
    report("output", ny, rel(ours_y, y.detach().numpy()), TOL)

    loss = style_objective(desc, args.weights, args.content, args.style, y)
    loss.backward()
    report("loss", 1, abs(desc["loss"] - loss.item()) / abs(loss.item()), TOL_LOSS,
           "  (ours %.10e torch %.10e)" % (desc["loss"], loss.item()))

    names = tensor_names(desc)
    for p, name in zip(desc["params"], names):
        key = (p["node"], p["which"])
        ours = ours_g[p["offset"]:p["offset"] + p["count"]].copy()
        if name == args.corrupt_grad:
            ours *= 1.001
        ref = params[key].grad.numpy().ravel()
        note = ""
        if p["op"] == "conv" and p["which"] == 1 and only_consumer_is_inorm(desc, p["node"]):
            # A bias right before an instance norm cancels: its exact gradient
            # is zero, so torch's is rounding noise (~1e-17) and ours float32
            # rounding of a sum that cancels. Measured against the scale of
            # the same convolution's weight gradient instead.
            wref = params[(p["node"], 0)].grad.numpy()
            err = float(np.abs(ours - ref).max() / np.abs(wref).max())
            note = "  (bias before a norm: relative to the weight gradient)"
        else:
            err = rel(ours, ref)
        report(name, p["count"], err, TOL, note)
    if desc["input_grad"]:
        ours_xg = read_f32(os.path.join(d, "input_grad.bin"), nx).reshape(N, C, H, W)
        report("input gradient", nx, rel(ours_xg, x.grad.numpy()), TOL)
    if args.corrupt_grad and args.corrupt_grad not in names:
        raise SystemExit("--corrupt-grad: no tensor %s" % args.corrupt_grad)
    print("%d of %d checks failed" % (bad, len(names) + 2 + desc["input_grad"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
