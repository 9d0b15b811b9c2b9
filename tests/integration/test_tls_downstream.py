"""Client-facing TLS with real clients (Python's ssl, openssl s_client,
curl) against the real binary: SNI picks the certificate (exact, wildcard,
default), TLS 1.0/1.1 refused where a permissive server accepts the same
client, 1.2 and 1.3 work with the server's cipher order, ALPN answers
http/1.1, sessions resume (tickets and 1.2), mTLS refuses a client without
a certificate and passes the verified subject upstream, X-Forwarded-Proto
is https, a stream arrives incrementally, and bad clients (plain HTTP,
garbage, a truncated or stalled handshake, TLS on a plain port) are counted
and harm nothing."""

import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pki
from harness import MODEL, EchoUpstream, Proxy, Sim, chat_body, pool_yaml, request, run, tmp_path, wait_for
from tls_helpers import (HTTPSConn, client_context, handshake_ok, https_request, peer_subject_cn, s_client,
                         tls_connect)

ca = None
sim = echo = proxy = None
ports = {}
files = {}


def config():
    a, b = files["a"], files["b"]
    return f"""workers: 2
listeners:
  - name: main
    address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: {a[0]}
          key_file: {a[1]}
        - cert_file: {b[0]}
          key_file: {b[1]}
      handshake_timeout: 300ms
  - name: mtls
    address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: {a[0]}
          key_file: {a[1]}
      client_ca_file: {ca.cert}
  - name: plain
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
routes:
  - name: echo
    match:
      path_prefix: /echo
    backends:
      - pool: echo
  - name: all
    match:
      path_prefix: /
    backends:
      - pool: sims
pools:
{pool_yaml("sims", [sim])}{pool_yaml("echo", [echo])}"""


def setup():
    global ca, sim, echo, proxy
    ca = pki.CA(tmp_path("pki"))
    files["a"] = ca.server_cert("a", dns=["a.test"], ips=["127.0.0.1"])                      # ECDSA
    files["b"] = ca.server_cert("b", dns=["*.b.test", "b.test"], key="rsa2048", chain=True)  # RSA + chain
    files["client"] = ca.client_cert("tenant-a")
    sim = Sim("s1", "--time-scale", "2")
    echo = EchoUpstream()
    proxy = Proxy(config())
    with open(proxy.ready) as f:
        ports.update(json.load(f)["listeners"])
    proxy.wait_fresh(2)


def ctx(**kw):
    return client_context(cafile=ca.cert, **kw)


def test_sni_selects_certificates():
    p = ports["main"]
    assert peer_subject_cn(p, "a.test", ctx()) == "a.test"
    assert peer_subject_cn(p, "x.b.test", ctx()) == "*.b.test"     # wildcard, one label deep
    assert peer_subject_cn(p, "B.TEST", ctx()) == "*.b.test"       # exact SAN, any case
    # No match (and a name two labels under the wildcard): the default, first one.
    assert peer_subject_cn(p, "unknown.test", ctx(check_hostname=False)) == "a.test"
    assert peer_subject_cn(p, "y.x.b.test", ctx(check_hostname=False)) == "a.test"
    # The chain file's intermediate is sent: verification against the root alone works.
    st, _, _ = https_request(p, "x.b.test", ctx(), "GET", "/v1/models")
    assert st == 200


def test_old_protocols_refused_where_a_permissive_server_accepts():
    a_crt, a_key = files["b"]
    for flag in ("-tls1", "-tls1_1"):
        client = [flag, "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "b.test"]
        # The same client command against a permissive openssl s_server
        # (Debian's config would forbid TLS < 1.2, so it runs without it):
        # proves the client does offer the old protocol.
        srv = subprocess.Popen([ "openssl", "s_server", "-accept", "0", "-cert", a_crt, "-key", a_key, flag,
                                "-cipher", "DEFAULT@SECLEVEL=0", "-naccept", "1"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "OPENSSL_CONF": "/dev/null"})
        try:
            line = b""
            deadline = time.monotonic() + 5
            while b"ACCEPT" not in line and time.monotonic() < deadline:
                line = srv.stdout.readline()
            port = int(re.search(rb":(\d+)", line).group(1))
            rc, out = s_client(port, *client)
            assert handshake_ok(out), f"permissive server refused {flag}: {out}"
        finally:
            srv.kill()
            srv.wait(timeout=5)
        before = proxy.metric("infergate_tls_handshake_failures_total", reason="unsupported_version")
        rc, out = s_client(ports["main"], *client)
        assert not handshake_ok(out), f"infergate accepted {flag}: {out}"
        assert "protocol version" in out, out
        assert proxy.metric("infergate_tls_handshake_failures_total", reason="unsupported_version") == before + 1


def test_tls12_and_tls13_with_server_cipher_order():
    p = ports["main"]
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        with tls_connect(p, "a.test", ctx(min_version=v, max_version=v)) as s:
            assert s.version() == ("TLSv1.2" if v == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
    # The client prefers CHACHA20; the server's order puts AES-128-GCM first.
    rc, out = s_client(p, "-tls1_2", "-servername", "a.test", "-cipher",
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256")
    assert "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in out, out
    # Weak TLS 1.2 suites are not offered at all.
    rc, out = s_client(p, "-tls1_2", "-servername", "a.test", "-cipher", "ECDHE-ECDSA-AES128-SHA")
    assert not handshake_ok(out), out


def test_alpn():
    rc, out = s_client(ports["main"], "-servername", "a.test", "-alpn", "h2,http/1.1")
    assert "ALPN protocol: http/1.1" in out, out
    before = proxy.metric("infergate_tls_handshake_failures_total", reason="no_alpn_match")
    rc, out = s_client(ports["main"], "-servername", "a.test", "-alpn", "h2")
    assert not handshake_ok(out), out
    assert proxy.metric("infergate_tls_handshake_failures_total", reason="no_alpn_match") == before + 1


def test_session_resumption():
    req = b"GET /v1/models HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    for version, flag in (("TLSv1.3", "-tls1_3"), ("TLSv1.2", "-tls1_2")):
        sess = tmp_path(f"sess-{version}")
        before = proxy.metric("infergate_tls_handshakes_total", version=version, resumed="true")
        rc, out = s_client(ports["main"], flag, "-servername", "a.test", "-sess_out", sess, "-ign_eof", stdin=req)
        assert f"New, {version}" in out and "HTTP/1.1 200" in out, out
        rc, out = s_client(ports["main"], flag, "-servername", "a.test", "-sess_in", sess, "-ign_eof", stdin=req)
        assert f"Reused, {version}" in out and "HTTP/1.1 200" in out, out
        assert proxy.metric("infergate_tls_handshakes_total", version=version, resumed="true") == before + 1


def test_mtls_and_forwarded_headers():
    p = ports["mtls"]
    crt, key = files["client"]
    # Without a certificate: refused (TLS 1.3 reports it at the first read).
    before = proxy.metric("infergate_tls_handshake_failures_total", reason="no_client_certificate")
    try:
        st, _, _ = https_request(p, "a.test", ctx(), "GET", "/v1/models")
        raise AssertionError(f"served without a client certificate: {st}")
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    wait_for(lambda: proxy.metric("infergate_tls_handshake_failures_total", reason="no_client_certificate") == before + 1,
             what="the refusal counted")
    # With one: the subject reaches the upstream, and a forged header does not.
    st, _, body = https_request(p, "a.test", ctx(cert=crt, key=key), "POST", "/echo", chat_body(),
                                headers={"X-Client-Cert-Subject": "CN=admin"})
    assert st == 200, body
    hdrs = json.loads(body)["headers"]
    subjects = [v for k, v in hdrs if k == "x-client-cert-subject"]
    assert len(subjects) == 1 and subjects[0].startswith("CN=tenant-a,"), hdrs  # RFC 2253, forged one dropped
    assert ["x-forwarded-proto", "https"] in hdrs, hdrs
    # The non-mTLS TLS listener drops nothing it need not, and says https too.
    st, _, body = https_request(ports["main"], "a.test", ctx(), "POST", "/echo", chat_body())
    assert ["x-forwarded-proto", "https"] in json.loads(body)["headers"]
    st, _, body = request("127.0.0.1", ports["plain"], "POST", "/echo", chat_body(),
                          headers={"X-Client-Cert-Subject": "CN=admin"})
    hdrs = json.loads(body)["headers"]
    assert ["x-forwarded-proto", "http"] in hdrs
    # No listener lets a client forge the mTLS subject header.
    assert not [v for k, v in hdrs if k == "x-client-cert-subject"], hdrs
    st, _, body = https_request(ports["main"], "a.test", ctx(), "POST", "/echo", chat_body(),
                                headers={"X-Client-Cert-Subject": "CN=admin"})
    assert not [v for k, v in json.loads(body)["headers"] if k == "x-client-cert-subject"]


def test_stream_arrives_incrementally():
    conn = HTTPSConn(ports["main"], "a.test", ctx())
    conn.request("POST", "/v1/chat/completions", body=chat_body(stream=True, max_tokens=64),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    assert r.status == 200
    first = r.read1(65536).decode()
    assert "data:" in first and "[DONE]" not in first, first  # an event before the end
    rest = first
    deadline = time.monotonic() + 20
    while "[DONE]" not in rest and time.monotonic() < deadline:
        chunk = r.read1(65536).decode()
        if not chunk:
            break
        rest += chunk
    assert "[DONE]" in rest
    assert rest.count("data:") > 10
    conn.close()


def test_curl_streams_over_https():
    # curl as the client: verified against the CA with SNI a.test, ALPN
    # http/1.1 (curl offers h2 first), and a streamed chat completion whose
    # events arrive as SSE over HTTPS.
    p = ports["main"]
    r = subprocess.run(["curl", "-sS", "-N", "--http2", "--cacert", ca.cert, "--resolve", f"a.test:{p}:127.0.0.1",
                        "-H", "Content-Type: application/json", "-d", chat_body(stream=True, max_tokens=16),
                        "-w", "\nHTTPVERSION=%{http_version} VERIFY=%{ssl_verify_result}",
                        f"https://a.test:{p}/v1/chat/completions"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "HTTPVERSION=1.1 VERIFY=0" in r.stdout, r.stdout[-300:]
    assert r.stdout.count("data:") >= 10 and "[DONE]" in r.stdout


def client_hello():
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx().wrap_bio(inc, out, server_hostname="a.test")
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def healthy():
    st, _, _ = https_request(ports["main"], "a.test", ctx(), "GET", "/v1/models")
    assert st == 200


def closed_by_server(s, timeout=5.0):
    """Everything the server sends until it closes; fails if it has not
    closed within `timeout` seconds in all."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:  # closed with our bytes unread: a reset
            return data
        if not chunk:
            return data
        data += chunk


def test_bad_clients_are_counted_and_harmless():
    p = ports["main"]
    # Plain HTTP on the TLS port: a plain-text 400.
    st, _, body = request("127.0.0.1", p, "GET", "/v1/models")
    assert st == 400 and "HTTPS port" in body, body
    assert proxy.metric("infergate_tls_handshake_failures_total", reason="http_on_tls_port") >= 1
    # Garbage bytes: closed, counted.
    before = proxy.metric("infergate_tls_handshake_failures_total", reason="malformed")
    s = socket.create_connection(("127.0.0.1", p), timeout=5)
    s.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(64))
    closed_by_server(s)
    s.close()
    wait_for(lambda: proxy.metric("infergate_tls_handshake_failures_total", reason="malformed") == before + 1,
             what="garbage counted")
    healthy()
    # A truncated ClientHello, then the client leaves.
    before = proxy.metric("infergate_tls_handshake_failures_total", reason="peer_closed")
    s = socket.create_connection(("127.0.0.1", p), timeout=5)
    s.sendall(client_hello()[:40])
    s.shutdown(socket.SHUT_WR)
    closed_by_server(s)
    s.close()
    wait_for(lambda: proxy.metric("infergate_tls_handshake_failures_total", reason="peer_closed") == before + 1,
             what="truncated handshake counted")
    healthy()
    # A stalled handshake: closed at handshake_timeout (300 ms), counted.
    before = proxy.metric("infergate_tls_handshake_failures_total", reason="timeout")
    s = socket.create_connection(("127.0.0.1", p), timeout=5)
    s.sendall(client_hello()[:40])
    assert closed_by_server(s) == b""
    s.close()
    wait_for(lambda: proxy.metric("infergate_tls_handshake_failures_total", reason="timeout") == before + 1,
             what="stalled handshake counted")
    # A TLS client on the plain port: closed without an answer, counted.
    s = socket.create_connection(("127.0.0.1", ports["plain"]), timeout=5)
    s.sendall(client_hello())
    assert closed_by_server(s) == b""
    s.close()
    st, _, body = proxy.admin("/metrics")
    assert 'infergate_downstream_errors_total{kind="tls_on_plain_port"} 1' in body
    healthy()


def test_silent_connection_closed_at_handshake_timeout():
    before = proxy.metric("infergate_tls_handshake_failures_total", reason="timeout")
    s = socket.create_connection(("127.0.0.1", ports["main"]), timeout=5)
    assert closed_by_server(s) == b""  # nothing sent: closed at 300 ms
    s.close()
    wait_for(lambda: proxy.metric("infergate_tls_handshake_failures_total", reason="timeout") == before + 1,
             what="silent connection counted")


def in_flight():
    eps = [e for p in proxy.debug_endpoints()["pools"] for e in p["endpoints"] if p["name"] == "sims"]
    return eps[0]["in_flight"]


@contextlib.contextmanager
def sim_response_delay(ms):
    """The simulator holds every response head for `ms` while inside."""
    assert sim.post("/sim/delay", {"response_header_ms": ms})[0] == 200
    try:
        yield
    finally:
        sim.post("/sim/delay", {"response_header_ms": 0})


def raw_chat_post():
    body = chat_body(max_tokens=1).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_close_notify_while_waiting_cancels_upstream():
    # The client leaves cleanly (close_notify, then FIN) while the upstream
    # has not answered: infergate notices and cancels the upstream request.
    with sim_response_delay(20000):
        s = tls_connect(ports["main"], "a.test", ctx())
        s.sendall(raw_chat_post())
        wait_for(lambda: in_flight() == 1, what="request in flight")
        s.settimeout(0.5)
        try:
            s.unwrap()  # sends close_notify; the server does not answer it
        except (ssl.SSLError, OSError):
            pass
        s.close()
        wait_for(lambda: in_flight() == 0, timeout=5, what="upstream request cancelled")


def test_pipelined_request_buffered_inside_openssl():
    # The second request arrives while the first waits on the upstream:
    # the disconnect watch lets OpenSSL decrypt it (SSL_peek), so it sits
    # in OpenSSL, not in the socket. After the first answer the connection
    # must read it from there instead of parking on a socket that will
    # never become readable again.
    with sim_response_delay(300):
        s = tls_connect(ports["main"], "a.test", ctx())
        s.sendall(raw_chat_post())
        wait_for(lambda: in_flight() == 1, what="first request in flight")
        s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = closed_by_server(s, timeout=10)
        s.close()
        assert data.count(b"HTTP/1.1 200") == 2, data
        assert b'"object":"list"' in data  # the second answer is /v1/models


def test_pipelined_requests_over_tls():
    # Two requests in one TLS record: both decrypted by one read, answered
    # in order.
    s = tls_connect(ports["main"], "a.test", ctx())
    s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    data = closed_by_server(s)
    s.close()
    assert data.count(b"HTTP/1.1 200") == 2, data


def test_expiry_metric():
    st, _, body = proxy.admin("/metrics")
    lines = [l for l in body.splitlines() if l.startswith("infergate_tls_certificate_expiry_seconds{")]
    assert len(lines) == 3, lines  # a and b on main, a on mtls
    for l in lines:
        secs = float(l.rsplit(" ", 1)[1])
        assert 80 * 86400 < secs <= 90 * 86400, l  # pki's 90-day leaves


if __name__ == "__main__":
    setup()
    run([test_sni_selects_certificates, test_old_protocols_refused_where_a_permissive_server_accepts,
         test_tls12_and_tls13_with_server_cipher_order, test_alpn, test_session_resumption,
         test_mtls_and_forwarded_headers, test_stream_arrives_incrementally, test_curl_streams_over_https,
         test_bad_clients_are_counted_and_harmless, test_silent_connection_closed_at_handshake_timeout,
         test_close_notify_while_waiting_cancels_upstream, test_pipelined_request_buffered_inside_openssl,
         test_pipelined_requests_over_tls, test_expiry_metric])
