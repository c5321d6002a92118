#!/usr/bin/env bash
# benchmarks/gpu/prepare.sh — run HERE (the CPU machine), from the repository root, before a GPU run.
#
# Builds everything the GPU machine needs into target/gpu-bundle/ (git-ignored; name it in the device
# tool's `carry`):
#   rt.tgz                      a jlink'ed Java 17 runtime (java.base, jdk.unsupported), compressed
#   arunet-gpu.jar              a thin jar: arunet's classes and CUDA kernels, JavaCPP, the CUDA preset's
#                               classes and only its cudart, cudnn and cublas JNI libraries, slf4j, Jackson
#                               (no oneDNN, OpenCV or OpenBLAS: the GPU side never touches the CPU backend)
#   parity-expected.safetensors every parity case's inputs and the CPU backend's outputs
#   java-param-names.txt        the default ARU-Net's parameter names and shapes (the PyTorch peer checks them)
#   MANIFEST.txt                what was built, from which commit, sizes
# and prints the size of everything that travels (this bundle plus the repository's tracked files).
#
# Usage: benchmarks/gpu/prepare.sh            (needs Maven's local repository, a JDK 17 with jlink, nvcc)
# Environment: BUNDLE (default target/gpu-bundle).
set -euo pipefail

root=$(pwd)
if [[ ! -f "$root/pom.xml" || ! -d "$root/benchmarks/gpu" ]]; then
    echo "prepare.sh: run from the repository root" >&2
    exit 2
fi
bundle=${BUNDLE:-$root/target/gpu-bundle}
work="$root/target/gpu-prepare"
rm -rf "$bundle" "$work"
mkdir -p "$bundle" "$work/stage"

step() { printf '\n== %s\n' "$*"; }

# ------------------------------------------------------------------------------------------------ build
step "building native (with the CUDA kernels), java-api/{core,cuda,testkit}, datasets, java-api and the GPU harness (tests skipped)"
# one invocation: the reactor resolves arunet's own modules to the jars it just built
mvn -B -o -q -DskipTests package dependency:build-classpath -pl benchmarks/gpu -am \
    -Dmdep.outputFile="$work/deps.txt"
tr ':' '\n' < "$work/deps.txt" | grep -v '^$' > "$work/deps.lines"
full_cp="$root/benchmarks/gpu/target/classes:$(paste -sd: "$work/deps.lines")"

# ------------------------------------------------------------------------------------------------ thin jar
step "thin jar"
stage="$work/stage"
cp -r "$root/benchmarks/gpu/target/classes/." "$stage/"
unpack() { (cd "$stage" && unzip -q -o "$@"); }
# ServiceLoader registrations of different jars share a file name (arunet-core registers the cpu and
# reference backends, arunet-cuda the cuda one): collect them all instead of letting the last unzip win.
mkdir -p "$work/services"
keep_services() {
    rm -rf "$work/svc" && mkdir -p "$work/svc"
    (cd "$work/svc" && unzip -q -o "$1" 'META-INF/services/*' 2>/dev/null) || return 0
    for f in "$work/svc"/META-INF/services/*; do
        [[ -f "$f" ]] && { cat "$f"; echo; } >> "$work/services/$(basename "$f")"
    done
    return 0
}
strip_signatures=(-x 'META-INF/*.SF' 'META-INF/*.DSA' 'META-INF/*.RSA' 'META-INF/MANIFEST.MF' 'module-info.class')
while read -r jar; do
    base=$(basename "$jar")
    case "$base" in
        arunet-native-*.jar)
            # the CPU backend's JNI library links oneDNN: it stays home; the fatbins and bindings go
            unpack "$jar" "${strip_signatures[@]}" 'org/arunet/jni/linux-x86_64/*' ;;
        arunet-*.jar|javacpp-*.jar|slf4j-api-*.jar|slf4j-simple-*.jar|jackson-*.jar)
            unpack "$jar" "${strip_signatures[@]}"
            keep_services "$jar" ;;
        cuda-*-linux-x86_64.jar)
            # only the JNI libraries arunet uses: cudart (runtime and driver API), cudnn, cublas
            unpack "$jar" 'org/bytedeco/cuda/linux-x86_64/libjnicudart.so' \
                'org/bytedeco/cuda/linux-x86_64/libjnicudnn.so' 'org/bytedeco/cuda/linux-x86_64/libjnicublas.so' ;;
        cuda-*.jar)
            # the bindings of cudart (with the driver API), cudnn and cublas, and every preset class (they
            # inherit from each other); not NPP, cuFFT, cuSOLVER, cuSPARSE, cuRAND, NCCL, nvJPEG, ...
            unpack "$jar" 'org/bytedeco/cuda/cudart/*' 'org/bytedeco/cuda/cudnn/*' 'org/bytedeco/cuda/cublas/*' \
                'org/bytedeco/cuda/presets/*' 'org/bytedeco/cuda/global/cudart.class' \
                'org/bytedeco/cuda/global/cudnn.class' 'org/bytedeco/cuda/global/cublas.class' ;;
        *) ;;  # oneDNN, OpenCL, OpenCV, OpenBLAS, commons-math, xchart, JUnit: not needed on the GPU side
    esac
done < "$work/deps.lines"
if compgen -G "$work/services/*" >/dev/null; then
    mkdir -p "$stage/META-INF/services"
    for f in "$work/services"/*; do grep -v '^[[:space:]]*$' "$f" | sort -u > "$stage/META-INF/services/$(basename "$f")"; done
fi
# JavaCPP reads the presets' versions from META-INF/maven/org.bytedeco/*/pom.properties: keep those
find "$stage/META-INF/maven" -mindepth 1 -maxdepth 1 ! -name org.bytedeco -exec rm -rf {} + 2>/dev/null || true
rm -rf "$stage/META-INF/native-image"
find "$stage/META-INF/versions" -name module-info.class -delete 2>/dev/null || true
printf 'Main-Class: org.arunet.bench.gpu.GpuHarness\n' > "$work/manifest.txt"
jar --create --file "$bundle/arunet-gpu.jar" --manifest "$work/manifest.txt" -C "$stage" .
ls -l "$bundle/arunet-gpu.jar"
unzip -l "$bundle/arunet-gpu.jar" | grep -E '\.so$|\.fatbin$' || true
if unzip -l "$bundle/arunet-gpu.jar" | grep -qE 'dnnl|opencv|openblas|libjniArunetNative'; then
    echo "prepare.sh: the thin jar holds CPU-side native libraries" >&2
    exit 1
fi

# ------------------------------------------------------------------------------------------------ runtime
step "jdeps of the thin jar (for the record; the runtime keeps java.base and jdk.unsupported only)"
jdeps --multi-release 17 --ignore-missing-deps --print-module-deps "$bundle/arunet-gpu.jar" 2>&1 | tee "$work/jdeps.txt" || true
echo "(modules beyond java.base and jdk.unsupported come from classes the GPU side never loads: charts,"
echo " images and JavaCPP's build tools (java.desktop), JavaCPP's optional MXBean (java.management),"
echo " Jackson's optional date types (java.sql); REHEARSAL=1 run-on-gpu.sh runs the GPU code paths on it)"
step "jlink runtime"
jlink --add-modules java.base,jdk.unsupported --strip-debug --no-header-files --no-man-pages --compress=2 \
    --output "$work/rt"
"$work/rt/bin/java" -version 2>&1 | head -1
tar -C "$work" -czf "$bundle/rt.tgz" rt
du -sh "$work/rt" "$bundle/rt.tgz"

# ------------------------------------------------------------------------------------------------ expected results
step "expected parity results (CPU backend)"
java -Xss4m -Xmx8g -Dorg.bytedeco.javacpp.cachedir="$root/target/javacpp-cache" -cp "$full_cp" \
    org.arunet.bench.gpu.GpuHarness expected --out "$bundle/parity-expected.safetensors"
java -Xss4m -Xmx8g -Dorg.bytedeco.javacpp.cachedir="$root/target/javacpp-cache" -cp "$full_cp" \
    org.arunet.bench.gpu.GpuHarness names --out "$bundle/java-param-names.txt"

# ------------------------------------------------------------------------------------------------ manifest, sizes
step "sizes"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain 2>/dev/null | grep -c . || true)
tracked=$(git -C "$root" ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
untracked=$(git -C "$root" ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
bundle_bytes=$(du -sb "$bundle" | cut -f1)
total=$(( tracked + ${untracked:-0} + bundle_bytes ))
{
    echo "arunet GPU bundle, commit $commit ($dirty uncommitted changes), built $(date -u +%FT%TZ) on $(hostname)"
    echo "java: $(java -version 2>&1 | head -1); nvcc: $(nvcc --version | tail -1)"
    (cd "$bundle" && find . -type f -printf '%10s  %p\n' | sort -k2)
    printf 'bundle %s bytes; tracked files %s bytes; untracked, not ignored %s bytes; travels %s bytes (%.1f MiB of 64 MiB)\n' \
        "$bundle_bytes" "$tracked" "${untracked:-0}" "$total" "$(echo "$total / 1048576" | bc -l)"
} | tee "$bundle/MANIFEST.txt"
if (( total > 60 * 1048576 )); then
    echo "prepare.sh: what travels is over 60 MiB; the device tool accepts 64 MiB" >&2
    exit 1
fi
echo
echo "carry: target/gpu-bundle    then run: bash benchmarks/gpu/run-on-gpu.sh"
