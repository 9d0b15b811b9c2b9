"""TLS helpers shared by the TLS integration tests: Python's ssl module as
the client, the `openssl` CLI where the test needs its exact behaviour
(protocol versions, session files, ALPN)."""

import os
import socket
import ssl
import subprocess

from harness import HTTPSTo, request

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


def HTTPSConn(port, server_name, ctx, timeout=10):
    """A keep-alive HTTPS connection to 127.0.0.1 with SNI `server_name`."""
    return HTTPSTo("127.0.0.1", port, ctx, server_name, timeout=timeout)


def https_request(port, server_name, ctx, method, path, body=None, headers=None, timeout=10):
    return request("127.0.0.1", port, method, path, body, headers, timeout, ssl_context=ctx, server_name=server_name)


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
