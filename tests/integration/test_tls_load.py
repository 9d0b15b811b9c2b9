"""The TLS benchmark's loader (bench/tls/tls_load) against infergate's TLS
listener, briefly: every mode completes without errors, resume mode has
every handshake resumed from the primed ticket (TLS 1.2 and 1.3), keep-alive
connections carry many requests each, and a certificate that does not match
--sni is refused. A smoke test of bench/scripts/tls_bench.sh's loader and
of the listener's ticket resumption; it counts, it never times."""

import json
import os
import subprocess

import pki
from harness import Proxy, Sim, base_config, run, tmp_path

TLS_LOAD = os.environ.get("TLS_LOAD", "build/bench/tls_load")

ca = None
proxy = None


def setup():
    global ca, proxy
    ca = pki.CA(tmp_path("pki"))
    crt, key = ca.server_cert("bench", dns=["bench.test"], ips=["127.0.0.1"])
    sim = Sim("a")
    cfg = base_config([("p", [sim], "")], workers=1)
    cfg = cfg.replace("    address: 127.0.0.1:0\nadmin:", f"""    address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: {crt}
          key_file: {key}
admin:""", 1)
    proxy = Proxy(cfg)


def load(mode, *extra, sni="bench.test", check=True):
    """One short tls_load run; returns its JSON line as a dict."""
    args = [TLS_LOAD, "--mode", mode, "--port", str(proxy.port), "--sni", sni, "--cafile", ca.cert,
            "--duration", "0.3", "--warmup", "0.1", "--concurrency", "4", *extra]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check:
        assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_full():
    for tls in ("1.2", "1.3"):
        r = load("full", "--tls-max", tls, "--request")
        assert r["errors"] == 0, r
        assert r["handshakes"] > 0 and r["resumed"] == 0, r
        assert r["requests"] > 0, r
        assert r["negotiated"]["protocol"] == f"TLSv{tls}", r
        assert r["negotiated"]["alpn"] == "http/1.1", r


def test_resume_every_handshake():
    for tls in ("1.2", "1.3"):
        r = load("resume", "--tls-max", tls)
        assert r["errors"] == 0, r
        assert r["handshakes"] > 0, r
        assert r["resumed"] == r["handshakes"], r
        assert r["error_classes"]["not_resumed"] == 0, r


def test_keepalive():
    r = load("keepalive", "--path", "/v1/models")
    assert r["errors"] == 0, r
    # each of the 4 connections handshakes once (usually in the warm-up,
    # so uncounted) and then stays open
    assert r["handshakes"] <= 4, r
    assert r["requests"] > 4, r


def test_wrong_name_refused():
    r = load("full", sni="other.test", check=False)
    assert r["handshakes"] == 0, r
    assert r["error_classes"]["handshake"] > 0, r


def test_options_rejected():
    p = subprocess.run([TLS_LOAD, "--port", "1"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--cafile" in p.stderr, p.stderr
    p = subprocess.run([TLS_LOAD, "--port", "1", "--insecure", "--mode", "bulk"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--mode" in p.stderr, p.stderr


if __name__ == "__main__":
    run([setup, test_full, test_resume_every_handshake, test_keepalive, test_wrong_name_refused,
         test_options_rejected])
