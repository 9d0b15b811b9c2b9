#!/bin/sh
# Runs the picker microbenchmark pinned to one core and writes the results
# (console table and JSON) under bench/results/.
#   bench/scripts/picker_bench.sh [CPU] [extra benchmark flags...]
# CPU defaults to the last one. Build first: ninja -C build bench/picker_bench
set -eu
cd "$(dirname "$0")/../.."
cpu=${1:-$(($(nproc) - 1))}
[ $# -gt 0 ] && shift
bin=build/bench/picker_bench
[ -x "$bin" ] || { echo "build $bin first (ninja -C build bench/picker_bench)" >&2; exit 1; }
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/picker_bench-$stamp
taskset -c "$cpu" "$bin" \
  --benchmark_repetitions=10 \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out.json" --benchmark_out_format=json \
  "$@" | tee "$out.txt"
echo "results: $out.txt, $out.json" >&2
