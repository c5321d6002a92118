#!/usr/bin/env python3
"""Why the mixed-precision gradient check compares distributions, not parameter by parameter (CPU only).

Inputs: the tiny fixture; arunet's per-parameter gradient errors on the H200
(2026-11-27-h200-run3-arunet-gradient-errors.json, beside this file). Computed here, on the CPU:
  torch-bf16  PyTorch's own bf16 autocast gradients of the fixture (CPU autocast has no fp16 in torch 1.13)
  emu-fp16/bf16  arunet's rounding scheme emulated in PyTorch: every convolution rounds its input, weight
              and output to half precision, in the forward pass and in both backward passes (input and
              weight gradient), with float32 arithmetic in between; everything else float32 (what
              CudaBackend(FP16/BF16) does; the fp16 loss is scaled by 1024 as in the parity cases)
and, for every pair of error maps, the medians, the worsts, how the per-parameter errors compare over the
149 parameters whose fixture gradient is not zero (the other 20, convolution biases feeding a batch norm,
hold rounding noise only), and how the per-parameter rules would judge the first against the second.

    cd benchmarks/gpu && python3 results/2026-11-27-amp-criterion-calibration.py
"""
import contextlib
import json
import math
import os
import statistics
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
sys.dont_write_bytecode = True  # no __pycache__ in the checkout (it travels to the GPU machine)
import aru_net_torch as A  # noqa: E402

FIXTURE = os.path.join(here, "..", "..", "..", "java-api", "src", "test", "resources", "fixtures",
                       "model_tiny.safetensors")


def rounded(t, dt):
    return t.to(dt).float()


class HalfConv(torch.autograd.Function):
    """A convolution as CudaBackend computes it in FP16/BF16: half operands and result, float32 accumulation."""

    @staticmethod
    def forward(ctx, x, w, stride, padding, dilation, groups, dt):
        xh, wh = rounded(x, dt), rounded(w, dt)
        ctx.save_for_backward(xh, wh)
        ctx.cfg = (stride, padding, dilation, groups, dt)
        return rounded(F.conv2d(xh, wh, None, stride, padding, dilation, groups), dt)

    @staticmethod
    def backward(ctx, dy):
        xh, wh = ctx.saved_tensors
        stride, padding, dilation, groups, dt = ctx.cfg
        dyh = rounded(dy, dt)
        dx = torch.nn.grad.conv2d_input(xh.shape, wh, dyh, stride, padding, dilation, groups)
        dw = torch.nn.grad.conv2d_weight(xh, wh.shape, dyh, stride, padding, dilation, groups)
        return rounded(dx, dt), rounded(dw, dt), None, None, None, None, None


def emulated_forward(dt):
    def forward(self, x):
        y = HalfConv.apply(x, self.weight, self.stride, self.padding, self.dilation, self.groups, dt)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)  # bias added in float32
    return forward


def gradient_errors(f, autocast_dtype=None, scale=1.0):
    torch.manual_seed(0)
    m = A.ArUNet(width=8)
    m.load_state_dict({k[6:]: v for k, v in f.items() if k.startswith("param.")}, strict=True)
    m.train()
    ctx = torch.autocast("cpu", dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
    with ctx:
        logits = m(f["input"])
    (A.ce_dice_loss(logits, f["target"]) * scale).backward()
    largest = max(f[k].norm().item() for k in f if k.startswith("grad."))
    return {k: (p.grad / scale - f["grad." + k]).norm().item() / max(f["grad." + k].norm().item(), 1e-4 * largest)
            for k, p in m.named_parameters()}


def compare(label, a, t, nonzero):
    """a judged against t (t plays PyTorch's part)."""
    ma, mt = statistics.median(a.values()), statistics.median(t.values())
    wa, wt = max(a, key=a.get), max(t, key=t.get)
    corr = statistics.correlation([math.log(a[k]) for k in nonzero], [math.log(t[k]) for k in nonzero])
    ratios = sorted((a[k] / t[k], k) for k in nonzero)
    q = [x for x, _ in ratios]
    brief = [k for k in t if a[k] > max(2 * t[k], mt)]
    need = max(a[k] / mt for k in t if a[k] > 2 * t[k]) if any(a[k] > 2 * t[k] for k in t) else 0
    print(f"{label}\n  median {ma:.3f} vs {mt:.3f} (ratio {ma / mt:.2f}); worst {a[wa]:.3f} ({wa}) vs {t[wt]:.3f} ({wt})"
          f" (ratio {a[wa] / t[wt]:.2f})\n"
          f"  over the {len(nonzero)} non-zero gradients: log-correlation {corr:.2f}; error ratio median"
          f" {statistics.median(q):.2f}, 10-90 % {q[len(q) // 10]:.2f}-{q[9 * len(q) // 10]:.2f}, {sum(x > 2 for x in q)}"
          f" over 2x{''.join(f'{sep}{k} {a[k]:.3g} vs {t[k]:.3g}' for sep, (x, k) in zip((': ', ', ', ', ', ', '), reversed(ratios[-4:])) if x > 2)}\n"
          f"  each <= max(2 x theirs, 1 x their median): {len(brief)} of {len(t)} over"
          f"{' (' + ', '.join(f'{k} {a[k]:.3g} vs {t[k]:.3g}' for k in brief[:4]) + ')' if brief else ''}\n"
          f"  each <= max(2 x theirs, m x their median) needs m >= {need:.2f}")


def main():
    f = A.read_safetensors(FIXTURE)
    with open(os.path.join(here, "2026-11-27-h200-run3-arunet-gradient-errors.json")) as fh:
        h200 = json.load(fh)["errors"]
    largest = max(f[k].norm().item() for k in f if k.startswith("grad."))
    nonzero = [k[5:] for k in f if k.startswith("grad.") and f[k].norm().item() >= 1e-4 * largest]
    torch_bf16 = gradient_errors(f, torch.bfloat16)
    original = nn.Conv2d.forward
    try:
        nn.Conv2d.forward = emulated_forward(torch.float16)
        emu_fp16 = gradient_errors(f, scale=1024.0)
        nn.Conv2d.forward = emulated_forward(torch.bfloat16)
        emu_bf16 = gradient_errors(f)
    finally:
        nn.Conv2d.forward = original
    print(f"torch {torch.__version__} on the CPU; arunet: H200 run 3 (fixture and model cases)\n")
    compare("arunet H200 bf16 fixture vs emulated arunet bf16 (same scheme: is the emulation faithful?)",
            h200["bf16 fixture"], emu_bf16, nonzero)
    compare("arunet H200 fp16 fixture vs emulated arunet fp16 (same scheme)", h200["fp16 fixture"], emu_fp16, nonzero)
    compare("emulated arunet bf16 vs PyTorch bf16 autocast (two correct implementations)", emu_bf16, torch_bf16, nonzero)
    compare("arunet H200 bf16 fixture vs PyTorch CPU bf16 autocast", h200["bf16 fixture"], torch_bf16, nonzero)
    compare("arunet H200 bf16 model case vs PyTorch CPU bf16 autocast (fixture)", h200["bf16 model"], torch_bf16, nonzero)
    print("\nworst / its own median, and worst / PyTorch's H200 median in the same precision (0.179 fp16,"
          " 0.496 bf16):\nwhere PyTorch's per-parameter errors are unknown, the median multiple must exceed the latter")
    for name, e, ref in [("arunet H200 fp16 fixture", h200["fp16 fixture"], 0.179),
                         ("arunet H200 fp16 model", h200["fp16 model"], 0.179),
                         ("arunet H200 bf16 fixture", h200["bf16 fixture"], 0.496),
                         ("arunet H200 bf16 model", h200["bf16 model"], 0.496),
                         ("emulated fp16", emu_fp16, 0.179), ("emulated bf16", emu_bf16, 0.496),
                         ("PyTorch CPU bf16", torch_bf16, 0.496)]:
        m = statistics.median(e.values())
        w = max(e, key=e.get)
        print(f"  {name:26s} median {m:.3f}  worst {e[w]:.3f} ({w})  worst/median {e[w] / m:.2f}"
              f"  worst/PyTorch-H200-median {e[w] / ref:.2f}")
    print("  (PyTorch H200, 2026-11-27-h200-amp-gradient-spread.txt: fp16 0.366 / 0.179 = 2.04; "
          "bf16 11.7 / 0.496 = 23.6, a bias feeding a batch norm)")


if __name__ == "__main__":
    main()
