#!/usr/bin/env bash
# Scenario 6a, picker decision cost: the picker microbenchmark
# (bench/picker/picker_bench.cpp, Google Benchmark) pinned to core 0. One
# decision through PoolPicker::pick with the default profile (queue x2, KV
# x2, prefix x3, approx-prefix-cache-producer, max-score-picker) over 8, 64
# and 256 endpoints with a 4 KiB and a 64 KiB prompt, the prefix index
# warmed so the prompts hit; and the prompt's prefix hashing alone.
#
# Each benchmark runs REPS repetitions (Google Benchmark picks the
# iterations, at least MIN_TIME seconds per repetition); medians over the
# repetitions are reported. ns per pick is CPU time (the decision's own
# work; wall time, also shown, includes waiting for a shared core);
# picks/s = 1e9 / ns per pick, one core.
#
#   bench/scenarios/picker.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding bench/picker_bench (default build;
#   built when libbenchmark-dev is installed).
# 10 repetitions of at least 0.5 s; --quick: 3 of at least 0.05 s.
# Writes OUT_DIR/picker.md (report section) and OUT_DIR/picker.json (Google
# Benchmark's output); prints one summary line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
out=${1:?usage: picker.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
reps=10; min_time=0.5
[ "$quick" = "--quick" ] && { reps=3; min_time=0.05; }
bin=$build/bench/picker_bench
[ -x "$bin" ] || { echo "picker.sh: $bin not built (needs libbenchmark-dev; meson compile -C $build picker_bench)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d /tmp/infergate-bench-picker.XXXXXX)
bench_pid=
cleanup() {
    [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "picker: $reps repetitions of each benchmark, pinned to core 0" >&2
# Bounded: the benchmark's own run is about 11 x reps x min_time plus set-up.
timeout 600 taskset -c 0 "$bin" --benchmark_repetitions="$reps" --benchmark_min_time="$min_time" \
    --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/picker.json" --benchmark_out_format=json >"$tmp/console.txt" &
bench_pid=$!
wait "$bench_pid" || { echo "picker.sh: picker_bench failed:" >&2; tail -5 "$tmp/console.txt" >&2; exit 1; }
bench_pid=

python3 - "$out" "$reps" "$min_time" <<'PY'
import json, os, re, sys
out, reps, min_time = sys.argv[1], int(sys.argv[2]), sys.argv[3]
doc = json.load(open(os.path.join(out, "picker.json")))
NS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
rows = {}
for b in doc["benchmarks"]:
    # With repetitions, the median aggregate; a single repetition has none.
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    rows[b["run_name"]] = b
decisions, hashes, large = [], [], []
for name, b in rows.items():
    args = dict(re.findall(r"(\w+):(\d+)", name))
    scale = NS[b["time_unit"]]
    if name.startswith("BM_Decision"):
        decisions.append((int(args["endpoints"]), int(args["prompt_kib"]), b["cpu_time"] * scale,
                          b["real_time"] * scale, b.get("hit_rate")))
    elif name.startswith("BM_UniqueLargeDecision"):
        large.append((int(args["kib"]), int(args["deferred"]), b["cpu_time"] * scale))
    elif name.startswith("BM_PrefixHash"):
        hashes.append((int(args["kib"]), b["bytes_per_second"] / 1e9))
decisions.sort(key=lambda d: (d[1], d[0]))
hashes.sort()
ctx = doc.get("context", {})
lines = ["## 6a. Picker decision cost\n",
         "`bench/picker/picker_bench.cpp` (Google Benchmark), pinned to core 0: one decision through "
         "`PoolPicker::pick` with the default profile (queue-scorer ×2, kv-cache-utilization-scorer ×2, "
         "prefix-cache-scorer ×3 with approx-prefix-cache-producer, max-score-picker), the prompt hashed, matched "
         "against a warmed prefix index, scored, picked and recorded. Prompts: 32 conversations whose first 3/4 is "
         f"a system prompt shared by groups of 8. {reps} repetitions of at least {min_time} s each, medians. "
         f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, load average "
         f"{'/'.join(f'{x:.1f}' for x in ctx.get('load_avg', [])) or '?'} at the start.\n",
         "| benchmark | endpoints | prompt | ns per pick (CPU) | ns per pick (wall) | picks/s, one core | prefix hit rate |",
         "|---|---|---|---|---|---|---|"]
for ep, kib, cpu, wall, hit in decisions:
    lines.append(f"| BM_Decision | {ep} | {kib} KiB | {cpu:.0f} | {wall:.0f} | {1e9 / cpu:,.0f} "
                 f"| {'—' if hit is None else f'{hit:.2f}'} |")
if large:
    lines += ["", "Scenario 2's case (`BM_UniqueLargeDecision`): 4 endpoints, every prompt unique (no hit), each "
              "decision recording its whole chain (859 blocks for 220 KB) and evicting as many from a full LRU. "
              "The first 128 blocks are recorded at decision time, the rest after the request has gone upstream "
              "(`picker/index_backlog.hpp`): *before the request* is what delays it; *with all index work* is its "
              "whole CPU cost.", "",
              "| benchmark | prompt | µs per pick before the request (CPU) | µs per pick with all index work (CPU) |",
              "|---|---|---|---|"]
    by_kib = {}
    for kib, deferred, cpu in large:
        by_kib.setdefault(kib, {})[deferred] = cpu
    for kib, v in sorted(by_kib.items()):
        lines.append(f"| BM_UniqueLargeDecision | {kib} KiB | {v.get(1, float('nan')) / 1e3:.0f} "
                     f"| {v.get(0, float('nan')) / 1e3:.0f} |")
lines += ["", "| benchmark | prompt | prefix hashing GB/s (CPU) |", "|---|---|---|"]
for kib, gbs in hashes:
    lines.append(f"| BM_PrefixHash | {kib} KiB | {gbs:.2f} |")
lines += ["",
          "- ns per pick: the benchmark's CPU time per iteration (one decision), median over the repetitions; "
          "wall: the same in elapsed time (includes waiting for the core). picks/s: 1e9 / ns per pick (CPU).",
          "- prefix hit rate: the share of decisions whose chosen endpoint held a prefix of the prompt.",
          "- prefix hashing: prompt bytes hashed per CPU second (256-byte blocks, XXH3 chain).",
          "",
          "Targets: median decision under 5 µs (5,000 ns) for 64 endpoints and a 4 KiB prompt; hashing at least "
          "2 GB/s on one core.\n"]
open(os.path.join(out, "picker.md"), "w").write("\n".join(lines) + "\n")
by = {(ep, kib): cpu for ep, kib, cpu, _, _ in decisions}
parts = []
for kib in sorted({k for _, k in by}):
    eps = sorted(ep for ep, k in by if k == kib)
    parts.append(f"{kib} KiB prompt {'/'.join(f'{by[(e, kib)]:.0f}' for e in eps)} ns at "
                 f"{'/'.join(map(str, eps))} endpoints")
summary = "picker: default profile, CPU per pick " + "; ".join(parts)
if (64, 4) in by:
    summary += f" (64 endpoints, 4 KiB: {by[(64, 4)] / 5000:.2f}x the 5 µs target)"
gbs = dict(hashes)
if 64 in gbs:
    summary += f"; prefix hashing {gbs[64]:.1f} GB/s at 64 KiB (target ≥ 2)"
print(summary)
PY
