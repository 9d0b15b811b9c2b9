#!/bin/sh
# The README's first command: install dependencies, build, start four
# simulated vLLM replicas (127.0.0.1:8001-8004) and infergate in front of
# them (traffic on 127.0.0.1:8080, admin on 127.0.0.1:9901), then wait.
# Ctrl-C stops everything.
set -eu
cd "$(dirname "$0")/.."
./packaging/build.sh infergate infergate-sim

pids=""
cleanup() {
  trap - INT TERM EXIT
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

logdir=$(mktemp -d /tmp/infergate-demo.XXXXXX)
for i in 1 2 3 4; do
  ./build/bench/infergate-sim --port "800$i" --name "replica-$i" \
    --ready-file "$logdir/sim$i.json" >"$logdir/sim$i.log" 2>&1 &
  pids="$pids $!"
done
./build/infergate --config config/examples/demo.yaml --ready-file "$logdir/infergate.json" &
pids="$pids $!"

# Bounded wait for every process to report its ports.
i=0
while [ $i -lt 100 ]; do
  n=$(ls "$logdir"/*.json 2>/dev/null | wc -l)
  [ "$n" -ge 5 ] && break
  i=$((i + 1))
  sleep 0.1
done
if [ "$(ls "$logdir"/*.json 2>/dev/null | wc -l)" -lt 5 ]; then
  echo "demo: something did not start; logs in $logdir" >&2
  exit 1
fi

cat <<MSG

infergate is running on http://127.0.0.1:8080 in front of 4 simulated vLLM
replicas (logs: $logdir). Try, in another terminal:

  curl -N http://127.0.0.1:8080/v1/chat/completions \\
    -H 'Content-Type: application/json' \\
    -d '{"model": "meta-llama/Llama-3.1-8B-Instruct", "stream": true,
         "max_tokens": 32, "messages": [{"role": "user", "content": "Hello!"}]}'

  curl -s http://127.0.0.1:9901/debug/endpoints   # what the picker sees
  curl -s http://127.0.0.1:9901/metrics           # Prometheus metrics

The response header x-gateway-destination-endpoint-served names the replica
the picker chose. Press Ctrl-C to stop.
MSG
wait
