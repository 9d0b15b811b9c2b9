#!/usr/bin/env bash
# Scenario 1, raw proxy cost: wrk with keep-alive, small GET and small POST
# bodies, through infergate, nginx (proxy_pass, upstream keepalive) and
# HAProxy, to the same upstream (an nginx answering from memory), each
# proxy with one worker pinned to core 0; wrk and the upstream share core 1.
#
# The primary figure is the proxy's CPU per request: utime+stime of the
# whole proxy process (/proc/PID/stat, all threads; for nginx its worker)
# over the measured interval, divided by the requests wrk completed in it,
# at the same offered load (the same wrk connections). Also requests/s and
# wrk's p50/p99 latency. Each proxy x request kind runs RUNS times, the
# proxy order rotating between runs; medians are reported.
#
#   bench/scenarios/proxy.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding infergate (default build).
# Writes OUT_DIR/proxy.md (report section) and OUT_DIR/proxy.tsv (runs),
# OUT_DIR/proxy-cpu.png when gnuplot is installed; prints one summary line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
out=${1:?usage: proxy.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
runs=5; dur=4; conns=32
[ "$quick" = "--quick" ] && { runs=2; dur=2; }
mkdir -p "$out"
. bench/scenarios/common.sh
bench_init proxy


# --- the upstream: nginx answering from memory (also a vLLM-shaped /metrics
# page, so infergate's picker has fresh metrics).
up_port=$(free_port)
mkdir -p "$tmp/up/logs"
cat >"$tmp/up/nginx.conf" <<NGX
daemon off; worker_processes 1; error_log $tmp/up/logs/error.log; pid $tmp/up/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$up_port;
    location = /metrics { return 200 "vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n"; }
    location / { return 200 '{"id":"x","object":"text_completion","choices":[{"text":"ok"}]}'; }
  }
}
NGX
taskset -c 1 nginx -p "$tmp/up" -c "$tmp/up/nginx.conf" &
pids+=($!)
wait_port "$up_port"

# --- the proxies
proxy_port=$(free_port)
start_infergate() {
    infergate_yaml "$proxy_port" 0 "" "" "127.0.0.1:$up_port" >"$tmp/infergate.yaml"
    taskset -c 0 "$build/infergate" --config "$tmp/infergate.yaml" >"$tmp/infergate.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
    cpu_pid=$proxy_pid
}
start_nginx() {
    mkdir -p "$tmp/px/logs"
    cat >"$tmp/px/nginx.conf" <<NGX
daemon off; worker_processes 1; error_log $tmp/px/logs/error.log; pid $tmp/px/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$up_port; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$proxy_port;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGX
    taskset -c 0 nginx -p "$tmp/px" -c "$tmp/px/nginx.conf" &
    proxy_pid=$!
    wait_port "$proxy_port"
    cpu_pid=$(pgrep -P "$proxy_pid" | head -1)  # the worker
}
start_haproxy() {
    cat >"$tmp/haproxy.cfg" <<HAP
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:$proxy_port
  default_backend be
backend be
  server up 127.0.0.1:$up_port
HAP
    taskset -c 0 haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
    cpu_pid=$proxy_pid
}
stop_proxy() {
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$proxy_port") 2>/dev/null || return 0; sleep 0.05; done
}

cat >"$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"m","prompt":"Say hello in one word.","max_tokens":4}'
wrk.headers["Content-Type"] = "application/json"
LUA

hz=$(getconf CLK_TCK)

# One measured run: prints "proxy kind rps cpu_us_per_req p50_ms p99_ms".
measure() {
    local proxy=$1 kind=$2 script=()
    [ "$kind" = post ] && script=(-s "$tmp/post.lua")
    # Warm-up (connections, pools), then the measured run.
    taskset -c 1 wrk -t1 -c"$conns" -d1s "${script[@]}" "http://127.0.0.1:$proxy_port/v1/completions" >/dev/null
    local t0 t1
    t0=$(ticks "$cpu_pid")
    # bash's `time` gives wrk's own user+system CPU: the share of its core
    # it used tells whether the load generator was the bottleneck.
    local TIMEFORMAT='%U %S'
    { time taskset -c 1 wrk -t1 -c"$conns" -d"${dur}s" --latency "${script[@]}" \
        "http://127.0.0.1:$proxy_port/v1/completions" >"$tmp/wrk.txt"; } 2>"$tmp/wrk.time"
    t1=$(ticks "$cpu_pid")
    python3 - "$tmp/wrk.txt" "$proxy" "$kind" "$((t1 - t0))" "$hz" "$tmp/wrk.time" <<'PY'
import re, sys
text, proxy, kind, ticks, hz = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
wrk_cpu = sum(float(x) for x in open(sys.argv[6]).read().split()[-2:])
n = int(re.search(r"(\d+) requests in", text).group(1))
secs = float(re.search(r"requests in ([\d.]+)(m?s)", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
def lat(p):
    m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, text)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
if errs:
    sys.exit(f"proxy.sh: {proxy} {kind}: {errs.group(1)} non-2xx responses")
print(f"{proxy}\t{kind}\t{rps:.0f}\t{ticks / hz / n * 1e6:.2f}\t{lat(50):.3f}\t{lat(99):.3f}\t{100 * wrk_cpu / secs:.0f}")
PY
}

proxies=(infergate nginx haproxy)
: >"$out/proxy.tsv"
for r in $(seq "$runs"); do
    for i in 0 1 2; do
        p=${proxies[$(( (i + r) % 3 ))]}
        "start_$p"
        for kind in get post; do
            printf '\rproxy: run %d/%d, %s %s        ' "$r" "$runs" "$p" "$kind" >&2
            measure "$p" "$kind" >>"$out/proxy.tsv"
        done
        stop_proxy
    done
done
printf '\n' >&2

python3 - "$out" "$runs" "$dur" "$conns" <<'PY'
import collections, statistics, sys, os, platform, subprocess
out, runs, dur, conns = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [l.split("\t") for l in open(os.path.join(out, "proxy.tsv")).read().split("\n") if l]
by = collections.defaultdict(list)
for p, k, rps, cpu, p50, p99, wrk in rows:
    by[(p, k)].append((float(rps), float(cpu), float(p50), float(p99), float(wrk)))
med = {key: [statistics.median(x[i] for x in v) for i in range(5)] for key, v in by.items()}
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
lines = ["## 1. Raw proxy cost\n",
         f"wrk, {conns} keep-alive connections, {dur} s per run after a 1 s warm-up, {runs} runs per proxy and kind "
         "(order rotating), medians. Each proxy: one worker on core 0; wrk and the upstream (nginx answering from "
         "memory) on core 1. CPU per request: the proxy's utime+stime over the run / requests completed. "
         "wrk CPU: wrk's own utime+stime over the run's length, in % of its core (it shares core 1 with the "
         "upstream; well under 100 % means wrk did not cap the rate). "
         f"Machine: {os.cpu_count()} × {cpu_model}, kernel {platform.release()}.\n",
         "| request | proxy | CPU µs/request | requests/s | p50 ms | p99 ms | CPU vs HAProxy | CPU vs nginx | wrk CPU |",
         "|---|---|---|---|---|---|---|---|---|"]
summary = []
for k in ("get", "post"):
    h, n = med[("haproxy", k)][1], med[("nginx", k)][1]
    for p in ("infergate", "haproxy", "nginx"):
        rps, cpu, p50, p99, wrk = med[(p, k)]
        lines.append(f"| {k.upper()} | {p} | {cpu:.1f} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {cpu / h:.2f} "
                     f"| {cpu / n:.2f} | {wrk:.0f} % |")
    summary.append(f"{k.upper()} infergate CPU/req {med[('infergate', k)][1] / h:.2f}x HAProxy, {med[('infergate', k)][1] / n:.2f}x nginx")
lines.append("\nTarget: infergate's CPU per request ≤ 0.9× HAProxy's, requests/s and p99 no worse at the same "
             "concurrency; well ahead of nginx.\n")
open(os.path.join(out, "proxy.md"), "w").write("\n".join(lines) + "\n")
# Chart: CPU per request by proxy and kind.
dat = os.path.join(out, "proxy-cpu.dat")
with open(dat, "w") as f:
    f.write("proxy GET POST\n")
    for p in ("infergate", "haproxy", "nginx"):
        f.write(f"{p} {med[(p, 'get')][1]:.2f} {med[(p, 'post')][1]:.2f}\n")
try:
    subprocess.run(["gnuplot", "-e", f"""set terminal pngcairo size 640,400; set output '{os.path.join(out, "proxy-cpu.png")}';
set style data histograms; set style fill solid 0.8; set ylabel 'CPU µs per request'; set title 'Raw proxy cost (lower is better)';
set key top left; plot '{dat}' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)"""],
                   check=True, capture_output=True, timeout=30)
    open(os.path.join(out, "proxy.md"), "a").write("![CPU per request](proxy-cpu.png)\n")
except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
    print(f"proxy.sh: no chart ({e})", file=sys.stderr)
os.remove(dat)
print("proxy: " + "; ".join(summary))
PY
