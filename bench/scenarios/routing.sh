#!/usr/bin/env bash
# Scenario 3, routing quality: llm-d's "37-capacity" shared-prefix workload
# (llm-d-kv-cache-manager benchmarking: 83 groups x 3 prompts, an 8000-token
# system prefix per group, 1000-token questions, 1000 output tokens, Poisson
# QPS stages 3..20) against a fleet of 4 infergate-sim replicas with the
# simulator's default calibration (one H100 serving Llama-3.1-8B: 26,300
# blocks x 16 tokens = 420,800 KV tokens each), so the 83 prefixes
# (664,000 tokens) need 39.4 % of the fleet's KV cache: a router that keeps
# each group on one replica fits them, one that scatters them does not.
#
# Five routers, each on a fresh fleet (caches cold): infergate's default
# profile (queue x2, KV x2, approximate prefix x3), infergate with
# config/examples/burst-aware.yaml's profile, nginx round-robin, HAProxy
# leastconn, and infergate with a random-picker profile. Each proxy runs one
# worker on core 0 with the load generator; the replicas run on core 1.
# Every router runs once per seed (the load generator's --seed 1..RUNS:
# prompts and arrivals), each run on a fresh fleet, the router order
# rotating from seed to seed so drift on the machine hits all alike. Per
# stage and router the figures are medians over the seeds; the complete
# test and the target are judged on those medians. The queue-over-time
# chart is seed 1's.
#
# Time is simulated: the replicas and the load generator run TIME_SCALE
# times faster than real time (every figure is in simulated time), and the
# picker's scrape interval / staleness are divided by it too (so they are
# 50 ms / 200 ms simulated, the reference's defaults), and burst-aware's
# prefillTokensPerSecond is per simulated second (common.sh). The replicas send
# TOKENS_PER_EVENT tokens per SSE event (the first token alone, so TTFT is
# exact) so the event rate does not make this machine the bottleneck.
# A request that takes longer than TIMEOUT simulated seconds fails.
#
#   bench/scenarios/routing.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding infergate, bench/infergate-sim and
#   bench/infergate-loadgen (default build).
#   RUNS=n: seeds 1..n instead of the mode's (3; --quick 1).
#   ROUTERS="infergate infergate-burst" (names as in `routers` below): only
#   those routers.
# Full: 9 stages (3,4,5,6,8,10,12,15,20 QPS) of 60 s simulated, 5 routers,
# 3 seeds (about 21 minutes). --quick: stages 3, 8, 15 of 30 s, 3 routers
# (infergate default, random, round-robin), 1 seed.
# Writes OUT_DIR/routing.md (report section), OUT_DIR/routing/ (per router
# and seed, ROUTER.sSEED.*: loadgen CSV (gzip) + JSON summary, /metrics samples,
# the load's start time) and the PNG charts
# OUT_DIR/routing-ttft.png, routing-throughput.png, routing-queues.png;
# prints one summary line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
root=$(pwd)
out=${1:?usage: routing.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
sim=$build/bench/infergate-sim
loadgen=$build/bench/infergate-loadgen
for b in "$build/infergate" "$sim" "$loadgen"; do
    [ -x "$b" ] || { echo "routing.sh: $b is not built" >&2; exit 1; }
done

replicas=4
time_scale=10
tokens_per_event=20
stage_s=60
stages=(3 4 5 6 8 10 12 15 20)
routers=(infergate infergate-burst round-robin leastconn random)
timeout_sim=300
seeds=3
if [ "$quick" = "--quick" ]; then
    stage_s=30
    stages=(3 8 15)
    routers=(infergate random round-robin)
    timeout_sim=120
    seeds=1
fi
seeds=${RUNS:-$seeds}
[ -n "${ROUTERS:-}" ] && read -r -a routers <<<"$ROUTERS"
schedule=$(printf "%s:$stage_s," "${stages[@]}"); schedule=${schedule%,}
timeout_real=$(python3 -c "print($timeout_sim / $time_scale)")
scrape_ms=$(python3 -c "print(max(1, round(50 / $time_scale)))")
stale_ms=$(python3 -c "print(max(1, round(200 / $time_scale)))")

ulimit -n "$(ulimit -Hn)"
mkdir -p "$out/routing"
. bench/scenarios/common.sh
bench_init routing


# --- the fleet: fresh replicas (cold caches) for every router.
sim_ports=()

# --- the routers, each one worker on core 0.
proxy_port=$(free_port)
infergate_scheduler() {  # $1: profile name; prints the pool's scheduler section
    case $1 in
        infergate) ;;  # no scheduler section: the default profile
        infergate-burst)
            burst_aware_scheduler
            ;;
        random)
            cat <<'YAML'
    scheduler:
      plugins:
        - type: random-picker
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: random-picker
YAML
            ;;
    esac
}
start_infergate() {
    {
        infergate_yaml "$proxy_port" 0 "timeouts:
  upstream_response_header: 600s
  stream_idle: 600s" "    scrape_interval: ${scrape_ms}ms
    metrics_staleness: ${stale_ms}ms" "${sim_ports[@]/#/127.0.0.1:}"
        infergate_scheduler "$1"
    } >"$tmp/infergate.yaml"
    taskset -c 0 "$build/infergate" --config "$tmp/infergate.yaml" >"$tmp/infergate.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
}
start_nginx() {
    mkdir -p "$tmp/px/logs"
    {
        cat <<NGX
daemon off; worker_processes 1; worker_rlimit_nofile 20000;
error_log $tmp/px/logs/error.log; pid $tmp/px/nginx.pid;
events { worker_connections 9500; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_max_body_size 16m;
  client_body_buffer_size 1m;  # prompts stay in memory: no temp file, one write upstream
  upstream sims {
NGX
        for p in "${sim_ports[@]}"; do echo "    server 127.0.0.1:$p;"; done
        cat <<NGX
    keepalive 64; keepalive_timeout 4s; keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://sims; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_buffering off; proxy_read_timeout 600s; proxy_send_timeout 600s;
    }
  }
}
NGX
    } >"$tmp/px/nginx.conf"
    taskset -c 0 nginx -p "$tmp/px" -c "$tmp/px/nginx.conf" &
    proxy_pid=$!
    wait_port "$proxy_port"
}
start_haproxy() {
    {
        cat <<HAP
global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 600s
  timeout server 600s
  timeout http-keep-alive 4s
  option http-keep-alive
  option http-no-delay  # else small SSE chunks wait for more data (measured: ~40-200 ms real)
frontend fe
  bind 127.0.0.1:$proxy_port
  default_backend be
backend be
  balance leastconn
HAP
        local i=0
        for p in "${sim_ports[@]}"; do i=$((i + 1)); echo "  server r$i 127.0.0.1:$p"; done
    } >"$tmp/haproxy.cfg"
    taskset -c 0 haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
}
start_router() {
    case $1 in
        infergate|infergate-burst|random) start_infergate "$1" ;;
        round-robin) start_nginx ;;
        leastconn) start_haproxy ;;
    esac
}
stop_proxy() {
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$proxy_port") 2>/dev/null || return 0; sleep 0.05; done
}

# A previous run's files in OUT_DIR/routing (other seeds, older names) go.
rm -f "$out"/routing/*.csv "$out"/routing/*.csv.gz "$out"/routing/*.json "$out"/routing/*.samples.tsv "$out"/routing/*.start
begin=$(date +%s)
nr=${#routers[@]}
for seed in $(seq "$seeds"); do
for i in $(seq 0 $((nr - 1))); do
    r=${routers[$(( (i + seed - 1) % nr ))]}
    run=$r.s$seed
    printf 'routing: seed %d/%d, %s (%s QPS stages of %s s simulated)\n' "$seed" "$seeds" "$r" "${stages[*]}" "$stage_s" >&2
    start_sims
    start_router "$r"
    urls=(); for p in "${sim_ports[@]}"; do urls+=("http://127.0.0.1:$p"); done
    python3 bench/scripts/sim_sampler.py "$out/routing/$run.samples.tsv" 0.5 "${urls[@]}" &
    sampler_pid=$!
    sleep 1.5  # a first sample before the load, and the picker's first scrapes
    date +%s.%N >"$out/routing/$run.start"
    taskset -c 0 "$loadgen" --target "http://127.0.0.1:$proxy_port" \
        --workload shared-prefix --groups 83 --prompts-per-group 3 \
        --system-tokens 8000 --question-tokens 1000 --output-tokens 1000 \
        --schedule "$schedule" --time-scale "$time_scale" --seed "$seed" \
        --timeout "$timeout_real" --drain "$timeout_real" --max-inflight 4000 \
        --csv "$out/routing/$run.csv" --summary "$out/routing/$run.json" 2>"$tmp/loadgen.log" ||
        { cat "$tmp/loadgen.log" >&2; exit 1; }
    tail -1 "$tmp/loadgen.log" >&2
    sleep 1.5  # a last sample after the drain
    kill "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
    stop_proxy
    stop_sims
done
done
elapsed=$(( $(date +%s) - begin ))

python3 - "$out" "$time_scale" "$tokens_per_event" "$stage_s" "$timeout_sim" "$replicas" "$elapsed" \
    "$scrape_ms" "$stale_ms" "$seeds" "$quick" "${routers[@]}" <<'PY'
import collections, json, os, statistics, subprocess, sys
out, scale, tpe, stage_s, timeout_sim, replicas, elapsed, scrape_ms, stale_ms, seeds, quick = sys.argv[1:12]
scale, replicas, seeds = float(scale), int(replicas), int(seeds)
routers = sys.argv[12:]
d = os.path.join(out, "routing")
label = {"infergate": "infergate (default profile)", "infergate-burst": "infergate (burst-aware)",
         "round-robin": "nginx round-robin", "leastconn": "HAProxy leastconn", "random": "random (infergate random-picker)"}

def samples(r):
    rows = []
    for line in open(os.path.join(d, r + ".samples.tsv")):
        t, i, w, run, kv, h, q, g = line.split("\t")
        rows.append((float(t), int(i), float(w), float(run), float(kv), float(h), float(q), float(g)))
    return rows

def counters_at(rows, t):
    """Sums over replicas of (hits, queries, generated tokens) at each one's last sample at or before t
    (its first sample if none), and the mean time of those samples."""
    best = {}
    for s in rows:  # in time order
        if s[0] <= t or s[1] not in best:
            best[s[1]] = s
    v = best.values()
    return sum(s[5] for s in v), sum(s[6] for s in v), sum(s[7] for s in v), sum(s[0] for s in v) / len(best)

def one(run):
    """One router's run with one seed (files RUN.*): its per-stage figures."""
    js = json.load(open(os.path.join(d, run + ".json")))
    t0 = float(open(os.path.join(d, run + ".start")).read())
    rows = samples(run)
    st = []
    for s in js["stages"]:
        a = counters_at(rows, t0 + s["start_s"] / scale)
        b = counters_at(rows, t0 + s["end_s"] / scale)
        hit = (b[0] - a[0]) / (b[1] - a[1]) if b[1] > a[1] else float("nan")
        gen = (b[2] - a[2]) / ((b[3] - a[3]) * scale) if b[3] > a[3] else float("nan")
        sm = s["summary"]
        st.append(dict(qps=s["qps"], p50=sm["ttft_ms"]["p50"] / 1e3 if sm["ok"] else float("nan"),
                       p90=sm["ttft_ms"]["p90"] / 1e3 if sm["ok"] else float("nan"),
                       p99=sm["ttft_ms"]["p99"] / 1e3 if sm["ok"] else float("nan"),
                       tps=sm["output_tokens_per_s"], gen=gen, ok=sm["success_rate"], n=sm["count"], hit=hit))
    first = counters_at(rows, 0)
    last = counters_at(rows, float("inf"))
    hit_all = (last[0] - first[0]) / (last[1] - first[1]) if last[1] > first[1] else float("nan")
    return dict(stages=st, hit=hit_all, js=js, rows=rows, t0=t0)

def med(xs):
    """Median over the seeds, leaving out NaN (a TTFT with no successful request: the success rate shows it)."""
    v = [x for x in xs if x == x]
    return statistics.median(v) if v else float("nan")

# Per router and stage: medians over the seeds. The queue chart uses seed 1's samples.
res = {}
for r in routers:
    rs = [one(f"{r}.s{k}") for k in range(1, seeds + 1)]
    st = []
    for i, s0 in enumerate(rs[0]["stages"]):
        per = [x["stages"][i] for x in rs]
        m = {k: med(p[k] for p in per) for k in ("p50", "p90", "p99", "tps", "gen", "ok", "n", "hit")}
        m.update(qps=s0["qps"], p90s=[p["p90"] for p in per])
        st.append(m)
    res[r] = dict(stages=st, hit=med(x["hit"] for x in rs), lag=med(x["js"]["lag_ms"]["p99"] for x in rs),
                  cpu=med(x["js"]["cpu_seconds"] for x in rs), rows=rs[0]["rows"], t0=rs[0]["t0"])
seeds_text = f"{seeds} seeds" if seeds > 1 else "1 seed (quick)" if quick == "--quick" else "1 seed"

def f(x, nd=2):
    return "—" if x != x else f"{x:.{nd}f}"

qpss = [s["qps"] for s in res[routers[0]]["stages"]]
complete = lambda r, i: res[r]["stages"][i]["ok"] >= 0.99
top = max((i for i in range(len(qpss)) if all(complete(r, i) for r in routers)), default=None)
peers = [r for r in routers if r in ("random", "round-robin", "leastconn")]

lines = ["## 3. Routing quality (llm-d's shared-prefix \"37-capacity\" workload)\n",
         f"Workload (llm-d-kv-cache-manager benchmarking): 83 groups × 3 prompts, an 8000-token system prefix per group "
         f"and a 1000-token question, 1000 output tokens (`ignore_eos`), streamed; open-loop Poisson arrivals, QPS stages "
         f"{', '.join(str(q) for q in qpss)} of {stage_s} s each (simulated), run back to back (a stage inherits the queue "
         f"the previous one left). `infergate-loadgen --workload shared-prefix --groups 83 --prompts-per-group 3 "
         f"--system-tokens 8000 --question-tokens 1000 --output-tokens 1000`.\n",
         f"Fleet: {replicas} `infergate-sim` replicas with the simulator's default calibration unchanged (Llama-3.1-8B on "
         f"one H100: 26,300 KV blocks × 16 tokens = 420,800 tokens per replica, max 256 sequences, 8192 batched tokens, "
         f"step time 6.47 ms + 19.8 µs/prefill token + 0.304 ms/decoding sequence + attention term). The 83 prefixes "
         f"(664,000 tokens) need {83 * 8000 / (replicas * 420800) * 100:.1f} % of the fleet's {replicas * 420800:,} KV tokens "
         f"(158 % of one replica's). Each router run gets a fresh fleet (caches cold).\n",
         (f"Runs: {seeds_text}, `--seed 1..{seeds}` (prompts and arrivals), every router once per seed, the router "
          f"order rotating from seed to seed. **Figures are medians over the {seeds} seeds** (per router and stage: "
          f"TTFT percentiles, tokens/s, success rate, hit rate; p90 per seed in the last column); the complete test "
          f"and the target are judged on the medians. The queue chart is seed 1's.\n" if seeds > 1 else
          f"Runs: {seeds_text} (`--seed 1`): **a single run, its figures, not medians** (a full run takes the "
          f"median of seeds 1..3).\n"),
         f"Time: replicas and load generator run {scale:g}× faster than real time (`--time-scale {scale:g}`); every figure "
         f"is simulated time. The replicas send {tpe} tokens per SSE event (`--tokens-per-event {tpe}`; the first token "
         f"goes out alone, so TTFT is exact) so the event rate does not make this 2-core machine the bottleneck. "
         f"infergate's scrape interval / metrics staleness are {scrape_ms} ms / {stale_ms} ms real = 50 ms / 200 ms "
         f"simulated. A request not finished {timeout_sim} s (simulated) after it was sent fails (timeout). "
         f"Each proxy runs one worker on core 0 with the load generator; the replicas on core 1. "
         f"Wall time of this scenario: {elapsed} s.\n",
         "Routers: " + "; ".join(label[r] + {"round-robin": " (`upstream` with the replicas, keepalive 64, "
                                             "`proxy_buffering off`, `client_body_buffer_size 1m`)",
                                             "leastconn": " (`balance leastconn`, keep-alive, `option http-no-delay`)",
                                             "infergate-burst": " (the scheduler of `config/examples/burst-aware.yaml`)",
                                             "random": " (a profile holding only `random-picker`)"}.get(r, "")
                                 for r in routers) + ". Without those two settings nginx (a 36 KB prompt body "
         "spilled to a temporary file and sent upstream in two writes) and HAProxy (small SSE chunks held for more "
         "data) each added tens of real ms to every TTFT in a check against a replica, i.e. hundreds of simulated ms.\n",
         "| router | QPS | requests | success | TTFT p50 s | TTFT p90 s | TTFT p99 s | output tok/s | fleet output tok/s "
         "| prefix hit rate |" + (" TTFT p90 s per seed |" if seeds > 1 else ""),
         "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if seeds > 1 else "")]
for r in routers:
    for s in res[r]["stages"]:
        lines.append(f"| {label[r]} | {s['qps']:g} | {s['n']:g} | {s['ok'] * 100:.1f} % | {f(s['p50'])} | {f(s['p90'])} | "
                     f"{f(s['p99'])} | {s['tps']:.0f} | {f(s['gen'], 0)} | {f(s['hit'] * 100, 1)} % |"
                     + (f" {' / '.join(f(x) for x in s['p90s'])} |" if seeds > 1 else ""))
lines.append("")
lines.append("| router | prefix hit rate, whole run | generator lag p99 ms | generator CPU s |")
lines.append("|---|---|---|---|")
for r in routers:
    lines.append(f"| {label[r]} | {f(res[r]['hit'] * 100, 1)} % | {res[r]['lag']:.0f} | {res[r]['cpu']:.1f} |")
lines.append("\nDefinitions (per run, then the median over the seeds): TTFT = request sent → first token (load "
             "generator, includes queueing at the replica); percentiles over the stage's successful requests. Output tok/s = output tokens of the stage's successful "
             "requests ÷ (stage start → the later of its end and its last completion), as infergate-loadgen reports it; "
             "fleet output tok/s = Δ`vllm:generation_tokens_total` summed over the replicas ÷ the stage's duration "
             "(tokens generated during the stage, whichever stage's requests they belong to). Success = HTTP 200 and the "
             f"stream completed within {timeout_sim} s. Prefix hit rate = Δ`vllm:prefix_cache_hits` ÷ "
             "Δ`vllm:prefix_cache_queries` summed over the replicas (tokens, counted at admission), between the "
             "1-second samples nearest the stage's start and end (so admissions of queued earlier requests count in "
             "the stage where they happen). A stage is *complete* for a router when ≥ 99 % of its requests succeed. "
             "Generator lag p99 (simulated ms): how late sends were; it stays small when the load generator kept up.\n")
summary = []
if top is None:
    lines.append("Target (infergate's p90 TTFT ≥ 10× lower and output tok/s ≥ 1.5× random, round-robin and leastconn "
                 "at the highest stage all complete): **not evaluated**: no stage completed for every router.\n")
    summary.append("no stage complete for every router")
else:
    q = qpss[top]
    ig = res["infergate"]["stages"][top]
    parts, met = [], True
    for p in peers:
        ps = res[p]["stages"][top]
        tr = ps["p90"] / ig["p90"]
        pr = ig["tps"] / ps["tps"] if ps["tps"] else float("inf")
        gr = ig["gen"] / ps["gen"] if ps["gen"] else float("inf")
        met = met and tr >= 10 and min(pr, gr) >= 1.5
        parts.append((p, tr, pr, gr))
        summary.append(f"p90 TTFT {tr:.1f}x lower, tok/s {pr:.2f}x (fleet {gr:.2f}x) vs {p}")
    lines.append(f"Target: at the highest stage every router completes ({q:g} QPS), infergate's (default profile) "
                 f"p90 TTFT at least 10× lower than random, round-robin and leastconn, and its output tokens/s ≥ 1.5× "
                 f"theirs{', on the medians over the seeds' if seeds > 1 else ''}. Measured: " + "; ".join(f"{label[p]}: p90 TTFT {tr:.1f}× lower, output tok/s {pr:.2f}× "
                                                     f"(fleet output tok/s {gr:.2f}×)" for p, tr, pr, gr in parts) +
                 f". **{'Met' if met else 'Not met'}** (output tok/s judged on both figures).\n")
    summary.insert(0, f"at {q:g} QPS (highest complete)")
    # Where infergate is at least 10x ahead of every peer, if anywhere.
    wins = [qpss[i] for i in range(len(qpss))
            if all(res[p]["stages"][i]["p90"] >= 10 * res["infergate"]["stages"][i]["p90"] for p in peers)]
    lines.append("Stages where infergate's p90 TTFT is ≥ 10× lower than every peer's: "
                 f"{', '.join(f'{w:g}' for w in wins) if wins else 'none'} QPS.\n")
lines.append("Published anchor for context (llm-d-kv-cache-manager, real vLLM on GPUs, not this run): p90 TTFT "
             "approximate prefix scoring 64.4 s vs random 84.9 s; precise prefix scoring 0.409 s.\n")

# Charts.
def plot(script):
    try:
        subprocess.run(["gnuplot", "-e", script], check=True, capture_output=True, timeout=60)
        return True
    except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"routing.sh: no chart ({e})", file=sys.stderr)
        return False

for r in routers:
    with open(os.path.join(d, r + ".stages.dat"), "w") as fh:
        for s in res[r]["stages"]:
            fh.write(f"{s['qps']} {s['p90'] if s['p90'] == s['p90'] else 'NaN'} {s['gen'] if s['gen'] == s['gen'] else 'NaN'}\n")
ttft = ", ".join(f"'{os.path.join(d, r + '.stages.dat')}' using 1:2 with linespoints title '{label[r]}'" for r in routers)
tput = ", ".join(f"'{os.path.join(d, r + '.stages.dat')}' using 1:3 with linespoints title '{label[r]}'" for r in routers)
if plot(f"""set terminal pngcairo noenhanced size 800,480; set output '{os.path.join(out, "routing-ttft.png")}';
set logscale y; set xlabel 'QPS'; set ylabel 'TTFT p90 (s, simulated)'; set title 'Routing: p90 TTFT vs QPS (lower is better)';
set key top left; set grid; plot {ttft}"""):
    lines.append("![p90 TTFT vs QPS](routing-ttft.png)\n")
if plot(f"""set terminal pngcairo noenhanced size 800,480; set output '{os.path.join(out, "routing-throughput.png")}';
set xlabel 'QPS'; set ylabel 'fleet output tokens/s (simulated)'; set title 'Routing: tokens generated per second during each stage (higher is better)';
set key top left; set grid; plot {tput}"""):
    lines.append("![fleet output tokens/s vs QPS](routing-throughput.png)\n")
qr = [r for r in ("infergate", "random") if r in routers]
panels = []
for r in qr:
    t0 = res[r]["t0"]
    for i in range(replicas):
        with open(os.path.join(d, f"{r}.q{i}.dat"), "w") as fh:
            for s in res[r]["rows"]:
                if s[1] == i and s[0] >= t0:
                    fh.write(f"{(s[0] - t0) * scale:.1f} {s[2]:.0f}\n")
    curves = ", ".join(f"'{os.path.join(d, f'{r}.q{i}.dat')}' using 1:2 with lines title 'replica {i + 1}'"
                       for i in range(replicas))
    panels.append(f"set title '{label[r]}: waiting requests per replica (seed 1)'; plot {curves}")
if panels and plot(f"""set terminal pngcairo noenhanced size 1000,{360 * len(panels)}; set output '{os.path.join(out, "routing-queues.png")}';
set multiplot layout {len(panels)},1; set xlabel 'time (s, simulated)'; set ylabel 'vllm:num_requests_waiting'; set grid;
set key top left; {'; '.join(panels)}; unset multiplot"""):
    lines.append("![per-replica queue over time, seed 1](routing-queues.png)\n")
for name in os.listdir(d):
    if name.endswith(".dat"):
        os.remove(os.path.join(d, name))
open(os.path.join(out, "routing.md"), "w").write("\n".join(lines) + "\n")
print(f"routing ({'medians of ' + seeds_text if seeds > 1 else seeds_text.replace(' (', ', ').rstrip(')')}): "
      + "; ".join(summary))
PY
# The per-request CSVs (~380 KB per router and seed) are kept compressed:
# the report is built by now, and they stay for anyone who wants the raw
# requests (zcat).
gzip -f "$out"/routing/*.csv
