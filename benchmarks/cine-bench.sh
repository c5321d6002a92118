#!/usr/bin/env bash
# Real-time cine benchmark (docs/VIDEO.md, benchmarks/RESULTS.md): arunet bench --video on clips made
# from the bundled sample, end to end (decode, segment, overlay, encode), at two frame sizes, bf16 and
# fp32, with OpenMP's default (spinning) and passive wait policies. Run on an otherwise idle machine.
#   benchmarks/cine-bench.sh OUT_DIR [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?output folder}
frames=${2:-300}
mkdir -p "$out"
./arunet --version >/dev/null  # builds the tool first if needed, outside the timings
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!benchmarks/results' || echo ' (modified)')"
  lscpu | grep -E "Model name|^CPU\(s\)"
  java -version 2>&1 | head -1
} > "$out/machine.txt"
for size in 256x212 640x480; do
  for precision in bf16 f32; do
    for policy in default passive; do
      name="$size-$precision-$policy"
      echo "load before $name: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/loads.txt"
      if [ "$policy" = passive ]; then export OMP_WAIT_POLICY=passive; else unset OMP_WAIT_POLICY; fi
      ./arunet bench --video sample --video-size "$size" --video-frames "$frames" --device cpu --threads 2 \
          --precision "$precision" --json > "$out/$name.json" 2> "$out/$name.log"
      python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(sys.argv[2], round(j['frames_per_second'],1), 'fps unpaced;', round(j['paced_frames_per_second'],1), 'fps paced, p50', round(j['paced_latency_ms_p50'],1), 'ms, p99', round(j['paced_latency_ms_p99'],1), 'ms')" "$out/$name.json" "$name" | tee -a "$out/summary.txt"
    done
  done
done
unset OMP_WAIT_POLICY
