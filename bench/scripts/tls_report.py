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
            "rate": [], "scpu": [], "sbusy": [], "ccpu": [], "cbusy": [],
            "errors": 0, "classes": {}, "negotiated": None})
        n = ops(load)
        seconds = load["seconds"]
        a["rate"].append(load["rate"])
        if n and load["server_cpu_s"] is not None:
            a["scpu"].append(load["server_cpu_s"] / n * 1e6)
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
           "| mode | TLS | server | rate (median) | runs | ratio ig/nginx | server CPU µs/op "
           "| CPU ratio ig/nginx | server busy | client CPU µs/op | client busy | errors |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes, summary, met = [], [], []
    for key in order:
        mode, tls = key
        a = agg[key]
        base = a.get("nginx")
        for s in servers:
            x = a.get(s)
            if x is None:
                continue
            ratio = cratio = None
            if s == "infergate" and base:
                if med(base["rate"]):
                    ratio = med(x["rate"]) / med(base["rate"])
                if med(x["scpu"]) is not None and med(base["scpu"]):
                    cratio = med(x["scpu"]) / med(base["scpu"])
            runs = "/".join(f"{v:.0f}" for v in x["rate"])
            spread = f" ({min(x['scpu']):.0f}–{max(x['scpu']):.0f})" if len(x["scpu"]) > 1 else ""
            out.append(f"| {mode} | {tls} | {s} | {med(x['rate']):.0f} {UNIT[mode]} | {runs} | {fmt(ratio, '.2f')} "
                       f"| {fmt(med(x['scpu']), '.1f')}{spread} | {fmt(cratio, '.2f')} | {fmt(med(x['sbusy']), '.2f')} "
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
            if s == "infergate" and base:
                summary.append(f"{mode}/{tls} {fmt(ratio, '.2f')}x rate, {fmt(cratio, '.2f')}x CPU/op")
                met.append(ratio is not None and cratio is not None and ratio >= RATE_TARGET and cratio <= 1.0)

    out += ["",
            "ratio: infergate's median rate / nginx's (target ≥ 0.95). server CPU µs/op: the server's utime+stime over "
            "the measured interval (/proc/PID/stat; nginx: its worker, infergate: the process) / operations completed "
            "in it — handshakes, resumed handshakes or requests (target: infergate ≤ nginx), median (min–max). busy: CPU s / wall s "
            "(1.00: the process used its whole core). runs: each run's rate.", ""]
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
            f"CPU pressure after (some): {env('TB_PRESSURE')}"]
    with open(md, "w") as f:
        f.write("\n".join(out) + "\n")
    if summary:
        print("infergate/nginx " + "; ".join(summary) + (" — target met" if all(met) else " — target NOT met"))
    else:
        print("no comparison (one server only): " + "; ".join(
            f"{k[0]}/{k[1]} {s} {med(v['rate']):.0f}/s" for k in order for s, v in agg[k].items()))


if __name__ == "__main__":
    main()
