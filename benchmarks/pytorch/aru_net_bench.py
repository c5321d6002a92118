#!/usr/bin/env python3
"""Times ARU-Net in PyTorch on the CPU: the peer of arunet's CPU backend for benchmarks/RESULTS.md.

The network is benchmarks/gpu/aru_net_torch.py, written from docs/ARU-NET.md and arunet's Java
modules (org.arunet.nn, org.arunet.model.ArUNet), module for module, so that both sides run the
same architecture:
the paper's default (width 64, mixer kernel 3, paper channel attention, MCSA after up blocks 2-4,
spatial attention and SpConvMixer on, residual encoder), 39,475,748 parameters (checked).

Measures, with torch.set_num_threads(THREADS):
  forward    eval mode under torch.inference_mode(), per input shape
  train      one training step: forward, cross-entropy + soft Dice loss, backward, Adam (lr 1e-4)
each in the default (NCHW, contiguous) and channels_last memory formats.

Usage (Debian's python3-torch, e.g. /usr/bin/python3):
  python3 benchmarks/pytorch/aru_net_bench.py [--threads 2] [--iterations 5] [--warmup 2]
         [--forward 1x256,1x512,2x256] [--train 2x256] [--formats default,channels_last] [--bf16] [--json out.json]
Prints one line per measurement and, with --json, writes all of them (milliseconds: median, min,
max, every iteration) with the torch version and the thread count.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

# The network and the loss: the PyTorch mirror of arunet's modules shared with the GPU benchmarks
# (benchmarks/gpu/aru_net_torch.py, checked there against the PyTorch fixture's logits).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
from aru_net_torch import ArUNet as ARUNet  # noqa: E402
from aru_net_torch import ce_dice_loss as loss_fn  # noqa: E402


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
    ap.add_argument("--bf16", action="store_true",
                    help="torch.autocast(cpu, bfloat16) around forward and loss: the peer of arunet's bf16 mixed "
                         "precision (--precision bf16)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = ARUNet()
    params = sum(p.numel() for p in net.parameters())
    if params != 39475748:
        sys.exit(f"parameter count {params} != 39,475,748: the architecture does not match arunet's")
    gmac = {256: 74.49, 512: 297.96}  # docs/ARU-NET.md, per image
    results = {"torch": torch.__version__, "threads": a.threads, "mkldnn": torch.backends.mkldnn.is_available(),
               "parameters": params, "precision": "bf16 autocast" if a.bf16 else "fp32", "runs": []}
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16)
    print(f"torch {torch.__version__}, {a.threads} threads, {params:,} parameters, "
          f"{'bf16 autocast' if a.bf16 else 'fp32'}", flush=True)
    for fmt in a.formats.split(","):
        mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        model = net.to(memory_format=mf)
        for n, hw in shapes(a.forward):
            x = torch.randn(n, 3, hw, hw).to(memory_format=mf)
            model.eval()
            with torch.inference_mode(), autocast:
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
                with autocast:
                    logits = model(x)
                loss = loss_fn(logits.float(), target)
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
