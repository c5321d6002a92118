#!/usr/bin/env bash
# benchmarks/gpu/run-all.sh — run THERE (the GPU machine), from the repository root: everything one
# device call of a session does, in about 9 minutes.
#
#   1. the PyTorch side of the training-parity study (docs/TRAINING-PARITY.md): train_busi.py, seeds 1-3,
#      on the GPU, in the background, on BUSI pre-resized to 128x128 by preresize.py (identical arrays to
#      what train_busi.py makes from the originals) in $PARITY_DATA (default .gpu-data: busi128/,
#      split.json, template.safetensors, or all three in gpu-data.tar; carried, git-ignored); the kept weights come back as F16
#      checkpoints that `arunet eval` scores here, as it scores arunet's own runs
#   2. run-on-gpu.sh: facts, parity (its correctness phase runs beside the training), then — once the
#      training has finished (WAIT_FOR) — arunet's and PyTorch's throughput and the op profile
#   3. packs what comes back into at most six files under $OUT: run.log, summary.md, results.json,
#      gpu-logs.tgz (the phase logs), parity-train.tgz (checkpoints, result.json and log per seed)
#
# Environment: SKIP_PARITY_TRAIN=1 leaves step 1 out; SEEDS (default "1 2 3"); everything run-on-gpu.sh
# reads (PHASES, CONFIGS, budgets, QUICK).
set -uo pipefail
root=$(pwd)
out=${OUT:-$root/target/gpu-out}
data=${PARITY_DATA:-$root/.gpu-data}
work="${TMPDIR:-/tmp}/arunet-run-all"
rm -rf "$work"
mkdir -p "$out" "$work/train"

# What travels is limited (64 MiB): the data may come as one tar (no per-file overhead), the bundle's
# expected parity results gzipped (prepare.sh's output, gzip -9 here before the call).
if [[ -f "$data/gpu-data.tar" ]]; then
    mkdir -p "$work/data" && tar -xf "$data/gpu-data.tar" -C "$work/data" && data="$work/data"
fi
bundle=${BUNDLE:-$root/target/gpu-bundle}
if [[ -f "$bundle/parity-expected.safetensors.gz" && ! -f "$bundle/parity-expected.safetensors" ]]; then
    gunzip -k "$bundle/parity-expected.safetensors.gz"
fi

py=""
for c in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1 && "$c" -c "import torch, cv2" >/dev/null 2>&1; then
        py=$(command -v "$c")
        break
    fi
done

marker="$work/training.running"
if [[ "${SKIP_PARITY_TRAIN:-0}" != 1 && -n "$py" && -f "$data/split.json" ]]; then
    touch "$marker"
    (
        for s in ${SEEDS:-1 2 3}; do
            PYTHONUNBUFFERED=1 timeout 300 "$py" "$root/benchmarks/pytorch/train_busi.py" --data "$data/busi128" \
                --split "$data/split.json" --template "$data/template.safetensors" --out "$work/train/pytorch-s$s" \
                --size 128 --width 16 --batch 8 --epochs 30 --lr 1e-3 --min-lr 0 --warmup 0 --init pytorch \
                --crop-scale 0.8,1.0 --crop-probability 1 --seed "$s" --threads 4 --device cuda --save-dtype f16 \
                > "$work/train/pytorch-s$s.log" 2>&1 &
        done
        wait
        rm -f "$marker"
    ) &
    echo "run-all: training-parity runs (seeds ${SEEDS:-1 2 3}) started beside the parity phase"
else
    echo "run-all: no training-parity runs (SKIP_PARITY_TRAIN, no python3 with torch and cv2, or no $data/split.json)"
fi

OUT="$out" WAIT_FOR="$marker" WAIT_MAX=${WAIT_MAX:-150} bash "$root/benchmarks/gpu/run-on-gpu.sh"
wait

( cd "$work" && tar -czf "$out/parity-train.tgz" train ) && echo "run-all: $(du -h "$out/parity-train.tgz" | cut -f1) of training-parity results"
for s in ${SEEDS:-1 2 3}; do tail -n 2 "$work/train/pytorch-s$s.log" 2>/dev/null | sed "s/^/pytorch-s$s: /"; done
logs=()
for f in "$out"/*; do
    case "$(basename "$f")" in
        run.log|summary.md|results.json|parity-train.tgz|gpu-logs.tgz) ;;
        *) logs+=("$(basename "$f")") ;;
    esac
done
if (( ${#logs[@]} > 0 )); then
    ( cd "$out" && tar -czf gpu-logs.tgz "${logs[@]}" && rm -f "${logs[@]}" )
fi
ls -l "$out"
