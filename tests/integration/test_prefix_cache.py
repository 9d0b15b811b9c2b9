"""Approximate prefix-cache scheduling with infergate-sim replicas and the
default profile (queue-scorer 2, kv-cache-utilization-scorer 2,
prefix-cache-scorer 3): requests sharing a long prefix keep landing on the
replica that served the first one while its load allows, and requests with
different prefixes spread."""

import json
import signal

from harness import MODEL, Proxy, Sim, base_config, request, run, wait_for

sims = {}
proxy = None
# ~8 KiB of shared system prompt: 32 blocks of 64 tokens x 4 characters.
PREFIX = "".join(f"You are assistant number {i:04d}, and you follow the house rules. " for i in range(128))


def setup():
    global proxy
    for n in ("a", "b", "c"):
        sims[n] = Sim(n, "--time-scale", "20")
    # No scheduler section: the reference's default profile.
    proxy = Proxy(base_config([("main", list(sims.values()), "")]))
    proxy.wait_fresh(3)


def ask(system, question):
    body = json.dumps({
        "model": MODEL,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
        "max_tokens": 1,
    })
    st, h, text = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", body)
    assert st == 200, text
    return h["x-gateway-destination-endpoint-served"]


def sim_at(address):
    return next(s for s in sims.values() if s.address == address)


def endpoint(addr):
    eps = [e for p in proxy.debug_endpoints()["pools"] for e in p["endpoints"]]
    return next(e for e in eps if e["address"] == addr)


def test_shared_prefix_sticks_to_its_replica():
    home = ask(PREFIX, "question 0")
    hits_before = sim_at(home).stats()["prefix_cache_hits"]
    served = [ask(PREFIX, f"question {i}") for i in range(1, 25)]
    assert served == [home] * len(served), served
    # The replica really reused its cache for them.
    assert sim_at(home).stats()["prefix_cache_hits"] > hits_before
    others = [s for s in sims.values() if s.address != home]
    assert all(s.stats()["prefix_cache_hits"] == 0 for s in others)


def test_loaded_replica_yields_then_prefix_spreads_no_further():
    home = ask(PREFIX, "question 100")
    busy = sim_at(home)
    assert busy.post("/sim/load", {"waiting": 40, "kv_usage": 0.9})[0] == 200
    wait_for(lambda: endpoint(home)["waiting"] >= 40, what="scrape of the loaded replica")
    # Its load no longer allows: the prefix's requests go elsewhere, and,
    # once one has gone there, keep going to that same second replica.
    served = [ask(PREFIX, f"question {i}") for i in range(101, 113)]
    assert home not in served, served
    assert len(set(served)) == 1, served
    busy.post("/sim/load", {})
    wait_for(lambda: endpoint(home)["waiting"] == 0, what="loaded replica to clear")


def test_different_prefixes_spread():
    served = [ask(f"Distinct system prompt {i}. " * 300, "hello") for i in range(15)]
    counts = {a: served.count(a) for a in set(served)}
    # Cold prefixes tie on every score: random among the replicas (the
    # chance that 15 land on one of three is 3 / 3^15).
    assert len(counts) >= 2, counts
    # And each of them is remembered where it went.
    for i in (0, 7, 14):
        assert ask(f"Distinct system prompt {i}. " * 300, "again") == served[i]


def test_index_survives_a_reload():
    """A reload that keeps the pool and the producer's parameters keeps the
    index: each prefix still goes where it went. (A fresh index would send
    each of them to a random replica: all six home again by chance is
    1 in 3^6.)"""
    prefixes = [f"Reload-proof system prompt {k}. " * 300 for k in range(6)]
    homes = [ask(p, "before") for p in prefixes]
    proxy.signal(signal.SIGHUP)  # same file: same pool, same parameters
    wait_for(lambda: 'infergate_config_reloads_total{result="ok"} 1' in proxy.admin("/metrics")[2],
             what="reload counted")
    assert [ask(p, "after") for p in prefixes] == homes


if __name__ == "__main__":
    run([setup, test_shared_prefix_sticks_to_its_replica, test_loaded_replica_yields_then_prefix_spreads_no_further,
         test_different_prefixes_spread, test_index_survives_a_reload])
