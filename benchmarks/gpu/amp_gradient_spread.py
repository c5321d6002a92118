#!/usr/bin/env python3
"""How far PyTorch's own mixed-precision gradients are from fp32 on the tiny ARU-Net fixture.

The reference of arunet's mixed-precision gradient check (GpuHarness parity, AmpGradientCriterion): it
loads the fixture's parameters into the PyTorch mirror (aru_net_torch.py), computes the fixture's
training-mode gradients in fp32 and under torch.autocast (fp16 with a 1024 loss scale, bf16), and
prints, per precision, the norm-wise relative error of every parameter's gradient against the fixture
(worst and median), the same measure the Java parity check prints:

    ||g - g_fixture|| / max(||g_fixture||, 1e-4 x the largest fixture gradient norm)

With --json FILE it also writes every parameter's error, the median and the worst per precision, and
the precisions it could not measure with the reason (a precision autocast does not support on this
device: float16 on the CPU in older PyTorch), rewritten after each precision.

    python3 benchmarks/gpu/amp_gradient_spread.py java-api/core/src/test/resources/fixtures/model_tiny.safetensors \
        [--json FILE] [--precisions fp32,fp16,bf16] [--device cuda|cpu]
"""
import argparse
import contextlib
import json
import os
import statistics
import sys

import torch

import aru_net_torch as A

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
LOSS_SCALE = {"fp32": 1.0, "fp16": 1024.0, "bf16": 1.0}  # fp16: as arunet's parity cases (OpCases.GRAD_SCALE)


def grads(f, name, device):
    """The fixture's gradients in one precision, or a string saying why autocast did not run in it."""
    dtype = DTYPES[name]
    torch.manual_seed(0)
    m = A.ArUNet(width=8).to(device)
    m.load_state_dict({k[len("param."):]: v for k, v in f.items() if k.startswith("param.")}, strict=True)
    m.train()
    x = f["input"].to(device)
    y = f["target"].to(device)
    scale = LOSS_SCALE[name]
    ctx = contextlib.nullcontext() if dtype == torch.float32 else torch.autocast(device_type=device, dtype=dtype)
    with ctx:
        logits = m(x)
    if logits.dtype != dtype:
        # autocast disabled itself (it warns and runs float32): not a measurement of this precision
        return f"torch.autocast({device}, {name}) did not run in {name} here (logits came out {logits.dtype})"
    loss = A.ce_dice_loss(logits, y)
    (loss * scale).backward()
    return {k: (p.grad.float() / scale).cpu() for k, p in m.named_parameters()}


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as out:
        json.dump(doc, out, indent=1)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fixture")
    ap.add_argument("--json", help="write every parameter's error, the median and the worst per precision here")
    ap.add_argument("--precisions", default="fp32,fp16,bf16")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    f = A.read_safetensors(args.fixture)
    device = args.device
    largest = max(f[k].norm().item() for k in f if k.startswith("grad."))
    floor = 1e-4 * largest
    doc = {
        "script": "benchmarks/gpu/amp_gradient_spread.py",
        "fixture": os.path.basename(args.fixture),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else "none (CPU)",
        "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.backends.cuda.matmul.allow_tf32,
                 "NVIDIA_TF32_OVERRIDE": os.environ.get("NVIDIA_TF32_OVERRIDE")},
        "measure": "||g - g_fixture|| / max(||g_fixture||, grad_floor) per parameter; grad_floor = 1e-4 x the "
                   "largest fixture gradient norm",
        "grad_floor": floor,
        "loss_scale": LOSS_SCALE,
        "precisions": {},
        "skipped": {},
    }
    measured_half = 0
    for name in [p.strip() for p in args.precisions.split(",") if p.strip()]:
        try:
            g = grads(f, name, device)
        except Exception as e:  # noqa: BLE001 - one precision failing must not lose the others
            g = f"{type(e).__name__}: {e}"
        if isinstance(g, str):
            print(f"PyTorch {name} ({device}): not measured: {g}")
            doc["skipped"][name] = g
        else:
            errs = {}
            for k, v in g.items():
                ref = f["grad." + k]
                errs[k] = (v - ref).norm().item() / max(ref.norm().item(), floor)
            worst = max(errs, key=errs.get)
            median = statistics.median(errs.values())
            print(f"PyTorch {name} ({device}) gradients vs the fp32 fixture: worst norm-rel {errs[worst]:.3g} ({worst}),"
                  f" median {median:.3g}, stem.a.conv.weight {errs['stem.a.conv.weight']:.3g}")
            doc["precisions"][name] = {"median": median, "worst": errs[worst], "worst_parameter": worst,
                                       "parameters": len(errs), "errors": errs}
            measured_half += name != "fp32"
        if args.json:
            write_json(args.json, doc)
    if args.json:
        print(f"written: {args.json}")
    return 0 if measured_half else 1


if __name__ == "__main__":
    sys.exit(main())
