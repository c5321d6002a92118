#!/usr/bin/env python3
"""Summarises a training-parity study written by parity.sh (or any folder of the same layout):

  OUT/arunet-s<seed>/test/report.json     arunet's best checkpoint, scored by arunet eval
  OUT/pytorch-s<seed>/test/report.json    the PyTorch peer's best weights, scored by the same arunet eval
  OUT/pytorch-s<seed>/result.json         the peer's own record (history, its test Dice at the input size)

Prints a Markdown table (one row per run, then mean +- sd per trainer) of the test lesion Dice, IoU,
paper-style mIoU and the best epoch, and the difference of the means. Usage: parity_summary.py OUT
"""
import glob
import json
import os
import re
import statistics
import sys


def runs(out, trainer):
    rows = []
    for d in sorted(glob.glob(os.path.join(out, f"{trainer}-s*"))):
        m = re.search(r"-s(\d+)$", d)
        report = os.path.join(d, "test", "report.json")
        if not m or not os.path.isfile(report):
            continue
        r = json.load(open(report))
        best = None
        if trainer == "arunet":
            hist = os.path.join(d, "history.csv")
            if os.path.isfile(hist):
                lines = [ln.split(",") for ln in open(hist).read().strip().splitlines()[1:]]
                best = min(lines, key=lambda f: float(f[3]))[0] if lines else None
        else:
            res = os.path.join(d, "result.json")
            if os.path.isfile(res):
                best = json.load(open(res)).get("best_epoch")
        rows.append({"seed": int(m.group(1)), "dice": r["lesion_dice_mean"], "iou": r["lesion_iou_mean"],
                     "miou": r["miou_paper"], "best_epoch": best})
    return rows


def stats(values):
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    table = {t: runs(out, t) for t in ("arunet", "pytorch")}
    print("| trainer | seed | test lesion Dice | lesion IoU | paper mIoU | best epoch (val loss) |")
    print("|---|---|---|---|---|---|")
    for t, rows in table.items():
        for r in rows:
            print(f"| {t} | {r['seed']} | {r['dice']:.4f} | {r['iou']:.4f} | {r['miou']:.4f} | {r['best_epoch']} |")
    print()
    print("| trainer | runs | lesion Dice mean ± sd | lesion IoU mean ± sd | paper mIoU mean ± sd |")
    print("|---|---|---|---|---|")
    means = {}
    for t, rows in table.items():
        d = stats([r["dice"] for r in rows])
        i = stats([r["iou"] for r in rows])
        m = stats([r["miou"] for r in rows])
        means[t] = d[0]
        print(f"| {t} | {len(rows)} | {d[0]:.4f} ± {d[1]:.4f} | {i[0]:.4f} ± {i[1]:.4f} | {m[0]:.4f} ± {m[1]:.4f} |")
    if all(table.values()):
        diff = means["arunet"] - means["pytorch"]
        verdict = "met" if diff >= -0.01 else "not met"
        print()
        print(f"arunet - PyTorch, mean test lesion Dice: {diff:+.4f} (criterion: >= -0.01: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
