#!/usr/bin/env python3
"""One measured run of bench/scenarios/prompts.sh as a TSV line.

    prompts_run.py RUN PATH CONCURRENCY SUMMARY.json BEFORE.txt AFTER.txt PROXY_TICKS HZ CORES0 CORES1

SUMMARY.json is infergate-loadgen's summary (time scale 1: real time);
BEFORE/AFTER are infergate's admin /metrics scraped around the run (for the
direct path they still bracket it: infergate saw no request, its histograms
do not move). PROXY_TICKS is infergate's utime+stime over the run in clock
ticks. Prints: run (RUN, the repetition's number), path, concurrency,
requests, ok, failed, requests/s, TTFT p50 and p99 (ms), generator CPU s,
wall s, infergate CPU s, then p50 and p99 (µs) of the request-side and
response-side added latency and the number of observations in each (empty
when no observation), then the share of core 0 busy with anything but
infergate and the share of core 1 busy, over the run, then the upstream connections infergate opened (CORES0/CORES1: "cpu0 BUSY TOTAL cpu1 BUSY TOTAL" in clock ticks from
/proc/stat, before and after)."""

import json
import math
import sys

FAMILIES = ("infergate_request_added_latency_seconds", "infergate_response_added_latency_seconds")


def buckets(text, family):
    """[(le, cumulative count)] of an unlabelled histogram family, in order."""
    out = []
    for line in text.splitlines():
        if line.startswith(family + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.append((math.inf if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
    return out


CONNECTS = "infergate_upstream_connections_opened_total"


def counter(text, name):
    """An unlabelled counter's value (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def quantile(delta, q):
    """q-quantile of a histogram given as [(le, cumulative)], linearly
    interpolated inside its bucket (from the previous bound, 0 for the
    first); inf when it falls in the +Inf bucket. None when empty."""
    total = delta[-1][1] if delta else 0
    if total <= 0:
        return None
    rank = q * total
    lo, below = 0.0, 0.0
    for le, cum in delta:
        if cum >= rank and cum > below:
            if math.isinf(le):
                return math.inf
            return lo + (le - lo) * (rank - below) / (cum - below)
        lo, below = le, cum
    return math.inf


def main():
    run, path, conc, summ, before, after, ticks, hz, cores0, cores1 = sys.argv[1:11]
    c0, c1 = cores0.split(), cores1.split()
    busy0, total0 = int(c1[1]) - int(c0[1]), int(c1[2]) - int(c0[2])
    busy1, total1 = int(c1[4]) - int(c0[4]), int(c1[5]) - int(c0[5])
    s = json.load(open(summ))
    o = s["overall"]
    b, a = open(before).read(), open(after).read()
    fields = [run, path, conc, str(o["count"]), str(o["ok"]), str(o["count"] - o["ok"]),
              f"{o['requests_per_s']:.1f}", f"{o['ttft_ms']['p50']:.2f}", f"{o['ttft_ms']['p99']:.2f}",
              f"{s['cpu_seconds']:.2f}", f"{s['wall_seconds']:.2f}", f"{int(ticks) / int(hz):.2f}"]
    for fam in FAMILIES:
        hb, ha = buckets(b, fam), buckets(a, fam)
        if len(hb) != len(ha) or not ha:
            sys.exit(f"prompts_run.py: {fam} missing or changed shape on infergate's /metrics")
        delta = [(le, ca - cb) for (le, ca), (_, cb) in zip(ha, hb)]
        n = delta[-1][1]
        for q in (0.5, 0.99):
            v = quantile(delta, q)
            fields.append("" if v is None else "inf" if math.isinf(v) else f"{v * 1e6:.1f}")
        fields.append(f"{n:.0f}")
    fields.append(f"{max(0, busy0 - int(ticks)) / max(total0, 1):.2f}")
    fields.append(f"{busy1 / max(total1, 1):.2f}")
    # Upstream connections infergate opened during the run (the others
    # reused its pool): a connect waits a turn of the worker's event loop.
    fields.append(f"{counter(a, CONNECTS) - counter(b, CONNECTS):.0f}")
    print("\t".join(fields))


if __name__ == "__main__":
    main()
