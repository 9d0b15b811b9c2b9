"""session-affinity-scorer end to end: the response names the endpoint in
x-session-token, and a client that sends it back sticks to that replica
while the session's weight outweighs the load scorers."""

import base64

from harness import Proxy, Sim, base_config, chat_body, request, run, wait_for

sims = {}
proxy = None

SCHEDULER = """    scheduler:
      plugins:
        - type: session-affinity-scorer
        - type: queue-scorer
      schedulingProfiles:
        - name: default
          plugins:
            - pluginRef: session-affinity-scorer
              weight: 5
            - pluginRef: queue-scorer
"""


def setup():
    global proxy
    for n in ("a", "b", "c"):
        sims[n] = Sim(n)
    proxy = Proxy(base_config([("main", list(sims.values()), SCHEDULER)]))
    proxy.wait_fresh(3)


def post(headers=None):
    st, h, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1), headers=headers)
    assert st == 200, body
    return h


def endpoint(addr):
    eps = [e for p in proxy.debug_endpoints()["pools"] for e in p["endpoints"]]
    return next(e for e in eps if e["address"] == addr)


def test_token_names_the_served_endpoint():
    h = post()
    served = h["x-gateway-destination-endpoint-served"]
    assert base64.b64decode(h["x-session-token"]).decode() == served


def test_session_sticks_to_a_busier_replica():
    h = post()
    token, home = h["x-session-token"], h["x-gateway-destination-endpoint-served"]
    sim = next(s for s in sims.values() if s.address == home)
    assert sim.post("/sim/load", {"waiting": 30})[0] == 200
    wait_for(lambda: endpoint(home)["waiting"] >= 30, what="scrape of the loaded replica")
    for _ in range(20):
        h = post({"x-session-token": token})
        assert h["x-gateway-destination-endpoint-served"] == home
        assert h["x-session-token"] == token
    # The per-scorer scores of the last decision are on /debug/endpoints.
    scores = endpoint(home)["scores"]
    assert scores["session-affinity-scorer"] == 1.0, scores
    assert scores["queue-scorer"] == 0.0, scores
    # Without the token the busy replica is avoided.
    for _ in range(10):
        assert post()["x-gateway-destination-endpoint-served"] != home
    # A token that names no endpoint is just no preference.
    assert post({"x-session-token": "bm90aGluZw=="})["x-gateway-destination-endpoint-served"] != home
    sim.post("/sim/load", {})


if __name__ == "__main__":
    run([setup, test_token_names_the_served_endpoint, test_session_sticks_to_a_busier_replica])
