"""Picking with live metrics: a busy replica is avoided; a replica killed
mid-stream fails its in-flight request visibly and new requests go
elsewhere."""

import http.client
import json
import socket

from harness import Proxy, Sim, base_config, chat_body, open_stream, request, run, wait_for

sims = {}
proxy = None


def setup():
    global proxy
    for n in ("a", "b", "c"):
        sims[n] = Sim(n)
    proxy = Proxy(base_config([("main", list(sims.values()), "")]))
    proxy.wait_fresh(3)


def endpoint(addr):
    eps = [e for p in proxy.debug_endpoints()["pools"] for e in p["endpoints"]]
    return next(e for e in eps if e["address"] == addr)


def test_busy_replica_is_avoided():
    busy = sims["a"]
    assert busy.post("/sim/load", {"waiting": 40, "kv_usage": 0.9})[0] == 200
    wait_for(lambda: endpoint(busy.address)["waiting"] >= 40, what="scrape of the busy replica")
    served = []
    for _ in range(30):
        st, h, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                              chat_body(max_tokens=1))
        assert st == 200, body
        served.append(h["x-gateway-destination-endpoint-served"])
    assert busy.address not in served, served
    assert {sims["b"].address, sims["c"].address} & set(served)
    busy.post("/sim/load", {})
    wait_for(lambda: endpoint(busy.address)["waiting"] == 0, what="busy replica to clear")


def read_chunked_until_close(sock, first=b""):
    data = first
    while True:
        try:
            c = sock.recv(65536)
        except socket.timeout:
            raise AssertionError("connection neither finished nor closed")
        if not c:
            return data
        data += c


def test_replica_killed_mid_stream():
    for s in sims.values():
        s.post("/sim/hold", {"hold": True})
    sock, data = open_stream(proxy.port, max_tokens=4)
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert " 200 " in head.splitlines()[0]
    served = next(l.split(": ", 1)[1] for l in head.splitlines()
                  if l.lower().startswith("x-gateway-destination-endpoint-served"))
    victim = next(s for s in sims.values() if s.address == served)
    wait_for(lambda: victim.stats()["held"] == 1, what="victim to hold its last event")
    victim.kill()
    data = read_chunked_until_close(sock, data)
    sock.close()
    # A broken stream, not a clean end: no terminating chunk, no [DONE].
    assert not data.endswith(b"0\r\n\r\n"), data[-80:]
    assert b"[DONE]" not in data
    for s in sims.values():
        if s is not victim:
            s.post("/sim/hold", {"hold": False})
            s.post("/sim/release", {})
    survivors = {s.address for s in sims.values() if s is not victim}
    for _ in range(10):
        st, h, b = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                           chat_body(max_tokens=1))
        assert st == 200, b
        assert h["x-gateway-destination-endpoint-served"] in survivors
    wait_for(lambda: endpoint(victim.address)["down"], what="victim marked down")
    st, _, text = proxy.admin("/metrics")
    assert "infergate_streams_truncated_total 1" in text, text


def test_all_down_is_503():
    for s in sims.values():
        if s.proc.poll() is None:
            s.kill()
    wait_for(lambda: all(e["down"] for p in proxy.debug_endpoints()["pools"]
                         for e in p["endpoints"]), what="every endpoint down")
    st, _, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1))
    assert st == 503, body
    assert "no healthy endpoint" in json.loads(body)["error"]["message"]


if __name__ == "__main__":
    run([setup, test_busy_replica_is_avoided, test_replica_killed_mid_stream, test_all_down_is_503])
