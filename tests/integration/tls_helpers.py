"""TLS helpers shared by the TLS integration tests: Python's ssl module as
the client, the `openssl` CLI where the test needs its exact behaviour
(protocol versions, session files, ALPN)."""

import http.client
import os
import socket
import ssl
import subprocess

OPENSSL = "openssl"


def client_context(cafile=None, cert=None, key=None, check_hostname=True, max_version=None, min_version=None):
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    ctx.check_hostname = check_hostname
    if cert:
        ctx.load_cert_chain(cert, key)
    if max_version:
        ctx.maximum_version = max_version
    if min_version:
        ctx.minimum_version = min_version
    return ctx


def tls_connect(port, server_name, ctx, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=server_name)


def peer_subject_cn(port, server_name, ctx):
    """The CN of the certificate the server presents for `server_name`."""
    with tls_connect(port, server_name, ctx) as s:
        cert = s.getpeercert()
    for rdn in cert["subject"]:
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


class HTTPSConn(http.client.HTTPSConnection):
    """http.client over TLS to 127.0.0.1 with a chosen SNI name."""

    def __init__(self, port, server_name, ctx, timeout=10):
        super().__init__(server_name, port, context=ctx, timeout=timeout)
        self._ip = "127.0.0.1"

    def connect(self):
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def https_request(port, server_name, ctx, method, path, body=None, headers=None, timeout=10):
    conn = HTTPSConn(port, server_name, ctx, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read().decode()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def s_client(port, *args, stdin=b"", env=None, timeout=10):
    """Runs `openssl s_client -connect 127.0.0.1:port ARGS`; returns
    (exit code, stdout+stderr text)."""
    p = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", *args], input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout.decode(errors="replace")


def handshake_ok(out):
    """Whether s_client's output shows a completed handshake."""
    return "Cipher is (NONE)" not in out and ("New, TLS" in out or "Reused, TLS" in out or
                                               "CONNECTION ESTABLISHED" in out)
