#!/usr/bin/env python3
"""Turns tls_bench.sh's raw loader lines into the results table.

    tls_report.py RAW.jsonl OUT.md

RAW holds one line per run: {"server", "tls", "run", "load": <tls_load's
JSON line>}. Each (mode, TLS version, server) gets the median of its runs'
rate, server and client CPU per operation and busy fractions; infergate's
medians are divided by nginx's. The run's metadata comes from TB_*
environment variables set by tls_bench.sh. Writes OUT.md and prints the
one-line summary.
"""
import json
import os
import statistics
import sys

UNIT = {"full": "handshakes/s", "resume": "resumed handshakes/s", "keepalive": "requests/s"}
RATE_TARGET = 0.95  # infergate >= 0.95x nginx's rate, at no more CPU per operation


def ops(load):
    """Operations the rate counts: completed, resumed handshakes or requests."""
    return {"full": load["handshakes"], "resume": load["resumed"], "keepalive": load["requests"]}[load["mode"]]


def aggregate(rows):
    order, agg = [], {}
    for row in rows:
        load = row["load"]
        key = (load["mode"], row["tls"])
        if key not in order:
            order.append(key)
        a = agg.setdefault(key, {}).setdefault(row["server"], {
            "rate": [], "scpu": [], "sbusy": [], "ccpu": [], "cbusy": [], "by_run": {},
            "errors": 0, "classes": {}, "negotiated": None})
        n = ops(load)
        seconds = load["seconds"]
        scpu = load["server_cpu_s"] / n * 1e6 if n and load["server_cpu_s"] is not None else None
        a["rate"].append(load["rate"])
        a["by_run"][row["run"]] = (load["rate"], scpu)
        if scpu is not None:
            a["scpu"].append(scpu)
        if seconds and load["server_cpu_s"] is not None:
            a["sbusy"].append(load["server_cpu_s"] / seconds)
        if n:
            a["ccpu"].append(load["client_cpu_s"] / n * 1e6)
        if seconds:
            a["cbusy"].append(load["client_cpu_s"] / seconds)
        a["errors"] += load["errors"]
        for k, v in load["error_classes"].items():
            if v:
                a["classes"][k] = a["classes"].get(k, 0) + v
        a["negotiated"] = a["negotiated"] or load["negotiated"]
    return order, agg


def paired(ig, base, i):
    """infergate / nginx of field i (0 rate, 1 CPU per op) for each run
    index both have: the two ran back to back, under the same conditions."""
    out = []
    for r, x in ig["by_run"].items():
        y = base["by_run"].get(r)
        if y and x[i] is not None and y[i]:
            out.append(x[i] / y[i])
    return out


def med(values):
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def main():
    raw, md = sys.argv[1], sys.argv[2]
    env = os.environ.get
    rows = [json.loads(line) for line in open(raw) if line.strip()]
    servers = env("TB_SERVERS", "nginx infergate").split()
    order, agg = aggregate(rows)

    out = ["# TLS speed: infergate beside nginx", "",
           f"`bench/scripts/tls_bench.sh`, {env('TB_STAMP', '')}.", "",
           "| mode | TLS | infergate/nginx rate | infergate/nginx CPU per op | target |",
           "|---|---|---|---|---|"]
    detail = ["| mode | TLS | server | rate (median) | runs | server CPU µs/op | server busy "
              "| client CPU µs/op | client busy | errors |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    notes, summary, met = [], [], []
    for key in order:
        mode, tls = key
        a = agg[key]
        base, ig = a.get("nginx"), a.get("infergate")
        if base and ig:
            rr, cr = paired(ig, base, 0), paired(ig, base, 1)
            ok = bool(rr and cr) and med(rr) >= RATE_TARGET and med(cr) <= 1.0
            met.append(ok)
            out.append(f"| {mode} | {tls} | {fmt(med(rr), '.2f')} ({fmt(min(rr, default=None), '.2f')}–"
                       f"{fmt(max(rr, default=None), '.2f')}) | {fmt(med(cr), '.2f')} "
                       f"({fmt(min(cr, default=None), '.2f')}–{fmt(max(cr, default=None), '.2f')}) "
                       f"| {'met' if ok else 'not met'} |")
            summary.append(f"{mode}/{tls} {fmt(med(rr), '.2f')}x rate, {fmt(med(cr), '.2f')}x CPU/op")
        for s in servers:
            x = a.get(s)
            if x is None:
                continue
            spread = f" ({min(x['scpu']):.0f}–{max(x['scpu']):.0f})" if len(x["scpu"]) > 1 else ""
            runs = "/".join(f"{v:.0f}" for v in x["rate"])
            detail.append(f"| {mode} | {tls} | {s} | {med(x['rate']):.0f} {UNIT[mode]} | {runs} "
                          f"| {fmt(med(x['scpu']), '.1f')}{spread} | {fmt(med(x['sbusy']), '.2f')} "
                          f"| {fmt(med(x['ccpu']), '.1f')} | {fmt(med(x['cbusy']), '.2f')} | {x['errors']} |")
            if x["errors"]:
                notes.append(f"{s} {mode} TLS {tls}: {x['errors']} errors over all runs {json.dumps(x['classes'])}")
            sb, cb = med(x["sbusy"]), med(x["cbusy"])
            if cb is not None and cb >= 0.9 and (sb is None or sb < 0.9):
                notes.append(f"{s} {mode} TLS {tls}: the loader saturated its core (busy {cb:.2f}) before the server "
                             f"(busy {fmt(sb, '.2f')}): the rate is partly the loader's; compare CPU per op")
            elif sb is not None and cb is not None and sb < 0.85 and cb < 0.85:
                notes.append(f"{s} {mode} TLS {tls}: neither process saturated its core (server {sb:.2f}, "
                             f"loader {cb:.2f}): other load on the machine, or too little concurrency")

    out += ["",
            "Ratios are paired: infergate's run r over nginx's run r (run back to back, order alternating), median "
            "(min–max) over the runs. Target: rate ≥ 0.95 and CPU per op ≤ 1.00. A wide min–max means the machine's "
            "other load moved the figures more than the servers differ.", ""] + detail + [
            "",
            "server CPU µs/op: the server's utime+stime over the measured interval (/proc/PID/stat; nginx: its worker, "
            "infergate: the whole process) / operations completed in it — handshakes, resumed handshakes or requests; "
            "median (min–max). busy: CPU s / wall s (1.00: the process used its whole core). runs: each run's rate.",
            ""]
    if notes:
        out += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
    out += ["Negotiated (first handshake of each mode and server):", ""]
    for key in order:
        for s in servers:
            if s in agg[key]:
                out.append(f"- {key[0]} TLS {key[1]}, {s}: {json.dumps(agg[key][s]['negotiated'])}")
    out += ["", "## Setup", "",
            f"- machine: {env('TB_NPROC')} cores, {env('TB_CPU')}, kernel {env('TB_KERNEL')}",
            f"- {env('TB_OPENSSL')}; nginx {env('TB_NGINX')}",
            f"- infergate {env('TB_COMMIT')}, build dir {env('TB_BUILD')}",
            "- servers pinned to core 0 (nginx worker_processes 1; infergate workers: 1), the loader (tls_load) and "
            "infergate-sim to core 1; one server loaded at a time, order alternating per run",
            f"- {env('TB_RUNS')} runs per mode and server, {env('TB_DURATION')} s measured after {env('TB_WARMUP')} s "
            f"warm-up, {env('TB_CONCURRENCY')} connections in flight",
            "- RSA-2048 certificate (SAN DNS:bench.test, IP:127.0.0.1) verified by the loader; TLS 1.2+1.3, "
            f"TLS 1.2 ciphers {env('TB_CIPHERS')}, TLS 1.3 suites {env('TB_SUITES')}, groups {env('TB_GROUPS')}, "
            "server preference, session tickets (1 h, one per TLS 1.3 full handshake), OpenSSL's built-in session "
            "cache (20480), ALPN http/1.1 (nginx configured as infergate configures OpenSSL); the loader offers "
            "OpenSSL's default client lists; access logs off",
            f"- idle server CPU, ms per s: {env('TB_IDLE')}",
            f"- scheduling: {env('TB_NICE')}; load average before: {env('TB_LOAD')}; "
            f"CPU pressure after (some): {env('TB_PRESSURE')}; hypervisor steal on cores 0-1 during the runs: "
            f"{env('TB_STEAL')}%"]
    with open(md, "w") as f:
        f.write("\n".join(out) + "\n")
    if summary:
        print("infergate/nginx " + "; ".join(summary) + (" — target met" if all(met) else " — target NOT met"))
    else:
        print("no comparison (one server only): " + "; ".join(
            f"{k[0]}/{k[1]} {s} {med(v['rate']):.0f}/s" for k in order for s, v in agg[k].items()))


if __name__ == "__main__":
    main()
