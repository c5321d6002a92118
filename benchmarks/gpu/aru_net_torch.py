#!/usr/bin/env python3
"""ARU-Net in PyTorch, mirroring arunet's Java model module for module, as the throughput peer.

Written from the shared docs/ARU-NET.md and arunet's Java classes (org.arunet.model.ArUNet,
org.arunet.nn.*): the same modules, the same parameter and buffer names (state_dict keys equal
ArUNet.namedParameters() / stateDict()), the same defaults (paper text: width 64, SpConvMixer kernel 3,
the paper's channel attention, MCSA after up blocks 2-4, spatial attention kernel 7), so that
  * the parameter count is 39,475,748 (checked against the Java model's names file: --check-params);
  * the PyTorch fixture that arunet's tests use (model_tiny.safetensors) loads and reproduces its logits
    (--check-fixture), which proves the structure and the op order;
  * the benchmark runs the same computation as arunet's GPU harness (GpuHarness bench): forward in eval
    mode for inference; forward, CE + Dice loss (on float32 logits), backward, Adam (lr 1e-4) for a
    training step; the loss is read back each step (loss.item()), as the Java Trainer does.

Benchmark settings (issue 7): channels_last model and input, torch.backends.cudnn.benchmark = True,
eager mode; fp16 = torch.autocast(float16) + GradScaler; bf16 = torch.autocast(bfloat16); fp32 with TF32
off (cuDNN and matmul), like arunet's fp32.

Usage:
  aru_net_torch.py bench --json FILE --configs fp16:infer:1,fp16:train:8,... [--size 512] [--width 64]
                         [--min-seconds 2] [--min-iterations 3] [--max-seconds 10] [--deadline 120]
                         [--device cuda]
  aru_net_torch.py check --names names.txt [--fixture model_tiny.safetensors]
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------------- model


class CBR(nn.Module):
    """ReLU(BN(conv3x3(x))), padding 1: children conv, bn (arunet's CBR fuses the ReLU into the BN)."""

    def __init__(self, cin, cout, bias):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Stem(nn.Module):
    """x1 = CBR(in -> c)(x); out = x1 + CBR(c -> c)(x1)."""

    def __init__(self, cin, c):
        super().__init__()
        self.a = CBR(cin, c, False)
        self.b = CBR(c, c, False)

    def forward(self, x):
        x1 = self.a(x)
        return x1 + self.b(x1)


class Residual(nn.Module):
    """y = CBR(cin -> cout)(x) + conv1x1(x); out = y + CBR(cout -> cout)(y); no conv biases."""

    def __init__(self, cin, cout):
        super().__init__()
        self.a = CBR(cin, cout, False)
        self.b = CBR(cout, cout, False)
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        y = self.a(x) + self.shortcut(x)
        return y + self.b(y)


class Down(nn.Module):
    """MaxPool(3, 2, 1) then Residual: child block."""

    def __init__(self, cin, cout):
        super().__init__()
        self.block = Residual(cin, cout)

    def forward(self, x):
        return self.block(F.max_pool2d(x, 3, 2, 1))


class SpatialAttention(nn.Module):
    """w = sigmoid(conv kxk(2 -> 1, no bias)(cat[max_c x, mean_c x])); out = x * w."""

    def __init__(self, kernel):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x):
        s = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(s))


class MixerBlock(nn.Module):
    """out = x + BN2(GELU(pw(BN1(GELU(dw(x)))))), dw depthwise kxk with bias, pw 1x1 with bias."""

    def __init__(self, c, kernel):
        super().__init__()
        self.dw = nn.Conv2d(c, c, kernel, padding=kernel // 2, groups=c, bias=True)
        self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=True)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        a1 = F.gelu(self.dw(x))
        a2 = F.gelu(self.pw(self.bn1(a1)))
        return x + self.bn2(a2)


class MCSA(nn.Module):
    """p = BN(1x1), o = BN(3x3), d = BN(3x3 dilation 2) (all with bias); g = sigmoid(BN(1x1(2C -> C)(ReLU(cat[p, o]))));
    out = x + d * g. Children p, p_bn, o, o_bn, d, d_bn, g, g_bn."""

    def __init__(self, c):
        super().__init__()
        self.p = nn.Conv2d(c, c, 1, bias=True)
        self.p_bn = nn.BatchNorm2d(c)
        self.o = nn.Conv2d(c, c, 3, padding=1, bias=True)
        self.o_bn = nn.BatchNorm2d(c)
        self.d = nn.Conv2d(c, c, 3, padding=2, dilation=2, bias=True)
        self.d_bn = nn.BatchNorm2d(c)
        self.g = nn.Conv2d(2 * c, c, 1, bias=True)
        self.g_bn = nn.BatchNorm2d(c)

    def forward(self, x):
        po = torch.cat([F.relu(self.p_bn(self.p(x))), F.relu(self.o_bn(self.o(x)))], dim=1)
        gate = torch.sigmoid(self.g_bn(self.g(po)))
        return self.d_bn(self.d(x)) * gate + x


class ChannelAttention(nn.Module):
    """The paper's form: w = sigmoid(fc_out(fc_max(GMP x) * fc_avg(GAP x))), hidden max(1, C / 16), no biases."""

    def __init__(self, c, ratio=16):
        super().__init__()
        h = max(1, c // ratio)
        self.fc_max = nn.Linear(c, h, bias=False)
        self.fc_avg = nn.Linear(c, h, bias=False)
        self.fc_out = nn.Linear(h, c, bias=False)

    def forward(self, x):
        vmax = x.amax(dim=(2, 3))
        vavg = x.mean(dim=(2, 3))
        w = torch.sigmoid(self.fc_out(self.fc_max(vmax) * self.fc_avg(vavg)))
        return x * w[:, :, None, None]


class Decoder(nn.Module):
    """u = CBR(cin -> cout, bias)(up2(x)); [u = MCSA(u)]; z = CA(cat[u, skip]); out = CBR(2 cout -> cout, bias)(z)."""

    def __init__(self, cin, cout, mcsa):
        super().__init__()
        self.up = CBR(cin, cout, True)
        self.mcsa = MCSA(cout) if mcsa else None
        self.ca = ChannelAttention(2 * cout)
        self.fuse = CBR(2 * cout, cout, True)

    def forward(self, x, skip):
        u = self.up(F.interpolate(x, scale_factor=2, mode="nearest"))
        if self.mcsa is not None:
            u = self.mcsa(u)
        return self.fuse(self.ca(torch.cat([u, skip], dim=1)))


class ArUNet(nn.Module):
    """arunet's ArUNet with ArUNetConfig.paper() (widths w x (1, 2, 4, 8, 16), mixer kernel 3, depth 5)."""

    def __init__(self, in_channels=3, classes=2, width=64, mixer_kernel=3, mixer_depth=5, spatial_kernel=7):
        super().__init__()
        c = [width * m for m in (1, 2, 4, 8, 16)]
        self.stem = Stem(in_channels, c[0])
        self.enc2 = Down(c[0], c[1])
        self.enc3 = Down(c[1], c[2])
        self.enc4 = Down(c[2], c[3])
        self.enc5 = Down(c[3], c[4])
        self.sa = SpatialAttention(spatial_kernel)
        self.mixer = nn.ModuleList([MixerBlock(c[4], mixer_kernel) for _ in range(mixer_depth)])
        self.dec4 = Decoder(c[4], c[3], mcsa=False)
        self.dec3 = Decoder(c[3], c[2], mcsa=True)
        self.dec2 = Decoder(c[2], c[1], mcsa=True)
        self.dec1 = Decoder(c[1], c[0], mcsa=True)
        self.head = nn.Conv2d(c[0], classes, 1, bias=True)

    def forward(self, x):
        f1 = self.stem(x)
        f2 = self.enc2(f1)
        f3 = self.enc3(f2)
        f4 = self.enc4(f3)
        z = self.sa(self.enc5(f4))
        for block in self.mixer:
            z = block(z)
        z = self.dec4(z, f4)
        z = self.dec3(z, f3)
        z = self.dec2(z, f2)
        z = self.dec1(z, f1)
        return self.head(z)


def ce_dice_loss(logits, target, smooth=1e-5):
    """CE (mean over pixels) + (1 - mean_k Dice_k), Dice pooled over the batch (arunet's crossEntropyDiceLoss)."""
    logits = logits.float()
    ce = F.cross_entropy(logits, target)
    p = torch.softmax(logits, dim=1)
    t = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    inter = (p * t).sum(dim=(0, 2, 3))
    dice = (2 * inter + smooth) / (p.sum(dim=(0, 2, 3)) + t.sum(dim=(0, 2, 3)) + smooth)
    return ce + (1 - dice.mean())


# --------------------------------------------------------------------------------------------------- checks


def read_safetensors(path):
    """A minimal safetensors reader (F32, I64, I32): {name: tensor}."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "I64": torch.int64, "I32": torch.int32}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:end]), dtype=dtypes[e["dtype"]]) if end > b else \
            torch.zeros(0, dtype=dtypes[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out


def check(args):
    ok = True
    model = ArUNet()
    count = sum(p.numel() for p in model.parameters())
    print(f"PyTorch mirror: {count:,} parameters")
    if args.names:
        java = {}
        total = None
        for line in open(args.names):
            name, shape = line.rstrip("\n").split("\t")
            if name == "# total":
                total = int(shape)
            else:
                java[name] = [int(s) for s in shape.strip("[]").split(",") if s.strip()]
        mine = {k: list(v.shape) for k, v in model.named_parameters()}
        missing = sorted(set(java) - set(mine))
        extra = sorted(set(mine) - set(java))
        shapes = sorted(k for k in set(java) & set(mine) if java[k] != mine[k])
        same = not missing and not extra and not shapes and total == count
        print(f"{'OK ' if same else 'BAD'} parameter names, shapes and count vs the Java model: java {total:,}, "
              f"torch {count:,}; missing {missing[:5]}, extra {extra[:5]}, shape mismatches {shapes[:5]}")
        ok &= same
    if args.fixture:
        f = read_safetensors(args.fixture)
        tiny = ArUNet(width=8)
        state = {k[len("param."):]: v for k, v in f.items() if k.startswith("param.")}
        result = tiny.load_state_dict(state, strict=True)
        tiny.train()
        with torch.no_grad():
            logits = tiny(f["input"])
        err = ((logits - f["logits"]).norm() / f["logits"].norm()).item()
        loss = ce_dice_loss(logits, f["target"]).item()
        loss_err = abs(loss - f["loss"].item()) / abs(f["loss"].item())
        good = err < 1e-4 and loss_err < 1e-5
        print(f"{'OK ' if good else 'BAD'} tiny model vs the fixture: logits norm-relative error {err:.2e}, loss "
              f"{loss:.6f} vs {f['loss'].item():.6f} ({result})")
        ok &= good
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------------- benchmark


def disk_targets(b, size, device):
    g = torch.Generator().manual_seed(42)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    t = torch.zeros(b, size, size, dtype=torch.int64)
    for n in range(b):
        cy = size // 4 + int(torch.randint(size // 2, (1,), generator=g))
        cx = size // 4 + int(torch.randint(size // 2, (1,), generator=g))
        r = size // 8 + int(torch.randint(max(1, size // 8), (1,), generator=g))
        t[n] = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).long()
    return t.to(device)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    pos = q * (len(sorted_values) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def run_config(models, prec, mode, batch, args, device):
    cuda = device.type == "cuda"
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(prec)
    torch.backends.cudnn.allow_tf32 = prec != "fp32"
    torch.backends.cuda.matmul.allow_tf32 = prec != "fp32"
    if prec not in models:
        t0 = time.time()
        models[prec] = ArUNet(width=args.width).to(device).to(memory_format=torch.channels_last)
        print(f"model {prec}: {sum(p.numel() for p in models[prec].parameters()):,} parameters, built in "
              f"{time.time() - t0:.1f} s", flush=True)
    model = models[prec]
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    gen = torch.Generator(device="cpu").manual_seed(42)
    x = torch.randn(batch, 3, args.size, args.size, generator=gen).to(device).contiguous(
        memory_format=torch.channels_last)
    target = disk_targets(batch, args.size, device)
    autocast = torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None)
    if mode == "infer":
        model.eval()

        def step():
            with torch.no_grad(), autocast:
                model(x)
    elif mode == "compiled":
        # the faster peer a GPU user would pick: torch.compile (default mode) of the same eager model;
        # the compilation happens in the warm-up (warmup_s), the timed loop runs the compiled graph
        model.eval()
        compiled = models.setdefault(prec + ":compiled", torch.compile(model))

        def step():
            with torch.no_grad(), autocast:
                compiled(x)
    else:
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
            scaler = torch.amp.GradScaler(device.type, enabled=prec == "fp16")
        else:
            scaler = torch.cuda.amp.GradScaler(enabled=prec == "fp16")

        def step():
            with autocast:
                logits = model(x)
            loss = ce_dice_loss(logits, target)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if not math.isfinite(loss.item()):
                raise RuntimeError(f"loss is {loss.item()}")

    def sync():
        if cuda:
            torch.cuda.synchronize()

    w0 = time.time()
    for _ in range(2):
        step()
        sync()
    warmup = time.time() - w0
    times = []
    s0 = time.time()
    while True:
        i0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - i0) * 1e3)
        el = time.time() - s0
        if (el >= args.min_seconds and len(times) >= args.min_iterations) or el >= args.max_seconds:
            break
    seconds = time.time() - s0
    st = sorted(times)
    r = {"status": "ok", "iterations": len(times), "seconds": seconds, "images_per_s": batch * len(times) / seconds,
         "ms_median": percentile(st, 0.5), "ms_p10": percentile(st, 0.1), "ms_p90": percentile(st, 0.9),
         "warmup_s": warmup}
    if cuda:
        r["peak_bytes"] = torch.cuda.max_memory_allocated()
        r["peak_reserved_bytes"] = torch.cuda.max_memory_reserved()
    del x, target
    if mode == "train":
        del opt
    return r


def bench(args):
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    env = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    doc = {"environment": env, "results": []}

    def write():
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, args.json)

    write()
    print(f"PyTorch peer: {env}", flush=True)
    start = time.time()
    models = {}
    for cfg in [c for c in args.configs.split(",") if c.strip()]:
        prec, mode, batch = cfg.strip().split(":")
        batch = int(batch)
        base = {"precision": prec, "mode": mode, "batch": batch, "size": args.size, "width": args.width}
        elapsed = time.time() - start
        if mode in ("graph", "fused", "fusedgraph"):
            base.update(status="skipped", error="the peer runs eager PyTorch only (an arunet-only inference variant: "
                        "compared with the peer's eager infer row)")
        elif elapsed > args.deadline:
            base.update(status="skipped", error=f"time budget: {elapsed:.0f} s of {args.deadline:.0f} used")
            print(f"SKIP {cfg}: {base['error']}", flush=True)
        else:
            t0 = time.time()
            try:
                base.update(run_config(models, prec, mode, batch, args, device))
                print(f"RESULT {cfg:18s} {base['images_per_s']:8.2f} img/s  median {base['ms_median']:8.2f} ms  "
                      f"p10 {base['ms_p10']:8.2f}  p90 {base['ms_p90']:8.2f}  ({base['iterations']} iterations, "
                      f"warm-up {base['warmup_s']:.1f} s"
                      + (f", peak {base['peak_bytes'] / 2**30:.2f} GiB)" if "peak_bytes" in base else ")"),
                      flush=True)
            except Exception as e:  # a failing configuration (out of memory, say) must not stop the others
                base.update(status="failed", error=f"{type(e).__name__}: {e}", seconds=time.time() - t0)
                print(f"FAIL {cfg}: {base['error']}", flush=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        doc["results"].append(base)
        write()
    return 0 if any(r.get("status") == "ok" for r in doc["results"]) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--json", required=True)
    b.add_argument("--configs", required=True)
    b.add_argument("--size", type=int, default=512)
    b.add_argument("--width", type=int, default=64)
    b.add_argument("--min-seconds", type=float, default=2.0)
    b.add_argument("--min-iterations", type=int, default=3)
    b.add_argument("--max-seconds", type=float, default=10.0)
    b.add_argument("--deadline", type=float, default=120.0)
    b.add_argument("--device", default="cuda")
    c = sub.add_parser("check")
    c.add_argument("--names")
    c.add_argument("--fixture")
    args = ap.parse_args()
    return bench(args) if args.command == "bench" else check(args)


if __name__ == "__main__":
    sys.exit(main())
