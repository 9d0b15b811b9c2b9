#!/usr/bin/env bash
# Scenario 5, overload and priority: does infergate keep the critical class
# fast while the fleet is overloaded, by shedding the sheddable class?
#
# Fleet: 4 infergate-sim replicas, default calibration (one H100 serving
# Llama-3.1-8B each: 256 sequences, 8192-token steps, 26,300 KV blocks) at
# --time-scale 2 (simulated time runs twice as fast as
# real time; every figure below is simulated time, the load generator
# running at the same scale). Workload: unique random prompts of 1,000
# tokens, 64 output tokens, streamed, one SSE event per token. The scale is
# bounded by the event rate on core 1 (4 replicas + generator, ~6,000
# tokens/s simulated at capacity, times the scale): on the 2-vCPU machine
# the measured capacity was 93 requests/s at scale 2, 89 at 4, and 45 at
# 8 with other builds running: the replicas fell behind real time. --tokens-per-event stays 1: a
# stream's first event waits for that many tokens, so raising it would
# add decode steps to every TTFT.
#
# 1. Capacity: a closed loop straight to the replicas (round-robin) at
#    concurrency 4 x 320, so every replica's batch of 256 stays full with a
#    queue behind it; capacity = completions per second over the middle
#    half of the run (from the generator's CSV). A calibration estimate is
#    printed beside it.
# 2. Four open-loop Poisson loads through infergate (one worker), each a
#    warm-up stage then a measured stage, half the requests
#    `x-gateway-inference-objective: critical` (priority 0), half
#    `sheddable` (priority -1), the scheduler of
#    config/examples/priority.yaml (utilization-detector: 5 waiting or 80 %
#    KV per endpoint, also the saturation detector; queue and KV scorers):
#    (a) 70 % of capacity; (b) 150 % with shedding; (c) 150 % with shedding
#    off: the same config but `sheddable` at priority 0. infergate always
#    has a saturation detector (the reference's ensureSaturationDetector),
#    so "off" means no request is sheddable: both classes are served alike,
#    as without priorities. (d) 150 % with shedding and the detector
#    tightened to 1 waiting request per endpoint: priority.yaml's 5 lets a
#    queue of 5 per endpoint form in front of critical requests before
#    anything is shed; a deployment that wants critical latency held sets
#    it lower. The target is judged on (b) and (d), each against (a).
# Per class, over the measured stage: share served (200 and stream
# complete), 429s, other failures, TTFT p50/p90; and the critical class's
# TTFT p90 at 150 % over its value at 70 %.
# 3. The four loads repeat RUNS times, each repetition with its own seed
#    (7, 8, ...; the four loads of a repetition share it) and the order
#    rotating (a b c d, b c d a, c d a b, ...) so drift on the machine hits
#    every load alike; every load on fresh replicas and a fresh infergate.
#    Figures are medians over the repetitions; the p90 ratio against (a) is
#    taken within each repetition, then the median of those ratios. The
#    capacity is a calibration measured once: every repetition offers the
#    same requests/s.
#
# Pinning: infergate on core 0; replicas and generator on core 1.
#
#   bench/scenarios/overload.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding infergate, bench/infergate-sim and
#   bench/infergate-loadgen (default build).
#   RUNS=n: repetitions of the four loads instead of the mode's (3; --quick 1).
# Capacity from 6,000 requests, each load 20 s warm-up + 45 s measured
# (simulated; 60 s measured before the loads were repeated, shortened so
# that 3 repetitions take about 8 minutes in all); --quick: 3,000 requests,
# 10 + 30 s, 1 repetition (about 2 minutes).
# Writes OUT_DIR/overload.md (report section), OUT_DIR/overload.tsv (per
# repetition, load and class), OUT_DIR/overload-ttft.png when gnuplot is
# installed; prints one summary line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
out=${1:?usage: overload.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
scale=2; cap_requests=6000; warm=20; measured=45; runs=3
[ "$quick" = "--quick" ] && { cap_requests=3000; warm=10; measured=30; runs=1; }
runs=${RUNS:-$runs}
replicas=4; prompt_tokens=1000; output_tokens=64; cap_conc=$((replicas * 320))
sim=$build/bench/infergate-sim
loadgen=$build/bench/infergate-loadgen
for b in "$build/infergate" "$sim" "$loadgen"; do
    [ -x "$b" ] || { echo "overload.sh: $b not built" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"
. bench/scenarios/common.sh
bench_init overload


# The replicas (common.sh's start_sims, stop_sims), restarted for every run
# so none starts with another run's queue or cache; `targets` for the load
# generator.
time_scale=$scale; tokens_per_event=1
fleet_up() {
    start_sims
    targets=()
    for p in "${sim_ports[@]}"; do targets+=(--target "http://127.0.0.1:$p"); done
}
lg() {  # the load generator on core 1, simulated time
    taskset -c 1 "$loadgen" --workload random --prompt-tokens "$prompt_tokens" \
        --output-tokens "$output_tokens" --time-scale "$scale" --timeout 120 --drain 120 "$@" \
        2>>"$tmp/loadgen.log"
}

# --- 1. capacity, straight to the replicas
echo "overload: capacity, closed loop at concurrency $cap_conc, $cap_requests requests" >&2
fleet_up
lg "${targets[@]}" --concurrency "$cap_conc" --requests "$cap_requests" \
    --csv "$tmp/capacity.csv" --summary "$tmp/capacity.json"
stop_sims
cap=$(python3 bench/scripts/overload_report.py capacity "$tmp/capacity.csv")
echo "overload: capacity $cap requests/s (simulated)" >&2

# --- 2. the four loads through infergate, 3. repeated
proxy_port=$(free_port); admin_port=$(free_port)
write_config() {  # write_config SHEDDABLE_PRIORITY QUEUE_DEPTH_THRESHOLD
    {
        infergate_yaml "$proxy_port" "$admin_port" "objectives:
  - name: critical
    priority: 0
  - name: sheddable
    priority: $1" "" "${sim_ports[@]/#/127.0.0.1:}"
        cat <<YAML
    scheduler:
      plugins:
        - type: utilization-detector
          parameters:
            queueDepthThreshold: $2
            kvCacheUtilThreshold: 0.8
            metricsStalenessThreshold: 200ms
            headroom: 0.2
        - type: queue-scorer
        - type: kv-cache-utilization-scorer
        - type: max-score-picker
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: utilization-detector
            - pluginRef: queue-scorer
              weight: 2
            - pluginRef: kv-cache-utilization-scorer
              weight: 2
            - pluginRef: max-score-picker
      flowControl:
        saturationDetector:
          pluginRef: utilization-detector
YAML
    } >"$tmp/infergate.yaml"
}
hz=$(getconf CLK_TCK)
# Busy and total clock ticks of cores 0 and 1 (/proc/stat): with this run's
# own processes' ticks, how much of each core other work took.
cores() { awk '/^cpu[01] / { b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; printf "%d %d ", b, t }' /proc/stat; }
scrape_shed() {
    curl -sf "http://127.0.0.1:$admin_port/metrics" | awk '/^infergate_requests_shed_total/ { print $NF; f = 1 } END { if (!f) print 0 }'
}
: >"$out/overload.tsv"
loads=(a b c d)
for rep in $(seq "$runs"); do
seed=$((6 + rep))
for i in 0 1 2 3; do
    run=${loads[$(( (i + rep - 1) % 4 ))]}
    case $run in
        a) pct=70; prio=-1; qdt=5 ;;
        b) pct=150; prio=-1; qdt=5 ;;
        c) pct=150; prio=0; qdt=5 ;;
        d) pct=150; prio=-1; qdt=1 ;;
    esac
    qps=$(python3 -c "print(round($cap * $pct / 100, 2))")
    echo "overload: repetition $rep/$runs (seed $seed), run $run, $pct % of capacity = $qps requests/s, sheddable priority $prio" >&2
    start_sims
    write_config "$prio" "$qdt"
    taskset -c 0 "$build/infergate" --config "$tmp/infergate.yaml" >"$tmp/infergate-$run.$rep.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
    wait_port "$admin_port"
    wait_fresh "$admin_port" "$replicas"
    own0=$(ticks "$proxy_pid"); own1=0
    for p in "${sim_pids[@]}"; do own1=$((own1 - $(ticks "$p"))); done
    c0=$(cores)
    lg --target "http://127.0.0.1:$proxy_port" --schedule "$qps:$warm,$qps:$measured" \
        --mix critical=1,sheddable=1 --class-header x-gateway-inference-objective --seed "$seed" \
        --csv "$tmp/$run.csv" --summary "$tmp/$run.json"
    c1=$(cores)
    own0=$(( $(ticks "$proxy_pid") - own0 ))
    for p in "${sim_pids[@]}"; do own1=$((own1 + $(ticks "$p"))); done
    shed=$(scrape_shed)
    kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=
    stop_sims
    python3 bench/scripts/overload_report.py run "$rep" "$seed" "$run" "$pct" "$prio" "$qps" "$tmp/$run.csv" \
        "$tmp/$run.json" "$shed" "$c0" "$c1" "$own0" "$own1" "$hz" >>"$out/overload.tsv"
done
done

python3 bench/scripts/overload_report.py report "$out" "$cap" "$scale" "$replicas" "$prompt_tokens" \
    "$output_tokens" "$cap_conc" "$cap_requests" "$warm" "$measured" "$runs" "$quick"
