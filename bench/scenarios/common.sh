# Shared by the scenario scripts (sourced, not a scenario): a temporary
# directory removed on exit with every process the script started, a free
# loopback port, a bounded wait for a listener, CPU ticks of a process, and
# a fleet of simulator replicas, and infergate's config for a scenario.
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

# wait_fresh ADMIN_PORT N: until infergate's /metrics shows N endpoints with
# metrics younger than 200 ms (bounded: 5 s; goes on regardless, the run
# then shows what stale metrics did).
wait_fresh() {
    local up
    for _ in $(seq 100); do
        up=$(curl -s "http://127.0.0.1:$1/metrics" | awk '/^infergate_endpoint_metrics_age_seconds/ && $NF != "+Inf" && $NF + 0 < 0.2 { n++ } END { print n + 0 }')
        [ "$up" -ge "$2" ] && return 0
        sleep 0.05
    done
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

# infergate_yaml PROXY_PORT ADMIN_PORT TOP POOL ADDRESS...: prints the
# config every scenario runs infergate with: one worker, listener `main` on
# PROXY_PORT, admin on ADMIN_PORT (0: any free port), access log off, every
# path routed to pool `fleet` of the endpoints ADDRESS... (host:port). TOP:
# more top-level sections (YAML lines, e.g. timeouts:), POOL: more keys of
# the pool (indented 4 spaces), placed before its endpoints; either may be
# empty. A scheduler section, when wanted, is for the caller to print
# after (burst_aware_scheduler).
infergate_yaml() {
    local proxy=$1 admin=$2 top=$3 pool=$4 a
    shift 4
    [ -n "$top" ] && top+=$'\n'
    [ -n "$pool" ] && pool+=$'\n'
    cat <<YAML
workers: 1
listeners:
  - name: main
    address: 127.0.0.1:$proxy
admin:
  address: 127.0.0.1:$admin
access_log:
  path: "off"
${top}routes:
  - name: all
    match:
      path_prefix: /
    backends:
      - pool: fleet
pools:
  - name: fleet
${pool}    endpoints:
YAML
    for a in "$@"; do echo "      - address: $a"; done
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
