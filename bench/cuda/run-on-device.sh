#!/usr/bin/env bash
# The CUDA engine's checks on a GPU machine: configure + build the native tree, ctest, compute-sanitizer
# (memcheck, racecheck) on the CUDA tests, the bandwidth benchmark. Needs CMake and nvcc; no JDK, no
# network. Everything goes under $OUT (default ./cuda-out): logs, summary.txt, the benchmark JSON
# (bench.json, also copied as bench-<device>.json for bench/results/). Steps run in order of value
# (CUDA tests, benchmark, sanitizers) under one deadline, BUDGET seconds (default 540) from the start,
# so that a device session with little time left still returns the most useful files. Usage:
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
deadline=$(( start + ${BUDGET:-540} ))
step() {  # step NAME TIMEOUT_S COMMAND...: runs it, logs to $OUT/NAME.log, records the status
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s)
  local left=$(( deadline - t0 ))
  if [ "$left" -le 5 ]; then
    echo "$name skipped: the ${BUDGET:-540} s budget is spent" | tee -a "$SUMMARY"
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc ($(( $(date +%s) - t0 )) s)" | tee -a "$SUMMARY"
  return $rc
}

export PATH="$PATH:/usr/local/cuda/bin"
(nvidia-smi; nvcc --version; cmake --version) > "$OUT/environment.txt" 2>&1

step configure 60 cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQUIPSHARP_ENABLE_CUDA=ON \
  -DQUIPSHARP_CUDA_ARCHITECTURES="$ARCH" || { echo "configure failed" | tee -a "$SUMMARY"; exit 1; }
# Only what the device checks need (the CPU tests run in CI).
step build 240 cmake --build "$BUILD" --parallel "$JOBS" --target test_cuda_kernels test_cuda_engine \
  test_cuda_kernel_logic test_cuda_decode_logic quipsharp-cuda-bench \
  || { echo "build failed" | tee -a "$SUMMARY"; exit 1; }
step ctest 120 ctest --test-dir "$BUILD" --output-on-failure -R cuda
grep -E "tests passed|Skipped|Failed|\*\*\*" "$OUT/ctest.log" >> "$SUMMARY"

# JSON on stdout -> bench.json; progress on stderr -> bench.log.
step bench 180 sh -c "\"$BUILD/quipsharp-cuda-bench\" > \"$OUT/bench.json\""
name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9-')
cp "$OUT/bench.json" "$OUT/bench-cuda-${name:-unknown}.json"
grep -A3 '"summary"' "$OUT/bench.json" >> "$SUMMARY"

SAN=$(command -v compute-sanitizer || true)
if [ -n "$SAN" ]; then
  for tool in memcheck racecheck; do
    QUIPSHARP_TEST_QUICK=1 step "sanitizer-$tool-kernels" 120 "$SAN" --tool "$tool" --error-exitcode 3 \
      "$BUILD/test_cuda_kernels"
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Hazard" "$OUT/sanitizer-$tool-kernels.log" | head -5 >> "$SUMMARY"
  done
  step sanitizer-memcheck-engine 30 "$SAN" --tool memcheck --error-exitcode 3 "$BUILD/test_cuda_engine"
else
  echo "compute-sanitizer not found: sanitizer runs skipped" | tee -a "$SUMMARY"
fi

echo "total $(( $(date +%s) - start )) s" | tee -a "$SUMMARY"
