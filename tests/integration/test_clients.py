"""Client misbehaviour: a client dribbling header bytes gets 408 at the
header deadline while others are served; a client that hangs up cancels
its upstream request, whether the upstream is silent or streaming."""

import json
import socket
import threading
import time

from harness import (Proxy, Sim, base_config, chat_body, open_stream, request, run,
                     send_raw_post, wait_for)

proxy = None
sim = None


def setup():
    global proxy, sim
    sim = Sim("a")
    extra = """timeouts:
  header_read: 1s
"""
    proxy = Proxy(base_config([("main", [sim], "")], extra=extra))
    proxy.wait_fresh(1)


def in_flight():
    return proxy.debug_endpoints()["pools"][0]["endpoints"][0]["in_flight"]


def metric(name):
    st, _, text = proxy.admin("/metrics")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_slow_header_dribble_gets_408():
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    got = {}

    def dribble():
        # One header byte every 100 ms: each byte would reset a per-read
        # timeout, but the header deadline is for the whole section.
        start = time.monotonic()
        try:
            for _ in range(60):
                s.sendall(b"X")
                time.sleep(0.1)
        except OSError:
            got["stopped_after"] = time.monotonic() - start

    t = threading.Thread(target=dribble)
    t.start()
    # Meanwhile another client is served normally.
    st, _, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1))
    assert st == 200, body
    data = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
    t.join(timeout=10)
    s.close()
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["error"]["code"] == 408


def test_hangup_while_upstream_silent_cancels_it():
    assert sim.post("/sim/delay", {"response_header_ms": 20000})[0] == 200
    try:
        before = metric('infergate_downstream_errors_total{kind="client_disconnected"}')
        s = send_raw_post(proxy.port, chat_body(max_tokens=1).encode())
        wait_for(lambda: in_flight() == 1, what="request in flight")
        s.close()
        # Without cancellation this would stay 1 for the simulator's 20 s.
        wait_for(lambda: in_flight() == 0, timeout=5, what="upstream request cancelled")
        assert metric('infergate_downstream_errors_total{kind="client_disconnected"}') == before + 1
    finally:
        sim.post("/sim/delay", {"response_header_ms": 0})


def test_hangup_mid_stream_aborts_upstream():
    s, _ = open_stream(proxy.port, max_tokens=3000)
    assert sim.stats()["running"] == 1
    s.close()
    # 3000 tokens take ~20 s of simulated decode; the abort frees it now.
    wait_for(lambda: sim.stats()["running"] == 0, timeout=5, what="simulator request aborted")
    wait_for(lambda: in_flight() == 0, timeout=5, what="in-flight released")


if __name__ == "__main__":
    run([setup, test_slow_header_dribble_gets_408, test_hangup_while_upstream_silent_cancels_it,
         test_hangup_mid_stream_aborts_upstream])
