"""The reference's sample EndpointPickerConfigs load and route as documented.

tests/unit/picker/data/epp-config.yaml and sim-epp-config.yaml are
byte-for-byte copies of llm-d-router ebab687927f5 deploy/config/ (see that
folder's README.md). Each is given to a pool as its `scheduler:` file —
epp-config.yaml by absolute path, sim-epp-config.yaml copied next to the
config and named relatively (relative paths resolve against the config's
directory) — validated with --check-config, then run in front of three
infergate-sim replicas. Both configs are prefix-cache-scorer (weight 2)
with max-score-picker and no load scorer: requests sharing a long prompt
prefix all go to the replica that served the first of them, and cold,
distinct prompts tie and are spread at random."""

import json
import os
import shutil
import subprocess

from harness import INFERGATE, MODEL, Proxy, Sim, base_config, request, run, tmp_path

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "picker", "data")
# ~8 KiB of shared system prompt: many blocks at any block size the configs use.
PREFIX = "".join(f"You are assistant number {i:04d}, and you follow the house rules. " for i in range(128))

sims = {}


def setup():
    for n in ("a", "b", "c"):
        sims[n] = Sim(n, "--time-scale", "20")


def config_for(scheduler_ref):
    return base_config([("main", list(sims.values()), f"    scheduler: {scheduler_ref}\n")])


def check_config(text, name):
    path = tmp_path(f"{name}-check.yaml")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([INFERGATE, "--check-config", path], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip().splitlines()[-1] == "ok", r.stdout


def ask(proxy, system, question):
    body = json.dumps({
        "model": MODEL,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
        "max_tokens": 1,
    })
    st, h, text = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", body)
    assert st == 200, text
    return h["x-gateway-destination-endpoint-served"]


def routes_as_documented(proxy, tag):
    proxy.wait_fresh(3)
    prefix = f"[{tag}] " + PREFIX  # a prefix no earlier proxy has seen
    home = ask(proxy, prefix, "question 0")
    served = [ask(proxy, prefix, f"question {i}") for i in range(1, 13)]
    assert served == [home] * len(served), served
    # Cold, distinct prompts tie on every score: random among the three
    # (all 15 on one replica: 3 / 3^15).
    spread = [ask(proxy, f"[{tag}] distinct system prompt {i}. " * 300, "hello") for i in range(15)]
    assert len(set(spread)) >= 2, spread
    # And the shared prefix still goes home.
    assert ask(proxy, prefix, "question 13") == home


def test_epp_config_by_absolute_path():
    text = config_for(os.path.abspath(os.path.join(DATA, "epp-config.yaml")))
    check_config(text, "epp-config")
    proxy = Proxy(text, name="epp-config")
    try:
        routes_as_documented(proxy, "epp-config")
    finally:
        assert proxy.stop() == 0


def test_sim_epp_config_by_relative_path():
    # Proxy writes its config to tmp_path(name + ".yaml"): put the
    # scheduler file in that same directory and name it relatively.
    shutil.copyfile(os.path.join(DATA, "sim-epp-config.yaml"), tmp_path("sim-epp-config.yaml"))
    text = config_for("sim-epp-config.yaml")
    check_config(text, "sim-epp")
    proxy = Proxy(text, name="sim-epp")
    try:
        routes_as_documented(proxy, "sim-epp-config")
    finally:
        assert proxy.stop() == 0


if __name__ == "__main__":
    run([setup, test_epp_config_by_absolute_path, test_sim_epp_config_by_relative_path])
