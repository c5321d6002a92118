#!/usr/bin/env bash
# Compiles native/src/test/cuda/kernel_emu_test.cpp (the CUDA kernels as plain C++ through emu.h, against
# the CPU kernels) with the host compiler and runs it. Run by Maven in native's test phase; needs g++
# with C++20, OpenMP, the CUDA headers (cuda_fp16.h, no GPU) and oneDNN's headers (unpacked by the build).
#
# Without the CUDA headers it is skipped with one line (fails instead with ARUNET_REQUIRE_CUDA=1).
#
# Usage: run-emulation.sh BUILD_DIR DNNL_INCLUDE_DIR
set -euo pipefail

build_dir=${1:?usage: run-emulation.sh BUILD_DIR DNNL_INCLUDE_DIR}
dnnl_include=${2:?usage: run-emulation.sh BUILD_DIR DNNL_INCLUDE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
native=$(cd "$here/../../.." && pwd)

cuda_include=""
# ARUNET_CUDA_INCLUDE overrides the search (a folder; "none" behaves as a machine without the headers)
for d in ${ARUNET_CUDA_INCLUDE:-"${CUDA_HOME:-}/include" /usr/local/cuda/include /usr/include}; do
    if [[ -f "$d/cuda_fp16.h" ]]; then cuda_include=$d; break; fi
done
if [[ -z "$cuda_include" ]]; then
    if [[ "${ARUNET_REQUIRE_CUDA:-0}" == "1" ]]; then
        echo "run-emulation.sh: cuda_fp16.h not found (set CUDA_HOME) and ARUNET_REQUIRE_CUDA=1" >&2
        exit 1
    fi
    echo "arunet: CUDA headers not found: the CUDA kernel emulation test is skipped (it needs cuda_fp16.h, no GPU; set CUDA_HOME)"
    exit 0
fi

mkdir -p "$build_dir"
exe="$build_dir/kernel_emu_test"
sources=("$here"/*.cpp "$here"/*.h "$native"/src/main/cuda/*.cu "$native"/src/main/cuda/*.cuh "$native"/src/main/cpp/cpu/*.h)
rebuild=1
if [[ -x "$exe" ]]; then
    rebuild=0
    for f in "${sources[@]}"; do
        if [[ "$f" -nt "$exe" ]]; then rebuild=1; break; fi
    done
fi
if (( rebuild )); then
    g++ -std=c++20 -O1 -pthread -fopenmp -Wall -Wno-unknown-pragmas \
        -I "$here" -I "$native/src/main/cuda" -I "$native/src/main/cpp" -I "$dnnl_include" -I "$cuda_include" \
        "$here/kernel_emu_test.cpp" -o "$exe.tmp"
    mv "$exe.tmp" "$exe"
fi
log="$build_dir/kernel_emu_test.log"
if "$exe" > "$log" 2>&1; then
    tail -1 "$log"
else
    grep -E '^FAIL' "$log" >&2 || true
    tail -1 "$log" >&2
    echo "run-emulation.sh: kernel emulation test failed (full log: $log)" >&2
    exit 1
fi
