#!/usr/bin/env bash
# Images/s of the Spark job (java-api/spark's SegmentJob, master local[THREADS]) against `arunet predict
# --threads THREADS` on the same folder, one after the other in the same run, CPU, shipped model busi-compact.
# The folder is the bundled sample (40 BUSI PNGs) copied COPIES times under distinct names.
# Both write a mask PNG per image and a table (predict: --csv, no overlays; Spark: Parquet + --masks).
#
#   benchmarks/spark-vs-predict.sh OUT_DIR [COPIES=5] [THREADS=2] [ROUNDS=2]
#
# Needs `mvn -B -DskipTests -pl cli,java-api/spark -am package` first (cli/target/arunet.jar and
# java-api/spark/target/arunet-spark-*.jar). The Spark job runs as spark-submit would run it: Spark's jars
# (from the local Maven repository; Spark and what it needs, nothing of ours or JavaCPP) first, then the thin
# arunet-spark jar and arunet.jar (docs/SCALE-OUT.md).
# Timings: run it under `flock /tmp/arunet-bench.lock` so no other benchmark overlaps it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
copies="${2:-5}"
threads="${3:-2}"
rounds="${4:-2}"
work="$(mktemp -d "${TMPDIR:-/tmp}/arunet-spark-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/in"
for i in $(seq 1 "$copies"); do
  for f in "$root"/datasets/sample/busi-mini/images/*.png; do cp "$f" "$work/in/c${i}_$(basename "$f")"; done
done
n="$(ls "$work/in" | wc -l)"

spark_jar="$(ls "$root"/java-api/spark/target/arunet-spark-*.jar | head -1)"
(cd "$root" && mvn -B -q -o dependency:build-classpath -pl java-api/spark -Dmdep.includeScope=provided -DexcludeGroupIds=org.arunet,org.bytedeco \
    -Dmdep.outputFile="$work/spark-cp.txt" >/dev/null 2>&1) || {
  # without arunet-java-api in the local repository, resolve within the reactor
  (cd "$root" && mvn -B -q -o package dependency:build-classpath -pl java-api/spark -am -DskipTests -Djavacpp.skip=true \
      -Dmdep.includeScope=provided -DexcludeGroupIds=org.arunet,org.bytedeco -Dmdep.outputFile="$work/spark-cp.txt" >/dev/null)
}
spark_opts="$(sed -n 's:.*<spark.jvm.options>\(.*\)</spark.jvm.options>.*:\1:p' "$root/pom.xml")"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(cd "$root" && git rev-parse --short HEAD)$(cd "$root" && git diff --quiet HEAD -- . ':!benchmarks' || echo ' (+ uncommitted changes)')"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "java: $(java -version 2>&1 | head -1)"
  echo "images: $n ($copies copies of the 40 bundled BUSI PNGs), threads: $threads, rounds: $rounds"
} | tee "$out/machine.txt"

for r in $(seq 1 "$rounds"); do
  for tool in predict spark; do
    rm -rf "$work/out-$tool"
    echo "round $r $tool: loadavg before: $(cat /proc/loadavg)" | tee -a "$out/summary.txt"
    t0="$(date +%s.%N)"
    if [ "$tool" = predict ]; then
      # what ./arunet runs, without its rebuild check (a source newer than the jar would rebuild it inside the timing)
      java -XX:+UseSerialGC -Xss4m -jar "$root/cli/target/arunet.jar" predict --model busi-compact "$work/in" \
          --out "$work/out-$tool" --csv --no-overlays --threads "$threads" --device cpu >"$out/round$r-predict.log" 2>&1
    else
      # shellcheck disable=SC2086
      java -XX:+UseSerialGC -Xss4m $spark_opts -cp "$(cat "$work/spark-cp.txt"):$spark_jar:$root/cli/target/arunet.jar" \
          org.arunet.spark.SegmentJob --master "local[$threads]" --input "$work/in" \
          --output "$work/out-$tool/rows.parquet" --masks "$work/out-$tool" --model busi-compact --device cpu \
          >"$out/round$r-spark.log" 2>&1
    fi
    t1="$(date +%s.%N)"
    wall="$(echo "$t1 - $t0" | bc -l)"
    printf 'round %s %s: %d images, wall %.2f s (JVM start to exit) = %.2f images/s; loadavg after: %s\n' \
        "$r" "$tool" "$n" "$wall" "$(echo "$n / $wall" | bc -l)" "$(cat /proc/loadavg)" | tee -a "$out/summary.txt"
  done
  masks_p="$(ls "$work/out-predict"/*.png | wc -l)"
  masks_s="$(ls "$work/out-spark"/*.png | wc -l)"
  same="$(cd "$work/out-predict" && for f in *.png; do cmp -s "$f" "$work/out-spark/$f" && echo ok; done | wc -l)"
  echo "round $r: masks predict $masks_p, spark $masks_s, identical $same" | tee -a "$out/summary.txt"
done
grep -h "images/s" "$out"/round*-predict.log "$out"/round*-spark.log | grep -v "^\[" >>"$out/summary.txt" || true
# no paths of this machine in the outputs
sed -i -e "s#$root#<repo>#g" -e "s#$work#\$TMPDIR/arunet-spark-bench#g" "$out"/*.log "$out"/*.txt
