#!/usr/bin/env bash
# Scenario 6b, memory per idle keep-alive connection: resident memory of
# infergate, nginx and HAProxy, idle and holding N idle keep-alive client
# connections, each proxy with one worker pinned to core 0, proxying to the
# same upstream (an nginx answering from memory, also serving a vLLM-shaped
# /metrics for infergate's picker) on core 1 with the client.
#
# The client is bench/scripts/idle_memory.py: after a warm-up (64
# connections, one request each, closed) it reads the proxy's RSS (VmRSS;
# nginx: master + worker), opens N connections (at most 64 connects in
# flight) and reads it again once the proxy holds them, then sends one small
# GET on each (at most 64 in flight, every response read: each connection
# used once and parked idle) and reads it a third time. Per connection:
# (RSS with N - idle RSS) / N. Each proxy runs RUNS times, the proxy order
# rotating between runs; medians are reported.
#
#   bench/scenarios/memory.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding infergate (default build).
# N = 10,000 connections, 3 runs; --quick: 10,000 connections, 1 run (with
# fewer connections the RSS step of the allocator drowns the per-connection
# figure: 2,000 gave 1.5 KiB where 10,000 gave 0.9).
# Raises the open-files limit to its hard limit (needs N + ~1,100).
# Writes OUT_DIR/memory.md (report section) and OUT_DIR/memory.tsv (runs),
# OUT_DIR/memory.png when gnuplot is installed; prints one summary line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
out=${1:?usage: memory.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
runs=3; conns=10000
[ "$quick" = "--quick" ] && { runs=1; }
ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
[ "$nofile" -ge $((conns + 1100)) ] ||
    { echo "memory.sh: $conns connections need an open-files limit of $((conns + 1100)); the hard limit is $nofile" >&2; exit 1; }
limit=$((conns + 1024))  # each proxy's connection limit
mkdir -p "$out"
. bench/scenarios/common.sh
bench_init memory


# --- the upstream: nginx answering from memory, as in proxy.sh.
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

# --- the proxies: one worker each, keep-alive and header timeouts long
# enough that no connection is closed while measured, connection limits
# above N. Each start sets proxy_pid (to stop) and rss_pids (measured).
start_infergate() {
    infergate_yaml "$proxy_port" 0 "limits:
  max_connections_per_worker: $limit
timeouts:
  header_read: 10m
  keepalive_idle: 10m" "" "127.0.0.1:$up_port" >"$tmp/infergate.yaml"
    taskset -c 0 "$build/infergate" --config "$tmp/infergate.yaml" >"$tmp/infergate.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
    rss_pids=$proxy_pid
}
start_nginx() {
    mkdir -p "$tmp/px/logs"
    cat >"$tmp/px/nginx.conf" <<NGX
daemon off; worker_processes 1; error_log $tmp/px/logs/error.log; pid $tmp/px/nginx.pid;
worker_rlimit_nofile $nofile;
events { worker_connections $limit; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 10m;
  client_header_timeout 10m;
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
    rss_pids="$proxy_pid,$(pgrep -P "$proxy_pid" | head -1)"  # master and worker
}
start_haproxy() {
    # HAProxy sizes its descriptor table for two per connection (client and
    # server side) and refuses to start when the limit is below that; this
    # run needs N + 64, hence no strict-limits.
    cat >"$tmp/haproxy.cfg" <<HAP
global
  nbthread 1
  maxconn $limit
  ulimit-n $nofile
  no strict-limits
defaults
  mode http
  timeout connect 5s
  timeout client 10m
  timeout http-request 10m
  timeout http-keep-alive 10m
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
    rss_pids=$proxy_pid
}
stop_proxy() {
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
}

proxies=(infergate nginx haproxy)
: >"$out/memory.tsv"
for r in $(seq "$runs"); do
    for i in 0 1 2; do
        p=${proxies[$(( (i + r) % 3 ))]}
        printf '\rmemory: run %d/%d, %s, %d connections        ' "$r" "$runs" "$p" "$conns" >&2
        proxy_port=$(free_port)
        "start_$p"
        json=$(taskset -c 1 python3 bench/scripts/idle_memory.py --port "$proxy_port" --pid "$rss_pids" \
            --connections "$conns" --timeout 60 --json) ||
            { echo >&2; echo "memory.sh: $p: the measurement failed" >&2; exit 1; }
        printf '%s\t%s\t%s\n' "$r" "$p" "$json" >>"$out/memory.tsv"
        stop_proxy
    done
done
printf '\n' >&2

python3 - "$out" "$runs" "$conns" <<'PY'
import json, os, statistics, subprocess, sys
out, runs, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
by = {}
for line in open(os.path.join(out, "memory.tsv")):
    if line.strip():
        r, p, j = line.rstrip("\n").split("\t", 2)
        by.setdefault(p, []).append(json.loads(j))
for p, v in by.items():
    closed = sum(x["closed_by_proxy"] for x in v)
    if closed:
        sys.exit(f"memory.sh: {p} closed {closed} idle connections while measured")
def med(p, k):
    return statistics.median(x[k] for x in by[p])
names = {"infergate": "infergate", "nginx": "nginx", "haproxy": "HAProxy"}
lines = ["## 6b. Memory per idle keep-alive connection\n",
         f"{conns} keep-alive client connections held open by each proxy (one worker on core 0; the client, "
         "`bench/scripts/idle_memory.py`, and the upstream, an nginx answering from memory, on core 1), "
         f"{runs} run{'s' if runs > 1 else ''} per proxy (order rotating), medians.\n",
         "| proxy | idle RSS KiB | RSS with connections KiB | bytes/conn, used once and idle | bytes/conn, new (never used) | vs nginx | vs HAProxy |",
         "|---|---|---|---|---|---|---|"]
n_used, h_used = med("nginx", "used_bytes_per_conn"), med("haproxy", "used_bytes_per_conn")
for p in ("infergate", "nginx", "haproxy"):
    used = med(p, "used_bytes_per_conn")
    lines.append(f"| {names[p]} | {med(p, 'base_kib'):.0f} | {med(p, 'used_kib'):.0f} | {used:.0f} "
                 f"| {med(p, 'new_bytes_per_conn'):.0f} | {used / n_used:.2f} | {used / h_used:.2f} |")
lines += ["",
          "- RSS: VmRSS (/proc/PID/status) of the whole process, all threads; nginx: master + worker (the master's "
          "does not change with connections).",
          "- idle: after a warm-up (64 connections, one request each, closed: pools, upstream connections and code "
          "paths touched), no client connection open.",
          f"- bytes/conn, used once and idle: (RSS after one small GET on each of the {conns} connections, every "
          f"response read, the connections parked - idle RSS) / {conns}: the state every idle keep-alive "
          "connection is in. The client keeps at most 64 requests in flight, so upstream concurrency is the "
          "warm-up's and the delta is the downstream connections'.",
          "- bytes/conn, new: the same, measured before the requests, once the proxy holds the accepted, never-used "
          "connections (its descriptor count).",
          f"- Each proxy's connection limit is set to {conns + 1024} (infergate max_connections_per_worker, nginx "
          "worker_connections and worker_rlimit_nofile, HAProxy maxconn); nginx and HAProxy allocate their "
          "connection and descriptor tables for that limit at start, so that part is in their idle figure, not "
          "in the per-connection one. Memory freed by the 64 warm-up connections may be reused by the measured "
          "ones (at most 64/N of them).",
          "",
          "Target: infergate's bytes per idle connection ≤ 2× nginx's and HAProxy's.\n"]
open(os.path.join(out, "memory.md"), "w").write("\n".join(lines) + "\n")
dat = os.path.join(out, "memory.dat")
with open(dat, "w") as f:
    for p in ("infergate", "nginx", "haproxy"):
        f.write(f"{names[p]} {med(p, 'used_bytes_per_conn'):.0f} {med(p, 'new_bytes_per_conn'):.0f}\n")
try:
    subprocess.run(["gnuplot", "-e", f"""set terminal pngcairo size 640,400; set output '{os.path.join(out, "memory.png")}';
set style data histograms; set style fill solid 0.8; set ylabel 'bytes per idle connection';
set title 'Memory per idle keep-alive connection (lower is better)'; set yrange [0:*];
set key top right; plot '{dat}' using 2:xtic(1) title 'used once, idle', '' using 3 title 'new, never used'"""],
                   check=True, capture_output=True, timeout=30)
    open(os.path.join(out, "memory.md"), "a").write("![bytes per idle connection](memory.png)\n")
except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
    print(f"memory.sh: no chart ({e})", file=sys.stderr)
os.remove(dat)
i = med("infergate", "used_bytes_per_conn")
print(f"memory: {conns} idle connections, bytes/conn infergate {i:.0f}, nginx {n_used:.0f}, HAProxy {h_used:.0f}; "
      f"infergate {i / n_used:.2f}x nginx, {i / h_used:.2f}x HAProxy; idle RSS KiB infergate "
      f"{med('infergate', 'base_kib'):.0f}, nginx {med('nginx', 'base_kib'):.0f}, HAProxy {med('haproxy', 'base_kib'):.0f}")
PY
