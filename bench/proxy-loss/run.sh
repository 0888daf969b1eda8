#!/bin/bash
# Quantizes stories260K and a 2-layer synthetic Llama (2048 / 5504, 16 heads) at 2 bits, seed 1, with
# the quipsharp jar $1 into folders named $2-stories and $2-synth under $3 (default: .). Run it with
# the jar of each version, then compare.py BEFORE-DIR AFTER-DIR LABEL per model.
set -e
J=$(realpath "$1"); T=$2; D=${3:-.}
M=$(realpath "$(dirname "$0")/../../../shared/models")
cd "$D"
[ -d synth ] || java -Xmx4g -jar "$J" synth-model --dim 2048 --hidden 5504 --layers 2 --heads 16 \
  --kv-heads 16 --vocab 512 --dtype f16 --seed 1 --out synth
rm -rf "$T-stories" "$T-synth"
/usr/bin/time -f "%e s %M KB" java -Xmx2g -jar "$J" quantize --model "$M/stories260K-hf" --bits 2 \
  --calibration "$M/tinystories-sample.txt" --out "$T-stories" --seed 1 > "$T-stories.log" 2>&1
/usr/bin/time -f "%e s %M KB" java -Xmx8g -jar "$J" quantize --model synth --bits 2 \
  --calibration "$M/tinystories-sample.txt" --samples 4 --seed 1 --out "$T-synth" > "$T-synth.log" 2>&1
