"""infergate-sim over TLS (--tls-cert/--tls-key/--tls-client-ca), with
certificates from pki.py: curl gets a completion through a leaf +
intermediate chain; ALPN picks http/1.1; a saved session is resumed
(TLS 1.3 ticket and TLS 1.2) and /sim/stats counts full and resumed
handshakes; a failed handshake ends only its own connection; with a client
CA, clients without a valid certificate are refused; bad TLS flags stop
start-up with a message."""

import json
import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import pki  # noqa: E402
from harness import SIM, Sim, run, tmp_path  # noqa: E402

CA = pki.CA(tmp_path("pki"))
SERVER = CA.server_cert("sim", dns=["sim.test"], ips=["127.0.0.1"], chain=True)
CLIENT = CA.client_cert("tenant-a")
BODY = json.dumps({"prompt": "hello over tls", "max_tokens": 4})


def tls_flags(client_ca=None):
    flags = ["--time-scale", "100", "--tls-cert", SERVER[0], "--tls-key", SERVER[1]]
    return flags + (["--tls-client-ca", client_ca] if client_ca else [])


def client_context(cert=None):
    ctx = ssl.create_default_context(cafile=CA.cert)
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def curl(port, *args, body=BODY):
    """POST body to https://sim.test:port/v1/completions; (exit code, stdout, stderr)."""
    r = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--resolve", f"sim.test:{port}:127.0.0.1",
         *args, "-H", "Content-Type: application/json", "-d", body,
         f"https://sim.test:{port}/v1/completions"],
        capture_output=True, text=True, timeout=20)
    return r.returncode, r.stdout, r.stderr


def s_client(port, *args):
    """One GET /health through `openssl s_client`; its full output."""
    r = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "sim.test",
         "-CAfile", CA.cert, "-verify_return_error", "-ign_eof", *args],
        input="GET /health HTTP/1.1\r\nHost: sim.test\r\nConnection: close\r\n\r\n",
        capture_output=True, text=True, timeout=20)
    return r.stdout + r.stderr


def test_completion_over_tls():
    sim = Sim("tls", *tls_flags(), ssl_context=client_context())
    code, out, err = curl(sim.port, "--cacert", CA.cert)
    assert code == 0, err
    assert json.loads(out)["object"] == "text_completion", out
    # curl trusted only the root: the intermediate came from the cert file.
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as raw:
        ctx = client_context()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with ctx.wrap_socket(raw, server_hostname="sim.test") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            assert tls.version() == "TLSv1.3", tls.version()
    stats = sim.stats()  # counts its own handshake too
    assert stats["requests"] == 1, stats
    assert stats["tls_handshakes"] == {"full": 3, "resumed": 0, "failed": 0}, stats


def test_stream_and_hangup_over_tls():
    sim = Sim("tls-stream", *tls_flags(), ssl_context=client_context())
    code, out, err = curl(sim.port, "--cacert", CA.cert,
                          body=json.dumps({"prompt": "x", "max_tokens": 3, "stream": True}))
    assert code == 0 and out.count("data: ") == 4 and out.endswith("data: [DONE]\n\n"), (err, out)
    # A held request whose client drops the TCP connection (no
    # close_notify) is aborted at once, as over plain HTTP.
    sim.post("/sim/hold", {"hold": True})
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=10)
    tls = client_context().wrap_socket(raw, server_hostname="sim.test")
    body = json.dumps({"prompt": "x", "max_tokens": 2}).encode()
    tls.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: sim.test\r\nContent-Type: "
                b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    harness.wait_for(lambda: sim.stats()["held"] == 1, what="request held")
    tls.shutdown(socket.SHUT_RDWR)  # TCP FIN, no close_notify
    tls.close()
    harness.wait_for(lambda: sim.stats()["running"] == 0, timeout=5, what="held request aborted")
    assert sim.stats()["completed"] == 1


def test_failed_handshakes_end_only_their_connection():
    sim = Sim("tls-fail", *tls_flags(), ssl_context=client_context())
    code, _, err = curl(sim.port)  # the test CA is not in the system store
    assert code != 0 and "certificate" in err, err
    # Plain HTTP to the TLS port: the sim's handshake fails on it and it
    # answers no HTTP (at most a TLS alert), then closes.
    raw = harness.raw_exchange(sim.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"HTTP/1.1" not in raw, raw
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{sim.port}", "-tls1_1"],
                       input="", capture_output=True, text=True, timeout=20)
    assert r.returncode != 0, r.stdout
    harness.wait_for(lambda: sim.stats()["tls_handshakes"]["failed"] == 3,
                     what="three failed handshakes counted")
    code, out, err = curl(sim.port, "--cacert", CA.cert)
    assert code == 0 and json.loads(out)["object"] == "text_completion", err
    assert sim.proc.poll() is None


def test_session_resumption():
    sim = Sim("tls-resume", *tls_flags(), ssl_context=client_context())
    for version in ("-tls1_3", "-tls1_2"):
        sess = tmp_path(f"session{version}.pem")
        first = s_client(sim.port, version, "-sess_out", sess)
        assert "New, TLSv1." in first and "HTTP/1.1 200" in first, first
        again = s_client(sim.port, version, "-sess_in", sess)
        assert "Reused, TLSv1." in again and "HTTP/1.1 200" in again, again
    st = sim.stats()["tls_handshakes"]  # this request is one more full handshake
    assert st == {"full": 3, "resumed": 2, "failed": 0}, st


def test_client_certificates_required():
    sim = Sim("mtls", *tls_flags(client_ca=CA.cert), ssl_context=client_context(CLIENT))
    code, out, err = curl(sim.port, "--cacert", CA.cert)
    assert code != 0 and "text_completion" not in out, (code, out)
    code, out, err = curl(sim.port, "--cacert", CA.cert, "--cert", CLIENT[0], "--key", CLIENT[1])
    assert code == 0 and json.loads(out)["object"] == "text_completion", err
    # Refused too: a certificate from another CA, an expired one.
    other = pki.CA(tmp_path("other-pki"), name="someone else's CA").client_cert("tenant-a")
    expired = CA.expired_cert("tenant-old", client=True)
    for cert in (other, expired):
        code, out, err = curl(sim.port, "--cacert", CA.cert, "--cert", cert[0], "--key", cert[1])
        assert code != 0 and "text_completion" not in out, (cert, code, out)
    stats = sim.stats()
    assert stats["requests"] == 1, stats
    assert stats["tls_handshakes"]["failed"] == 3, stats


def test_bad_tls_flags():
    wrong_key = CA.mismatched_key("wrong")
    cases = [
        (["--tls-cert", SERVER[0]], 2, "--tls-cert and --tls-key go together"),
        (["--tls-key", SERVER[1]], 2, "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", CA.cert], 2, "--tls-client-ca needs --tls-cert"),
        (["--tls-cert", SERVER[0], "--tls-key", wrong_key], 1, "key values mismatch"),
        (["--tls-cert", tmp_path("missing.crt"), "--tls-key", SERVER[1]], 1, "--tls-cert"),
        (["--tls-cert", SERVER[1], "--tls-key", SERVER[1]], 1, "--tls-cert"),
        (["--tls-cert", SERVER[0], "--tls-key", SERVER[1], "--tls-client-ca", SERVER[1]],
         1, "--tls-client-ca"),
    ]
    for args, want_code, want_text in cases:
        r = subprocess.run([SIM, "--port", "0", *args], capture_output=True, text=True, timeout=20)
        assert r.returncode == want_code, (args, r.returncode, r.stderr)
        assert want_text in r.stderr, (args, r.stderr)


if __name__ == "__main__":
    run([
        test_completion_over_tls,
        test_stream_and_hangup_over_tls,
        test_failed_handshakes_end_only_their_connection,
        test_session_resumption,
        test_client_certificates_required,
        test_bad_tls_flags,
    ])
