#!/usr/bin/env python3
"""The numbers of bench/scenarios/overload.sh, from infergate-loadgen's CSV
and summary (simulated time: the generator runs at the replicas' scale).

    overload_report.py capacity CSV
        prints the fleet's capacity in requests/s: completions per second
        between the 25th and the 75th percentile of the ok requests'
        completion times (the closed loop's steady middle).
    overload_report.py run REP SEED RUN PCT PRIO QPS CSV SUMMARY SHED CORES0 CORES1 OWN0 OWN1 HZ
        prints one TSV line per class over the measured stage (the second):
        repetition, seed, run (a-d), pct, sheddable priority, qps, class, count, ok, 429s, other
        failures, TTFT p50, p90, p99 (ms), generator max lag (ms), infergate's
        shed counter, generator CPU s, real wall s, and the shares of core 0
        and core 1 that other work took during the run (CORES0/CORES1:
        "BUSY0 TOTAL0 BUSY1 TOTAL1" /proc/stat ticks before and after; OWN0:
        infergate's ticks, OWN1: the replicas' ticks; the generator's CPU
        comes from its summary).
    overload_report.py report OUT CAP SCALE REPLICAS PROMPT OUTPUT CAP_CONC CAP_REQS WARM MEASURED RUNS QUICK
        writes OUT/overload.md and OUT/overload-ttft.png from OUT/overload.tsv,
        prints the summary line. Every figure is the median over the
        repetitions (RUNS of them; QUICK is "--quick" or empty); the critical
        TTFT p90 ratio against (a) is taken within each repetition, then
        the median of those ratios.
"""

import collections
import csv
import json
import os
import platform
import statistics
import subprocess
import sys


def pct(values, q):
    """Linear interpolation between order statistics (numpy's default)."""
    if not values:
        return float("nan")
    v = sorted(values)
    x = q * (len(v) - 1)
    i = int(x)
    return v[i] if i + 1 >= len(v) else v[i] + (v[i + 1] - v[i]) * (x - i)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def capacity(path):
    done = sorted(float(r["scheduled_s"]) + float(r["lag_ms"] or 0) / 1000 + float(r["e2e_ms"]) / 1000
                  for r in rows(path) if r["status"] == "200" and not r["error"] and r["e2e_ms"])
    if len(done) < 100:
        sys.exit(f"overload_report.py: only {len(done)} ok requests in the capacity run")
    lo, hi = int(len(done) * 0.25), int(len(done) * 0.75)
    print(f"{(hi - lo) / (done[hi] - done[lo]):.2f}")


def calibration_estimate(replicas, prompt, output):
    """Steady state of a full batch under the sim's default calibration:
    256 running, output tokens each, so 256/output requests finish (and as
    many start their prefill) per step; returns requests/s for the fleet."""
    batch, k = 256, 256 / output
    step_us = 6470 + 19.8 * k * prompt + 304 * (batch - k) + 1.27e-3 * k * prompt * (prompt + 1) / 2
    return replicas * k / (step_us / 1e6)


def run(args):
    rep, seed, name, pct_, prio, qps, csv_path, summ, shed, cores0, cores1, own0, own1, hz = args
    s = json.load(open(summ))
    a, b = [int(x) for x in cores0.split()], [int(x) for x in cores1.split()]
    other0 = max(0, b[0] - a[0] - int(own0)) / max(b[1] - a[1], 1)
    other1 = max(0, b[2] - a[2] - int(own1) - s["cpu_seconds"] * int(hz)) / max(b[3] - a[3], 1)
    real_wall = s["wall_seconds"] / s["time_scale"]
    rs = [r for r in rows(csv_path) if r["stage"] == "1"]
    for cls in ("critical", "sheddable"):
        c = [r for r in rs if r["class"] == cls]
        ok = [r for r in c if r["status"] == "200" and not r["error"]]
        n429 = sum(1 for r in c if r["status"] == "429")
        ttft = [float(r["ttft_ms"]) for r in ok if r["ttft_ms"]]
        print("\t".join([rep, seed, name, pct_, prio, qps, cls, str(len(c)), str(len(ok)), str(n429),
                         str(len(c) - len(ok) - n429), f"{pct(ttft, 0.5):.1f}", f"{pct(ttft, 0.9):.1f}",
                         f"{pct(ttft, 0.99):.1f}", f"{s['lag_ms']['max']:.1f}", shed,
                         f"{s['cpu_seconds']:.1f}", f"{real_wall:.1f}", f"{other0:.2f}", f"{other1:.2f}"]))


def report(args):
    out, cap, scale, replicas, prompt, output, cap_conc, cap_reqs, warm, measured, runs, quick = args
    cap, runs = float(cap), int(runs)
    est = calibration_estimate(int(replicas), int(prompt), int(output))
    per = {}  # (repetition, run, class) -> that repetition's figures
    seeds = {}
    for line in open(os.path.join(out, "overload.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) < 20:
            continue
        seeds[int(f[0])] = f[1]
        n, ok = int(f[7]), int(f[8])
        per[(int(f[0]), f[2], f[6])] = {
            "qps": float(f[5]), "n": n, "ok": ok, "share": 100 * ok / n if n else 0.0, "n429": int(f[9]),
            "other": int(f[10]), "p50": float(f[11]), "p90": float(f[12]), "p99": float(f[13]),
            "lag": float(f[14]), "shed": float(f[15]), "cpu": float(f[16]), "wall": float(f[17]),
            "other0": float(f[18]), "other1": float(f[19])}
    reps = sorted(seeds)
    by = collections.defaultdict(list)
    for (r, run, cls), v in sorted(per.items()):
        by[(run, cls)].append(v)
    # Medians over the repetitions; the generator's lag is the worst of
    # them (a stall in any repetition is worth a warning), failures also
    # as totals (a critical failure in any repetition counts against the
    # target).
    t = {}
    for key, vs in by.items():
        m = {k: statistics.median(v[k] for v in vs) for k in vs[0]}
        m["lag"] = max(v["lag"] for v in vs)
        m["other_total"] = sum(v["other"] for v in vs)
        m["n429_total"] = sum(v["n429"] for v in vs)
        m["p90s"] = [v["p90"] for v in vs]
        t[key] = m

    def ratios(run):
        """Critical TTFT p90 of RUN over (a)'s, per repetition (both measured in it)."""
        out_ = []
        for r in reps:
            a_, x = per.get((r, "a", "critical")), per.get((r, run, "critical"))
            if a_ and x and a_["p90"] > 0:
                out_.append(x["p90"] / a_["p90"])
        return out_

    def median_or_nan(v):
        return statistics.median(v) if v else float("nan")

    reps_text = (f"{len(reps)} repetitions" if len(reps) > 1 else
                 "1 repetition (quick)" if quick == "--quick" else "1 repetition")
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                      if l.startswith("model name")), "?")
    load = open("/proc/loadavg").read().split()[0]
    label = {"a": "(a) 70 %, shedding on", "b": "(b) 150 %, shedding on", "c": "(c) 150 %, shedding off",
             "d": "(d) 150 %, shedding on, detector at 1 waiting"}
    lines = [
        "## 5. Overload and priority\n",
        f"{replicas} `infergate-sim` replicas with the default calibration (256 sequences, 8192-token "
        f"steps, 26,300 KV blocks each) at `--time-scale {scale}`; every figure is simulated time (the "
        f"generator runs at the same scale). Workload: streaming `/v1/completions`, unique random "
        f"prompts of {prompt} tokens, {output} output tokens, one SSE event per token. infergate (one "
        f"worker) on core 0, replicas and generator on core 1. Machine: {os.cpu_count()} × {cpu_model}, "
        f"kernel {platform.release()}; load average {load} at the end (other work on the machine "
        "slows the replicas and the generator).\n",
        f"Capacity: a closed loop straight to the replicas at concurrency {cap_conc} (every batch of 256 "
        f"full, a queue behind it), {cap_reqs} requests; completions per second between the 25th and "
        f"75th percentile of completion times: **{cap:.1f} requests/s** (the calibration's steady state "
        f"for a full batch estimates {est:.1f})."
        + (" The measured capacity is well below the estimate: the replicas fell behind real time (a "
           "loaded host), so the fleet ran slower than calibrated and the figures are the host's as much "
           "as the fleet's." if cap < 0.85 * est else "") + "\n",
        "The capacity is a calibration, measured once: every repetition below offers the same requests/s.\n",
        f"Loads through infergate: open-loop Poisson at 70 % and 150 % of that, a {warm} s warm-up stage "
        f"then {measured} s measured (figures below: requests sent in the measured stage), classes drawn "
        "1:1 and named by `x-gateway-inference-objective`: `critical` (priority 0) and `sheddable` "
        "(priority −1). Scheduler and saturation detector as `config/examples/priority.yaml` "
        "(utilization-detector: an endpoint is full at 5 waiting or 80 % KV; the pool is saturated when "
        "the mean is ≥ 1; headroom 0.2 as a filter; queue ×2, KV ×2, max-score). Shedding off (c): the "
        "same config with `sheddable` at priority 0 — infergate always has a saturation detector (as the "
        "reference's `ensureSaturationDetector`), so \"off\" means no request is sheddable and both "
        "classes are served alike, as with no priorities.\n",
        (f"{reps_text} of the four loads, each with its own seed ({', '.join(seeds[r] for r in reps)}; the "
         "four loads of a repetition share it), the order rotating between repetitions (a b c d, b c d a, "
         "…), every load on fresh replicas and a fresh infergate. **Figures are medians over the "
         f"{len(reps)} repetitions** (TTFT p90 per repetition in the last column); the ratios against (a) are "
         "taken within each repetition, then their median.\n" if len(reps) > 1 else
         f"{reps_text} of the four loads (seed {', '.join(seeds[r] for r in reps)}), every load on fresh "
         "replicas and a fresh infergate. **A single repetition: its figures, not medians** (a full run "
         "takes the median of 3).\n"),
        "| run | req/s offered | class | requests | served | 429 | other failures | TTFT p50 ms "
        "| TTFT p90 ms | TTFT p99 ms |" + (" TTFT p90 ms per repetition |" if len(reps) > 1 else ""),
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if len(reps) > 1 else "")]
    for run in ("a", "b", "c", "d"):
        for cls in ("critical", "sheddable"):
            r = t.get((run, cls))
            if not r:
                lines.append(f"| {label[run]} | | {cls} | missing | | | | | | |" + (" |" if len(reps) > 1 else ""))
                continue
            lines.append(f"| {label[run]} | {r['qps']:.1f} | {cls} | {r['n']:g} | {r['ok']:g} ({r['share']:.0f} %) "
                         f"| {r['n429']:g} | {r['other']:g} | {r['p50']:.0f} | {r['p90']:.0f} | {r['p99']:.0f} |"
                         + (f" {' / '.join(f'{x:.0f}' for x in r['p90s'])} |" if len(reps) > 1 else ""))
    extra = []
    for run in ("a", "b", "c", "d"):
        r = t.get((run, "critical"))
        if r:
            served = median_or_nan([(per[(k, run, "critical")]["ok"]
                                     + per.get((k, run, "sheddable"), {}).get("ok", 0)) / float(measured)
                                    for k in reps if (k, run, "critical") in per])
            extra.append(f"{label[run]}: of the requests sent in the measured stage, {served:.1f} per "
                         f"second were served, sooner or later ({100 * served / cap:.0f} % of capacity); "
                         f"infergate shed counter {r['shed']:g} "
                         f"(whole run), generator max send lag {r['lag']:.0f} ms (worst repetition), "
                         f"generator CPU "
                         f"{r['cpu']:.1f} s over {r['wall']:.1f} real s; other work on the machine took "
                         f"{100 * r['other0']:.0f} % of core 0 and {100 * r['other1']:.0f} % of core 1")
    # A generator that sent late by more than this (simulated ms) was held
    # up by its host: the run's load was not the Poisson schedule asked for.
    stalled = [run for run in ("a", "b", "c", "d") if t.get((run, "critical"), {}).get("lag", 0) > 500]
    rs_b, rs_c, rs_d = ratios("b"), ratios("c"), ratios("d")
    ratio_b, ratio_c, ratio_d = median_or_nan(rs_b), median_or_nan(rs_c), median_or_nan(rs_d)

    def each(rs):
        return f" (per repetition {', '.join(f'{x:.2f}' for x in rs)})" if len(rs) > 1 else ""

    def judge(run, ratio):
        crit, shed = t.get((run, "critical")), t.get((run, "sheddable"))
        why = []
        if not (shed and shed["n429"] > 0):
            why.append(f"({run}) no sheddable request was shed")
        if not (crit and crit["n429_total"] == 0 and crit["other_total"] == 0):
            why.append(f"({run}) critical requests failed")
        if not ratio <= 2:
            why.append(f"({run}) critical TTFT p90 is {ratio:.2f}× its 70 % value")
        return not why, why

    met_b, why_b = judge("b", ratio_b)
    met_d, why_d = judge("d", ratio_d)
    met = met_b or met_d
    why = why_b + why_d
    lines += [
        "",
        "Definitions: served = status 200 with the stream complete (`[DONE]`); 429 = shed by infergate "
        "(`rejected-saturated`); other failures = any other status or error (timeouts, cut streams). "
        "TTFT = request sent → first text event, over served requests. Send lag = how late the generator "
        "sent against its Poisson schedule (a large lag would mean it fell behind).",
        "",
        "- " + "\n- ".join(extra) if extra else "",
        "",
        (f"**Warning**: in {', '.join(label[r] for r in stalled)} the generator sent more than 0.5 s "
         "(simulated) late at some point: the host stalled it (or the replicas beside it), so those "
         "figures are the host's as much as infergate's; run again on a quieter machine.\n"
         if stalled else ""),
        f"Critical TTFT p90 relative to (a){', median of the per-repetition ratios' if len(reps) > 1 else ''}: "
        f"(b) with shedding **{ratio_b:.2f}×**{each(rs_b)}, (c) without **{ratio_c:.2f}×**{each(rs_c)}, "
        f"(d) with shedding and the detector at 1 waiting **{ratio_d:.2f}×**{each(rs_d)}. The detector sheds "
        "only once the pool is saturated (on average 5 waiting per endpoint, or 80 % KV), so with shedding the admitted load still fills the fleet to its "
        "capacity and keeps a queue about that deep: critical requests wait behind it, in the longer "
        "steps of a full batch. Without shedding the queue grows for as long as the overload lasts. "
        "(d) sheds once endpoints average 1 waiting request: the queue in front of critical requests "
        "stays short, at the price of shedding more sheddable work.",
        "",
        "Target: the critical class's TTFT p90 at 150 % within 2× of its value at 70 % (the median ratio) "
        f"while sheddable requests are shed and no critical request fails in any repetition: "
        f"**{'met' if met else 'not met'}**"
        + (f" with {'(b), the priority.yaml detector' if met_b else '(d), the detector at 1 waiting'}" if met else "")
        + ("" if met else f" ({'; '.join(why)})") + ".",
        ""]
    md = os.path.join(out, "overload.md")
    open(md, "w").write("\n".join(lines) + "\n")
    dat = os.path.join(out, "overload.dat")
    with open(dat, "w") as f:
        f.write("run critical sheddable\n")
        for run, name in (("a", "70%"), ("b", "150%-shed"), ("c", "150%-no-shed"), ("d", "150%-shed-q1")):
            v = [t.get((run, cls), {}).get("p90", 0) / 1000 for cls in ("critical", "sheddable")]
            f.write(f"{name} {v[0]:.3f} {v[1]:.3f}\n")
    try:
        subprocess.run(["gnuplot", "-e", f"""set terminal pngcairo size 640,400; set output '{os.path.join(out, "overload-ttft.png")}';
set style data histograms; set style fill solid 0.8; set ylabel 'TTFT p90, simulated s'; set logscale y;
set title 'Overload: TTFT p90 per class (lower is better)'; set key top left;
plot '{dat}' using 2:xtic(1) title columnheader(2), '' using 3 title columnheader(3)"""],
                       check=True, capture_output=True, timeout=30)
        open(md, "a").write("![TTFT p90 per class and run](overload-ttft.png)\n")
    except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f"overload.sh: no chart ({e})", file=sys.stderr)
    os.remove(dat)
    shed_share = median_or_nan([100 * per[(k, "b", "sheddable")]["n429"] / per[(k, "b", "sheddable")]["n"]
                                for k in reps if per.get((k, "b", "sheddable"), {}).get("n")])
    print(f"overload ({'medians of ' + reps_text if len(reps) > 1 else reps_text.replace(' (', ', ').rstrip(')')}): capacity {cap:.1f} req/s; "
          f"critical TTFT p90 at 150 % {ratio_b:.2f}x its 70 % value "
          f"with shedding ({shed_share:.0f} % of sheddable shed), {ratio_d:.2f}x with the detector at 1 "
          f"waiting, {ratio_c:.2f}x without; "
          f"target {'met' if met else 'not met'}"
          + (f" (host stalls in run {','.join(stalled)}: not a clean run)" if stalled else ""))


def main():
    mode = sys.argv[1]
    if mode == "capacity":
        capacity(sys.argv[2])
    elif mode == "run":
        run(sys.argv[2:16])
    elif mode == "report":
        report(sys.argv[2:14])
    else:
        sys.exit(f"overload_report.py: unknown mode {mode}")


if __name__ == "__main__":
    main()
