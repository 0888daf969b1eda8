#!/usr/bin/env bash
# Generation speed of 2 layers of Llama-3-8B's shape (dim 4096, hidden 14336, GQA 32/8, vocabulary
# 128256, untied fp16 head: `synth-model --arch llama3 --layers 2` with the real Llama 3 tokenizer) in
# fp16 and at 2, 3 and 4 bits, on 1 and 2 threads, and the share of the weight bytes read per token
# that the fp16 output layer takes at that vocabulary (issue 19's benchmark). Each measurement is the
# last JSON line of `quipsharp bench generate` plus the 1-minute load average before it
# ("load_avg_1m"; the machine may be shared), appended to
# bench/results/generation-llama3-8b-2l-<LABEL>.jsonl; a table goes to stdout.
#
#   bench/cpu/generation-llama3-8b.sh [LABEL] [TOKENS] [REPEATS]   (defaults: <arch>-<N>cpu, 64, 2)
#
# Run from the repository root after `mvn -B -ntp package -DskipTests`. The models (~3.2 GB fp16,
# ~1.2 GB per quantized copy) are written once to $QUIPSHARP_BENCH_MODELS (default
# /tmp/quipsharp-bench-models) and reused; the quantized ones use nearest rounding on one calibration
# window of 256 tokens (speed does not depend on the rounding), at nice 10.
set -euo pipefail
label=${1:-$(uname -m)-$(nproc)cpu}
tokens=${2:-64}
repeats=${3:-2}
cli=${QUIPSHARP_CLI:-java/cli/target/quipsharp.jar}
models=${QUIPSHARP_MODELS:-../shared/models}
work=${QUIPSHARP_BENCH_MODELS:-/tmp/quipsharp-bench-models}
out=bench/results/generation-llama3-8b-2l-$label.jsonl
text=$models/tinystories-sample.txt
base=$work/llama3-8b-2l
mkdir -p "$work"
q() { java -Xmx12g -jar "$cli" "$@"; }

if [ ! -d "$base" ]; then
  rm -rf "$base.tmp"
  nice -n 10 java -jar "$cli" synth-model --arch llama3 --layers 2 --tokenizer "$models/llama3-tokenizer" \
    --dtype f16 --seed 1 --out "$base.tmp" > "$base.log" 2>&1 || { cat "$base.log"; exit 1; }
  mv "$base.tmp" "$base"
fi
for bits in 2 3 4; do
  dst=$base-q$bits
  if [ ! -d "$dst" ]; then
    rm -rf "$dst.tmp"
    /usr/bin/time -v nice -n 10 java -Xmx12g -jar "$cli" quantize --model "$base" --bits "$bits" \
      --rounding nearest --samples 1 --calibration "$text" --seed 1 --out "$dst.tmp" > "$dst.log" 2>&1 \
      || { cat "$dst.log"; exit 1; }
    mv "$dst.tmp" "$dst"
  fi
done

printf '| weights | threads | run | tokens/s | weight bytes/token | head bytes/token | head share | load avg |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for r in $(seq 1 "$repeats"); do
  for w in fp q2 q3 q4; do
    path=$base
    [ "$w" = fp ] || path=$base-$w
    for t in 1 2; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      line=$(q bench generate --model "$path" --tokens "$tokens" --threads "$t" | tail -n 1)
      line="${line%\}},\"load_avg_1m\":$load,\"run\":$r}"
      echo "$line" >> "$out"
      field() { echo "$line" | sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }
      printf '| %s | %s | %s | %.2f | %s | %s | %.3f | %s |\n' "$w" "$t" "$r" "$(field tokens_per_s)" \
        "$(field weight_bytes_per_token)" "$(field head_bytes_per_token)" "$(field head_share)" "$load"
    done
  done
done
echo "appended to $out"
