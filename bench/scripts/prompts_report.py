#!/usr/bin/env python3
"""Report section of bench/scenarios/prompts.sh from OUT/prompts.tsv
(prompts_run.py's lines, one per run, concurrency and path): OUT/prompts.md,
two gnuplot charts, and the summary line on stdout. Every figure is the
median over the runs; the throughput ratio is infergate/direct within each
run, then the median of those ratios; failed requests are totals over the
runs.

    prompts_report.py OUT SCALE PROMPT_TOKENS OUTPUT_TOKENS REPLICAS PER_CONN MIN_REQS RUNS QUICK LEVEL...

QUICK is "--quick" or empty (the report names a quick single run).
"""

import collections
import os
import platform
import statistics
import subprocess
import sys


def num(v):
    return None if v in ("", None) else float(v)


def us(v):
    return "—" if v is None else "> 1 s" if v == float("inf") else f"{v:.0f}"


def med(values):
    """Median of the values that are not None (inf sorts last); None when none."""
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def main():
    out, scale, ptok, otok, replicas, per_conn, min_reqs, runs, quick = sys.argv[1:10]
    runs = int(runs)
    levels = [int(x) for x in sys.argv[10:]]
    per_run = {}  # (path, concurrency, run) -> row
    for line in open(os.path.join(out, "prompts.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) < 20:
            continue
        per_run[(f[1], int(f[2]), int(f[0]))] = {
            "n": int(f[3]), "ok": int(f[4]), "failed": int(f[5]), "rps": float(f[6]),
            "p50": float(f[7]), "p99": float(f[8]), "lg_cpu": float(f[9]), "wall": float(f[10]),
            "ig_cpu": float(f[11]), "rq50": num(f[12]), "rq99": num(f[13]), "rqn": int(f[14]),
            "rs50": num(f[15]), "rs99": num(f[16]), "rsn": int(f[17]), "other0": float(f[18]),
            "busy1": float(f[19]), "connects": num(f[20]) if len(f) > 20 else None}
    by = collections.defaultdict(list)
    for (path, c, _), r in sorted(per_run.items()):
        r["ms_req"] = 1000 * r["ig_cpu"] / max(r["n"], 1)
        by[(path, c)].append(r)
    # Medians per path and concurrency; failed summed over the runs.
    rows = {}
    for key, rs in by.items():
        m = {k: med(r[k] for r in rs) for k in rs[0] if k != "failed"}
        m["failed"] = sum(r["failed"] for r in rs)
        m["runs"] = len(rs)
        rows[key] = m
    # infergate/direct per run, both measured in that run.
    run_ratios = {c: [per_run[("infergate", c, k)]["rps"] / per_run[("direct", c, k)]["rps"]
                      for k in range(1, runs + 1)
                      if ("infergate", c, k) in per_run and ("direct", c, k) in per_run
                      and per_run[("direct", c, k)]["rps"]]
                  for c in levels}
    runs_text = (f"{runs} runs" if runs > 1 else "1 run (quick)" if quick == "--quick" else "1 run")
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                      if l.startswith("model name")), "?")
    kb = int(ptok) * 4 / 1000
    load = open("/proc/loadavg").read().split()[0]
    lines = [
        "## 2. Large prompts\n",
        f"Streaming `/v1/completions`, each request a unique random prompt of {int(ptok):,} tokens "
        f"(≈ {kb:.0f} KB) and {otok} output tokens, closed loop at each concurrency "
        f"(max({per_conn} × concurrency, {min_reqs}) requests per load, after a 100-request warm-up per path, and each load right after an unmeasured round of one request per connection on the same path, so that it starts with the connections its concurrency holds in steady state), "
        f"{runs_text} per concurrency and path: infergate and direct back to back within a run, the one going "
        f"first alternating between concurrencies and runs, every load with its own seed (prompts never repeat, "
        f"so no cache hits). "
        + (f"**Figures are medians over the {runs} runs**; the ratio is infergate ÷ direct within each run, "
           f"then the median of those per-run ratios (their range in brackets); failed requests are totals "
           f"over the runs. " if runs > 1 else
           "**A single run: its figures, not medians** (a full run takes the median of 3); the ratio is "
           "infergate ÷ direct within the run. ") +
        f"Through "
        f"infergate (one worker, the full default picker profile: queue ×2, KV ×2, prefix ×3 with prompt "
        f"hashing, max-score) to {replicas} `infergate-sim` replicas, and straight to the same replicas "
        f"(the generator's round-robin). Replicas at `--time-scale {scale}` (a 55k-token prefill, ≈ 3 "
        f"simulated s, takes ≈ 3 real ms: near-instant), default calibration otherwise; the generator at "
        f"time scale 1, so every figure is real time. infergate alone on core 0; replicas and generator on "
        f"core 1 for both paths. Machine: {os.cpu_count()} × {cpu_model}, kernel {platform.release()}; "
        f"load average {load} at the end (other work on core 0 slows infergate's path only).\n",
        "| concurrency | req/s infergate | req/s direct | ratio infergate/direct | TTFT p50 ms infergate / direct "
        "| TTFT p99 ms infergate / direct | added request p50 / p99 µs | added response p50 / p99 µs "
        "| failed | generator CPU s / wall s (infergate, direct) | infergate CPU s (ms/request) "
        "| core 0 taken by other work | core 1 busy (infergate, direct) | upstream connects |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    ratios, worst_added, met = [], 0.0, True
    for c in levels:
        i, d = rows.get(("infergate", c)), rows.get(("direct", c))
        if not i or not d or not run_ratios[c]:
            lines.append(f"| {c} | missing run | | | | | | | | | | | | |")
            met = False
            continue
        ratio = statistics.median(run_ratios[c])
        spread = (f" ({min(run_ratios[c]):.2f}–{max(run_ratios[c]):.2f})" if len(run_ratios[c]) > 1 else "")
        ratios.append((c, ratio))
        for k in ("rq99", "rs99"):
            v = i[k]
            if v is None:
                met = False
            else:
                worst_added = max(worst_added, v)
        if ratio < 0.8 or i["failed"] or d["failed"]:
            met = False
        conns = "—" if i["connects"] is None else f"{i['connects']:.0f}"
        lines.append(
            f"| {c} | {i['rps']:.0f} | {d['rps']:.0f} | {ratio:.2f}{spread} | {i['p50']:.1f} / {d['p50']:.1f} "
            f"| {i['p99']:.1f} / {d['p99']:.1f} | {us(i['rq50'])} / {us(i['rq99'])} "
            f"| {us(i['rs50'])} / {us(i['rs99'])} | {i['failed']} / {d['failed']} "
            f"| {i['lg_cpu']:.1f} / {i['wall']:.1f}, {d['lg_cpu']:.1f} / {d['wall']:.1f} | {i['ig_cpu']:.1f} ({i['ms_req']:.2f}) "
            f"| {100 * i['other0']:.0f} % | {100 * i['busy1']:.0f} %, {100 * d['busy1']:.0f} % "
            f"| {conns} |")
    if worst_added >= 2000:
        met = False
    lines += [
        "",
        "Definitions (per run, then the median over the runs): requests/s = ok responses / the "
        "generator's wall time (start to last completion). "
        "TTFT = the request handed to the client → its first text event (connect and queueing included). "
        "Added latency = infergate's own histograms on its admin `/metrics`, the difference of scrapes "
        "taken before and after the run: request side = last request byte parsed → request handed to the "
        "upstream socket (body parse, routing, picking incl. prefix hashing, upstream connection); "
        "response side = first response bytes read from the replica → first write to the client done. "
        "p50/p99 are estimated from the bucket deltas (bounds 25, 50, 100, 250, 500 µs, 1, 2, 5 ms, ...), "
        "linearly interpolated inside the bucket: an estimate at bucket resolution (whether p99 is under "
        "2 ms is exact, 2 ms being a bound). Failed = requests not ok (non-200, error, cut stream), "
        "infergate / direct. CPU seconds are utime+stime over the run: the generator's (from its "
        "summary) and infergate's (/proc, also per request); a generator near 1 CPU s per wall s would "
        "have been the limit on core 1. Upstream connects: connections infergate opened to the replicas during the run (infergate_upstream_connections_opened_total; every other request reused a pooled one); a request that needs one waits a turn of the worker's event loop for it, behind every other connection's ready work. Core 0 taken by other work: the share of core 0's time busy with "
        "anything but infergate during infergate's run (/proc/stat; on a shared machine, other jobs), "
        "time infergate may have waited for; core 1 busy: the replicas, the generator and anything "
        "else there.",
        "",
        f"Target: infergate's requests/s ≥ 0.8× direct and its added latency p99 (both sides) under "
        f"2 ms at every concurrency: **{'met' if met else 'not met'}**"
        f" (lowest ratio {min((r for _, r in ratios), default=0):.2f}, highest added p99 "
        f"{worst_added / 1000:.2f} ms).",
        "",
        "Published anchor, for context only (another machine, another setup, not a same-run "
        "comparison): the Gateway API Inference Extension's issue 2928 reports, for its endpoint picker "
        "with 4 near-instant replicas and ~220 KB prompts, TTFT p50 156 ms already at concurrency 20, "
        "TTFT over 1 s at concurrency 150, and throughput flat near 130 requests/s.",
        ""]
    md = os.path.join(out, "prompts.md")
    open(md, "w").write("\n".join(lines) + "\n")

    dat = os.path.join(out, "prompts.dat")
    with open(dat, "w") as f:
        for c in levels:
            i, d = rows.get(("infergate", c)), rows.get(("direct", c))
            if i and d:
                f.write(f"{c} {i['rps']:.1f} {d['rps']:.1f} "
                        f"{(i['rq99'] or 0) / 1000:.4f} {(i['rs99'] or 0) / 1000:.4f}\n")
    charts = [
        ("prompts-rps.png", "requests/s vs concurrency",
         "set ylabel 'requests/s'; set yrange [0:*]; set title 'Large prompts: throughput (higher is better)'",
         "using 1:2 with linespoints title 'infergate', '' using 1:3 with linespoints title 'direct'"),
        ("prompts-added.png", "added latency p99 vs concurrency",
         "set ylabel 'ms (p99, bucket estimate)'; set logscale y; set title "
         "'Large prompts: infergate added latency p99 (lower is better)'",
         "using 1:4 with linespoints title 'request side', '' using 1:5 with linespoints title "
         "'response side', 2 with lines dashtype 2 title 'target 2 ms'")]
    for png, alt, setup, plot in charts:
        try:
            subprocess.run(["gnuplot", "-e",
                            f"set terminal pngcairo size 640,400; set output '{os.path.join(out, png)}'; "
                            f"set xlabel 'concurrency'; set key top left; set grid; {setup}; "
                            f"plot '{dat}' {plot}"],
                           check=True, capture_output=True, timeout=30)
            open(md, "a").write(f"![{alt}]({png})\n")
        except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            print(f"prompts.sh: no chart {png} ({e})", file=sys.stderr)
    os.remove(dat)
    print(f"prompts ({'medians of ' + runs_text if runs > 1 else runs_text.replace(' (', ', ').rstrip(')')}): "
          "infergate/direct req/s " +
          ", ".join(f"{r:.2f}x at c={c}" for c, r in ratios) +
          f"; added p99 max {worst_added / 1000:.2f} ms; target {'met' if met else 'not met'}")


if __name__ == "__main__":
    main()
