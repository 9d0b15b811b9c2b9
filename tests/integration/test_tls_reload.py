"""Certificate reload without a restart: a certificate swapped on disk the
way Kubernetes updates a mounted Secret (a `..data` symlink switched to a
new directory) is served to the next connection while an open keep-alive
connection keeps working; a bad replacement (expired, key mismatch,
unreadable) is refused with a log line and the old certificate keeps
serving; SIGHUP reloads too, and a config naming a bad certificate is
refused at start and at reload."""

import json
import os
import shutil
import signal
import subprocess

import pki
from harness import INFERGATE, Proxy, Sim, pool_yaml, run, tmp_path, wait_for
from tls_helpers import HTTPSConn, client_context, tls_connect

ca = None
sim = proxy = None
secret = None
version = 0


def publish(crt, key):
    """Kubernetes' atomic update: files in a fresh ..<version> directory,
    `..data` switched to it by rename, tls.crt/tls.key link through ..data."""
    global version
    version += 1
    d = os.path.join(secret, f"..v{version}")
    os.makedirs(d)
    shutil.copy(crt, os.path.join(d, "tls.crt"))
    shutil.copy(key, os.path.join(d, "tls.key"))
    tmp = os.path.join(secret, "..data_tmp")
    os.symlink(f"..v{version}", tmp)
    os.rename(tmp, os.path.join(secret, "..data"))
    for f in ("tls.crt", "tls.key"):
        p = os.path.join(secret, f)
        if not os.path.islink(p):
            os.symlink(os.path.join("..data", f), p)


other_cert = None


def config(cert=None, key=None, other_first=False):
    cert = cert or os.path.join(secret, "tls.crt")
    key = key or os.path.join(secret, "tls.key")
    main = f"""  - name: main
    address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: {cert}
          key_file: {key}
      watch_interval: 50ms
"""
    other = f"""  - name: other
    address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: {other_cert[0]}
          key_file: {other_cert[1]}
"""
    listeners = other + main if other_first else main + other
    return f"""workers: 2
listeners:
{listeners}admin:
  address: 127.0.0.1:0
routes:
  - name: all
    match:
      path_prefix: /
    backends:
      - pool: sims
pools:
{pool_yaml("sims", [sim])}"""


def serial_served():
    ctx = client_context(cafile=ca.cert)
    with tls_connect(proxy.port, "api.test", ctx) as s:
        return s.getpeercert()["serialNumber"]


def serial_of(crt):
    out = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-serial"], capture_output=True, text=True,
                         check=True).stdout
    return out.strip().split("=", 1)[1].upper().lstrip("0")


def served_is(crt):
    return serial_served().lstrip("0") == serial_of(crt)


def setup():
    global ca, sim, proxy, secret
    ca = pki.CA(tmp_path("pki"))
    secret = tmp_path("secret")
    os.makedirs(secret)
    sim = Sim("s1", "--time-scale", "50")
    global other_cert
    other_cert = ca.server_cert("other", dns=["other.test"])
    crt, key = ca.server_cert("v1", dns=["api.test"])
    publish(crt, key)
    proxy = Proxy(config())


def test_swap_served_to_new_connections_open_one_keeps_working():
    v1 = os.path.realpath(os.path.join(secret, "tls.crt"))
    assert served_is(v1)
    conn = HTTPSConn(proxy.port, "api.test", client_context(cafile=ca.cert))
    conn.request("GET", "/v1/models")
    assert conn.getresponse().read() and True
    sock = conn.sock
    crt, key = ca.server_cert("v2", dns=["api.test"], key="rsa2048")
    publish(crt, key)
    wait_for(lambda: served_is(crt), timeout=10, what="the swapped certificate on a new connection")
    conn.request("GET", "/v1/models")
    r = conn.getresponse()
    assert r.status == 200 and r.read()
    assert conn.sock is sock  # the same TLS connection, still the old certificate's session
    conn.close()
    assert "certificates reloaded from disk" in proxy.log_text()
    assert proxy.metric("infergate_tls_certificate_reloads_total", result="ok") >= 1


def test_bad_replacements_refused_old_keeps_serving():
    good = os.path.realpath(os.path.join(secret, "tls.crt"))
    assert served_is(good)
    expired = ca.expired_cert("old", dns=["api.test"])
    crt3, _ = ca.server_cert("v3", dns=["api.test"])
    wrong_key = ca.mismatched_key("wrong")
    cases = [(expired, "expired"), ((crt3, wrong_key), "does not match")]
    for n, ((crt, key), why) in enumerate(cases, 1):
        failed = proxy.metric("infergate_tls_certificate_reloads_total", result="failed")
        publish(crt, key)
        wait_for(lambda: proxy.metric("infergate_tls_certificate_reloads_total", result="failed") == failed + 1,
                 what=f"refusal of a certificate that {why}")
        assert why in proxy.log_text(), proxy.log_text()[-2000:]
        assert "certificate reload refused" in proxy.log_text()
        assert served_is(good)


def test_sighup_reload_and_bad_config_certificate():
    # A config naming a missing key: reload refused, the running one stays.
    good, key = ca.server_cert("v5", dns=["api.test"])
    publish(good, key)
    wait_for(lambda: served_is(good), what="a good certificate back in place")
    proxy.rewrite_config(config(key=tmp_path("nope.key")))
    proxy.signal(signal.SIGHUP)
    wait_for(lambda: "nope.key" in proxy.log_text(), what="the refused reload logged")
    log = proxy.log_text()
    assert "cannot load private key" in log and "reload refused" in log, log
    assert served_is(good)
    # SIGHUP with a new certificate in the config: served from then on.
    crt, key = ca.server_cert("v4", dns=["api.test"])
    proxy.rewrite_config(config(cert=crt, key=key))
    proxy.signal(signal.SIGHUP)
    wait_for(lambda: served_is(crt), what="the certificate named by the reloaded config")


def test_reordered_listeners_keep_their_certificates():
    import json
    with open(proxy.ready) as f:
        other_port = json.load(f)["listeners"]["other"]

    def cn(port, name):
        ctx = client_context(cafile=ca.cert, check_hostname=False)
        with tls_connect(port, name, ctx) as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
    assert cn(other_port, "other.test") == "other.test"
    crt, key = ca.server_cert("v6", dns=["api.test"])
    proxy.rewrite_config(config(cert=crt, key=key, other_first=True))
    proxy.signal(signal.SIGHUP)
    wait_for(lambda: served_is(crt), what="the reloaded certificate on main")
    # Reloads are published by listener name, not position.
    assert cn(other_port, "other.test") == "other.test"
    assert cn(proxy.port, "api.test") == "api.test"


def test_bad_certificate_refused_at_start():
    expired = ca.expired_cert("old2", dns=["api.test"])
    path = tmp_path("bad.yaml")
    with open(path, "w") as f:
        f.write(config(cert=expired[0], key=expired[1]))
    p = subprocess.run([INFERGATE, "--config", path], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "expired" in p.stderr + p.stdout
    assert f"{path}:" in p.stderr + p.stdout  # names the config file and line
    p = subprocess.run([INFERGATE, "--check-config", path], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "listeners[0].tls.certificates[0].cert_file" in p.stdout + p.stderr, p


if __name__ == "__main__":
    setup()
    run([test_swap_served_to_new_connections_open_one_keeps_working, test_bad_replacements_refused_old_keeps_serving,
         test_sighup_reload_and_bad_config_certificate, test_reordered_listeners_keep_their_certificates,
         test_bad_certificate_refused_at_start])
