#!/usr/bin/python3
"""The training benchmark (driven by scripts/bench-train.sh; not a test, CI
does not run it): stylize's feed-forward generators against the same
generators in Debian's python3-torch (float32), same threads, same VGG-19
weights (random He-normal), same images.

  bench_train_torch.py run --build DIR [options]
      the driver: runs both sides and prints the markdown table (see
      scripts/bench-train.sh and --help).
  bench_train_torch.py step WEIGHTS.json STYLE.png ARCH MODE SIZE BATCH THREADS STEPS
                            [--content-dir DIR] [--init MODEL.tnet]
      PyTorch: one training step (generator forward, VGG-19 to relu5_1, Gram
      style loss on relu1_1..relu5_1 normalised by the targets' energy as
      stylize's random-feature mode, + content relu4_2 for a style model,
      mean over the batch, backward, Adam), one warm-up step then the median
      of STEPS timed steps, as JSON. --init: the generator's parameters from
      a .tnet and stylize's noise of step 1, so that the warm-up step's loss
      can be compared with stylize's first step (texture models).
  bench_train_torch.py apply MODEL.tnet CONTENT.png THREADS REPEATS [--check OUT.png]
      PyTorch: the model's generator (its architecture and parameters read
      from the .tnet) on the content under torch.no_grad(), padded (replicate)
      to the architecture's multiple and cropped back as `stylize apply`
      does; one cold run, then the median of REPEATS warm runs, as JSON.
      --check: compare with stylize apply's output of the same model and
      content (same noise: stylize's RNG is reproduced), in 1/255 levels.
Peak memory is measured by the caller (wait4 of each process, as
scripts/bench_run.py does).
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1

# ---- stylize's conventions reproduced --------------------------------------------


def splitmix_uniform(seed, start, n):
    """stylize_rng_uniform (core/rng.c) for calls start .. start + n - 1 of an RNG seeded with seed."""
    k = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + k * np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(40)).astype(np.float64) * (1.0 / 16777216.0)).astype(np.float32)


def read_tnet(path):
    """(header dict, float32 parameter blob) of a .tnet model file (src/gen/model_file.c)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"STYLTNET":
        raise SystemExit("%s: not a stylize model file" % path)
    _, hlen = struct.unpack("<II", data[8:16])
    header = json.loads(data[16:16 + hlen].decode())
    n = sum(t["count"] for t in header["tensors"])
    blob = np.frombuffer(data, dtype="<f4", count=n, offset=16 + hlen)
    return header, blob


def load_image(path):
    from PIL import Image
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


# ---- the generators ---------------------------------------------------------------

def generators():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Gen(nn.Module):
        """Common: the parameterised modules in the C builders' creation order
        (that of a .tnet's tensor table), so that a model file maps onto them."""

        def __init__(self, arch):
            super().__init__()
            self.arch = arch
            self.texture = arch["mode"] == "texture"
            self.ordered = nn.ModuleList()

        def pad_mode(self):
            if self.texture:
                return "circular"
            return "replicate" if self.arch["name"] == "pyramid" else "reflect"

        def conv(self, cin, cout, k, stride=1, bias=False):
            m = nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=bias,
                          padding_mode=self.pad_mode() if k > 1 else "zeros")
            self.ordered.append(m)
            return m

        def inorm(self, c):
            m = nn.InstanceNorm2d(c, eps=1e-5, affine=True)
            self.ordered.append(m)
            return m

        def act(self):
            s = float(self.arch.get("slope", 0))
            return nn.LeakyReLU(s, inplace=True) if s > 0 else nn.ReLU(inplace=True)

        def conv_in_act(self, cin, cout, k, stride=1):
            return nn.Sequential(self.conv(cin, cout, k, stride), self.inorm(cout), self.act())

        def load_tnet(self, header, blob):
            i = 0
            for m in self.ordered:
                pairs = [("weight", m.weight)] + ([("bias", m.bias)] if isinstance(m, nn.Conv2d) and m.bias is not None else [])
                if isinstance(m, nn.InstanceNorm2d):
                    pairs = [("scale", m.weight), ("shift", m.bias)]
                for which, p in pairs:
                    t = header["tensors"][i]
                    i += 1
                    if t["which"] != which or t["count"] != p.numel() or list(t["shape"]) != (
                            list(p.shape) if which == "weight" and p.dim() == 4 else [p.shape[0]]):
                        raise SystemExit("tnet tensor %d (%s %s %s) does not match the torch module %s"
                                         % (i - 1, t["op"], t["which"], t["shape"], m))
                    p.data.copy_(torch.from_numpy(blob[t["offset"]: t["offset"] + t["count"]].copy()).view_as(p))
            if i != len(header["tensors"]):
                raise SystemExit("tnet has %d tensors, the torch generator %d" % (len(header["tensors"]), i))

    class Pyramid(Gen):
        """Ulyanov's texture_nets pyramid (src/gen/arch.c build_pyramid)."""

        def __init__(self, arch):
            super().__init__(arch)
            K, c = int(arch.get("scales", 6)), int(arch.get("channels", 8))
            self.K = K
            cin = 6 if not self.texture else 3
            self.blocks, self.norm_cur, self.norm_x, self.joins = (nn.ModuleList() for _ in range(4))
            for i in range(K):
                self.blocks.append(self.block(cin, c))
                if i > 0:
                    self.norm_cur.append(self.inorm(c * i))
                    self.norm_x.append(self.inorm(c))
                    self.joins.append(self.block(c * (i + 1), c * (i + 1)))
            self.final = self.conv(c * K, 3, 1, bias=True)

        def block(self, cin, c):
            return nn.Sequential(self.conv_in_act(cin, c, 3), self.conv_in_act(c, c, 3), self.conv_in_act(c, c, 1))

        def n_noise(self):
            return self.K

        def amplitude(self, i):
            return float(1 << (self.K - 1 - i))

        def forward(self, noise, content=None):
            cur = None
            for i in range(self.K):
                lv = self.K - 1 - i
                x = F.avg_pool2d(noise[i], 1 << lv) if lv > 0 else noise[i]
                if content is not None:
                    x = torch.cat([F.avg_pool2d(content, 1 << lv) if lv > 0 else content, x], 1)
                x = self.blocks[i](x)
                if i > 0:
                    x = self.joins[i - 1](torch.cat([self.norm_cur[i - 1](cur), self.norm_x[i - 1](x)], 1))
                cur = F.interpolate(x, scale_factor=2, mode="nearest") if i < self.K - 1 else x
            return self.final(cur)

    class Residual(Gen):
        """Johnson's transformer, nearest upsampling + conv3 (src/gen/arch.c build_residual)."""

        def __init__(self, arch):
            super().__init__(arch)
            w = max(1, int(round(32 * float(arch.get("width_mult", 1)))))
            self.head = nn.Sequential(self.conv_in_act(3, w, 9), self.conv_in_act(w, 2 * w, 3, 2),
                                      self.conv_in_act(2 * w, 4 * w, 3, 2))
            self.res = nn.ModuleList()
            for _ in range(int(arch.get("blocks", 5))):
                self.res.append(nn.Sequential(self.conv_in_act(4 * w, 4 * w, 3), self.conv(4 * w, 4 * w, 3),
                                              self.inorm(4 * w)))
            self.up1 = self.conv_in_act(4 * w, 2 * w, 3)
            self.up2 = self.conv_in_act(2 * w, w, 3)
            self.final = self.conv(w, 3, 9, bias=True)

        def n_noise(self):
            return 1 if self.texture else 0

        def amplitude(self, i):
            return 1.0

        def forward(self, noise, content=None):
            x = self.head(content if content is not None else noise[0])
            for b in self.res:
                x = x + b(x)
            x = self.up1(F.interpolate(x, scale_factor=2, mode="nearest"))
            x = self.up2(F.interpolate(x, scale_factor=2, mode="nearest"))
            return self.final(x)

    def make(arch):
        return (Pyramid if arch["name"] == "pyramid" else Residual)(arch)

    return make


def multiple(arch):
    return (1 << (int(arch.get("scales", 6)) - 1)) if arch["name"] == "pyramid" else 4


def min_side(arch):
    return multiple(arch) if arch["name"] == "pyramid" else 8


def stylize_noise(gen, seed, batch, h, w):
    """The noise inputs stylize_gen_forward draws from an RNG seeded with seed."""
    n = batch * 3 * h * w
    out = []
    for i in range(gen.n_noise()):
        u = splitmix_uniform(seed, i * n, n)
        out.append(np.float32(0.5) + (u - np.float32(0.5)) * np.float32(gen.amplitude(i)))
    return out


# ---- VGG-19 and the losses -----------------------------------------------------------

LAYERS = []
for _block, _n in [(1, 2), (2, 2), (3, 4), (4, 4), (5, 4)]:
    for _i in range(1, _n + 1):
        LAYERS += ["conv%d_%d" % (_block, _i), "relu%d_%d" % (_block, _i)]
    LAYERS.append("pool%d" % _block)
STYLE = {"relu1_1": 0.2, "relu2_1": 0.2, "relu3_1": 0.2, "relu4_1": 0.2, "relu5_1": 0.2}
CONTENT = {"relu4_2": 1.0}


def vgg(path):
    """VGG-19 (torchvision's architecture, average pooling as stylize's default) to relu5_1, frozen,
    with the weights of a stylize-weights manifest."""
    import torch
    m = json.load(open(path))
    blob = np.memmap(os.path.join(os.path.dirname(path), m["blob"]), dtype="<f4", mode="r")
    mods, k = [], 0
    for name in LAYERS[: LAYERS.index("relu5_1") + 1]:
        if name.startswith("conv"):
            layer = m["layers"][k]
            k += 1
            o, i = layer["shape"][:2]
            c = torch.nn.Conv2d(i, o, 3, padding=1)
            w0, b0 = layer["weight_offset"] // 4, layer["bias_offset"] // 4
            c.weight.data.copy_(torch.from_numpy(np.array(blob[w0: w0 + o * i * 9]).reshape(o, i, 3, 3)))
            c.bias.data.copy_(torch.from_numpy(np.array(blob[b0: b0 + o])))
            mods.append(c)
        elif name.startswith("relu"):
            mods.append(torch.nn.ReLU(inplace=True))
        else:
            mods.append(torch.nn.AvgPool2d(2, 2))
    net = torch.nn.Sequential(*mods)
    for p in net.parameters():
        p.requires_grad_(False)
    return m["input"], net


def features(net, x, wanted):
    out = {}
    for i, mod in enumerate(net):
        x = mod(x)
        if LAYERS[i] in wanted:
            out[LAYERS[i]] = x
    return out


def grams(f):
    B, C = f.shape[:2]
    F_ = f.reshape(B, C, -1)
    return F_ @ F_.transpose(1, 2), C, F_.shape[2]


def to_input(conv, v):
    """stylize_train_to_input: [0, 1] RGB -> the network's input convention."""
    import torch
    if conv["channel_order"] == "BGR":
        v = v.flip(1)
    mean = torch.tensor(conv["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(conv["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return (v * conv["pixel_scale"] - mean) / std


# ---- PyTorch: one training step ----------------------------------------------------------

def cmd_step(a):
    import torch
    torch.set_num_threads(a.threads)
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    make = generators()
    conv, net = vgg(a.weights)
    style_mode = a.mode == "style"
    if a.init:
        header, blob = read_tnet(a.init)
        arch = header["architecture"]
    else:
        arch = {"name": a.arch, "mode": a.mode}
    gen = make(arch)
    if a.init:
        gen.load_tnet(header, blob)
    S, B = a.size, a.batch
    wanted = set(STYLE) | (set(CONTENT) if style_mode else set())
    with torch.no_grad():
        xs = torch.from_numpy(load_image(a.style)).unsqueeze(0)  # the caller resized it to S
        fs = features(net, to_input(conv, xs), set(STYLE))
        A, norm = {}, {}
        for k in STYLE:
            g, C, M = grams(fs[k])
            g = g[0] * (S * S) / (xs.shape[2] * xs.shape[3])
            A[k] = g
            Mx = M * (S * S) / (xs.shape[2] * xs.shape[3])  # the layer's area for the generated image
            e = float((g.double() ** 2).sum()) / (4.0 * (C * Mx) ** 2)
            norm[k] = 1.0 / e if e > 0 else 1.0
    photos = []
    if style_mode:
        from PIL import Image
        names = sorted(os.listdir(a.content_dir))[:8]
        for n in names:
            im = Image.open(os.path.join(a.content_dir, n)).convert("RGB")
            s = S / min(im.size)
            im = im.resize((max(S, round(im.width * s)), max(S, round(im.height * s))), Image.BILINEAR)
            photos.append(torch.from_numpy(np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0))
    opt = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    gcpu = torch.Generator().manual_seed(0)

    def batch_noise(step):
        if a.init and step == 0:
            return [torch.from_numpy(n).view(B, 3, S, S) for n in stylize_noise(gen, GOLDEN, B, S, S)]
        return [0.5 + (torch.rand(B, 3, S, S, generator=gcpu) - 0.5) * gen.amplitude(i)
                for i in range(gen.n_noise())]

    def crops():
        out = []
        for _ in range(B):
            p = photos[int(torch.randint(len(photos), (1,), generator=gcpu))]
            y = int(torch.randint(p.shape[1] - S + 1, (1,), generator=gcpu))
            x = int(torch.randint(p.shape[2] - S + 1, (1,), generator=gcpu))
            out.append(p[:, y:y + S, x:x + S])
        return torch.stack(out)

    def step(s):
        noise = batch_noise(s)
        content = crops() if style_mode else None
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = gen(noise, content)
        f = features(net, to_input(conv, out), wanted)
        per = 0
        for k, w in STYLE.items():
            g, C, M = grams(f[k])
            per = per + a.beta * w * norm[k] * ((g - A[k]) ** 2).sum((1, 2)) / (4.0 * C * C * M * M)
        if style_mode:
            with torch.no_grad():
                P = features(net, to_input(conv, content), set(CONTENT))
            for k, w in CONTENT.items():
                e = 0.5 * (P[k] ** 2).sum((1, 2, 3))
                per = per + a.alpha * w * 0.5 * ((f[k] - P[k]) ** 2).sum((1, 2, 3)) / torch.where(e > 0, e, torch.ones_like(e))
        loss = per.mean()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0, float(loss)

    t_first, loss_first = step(0)
    times = [step(s + 1)[0] for s in range(a.steps)]
    print(json.dumps({"seconds_per_step": statistics.median(times), "seconds_first": t_first,
                      "steps_timed": len(times), "loss_first": loss_first, "threads": a.threads,
                      "rss_after_import": rss_import, "torch": torch.__version__}))


# ---- PyTorch: applying a model ---------------------------------------------------------------

def cmd_apply(a):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    header, blob = read_tnet(a.model)
    arch = header["architecture"]
    gen = generators()(arch)
    gen.load_tnet(header, blob)
    gen.eval()
    c = torch.from_numpy(load_image(a.content)).unsqueeze(0) if arch["mode"] == "style" else None
    h, w = (c.shape[2], c.shape[3]) if c is not None else (a.height, a.width)
    mult, lo = multiple(arch), min_side(arch)
    H, W = -(-max(h, lo) // mult) * mult, -(-max(w, lo) // mult) * mult
    noise = [torch.from_numpy(n).view(1, 3, H, W) for n in stylize_noise(gen, 0, 1, H, W)]
    times, out = [], None
    with torch.no_grad():
        for _ in range(a.repeats + 1):
            t0 = time.perf_counter()
            x = F.pad(c, (0, W - w, 0, H - h), mode="replicate") if c is not None and (H, W) != (h, w) else c
            out = gen(noise, x)[:, :, :h, :w].clamp(0, 1)
            times.append(time.perf_counter() - t0)
    r = {"seconds": statistics.median(times[1:]), "seconds_cold": times[0], "runs": len(times) - 1,
         "width": w, "height": h, "padded": [W, H], "threads": a.threads, "rss_after_import": rss_import}
    if a.check:
        ref = load_image(a.check)
        mine = np.floor(out[0].numpy() * 255.0 + 0.5)
        d = np.abs(mine - np.round(ref * 255.0))
        r["check_max_levels"] = float(d.max())
        r["check_mean_levels"] = float(d.mean())
    print(json.dumps(r))


# ---- the driver ------------------------------------------------------------------------------

def run_rss(cmd):
    """As run, with the peak RSS of the child itself (wait4 before the Popen object reaps it)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import threading
    bufs = {}

    def drain(name, f):
        bufs[name] = f.read()
    ts = [threading.Thread(target=drain, args=("out", p.stdout)), threading.Thread(target=drain, args=("err", p.stderr))]
    for t in ts:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    for t in ts:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = bufs["out"].decode(), bufs["err"].decode(errors="replace")
    if p.returncode != 0:
        sys.stderr.write("bench-train: %s failed (%d): %s\n" % (" ".join(os.path.basename(c) for c in cmd[:3]),
                                                                 p.returncode, err[-800:]))
    return p.returncode, ru.ru_maxrss * 1024, out, err


def mib(b):
    return "%.0f MiB" % (b / 2 ** 20) if b else "n/a"


def secs(t):
    return "n/a" if t is None else ("%.3f s" % t if t < 10 else "%.1f s" % t)


def driver(a):
    from PIL import Image
    stylize = os.path.join(a.build, "stylize")
    q = a.quick
    size = a.size or (64 if q else 256)
    batch = a.batch or (1 if q else 4)
    steps = a.steps or (2 if q else 5)
    asize = a.apply_size or (128 if q else 512)
    gsize = a.gatys_size or asize
    repeats = a.repeats or (2 if q else 5)
    gits = a.gatys_iterations
    modes = [m for m in a.train_modes.split(",") if m]
    threads = a.threads
    use_torch = not a.no_torch
    tmp = tempfile.mkdtemp(prefix="stylize-bench-train-")
    py = "/usr/bin/python3"
    me = os.path.abspath(__file__)
    res = {"settings": {"threads": threads, "size": size, "batch": batch, "steps": steps, "apply_size": asize,
                        "gatys_size": gsize, "repeats": repeats, "gatys_iterations": gits, "train_modes": modes}}
    try:
        weights = os.path.join(tmp, "vgg19-random.json")
        # the same He-normal weights as `--weights random` (seed 0), as a file for PyTorch
        if run_rss([os.path.join(a.build, "stylize-weights"), "random", "--out", weights, "--seed", "0"])[0]:
            sys.exit(1)
        imgs = os.path.join(ROOT, "examples/images")
        # both sides see the same pixels: the images are resized here, once
        tex = os.path.join(tmp, "brick%d.png" % size)
        Image.open(os.path.join(imgs, "brick.png")).convert("RGB").resize((size, size), Image.BICUBIC).save(tex)
        ch = Image.open(os.path.join(imgs, "chelsea.png")).convert("RGB")

        def fit(im, side):
            s = side / max(im.size)
            return im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BICUBIC)
        content = os.path.join(tmp, "chelsea%d.png" % asize)
        fit(ch, asize).save(content)
        cdir = "/usr/share/backgrounds/mate/nature"
        if not os.path.isdir(cdir):
            cdir = imgs
        rows = []

        # (a) seconds per training step
        for mode in modes:
            arch = "pyramid"
            row = {"what": "train", "arch": arch, "mode": mode, "size": size, "batch": batch}
            rep = os.path.join(tmp, "train-%s.json" % mode)
            base = [stylize, "train", "--arch", arch, "--size", str(size), "--batch", str(batch),
                    "--weights", "random", "--threads", str(threads), "--seed", "0", "-q"]
            src = ["--texture", tex] if mode == "texture" else ["--style", tex, "--content-dir", cdir]
            cmd = base + src + ["--iterations", str(steps + 1), "--print-every", "1", "--report", rep,
                                "-o", os.path.join(tmp, "m-%s.tnet" % mode)]
            code, rss, _, _ = run_rss(cmd)
            if code == 0:
                r = json.load(open(rep))
                h = r["history"]
                # step 1 (the warm-up, after the planning) left out
                per = [(h[i]["seconds"] - h[i - 1]["seconds"]) / (h[i]["step"] - h[i - 1]["step"])
                       for i in range(1, len(h)) if h[i]["step"] > h[i - 1]["step"]]
                row.update({"seconds": statistics.median(per), "seconds_first": h[0]["seconds"], "rss": rss,
                            "memory_plan": r.get("memory_peak"), "loss_first": r.get("loss_first"),
                            "steps_timed": len(per)})
            if use_torch:
                tcmd = [py, me, "step", weights, tex, arch, mode, str(size), str(batch), str(threads), str(steps)]
                if mode == "style":
                    tcmd += ["--content-dir", cdir]
                else:  # the same initial parameters and first noise: the first losses must agree
                    init = os.path.join(tmp, "init-%s.tnet" % mode)
                    if run_rss(base + src + ["--iterations", "0", "-o", init])[0] == 0:
                        tcmd += ["--init", init]
                code, trss, out, _ = run_rss(tcmd)
                if code == 0:
                    t = json.loads(out)
                    row.update({"torch_seconds": t["seconds_per_step"], "torch_rss": trss,
                                "torch_loss_first": t["loss_first"], "torch_rss_after_import": t["rss_after_import"],
                                "torch_version": t["torch"]})
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

        # (b) applying a model to a content image
        ncopies = repeats + 1
        copies = []
        for k in range(ncopies):
            p = os.path.join(tmp, "content%d.png" % k)
            shutil.copyfile(content, p)
            copies.append(p)
        for arch in ["pyramid", "residual"]:
            model = os.path.join(tmp, "style-%s.tnet" % arch)
            # one step of a style model: applying does not depend on how long it was trained
            tsz = 64
            cmd = [stylize, "train", "--style", tex, "--content-dir", cdir, "--arch", arch, "--size", str(tsz),
                   "--batch", "1", "--iterations", "1", "--weights", "random", "--threads", str(threads),
                   "-q", "-o", model]
            row = {"what": "apply", "arch": arch, "mode": "style"}
            if run_rss(cmd)[0] != 0:
                rows.append(row)
                continue
            odir = os.path.join(tmp, "out-%s" % arch)
            os.mkdir(odir)
            code, rss, _, err = run_rss([stylize, "apply", "--model", model, "--content"] + copies +
                                        ["--output-dir", odir, "--threads", str(threads)])
            if code == 0:
                ts, wh = [], None
                for line in err.splitlines():
                    if " wrote " in line and line.endswith(" s)"):
                        inner = line.rsplit("(", 1)[1]
                        wh = inner.split(",")[0]
                        ts.append(float(inner.split(",")[1].split()[0]))
                row.update({"seconds": statistics.median(ts[1:]) if len(ts) > 1 else ts[0], "seconds_cold": ts[0],
                            "runs": len(ts) - 1, "rss": rss, "size_str": wh})
            if use_torch:
                out0 = os.path.join(odir, "content0.png")
                tcmd = [py, me, "apply", model, content, str(threads), str(repeats)]
                if os.path.exists(out0):
                    tcmd += ["--check", out0]
                code, trss, out, _ = run_rss(tcmd)
                if code == 0:
                    t = json.loads(out)
                    row.update({"torch_seconds": t["seconds"], "torch_seconds_cold": t["seconds_cold"], "torch_rss": trss,
                                "torch_rss_after_import": t["rss_after_import"], "padded": t["padded"],
                                "check_max_levels": t.get("check_max_levels"), "check_mean_levels": t.get("check_mean_levels")})
                    row.setdefault("size_str", "%dx%d" % (t["width"], t["height"]))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

        # (c) a Gatys run of the same image: s/eval at the apply size, evaluations per iteration
        gc = os.path.join(tmp, "chelsea-g%d.png" % gsize)
        fit(ch, gsize).save(gc)
        gs = os.path.join(tmp, "brick-g%d.png" % gsize)
        Image.open(os.path.join(imgs, "brick.png")).convert("RGB").resize((gsize, gsize), Image.BICUBIC).save(gs)
        rep = os.path.join(tmp, "gatys.json")
        gcmd = [stylize, "--content", gc, "--style", gs, "--weights", "random", "--size", str(gsize),
                "--iterations", str(gits), "--tolerance", "0", "--print-every", "1", "--threads", str(threads),
                "--report", rep, "-o", os.path.join(tmp, "gatys.png"), "-q"]
        code, grss, _, _ = run_rss(gcmd)
        gatys = None
        if code == 0:
            r = json.load(open(rep))
            h = r["history"]
            per = [(h[i]["seconds"] - h[i - 1]["seconds"]) / (h[i]["evaluations"] - h[i - 1]["evaluations"])
                   for i in range(1, len(h)) if h[i]["evaluations"] > h[i - 1]["evaluations"]]
            spe = statistics.median(per)
            by_it = {e["iteration"]: e["evaluations"] for e in h}
            e1 = by_it.get(1, r["evaluations"])  # the first iteration's line search
            later = (r["evaluations"] - e1) / max(1, r["iterations"] - 1)
            est_evals = e1 + (500 - 1) * later
            gatys = {"size_str": "%dx%d" % (r["width"], r["height"]), "seconds_per_eval": spe, "rss": grss,
                     "iterations": r["iterations"], "evaluations": r["evaluations"], "evals_iteration1": e1,
                     "evals_per_later_iteration": later, "estimate_evaluations": est_evals,
                     "estimate_seconds": est_evals * spe,
                     "naive_estimate_seconds": 500 * spe * r["evaluations"] / r["iterations"]}
            print(json.dumps(gatys), file=sys.stderr)
        res.update({"rows": rows, "gatys": gatys})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- the report
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    tv = next((r["torch_version"] for r in rows if r.get("torch_version")), None)
    res["machine"] = {"cpu": cpu, "cpus": os.cpu_count(), "threads": threads, "torch": tv,
                      "loadavg": open("/proc/loadavg").read().split()[:3]}
    res["command"] = a.command
    res["date"] = time.strftime("%Y-%m-%d %H:%M")
    json.dump(res, open(a.json, "w"), indent=1)
    print("machine: %s, %d cpus, %d threads (load average at the end %s); %s"
          % (cpu, os.cpu_count(), threads, " ".join(res["machine"]["loadavg"]),
             "PyTorch %s (Debian python3-torch), float32" % tv if tv else "PyTorch not run"))
    print("command: %s" % a.command)
    print()
    hdr = "| measurement | stylize | peak RSS |"
    if use_torch:
        hdr += " PyTorch | PyTorch RSS | time ratio | memory ratio |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        if r["what"] == "train":
            label = "train step: %s (%s model), %d px, batch %d, VGG-19 to relu5_1 (s/step)" % (
                r["arch"], r["mode"], r["size"], r["batch"])
        else:
            label = "apply: %s (style model), %s (s/image, warm)" % (r["arch"], r.get("size_str", "?"))
        line = "| %s | %s | %s |" % (label, secs(r.get("seconds")), mib(r.get("rss")))
        if use_torch:
            tr = r["seconds"] / r["torch_seconds"] if r.get("seconds") and r.get("torch_seconds") else None
            mr = r["rss"] / r["torch_rss"] if r.get("rss") and r.get("torch_rss") else None
            line += " %s | %s | %s | %s |" % (secs(r.get("torch_seconds")), mib(r.get("torch_rss")),
                                              "%.2f" % tr if tr else "n/a", "%.2f" % mr if mr else "n/a")
        print(line)
    if gatys:
        line = "| Gatys (L-BFGS): %s, s/evaluation | %s | %s |" % (gatys["size_str"], secs(gatys["seconds_per_eval"]),
                                                                  mib(gatys["rss"]))
        if use_torch:
            line += " | | | |"
        print(line)
    print()
    applies = [r for r in rows if r["what"] == "apply" and r.get("seconds")]
    if gatys:
        print("Gatys, 500 iterations (estimated): %.0f evaluations (%d in iteration 1, then %.2f per iteration as "
              "observed in iterations 2..%d) x %.3f s = %.0f s (500 x the mean %.2f evaluations/iteration of the %d "
              "iterations run: %.0f s)" % (gatys["estimate_evaluations"], gatys["evals_iteration1"],
                                          gatys["evals_per_later_iteration"], gatys["iterations"],
                                          gatys["seconds_per_eval"], gatys["estimate_seconds"],
                                          gatys["evaluations"] / gatys["iterations"], gatys["iterations"],
                                          gatys["naive_estimate_seconds"]))
        print()
        print("| model | apply | Gatys 500 iterations (est.) | apply vs Gatys |")
        print("|---|---|---|---|")
        for r in applies:
            print("| %s | %s | %.0f s | %.0fx faster |" % (r["arch"], secs(r["seconds"]), gatys["estimate_seconds"],
                                                           gatys["estimate_seconds"] / r["seconds"]))
        print()
    notes = []
    for r in rows:
        if r["what"] == "apply":
            if r.get("seconds_cold") is not None:
                n = "apply %s: first image (cold: plans and allocates the instance) stylize %s" % (
                    r["arch"], secs(r["seconds_cold"]))
                if r.get("torch_seconds_cold") is not None:
                    n += ", PyTorch %s; the generator runs padded to %s" % (
                        secs(r["torch_seconds_cold"]), "x".join(map(str, r["padded"])))
                notes.append(n)
            if r.get("check_max_levels") is not None:
                notes.append("check, apply %s: PyTorch generator with the .tnet parameters and stylize's noise vs "
                             "stylize apply's PNG: max %.0f, mean %.4f levels of 255" % (
                                 r["arch"], r["check_max_levels"], r["check_mean_levels"]))
        elif r.get("loss_first") is not None and r.get("torch_loss_first") is not None and r["mode"] == "texture":
            notes.append("check, train %s: first step's loss (same initial parameters and noise) stylize %.6g, "
                         "PyTorch %.6g (relative difference %.1e)" % (r["arch"], r["loss_first"], r["torch_loss_first"],
                                                                     abs(r["loss_first"] / r["torch_loss_first"] - 1)))
        if r["what"] == "train" and r.get("torch_rss_after_import"):
            notes.append("PyTorch process RSS after `import torch`: %s (included in its peak)" % mib(r["torch_rss_after_import"]))
    for n in dict.fromkeys(notes):
        print("- " + n)
    if use_torch or gatys:
        print()
        print("targets:")

        def verdict(ok):
            return "met" if ok else "not met"
        for r in rows:
            if r["what"] == "train" and r.get("seconds") and r.get("torch_seconds"):
                x = r["seconds"] / r["torch_seconds"]
                print("- training step (%s, %s) at most 0.4x PyTorch's time: %.2fx, %s" % (r["arch"], r["mode"], x, verdict(x <= 0.4)))
        for r in applies:
            if r.get("torch_seconds"):
                x = r["seconds"] / r["torch_seconds"]
                print("- apply (%s) at most 0.5x PyTorch's time: %.2fx, %s" % (r["arch"], x, verdict(x <= 0.5)))
        if gatys:
            for r in applies:
                x = gatys["estimate_seconds"] / r["seconds"]
                print("- apply (%s) at least 500x faster than a 500-iteration Gatys run: %.0fx, %s" % (r["arch"], x, verdict(x >= 500)))
    print()
    print("(timings on a shared machine are noisy; JSON: %s)" % a.json)


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("step", "apply"):
        ap = argparse.ArgumentParser(prog="bench_train_torch.py " + sys.argv[1])
        if sys.argv[1] == "step":
            for n in ["weights", "style", "arch", "mode"]:
                ap.add_argument(n)
            for n in ["size", "batch", "threads", "steps"]:
                ap.add_argument(n, type=int)
            ap.add_argument("--content-dir")
            ap.add_argument("--init")
            ap.add_argument("--alpha", type=float, default=1.0)
            ap.add_argument("--beta", type=float, default=10.0)  # stylize's default with random features
            cmd_step(ap.parse_args(sys.argv[2:]))
        else:
            ap.add_argument("model")
            ap.add_argument("content")
            ap.add_argument("threads", type=int)
            ap.add_argument("repeats", type=int)
            ap.add_argument("--check")
            ap.add_argument("--width", type=int, default=512)
            ap.add_argument("--height", type=int, default=512)
            cmd_apply(ap.parse_args(sys.argv[2:]))
        return
    ap = argparse.ArgumentParser(prog="scripts/bench-train.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["run"])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--threads", type=int, default=2, help="threads of both sides (default 2)")
    ap.add_argument("--steps", type=int, help="timed training steps, after one warm-up step (default 5; --quick 2)")
    ap.add_argument("--repeats", type=int, help="timed applications, after a cold one (default 5; --quick 2)")
    ap.add_argument("--size", type=int, help="training crop side (default 256; --quick 64)")
    ap.add_argument("--batch", type=int, help="training batch (default 4; --quick 1)")
    ap.add_argument("--apply-size", type=int, help="longest side of the content to apply to (default 512; --quick 128)")
    ap.add_argument("--gatys-size", type=int, help="longest side of the Gatys run (default: --apply-size)")
    ap.add_argument("--gatys-iterations", type=int, default=5)
    ap.add_argument("--train-modes", default="texture", help="texture, style or texture,style (default texture)")
    ap.add_argument("--torch", action="store_true", help="run the PyTorch side (the default)")
    ap.add_argument("--no-torch", action="store_true", help="stylize only")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of well under a minute")
    ap.add_argument("--json", default="bench-train.json")
    ap.add_argument("--command", default=" ".join(sys.argv))
    driver(ap.parse_args())


if __name__ == "__main__":
    main()
