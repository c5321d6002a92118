#!/usr/bin/env python3
"""Times ARU-Net in PyTorch on the CPU: the peer of arunet's CPU backend for benchmarks/RESULTS.md.

The network is written here from docs/ARU-NET.md and arunet's Java modules (org.arunet.nn,
org.arunet.model.ArUNet), module for module, so that both sides run the same architecture:
the paper's default (width 64, mixer kernel 3, paper channel attention, MCSA after up blocks 2-4,
spatial attention and SpConvMixer on, residual encoder), 39,475,748 parameters (checked).

Measures, with torch.set_num_threads(THREADS):
  forward    eval mode under torch.inference_mode(), per input shape
  train      one training step: forward, cross-entropy + soft Dice loss, backward, Adam (lr 1e-4)
each in the default (NCHW, contiguous) and channels_last memory formats.

Usage (Debian's python3-torch, e.g. /usr/bin/python3):
  python3 benchmarks/pytorch/aru_net_bench.py [--threads 2] [--iterations 5] [--warmup 2]
         [--forward 1x256,1x512,2x256] [--train 2x256] [--formats default,channels_last] [--json out.json]
Prints one line per measurement and, with --json, writes all of them (milliseconds: median, min,
max, every iteration) with the torch version and the thread count.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------ modules (as org.arunet.nn)

class CBR(nn.Sequential):
    """ReLU(BN(conv3x3(x))), padding 1."""

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
    """MaxPool(3, 2, 1) then Residual(cin -> cout)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.block = Residual(cin, cout)

    def forward(self, x):
        return self.block(F.max_pool2d(x, 3, 2, 1))


class SpatialAttention(nn.Module):
    """w = sigmoid(conv kxk(2 -> 1)([max_c x, mean_c x])); out = x * w."""

    def __init__(self, kernel=7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x):
        s = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(s))


class MixerBlock(nn.Module):
    """out = x + BN(GELU(pw(BN(GELU(dw(x)))))), dw depthwise kxk, pw 1x1, both with bias."""

    def __init__(self, c, kernel):
        super().__init__()
        self.dw = nn.Conv2d(c, c, kernel, padding=kernel // 2, groups=c, bias=True)
        self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=True)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        a = self.bn1(F.gelu(self.dw(x)))
        return x + self.bn2(F.gelu(self.pw(a)))


class MCSA(nn.Module):
    """p = BN(1x1 x), o = BN(3x3 x), d = BN(3x3 dil 2 x); g = sigmoid(BN(1x1(ReLU(cat[p, o])))); x + d * g."""

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
        po = F.relu(torch.cat([self.p_bn(self.p(x)), self.o_bn(self.o(x))], dim=1))
        g = torch.sigmoid(self.g_bn(self.g(po)))
        return x + self.d_bn(self.d(x)) * g


class ChannelAttention(nn.Module):
    """Paper form: w = sigmoid(fc_out(fc_max(GMP x) * fc_avg(GAP x))), hidden max(1, C / 16); x * w."""

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
    """u = CBR(cin -> cout, bias)(up2(x)), [MCSA(u)]; z = CA(cat[u, skip]); CBR(2 cout -> cout, bias)(z)."""

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


class ARUNet(nn.Module):
    """Stem, four residual down stages, spatial attention, SpConvMixer x5, four decoders, 1x1 head."""

    def __init__(self, in_channels=3, classes=2, width=64, mixer_kernel=3, mixer_depth=5):
        super().__init__()
        c = [width * m for m in (1, 2, 4, 8, 16)]
        self.stem = Stem(in_channels, c[0])
        self.enc2 = Down(c[0], c[1])
        self.enc3 = Down(c[1], c[2])
        self.enc4 = Down(c[2], c[3])
        self.enc5 = Down(c[3], c[4])
        self.sa = SpatialAttention(7)
        self.mixer = nn.Sequential(*[MixerBlock(c[4], mixer_kernel) for _ in range(mixer_depth)])
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
        z = self.mixer(self.sa(self.enc5(f4)))
        z = self.dec4(z, f4)
        z = self.dec3(z, f3)
        z = self.dec2(z, f2)
        z = self.dec1(z, f1)
        return self.head(z)


def loss_fn(logits, target, smooth=1e-5):
    """Cross-entropy (mean over pixels) + soft Dice (softmax, pooled over the batch, mean over classes)."""
    ce = F.cross_entropy(logits, target)
    p = torch.softmax(logits, dim=1)
    t = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    inter = (p * t).sum(dim=(0, 2, 3))
    dice = (2 * inter + smooth) / (p.sum(dim=(0, 2, 3)) + t.sum(dim=(0, 2, 3)) + smooth)
    return ce + (1 - dice.mean())


# ------------------------------------------------------------------ timing

def timed(fn, warmup, iterations):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return t


def shapes(spec):
    out = []
    for s in spec.split(","):
        if s:
            n, hw = s.lower().split("x")
            out.append((int(n), int(hw)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--forward", default="1x256,1x512,2x256")
    ap.add_argument("--train", default="2x256")
    ap.add_argument("--formats", default="default,channels_last")
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = ARUNet()
    params = sum(p.numel() for p in net.parameters())
    if params != 39475748:
        sys.exit(f"parameter count {params} != 39,475,748: the architecture does not match arunet's")
    gmac = {256: 74.49, 512: 297.96}  # docs/ARU-NET.md, per image
    results = {"torch": torch.__version__, "threads": a.threads, "mkldnn": torch.backends.mkldnn.is_available(),
               "parameters": params, "runs": []}
    print(f"torch {torch.__version__}, {a.threads} threads, {params:,} parameters", flush=True)
    for fmt in a.formats.split(","):
        mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        model = net.to(memory_format=mf)
        for n, hw in shapes(a.forward):
            x = torch.randn(n, 3, hw, hw).to(memory_format=mf)
            model.eval()
            with torch.inference_mode():
                t = timed(lambda: model(x), a.warmup, a.iterations)
            rec = {"what": "forward", "format": fmt, "batch": n, "size": hw, "ms": t,
                   "median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t)}
            if hw in gmac:
                rec["gflops"] = 2 * gmac[hw] * n / (rec["median_ms"] / 1e3)
            results["runs"].append(rec)
            print(f"forward {fmt:13s} {n}x3x{hw}x{hw}: median {rec['median_ms']:.1f} ms (min {rec['min_ms']:.1f},"
                  f" max {rec['max_ms']:.1f})", flush=True)
        for n, hw in shapes(a.train):
            x = torch.randn(n, 3, hw, hw).to(memory_format=mf)
            target = (torch.rand(n, hw, hw) < 0.25).long()
            model.train()
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)

            def step():
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), target)
                loss.backward()
                opt.step()

            t = timed(step, a.warmup, a.iterations)
            rec = {"what": "train", "format": fmt, "batch": n, "size": hw, "ms": t,
                   "median_ms": statistics.median(t), "min_ms": min(t), "max_ms": max(t)}
            if hw in gmac:
                rec["gflops_effective"] = 6 * gmac[hw] * n / (rec["median_ms"] / 1e3)
            results["runs"].append(rec)
            print(f"train   {fmt:13s} {n}x3x{hw}x{hw}: median {rec['median_ms']:.1f} ms (min {rec['min_ms']:.1f},"
                  f" max {rec['max_ms']:.1f})", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
