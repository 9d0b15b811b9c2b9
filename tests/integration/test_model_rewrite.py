"""model_rewrites (InferenceModelRewrite): a model with two targets weighted
70/30 splits within +-5 percentage points over 1000 requests, each replica
sees the rewritten name (its own per-model counts), models without a rule
pass unchanged, and rules match the name after a backend's model_rewrite."""

import http.client
import json
import threading

from harness import Proxy, Sim, base_config, run, wait_for

V1, V2 = "foodreview-v1", "foodreview-v2"
sims = []
proxy = None


def setup():
    global proxy
    # The replicas serve only the targets: "foodreview" itself would get 404.
    sims.extend([Sim(f"f{i}", "--model", f"{V1},{V2}", "--time-scale", "100") for i in range(2)])
    routes = """  - name: alias
    match:
      model: food-alias
    backends:
      - pool: food
        model_rewrite: foodreview
  - name: all
    match:
      path_prefix: /v1/
    backends:
      - pool: food
"""
    rewrites = f"""model_rewrites:
  - name: food-canary
    pool: food
    rules:
      - matches:
          - model: {{type: Exact, value: foodreview}}
        targets:
          - modelRewrite: {V1}
            weight: 70
          - modelRewrite: {V2}
            weight: 30
"""
    proxy = Proxy(base_config([("food", sims, "")], routes=routes) + rewrites)
    proxy.wait_fresh(len(sims))


def sim_counts():
    out = {V1: 0, V2: 0}
    for s in sims:
        for name, n in s.stats()["models"].items():
            out[name] += n
    return out


def post_many(model, n, conns=4):
    """n completions for `model` over `conns` keep-alive connections;
    returns the count of each model name the responses carry."""
    counts = {}
    lock = threading.Lock()
    errors = []

    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        local = {}
        try:
            for _ in range(k):
                conn.request("POST", "/v1/completions",
                             body=json.dumps({"model": model, "prompt": "hi", "max_tokens": 1}),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    errors.append((r.status, body))
                    return
                m = json.loads(body)["model"]
                local[m] = local.get(m, 0) + 1
        except Exception as e:  # reported below, not swallowed
            errors.append(repr(e))
        finally:
            conn.close()
            with lock:
                for m, c in local.items():
                    counts[m] = counts.get(m, 0) + c

    threads = [threading.Thread(target=worker, args=(n // conns + (i < n % conns),)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "client threads did not finish"
    assert not errors, errors[:3]
    assert sum(counts.values()) == n, counts
    return counts


def test_split_70_30():
    before = sim_counts()
    n = 1000
    counts = post_many("foodreview", n)
    assert set(counts) <= {V1, V2}, counts
    share = counts.get(V1, 0) / n
    print(f"{V1} share {share:.3f} ({counts})")
    assert 0.65 <= share <= 0.75, counts
    # What the replicas received, by their own count, is what the responses say.
    after = sim_counts()
    assert {m: after[m] - before[m] for m in after} == {V1: counts.get(V1, 0), V2: counts.get(V2, 0)}, \
        (before, after, counts)


def test_access_log_records_target_model():
    def lines():
        out = []
        for line in proxy.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return [e for e in out if e.get("model") == "foodreview"]

    entries = wait_for(lines, what="access log lines for foodreview")
    for e in entries:
        assert e["target_model"] in (V1, V2), e
        assert e["model_rewrite"] == "food-canary", e


def test_model_without_rule_passes_unchanged():
    before = sim_counts()
    counts = post_many(V2, 20, conns=2)
    assert counts == {V2: 20}, counts
    after = sim_counts()
    assert after[V2] - before[V2] == 20 and after[V1] == before[V1], (before, after)


def test_rules_match_after_backend_rewrite():
    # food-alias -> (route backend model_rewrite) foodreview -> (rule) v1/v2.
    counts = post_many("food-alias", 40, conns=2)
    assert set(counts) <= {V1, V2}, counts


if __name__ == "__main__":
    run([setup, test_split_70_30, test_access_log_records_target_model,
         test_model_without_rule_passes_unchanged, test_rules_match_after_backend_rewrite])
