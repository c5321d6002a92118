#!/usr/bin/env python3
"""Writes the images and masks of a split file resized to S x S, exactly as train_busi.py reads them.

train_busi.py resizes every image to S x S once, when it loads it (INTER_AREA when shrinking, masks
nearest). Resizing once here with the same function and storing lossless PNG makes a copy of the data
set that train_busi.py reads to identical arrays (a second resize to the same size is a copy), and it
is small enough to travel to the GPU machine (BUSI at 128 x 128: about 10 MB instead of 111 MB).

Usage: preresize.py --data BUSI --split split.json --size 128 --out DIR
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_busi import read_pair  # noqa: E402

PNG = [cv2.IMWRITE_PNG_COMPRESSION, 9]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    split = json.load(open(args.split))
    n = 0
    for part in ("train", "val", "test"):
        for rel in split[part]:
            img, mask = read_pair(args.data, rel, args.size)
            dst = os.path.join(args.out, rel)
            mdst = os.path.join(args.out, rel.replace("images/", "masks/", 1))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.makedirs(os.path.dirname(mdst), exist_ok=True)
            if np.array_equal(img[:, :, 0], img[:, :, 1]) and np.array_equal(img[:, :, 0], img[:, :, 2]):
                ok = cv2.imwrite(dst, img[:, :, 0], PNG)
            else:
                ok = cv2.imwrite(dst, cv2.cvtColor(img, cv2.COLOR_RGB2BGR), PNG)
            ok = ok and cv2.imwrite(mdst, mask * 255, PNG)
            if not ok:
                raise SystemExit(f"cannot write {dst}")
            again, again_mask = read_pair(args.out, rel, args.size)
            if not (np.array_equal(again, img) and np.array_equal(again_mask, mask)):
                raise SystemExit(f"{rel}: the resized copy does not read back identically")
            n += 1
    print(f"wrote {n} images and masks at {args.size}x{args.size} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
