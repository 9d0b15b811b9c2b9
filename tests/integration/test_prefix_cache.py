"""Approximate prefix-cache scheduling with infergate-sim replicas and the
default profile (queue-scorer 2, kv-cache-utilization-scorer 2,
prefix-cache-scorer 3): requests sharing a long prefix keep landing on the
replica that served the first one while its load allows, and requests with
different prefixes spread. The index's GIE metrics
(inference_extension_prefix_indexer_size and _hit_ratio) follow it."""

import json
import re
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


def prefix_metrics():
    """(size, {le: cumulative count}, count, sum) from the admin /metrics."""
    st, _, text = proxy.admin("/metrics")
    assert st == 200, text
    size = re.search(r"^inference_extension_prefix_indexer_size (\S+)$", text, re.M)
    assert size, text
    le = {float(m.group(1)): int(float(m.group(2))) for m in re.finditer(
        r'^inference_extension_prefix_indexer_hit_ratio_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)}
    count = re.search(r"^inference_extension_prefix_indexer_hit_ratio_count (\S+)$", text, re.M)
    total = re.search(r"^inference_extension_prefix_indexer_hit_ratio_sum (\S+)$", text, re.M)
    assert count and total, text
    return float(size.group(1)), le, int(float(count.group(1))), float(total.group(1))


def test_prefix_index_metrics():
    assert "# TYPE inference_extension_prefix_indexer_size gauge" in proxy.admin("/metrics")[2]
    size0, le0, count0, sum0 = prefix_metrics()
    assert sorted(le0) == [k / 10 for k in range(11)] + [float("inf")], le0
    body = "Metrics system prompt. " * 400  # ~9 KiB: dozens of blocks, all new
    ask(body, "first")
    size1, le1, count1, sum1 = prefix_metrics()
    assert size1 > size0, (size0, size1)
    # A cold lookup: one observation with ratio 0.
    assert count1 == count0 + 1 and le1[0.0] == le0[0.0] + 1, (le0, le1)
    # The same prompt again: every block matches on the replica it went to,
    # ratio 1 — counted in le="1" but not in le="0.9".
    ask(body, "first")
    size2, le2, count2, sum2 = prefix_metrics()
    assert count2 == count1 + 1, (count1, count2)
    assert le2[0.9] == le1[0.9] and le2[1.0] == le1[1.0] + 1, (le1, le2)
    assert abs(sum2 - sum1 - 1.0) < 1e-9, (sum1, sum2)
    assert size2 >= size1


def test_long_prompt_tail_reaches_the_index():
    """A prompt longer than the 128 blocks recorded at decision time: the
    rest of its chain is recorded after the request went upstream
    (picker/index_backlog.hpp), by the worker between its other handlers.
    The index must end up holding every block, and the whole prompt must
    then match where it went."""
    blocks = 300  # > IndexBacklog::kSyncBlocks
    unit = "Long-prompt backlog test, paragraph {:05d}: the quick brown fox. "
    assert len(unit.format(0)) == 64
    text = "".join(unit.format(i) for i in range(blocks * 4))  # 300 x 256 characters
    size0 = prefix_metrics()[0]
    home = ask(text, "q")
    # The chat template adds a little around the text: a few blocks more.
    wait_for(lambda: prefix_metrics()[0] >= size0 + blocks, what="the whole chain in the index")
    count0, sum0 = prefix_metrics()[2:]
    assert ask(text, "q") == home
    count1, sum1 = prefix_metrics()[2:]
    assert count1 == count0 + 1 and abs(sum1 - sum0 - 1.0) < 1e-9, (count0, sum0, count1, sum1)


def test_index_survives_a_reload():
    """A reload that keeps the pool and the producer's parameters keeps the
    index: each prefix still goes where it went. (A fresh index would send
    each of them to a random replica: all six home again by chance is
    1 in 3^6.)"""
    prefixes = [f"Reload-proof system prompt {k}. " * 300 for k in range(6)]
    homes = [ask(p, "before") for p in prefixes]
    before = prefix_metrics()
    proxy.signal(signal.SIGHUP)  # same file: same pool, same parameters
    wait_for(lambda: 'infergate_config_reloads_total{result="ok"} 1' in proxy.admin("/metrics")[2],
             what="reload counted")
    # The metrics come with the index: neither reset nor counted twice.
    assert prefix_metrics() == before
    assert [ask(p, "after") for p in prefixes] == homes


if __name__ == "__main__":
    run([setup, test_shared_prefix_sticks_to_its_replica, test_loaded_replica_yields_then_prefix_spreads_no_further,
         test_different_prefixes_spread, test_prefix_index_metrics, test_long_prompt_tail_reaches_the_index,
         test_index_survives_a_reload])
