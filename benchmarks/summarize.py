#!/usr/bin/env python3
"""Summarises benchmarks/compare.sh output (runs.jsonl) as the tables of benchmarks/RESULTS.md.

  python3 benchmarks/summarize.py benchmarks/out/<run>/runs.jsonl

For every (peer, measurement) it pools the per-iteration medians of all rounds and prints the
median of the rounds' medians, the fastest and slowest round, the best single iteration, and the
load average (1 min) seen at the start of each round; effective GFLOP/s are computed from the
median with the model's nominal multiply-accumulates (74.49 G per 256 x 256 image, 297.96 G per
512 x 512; a training step counts 3 forward passes).
"""
import json
import statistics
import sys
from collections import defaultdict

GMAC = {256: 74.49, 512: 297.96}


def main(path):
    rows = defaultdict(list)   # (peer, kind, batch, size) -> [(median, min, load)]
    rss = {}
    ratios = defaultdict(list)   # (batch, size) -> ratio ours/onnxruntime of each round
    text = open(path).read()
    dec = json.JSONDecoder()
    pos = 0
    records = []
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        r, pos = dec.raw_decode(text, pos)
        records.append(r)
    for r in records:
        peer, res, load = r["peer"], r["result"], r["load1"]
        if peer == "pytorch":
            bf16 = res.get("precision", "fp32") != "fp32"  # aru_net_bench.py --bf16: CPU bf16 autocast
            for run in res["runs"]:
                key = ("pytorch " + ("bf16 " if bf16 else "") + run["format"], run["what"], run["batch"], run["size"])
                rows[key].append((run["median_ms"], run["min_ms"], load))
            continue
        b, s = res["input"][0], res["input"][2]
        if peer == "arunet-vs-ort":
            for who, key in (("arunet (with ORT)", "ours"), ("onnxruntime", "onnxruntime")):
                rows[(who, "forward", b, s)].append((res[key]["median_ms"], res[key]["min_ms"], load))
            ratios[(b, s)].append(res["ratio_ours_over_onnxruntime"])
            continue
        if peer.endswith("-rss"):
            kind = "train" if "train_step" in res else "forward"
            rss[(peer[:-4], kind, b, s)] = res["peak_rss_mb"]
            continue
        f = res["forward"]
        if "train_step" in res:
            t = res["train_step"]
            rows[(peer, "train", b, s)].append((t["median_ms"], t["min_ms"], load))
        else:
            rows[(peer, "forward", b, s)].append((f["median_ms"], f["min_ms"], load))
    print("| peer | pass | input | median of rounds (ms) | rounds' range (ms) | best iteration (ms) | GFLOP/s (median) | load1 at start |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(rows, key=lambda k: (k[1], k[2], k[3], k[0])):
        peer, kind, b, s = key
        v = rows[key]
        meds = [m for m, _, _ in v]
        med = statistics.median(meds)
        gf = (6 if kind == "train" else 2) * GMAC.get(s, float("nan")) * b / (med / 1e3)
        loads = ", ".join(f"{l:.1f}" for _, _, l in v)
        print(f"| {peer} | {kind} | {b}x3x{s}x{s} | {med:.0f} | {min(meds):.0f}-{max(meds):.0f} | "
              f"{min(m for _, m, _ in v):.0f} | {gf:.0f} | {loads} |")
    if ratios:
        print()
        print("| input | ratio ours/onnxruntime, median of rounds | each round |")
        print("|---|---|---|")
        for (b, s), v in sorted(ratios.items()):
            print(f"| {b}x3x{s}x{s} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)} |")
    if rss:
        print()
        print("| peer | process | peak RSS (MiB) |")
        print("|---|---|---|")
        for (peer, kind, b, s), mb in sorted(rss.items()):
            print(f"| {peer} | {kind} {b}x3x{s}x{s} | {mb:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1])
