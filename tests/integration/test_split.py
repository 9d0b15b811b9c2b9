"""A 90/10 traffic split over 1000 requests lands within +-5 percentage
points of the weights, every request stays in its chosen pool, and the
canary pool's requests carry the rewritten model name."""

import http.client
import json

from harness import MODEL, Proxy, Sim, base_config, chat_body, run

stable, canary = [], []
proxy = None


def setup():
    global proxy
    stable.extend([Sim("s1", "--time-scale", "100"), Sim("s2", "--time-scale", "100")])
    canary.extend([Sim("c1", "--model", "llama-v2", "--time-scale", "100")])
    routes = f"""  - name: rollout
    match:
      path_prefix: /v1/
    backends:
      - pool: stable
        weight: 90
      - pool: canary
        weight: 10
        model_rewrite: llama-v2
      - pool: unused
        weight: 0
"""
    unused = [Sim("u1")]
    proxy = Proxy(base_config([("stable", stable, ""), ("canary", canary, ""),
                               ("unused", unused, "")], routes=routes))
    proxy.wait_fresh(4)


def test_split_90_10():
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    counts = {"stable": 0, "canary": 0}
    stable_addrs = {s.address for s in stable}
    canary_addrs = {s.address for s in canary}
    n = 1000
    for _ in range(n):
        conn.request("POST", "/v1/completions",
                     body=json.dumps({"model": MODEL, "prompt": "hi", "max_tokens": 1}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, body
        served = r.getheader("x-gateway-destination-endpoint-served")
        model = json.loads(body)["model"]
        if served in canary_addrs:
            counts["canary"] += 1
            assert model == "llama-v2", model
        else:
            assert served in stable_addrs, served
            assert model == MODEL, model
            counts["stable"] += 1
    conn.close()
    share = counts["canary"] / n
    print(f"canary share {share:.3f} ({counts})")
    assert 0.05 <= share <= 0.15, counts


if __name__ == "__main__":
    run([setup, test_split_90_10])
