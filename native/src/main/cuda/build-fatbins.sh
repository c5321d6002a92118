#!/usr/bin/env bash
# Builds arunet's CUDA kernels: every native/src/main/cuda/*.cu becomes <name>.fatbin in OUT_DIR with
# machine code for sm_80 (A100) and sm_90 (H100, H200) and PTX for compute_90 (any newer GPU, compiled
# by the driver at load time), uncompressed so that tests can read the PTX. Also writes
# OUT_DIR/kernels.index (one module name per line), which CudaBackend reads to load the modules with
# the driver API (cuModuleLoadData). Without nvcc it writes OUT_DIR/kernels.absent (the reason) instead.
#
# Usage: build-fatbins.sh OUT_DIR            (run by Maven in native's generate-resources phase)
# Environment: NVCC (default: nvcc on PATH), ARUNET_NVCC_JOBS (parallel compilations, default 2),
# ARUNET_REQUIRE_CUDA=1 (fail when nvcc is missing instead of building without the kernels).
# A module is rebuilt only when its .cu, a .cuh or this script is newer than its fatbin.
set -euo pipefail

out_dir=${1:?usage: build-fatbins.sh OUT_DIR}
src_dir=$(cd "$(dirname "$0")" && pwd)
nvcc_bin=${NVCC:-nvcc}
jobs=${ARUNET_NVCC_JOBS:-2}

if ! command -v "$nvcc_bin" >/dev/null 2>&1; then
    if [[ "${ARUNET_REQUIRE_CUDA:-0}" == "1" ]]; then
        echo "build-fatbins.sh: nvcc not found (NVCC=$nvcc_bin) and ARUNET_REQUIRE_CUDA=1: install the CUDA toolkit (nvcc 12.8 or newer)" >&2
        exit 1
    fi
    # A machine without the CUDA toolkit builds everything else; the GPU backend then reports that
    # this build has no CUDA kernels. No stale kernels from an earlier build are left behind.
    mkdir -p "$out_dir"
    rm -f "$out_dir"/kernels.index "$out_dir"/*.fatbin
    echo "built without nvcc ($nvcc_bin not found)" > "$out_dir/kernels.absent"
    echo "arunet: nvcc not found: building without the CUDA kernels (the CPU backend is unaffected; the GPU backend will report that this build has none)"
    exit 0
fi

mkdir -p "$out_dir"
rm -f "$out_dir/kernels.absent"
flags=(-fatbin -std=c++17 -O3 --compress-mode=none
       -gencode arch=compute_80,code=sm_80
       -gencode arch=compute_90,code=sm_90
       -gencode arch=compute_90,code=compute_90
       -Xptxas -warn-spills -Werror all-warnings)

newest_dep=$(ls -t "$src_dir"/*.cuh "$0" | head -1)
: > "$out_dir/kernels.index.tmp"
to_build=()
for cu in "$src_dir"/*.cu; do
    name=$(basename "$cu" .cu)
    echo "$name" >> "$out_dir/kernels.index.tmp"
    fatbin="$out_dir/$name.fatbin"
    if [[ -f "$fatbin" && "$fatbin" -nt "$cu" && "$fatbin" -nt "$newest_dep" ]]; then
        continue
    fi
    to_build+=("$cu")
done
mv "$out_dir/kernels.index.tmp" "$out_dir/kernels.index"

if (( ${#to_build[@]} == 0 )); then
    echo "build-fatbins.sh: kernels up to date in $out_dir"
    exit 0
fi

build_one() {
    local cu=$1 name
    name=$(basename "$cu" .cu)
    # build into a temporary name, so that an interrupted build never leaves a truncated fatbin behind
    "$nvcc_bin" "${flags[@]}" -I "$src_dir" -o "$out_dir/$name.fatbin.tmp" "$cu" \
        && mv "$out_dir/$name.fatbin.tmp" "$out_dir/$name.fatbin"
}
echo "build-fatbins.sh: $("$nvcc_bin" --version | tail -1): ${#to_build[@]} module(s) into $out_dir"
status=0
pids=()
for cu in "${to_build[@]}"; do
    build_one "$cu" &
    pids+=($!)
    if (( ${#pids[@]} >= jobs )); then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
if (( status != 0 )); then
    echo "build-fatbins.sh: nvcc failed (see the messages above)" >&2
    exit 1
fi
ls -l "$out_dir"/*.fatbin
