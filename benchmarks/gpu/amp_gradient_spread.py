#!/usr/bin/env python3
"""How far PyTorch's own mixed-precision gradients are from fp32 on the tiny ARU-Net fixture.

Calibrates the mixed-precision gradient tolerance of arunet's GPU parity check: it loads the fixture's
parameters into the PyTorch mirror (aru_net_torch.py), computes the fixture's training-mode gradients
in fp32 and under torch.autocast (fp16 with a 1024 loss scale, bf16), and prints, per precision, the
norm-wise relative error of every parameter's gradient against the fixture (worst and median), the
same measure the Java parity check prints.

    python3 benchmarks/gpu/amp_gradient_spread.py java-api/src/test/resources/fixtures/model_tiny.safetensors
"""
import contextlib
import statistics
import sys

import torch

import aru_net_torch as A


def grads(f, dtype, device):
    torch.manual_seed(0)
    m = A.ArUNet(width=8).to(device)
    m.load_state_dict({k[len("param."):]: v for k, v in f.items() if k.startswith("param.")}, strict=True)
    m.train()
    x = f["input"].to(device)
    y = f["target"].to(device)
    scale = 1024.0 if dtype == torch.float16 else 1.0
    ctx = contextlib.nullcontext() if dtype == torch.float32 else torch.autocast(device_type=device, dtype=dtype)
    with ctx:
        logits = m(x)
    loss = A.ce_dice_loss(logits, y)
    (loss * scale).backward()
    return {k: (p.grad.float() / scale).cpu() for k, p in m.named_parameters()}


def main():
    f = A.read_safetensors(sys.argv[1])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    largest = max(f[k].norm().item() for k in f if k.startswith("grad."))
    for name, dtype in (("fp32", torch.float32), ("fp16", torch.float16), ("bf16", torch.bfloat16)):
        if device == "cpu" and dtype == torch.float16:
            continue
        g = grads(f, dtype, device)
        errs = {}
        for k, v in g.items():
            ref = f["grad." + k]
            errs[k] = (v - ref).norm().item() / max(ref.norm().item(), 1e-4 * largest)
        worst = max(errs, key=errs.get)
        print(f"PyTorch {name} ({device}) gradients vs the fp32 fixture: worst norm-rel {errs[worst]:.3g} ({worst}),"
              f" median {statistics.median(errs.values()):.3g}, stem.a.conv.weight {errs['stem.a.conv.weight']:.3g}")


if __name__ == "__main__":
    main()
