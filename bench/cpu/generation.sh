#!/usr/bin/env bash
# Generation speed (tokens/s, one token at a time over the KV cache) of the synthetic Llama-shaped
# model (dim 4096, hidden 11008, 2 layers, vocab 512) in fp16 and at 2, 3 and 4 bits, and of
# stories260K (fp32 and 2/3/4 bits), on 1 and on all threads. Writes one JSON object per run (the last
# line of `quipsharp bench generate`) to bench/results/generation-<LABEL>.jsonl and prints a table.
#
#   bench/cpu/generation.sh [LABEL] [TOKENS]      (defaults: <arch>-<N>cpu, 128 tokens after 4 warm-up;
#                                                   stories260K runs at most 507, its context allows no more)
#
# Run from the repository root after `mvn -B -ntp package -DskipTests`. The quantized synthetic models
# use nearest rounding on one calibration window (speed does not depend on the rounding); they are
# written once to $QUIPSHARP_BENCH_MODELS (default /tmp/quipsharp-bench-models, ~1.3 GB) and reused.
set -euo pipefail
label=${1:-$(uname -m)-$(nproc)cpu}
tokens=${2:-128}
cli=java/cli/target/quipsharp.jar
models=${QUIPSHARP_MODELS:-../shared/models}
work=${QUIPSHARP_BENCH_MODELS:-/tmp/quipsharp-bench-models}
out=bench/results/generation-$label.jsonl
text=$models/tinystories-sample.txt
mkdir -p "$work"
q() { java -jar "$cli" "$@"; }

if [ ! -d "$work/synth" ]; then
  rm -rf "$work/synth.tmp"
  q synth-model --dim 4096 --hidden 11008 --layers 2 --heads 32 --kv-heads 32 --vocab 512 \
    --dtype f16 --seed 1 --out "$work/synth.tmp" > "$work/synth.log" 2>&1 || { cat "$work/synth.log"; exit 1; }
  mv "$work/synth.tmp" "$work/synth"
fi
for bits in 2 3 4; do
  for m in synth stories; do
    src=$work/synth; [ "$m" = stories ] && src=$models/stories260K-hf
    dst=$work/$m-q$bits
    if [ ! -d "$dst" ]; then
      rm -rf "$dst.tmp"
      q quantize --model "$src" --bits "$bits" --rounding nearest --samples 1 --calibration "$text" \
        --seed 1 --out "$dst.tmp" > "$dst.log" 2>&1 || { cat "$dst.log"; exit 1; }
      mv "$dst.tmp" "$dst"
    fi
  done
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf '| model | weights | threads | tokens | tokens/s |\n|---|---|---|---|---|\n'
for m in synth stories; do
  # stories260K's context is 512 positions: 1 prompt token + 4 warm-up steps + at most 507.
  n=$tokens
  [ "$m" = stories ] && [ "$n" -gt 507 ] && n=507
  for w in fp q2 q3 q4; do
    path=$work/$m-$w
    [ "$w" = fp ] && path=$work/synth
    [ "$w" = fp ] && [ "$m" = stories ] && path=$models/stories260K-hf
    for t in 1 $(nproc); do
      line=$(q bench generate --model "$path" --tokens "$n" --threads "$t" | tail -n 1)
      echo "$line" >> "$tmp"
      tps=$(echo "$line" | sed -n 's/.*"tokens_per_s":\([0-9.eE+-]*\).*/\1/p')
      printf '| %s | %s | %s | %s | %.1f |\n' "$m" "$w" "$t" "$n" "$tps"
    done
  done
done
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out"
