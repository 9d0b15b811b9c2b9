#!/usr/bin/env python3
"""Samples infergate-sim replicas' /metrics every INTERVAL real seconds.

    sim_sampler.py OUT.tsv INTERVAL URL...   (URL: http://host:port)

Writes one line per replica and sample:
    unix_time  replica_index  waiting  running  kv_usage  prefix_hits  prefix_queries
    generation_tokens
(tab-separated, no header), flushed per sample, until SIGTERM. A replica
that does not answer within the interval is skipped for that sample (the
line is not written). Used by the routing and bursts scenarios: queue
depth over time, and prefix-cache hit rates from counter deltas.
"""
import signal
import sys
import time
import urllib.request

NAMES = {
    "vllm:num_requests_waiting": 0,
    "vllm:num_requests_running": 1,
    "vllm:kv_cache_usage_perc": 2,
    "vllm:prefix_cache_hits_total": 3,
    "vllm:prefix_cache_queries_total": 4,
    "vllm:generation_tokens_total": 5,
}


def scrape(url, timeout):
    values = [0.0] * len(NAMES)
    with urllib.request.urlopen(url + "/metrics", timeout=timeout) as r:
        for line in r.read().decode().splitlines():
            if not line or line[0] == "#":
                continue
            name = line.split("{", 1)[0].split(" ", 1)[0]
            i = NAMES.get(name)
            if i is not None:
                values[i] = float(line.rsplit(" ", 1)[1])
    return values


def main():
    out, interval, urls = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "w") as f:
        next_t = time.monotonic()
        while not stop:
            now = time.time()
            for i, url in enumerate(urls):
                try:
                    v = scrape(url, interval)
                except (OSError, ValueError, IndexError):
                    continue
                f.write(f"{now:.3f}\t{i}\t{v[0]:.0f}\t{v[1]:.0f}\t{v[2]:.4f}\t{v[3]:.0f}\t{v[4]:.0f}\t{v[5]:.0f}\n")
            f.flush()
            next_t += interval
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.monotonic()


if __name__ == "__main__":
    main()
