#!/usr/bin/env bash
# Scenario 7, TLS beside nginx (issue 7's figures): full handshakes/s,
# resumed handshakes/s and keep-alive HTTPS requests/s of infergate and
# nginx (one worker each, pinned to core 0; the loader bench/tls/tls_load on
# core 1), the same certificate and OpenSSL settings, TLS 1.3 and 1.2. A
# wrapper around bench/scripts/tls_bench.sh, whose header describes the
# method; the table comes from bench/scripts/tls_report.py. Ratios are
# infergate/nginx, paired run by run, medians.
#
#   bench/scenarios/tls.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir (default build); tls_bench.sh builds
#   infergate, infergate-sim and tls_load in it.
# 8 runs of 2 s per case and server (about 4 minutes); --quick: 1 run of
# 1.5 s (about 40 s). Writes OUT_DIR/tls.md (report section) and
# OUT_DIR/tls.jsonl (the loader's lines); prints one summary line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
out=${1:?usage: tls.sh OUT_DIR [--quick]}
quick=${2:-}
mkdir -p "$out"
out=$(realpath "$out")
tmp=$(mktemp -d /tmp/infergate-bench-tls.XXXXXX)
bench_pid=
cleanup() {
    # tls_bench.sh passes TERM on to its own session and cleans up there.
    [ -n "$bench_pid" ] && kill -TERM "$bench_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

args=()
[ "$quick" = "--quick" ] && args=(--quick)
BUILD=${BUILD:-build} bench/scripts/tls_bench.sh "${args[@]}" --out "$out/tls" >"$tmp/stdout" &
bench_pid=$!
wait "$bench_pid" || { echo "tls.sh: tls_bench.sh failed" >&2; exit 1; }
bench_pid=
summary=$(sed -n 's/^tls_bench: //p' "$tmp/stdout" | tail -1)
[ -n "$summary" ] || { echo "tls.sh: tls_bench.sh printed no summary" >&2; exit 1; }
# tls_report.py's document becomes the section: one heading level down,
# its title replaced.
{
    echo "## 7. TLS beside nginx"
    echo
    sed -e '1{/^# /d}' -e 's/^## /### /' "$out/tls.md" | sed '1{/^$/d}'
} >"$tmp/section.md"
mv "$tmp/section.md" "$out/tls.md"
echo "tls: $summary"
