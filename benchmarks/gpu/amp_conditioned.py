#!/usr/bin/env python3
"""PyTorch AMP's gradients against its own float32 on the well-conditioned case of arunet's parity phase.

The peer's side of GpuHarness's "conditioned" check (ParityRun.conditioned): ARU-Net width 16 at 64 x 64,
batch 8, training mode, PyTorch's initialisation (seed 1), smooth inputs with an elliptic "lesion" per
image (the same recipe as the Java case, drawn from numpy's generator, so not the same numbers), CE + Dice.
It computes every parameter's gradient in float32 (TF32 off), again in float32 (the run-to-run floor of
cuDNN's non-deterministic algorithms), and under torch.autocast in fp16 (loss scale 1024) and bf16, and
prints per precision the norm-wise relative error per parameter against the first float32 run,

    ||g - g_fp32|| / max(||g_fp32||, 1e-4 x the largest float32 gradient norm)

its median and worst, and how many parameters exceed 1e-2 (issue 15's bound). --json FILE writes all of it.

    python3 benchmarks/gpu/amp_conditioned.py [--json FILE] [--device cuda]
"""
import argparse
import contextlib
import json
import math
import os
import statistics
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aru_net_torch as A  # noqa: E402

BATCH, SIDE, WIDTH = 8, 64, 16
DTYPES = {"fp32": torch.float32, "fp32-again": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LOSS_SCALE = {"fp32": 1024.0, "fp32-again": 1024.0, "fp16": 1024.0, "bf16": 1024.0}


def case(seed=7):
    rng = np.random.default_rng(seed)
    x = np.zeros((BATCH, 3, SIDE, SIDE), np.float32)
    t = np.zeros((BATCH, SIDE, SIDE), np.int64)
    yy, xx = np.meshgrid(np.arange(SIDE), np.arange(SIDE), indexing="ij")
    for n in range(BATCH):
        cx, cy = SIDE * (0.3 + 0.4 * rng.random()), SIDE * (0.3 + 0.4 * rng.random())
        rx, ry = SIDE * (0.1 + 0.15 * rng.random()), SIDE * (0.1 + 0.15 * rng.random())
        fx, fy = 0.05 + 0.2 * rng.random(), 0.05 + 0.2 * rng.random()
        inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        t[n] = inside
        v = 0.5 * np.sin(fx * xx) * np.cos(fy * yy) + np.where(inside, -0.4, 0.2) + 0.1 * rng.standard_normal((SIDE, SIDE))
        x[n] = np.clip(v, -1, 1)[None]
    return torch.from_numpy(x), torch.from_numpy(t)


def grads(state, x, t, name, device):
    m = A.ArUNet(width=WIDTH).to(device)
    m.load_state_dict(state)
    m.train()
    dtype = DTYPES[name]
    ctx = torch.autocast(device_type=device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
    with ctx:
        logits = m(x)
    loss = A.ce_dice_loss(logits, t)
    (loss * LOSS_SCALE[name]).backward()
    return {k: (p.grad.detach().double() / LOSS_SCALE[name]).cpu() for k, p in m.named_parameters()}, logits.float().detach().cpu(), loss.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(1)
    state = A.ArUNet(width=WIDTH).state_dict()
    x, t = case()
    x, t = x.to(device), t.to(device)
    ref, ref_logits, ref_loss = grads(state, x, t, "fp32", device)
    largest = max(g.norm().item() for g in ref.values())
    doc = {"torch": torch.__version__, "device": str(device),
           "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
           "case": f"ARU-Net width {WIDTH}, {SIDE}x{SIDE}, batch {BATCH}, train mode, PyTorch init (seed 1)",
           "precisions": {}}
    for name in ("fp32-again", "fp16", "bf16"):
        if device.type == "cpu" and name == "fp16":
            continue
        g, logits, loss = grads(state, x, t, name, device)
        errs = {k: ((g[k] - ref[k]).norm() / max(ref[k].norm().item(), 1e-4 * largest)).item() for k in ref}
        vals = sorted(errs.values())
        worst = max(errs, key=errs.get)
        over = sum(1 for v in vals if v > 1e-2)
        lerr = ((logits - ref_logits).norm() / ref_logits.norm()).item()
        doc["precisions"][name] = {"median": statistics.median(vals), "worst": errs[worst], "worst_parameter": worst,
                                   "over_1e-2": over, "parameters": len(vals), "logits_norm_rel": lerr,
                                   "loss": loss, "loss_fp32": ref_loss, "errors": errs}
        print(f"{name:10s} logits {lerr:.2e}  loss {loss:.6f} (fp32 {ref_loss:.6f})  gradient error median "
              f"{statistics.median(vals):.3g}, worst {errs[worst]:.3g} ({worst}), {over} of {len(vals)} over 1e-2; "
              f"stem.a.conv.weight {errs['stem.a.conv.weight']:.3g}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
