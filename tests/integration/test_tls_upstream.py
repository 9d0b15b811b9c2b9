"""TLS from infergate to the model servers, against TLS simulators: the
endpoint's certificate is verified (by IP SAN, or by a configured
server_name), infergate presents its client certificate where the
simulators require one (mTLS), a wrong CA or a missing client certificate
gives 502 (counted by reason), insecure_skip_verify works and warns at
start, TLS connections are pooled and reused, new connections resume
their session, the scraper reads metrics over TLS, and a stream arrives
incrementally end to end over TLS on both sides."""

import json
import threading

import pki
from harness import Proxy, Sim, chat_body, request, run, tmp_path, wait_for
from tls_helpers import HTTPSConn, client_context

ca = other = None
s1 = s2 = proxy = None
client = None


def routes():
    out = ""
    for pool in ("wrongca", "nocert", "named", "insecure", "good"):
        match = "" if pool == "good" else f"""      headers:
        - name: x-pool
          value: {pool}
"""
        out += f"""  - name: {pool}
    match:
      path_prefix: /
{match}    backends:
      - pool: {pool}
"""
    return out


def pool(name, sims, tls):
    eps = "\n".join(f"      - address: {s.address}" for s in sims)
    return f"""  - name: {name}
    scrape_interval: 50ms
    metrics_staleness: 500ms
    tls:
{tls}    endpoints:
{eps}
"""


def setup():
    global ca, other, s1, s2, proxy, client
    ca = pki.CA(tmp_path("pki"))
    other = pki.CA(tmp_path("other"), name="some other CA")
    crt, key = ca.server_cert("sim", dns=["sim.test"], ips=["127.0.0.1"])
    client = ca.client_cert("infergate")
    sim_ctx = client_context(cafile=ca.cert, cert=client[0], key=client[1], check_hostname=False)
    args = ["--time-scale", "2", "--tls-cert", crt, "--tls-key", key, "--tls-client-ca", ca.cert]
    s1 = Sim("s1", *args, ssl_context=sim_ctx)
    s2 = Sim("s2", *args, ssl_context=sim_ctx)
    cc = f"      cert_file: {client[0]}\n      key_file: {client[1]}\n"
    pools = (pool("good", [s1, s2], f"      ca_file: {ca.cert}\n" + cc) +
             pool("named", [s1], f"      ca_file: {ca.cert}\n      server_name: sim.test\n" + cc) +
             pool("wrongca", [s1], f"      ca_file: {other.cert}\n" + cc) +
             pool("nocert", [s1], f"      ca_file: {ca.cert}\n") +
             pool("insecure", [s1], "      insecure_skip_verify: true\n" + cc))
    proxy = Proxy(f"""workers: 2
listeners:
  - name: main
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
access_log:
  path: stdout
routes:
{routes()}pools:
{pools}""")


def post(pool=None, **kw):
    headers = {"x-pool": pool} if pool else {}
    return request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", chat_body(**kw), headers=headers)


def test_scraper_reads_metrics_over_tls():
    # Fresh metrics for every endpoint the scraper can verify: good (2),
    # named (1) and insecure (1) all point at TLS sims.
    def fresh_pools():
        eps = {p["name"]: [e["fresh"] for e in p["endpoints"]] for p in proxy.debug_endpoints()["pools"]}
        return all(eps["good"]) and all(eps["named"]) and all(eps["insecure"]) and eps
    eps = wait_for(fresh_pools, what="metrics scraped over TLS")
    # The wrong CA and the missing client certificate keep those stale.
    assert not any(eps["wrongca"]) and not any(eps["nocert"]), eps


def test_verified_mtls_requests():
    for _ in range(6):
        st, h, body = post()
        assert st == 200, body
        assert h["x-gateway-destination-endpoint-served"] in (s1.address, s2.address)
    st, _, body = post("named")
    assert st == 200, body
    st, _, body = post("insecure")
    assert st == 200, body
    assert "insecure_skip_verify is true" in proxy.log_text()


def test_wrong_ca_and_missing_client_certificate_give_502():
    before = proxy.metric("infergate_upstream_tls_handshake_failures_total", reason="bad_server_certificate")
    st, _, body = post("wrongca")
    assert st == 502, body
    assert json.loads(body)["error"]["code"] == 502
    assert proxy.metric("infergate_upstream_tls_handshake_failures_total", reason="bad_server_certificate") == before + 1
    assert "certificate verify failed" in proxy.log_text()
    # The simulator refuses a client without a certificate. Under TLS 1.3
    # the client's handshake completes before the server's refusal
    # arrives, so the refusal shows as the request failing on read.
    st, _, body = post("nocert")
    assert st == 502, body
    assert request("127.0.0.1", proxy.port, "GET", "/v1/models")[0] == 200  # still healthy


def test_connections_pooled_and_sessions_resumed():
    before = proxy.metric("infergate_upstream_tls_handshakes_total")
    for _ in range(20):
        st, _, _ = post(max_tokens=1)
        assert st == 200
    after = proxy.metric("infergate_upstream_tls_handshakes_total")
    # Sequential requests reuse pooled connections: at most one new one per
    # worker and sim (2 x 2), not one per request.
    assert after - before <= 4, (before, after)
    # Concurrent streams need new connections; they resume the session.
    resumed_before = proxy.metric("infergate_upstream_tls_handshakes_total", resumed="true")
    results = []

    def one():
        results.append(post(max_tokens=32, stream=True)[0])
    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [200] * 8, results
    assert proxy.metric("infergate_upstream_tls_handshakes_total", resumed="true") > resumed_before
    resumed_on_sims = s1.stats()["tls_handshakes"]["resumed"] + s2.stats()["tls_handshakes"]["resumed"]
    assert resumed_on_sims > 0


def test_reload_keeps_tls_connections():
    # An unchanged pool keeps its TLS client context across a reload, and
    # with it the pooled connections: no new handshakes afterwards.
    import signal

    def fulls():  # infergate's own upstream handshakes (the sims' counts include this test's)
        return proxy.metric("infergate_upstream_tls_handshakes_total")
    # Steady state first: every worker holds connections to both sims once
    # a batch of requests opens none (bounded: 10 batches).
    for _ in range(10):
        full = fulls()
        for _ in range(8):
            assert post(max_tokens=1)[0] == 200
        if fulls() == full:
            break
    assert fulls() == full, "connections still being opened after 10 batches"
    proxy.signal(signal.SIGHUP)
    wait_for(lambda: "config reloaded" in proxy.log_text(), what="reload")
    for _ in range(8):
        assert post(max_tokens=1)[0] == 200
    after = fulls()
    assert after == full, (full, after)


def test_stream_incremental_over_tls_both_sides():
    # Client -> infergate plain here (the downstream TLS test covers that
    # side); infergate -> sim TLS: the first event arrives before the end.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=20)
    conn.request("POST", "/v1/chat/completions", body=chat_body(stream=True, max_tokens=64),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    first = r.read1(65536).decode()
    assert "data:" in first and "[DONE]" not in first, first
    rest = first
    for _ in range(1000):
        chunk = r.read1(65536).decode()
        if not chunk:
            break
        rest += chunk
        if "[DONE]" in rest:
            break
    assert "[DONE]" in rest
    conn.close()


if __name__ == "__main__":
    setup()
    run([test_scraper_reads_metrics_over_tls, test_verified_mtls_requests,
         test_wrong_ca_and_missing_client_certificate_give_502, test_connections_pooled_and_sessions_resumed,
         test_reload_keeps_tls_connections, test_stream_incremental_over_tls_both_sides])
