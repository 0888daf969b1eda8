#!/usr/bin/env bash
# The CUDA engine's checks on a GPU machine: configure + build the native tree, ctest, compute-sanitizer
# (memcheck, racecheck) on the CUDA tests, the bandwidth benchmark. Needs CMake and nvcc; no JDK, no
# network. Everything goes under $OUT (default ./cuda-out): logs, summary.txt, the benchmark JSON
# (bench.json, also copied as bench-<device>.json for bench/results/). Sized for < 8 minutes on an
# H200 with 16 cores. Usage, from anywhere:
#   OUT=/tmp/out bench/cuda/run-on-device.sh            # ARCH=90 (default; "native" = this GPU's)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$PWD/cuda-out}
BUILD=${BUILD:-/tmp/quipsharp-build-cuda}
JOBS=${JOBS:-$(nproc)}
ARCH=${ARCH:-90}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
start=$(date +%s)
step() {  # step NAME TIMEOUT_S COMMAND...: runs it, logs to $OUT/NAME.log, records the status
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc ($(( $(date +%s) - t0 )) s)" | tee -a "$SUMMARY"
  return $rc
}

export PATH="$PATH:/usr/local/cuda/bin"
(nvidia-smi; nvcc --version; cmake --version) > "$OUT/environment.txt" 2>&1

step configure 120 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQUIPSHARP_ENABLE_CUDA=ON \
  -DQUIPSHARP_CUDA_ARCHITECTURES="$ARCH" || { echo "configure failed" | tee -a "$SUMMARY"; exit 1; }
step build 300 cmake --build "$BUILD" --parallel "$JOBS" || { echo "build failed" | tee -a "$SUMMARY"; exit 1; }
step ctest 240 ctest --test-dir "$BUILD" --output-on-failure
grep -E "tests passed|Skipped|Failed|\*\*\*" "$OUT/ctest.log" >> "$SUMMARY"

SAN=$(command -v compute-sanitizer || true)
if [ -n "$SAN" ]; then
  for tool in memcheck racecheck; do
    QUIPSHARP_TEST_QUICK=1 step "sanitizer-$tool-kernels" 150 "$SAN" --tool "$tool" --error-exitcode 3 \
      "$BUILD/test_cuda_kernels"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Hazard" "$OUT/sanitizer-$tool-kernels.log" | head -5 >> "$SUMMARY"
  done
  step sanitizer-memcheck-engine 60 "$SAN" --tool memcheck --error-exitcode 3 "$BUILD/test_cuda_engine"
else
  echo "compute-sanitizer not found: sanitizer runs skipped" | tee -a "$SUMMARY"
fi

# JSON on stdout -> bench.json; progress on stderr -> bench.log.
step bench 300 sh -c "\"$BUILD/quipsharp-cuda-bench\" > \"$OUT/bench.json\""
name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')
cp "$OUT/bench.json" "$OUT/bench-cuda-${name:-unknown}.json"
grep -A3 '"summary"' "$OUT/bench.json" >> "$SUMMARY"
echo "total $(( $(date +%s) - start )) s" | tee -a "$SUMMARY"
