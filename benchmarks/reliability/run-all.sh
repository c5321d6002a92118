#!/usr/bin/env bash
# The reliability suite of docs/RELIABILITY.md, from one command, run from anywhere in the checkout:
#
#   benchmarks/reliability/run-all.sh           the recorded run (about 1 h 15 min on 2 cores)
#   benchmarks/reliability/run-all.sh --quick   the sizes a normal `mvn verify` uses (about 5 min)
#
# Options (after --quick, if any): --fuzz-seconds N (per fuzz target, default 600), --kill-runs N (default 8),
# --kills-per-run N (default 5), --inferences N (default 10000), --concurrent-seconds N (default 300),
# --out DIR (default docs/reliability), --fuzz-only (skip the tests; fuzz.csv rows of the fuzzed targets are
# replaced, the others kept), --targets T1,T2 (fuzz only these, e.g. SafeTensorsFuzzTest#rawFile). Needs Java 17+, Maven with the project's dependencies (it runs -o:
# run `mvn -B dependency:go-offline` once without it if they are missing), util-linux (prlimit, unshare) and,
# for the full-disk and unwritable-folder faults, root (they are skipped and reported as such otherwise).
#
# Results in --out: hostile-inputs.csv, kill-resume.csv, write-failures.csv, out-of-memory.csv,
# memory.csv + memory.png, concurrency.csv, fuzz.csv (+ fuzz-<target>.log), tests.txt and summary.txt.
# Each target starts from its committed inputs (the corpus of earlier runs is cleared). Without --quick,
# corpus entries found while fuzzing (at most 200 per target, each at most 2 KiB) are added to those
# inputs under src/test/resources, where every later build replays them; crash reproducers land there
# too (crash-*, slow-unit-*, timeout-*) and make this script exit 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

fuzz_seconds=600 kill_runs=8 kills_per_run=5 inferences=10000 concurrent_seconds=300 out="$root/docs/reliability"
keep_corpus=1 fuzz_only=0 only_targets=""
if [ "${1:-}" = "--quick" ]; then
  fuzz_seconds=30 kill_runs=1 kills_per_run=3 inferences=600 concurrent_seconds=10 keep_corpus=0
  shift
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --fuzz-seconds) fuzz_seconds="$2"; shift 2 ;;
    --kill-runs) kill_runs="$2"; shift 2 ;;
    --kills-per-run) kills_per_run="$2"; shift 2 ;;
    --inferences) inferences="$2"; shift 2 ;;
    --concurrent-seconds) concurrent_seconds="$2"; shift 2 ;;
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --fuzz-only) fuzz_only=1; shift ;;
    --targets) only_targets=",$2,"; shift 2 ;;
    *) echo "run-all.sh: unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
summary="$out/summary.txt"
if [ "$fuzz_only" = 1 ]; then summary="$out/summary-fuzz.txt"; fi
modules=native,java-api/core,java-api/cuda,datasets,java-api,java-api/onnx,cli
started=$(date +%s)
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$summary"; }
: > "$summary"
if [ "$fuzz_only" = 0 ]; then rm -f "$out"/write-failures.csv "$out"/out-of-memory.csv; fi
find . -path '*/target/hs_err_pid*.log' -delete 2>/dev/null || true

log "reliability suite: fuzz ${fuzz_seconds}s/target, ${kill_runs}x${kills_per_run} kills, ${inferences} inferences," \
    "${concurrent_seconds}s of 8 threads; results in $out"
log "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(java -version 2>&1 | head -1)," \
    "commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + local changes')"

# 1. Hostile input, faults and load: the JUnit tests, at the sizes chosen above.
tests_ok=1
if [ "$fuzz_only" = 0 ]; then
tests='HostileImagesTest,SplitFileHostileTest,ConfigFileHostileTest,HostileCheckpointTest,TrainerFaultsTest,'
tests+='TrainerTest,KillAndResumeTest,CheckpointWriteFailureTest,OutOfMemoryTest,*FuzzTest'
log "tests: $tests"
if ! mvn -B -o -fae test -pl "$modules" -Dtest="$tests" -Dsurefire.failIfNoSpecifiedTests=false \
    -Dreliability.report="$out" -Dreliability.killRuns="$kill_runs" -Dreliability.killsPerRun="$kills_per_run" \
    > "$out/tests.log" 2>&1; then
  tests_ok=0
fi
# The load test in a JVM of its own, so that its memory curve starts from nothing but itself.
log "tests: SegmenterLoadTest (own JVM)"
if ! mvn -B -o test -pl native,java-api/core,datasets,java-api -Dtest=SegmenterLoadTest -Dsurefire.failIfNoSpecifiedTests=false \
    -Dreliability.report="$out" -Dreliability.inferences="$inferences" \
    -Dreliability.concurrentSeconds="$concurrent_seconds" > "$out/load-test.log" 2>&1; then
  tests_ok=0
fi
cat "$out/load-test.log" >> "$out/tests.log"
grep -E "Tests run:.*in org\.arunet|Tests run:.*Skipped|FAIL|BUILD" "$out/tests.log" | sed 's/^\[[A-Z]*\] //' > "$out/tests.txt" || true
grep -h -E "^\[(WARNING|INFO)\] Tests run:.*Skipped: [1-9]" "$out/tests.log" >> "$summary" || true
log "tests: $([ $tests_ok = 1 ] && echo passed || echo FAILED, see $out/tests.log)"
fi

# 2. Coverage-guided fuzzing, one target per JVM (Jazzer fuzzes one @FuzzTest per run).
targets=(
  "datasets|org.arunet.data.io.ImageFuzzTest|imageAndMask"
  "datasets|org.arunet.data.split.SplitFuzzTest|splitFile"
  "$modules|org.arunet.io.SafeTensorsFuzzTest|rawFile"
  "$modules|org.arunet.io.SafeTensorsFuzzTest|structuredCheckpoint"
  "$modules|org.arunet.cli.ConfigFuzzTest|trainConfig"
)
header="target,seconds,executions,executions_per_second,coverage_edges,corpus_entries,kept_in_inputs,findings"
if [ "$fuzz_only" = 0 ] || [ ! -f "$out/fuzz.csv" ]; then echo "$header" > "$out/fuzz.csv"; fi
fuzz_ok=1
for t in "${targets[@]}"; do
  IFS='|' read -r mods cls method <<< "$t"
  name="${cls##*.}#$method"
  if [ -n "$only_targets" ] && [[ "$only_targets" != *",$name,"* ]]; then continue; fi
  if [ -f "$out/fuzz.csv" ]; then grep -v "^$name," "$out/fuzz.csv" > "$out/fuzz.csv.tmp" || true; mv "$out/fuzz.csv.tmp" "$out/fuzz.csv"; fi
  module=$(case "$cls" in org.arunet.data.*) echo datasets ;; org.arunet.cli.*) echo cli ;; *) echo java-api ;; esac)
  inputs="$module/src/test/resources/$(dirname "${cls//.//}")/${cls##*.}Inputs/$method"
  corpus="$module/.cifuzz-corpus/$cls/$method"
  rm -rf "$corpus"
  before=$(ls "$inputs" 2>/dev/null | grep -cE '^(crash|slow-unit|timeout|oom)-' || true)
  log "fuzzing $name for ${fuzz_seconds}s"
  flog="$out/fuzz-${cls##*.}-$method.log"
  set +e
  JAZZER_FUZZ=1 OPENCV_LOG_LEVEL=SILENT mvn -B -o test -pl "$mods" -Dtest="$cls#$method" \
    -Dsurefire.failIfNoSpecifiedTests=false -Dreliability.report="$out" \
    "-Dreliability.argLine=-Djazzer.instrument=org.arunet.**,com.fasterxml.jackson.** -Djazzer.internal.arg.0=fuzz -Djazzer.internal.arg.1=-max_total_time=$fuzz_seconds -Djazzer.internal.arg.2=-timeout=60" \
    > "$flog" 2>&1
  rc=$?
  set -e
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$flog" | tail -1 || true)
  runs=$(echo "$done_line" | awk '{print $2}')
  secs=$(echo "$done_line" | awk '{print $5}')
  cov=$(grep -oE 'cov: [0-9]+' "$flog" | tail -1 | awk '{print $2}')
  entries=$(ls "$corpus" 2>/dev/null | wc -l)
  # Keep up to 200 of the smallest new corpus entries as regression inputs.
  kept=0
  if [ -d "$corpus" ] && [ "$keep_corpus" = 1 ]; then
    mkdir -p "$inputs"
    while read -r f; do
      dest="$inputs/corpus-$(basename "$f")"
      if [ ! -e "$dest" ] && [ "$kept" -lt 200 ]; then cp "$f" "$dest"; kept=$((kept + 1)); fi
    done < <(find "$corpus" -type f -size -2049c -printf '%s %p\n' | sort -n | awk '{print $2}')
  fi
  after=$(ls "$inputs" 2>/dev/null | grep -cE '^(crash|slow-unit|timeout|oom)-' || true)
  findings=$((after - before))
  rate=$([ -n "$runs" ] && [ -n "$secs" ] && [ "$secs" -gt 0 ] && echo $((runs / secs)) || echo "")
  echo "$name,${secs:-},${runs:-},$rate,${cov:-},$entries,$kept,$findings" >> "$out/fuzz.csv"
  if [ "$rc" != 0 ] || [ "$findings" != 0 ] || [ -z "$done_line" ]; then
    fuzz_ok=0
    log "  $name: exit $rc, $findings new crash reproducer(s) in $inputs; see $flog"
  else
    log "  $name: $runs executions in ${secs}s, coverage $cov, corpus $entries (kept $kept), no finding"
  fi
done

# 3. Did any JVM die in native code along the way?
crashes=$(find . -name 'hs_err_pid*.log' -newer "$summary" 2>/dev/null | grep -v '^./docs' || true)
if [ -n "$crashes" ]; then
  log "JVM crash reports: $crashes"
else
  log "no JVM crash report (hs_err_pid*.log) anywhere in the checkout"
fi

elapsed=$(( $(date +%s) - started ))
log "done in $((elapsed / 60)) min $((elapsed % 60)) s"
if [ $tests_ok = 1 ] && [ $fuzz_ok = 1 ] && [ -z "$crashes" ]; then
  log "RESULT: all passed"
else
  log "RESULT: FAILED"
  exit 1
fi
