"""infergate's added latency on the admin /metrics:
infergate_request_added_latency_seconds and
infergate_response_added_latency_seconds count one observation per request
sent to an upstream and per response written to the client, whatever
worker served it (the per-worker histograms are merged at scrape); a
request infergate answers itself adds none; a request replayed on a fresh
connection after a stale keep-alive one counts once. Each histogram is
well formed: buckets cumulative, in order of their bounds, the +Inf bucket
equal to _count. No assertion is about how long anything took."""

import http.client
import math

from harness import (MODEL, FlakyKeepAliveUpstream, Proxy, Sim, base_config, chat_body, request,
                     run, wait_for)

FAMILIES = ("infergate_request_added_latency_seconds", "infergate_response_added_latency_seconds")
BOUNDS = [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
          0.1, 0.25, 1.0, math.inf]

sim = None
proxy = None


def setup():
    global sim, proxy
    sim = Sim("al", "--time-scale", "100")
    proxy = Proxy(base_config([("p", [sim], "")]), name="addedlat")
    proxy.wait_fresh(1)


def histogram(p, family):
    """(count, sum, [(le, cumulative)]) of an unlabelled histogram family
    on p's admin /metrics."""
    _, _, text = p.admin("/metrics")
    buckets, count, total = [], None, None
    for line in text.splitlines():
        if line.startswith(family + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((math.inf if le == "+Inf" else float(le), float(line.rsplit(" ", 1)[1])))
        elif line.startswith(family + "_count "):
            count = float(line.rsplit(" ", 1)[1])
        elif line.startswith(family + "_sum "):
            total = float(line.rsplit(" ", 1)[1])
    assert count is not None and total is not None, (family, text)
    return count, total, buckets


def well_formed(h):
    count, total, buckets = h
    assert [le for le, _ in buckets] == BOUNDS, buckets
    cum = [c for _, c in buckets]
    assert cum == sorted(cum), buckets  # cumulative
    assert cum[-1] == count, (count, buckets)  # +Inf is every observation
    assert math.isfinite(total) and total >= 0, total


def counted(p, n):
    """Waits until infergate has finished n requests (it counts a request
    just after its last byte is written, so the client can be faster)."""
    wait_for(lambda: p.metric("infergate_requests_total") >= n, what=f"{n} requests counted")


def test_each_request_observed_once():
    before = {f: histogram(proxy, f) for f in FAMILIES}
    for f in FAMILIES:
        well_formed(before[f])
    n = 0
    # Non-streamed and streamed answers, several on one keep-alive
    # connection and several on their own, so both workers likely serve some.
    for stream in (False, True):
        for _ in range(4):
            st, _, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                                  chat_body(stream=stream, max_tokens=3))
            assert st == 200, body
            n += 1
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    for _ in range(5):
        conn.request("POST", "/v1/chat/completions", chat_body(max_tokens=2),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200
        r.read()
        n += 1
    conn.close()
    counted(proxy, n)
    for f in FAMILIES:
        after = histogram(proxy, f)
        well_formed(after)
        assert after[0] - before[f][0] == n, (f, before[f], after)
        assert after[1] >= before[f][1], (f, before[f], after)
        # Every bucket only grows.
        assert all(a[1] >= b[1] for a, b in zip(after[2], before[f][2])), (f, before[f], after)


def test_answered_by_infergate_not_observed():
    before = {f: histogram(proxy, f)[0] for f in FAMILIES}
    done = proxy.metric("infergate_requests_total")
    st, _, _ = request("127.0.0.1", proxy.port, "GET", "/v1/models")
    assert st == 200
    st, _, _ = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", "{not json")
    assert st == 400
    counted(proxy, done + 2)
    for f in FAMILIES:
        assert histogram(proxy, f)[0] == before[f], f


def test_stale_keepalive_retry_observed_once():
    # Requests 2 and 3 are written to a pooled connection that dies, then
    # replayed on a fresh one: one observation each, not two.
    up = FlakyKeepAliveUpstream()
    p = Proxy(base_config([("main", [up], "")], workers=1), name="addedlat-flaky")
    p.wait_fresh(1)
    for i in range(3):
        st, _, body = request("127.0.0.1", p.port, "POST", "/v1/chat/completions",
                              chat_body(model=MODEL, max_tokens=1))
        assert st == 200, (i, body)
    assert up.posts_dropped == 2
    counted(p, 3)
    for f in FAMILIES:
        h = histogram(p, f)
        well_formed(h)
        assert h[0] == 3, (f, h)
    p.stop()


if __name__ == "__main__":
    run([setup, test_each_request_observed_once, test_answered_by_infergate_not_observed,
         test_stale_keepalive_retry_observed_once])
