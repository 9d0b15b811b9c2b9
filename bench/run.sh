#!/usr/bin/env bash
# The benchmark entry point: builds infergate in release mode, installs the
# peers (nginx, HAProxy, wrk, gnuplot) from Debian through the packaging
# script, runs the scenarios with a progress line each, and writes
# bench/results/<UTC date>/report.md with the scenarios' tables and PNG
# charts. Each scenario is also a script of its own (bench/scenarios/).
#
#   bench/run.sh [--quick] [--build-dir DIR] [--out DIR] [scenario...]
#
# Scenarios (default: all of them):
#   proxy   raw proxy cost: CPU per request through infergate, nginx and
#           HAProxy to the same upstream (bench/scenarios/proxy.sh)
#   picker  picker decision cost: ns per pick of the default profile over
#           8/64/256 endpoints, prefix hashing GB/s (bench/scenarios/picker.sh)
#   memory  resident memory of infergate, nginx and HAProxy, idle and per
#           idle keep-alive connection (bench/scenarios/memory.sh)
#   tls     TLS beside nginx: handshakes/s and keep-alive HTTPS requests/s,
#           CPU per operation (bench/scenarios/tls.sh)
#   prompts large prompts: ~220 KB prompts at concurrency 20-150 through
#           infergate and straight to 4 near-instant simulator replicas,
#           requests/s ratio and infergate's added latency
#           (bench/scenarios/prompts.sh)
#   overload overload and priority: critical and sheddable classes at 70 %
#           and 150 % of a simulated fleet's capacity, with and without
#           shedding (bench/scenarios/overload.sh)
#   routing routing quality on llm-d's shared-prefix workload: TTFT, output
#           tokens/s and prefix-cache hit rate per QPS stage for infergate,
#           nginx round-robin, HAProxy leastconn and random, in front of
#           simulated vLLM replicas (bench/scenarios/routing.sh)
#   bursts  a burst of requests on a fresh prefix: spread over replicas and
#           TTFT with infergate's prefix and burst-aware producers and the
#           reference's windowed producer (bench/scenarios/bursts.sh)
# --quick runs every scenario at reduced size. --build-dir uses an existing
# meson build (CI's smoke test does; figures from a non-release build are
# marked as such). --out writes the report elsewhere.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/.."
root=$(pwd)
quick=""; build=""; out=""; scenarios=()
known=(proxy prompts routing bursts overload picker memory tls)
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=--quick ;;
        --build-dir) build=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
        *)
            if [[ ! " ${known[*]} " == *" $1 "* ]]; then
                echo "run.sh: unknown scenario '$1' (known: ${known[*]})" >&2
                exit 2
            fi
            scenarios+=("$1") ;;
    esac
    shift
done
[ ${#scenarios[@]} -eq 0 ] && scenarios=("${known[@]}")

echo "run.sh: dependencies" >&2
./packaging/install-deps.sh >/dev/null
buildtype=release
if [ -z "$build" ]; then
    build=build-release
    echo "run.sh: building $build (release)" >&2
    [ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
    targets=(infergate infergate-sim)
    for s in "${scenarios[@]}"; do
        case $s in
            picker) targets+=(picker_bench) ;;
            tls) targets+=(tls_load) ;;
            prompts|overload|routing|bursts)
                [[ " ${targets[*]} " == *" infergate-loadgen "* ]] || targets+=(infergate-loadgen) ;;
        esac
    done
    meson compile -C "$build" "${targets[@]}" >/dev/null
else
    buildtype=$(meson introspect "$build" --buildoptions 2>/dev/null |
                python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))')
fi
stamp=$(date -u +%Y-%m-%d)
out=${out:-bench/results/$stamp}
mkdir -p "$out"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
for s in "${scenarios[@]}"; do
    echo "run.sh: scenario $s" >&2
    line=$(BUILD="$build" "bench/scenarios/$s.sh" "$out" $quick | tail -1)
    echo "$line"
    # Kept beside the section, so that a scenario rerun alone (say, after
    # a change) rebuilds the whole report with the others' last results.
    echo "$line" >"$out/$s.summary"
    echo "${quick:+--quick }at commit $commit, $(date -u +%Y-%m-%dT%H:%MZ)" >"$out/$s.run"
done

{
    echo "# infergate benchmarks, $stamp"
    echo
    echo "Last command: \`bench/run.sh ${quick:+$quick }${scenarios[*]}\` at commit $commit;"
    echo "infergate built with buildtype=$buildtype$([ "$buildtype" = release ] || echo ' (not a release build: figures are not comparable)')."
    echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r),"
    echo "$(nginx -v 2>&1 | sed 's/^nginx version: //'), $(haproxy -v | head -1 | cut -d' ' -f1-3), $(openssl version | cut -d' ' -f1-2)."
    echo "Sections in scenario order; each names the run that produced it."
    echo
    echo "## Summary"
    echo
    for s in "${known[@]}"; do
        [ -f "$out/$s.summary" ] && echo "- $(cat "$out/$s.summary") ($(cat "$out/$s.run" 2>/dev/null))"
    done
    echo
    for s in "${known[@]}"; do
        [ -f "$out/$s.md" ] || continue
        cat "$out/$s.md"
        echo
        echo "_\`$s\`: $(cat "$out/$s.run" 2>/dev/null || echo 'run unknown')._"
        echo
    done
} >"$out/report.md"
echo "run.sh: report in $out/report.md" >&2
