# Shared by the scenario scripts (sourced, not a scenario): a temporary
# directory removed on exit with every process the script started, a free
# loopback port, a bounded wait for a listener, CPU ticks of a process, and
# a fleet of simulator replicas.
#
#   . "$(dirname "$(realpath "$0")")/common.sh"; bench_init NAME
#
# After bench_init: $tmp, $scenario, and these, killed on exit when set:
# pids (array), sim_pids (array), proxy_pid, sampler_pid, bg_pid.

bench_init() {
    scenario=$1
    tmp=$(mktemp -d "/tmp/infergate-bench-$scenario.XXXXXX")
    pids=(); sim_pids=(); proxy_pid=; sampler_pid=; bg_pid=
    trap bench_cleanup EXIT
}

bench_cleanup() {
    local p
    for p in "${pids[@]}" "${sim_pids[@]}" $proxy_pid $sampler_pid $bg_pid; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}

# Bind-then-release: another process could take the port in between; the
# scenarios start their servers at once after asking.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {  # bounded: 5 s
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "$scenario.sh: nothing listening on port $1" >&2
    exit 1
}

# utime + stime of a process, in clock ticks (all its threads).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start_sims: $replicas fresh replicas (cold caches) of $sim on core 1, at
# $time_scale and $tokens_per_event; sets sim_pids and sim_ports.
start_sims() {
    sim_ports=(); sim_pids=()
    local i port
    for i in $(seq "$replicas"); do
        port=$(free_port)
        taskset -c 1 "$sim" --port "$port" --name "r$i" --time-scale "$time_scale" \
            --tokens-per-event "$tokens_per_event" --seed "$i" >"$tmp/sim$i.log" 2>&1 &
        sim_pids+=($!); sim_ports+=("$port")
    done
    for port in "${sim_ports[@]}"; do wait_port "$port"; done
}
stop_sims() {
    local p
    for p in "${sim_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${sim_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    sim_pids=()
}

# burst_aware_scheduler: prints config/examples/burst-aware.yaml's scheduler
# section for a pool in a scenario's config (under `pools: - name:`), with
# burst-aware-prefix-producer's prefillTokensPerSecond (the engine's
# prefill speed, default 32000 per simulated second) multiplied by
# $time_scale: infergate drains it in real time, the replicas run
# $time_scale times faster (as the scrape interval is divided by it).
burst_aware_scheduler() {
    python3 - "$root/config/examples/burst-aware.yaml" "$time_scale" <<'PY'
import sys, yaml
sched = yaml.safe_load(open(sys.argv[1]))["pools"][0]["scheduler"]
for p in sched["plugins"]:
    if p["type"] == "burst-aware-prefix-producer":
        params = p.setdefault("parameters", {})
        params["prefillTokensPerSecond"] = round(params.get("prefillTokensPerSecond", 32000) * float(sys.argv[2]))
print("    scheduler:")
for line in yaml.safe_dump(sched, sort_keys=False).splitlines():
    print("      " + line)
PY
}
