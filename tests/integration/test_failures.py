"""Failures the proxy must absorb: stale metrics under fail-open and
fail-close, a slow upstream (504), a refused connect retried on another
endpoint, connection and upstream-concurrency caps (503), and the access
log reopened on SIGUSR1."""

import json
import os
import signal
import socket

from harness import (FlakyKeepAliveUpstream, Proxy, send_raw_post, Sim, base_config, chat_body, raw_exchange, request, run,
                     status_of, tmp_path, wait_for)


def post(proxy, **kw):
    return request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                   chat_body(max_tokens=1), **kw)


def metric(proxy, prefix):
    _, _, text = proxy.admin("/metrics")
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(prefix))


def test_failure_modes_without_fresh_metrics():
    sim = Sim("nometrics", "--time-scale", "50")
    broken = "    metrics_path: /no-such-metrics\n"
    pools = [("open", [sim], broken),
             ("closed", [sim], broken + "    failure_mode: fail_close\n")]
    routes = """  - name: open
    match:
      path_prefix: /open/
    backends:
      - pool: open
  - name: closed
    match:
      path_prefix: /
    backends:
      - pool: closed
"""
    p = Proxy(base_config(pools, routes=routes), name="modes")
    wait_for(lambda: all(not e["last_scrape_ok"] and e["metrics_age_ms"] is None
                         for pl in p.debug_endpoints()["pools"] for e in pl["endpoints"]),
             what="failed scrapes")
    st, h, body = request("127.0.0.1", p.port, "POST", "/open/v1/chat/completions",
                          chat_body(max_tokens=1))
    # The simulator answers 404 for the unknown path; the point is that
    # fail-open reached it.
    assert st == 404, body
    assert h["x-gateway-destination-endpoint-served"] == sim.address
    st, _, body = post(p)
    assert st == 503, body
    assert "fresh metrics" in json.loads(body)["error"]["message"]
    p.stop()
    sim.kill()


def test_upstream_response_timeout_504():
    sim = Sim("slow")
    p = Proxy(base_config([("main", [sim], "")],
                          extra="timeouts:\n  upstream_response_header: 300ms\n"), name="slow")
    p.wait_fresh(1)
    sim.post("/sim/delay", {"response_header_ms": 5000})
    st, _, body = post(p)
    assert st == 504, body
    assert json.loads(body)["error"]["code"] == 504
    sim.post("/sim/delay", {"response_header_ms": 0})
    st, _, _ = post(p)
    assert st == 200
    p.stop()
    sim.kill()


def test_refused_connect_retried_elsewhere():
    a, b = Sim("ra", "--time-scale", "50"), Sim("rb", "--time-scale", "50")
    b.post("/sim/load", {"waiting": 20})  # a is preferred while metrics say so
    # Scrapes are rare here, so a's metrics stay fresh after it dies and
    # the picker still chooses it: the connect fails and is retried on b.
    text = base_config([("main", [a, b], "")]).replace(
        "metrics_staleness: 500ms", "metrics_staleness: 60s").replace(
        "scrape_interval: 50ms", "scrape_interval: 20s")
    p = Proxy(text, name="retry")
    p.wait_fresh(2)
    a.kill()
    st, h, body = post(p)
    assert st == 200, body
    assert h["x-gateway-destination-endpoint-served"] == b.address
    assert metric(p, f'infergate_upstream_errors_total{{endpoint="{a.address}",kind="connect_failed"}}') == 1
    eps = p.debug_endpoints()["pools"][0]["endpoints"]
    assert next(e for e in eps if e["address"] == a.address)["down"]
    p.stop()
    b.kill()


def test_dead_pooled_connection_retried_on_fresh_one():
    up = FlakyKeepAliveUpstream()
    p = Proxy(base_config([("main", [up], "")], workers=1), name="flaky")
    p.wait_fresh(1)
    for i in range(3):
        st, h, body = post(p)
        assert st == 200, (i, body)
    # Requests 2 and 3 each found their pooled connection dying under
    # them and were replayed on a fresh one: nothing reached the client.
    assert up.posts_dropped == 2 and up.posts_answered == 3
    assert metric(p, f'infergate_upstream_errors_total{{endpoint="{up.address}",kind="stale_keepalive"}}') == 2
    p.stop()


class _Address:
    def __init__(self, address):
        self.address = address


def test_connect_that_does_not_complete_times_out():
    """A connect the kernel cannot finish at once (here: an endpoint whose
    accept queue is full drops the SYN) waits on the event loop until
    timeouts.upstream_connect, then 502, counted as connect_timeout. Every
    other connect in these tests completes inside connect() (loopback) and
    takes the immediate path."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(0)  # never accepted: a queue of one, then SYNs are dropped
    address = f"127.0.0.1:{lst.getsockname()[1]}"
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", lst.getsockname()[1]))
        fillers.append(c)
    text = base_config([("main", [_Address(address)], "")], workers=1,
                       extra="timeouts:\n  upstream_connect: 300ms\n")
    p = Proxy(text, name="synfull")
    try:
        st, _, body = post(p)  # fail-open: no metrics, the endpoint is picked anyway
        assert st == 502, (st, body)
        assert "error" in json.loads(body), body
        assert metric(p, f'infergate_upstream_errors_total{{endpoint="{address}",kind="connect_timeout"}}') >= 1
    finally:
        p.stop()
        for c in fillers:
            c.close()
        lst.close()


def test_connection_cap_503():
    sim = Sim("cap", "--time-scale", "50")
    p = Proxy(base_config([("main", [sim], "")], workers=1,
                          extra="limits:\n  max_connections_per_worker: 2\n"), name="cap")
    p.wait_fresh(1)
    held = [socket.create_connection(("127.0.0.1", p.port), timeout=5) for _ in range(2)]
    # The two connections are accepted (parked, idle) before the third.
    wait_for(lambda: metric(p, "infergate_connections_open") == 2, what="two open connections")
    out = raw_exchange(p.port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(out) == 503, out
    for s in held:
        s.close()
    wait_for(lambda: metric(p, "infergate_connections_open") == 0, what="connections closed")
    st, _, _ = post(p)
    assert st == 200
    p.stop()
    sim.kill()


def test_upstream_concurrency_cap_503():
    sim = Sim("ucap")
    p = Proxy(base_config([("main", [sim], "")],
                          extra="limits:\n  max_upstream_requests: 1\n"), name="ucap")
    p.wait_fresh(1)
    sim.post("/sim/delay", {"response_header_ms": 20000})
    s = send_raw_post(p.port, chat_body(max_tokens=1).encode())
    wait_for(lambda: p.debug_endpoints()["pools"][0]["endpoints"][0]["in_flight"] == 1,
             what="first request in flight")
    st, h, body = post(p)
    assert st == 503, body
    assert h.get("retry-after") == "1"
    s.close()
    sim.post("/sim/delay", {"response_header_ms": 0})
    wait_for(lambda: post(p)[0] == 200, what="slot released")
    p.stop()
    sim.kill()


def test_descriptor_exhaustion_is_survived():
    sim = Sim("fd", "--time-scale", "50")
    p = Proxy(base_config([("main", [sim], "")], workers=1), name="fd",
              wrapper=("prlimit", "--nofile=64:64"))
    p.wait_fresh(1)
    socks = []
    for _ in range(80):  # more than the process can hold
        socks.append(socket.create_connection(("127.0.0.1", p.port), timeout=5))
    wait_for(lambda: len(os.listdir(f"/proc/{p.proc.pid}/fd")) >= 60, what="descriptors exhausted")
    for s in socks:
        s.close()
    wait_for(lambda: metric(p, 'infergate_downstream_errors_total{kind="accept_failed"}') > 0,
             what="accept failures counted")
    wait_for(lambda: post(p)[0] == 200, what="service after descriptors free up")
    assert p.proc.poll() is None
    p.stop()
    sim.kill()


def test_access_log_reopen_on_sigusr1():
    sim = Sim("log", "--time-scale", "50")
    path = tmp_path("access.log")
    p = Proxy(base_config([("main", [sim], "")]).replace("path: stdout", f"path: {path}"),
              name="logs")
    p.wait_fresh(1)
    post(p, headers={"X-Request-Id": "before-rotate"})
    wait_for(lambda: os.path.exists(path) and "before-rotate" in open(path).read(),
             what="first log line")
    os.rename(path, path + ".1")
    p.signal(signal.SIGUSR1)
    wait_for(lambda: "access log reopened" in p.log_text(), what="reopen")
    post(p, headers={"X-Request-Id": "after-rotate"})
    wait_for(lambda: os.path.exists(path) and "after-rotate" in open(path).read(),
             what="line in the new file")
    assert "after-rotate" not in open(path + ".1").read()
    line = json.loads(open(path).read().splitlines()[0])
    assert line["request_id"] == "after-rotate" and line["status"] == 200
    p.stop()
    sim.kill()


def test_metrics_families():
    sim = Sim("m", "--time-scale", "50")
    p = Proxy(base_config([("main", [sim], "")]), name="metrics")
    p.wait_fresh(1)
    assert post(p)[0] == 200
    # The worker counts a request once its last byte is written, which can
    # be just after the client has read it: wait for the count.
    wait_for(lambda: 'status="200"} 1' in p.admin("/metrics")[2], what="request counted")
    _, _, text = p.admin("/metrics")
    for fam in ("infergate_requests_total", "infergate_request_duration_seconds_bucket",
                "infergate_time_to_first_byte_seconds_count", "infergate_endpoint_queue_size",
                "infergate_endpoint_kv_cache_usage", "infergate_endpoint_in_flight",
                "infergate_upstream_errors_total", "infergate_config_reloads_total"):
        assert fam in text, fam
    assert (f'infergate_requests_total{{endpoint="{sim.address}",pool="main",route="all",'
            f'status="200"}} 1') in text, text
    p.stop()
    sim.kill()


if __name__ == "__main__":
    run([test_failure_modes_without_fresh_metrics, test_upstream_response_timeout_504,
         test_connect_that_does_not_complete_times_out,
         test_refused_connect_retried_elsewhere, test_dead_pooled_connection_retried_on_fresh_one,
         test_connection_cap_503,
         test_upstream_concurrency_cap_503, test_descriptor_exhaustion_is_survived,
         test_access_log_reopen_on_sigusr1,
         test_metrics_families])
