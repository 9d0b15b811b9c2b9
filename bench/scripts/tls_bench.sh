#!/usr/bin/env bash
# TLS speed beside nginx (issue 7): full handshakes/s, resumed handshakes/s
# and keep-alive HTTPS requests/s of infergate (one worker) and of nginx
# (worker_processes 1), both with the same RSA-2048 certificate and the
# same protocol settings (TLS 1.2+1.3, Mozilla-intermediate ciphers and
# groups, server cipher preference, session tickets, ALPN http/1.1), both
# answering GET /v1/models locally with the same JSON.
#
#   bench/scripts/tls_bench.sh [--quick] [--runs N] [--duration S]
#       [--concurrency N] [--servers "nginx infergate"] [--no-tls12]
#       [--cases "full:1.3 resume:1.2 ..."] [--perf DIR] [--keep] [--out PREFIX]
#   BUILD=dir: the meson build directory (default build); the script builds
#   infergate, infergate-sim and tls_load in it.
#   BENCH_NICE=n: scheduling weight of the run (default -19; 0: unchanged).
#   --perf DIR: after the measured runs, one more run per case and server
#   under `perf record -g -p <server>` (not counted in the table); the
#   recordings and their reports (by shared object, by symbol) go to DIR.
#
# Method. Each server runs pinned to core 0, the loader (bench/tls/tls_load)
# to core 1; only one server is loaded at a time (the other sits idle).
# Every case (mode, TLS version) x server is run --runs times (default 8,
# of 2 s: many short runs track the machine's changing load better than a
# few long ones), the server order alternating between runs; medians are
# reported, and infergate/nginx ratios are taken run by run (paired). The
# loader snapshots utime+stime of the server (/proc/PID/stat; nginx: its one
# worker; infergate: the whole process, all threads) and its own rusage at
# the start and end of the measured interval, after a warm-up; CPU per
# operation = CPU seconds / operations completed in the interval.
#
# The machine may be shared: the run gets a session of its own and, when
# allowed (root, autogroup scheduling), that session's CPU weight is raised
# (autogroup nice -19) so other work on the two cores does not decide the
# figures. Load and CPU pressure are recorded with the results; the "busy"
# columns (CPU s / wall s) show whether the server was saturated (~1.0) or
# waited on the loader.
#
# Writes bench/results/tls-<UTC stamp>.md (table and machine) and .jsonl
# (the loader's lines), or PREFIX.md and PREFIX.jsonl with --out (the
# benchmark scenario, bench/scenarios/tls.sh); prints a one-line summary. Default: ~4 minutes;
# --quick: ~30 s.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
root=$(pwd)

# A session of its own (its own autogroup); INT/TERM are passed on so the
# inner run still cleans up.
if [ -z "${TLS_BENCH_INNER:-}" ]; then
    export TLS_BENCH_INNER=1
    setsid bash "$self" "$@" &
    inner=$!
    trap 'kill -TERM $inner 2>/dev/null || true' INT TERM
    status=0
    wait $inner || status=$?
    if kill -0 $inner 2>/dev/null; then  # a signal ended the first wait
        status=0
        wait $inner || status=$?
    fi
    exit $status
fi

runs=8 duration=2 warmup=0.5 concurrency=64 tls12=1 keep=0 cases= perf_dir= out=
servers="nginx infergate"
while [ $# -gt 0 ]; do
    case $1 in
        --quick) runs=1 duration=1.5 warmup=0.5 ;;
        --runs) runs=$2; shift ;;
        --duration) duration=$2; shift ;;
        --concurrency) concurrency=$2; shift ;;
        --servers) servers=$2; shift ;;
        --no-tls12) tls12=0 ;;
        --cases) cases=$2; shift ;;
        --perf) perf_dir=$2; shift ;;
        --keep) keep=1 ;;
        --out) out=$2; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$self"; exit 0 ;;
        *) echo "tls_bench: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
case $runs in ''|*[!0-9]*|0) echo "tls_bench: --runs N, 1 <= N <= 9" >&2; exit 2 ;; esac
[ "$runs" -le 9 ] || { echo "tls_bench: --runs N, 1 <= N <= 9" >&2; exit 2; }
awk -v d="$duration" 'BEGIN { exit !(d + 0 > 0 && d + 0 <= 60) }' ||
    { echo "tls_bench: --duration S, 0 < S <= 60" >&2; exit 2; }
for s in $servers; do
    case $s in nginx|infergate) ;; *) echo "tls_bench: unknown server $s" >&2; exit 2 ;; esac
done
if [ -z "$cases" ]; then
    cases="full:1.3 resume:1.3 keepalive:1.3"
    [ $tls12 = 1 ] && cases="$cases full:1.2 resume:1.2"
fi
for c in $cases; do
    case $c in full:1.[23]|resume:1.[23]|keepalive:1.[23]) ;; *) echo "tls_bench: unknown case $c" >&2; exit 2 ;; esac
done
has() { [[ " $servers " == *" $1 "* ]]; }

BUILD=${BUILD:-build}
[ "$(nproc)" -ge 2 ] || { echo "tls_bench: needs two cores (server on 0, loader on 1)" >&2; exit 1; }
[ -z "$perf_dir" ] || command -v perf >/dev/null || { echo "tls_bench: --perf needs perf" >&2; exit 1; }
for tool in openssl nginx taskset curl python3; do
    command -v $tool >/dev/null || { echo "tls_bench: $tool not found" >&2; exit 1; }
done

# --- build ------------------------------------------------------------------
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" --buildtype=debugoptimized >/dev/null
targets=bench/tls_load
has infergate && targets="$targets infergate bench/infergate-sim"
ninja -C "$BUILD" $targets >/dev/null
infergate_bin=$root/$BUILD/infergate
sim_bin=$root/$BUILD/bench/infergate-sim
load_bin=$root/$BUILD/bench/tls_load

# --- scheduling weight --------------------------------------------------------
nice_note="unchanged (BENCH_NICE=0)"
n=${BENCH_NICE:--19}
if [ "$n" != 0 ]; then
    if echo "$n" 2>/dev/null >/proc/self/autogroup; then
        nice_note="session autogroup nice $n"
    elif renice -n "$n" -p $$ >/dev/null 2>&1; then
        nice_note="process nice $n (no autogroup)"
    else
        nice_note="unchanged (raising it was not permitted)"
    fi
fi

# --- temp dir, processes, cleanup ---------------------------------------------
tmp=$(mktemp -d /tmp/tls_bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ $keep = 1 ]; then echo "tls_bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for WHAT CMD...: polls CMD at most 100 times 0.1 s apart (process
# start-up; nothing measured depends on it).
wait_for() {
    local what=$1; shift
    for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
    echo "tls_bench: timed out waiting for $what" >&2
    return 1
}
# wait_ready WHAT PID FILE LOG: waits for PID's ready file; if PID exits
# first, shows the end of its LOG.
wait_ready() {
    local what=$1 pid=$2 file=$3 log=$4
    ready_or_gone() { test -s "$file" || ! kill -0 "$pid" 2>/dev/null; }
    wait_for "$what (log: $log)" ready_or_gone
    if ! test -s "$file"; then
        echo "tls_bench: $what exited:" >&2
        tail -5 "$log" >&2
        return 1
    fi
}
# ready_port FILE KEY...: the value at that path in a ready file's JSON.
ready_port() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d = d[k]
print(d)' "$@"
}
https_get() {  # PORT PATH: prints the body; the server is verified as bench.test
    curl -sS --fail --max-time 5 --cacert "$tmp/ca.crt" --resolve "bench.test:$1:127.0.0.1" \
        "https://bench.test:$1$2"
}

ciphers=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
groups=X25519:prime256v1:secp384r1
# infergate's TLS 1.3 suite order (tls/server_context.hpp); nginx is given
# it, one ticket per full handshake and OpenSSL's built-in session cache
# (20480 sessions) as infergate sets them, so both run the same OpenSSL
# configuration and differ only in the code around it.
tls13_suites=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256

# RSA-2048 CA and server certificate (SAN DNS:bench.test, IP:127.0.0.1,
# 90 days: under the 397-day ceiling) in $tmp.
make_certs() (
    cd "$tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 90 -keyout ca.key -out ca.crt \
        -subj "/CN=infergate bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout server.key -out server.csr \
        -subj "/CN=bench.test" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:bench.test,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -sha256 -days 90 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
        -extfile server.ext -out server.crt 2>/dev/null
    openssl verify -CAfile ca.crt server.crt >/dev/null
)

# infergate: one worker, a TLS listener (TLS-SHAPE; min_version 1.2 is the
# Mozilla-intermediate profile), access log off, one pool of one idle
# infergate-sim; GET /v1/models is answered by infergate itself. Sets
# infergate_pid, infergate_port and models_json (its /v1/models answer).
start_infergate() {
    taskset -c 1 "$sim_bin" --port 0 --ready-file "$tmp/sim.json" --name bench-sim >"$tmp/sim.log" 2>&1 &
    pids+=($!)
    wait_ready infergate-sim $! "$tmp/sim.json" "$tmp/sim.log"
    local sim_port
    sim_port=$(ready_port "$tmp/sim.json" port)
    cat >"$tmp/infergate.yaml" <<YAML
workers: 1
listeners:
  - name: https
    address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: $tmp/server.crt
          key_file: $tmp/server.key
      min_version: "1.2"
      session_tickets: true
      session_timeout: 3600s
admin:
  address: 127.0.0.1:0
access_log:
  path: "off"
routes:
  - name: all
    match:
      path_prefix: /
      model: bench-model
    backends:
      - pool: sim
pools:
  - name: sim
    engine: vllm
    endpoints:
      - address: 127.0.0.1:$sim_port
YAML
    taskset -c 0 "$infergate_bin" --config "$tmp/infergate.yaml" --ready-file "$tmp/infergate.json" \
        >"$tmp/infergate.log" 2>&1 &
    infergate_pid=$!
    pids+=($infergate_pid)
    wait_ready infergate $infergate_pid "$tmp/infergate.json" "$tmp/infergate.log"
    infergate_port=$(ready_port "$tmp/infergate.json" listeners https)
    models_json=$(https_get "$infergate_port" /v1/models)
}

# nginx: one worker (a non-daemon child with its own prefix), the same
# certificate and TLS settings, returning models_json for /v1/models. Sets
# nginx_port and nginx_worker.
start_nginx() {
    case $models_json in *"'"* | *'\'*)
        echo "tls_bench: the /v1/models answer cannot be quoted in nginx.conf" >&2; return 1 ;;
    esac
    nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 1000000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        server_name bench.test;
        ssl_certificate $tmp/server.crt;
        ssl_certificate_key $tmp/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $ciphers;
        ssl_ecdh_curve $groups;
        ssl_prefer_server_ciphers on;
        ssl_session_tickets on;
        ssl_session_timeout 1h;
        ssl_session_cache builtin:20480;
        ssl_conf_command Ciphersuites $tls13_suites;
        ssl_conf_command NumTickets 1;
        location = /v1/models {
            default_type application/json;
            return 200 '$models_json';
        }
    }
}
CONF
    taskset -c 0 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" >"$tmp/nginx/out.log" 2>&1 &
    nginx_master=$!
    pids+=($nginx_master)
    wait_for "nginx (log: $tmp/nginx/error.log)" nginx_up
    [ "$(https_get "$nginx_port" /v1/models)" = "$models_json" ] ||
        { echo "tls_bench: nginx and infergate answer /v1/models differently" >&2; return 1; }
}
nginx_up() {
    nginx_worker=$(pgrep -P "$nginx_master" | head -1) && [ -n "$nginx_worker" ] &&
        https_get "$nginx_port" /v1/models >/dev/null 2>&1
}

make_certs
# infergate's answer for this config, used when infergate is not run.
models_json='{"object":"list","data":[{"id":"bench-model","object":"model","owned_by":"infergate"}]}'
infergate_pid= infergate_port= nginx_port= nginx_worker= nginx_master=
if has infergate; then start_infergate; fi
if has nginx; then start_nginx; fi

server_port() { if [ "$1" = nginx ]; then echo "$nginx_port"; else echo "$infergate_port"; fi; }
server_pid() { if [ "$1" = nginx ]; then echo "$nginx_worker"; else echo "$infergate_pid"; fi; }
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }  # utime + stime

# Idle CPU of each server over 2 s (infergate scrapes its pool every 50 ms).
idle_ms=()
for s in $servers; do
    p=$(server_pid "$s"); a=$(cpu_ticks "$p"); sleep 2; b=$(cpu_ticks "$p")
    idle_ms+=("$s=$(( (b - a) * 1000 / $(getconf CLK_TCK) / 2 ))")
done

# --- runs ---------------------------------------------------------------------
load() {  # SERVER MODE TLS: one tls_load run against SERVER; prints its JSON line
    taskset -c 1 "$load_bin" --mode "$2" --tls-max "$3" --port "$(server_port "$1")" \
        --sni bench.test --cafile "$tmp/ca.crt" --path /v1/models \
        --concurrency "$concurrency" --duration "$duration" --warmup "$warmup" \
        --server-pid "$(server_pid "$1")"
}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${out:-bench/results/tls-$stamp}
mkdir -p "$(dirname "$out")"
raw=$out.jsonl
: >"$raw"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU time of the whole machine (all fields) and its steal part, cores 0-1
cpu_times() { awk '$1 == "cpu0" || $1 == "cpu1" { for (i = 2; i <= NF; i++) t += $i; s += $9 } END { print t, s }' /proc/stat; }
read -r total0 steal0 < <(cpu_times)
total=$(( $(wc -w <<<"$cases") * runs * $(wc -w <<<"$servers") ))
i=0
for c in $cases; do
    mode=${c%:*} tls=${c#*:}
    for r in $(seq "$runs"); do
        order=$servers
        [ $((r % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$servers" | tac | tr '\n' ' ')
        for s in $order; do
            i=$((i + 1))
            printf '\rtls_bench: run %d/%d (%s TLS %s, %s)          ' $i $total "$mode" "$tls" "$s" >&2
            # A loader that ends without a JSON line (watchdog, bad option) stops
            # the bench; one that reports a failure (resume priming) is recorded.
            line=$(load "$s" "$mode" "$tls") || true
            if [[ $line != "{"* ]]; then
                echo >&2
                echo "tls_bench: tls_load gave no result ($s, $mode, TLS $tls)" >&2
                exit 1
            fi
            echo "{\"server\":\"$s\",\"tls\":\"$tls\",\"run\":$r,\"load\":$line}" >>"$raw"
        done
    done
done
echo >&2
pressure=$(sed -n 's/^some //p' /proc/pressure/cpu 2>/dev/null || true)
read -r total1 steal1 < <(cpu_times)
steal_pct=$(awk -v t=$((total1 - total0)) -v s=$((steal1 - steal0)) 'BEGIN { printf "%.1f", t ? 100 * s / t : 0 }')

# --- profiles (not part of the table) ------------------------------------------
if [ -n "$perf_dir" ]; then
    mkdir -p "$perf_dir"
    for c in $cases; do
        mode=${c%:*} tls=${c#*:}
        for s in $servers; do
            echo "tls_bench: profiling $s, $mode TLS $tls" >&2
            rec=$perf_dir/$s-$mode-$tls
            perf record -q -g -p "$(server_pid "$s")" -o "$rec.data" >/dev/null 2>&1 &
            perf_pid=$!
            load "$s" "$mode" "$tls" >"$rec.json" || true
            kill -INT $perf_pid 2>/dev/null || true
            wait $perf_pid || true
            perf report -i "$rec.data" --no-children --sort dso --stdio -g none 2>/dev/null |
                grep -v '^#' | grep -v '^$' | head -15 >"$rec.dso.txt" || true
            perf report -i "$rec.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
                grep -v '^#' | grep -v '^$' | head -60 >"$rec.sym.txt" || true
        done
    done
    echo "tls_bench: profiles in $perf_dir" >&2
fi

# --- report -------------------------------------------------------------------
buildtype=$(python3 -c 'import json, sys
print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' \
    "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
export TB_STAMP=$stamp TB_SERVERS=$servers TB_RUNS=$runs TB_DURATION=$duration TB_WARMUP=$warmup \
    TB_CONCURRENCY=$concurrency TB_CIPHERS=$ciphers TB_SUITES=$tls13_suites TB_GROUPS=$groups TB_NICE=$nice_note \
    TB_LOAD=$load_before TB_PRESSURE=${pressure:-unavailable} TB_STEAL=$steal_pct TB_IDLE="${idle_ms[*]}" TB_NPROC=$(nproc) \
    TB_CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo) TB_KERNEL=$(uname -r) \
    TB_OPENSSL=$(openssl version) TB_NGINX=$(nginx -v 2>&1 | sed 's/^nginx version: //') \
    TB_COMMIT=$commit TB_BUILD="$BUILD ($buildtype)"
summary=$(python3 bench/scripts/tls_report.py "$raw" "$out.md")
echo "tls_bench: $summary"
echo "tls_bench: results in $out.md, $raw" >&2
