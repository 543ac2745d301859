#!/usr/bin/python3
"""The training benchmark (driven by scripts/bench-train.sh; not a test, CI
does not run it): stylize's feed-forward generators, in fp32 and bf16,
against the same generators in Debian's python3-torch, in float32 and under
bfloat16 autocast, same threads, same VGG-19 weights (random He-normal),
same images; and a Gatys evaluation on both sides (scripts/bench_torch.py).

  bench_train_torch.py run --build DIR [options]
      the driver: runs both sides and prints the markdown table (see
      scripts/bench-train.sh and --help).
  bench_train_torch.py step WEIGHTS.json STYLE.png ARCH MODE SIZE BATCH THREADS STEPS
                            [--content-dir DIR] [--init MODEL.tnet] [--bf16]
      PyTorch: one training step (generator forward, VGG-19 to relu5_1, Gram
      style loss on relu1_1..relu5_1 normalised by the targets' energy as
      stylize's random-feature mode, + content relu4_2 for a style model,
      mean over the batch, backward, Adam), one warm-up step then the median
      of STEPS timed steps, as JSON. --init: the generator's parameters from
      a .tnet and stylize's noise of step 1, so that the warm-up step's loss
      can be compared with stylize's first step (texture models).
  bench_train_torch.py apply MODEL.tnet CONTENT.png THREADS REPEATS [--check OUT.png] [--bf16]
      PyTorch: the model's generator (its architecture and parameters read
      from the .tnet) on the content under torch.no_grad(), padded (replicate)
      to the architecture's multiple and cropped back as `stylize apply`
      does; one cold run, then the median of REPEATS warm runs, as JSON.
      --check: compare with stylize apply's output of the same model and
      content (same noise: stylize's RNG is reproduced), in 1/255 levels.
--bf16: the generator's and VGG-19's forward passes under
torch.autocast("cpu", bfloat16) (the backward follows the forward's dtypes);
the features are cast back to float32 and the losses and Gram matrices
computed outside autocast, in float32, as are the style targets.
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

from bench_run import rate

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


def precision_name(bf16):
    return "bf16-autocast" if bf16 else "fp32"


def autocast(bf16):
    """bfloat16 autocast on the CPU, or nothing (float32)."""
    import torch
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)


def as_float(f):
    return {k: v.float() for k, v in f.items()}


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
        with autocast(a.bf16):
            out = gen(noise, content)
            f = features(net, to_input(conv, out), wanted)
        f = as_float(f)
        per = 0
        for k, w in STYLE.items():
            g, C, M = grams(f[k])
            per = per + a.beta * w * norm[k] * ((g - A[k]) ** 2).sum((1, 2)) / (4.0 * C * C * M * M)
        if style_mode:
            with torch.no_grad(), autocast(a.bf16):
                P = features(net, to_input(conv, content), set(CONTENT))
            P = as_float(P)
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
                      "precision": precision_name(a.bf16), "rss_after_import": rss_import,
                      "torch": torch.__version__}))


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
            with autocast(a.bf16):
                out = gen(noise, x)
            out = out[:, :, :h, :w].float().clamp(0, 1)
            times.append(time.perf_counter() - t0)
    r = {"seconds": statistics.median(times[1:]), "seconds_cold": times[0], "runs": len(times) - 1,
         "width": w, "height": h, "padded": [W, H], "threads": a.threads, "precision": precision_name(a.bf16),
         "rss_after_import": rss_import, "torch": torch.__version__}
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
        what = [os.path.basename(c) for c in cmd[:3]] + [c for c in cmd if c == "--bf16"]
        what += ["--precision " + cmd[i + 1] for i, c in enumerate(cmd[:-1]) if c == "--precision"]
        sys.stderr.write("bench-train: %s failed (%d): %s\n" % (" ".join(what), p.returncode, err[-800:]))
    return p.returncode, ru.ru_maxrss * 1024, out, err


def mib(b):
    return "%.0f MiB" % (b / 2 ** 20) if b else "n/a"


def secs(t):
    return "n/a" if t is None else ("%.3f s" % t if t < 10 else "%.1f s" % t)


PRECISIONS = ("fp32", "bf16")
TORCH_NAMES = {"fp32": "PyTorch fp32", "bf16": "PyTorch bf16 (autocast)"}


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def parse_precisions(arg, has_bf16):
    """--precisions: a list of fp32 and bf16, in that order (default: fp32 and, with AVX512-BF16, bf16)."""
    if not arg:
        return ["fp32", "bf16"] if has_bf16 else ["fp32"]
    asked = [p for p in arg.split(",") if p]
    bad = [p for p in asked if p not in PRECISIONS]
    if bad or not asked:
        raise SystemExit("bench-train: --precisions takes fp32, bf16 or fp32,bf16 (not %r)" % arg)
    return [p for p in PRECISIONS if p in asked]


class Bench:
    """The commands of both sides, with the run's settings: each method runs one measurement in one
    precision and returns its numbers (None when the command failed)."""

    def __init__(self, a, tmp, settings, weights):
        self.build, self.tmp, self.weights = a.build, tmp, weights
        self.stylize = os.path.join(a.build, "stylize")
        self.s = settings
        self.py = "/usr/bin/python3"

    def path(self, *parts):
        return os.path.join(self.tmp, "-".join(parts))

    def torch_json(self, script, args, bf16):
        code, rss, out, _ = run_rss([self.py, os.path.join(ROOT, "scripts", script)] + [str(x) for x in args] +
                                    (["--bf16"] if bf16 else []))
        if code:
            return None
        r = json.loads(out)
        r["rss"] = rss
        return r

    # (a) training
    def train_cmd(self, src):
        s = self.s
        return [self.stylize, "train", "--arch", "pyramid", "--size", str(s["size"]), "--batch", str(s["batch"]),
                "--weights", "random", "--threads", str(s["threads"]), "--seed", "0", "-q"] + src

    def train(self, src, mode, p):
        rep = self.path("train", mode, p + ".json")
        code, rss, _, _ = run_rss(self.train_cmd(src) + ["--precision", p, "--iterations", str(self.s["steps"] + 1),
                                                         "--print-every", "1", "--report", rep,
                                                         "-o", self.path("m", mode, p + ".tnet")])
        if code:
            return None
        r = json.load(open(rep))
        spstep, n = rate(r["history"], "step")
        return {"seconds": spstep, "steps_timed": n, "seconds_first": r["history"][0]["seconds"], "rss": rss,
                "memory_plan": r.get("memory_peak"), "loss_first": r.get("loss_first"),
                "precision": r["training"]["precision"]}

    def torch_step(self, tex, mode, p, cdir, init):
        s = self.s
        args = [self.weights, tex, "pyramid", mode, s["size"], s["batch"], s["threads"], s["steps"]]
        args += ["--content-dir", cdir] if mode == "style" else (["--init", init] if init else [])
        t = self.torch_json("bench_train_torch.py", ["step"] + args, p == "bf16")
        if t:
            t["seconds"] = t.pop("seconds_per_step")
        return t

    # (b) applying a model
    def apply(self, model, copies, arch, p):
        odir = self.path("out", arch, p)
        os.mkdir(odir)
        code, rss, _, err = run_rss([self.stylize, "apply", "--model", model, "--content"] + copies +
                                    ["--output-dir", odir, "--threads", str(self.s["threads"]), "--precision", p])
        if code:
            return None
        ts, wh = [], None
        for line in err.splitlines():  # "stylize apply: wrote OUT (WxH, T s)"
            if " wrote " in line and line.endswith(" s)"):
                inner = line.rsplit("(", 1)[1]
                wh = inner.split(",")[0]
                ts.append(float(inner.split(",")[1].split()[0]))
        if not ts:
            return None
        return {"seconds": statistics.median(ts[1:]) if len(ts) > 1 else ts[0], "seconds_cold": ts[0],
                "runs": len(ts) - 1, "rss": rss, "size_str": wh, "precision": p,
                "output": os.path.join(odir, os.path.basename(copies[0]))}

    def torch_apply(self, model, content, p, ref):
        """ref: a stylize apply result whose image the PyTorch image is compared with."""
        args = ["apply", model, content, self.s["threads"], self.s["repeats"]]
        if ref and os.path.exists(ref["output"]):
            args += ["--check", ref["output"]]
        t = self.torch_json("bench_train_torch.py", args, p == "bf16")
        if t and ref and "check_max_levels" in t:
            t["check_against"] = ref["precision"]
        return t

    # (c) Gatys
    def gatys(self, gc, gs, p):
        s = self.s
        rep = self.path("gatys", p + ".json")
        code, rss, _, _ = run_rss([self.stylize, "--content", gc, "--style", gs, "--weights", "random",
                                   "--size", str(s["gatys_size"]), "--iterations", str(s["gatys_iterations"]),
                                   "--tolerance", "0", "--print-every", "1", "--threads", str(s["threads"]),
                                   "--precision", p, "--report", rep, "-o", self.path("gatys", p + ".png"), "-q"])
        if code:
            return None
        r = json.load(open(rep))
        h = r["history"]
        spe, _ = rate(h, "evaluations")
        by_it = {e["iteration"]: e["evaluations"] for e in h}
        e1 = by_it.get(1, r["evaluations"])  # the first iteration's line search
        later = (r["evaluations"] - e1) / max(1, r["iterations"] - 1)
        est_evals = e1 + (500 - 1) * later
        return {"seconds": spe, "rss": rss, "precision": r.get("precision"), "bf16_speed": r.get("bf16_speed"),
                "size_str": "%dx%d" % (r["width"], r["height"]),
                "iterations": r["iterations"], "evaluations": r["evaluations"], "evals_iteration1": e1,
                "evals_per_later_iteration": later, "estimate_evaluations": est_evals,
                "estimate_seconds": est_evals * spe if spe else None,
                "naive_estimate_seconds": 500 * spe * r["evaluations"] / r["iterations"] if spe else None}

    def torch_gatys(self, gc, gs, p):
        t = self.torch_json("bench_torch.py", ["time", self.weights, gc, gs, self.s["threads"], self.s["repeats"]],
                            p == "bf16")
        if t:
            t["seconds"] = t.pop("seconds_per_eval")
        return t


def image_diff(path, ref):
    """How far the PNG at path is from a stylize apply result's, in 1/255 levels (the keys of --check's)."""
    d = np.abs(np.round(load_image(path) * 255.0) - np.round(load_image(ref["output"]) * 255.0))
    return {"check_max_levels": float(d.max()), "check_mean_levels": float(d.mean()),
            "check_against": ref["precision"]}


def new_row(what, **kw):
    return dict(what=what, stylize={}, torch={}, **kw)


def size_of(row):
    """The row's image size as WxH, from whichever side ran."""
    for side in ("stylize", "torch"):
        for v in row[side].values():
            if v and v.get("size_str"):
                return v["size_str"]
            if v and v.get("width"):
                return "%dx%d" % (v["width"], v["height"])
    return "?"


def driver(a):
    from PIL import Image
    q = a.quick
    size = a.size or (64 if q else 256)
    asize = a.apply_size or (128 if q else 512)
    settings = {"threads": a.threads, "size": size, "batch": a.batch or (1 if q else 4),
                "steps": a.steps or (2 if q else 5), "apply_size": asize, "gatys_size": a.gatys_size or asize,
                "repeats": a.repeats or (2 if q else 5), "gatys_iterations": a.gatys_iterations,
                "train_modes": [m for m in a.train_modes.split(",") if m]}
    flags = cpu_flags()
    has_bf16 = "avx512_bf16" in flags
    precs = parse_precisions(a.precisions, has_bf16)
    settings["precisions"] = precs
    # stylize refuses bf16 without AVX512-BF16; PyTorch would emulate it
    sprecs = [p for p in precs if p != "bf16" or has_bf16]
    tprecs = precs if not a.no_torch else []
    tmp = tempfile.mkdtemp(prefix="stylize-bench-train-")
    res = {"settings": settings}
    rows = []
    try:
        weights = os.path.join(tmp, "vgg19-random.json")
        # the same He-normal weights as `--weights random` (seed 0), as a file for PyTorch
        if run_rss([os.path.join(a.build, "stylize-weights"), "random", "--out", weights, "--seed", "0"])[0]:
            sys.exit(1)
        b = Bench(a, tmp, settings, weights)
        imgs = os.path.join(ROOT, "examples/images")

        # both sides see the same pixels: the images are resized here, once
        def square(name, side):
            p = os.path.join(tmp, "%s%d.png" % (os.path.splitext(name)[0], side))
            Image.open(os.path.join(imgs, name)).convert("RGB").resize((side, side), Image.BICUBIC).save(p)
            return p

        def fit(name, side):
            im = Image.open(os.path.join(imgs, name)).convert("RGB")
            s = side / max(im.size)
            p = os.path.join(tmp, "fit-%s%d.png" % (os.path.splitext(name)[0], side))
            im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BICUBIC).save(p)
            return p
        tex = square("brick.png", size)
        content = fit("chelsea.png", asize)
        cdir = "/usr/share/backgrounds/mate/nature"
        if not os.path.isdir(cdir):
            cdir = imgs

        def done(row):
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

        # (a) seconds per training step
        for mode in settings["train_modes"]:
            row = new_row("train", arch="pyramid", mode=mode, size=size, batch=settings["batch"])
            src = ["--texture", tex] if mode == "texture" else ["--style", tex, "--content-dir", cdir]
            for p in sprecs:
                row["stylize"][p] = b.train(src, mode, p)
            init = None
            if tprecs and mode == "texture":  # the same initial parameters and first noise: the first losses must agree
                init = b.path("init", mode + ".tnet")
                if run_rss(b.train_cmd(src) + ["--precision", "fp32", "--iterations", "0", "-o", init])[0]:
                    init = None
            for p in tprecs:
                row["torch"][p] = b.torch_step(tex, mode, p, cdir, init)
            done(row)

        # (b) applying a model to a content image: stylize apply over copies of it (one cold run, then warm)
        copies = []
        for k in range(settings["repeats"] + 1):
            copies.append(os.path.join(tmp, "content%d.png" % k))
            shutil.copyfile(content, copies[-1])
        for arch in ["pyramid", "residual"]:
            row = new_row("apply", arch=arch, mode="style")
            model = b.path("style", arch + ".tnet")
            # one fp32 step of a style model: applying does not depend on how long it was trained
            cmd = [b.stylize, "train", "--style", tex, "--content-dir", cdir, "--arch", arch, "--size", "64",
                   "--batch", "1", "--iterations", "1", "--weights", "random", "--threads", str(a.threads),
                   "--precision", "fp32", "-q", "-o", model]
            if run_rss(cmd)[0] == 0:
                for p in sprecs:
                    row["stylize"][p] = b.apply(model, copies, arch, p)
                def ref(p):  # every image is compared with stylize's fp32 image (the same precision's without one)
                    return row["stylize"].get("fp32") or row["stylize"].get(p)
                for p in sprecs:
                    if row["stylize"][p] and ref(p) and ref(p) is not row["stylize"][p]:
                        row["stylize"][p].update(image_diff(row["stylize"][p]["output"], ref(p)))
                for p in tprecs:
                    row["torch"][p] = b.torch_apply(model, content, p, ref(p))
            row["size_str"] = size_of(row)
            done(row)

        # (c) a Gatys evaluation of the same image (s/eval), and a 500-iteration Gatys run estimated from it
        gc = fit("chelsea.png", settings["gatys_size"])
        gs = square("brick.png", settings["gatys_size"])
        row = new_row("gatys")
        for p in sprecs:
            row["stylize"][p] = b.gatys(gc, gs, p)
        for p in tprecs:
            row["torch"][p] = b.torch_gatys(gc, gs, p)
        row["size_str"] = size_of(row)
        done(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    info = {}
    for l in open("/proc/cpuinfo"):
        k, _, v = l.partition(":")
        info.setdefault(k.strip(), v.strip())
    cpu = "%s (family %s model %s)" % (info.get("model name", "?"), info.get("cpu family", "?"), info.get("model", "?"))
    tv = next((v["torch"] for r in rows for v in r["torch"].values() if v and v.get("torch")), None)
    # "stylize 0.1.0 (OpenBLAS core X)": the sgemm kernel stylize ran with (after its own choice)
    ver = subprocess.run([os.path.join(a.build, "stylize"), "--version"], capture_output=True, text=True).stdout
    core = ver.rsplit("core ", 1)[1].rstrip(")\n") if "core " in ver else "?"
    res["machine"] = {"cpu": cpu, "cpus": os.cpu_count(), "threads": a.threads, "torch": tv,
                      "avx512_bf16": has_bf16, "amx_bf16": "amx_bf16" in flags,
                      "openblas_core": core, "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
                      "loadavg": open("/proc/loadavg").read().split()[:3]}
    res.update({"rows": rows, "command": a.command, "date": time.strftime("%Y-%m-%d %H:%M")})
    json.dump(res, open(a.json, "w"), indent=1)
    report(res, precs, sprecs, tprecs, a.json)


# ---- the report --------------------------------------------------------------------------------

def seconds(row, side, p):
    v = row[side].get(p)
    return v.get("seconds") if v else None


def best(row):
    """(precision, seconds) of stylize's faster precision in the row, or (None, None)."""
    c = [(v["seconds"], p) for p, v in row["stylize"].items() if v and v.get("seconds")]
    return (min(c)[1], min(c)[0]) if c else (None, None)


def label(r):
    if r["what"] == "train":
        return "train step, %s model (%s), %d px, batch %d (s/step)" % (r["mode"], r["arch"], r["size"], r["batch"])
    if r["what"] == "apply":
        return "apply %s (style model), %s (s/image, warm)" % (r["arch"], r["size_str"])
    return "Gatys evaluation, %s: VGG-19 to relu5_1 + backward (s/eval)" % r["size_str"]


def longest(size_str):
    try:
        return max(int(v) for v in size_str.split("x"))
    except ValueError:
        return None


def columns(precs, tprecs):
    """(header, cell function of a row) of the table."""
    def ratio(tp):
        def cell(r):
            bp, bs = best(r)
            t = seconds(r, "torch", tp)
            return "%.2f (%s)" % (bs / t, bp) if bs and t else "n/a"
        return cell

    def rss(side, ps):
        return lambda r: " / ".join(mib(r[side][p]["rss"]) if r[side].get(p) else "n/a" for p in ps)
    cols = [("measurement", label)]
    cols += [("stylize %s" % p, lambda r, p=p: secs(seconds(r, "stylize", p))) for p in precs]
    cols += [(TORCH_NAMES[p], lambda r, p=p: secs(seconds(r, "torch", p))) for p in tprecs]
    cols += [("stylize best / %s" % TORCH_NAMES[p], ratio(p)) for p in tprecs]
    cols.append(("stylize peak RSS (%s)" % " / ".join(precs), rss("stylize", precs)))
    if tprecs:
        cols.append(("PyTorch peak RSS (%s)" % " / ".join(tprecs), rss("torch", tprecs)))
    return cols


def gatys_estimate(rows):
    """stylize's Gatys run in fp32 (L-BFGS's precision), else the one there is."""
    g = next((r for r in rows if r["what"] == "gatys"), None)
    if not g:
        return None
    return g["stylize"].get("fp32") or next((v for v in g["stylize"].values() if v), None)


def apply_notes(r):
    out = []
    cold = ["stylize %s %s" % (p, secs(v["seconds_cold"])) for p, v in r["stylize"].items() if v]
    cold += ["%s %s" % (TORCH_NAMES[p], secs(v["seconds_cold"])) for p, v in r["torch"].items() if v]
    padded = next((v["padded"] for v in r["torch"].values() if v), None)
    if cold:
        out.append("apply %s: first image (cold: plans and allocates the instance): %s%s" % (
            r["arch"], ", ".join(cold),
            "; PyTorch's generator runs padded to %s" % "x".join(map(str, padded)) if padded else ""))
    for side, names in (("torch", TORCH_NAMES), ("stylize", {p: "stylize " + p for p in PRECISIONS})):
        for p, v in r[side].items():
            if v and v.get("check_max_levels") is not None:
                what = "the %s generator with the .tnet parameters and stylize's noise" % names[p] \
                    if side == "torch" else names[p]
                out.append("%s, apply %s: %s vs stylize apply %s's PNG: max %.0f, mean %.4f levels of 255" % (
                    "check" if p == v["check_against"] == "fp32" else "information", r["arch"], what,
                    v["check_against"], v["check_max_levels"], v["check_mean_levels"]))
    return out


def train_notes(r):
    """The first step's losses from the same initial parameters and noise (texture models)."""
    first = {(side, p): v["loss_first"] for side in ("stylize", "torch") for p, v in r[side].items()
             if v and v.get("loss_first") is not None}
    if r["mode"] != "texture" or ("torch", "fp32") not in first:
        return []
    out = []
    if ("stylize", "fp32") in first:
        s, t = first[("stylize", "fp32")], first[("torch", "fp32")]
        out.append("check, train %s (%s model): first step's loss (same initial parameters and noise) stylize fp32 "
                   "%.6g, PyTorch fp32 %.6g (relative difference %.1e)" % (r["arch"], r["mode"], s, t, abs(s / t - 1)))
    bf = ["%s %.6g (%+.1e vs PyTorch fp32's)" % ("stylize bf16" if side == "stylize" else TORCH_NAMES[p], v,
                                                  v / first[("torch", "fp32")] - 1)
          for (side, p), v in first.items() if p == "bf16"]
    if bf:
        out.append("information, train %s (%s model): first step's loss in bf16: %s" % (r["arch"], r["mode"],
                                                                                         ", ".join(bf)))
    return out


def notes(rows, precs, sprecs, flags):
    out = []
    if "bf16" in precs and "bf16" not in sprecs:
        out.append("stylize bf16 not run: this CPU has no AVX512-BF16 (avx512_bf16); PyTorch's bf16 autocast is "
                   "emulated in float32 arithmetic here")
    if len(sprecs) > 1:
        out.append("stylize best: the faster of stylize's precisions in the row (named in the ratio); the Gatys "
                   "target uses fp32, the precision stylize keeps for L-BFGS")
    for r in rows:
        for p, v in r["stylize"].items():
            if v and v.get("precision") and v["precision"] != p:
                out.append("%s: stylize asked for %s ran %s" % (label(r), p, v["precision"]))
        if r["what"] == "apply":
            out += apply_notes(r)
        elif r["what"] == "train":
            out += train_notes(r)
    imported = [v["rss_after_import"] for r in rows if r["what"] == "train" for v in r["torch"].values()
                if v and v.get("rss_after_import")]
    if imported:
        lo, hi = mib(min(imported)), mib(max(imported))
        out.append("PyTorch process RSS after `import torch`: %s (included in its peak)" % (
            lo if lo == hi else "%s to %s" % (lo, hi)))
    if "amx_bf16" not in flags:
        out.append("the targets were set for an Intel AMX machine; this CPU has no amx_bf16 flag (%s)" % (
            "its bfloat16 runs on AVX512-BF16" if "avx512_bf16" in flags else "nor AVX512-BF16"))
    return list(dict.fromkeys(out))


def targets(rows):
    """(what, value, met) of each target that the run measured."""
    out = []
    for r in rows:
        bp, bs = best(r)
        if r["what"] == "train" and bs:
            for tp, limit in (("fp32", 0.2), ("bf16", 0.5)):
                t = seconds(r, "torch", tp)
                if t:
                    out.append(("training step (%s model) at most %.1fx %s's time" % (r["mode"], limit, TORCH_NAMES[tp]),
                                "%.2fx (stylize %s %s vs %s)" % (bs / t, bp, secs(bs), secs(t)), bs / t <= limit))
        elif r["what"] == "apply" and bs:
            at = "" if longest(r["size_str"]) == 512 else " (measured at %s)" % r["size_str"]
            out.append(("apply (%s) at 512 px at most 0.1 s%s" % (r["arch"], at), "%s (%s)" % (secs(bs), bp),
                        bs <= 0.1))
        elif r["what"] == "gatys":
            s, t = seconds(r, "stylize", "fp32"), seconds(r, "torch", "fp32")
            if s and t:
                at = "" if longest(r["size_str"]) == 512 else " (measured at %s)" % r["size_str"]
                out.append(("Gatys evaluation at 512 px, stylize fp32 at most 0.3x %s's%s" % (TORCH_NAMES["fp32"], at),
                            "%.2fx (%s vs %s)" % (s / t, secs(s), secs(t)), s / t <= 0.3))
    return out


def report(res, precs, sprecs, tprecs, json_path):
    m, rows = res["machine"], res["rows"]
    flags = cpu_flags()
    yes = {True: "yes", False: "no"}
    speeds = [c.get("bf16_speed") for r in rows if r.get("what") == "gatys"
              for c in r.get("stylize", {}).values() if c and c.get("bf16_speed") is not None]
    speed = "; stylize's bf16 speed probe %.2f (auto picks bf16 at 1.5 or more)" % speeds[0] if speeds else ""
    print("machine: %s, %d cpus, %d threads (load average at the end %s); AVX512-BF16 %s, AMX-BF16 %s%s; %s" % (
        m["cpu"], m["cpus"], m["threads"], " ".join(m["loadavg"]), yes[m["avx512_bf16"]], yes[m["amx_bf16"]], speed,
        "PyTorch %s (Debian python3-torch), %s" % (
            m["torch"], " and ".join("float32" if p == "fp32" else "bfloat16 autocast" for p in tprecs))
        if m["torch"] else "PyTorch not run"))
    env = m.get("openblas_coretype_env")
    print("stylize's OpenBLAS kernel: %s (%s)" % (m.get("openblas_core", "?"),
          "OPENBLAS_CORETYPE=%s set in the environment" % env if env else "its own choice: OPENBLAS_CORETYPE unset"))
    print("command: %s" % res["command"])
    print()
    cols = columns(precs, tprecs)
    print("| " + " | ".join(h for h, _ in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f(r) for _, f in cols) + " |")
    print()
    g = gatys_estimate(rows)
    applies = [(r["arch"],) + best(r) for r in rows if r["what"] == "apply" and best(r)[1]]
    if g and g.get("estimate_seconds"):
        print("Gatys, 500 iterations (estimated, stylize %s): %.0f evaluations (%d in iteration 1, then %.2f per "
              "iteration as observed in iterations 2..%d) x %.3f s = %.0f s (500 x the mean %.2f "
              "evaluations/iteration of the %d iterations run: %.0f s)" % (
                  g["precision"], g["estimate_evaluations"], g["evals_iteration1"], g["evals_per_later_iteration"],
                  g["iterations"], g["seconds"], g["estimate_seconds"], g["evaluations"] / g["iterations"],
                  g["iterations"], g["naive_estimate_seconds"]))
        print()
        print("| model | apply (stylize best) | Gatys 500 iterations (est.) | apply vs Gatys |")
        print("|---|---|---|---|")
        for arch, bp, bs in applies:
            print("| %s | %s (%s) | %.0f s | %.0fx faster |" % (arch, secs(bs), bp, g["estimate_seconds"],
                                                               g["estimate_seconds"] / bs))
        print()
    for n in notes(rows, precs, sprecs, flags):
        print("- " + n)
    ts = targets(rows)
    if ts:
        print()
        print("targets:")
        for what, value, ok in ts:
            print("- %s: %s, %s" % (what, value, "met" if ok else "not met"))
    print()
    print("(timings on a shared machine are noisy; JSON: %s)" % json_path)


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("step", "apply"):
        ap = argparse.ArgumentParser(prog="bench_train_torch.py " + sys.argv[1])
        ap.add_argument("--bf16", action="store_true", help="forward passes under bfloat16 autocast")
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
    ap.add_argument("--repeats", type=int, help="timed applications, after a cold one, and PyTorch Gatys evaluations, after a "
                    "warm-up (default 5; --quick 2)")
    ap.add_argument("--size", type=int, help="training crop side (default 256; --quick 64)")
    ap.add_argument("--batch", type=int, help="training batch (default 4; --quick 1)")
    ap.add_argument("--apply-size", type=int, help="longest side of the content to apply to (default 512; --quick 128)")
    ap.add_argument("--gatys-size", type=int, help="longest side of the Gatys run (default: --apply-size)")
    ap.add_argument("--gatys-iterations", type=int, default=5)
    ap.add_argument("--train-modes", default="texture", help="texture, style or texture,style (default texture)")
    ap.add_argument("--precisions", help="fp32, bf16 or fp32,bf16: stylize's --precision and PyTorch's float32 / "
                    "bfloat16 autocast (default fp32,bf16 where the CPU has AVX512-BF16, else fp32)")
    ap.add_argument("--torch", action="store_true", help="run the PyTorch side (the default)")
    ap.add_argument("--no-torch", action="store_true", help="stylize only")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of a minute or two")
    ap.add_argument("--json", default="bench-train.json")
    ap.add_argument("--command", default=" ".join(sys.argv))
    driver(ap.parse_args())


if __name__ == "__main__":
    main()
