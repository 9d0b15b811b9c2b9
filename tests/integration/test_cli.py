"""The command line: --version, --help, --check-config (ok and errors as
FILE:LINE:COL), every shipped example validates, infergate-sim --help."""

import glob
import os
import re
import subprocess

from harness import INFERGATE, SIM, run, tmp_path

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def ig(*args):
    return subprocess.run([INFERGATE, *args], capture_output=True, text=True, timeout=30)


def test_version_and_help():
    r = ig("--version")
    assert r.returncode == 0 and re.match(r"infergate \d+\.\d+\.\d+", r.stdout), r
    r = ig("--help")
    assert r.returncode == 0 and "--check-config" in r.stdout and "--ready-file" in r.stdout
    r = ig("--bogus")
    assert r.returncode == 2 and "unknown argument" in r.stderr
    r = subprocess.run([SIM, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--ready-file" in r.stdout


def test_examples_validate():
    # Scheduler files (a top-level kind) are loaded through epp-file.yaml; an
    # inline scheduler's kind is indented.
    files = [f for f in glob.glob(os.path.join(SRC, "config", "examples", "*.yaml"))
             if not re.search(r"^kind: EndpointPickerConfig", open(f).read(), re.M)]
    assert len(files) >= 8
    assert any(f.endswith("intelligent-inference-scheduling.yaml") for f in files)
    for f in files:
        if os.path.basename(f) == "tls.yaml":
            f = with_example_certs(f)
        r = ig("--check-config", f)
        assert r.returncode == 0 and r.stdout.strip() == "ok", (f, r.stdout)


def with_example_certs(example):
    """A copy of the TLS example beside a throwaway PKI at the paths it
    names (--check-config loads certificates)."""
    import shutil
    import pki
    d = tmp_path("tls-example")
    ca = pki.CA(os.path.join(d, "pki"))
    os.makedirs(os.path.join(d, "certs"))
    made = {
        "api.example.com": ca.server_cert("api", dns=["api.example.com"], chain=True),
        "wildcard.internal.example.com": ca.server_cert("wild", dns=["*.internal.example.com"], key="rsa2048"),
        "infergate-client": ca.client_cert("infergate"),
    }
    for name, (crt, key) in made.items():
        shutil.copy(crt, os.path.join(d, "certs", name + ".crt"))
        shutil.copy(key, os.path.join(d, "certs", name + ".key"))
    shutil.copy(ca.cert, os.path.join(d, "certs", "model-servers-ca.crt"))
    shutil.copy(example, os.path.join(d, "tls.yaml"))
    return os.path.join(d, "tls.yaml")


def test_check_config_errors():
    path = tmp_path("bad.yaml")
    with open(path, "w") as f:
        f.write("""listeners:
  - name: main
    address: 127.0.0.1:0
routes:
  - name: r
    backends:
      - pool: nowhere
pools:
  - name: p
    endpoint:
      - address: 127.0.0.1:1
    scheduler:
      plugins:
        - type: queue-scorr
""")
    r = ig("--check-config", path)
    assert r.returncode == 1, r
    lines = r.stdout.strip().splitlines()
    assert len(lines) >= 2, r.stdout
    for line in lines:
        assert re.match(re.escape(path) + r":\d+:\d+: ", line), line
    assert any(":10:5: unknown key 'endpoint'" in l for l in lines), lines


def test_check_config_plugin_errors():
    path = tmp_path("badplugin.yaml")
    with open(path, "w") as f:
        f.write("""listeners:
  - name: main
    address: 127.0.0.1:0
routes:
  - name: r
    backends:
      - pool: p
pools:
  - name: p
    endpoints:
      - address: 127.0.0.1:1
    scheduler:
      plugins:
        - type: queue-scorr
""")
    r = ig("--check-config", path)
    assert r.returncode == 1, r
    assert f"{path}:14:17: unknown plugin type 'queue-scorr' (did you mean 'queue-scorer'?)" in r.stdout, r.stdout


def test_check_config_warnings():
    """Sections infergate does not act on, and unsupported plugins under
    ignore_unsupported_plugins, are warnings: reported, exit 0."""
    path = tmp_path("warnings.yaml")
    with open(path, "w") as f:
        f.write("""listeners:
  - name: main
    address: 127.0.0.1:0
routes:
  - name: r
    backends:
      - pool: p
pools:
  - name: p
    ignore_unsupported_plugins: true
    endpoints:
      - address: 127.0.0.1:1
    scheduler:
      featureGates: [dataLayer]
      plugins:
        - type: token-producer
        - type: queue-scorer
""")
    r = ig("--check-config", path)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert f"warning: {path}:14:7: section 'featureGates' is accepted but not acted on by infergate yet; ignored" \
        in lines, r.stdout
    assert f"warning: {path}:16:17: plugin type 'token-producer' is not supported yet; ignored " \
        "(ignore_unsupported_plugins)" in lines, r.stdout
    assert lines[-1] == "ok", r.stdout
    # Without the switch the same file is refused.
    with open(path) as f:
        text = f.read().replace("    ignore_unsupported_plugins: true\n", "")
    with open(path, "w") as f:
        f.write(text)
    r = ig("--check-config", path)
    assert r.returncode == 1, r
    assert f"{path}:15:17: plugin type 'token-producer' is not supported yet" in r.stdout, r.stdout


if __name__ == "__main__":
    run([test_version_and_help, test_examples_validate, test_check_config_errors,
         test_check_config_plugin_errors, test_check_config_warnings])
