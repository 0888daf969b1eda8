#!/bin/bash
# End-to-end fine-tuning cost by depth on synthetic 4096/11008 models (README "Fine-tuning: memory
# and time per block"). Writes the 2-layer model and its 2-bit checkpoint (nearest rounding: the
# cost of tuning does not depend on the codes' values) unless WORK already has them, repeats its
# layers into 4- and 8-layer copies (bench RepeatLayers), then tunes each in a fresh JVM under
# /usr/bin/time -v and appends one JSON line per model to OUT (bench FineTuneScale).
#
#   bench/finetune/scale.sh WORK OUT.jsonl [CTX] [WINDOWS] [EPOCHS]
# (QUIPSHARP_CLI_JAR / QUIPSHARP_BENCH_JAR: other copies of the two jars, e.g. while rebuilding)
set -euo pipefail
WORK=${1:?work folder}
OUT=${2:?output .jsonl}
CTX=${3:-64}
WINDOWS=${4:-6}
EPOCHS=${5:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLI=${QUIPSHARP_CLI_JAR:-$ROOT/java/cli/target/quipsharp.jar}
BENCH=${QUIPSHARP_BENCH_JAR:-$ROOT/bench/target/benchmarks.jar}
TEXT="$ROOT/../shared/models/tinystories-sample.txt"
JAVA="nice java -Dorg.bytedeco.javacpp.maxPhysicalBytes=0"
mkdir -p "$WORK"
cd "$WORK"
[ -d synth-2 ] || $JAVA -Xmx2g -jar "$CLI" synth-model --dim 4096 --hidden 11008 --layers 2 \
    --heads 32 --kv-heads 32 --vocab 512 --dtype f16 --seed 1 --out synth-2
[ -f synth-2-q2/config.json ] || $JAVA -Xmx8g -jar "$CLI" quantize --model synth-2 --bits 2 \
    --calibration "$TEXT" --samples 1 --rounding nearest --seed 1 --out synth-2-q2
for F in 2 4; do
  L=$((2 * F))
  [ -d synth-$L ] || $JAVA -cp "$BENCH" io.github.quipsharp.bench.RepeatLayers synth-2 $F synth-$L
  [ -d synth-$L-q2 ] || $JAVA -cp "$BENCH" io.github.quipsharp.bench.RepeatLayers synth-2-q2 $F synth-$L-q2
done
for L in 2 4 8; do
  rm -rf "tuned-$L"
  /usr/bin/time -v $JAVA -Xmx3g -cp "$BENCH" io.github.quipsharp.bench.FineTuneScale \
      synth-$L synth-$L-q2 "$TEXT" "$CTX" "$WINDOWS" "$EPOCHS" "tuned-$L" "$OUT" \
      2> "time-$L.log"
  grep -E "Maximum resident|Elapsed" "time-$L.log"
  rm -rf "tuned-$L"
done
