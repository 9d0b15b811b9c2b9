#!/usr/bin/env python3
"""The numbers of bench/scenarios/overload.sh, from infergate-loadgen's CSV
and summary (simulated time: the generator runs at the replicas' scale).

    overload_report.py capacity CSV
        prints the fleet's capacity in requests/s: completions per second
        between the 25th and the 75th percentile of the ok requests'
        completion times (the closed loop's steady middle).
    overload_report.py run RUN PCT PRIO QPS CSV SUMMARY SHED CORES0 CORES1 OWN0 OWN1 HZ
        prints one TSV line per class over the measured stage (the second):
        run, pct, sheddable priority, qps, class, count, ok, 429s, other
        failures, TTFT p50, p90, p99 (ms), generator max lag (ms), infergate's
        shed counter, generator CPU s, real wall s, and the shares of core 0
        and core 1 that other work took during the run (CORES0/CORES1:
        "BUSY0 TOTAL0 BUSY1 TOTAL1" /proc/stat ticks before and after; OWN0:
        infergate's ticks, OWN1: the replicas' ticks; the generator's CPU
        comes from its summary).
    overload_report.py report OUT CAP SCALE REPLICAS PROMPT OUTPUT CAP_CONC CAP_REQS WARM MEASURED
        writes OUT/overload.md and OUT/overload-ttft.png from OUT/overload.tsv,
        prints the summary line.
"""

import csv
import os
import platform
import subprocess
import sys
import json


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
    name, pct_, prio, qps, csv_path, summ, shed, cores0, cores1, own0, own1, hz = args
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
        print("\t".join([name, pct_, prio, qps, cls, str(len(c)), str(len(ok)), str(n429),
                         str(len(c) - len(ok) - n429), f"{pct(ttft, 0.5):.1f}", f"{pct(ttft, 0.9):.1f}",
                         f"{pct(ttft, 0.99):.1f}", f"{s['lag_ms']['max']:.1f}", shed,
                         f"{s['cpu_seconds']:.1f}", f"{real_wall:.1f}", f"{other0:.2f}", f"{other1:.2f}"]))


def report(args):
    out, cap, scale, replicas, prompt, output, cap_conc, cap_reqs, warm, measured = args
    cap = float(cap)
    est = calibration_estimate(int(replicas), int(prompt), int(output))
    t = {}
    for line in open(os.path.join(out, "overload.tsv")):
        f = line.rstrip("\n").split("\t")
        if len(f) < 18:
            continue
        t[(f[0], f[4])] = {"pct": f[1], "prio": f[2], "qps": float(f[3]), "n": int(f[5]), "ok": int(f[6]),
                           "n429": int(f[7]), "other": int(f[8]), "p50": float(f[9]), "p90": float(f[10]),
                           "p99": float(f[11]), "lag": float(f[12]), "shed": f[13], "cpu": float(f[14]),
                           "wall": float(f[15]), "other0": float(f[16]), "other1": float(f[17])}
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
        f"Loads through infergate: open-loop Poisson at 70 % and 150 % of that, a {warm} s warm-up stage "
        f"then {measured} s measured (figures below: requests sent in the measured stage), classes drawn "
        "1:1 and named by `x-gateway-inference-objective`: `critical` (priority 0) and `sheddable` "
        "(priority −1). Scheduler and saturation detector as `config/examples/priority.yaml` "
        "(utilization-detector: an endpoint is full at 5 waiting or 80 % KV; the pool is saturated when "
        "the mean is ≥ 1; headroom 0.2 as a filter; queue ×2, KV ×2, max-score). Shedding off (c): the "
        "same config with `sheddable` at priority 0 — infergate always has a saturation detector (as the "
        "reference's `ensureSaturationDetector`), so \"off\" means no request is sheddable and both "
        "classes are served alike, as with no priorities.\n",
        "| run | req/s offered | class | requests | served | 429 | other failures | TTFT p50 ms "
        "| TTFT p90 ms | TTFT p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for run in ("a", "b", "c", "d"):
        for cls in ("critical", "sheddable"):
            r = t.get((run, cls))
            if not r:
                lines.append(f"| {label[run]} | | {cls} | missing | | | | | | |")
                continue
            share = 100 * r["ok"] / r["n"] if r["n"] else 0
            lines.append(f"| {label[run]} | {r['qps']:.1f} | {cls} | {r['n']} | {r['ok']} ({share:.0f} %) "
                         f"| {r['n429']} | {r['other']} | {r['p50']:.0f} | {r['p90']:.0f} | {r['p99']:.0f} |")
    extra = []
    for run in ("a", "b", "c", "d"):
        r = t.get((run, "critical"))
        if r:
            served = (r["ok"] + t.get((run, "sheddable"), {}).get("ok", 0)) / float(measured)
            extra.append(f"{label[run]}: of the requests sent in the measured stage, {served:.1f} per "
                         f"second were served, sooner or later ({100 * served / cap:.0f} % of capacity); "
                         f"infergate shed counter {r['shed']} "
                         f"(whole run), generator max send lag {r['lag']:.0f} ms, generator CPU "
                         f"{r['cpu']:.1f} s over {r['wall']:.1f} real s; other work on the machine took "
                         f"{100 * r['other0']:.0f} % of core 0 and {100 * r['other1']:.0f} % of core 1")
    # A generator that sent late by more than this (simulated ms) was held
    # up by its host: the run's load was not the Poisson schedule asked for.
    stalled = [run for run in ("a", "b", "c", "d") if t.get((run, "critical"), {}).get("lag", 0) > 500]
    a, b, c = t.get(("a", "critical")), t.get(("b", "critical")), t.get(("c", "critical"))
    d = t.get(("d", "critical"))
    bs = t.get(("b", "sheddable"))
    ratio_b = b["p90"] / a["p90"] if a and b and a["p90"] > 0 else float("nan")
    ratio_c = c["p90"] / a["p90"] if a and c and a["p90"] > 0 else float("nan")
    ratio_d = d["p90"] / a["p90"] if a and d and a["p90"] > 0 else float("nan")

    def judge(run, ratio):
        crit, shed = t.get((run, "critical")), t.get((run, "sheddable"))
        why = []
        if not (shed and shed["n429"] > 0):
            why.append(f"({run}) no sheddable request was shed")
        if not (crit and crit["n429"] == 0 and crit["other"] == 0):
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
        f"Critical TTFT p90 relative to (a): (b) with shedding **{ratio_b:.2f}×**, (c) without "
        f"**{ratio_c:.2f}×**, (d) with shedding and the detector at 1 waiting **{ratio_d:.2f}×**. The detector sheds only once the pool is saturated (on average 5 waiting "
        "per endpoint, or 80 % KV), so with shedding the admitted load still fills the fleet to its "
        "capacity and keeps a queue about that deep: critical requests wait behind it, in the longer "
        "steps of a full batch. Without shedding the queue grows for as long as the overload lasts. "
        "(d) sheds once endpoints average 1 waiting request: the queue in front of critical requests "
        "stays short, at the price of shedding more sheddable work.",
        "",
        "Target: the critical class's TTFT p90 at 150 % within 2× of its value at 70 % while sheddable "
        f"requests are shed: **{'met' if met else 'not met'}**"
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
    shed_share = 100 * bs["n429"] / bs["n"] if bs and bs["n"] else 0
    print(f"overload: capacity {cap:.1f} req/s; critical TTFT p90 at 150 % {ratio_b:.2f}x its 70 % value "
          f"with shedding ({shed_share:.0f} % of sheddable shed), {ratio_d:.2f}x with the detector at 1 "
          f"waiting, {ratio_c:.2f}x without; "
          f"target {'met' if met else 'not met'}"
          + (f" (host stalls in run {','.join(stalled)}: not a clean run)" if stalled else ""))


def main():
    mode = sys.argv[1]
    if mode == "capacity":
        capacity(sys.argv[2])
    elif mode == "run":
        run(sys.argv[2:14])
    elif mode == "report":
        report(sys.argv[2:12])
    else:
        sys.exit(f"overload_report.py: unknown mode {mode}")


if __name__ == "__main__":
    main()
