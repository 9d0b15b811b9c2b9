"""Admission and priority end to end: when the simulated fleet is
saturated (per the pool's utilization-detector), sheddable requests
(negative priority, from the objective header or the route) get 429 with
an OpenAI-style error and Retry-After, while critical and default ones are
still served; when the load clears sheddable requests pass again."""

import json

from harness import Proxy, Sim, base_config, chat_body, request, run, wait_for

sims = {}
proxy = None

# The detector is named through flowControl as the reference's sample
# configs do; its staleness is generous so that a slow scrape on a busy
# test machine cannot make the fleet look saturated (stale = saturated).
SCHEDULER = """    scheduler:
      plugins:
        - type: utilization-detector
          name: sat
          parameters:
            queueDepthThreshold: 5
            kvCacheUtilThreshold: 0.8
            metricsStalenessThreshold: 10s
        - type: queue-scorer
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: queue-scorer
      flowControl:
        saturationDetector:
          pluginRef: sat
"""

ROUTES = """  - name: batch
    match:
      path_prefix: /
      headers:
        - name: x-tier
          value: batch
    priority: -1
    backends:
      - pool: main
  - name: all
    match:
      path_prefix: /
    backends:
      - pool: main
"""

OBJECTIVES = """objectives:
  - name: best-effort
    priority: -10
  - name: critical
    priority: 10
"""


def setup():
    global proxy
    for n in ("a", "b"):
        sims[n] = Sim(n)
    proxy = Proxy(base_config([("main", list(sims.values()), SCHEDULER)], routes=ROUTES,
                              extra=OBJECTIVES))
    proxy.wait_fresh(2)


def post(headers=None):
    return request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                   chat_body(max_tokens=1), headers=headers)


SHEDDABLE = [{"x-gateway-inference-objective": "best-effort"},
             {"x-llm-d-inference-objective": "best-effort"},
             {"x-tier": "batch"}]
SERVED = [None,
          {"x-gateway-inference-objective": "critical"},
          {"x-gateway-inference-objective": "no-such-objective"},
          # The objective overrides the route's priority.
          {"x-tier": "batch", "x-gateway-inference-objective": "critical"}]


def waiting(addr):
    eps = [e for p in proxy.debug_endpoints()["pools"] for e in p["endpoints"]]
    return next(e for e in eps if e["address"] == addr)["waiting"]


def saturation():
    return proxy.debug_endpoints()["pools"][0]["saturation"]


def shed_total():
    st, _, text = proxy.admin("/metrics")
    assert st == 200
    for line in text.splitlines():
        if line.startswith("infergate_requests_shed_total "):
            return float(line.split()[1])
    raise AssertionError("infergate_requests_shed_total missing")


def test_not_saturated_everything_passes():
    assert saturation() < 1, proxy.debug_endpoints()
    for h in SHEDDABLE + SERVED:
        st, _, body = post(h)
        assert st == 200, (h, body)
    assert shed_total() == 0


def test_saturated_fleet_sheds_sheddable_only():
    for s in sims.values():
        assert s.post("/sim/load", {"waiting": 10})[0] == 200
    wait_for(lambda: all(waiting(s.address) >= 10 for s in sims.values()),
             what="the saturated load to be scraped")
    # (10 + real waiting) / 5 on both endpoints.
    assert saturation() >= 2, proxy.debug_endpoints()
    for h in SHEDDABLE:
        st, hdrs, body = post(h)
        assert st == 429, (h, st, body)
        assert hdrs.get("retry-after") == "1", hdrs
        assert hdrs.get("x-llm-d-request-dropped-reason") == "rejected-saturated", hdrs
        assert hdrs.get("content-type", "").startswith("application/json"), hdrs
        err = json.loads(body)["error"]
        assert err["type"] == "rate_limit_error", err
        assert err["code"] == 429, err
        assert "saturated" in err["message"], err
    for h in SERVED:
        st, hdrs, body = post(h)
        assert st == 200, (h, st, body)
        assert hdrs["x-gateway-destination-endpoint-served"] in {s.address for s in sims.values()}
    assert shed_total() == len(SHEDDABLE)


def test_load_cleared_sheddable_passes_again():
    for s in sims.values():
        assert s.post("/sim/load", {})[0] == 200
    wait_for(lambda: all(waiting(s.address) == 0 for s in sims.values()),
             what="the load to clear")
    assert saturation() < 1, proxy.debug_endpoints()
    for h in SHEDDABLE:
        st, _, body = post(h)
        assert st == 200, (h, st, body)
    assert shed_total() == len(SHEDDABLE)


if __name__ == "__main__":
    run([setup, test_not_saturated_everything_passes, test_saturated_fleet_sheds_sheddable_only,
         test_load_cleared_sheddable_passes_again])
