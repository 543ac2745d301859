#!/usr/bin/python3
"""Cross-check of the generators (gen/generator.h), read from a model file,
against PyTorch in float64.

Reads what tests/tools/dump_tnet.c wrote into DIR: graph.json (the loaded
.tnet model's graph description, node by node from stylize_graph_desc_node,
its parameter layout, the inputs, the objective's settings, our loss),
input_K.bin (the K-th input node's tensor: content or noise), output.bin,
params.bin, grad.bin and style_input.bin, all little-endian float32.
Rebuilds the network with torch.nn.functional in float64, runs it on the
same inputs and compares the output; then computes one training step's
loss as src/train/step.c does (each output image mapped from the [0, 1]
scale to VGG's input convention, content targets from that image's own
content input, style Gram targets from style_input.bin rescaled to the
output's positions, optionally each layer normalised by its target's
energy; the mean over the batch) on the VGG-19 of the stylize weights
manifest, backpropagates, and compares the loss and every parameter
tensor's gradient with ours. One line per checked quantity with its error
and ok/FAIL; exit status 1 on any FAIL.

Error measure: max |ours - torch| / max |torch| over a tensor. Bounds: the
output and the loss 1e-4, gradients 1e-3 (our float32 against torch's
float64). Where our float32 input of a (leaky) ReLU and torch's fall on
opposite sides of 0 (only rounding may do that: |x| within 1e-4 of the
tensor's largest, else a FAIL), torch's derivative takes our side, from our
inputs of every ReLU (preact_I.bin), so that one rounding-decided kink does
not make the gradients disagree by its whole contribution. The VGG
helpers, the parameter layout check and the tensor names are
tests/nn/generator_crosscheck.py's.

usage: tnet_crosscheck.py WEIGHTS.json DIR [--pad-as FROM:TO] [--corrupt-grad TENSOR[:FACTOR]]
  --pad-as FROM:TO     negative check: torch reads padding mode FROM as TO
                       (e.g. circular:zeros)
  --corrupt-grad NAME[:FACTOR]
                       negative check: our gradient of tensor NAME (e.g.
                       "conv7.weight") is scaled by FACTOR (default 1.003,
                       3x the bound) before comparing
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "nn"))
import generator_crosscheck as gc  # noqa: E402

TOL_OUT = 1e-4
TOL_LOSS = 1e-4
TOL_GRAD = 1e-3
KINK_TOL = 1e-4  # a ReLU input this close to 0 (relative) may fall on either side in float32
PADS = ("zeros", "reflect", "replicate", "circular")


def features(desc):
    """What the graph uses, for the coverage check."""
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
    return have


def expected_features(desc):
    a = desc["arch"]
    texture = a["mode"] == "texture"
    want = {"input", "conv", "inorm", "inorm affine 1", "upsample", "k3", "stride 1", "bias 0",
            "bias 1", "lrelu" if a["slope"] > 0 else "relu"}
    if a["name"] == "pyramid":
        want |= {"concat", "avgpool", "k1", "pad " + ("circular" if texture else "replicate")}
        want |= {"avgpool 2^%d" % k for k in range(1, a["scales"])}
    else:
        want |= {"k9", "stride 2", "pad " + ("circular" if texture else "reflect")}
        if a["blocks"] > 0:
            want.add("add")
    return want


def activation(x, slope, ours, kinks):
    """(Leaky) ReLU of x whose derivative takes our side of the kink where
    our float32 input (ours) and torch's differ in sign, which only rounding
    may cause: |x| at most KINK_TOL of the tensor's largest. Elsewhere it is
    torch's own F.relu / F.leaky_relu. kinks counts [taken from ours, too
    far from zero to be rounding]."""
    pos = x.detach() > 0
    if ours is not None:
        mine = torch.from_numpy(ours.reshape(x.shape) > 0)
        flip = mine != pos
        if flip.any():
            far = x.detach().abs()[flip] > KINK_TOL * x.detach().abs().max()
            kinks[0] += int(flip.sum()) - int(far.sum())
            kinks[1] += int(far.sum())
            pos = torch.where(flip & (x.detach().abs() <= KINK_TOL * x.detach().abs().max()), mine, pos)
            return torch.where(pos, x, slope * x)
    return F.leaky_relu(x, slope) if slope > 0 else F.relu(x)


def forward(desc, params, inputs, pad_as, preacts=None, kinks=None):
    """Every node's output in torch, float64; inputs[k] feeds the k-th input
    node; preacts[node] (optional) our input of a (leaky) ReLU node."""
    feed = {p["node"]: inputs[k] for k, p in enumerate(desc["inputs"])}
    preacts = preacts or {}
    kinks = kinks if kinks is not None else [0, 0]
    vals = []
    for nd in desc["nodes"]:
        op = nd["op"]
        a = vals[nd["in"][0]] if nd["in"] else None
        if op == "input":
            y = feed[nd["id"]]
        elif op == "conv":
            w = params[(nd["id"], 0)]
            b = params.get((nd["id"], 1))
            p = nd["k"] // 2
            mode = pad_as.get(nd["pad"], nd["pad"])
            if p > 0 and mode != "zeros":
                y = F.conv2d(F.pad(a, (p, p, p, p), mode=mode), w, b, stride=nd["stride"])
            else:
                y = F.conv2d(a, w, b, stride=nd["stride"], padding=p)
        elif op == "inorm":
            y = F.instance_norm(a, weight=params.get((nd["id"], 0)), bias=params.get((nd["id"], 1)),
                                eps=nd["eps"])
        elif op == "lrelu":
            y = activation(a, nd["slope"], preacts.get(nd["id"]), kinks)
        elif op == "relu":
            y = activation(a, 0.0, preacts.get(nd["id"]), kinks)
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


def shift_cancels(desc, node):
    """Whether a per-channel constant added to node's output is removed
    before it reaches the output: every path from node runs through ops
    that keep a per-channel constant a per-channel constant (concatenation,
    upsampling, average pooling, addition, affine maps, convolutions that
    do not pad with zeros) into an instance norm, which subtracts it. The
    exact gradient of such a node's bias or shift is then zero (torch's is
    rounding noise, ~1e-17; ours float32 rounding of a sum that cancels)."""
    users = [nd for nd in desc["nodes"] if node in nd["in"]]
    if not users or node == desc["output"]:
        return False
    for nd in users:
        op = nd["op"]
        if op == "inorm":
            continue
        if op in ("concat", "upsample", "avgpool", "add", "affine") or \
                (op == "conv" and (nd["pad"] != "zeros" or nd["k"] == 1)):
            if shift_cancels(desc, nd["id"]):
                continue
        return False
    return True


def to_vgg(v, conv):
    """(N, 3, H, W) RGB on the [0, 1] scale -> VGG's input convention (stylize_train_to_input)."""
    if conv["channel_order"] == "BGR":
        v = v.flip(1)
    mean = torch.tensor(conv["mean"], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(conv["std"], dtype=torch.float64).view(1, 3, 1, 1)
    return (v * conv["pixel_scale"] - mean) / std


def train_loss(desc, weights, style_x, content, y):
    """One training step's loss: the batch mean of each image's objective."""
    m, convs = gc.load_vgg(weights)
    conv = m["input"]
    cl = gc.parse_layers(desc["content_layers"]) if desc["content_layers"] else {}
    sl = gc.parse_layers(desc["style_layers"])
    wanted = set(cl) | set(sl)
    pool, rf = desc["pool"], desc["random_features"]
    N = y.shape[0]
    with torch.no_grad():
        S = gc.vgg_features(convs, pool, style_x, wanted)
        A = {}
        for name in sl:
            g, _, ms = gc.gram(S[name])
            A[name] = (g[0], ms)
        P = gc.vgg_features(convs, pool, to_vgg(content, conv), wanted) if cl else {}
    Fy = gc.vgg_features(convs, pool, to_vgg(y, conv), wanted)
    total = 0
    for b in range(N):
        for name, wgt in cl.items():
            f, p = Fy[name][b], P[name][b]
            norm = 1.0 / (0.5 * (p ** 2).sum().item()) if rf else 1.0
            total = total + desc["alpha"] * wgt * norm * 0.5 * ((f - p) ** 2).sum()
        for name, wgt in sl.items():
            g, c, mx = gc.gram(Fy[name][b:b + 1])
            a = A[name][0] * (mx / A[name][1])  # M_x / M_style
            norm = 1.0 / ((a ** 2).sum().item() / (4.0 * c * c * mx * mx)) if rf else 1.0
            e = ((g[0] - a) ** 2).sum() / (4.0 * c * c * mx * mx)
            total = total + desc["beta"] * wgt * norm * e
    return total / N


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("dir")
    ap.add_argument("--pad-as", metavar="FROM:TO")
    ap.add_argument("--corrupt-grad", metavar="TENSOR[:FACTOR]")
    args = ap.parse_args()
    torch.set_num_threads(1)
    pad_as = {}
    if args.pad_as:
        src, _, dst = args.pad_as.partition(":")
        if src not in PADS or dst not in PADS:
            raise SystemExit("--pad-as: FROM:TO of %s" % ", ".join(PADS))
        pad_as[src] = dst
    corrupt, factor = None, 1.0
    if args.corrupt_grad:
        corrupt, _, f = args.corrupt_grad.partition(":")
        factor = float(f) if f else 1.003
    d = args.dir
    with open(os.path.join(d, "graph.json")) as f:
        desc = json.load(f)
    a = desc["arch"]
    missing = sorted(expected_features(desc) - features(desc))
    if missing:
        raise SystemExit("the %s %s graph does not use: %s" % (a["name"], a["mode"], ", ".join(missing)))
    N, H, W = desc["batch"], desc["height"], desc["width"]
    ny = N * 3 * H * W
    print("%s %s: %d nodes, %d parameters, %d inputs, batch %d, %dx%d%s" %
          (a["name"], a["mode"], len(desc["nodes"]), desc["param_floats"], len(desc["inputs"]), N, W, H,
           ", random features" if desc["random_features"] else ""))

    bad = 0
    checks = 0

    def report(name, count, err, tol, note=""):
        nonlocal bad, checks
        ok = err <= tol
        bad += not ok
        checks += 1
        print("%-26s %6d  err %.2e  %s%s" % (name, count, err, "ok" if ok else "FAIL", note))

    def rel(ours, ref):
        return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-300))

    # the inputs: noise of the documented form, content in [0, 1]
    inputs, content = [], None
    for p in desc["inputs"]:
        v = gc.read_f32(os.path.join(d, p["file"]), ny).reshape(N, 3, H, W)
        if p["role"] == "noise":
            amp = p["amplitude"]
            lo, hi = 0.5 - amp / 2, 0.5 + amp / 2
            if v.min() < lo or v.max() >= hi or abs(v.mean() - 0.5) > 0.05 * amp:
                raise SystemExit("%s: noise outside [%g, %g) or off-centre (mean %g)" %
                                 (p["file"], lo, hi, v.mean()))
        else:
            if v.min() < 0 or v.max() > 1:
                raise SystemExit("%s: content outside [0, 1]" % p["file"])
            content = torch.from_numpy(v)
        inputs.append(torch.from_numpy(v))
    if (content is not None) != (a["mode"] == "style"):
        raise SystemExit("a %s model with%s a content input" % (a["mode"], "" if content is not None else "out"))

    ours_y = gc.read_f32(os.path.join(d, "output.bin"), ny).reshape(N, 3, H, W)
    blob = gc.read_f32(os.path.join(d, "params.bin"), desc["param_floats"])
    ours_g = gc.read_f32(os.path.join(d, "grad.bin"), desc["param_floats"])
    params = gc.load_params(desc, blob)
    si = desc["style_input"]
    style_x = torch.from_numpy(gc.read_f32(os.path.join(d, si["file"]), 3 * si["width"] * si["height"])
                               .reshape(1, 3, si["height"], si["width"]))

    preacts = {p["node"]: gc.read_f32(os.path.join(d, p["file"])) for p in desc["preacts"]}
    n_act = sum(nd["op"] in ("relu", "lrelu") for nd in desc["nodes"])
    if len(preacts) != n_act:
        raise SystemExit("graph.json: %d ReLU inputs dumped, %d ReLUs" % (len(preacts), n_act))
    kinks = [0, 0]
    y = forward(desc, params, inputs, pad_as, preacts, kinks)[desc["output"]]
    report("output", ny, rel(ours_y, y.detach().numpy()), TOL_OUT)
    # our ReLU inputs on the other side of 0 than torch's: only rounding may
    # do that (those take our side in torch's backward)
    n_pre = sum(v.size for v in preacts.values())
    print("%-26s %6d  %d within %.0e of 0 taken from ours, %d farther  %s" %
          ("relu kinks", n_pre, kinks[0], KINK_TOL, kinks[1], "ok" if kinks[1] == 0 else "FAIL"))
    bad += kinks[1] > 0
    checks += 1

    loss = train_loss(desc, args.weights, style_x, content, y)
    loss.backward()
    report("loss", 1, abs(desc["loss"] - loss.item()) / abs(loss.item()), TOL_LOSS,
           "  (ours %.10e torch %.10e)" % (desc["loss"], loss.item()))

    names = gc.tensor_names(desc)
    for p, name in zip(desc["params"], names):
        key = (p["node"], p["which"])
        ours = ours_g[p["offset"]:p["offset"] + p["count"]].copy()
        if name == corrupt:
            ours *= factor
        ref = params[key].grad.numpy().ravel()
        note = ""
        if p["which"] == 1 and shift_cancels(desc, p["node"]):
            # exactly zero: measured against the scale of the same node's
            # weight (conv) or scale (norm) gradient instead
            wref = params[(p["node"], 0)].grad.numpy()
            err = float(np.abs(ours - ref).max() / np.abs(wref).max())
            note = "  (cancelled by a later norm: relative to the %s gradient)" % \
                ("weight" if p["op"] == "conv" else "scale")
        else:
            err = rel(ours, ref)
        report(name, p["count"], err, TOL_GRAD, note)
    if corrupt and corrupt not in names:
        raise SystemExit("--corrupt-grad: no tensor %s" % corrupt)
    print("%d of %d checks failed" % (bad, checks))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
