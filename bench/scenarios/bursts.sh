#!/usr/bin/env bash
# Scenario 4, a burst on a fresh prefix: 32 requests sharing an 8000-token
# prefix never seen before (each with its own 1000-token question, 200
# output tokens) arrive within 20 ms at 8 infergate-sim replicas (default
# calibration) that already carry background load (llm-d's shared-prefix
# workload: 83 groups x 3 prompts, 8000-token prefixes, 1000-token
# questions, 1000 output tokens, Poisson at BG_QPS through infergate's
# default profile). How the burst is placed decides how often its prefix is
# prefilled (once per replica it lands on) and how long its requests wait.
#
# Three ways to place the burst, each on a fresh fleet:
#   prefix       infergate, default profile (approx-prefix-cache-producer)
#   burst-aware  infergate, config/examples/burst-aware.yaml's profile
#   window       infergate-loadgen --route window:100:64:-1, the reproduction
#                of llm-d-router's burst-prefix-cache-producer (100 ms window,
#                minColocateBlocks 64, maxPerReplica -1), sending the burst
#                straight to the replicas (it bypasses the proxy and its
#                sub-ms cost; the background still goes through infergate's
#                default profile, which sees the burst only in its scrapes)
# The background is a second load generator through infergate in every
# case, so it is the same in all three. Each way runs SEEDS times (seed s:
# background and burst prompts and arrivals); medians are reported.
#
# Time is simulated, TIME_SCALE times faster than real (figures are in
# simulated time; --burst-window-ms, a real duration, is 20 / TIME_SCALE so
# the burst spans 20 simulated ms); infergate's scrape interval / staleness
# are 50 ms / 200 ms simulated, and burst-aware's prefillTokensPerSecond is
# per simulated second (burst_aware_scheduler in common.sh).
#
#   bench/scenarios/bursts.sh OUT_DIR [--quick]
#   BUILD=dir: a meson build dir holding infergate, bench/infergate-sim and
#   bench/infergate-loadgen (default build).
# Two bursts: "standard" (1000-token questions: the whole burst needs ~48k
# KV tokens, far below a replica's 420,800) and "oversized" (10,000-token
# questions: ~336k KV tokens with burst-aware's 256-token output estimate,
# more than the 80 % of a replica burst-aware lets one burst fill, so
# burst-aware must spill it while the plain producer does not).
# Full: standard 5 seeds, oversized 3; burst 25 s (simulated) into the
# background. --quick: standard 2 seeds, oversized 1.
# Writes OUT_DIR/bursts.md (report section), OUT_DIR/bursts/ (per run: the
# burst's loadgen CSV + JSON) and OUT_DIR/bursts.png; prints one summary
# line.
set -euo pipefail
cd "$(dirname "$(realpath "$0")")/../.."
root=$(pwd)
out=${1:?usage: bursts.sh OUT_DIR [--quick]}
quick=${2:-}
build=${BUILD:-build}
sim=$build/bench/infergate-sim
loadgen=$build/bench/infergate-loadgen
for b in "$build/infergate" "$sim" "$loadgen"; do
    [ -x "$b" ] || { echo "bursts.sh: $b is not built" >&2; exit 1; }
done

replicas=8
time_scale=5
tokens_per_event=20
bg_qps=10
burst=32
window="window:100:64:-1"
warm_s=25
# name:question tokens:seconds the background runs past the burst:seeds
variants=(standard:1000:12:5 oversized:10000:30:3)
[ "$quick" = "--quick" ] && { warm_s=20; variants=(standard:1000:8:2 oversized:10000:25:1); }
ways=(prefix burst-aware window)
burst_window_ms=$(python3 -c "print(20 / $time_scale)")
scrape_ms=$(python3 -c "print(max(1, round(50 / $time_scale)))")
stale_ms=$(python3 -c "print(max(1, round(200 / $time_scale)))")
timeout_real=$(python3 -c "print(120 / $time_scale)")

ulimit -n "$(ulimit -Hn)"
mkdir -p "$out/bursts"
. bench/scenarios/common.sh
bench_init bursts


sim_ports=()

proxy_port=$(free_port)
start_infergate() {  # $1: burst-aware or anything else (default profile)
    {
        infergate_yaml "$proxy_port" 0 "timeouts:
  upstream_response_header: 600s
  stream_idle: 600s" "    scrape_interval: ${scrape_ms}ms
    metrics_staleness: ${stale_ms}ms" "${sim_ports[@]/#/127.0.0.1:}"
        if [ "$1" = burst-aware ]; then
            burst_aware_scheduler
        fi
    } >"$tmp/infergate.yaml"
    taskset -c 0 "$build/infergate" --config "$tmp/infergate.yaml" >"$tmp/infergate.log" 2>&1 &
    proxy_pid=$!
    wait_port "$proxy_port"
}
stop_proxy() {
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$proxy_port") 2>/dev/null || return 0; sleep 0.05; done
}

begin=$(date +%s)
for v in "${variants[@]}"; do
IFS=: read -r vname qtokens after_s seeds <<<"$v"
for seed in $(seq "$seeds"); do
    for w in "${ways[@]}"; do
        printf 'bursts: %s burst, seed %d/%d, %s\n' "$vname" "$seed" "$seeds" "$w" >&2
        start_sims
        start_infergate "$w"
        sleep 0.5  # the picker's first scrapes
        burst_targets=(--target "http://127.0.0.1:$proxy_port")
        route=()
        if [ "$w" = window ]; then
            burst_targets=(); for p in "${sim_ports[@]}"; do burst_targets+=(--target "http://127.0.0.1:$p"); done
            route=(--route "$window")
        fi
        # Background and burst start together; the burst comes warm_s in.
        taskset -c 0 "$loadgen" --target "http://127.0.0.1:$proxy_port" \
            --workload shared-prefix --groups 83 --prompts-per-group 3 \
            --system-tokens 8000 --question-tokens 1000 --output-tokens 1000 \
            --schedule "$bg_qps:$((warm_s + after_s))" --time-scale "$time_scale" --seed "$seed" \
            --timeout "$timeout_real" --drain 0 \
            --summary "$out/bursts/$vname.$w.s$seed.bg.json" 2>"$tmp/bg.log" &
        bg_pid=$!
        taskset -c 0 "$loadgen" "${burst_targets[@]}" "${route[@]}" \
            --workload burst --burst "$burst" --burst-window-ms "$burst_window_ms" --burst-delay "$warm_s" \
            --system-tokens 8000 --question-tokens "$qtokens" --output-tokens 200 \
            --time-scale "$time_scale" --seed "$seed" --timeout "$timeout_real" \
            --csv "$out/bursts/$vname.$w.s$seed.csv" --summary "$out/bursts/$vname.$w.s$seed.json" 2>"$tmp/burst.log" ||
            { cat "$tmp/burst.log" >&2; exit 1; }
        wait "$bg_pid" || true  # --drain 0: its requests still in flight at the end are cut, by design
        bg_pid=
        stop_proxy
        stop_sims
    done
done
done
elapsed=$(( $(date +%s) - begin ))

python3 - "$out" "$time_scale" "$warm_s" "$bg_qps" "$burst" "$window" "$replicas" "$elapsed" \
    "$tokens_per_event" "${ways[*]}" "${variants[@]}" <<'PY'
import collections, csv, json, os, statistics, subprocess, sys
out, scale, warm_s, bg_qps, burst, window, replicas, elapsed, tpe, ways = sys.argv[1:11]
variants = [v.split(":") for v in sys.argv[11:]]
ways = ways.split()
replicas, burst = int(replicas), int(burst)
d = os.path.join(out, "bursts")
label = {"prefix": "infergate, prefix scorer (default profile)",
         "burst-aware": "infergate, burst-aware-prefix-producer",
         "window": f"windowed burst-prefix-cache-producer (loadgen `--route {window}`)"}

def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

lines = ["## 4. A burst on a fresh prefix\n",
         f"{burst} requests sharing a fresh 8000-token prefix, each with its own question, 200 output tokens, sent "
         f"evenly within 20 ms (simulated) at {replicas} `infergate-sim` replicas (default calibration, as scenario 3: "
         f"420,800 KV tokens each) {warm_s} s into a background of llm-d's shared-prefix workload (83 groups × 3 "
         f"prompts, 8000-token prefixes, 1000-token questions, 1000 output tokens) at {bg_qps} QPS Poisson through "
         f"infergate's default profile. Two load generators: the background one through infergate, the burst one "
         f"through infergate (prefix, burst-aware) or straight to the replicas with the window route (window). "
         f"Fresh replicas for every run (seed s draws the prompts, the burst's prefix and the arrivals); medians over "
         f"the seeds. Time scale {scale}× (figures simulated), {tpe} tokens per SSE event (the first alone), "
         f"infergate's scrape interval 50 ms simulated. Wall time: {elapsed} s.\n",
         "Bursts: **standard**, 1000-token questions (the whole burst needs ~48k KV tokens, far below a replica's "
         "420,800); **oversized**, 10,000-token questions (~336k KV tokens counting burst-aware's 256-token output "
         "estimate: more than the 80 % of a replica that burst-aware lets one burst fill, so it must spill; the plain "
         "producer keeps it on one replica).\n",
         "Ways: " + "; ".join(f"**{w}**: {label[w]}" for w in ways) + ". The window way reproduces the reference's "
         "producer client-side (infergate-loadgen `--route window:MS:MIN_COLOCATE_BLOCKS:MAX_PER_REPLICA`): 100 ms "
         "window (the reference's default), `minColocateBlocks` 64 (requests sharing ≥ 64 leading 64-token blocks, "
         "here the burst's 125-block prefix, co-locate, bounded by the window's fair share), `maxPerReplica` −1 "
         "(the reference's default); with the reference's sample config (`minColocateBlocks` 0) distinct prompts get "
         "no affinity and are only load-balanced. It sends directly to the replicas, so it skips the proxy's sub-ms "
         "cost, and its 100 ms wait counts in its TTFT.\n",
         "| burst | way | replicas used (median) | spread per run (requests per replica) | burst prefix hit rate | TTFT p50 s | TTFT p90 s | TTFT max s | ok (median) |",
         "|---|---|---|---|---|---|---|---|---|"]
summary, meds = [], {}
for vname, qtokens, after_s, seeds in variants:
    qtokens, seeds = int(qtokens), int(seeds)
    runs = collections.defaultdict(list)
    for w in ways:
        for s in range(1, seeds + 1):
            rows = [r for r in csv.DictReader(open(os.path.join(d, f"{vname}.{w}.s{s}.csv"))) if r["class"] == "burst"]
            ok = [r for r in rows if r["status"] == "200" and not r["error"]]
            ttft = [float(r["ttft_ms"]) / 1e3 for r in ok]
            hist = collections.Counter(r["replica"] for r in ok)
            # Each replica the burst lands on prefills the fresh prefix once;
            # the others' prefix tokens are cache hits.
            hit = (len(ok) - len(hist)) * 8000 / (len(ok) * (8000 + qtokens)) if ok else float("nan")
            runs[w].append(dict(ok=len(ok), p50=pct(ttft, 0.5), p90=pct(ttft, 0.9), mx=max(ttft, default=float("nan")),
                                distinct=len(hist), hist=sorted(hist.values(), reverse=True), hit=hit))
    med = {w: {k: statistics.median(r[k] for r in runs[w]) for k in ("p50", "p90", "mx", "distinct", "hit", "ok")}
           for w in ways}
    meds[vname] = med
    for w in ways:
        m = med[w]
        spread = " · ".join("/".join(str(c) for c in r["hist"]) for r in runs[w])
        lines.append(f"| {vname} ({qtokens}-token questions, {seeds} seeds) | {w} | {m['distinct']:g} | {spread} | "
                     f"{m['hit'] * 100:.0f} % | {m['p50']:.3f} | {m['p90']:.3f} | {m['mx']:.3f} | {m['ok']:g}/{burst} |")
    if all(w in med for w in ("prefix", "burst-aware", "window")):
        ba, wi, pf = med["burst-aware"], med["window"], med["prefix"]
        summary.append(f"{vname} burst: burst-aware {ba['distinct']:g} prefix prefills vs window {wi['distinct']:g} "
                       f"({wi['distinct'] / max(ba['distinct'], 1):.1f}x fewer), p90 TTFT {ba['p90']:.2f}s vs "
                       f"{wi['p90']:.2f}s ({ba['p90'] / wi['p90']:.2f}x the window's, {ba['p90'] / pf['p90']:.2f}x "
                       f"the plain scorer's)")
    else:
        summary.append(f"{vname}: " + ", ".join(f"{w} {med[w]['distinct']:g} replicas p90 TTFT {med[w]['p90']:.2f}s"
                                                for w in ways))
lines.append("\nDefinitions: TTFT = the burst request sent → its first token (load generator; for the window way it "
             "includes the window wait); percentiles over one run's ok burst requests, then the median over seeds. "
             "Replicas used = prefix prefills: each replica the burst lands on computes the fresh prefix once (a "
             "burst request's prompt fills a step's 8192-token budget, so the next ones on that replica are admitted "
             "after the prefix blocks are cached: checked on an idle replica, 32 burst requests hit 31 × 8000 tokens). "
             "Burst prefix hit rate = (ok burst requests − replicas used) × 8000 ÷ (ok burst requests × prompt "
             "tokens), computed from the spread, not scraped (the background's hits would blur a scraped delta).\n")
lines.append("Co-locating a burst trades TTFT for prefill work: the prefix is computed once instead of once per "
             "replica, but the burst's distinct question tokens are then prefilled by one replica, 8192 tokens per "
             "step, where a spread burst has them prefilled by several in parallel.\n")
verdicts = []
for vname, med in meds.items():
    if all(w in med for w in ("prefix", "burst-aware", "window")):
        ba, wi, pf = med["burst-aware"], med["window"], med["prefix"]
        ok = ba["distinct"] <= wi["distinct"] and ba["p90"] <= min(wi["p90"], pf["p90"])
        verdicts.append(ok)
        lines.append(f"{vname}: burst-aware prefilled the prefix {ba['distinct']:g} time(s), the window "
                     f"{wi['distinct']:g}, the plain prefix scorer {pf['distinct']:g}; burst-aware's p90 TTFT is "
                     f"{ba['p90'] / wi['p90']:.2f}× the window's and {ba['p90'] / pf['p90']:.2f}× the plain "
                     f"scorer's.\n")
if verdicts:
    lines.append("Target: on each burst, burst-aware prefills the prefix no more often than the window and its p90 "
                 "TTFT is no worse than the window's or the plain scorer's. "
                 f"**{'Met' if all(verdicts) else 'Not met'}.**\n")
# Chart: p90 TTFT per way and burst.
dat = os.path.join(d, "bursts.dat")
with open(dat, "w") as fh:
    fh.write("way " + " ".join(v[0] for v in variants) + "\n")
    for w in ways:
        fh.write(w + " " + " ".join(f"{meds[v[0]][w]['p90']:.4f}" for v in variants) + "\n")
cols = ", ".join(("'%s' using %d:xtic(1) title columnheader(%d)" % (dat, i + 2, i + 2)) if i == 0 else
                 ("'' using %d title columnheader(%d)" % (i + 2, i + 2)) for i in range(len(variants)))
try:
    subprocess.run(["gnuplot", "-e", f"""set terminal pngcairo noenhanced size 640,400; set output '{os.path.join(out, "bursts.png")}';
set style data histograms; set style fill solid 0.8; set ylabel 'burst p90 TTFT (s, simulated)'; set yrange [0:*];
set title 'Burst of {burst} on a fresh prefix: p90 TTFT (median over seeds)'; set key top left; plot {cols}"""],
                   check=True, capture_output=True, timeout=60)
    lines.append("![burst p90 TTFT](bursts.png)\n")
except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
    print(f"bursts.sh: no chart ({e})", file=sys.stderr)
os.remove(dat)
open(os.path.join(out, "bursts.md"), "w").write("\n".join(lines) + "\n")
print("bursts: " + "; ".join(summary))
PY
