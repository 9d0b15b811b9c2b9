#!/usr/bin/env bash
# Scenario 2, large prompts (the Gateway API Inference Extension's issue
# 2928 case): streaming /v1/completions with unique ~220 KB prompts
# (infergate-loadgen --workload random --prompt-tokens 55000, 16 output
# tokens) in a closed loop at concurrency 20, 60, 100 and 150, through
# infergate with the full default picker profile (no scheduler section:
# queue-scorer x2, kv-cache-utilization-scorer x2, prefix-cache-scorer x3
# with its approx-prefix-cache-producer hashing every prompt,
# max-score-picker) to 4 infergate-sim replicas, and the same load sent
# straight to the 4 replicas (the load generator's round-robin over 4
# targets).
#
# The replicas run at --time-scale 1000 (otherwise the default calibration),
# so a 55k-token prefill (about 3 simulated seconds) takes about 3 real ms:
# the replicas are near-instant and the proxy's own cost shows. The load
# generator runs at time scale 1: every figure here is real time.
#
# Pinning: infergate (one worker) alone on core 0; the 4 replicas and the
# load generator on core 1, for both paths. infergate gets a core of its
# own as an endpoint picker or gateway would in a deployment, and the
# direct path runs the same replicas and generator on the same core, so
# the ratio says what putting infergate in the path costs the client.
#
# Per concurrency and path: requests/s (ok responses / wall), TTFT p50/p99
# (issue -> first text event, as the load generator defines it). infergate's
# own added latency comes from its admin /metrics histograms
# infergate_request_added_latency_seconds and
# infergate_response_added_latency_seconds, scraped before and after each
# run: p50/p99 of the bucket deltas, linearly interpolated inside a bucket
# (an estimate at bucket resolution). The generator's CPU seconds against
# the run's wall seconds, and infergate's, show which side was the limit.
#
# Each concurrency runs RUNS times on both paths, infergate and direct back
# to back within a run, the one that goes first alternating between
# concurrencies and runs, so drift on the machine hits both paths alike.
# Every load has its own seed. Figures are medians over the runs; the
# throughput ratio is infergate/direct within each run (a ratio measured in
# one run), then the median of those ratios.
#
#   bench/scenarios/prompts.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding infergate, bench/infergate-sim and
#   bench/infergate-loadgen (default build).
#   RUNS=n: runs per concurrency and path instead of the mode's (3; --quick 1).
# max(12 x concurrency, 600) requests per load, 3 runs (about 6 minutes in
# all); --quick: concurrency 20 and 100 only, max(6 x concurrency, 300)
# requests, 1 run (about 20 s).
# Writes OUT_DIR/prompts.md (report section), OUT_DIR/prompts.tsv (a line
# per run, concurrency and path), OUT_DIR/prompts-rps.png and
# OUT_DIR/prompts-added.png when gnuplot is installed; prints one summary
# line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
out=${1:?usage: prompts.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
levels=(20 60 100 150); per_conn=12; min_reqs=600; runs=3
[ "$quick" = "--quick" ] && { levels=(20 100); per_conn=6; min_reqs=300; runs=1; }
runs=${RUNS:-$runs}
scale=1000; prompt_tokens=55000; output_tokens=16; replicas=4
sim=$build/bench/infergate-sim
loadgen=$build/bench/infergate-loadgen
for b in "$build/infergate" "$sim" "$loadgen"; do
    [ -x "$b" ] || { echo "prompts.sh: $b not built" >&2; exit 1; }
done
mkdir -p "$out"
. bench/scenarios/common.sh
bench_init prompts


# --- the replicas (common.sh), and the targets of the direct path
time_scale=$scale; tokens_per_event=1
start_sims
targets=()
for p in "${sim_ports[@]}"; do targets+=(--target "http://127.0.0.1:$p"); done

# --- infergate: one worker, the default picker profile (no scheduler).
proxy_port=$(free_port); admin_port=$(free_port)
infergate_yaml "$proxy_port" "$admin_port" "" "" "${sim_ports[@]/#/127.0.0.1:}" >"$tmp/infergate.yaml"
taskset -c 0 "$build/infergate" --config "$tmp/infergate.yaml" >"$tmp/infergate.log" 2>&1 &
proxy_pid=$!
pids+=("$proxy_pid")
wait_port "$proxy_port"
wait_port "$admin_port"
wait_fresh "$admin_port" "$replicas"  # before the first request

hz=$(getconf CLK_TCK)
scrape() { curl -sf "http://127.0.0.1:$admin_port/metrics" >"$1"; }
# Busy and total clock ticks of cores 0 and 1 (/proc/stat), to tell how much
# of each core other work took during a run (the machine may be shared).
cores() { awk '/^cpu[01] / { b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; printf "%s %d %d ", $1, b, t }' /proc/stat; }
# Every load its own seed (warm-ups, paths, concurrencies and runs alike):
# no load repeats another's prompts, so neither the replicas' prefix caches
# nor infergate's prefix index ever hit.
seed=0
load() {  # load PATH CONCURRENCY REQUESTS SUMMARY
    local to=("--target" "http://127.0.0.1:$proxy_port")
    [ "$1" = direct ] && to=("${targets[@]}")
    seed=$((seed + 1))
    taskset -c 1 "$loadgen" "${to[@]}" --workload random --prompt-tokens "$prompt_tokens" \
        --output-tokens "$output_tokens" --concurrency "$2" --requests "$3" --timeout 60 \
        --seed "$seed" --summary "$4" 2>>"$tmp/loadgen.log"
}

# Warm-up on both paths (connections, pools, page cache), not measured.
load infergate 20 100 "$tmp/warm.json"
load direct 20 100 "$tmp/warm.json"

: >"$out/prompts.tsv"
for r in $(seq "$runs"); do
    for li in "${!levels[@]}"; do
        c=${levels[$li]}
        n=$((c * per_conn)); [ "$n" -lt "$min_reqs" ] && n=$min_reqs
        paths=(infergate direct)
        (( (r + li) % 2 == 0 )) && paths=(direct infergate)
        for path in "${paths[@]}"; do
            printf '\rprompts: run %d/%d, concurrency %d, %s, %d requests        ' "$r" "$runs" "$c" "$path" "$n" >&2
            # One round at this concurrency first, not measured: the
            # connections a steady load at this level holds (infergate's
            # upstream pool idles out after 4 s, e.g. during the other
            # path's run), so that the measured run shows the steady state
            # and not c upstream connects queued behind c bodies of 220 KB
            # arriving at once (measured: added p99 78 ms at c=100 without).
            load "$path" "$c" "$c" "$tmp/warm.json"
            scrape "$tmp/before.txt"
            t0=$(ticks "$proxy_pid"); c0=$(cores)
            load "$path" "$c" "$n" "$tmp/$path-$c.json"
            t1=$(ticks "$proxy_pid"); c1=$(cores)
            scrape "$tmp/after.txt"
            python3 bench/scripts/prompts_run.py "$r" "$path" "$c" "$tmp/$path-$c.json" \
                "$tmp/before.txt" "$tmp/after.txt" "$(( t1 - t0 ))" "$hz" "$c0" "$c1" >>"$out/prompts.tsv"
        done
    done
done
printf '\n' >&2

python3 bench/scripts/prompts_report.py "$out" "$scale" "$prompt_tokens" "$output_tokens" \
    "$replicas" "$per_conn" "$min_reqs" "$runs" "$quick" "${levels[@]}"
