#!/usr/bin/env bash
# benchmarks/gpu/run-on-gpu.sh — run THERE (the GPU machine), from the repository root, after
# benchmarks/gpu/prepare.sh built target/gpu-bundle/ here and it travelled along (device tool: carry
# target/gpu-bundle). One call, about 6 minutes, each phase time-boxed; a failing phase does not stop
# the others.
#
#   0. facts     nvidia-smi, Python with PyTorch (version, CUDA, cuDNN), a JDK if any, the NVIDIA
#                libraries of the Python venv (nvidia/*/lib) put on LD_LIBRARY_PATH, each library the
#                JavaCPP JNI libraries need found or reported missing, the bundled Java runtime unpacked,
#                the GPU as arunet sees it (GpuHarness probe), cuobjdump of the kernels
#   1. parity    first PyTorch AMP's own fp16/bf16 gradients of the tiny fixture vs its fp32 ones
#                (amp_gradient_spread.py, a few seconds): the reference of the mixed-precision gradient
#                check; then every op on CUDA vs the CPU backend's saved results, fp32 (TF32 off) and, for
#                the convolutions and the model, fp16 and bf16; the tiny model vs the PyTorch fixture; a
#                synchronization after every op (ARUNET_CUDA_SYNC=1) pins a failing kernel to its op; if
#                the CUDA context is lost or the JVM dies, the cases not started yet run in a fresh
#                process                                                                  -> parity.log
#   2. arunet    ARU-Net throughput, 512x512: inference batch 1, 8, 32 and training batch 2, 8, 16,
#                fp16 first, then fp32, then bf16                                          -> bench-arunet.log
#   3. torch     the same configurations with the PyTorch peer (aru_net_torch.py: channels_last, AMP,
#                eager, cudnn.benchmark), after its structure check (parameter names, the fixture)
#                                                                                          -> bench-torch.log
#   4. profile   op by op, each op waited for (GpuHarness profile): where a batch-1 inference (unfused
#                and fused) and a training step spend their GPU time                      -> profile.log
#   5. report    results.json (everything, machine-readable) and summary.md; the table is printed last
#
# Everything goes to $OUT (the device tool returns it): run.log (this script's whole output), the
# four phase logs, results.json, summary.md.
#
# Environment (all optional):
#   OUT (default target/gpu-out), BUNDLE (default target/gpu-bundle), PHASES (default parity,arunet,torch,profile),
#   AMP_BUDGET / PARITY_BUDGET / ARUNET_BUDGET / TORCH_BUDGET / PROFILE_BUDGET seconds (default 45 / 100 / 150 / 130
#   / 45), CONFIGS (precision:mode:batch list; precision fp32, fp16, bf16 or tf32, mode infer, graph, fused,
#   fusedgraph or train), PROFILE_CONFIGS (default fp16:infer:1,fp16:fused:1,fp16:train:2), SIZE (512),
#   WIDTH (64), MIN_SECONDS (1.5), MAX_SECONDS (6), PYTHON (a python3 with torch),
#   TORCH_EXTRA_CONFIGS (peer-only rows, e.g. fp16:compiled:1,fp16:compiled:8: torch.compile inference),
#   QUICK=1 (a second, shorter run, about 4 minutes: fp16 and fp32 at batch 1 and 8 and training at 2 and
#   8, smaller budgets), REHEARSAL=1 (on a machine without a GPU: the GPU-side Java code runs on the
#   reference backend, the PyTorch peer on the CPU, at a tiny size, to check paths, class path and scripts).
set -uo pipefail

root=$(pwd)
if [[ ! -f "$root/benchmarks/gpu/run-on-gpu.sh" ]]; then
    echo "run-on-gpu.sh: run from the repository root" >&2
    exit 2
fi
bundle=${BUNDLE:-$root/target/gpu-bundle}
out=${OUT:-$root/target/gpu-out}
tmp="${TMPDIR:-/tmp}/arunet-gpu"
rehearsal=${REHEARSAL:-0}
mkdir -p "$out"
rm -rf "$tmp"
mkdir -p "$tmp"
exec > >(tee -a "$out/run.log") 2>&1
start=$(date +%s)

if [[ "$rehearsal" == 1 ]]; then
    SIZE=${SIZE:-32}
    WIDTH=${WIDTH:-4}
    CONFIGS=${CONFIGS:-fp32:infer:1,fp32:fused:1,tf32:infer:1,fp32:train:2,bf16:infer:1}
    MIN_SECONDS=${MIN_SECONDS:-0.3}
    backend=reference
    torch_device=cpu
else
    backend=cuda
    torch_device=cuda
fi
if [[ "${QUICK:-0}" == 1 ]]; then
    CONFIGS=${CONFIGS:-fp16:infer:1,fp16:fused:1,fp16:fusedgraph:1,fp16:infer:8,fp16:fused:8,fp16:train:2,fp16:train:8,fp32:infer:1,fp32:fused:1,tf32:infer:8,tf32:train:2,fp32:train:2}
    PARITY_BUDGET=${PARITY_BUDGET:-80}
    ARUNET_BUDGET=${ARUNET_BUDGET:-100}
    TORCH_BUDGET=${TORCH_BUDGET:-90}
fi
SIZE=${SIZE:-512}
WIDTH=${WIDTH:-64}
CONFIGS=${CONFIGS:-fp16:infer:1,fp16:fused:1,fp16:graph:1,fp16:fusedgraph:1,fp16:infer:8,fp16:fused:8,fp16:train:2,fp16:train:8,fp16:infer:32,fp16:fused:32,fp16:train:16,fp32:infer:1,fp32:fused:1,tf32:infer:8,tf32:train:2,fp32:graph:1,fp32:infer:8,fp32:train:2,fp32:train:8,bf16:infer:8,bf16:fused:8,bf16:train:8,bf16:infer:1,bf16:graph:1,bf16:train:2,fp32:infer:32,fp32:train:16,bf16:infer:32,bf16:train:16}
MIN_SECONDS=${MIN_SECONDS:-1.5}
MAX_SECONDS=${MAX_SECONDS:-6}
PHASES=${PHASES:-parity,arunet,torch,profile}
PARITY_BUDGET=${PARITY_BUDGET:-100}
AMP_BUDGET=${AMP_BUDGET:-45}
ARUNET_BUDGET=${ARUNET_BUDGET:-150}
TORCH_BUDGET=${TORCH_BUDGET:-130}
PROFILE_BUDGET=${PROFILE_BUDGET:-45}
PROFILE_CONFIGS=${PROFILE_CONFIGS:-fp16:infer:1,fp16:fused:1,fp16:train:2}

elapsed() { echo $(( $(date +%s) - start )); }
say() { printf '\n=== [%4ss] %s\n' "$(elapsed)" "$*"; }
phase_records=()
crashed=()
last_status=0
record() { phase_records+=("{\"name\": \"$1\", \"status\": $2, \"seconds\": $3}"); }
write_phases() {
    local IFS=,
    local c=()
    local x
    for x in "${crashed[@]}"; do c+=("\"$x\""); done
    printf '{"phases": [%s], "crashed": [%s], "seconds": %s, "rehearsal": %s}\n' "${phase_records[*]}" "${c[*]}" \
        "$(elapsed)" "$rehearsal" > "$out/phases.json"
}
# run_phase NAME BUDGET LOG command...: time-boxed, output to LOG and to this script's output
run_phase() {
    local name=$1 budget=$2 log=$3
    shift 3
    local t0
    t0=$(date +%s)
    say "$name (budget ${budget}s): $*"
    timeout -k 10 "$budget" "$@" 2>&1 | tee -a "$log"
    local status=${PIPESTATUS[0]}
    local secs=$(( $(date +%s) - t0 ))
    [[ $status == 124 || $status == 137 ]] && echo "!!! $name stopped by its time budget (${budget}s)"
    echo "--- $name: exit status $status after ${secs}s"
    record "$name" "$status" "$secs"
    last_status=$status
    return 0
}

# ------------------------------------------------------------------------------------------------ 0. facts
say "machine"
echo "repository: $root (commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo "bundle: $(head -1 "$bundle/MANIFEST.txt" 2>/dev/null || echo "MISSING: run benchmarks/gpu/prepare.sh and carry target/gpu-bundle")"
uname -a
nproc 2>/dev/null | sed 's/^/cpus: /'
free -g 2>/dev/null | head -2
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,power.limit \
        --format=csv 2>/dev/null
else
    echo "nvidia-smi: not found"
fi

say "python with PyTorch"
find_python() {
    local c
    for c in "${PYTHON:-}" python3 /opt/torch/.venv/bin/python3 python /usr/bin/python3; do
        if [[ -n "$c" ]] && command -v "$c" >/dev/null 2>&1 && "$c" -c "import torch" >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    local f py
    while read -r f; do
        py="$(dirname "$(dirname "$(dirname "$(dirname "$(dirname "$f")")")")")/bin/python3"
        if [[ -x "$py" ]] && "$py" -c "import torch" >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done < <(find / -xdev -maxdepth 7 -path '*site-packages/torch/__init__.py' 2>/dev/null | head -5)
    return 1
}
py=$(find_python) || py=""
if [[ -n "$py" ]]; then
    echo "python: $py"
    "$py" -c "import torch, sys; print('python', sys.version.split()[0], '| torch', torch.__version__, '| CUDA', torch.version.cuda, '| cuDNN', torch.backends.cudnn.version(), '| GPU available', torch.cuda.is_available(), '|', torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
else
    echo "no python3 with torch found: the PyTorch peer cannot run"
fi
report_py=${py:-$(command -v python3 || echo python3)}

say "NVIDIA libraries for the JavaCPP CUDA bindings"
lib_dirs=""
if [[ -n "$py" ]]; then
    lib_dirs=$("$py" - <<'EOF'
import importlib.util, os
roots = set()
for mod in ("nvidia", "torch"):
    spec = importlib.util.find_spec(mod)
    if spec is not None and spec.submodule_search_locations:
        roots.update(spec.submodule_search_locations)
wanted = ("libcudnn", "libcublas", "libcudart", "libnvrtc", "libnvJitLink")
dirs = set()
for root in roots:
    for dirpath, _, files in os.walk(root):
        if any(f.startswith(wanted) and ".so" in f for f in files):
            dirs.add(dirpath)
print(":".join(sorted(dirs)))
EOF
)
    echo "python packages' library folders: ${lib_dirs:-none}"
fi
for lib in libcudnn_cnn.so.9 libcublas.so.13 libcudart.so.13; do
    if [[ -z "$lib_dirs" ]] || ! ls ${lib_dirs//:/ } 2>/dev/null | grep -q "^$lib"; then
        hit=$(find / -xdev -name "$lib*" -not -path '/proc/*' 2>/dev/null | head -1)
        if [[ -n "$hit" ]]; then
            echo "found $lib by search: $hit"
            lib_dirs="${lib_dirs:+$lib_dirs:}$(dirname "$hit")"
        fi
    fi
done
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib64 /usr/lib/x86_64-linux-gnu /usr/local/cuda/lib64; do
    if [[ -e "$d/libcuda.so.1" ]] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
        lib_dirs="${lib_dirs:+$lib_dirs:}$d"
    fi
done
export LD_LIBRARY_PATH="${lib_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
for lib in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9 libcudnn_graph.so.9 \
           libcudnn_ops.so.9 libcudnn_cnn.so.9 libcudnn_adv.so.9 libcudnn_engines_precompiled.so.9 \
           libcudnn_engines_runtime_compiled.so.9 libcudnn_heuristic.so.9; do
    where=""
    IFS=: read -ra dirs <<< "$LD_LIBRARY_PATH"
    for d in "${dirs[@]}"; do
        [[ -n "$d" && -e "$d/$lib" ]] && { where="$d/$lib -> $(readlink -f "$d/$lib")"; break; }
    done
    [[ -z "$where" ]] && where=$(ldconfig -p 2>/dev/null | grep -m1 " $lib " | sed 's/.*=> //')
    printf '  %-42s %s\n' "$lib" "${where:-MISSING}"
done

say "Java"
if command -v java >/dev/null 2>&1; then
    echo "a JDK/JRE is installed here: $(java -version 2>&1 | head -1) (the bundled runtime is used anyway)"
else
    echo "no java on the PATH (expected: the bundled runtime is used)"
fi
java_bin=""
if [[ -f "$bundle/rt.tgz" ]]; then
    tar -xzf "$bundle/rt.tgz" -C "$tmp" && java_bin="$tmp/rt/bin/java"
    "$java_bin" -version 2>&1 | head -2
else
    echo "MISSING $bundle/rt.tgz"
fi
jar="$bundle/arunet-gpu.jar"
jopts=(-Xss4m -Xmx16g -Dorg.bytedeco.javacpp.cachedir="$tmp/javacpp" -cp "$jar")
harness() { "$java_bin" "${jopts[@]}" org.arunet.bench.gpu.GpuHarness "$@"; }

say "the GPU as arunet sees it"
if [[ -n "$java_bin" ]]; then
    harness probe
    probe_status=$?
    if [[ $probe_status != 0 ]]; then
        echo "probe failed (status $probe_status); JavaCPP's loader says:"
        "$java_bin" "${jopts[@]}" -Dorg.bytedeco.javacpp.logger.debug=true org.arunet.bench.gpu.GpuHarness probe 2>&1 \
            | grep -iE 'loading|failed|error|cannot|unsatisfied' | head -30
    fi
fi
if command -v cuobjdump >/dev/null 2>&1 && [[ -f "$jar" ]]; then
    "$report_py" -c "import zipfile, sys; z = zipfile.ZipFile(sys.argv[1]); [z.extract(n, sys.argv[2]) for n in z.namelist() if n.endswith('.fatbin')]" "$jar" "$tmp/kernels" \
        && for f in "$tmp"/kernels/org/arunet/cuda/*.fatbin; do echo "$(basename "$f"): $(cuobjdump --list-elf --list-ptx "$f" 2>&1 | tr '\n' ' ')"; done
fi

# ------------------------------------------------------------------------------------------------ 1. parity
# One JVM runs every case; it writes START/END lines around each case and its JSON after each case. If
# it stops early (the CUDA context lost: status 3; the JVM killed by a crash: anything else but 0, 1 or
# a timeout), a fresh JVM runs every case not started yet, until done or out of time. A case started
# but never ended crashed its JVM: it is recorded as such.
# First, PyTorch AMP's gradient spread on the same GPU (its own time box): its JSON stays in $tmp (the
# device tool returns at most eight files; parity.json, and so results.json, carries what the check used);
# without it the fp16/bf16 gradient check falls back to the H200 calibration and says so in its lines.
amp_json="$tmp/amp-spread.json"
if [[ ",$PHASES," == *",parity,"* && -n "$java_bin" ]]; then
    if [[ -n "$py" ]]; then
        run_phase amp-spread "$AMP_BUDGET" "$out/parity.log" env NVIDIA_TF32_OVERRIDE=0 PYTHONDONTWRITEBYTECODE=1 "$py" \
            "$root/benchmarks/gpu/amp_gradient_spread.py" "$root/java-api/core/src/test/resources/fixtures/model_tiny.safetensors" \
            --json "$amp_json" --device "$torch_device" --precisions fp16,bf16,fp32
    else
        echo "amp-spread: no python3 with torch: the fp16/bf16 gradient check falls back to the H200 calibration"
    fi
    parity_start=$(date +%s)
    : > "$tmp/progress.txt"
    attempt=0
    while true; do
        left=$(( PARITY_BUDGET - ($(date +%s) - parity_start) ))
        if (( left < 15 )); then
            echo "parity: time budget used up"
            break
        fi
        if (( attempt == 0 )); then name=parity; json="$out/parity.json"; else name="parity-rerun-$attempt"; json="$out/$name.json"; fi
        sed -n 's/^START //p' "$tmp/progress.txt" > "$tmp/exclude.txt"
        # one line per case (and every failing output) here; every output's comparison in parity.log
        run_phase "$name" "$left" "$tmp/parity-stdout.log" env NVIDIA_TF32_OVERRIDE=0 ARUNET_CUDA_SYNC=1 \
            "$java_bin" "${jopts[@]}" org.arunet.bench.gpu.GpuHarness parity --backend "$backend" \
            --expected "$bundle/parity-expected.safetensors" \
            --fixture "$root/java-api/core/src/test/resources/fixtures/model_tiny.safetensors" \
            --json "$json" --detail "$out/parity.log" --progress "$tmp/progress.txt" --exclude-file "$tmp/exclude.txt" \
            --amp-spread "$amp_json"
        case $last_status in
            0|1|124|137) break ;;
        esac
        started=$(grep '^START ' "$tmp/progress.txt" | tail -1 | cut -c7-)
        if [[ -n "$started" ]] && ! grep -qxF "END $started" "$tmp/progress.txt"; then
            echo "!!! parity: the JVM died during: $started"
            crashed+=("$started")
        fi
        attempt=$((attempt + 1))
        if (( attempt > 8 )); then
            echo "parity: giving up after 8 restarts"
            break
        fi
        say "parity: restarting with the cases not started yet (attempt $attempt)"
    done
    write_phases
fi

# Another GPU job started beside this script (run-all.sh's training-parity runs) must not share the GPU
# with the timings: WAIT_FOR names a file that job removes when done; wait for it (at most WAIT_MAX s).
if [[ -n "${WAIT_FOR:-}" && -e "${WAIT_FOR}" && ",$PHASES," == *",arunet,"* ]]; then
    say "waiting for the job beside this one to finish ($WAIT_FOR, at most ${WAIT_MAX:-120}s)"
    waited=0
    while [[ -e "$WAIT_FOR" ]] && (( waited < ${WAIT_MAX:-120} )); do sleep 2; waited=$((waited + 2)); done
    [[ -e "$WAIT_FOR" ]] && echo "!!! still running after ${waited}s: the timings below share the GPU with it"
fi

# ------------------------------------------------------------------------------------------------ 2. arunet
if [[ ",$PHASES," == *",arunet,"* && -n "$java_bin" ]]; then
    # (no NVIDIA_TF32_OVERRIDE here: fp32 convolutions ask for FMA math themselves; the tf32 rows need TF32)
    run_phase arunet "$ARUNET_BUDGET" "$out/bench-arunet.log" \
        "$java_bin" "${jopts[@]}" org.arunet.bench.gpu.GpuHarness bench --backend "$backend" \
        --json "$out/bench-arunet.json" --configs "$CONFIGS" --size "$SIZE" --width "$WIDTH" \
        --min-seconds "$MIN_SECONDS" --max-seconds "$MAX_SECONDS" --deadline $(( ARUNET_BUDGET - 35 ))
    write_phases
fi

# ------------------------------------------------------------------------------------------------ 3. torch
if [[ ",$PHASES," == *",torch,"* && -n "$py" ]]; then
    run_phase torch-check 40 "$out/bench-torch.log" "$py" "$root/benchmarks/gpu/aru_net_torch.py" check \
        --names "$bundle/java-param-names.txt" --fixture "$root/java-api/core/src/test/resources/fixtures/model_tiny.safetensors"
    run_phase torch "$TORCH_BUDGET" "$out/bench-torch.log" "$py" "$root/benchmarks/gpu/aru_net_torch.py" bench \
        --device "$torch_device" --json "$out/bench-torch.json" --configs "$CONFIGS${TORCH_EXTRA_CONFIGS:+,$TORCH_EXTRA_CONFIGS}" --size "$SIZE" \
        --width "$WIDTH" --min-seconds "$MIN_SECONDS" --max-seconds "$MAX_SECONDS" --deadline $(( TORCH_BUDGET - 35 ))
    write_phases
fi

# ------------------------------------------------------------------------------------------------ 4. profile
if [[ ",$PHASES," == *",profile,"* && -n "$java_bin" ]]; then
    run_phase profile "$PROFILE_BUDGET" "$out/profile.log" \
        "$java_bin" "${jopts[@]}" org.arunet.bench.gpu.GpuHarness profile --backend "$backend" \
        --configs "$PROFILE_CONFIGS" --size "$SIZE" --width "$WIDTH" --deadline $(( PROFILE_BUDGET - 30 ))
    write_phases
fi

# ------------------------------------------------------------------------------------------------ 5. report
write_phases
say "report (total $(elapsed)s)"
ls -l "$out"
"$report_py" "$root/benchmarks/gpu/report.py" --dir "$out" || echo "report.py failed; the phase JSON files are in $out"
