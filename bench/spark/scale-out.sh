#!/usr/bin/env bash
# Spark scale-out benchmark: Phase A (Hessians) and Phase B (quantization) wall times of
# `quipsharp-spark-local.jar quantize` on the synthetic 4096/11008 model with local[1] and local[2]
# (one native thread per task, so local[N] means N cores), and the speedup. Prints a table and
# writes bench/results/spark-scaleout-<label>.json.
#
#   bench/spark/scale-out.sh [LAYERS] [WINDOWS] [LABEL]     (defaults: 1 layer, 4 windows of 256)
#
# Run from the repository root after `mvn -B -ntp package -DskipTests`. Needs ~6 GiB of memory and
# ../shared/models/tinystories-sample.txt.
set -euo pipefail
layers=${1:-1}
windows=${2:-4}
label=${3:-$(uname -m)-$(nproc)cpu}
cli=java/cli/target/quipsharp.jar
jar=java/spark/target/quipsharp-spark-local.jar
text=${QUIPSHARP_MODELS:-../shared/models}/tinystories-sample.txt
work=$(mktemp -d "${TMPDIR:-/tmp}/quipsharp-spark-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

java -jar "$cli" synth-model --dim 4096 --hidden 11008 --layers "$layers" --heads 32 --kv-heads 32 \
  --vocab 512 --dtype f16 --seed 1 --out "$work/synth" > /dev/null

declare -A a b total load
for n in 1 2; do
  log="$work/local$n.log"
  load[$n]=$(cut -d' ' -f1 /proc/loadavg)   # other work on the machine skews the figures
  start=$(date +%s.%N)
  java -Xmx12g -Dspark.ui.enabled=false -jar "$jar" quantize --master "local[$n]" \
    --model "$work/synth" --calibration "$text" --bits 2 --samples "$windows" --seed 1 \
    --out "$work/out$n" > "$log" 2>&1 || { cat "$log"; exit 1; }
  end=$(date +%s.%N)
  a[$n]=$(sed -n 's/^Phase A took \([0-9.]*\) s$/\1/p' "$log")
  b[$n]=$(sed -n 's/^Phase B took \([0-9.]*\) s$/\1/p' "$log")
  total[$n]=$(echo "$end - $start" | bc -l)
  grep -E '^\s+\[(hessians|quantize) ' "$log" | sed "s/^/local[$n] /"
done
cmp -s "$work/out1/model.safetensors" "$work/out2/model.safetensors" && same=true || same=false

speed() { echo "scale=2; $1 / $2" | bc -l; }
printf '\n%-28s %12s %12s %8s\n' "synthetic 4096/11008, $layers layer(s), $windows windows" "local[1] s" "local[2] s" speedup
printf '%-28s %12.1f %12.1f %7sx\n' "Phase A (Hessians)" "${a[1]}" "${a[2]}" "$(speed "${a[1]}" "${a[2]}")"
printf '%-28s %12.1f %12.1f %7sx\n' "Phase B (quantization)" "${b[1]}" "${b[2]}" "$(speed "${b[1]}" "${b[2]}")"
printf '%-28s %12.1f %12.1f %7sx\n' "whole command (JVM to exit)" "${total[1]}" "${total[2]}" "$(speed "${total[1]}" "${total[2]}")"
echo "local[1] and local[2] checkpoints byte-identical: $same"
echo "1-minute load average before each run: local[1] ${load[1]}, local[2] ${load[2]} (on $(nproc) CPUs)"

mkdir -p bench/results
cat > "bench/results/spark-scaleout-$label.json" <<JSON
{
  "benchmark": "spark scale-out, synthetic 4096/11008 f16, 2 bits, BlockLDLQ + 10 passes",
  "layers": $layers, "windows": $windows, "ctx": 256, "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)",
  "nproc": $(nproc),
  "local1": {"phase_a_s": ${a[1]}, "phase_b_s": ${b[1]}, "total_s": ${total[1]}, "load_before": ${load[1]}},
  "local2": {"phase_a_s": ${a[2]}, "phase_b_s": ${b[2]}, "total_s": ${total[2]}, "load_before": ${load[2]}},
  "speedup": {"phase_a": $(speed "${a[1]}" "${a[2]}"), "phase_b": $(speed "${b[1]}" "${b[2]}"), "total": $(speed "${total[1]}" "${total[2]}")},
  "checkpoints_identical": $same
}
JSON
echo "wrote bench/results/spark-scaleout-$label.json"
