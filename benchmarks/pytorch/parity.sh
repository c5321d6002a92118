#!/usr/bin/env bash
# Training parity (docs/TRAINING-PARITY.md): arunet train and the PyTorch peer (train_busi.py) on the
# same BUSI split with the same settings, SEEDS seeds each; both trainers' kept models are scored by
# the same `arunet eval`, and parity_summary.py prints the table.
#
# Usage: benchmarks/pytorch/parity.sh BUSI_DIR OUT_DIR [extra arunet train options]
# Environment: SEEDS (default "1 2 3"), THREADS (default 2), PYTHON (default /usr/bin/python3: Debian's
# python3-torch and python3-opencv), ARUNET (default ./arunet), ONLY (arunet or pytorch: run one
# trainer's runs, e.g. both at once with THREADS=1 each; the PyTorch runs need one arunet checkpoint of
# the same architecture as a metadata template, TEMPLATE, default the first arunet seed's).
# Runs whose results exist are skipped, so an interrupted study resumes where it stopped. Takes about
# 10 (arunet) + 20 (PyTorch) minutes per seed on 2 cores at the default settings.
set -euo pipefail
busi=${1:?usage: parity.sh BUSI_DIR OUT_DIR [arunet train options]}
out=${2:?usage: parity.sh BUSI_DIR OUT_DIR [arunet train options]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
seeds=${SEEDS:-1 2 3}
threads=${THREADS:-2}
py=${PYTHON:-/usr/bin/python3}
arunet=${ARUNET:-$root/arunet}
mkdir -p "$out"

# One split for every run: the duplicate-grouped 7:1:2 split with seed 42.
split="$out/split.json"
[[ -f "$split" ]] || "$arunet" split --data "$busi" --out "$split" --seed 42

# The settings of both trainers (arunet's standard recipe; the PyTorch script's defaults are the same).
size=128 width=16 batch=8 epochs=30 lr=1e-3
only=${ONLY:-}
for s in $seeds; do
    [[ -z "$only" || "$only" == arunet ]] || break
    run="$out/arunet-s$s"
    if [[ ! -f "$run/test/report.json" ]]; then
        "$arunet" train --data "$busi" --split "$split" --out "$run" --force --recipe standard \
            --width $width --image-size $size --batch-size $batch --epochs $epochs --lr $lr --min-lr 0 \
            --warmup-epochs 0 --init pytorch --crop-scale 0.8,1.0 --crop-probability 1 \
            --threads "$threads" --seed "$s" --overlays 0 "$@" > "$run.log" 2>&1
    fi
done
template=${TEMPLATE:-"$out/arunet-s${seeds%% *}/checkpoints/best.safetensors"}
for s in $seeds; do
    [[ -z "$only" || "$only" == pytorch ]] || break
    run="$out/pytorch-s$s"
    if [[ ! -f "$run/result.json" ]]; then
        "$py" "$root/benchmarks/pytorch/train_busi.py" --data "$busi" --split "$split" --template "$template" \
            --out "$run" --size $size --width $width --batch $batch --epochs $epochs --lr $lr --min-lr 0 \
            --warmup 0 --init pytorch --crop-scale 0.8,1.0 --crop-probability 1 --seed "$s" \
            --threads "$threads" > "$run.log" 2>&1
    fi
    if [[ ! -f "$run/test/report.json" ]]; then
        "$arunet" eval --model "$run/best.safetensors" --data "$busi" --split "$split" --out "$run/test" \
            --overlays 0 --threads "$threads" --force > "$run/eval.log" 2>&1
    fi
done
"$py" "$root/benchmarks/pytorch/parity_summary.py" "$out"
