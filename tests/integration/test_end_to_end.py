"""A chat completion proxied end to end, non-stream and stream; SSE events
arrive one at a time (shown deterministically: the client holds the first
event while the simulator still holds the last)."""

import http.client
import json

from harness import (MODEL, Proxy, Sim, base_config, chat_body, request, run,
                     wait_for)

sims = []
proxy = None


def setup():
    global proxy
    sims.extend([Sim("a"), Sim("b")])
    routes = f"""  - name: llama
    match:
      path_prefix: /v1/
      model: {MODEL}
    backends:
      - pool: main
"""
    proxy = Proxy(base_config([("main", sims, "")], routes=routes))
    proxy.wait_fresh(2)


def test_non_stream():
    st, h, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=4))
    assert st == 200, body
    doc = json.loads(body)
    assert doc["object"] == "chat.completion"
    assert doc["usage"]["completion_tokens"] == 4
    assert h["x-gateway-destination-endpoint-served"] in {s.address for s in sims}
    assert len(h["x-request-id"]) >= 16


def test_request_id_kept():
    st, h, _ = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                       chat_body(max_tokens=1), headers={"X-Request-Id": "abc-123"})
    assert st == 200
    assert h["x-request-id"] == "abc-123"


def test_models_from_config():
    st, _, body = request("127.0.0.1", proxy.port, "GET", "/v1/models")
    assert st == 200, body
    assert [m["id"] for m in json.loads(body)["data"]] == [MODEL]


def test_unknown_model_is_404():
    st, _, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(model="no-such-model"))
    assert st == 404, body
    assert json.loads(body)["error"]["code"] == 404




def test_stream_arrives_incrementally():
    for s in sims:
        assert s.post("/sim/hold", {"hold": True})[0] == 200
    try:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.request("POST", "/v1/chat/completions", body=chat_body(stream=True, max_tokens=5),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 200
        assert r.getheader("Content-Type").startswith("text/event-stream")
        served = r.getheader("x-gateway-destination-endpoint-served")
        sim = next(s for s in sims if s.address == served)
        # Read chunk by chunk: the first content event must be here while
        # the simulator is still holding the final one.
        got = b""
        while b'"content":"' not in got.split(b"data:", 2)[-1] or got.count(b"data:") < 2:
            size_line = r.fp.readline()
            size = int(size_line.strip(), 16)
            assert size > 0, "stream ended while the simulator holds its last event"
            got += r.fp.read(size)
            r.fp.readline()  # CRLF after the chunk
        # The client has its first event; the simulator now holds the
        # final one, so the stream cannot have ended: nothing was buffered.
        wait_for(lambda: sim.stats()["held"] == 1, what="the simulator to hold the final event")
        assert b"[DONE]" not in got and b'"finish_reason":"length"' not in got
        sim.post("/sim/release", {})
        rest = b""
        while True:
            size = int(r.fp.readline().strip(), 16)
            if size == 0:
                r.fp.readline()
                break
            rest += r.fp.read(size)
            r.fp.readline()
        events = [e for e in (got + rest).split(b"\n\n") if e.startswith(b"data: ")]
        assert events[-1] == b"data: [DONE]"
        text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content", "")
                       for e in events[:-1] if json.loads(e[6:])["choices"])
        assert len(text.split()) == 5, text
        conn.close()
    finally:
        for s in sims:
            s.post("/sim/hold", {"hold": False})
            s.post("/sim/release", {})


def post_one(conn):
    """One non-streamed chat completion on `conn`, read to the end."""
    conn.request("POST", "/v1/chat/completions", body=chat_body(max_tokens=1),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    r.read()


def test_keepalive_reuses_connection():
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    sock = None
    for _ in range(5):
        post_one(conn)
        # http.client reconnects silently: the socket must be the same one.
        sock = sock or conn.sock
        assert conn.sock is sock and sock is not None
    conn.close()


def test_upstream_connections_are_reused():
    """Sequential requests reuse the worker's pooled upstream connections:
    at most one new connection per replica, counted on /metrics."""
    def opened():
        return proxy.metric("infergate_upstream_connections_opened_total")
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    before = opened()
    for _ in range(20):
        post_one(conn)
    conn.close()
    after = opened()
    # One client connection: one worker; it needs at most one upstream
    # connection per replica, and had made at least one by now.
    assert after - before <= len(sims), (before, after)
    assert after >= 1, after


def test_access_log_line():
    wait_for(lambda: '"status":200' in proxy.log_text(), what="access log line")
    line = next(l for l in proxy.log_text().splitlines() if l.startswith("{") and '"status":200' in l)
    doc = json.loads(line)
    for k in ("time", "request_id", "route", "pool", "endpoint", "model", "status",
              "bytes_in", "bytes_out", "duration_ms", "ttfb_ms", "picker_reason"):
        assert k in doc, k
    assert doc["route"] == "llama" and doc["pool"] == "main"


if __name__ == "__main__":
    run([setup, test_non_stream, test_request_id_kept, test_models_from_config,
         test_unknown_model_is_404, test_stream_arrives_incrementally,
         test_keepalive_reuses_connection, test_upstream_connections_are_reused, test_access_log_line])
