#!/usr/bin/env bash
# benchmarks/compare.sh — times arunet's CPU backend beside its peers in one session, alternating
# them round by round so that a change of machine load hits every peer alike, and records the load
# average before each run. The numbers of benchmarks/RESULTS.md come from this script.
#
#   benchmarks/compare.sh [OUT_DIR]        (default: benchmarks/out/<date>)
#
# Environment:
#   ROUNDS        rounds of the whole set (default 3)
#   THREADS       threads for every peer (default 2)
#   ARUNET_JAR    the CLI jar under test (default cli/target/arunet.jar; build with mvn -o package -DskipTests),
#                 with ONNX Runtime's jar in onnxruntime/ beside it (mvn package puts it there)
#   BASELINE_JAR  an older CLI jar to time the same way ("before"), optional
#   PYTHON        the Python with PyTorch (default /usr/bin/python3, Debian's python3-torch)
#   SKIP_PYTORCH  1: leave PyTorch out; SKIP_RSS=1: leave the peak-RSS runs out
#
# Each run appends one JSON line to OUT_DIR/runs.jsonl: {"peer", "what", "load1", "result"} where
# result is the peer's own JSON (arunet bench --json, aru_net_bench.py --json). Peak RSS is measured
# in separate processes (one shape each), since a process's peak covers everything it ran.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/benchmarks/out/$(date +%Y%m%d-%H%M%S)}"
rounds="${ROUNDS:-3}"
threads="${THREADS:-2}"
jar="${ARUNET_JAR:-$root/cli/target/arunet.jar}"
python="${PYTHON:-/usr/bin/python3}"
mkdir -p "$out"
runs="$out/runs.jsonl"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }

# compact FILE: the JSON in FILE on one line
compact() { python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$1"; }

# java_bench PEER JAR ARGS...: one arunet bench process, its JSON appended
java_bench() {
  local peer="$1" j="$2"; shift 2
  local l; l="$(load1)"
  if java -XX:+UseSerialGC -Xss4m -Dorg.bytedeco.javacpp.cachedir="$tmp/javacpp-$peer" \
      -cp "$j:$(dirname "$j")/onnxruntime/*" org.arunet.cli.Main bench \
      --device cpu --threads "$threads" --json "$@" >"$tmp/r.json" 2>"$tmp/err"; then
    printf '{"peer":"%s","what":"%s","load1":%s,"result":%s}\n' "$peer" "$*" "$l" "$(compact "$tmp/r.json")" >>"$runs"
  else
    echo "compare.sh: $peer bench $* failed: $(tail -3 "$tmp/err")" >&2
  fi
}

# torch_bench ARGS...: one PyTorch process
torch_bench() {
  local l; l="$(load1)"
  if "$python" "$root/benchmarks/pytorch/aru_net_bench.py" --threads "$threads" --json "$tmp/t.json" "$@" \
      >/dev/null 2>"$tmp/err"; then
    printf '{"peer":"pytorch","what":"%s","load1":%s,"result":%s}\n' "$*" "$l" "$(compact "$tmp/t.json")" >>"$runs"
  else
    echo "compare.sh: pytorch $* failed: $(tail -3 "$tmp/err")" >&2
  fi
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (modified)')"
  echo "jar: ${jar#"$root"/}"
  echo "baseline: ${BASELINE_JAR:-none}"
  echo "threads: $threads, rounds: $rounds"
  java -version 2>&1 | head -1
  "$python" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null || true
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Flags' | sed 's/Flags:.*/flags: (avx512f, avx512_bf16: '"$(grep -o -w -E 'avx512f|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"')/'
} >"$out/machine.txt"

for r in $(seq 1 "$rounds"); do
  echo "round $r/$rounds (load $(load1))" >&2
  for shape in "1 256" "1 512" "2 256" "2 512"; do
    set -- $shape
    # ours and ONNX Runtime 1.20 in one process on the same exported model, alternating per iteration
    java_bench arunet-vs-ort "$jar" --batch-size "$1" --image-size "$2" --iterations 6 --warmup 2 --vs onnxruntime
    java_bench arunet "$jar" --batch-size "$1" --image-size "$2" --iterations 5 --warmup 2
    java_bench arunet-bf16 "$jar" --batch-size "$1" --image-size "$2" --iterations 5 --warmup 2 --precision bf16
    if [ -n "${BASELINE_JAR:-}" ]; then
      java_bench baseline "$BASELINE_JAR" --batch-size "$1" --image-size "$2" --iterations 5 --warmup 2
    fi
  done
  java_bench arunet "$jar" --batch-size 2 --image-size 256 --iterations 3 --warmup 1 --train
  java_bench arunet-bf16 "$jar" --batch-size 2 --image-size 256 --iterations 3 --warmup 1 --train --precision bf16
  if [ -n "${BASELINE_JAR:-}" ]; then
    java_bench baseline "$BASELINE_JAR" --batch-size 2 --image-size 256 --iterations 3 --warmup 1 --train
  fi
  if [ "${SKIP_PYTORCH:-0}" != 1 ]; then
    torch_bench --iterations 3 --warmup 1 --forward 1x256,1x512,2x256 --train 2x256
    torch_bench --iterations 3 --warmup 1 --forward "" --train 2x256 --bf16
  fi
done

if [ "${SKIP_RSS:-0}" != 1 ]; then
  java_bench arunet-rss "$jar" --batch-size 1 --image-size 512 --iterations 2 --warmup 1
  java_bench onnxruntime-rss "$jar" --batch-size 1 --image-size 512 --iterations 2 --warmup 1 --vs onnxruntime --peer-only
  java_bench arunet-rss "$jar" --batch-size 2 --image-size 512 --iterations 1 --warmup 1 --train
  if [ -n "${BASELINE_JAR:-}" ]; then
    java_bench baseline-rss "$BASELINE_JAR" --batch-size 1 --image-size 512 --iterations 2 --warmup 1
  fi
fi
echo "wrote $runs" >&2
