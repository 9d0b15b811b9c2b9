"""Process lifecycle: SIGHUP reload with a changed route takes effect
without dropping open connections; a bad reload is refused and the running
config stays; a listener change is refused; SIGTERM drains: /readyz turns
503, an in-flight stream finishes, the process exits 0."""

import http.client
import json
import signal
import socket

from harness import Proxy, Sim, base_config, chat_body, open_stream, request, run, wait_for

a = b = None
proxy = None


def route_to(pool):
    return f"""  - name: all
    match:
      path_prefix: /
    backends:
      - pool: {pool}
"""


def config(pool, listener="127.0.0.1:0"):
    text = base_config([("pa", [a], ""), ("pb", [b], "")], routes=route_to(pool))
    return text.replace("address: 127.0.0.1:0\nadmin", f"address: {listener}\nadmin", 1)


def setup():
    global a, b, proxy
    a, b = Sim("a", "--time-scale", "50"), Sim("b", "--time-scale", "50")
    proxy = Proxy(config("pa"))
    proxy.wait_fresh(2)


def served_on(conn):
    conn.request("POST", "/v1/chat/completions", body=chat_body(max_tokens=1),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    assert r.status == 200
    return r.getheader("x-gateway-destination-endpoint-served")


def test_reload_changes_route_keeps_connections():
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    assert served_on(conn) == a.address
    sock = conn.sock
    proxy.rewrite_config(config("pb"))
    proxy.signal(signal.SIGHUP)
    # The same keep-alive connection sees the new route once it lands
    # (http.client would reconnect silently: check it is the same socket).
    wait_for(lambda: served_on(conn) == b.address, what="new route on the open connection")
    assert conn.sock is sock
    assert "config reloaded" in proxy.log_text()
    conn.close()


def test_bad_reload_keeps_running_config():
    proxy.rewrite_config(config("pb") + "bogus_key: 1\n")
    proxy.signal(signal.SIGHUP)
    wait_for(lambda: 'infergate_config_reloads_total{result="failed"} 1' in proxy.admin("/metrics")[2],
             what="failed reload counted")
    assert "unknown key 'bogus_key'" in proxy.log_text()
    assert "reload refused" in proxy.log_text()
    st, h, _ = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", chat_body(max_tokens=1))
    assert st == 200 and h["x-gateway-destination-endpoint-served"] == b.address


def test_listener_change_refused():
    proxy.rewrite_config(config("pa", listener="127.0.0.1:1"))
    proxy.signal(signal.SIGHUP)
    wait_for(lambda: "restart required" in proxy.log_text(), what="restart-required message")
    st, h, _ = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", chat_body(max_tokens=1))
    assert st == 200 and h["x-gateway-destination-endpoint-served"] == b.address
    proxy.rewrite_config(config("pb"))


def test_sigterm_drains_in_flight_stream():
    b.post("/sim/hold", {"hold": True})
    s, data = open_stream(proxy.port, max_tokens=3)
    wait_for(lambda: b.stats()["held"] == 1, what="simulator holding the last event")
    st, _, _ = proxy.admin("/readyz")
    assert st == 200
    proxy.signal(signal.SIGTERM)
    wait_for(lambda: proxy.admin("/readyz")[0] == 503, what="/readyz 503 while draining")

    def refused():
        try:
            socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
            return False
        except OSError:
            return True
    wait_for(refused, what="listener closed")
    assert proxy.proc.poll() is None, "exited before the stream finished"
    b.post("/sim/release", {})
    while not data.endswith(b"0\r\n\r\n"):
        c = s.recv(65536)
        assert c, "stream cut during drain"
        data += c
    assert b"data: [DONE]" in data
    s.close()
    assert proxy.proc.wait(timeout=10) == 0


if __name__ == "__main__":
    run([setup, test_reload_changes_route_keeps_connections, test_bad_reload_keeps_running_config,
         test_listener_change_refused, test_sigterm_drains_in_flight_stream])
