#!/usr/bin/env python3
"""Trains ARU-Net in PyTorch with arunet's recipe: the training-quality peer of `arunet train`.

docs/TRAINING-PARITY.md compares the test lesion Dice of this script and of `arunet train` on the
same split with the same settings. To make the comparison about training only, everything around
the optimisation is done the way arunet does it, written independently here:

  data        the images and masks of a split file written by arunet (split.json), read with OpenCV,
              resized once to S x S (INTER_AREA when shrinking, bilinear when enlarging; masks
              nearest), normalised to [-1, 1] ((v / 255 - 0.5) / 0.5), grey replicated to 3 channels
              (colour images kept, RGB order)
  augment     per image and epoch: horizontal flip (p 0.5), rotation uniform in [-10, 10] degrees
              about the centre, a square crop of side uniform in [min, max] x S (taken with
              probability p) at a uniform integer offset, resized back: one affine map, applied with
              cv2.warpAffine (bilinear image, nearest mask, 0 outside), as org.arunet.data.augment
  model       benchmarks/gpu/aru_net_torch.py (checked against the PyTorch fixture arunet's tests use)
  init        pytorch (PyTorch's defaults) or authors (conv N(0, 0.02), BN gamma N(1, 0.02), beta 0)
  loss        CE (mean over pixels) + soft Dice pooled over the batch (aru_net_torch.ce_dice_loss)
  optimiser   Adam (0.9, 0.999, eps 1e-8, no weight decay); learning rate set once per epoch by
              arunet's schedule (TrainerConfig.learningRateAt: quadratic warm-up, cosine, the last
              5 % of epochs at the minimum)
  batches     reshuffled every epoch, the last incomplete batch dropped (as arunet's Trainer)
  selection   after every epoch: validation loss (mean over images) and lesion Dice (argmax, per
              image, at S x S); the weights with the lowest validation loss are kept; training stops
              after --patience epochs without a lower validation loss (15; 0 = never), as arunet's
At the end it writes the kept weights as an arunet checkpoint (best.safetensors, metadata copied from
--template, any checkpoint arunet wrote for the same architecture), so that `arunet eval` scores both
trainers' models with one and the same evaluation; it also prints its own test Dice at S x S.

Usage (Debian's python3-torch and python3-opencv, e.g. /usr/bin/python3):
  train_busi.py --data BUSI --split split.json --template arunet-best.safetensors --out DIR
                [--size 128] [--width 16] [--batch 8] [--epochs 30] [--lr 1e-3] [--min-lr 0]
                [--warmup 0] [--init pytorch] [--crop-scale 0.8,1.0] [--crop-probability 1]
                [--patience 15] [--seed 1] [--threads 2] [--device cpu|cuda] [--save-dtype f32|f16]
  --device cuda trains on the GPU in float32 with TF32 off (the GPU machine: data pre-resized to S x S by
  preresize.py, which changes nothing, as this script resizes to S x S first anyway); --save-dtype f16
  halves the checkpoint (arunet widens F16 weights on load; the batch-norm statistics stay F32)
  train_busi.py --check-checkpoint CKPT --data BUSI --split split.json
                loads an arunet checkpoint into the PyTorch model and prints its validation loss and
                Dice (proves the weight layout both ways)
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
from aru_net_torch import ArUNet  # noqa: E402
from aru_net_torch import ce_dice_loss  # noqa: E402
from aru_net_torch import read_safetensors  # noqa: E402


# ------------------------------------------------------------------ data

def read_pair(root, rel, size):
    """An image (3 channels, RGB) and its binary mask, resized to size x size, as uint8 arrays."""
    path = os.path.join(root, rel)
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SystemExit(f"{path}: cannot be read")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    else:
        img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_BGR2RGB)
    mask_path = os.path.join(root, rel.replace("images/", "masks/", 1))
    mask = cv2.imread(mask_path, cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape[:2] != img.shape[:2]:
        raise SystemExit(f"{mask_path}: missing or not the image's size")
    shrink = size < img.shape[1] or size < img.shape[0]
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    mask = cv2.resize((mask > 0).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    return img, mask


def load_part(root, ids, size):
    imgs = np.zeros((len(ids), size, size, 3), np.uint8)
    masks = np.zeros((len(ids), size, size), np.uint8)
    for i, rel in enumerate(ids):
        imgs[i], masks[i] = read_pair(root, rel, size)
    return imgs, masks


def to_tensors(imgs, masks):
    x = torch.from_numpy(imgs).float().div_(255.0).sub_(0.5).div_(0.5).permute(0, 3, 1, 2).contiguous()
    return x, torch.from_numpy(masks.astype(np.int64))


# ------------------------------------------------------------------ augmentation

def inverse_matrix(size, flip, angle, side, x0, y0):
    """Output pixel -> source position (2 x 3), pixel centres at integers: AugmentParams.inverseMatrix."""
    def tr(dx, dy):
        return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)

    s = float(size)
    m = tr(0.5, 0.5)
    m = np.diag([side / s, side / s, 1.0]) @ m
    m = tr(x0, y0) @ m
    t = math.radians(angle)
    c, sn = math.cos(t), math.sin(t)
    m = tr(-s / 2, -s / 2) @ m
    m = np.array([[c, -sn, 0], [sn, c, 0], [0, 0, 1]], np.float64) @ m
    m = tr(s / 2, s / 2) @ m
    if flip:
        m = np.array([[-1, 0, s], [0, 1, 0], [0, 0, 1]], np.float64) @ m
    m = tr(-0.5, -0.5) @ m
    return m[:2]


def augment(img, mask, rng, crop_scale, crop_probability):
    size = img.shape[0]
    flip = rng.random() < 0.5
    angle = (2 * rng.random() - 1) * 10.0
    side, x0, y0 = size, 0, 0
    if rng.random() < crop_probability:
        scale = crop_scale[0] + rng.random() * (crop_scale[1] - crop_scale[0])
        side = max(1, min(size, int(round(scale * size))))
        room = size - side
        x0 = min(room, int(math.floor(rng.random() * (room + 1))))
        y0 = min(room, int(math.floor(rng.random() * (room + 1))))
    if not flip and angle == 0 and side == size:
        return img, mask
    m = inverse_matrix(size, flip, angle, side, x0, y0)
    flags = cv2.WARP_INVERSE_MAP
    out_img = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR | flags,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out_mask = cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_NEAREST | flags,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out_img, out_mask


# ------------------------------------------------------------------ model, schedule, metrics

def authors_init(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            with torch.no_grad():
                m.weight.normal_(0.0, 0.02, generator=gen)
        elif isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.normal_(1.0, 0.02, generator=gen)
                m.bias.zero_()


def learning_rate_at(epoch, epochs, lr, min_lr, warmup, start_factor=0.1):
    """TrainerConfig.learningRateAt with final_epochs_at_min = round(0.05 * epochs)."""
    flat = max(0, min(int(math.floor(0.05 * epochs + 0.5)), epochs - warmup - 1))
    if epoch < warmup:
        t = epoch / warmup
        return lr * (start_factor + (1 - start_factor) * t * t)
    cosine = epochs - warmup - flat
    e = epoch - warmup
    if e >= cosine or cosine <= 1:
        return lr if (cosine <= 1 and e == 0) else min_lr
    t = e / (cosine - 1)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * t))


def lesion_dice(pred, truth):
    """Per-image lesion Dice (1 when both are empty)."""
    p = pred == 1
    t = truth == 1
    inter = (p & t).sum()
    total = p.sum() + t.sum()
    return 1.0 if total == 0 else 2.0 * inter / total


def evaluate(model, x, y, batch, device="cpu"):
    """Mean loss over images and per-image lesion Dice at S x S, eval mode."""
    model.eval()
    loss_sum = 0.0
    dice = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch].to(device), y[i:i + batch].to(device)
            logits = model(xb)
            loss_sum += ce_dice_loss(logits, yb).item() * len(xb)
            pred = logits.argmax(dim=1).cpu().numpy()
            truth = yb.cpu().numpy()
            dice.extend(lesion_dice(pred[k], truth[k]) for k in range(len(xb)))
    return loss_sum / len(x), float(np.mean(dice)), dice


# ------------------------------------------------------------------ arunet checkpoints

def write_checkpoint(path, state, template, half=False):
    """state as an arunet checkpoint: model.<name> tensors, metadata of the template (architecture,
    preprocessing, classes) plus this script's provenance. Atomic (temp file, rename)."""
    with open(template, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))["__metadata__"]
    keep = {k: meta[k] for k in ("format", "format_version", "architecture", "preprocessing", "classes") if k in meta}
    keep["provenance"] = json.dumps({"command": "benchmarks/pytorch/train_busi.py", "torch": torch.__version__})
    header = {"__metadata__": keep}
    blobs = []
    off = 0
    for name, t in state.items():
        t = t.detach().contiguous().cpu()
        if half and t.dtype == torch.float32 and not name.endswith(("running_mean", "running_var")):
            t = t.to(torch.float16)
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header["model." + name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_arunet_checkpoint(model, path):
    tensors = read_safetensors(path)
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state, strict=True)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--out")
    ap.add_argument("--template")
    ap.add_argument("--check-checkpoint")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=0.0)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--init", choices=["pytorch", "authors"], default="pytorch")
    ap.add_argument("--crop-scale", default="0.8,1.0")
    ap.add_argument("--crop-probability", type=float, default=1.0)
    ap.add_argument("--patience", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--save-dtype", choices=["f32", "f16"], default="f32")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    split = json.load(open(args.split))
    t0 = time.time()
    val_x, val_y = to_tensors(*load_part(args.data, split["val"], args.size))

    if args.check_checkpoint:
        model = ArUNet(width=args.width)
        load_arunet_checkpoint(model, args.check_checkpoint)
        model.to(device)
        loss, dice, _ = evaluate(model, val_x, val_y, args.batch, device)
        print(json.dumps({"checkpoint": args.check_checkpoint, "val_loss": loss, "val_dice": dice}))
        return 0

    if not (args.out and args.template):
        ap.error("--out and --template are needed to train")
    os.makedirs(args.out, exist_ok=True)
    crop = [float(v) for v in args.crop_scale.split(",")]
    train_imgs, train_masks = load_part(args.data, split["train"], args.size)
    test_x, test_y = to_tensors(*load_part(args.data, split["test"], args.size))
    print(f"data: train {len(train_imgs)}, val {len(val_x)}, test {len(test_x)} at {args.size}^2, loaded in "
          f"{time.time() - t0:.1f} s", flush=True)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = ArUNet(width=args.width)
    if args.init == "authors":
        authors_init(model, gen)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    rng = np.random.default_rng(args.seed)
    steps = len(train_imgs) // args.batch if len(train_imgs) >= args.batch else 1
    best = (float("inf"), -1, None)
    history = []
    since = 0
    for epoch in range(args.epochs):
        if args.patience > 0 and since >= args.patience:
            print(f"early stopping: validation loss has not improved for {since} epochs", flush=True)
            break
        e0 = time.time()
        lr = learning_rate_at(epoch, args.epochs, args.lr, args.min_lr, args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        model.train()
        order = rng.permutation(len(train_imgs))
        loss_sum = 0.0
        for s in range(steps):
            idx = order[s * args.batch:(s + 1) * args.batch]
            pairs = [augment(train_imgs[i], train_masks[i], rng, crop, args.crop_probability) for i in idx]
            xb, yb = to_tensors(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]))
            xb, yb = xb.to(device), yb.to(device)
            loss = ce_dice_loss(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
        val_loss, val_dice, _ = evaluate(model, val_x, val_y, args.batch, device)
        improved = val_loss < best[0]
        if improved:
            best = (val_loss, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
            since = 0
        else:
            since += 1
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / (steps * args.batch), "val_loss": val_loss,
               "val_dice": val_dice, "seconds": time.time() - e0, "best": improved}
        history.append(row)
        print(f"epoch {epoch + 1:3d}/{args.epochs}  lr {lr:.2e}  train loss {row['train_loss']:.4f}  val loss "
              f"{val_loss:.4f}  val Dice {val_dice:.4f}  {row['seconds']:.1f} s{'  * best' if improved else ''}",
              flush=True)
    model.load_state_dict(best[2])
    test_loss, test_dice, per_image = evaluate(model, test_x, test_y, args.batch, device)
    write_checkpoint(os.path.join(args.out, "best.safetensors"), best[2], args.template, args.save_dtype == "f16")
    result = {"settings": vars(args), "torch": torch.__version__,
              "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "best_epoch": best[1] + 1,
              "best_val_loss": best[0], "test_loss_at_size": test_loss, "test_dice_at_size": test_dice,
              "test_dice_sd_at_size": float(np.std(per_image, ddof=1)), "seconds": time.time() - t0,
              "history": history}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"best epoch {best[1] + 1}: test lesion Dice at {args.size}^2 {test_dice:.4f}; wrote "
          f"{os.path.join(args.out, 'best.safetensors')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
